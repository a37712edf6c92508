"""SDV's single-table synthesizers (GaussianCopula, TVAE, CTGAN) as generators of the protocol.

These are the generators a user would pick off the shelf instead of VGM or MAGE-ID (SDV, the
Synthetic Data Vault: Patki et al. 2016; TVAE and CTGAN: Xu et al. 2019)::

    gen = SDVSynthesizer("CTGAN", options={"epochs": 300}, random_state=0).fit(frame, y)
    synth_frame, synth_y = gen.sample({0: 800, 1: 200}, random_state=1)

How a class-conditional generator is made of an unconditional one (``conditioning``):

* ``"sdv"``: the labels join the table as one more categorical column (:data:`LABEL_COLUMN`)
  and ``sample`` asks SDV for each class through its conditional sampling
  (``sample_from_conditions``, one ``Condition`` per class): CTGAN conditions on the label
  natively (its training-by-sampling), GaussianCopula conditions the copula on the label's
  transformed value, TVAE draws rows and keeps those of the asked class (SDV's reject
  sampling), which fails for a class the model rarely draws (measured: after 2 epochs on
  NSL-KDD's 24,000 rows, no attack row in 100 batches; KDDTrain+'s U2R is 52 of 125,973 rows).
* ``"per_class"``: one synthesizer per class, fitted on that class's rows alone (the usual way to
  over-sample with an unconditional model); ``sample`` draws each class's rows from its own.

Exact counts are checked; a class SDV cannot produce raises ``RuntimeError``.

Training length (TVAE, CTGAN): the ``epochs`` of ``options``, or ``steps``, a budget of
optimiser steps at the option's ``batch_size`` (SDV's default 500) turned into epochs over the
training rows, ``ceil(steps * batch_size / n_rows)``, so that a larger data set gets the same
number of steps, not more (with ``"per_class"`` every class's model trains those epochs over its
own rows: about ``steps`` in all). ``fit_record_`` holds the epochs, the optimiser steps taken,
the seconds and the last epoch's losses.

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
import math
import time
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
#: Ways of sampling a class (module docstring).
CONDITIONING: tuple[str, ...] = ("sdv", "per_class")
#: SDV's default ``batch_size`` of TVAE and CTGAN (sdv 2.0.0).
SDV_BATCH_SIZE = 500
#: The synthesizers trained by epochs of mini-batches.
ITERATIVE: tuple[str, ...] = ("TVAE", "CTGAN")


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
    conditioning : ``"sdv"`` (the label as a column, SDV's conditional sampling) or
        ``"per_class"`` (one synthesizer per class); see the module docstring.
    steps : optimiser-step budget of TVAE/CTGAN, turned into epochs over the training rows (the
        options' ``epochs`` must then be absent or None); None = the options' (or SDV's) epochs.
    random_state : int seed of ``fit`` (weights, batches, noise).
    verbose : SDV's progress bars and warnings.

    Fitted attributes: ``synthesizer_`` (the fitted SDV object; with ``"per_class"`` a dict
    label -> fitted SDV object), ``fit_record_`` (``epochs``, ``steps``, ``seconds``,
    ``losses``), ``columns_``, ``dtypes_``, ``classes_``.
    """

    #: Bumped when a change alters what a fit learns (beyond rounding): cached models of the class
    #: are refitted (:mod:`idsynth.code_versions`, which records the code its fits run).
    CODE_VERSION = 1

    FILE_FORMAT = "idsynth.sdv/1"

    def __init__(self, synthesizer: str = "GaussianCopula", options: Mapping[str, Any] | None = None,
                 conditioning: str = "sdv", steps: int | None = None, random_state: int = 0, verbose: bool = False):
        self.synthesizer = synthesizer
        self.options = options
        self.conditioning = conditioning
        self.steps = steps
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self) -> None:
        if self.synthesizer not in SYNTHESIZERS:
            raise ValueError(f"synthesizer must be one of {sorted(SYNTHESIZERS)}, got {self.synthesizer!r}")
        reserved = sorted(set(self.options or {}) & set(_RESERVED))
        if reserved:
            raise ValueError(f"options must not set {reserved}; SDVSynthesizer sets them")
        if self.conditioning not in CONDITIONING:
            raise ValueError(f"conditioning must be one of {CONDITIONING}, got {self.conditioning!r}")
        if self.steps is not None:
            if self.synthesizer not in ITERATIVE:
                raise ValueError(f"steps applies to {ITERATIVE} (trained by epochs), not {self.synthesizer}")
            if isinstance(self.steps, bool) or not isinstance(self.steps, (int, np.integer)) or self.steps < 1:
                raise ValueError(f"steps must be a positive integer, got {self.steps!r}")
            if (self.options or {}).get("epochs") is not None:
                raise ValueError("give either steps or options['epochs'], not both")

    def _options(self, n_rows: int) -> dict[str, Any]:
        """The SDV class's keyword arguments for ``n_rows`` training rows (epochs from ``steps``)."""
        options = {k: v for k, v in (self.options or {}).items() if not (k == "epochs" and v is None)}
        if self.synthesizer in ITERATIVE:
            options.update(enable_gpu=False, verbose=bool(self.verbose))
            if self.steps is not None:
                batch = int(options.get("batch_size", SDV_BATCH_SIZE))
                options["epochs"] = max(1, math.ceil(int(self.steps) * batch / n_rows))
        return options

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:
        self._check_params()
        if LABEL_COLUMN in X.columns:
            raise ValueError(f"X must not have a column named {LABEL_COLUMN!r} (the labels' column for SDV)")
        table = X.reset_index(drop=True)
        table.columns = [str(c) for c in table.columns]
        # TVAE and CTGAN refuse pandas' category dtype; sample() restores fit's dtypes.
        table = table.astype({c: object for c in table.columns if isinstance(table[c].dtype, pd.CategoricalDtype)})
        options = self._options(len(table))
        # the tables SDV learns: all rows with the label as a column, or each class's rows alone
        parts = ({None: table.assign(**{LABEL_COLUMN: y})} if self.conditioning == "sdv"
                 else {label: table[y == label].reset_index(drop=True) for label in self.classes_})
        start = time.perf_counter()
        models = {label: self._fit_one(part, options) for label, part in parts.items()}
        self.synthesizer_ = models[None] if self.conditioning == "sdv" else models
        sizes = [len(part) for part in parts.values()]
        batch = int(options.get("batch_size", SDV_BATCH_SIZE))
        epochs = options.get("epochs")
        self.fit_record_ = {
            "epochs": epochs,
            "steps": int(sum(math.ceil(n / batch) * epochs for n in sizes)) if epochs is not None else None,
            "seconds": time.perf_counter() - start,
            "losses": [_last_losses(model) for model in models.values()],
        }

    def _fit_one(self, table: pd.DataFrame, options: Mapping[str, Any]):
        """A fitted SDV synthesizer of ``table`` (string column names)."""
        cls = getattr(_sdv().single_table, SYNTHESIZERS[self.synthesizer])
        model = cls(sdv_metadata(table), **options)
        with _quiet(self.verbose), seeded_global_rngs(int(self.random_state)):
            model.fit({TABLE: table})
        return model

    def _sample(self, counts: Mapping[Any, int], seed: int) -> pd.DataFrame:
        if self.conditioning == "sdv":
            parts = self._sample_conditions(counts, seed)
        else:
            parts = [self._sample_class(label, n, seed + i) for i, (label, n) in enumerate(counts.items())]
        short = {label: (len(part), n) for (label, n), part in zip(counts.items(), parts) if len(part) < n}
        if short:
            raise RuntimeError(f"SDV's {self.synthesizer} gave fewer rows than asked ({{class: (got, asked)}}: "
                               f"{short}); the class is too rare for its conditional sampling (conditioning="
                               f"'per_class' fits one model per class)")
        frame = pd.concat(parts, ignore_index=True).drop(columns=LABEL_COLUMN, errors="ignore")
        return frame.set_axis([_original(c, self.columns_) for c in frame.columns], axis=1)

    def _sample_conditions(self, counts: Mapping[Any, int], seed: int) -> list[pd.DataFrame]:
        """Each class's rows through SDV's conditional sampling (at most the count asked)."""
        condition = _sdv().sampling.Condition
        model = self.synthesizer_
        with _quiet(self.verbose), seeded_global_rngs(seed):
            model.reset_sampling()
            model._set_random_state(seed)
            rows = model.sample_from_conditions(
                [condition(num_rows=n, column_values={LABEL_COLUMN: label}) for label, n in counts.items()])[TABLE]
        return [rows[rows[LABEL_COLUMN] == label].head(n) for label, n in counts.items()]

    def _sample_class(self, label: Any, n: int, seed: int) -> pd.DataFrame:
        """``n`` rows of the model of class ``label`` (``"per_class"``)."""
        model = self.synthesizer_[label]
        with _quiet(self.verbose), seeded_global_rngs(seed):
            model.reset_sampling()
            model._set_random_state(seed)
            return model.sample(num_rows=int(n))[TABLE]

    def _get_state(self) -> Any:
        import cloudpickle
        import torch

        state = {"synthesizer": self.synthesizer_, "fit_record": getattr(self, "fit_record_", None)}
        return torch.frombuffer(bytearray(cloudpickle.dumps(state)), dtype=torch.uint8)

    def _set_state(self, state: Any, device: str | None) -> None:
        import pickle

        _sdv()
        loaded = pickle.loads(state.numpy().tobytes())
        self.synthesizer_, self.fit_record_ = loaded["synthesizer"], loaded["fit_record"]


def _last_losses(model) -> dict[str, float]:
    """The last epoch's mean of each loss SDV recorded (TVAE, CTGAN), or {} (GaussianCopula)."""
    get = getattr(model, "get_loss_values", None)
    if get is None:
        return {}
    losses = get()
    last = losses[losses["Epoch"] == losses["Epoch"].max()]
    return {str(c): float(last[c].mean()) for c in last.columns if c not in ("Epoch", "Batch")}


def _original(name: str, columns: list) -> Any:
    """The column of ``columns`` whose string is ``name`` (SDV keeps column names as strings)."""
    return next(c for c in columns if str(c) == name)
