"""Column types of a tabular data set, inferred once and shared by encoders and generators."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .errors import DataFormatError


@dataclass(frozen=True)
class Schema:
    """Which columns are numeric (and of those, integer) or categorical, and the label column.

    ``numeric`` and ``categorical`` keep the frame's column order; ``integer`` is the subset of
    ``numeric`` whose values are all whole numbers (rounded back after generation).
    """

    numeric: tuple[str, ...]
    integer: tuple[str, ...]
    categorical: tuple[str, ...]
    label: str | None = None

    def __post_init__(self):
        stray = set(self.integer) - set(self.numeric)
        if stray:
            raise ValueError(f"integer columns must be numeric; not numeric: {sorted(stray)}")
        both = set(self.numeric) & set(self.categorical)
        if both:
            raise ValueError(f"columns cannot be both numeric and categorical: {sorted(both)}")

    @property
    def features(self) -> tuple[str, ...]:
        return (*self.numeric, *self.categorical)

    @classmethod
    def infer(
        cls,
        frame: pd.DataFrame,
        label: str | None = None,
        categorical: Sequence[str] | None = None,
        exclude: Iterable[str] = (),
    ) -> "Schema":
        """Numeric dtypes -> numeric (integer when every value is whole); the rest categorical.

        ``categorical`` forces those columns to be categorical (e.g. an integer-coded port);
        ``exclude`` drops columns (identifiers); ``label`` is kept out of the features.
        """
        skip = set(exclude) | ({label} if label else set())
        forced = set(categorical or ())
        missing = (forced | ({label} if label else set())) - set(frame.columns)
        if missing:
            raise DataFormatError(f"columns not in the frame: {sorted(missing)}")
        numeric, integer, cats = [], [], []
        for column in frame.columns:
            if column in skip:
                continue
            values = frame[column]
            if column not in forced and pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                numeric.append(column)
                array = values.to_numpy(dtype=np.float64)
                finite = array[np.isfinite(array)]
                if pd.api.types.is_integer_dtype(values) or np.all(finite == np.round(finite)):
                    integer.append(column)
            else:
                cats.append(column)
        return cls(tuple(numeric), tuple(integer), tuple(cats), label)

    def validate(self, frame: pd.DataFrame, source: str = "frame") -> None:
        """Raise :class:`DataFormatError` naming the columns of the schema the frame lacks."""
        needed = list(self.features) + ([self.label] if self.label else [])
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise DataFormatError(f"{source} lacks columns {missing} of the schema")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "Schema":
        return cls(
            numeric=tuple(data["numeric"]),
            integer=tuple(data["integer"]),
            categorical=tuple(data["categorical"]),
            label=data.get("label"),
        )
