"""Cached MAGE-ID / TabSyn training and the tables of notebooks 06 and 07."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from idsynth.cache import ArtifactCache
from idsynth.data.mageid_sets import sample_binary_set
from idsynth.data.schema import Schema
from idsynth.experiments import mageid_report
from idsynth import runs
from idsynth.experiments.mageid_train import cache_config, make_generator, train_mageid
from idsynth.models.mageid import MAGEID

SECTION = {
    "tab_vae": {"d_token": 4, "n_layers": 1, "d_ff": 16, "epochs": 3, "batch_size": 100},
    "img_vae": {"latent_dim": 4, "widths": [8], "epochs": 2, "batch_size": 100},
    "edm": {"hidden": 32, "n_layers": 1, "epochs": 4, "batch_size": 100, "num_steps": 4},
    "imager": {"layout": "rowmajor"},
    "numeric_scaling": "quantile",
    "n_examples": 2,  # not a model key: must not reach the generator
}

pytestmark = pytest.mark.usefixtures("one_thread")


def stored(root, name):
    """The stages of the ``name`` models a cache at ``root`` holds (one route: runs.GENERATOR_KIND)."""
    configs = [json.loads(p.read_text()) for p in (root / runs.GENERATOR_KIND).glob("*.model.config.json")]
    return sorted(c["stage"] for c in configs if c["generator"] == name)




@pytest.fixture(scope="module")
def toy_set():
    rng = np.random.default_rng(0)
    n = 400
    attack = rng.random(n) < 0.3
    frame = pd.DataFrame({"a": rng.normal(size=n) + 3 * attack, "n": rng.integers(0, 9, n),
                          "svc": rng.choice(["http", "ftp", "smtp"], n)})
    schema = Schema.infer(frame)
    return sample_binary_set(frame, list(frame.columns), attack, np.where(attack, "x", "ok"), name="toy",
                             schema=schema, class_names=("Benign", "Attack"), n_rows=250, seed=0)


def test_make_generator_configurations():
    both = make_generator(SECTION, seed=4, device="cpu", verbose=False)
    assert both.uses_images and both.random_state == 4 and both.imager["layout"] == "rowmajor"
    assert both.tab_vae["d_ff"] == 16 and both.tab_vae["beta_max"] == 1e-2  # section over TabSyn defaults
    alone = make_generator(SECTION, seed=4, modalities=("tabular",), device="cpu")
    assert not alone.uses_images and alone.img_vae is None and alone.imager is None


def test_cache_key_tracks_what_determines_the_model(toy_set):
    X, y = toy_set.xy()
    model = make_generator(SECTION, 0, device="cpu")
    key1, key2 = cache_config(model, X, y, 1, "toy"), cache_config(model, X, y, 2, "toy")
    assert "edm" not in key1["params"] and "edm" in key2["params"]
    assert "device" not in key1["params"] and "verbose" not in key1["params"]
    assert key1["data"]["fingerprint"] == runs.data_fingerprint(X, y) != runs.data_fingerprint(X, 1 - y)
    assert (key1["generator"], key1["stage"], key2["stage"], key1["seed"]) == ("MAGE-ID", 1, 2, 0)
    assert key1["code"] == {"idsynth.models.mageid.MAGEID": MAGEID.CODE_VERSION}
    tabsyn_key = cache_config(make_generator(SECTION, 0, ("tabular",), "cpu"), X, y, 2, "toy")
    assert "img_vae" not in tabsyn_key["params"] and tabsyn_key["params"]["modalities"] == ["tabular"]
    with pytest.raises(ValueError, match="stage"):
        cache_config(model, X, y, 3, "toy")


def test_train_mageid_caches_each_stage(toy_set, tmp_path, monkeypatch):
    cache = ArtifactCache(tmp_path)
    stage1 = train_mageid(toy_set, 0, SECTION, "cpu", cache=cache, stage=1, verbose=False)
    assert stage1.edm_ is None and stored(tmp_path, "MAGE-ID") == [1]
    calls = []
    original = MAGEID.fit_stage1
    monkeypatch.setattr(MAGEID, "fit_stage1", lambda self, X, y: calls.append(1) or original(self, X, y))
    full = train_mageid(toy_set, 0, SECTION, "cpu", cache=cache, stage=2, verbose=False)
    assert calls == [] and full.edm_ is not None  # stage 1 came from the cache
    again = train_mageid(toy_set, 0, SECTION, "cpu", cache=cache, stage=2, verbose=False)
    pd.testing.assert_frame_equal(full.sample({0: 4, 1: 4}, 1)[0], again.sample({0: 4, 1: 4}, 1)[0])
    alone = train_mageid(toy_set, 0, SECTION, "cpu", modalities=("tabular",), cache=cache, verbose=False)
    assert alone.img_vae_ is None and stored(tmp_path, "TabSyn") == [1, 2]

    models = {("toy", 0): full}
    recon = mageid_report.stage1_reconstruction(models, {"toy": toy_set})
    assert set(recon["split"]) == {"train", "test"}
    assert set(recon["measure"]) == {"num_rmse", "num_rmse_relative", "cat_accuracy", "label_accuracy", "image_mse",
                                     "image_psnr_db"}
    accuracy = recon[recon["measure"].str.endswith("accuracy")]["value"]
    assert accuracy.between(0, 1).all()
    summary = mageid_report.reconstruction_summary(recon)
    assert len(summary) == 2 and "cat_accuracy[svc]" in summary.columns
    panels = mageid_report.loss_panels(models, ("tab_vae", "img_vae", "edm"), seed=0)
    assert list(panels) == ["toy · TabVAE", "toy · ImageVAE", "toy · EDM"]
    assert list(panels["toy · TabVAE"].columns) == ["epoch", "mse", "ce", "kl"] and len(panels["toy · EDM"]) == 4
    assert mageid_report.loss_panels(models, ("edm",), seed=1) == {}
    X, y = toy_set.xy()
    generated = full.generate({0: 20, 1: 20}, random_state=0)
    table = mageid_report.consistency(full, generated, X, y)
    assert len(table) == 3 and (table["mean"] >= 0).all()
    with pytest.raises(ValueError, match="image branch"):
        mageid_report.consistency(alone, generated, X, y)


def test_latent_projection_and_subsample():
    rng = np.random.default_rng(0)
    real, synth = rng.normal(size=(50, 6)), rng.normal(size=(30, 6)) + 1
    frame, info = mageid_report.latent_projection(real, np.zeros(50, int), synth, np.ones(30, int))
    assert frame.shape == (80, 4) and (frame["source"] == "synthetic").sum() == 30
    assert len(info["explained_variance"]) == 2 and sum(info["explained_variance"]) <= 1 + 1e-9
    with pytest.raises(ValueError):
        mageid_report.latent_projection(real, None, synth[:, :3], None)
    X = pd.DataFrame({"v": np.arange(100)})
    y = (np.arange(100) < 20).astype(int)
    Xs, ys = mageid_report.subsample(X, y, 10)
    assert len(Xs) == 10 and ys.sum() == 2


def test_figures():
    from matplotlib.figure import Figure

    from idsynth.experiments.mageid_figures import plot_image_rows, plot_latent_projection

    rng = np.random.default_rng(0)
    images, y = rng.random((20, 1, 3, 3)).astype(np.float32), np.arange(20) % 2
    fig = plot_image_rows({"real": (images, y), "rebuilt": (images * 0.5, y)}, ("a", "b"), n_per_class=3, paired=True)
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 2 * 3
    # paired: the same examples in the rows of one class
    first, second = fig.axes[0].images[0].get_array(), fig.axes[3].images[0].get_array()
    np.testing.assert_allclose(second, first * 0.5, rtol=1e-6)
    with pytest.raises(ValueError, match="same number"):
        plot_image_rows({"a": (images, y), "b": (images[:5], y[:5])}, ("a", "b"), paired=True)
    frame, _ = mageid_report.latent_projection(rng.normal(size=(30, 4)), np.zeros(30, int),
                                               rng.normal(size=(10, 4)), np.ones(10, int))
    fig = plot_latent_projection({"one": frame, "two": frame}, ("benign", "attack"))
    assert len(fig.axes) == 2


def test_stage2_takes_this_calls_edm_settings_over_a_cached_stage1(toy_set, tmp_path):
    """The stage-1 key leaves the EDM out; a stage-1 model loaded from the cache must not bring
    the EDM settings it was first trained with into a stage 2 asked with other ones."""
    cache = ArtifactCache(tmp_path)
    train_mageid(toy_set, 0, SECTION, "cpu", cache=cache, stage=1, verbose=False)
    longer = {**SECTION, "edm": {**SECTION["edm"], "epochs": 7, "num_steps": 5}}
    model = train_mageid(toy_set, 0, longer, "cpu", cache=cache, stage=2, verbose=False)
    assert model.edm["epochs"] == 7 and len(model.edm_.loss_history_) == 7 and model.edm_.num_steps == 5
    assert stored(tmp_path, "MAGE-ID") == [1, 2]  # stage 1 reused, one stage-2 model
    reloaded = train_mageid(toy_set, 0, longer, "cpu", cache=cache, stage=2, verbose=False)
    assert len(reloaded.edm_.loss_history_) == 7


def test_sampling_settings_share_one_trained_model(toy_set, tmp_path, monkeypatch):
    """Heun steps (and the other SAMPLING_PARAMS) change no weight: the training key names them
    at their defaults, so another choice loads the trained model and samples with its own."""
    from idsynth.experiments.mageid_train import training_settings
    from idsynth.models.edm import LatentEDM

    X, y = toy_set.xy()
    fewer = {**SECTION, "edm": {**SECTION["edm"], "num_steps": 2, "rho": 5.0}}
    key = cache_config(make_generator(SECTION, 0, device="cpu"), X, y, 2, "toy")
    assert key == cache_config(make_generator(fewer, 0, device="cpu"), X, y, 2, "toy")
    assert key["params"]["edm"]["num_steps"] == 50 and key["params"]["edm"]["epochs"] == 4  # default; training kept
    longer = {**SECTION, "edm": {**SECTION["edm"], "epochs": 5}}
    assert key != cache_config(make_generator(longer, 0, device="cpu"), X, y, 2, "toy")
    assert training_settings(None) is None

    cache = ArtifactCache(tmp_path)
    model = train_mageid(toy_set, 0, SECTION, "cpu", cache=cache, verbose=False)
    monkeypatch.setattr(LatentEDM, "fit", lambda *a, **k: pytest.fail("a sampling change retrained the EDM"))
    quick = train_mageid(toy_set, 0, fewer, "cpu", cache=cache, verbose=False)
    assert stored(tmp_path, "MAGE-ID") == [1, 2]  # stage 1 + one stage-2 model
    assert quick.sampling_settings()["num_steps"] == 2 and model.sampling_settings()["num_steps"] == 4
    a, b = model.generate({0: 6, 1: 6}, random_state=3), quick.generate({0: 6, 1: 6}, random_state=3)
    assert quick.edm_.num_steps == 2 and quick.edm_.rho == 5.0
    assert not np.allclose(a.z, b.z)  # same weights, another integration
    again = train_mageid(toy_set, 0, SECTION, "cpu", cache=cache, verbose=False)
    np.testing.assert_array_equal(again.generate({0: 6, 1: 6}, random_state=3).z, a.z)
    with pytest.raises(ValueError, match="set_sampling accepts"):
        quick.edm_.set_sampling(epochs=3)
    with pytest.raises(ValueError, match="num_steps"):
        quick.edm_.set_sampling(num_steps=0)


def test_raw_or_ema_weights_share_one_trained_model(toy_set):
    """Sampling from the raw weights is a sampling setting: the trained model's key is unchanged."""
    X, y = toy_set.xy()
    raw = {**SECTION, "edm": {**SECTION["edm"], "sample_weights": "raw"}}
    key = cache_config(make_generator(SECTION, 0, device="cpu"), X, y, 2, "toy")
    assert key == cache_config(make_generator(raw, 0, device="cpu"), X, y, 2, "toy")
    assert make_generator(raw, 0, device="cpu").sampling_settings()["sample_weights"] == "raw"
    no_ema = {**SECTION, "edm": {**SECTION["edm"], "ema_decay": None}}
    assert key != cache_config(make_generator(no_ema, 0, device="cpu"), X, y, 2, "toy")  # training changes


def test_mageid_reuses_the_tab_vae_of_a_cached_tabsyn(toy_set, tmp_path, monkeypatch):
    from idsynth.experiments.mageid_train import reuse_tab_vae
    from idsynth.models import mageid as mageid_module
    from idsynth.models.tab_vae import TabVAE

    cache = ArtifactCache(tmp_path / "shared")
    assert not reuse_tab_vae(toy_set, 0, SECTION, "cpu", cache=cache)  # nothing cached yet
    tabsyn = train_mageid(toy_set, 0, SECTION, "cpu", modalities=("tabular",), cache=cache, stage=1, verbose=False)
    mageid_module._TAB_VAE_MEMO.clear()  # as in a new process
    # the premise: a MAGE-ID fitted from scratch holds the very TabVAE TabSyn trained
    fresh = train_mageid(toy_set, 0, SECTION, "cpu", cache=ArtifactCache(tmp_path / "own"), stage=1, verbose=False)
    mageid_module._TAB_VAE_MEMO.clear()

    def no_training(*args, **kwargs):
        raise AssertionError("the TabVAE was trained again")

    monkeypatch.setattr(TabVAE, "fit", no_training)
    reused = train_mageid(toy_set, 0, SECTION, "cpu", cache=cache, stage=1, verbose=False)
    for other in (tabsyn, fresh):
        state, expected = reused.tab_vae_.net_.state_dict(), other.tab_vae_.net_.state_dict()
        assert all(torch.equal(state[k], expected[k]) for k in expected)
    assert reused.img_vae_ is not None and reused.fit_seconds_["tab_vae"] == tabsyn.fit_seconds_["tab_vae"]
    assert not reuse_tab_vae(toy_set, 0, SECTION, "cpu", cache=cache)  # MAGE-ID's own stage 1 is cached now
    mageid_module._TAB_VAE_MEMO.clear()
    longer = {**SECTION, "tab_vae": {**SECTION["tab_vae"], "epochs": 4}}
    with pytest.raises(AssertionError, match="trained again"):  # other settings: no cached TabSyn to reuse
        train_mageid(toy_set, 0, longer, "cpu", cache=cache, stage=1, verbose=False)
