"""TabularEncoder: typed frame <-> model matrices, fitted on training rows only.

One class serves both papers:

* VGM's one matrix: ``transform(frame) -> (n, n_num + sum K_j)`` float32, the numeric block
  first (scaled, e.g. min-max to [0, 1]), then one one-hot block per categorical column;
* the num/cat split of mixed-type generators (TabSyn, TabDDPM, MAGE-ID):
  ``transform_split(frame) -> (X_num (n, n_num) float32, X_cat (n, n_cat) int64 codes)``.

Both invert back to a typed frame: one-hot -> argmax category, numeric -> original units,
integer columns rounded.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.preprocessing import QuantileTransformer

from .errors import DataFormatError
from .schema import Schema

SCALINGS = ("minmax", "standard", "quantile", "none")
#: How :meth:`TabularEncoder.inverse_transform` turns a one-hot block into a category.
CATEGORY_DECODINGS = ("argmax", "sampled")


def check_category_decoding(categories: str) -> str:
    """``categories`` if it is one of :data:`CATEGORY_DECODINGS`, else a ``ValueError``."""
    if categories not in CATEGORY_DECODINGS:
        raise ValueError(f"categories must be one of {CATEGORY_DECODINGS}, got {categories!r}")
    return categories


def block_codes(block: np.ndarray, categories: str, rng: np.random.Generator) -> np.ndarray:
    """(n,) int64: the category of each row of a one-hot block (n, K) of model outputs, its
    ``"argmax"`` or ``"sampled"`` in proportion to the row (:func:`sample_categories`, from ``rng``)."""
    if check_category_decoding(categories) == "argmax":
        return np.asarray(block).argmax(axis=1).astype(np.int64)
    return sample_categories(block, rng)


def sample_categories(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n,) int64: for each row of ``weights`` (n, K), an index drawn with probability
    proportional to the row (negative entries count as 0; an all-zero row draws uniformly)."""
    weights = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    n, width = weights.shape
    totals = weights.sum(axis=1, keepdims=True)
    weights = np.where(totals > 0, weights, 1.0)
    cumulative = np.cumsum(weights, axis=1)
    draws = rng.random((n, 1)) * cumulative[:, -1:]
    return np.minimum((cumulative <= draws).sum(axis=1), width - 1).astype(np.int64)


class TabularEncoder:
    """Scale numeric columns and one-hot/ordinal-encode categorical ones.

    Parameters
    ----------
    numeric, categorical:
        Column names, in the order they take in the output.
    integer:
        Numeric columns rounded to whole numbers by ``inverse_transform``; ``None`` infers
        them at ``fit`` (every training value whole).
    numeric_scaling:
        ``minmax`` (to [0, 1], VGM), ``standard`` (zero mean, unit variance), ``quantile``
        (to a standard normal, TabDDPM) or ``none``.
    clip:
        With ``minmax``, clip transformed values to [0, 1] (test rows outside the train range).
    handle_unknown:
        ``error``: a category never seen in training raises :class:`DataFormatError`;
        ``ignore``: it encodes as an all-zero one-hot row (code -1 in ``transform_split``).
    """

    def __init__(
        self,
        numeric: Sequence[str],
        categorical: Sequence[str],
        integer: Sequence[str] | None = None,
        numeric_scaling: str = "minmax",
        clip: bool = True,
        handle_unknown: str = "error",
    ):
        if numeric_scaling not in SCALINGS:
            raise ValueError(f"numeric_scaling must be one of {SCALINGS}, got {numeric_scaling!r}")
        if handle_unknown not in ("error", "ignore"):
            raise ValueError(f"handle_unknown must be 'error' or 'ignore', got {handle_unknown!r}")
        self.numeric = tuple(numeric)
        self.categorical = tuple(categorical)
        self.integer = None if integer is None else tuple(integer)
        self.numeric_scaling = numeric_scaling
        self.clip = clip
        self.handle_unknown = handle_unknown

    @classmethod
    def from_schema(cls, schema: Schema, **kwargs) -> "TabularEncoder":
        return cls(numeric=schema.numeric, categorical=schema.categorical, integer=schema.integer, **kwargs)

    # ------------------------------------------------------------------ fitting
    def _numeric_block(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in (*self.numeric, *self.categorical) if c not in frame.columns]
        if missing:
            raise DataFormatError(f"frame lacks encoder columns {missing}")
        if not self.numeric:
            return np.zeros((len(frame), 0))
        values = frame[list(self.numeric)].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            row, col = map(int, np.argwhere(bad)[0])
            raise DataFormatError(f"non-finite value {values[row, col]} in row {row}", column=self.numeric[col])
        return values

    def fit(self, frame: pd.DataFrame) -> "TabularEncoder":
        values = self._numeric_block(frame)
        if len(frame) == 0:
            raise DataFormatError("cannot fit an encoder on an empty frame")
        self.min_ = values.min(axis=0)
        self.max_ = values.max(axis=0)
        self.mean_ = values.mean(axis=0)
        self.std_ = values.std(axis=0)
        if self.numeric_scaling == "quantile" and self.numeric:
            self.quantile_ = QuantileTransformer(
                n_quantiles=min(1000, len(frame)), output_distribution="normal", subsample=None, random_state=0
            ).fit(values)
        if self.integer is None:
            self.integer_ = tuple(c for j, c in enumerate(self.numeric) if np.all(values[:, j] == np.round(values[:, j])))
        else:
            self.integer_ = self.integer
        self.categories_ = {c: np.asarray(sorted(frame[c].astype(str).unique()), dtype=object) for c in self.categorical}
        self.n_numeric_ = len(self.numeric)
        self.cat_slices_: dict[str, slice] = {}
        start = self.n_numeric_
        for column in self.categorical:
            width = len(self.categories_[column])
            self.cat_slices_[column] = slice(start, start + width)
            start += width
        self.n_features_out_ = start
        self.feature_names_ = [*self.numeric] + [
            f"{c}={v}" for c in self.categorical for v in self.categories_[c]
        ]
        self.cardinalities_ = [len(self.categories_[c]) for c in self.categorical]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "categories_"):
            raise RuntimeError("TabularEncoder is not fitted; call fit(train_frame) first")

    # ------------------------------------------------------------------ numeric part
    def _scale(self, values: np.ndarray) -> np.ndarray:
        if self.numeric_scaling == "minmax":
            span = np.where(self.max_ > self.min_, self.max_ - self.min_, 1.0)
            scaled = (values - self.min_) / span
            return np.clip(scaled, 0.0, 1.0) if self.clip else scaled
        if self.numeric_scaling == "standard":
            return (values - self.mean_) / np.where(self.std_ > 0, self.std_, 1.0)
        if self.numeric_scaling == "quantile" and self.numeric:
            return self.quantile_.transform(values)
        return values

    def _unscale(self, scaled: np.ndarray) -> np.ndarray:
        if self.numeric_scaling == "minmax":
            span = np.where(self.max_ > self.min_, self.max_ - self.min_, 1.0)
            return scaled * span + self.min_
        if self.numeric_scaling == "standard":
            return scaled * np.where(self.std_ > 0, self.std_, 1.0) + self.mean_
        if self.numeric_scaling == "quantile" and self.numeric:
            return self.quantile_.inverse_transform(scaled)
        return scaled

    # ------------------------------------------------------------------ categorical part
    def _codes(self, frame: pd.DataFrame) -> np.ndarray:
        codes = np.empty((len(frame), len(self.categorical)), dtype=np.int64)
        for j, column in enumerate(self.categorical):
            cats = self.categories_[column]
            values = frame[column].astype(str).to_numpy(dtype=object)
            position = np.searchsorted(cats, values)
            position = np.clip(position, 0, len(cats) - 1)
            known = cats[position] == values
            if not known.all() and self.handle_unknown == "error":
                unseen = sorted(set(values[~known]))
                row = int(np.flatnonzero(~known)[0])
                raise DataFormatError(
                    f"categories never seen in training: {unseen[:10]} (first at row {row}); "
                    f"pass handle_unknown='ignore' to encode them as all-zero",
                    column=column,
                )
            codes[:, j] = np.where(known, position, -1)
        return codes

    # ------------------------------------------------------------------ public API
    def transform_split(self, frame: pd.DataFrame, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
        """``(X_num (n, n_num) scaled, X_cat (n, n_cat) int64 codes)``; ``dtype`` of X_num.

        float32 (the default, what models take) keeps ~7 significant digits: a byte count of
        1.3e9 comes back within ~100 bytes. Pass ``np.float64`` for an exact round trip.
        """
        self._check_fitted()
        values = self._numeric_block(frame)
        return self._scale(values).astype(dtype), self._codes(frame)

    def transform(self, frame: pd.DataFrame, dtype=np.float32) -> np.ndarray:
        """``(n, n_features_out_)`` of ``dtype``: scaled numerics, then one-hot blocks."""
        numeric, codes = self.transform_split(frame, dtype=dtype)
        out = np.zeros((len(frame), self.n_features_out_), dtype=dtype)
        out[:, : self.n_numeric_] = numeric
        rows = np.arange(len(frame))
        for j, column in enumerate(self.categorical):
            valid = codes[:, j] >= 0
            out[rows[valid], self.cat_slices_[column].start + codes[valid, j]] = 1.0
        return out

    def inverse_transform_split(self, X_num: np.ndarray, X_cat: np.ndarray) -> pd.DataFrame:
        """Numeric block in model units and category codes -> typed frame (original units)."""
        self._check_fitted()
        X_num = np.asarray(X_num, dtype=np.float64).reshape(-1, self.n_numeric_)
        X_cat = np.asarray(X_cat).reshape(len(X_num), len(self.categorical))
        numeric = self._unscale(X_num)
        frame = pd.DataFrame(index=pd.RangeIndex(len(X_num)))
        for j, column in enumerate(self.numeric):
            if column in self.integer_:
                frame[column] = np.round(numeric[:, j]).astype(np.int64)
            else:
                frame[column] = numeric[:, j]
        for j, column in enumerate(self.categorical):
            cats = self.categories_[column]
            codes = X_cat[:, j].astype(np.int64)
            if ((codes < 0) | (codes >= len(cats))).any():
                raise ValueError(f"category codes for {column!r} must lie in [0, {len(cats)})")
            frame[column] = cats[codes].astype(str)
        return frame

    def inverse_transform(self, X: np.ndarray, categories: str = "argmax", random_state=None) -> pd.DataFrame:
        """``(n, n_features_out_)`` matrix -> typed frame.

        ``categories`` decides each one-hot block's category: ``"argmax"``, its largest entry;
        ``"sampled"``, a category drawn with probability proportional to the block's entries
        (negative entries count as 0; an all-zero block draws uniformly), seeded by
        ``random_state`` (int, ``numpy.random.Generator`` or None).
        """
        self._check_fitted()
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_out_:
            raise ValueError(f"expected an (n, {self.n_features_out_}) matrix, got shape {X.shape}")
        check_category_decoding(categories)
        rng = np.random.default_rng(random_state)
        codes = [block_codes(X[:, s], categories, rng) for s in self.cat_slices_.values()]
        codes = np.stack(codes, axis=1) if codes else np.zeros((len(X), 0), np.int64)
        return self.inverse_transform_split(X[:, : self.n_numeric_], codes)

    def schema(self) -> Schema:
        self._check_fitted()
        return Schema(numeric=self.numeric, integer=self.integer_, categorical=self.categorical)
