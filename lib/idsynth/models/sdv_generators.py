"""SDV's single-table synthesizers (GaussianCopula, TVAE, CTGAN) as generators of the protocol.

These are the generators a user would pick off the shelf instead of VGM or MAGE-ID (SDV, the
Synthetic Data Vault: Patki et al. 2016; TVAE and CTGAN: Xu et al. 2019)::

    gen = SDVSynthesizer("CTGAN", options={"epochs": 300}, random_state=0).fit(frame, y)
    synth_frame, synth_y = gen.sample({0: 800, 1: 200}, random_state=1)

How a class-conditional generator is made of an unconditional one: the labels join the table as
one more categorical column (:data:`LABEL_COLUMN`) and ``sample`` asks SDV for each class
through its conditional sampling (``sample_from_conditions``, one ``Condition`` per class):
CTGAN conditions on the label natively (its training-by-sampling), GaussianCopula conditions
the copula on the label's transformed value, TVAE draws rows and keeps those of the asked class
(SDV's reject sampling). Exact counts are checked; a class so rare that SDV cannot produce its
rows raises ``RuntimeError``.

Column kinds are given to SDV, not detected: numbers other than bools are ``numerical``, every
other column (strings, categories, bools) ``categorical``. Samples come back in fit's columns and
dtypes (:class:`~idsynth.models.base.FrameGenerator`).

Randomness: ``fit`` runs with Python's, NumPy's and PyTorch's global generators seeded with
``random_state`` (SDV draws from them) and restored afterwards; ``sample`` resets SDV's sampling
state (``reset_sampling``) and seeds the model's generators with its ``random_state`` (SDV's
``_set_random_state``, private in the pinned ``sdv`` release), so the same seed gives the same
rows. The models run on the CPU (``enable_gpu=False``): the ``device`` of ``load`` is ignored.

The file: :class:`~idsynth.models.base.FrameGenerator`'s, with the fitted SDV synthesizer as
the bytes of SDV's own format (cloudpickle) inside; loading it unpickles them, so load only
files you made (as with SDV's ``load``).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..data.user_table import split_columns
from .base import FrameGenerator, seeded_global_rngs

#: The name of the label column in the table SDV learns.
LABEL_COLUMN = "__label__"
#: The table's name in SDV's metadata.
TABLE = "table"
#: Our names of SDV's synthesizers -> their classes in ``sdv.single_table``.
SYNTHESIZERS: dict[str, str] = {
    "GaussianCopula": "GaussianCopulaSynthesizer",
    "TVAE": "TVAESynthesizer",
    "CTGAN": "CTGANSynthesizer",
}
#: Options that the wrapper sets itself.
_RESERVED = ("metadata", "enable_gpu", "verbose")


def _sdv():
    """The ``sdv`` modules used here, or an ``ImportError`` saying how to install them."""
    try:
        import sdv.metadata
        import sdv.sampling
        import sdv.single_table
    except ImportError as error:  # pragma: no cover - sdv is a pinned dependency
        raise ImportError("SDVSynthesizer needs the 'sdv' package (pinned in requirements.txt)") from error
    return sdv


def sdv_metadata(frame: pd.DataFrame):
    """SDV ``Metadata`` of ``frame`` (feature columns and :data:`LABEL_COLUMN`): numbers other
    than bools ``numerical``, every other column ``categorical``."""
    numeric, _ = split_columns(frame)
    columns = {str(c): {"sdtype": "numerical" if c in numeric else "categorical"} for c in frame.columns}
    return _sdv().metadata.Metadata.load_from_dict({"tables": {TABLE: {"columns": columns}}})


@contextlib.contextmanager
def _quiet(verbose: bool):
    """SDV's progress bars (on stderr) and warnings, unless ``verbose``."""
    if verbose:
        yield
        return
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


class SDVSynthesizer(FrameGenerator):
    """One of SDV's single-table synthesizers, class-conditional through SDV's conditional sampling.

    Parameters (stored unchanged)
    ----------
    synthesizer : ``"GaussianCopula"``, ``"TVAE"`` or ``"CTGAN"`` (:data:`SYNTHESIZERS`).
    options : keyword arguments of that SDV class (e.g. ``{"epochs": 300, "batch_size": 500}``
        for TVAE/CTGAN, ``{"default_distribution": "beta"}`` for GaussianCopula); None = SDV's
        defaults. ``metadata``, ``enable_gpu`` and ``verbose`` are set here.
    random_state : int seed of ``fit`` (weights, batches, noise).
    verbose : SDV's progress bars and warnings.

    Fitted attributes: ``synthesizer_`` (the fitted SDV object), ``columns_``, ``dtypes_``,
    ``classes_``.
    """

    FILE_FORMAT = "idsynth.sdv/1"

    def __init__(self, synthesizer: str = "GaussianCopula", options: Mapping[str, Any] | None = None,
                 random_state: int = 0, verbose: bool = False):
        self.synthesizer = synthesizer
        self.options = options
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self) -> None:
        if self.synthesizer not in SYNTHESIZERS:
            raise ValueError(f"synthesizer must be one of {sorted(SYNTHESIZERS)}, got {self.synthesizer!r}")
        reserved = sorted(set(self.options or {}) & set(_RESERVED))
        if reserved:
            raise ValueError(f"options must not set {reserved}; SDVSynthesizer sets them")

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:
        self._check_params()
        if LABEL_COLUMN in X.columns:
            raise ValueError(f"X must not have a column named {LABEL_COLUMN!r} (the labels' column for SDV)")
        table = X.reset_index(drop=True).assign(**{LABEL_COLUMN: y})
        table.columns = [str(c) for c in table.columns]
        # TVAE and CTGAN refuse pandas' category dtype; sample() restores fit's dtypes.
        table = table.astype({c: object for c in table.columns if isinstance(table[c].dtype, pd.CategoricalDtype)})
        cls = getattr(_sdv().single_table, SYNTHESIZERS[self.synthesizer])
        options = dict(self.options or {})
        if self.synthesizer != "GaussianCopula":
            options.update(enable_gpu=False, verbose=bool(self.verbose))
        model = cls(sdv_metadata(table), **options)
        with _quiet(self.verbose), seeded_global_rngs(int(self.random_state)):
            model.fit({TABLE: table})
        self.synthesizer_ = model

    def _sample(self, counts: Mapping[Any, int], seed: int) -> pd.DataFrame:
        condition = _sdv().sampling.Condition
        model = self.synthesizer_
        with _quiet(self.verbose), seeded_global_rngs(seed):
            model.reset_sampling()
            model._set_random_state(seed)
            rows = model.sample_from_conditions(
                [condition(num_rows=n, column_values={LABEL_COLUMN: label}) for label, n in counts.items()])[TABLE]
        parts = [rows[rows[LABEL_COLUMN] == label].head(n) for label, n in counts.items()]
        short = {label: (len(part), n) for (label, n), part in zip(counts.items(), parts) if len(part) < n}
        if short:
            raise RuntimeError(f"SDV's {self.synthesizer} gave fewer rows than asked ({{class: (got, asked)}}: "
                               f"{short}); the class is too rare for its conditional sampling")
        frame = pd.concat(parts, ignore_index=True).drop(columns=LABEL_COLUMN)
        return frame.set_axis([_original(c, self.columns_) for c in frame.columns], axis=1)

    def _get_state(self) -> Any:
        import cloudpickle
        import torch

        return torch.frombuffer(bytearray(cloudpickle.dumps(self.synthesizer_)), dtype=torch.uint8)

    def _set_state(self, state: Any, device: str | None) -> None:
        import pickle

        _sdv()
        self.synthesizer_ = pickle.loads(state.numpy().tobytes())


def _original(name: str, columns: list) -> Any:
    """The column of ``columns`` whose string is ``name`` (SDV keeps column names as strings)."""
    return next(c for c in columns if str(c) == name)
