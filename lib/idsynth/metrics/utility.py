"""Classifier grids: train on real or synthetic data, predict on real or synthetic data.

VGM's Table 2 fits each of four default classifiers once on the real training set and once
on the synthetic set, and scores each fit on both sets, giving four (train on, predict on)
combinations per classifier. "real -> real" scores a classifier on the very rows it was
fitted on, as the paper does. Table 3 tabulates the predictions of one classifier (MLP) in
those four combinations, so the grid can hand its predictions back to avoid refitting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from .classifiers import CLASSIFIER_NAMES, make_classifier

SOURCES: tuple[str, ...] = ("real", "synthetic")
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
    """

    scores: pd.DataFrame
    predictions: dict[tuple[str, str, str], np.ndarray] = field(repr=False)
    truth: dict[str, np.ndarray] = field(repr=False)


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
    name: str, X_train: np.ndarray, y_train: np.ndarray, targets: dict[str, np.ndarray], random_state
) -> dict[str, np.ndarray]:
    """Fit classifier ``name`` once and predict every set in ``targets``."""
    model = make_classifier(name, random_state=random_state)
    model.fit(X_train, y_train)
    return {target: model.predict(X) for target, X in targets.items()}


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
    Xr, yr = _checked_xy(X_real, y_real, "real")
    Xs, ys = _checked_xy(X_syn, y_syn, "syn")
    if Xr.shape[1] != Xs.shape[1]:
        raise ValueError(f"real and synthetic sets need the same features, got {Xr.shape[1]} and {Xs.shape[1]}")
    names = list(classifiers)
    if not names:
        raise ValueError("classifiers is empty")
    unknown = [c for c in names if c not in CLASSIFIER_NAMES]
    if unknown:
        raise ValueError(f"unknown classifiers {unknown}; expected names from {CLASSIFIER_NAMES}")

    data = {"real": (Xr, yr), "synthetic": (Xs, ys)}
    targets = {source: X for source, (X, _) in data.items()}
    jobs = [(name, train_on) for name in names for train_on in SOURCES]
    outputs = Parallel(n_jobs=n_jobs)(
        delayed(_fit_and_predict)(name, *data[train_on], targets, random_state) for name, train_on in jobs
    )

    predictions: dict[tuple[str, str, str], np.ndarray] = {}
    for (name, train_on), predicted in zip(jobs, outputs):
        for predict_on, labels in predicted.items():
            predictions[(name, train_on, predict_on)] = labels
    rows = [
        {
            "classifier": name,
            "train_on": train_on,
            "predict_on": predict_on,
            "accuracy": float(np.mean(predictions[(name, train_on, predict_on)] == data[predict_on][1])),
        }
        for name in names
        for train_on, predict_on in COMBINATIONS
    ]
    scores = pd.DataFrame(rows)
    if return_predictions:
        return GridResult(scores=scores, predictions=predictions, truth={s: data[s][1] for s in SOURCES})
    return scores
