"""Detectability: how well a logistic regression tells synthetic rows from real ones.

Two scores, both ``1 − mean_folds(2·max(AUC, 0.5) − 1)`` of a real-vs-synthetic logistic
regression under stratified, shuffled k-fold cross-validation (1 = indistinguishable, 0 =
perfectly separable):

* :func:`detectability` (Table I's ``detectability`` column; our choice): on the caller's
  *encoded* rows (equal counts), ``StandardScaler`` + ``LogisticRegression(max_iter=1000)``,
  ``n_splits`` folds (5 in the profiles);
* :func:`detectability_sdmetrics` (the ``detectability_sdmetrics`` column): SDMetrics'
  ``single_table.LogisticDetection.compute(real, synthetic, metadata)`` itself, on the *raw
  typed* tables as TabSyn's ``eval/eval_detection.py`` calls it: SDMetrics encodes the tables
  (numbers as they are, text one-hot), then ``SimpleImputer`` + ``RobustScaler`` +
  ``LogisticRegression()`` (lbfgs, 100 iterations), 3 folds.

They can disagree a lot: ours is the stronger detector on a set with a few distinctive columns
(issue 16 measured SDV's TVAE on NSL-KDD at 0.514 ours, 0.663 SDMetrics).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Iterable

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from idsynth.metrics._common import as_features, equal_size_subsample


def detection_aucs(real, synthetic, n_splits: int = 5, max_rows: int | None = None, random_state: int = 0) -> np.ndarray:
    """Per-fold held-out ROC AUCs ``(n_splits,)`` of the real-vs-synthetic logistic regression
    (``StandardScaler`` + ``LogisticRegression(max_iter=1000)``) on encoded rows."""
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


# --- SDMetrics' LogisticDetection ----------------------------------------------------------------


def sdmetrics_metadata(columns: Iterable[str], discrete_columns: Iterable[str] = ()) -> dict:
    """The single-table metadata of SDMetrics (as TabSyn's ``info["metadata"]``): every column
    ``numerical`` except ``discrete_columns``, which are ``categorical``. Raises ``ValueError``
    for a discrete column the table lacks."""
    columns, discrete = list(columns), list(discrete_columns)
    unknown = [c for c in discrete if c not in columns]
    if unknown:
        raise ValueError(f"discrete columns {unknown} are not columns of the table")
    return {"columns": {c: {"sdtype": "categorical" if c in discrete else "numerical"} for c in columns}}


@contextmanager
def _numpy_global_seed(seed: int):
    """Seed numpy's global generator inside the block and restore its state after it:
    SDMetrics shuffles its folds with that generator (``StratifiedKFold(shuffle=True)``)."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _equal_size_frames(real: pd.DataFrame, synthetic: pd.DataFrame, max_rows: int | None, random_state: int):
    """Both tables cut to the same number of rows (at most ``max_rows``), as
    :func:`~idsynth.metrics._common.equal_size_subsample` cuts arrays."""
    rows_real, rows_syn = equal_size_subsample(
        np.arange(len(real))[:, None], np.arange(len(synthetic))[:, None], max_rows, random_state
    )
    return real.iloc[rows_real[:, 0]].reset_index(drop=True), synthetic.iloc[rows_syn[:, 0]].reset_index(drop=True)


def unseen_categories(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict[str, list]:
    """``{column: values}`` of the text (or categorical) columns whose synthetic values include
    ones the real table never has: SDMetrics' one-hot encoder, fitted on the real table, cannot
    encode them."""
    unseen = {}
    for column in real.columns:
        values = real[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
            continue
        new = sorted(set(synthetic[column].dropna()) - set(values.dropna()), key=str)
        if new:
            unseen[column] = new
    return unseen


def detectability_sdmetrics(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    discrete_columns: Iterable[str] = (),
    metadata: dict | None = None,
    max_rows: int | None = None,
    random_state: int = 0,
) -> float:
    """SDMetrics' ``LogisticDetection.compute(real, synthetic, metadata)`` in [0, 1] (1 =
    indistinguishable), on the raw typed tables (the label as one of their columns, as in
    TabSyn's evaluation).

    real, synthetic: DataFrames with the same columns (numbers as numbers, categories as text;
    SDMetrics one-hot encodes text columns and leaves numeric ones, whatever the metadata says).
    metadata: SDMetrics' table metadata, default :func:`sdmetrics_metadata` with
    ``discrete_columns`` categorical. Both tables are cut to equal counts (at most ``max_rows``,
    seeded); ``random_state`` also seeds SDMetrics' fold shuffle (numpy's global generator,
    restored afterwards), so a score is reproducible.

    SDMetrics cannot encode a synthetic category the real table lacks (its encoder is fitted on
    the real table and raises): such a set gets NaN and a warning naming the columns and values
    (:func:`unseen_categories`), not an exception, so a Table I run carries on.
    """
    from sdmetrics.single_table import LogisticDetection

    for name, frame in (("real", real), ("synthetic", synthetic)):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{name} must be a DataFrame of the raw typed table, got {type(frame).__name__}")
    if list(real.columns) != list(synthetic.columns):
        raise ValueError(f"real and synthetic tables have different columns: {list(real.columns)} vs {list(synthetic.columns)}")
    real, synthetic = _equal_size_frames(real, synthetic, max_rows, random_state)
    unseen = unseen_categories(real, synthetic)
    if unseen:
        shown = {column: values[:5] for column, values in unseen.items()}
        warnings.warn(f"SDMetrics' LogisticDetection cannot encode synthetic categories the real table lacks "
                      f"({shown}); detectability_sdmetrics is NaN", UserWarning, stacklevel=2)  # fmt: skip
        return float("nan")
    metadata = metadata if metadata is not None else sdmetrics_metadata(real.columns, discrete_columns)
    with _numpy_global_seed(random_state), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # its 100 lbfgs iterations may stop short: its protocol
        return float(LogisticDetection.compute(real, synthetic, metadata))
