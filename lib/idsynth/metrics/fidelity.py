"""Row-paired fidelity metrics: how closely a synthetic set reproduces the original, row by row.

VGM's "forward pass" pairs every synthetic row with the original row it was generated from
(same label, the model run on that row), so these metrics compare paired rows:

* :func:`discrete_accuracy`: per categorical feature, how often the synthetic one-hot block
  selects the original's category (VGM Table 1).
* :func:`contingency_table` / :func:`contingency_long`: true vs predicted class counts with
  totals and percentages (VGM Table 3).
* :func:`difference_stats`: mean and std of the element-wise difference original − synthetic
  per feature (VGM Table 4; Figure 8 plots the same differences).

Nothing here knows about NSL-KDD: the inputs are arrays, feature names and a
``{feature: slice}`` dict such as ``TabularEncoder.cat_slices_``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

TOTAL = "Total"
PERCENT = "%"


def _paired_matrices(X_real, X_syn) -> tuple[np.ndarray, np.ndarray]:
    """Both as 2-D float arrays of the same shape, else ``ValueError``."""
    real = np.asarray(X_real, dtype=np.float64)
    syn = np.asarray(X_syn, dtype=np.float64)
    if real.ndim != 2 or syn.ndim != 2:
        raise ValueError(f"expected two 2-D arrays (n, d); got shapes {real.shape} and {syn.shape}")
    if real.shape != syn.shape:
        raise ValueError(
            f"original and synthetic rows must be paired (same shape); got {real.shape} and {syn.shape}"
        )
    if real.shape[0] == 0:
        raise ValueError("expected at least one row")
    return real, syn


def _block_bounds(block: slice, n_columns: int, feature: str) -> tuple[int, int]:
    if not isinstance(block, slice):
        raise TypeError(f"cat_slices[{feature!r}] must be a slice, got {type(block).__name__}")
    start, stop, step = block.indices(n_columns)
    out_of_range = (block.start is not None and block.start < 0) or (block.stop is not None and block.stop > n_columns)
    if step != 1 or stop - start < 1 or out_of_range:
        raise ValueError(
            f"cat_slices[{feature!r}] = {block} is not a contiguous block inside the {n_columns} columns"
        )
    return start, stop


def discrete_accuracy(X_real, X_syn, cat_slices: Mapping[str, slice]) -> dict[str, float]:
    """Per categorical feature, the fraction of paired rows whose categories agree.

    ``X_real``, ``X_syn``: (n, d) arrays, row i of one paired with row i of the other.
    ``cat_slices``: ``{feature: slice}`` of each feature's one-hot block in the d columns.
    The category of a row is the argmax over its block (ties: the first column), so a
    sigmoid output of the decoder is read the same way as an exact one-hot row.
    Returns ``{feature: accuracy in [0, 1]}`` in ``cat_slices`` order.
    """
    real, syn = _paired_matrices(X_real, X_syn)
    if not cat_slices:
        raise ValueError("cat_slices is empty; expected at least one {feature: slice} entry")
    accuracy = {}
    for feature, block in cat_slices.items():
        start, stop = _block_bounds(block, real.shape[1], feature)
        agree = real[:, start:stop].argmax(axis=1) == syn[:, start:stop].argmax(axis=1)
        accuracy[feature] = float(agree.mean())
    return accuracy


def _class_codes(y, classes: Sequence, name: str) -> np.ndarray:
    """Map labels to positions in ``classes``.

    Labels are either members of ``classes`` or, when ``classes`` are strings and ``y`` is
    an integer array, codes ``0 .. len(classes) - 1`` into ``classes``.
    """
    values = np.asarray(y)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {values.shape}")
    class_list = list(classes)
    if len(set(class_list)) != len(class_list):
        raise ValueError(f"classes must be distinct, got {class_list}")
    if np.issubdtype(values.dtype, np.integer) and all(isinstance(c, str) for c in class_list):
        bad = (values < 0) | (values >= len(class_list))
        if bad.any():
            raise ValueError(f"{name} holds codes outside 0..{len(class_list) - 1}: {np.unique(values[bad])[:5]}")
        return values.astype(np.int64)
    position = {c: i for i, c in enumerate(class_list)}
    try:
        return np.fromiter((position[v] for v in values.tolist()), dtype=np.int64, count=len(values))
    except KeyError as err:
        raise ValueError(f"{name} holds label {err.args[0]!r}, not one of classes {class_list}") from None


def confusion_counts(y_true, y_pred, classes: Sequence) -> np.ndarray:
    """(k, k) int64 counts: row = true class, column = predicted class, in ``classes`` order."""
    true = _class_codes(y_true, classes, "y_true")
    pred = _class_codes(y_pred, classes, "y_pred")
    if len(true) != len(pred):
        raise ValueError(f"y_true and y_pred must have the same length, got {len(true)} and {len(pred)}")
    k = len(list(classes))
    return np.bincount(true * k + pred, minlength=k * k).reshape(k, k)


def contingency_long(y_true, y_pred, classes: Sequence) -> pd.DataFrame:
    """Tidy counts: one row per (true, predicted) pair with columns ``true, predicted, count``.

    All ``k × k`` pairs are present (zero counts included), true class major, in
    ``classes`` order; ``classes`` are the names written to the frame.
    """
    counts = confusion_counts(y_true, y_pred, classes)
    names = [str(c) for c in classes]
    k = len(names)
    return pd.DataFrame(
        {
            "true": np.repeat(names, k),
            "predicted": np.tile(names, k),
            "count": counts.ravel().astype(np.int64),
        }
    )


def contingency_from_counts(counts, classes: Sequence) -> pd.DataFrame:
    """The paper's Table 3 layout from a (k, k) count matrix (rows true, columns predicted).

    Returns a (k + 2, k + 2) float frame: index ``classes + ["Total", "%"]`` (named "true"),
    columns ``classes + ["Total", "%"]`` (named "predicted"). The ``Total`` column/row hold
    row/column sums; the ``%`` column holds each true class's share of all rows and the
    ``%`` row each predicted class's share, in percent (the ``Total``/``%`` corner is 100).
    Floats so that seed-averaged counts fit too; the cell where ``Total`` and ``%`` cross
    (``[%, %]``) is left empty (NaN).
    """
    matrix = np.asarray(counts, dtype=np.float64)
    names = [str(c) for c in classes]
    k = len(names)
    if matrix.shape != (k, k):
        raise ValueError(f"counts must be ({k}, {k}) for {k} classes, got {matrix.shape}")
    if (matrix < 0).any():
        raise ValueError("counts must be non-negative")
    grand = matrix.sum()
    if grand <= 0:
        raise ValueError("counts sum to zero; nothing to tabulate")
    row_totals = matrix.sum(axis=1)
    col_totals = matrix.sum(axis=0)
    table = np.full((k + 2, k + 2), np.nan)
    table[:k, :k] = matrix
    table[:k, k] = row_totals
    table[:k, k + 1] = 100.0 * row_totals / grand
    table[k, :k] = col_totals
    table[k, k] = grand
    table[k, k + 1] = 100.0
    table[k + 1, :k] = 100.0 * col_totals / grand
    table[k + 1, k] = 100.0
    labels = names + [TOTAL, PERCENT]
    return pd.DataFrame(
        table,
        index=pd.Index(labels, name="true"),
        columns=pd.Index(labels, name="predicted"),
    )


def contingency_table(y_true, y_pred, classes: Sequence) -> pd.DataFrame:
    """True vs predicted class counts with totals and percentages (VGM Table 3 layout).

    ``y_true``, ``y_pred``: (n,) labels, either members of ``classes`` or integer codes into
    ``classes`` when ``classes`` are names. See :func:`contingency_from_counts` for the layout.
    """
    return contingency_from_counts(confusion_counts(y_true, y_pred, classes), classes)


def contingency_wide(long: pd.DataFrame, classes: Sequence, value: str = "count") -> pd.DataFrame:
    """Inverse of :func:`contingency_long`: Table 3 layout from a tidy ``true, predicted`` frame.

    ``long`` holds exactly one row per (true, predicted) pair of ``classes`` in column
    ``value`` (e.g. a count averaged over seeds, or the paper's count).
    """
    names = [str(c) for c in classes]
    missing = {"true", "predicted", value} - set(long.columns)
    if missing:
        raise ValueError(f"long frame lacks columns {sorted(missing)}")
    grid = long.pivot(index="true", columns="predicted", values=value)
    try:
        grid = grid.loc[names, names]
    except KeyError as err:
        raise ValueError(f"long frame does not cover every class pair of {names}: {err}") from None
    if grid.isna().any().any():
        raise ValueError("long frame has missing (true, predicted) pairs")
    return contingency_from_counts(grid.to_numpy(), names)


def differences(X_real, X_syn) -> np.ndarray:
    """(n, d) float64 element-wise difference original − synthetic of paired rows."""
    real, syn = _paired_matrices(X_real, X_syn)
    return real - syn


def difference_stats(X_real, X_syn, feature_names: Sequence[str]) -> pd.DataFrame:
    """Mean and std of original − synthetic per feature (VGM Table 4).

    ``X_real``, ``X_syn``: paired (n, d) arrays; ``feature_names``: d names.
    Returns a frame with columns ``feature, mean, std`` (one row per feature, input order;
    std is the population std, ddof = 0). Values lie in [-1, 1] for data scaled to [0, 1].
    """
    diff = differences(X_real, X_syn)
    names = list(feature_names)
    if len(names) != diff.shape[1]:
        raise ValueError(f"expected {diff.shape[1]} feature names, got {len(names)}")
    return pd.DataFrame({"feature": names, "mean": diff.mean(axis=0), "std": diff.std(axis=0)})
