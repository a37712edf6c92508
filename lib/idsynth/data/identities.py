"""Exact linear identities among a table's numeric columns, and generated rows made to keep them.

Flow features are often derived from one another. In CIC-IDS-2017, on every row,
``Subflow Fwd Packets`` is ``Total Fwd Packets``, ``Avg Bwd Segment Size`` is ``Bwd Packet Length
Mean`` (to 1e-6, the export's rounding) and ``Flow Packets/s`` is ``Fwd Packets/s + Bwd
Packets/s``. A generator that models each column with its own error breaks such identities, and
a linear detector sees that at once: the difference of two columns that is 0 on every real row
is not 0 on a generated one (notebook 13 measures what it costs).

:func:`find_identities` finds every numeric column that is, on every row of a table, an affine
function of other numeric columns; :func:`keep_identities` recomputes those columns of generated
rows from their sources. Constant columns are left out of both (a generator that keeps a
column's range keeps a constant).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

#: A singular value of the standardised columns below this fraction of the largest marks an
#: exact relation (measured on CIC-IDS-2017's training rows: the exact ones 1e-9 to 3e-9 of the
#: largest, the next smallest 0.02).
NULL_TOLERANCE = 1e-7
#: A coefficient of a relation (standardised units) below this is taken as 0.
COEFFICIENT_TOLERANCE = 1e-6
#: Relations are looked for on at most this many rows (evenly spaced), then checked on all.
MAX_ROWS = 20_000


@dataclass(frozen=True)
class Identity:
    """``target = intercept + sum(weights[j] * sources[j])`` on every row it was found on, to
    ``max_error`` (the largest absolute difference there, the target's units)."""

    target: str
    sources: tuple[str, ...]
    weights: tuple[float, ...]
    intercept: float
    max_error: float

    def __str__(self) -> str:
        terms = " + ".join(f"{w:g}·{s}" for w, s in zip(self.weights, self.sources))
        offset = f" + {self.intercept:g}" if self.intercept else ""
        return f"{self.target} = {terms}{offset}  (max error {self.max_error:.3g})"

    def values(self, frame: pd.DataFrame) -> np.ndarray:
        """``(n,) float64``: the target as the formula computes it from ``frame``'s sources."""
        sources = frame[list(self.sources)].to_numpy(dtype=np.float64)
        return self.intercept + sources @ np.asarray(self.weights, dtype=np.float64)


def _null_space(values: np.ndarray) -> np.ndarray:
    """``(k, d)``: an orthonormal basis of the exact linear relations among the standardised
    columns of ``values`` (n, d), none of them constant."""
    standard = (values - values.mean(axis=0)) / values.std(axis=0)
    _, singular, vt = np.linalg.svd(standard, full_matrices=False)
    return vt[singular <= NULL_TOLERANCE * singular[0]]


def _relations(null: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Reduced row echelon form of the relation basis, eliminating from the last column: one
    ``(target column, coefficients)`` per relation, the target the latest column it involves,
    with coefficient 1 and 0 in every other relation; ``coefficients`` (d,) in standardised units."""
    rows = null.copy()
    relations = []
    used = np.zeros(len(rows), dtype=bool)
    for column in range(rows.shape[1] - 1, -1, -1):
        free = np.flatnonzero(~used)
        if not len(free):
            break
        best = free[np.argmax(np.abs(rows[free, column]))]
        if abs(rows[best, column]) <= COEFFICIENT_TOLERANCE:
            continue
        rows[best] /= rows[best, column]
        for other in range(len(rows)):
            if other != best:
                rows[other] -= rows[other, column] * rows[best]
        used[best] = True
        relations.append((column, best))
    return [(column, rows[best]) for column, best in relations]


def _snapped(weights: np.ndarray, intercept: float, scale: float) -> tuple[np.ndarray, float]:
    """Weights within 1e-8 of a whole number made whole, an intercept within 1e-8 of the target's
    scale made 0 (a copy or a sum then computes exactly)."""
    whole = np.round(weights)
    weights = np.where(np.abs(weights - whole) <= 1e-8, whole, weights)
    return weights, (0.0 if abs(intercept) <= 1e-8 * scale else intercept)


def _sum_target(position: int, coefficients: np.ndarray, involved: np.ndarray, others: list[np.ndarray]) -> int:
    """The relation's target: the one column of three or more whose coefficient's sign differs
    from all the others' (``c = a + b``: ``c``, so the formula adds non-negative parts and
    keeps a non-negative total non-negative, where ``b = c - a`` could go below 0), if no other
    relation involves it; else ``position`` (the latest column)."""
    if len(involved) < 3:
        return position
    signs = np.sign(coefficients[involved])
    for sign in (1.0, -1.0):
        alone = involved[signs == sign]
        if len(alone) == 1 and not any(alone[0] in other for other in others):
            return int(alone[0])
    return position


def find_identities(frame: pd.DataFrame, columns: Sequence[str], rtol: float = 1e-6) -> list[Identity]:
    """Every column of ``columns`` (numeric, in ``frame``) that is an affine function of the
    others on every row of ``frame``, as :class:`Identity` rules in column order of their targets.

    A relation's target is the latest of its columns in ``columns`` (a copy: the second of the
    two), except where one column is a sum of the others with positive weights (``c = a + b``,
    wherever ``c`` stands): then that column; its sources are the other columns it involves.
    Relations are looked for on at most :data:`MAX_ROWS` evenly spaced rows; each rule is then
    refitted by least squares on the raw values of all rows and kept only if it holds on every
    row to ``rtol`` times the target's largest absolute value. Constant columns take no part.
    Raises ``ValueError`` naming a non-numeric column, or the column and row of a non-finite
    value."""
    columns = list(columns)
    text = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])]
    if text:
        raise ValueError(f"find_identities needs numeric columns; {text} are not (dtypes "
                         f"{[str(frame[c].dtype) for c in text]})")
    values = frame[columns].to_numpy(dtype=np.float64) if columns else np.zeros((len(frame), 0))
    if not np.isfinite(values).all():
        row, column = np.argwhere(~np.isfinite(values))[0]
        raise ValueError(f"find_identities needs finite values: column {columns[column]!r} holds "
                         f"{values[row, column]} at row {row} (position; index {frame.index[row]!r})")
    probe = values[np.unique(np.linspace(0, len(values) - 1, min(len(values), MAX_ROWS)).astype(int))]
    varying = np.flatnonzero(probe.std(axis=0) > 0) if len(probe) > 1 else np.array([], dtype=int)
    if len(varying) < 2:
        return []
    relations = _relations(_null_space(probe[:, varying]))
    supports = [np.flatnonzero(np.abs(coefficients) > COEFFICIENT_TOLERANCE) for _, coefficients in relations]
    rules = []
    for (position, coefficients), involved in zip(relations, supports):
        position = _sum_target(position, coefficients, involved,
                               [other for other in supports if other is not involved])
        sources = [varying[j] for j in involved if j != position]
        target = varying[position]
        if not sources:
            continue
        design = np.column_stack([values[:, sources], np.ones(len(values))])
        solution, *_ = np.linalg.lstsq(design, values[:, target], rcond=None)
        scale = float(np.abs(values[:, target]).max())
        weights, intercept = _snapped(solution[:-1], float(solution[-1]), scale)
        error = float(np.abs(values[:, sources] @ weights + intercept - values[:, target]).max())
        if error > rtol * scale:
            continue
        rules.append(Identity(columns[target], tuple(columns[j] for j in sources), tuple(float(w) for w in weights),
                              float(intercept), error))
    return sorted(rules, key=lambda rule: columns.index(rule.target))


def keep_identities(frame: pd.DataFrame, identities: Sequence[Identity]) -> pd.DataFrame:
    """A copy of ``frame`` whose target columns are recomputed from their sources (in the
    targets' column order; a source is never a later rule's target, so one pass suffices). A
    target of integer dtype is rounded to whole numbers."""
    out = frame.copy()
    for rule in identities:
        computed = rule.values(out)
        if pd.api.types.is_integer_dtype(out[rule.target].dtype):
            computed = np.round(computed)
        out[rule.target] = computed.astype(out[rule.target].dtype, copy=False)
    return out
