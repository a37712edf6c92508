import numpy as np
import pandas as pd
import pytest

from idsynth.metrics.fidelity import (
    confusion_counts,
    contingency_from_counts,
    contingency_long,
    contingency_table,
    contingency_wide,
    difference_stats,
    differences,
    discrete_accuracy,
)

CLASSES = ("DoS", "Normal", "Probe", "R2L", "U2R")


def _one_hot(codes, k):
    return np.eye(k, dtype=np.float32)[np.asarray(codes)]


def _encoded(num, a_codes, b_codes):
    """Numeric block, then a 3-category block ``a`` and a 4-category block ``b``."""
    X = np.hstack([np.asarray(num, dtype=np.float32), _one_hot(a_codes, 3), _one_hot(b_codes, 4)])
    slices = {"a": slice(num.shape[1], num.shape[1] + 3), "b": slice(num.shape[1] + 3, num.shape[1] + 7)}
    return X, slices


def test_discrete_accuracy_identical_is_one():
    rng = np.random.default_rng(0)
    X, slices = _encoded(rng.random((50, 2)), rng.integers(0, 3, 50), rng.integers(0, 4, 50))
    assert discrete_accuracy(X, X.copy(), slices) == {"a": 1.0, "b": 1.0}


def test_discrete_accuracy_known_disagreement_and_soft_outputs():
    num = np.zeros((4, 1))
    X_real, slices = _encoded(num, [0, 1, 2, 0], [3, 3, 1, 0])
    # Synthetic: block a disagrees on row 2 only; block b on rows 0 and 1; values are
    # sigmoid-like probabilities, read by argmax.
    a_syn = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.4], [0.5, 0.2, 0.1]])
    b_syn = np.array([[0.4, 0.1, 0.2, 0.3], [0.1, 0.5, 0.2, 0.3], [0.0, 0.9, 0.0, 0.1], [0.8, 0.0, 0.0, 0.0]])
    X_syn = np.hstack([num, a_syn, b_syn])
    assert discrete_accuracy(X_real, X_syn, slices) == {"a": 0.75, "b": 0.5}


def test_discrete_accuracy_of_permuted_rows_counts_fixed_points():
    codes = np.array([0, 1, 2, 0, 1, 2])
    X, slices = _encoded(np.zeros((6, 1)), codes, codes % 2)
    perm = np.array([1, 0, 2, 3, 5, 4])  # rows 2, 3 fixed; others swap with a different code
    acc = discrete_accuracy(X, X[perm], slices)
    expected_a = np.mean(codes == codes[perm])
    expected_b = np.mean(codes % 2 == (codes % 2)[perm])
    assert acc["a"] == pytest.approx(expected_a) == pytest.approx(2 / 6)
    assert acc["b"] == pytest.approx(expected_b)


def test_discrete_accuracy_rejects_bad_inputs():
    X, slices = _encoded(np.zeros((3, 1)), [0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="paired"):
        discrete_accuracy(X, X[:2], slices)
    with pytest.raises(ValueError, match="2-D"):
        discrete_accuracy(X[0], X[0], slices)
    with pytest.raises(ValueError, match="contiguous block"):
        discrete_accuracy(X, X, {"a": slice(5, 20)})
    with pytest.raises(TypeError, match="slice"):
        discrete_accuracy(X, X, {"a": [1, 2, 3]})
    with pytest.raises(ValueError, match="empty"):
        discrete_accuracy(X, X, {})


def test_contingency_table_tiny_example():
    y_true = np.array([0, 0, 0, 1, 1, 2, 4, 4])
    y_pred = np.array([0, 0, 1, 1, 1, 2, 3, 4])
    table = contingency_table(y_true, y_pred, CLASSES)
    assert list(table.index) == [*CLASSES, "Total", "%"]
    assert list(table.columns) == [*CLASSES, "Total", "%"]
    assert table.loc["DoS", "DoS"] == 2 and table.loc["DoS", "Normal"] == 1
    assert table.loc["U2R", "R2L"] == 1 and table.loc["U2R", "U2R"] == 1
    assert table.loc["R2L", "Total"] == 0
    assert table.loc["Total", "Normal"] == 3  # one DoS row predicted Normal + two Normal rows
    assert table.loc["Total", "Total"] == 8
    assert table.loc["DoS", "%"] == pytest.approx(100 * 3 / 8)
    assert table.loc["%", "Normal"] == pytest.approx(100 * 3 / 8)
    assert table.loc["Total", "%"] == 100 and table.loc["%", "Total"] == 100
    assert np.isnan(table.loc["%", "%"])
    counts = table.loc[list(CLASSES), list(CLASSES)].to_numpy()
    assert counts.sum() == 8
    np.testing.assert_array_equal(counts.sum(axis=1), table.loc[list(CLASSES), "Total"])


def test_contingency_accepts_labels_as_names_and_matches_codes():
    codes_true = np.array([0, 1, 2, 3, 4, 1])
    codes_pred = np.array([1, 1, 2, 3, 0, 1])
    names = np.array(CLASSES)
    by_code = contingency_table(codes_true, codes_pred, CLASSES)
    by_name = contingency_table(names[codes_true], names[codes_pred], CLASSES)
    pd.testing.assert_frame_equal(by_code, by_name)


def test_contingency_long_and_wide_round_trip():
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
    long = contingency_long(y_true, y_pred, CLASSES)
    assert list(long.columns) == ["true", "predicted", "count"]
    assert len(long) == 25 and long["count"].sum() == 200
    assert long.loc[(long["true"] == "Probe") & (long["predicted"] == "R2L"), "count"].item() == np.sum(
        (y_true == 2) & (y_pred == 3)
    )
    pd.testing.assert_frame_equal(contingency_wide(long, CLASSES), contingency_table(y_true, y_pred, CLASSES))


def test_confusion_counts_matches_sklearn():
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(2)
    y_true, y_pred = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    np.testing.assert_array_equal(
        confusion_counts(y_true, y_pred, CLASSES), confusion_matrix(y_true, y_pred, labels=range(5))
    )


def test_contingency_rejects_bad_inputs():
    with pytest.raises(ValueError, match="outside"):
        contingency_table(np.array([0, 5]), np.array([0, 1]), CLASSES)
    with pytest.raises(ValueError, match="not one of classes"):
        contingency_table(np.array(["DoS", "Worm"]), np.array(["DoS", "DoS"]), CLASSES)
    with pytest.raises(ValueError, match="same length"):
        contingency_table(np.array([0, 1]), np.array([0]), CLASSES)
    with pytest.raises(ValueError, match=r"\(5, 5\)"):
        contingency_from_counts(np.ones((4, 4)), CLASSES)
    with pytest.raises(ValueError, match="distinct"):
        contingency_table(np.array([0]), np.array([0]), ("a", "a"))


def test_difference_stats_identical_is_zero():
    rng = np.random.default_rng(3)
    X = rng.random((40, 3))
    stats = difference_stats(X, X, ["x", "y", "z"])
    assert list(stats.columns) == ["feature", "mean", "std"]
    assert list(stats["feature"]) == ["x", "y", "z"]
    np.testing.assert_array_equal(stats[["mean", "std"]].to_numpy(), 0.0)


def test_difference_stats_known_values():
    X_real = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    X_syn = np.array([[0.0, 0.0], [0.0, 0.5], [1.0, 0.0], [1.0, 1.0]])
    # differences: column 0 -> [1, 0, 0, -1]; column 1 -> [0, -0.5, 1, 0]
    stats = difference_stats(X_real, X_syn, ["a", "b"])
    assert stats["mean"].tolist() == pytest.approx([0.0, 0.125])
    assert stats["std"].tolist() == pytest.approx([np.sqrt(0.5), np.std([0, -0.5, 1, 0])])
    np.testing.assert_array_equal(differences(X_real, X_syn)[:, 0], [1, 0, 0, -1])


def test_difference_stats_rejects_wrong_names():
    with pytest.raises(ValueError, match="feature names"):
        difference_stats(np.zeros((2, 3)), np.zeros((2, 3)), ["a", "b"])
