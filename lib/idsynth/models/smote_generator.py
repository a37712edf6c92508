"""SMOTE (Chawla et al. 2002) as a class-conditional generator of the project's protocol.

SMOTE is an over-sampler, not a generative model, but it does produce new rows: each one lies on
the segment between a row of class ``c`` and one of its ``k_neighbors`` nearest neighbours of the
same class, at a uniform random position. :class:`SMOTEGenerator` returns *only* those new rows,
so SMOTE can stand in Table I beside the generators (a synthetic set with the real class counts)::

    smote = SMOTEGenerator(k_neighbors=5).fit(X, y)       # X: (n, d) float, encoded rows
    X_new, y_new = smote.sample({0: 19200, 1: 4800}, random_state=0)

``sample`` calls imbalanced-learn's ``SMOTE`` once, on the stored real rows, with the
``sampling_strategy`` dict ``{c: n_c(real) + n_c(asked)}`` for the asked classes, and keeps the
rows it appends. One call suffices for any count: SMOTE draws its base rows with replacement,
so the number of new rows of a class is not bounded by the class's size (asking for as many new
rows as real ones, as Table I does, means about one interpolation per real row).
"""

from __future__ import annotations

import numbers
import os
from typing import Any, Mapping

import numpy as np
import torch
from imblearn.over_sampling import SMOTE
from sklearn.base import BaseEstimator

from .base import labels_from_counts
from .validation import check_seed

FILE_FORMAT = "idsynth.smote_generator/1"


class SMOTEGenerator(BaseEstimator):
    """SMOTE's interpolations as samples.

    Parameters
    ----------
    k_neighbors : int, default 5 (SMOTE's default)
        Same-class neighbours between which a new row may be interpolated. Every class that is
        sampled needs more than ``k_neighbors`` real rows.

    Fitted attributes: ``X_`` (n, d) float64, the real rows; ``y_`` (n,) their labels;
    ``classes_``; ``n_features_in_``.
    """

    #: Bumped when a change alters what a fit learns (beyond rounding): cached models of the class
    #: are refitted (:mod:`idsynth.code_versions`, which records the code its fits run).
    CODE_VERSION = 1

    def __init__(self, k_neighbors: int = 5):
        self.k_neighbors = k_neighbors

    def _check_params(self) -> None:
        k = self.k_neighbors
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"k_neighbors must be an int >= 1, got {k!r}")

    def fit(self, X, y) -> "SMOTEGenerator":
        """Store X (n, d) finite real numbers (an encoded table) and y (n,) class labels."""
        self._check_params()
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"X must be a non-empty (n, d) array, got shape {X.shape}")
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise TypeError(f"X must hold numbers (encode a typed frame first), got dtype {X.dtype}")
        X = X.astype(np.float64)
        if not np.isfinite(X).all():
            raise ValueError("X holds NaN or infinite values")
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
        self.classes_, counts = np.unique(y, return_counts=True)
        small = {c.item() if hasattr(c, "item") else c: int(n) for c, n in zip(self.classes_, counts)
                 if n <= self.k_neighbors}  # fmt: skip
        if small:
            raise ValueError(
                f"SMOTE with k_neighbors={self.k_neighbors} needs more than {self.k_neighbors} rows per class; "
                f"classes with too few rows: {small}"
            )
        self.X_, self.y_ = X, y
        self.n_features_in_ = X.shape[1]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "X_"):
            raise RuntimeError("this SMOTEGenerator is not fitted yet; call fit(X, y) first")

    def sample(self, n_per_class: Mapping[Any, int], random_state: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``{label: count}`` -> ``(X (N, d) float64, y (N,))``: new SMOTE rows only, grouped by
        class in the mapping's order. The same ``random_state`` gives the same rows."""
        self._check_fitted()
        y = labels_from_counts(n_per_class, self.classes_)
        wanted = {label: int(n) for label, n in n_per_class.items() if int(n) > 0}
        if not wanted:
            return np.zeros((0, self.n_features_in_)), y
        real = {label: int(np.sum(self.y_ == label)) for label in wanted}
        smote = SMOTE(
            sampling_strategy={label: real[label] + n for label, n in wanted.items()},
            k_neighbors=int(self.k_neighbors),
            random_state=check_seed(random_state),
        )
        X_res, y_res = smote.fit_resample(self.X_, self.y_)
        X_new, y_new = X_res[len(self.y_):], y_res[len(self.y_):]
        # imblearn appends the classes in sorted order; return them in the mapping's order.
        rows = np.concatenate([np.flatnonzero(y_new == label) for label in wanted])
        if len(rows) != len(y) or not np.array_equal(y_new[rows], y):
            raise RuntimeError(f"SMOTE returned class counts other than {wanted}")
        return X_new[rows], y

    def save(self, path: str | os.PathLike) -> None:
        """One file (``torch.save`` of plain data; loads with ``weights_only=True``)."""
        self._check_fitted()
        classes = self.classes_
        numeric_labels = np.issubdtype(classes.dtype, np.number)
        state = {
            "format": FILE_FORMAT,
            "params": self.get_params(),
            "X": torch.from_numpy(np.ascontiguousarray(self.X_)),
            "y_codes": torch.from_numpy(np.searchsorted(classes, self.y_).astype(np.int64)),
            "classes": torch.from_numpy(classes.copy()) if numeric_labels else [str(c) for c in classes],
        }
        with open(path, "wb") as handle:
            torch.save(state, handle)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SMOTEGenerator":
        """A fitted generator from :meth:`save`'s file; it samples exactly as the saved one."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != FILE_FORMAT:
            raise ValueError(f"{path} is not a SMOTEGenerator file (format {FILE_FORMAT!r})")
        classes = state["classes"]
        classes = classes.numpy() if isinstance(classes, torch.Tensor) else np.asarray(classes, dtype=object)
        model = cls(**state["params"])
        model.classes_ = classes
        model.X_ = state["X"].numpy()
        model.y_ = classes[state["y_codes"].numpy()]
        model.n_features_in_ = model.X_.shape[1]
        return model
