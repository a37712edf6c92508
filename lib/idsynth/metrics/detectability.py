"""Detectability: how well a logistic regression tells synthetic rows from real ones.

TabSyn's protocol (SDMetrics' ``LogisticDetection``), as TARGETS.md fixes it for MAGE-ID's
Table I: real and synthetic rows (equal counts) are labelled 1 and 0; a standardised logistic
regression is scored by ROC AUC under stratified k-fold cross-validation; each fold gives
``2·max(AUC, 0.5) − 1`` and the score is ``1 −`` their mean. 1 = indistinguishable,
0 = perfectly separable.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from idsynth.metrics._common import as_features, equal_size_subsample


def detection_aucs(
    real, synthetic, n_splits: int = 5, max_rows: int | None = None, random_state: int = 0
) -> np.ndarray:
    """Per-fold held-out ROC AUCs ``(n_splits,)`` of the real-vs-synthetic logistic regression."""
    if int(n_splits) < 2:
        raise ValueError(f"n_splits must be >= 2, got {n_splits}")
    real_x, syn_x = equal_size_subsample(
        as_features(real, "real"), as_features(synthetic, "synthetic"), max_rows, random_state
    )
    if len(real_x) < n_splits:
        raise ValueError(f"{n_splits}-fold detectability needs at least {n_splits} rows per set, got {len(real_x)}")
    X = np.concatenate([real_x, syn_x])
    is_real = np.concatenate([np.ones(len(real_x), dtype=int), np.zeros(len(syn_x), dtype=int)])
    folds = StratifiedKFold(n_splits=int(n_splits), shuffle=True, random_state=random_state)
    aucs = []
    for train, test in folds.split(X, is_real):
        classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        classifier.fit(X[train], is_real[train])
        aucs.append(roc_auc_score(is_real[test], classifier.predict_proba(X[test])[:, 1]))
    return np.asarray(aucs)


def detectability(real, synthetic, n_splits: int = 5, max_rows: int | None = None, random_state: int = 0) -> float:
    """``1 − mean_folds(2·max(AUC, 0.5) − 1)`` in [0, 1]; higher is better, 1 = indistinguishable.

    ``real`` (n_r, d) and ``synthetic`` (n_s, d) in the same encoded space; the larger set is
    subsampled (seeded) to the smaller, both to at most ``max_rows``.
    """
    aucs = detection_aucs(real, synthetic, n_splits=n_splits, max_rows=max_rows, random_state=random_state)
    return float(1.0 - np.mean(2.0 * np.maximum(aucs, 0.5) - 1.0))
