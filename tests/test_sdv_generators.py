"""SDV's synthesizers as generators: per-class conditioning, step budgets, fit records, errors.

The protocol itself (counts, dtypes, save/load, clone, seeds) is checked for every registry entry
in test_registry_conformance.py; these are the options of the SDV wrapper alone.
"""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sdv")

from idsynth.config import get_profile  # noqa: E402
from idsynth.models import registry  # noqa: E402
from idsynth.models.sdv_generators import SDVSynthesizer  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def rare_class_frame(n=400, n_rare=6, seed=0):
    """(n, 3) rows: class 0 numbers around 0 and proto "udp", class 1 (``n_rare`` rows) around 50
    and proto "tcp"."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(n - n_rare, int), np.ones(n_rare, int)]
    X = pd.DataFrame({"a": rng.normal(size=n) + 50.0 * y, "cnt": rng.integers(0, 9, n) + 100 * y,
                      "proto": np.where(y == 1, "tcp", "udp").astype(object)})
    return X, y


def test_per_class_tvae_draws_each_class_from_its_own_model():
    X, y = rare_class_frame()
    gen = SDVSynthesizer("TVAE", {"epochs": 3, "batch_size": 50}, conditioning="per_class").fit(X, y)
    assert set(gen.synthesizer_) == {0, 1}
    frame, labels = gen.sample({1: 40, 0: 10}, random_state=2)
    assert labels.tolist() == [1] * 40 + [0] * 10
    # every row of the rare class comes from the model that saw only its rows ("tcp")
    assert (frame["proto"].iloc[:40] == "tcp").all() and (frame["proto"].iloc[40:] == "udp").all()
    again, _ = gen.sample({1: 40, 0: 10}, random_state=2)
    pd.testing.assert_frame_equal(frame, again)


def test_steps_become_epochs_over_the_training_rows_and_are_recorded():
    X, y = rare_class_frame(n=400)
    gen = SDVSynthesizer("CTGAN", {"batch_size": 100}, steps=10).fit(X, y)
    assert gen.fit_record_["epochs"] == 3  # ceil(10 * 100 / 400)
    assert gen.fit_record_["steps"] == 12  # 3 epochs of 4 batches
    assert gen.fit_record_["seconds"] > 0
    assert set(gen.fit_record_["losses"][0]) == {"Generator Loss", "Discriminator Loss"}
    per_class = SDVSynthesizer("TVAE", {"batch_size": 100}, conditioning="per_class", steps=10).fit(X, y)
    assert per_class.fit_record_["epochs"] == 3
    assert per_class.fit_record_["steps"] == 3 * (4 + 1)  # 394 rows: 4 batches, 6 rows: 1
    assert len(per_class.fit_record_["losses"]) == 2
    copula = SDVSynthesizer("GaussianCopula").fit(X, y)
    assert copula.fit_record_["epochs"] is None and copula.fit_record_["losses"] == [{}]


def test_a_larger_set_gets_fewer_epochs_for_the_same_steps():
    small, y_small = rare_class_frame(n=400)
    large, y_large = rare_class_frame(n=1600)
    a = SDVSynthesizer("TVAE", {"batch_size": 100}, steps=16).fit(small, y_small)
    b = SDVSynthesizer("TVAE", {"batch_size": 100}, steps=16).fit(large, y_large)
    assert (a.fit_record_["epochs"], b.fit_record_["epochs"]) == (4, 1)
    assert a.fit_record_["steps"] == b.fit_record_["steps"] == 16


def test_the_fit_record_survives_save_and_load(tmp_path):
    X, y = rare_class_frame()
    gen = SDVSynthesizer("TVAE", {"epochs": 2, "batch_size": 100}, conditioning="per_class").fit(X, y)
    gen.save(tmp_path / "tvae.pt")
    loaded = registry.load(tmp_path / "tvae.pt")
    assert loaded.fit_record_ == gen.fit_record_
    pd.testing.assert_frame_equal(loaded.sample({0: 5, 1: 5}, 1)[0], gen.sample({0: 5, 1: 5}, 1)[0])


@pytest.mark.parametrize("kwargs, message", [
    (dict(synthesizer="TVAE", conditioning="by_magic"), "conditioning"),
    (dict(synthesizer="GaussianCopula", steps=10), "steps applies"),
    (dict(synthesizer="CTGAN", options={"epochs": 3}, steps=10), "either steps"),
    (dict(synthesizer="CTGAN", steps=0), "positive integer"),
    (dict(synthesizer="CTGAN", steps=2.5), "positive integer"),
])
def test_bad_options_are_named(kwargs, message):
    X, y = rare_class_frame(n=60)
    with pytest.raises(ValueError, match=message):
        SDVSynthesizer(**kwargs).fit(X, y)


def test_profile_sections_build_through_the_registry():
    for profile in ("paper", "cpu", "smoke"):
        tvae = registry.make("TVAE", get_profile(profile), seed=3)
        assert tvae.conditioning == "per_class" and tvae.random_state == 3
    cpu = get_profile("cpu")
    assert registry.make("CTGAN", cpu, 0).steps == 2400 and registry.make("TVAE", cpu, 0).steps == 9600
    assert registry.make("CTGAN", get_profile("paper"), 0).options["epochs"] == 300
    for profile in ("paper", "cpu", "smoke"):  # the per-class CTGAN is the CTGAN section, one model per class
        plain, per_class = (registry.make(n, get_profile(profile), 0) for n in ("CTGAN", "CTGAN-per-class"))
        assert per_class.conditioning == "per_class" and plain.conditioning == "sdv"
        assert (per_class.options, per_class.steps) == (plain.options, plain.steps)
    built = registry.factories(cpu, ["GaussianCopula", "CTGAN"])
    assert list(built) == ["GaussianCopula", "CTGAN"] and built["CTGAN"](5).random_state == 5
    with pytest.raises(KeyError, match="registered"):
        registry.factories(cpu, ["CTGAN", "GAN-9000"])
    with pytest.raises(ValueError, match="only"):
        registry.sdv_factory("CTGAN")({"options": {}, "epochs": 3}, 0)
