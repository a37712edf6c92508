"""One row of MAGE-ID's Table I for one synthetic set: detectability, PRDC and MLE AUC, and
SDMetrics' detectability on the raw typed tables beside them."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin

from idsynth.metrics._common import as_features
from idsynth.metrics.detectability import detectability, detectability_sdmetrics
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
#: The key of SDMetrics' detectability (:func:`~idsynth.metrics.detectability.detectability_sdmetrics`)
#: in :func:`table_i_row`, given the typed tables, and its column header. The poster's
#: Detectability is most likely this score (TabSyn's evaluation calls SDMetrics).
SDMETRICS_DETECTABILITY = "detectability_sdmetrics"
SDMETRICS_DETECTABILITY_TITLE = "Detectability (SDMetrics)"
#: The encoded-space detectability protocols a profile may name (``table_i.detectability``):
#: ours only; SDMetrics' score is the separate :data:`SDMETRICS_DETECTABILITY` column.
DETECTABILITY_PROTOCOLS: tuple[str, ...] = ("ours",)
#: The label's column in the typed tables SDMetrics scores (the label is a column of the table).
TYPED_LABEL = "label"


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


def _check_protocol(protocol: str) -> None:
    if protocol not in DETECTABILITY_PROTOCOLS:
        raise ValueError(
            f"detectability protocol must be one of {DETECTABILITY_PROTOCOLS}, got {protocol!r}; SDMetrics' own "
            f"score is the {SDMETRICS_DETECTABILITY!r} column (pass the typed tables)"
        )


def typed_table(frame: pd.DataFrame, y, include_label: bool) -> pd.DataFrame:
    """The raw typed table SDMetrics scores: ``frame``'s columns, then the (n,) labels ``y`` as
    column :data:`TYPED_LABEL` when ``include_label``."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"a typed table must be a DataFrame, got {type(frame).__name__}")
    y = np.asarray(y)
    if y.shape != (len(frame),):
        raise ValueError(f"labels must have shape ({len(frame)},) to match the typed table, got {y.shape}")
    if not include_label:
        return frame.reset_index(drop=True)
    if TYPED_LABEL in frame.columns:
        raise ValueError(f"the typed table already has a column {TYPED_LABEL!r}; pass the features only")
    return frame.reset_index(drop=True).assign(**{TYPED_LABEL: y})


def sdmetrics_score(typed: tuple[pd.DataFrame, pd.DataFrame], y_real, y_syn, discrete_columns: Iterable[str] = (),
                    include_label: bool = True, max_rows: int | None = None, random_state: int = 0) -> float:
    """:data:`SDMETRICS_DETECTABILITY` of ``typed = (real frame, synthetic frame)`` with their
    labels (appended as a categorical column when ``include_label``)."""
    real_frame, synthetic_frame = typed
    discrete = [*discrete_columns, *([TYPED_LABEL] if include_label else [])]
    return detectability_sdmetrics(
        typed_table(real_frame, y_real, include_label), typed_table(synthetic_frame, y_syn, include_label),
        discrete_columns=discrete, max_rows=max_rows, random_state=random_state,
    )  # fmt: skip


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
    typed: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    discrete_columns: Iterable[str] = (),
) -> dict[str, Any]:
    """Table I's six columns for one synthetic set; keys as in :data:`TABLE_I_COLUMNS`, then
    :data:`SDMETRICS_DETECTABILITY` when ``typed`` is given.

    ``real_train``, ``real_test`` and ``synthetic`` are ``(X, y)`` pairs in the same encoded
    feature space. Fidelity (detectability, PRDC) compares ``synthetic`` with ``real_train``
    (the rows the generator learnt from), on equal counts capped at ``max_rows``; with
    ``include_label`` the one-hot label is appended to the features first, since in TabSyn's
    protocol the label is a column of the table. Utility (``auc``) trains ``classifier`` on
    ``synthetic`` and tests on ``real_test`` (see :func:`idsynth.metrics.mle.mle_auc`).
    ``detectability_protocol`` (one of :data:`DETECTABILITY_PROTOCOLS`) and ``prdc_dtype``: the
    metric details (:mod:`idsynth.metrics.detectability`, :mod:`idsynth.metrics.prdc_metrics`).
    ``typed``: ``(real frame, synthetic frame)``, the same rows as ``real_train`` and
    ``synthetic`` as raw typed feature tables, scored by SDMetrics' ``LogisticDetection``
    (:func:`sdmetrics_score`; ``discrete_columns``: their categorical columns; the label is
    appended with ``include_label``).
    """
    _check_protocol(detectability_protocol)
    X_real, y_real = _pair(real_train, "real_train")
    X_test, y_test = _pair(real_test, "real_test")
    X_syn, y_syn = _pair(synthetic, "synthetic")
    fid_real, fid_syn = _fidelity_pair(X_real, y_real, X_syn, y_syn, include_label)
    row: dict[str, Any] = {
        "detectability": detectability(fid_real, fid_syn, n_splits=n_splits, max_rows=max_rows,
                                       random_state=random_state)
    }
    row.update(prdc_scores(fid_real, fid_syn, k=k, max_rows=max_rows, random_state=random_state,
                           dtype=np.dtype(prdc_dtype)))
    row["auc"] = mle_auc(X_syn, y_syn, X_test, y_test, classifier=classifier, random_state=random_state)
    if typed is not None:
        row[SDMETRICS_DETECTABILITY] = sdmetrics_score(typed, y_real, y_syn, discrete_columns, include_label,
                                                       max_rows, random_state)
    return row


#: The metric details that :func:`fidelity_variants` varies: detectability ours (encoded rows)
#: or SDMetrics' (typed tables), and the precision of PRDC's distances (Table I's ``detectability``
#: and PRDC columns use the first of each).
FIDELITY_VARIANTS: dict[str, tuple[str, ...]] = {"detectability": ("ours", "sdmetrics"), "prdc": ("float32", "float64")}


def fidelity_variants(real_train, synthetic, k: int = 5, n_splits: int = 5, max_rows: int | None = None,
                      include_label: bool = True, random_state: int = 0,
                      typed: tuple[pd.DataFrame, pd.DataFrame] | None = None,
                      discrete_columns: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Table I's fidelity columns under each of :data:`FIDELITY_VARIANTS`, on the inputs of
    :func:`table_i_row`: rows ``{"metric", "variant", "value"}`` (detectability ours, and
    SDMetrics' when ``typed`` is given; precision, recall, density and coverage with float32
    and float64 distances)."""
    X_real, y_real = _pair(real_train, "real_train")
    X_syn, y_syn = _pair(synthetic, "synthetic")
    fid_real, fid_syn = _fidelity_pair(X_real, y_real, X_syn, y_syn, include_label)
    rows = [{"metric": "detectability", "variant": "ours",
             "value": detectability(fid_real, fid_syn, n_splits=n_splits, max_rows=max_rows, random_state=random_state)}]
    if typed is not None:
        rows.append({"metric": "detectability", "variant": "sdmetrics",
                     "value": sdmetrics_score(typed, y_real, y_syn, discrete_columns, include_label, max_rows,
                                              random_state)})  # fmt: skip
    for dtype in FIDELITY_VARIANTS["prdc"]:
        scores = prdc_scores(fid_real, fid_syn, k=k, max_rows=max_rows, random_state=random_state,
                             dtype=np.dtype(dtype))
        rows += [{"metric": key, "variant": dtype, "value": value} for key, value in scores.items()]
    return rows
