"""The generator protocol that every model in ``idsynth.models`` follows.

Because all generators share it, every metric runs on every generator (VGM in Table I's
metrics, MAGE-ID as an over-sampler in Table 6).

* ``fit(X, y)``: ``X`` is an ``(n, d)`` array (or a DataFrame for mixed-type generators),
  ``y`` an ``(n,)`` array of class labels. Returns ``self``.
* ``sample(n_per_class, random_state=None) -> (X, y)``: ``n_per_class`` maps each class label
  to a row count; returns rows in the same space and type as ``fit``'s ``X``, and their labels,
  grouped by class in the mapping's order.
* ``save(path)`` / ``load(path, device=None)`` (a classmethod): a single file; a loaded model
  samples exactly as the saved one for the same ``random_state``.

:class:`FrameGenerator` gives a new generator of typed frames all of this (checks, exact class
counts, fit's columns and dtypes, the file) from four small hooks; array generators (VGM,
SMOTE) reach typed frames through :class:`~idsynth.models.encoded_frame.EncodedFrameGenerator`.
Which generators exist, and how each is built from a profile section, is
:mod:`idsynth.models.registry`.
"""

from __future__ import annotations

import contextlib
import os
import random
from typing import Any, ClassVar, Iterator, Mapping, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from .plain_state import dtype_from_plain, dtype_to_plain, from_plain, to_plain
from .validation import check_seed

#: Generator parameters that change speed or logging, not the trained model: left out of every
#: cache key (VGM, MAGE-ID/TabSyn, TabDDPM and the wrapped generators of Table I).
RUNTIME_PARAMS: tuple[str, ...] = ("device", "verbose", "cuda_graph", "compile_step")


@runtime_checkable
class Generator(Protocol):
    def fit(self, X, y) -> "Generator": ...

    def sample(self, n_per_class: Mapping[Any, int], random_state: int | None = None) -> tuple[Any, np.ndarray]: ...

    def save(self, path) -> None: ...


def labels_from_counts(n_per_class: Mapping[Any, int], classes: np.ndarray) -> np.ndarray:
    """``{label: count}`` -> the ``(sum(counts),)`` label array, classes in mapping order.

    Raises ``ValueError`` for a label the generator was not fitted on or a negative count.
    """
    known = set(np.asarray(classes).tolist())
    parts = []
    for label, count in n_per_class.items():
        if label not in known:
            raise ValueError(f"class {label!r} was not seen in fit; known classes: {sorted(known, key=str)}")
        if int(count) < 0:
            raise ValueError(f"negative sample count {count} for class {label!r}")
        parts.append(np.full(int(count), label, dtype=np.asarray(classes).dtype))
    if not parts:
        return np.asarray([], dtype=np.asarray(classes).dtype)
    return np.concatenate(parts)


def class_counts(y: np.ndarray) -> dict[Any, int]:
    """``{label: count}`` of ``y`` in sorted label order (what ``sample`` needs to mirror ``y``)."""
    labels, counts = np.unique(np.asarray(y), return_counts=True)
    return {label.item() if hasattr(label, "item") else label: int(c) for label, c in zip(labels, counts)}


# --- the typed-frame protocol, enforced -------------------------------------------------------


def check_frame_and_labels(X, y) -> tuple[pd.DataFrame, np.ndarray]:
    """``X`` an ``(n, d)`` DataFrame of typed feature columns (d >= 1, distinct names, n >= 1) and
    ``y`` ``(n,)`` labels without missing values; returns them (y as an array).

    Raises ``TypeError`` for a non-frame ``X``, ``ValueError`` for an empty frame, duplicated
    column names, a ``y`` of another length or missing labels.
    """
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"X must be a DataFrame of typed feature columns, got {type(X).__name__}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must have rows and feature columns, got shape {X.shape}")
    if X.columns.duplicated().any():
        raise ValueError(f"X has duplicated column names {X.columns[X.columns.duplicated()].tolist()}")
    y = np.asarray(y)
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},), one label per row of X, got {y.shape}")
    if pd.isna(y).any():
        raise ValueError("y holds missing labels")
    return X, y


@contextlib.contextmanager
def seeded_global_rngs(seed: int) -> Iterator[None]:
    """Run a block with Python's, NumPy's and PyTorch's (CPU) global generators seeded with
    ``seed``, and restore all three afterwards: for libraries that draw from the global state
    (SDV's synthesizers) without changing it for the caller."""
    import torch

    numpy_state, python_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=[]):
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)
            random.setstate(python_state)


class FrameGenerator(BaseEstimator):
    """Base class of a generator of typed frames: what the protocol asks, done once.

    A subclass sets :attr:`FILE_FORMAT` and implements four hooks; this class gives it the
    protocol's public methods with their checks:

    * ``fit(X, y)`` checks X (an ``(n, d)`` typed DataFrame) and y (``(n,)`` labels), records
      ``columns_``, ``dtypes_`` and ``classes_`` (sorted unique labels), then calls
      ``_fit(X, y)``.
    * ``sample(n_per_class, random_state=None) -> (frame (N, d), y (N,))``: exactly
      ``n_per_class[label]`` rows of each class, grouped in the mapping's order, in fit's columns
      and dtypes. It calls ``_sample({label: count > 0}, seed) -> frame`` (rows grouped by class
      in that order) and checks the row count.
    * ``save(path)`` / ``load(path, device=None)``: one ``torch.save`` file, ``{"format",
      "params", "columns", "dtypes", "classes", "state"}``, where ``state`` is ``_get_state()``
      and ``load`` gives it back to ``_set_state(state, device)``.

    Parameters stay scikit-learn style (set in ``__init__``, stored unchanged), so ``clone``
    gives an unfitted copy.
    """

    #: The ``format`` field of the saved file; each subclass names its own.
    FILE_FORMAT: ClassVar[str] = ""

    # -- hooks -------------------------------------------------------------------------------
    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:
        raise NotImplementedError

    def _sample(self, counts: Mapping[Any, int], seed: int) -> pd.DataFrame:
        raise NotImplementedError

    def _get_state(self) -> Any:
        raise NotImplementedError

    def _set_state(self, state: Any, device: str | None) -> None:
        raise NotImplementedError

    # -- the protocol ------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y) -> "FrameGenerator":
        """X: (n, d) typed feature columns (numbers and categories); y: (n,) class labels."""
        X, y = check_frame_and_labels(X, y)
        self.columns_ = list(X.columns)
        self.dtypes_ = {c: X[c].dtype for c in self.columns_}
        self.classes_ = np.unique(y)
        self._fit(X, y)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")

    def sample(self, n_per_class: Mapping[Any, int], random_state: int | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        """``{label: count}`` -> ``(frame (N, d) with fit's columns and dtypes, y (N,))``, grouped
        by class in the mapping's order; the same ``random_state`` gives the same rows."""
        self._check_fitted()
        y = labels_from_counts(n_per_class, self.classes_)
        counts = {label: int(n) for label, n in n_per_class.items() if int(n) > 0}
        if not counts:
            return pd.DataFrame({c: pd.Series([], dtype=self.dtypes_[c]) for c in self.columns_}), y
        frame = self._sample(counts, check_seed(random_state))
        if len(frame) != len(y):
            raise RuntimeError(f"{type(self).__name__} gave {len(frame)} rows where {len(y)} were asked ({counts})")
        return frame[self.columns_].reset_index(drop=True).astype(self.dtypes_), y

    def save(self, path: str | os.PathLike) -> None:
        """One file (``torch.save`` of plain data and the subclass's state)."""
        import torch

        self._check_fitted()
        state = {
            "format": self.FILE_FORMAT,
            "params": to_plain(self.get_params(deep=False), ()),
            "columns": list(self.columns_),
            "dtypes": [dtype_to_plain(self.dtypes_[c]) for c in self.columns_],
            "classes": to_plain(np.asarray(self.classes_), ()),
            "state": self._get_state(),
        }
        with open(path, "wb") as handle:
            torch.save(state, handle)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = None) -> "FrameGenerator":
        """A fitted generator from :meth:`save`'s file; it samples exactly as the saved one."""
        import torch

        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != cls.FILE_FORMAT:
            raise ValueError(f"{path} is not a {cls.__name__} file (format {cls.FILE_FORMAT!r})")
        model = cls(**from_plain(state["params"], ()))
        model.columns_ = list(state["columns"])
        model.dtypes_ = {c: dtype_from_plain(d) for c, d in zip(model.columns_, state["dtypes"])}
        model.classes_ = from_plain(state["classes"], ())
        model._set_state(state["state"], device)
        return model
