"""A user's own flow table through every generator (issue 17's holdout scenario, made here).

The table imitates a release the project has never seen: renamed columns, all numeric, string
labels (one spelled ``Portscan``), imbalanced. Each generator runs in an imblearn pipeline with
a tiny schedule; the point is that the route works and reports, not the quality of the rows.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from imblearn.pipeline import make_pipeline
from sklearn.ensemble import RandomForestClassifier

from idsynth.data.errors import DataFormatError
from idsynth.metrics import SyntheticCheck
from idsynth.models.encoded_frame import EncodedFrameGenerator
from idsynth.models.mageid import MAGEID
from idsynth.models.smote_generator import SMOTEGenerator
from idsynth.models.tabddpm import TabDDPM
from idsynth.models.vgm import VGM
from idsynth.sampling import GeneratorOverSampler
from sampling_fakes import ClassFrameGenerator

pytestmark = pytest.mark.usefixtures("one_thread")

LABELS = ("BENIGN", "DDoS", "Portscan")


def flows(n: int = 360, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """(n, 5) all-numeric frame with spaces in its column names, and string labels 70/20/10 %."""
    rng = np.random.default_rng(seed)
    y = rng.choice(LABELS, size=n, p=[0.7, 0.2, 0.1])
    low = rng.integers(0, 40, n) + 400 * (y == "DDoS")
    X = pd.DataFrame({
        "Flow Duration": rng.integers(0, 5000, n) * (1 + 9 * (y == "Portscan")),
        "Packet Length Min": low,
        "Packet Length Max": low + rng.integers(0, 200, n),
        "Flow Bytes/s": rng.gamma(2.0, 100.0, n),
        "Down/Up Ratio": rng.random(n),
    })  # fmt: skip
    return X, y


TINY_TAB = dict(d_token=4, n_layers=1, d_ff=16, epochs=3, batch_size=128)
TINY_EDM = dict(hidden=32, n_layers=1, epochs=3, batch_size=128, num_steps=4)
GENERATORS = {
    "VGM": lambda: VGM(option="C", latent_dim=4, encoder_units=(16,), decoder_units=(16,), label_repeat=2,
                       label_units=8, epochs=2, batch_size=64, device="cpu", verbose=False),
    "TabSyn": lambda: MAGEID(modalities=("tabular",), tab_vae=TINY_TAB, edm=TINY_EDM, device="cpu", verbose=False),
    "MAGE-ID": lambda: MAGEID(tab_vae=TINY_TAB, img_vae=dict(latent_dim=4, widths=(8,), epochs=2, batch_size=128),
                              edm=TINY_EDM, imager=dict(n_init=1, max_sweeps=2), device="cpu", verbose=False),
    "TabDDPM": lambda: TabDDPM(steps=5, num_timesteps=10, d_layers=(32, 32), dim_t=16, batch_size=128, device="cpu",
                               verbose=False),
    "SMOTE": lambda: SMOTEGenerator(k_neighbors=3),
}  # fmt: skip


@pytest.mark.parametrize("name", list(GENERATORS))
def test_every_generator_over_samples_an_all_numeric_frame_with_string_labels_in_a_pipeline(name):
    X, y = flows()
    sampler = GeneratorOverSampler(GENERATORS[name](), sampling_strategy={"Portscan": 120, "DDoS": 100},
                                   random_state=0, report="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny schedules: the check rightly complains
        X_res, y_res = sampler.fit_resample(X, y)
        model = make_pipeline(clone_sampler(sampler), RandomForestClassifier(n_estimators=10, random_state=0))
        model.fit(X, y)
    counts = Counter(y)
    assert Counter(y_res) == {"BENIGN": counts["BENIGN"], "DDoS": 100, "Portscan": 120}
    assert isinstance(X_res, pd.DataFrame) and list(X_res.columns) == list(X.columns)
    assert X_res.dtypes.equals(X.dtypes)
    pd.testing.assert_frame_equal(X_res.iloc[: len(X)], X)
    assert set(model.predict(X)) <= set(LABELS)
    assert isinstance(sampler.check_, SyntheticCheck)
    assert set(sampler.check_.classes.index) == {"DDoS", "Portscan"}


def clone_sampler(sampler):
    from sklearn.base import clone

    return clone(sampler)


def test_the_generators_never_see_string_labels_and_the_labels_come_back():
    seen = []

    class Spy(ClassFrameGenerator):
        def fit(self, X, y):
            seen.append(np.asarray(y).dtype)
            return super().fit(X, y)

    X, y = flows()
    _, y_res = GeneratorOverSampler(Spy(), random_state=0).fit_resample(X, y)
    assert seen and all(np.issubdtype(d, np.integer) for d in seen)
    assert set(y_res) == set(LABELS) and y_res.dtype == y.dtype


def test_mageid_takes_string_labels_through_the_sampler_though_not_directly():
    X, y = flows()
    with pytest.raises(TypeError, match="integer class labels"):
        GENERATORS["TabSyn"]().fit(X, y)  # the model's own check: the sampler is the way in
    X_res, y_res = GeneratorOverSampler(GENERATORS["TabSyn"](), random_state=0).fit_resample(X, y)
    assert len(X_res) == len(y_res) == 3 * Counter(y)["BENIGN"]


def test_vgm_wrapped_for_an_all_numeric_frame_outside_the_sampler_too():
    X, y = flows()
    gen = EncodedFrameGenerator(GENERATORS["VGM"]()).fit(X, y)  # columns inferred, no one-hot block
    assert gen.numeric_ == list(X.columns) and gen.categorical_ == []
    assert gen.generator_.continuous_features == gen.generator_.n_features == 5
    frame, labels = gen.sample({"Portscan": 7}, random_state=0)
    assert list(frame.columns) == list(X.columns) and (labels == "Portscan").all()


def test_an_inferred_encoded_frame_generator_saves_and_loads(tmp_path):
    X, y = flows()
    gen = EncodedFrameGenerator(GENERATORS["VGM"]()).fit(X, y)
    gen.save(tmp_path / "gen.pt")
    again = EncodedFrameGenerator.load(tmp_path / "gen.pt", device="cpu")
    assert again.numeric is None and again.numeric_ == list(X.columns)
    pd.testing.assert_frame_equal(again.sample({"DDoS": 5}, random_state=1)[0], gen.sample({"DDoS": 5}, random_state=1)[0])


def test_a_numpy_array_with_a_column_spec_and_integer_labels():
    X, y = flows()
    X = X.assign(proto=np.where(y == "DDoS", 17, 6))
    codes = np.unique(y, return_inverse=True)[1] + 3  # labels 3, 4, 5
    target = int((codes == 5).sum()) + 80  # imblearn's dict: the class's count after sampling
    sampler = GeneratorOverSampler(GENERATORS["VGM"](), sampling_strategy={5: target}, random_state=0,
                                   columns=list(X.columns), categorical=["proto"])
    X_res, y_res = sampler.fit_resample(X.to_numpy(dtype=np.float64), codes)
    assert isinstance(X_res, np.ndarray) and X_res.dtype == np.float64 and X_res.shape == (len(X) + 80, 6)
    assert set(np.unique(X_res[len(X):, 5])) <= {6.0, 17.0}  # the protocol decoded to a seen category
    assert type(sampler.generator_).__name__ == "EncodedFrameGenerator"
    assert sampler.generator_.categorical_ == ["proto"]
    assert Counter(y_res)[5] == target


def test_a_mixed_frame_keeps_its_string_column():
    X, y = flows()
    X = X.assign(Protocol=np.where(y == "DDoS", "UDP", "TCP"))
    X_res, _ = GeneratorOverSampler(GENERATORS["TabDDPM"](), random_state=0).fit_resample(X, y)
    assert X_res["Protocol"].dtype == X["Protocol"].dtype and set(X_res["Protocol"]) <= {"UDP", "TCP"}


@pytest.mark.parametrize("bad, message", [
    (lambda X: X.assign(**{"Flow Bytes/s": X["Flow Bytes/s"].where(X.index != 7, np.inf)}),
     r"column 'Flow Bytes/s'.*row 7 holds inf.*finite"),
    (lambda X: X.assign(**{"Packet Length Min": X["Packet Length Min"].astype(float).where(X.index != 3)}),
     r"column 'Packet Length Min'.*row 3.*finite"),
    (lambda X: X.assign(when=pd.Timestamp("2017-07-03")), r"column 'when'.*datetime.*expected numbers or categories"),
])  # fmt: skip
def test_one_validation_path_names_the_column_and_what_was_expected(bad, message):
    X, y = flows()
    for name in ("VGM", "TabSyn", "SMOTE"):  # the same message whatever the generator
        with pytest.raises(DataFormatError, match=message):
            GeneratorOverSampler(GENERATORS[name]()).fit_resample(bad(X), y)


def test_bad_labels_and_shapes_are_named():
    X, y = flows()
    with pytest.raises(ValueError, match=r"one label per row.*\(360,\)"):
        GeneratorOverSampler(GENERATORS["SMOTE"]()).fit_resample(X, y[:-1])
    with pytest.raises(ValueError, match="columns names 2 columns; X has 5"):
        GeneratorOverSampler(GENERATORS["SMOTE"](), columns=["a", "b"]).fit_resample(X.to_numpy(), y)
    with pytest.raises(ValueError, match="categorical names 'nope'"):
        GeneratorOverSampler(GENERATORS["SMOTE"](), categorical=["nope"]).fit_resample(X, y)


def test_report_print_shows_the_check_and_mageid_label_agreement(capsys):
    X, y = flows()
    sampler = GeneratorOverSampler(GENERATORS["TabSyn"](), sampling_strategy={"Portscan": 100}, random_state=0,
                                   report="print")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sampler.fit_resample(X, y)
    out = capsys.readouterr().out
    assert "Synthetic-data check" in out and "Portscan" in out and "label_agreement_" in out
