"""MAGE-ID (poster) and TabSyn as two configurations of one two-stage latent generator.

MAGE-ID (Arab Loodaricheh, Manshaei, Raja; poster "MAGE-ID: A Multimodal Generative Framework
for Intrusion Detection Systems"), phases 1-4:

1. *Data transformation*: the typed table is encoded for the tabular branch (numeric columns
   quantile-normalised, categorical columns as codes, as TabSyn does) and, separately, min-max
   scaled and one-hot encoded and turned into images by a :class:`~idsynth.imaging.TabularImager`,
   which gives paired tabular-image samples (:class:`~idsynth.data.paired.PairedSamples`).
2. *Stage 1*: a Transformer VAE (:class:`~idsynth.models.tab_vae.TabVAE`) learns the rows and a
   CNN VAE (:class:`~idsynth.models.img_vae.ImageVAE`) the images.
3. *Stage 2*: the posterior means of both are concatenated into one joint latent per row,
   ``z = [z_tab (n_tokens * d_token) | z_img (latent_dim)]``, and a class-conditional EDM
   (:class:`~idsynth.models.edm.LatentEDM`) is trained on it.
4. *Decoding*: sampled latents are split again; the TabVAE decoder gives the rows, the ImageVAE
   decoder the matching images.

TabSyn (Zhang et al., ICLR 2024) is this generator with the tabular branch alone,
``MAGEID(modalities=("tabular",))``: same classes, same code path, no image parts.

As in TabSyn, the class label is appended to the categorical columns of the tabular branch,
so the TabVAE learns and decodes it like any other column; the EDM is additionally conditioned
on the class (**our choice**: the poster's IDS sets are imbalanced and the generator must give
exact class counts). The decoded label column is compared with the conditioning label
(:attr:`MAGEIDSample.label_agreement`), a check that the latent carries the class.

Parameters are scikit-learn style (``clone`` works): ``tab_vae``, ``img_vae``, ``edm`` and
``imager`` are dicts of keyword arguments that override the defaults of those classes (``None``
= the class defaults; :func:`mageid` and :func:`tabsyn` give the documented defaults).
"""

from __future__ import annotations

import copy
import io
import math
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.preprocessing import QuantileTransformer

from ..cache import array_digest, atomic_path
from ..data.encoding import SCALINGS, TabularEncoder
from ..data.paired import PairedSamples, fit_image_pipeline
from ..data.schema import Schema
from ..imaging import TabularImager
from .base import RUNTIME_PARAMS, labels_from_counts
from .edm import SAMPLING_PARAMS, LatentEDM
from .img_vae import ImageVAE
from .plain_state import dtype_from_plain, dtype_to_plain, from_plain, to_plain
from .tab_vae import TabVAE
from .training import gaussian_kl_per_dim
from .validation import check_seed

FILE_FORMAT = "idsynth.MAGEID/1"
MODALITIES = ("tabular", "image")
#: The name of the label column inside the tabular branch (appended after the categoricals).
LABEL_COLUMN = "__label__"

#: Constructor arguments of the parts that MAGE-ID sets itself (from the data and its own params).
_RESERVED = {
    "tab_vae": ("n_numeric", "cat_cardinalities", "device", "random_state", "verbose"),
    "img_vae": ("image_size", "channels", "device", "random_state", "verbose"),
    "edm": ("dim", "n_classes", "blocks", "device", "random_state", "verbose"),
    "imager": (),
}
_PART_CLASSES = {"tab_vae": TabVAE, "img_vae": ImageVAE, "edm": LatentEDM, "imager": TabularImager}
_STATE_CLASSES = (TabularEncoder, TabularImager, QuantileTransformer)
_SEED_OFFSET = {"tab_vae": 0, "img_vae": 1, "edm": 2, "imager": 0}


def _part_defaults(part: str) -> dict[str, Any]:
    """The constructor defaults of a part's class (e.g. ``TabVAE``'s, which are TabSyn's)."""
    import inspect

    signature = inspect.signature(_PART_CLASSES[part].__init__)
    return {name: p.default for name, p in signature.parameters.items()
            if name != "self" and p.default is not inspect.Parameter.empty}


_TAB_VAE_MEMO: "OrderedDict[str, tuple[TabVAE, float]]" = OrderedDict()
_TAB_VAE_MEMO_SIZE = 2


def fitted_tab_vae(X_num: np.ndarray, X_cat: np.ndarray, cardinalities: list[int], kwargs: dict) -> tuple[TabVAE, float]:
    """A TabVAE fitted on ``X_num (n, n_num) float32``, ``X_cat (n, n_cat) int64`` with ``kwargs``,
    and its training seconds.

    MAGE-ID's tabular VAE and TabSyn's are the same model (same rows, settings and seed), and
    training is deterministic for a seed on a device, so the last :data:`_TAB_VAE_MEMO_SIZE`
    fits are kept in this process: fitting TabSyn right after MAGE-ID on the same set and seed
    (as ``idsynth.prefill`` and the notebooks do) reuses the fitted VAE (a copy) instead of
    training it again. The seconds returned are those of the training.
    """
    key = _tab_vae_key(X_num, X_cat, cardinalities, kwargs)
    if key in _TAB_VAE_MEMO:
        model, seconds = _TAB_VAE_MEMO[key]
        _TAB_VAE_MEMO.move_to_end(key)
        return copy.deepcopy(model), seconds
    started = time.perf_counter()
    model = TabVAE(X_num.shape[1], list(cardinalities), **kwargs).fit(X_num, X_cat)
    seconds = time.perf_counter() - started
    _memo_put(key, model, seconds)
    return copy.deepcopy(model), seconds


def _memo_put(key: str, model: TabVAE, seconds: float) -> None:
    """Keep ``model`` under ``key`` as the newest of the last :data:`_TAB_VAE_MEMO_SIZE` fits."""
    _TAB_VAE_MEMO[key] = (model, seconds)
    _TAB_VAE_MEMO.move_to_end(key)
    while len(_TAB_VAE_MEMO) > _TAB_VAE_MEMO_SIZE:
        _TAB_VAE_MEMO.popitem(last=False)


def _tab_vae_key(X_num: np.ndarray, X_cat: np.ndarray, cardinalities, kwargs: Mapping[str, Any]) -> str:
    """The memo's key of a TabVAE fit: its arguments (without ``verbose``, which training does not
    read), the cardinalities and a digest of the rows."""
    settings = {name: value for name, value in kwargs.items() if name != "verbose"}
    return repr((sorted(settings.items()), list(cardinalities), array_digest(X_num, X_cat)))


def remember_tab_vae(model: "MAGEID", X: pd.DataFrame, y) -> None:
    """Keep the TabVAE of ``model`` (a MAGE-ID or TabSyn fitted through stage 1 on ``X`` (n, d)
    typed, ``y`` (n,)) in this process's memo, as if :func:`fitted_tab_vae` had trained it here.

    The other configuration fitted on the same rows with the same TabVAE settings and seed then
    reuses it: e.g. MAGE-ID trained in a later process than the TabSyn whose stage-1 model a
    cache holds (:func:`idsynth.experiments.mageid_train.train_mageid`). The key is computed from
    ``model``'s own encoding of the rows, so a model whose rows or settings differ is never
    matched; its training seconds (``fit_seconds_["tab_vae"]``, NaN if unknown) go with it."""
    model._check_fitted(stage=1)
    samples = model.paired(X, y)
    key = _tab_vae_key(samples.X_num, samples.X_cat, samples.cat_cardinalities, model._part_kwargs("tab_vae"))
    seconds = float(getattr(model, "fit_seconds_", {}).get("tab_vae", math.nan))
    _memo_put(key, copy.deepcopy(model.tab_vae_), seconds)


@dataclass
class MAGEIDSample:
    """What :meth:`MAGEID.generate` returns for ``N`` requested rows.

    frame: (N, d) typed rows, the columns and dtypes of ``fit``'s X.
    y: (N,) the conditioning labels, grouped by class in the request's order.
    images: (N, 1, H, W) float32 in [0, 1], the decoded images (None without the image branch).
    decoded_label: (N,) the label column the TabVAE decoded from each row's latent.
    z: (N, latent_dim) the joint latents the EDM sampled (tabular block first).
    seconds: wall time of sampling and decoding.
    """

    frame: pd.DataFrame
    y: np.ndarray
    images: np.ndarray | None
    decoded_label: np.ndarray
    z: np.ndarray
    seconds: float

    @property
    def label_agreement(self) -> float:
        """Share of rows whose decoded label column equals the conditioning label."""
        return float(np.mean(self.decoded_label == self.y)) if len(self.y) else float("nan")

    @property
    def rows_per_second(self) -> float:
        return len(self.y) / self.seconds if self.seconds > 0 else float("inf")

    def take(self, rows) -> "MAGEIDSample":
        """The rows ``rows`` (integer positions) of every array; ``seconds`` is kept."""
        rows = np.asarray(rows)
        return MAGEIDSample(frame=self.frame.iloc[rows].reset_index(drop=True), y=self.y[rows],
                            images=None if self.images is None else self.images[rows],
                            decoded_label=self.decoded_label[rows], z=self.z[rows], seconds=self.seconds)


def training_settings(edm: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The EDM overrides ``edm`` as a trained model's key names them: without the sampling
    settings (:data:`~idsynth.models.edm.SAMPLING_PARAMS`), except ``num_steps`` at LatentEDM's
    default where ``edm`` gives it (the factories always do, so keys written before this rule keep
    their value). Training never reads them, so every choice of Heun steps, sigmas, rho, guidance
    or sampling batch shares one trained model, sampled with the requested settings (see
    :meth:`MAGEID.sampling_settings`)."""
    if edm is None:
        return None
    kept = {name: value for name, value in edm.items() if name not in SAMPLING_PARAMS or name == "num_steps"}
    if "num_steps" in kept:
        kept["num_steps"] = LatentEDM().num_steps
    return kept


def stage_params(params: Mapping[str, Any], stage: int) -> dict[str, Any]:
    """A MAGEID's parameters (without the runtime ones) as the key of its stage-``stage`` model
    names them: ``modalities`` as a list, no image settings without the image branch, no EDM
    settings at stage 1 and no sampling settings at stage 2 (:func:`training_settings`)."""
    params = dict(params)
    modalities = params.get("modalities", MODALITIES)
    params["modalities"] = [modalities] if isinstance(modalities, str) else list(modalities)
    if "image" not in params["modalities"]:
        params.pop("img_vae", None)
        params.pop("imager", None)
    if stage == 1:
        params.pop("edm", None)
    else:
        params["edm"] = training_settings(params.get("edm"))
    return params


class MAGEID(BaseEstimator):
    """Two-stage latent generator of typed rows (and their images), conditioned on the class.

    Parameters
    ----------
    modalities: ``("tabular", "image")`` for MAGE-ID, ``("tabular",)`` for TabSyn.
    tab_vae: overrides of :class:`TabVAE`'s arguments (``d_token``, ``n_layers``, ``d_ff``,
        ``epochs``, ``batch_size``, ``beta_max``, ...).
    img_vae: overrides of :class:`ImageVAE`'s arguments (``latent_dim``, ``widths``, ``beta``,
        ``epochs``, ``batch_size``, ...); ignored without the image branch.
    edm: overrides of :class:`LatentEDM`'s arguments (``hidden``, ``n_layers``, ``epochs``,
        ``batch_size``, ``num_steps``, ``ema_decay``, ...).
    imager: overrides of :class:`TabularImager`'s arguments (``layout``, ``image_size``,
        ``upscale``, ...); ignored without the image branch.
    numeric_scaling: how the tabular branch scales numeric columns (``"quantile"``: to a
        standard normal, as TabSyn; see :class:`TabularEncoder`).
    device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ... for every part.
    random_state: seeds every part (TabVAE: ``random_state``, ImageVAE: ``+1``, EDM: ``+2``,
        imager layout: ``random_state`` unless ``imager`` names one).
    verbose: progress bars of the parts.

    Fitted attributes: ``columns_``, ``dtypes_`` (of fit's X), ``schema_``, ``classes_``,
    ``tab_encoder_`` (quantile/codes), ``img_encoder_`` (min-max/one-hot) and ``imager_``
    (None without images), ``tab_vae_``, ``img_vae_`` (None without images), ``edm_`` (after
    stage 2), ``latent_slices_`` (``{"tabular": slice, "image": slice}`` into the joint
    latent), ``latent_dim_``, ``fit_seconds_`` (seconds per stage: ``prepare``, ``tab_vae``,
    ``img_vae``, ``encode``, ``edm``), ``n_train_``.
    """

    def __init__(self, modalities=MODALITIES, tab_vae: dict | None = None, img_vae: dict | None = None,
                 edm: dict | None = None, imager: dict | None = None, numeric_scaling: str = "quantile",
                 device: str = "auto", random_state: int = 0, verbose: bool = True):
        self.modalities = modalities
        self.tab_vae = tab_vae
        self.img_vae = img_vae
        self.edm = edm
        self.imager = imager
        self.numeric_scaling = numeric_scaling
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    #: Fitted in two stages (:mod:`idsynth.runs`): 1 = encoders, imager and VAEs, 2 = the EDM.
    FIT_STAGES = 2
    #: Bumped when a change alters what a fit learns (beyond rounding): cached models of the class
    #: are refitted (:mod:`idsynth.code_versions`, which records the code its fits run).
    CODE_VERSION = 1

    def key_params(self, stage: int) -> dict[str, Any]:
        """The parameters the model fitted up to ``stage`` depends on (:func:`stage_params`)."""
        params = {k: v for k, v in self.get_params().items() if k not in RUNTIME_PARAMS}
        return stage_params({**params, "modalities": list(self._modalities())}, stage)

    def unkeyed_settings(self) -> dict[str, Any]:
        """What a model loaded for this one's key takes from it, and what a synthetic set's key
        adds to the model's: the ``edm`` overrides (the stage-1 key leaves them out, the stage-2
        key their sampling settings)."""
        return {"edm": self.edm}

    # -- configuration -------------------------------------------------------------------------
    @property
    def uses_images(self) -> bool:
        return "image" in self._modalities()

    def _modalities(self) -> tuple[str, ...]:
        modalities = (self.modalities,) if isinstance(self.modalities, str) else tuple(self.modalities)
        unknown = [m for m in modalities if m not in MODALITIES]
        if unknown or len(set(modalities)) != len(modalities):
            raise ValueError(f"modalities must be distinct names among {MODALITIES}, got {self.modalities!r}")
        if "tabular" not in modalities:
            raise ValueError("modalities must include 'tabular' (the rows are what the generator returns)")
        return modalities

    def _check_params(self) -> None:
        self._modalities()
        if self.numeric_scaling not in SCALINGS:
            raise ValueError(f"numeric_scaling must be one of {SCALINGS}, got {self.numeric_scaling!r}")
        check_seed(self.random_state)
        for part in _PART_CLASSES:
            self._part_kwargs(part)

    def _part_kwargs(self, part: str) -> dict[str, Any]:
        """The user's overrides for ``part`` plus the arguments MAGE-ID sets (device, seed, ...)."""
        overrides = getattr(self, part) or {}
        if not isinstance(overrides, Mapping):
            raise TypeError(f"{part} must be a dict of {_PART_CLASSES[part].__name__} arguments or None, "
                            f"got {type(overrides).__name__}")
        known = set(_part_defaults(part)) - set(_RESERVED[part])
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"{part}: unknown or reserved arguments {unknown}; "
                             f"{_PART_CLASSES[part].__name__} accepts {sorted(known)}")
        kwargs = dict(overrides)
        if part == "imager":
            kwargs.setdefault("random_state", int(self.random_state))
            return kwargs
        return {**kwargs, "device": self.device, "random_state": int(self.random_state) + _SEED_OFFSET[part],
                "verbose": bool(self.verbose)}

    # -- input checks --------------------------------------------------------------------------
    def _check_xy(self, X, y) -> tuple[pd.DataFrame, np.ndarray]:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"X must be a pandas DataFrame of typed feature columns, got {type(X).__name__}")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"y must have shape ({len(X)},) to match X, got {y.shape}")
        if y.size and not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_)):
            raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
        return X, y.astype(np.int64)

    def _check_fitted(self, stage: int = 1) -> None:
        """stage 0: encoders fitted; 1: the stage-1 VAEs too; 2: the EDM too."""
        if not hasattr(self, "tab_encoder_" if stage == 0 else "tab_vae_"):
            raise RuntimeError("this MAGEID is not fitted yet; call fit(X, y) first")
        if stage == 2 and getattr(self, "edm_", None) is None:
            raise RuntimeError("stage 2 (the latent EDM) is not fitted; call fit_stage2(X, y) or fit(X, y)")

    def _label_codes(self, y: np.ndarray) -> np.ndarray:
        codes = np.searchsorted(self.classes_, y)
        codes = np.clip(codes, 0, len(self.classes_) - 1)
        unseen = np.unique(y[self.classes_[codes] != y])
        if unseen.size:
            raise ValueError(f"labels {unseen[:10].tolist()} were not seen in fit; known: {self.classes_.tolist()}")
        return codes.astype(np.int64)

    # -- phase 1: paired samples ---------------------------------------------------------------
    def _fit_encoders(self, X: pd.DataFrame, y: np.ndarray) -> None:
        self.columns_ = [str(c) for c in X.columns]
        if len(set(self.columns_)) != len(self.columns_) or LABEL_COLUMN in self.columns_:
            raise ValueError(f"X must have distinct column names, none called {LABEL_COLUMN!r}")
        self.dtypes_ = {c: dtype_to_plain(X[c].dtype) for c in X.columns}
        self.schema_ = Schema.infer(X)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 1 or len(X) < 2:
            raise ValueError(f"need at least 2 rows to fit, got {len(X)}")
        self.tab_encoder_ = TabularEncoder.from_schema(self.schema_, numeric_scaling=self.numeric_scaling,
                                                       handle_unknown="ignore").fit(X)
        if self.uses_images:
            imager = TabularImager(**self._part_kwargs("imager"))
            self.img_encoder_, self.imager_ = fit_image_pipeline(X, self.schema_, imager)
            if self.imager_.image_shape_[1] != self.imager_.image_shape_[2]:
                raise ValueError(f"the ImageVAE needs square images; the imager gives {self.imager_.image_shape_}")
        else:
            self.img_encoder_, self.imager_ = None, None

    def paired(self, X: pd.DataFrame, y, drop_unknown: bool = False) -> PairedSamples:
        """Rows of ``X`` with labels ``y`` as the model sees them.

        Returns a :class:`PairedSamples` whose ``X_num`` (n, n_num) float32 is the scaled numeric
        block, ``X_cat`` (n, n_cat + 1) int64 the category codes followed by the class code
        (the label column of the tabular branch), ``y`` (n,) the class codes and ``images``
        (n, 1, H, W) in [0, 1] (shape (n, 1, 0, 0) without the image branch). Rows holding a
        category unseen in fit have code -1; ``drop_unknown`` removes them.
        """
        self._check_fitted(stage=0)
        X, y = self._check_xy(X, y)
        codes = self._label_codes(y)
        X_num, X_cat = self.tab_encoder_.transform_split(X)
        if self.uses_images:
            images = self.imager_.transform(self.img_encoder_.transform(X))
        else:
            images = np.zeros((len(X), 1, 0, 0), np.float32)
        samples = PairedSamples(
            X_num=X_num.astype(np.float32, copy=False),
            X_cat=np.concatenate([X_cat, codes[:, None]], axis=1),
            y=codes,
            images=images,
            num_features=tuple(self.tab_encoder_.numeric),
            cat_features=(*self.tab_encoder_.categorical, LABEL_COLUMN),
            cat_cardinalities=(*self.tab_encoder_.cardinalities_, len(self.classes_)),
            class_names=tuple(str(c) for c in self.classes_),
        )
        if drop_unknown:
            samples = samples[np.flatnonzero((samples.X_cat >= 0).all(axis=1))]
        return samples

    # -- stage 1 -------------------------------------------------------------------------------
    def fit_stage1(self, X: pd.DataFrame, y) -> "MAGEID":
        """Fit the encoders, the imager and the stage-1 VAEs on ``X`` (n, d) typed, ``y`` (n,)."""
        self._check_params()
        X, y = self._check_xy(X, y)
        for name in ("tab_vae_", "img_vae_", "edm_", "latent_slices_", "latent_dim_"):
            self.__dict__.pop(name, None)
        started = time.perf_counter()
        self._fit_encoders(X, y)
        samples = self.paired(X, y)
        self.fit_seconds_ = {"prepare": time.perf_counter() - started}
        self.n_train_ = len(X)

        tab_vae, self.fit_seconds_["tab_vae"] = fitted_tab_vae(
            samples.X_num, samples.X_cat, list(samples.cat_cardinalities), self._part_kwargs("tab_vae"))
        img_vae = None
        if self.uses_images:
            started = time.perf_counter()
            img_vae = ImageVAE(samples.image_shape[1], samples.image_shape[0], **self._part_kwargs("img_vae"))
            img_vae.fit(samples.images)
            self.fit_seconds_["img_vae"] = time.perf_counter() - started
        self.tab_vae_, self.img_vae_ = tab_vae, img_vae  # set together: a failed fit leaves none
        self._set_latent_layout()
        self.edm_ = None
        return self

    def _set_latent_layout(self) -> None:
        tab_dim = self.tab_vae_.latent_dim_
        img_dim = self.img_vae_.latent_dim_ if self.img_vae_ is not None else 0
        self.latent_slices_ = {"tabular": slice(0, tab_dim)}
        if self.img_vae_ is not None:
            self.latent_slices_["image"] = slice(tab_dim, tab_dim + img_dim)
        self.latent_dim_ = tab_dim + img_dim

    def encode(self, X: pd.DataFrame, y) -> np.ndarray:
        """Rows and labels -> joint latents ``(n, latent_dim_) float32``: the posterior means of
        the TabVAE (flattened tokens) and, with images, of the ImageVAE, concatenated."""
        self._check_fitted()
        return self.encode_samples(self.paired(X, y))

    def encode_samples(self, samples: PairedSamples) -> np.ndarray:
        """:meth:`encode` for rows already prepared by :meth:`paired`."""
        self._check_fitted()
        parts = [self.tab_vae_.encode(samples.X_num, samples.X_cat)]
        if self.img_vae_ is not None:
            parts.append(self.img_vae_.encode(samples.images))
        return np.concatenate(parts, axis=1)

    def decode(self, z) -> tuple[pd.DataFrame, np.ndarray | None, np.ndarray]:
        """Joint latents ``(n, latent_dim_)`` -> (typed frame (n, d), images (n, 1, H, W) or None,
        decoded labels (n,))."""
        self._check_fitted()
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim_:
            raise ValueError(f"z must have shape (n, {self.latent_dim_}), got {z.shape}")
        X_num, X_cat = self.tab_vae_.decode(z[:, self.latent_slices_["tabular"]])
        frame = self._to_frame(X_num, X_cat[:, :-1])
        images = self.img_vae_.decode(z[:, self.latent_slices_["image"]]) if self.img_vae_ is not None else None
        return frame, images, self.classes_[X_cat[:, -1]]

    def _to_frame(self, X_num: np.ndarray, X_cat: np.ndarray) -> pd.DataFrame:
        """Model-space rows -> a frame with fit's columns, in fit's order and dtypes."""
        frame = self.tab_encoder_.inverse_transform_split(X_num, X_cat)[self.columns_]
        return frame.astype({c: dtype_from_plain(spec) for c, spec in self.dtypes_.items()})

    def reconstruct(self, X: pd.DataFrame, y) -> tuple[pd.DataFrame, np.ndarray | None]:
        """Each branch's autoencoding of real rows: (the TabVAE's reconstructed rows as a typed
        frame, the ImageVAE's reconstructed images (n, 1, H, W) or None). Rows with categories
        unseen in fit are not allowed here (a ValueError names them)."""
        z = self.encode(X, y)
        frame, images, _ = self.decode(z)
        return frame, images

    # -- stage 2 -------------------------------------------------------------------------------
    def fit_stage2(self, X: pd.DataFrame, y) -> "MAGEID":
        """Train the class-conditional EDM on the joint latents of ``X``, ``y`` (the fit rows)."""
        self._check_fitted()
        X, y = self._check_xy(X, y)
        started = time.perf_counter()
        z = self.encode(X, y)
        self.fit_seconds_["encode"] = time.perf_counter() - started
        started = time.perf_counter()
        blocks = tuple(part.stop - part.start for part in self.latent_slices_.values())
        self.edm_ = LatentEDM(dim=z.shape[1], n_classes=len(self.classes_), blocks=blocks, **self._part_kwargs("edm"))
        self.edm_.fit(z, self._label_codes(y))
        self.fit_seconds_["edm"] = time.perf_counter() - started
        return self

    def fit(self, X: pd.DataFrame, y) -> "MAGEID":
        """Both stages on ``X`` (n, d) typed feature columns and ``y`` (n,) integer labels."""
        return self.fit_stage1(X, y).fit_stage2(X, y)

    # -- sampling ------------------------------------------------------------------------------
    def generate(self, n_per_class: Mapping[Any, int], random_state: int | None = None) -> MAGEIDSample:
        """``{label: count}`` -> :class:`MAGEIDSample` (rows, images, labels, latents, timing)."""
        self._check_fitted(stage=2)
        y = labels_from_counts(n_per_class, self.classes_)
        if len(y) == 0:
            raise ValueError(f"n_per_class asks for no rows: {dict(n_per_class)}")
        seed = check_seed(random_state)
        started = time.perf_counter()
        codes = {int(np.searchsorted(self.classes_, label)): int(n) for label, n in n_per_class.items()}
        self.edm_.set_sampling(**self.sampling_settings())
        z, _ = self.edm_.sample(codes, random_state=seed)
        frame, images, decoded = self.decode(z)
        return MAGEIDSample(frame=frame, y=y, images=images, decoded_label=decoded, z=z,
                            seconds=time.perf_counter() - started)

    def sampling_settings(self) -> dict[str, Any]:
        """The EDM's sampling settings (:data:`~idsynth.models.edm.SAMPLING_PARAMS`) of the current
        ``edm`` parameter: LatentEDM's defaults updated with its overrides. :meth:`generate` uses
        these, not those of the fit, so ``set_params(edm=...)`` on a fitted model changes how it
        samples (e.g. fewer Heun steps) without retraining."""
        settings = {**_part_defaults("edm"), **(self.edm or {})}
        return {name: settings[name] for name in SAMPLING_PARAMS}

    def sample(self, n_per_class: Mapping[Any, int], random_state: int | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        """The generator protocol: ``(frame (N, d) with fit's columns and dtypes, y (N,))``.
        ``label_agreement_`` records the decoded-label agreement of this call."""
        result = self.generate(n_per_class, random_state)
        self.label_agreement_ = result.label_agreement
        return result.frame, result.y

    def sample_multimodal(self, n_per_class: Mapping[Any, int], random_state: int | None = None):
        """``(frame (N, d), images (N, 1, H, W) float32 in [0, 1], y (N,))``: paired samples."""
        if not self.uses_images:
            raise ValueError("this generator has no image branch (modalities=('tabular',)); use sample()")
        result = self.generate(n_per_class, random_state)
        self.label_agreement_ = result.label_agreement
        return result.frame, result.images, result.y

    # -- reporting -----------------------------------------------------------------------------
    def loss_histories(self) -> dict[str, pd.DataFrame]:
        """Per-epoch losses of each fitted part: ``{"tab_vae": (epoch, total, mse, ce, kl, beta,
        lr), "img_vae": (epoch, total, mse, kl, beta), "edm": (epoch, loss)}``."""
        self._check_fitted()
        out = {"tab_vae": pd.DataFrame(self.tab_vae_.loss_history_)}
        if self.img_vae_ is not None:
            out["img_vae"] = pd.DataFrame(self.img_vae_.loss_history_)
        if getattr(self, "edm_", None) is not None:
            history = np.asarray(self.edm_.loss_history_)
            out["edm"] = pd.DataFrame({"epoch": np.arange(len(history)), "loss": history})
        return out

    def latent_report(self, X: pd.DataFrame, y) -> pd.DataFrame:
        """One row per joint-latent dimension of the rows ``X``, ``y``: ``modality``, ``dim``
        (index within its modality), ``std`` (of the posterior means over the rows: near 0 for a
        collapsed dimension), ``posterior_var`` (mean posterior variance), ``kl`` (mean KL of the
        posterior from N(0, 1), nats) and, once stage 2 is fitted, ``edm_scale`` (what the EDM
        divides the centred dimension by before ``sigma_data``) and ``modelled`` (False: dropped,
        sampled at its mean)."""
        self._check_fitted()
        samples = self.paired(X, y)
        parts = [("tabular", *self.tab_vae_.posterior(samples.X_num, samples.X_cat))]
        if self.img_vae_ is not None:
            parts.append(("image", *self.img_vae_.posterior(samples.images)))
        frames = [pd.DataFrame({"modality": name, "dim": np.arange(mu.shape[1]), "std": mu.std(axis=0),
                                "posterior_var": np.exp(logvar).mean(axis=0),
                                "kl": gaussian_kl_per_dim(mu, logvar)})
                  for name, mu, logvar in parts]
        frame = pd.concat(frames, ignore_index=True)
        if getattr(self, "edm_", None) is not None:
            frame["edm_scale"] = self.edm_.std_
            frame["modelled"] = self.edm_.kept_
        return frame

    def describe(self) -> pd.DataFrame:
        """One row per fitted part: ``part, n_parameters, latent_dim, epochs, steps, batch_size,
        fit_seconds`` (epochs started and optimiser steps taken; ``steps`` is missing, NaN, for
        parts loaded from a file written before steps were recorded)."""
        self._check_fitted()
        parts = [("tab_vae", self.tab_vae_, self.tab_vae_.latent_dim_)]
        if self.img_vae_ is not None:
            parts.append(("img_vae", self.img_vae_, self.img_vae_.latent_dim_))
        if getattr(self, "edm_", None) is not None:
            parts.append(("edm", self.edm_, self.latent_dim_))
        rows = [{"part": name, "n_parameters": sum(p.numel() for p in _module_of(model).parameters()),
                 "latent_dim": dim, "epochs": len(model.loss_history_),
                 "steps": getattr(model, "n_steps_", math.nan), "batch_size": int(model.batch_size)}
                for name, model, dim in parts]
        frame = pd.DataFrame(rows)
        frame["fit_seconds"] = [self.fit_seconds_.get(p, math.nan) for p in frame["part"]]
        return frame

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path) -> None:
        """One file: ``torch.save`` of a dict of plain data (loads with ``weights_only=True``):
        the parameters, the fitted encoders and imager (:mod:`~idsynth.models.plain_state`) and
        each part's own checkpoint (as a byte tensor)."""
        self._check_fitted()
        fitted = {name: getattr(self, name) for name in
                  ("columns_", "dtypes_", "classes_", "tab_encoder_", "img_encoder_", "imager_", "fit_seconds_",
                   "n_train_")}
        state = {
            "format": FILE_FORMAT,
            "params": to_plain(self.get_params(), _STATE_CLASSES),
            "schema": self.schema_.to_dict(),
            "fitted": to_plain(fitted, _STATE_CLASSES),
            "tab_vae": _checkpoint_bytes(self.tab_vae_),
            "img_vae": None if self.img_vae_ is None else _checkpoint_bytes(self.img_vae_),
            "edm": None if getattr(self, "edm_", None) is None else _checkpoint_bytes(self.edm_),
        }
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            torch.save(state, handle)

    @classmethod
    def load(cls, path, device: str | None = None) -> "MAGEID":
        """Rebuild a saved model (``device`` overrides the saved one); it samples exactly as the
        saved model for the same ``random_state`` on the same device."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != FILE_FORMAT:
            raise ValueError(f"{path} does not hold a saved MAGEID ({FILE_FORMAT})")
        params = from_plain(state["params"], _STATE_CLASSES)
        if device is not None:
            params["device"] = device
        model = cls(**params)
        model.schema_ = Schema.from_dict(state["schema"])
        for name, value in from_plain(state["fitted"], _STATE_CLASSES).items():
            setattr(model, name, value)
        model.tab_vae_ = _checkpoint_load(TabVAE, state["tab_vae"], model.device)
        model.img_vae_ = None if state["img_vae"] is None else _checkpoint_load(ImageVAE, state["img_vae"], model.device)
        model.edm_ = None if state["edm"] is None else _checkpoint_load(LatentEDM, state["edm"], model.device)
        model._set_latent_layout()
        return model


# -- helpers ------------------------------------------------------------------------------------


def _module_of(model) -> torch.nn.Module:
    """The trained network of a part: ``net_`` (the VAEs) or ``denoiser_`` (the EDM)."""
    return model.net_ if hasattr(model, "net_") else model.denoiser_


def _checkpoint_bytes(model) -> torch.Tensor:
    """A part's own one-file checkpoint (``model.save``) as a uint8 tensor."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "part.pt"
        model.save(path)
        data = path.read_bytes()
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


def _checkpoint_load(cls, data: torch.Tensor, device: str):
    return cls.load(io.BytesIO(data.numpy().tobytes()), device=device)


# -- factories ----------------------------------------------------------------------------------
#: TabSyn's published hyper-parameters (Zhang et al. 2024, App. and reference code): Transformer
#: VAE with 4-dim tokens, 2 layers, 1 head, FFN 128, adaptive beta 1e-2 -> 1e-5 (x0.7 after 10
#: flat epochs), Adam 1e-3, batch 4096; EDM MLP 1024 (2 wide layers of 2048), batch 4096, 50 Heun
#: steps, sigma_data 0.5. Epochs: TabVAE 4000 and EDM up to 10,001 in the reference code; the
#: defaults here are shorter (see ``idsynth.config``'s ``mageid`` profile section for the
#: schedules the notebooks use).
TABSYN_TAB_VAE = {"d_token": 4, "n_heads": 1, "n_layers": 2, "d_ff": 128, "beta_max": 1e-2, "beta_min": 1e-5,
                  "beta_decay": 0.7, "patience": 10, "lr_decay": 0.95, "epochs": 2000, "batch_size": 4096,
                  "learning_rate": 1e-3}
TABSYN_EDM = {"hidden": 1024, "n_layers": 2, "epochs": 4000, "batch_size": 4096, "learning_rate": 1e-3,
              "num_steps": 50, "sigma_data": 0.5}
#: MAGE-ID's image branch (**our choice**; the poster gives no sizes): a 64-dim latent, the
#: image-size-dependent widths of :func:`~idsynth.models.img_vae.auto_widths`, beta 1e-3.
MAGEID_IMG_VAE = {"latent_dim": 64, "widths": None, "beta": 1e-3, "epochs": 500, "batch_size": 2048,
                  "learning_rate": 1e-3}
MAGEID_IMAGER = {"layout": "igtd"}


def _edm_changed(recipe: dict[str, dict], **edm: Any) -> dict[str, dict]:
    """``recipe`` with its EDM's arguments updated by ``edm`` (each recipe since v1 changed only the EDM)."""
    return {**recipe, "edm": {**recipe["edm"], **edm}}


_V1 = {"tab_vae": TABSYN_TAB_VAE, "img_vae": MAGEID_IMG_VAE, "edm": TABSYN_EDM, "imager": MAGEID_IMAGER}
_V2 = _edm_changed(_V1, latent_scaling="global")
_V3 = _edm_changed(_V2, class_init_std=0.02)
#: MAGE-ID's recipes: the defaults of each part (``tab_vae``, ``img_vae``, ``edm``, ``imager``)
#: that :func:`mageid` updates with its arguments, in the order each became the default
#: (:data:`MAGEID_RECIPE`). A new recipe is a new entry, never an edit of an old one, so that a
#: model trained under an old recipe keeps its cache key and can still be compared with
#: (notebook 13's ablation runs every change against ``"v1"``).
#:
#: - ``"v1"`` (to 2026-12-05): TabSyn's TabVAE and EDM, the joint latent standardised per
#:   dimension (:class:`LatentEDM`'s own default).
#: - ``"v2"``: the joint latent centred and divided by one pooled deviation, as TabSyn's reference
#:   does (``latent_scaling="global"``), chosen by notebook 13 at the ``cpu`` budget (3 seeds,
#:   paired): MAGE-ID's detectability +0.060 on NSL-KDD (beyond noise), precision, density and
#:   coverage up on every seed there, CIC-IDS-2017 within ±0.002. TabSyn keeps per-dimension
#:   standardisation (:data:`TABSYN_EDM`): for TabSyn the same change cost precision and density on
#:   CIC-IDS-2017 beyond noise.
#: - ``"v3"``: v2 with the EDM's class vectors drawn at std 0.02 instead of nn.Embedding's N(0, 1)
#:   (``class_init_std=0.02``): at initialisation the class vector outweighed the projected latent
#:   three to one and the EDM's loss sat on a long plateau (notebook 13 §§ 10-11). Chosen by
#:   notebook 13 at the ``cpu`` budget (``latent_global_class_init``, 3 seeds, paired with v2
#:   retrained by the same code, ``latent_global_retrain``; the same steps and seconds):
#:   CIC-IDS-2017 detectability 0.054 -> 0.118, precision 0.026 -> 0.045, density 0.011 -> 0.019,
#:   coverage 0.011 -> 0.016 (all beyond noise), NSL-KDD within noise on every metric. TabSyn
#:   keeps its recipe (the same change on its per-dimension latent cost its CIC-IDS-2017 recall
#:   beyond noise, ``edm_class_init_0.02``).
#: - ``"v4"``: v3 with the noise level's embedding input ``c_noise`` multiplied by 250 before the
#:   sinusoids (``noise_label_scale=250``), so that the noise levels, ``ln(sigma)/4`` about
#:   -1.5 to 1.2, spread over the embedding's frequencies. Chosen by notebook 13 at the ``cpu``
#:   budget (``v3_noise_label_250``, 3 seeds, paired with v3 itself, ``latent_global_class_init``;
#:   same steps, same seconds): CIC-IDS-2017 detectability 0.118 -> 0.186, precision 0.045 ->
#:   0.053, density 0.019 -> 0.024, coverage 0.016 -> 0.020 (all beyond noise); NSL-KDD within
#:   noise on every metric, though its means fell (detectability 0.671 -> 0.649, coverage 0.285 ->
#:   0.276). TabSyn keeps its recipe (the same change with the small class table cost its
#:   CIC-IDS-2017 recall beyond noise, ``class_init_noise_label_250``).
#: - ``"v5"``: v4 with class-balanced EDM minibatches (``class_balance=0.5``: a row of a class of
#:   n_c training rows drawn with weight n_c ** -0.5), a candidate for over-sampling, not the
#:   default: notebook 11 showed v4's EDM under-learning KDDTrain+'s rare classes (995 R2L and 52
#:   U2R rows of 125,973; 85-90 % of its R2L draws read as Normal by a forest trained on real rows)
#:   while its decoder keeps them. Measured as a Table 6 over-sampler (notebook 11 § 2) and on
#:   Table I (notebook 13, ``v4_class_balance_0.5`` against ``v4_retrain``); see the README.
#: - ``"v6"``: v4 with an image latent of 16 dimensions instead of 64 (``img_vae.latent_dim``; the
#:   image branch's size is ours, the poster gives none): the 64 image dimensions held 2-3 % of the
#:   joint latent's KL yet 28 % (NSL-KDD) / 17 % (CIC-IDS-2017) of the EDM's input. Chosen by
#:   notebook 13 at the ``cpu`` budget (``v4_tabvae_steps_2x_img_latent_16`` against
#:   ``v4_tabvae_steps_2x``, both on the 4,000-step TabVAE, paired by seed; a smaller model, same steps):
#:   NSL-KDD (5 seeds) precision +0.035, density +0.026, coverage +0.024; CIC-IDS-2017 (3 seeds)
#:   detectability +0.164, precision +0.035, density +0.018, coverage +0.012 (all beyond noise),
#:   recall and AUC within noise. The first recipe at 4 of 6 of Table I's metrics against TabSyn
#:   on both sets (the README's § cpu profile).
_V4 = _edm_changed(_V3, noise_label_scale=250.0)
MAGEID_RECIPES: dict[str, dict[str, dict]] = {
    "v1": _V1, "v2": _V2, "v3": _V3, "v4": _V4, "v5": _edm_changed(_V4, class_balance=0.5),
    "v6": {**_V4, "img_vae": {**_V4["img_vae"], "latent_dim": 16}},
}
#: The recipe :func:`mageid` builds unless told otherwise.
MAGEID_RECIPE = "v6"


def _merged(defaults: dict, overrides: dict | None) -> dict:
    return {**defaults, **(overrides or {})}


def tabsyn(tab_vae: dict | None = None, edm: dict | None = None, **kw) -> MAGEID:
    """TabSyn: :class:`MAGEID` with the tabular branch alone. ``tab_vae`` / ``edm`` update
    :data:`TABSYN_TAB_VAE` / :data:`TABSYN_EDM`; other keywords go to :class:`MAGEID`."""
    if "modalities" in kw and tuple(kw["modalities"]) != ("tabular",):
        raise ValueError(f"tabsyn() is the tabular branch alone; got modalities={kw['modalities']!r}")
    kw.pop("modalities", None)
    return MAGEID(modalities=("tabular",), tab_vae=_merged(TABSYN_TAB_VAE, tab_vae), edm=_merged(TABSYN_EDM, edm), **kw)


def mageid(tab_vae: dict | None = None, img_vae: dict | None = None, edm: dict | None = None,
           imager: dict | None = None, recipe: str = MAGEID_RECIPE, **kw) -> MAGEID:
    """MAGE-ID: both branches, the parts' defaults of ``recipe`` (:data:`MAGEID_RECIPES`; TabSyn's
    tabular VAE and EDM, :data:`MAGEID_IMG_VAE`, :data:`MAGEID_IMAGER`), each updated by the
    matching dict; other keywords go to :class:`MAGEID`."""
    if recipe not in MAGEID_RECIPES:
        raise ValueError(f"unknown MAGE-ID recipe {recipe!r}; known: {sorted(MAGEID_RECIPES)}")
    defaults = MAGEID_RECIPES[recipe]
    kw.setdefault("modalities", MODALITIES)
    return MAGEID(tab_vae=_merged(defaults["tab_vae"], tab_vae), img_vae=_merged(defaults["img_vae"], img_vae),
                  edm=_merged(defaults["edm"], edm), imager=_merged(defaults["imager"], imager), **kw)
