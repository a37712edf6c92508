"""Quick sanity checks of a synthetic set's numeric values against the real training rows.

A diffusion sampler that diverges (its reverse process leaves the range the model was trained
on) still returns finite rows, because the inverse quantile transform clamps them to the real
minimum or maximum. Table I then shows near-zero precision and detectability, and this check
says why: the share of values sitting exactly on the real range's bounds.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd


def bound_shares(real: pd.DataFrame, synthetic: pd.DataFrame, numeric: Sequence[str]) -> dict[str, float]:
    """Shares over all (row, numeric column) cells, ``numeric`` columns only.

    Returns ``{"real_at_bounds", "synthetic_at_bounds", "synthetic_outside"}``: the share of the
    real and of the synthetic cells equal to the real column's minimum or maximum, and the
    share of synthetic cells outside ``[min, max]``. Columns constant in the real rows are
    skipped (every value is a bound there). A synthetic set like the real one has
    ``synthetic_at_bounds`` near ``real_at_bounds`` and ``synthetic_outside`` near 0.
    """
    numeric = list(numeric)
    missing = [c for c in numeric if c not in real.columns or c not in synthetic.columns]
    if missing:
        raise ValueError(f"numeric columns {missing} are not in both frames")
    r = real[numeric].to_numpy(dtype=np.float64)
    s = synthetic[numeric].to_numpy(dtype=np.float64)
    lo, hi = r.min(axis=0), r.max(axis=0)
    varying = hi > lo
    if not varying.any():
        raise ValueError("every numeric column is constant in the real rows; nothing to check")
    r, s, lo, hi = r[:, varying], s[:, varying], lo[varying], hi[varying]
    return {
        "real_at_bounds": float(np.mean((r == lo) | (r == hi))),
        "synthetic_at_bounds": float(np.mean((s == lo) | (s == hi))),
        "synthetic_outside": float(np.mean((s < lo) | (s > hi))),
    }
