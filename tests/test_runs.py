"""The one fit route (idsynth.runs): its key, staged fits, code versions, and the cache migration."""

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from idsynth import cache_migration, code_versions, runs
from idsynth.cache import ArtifactCache, array_digest
from idsynth.config import get_profile
from idsynth.experiments.vgm_train import train_vgm, vgm_params
from idsynth.models import registry
from idsynth.models.base import RUNTIME_PARAMS
from idsynth.models.encoded_frame import EncodedFrameGenerator
from idsynth.models.smote_generator import SMOTEGenerator
from idsynth.models.vgm import FILE_FORMAT as VGM_FORMAT
from idsynth.models.vgm import VGM

pytestmark = pytest.mark.usefixtures("one_thread")

SMOKE = get_profile("smoke")


def toy_frame(n=90, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = pd.DataFrame({"a": rng.normal(size=n) + 3.0 * y, "cnt": rng.integers(0, 40, n) + 20 * y,
                      "proto": np.where(y == 1, "tcp", rng.choice(["udp", "icmp"], n)).astype(object)})
    return X, y


def smote(seed=0):
    return registry.make("SMOTE", SMOKE, seed, device="cpu")


def test_key_names_generator_code_class_params_data_and_seed():
    X, y = toy_frame()
    key = runs.generator_key("SMOTE", smote(), X, y, seed=3, dataset="toy")
    assert key["generator"] == "SMOTE" and key["seed"] == 3 and key["stage"] is None
    assert key["code"] == {"idsynth.models.encoded_frame.EncodedFrameGenerator": EncodedFrameGenerator.CODE_VERSION,
                           "idsynth.models.smote_generator.SMOTEGenerator": SMOTEGenerator.CODE_VERSION}
    assert key["data"] == {"dataset": "toy", "fingerprint": runs.data_fingerprint(X, y), "rows": 90}
    assert not set(RUNTIME_PARAMS) & set(key["params"])
    # dtypes, values and labels each move the fingerprint
    assert runs.data_fingerprint(X.astype({"cnt": "float64"}), y) != runs.data_fingerprint(X, y)
    assert runs.data_fingerprint(X, (y + 1) % 3) != runs.data_fingerprint(X, y)
    with pytest.raises(ValueError, match="one stage"):
        runs.generator_key("SMOTE", smote(), X, y, seed=0, stage=2)


def test_fit_or_load_fits_once_and_a_code_version_bump_refits(tmp_path, monkeypatch):
    X, y = toy_frame()
    cache = ArtifactCache(tmp_path)
    fits = []
    original = EncodedFrameGenerator.fit
    monkeypatch.setattr(EncodedFrameGenerator, "fit", lambda self, X, y: fits.append(1) or original(self, X, y))
    first, seconds = runs.fit_or_load("SMOTE", smote(), X, y, seed=0, dataset="toy", cache=cache)
    again, again_seconds = runs.fit_or_load("SMOTE", smote(), X, y, seed=0, dataset="toy", cache=cache)
    assert fits == [1] and seconds == again_seconds and seconds >= 0
    pd.testing.assert_frame_equal(first.sample({0: 4, 2: 3}, random_state=1)[0], again.sample({0: 4, 2: 3}, random_state=1)[0])
    assert runs.is_fitted("SMOTE", smote(), X, y, seed=0, dataset="toy", cache=cache)
    assert len(list((tmp_path / runs.GENERATOR_KIND).glob("*" + runs.MODEL_SUFFIX))) == 1
    monkeypatch.setattr(SMOTEGenerator, "CODE_VERSION", SMOTEGenerator.CODE_VERSION + 1)
    assert not runs.is_fitted("SMOTE", smote(), X, y, seed=0, dataset="toy", cache=cache)
    runs.fit_or_load("SMOTE", smote(), X, y, seed=0, dataset="toy", cache=cache)
    assert fits == [1, 1]


class TwoStage:
    """A staged generator (the protocol of idsynth.runs): stage 1 learns column means, stage 2 a
    scale; ``shift`` is read by sampling only (unkeyed)."""

    FIT_STAGES = 2
    CODE_VERSION = 1
    calls: list = []

    def __init__(self, scale=1.0, width=2, shift=0.0, device="cpu"):
        self.scale, self.width, self.shift, self.device = scale, width, shift, device

    def get_params(self, deep=False):
        return {"scale": self.scale, "width": self.width, "shift": self.shift, "device": self.device}

    def set_params(self, **params):
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def key_params(self, stage):
        return {"width": self.width} if stage == 1 else {"width": self.width, "scale": self.scale}

    def unkeyed_settings(self):
        return {"shift": self.shift}

    def fit_stage1(self, X, y):
        TwoStage.calls.append(1)
        self.means_ = np.asarray(X, float).mean(axis=0)[: self.width]
        return self

    def fit_stage2(self, X, y):
        TwoStage.calls.append(2)
        self.factor_ = self.scale * 2.0
        return self

    def fit(self, X, y):
        return self.fit_stage1(X, y).fit_stage2(X, y)

    def sample(self, n_per_class, random_state=None):
        return self.means_ * self.factor_ + self.shift, None

    def save(self, path):
        with open(path, "wb") as handle:
            pickle.dump(self.__dict__, handle)

    @classmethod
    def load(cls, path, device=None):
        model = cls()
        with open(path, "rb") as handle:
            model.__dict__.update(pickle.load(handle))
        return model


def test_staged_generator_stores_each_stage_and_refits_only_the_later_one(tmp_path):
    X, y = np.arange(12.0).reshape(4, 3), np.array([0, 1, 0, 1])
    cache = ArtifactCache(tmp_path)
    TwoStage.calls = []
    model, seconds = runs.fit_or_load("two", TwoStage(), X, y, seed=0, cache=cache)
    assert TwoStage.calls == [1, 2] and model.factor_ == 2.0
    first = runs.fit_or_load("two", TwoStage(), X, y, seed=0, cache=cache, stage=1)[1]
    assert 0 <= first <= seconds  # stage 2's record counts stage 1's seconds too
    assert runs.generator_key("two", TwoStage(), X, y, seed=0)["stage"] == 2
    other, _ = runs.fit_or_load("two", TwoStage(scale=3.0), X, y, seed=0, cache=cache)
    assert TwoStage.calls == [1, 2, 2] and other.factor_ == 6.0  # stage 1 came from the cache
    shifted, _ = runs.fit_or_load("two", TwoStage(scale=3.0, shift=5.0), X, y, seed=0, cache=cache)
    assert TwoStage.calls == [1, 2, 2] and shifted.shift == 5.0  # an unkeyed setting: loaded, then set
    np.testing.assert_allclose(shifted.sample({})[0], other.sample({})[0] + 5.0)
    stages = sorted(json.loads(p.read_text())["stage"] for p in (tmp_path / runs.GENERATOR_KIND).glob("*.config.json"))
    assert stages == [1, 2, 2]
    with pytest.raises(ValueError, match="stage"):
        runs.generator_key("two", TwoStage(), X, y, seed=0, stage=3)
    a = runs.synthetic_key(TwoStage(), {"k": 1}, {0: 2}, 7)
    assert a["sampling"] == {"shift": 0.0} and a != runs.synthetic_key(TwoStage(shift=1.0), {"k": 1}, {0: 2}, 7)


def vgm_arrays(n=120):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, n)
    X = np.zeros((n, 116), np.float32)
    X[:, :32] = rng.random((n, 32))
    X[np.arange(n), 32 + y] = 1
    return X, y


def test_migration_moves_an_old_vgm_entry_under_the_one_route(tmp_path, monkeypatch):
    """A VGM cached the way train_vgm keyed it before the one route (kind "vgm", its own key) is
    found by today's train_vgm after the migration, without a refit."""
    X, y = vgm_arrays()
    section = {"epochs": 2, "batch_size": 40, "latent_dim": 3, "label_repeat": 2}
    cache = ArtifactCache(tmp_path)
    params = vgm_params("C", 1, section)
    old_key = {"format": VGM_FORMAT, "params": {k: v for k, v in params.items() if k not in RUNTIME_PARAMS},
               "data": {"sha256": array_digest(X.astype(np.float32), y.astype(np.int64)), "rows": len(y)}}
    old = cache.get_or_create("vgm", old_key, lambda: VGM(**{**params, "device": "cpu", "verbose": False}).fit(X, y),
                              lambda m, p: m.save(p), lambda p: VGM.load(p, device="cpu"), suffix=".pt")
    counts = cache_migration.migrate(cache, log=lambda line: None)
    assert counts["linked"] == 1 and counts["untranslated"] == 0
    assert cache_migration.migrate(cache, log=lambda line: None)["present"] == 1  # idempotent
    monkeypatch.setattr(VGM, "fit", lambda self, X, y: pytest.fail("a migrated model was refitted"))
    found = train_vgm("C", X, y, seed=1, profile_section=section, device="cpu", cache=cache, verbose=False)
    for name, value in old.net_.state_dict().items():
        assert torch.equal(value, found.net_.state_dict()[name])
    cache_migration.migrate(cache, remove_old=True, log=lambda line: None)
    assert not list((tmp_path / "vgm").glob("*.pt"))
    train_vgm("C", X, y, seed=1, profile_section=section, device="cpu", cache=cache, verbose=False)


def test_migration_rekeys_rows_that_embed_generator_keys():
    """Table 6's per-seed rows and Table I's rows hold their generators' old keys; the migration
    gives them the keys today's code computes (the Table I fingerprint translated)."""
    X, y = toy_frame()
    fresh = smote(2)
    fingerprint = runs.data_fingerprint(X, y)
    old_table6 = {"model": "SMOTE", "class": "idsynth.models.encoded_frame.EncodedFrameGenerator",
                  "params": runs.generator_params(fresh), "data": {"dataset": "KDD", "sha256": fingerprint,
                                                                   "rows": 90}, "seed": 2}
    fingerprints = cache_migration.Fingerprints()
    kind, config = cache_migration.new_config("table6_generator_seed", {"generators": [old_table6], "seed": 2},
                                                 fingerprints)
    assert config["generators"] == [json.loads(json.dumps(runs.generator_key("SMOTE", fresh, X, y, seed=2,
                                                                             dataset="KDD")))]
    fingerprints.known["old0123456789abc"] = fingerprint
    old_row = {"model": "SMOTE", "class": old_table6["class"], "params": old_table6["params"], "dataset": "toy",
               "n_rows": 100, "data": {"sha256": "old0123456789abc", "train_rows": 90}, "seed": 2,
               "sample": {"counts": {"0": 30}, "random_state": 2}, "scoring": {"k": 5}}
    kind, config = cache_migration.new_config("table_i_row", old_row, fingerprints)
    expected = runs.synthetic_key(fresh, runs.generator_key("SMOTE", fresh, X, y, seed=2, dataset="toy"), {0: 30}, 2)
    assert kind == "table_i_row" and config == {**json.loads(json.dumps(expected)), "scoring": {"k": 5}}
    assert cache_migration.new_config("table_i_synthetic", {k: v for k, v in old_row.items() if k != "scoring"},
                                      fingerprints)[0] == runs.SYNTHETIC_KIND
    old_row["data"]["sha256"] = "unknown"
    assert cache_migration.new_config("table_i_row", {**old_row, "dataset": "elsewhere"}, fingerprints) is None


def test_every_generators_code_version_is_recorded_with_its_sources_digest():
    """A change to the code a generator's fits run (its module and the idsynth modules it imports)
    must be a decision: bump the class's CODE_VERSION when fits learn something else (every cached
    model of it is refitted), or record that it only changes rounding. Either way, then run
    ``python -m idsynth.code_versions --record``."""
    recorded = code_versions.recorded_versions()
    for cls in code_versions.generator_classes():
        name = code_versions.qualified_name(cls)
        assert name in recorded, f"{name} has no entry in {code_versions.MANIFEST}: run python -m idsynth.code_versions --record"
        entry = recorded[name]
        assert entry["version"] == cls.CODE_VERSION, (
            f"{name}.CODE_VERSION is {cls.CODE_VERSION}, {code_versions.MANIFEST.name} records {entry['version']}: "
            "run python -m idsynth.code_versions --record")
        assert entry["digest"] == code_versions.code_digest(cls), (
            f"the code {name}'s fits run changed ({', '.join(entry['files'])}): if fits now learn something "
            f"else, bump {cls.__name__}.CODE_VERSION (cached models of it are refitted); then, or if only "
            "rounding changed, run python -m idsynth.code_versions --record")


def test_code_files_follow_imports_and_leave_settings_out():
    from idsynth.models.mageid import MAGEID

    names = {p.name for p in code_versions.code_files(MAGEID)}
    assert {"mageid.py", "tab_vae.py", "edm.py", "img_vae.py", "narrow_kernels.cpp", "encoding.py"} <= names
    assert not {"config.py", "cache.py", "runs.py"} & names
    assert code_versions.code_digest(MAGEID) != code_versions.code_digest(SMOTEGenerator)
