"""A generator of encoded matrices (VGM, SMOTE) as a generator of typed frames.

VGM learns the VGM paper's encoding (min-max scaled numerics, one-hot categoricals, all in
[0, 1]); SMOTE interpolates rows of such a matrix. To score them with the generators of typed
rows (MAGE-ID, TabSyn, TabDDPM) through one protocol, :class:`EncodedFrameGenerator` puts the
encoding inside the generator::

    gen = EncodedFrameGenerator(VGM(option="C"), numeric=schema.numeric,
                                categorical=schema.categorical, integer=schema.integer)
    gen.fit(frame, y)                        # frame: typed feature columns; y: (n,) labels
    synth_frame, synth_y = gen.sample({0: 800, 1: 200}, random_state=0)

``fit`` fits a :class:`~idsynth.data.encoding.TabularEncoder` on the frame (numerics min-max to
[0, 1] with the frame's range, categoricals one-hot), encodes it and fits a clone of the inner
generator on the matrix and the label codes 0..K-1; ``sample`` samples the inner generator and
decodes with ``inverse_transform`` (numerics back to their units, integer columns rounded,
each one-hot block to its argmax category), in fit's column order and dtypes.

Any array generator of the protocol fits inside (``fit(X, y)``, ``sample(n_per_class,
random_state)``, ``save(path)``, a classmethod ``load(path[, device])``); to be saved inside an
``EncodedFrameGenerator`` file its class is named in :data:`INNER_CLASSES`, which
:func:`register_array_generator` extends (VGM and SMOTE are there from the start).
"""

from __future__ import annotations

import inspect
import io
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, clone

from ..data.encoding import TabularEncoder
from ..data.user_table import split_columns
from .plain_state import dtype_from_plain, dtype_to_plain, from_plain, to_plain
from .smote_generator import SMOTEGenerator
from .validation import check_frame_rows
from .vgm import VGM

FILE_FORMAT = "idsynth.encoded_frame/1"
#: Inner generators a saved file may name, by the name it stores (``load`` rebuilds no other
#: class); :func:`register_array_generator` adds one.
INNER_CLASSES: dict[str, type] = {"VGM": VGM, "SMOTEGenerator": SMOTEGenerator}
#: What an inner generator must offer (the array protocol of :mod:`idsynth.models.base`).
INNER_METHODS: tuple[str, ...] = ("fit", "sample", "save", "load", "get_params", "set_params")


def register_array_generator(cls: type, name: str | None = None) -> type:
    """Let ``EncodedFrameGenerator`` files hold an inner generator of class ``cls`` under
    ``name`` (default: the class name); returns ``cls`` (usable as a class decorator).

    Raises ``TypeError`` for a class without the array protocol's methods
    (:data:`INNER_METHODS`), ``ValueError`` for a name already taken by another class.
    """
    missing = [m for m in INNER_METHODS if not callable(getattr(cls, m, None))]
    if missing:
        raise TypeError(f"{cls.__name__} lacks {missing} of the array generator protocol {list(INNER_METHODS)}")
    name = name or cls.__name__
    if INNER_CLASSES.get(name, cls) is not cls:
        raise ValueError(f"the inner-generator name {name!r} is taken by {INNER_CLASSES[name].__name__}")
    INNER_CLASSES[name] = cls
    return cls


def _load_inner(cls: type, source, device: str | None):
    """``cls.load(source)``, passing ``device`` when given and ``load`` takes one."""
    takes_device = "device" in inspect.signature(cls.load).parameters
    return cls.load(source, device=device) if device is not None and takes_device else cls.load(source)
#: Inner parameters set from the data at ``fit`` when the inner generator has them (VGM's).
WIDTH_PARAMS: tuple[str, ...] = ("n_features", "n_classes", "continuous_features")


class EncodedFrameGenerator(BaseEstimator):
    """Fit and sample an array generator in the min-max / one-hot encoding of a typed frame.

    Parameters
    ----------
    generator : unfitted estimator with ``fit(X, y)``, ``sample(n_per_class, random_state)``,
        ``save(path)`` and a classmethod ``load`` (:data:`INNER_METHODS`; saving needs its class
        in :data:`INNER_CLASSES`, see :func:`register_array_generator`). Cloned at fit;
        its width parameters that exist (:data:`WIDTH_PARAMS`: ``n_features`` = encoded width,
        ``n_classes`` = number of labels, ``continuous_features`` = number of numeric columns)
        are set from the data.
    numeric, categorical : column names of the frame, in the encoding's order (numeric block
        first, then one one-hot block per categorical column). Both None (the default): every
        column of fit's frame, split by dtype (:func:`idsynth.data.user_table.split_columns`:
        numbers other than bools are numeric; an all-numeric frame has no one-hot block). One
        of them None while the other is given: no columns of that kind.
    integer : numeric columns rounded when decoding; None infers them (whole numbers in fit's frame).

    Fitted attributes: ``encoder_`` (TabularEncoder), ``generator_`` (the fitted clone),
    ``classes_`` (labels; code ``i`` is ``classes_[i]``), ``columns_``, ``dtypes_`` (the columns used, in fit's
    frame's order, and their dtypes),
    ``numeric_``, ``categorical_`` (the columns used).
    """

    #: Bumped when a change alters what a fit learns (beyond rounding): cached models of the class
    #: are refitted (:mod:`idsynth.code_versions`, which records the code its fits run).
    CODE_VERSION = 1

    def __init__(self, generator, numeric: Sequence[str] | None = None, categorical: Sequence[str] | None = None,
                 integer: Sequence[str] | None = None):
        self.generator = generator
        self.numeric = numeric
        self.categorical = categorical
        self.integer = integer

    @property
    def device(self):
        """The inner generator's ``device`` parameter (None when it has none); lets a cache
        reload the model on the device it was asked for."""
        return getattr(self.generator, "device", None)

    @staticmethod
    def _check_inner(generator) -> None:
        missing = [m for m in INNER_METHODS if not callable(getattr(generator, m, None))]
        if missing:
            raise TypeError(f"generator must be one of the array generators of the protocol (methods "
                            f"{list(INNER_METHODS)}); a {type(generator).__name__} lacks {missing}")

    @staticmethod
    def _inner_name(generator) -> str:
        for name, cls in INNER_CLASSES.items():
            if type(generator) is cls:
                return name
        raise TypeError(f"cannot save an inner {type(generator).__name__}: saved inner generators are "
                        f"{sorted(INNER_CLASSES)}; add its class with register_array_generator")

    def fit(self, X: pd.DataFrame, y) -> "EncodedFrameGenerator":
        """X: (n, d) typed frame holding ``numeric`` and ``categorical``; y: (n,) class labels."""
        self._check_inner(self.generator)
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"X must be a DataFrame of typed feature columns, got {type(X).__name__}")
        numeric, categorical = self._split(X)
        columns = [*numeric, *categorical]
        if not columns or len(set(columns)) != len(columns):
            raise ValueError(f"numeric and categorical must name distinct columns, got {columns}")
        y = check_frame_rows(X, y, columns, "X")
        self.encoder_ = TabularEncoder(numeric, categorical, integer=self.integer,
                                       numeric_scaling="minmax", clip=True).fit(X)
        matrix = self.encoder_.transform(X)
        self.classes_, codes = np.unique(y, return_inverse=True)
        inner = clone(self.generator)
        widths = {"n_features": matrix.shape[1], "n_classes": len(self.classes_),
                  "continuous_features": self.encoder_.n_numeric_}
        names = inner.get_params(deep=False)
        inner.set_params(**{k: v for k, v in widths.items() if k in names})
        self.generator_ = inner.fit(matrix, codes.astype(np.int64)) or inner
        self.columns_ = [c for c in X.columns if c in set(columns)]  # samples keep fit's column order
        self.numeric_, self.categorical_ = list(numeric), list(categorical)
        self.dtypes_ = {c: X[c].dtype for c in columns}
        return self

    def _split(self, X: pd.DataFrame) -> tuple[list, list]:
        """(numeric, categorical) columns: as given, or inferred from X when both are None."""
        if self.numeric is None and self.categorical is None:
            return split_columns(X)
        return list(self.numeric or ()), list(self.categorical or ())

    def _check_fitted(self) -> None:
        if not hasattr(self, "generator_"):
            raise RuntimeError("this EncodedFrameGenerator is not fitted yet; call fit(frame, y) first")

    def sample(
        self, n_per_class: Mapping[Any, int], random_state: int | None = None
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """``{label: count}`` -> ``(frame (N, d) with fit's columns and dtypes, y (N,))``,
        grouped by class in the mapping's order."""
        self._check_fitted()
        known = {label.item() if hasattr(label, "item") else label: i for i, label in enumerate(self.classes_)}
        unknown = [label for label in n_per_class if label not in known]
        if unknown:
            raise ValueError(f"classes {unknown} were not seen in fit; known classes: {list(known)}")
        codes = {known[label]: int(n) for label, n in n_per_class.items()}
        matrix, y_codes = self.generator_.sample(codes, random_state=random_state)
        return self.decode(matrix, y_codes)

    def decode(self, matrix, y_codes, categories: str = "argmax", random_state=None) -> tuple[pd.DataFrame, np.ndarray]:
        """The inner generator's ``matrix`` (N, encoded width) and label codes (N,) ->
        ``(frame (N, d) with fit's columns and dtypes, labels (N,))``. ``categories``:
        ``"argmax"`` (what :meth:`sample` does) or ``"sampled"``, see
        :meth:`~idsynth.data.encoding.TabularEncoder.inverse_transform`."""
        self._check_fitted()
        frame = self.encoder_.inverse_transform(np.asarray(matrix), categories=categories,
                                                random_state=random_state)[self.columns_]
        return frame.astype(self.dtypes_), self.classes_[np.asarray(y_codes, dtype=np.int64)]

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """One file: ``torch.save`` of plain data (loads with ``weights_only=True``): the
        parameters, the fitted encoder, the labels, fit's dtypes and the inner generator's own
        one-file checkpoint as bytes."""
        self._check_fitted()
        with tempfile.TemporaryDirectory() as folder:
            inner_path = Path(folder) / "inner.pt"
            self.generator_.save(inner_path)
            inner_bytes = inner_path.read_bytes()
        state = {
            "format": FILE_FORMAT,
            "inner": self._inner_name(self.generator_),
            "params": to_plain({"numeric": None if self.numeric is None else list(self.numeric),
                                "categorical": None if self.categorical is None else list(self.categorical),
                                "integer": None if self.integer is None else list(self.integer)}, ()),
            "encoder": to_plain(self.encoder_, (TabularEncoder,)),
            "classes": to_plain(np.asarray(self.classes_), ()),
            "columns": list(self.columns_),
            "dtypes": [dtype_to_plain(self.dtypes_[c]) for c in self.columns_],
            "generator": torch.frombuffer(bytearray(inner_bytes), dtype=torch.uint8),
        }
        with open(path, "wb") as handle:
            torch.save(state, handle)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = None) -> "EncodedFrameGenerator":
        """A fitted generator from :meth:`save`'s file (``device``: passed to the inner generator's
        ``load`` when it takes one, e.g. VGM's); it samples exactly as the saved one on the same device."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != FILE_FORMAT:
            raise ValueError(f"{path} is not an EncodedFrameGenerator file (format {FILE_FORMAT!r})")
        inner_cls = INNER_CLASSES.get(state["inner"])
        if inner_cls is None:
            raise ValueError(f"{path} names an unknown inner generator {state['inner']!r}")
        buffer = io.BytesIO(state["generator"].numpy().tobytes())
        inner = _load_inner(inner_cls, buffer, device)
        model = cls(clone(inner), **from_plain(state["params"], ()))
        model.generator_ = inner
        model.encoder_ = from_plain(state["encoder"], (TabularEncoder,))
        model.classes_ = from_plain(state["classes"], ())
        model.columns_ = list(state["columns"])
        model.numeric_, model.categorical_ = list(model.encoder_.numeric), list(model.encoder_.categorical)
        model.dtypes_ = {c: dtype_from_plain(d) for c, d in zip(model.columns_, state["dtypes"])}
        return model
