"""One validation path for a user's table and labels, shared by every generator.

:class:`~idsynth.sampling.GeneratorOverSampler` (and :class:`~idsynth.models.encoded_frame.
EncodedFrameGenerator` for its column split) call :func:`check_table` before any model sees the
data, so VGM, MAGE-ID, TabSyn, TabDDPM and SMOTE get the same checks and the same messages,
each naming the column (and row) at fault and what was expected::

    table = check_table(X, y, columns=None, categorical=None)
    table.frame        # (n, d) DataFrame: X's columns (or the spec's names), fresh RangeIndex
    table.numeric      # numeric feature columns (finite numbers; bool counts as categorical)
    table.categorical  # categorical feature columns (strings, categories, bools, forced ones)
    table.codes        # (n,) int64 label codes; table.classes[code] is the user's label

Accepted ``X``: a DataFrame (any mix of numeric and string/category/bool columns), or a 2-D
array with an optional column spec (``columns``: names; ``categorical``: names or positions of
the categorical columns). A numeric array without a spec gets the names ``x0, x1, ...``.
Labels ``y``: strings, integers or bools, one per row, no missing values.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .errors import DataFormatError


@dataclass
class UserTable:
    """A validated table and its labels (see the module docstring for the fields).

    ``dtypes``: the dtype each column must have in what is handed back to the user (X's own
    dtypes; for an array, the array's dtype for every column). ``source``: ``"frame"`` or
    ``"array"``; ``array``: the validated 2-D array for array input, else None.
    """

    frame: pd.DataFrame
    numeric: list
    categorical: list
    codes: np.ndarray
    classes: np.ndarray
    dtypes: dict
    source: str
    array: np.ndarray | None = None

    @property
    def columns(self) -> list:
        return list(self.frame.columns)

    def labels(self, codes) -> np.ndarray:
        """Label codes (m,) -> the user's labels (m,), in ``y``'s dtype."""
        return self.classes[np.asarray(codes, dtype=np.int64)]

    def code_of(self, label) -> int:
        """The code of one of the user's labels (a ``ValueError`` for an unknown one)."""
        position = np.flatnonzero(self.classes == label)
        if position.size != 1:
            raise ValueError(f"label {label!r} is not one of the classes {self.classes.tolist()}")
        return int(position[0])


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _check_numeric(column, values: pd.Series) -> None:
    array = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(array)
    if bad.any():
        row = _first_bad(bad)
        raise DataFormatError(
            f"row {row} holds {array[row]}; expected finite numbers in every row "
            f"({int(bad.sum())} rows are NaN or infinite: drop or impute them first, e.g. "
            f"X.replace([np.inf, -np.inf], np.nan).dropna())",
            column=column,
        )


def _check_categorical(column, values: pd.Series) -> None:
    missing = values.isna().to_numpy()
    if missing.any():
        raise DataFormatError(
            f"row {_first_bad(missing)} is missing; expected a category (string) in every row",
            column=column,
        )
    if values.dtype == object:
        odd = ~values.map(lambda v: isinstance(v, (str, bytes, numbers.Number, np.bool_))).to_numpy(dtype=bool)
        if odd.any():
            row = _first_bad(odd)
            raise TypeError(f"column {column!r}, row {row}: holds a {type(values.iloc[row]).__name__}; a feature "
                            f"argument must be a string or a number")


def _frame_from_array(X, columns: Sequence | None) -> pd.DataFrame:
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(f"X must be 2-D (n_rows, n_columns), got shape {array.shape}")
    if columns is None:
        columns = [f"x{j}" for j in range(array.shape[1])]
    columns = list(columns)
    if len(columns) != array.shape[1]:
        raise ValueError(f"columns names {len(columns)} columns; X has {array.shape[1]}")
    return pd.DataFrame({c: array[:, j] for j, c in enumerate(columns)}, columns=columns)


def _resolve_categorical(categorical, columns: list) -> list:
    """``categorical`` as column names (it may give names or integer positions)."""
    if categorical is None:
        return []
    names = []
    for item in categorical:
        if isinstance(item, numbers.Integral) and not isinstance(item, bool) and item not in columns:
            if not 0 <= int(item) < len(columns):
                raise ValueError(f"categorical position {item} is outside the {len(columns)} columns")
            names.append(columns[int(item)])
        elif item in columns:
            names.append(item)
        else:
            raise ValueError(f"categorical names {item!r}, which is not a column; columns: {columns[:20]}")
    return names


def split_columns(frame: pd.DataFrame, categorical: Sequence = ()) -> tuple[list, list]:
    """``(numeric, categorical)`` column names of ``frame``, in its order: numeric dtypes other
    than bool are numeric unless named in ``categorical``; every other column is categorical.
    Raises :class:`DataFormatError` naming a column of another dtype (datetimes, ...)."""
    forced = set(categorical)
    numeric, cats = [], []
    for column in frame.columns:
        series = frame[column]
        if column not in forced and _is_numeric(series):
            numeric.append(column)
        elif (column in forced or pd.api.types.is_bool_dtype(series) or pd.api.types.is_object_dtype(series)
              or pd.api.types.is_string_dtype(series) or isinstance(series.dtype, pd.CategoricalDtype)):
            cats.append(column)
        else:
            raise DataFormatError(
                f"has dtype {series.dtype}; expected numbers or categories (strings): convert it "
                f"(e.g. a timestamp to seconds) or drop it",
                column=column,
            )
    return numeric, cats


def _infer_object_columns(frame: pd.DataFrame, categorical: list) -> pd.DataFrame:
    """Object columns of an array whose every value is a number become numeric (float64)."""
    out = frame.copy()
    for column in frame.columns:
        if column in categorical or frame[column].dtype != object:
            continue
        numbers_ = pd.to_numeric(frame[column], errors="coerce")
        if not numbers_.isna().any() or frame[column].isna().equals(numbers_.isna()):
            out[column] = numbers_.astype(np.float64)
    return out


def check_labels(y, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """``(codes (n,) int64, classes (K,))`` for labels ``y`` (n,) of strings, ints or bools."""
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n_rows:
        raise ValueError(f"y must hold one label per row of X: expected shape ({n_rows},), got {y.shape}")
    if n_rows == 0:
        raise ValueError("X and y have no rows")
    missing = pd.isna(y)
    if np.any(missing):
        raise ValueError(f"y is missing at row {_first_bad(np.asarray(missing))}; every row needs a class label")
    if y.dtype.kind == "f":
        if not np.all(y == np.round(y)):
            raise ValueError(f"y holds the non-integer number {y[_first_bad(y != np.round(y))]!r}; "
                             "expected class labels (strings or integers)")
    try:
        classes, codes = np.unique(y, return_inverse=True)
    except TypeError as error:
        kinds = sorted({type(v).__name__ for v in y.tolist()})
        raise ValueError(f"y mixes label types {kinds}; expected all strings or all integers") from error
    return codes.astype(np.int64).reshape(-1), classes


def check_table(X, y, columns: Sequence | None = None, categorical: Sequence | None = None) -> UserTable:
    """Validate ``X`` (n, d) and ``y`` (n,) and return a :class:`UserTable` (module docstring).

    ``columns``: names for the columns of an array (ignored for a DataFrame, which has its
    own); ``categorical``: names or positions of columns to treat as categories even though
    they hold numbers (e.g. a protocol number). Raises ``DataFormatError`` (a ``ValueError``)
    naming the column and the first bad row for non-finite numbers, missing categories and
    unsupported dtypes; ``ValueError`` for shapes, duplicate names and bad labels.
    """
    if hasattr(X, "sparse") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError("X is sparse; generators need a dense table (a DataFrame or a 2-D array)")
    if isinstance(X, pd.DataFrame):
        frame = X.reset_index(drop=True)
        source, array = "frame", None
        dtypes = X.dtypes.to_dict()
    else:
        array = np.asarray(X)
        frame = _frame_from_array(array, columns)
        source = "array"
        dtypes = {c: array.dtype for c in frame.columns}
    names = list(frame.columns)
    if len(set(names)) != len(names):
        duplicated = sorted({str(c) for c in names if names.count(c) > 1})
        raise ValueError(f"X has duplicate column names {duplicated[:10]}; every column needs its own name")
    if not names:
        raise ValueError(f"X has 0 feature(s) (shape={frame.shape}) while a minimum of 1 is required.")
    forced = _resolve_categorical(categorical, names)
    if source == "array":
        frame = _infer_object_columns(frame, forced)
    numeric, cats = split_columns(frame, forced)
    for column in numeric:
        _check_numeric(column, frame[column])
    for column in cats:
        _check_categorical(column, frame[column])
    if forced:  # numbers used as categories reach the generators as strings
        frame = frame.astype({c: str for c in forced if _is_numeric(frame[c])})
    codes, classes = check_labels(y, len(frame))
    return UserTable(frame=frame, numeric=numeric, categorical=cats, codes=codes, classes=classes,
                     dtypes=dtypes, source=source, array=array)
