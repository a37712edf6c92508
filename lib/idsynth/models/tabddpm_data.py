"""TabDDPM's preprocessing: quantile-normalised numerics, compact category codes, frame split.

* :class:`QuantileNormaliser`: sklearn's ``QuantileTransformer(output_distribution="normal")``
  with TabDDPM's settings (``n_quantiles = max(min(n // 30, 1000), 10)``, no subsampling),
  inverted after sampling; integer columns are rounded back.
* :class:`CategoryCodes`: each categorical column's distinct values <-> codes ``0 .. K_j - 1``
  (so any integer codes or strings work, and K_j is the number of values seen in fit).
* :class:`FrameSchema`: which columns of a DataFrame are numerical and which categorical, to
  split a frame into arrays and rebuild one with the same columns and dtypes.

Each has ``state_dict()`` / ``from_state(state)`` made of tensors, lists and strings only, so
that a saved model loads with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import QuantileTransformer


class QuantileNormaliser:
    """Numerical features (n, d) in raw units <-> (n, d) float32 with standard-normal marginals."""

    def __init__(self, random_state: int = 0):
        self.random_state = int(random_state)
        self.transformer_: QuantileTransformer | None = None
        self.n_features_ = 0

    def fit(self, X: np.ndarray) -> "QuantileNormaliser":
        X = np.asarray(X, dtype=np.float64)
        self.n_features_ = X.shape[1]
        if self.n_features_ == 0:
            self.transformer_ = None
            return self
        n_quantiles = min(max(min(X.shape[0] // 30, 1000), 10), X.shape[0])
        self.transformer_ = QuantileTransformer(
            output_distribution="normal",
            n_quantiles=n_quantiles,
            subsample=1_000_000_000,
            random_state=self.random_state,
        ).fit(X)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(n, d) raw -> (n, d) float32 normalised."""
        X = np.asarray(X, dtype=np.float64)
        if self.transformer_ is None:
            return np.zeros((X.shape[0], 0), dtype=np.float32)
        return self.transformer_.transform(X).astype(np.float32)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The per-column support of the normalised data: two (d,) float32 arrays (low, high).

        sklearn maps a column's smallest / largest training value (and anything beyond) to the
        normal quantiles of 1e-7 and 1 − 1e-7, ±5.1993, so the support is [−5.1993, 5.1993]
        (both ends −5.1993 for a constant column); a normalised value outside it inverts to the
        column's training minimum or maximum.
        """
        if self.transformer_ is None:
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        ends = self.transformer_.transform(self.transformer_.quantiles_[[0, -1]]).astype(np.float32)
        return ends[0], ends[1]

    def inverse_transform(self, Z: np.ndarray, integer_columns: Sequence[int] = ()) -> np.ndarray:
        """(n, d) normalised -> (n, d) float64 in raw units, ``integer_columns`` rounded."""
        Z = np.asarray(Z, dtype=np.float64)
        if self.transformer_ is None or Z.shape[0] == 0:
            return np.zeros((Z.shape[0], self.n_features_), dtype=np.float64)
        X = self.transformer_.inverse_transform(Z)
        cols = list(integer_columns)
        if cols:
            X[:, cols] = np.rint(X[:, cols])
        return X

    def state_dict(self) -> dict[str, Any]:
        qt = self.transformer_
        return {
            "random_state": self.random_state,
            "n_features": self.n_features_,
            "n_quantiles": None if qt is None else int(qt.n_quantiles_),
            "quantiles": None if qt is None else torch.as_tensor(qt.quantiles_, dtype=torch.float64),
            "references": None if qt is None else torch.as_tensor(qt.references_, dtype=torch.float64),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "QuantileNormaliser":
        """Rebuild a fitted normaliser from its documented fitted attributes."""
        out = cls(state["random_state"])
        out.n_features_ = int(state["n_features"])
        if state["quantiles"] is not None:
            qt = QuantileTransformer(
                output_distribution="normal",
                n_quantiles=state["n_quantiles"],
                subsample=1_000_000_000,
                random_state=out.random_state,
            )
            qt.quantiles_ = state["quantiles"].numpy().copy()
            qt.references_ = state["references"].numpy().copy()
            qt.n_quantiles_ = state["n_quantiles"]
            qt.n_features_in_ = out.n_features_
            out.transformer_ = qt
        return out


class CategoryCodes:
    """Per categorical column, its sorted distinct values <-> int64 codes ``0 .. K_j - 1``."""

    def __init__(self):
        self.categories_: list[np.ndarray] = []

    def fit(self, X: np.ndarray) -> "CategoryCodes":
        """X: (n, C) integer codes or objects (strings, bools); no missing values."""
        X = np.asarray(X)
        try:
            self.categories_ = [np.unique(X[:, j]) for j in range(X.shape[1])]
        except TypeError as err:
            raise TypeError(f"categorical values must be mutually comparable (e.g. all strings): {err}") from None
        return self

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.categories_)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(n, C) values -> (n, C) int64 codes; a value not seen in fit raises ValueError."""
        X = np.asarray(X)
        codes = np.empty(X.shape, dtype=np.int64)
        for j, cats in enumerate(self.categories_):
            idx = np.searchsorted(cats, X[:, j]).clip(max=len(cats) - 1)
            unknown = cats[idx] != X[:, j]
            if np.any(unknown):
                raise ValueError(f"categorical column {j} has values not seen in fit: {np.unique(X[unknown, j])[:5]}")
            codes[:, j] = idx
        return codes

    def inverse_transform(self, codes: np.ndarray) -> list[np.ndarray]:
        """(n, C) codes -> one (n,) array of values per column."""
        return [cats[codes[:, j]] for j, cats in enumerate(self.categories_)]

    def state_dict(self) -> dict[str, Any]:
        return {
            "categories": [c.tolist() for c in self.categories_],
            "is_object": [c.dtype == object for c in self.categories_],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "CategoryCodes":
        out = cls()
        out.categories_ = [
            np.asarray(values, dtype=object if is_object else None)
            for values, is_object in zip(state["categories"], state["is_object"])
        ]
        return out


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)


def _is_categorical(series: pd.Series) -> bool:
    dtype = series.dtype
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
    )


class FrameSchema:
    """A DataFrame's numerical and categorical columns, and how to rebuild the frame.

    Numerical: numeric dtypes other than bool (integer dtypes are rounded back). Categorical:
    object, string, category and bool dtypes. Any other dtype raises TypeError.
    """

    def __init__(self, columns: list, numeric: list, categorical: list, dtypes: dict, levels: dict):
        self.columns = list(columns)
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self.dtypes = dict(dtypes)  # column -> dtype name (str)
        self.levels = dict(levels)  # category-dtype column -> (categories list, ordered)

    @classmethod
    def infer(cls, frame: pd.DataFrame) -> "FrameSchema":
        numeric, categorical, levels = [], [], {}
        for col in frame.columns:
            series = frame[col]
            if _is_numeric(series):
                numeric.append(col)
            elif _is_categorical(series):
                categorical.append(col)
                if isinstance(series.dtype, pd.CategoricalDtype):
                    levels[col] = (series.cat.categories.tolist(), bool(series.cat.ordered))
            else:
                raise TypeError(f"column {col!r} has dtype {series.dtype}; expected a numeric, bool, string, "
                                "object or category dtype")
        dtypes = {col: str(frame[col].dtype) for col in frame.columns}
        return cls(list(frame.columns), numeric, categorical, dtypes, levels)

    @property
    def integer_columns(self) -> list[int]:
        """Positions, within the numerical block, of the integer-typed columns."""
        is_int = pd.api.types.is_integer_dtype
        return [i for i, col in enumerate(self.numeric) if is_int(pd.api.types.pandas_dtype(self.dtypes[col]))]

    def split(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """frame -> (X_num (n, n_num) float64, X_cat (n, n_cat) object); missing values raise ValueError."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"the frame lacks the columns {missing}")
        cat_part = frame[self.categorical]
        if cat_part.isna().to_numpy().any():
            bad = cat_part.columns[cat_part.isna().any()].tolist()
            raise ValueError(f"categorical columns {bad} hold missing values; fill or drop them first")
        X_num = frame[self.numeric].to_numpy(dtype=np.float64) if self.numeric else np.zeros((len(frame), 0))
        X_cat = cat_part.to_numpy(dtype=object) if self.categorical else np.zeros((len(frame), 0), dtype=object)
        return X_num, X_cat

    def build(self, X_num: np.ndarray, cat_values: list[np.ndarray]) -> pd.DataFrame:
        """(n, n_num) float64 and one (n,) value array per categorical column -> typed DataFrame."""
        data: dict = {}
        for i, col in enumerate(self.numeric):
            data[col] = pd.Series(X_num[:, i]).astype(self.dtypes[col])
        for col, values in zip(self.categorical, cat_values):
            if col in self.levels:
                cats, ordered = self.levels[col]
                data[col] = pd.Categorical(values, categories=cats, ordered=ordered)
            else:
                data[col] = pd.Series(values, dtype=object).astype(self.dtypes[col])
        return pd.DataFrame(data, columns=self.columns)

    def state_dict(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "numeric": self.numeric,
            "categorical": self.categorical,
            "dtypes": self.dtypes,
            "levels": {col: [cats, ordered] for col, (cats, ordered) in self.levels.items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "FrameSchema":
        levels = {col: (cats, ordered) for col, (cats, ordered) in state["levels"].items()}
        return cls(state["columns"], state["numeric"], state["categorical"], state["dtypes"], levels)
