"""Input checks shared by generators: clear errors naming what was expected."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd


def check_unit_features(X, n_features: int, name: str = "X") -> np.ndarray:
    """``X`` as a C-contiguous float32 array of shape (n, n_features), n >= 1, values in [0, 1].

    Raises ``TypeError`` for non-numeric input, ``ValueError`` for a wrong shape, NaN/inf or
    values outside [0, 1].
    """
    array = np.asarray(X)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if array.ndim != 2 or array.shape[1] != n_features:
        raise ValueError(f"{name} must have shape (n, {n_features}), got {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} has no rows")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"{name} must lie in [0, 1] (min-max scaled and one-hot), got values in [{low}, {high}]")
    return array


def check_label_codes(y, n_classes: int, n_rows: int | None = None, name: str = "y") -> np.ndarray:
    """``y`` as an int64 array of shape (n,) with codes in ``0 .. n_classes - 1``.

    ``n_rows`` (optional) is the length ``y`` must have (the rows of the matching ``X``).
    """
    array = np.asarray(y)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (n,), got shape {array.shape}")
    if n_rows is not None and array.shape[0] != n_rows:
        raise ValueError(f"{name} has {array.shape[0]} labels but X has {n_rows} rows")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class codes 0..{n_classes - 1}, got dtype {array.dtype}")
    array = array.astype(np.int64, copy=False)
    bad = array[(array < 0) | (array >= n_classes)]
    if bad.size:
        raise ValueError(f"{name} must hold class codes 0..{n_classes - 1}, found {sorted(set(bad.tolist()))[:10]}")
    return array


def check_seed(random_state, name: str = "random_state") -> int:
    """An ``int >= 0`` seed; ``None`` draws one from NumPy's global generator (see ``set_seed``)."""
    if random_state is None:
        return int(np.random.randint(0, 2**31 - 1))
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral) or random_state < 0:
        raise ValueError(f"{name} must be None or an int >= 0, got {random_state!r}")
    return int(random_state)


def check_frame_rows(frame, y, columns, what: str = "X") -> np.ndarray:
    """``y`` as an (n,) array after checking that ``frame`` is a DataFrame holding every name of
    ``columns`` and that ``y`` has one value per row; errors name ``what`` and the missing
    columns (the first ten)."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a DataFrame of typed feature columns, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} must hold the feature columns; missing {missing[:10]}{' ...' if len(missing) > 10 else ''}")
    y = np.asarray(y)
    if y.shape != (len(frame),):
        raise ValueError(f"{what} labels must have shape ({len(frame)},), got {y.shape}")
    return y
