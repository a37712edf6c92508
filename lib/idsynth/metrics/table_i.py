"""One row of MAGE-ID's Table I for one synthetic set: detectability, PRDC and MLE AUC."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin

from idsynth.metrics._common import as_features
from idsynth.metrics.detectability import PROTOCOLS, detectability
from idsynth.metrics.mle import mle_auc
from idsynth.metrics.prdc_metrics import prdc_scores

#: The keys of :func:`table_i_row` and the paper's column headers.
TABLE_I_COLUMNS: dict[str, str] = {
    "detectability": "Detectability",
    "precision": "Precision",
    "recall": "Recall",
    "density": "Density",
    "coverage": "Coverage",
    "auc": "AUC (MLE)",
}


def _with_label_columns(X: np.ndarray, y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``X`` (n, d) with the one-hot label appended: (n, d + n_classes)."""
    return np.concatenate([X, (y[:, None] == classes[None, :]).astype(X.dtype)], axis=1)


def _pair(data, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        X, y = data
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (X (n, d), y (n,))") from None
    X, y = as_features(X, f"{name} X"), np.asarray(y)
    if y.shape != (len(X),):
        raise ValueError(f"{name}: y must have shape ({len(X)},), got {y.shape}")
    return X, y


def _fidelity_pair(X_real, y_real, X_syn, y_syn, include_label: bool) -> tuple[np.ndarray, np.ndarray]:
    """The rows fidelity compares: the features, with the one-hot label appended when asked."""
    if not include_label:
        return X_real, X_syn
    classes = np.unique(np.concatenate([y_real, y_syn]))
    return _with_label_columns(X_real, y_real, classes), _with_label_columns(X_syn, y_syn, classes)


def table_i_row(
    real_train,
    real_test,
    synthetic,
    k: int = 5,
    n_splits: int = 5,
    max_rows: int | None = None,
    include_label: bool = True,
    classifier: ClassifierMixin | None = None,
    random_state: int = 0,
    detectability_protocol: str = "ours",
    prdc_dtype: str = "float32",
) -> dict[str, Any]:
    """Table I's six columns for one synthetic set; keys as in :data:`TABLE_I_COLUMNS`.

    ``real_train``, ``real_test`` and ``synthetic`` are ``(X, y)`` pairs in the same encoded
    feature space. Fidelity (detectability, PRDC) compares ``synthetic`` with ``real_train``
    (the rows the generator learnt from), on equal counts capped at ``max_rows``; with
    ``include_label`` the one-hot label is appended to the features first, since in TabSyn's
    protocol the label is a column of the table. Utility (``auc``) trains ``classifier`` on
    ``synthetic`` and tests on ``real_test`` (see :func:`idsynth.metrics.mle.mle_auc`).
    ``detectability_protocol`` and ``prdc_dtype``: the two metric details of
    :data:`FIDELITY_VARIANTS` (:mod:`idsynth.metrics.detectability`, :mod:`idsynth.metrics.prdc_metrics`).
    """
    X_real, y_real = _pair(real_train, "real_train")
    X_test, y_test = _pair(real_test, "real_test")
    X_syn, y_syn = _pair(synthetic, "synthetic")
    fid_real, fid_syn = _fidelity_pair(X_real, y_real, X_syn, y_syn, include_label)
    row: dict[str, Any] = {
        "detectability": detectability(fid_real, fid_syn, n_splits=n_splits, max_rows=max_rows,
                                       random_state=random_state, protocol=detectability_protocol)
    }
    row.update(prdc_scores(fid_real, fid_syn, k=k, max_rows=max_rows, random_state=random_state,
                           dtype=np.dtype(prdc_dtype)))
    row["auc"] = mle_auc(X_syn, y_syn, X_test, y_test, classifier=classifier, random_state=random_state)
    return row


#: The metric details that :func:`fidelity_variants` varies: detectability's protocol and the
#: precision of PRDC's distances (Table I's rows use the first of each).
FIDELITY_VARIANTS: dict[str, tuple[str, ...]] = {"detectability": PROTOCOLS, "prdc": ("float32", "float64")}


def fidelity_variants(real_train, synthetic, k: int = 5, n_splits: int = 5, max_rows: int | None = None,
                      include_label: bool = True, random_state: int = 0) -> list[dict[str, Any]]:
    """Table I's fidelity columns under each of :data:`FIDELITY_VARIANTS`, on the inputs of
    :func:`table_i_row`: rows ``{"metric", "variant", "value"}`` (detectability under each
    protocol; precision, recall, density and coverage with float32 and float64 distances)."""
    X_real, y_real = _pair(real_train, "real_train")
    X_syn, y_syn = _pair(synthetic, "synthetic")
    fid_real, fid_syn = _fidelity_pair(X_real, y_real, X_syn, y_syn, include_label)
    rows = [{"metric": "detectability", "variant": protocol,
             "value": detectability(fid_real, fid_syn, n_splits=n_splits, max_rows=max_rows,
                                    random_state=random_state, protocol=protocol)}
            for protocol in FIDELITY_VARIANTS["detectability"]]  # fmt: skip
    for dtype in FIDELITY_VARIANTS["prdc"]:
        scores = prdc_scores(fid_real, fid_syn, k=k, max_rows=max_rows, random_state=random_state,
                             dtype=np.dtype(dtype))
        rows += [{"metric": key, "variant": dtype, "value": value} for key, value in scores.items()]
    return rows
