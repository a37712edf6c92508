"""Detectability: how well a logistic regression tells synthetic rows from real ones.

The score of TabSyn's protocol (SDMetrics' ``LogisticDetection``), as TARGETS.md fixes it for
MAGE-ID's Table I: real and synthetic rows (equal counts) are labelled 1 and 0; a logistic
regression is scored by ROC AUC under stratified, shuffled k-fold cross-validation; each fold
gives ``2·max(AUC, 0.5) − 1`` and the score is ``1 −`` their mean. 1 = indistinguishable,
0 = perfectly separable.

Two ``protocol``s differ in the classifier and the folds (both on the caller's encoded rows):

* ``"ours"`` (Table I's rows so far; our choice): ``StandardScaler`` + ``LogisticRegression(max_iter=1000)``,
  ``n_splits`` folds (5 in the profiles);
* ``"sdmetrics"``: SDMetrics' own pipeline, ``SimpleImputer`` + ``RobustScaler`` +
  ``LogisticRegression()`` (lbfgs, 100 iterations), 3 folds. SDMetrics also encodes the raw
  table itself (rdt's HyperTransformer); here the rows come encoded by the caller.

They can disagree a lot on a set with a few distinctive columns (VGM-C on NSL-KDD, seed 0:
0.689 ours, 0.813 sdmetrics; an audit, 2026-11-23); notebook 10 measures both.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.impute import SimpleImputer
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import RobustScaler, StandardScaler

from idsynth.metrics._common import as_features, equal_size_subsample

PROTOCOLS: tuple[str, ...] = ("ours", "sdmetrics")
_SDMETRICS_FOLDS = 3


def _classifier(protocol: str):
    if protocol == "ours":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return make_pipeline(SimpleImputer(), RobustScaler(), LogisticRegression())


def detection_aucs(
    real, synthetic, n_splits: int = 5, max_rows: int | None = None, random_state: int = 0, protocol: str = "ours"
) -> np.ndarray:
    """Per-fold held-out ROC AUCs of the real-vs-synthetic logistic regression: ``(n_splits,)``
    for ``protocol="ours"``, ``(3,)`` for ``"sdmetrics"`` (which ignores ``n_splits``)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    n_splits = _SDMETRICS_FOLDS if protocol == "sdmetrics" else n_splits
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
        classifier = _classifier(protocol)
        with warnings.catch_warnings():  # SDMetrics' 100 lbfgs iterations may stop short: part of its protocol
            warnings.simplefilter("ignore", ConvergenceWarning)
            classifier.fit(X[train], is_real[train])
        aucs.append(roc_auc_score(is_real[test], classifier.predict_proba(X[test])[:, 1]))
    return np.asarray(aucs)


def detectability(real, synthetic, n_splits: int = 5, max_rows: int | None = None, random_state: int = 0,
                  protocol: str = "ours") -> float:
    """``1 − mean_folds(2·max(AUC, 0.5) − 1)`` in [0, 1]; higher is better, 1 = indistinguishable.

    ``real`` (n_r, d) and ``synthetic`` (n_s, d) in the same encoded space; the larger set is
    subsampled (seeded) to the smaller, both to at most ``max_rows``. ``protocol``: see the module.
    """
    aucs = detection_aucs(real, synthetic, n_splits=n_splits, max_rows=max_rows, random_state=random_state,
                          protocol=protocol)
    return float(1.0 - np.mean(2.0 * np.maximum(aucs, 0.5) - 1.0))
