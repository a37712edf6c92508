"""experiments.vgm_train: cached training, cache keys, loss curves and Table 7 beside the paper."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from idsynth.cache import ArtifactCache
from idsynth import runs
from idsynth.experiments.vgm_train import (
    PAPER_TABLE7, loss_curves, table7_parameters, train_vgm, vgm_cache_config, vgm_models,
)  # fmt: skip
from idsynth.models.vgm import VGM

# The section may carry any VGM parameter: tiny networks keep the tests fast.
SECTION = {"train_rows": 100, "epochs": 2, "batch_size": 32, "latent_dim": 3, "encoder_units": (16,),
           "decoder_units": (16,), "label_units": 8, "label_repeat": 2}  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 120)
    X = np.zeros((120, 116), np.float32)
    X[:, :32] = rng.random((120, 32))
    X[np.arange(120), 32 + y] = 1
    return X, y


def test_train_vgm_builds_once_then_loads(arrays, tmp_path, monkeypatch):
    X, y = arrays
    cache = ArtifactCache(tmp_path)
    first = train_vgm("C", X, y, seed=1, profile_section=SECTION, device="cpu", cache=cache, verbose=False)
    assert first.epochs == 2 and first.latent_dim == 3 and len(first.loss_history_) == 2
    assert len(list((tmp_path / runs.GENERATOR_KIND).glob("*.model"))) == 1
    monkeypatch.setattr(VGM, "fit", lambda self, X, y: pytest.fail("a cached model was retrained"))
    again = train_vgm("C", X, y, seed=1, profile_section=SECTION, device="cpu", cache=cache, verbose=False)
    for key, value in first.net_.state_dict().items():
        assert torch.equal(value, again.net_.state_dict()[key])
    np.testing.assert_array_equal(first.sample({2: 5}, random_state=0)[0], again.sample({2: 5}, random_state=0)[0])


def test_cache_key_covers_option_seed_data_and_hyper_parameters(arrays):
    X, y = arrays
    base = vgm_cache_config("C", X, y, 0, SECTION)
    X2 = X.copy()
    X2[0, 0] = 0.5 if X[0, 0] != 0.5 else 0.25
    variants = [
        vgm_cache_config("B", X, y, 0, SECTION),
        vgm_cache_config("C", X, y, 1, SECTION),
        vgm_cache_config("C", X2, y, 0, SECTION),
        vgm_cache_config("C", X, (y + 1) % 5, 0, SECTION),
        vgm_cache_config("C", X, y, 0, {**SECTION, "epochs": 3}),
        vgm_cache_config("C", X, y, 0, {**SECTION, "learning_rate": 1e-4}),
    ]
    assert all(v != base for v in variants)
    assert vgm_cache_config("C", X, y, 0, {**SECTION, "device": "cuda", "verbose": False}) == base
    assert base["params"]["epochs"] == 2 and base["params"]["label_repeat"] == 2
    assert base["generator"] == "VGM-C" and base["code"] == {"idsynth.models.vgm.VGM": VGM.CODE_VERSION}
    assert runs.data_fingerprint(X, y) == runs.data_fingerprint(X.astype(np.float64), y.astype(np.int32))


def test_vgm_models_grid_and_loss_curves(arrays, tmp_path):
    X, y = arrays

    class Splits:  # the two attributes vgm_models reads for split="test"
        X_test, y_test = X, y

    models = vgm_models(Splits, "test", seeds=[0, 1], profile_section=SECTION, device="cpu",
                        options=("A", "B"), cache=ArtifactCache(tmp_path), verbose=False)  # fmt: skip
    assert sorted(models) == [("A", 0), ("A", 1), ("B", 0), ("B", 1)]
    curves = loss_curves(models, split="KDDTest+")
    assert list(curves.columns) == ["option", "seed", "split", "epoch", "term", "value"]
    # 2 epochs x (loss, kl, bce) for A, x (loss, kl, bce, rmse) for B, two seeds each
    assert len(curves) == 2 * 2 * 3 + 2 * 2 * 4 and set(curves["term"]) == {"loss", "kl", "bernoulli_nll", "rmse"}
    with pytest.raises(ValueError, match="split"):
        vgm_models(Splits, "validation", seeds=[0], profile_section=SECTION)


def test_table7_matches_the_paper_for_the_paper_configuration():
    table = table7_parameters({o: VGM(option=o) for o in "ABC"})
    assert set(table["option"]) == {"A", "B", "C"}
    compared = table.dropna(subset=["paper"])
    assert len(compared) == 3 * (PAPER_TABLE7.shape[1] - 1)
    assert compared["match"].all(), compared[~compared["match"].astype(bool)]
    counts = table.set_index(["option", "parameter"])["ours"]
    assert counts[("A", "n_parameters")] == counts[("B", "n_parameters")] != counts[("C", "n_parameters")]


def test_table7_flags_a_configuration_that_differs():
    table = table7_parameters({"C": VGM(option="C", epochs=2, label_repeat=10)}).set_index("parameter")
    assert not table.at["epochs", "match"] and not table.at["nodes_per_layer", "match"]
    assert table.at["nodes_per_layer", "ours"] == "[500,500,500,25,(300+50),500,500]"
    assert table.at["latent_dim", "match"]


def test_table_rows_key_names_the_vgms_but_not_their_seed():
    from idsynth.cache import config_key
    from idsynth.experiments.vgm_train import vgm_identity, vgm_table_cache_config
    from idsynth.models.vgm import FILE_FORMAT

    section = {"train_rows": None, "epochs": 80, "batch_size": 200}
    key = vgm_table_cache_config(section, "cpu", options=("C",))
    assert key["device"] == "cpu" and key["vgm"] == section
    identity = key["vgm_models"]
    assert identity["format"] == FILE_FORMAT and list(identity["params"]) == ["C"]
    params = identity["params"]["C"]
    assert params["epochs"] == 80 and params["latent_dim"] == 25 and params["option"] == "C"
    assert not {"random_state", "device", "verbose", "cuda_graph", "compile_step"} & set(params)
    # a changed VGM setting (here through the section, as a changed default would) changes the key
    changed = vgm_table_cache_config({**section, "learning_rate": 5e-4}, "cpu", options=("C",))
    assert config_key(changed) != config_key(key)
    assert config_key(vgm_table_cache_config(section, "cpu", options=("C",))) == config_key(key)
    assert list(vgm_identity(section)["params"]) == ["A", "B", "C"]
