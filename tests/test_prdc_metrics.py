"""Tests for Table I's metrics: PRDC, detectability, MLE AUC and the row that joins them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression

from idsynth.metrics._common import equal_size_subsample
from idsynth.metrics.detectability import detection_aucs, detectability
from idsynth.metrics.mle import mle_auc, mle_ceiling
from idsynth.metrics.prdc_metrics import prdc_scores
from idsynth.metrics.table_i import TABLE_I_COLUMNS, table_i_row


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def real():
    return np.random.default_rng(0).normal(size=(400, 4))


# ---- PRDC -----------------------------------------------------------------------------------
def test_prdc_identical_sets(real):
    scores = prdc_scores(real, real.copy(), k=5)
    assert scores["precision"] == 1.0 and scores["recall"] == 1.0 and scores["coverage"] == 1.0
    # Each real k-NN ball holds its centre and k - 1 neighbours strictly inside: density = 1.
    assert scores["density"] == pytest.approx(1.0, abs=0.01)


def test_prdc_disjoint_far_apart_sets(real):
    scores = prdc_scores(real, real + 100.0, k=5)
    assert scores == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_mode_collapse_is_precise_but_not_diverse(real):
    collapsed = real[0] + 1e-4 * np.random.default_rng(1).normal(size=real.shape)
    scores = prdc_scores(real, collapsed, k=5)
    assert scores["precision"] == 1.0  # every synthetic row lies in real[0]'s ball
    assert scores["recall"] < 0.05 and scores["coverage"] < 0.05


def test_prdc_same_distribution_scores_high_and_is_seeded(real):
    synthetic = np.random.default_rng(2).normal(size=(900, 4))  # larger: subsampled to 400
    scores = prdc_scores(real, synthetic, k=5, random_state=3)
    assert scores["precision"] > 0.8 and scores["recall"] > 0.8 and scores["coverage"] > 0.8
    assert 0.7 < scores["density"] < 1.3
    assert prdc_scores(real, synthetic, k=5, random_state=3) == scores
    assert prdc_scores(real, synthetic, k=5, random_state=4) != scores


def test_prdc_precision_float32_turns_a_near_tie_into_a_tie():
    """Real rows at 0, 1, ..., 39 on a line: row 0's k = 5 radius is 5. Synthetic rows 5 - 5e-9
    from it lie strictly inside in float64; float32 rounds that distance to 5.0, a tie, and
    PRDC's strict ``<`` leaves them out."""
    real = np.column_stack([np.arange(40.0), np.zeros(40)])
    synthetic = np.column_stack([np.full(40, -(5.0 - 5e-9)), np.zeros(40)])
    narrow = prdc_scores(real, synthetic, k=5, dtype=np.float32)
    wide = prdc_scores(real, synthetic, k=5, dtype=np.float64)
    assert narrow["precision"] == 0.0 and narrow["density"] == 0.0
    assert wide["precision"] == 1.0 and wide["density"] == pytest.approx(1 / 5)  # one ball holds each row
    assert wide["coverage"] == pytest.approx(1 / 40) and narrow["coverage"] == 0.0


def test_equal_size_subsample_counts_and_seed(real):
    big = np.arange(3000, dtype=float).reshape(-1, 4)
    a, b = equal_size_subsample(real, big, random_state=0)
    assert len(a) == len(b) == 400 and a is real
    assert np.all(np.diff(b[:, 0]) > 0)  # rows keep their order, none repeated
    c, d = equal_size_subsample(real, big, max_rows=50, random_state=0)
    assert len(c) == len(d) == 50
    np.testing.assert_array_equal(equal_size_subsample(real, big, random_state=0)[1], b)


def test_prdc_rejects_bad_input(real):
    with pytest.raises(ValueError, match="at least 7"):  # prdc partitions at index k + 1
        prdc_scores(real[:6], real[:6], k=5)
    assert set(prdc_scores(real[:7], real[7:14], k=5)) == {"precision", "recall", "density", "coverage"}
    with pytest.raises(ValueError, match="float32 or float64"):
        prdc_scores(real, real, dtype=np.float16)
    with pytest.raises(ValueError, match="features"):
        prdc_scores(real, real[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        prdc_scores(np.full((10, 2), np.nan), real[:10, :2])
    with pytest.raises(ValueError, match="2-D"):
        prdc_scores(real[:, 0], real[:, 0])


# ---- detectability --------------------------------------------------------------------------
def test_detectability_identical_and_disjoint(real):
    assert detectability(real, real.copy()) > 0.9
    assert detectability(real, real + 100.0) == pytest.approx(0.0, abs=1e-9)


def test_detectability_of_a_known_shift():
    """N(0, 1) vs N(δ, 1): the best AUC is Φ(δ/√2), so the score is 2·(1 − Φ(δ/√2))."""
    rng = np.random.default_rng(4)
    delta = 1.0
    real = rng.normal(size=(3000, 1))
    synthetic = rng.normal(size=(3000, 1)) + delta
    expected = 1 - (2 * norm.cdf(delta / np.sqrt(2)) - 1)
    assert detectability(real, synthetic, random_state=0) == pytest.approx(expected, abs=0.04)
    aucs = detection_aucs(real, synthetic, n_splits=3)
    assert aucs.shape == (3,)
    with pytest.raises(ValueError, match="n_splits"):
        detectability(real, synthetic, n_splits=1)


# ---- MLE ------------------------------------------------------------------------------------
def _two_gaussians(n, separation, rng):
    y = rng.integers(0, 2, size=n)
    X = rng.normal(size=(n, 3)) + separation * y[:, None] * np.array([1.0, 0.0, 0.0])
    return X, y


def test_mle_auc_separable_and_shuffled():
    rng = np.random.default_rng(5)
    X_syn, y_syn = _two_gaussians(1000, 8.0, rng)
    X_test, y_test = _two_gaussians(1000, 8.0, rng)
    assert mle_auc(X_syn, y_syn, X_test, y_test) > 0.99
    shuffled = rng.permutation(y_syn)
    assert mle_auc(X_syn, shuffled, X_test, y_test) == pytest.approx(0.5, abs=0.06)


def test_mle_auc_known_value_and_custom_classifier():
    """Two unit Gaussians δ apart along one axis: the Bayes AUC is Φ(δ/√2)."""
    rng = np.random.default_rng(6)
    X_train, y_train = _two_gaussians(4000, 1.0, rng)
    X_test, y_test = _two_gaussians(4000, 1.0, rng)
    auc = mle_auc(X_train, y_train, X_test, y_test, classifier=LogisticRegression())
    assert auc == pytest.approx(norm.cdf(1.0 / np.sqrt(2)), abs=0.02)
    assert mle_ceiling(X_train, y_train, X_test, y_test, classifier=LogisticRegression()) == auc
    # String labels: the score is for the larger label.
    names = np.array(["attack", "normal"])
    assert mle_auc(X_train, names[y_train], X_test, names[y_test], classifier=LogisticRegression()) == auc


def test_mle_auc_multiclass_and_errors():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 3, size=900)
    X = rng.normal(size=(900, 2)) + 6.0 * np.stack([y == 1, y == 2], axis=1)
    assert mle_auc(X[:600], y[:600], X[600:], y[600:]) > 0.99
    y3 = np.repeat([0, 1, 2], 100)
    X3 = np.random.default_rng(9).normal(size=(300, 2)) + y3[:, None]
    with pytest.raises(ValueError, match=r"\[2\] of the training set are absent from the test set"):
        mle_auc(X3, y3, X3[y3 < 2], y3[y3 < 2])
    with pytest.raises(ValueError, match="absent"):
        mle_auc(X[:600][y[:600] < 2], y[:600][y[:600] < 2], X[600:], y[600:])
    with pytest.raises(ValueError, match=">= 2 classes"):
        mle_auc(X[:10], np.zeros(10), X[600:], y[600:])
    with pytest.raises(ValueError, match="features"):
        mle_auc(X[:600], y[:600], X[600:, :1], y[600:])


# ---- Table I row ----------------------------------------------------------------------------
def test_table_i_row_good_and_bad_synthetic_sets():
    rng = np.random.default_rng(8)
    real_train = _two_gaussians(600, 3.0, rng)
    real_test = _two_gaussians(400, 3.0, rng)
    good = _two_gaussians(600, 3.0, rng)
    bad = (good[0] + 5.0, good[1])
    row = table_i_row(real_train, real_test, good, n_splits=3)
    assert list(row) == list(TABLE_I_COLUMNS)
    assert row["detectability"] > 0.8 and row["precision"] > 0.7 and row["recall"] > 0.7
    assert row["coverage"] > 0.7 and row["auc"] > 0.95
    worse = table_i_row(real_train, real_test, bad, n_splits=3)
    assert worse["detectability"] < 0.05 and worse["precision"] < 0.05 and worse["coverage"] < 0.05
    # Labels flipped: features match but the label columns do not, and MLE collapses.
    flipped = table_i_row(real_train, real_test, (good[0], 1 - good[1]), n_splits=3)
    assert flipped["auc"] < 0.1
    assert flipped["detectability"] < row["detectability"]
    unlabelled = table_i_row(real_train, real_test, (good[0], 1 - good[1]), n_splits=3, include_label=False)
    assert unlabelled["detectability"] > 0.8
    with pytest.raises(TypeError, match="pair"):
        table_i_row(real_train, real_test, good[0])


def test_fidelity_variants_first_variants_are_table_i_row():
    from idsynth.metrics.table_i import fidelity_variants

    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(300, 3)), rng.integers(0, 2, 300)
    X_syn, y_syn = rng.normal(size=(300, 3)) + 0.3, rng.integers(0, 2, 300)
    row = table_i_row((X, y), (X, y), (X_syn, y_syn), k=5, n_splits=3, random_state=1)
    variants = {(r["metric"], r["variant"]): r["value"] for r in fidelity_variants((X, y), (X_syn, y_syn), k=5,
                                                                                    n_splits=3, random_state=1)}
    assert len(variants) == 1 + 2 * 4  # SDMetrics' detectability only with the typed tables
    assert variants[("detectability", "ours")] == row["detectability"]
    for key in ("precision", "recall", "density", "coverage"):
        assert variants[(key, "float32")] == row[key]
        assert variants[(key, "float64")] == pytest.approx(row[key], abs=0.02)  # no near-ties in Gaussian data
    typed = (pd.DataFrame(X, columns=list("abc")), pd.DataFrame(X_syn, columns=list("abc")))
    with_typed = fidelity_variants((X, y), (X_syn, y_syn), k=5, n_splits=3, random_state=1, typed=typed)
    sdmetrics = [r["value"] for r in with_typed if r["variant"] == "sdmetrics"]
    assert len(with_typed) == 2 + 2 * 4 and len(sdmetrics) == 1 and 0 <= sdmetrics[0] <= 1
