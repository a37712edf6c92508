import numpy as np
import pandas as pd
import pytest

from idsynth.metrics.classifiers import CLASSIFIER_NAMES
from idsynth.metrics.utility import COMBINATIONS, GridResult, train_predict_grid, train_predict_grids


def _blobs(n_per_class, seed, shift=0.0):
    """Three well-separated Gaussian classes in 4-D."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0, 0], [4, 4, 0, 0], [0, 4, 4, 4]], dtype=float) + shift
    X = np.concatenate([c + 0.3 * rng.standard_normal((n_per_class, 4)) for c in centres])
    y = np.repeat(np.arange(3), n_per_class)
    return X, y


@pytest.fixture(scope="module")
def separable_grid():
    X_real, y_real = _blobs(40, seed=0)
    X_syn, y_syn = _blobs(30, seed=1)
    return train_predict_grid(X_real, y_real, X_syn, y_syn, n_jobs=2, return_predictions=True), (y_real, y_syn)


def test_grid_shape_and_order(separable_grid):
    result, _ = separable_grid
    assert isinstance(result, GridResult)
    scores = result.scores
    assert list(scores.columns) == ["classifier", "train_on", "predict_on", "accuracy"]
    assert len(scores) == 4 * len(CLASSIFIER_NAMES)
    assert list(scores["classifier"].unique()) == list(CLASSIFIER_NAMES)
    first = scores[scores["classifier"] == CLASSIFIER_NAMES[0]]
    assert list(zip(first["train_on"], first["predict_on"])) == list(COMBINATIONS)


def test_separable_data_is_classified_perfectly(separable_grid):
    result, _ = separable_grid
    assert (result.scores["accuracy"] == 1.0).all()


def test_predictions_are_kept_and_consistent_with_scores(separable_grid):
    result, (y_real, y_syn) = separable_grid
    assert len(result.predictions) == 4 * len(CLASSIFIER_NAMES)
    np.testing.assert_array_equal(result.truth["real"], y_real)
    for row in result.scores.itertuples():
        predicted = result.predictions[(row.classifier, row.train_on, row.predict_on)]
        truth = y_real if row.predict_on == "real" else y_syn
        assert predicted.shape == truth.shape
        assert np.mean(predicted == truth) == row.accuracy


def test_synthetic_with_swapped_labels_fails_across_sets():
    """Training on a synthetic set whose labels are permuted must score badly on real data."""
    X_real, y_real = _blobs(30, seed=0)
    X_syn, y_syn = _blobs(30, seed=2)
    y_wrong = (y_syn + 1) % 3
    scores = train_predict_grid(X_real, y_real, X_syn, y_wrong, classifiers=["Logistic Regression"], n_jobs=1)
    acc = scores.set_index(["train_on", "predict_on"])["accuracy"]
    assert acc[("real", "real")] == 1.0
    assert acc[("synthetic", "synthetic")] == 1.0  # consistent within the synthetic set
    assert acc[("synthetic", "real")] == 0.0  # every class mapped to the wrong one
    assert acc[("real", "synthetic")] == 0.0


def test_same_seed_same_scores():
    X_real, y_real = _blobs(30, seed=0)
    X_syn, y_syn = _blobs(30, seed=3, shift=1.5)  # overlapping, so the scores are not all 1
    a = train_predict_grid(X_real, y_real, X_syn, y_syn, classifiers=["Random Forest", "MLP"], random_state=5, n_jobs=1)
    b = train_predict_grid(X_real, y_real, X_syn, y_syn, classifiers=["Random Forest", "MLP"], random_state=5, n_jobs=2)
    pd.testing.assert_frame_equal(a, b)


def test_bad_inputs():
    X, y = _blobs(10, seed=0)
    with pytest.raises(ValueError, match="unknown classifiers"):
        train_predict_grid(X, y, X, y, classifiers=["XGBoost"])
    with pytest.raises(ValueError, match="same features"):
        train_predict_grid(X, y, X[:, :3], y)
    with pytest.raises(ValueError, match="y_syn must be 1-D"):
        train_predict_grid(X, y, X, y[:-1])
    with pytest.raises(ValueError, match="two classes"):
        train_predict_grid(X, y, X, np.zeros_like(y))


def test_several_synthetic_sets_share_the_real_fit_and_match_single_grids():
    X_real, y_real = _blobs(25, seed=0)
    sets = {
        "A": _blobs(20, seed=4, shift=1.0),
        "B": _blobs(15, seed=5, shift=2.0),
        ("real",): _blobs(10, seed=6),  # keys of any hashable kind, even one that reads "real"
    }
    names = ["Logistic Regression", "MLP"]
    many = train_predict_grids(X_real, y_real, sets, classifiers=names, random_state=1, n_jobs=2)
    assert list(many) == list(sets)
    for key, (X_syn, y_syn) in sets.items():
        alone = train_predict_grid(X_real, y_real, X_syn, y_syn, classifiers=names, random_state=1, n_jobs=1,
                                   return_predictions=True)
        pd.testing.assert_frame_equal(many[key].scores, alone.scores)
        np.testing.assert_array_equal(many[key].truth["synthetic"], y_syn)
        for pred_key, predicted in alone.predictions.items():
            np.testing.assert_array_equal(many[key].predictions[pred_key], predicted)
    with pytest.raises(TypeError, match="tuple"):
        train_predict_grids(X_real, y_real, {"A": [X_real, y_real]})
    with pytest.raises(ValueError, match="empty"):
        train_predict_grids(X_real, y_real, {})


def test_convergence_warnings_are_recorded_not_printed(recwarn):
    """A tiny, overlapping set stops the default MLP at max_iter; the grid records which fit."""
    X_real, y_real = _blobs(30, seed=0)
    X_syn, y_syn = _blobs(30, seed=3, shift=1.5)
    result = train_predict_grid(X_real, y_real, X_syn, y_syn, classifiers=["MLP"], n_jobs=1, return_predictions=True)
    assert set(result.not_converged) <= {("MLP", "real"), ("MLP", "synthetic")}
    assert result.not_converged  # 200 Adam epochs on 90 rows do not meet the default tolerance
    assert not [w for w in recwarn if "Maximum iterations" in str(w.message)]
