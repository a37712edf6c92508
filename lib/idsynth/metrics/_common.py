"""Input checks and the equal-size subsampling that the real-vs-synthetic metrics share."""

from __future__ import annotations

import numpy as np


def as_features(X, name: str) -> np.ndarray:
    """``X`` (array-like or DataFrame, (n, d) numeric) -> a finite float64 ``(n, d)`` array."""
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a numeric (n, d) array in the encoded feature space: {err}") from None
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, d), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def equal_size_subsample(
    real: np.ndarray, synthetic: np.ndarray, max_rows: int | None = None, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Both sets cut to ``m = min(len(real), len(synthetic), max_rows)`` rows, without replacement.

    A set already of size ``m`` is kept whole and in order; a larger one is subsampled with a
    generator seeded by ``random_state`` (independent streams for the two sets).
    """
    if real.shape[1] != synthetic.shape[1]:
        raise ValueError(f"real has {real.shape[1]} features but synthetic has {synthetic.shape[1]}")
    m = min(len(real), len(synthetic))
    if max_rows is not None:
        if int(max_rows) < 1:
            raise ValueError(f"max_rows must be None or >= 1, got {max_rows}")
        m = min(m, int(max_rows))
    rng_real, rng_syn = (np.random.default_rng(s) for s in np.random.SeedSequence(random_state).spawn(2))

    def cut(arr, rng):
        if len(arr) == m:
            return arr
        return arr[np.sort(rng.choice(len(arr), size=m, replace=False))]

    return cut(real, rng_real), cut(synthetic, rng_syn)
