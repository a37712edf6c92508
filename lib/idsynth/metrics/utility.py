"""Classifier grids: train on real or synthetic data, predict on real or synthetic data.

VGM's Table 2 fits each of four default classifiers once on the real training set and once
on the synthetic set, and scores each fit on both sets, giving four (train on, predict on)
combinations per classifier. "real -> real" scores a classifier on the very rows it was
fitted on, as the paper does. Table 3 tabulates the predictions of one classifier (MLP) in
those four combinations, so the grid can hand its predictions back to avoid refitting.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning

from .classifiers import CLASSIFIER_NAMES, make_classifier

# Table 2's column order: (train on, predict on).
COMBINATIONS: tuple[tuple[str, str], ...] = (
    ("real", "synthetic"),
    ("real", "real"),
    ("synthetic", "real"),
    ("synthetic", "synthetic"),
)


@dataclass(frozen=True)
class GridResult:
    """Scores and the predictions behind them.

    ``scores``: columns ``classifier, train_on, predict_on, accuracy``.
    ``predictions[(classifier, train_on, predict_on)]``: (n,) predicted labels for the
    ``predict_on`` set; ``truth[predict_on]`` the labels they are scored against.
    ``not_converged``: the ``(classifier, train_on)`` fits that stopped at scikit-learn's
    default iteration limit (a ``ConvergenceWarning``).
    """

    scores: pd.DataFrame
    predictions: dict[tuple[str, str, str], np.ndarray] = field(repr=False)
    truth: dict[str, np.ndarray] = field(repr=False)
    not_converged: tuple[tuple[str, str], ...] = ()


def _checked_xy(X, y, name: str) -> tuple[np.ndarray, np.ndarray]:
    features = np.asarray(X)
    labels = np.asarray(y)
    if features.ndim != 2:
        raise ValueError(f"X_{name} must be 2-D (n, d), got shape {features.shape}")
    if labels.ndim != 1 or len(labels) != len(features):
        raise ValueError(f"y_{name} must be 1-D with {len(features)} labels, got shape {labels.shape}")
    if len(np.unique(labels)) < 2:
        raise ValueError(f"y_{name} must hold at least two classes to fit a classifier")
    return features, labels


def _fit_and_predict(
    name: str, X_train: np.ndarray, y_train: np.ndarray, targets: dict, random_state
) -> tuple[dict, bool]:
    """Fit classifier ``name`` once and predict every set in ``targets`` ({key: X}).

    Returns the predictions and whether the fit converged: scikit-learn's default
    iteration limits (which the paper keeps) stop some solvers early with a
    ``ConvergenceWarning``; it is recorded here instead of printed from a worker process.
    """
    model = make_classifier(name, random_state=random_state)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(X_train, y_train)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return {target: model.predict(X) for target, X in targets.items()}, converged


def _checked_classifiers(classifiers: Sequence[str]) -> list[str]:
    names = list(classifiers)
    if not names:
        raise ValueError("classifiers is empty")
    unknown = [c for c in names if c not in CLASSIFIER_NAMES]
    if unknown:
        raise ValueError(f"unknown classifiers {unknown}; expected names from {CLASSIFIER_NAMES}")
    return names


def train_predict_grids(
    X_real,
    y_real,
    synthetic: Mapping[Hashable, tuple],
    classifiers: Sequence[str] = CLASSIFIER_NAMES,
    random_state: int | None = 0,
    n_jobs: int | None = -1,
) -> dict[Hashable, GridResult]:
    """:func:`train_predict_grid` for several synthetic sets against one real set.

    ``synthetic``: ``{key: (X_syn (m, d), y_syn (m,))}``, e.g. one set per VGM option. Each
    classifier is fitted once on the real set (its predictions serve every key's
    "real -> real" and "real -> synthetic") and once per synthetic set, so ``k`` sets cost
    ``(1 + k) × len(classifiers)`` fits, all run in one joblib pool. Returns
    ``{key: GridResult}``; each result equals what :func:`train_predict_grid` gives for
    that set alone.
    """
    Xr, yr = _checked_xy(X_real, y_real, "real")
    if not synthetic:
        raise ValueError("synthetic is empty; expected {key: (X_syn, y_syn)}")
    sets = {}
    for key, pair in synthetic.items():
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise TypeError(f"synthetic[{key!r}] must be a tuple (X_syn, y_syn)")
        Xs, ys = _checked_xy(*pair, "syn")
        if Xs.shape[1] != Xr.shape[1]:
            raise ValueError(
                f"real and synthetic sets need the same features, got {Xr.shape[1]} and {Xs.shape[1]} ({key!r})"
            )
        sets[key] = (Xs, ys)
    names = _checked_classifiers(classifiers)

    # Synthetic sets are numbered 0..k-1 and the real set is -1 inside the jobs. Job
    # (classifier, -1) fits on real and predicts real + every synthetic set; job
    # (classifier, i) fits on synthetic set i and predicts real + that set.
    keys = list(sets)
    arrays = {-1: (Xr, yr), **{i: sets[key] for i, key in enumerate(keys)}}
    jobs = [(name, i) for name in names for i in arrays]

    def targets(i: int) -> dict[int, np.ndarray]:
        chosen = arrays if i == -1 else {-1: arrays[-1], i: arrays[i]}
        return {j: X for j, (X, _) in chosen.items()}

    outputs = Parallel(n_jobs=n_jobs)(
        delayed(_fit_and_predict)(name, *arrays[i], targets(i), random_state) for name, i in jobs
    )
    predicted = {job: labels for job, (labels, _) in zip(jobs, outputs)}
    converged = {job: ok for job, (_, ok) in zip(jobs, outputs)}

    results = {}
    for i, key in enumerate(keys):
        truth = {"real": yr, "synthetic": arrays[i][1]}
        predictions = {}
        for name in names:
            from_real, from_syn = predicted[(name, -1)], predicted[(name, i)]
            predictions[(name, "real", "synthetic")] = from_real[i]
            predictions[(name, "real", "real")] = from_real[-1]
            predictions[(name, "synthetic", "real")] = from_syn[-1]
            predictions[(name, "synthetic", "synthetic")] = from_syn[i]
        scores = pd.DataFrame(
            [
                {
                    "classifier": name,
                    "train_on": train_on,
                    "predict_on": predict_on,
                    "accuracy": float(np.mean(predictions[(name, train_on, predict_on)] == truth[predict_on])),
                }
                for name in names
                for train_on, predict_on in COMBINATIONS
            ]
        )
        not_converged = tuple(
            (name, train_on)
            for name in names
            for train_on, j in (("real", -1), ("synthetic", i))
            if not converged[(name, j)]
        )
        results[key] = GridResult(scores=scores, predictions=predictions, truth=truth, not_converged=not_converged)
    return results


def train_predict_grid(
    X_real,
    y_real,
    X_syn,
    y_syn,
    classifiers: Sequence[str] = CLASSIFIER_NAMES,
    random_state: int | None = 0,
    n_jobs: int | None = -1,
    return_predictions: bool = False,
) -> pd.DataFrame | GridResult:
    """Accuracy of each classifier for the four (train on, predict on) combinations.

    ``X_real``: (n, d), ``y_real``: (n,); ``X_syn``: (m, d), ``y_syn``: (m,): same feature
    space and label set. Each classifier is fitted twice (on real, on synthetic) with
    scikit-learn defaults and ``random_state``; the ``2 × len(classifiers)`` fits run in
    parallel with joblib (``n_jobs`` as in joblib; each fit itself is single-threaded).

    Returns a frame with columns ``classifier, train_on, predict_on, accuracy`` (accuracy
    in [0, 1]; rows classifier-major in :data:`COMBINATIONS` order), or, with
    ``return_predictions=True``, a :class:`GridResult` that also holds the predictions.
    """
    result = train_predict_grids(
        X_real, y_real, {"synthetic": (X_syn, y_syn)}, classifiers=classifiers, random_state=random_state, n_jobs=n_jobs
    )["synthetic"]
    return result if return_predictions else result.scores
