"""TorchMLPClassifier: same model, init, loss, optimiser and stopping rule as sklearn's MLP."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from idsynth.metrics.classifiers import make_classifier
from idsynth.metrics.torch_mlp import TorchMLPClassifier


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    """A small real problem: 8x8 digit images, 10 classes, pixels scaled to [0, 1]."""
    X, y = load_digits(return_X_y=True)
    return train_test_split((X / 16.0).astype(np.float32), y, test_size=0.3, random_state=0, stratify=y)


def test_fits_a_toy_problem_with_string_labels():
    X, y = make_blobs(n_samples=600, centers=3, n_features=5, cluster_std=1.0, random_state=0)
    labels = np.array(["dos", "normal", "probe"])[y]
    clf = TorchMLPClassifier(random_state=0, max_iter=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, labels)
    assert list(clf.classes_) == ["dos", "normal", "probe"]
    assert (clf.predict(X) == labels).mean() > 0.97
    proba = clf.predict_proba(X)
    assert proba.shape == (600, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert clf.out_activation_ == "softmax" and [c.shape for c in clf.coefs_] == [(5, 100), (100, 3)]


@pytest.mark.parametrize("n_classes", [2, 4])
def test_without_shuffling_it_follows_sklearns_trajectory(n_classes):
    """Same init (same seed), same batches, same loss + L2 + Adam: the same numbers in float32."""
    X, y = make_blobs(n_samples=450, centers=n_classes, n_features=7, cluster_std=3.0, random_state=1)
    X = X.astype(np.float32)
    settings = dict(random_state=3, shuffle=False, max_iter=6, alpha=0.01, batch_size=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = MLPClassifier(**settings).fit(X, y)
        ours = TorchMLPClassifier(**settings, device="cpu").fit(X, y)
    assert ours.out_activation_ == ref.out_activation_
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-5)
    for mine, theirs in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(mine, theirs, atol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-4)


def _sklearn_stop_epoch(loss_curve, tol, n_iter_no_change):
    """Where sklearn's own rule (its private ``_update_no_improvement_count``) stops on a curve."""
    judge = MLPClassifier(tol=tol, n_iter_no_change=n_iter_no_change)
    judge.loss_curve_, judge.best_loss_, judge._no_improvement_count = [], np.inf, 0
    for epoch, loss in enumerate(loss_curve, start=1):
        judge.loss_curve_.append(loss)
        judge._update_no_improvement_count(False, None, None, None)
        if judge._no_improvement_count > n_iter_no_change:
            return epoch
    return None


def test_stops_where_sklearns_rule_would(digits):
    X_train, _, y_train, _ = digits
    clf = TorchMLPClassifier(random_state=0, tol=1e-2, n_iter_no_change=3).fit(X_train, y_train)
    assert clf.n_iter_ < clf.max_iter  # the loose tol makes it stop early
    assert _sklearn_stop_epoch(clf.loss_curve_, 1e-2, 3) == clf.n_iter_ == len(clf.loss_curve_)


def test_accuracy_matches_sklearn_mlp_on_digits(digits):
    X_train, X_test, y_train, y_test = digits
    ours, ref = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in (0, 1):
            ours.append(TorchMLPClassifier(random_state=seed, max_iter=60).fit(X_train, y_train).score(X_test, y_test))
            ref.append(MLPClassifier(random_state=seed, max_iter=60).fit(X_train, y_train).score(X_test, y_test))
    assert min(ours) > 0.95 and min(ref) > 0.95
    assert abs(np.mean(ours) - np.mean(ref)) < 0.015


def test_same_seed_same_model_other_seed_other_model():
    X, y = make_blobs(n_samples=300, centers=3, n_features=4, random_state=2)
    fit = lambda seed: TorchMLPClassifier(random_state=seed, max_iter=5).fit(X, y)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a, b, c = fit(7), fit(7), fit(8)
    for wa, wb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(wa, wb)
    assert a.loss_curve_ == b.loss_curve_
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


def test_sklearn_api_and_clear_errors():
    clf = TorchMLPClassifier(hidden_layer_sizes=(8, 4), random_state=0, max_iter=3)
    assert clone(clf).get_params() == clf.get_params()
    X, y = make_blobs(n_samples=60, centers=2, n_features=3, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    assert [w.shape for w in clf.coefs_] == [(3, 8), (8, 4), (4, 1)]  # binary: one logistic unit
    assert clf.predict_proba(X).shape == (60, 2)
    with pytest.raises(ValueError, match="2 classes"):
        TorchMLPClassifier().fit(X, np.zeros(60))
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :2])
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        TorchMLPClassifier(hidden_layer_sizes=(0,)).fit(X, y)


def test_make_classifier_backends():
    assert isinstance(make_classifier("MLP", random_state=1, mlp_backend="torch"), TorchMLPClassifier)
    assert isinstance(make_classifier("MLP", random_state=1), MLPClassifier)
    assert make_classifier("MLP", random_state=4, mlp_backend="torch", device="cpu").get_params()["device"] == "cpu"
    with pytest.raises(ValueError, match="mlp_backend"):
        make_classifier("MLP", mlp_backend="keras")


# scikit-learn's full estimator contract (cloning, pickling, dtypes, memmaps, label types,
# sample-order invariance, ...): every check applies to a classifier and passes.
@parametrize_with_checks([TorchMLPClassifier(random_state=0, max_iter=100, device="cpu")])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def test_predicting_a_read_only_array_gives_no_torch_warning():
    rng = np.random.default_rng(0)
    X = rng.random((120, 4)).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = TorchMLPClassifier(max_iter=2, device="cpu", random_state=0).fit(X, y)
    frozen = X.copy()
    frozen.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert np.array_equal(model.predict(frozen), model.predict(X))
