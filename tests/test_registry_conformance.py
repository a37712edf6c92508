"""Every registered generator follows the protocol (idsynth.models.base), at smoke sizes.

For each name of :mod:`idsynth.models.registry`, built from the smoke profile's section: exact
class counts in the mapping's order, fit's columns and dtypes, a save/load round trip (through
``registry.load``) giving identical samples, ``clone``, determinism for a seed (two fits, two
samples) and seed dependence (another seed, other rows); bad requests raise. Then the registry
itself: sections in every profile, factories equal to the notebooks' ones, clear errors.
"""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from idsynth.config import PROFILES, get_profile
from idsynth.models import encoded_frame, registry
from idsynth.models.base import FrameGenerator, check_frame_and_labels, seeded_global_rngs
from idsynth.models.encoded_frame import EncodedFrameGenerator, register_array_generator

pytestmark = pytest.mark.usefixtures("one_thread")

SMOKE = get_profile("smoke")
NAMES = registry.names()
REQUEST = {2: 7, 0: 5, 1: 0}  # not sorted, one empty class


def toy_frame(n=150, seed=0):
    """(n, 6) typed rows of 3 classes (codes 0, 1, 2): float64, int64, float32, strings, a
    category column; the class shows in ``a`` and ``proto``."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = pd.DataFrame({
        "a": rng.normal(size=n) + 3.0 * y,
        "cnt": rng.integers(0, 40, n) + 20 * y,
        "f32": rng.random(n).astype(np.float32),
        "proto": np.where(y == 1, "tcp", rng.choice(["udp", "icmp"], n)).astype(object),
        "flag": pd.Categorical(rng.choice(["S0", "SF", "REJ"], n)),
        "b": rng.normal(size=n),
    })  # fmt: skip
    return X, y


DATA = toy_frame()
_FITTED: dict[str, object] = {}


def fitted(name):
    """The smoke-profile generator ``name`` fitted on :data:`DATA` with seed 0 (once per module);
    skips, naming the packages, a generator whose packages are not installed (SDV's: see
    registry's docstring)."""
    if not registry.available(name):
        pytest.skip(f"{name} needs {registry.missing_packages(name)}, not installed (requirements.txt pins it)")
    if name not in _FITTED:
        _FITTED[name] = registry.make(name, SMOKE, seed=0, device="cpu").fit(*DATA)
    return _FITTED[name]


def same_frames(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)


@pytest.mark.parametrize("name", NAMES)
def test_exact_counts_columns_and_dtypes(name):
    X, _ = DATA
    frame, y = fitted(name).sample(REQUEST, random_state=1)
    np.testing.assert_array_equal(y, [2] * 7 + [0] * 5)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 12
    assert list(frame.columns) == list(X.columns)
    assert frame.dtypes.to_dict() == X.dtypes.to_dict()
    assert set(frame["flag"].astype(str)) <= set(X["flag"].astype(str))
    assert np.isfinite(frame[["a", "cnt", "f32", "b"]].to_numpy(dtype=np.float64)).all()


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip_samples_identically(name, tmp_path):
    model = fitted(name)
    path = tmp_path / "model.pt"
    model.save(path)
    loaded = registry.load(path, device="cpu")
    assert type(loaded) is type(model)
    assert loaded.get_params(deep=False).keys() == model.get_params(deep=False).keys()
    for a, b in zip(model.sample(REQUEST, random_state=3), loaded.sample(REQUEST, random_state=3)):
        same_frames(a, b) if isinstance(a, pd.DataFrame) else np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_clone_refits_to_the_same_samples_and_seeds_matter(name):
    model = fitted(name)
    copy = clone(model)
    assert type(copy) is type(model) and copy.get_params(deep=False).keys() == model.get_params(deep=False).keys()
    with pytest.raises((RuntimeError, ValueError, AttributeError)):
        copy.sample({0: 1}, random_state=0)
    refit = copy.fit(*DATA)
    first, _ = model.sample(REQUEST, random_state=5)
    same_frames(first, refit.sample(REQUEST, random_state=5)[0])
    same_frames(first, model.sample(REQUEST, random_state=5)[0])
    other, _ = model.sample(REQUEST, random_state=6)
    assert not first.equals(other), "another random_state must give other rows"


@pytest.mark.parametrize("name", NAMES)
def test_unknown_classes_and_negative_counts_are_refused(name):
    model = fitted(name)
    with pytest.raises(ValueError, match="not seen"):
        model.sample({7: 3}, random_state=0)
    with pytest.raises(ValueError, match="negative"):
        model.sample({0: -2}, random_state=0)


# --- the registry ---------------------------------------------------------------------------------


def test_every_package_generator_is_registered_with_a_section_in_every_profile():
    assert {"VGM-A", "VGM-B", "VGM-C", "SMOTE", "MAGE-ID", "TabSyn", "TabDDPM",
            "GaussianCopula", "TVAE", "CTGAN"} <= set(NAMES)  # fmt: skip
    for name in NAMES:
        spec = registry.entry(name)
        assert spec.input in registry.INPUTS and spec.summary
        for profile in PROFILES.values():
            assert spec.section in profile.sections
            model = spec.factory(profile[spec.section], 3, device="cpu")
            assert callable(model.fit) and callable(model.sample) and callable(type(model).load)
            assert model.get_params().get("random_state", 3) == 3


def test_a_generator_without_its_packages_says_so(monkeypatch):
    monkeypatch.setitem(registry.REGISTRY, "needs-x", registry.Entry("needs-x", "smote", registry.smote, "frame",
                                                                       "test", ("no_such_package_xyz",)))
    assert not registry.available("needs-x") and registry.missing_packages("needs-x") == ["no_such_package_xyz"]
    with pytest.raises(ImportError, match="no_such_package_xyz"):
        registry.make("needs-x", SMOKE, 0)
    assert registry.available("SMOTE")


def test_factories_match_the_notebooks_factories():
    """The registry builds the same models as the experiments' factories from the same sections."""
    from idsynth.data.schema import Schema
    from idsynth.experiments.cross_eval import smote_factory, vgm_c_factory
    from idsynth.experiments.mageid_train import make_generator
    from idsynth.experiments.tabddpm_run import tabddpm_factory

    schema = Schema(numeric=["a"], categorical=["proto"], integer=[])
    for profile in PROFILES.values():
        def params(model):
            return model.get_params(deep=False)

        assert params(registry.make("MAGE-ID", profile, 1, "cpu")) == params(make_generator(profile["mageid"], 1,
                                                                                            device="cpu", verbose=False))
        assert params(registry.make("TabSyn", profile, 1, "cpu")) == params(
            make_generator(profile["mageid"], 1, ("tabular",), device="cpu", verbose=False))
        assert params(registry.make("TabDDPM", profile, 1, "cpu")) == params(
            tabddpm_factory(profile["tabddpm"], device="cpu")(1))
        vgm = registry.make("VGM-C", profile, 1, "cpu").generator.get_params()
        assert vgm == vgm_c_factory(schema, profile["vgm"], device="cpu")(1).generator.get_params()
        assert profile["cross_eval"]["smote_k_neighbors"] == profile["smote"]["k_neighbors"]
        assert (registry.make("SMOTE", profile, 1).generator.get_params()
                == smote_factory(schema, profile["smote"]["k_neighbors"])(1).generator.get_params())


def test_registry_errors_are_clear(tmp_path):
    with pytest.raises(KeyError, match="registered"):
        registry.entry("GAN-9000")
    with pytest.raises(ValueError, match="registered already"):
        registry.register("SMOTE", "smote", registry.smote)
    with pytest.raises(ValueError, match="input"):
        registry.register("new", "smote", registry.smote, input="images")
    with pytest.raises(ValueError, match="not TabDDPM parameters"):
        registry.tabddpm_model({"stpes": 10}, 0)
    with pytest.raises(ValueError, match="must not set"):
        registry.vgm_factory("C")({"random_state": 4}, 0)
    with pytest.raises(ValueError, match="options"):
        registry.sdv_factory("CTGAN")({"epochs": 3}, 0)
    path = tmp_path / "other.pt"
    torch.save({"format": "someone.else/1"}, path)
    with pytest.raises(ValueError, match="not a generator file"):
        registry.load(path)


# --- the protocol's pieces ------------------------------------------------------------------------


def test_check_frame_and_labels_names_what_is_wrong():
    X, y = DATA
    with pytest.raises(TypeError, match="DataFrame"):
        check_frame_and_labels(X.to_numpy(), y)
    with pytest.raises(ValueError, match="shape"):
        check_frame_and_labels(X, y[:-1])
    with pytest.raises(ValueError, match="missing"):
        check_frame_and_labels(X, np.where(y == 0, np.nan, y))
    with pytest.raises(ValueError, match="duplicated"):
        check_frame_and_labels(pd.concat([X, X[["a"]]], axis=1), y)
    with pytest.raises(ValueError, match="rows"):
        check_frame_and_labels(X.iloc[:0], y[:0])


def test_seeded_global_rngs_is_repeatable_and_restores_the_callers_state():
    np.random.seed(11)
    expected = np.random.random()
    np.random.seed(11)
    with seeded_global_rngs(5):
        inside = (np.random.random(), torch.rand(1).item())
    with seeded_global_rngs(5):
        again = (np.random.random(), torch.rand(1).item())
    assert inside == again
    assert np.random.random() == expected


class _CountingMeans(FrameGenerator):
    """A minimal FrameGenerator: per-class column means plus seeded noise (numeric frames)."""

    FILE_FORMAT = "test.counting_means/1"

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def _fit(self, X, y):
        self.means_ = np.stack([X[y == c].mean().to_numpy() for c in self.classes_])  # (K, d)

    def _sample(self, counts, seed):
        rng = np.random.default_rng(seed)
        rows = [self.means_[np.searchsorted(self.classes_, c)] + self.scale * rng.normal(size=(n, len(self.columns_)))
                for c, n in counts.items()]
        return pd.DataFrame(np.concatenate(rows), columns=self.columns_)

    def _get_state(self):
        return torch.from_numpy(self.means_)

    def _set_state(self, state, device):
        self.means_ = state.numpy()


def test_frame_generator_gives_a_subclass_the_whole_protocol(tmp_path):
    X = DATA[0][["a", "b", "f32"]]
    y = np.array(["x", "y", "z"])[DATA[1]]
    model = _CountingMeans().fit(X, y)
    frame, labels = model.sample({"z": 4, "x": 2}, random_state=0)
    assert list(labels) == ["z"] * 4 + ["x"] * 2 and frame.dtypes.to_dict() == X.dtypes.to_dict()
    empty, none = model.sample({"x": 0})
    assert empty.shape == (0, 3) and none.shape == (0,)
    model.save(tmp_path / "m.pt")
    loaded = _CountingMeans.load(tmp_path / "m.pt")
    same_frames(frame, loaded.sample({"z": 4, "x": 2}, random_state=0)[0])
    torch.save({"format": "x"}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="not a _CountingMeans file"):
        _CountingMeans.load(tmp_path / "x.pt")
    with pytest.raises(RuntimeError, match="not fitted"):
        _CountingMeans().sample({"x": 1})
    with pytest.raises(ValueError, match="negative"):
        model.sample({"x": -1})


class _ArrayMeans:
    """An array generator outside the package (per-class means, no noise), for the encoded frame."""

    def __init__(self, shift: float = 0.0):
        self.shift = shift

    def get_params(self, deep=True):
        return {"shift": self.shift}

    def set_params(self, **params):
        self.shift = params.get("shift", self.shift)
        return self

    def fit(self, X, y):
        self.means_ = {int(c): X[y == c].mean(axis=0) for c in np.unique(y)}
        return self

    def sample(self, n_per_class, random_state=None):
        labels = np.concatenate([np.full(n, c) for c, n in n_per_class.items()])
        return np.stack([self.means_[int(c)] + self.shift for c in labels]), labels

    def save(self, path):
        torch.save({"shift": self.shift, "means": {str(k): torch.from_numpy(v) for k, v in self.means_.items()}}, path)

    @classmethod
    def load(cls, path):
        state = torch.load(path, weights_only=True)
        model = cls(state["shift"])
        model.means_ = {int(k): v.numpy() for k, v in state["means"].items()}
        return model


def test_encoded_frame_takes_any_array_generator_and_saves_registered_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(encoded_frame, "INNER_CLASSES", dict(encoded_frame.INNER_CLASSES))
    X, y = DATA
    model = EncodedFrameGenerator(_ArrayMeans()).fit(X, y)
    frame, labels = model.sample({1: 3}, random_state=0)
    assert (frame["proto"] == "tcp").all() and list(labels) == [1, 1, 1]
    with pytest.raises(TypeError, match="register_array_generator"):
        model.save(tmp_path / "m.pt")
    register_array_generator(_ArrayMeans, "test._ArrayMeans")
    model.save(tmp_path / "m.pt")
    same_frames(frame, registry.load(tmp_path / "m.pt").sample({1: 3}, random_state=0)[0])
    with pytest.raises(ValueError, match="taken"):
        register_array_generator(_CountingMeans, "test._ArrayMeans")
    with pytest.raises(TypeError, match="lacks"):
        register_array_generator(dict, "test.dict")
