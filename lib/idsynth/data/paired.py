"""Paired tabular-image samples (MAGE-ID phase 1: "create paired tabular-image samples").

Row ``i`` of a :class:`PairedSamples` holds one flow twice: as the tabular model sees it
(``X_num[i]`` scaled numeric features, ``X_cat[i]`` category codes) and as the image model sees
it (``images[i]``, the :class:`~idsynth.imaging.TabularImager` picture of the same row), with
its class ``y[i]``. Stage 1 trains the tabular VAE on (X_num, X_cat) and the CNN VAE on images;
stage 2 diffuses their joint latent, so the pairing must never be broken: every subset, shuffle
and batch below moves the four arrays together.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from ..imaging import TabularImager
from .encoding import TabularEncoder
from .schema import Schema

ARRAYS = ("X_num", "X_cat", "y", "images")


def _is_tensor(value) -> bool:
    return isinstance(value, torch.Tensor)


def _as_tensor(value) -> torch.Tensor:
    """A tensor view of an array (copied when NumPy marks it read-only, e.g. a pandas column)."""
    if _is_tensor(value):
        return value
    value = np.ascontiguousarray(value)
    return torch.from_numpy(value if value.flags.writeable else value.copy())


@dataclass
class PairedSamples:
    """``n`` paired rows, as NumPy arrays or as torch tensors on one device.

    X_num: (n, n_num) float32, scaled numeric features.
    X_cat: (n, n_cat) int64 category codes (``n_cat`` may be 0).
    y: (n,) int64 class codes.
    images: (n, 1, H, W) float32 in [0, 1].
    num_features / cat_features: column names; cat_cardinalities: categories per column;
    class_names: name of each class code.
    """

    X_num: object
    X_cat: object
    y: object
    images: object
    num_features: tuple[str, ...] = ()
    cat_features: tuple[str, ...] = ()
    cat_cardinalities: tuple[int, ...] = ()
    class_names: tuple[str, ...] = field(default=())

    def __post_init__(self):
        n = len(self.y)
        expect = {"X_num": (2, "float32"), "X_cat": (2, "int64"), "y": (1, "int64"), "images": (4, "float32")}
        for name, (ndim, dtype) in expect.items():
            value = getattr(self, name)
            if not (_is_tensor(value) or isinstance(value, np.ndarray)):
                raise TypeError(f"{name} must be a NumPy array or a torch tensor, got {type(value).__name__}")
            if value.ndim != ndim or len(value) != n:
                raise ValueError(f"{name} must be {ndim}-D with {n} rows (as y), got shape {tuple(value.shape)}")
            if str(value.dtype).replace("torch.", "") != dtype:
                raise TypeError(f"{name} must be {dtype}, got {value.dtype}")
        if self.images.shape[1] != 1:
            raise ValueError(f"images must have one channel, got shape {tuple(self.images.shape)}")
        if self.num_features and len(self.num_features) != self.X_num.shape[1]:
            raise ValueError(f"{len(self.num_features)} numeric names for {self.X_num.shape[1]} columns")
        if self.cat_cardinalities and len(self.cat_cardinalities) != self.X_cat.shape[1]:
            raise ValueError(f"{len(self.cat_cardinalities)} cardinalities for {self.X_cat.shape[1]} categorical columns")

    # -- size and subsets ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.y)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    @property
    def device(self):
        """The torch device of the tensors, or None for NumPy arrays."""
        return self.y.device if _is_tensor(self.y) else None

    def _arrays(self) -> dict:
        return {name: getattr(self, name) for name in ARRAYS}

    def __getitem__(self, index) -> "PairedSamples":
        """The rows ``index`` (int, slice, integer array or boolean mask) as a PairedSamples;
        an int keeps the row axis (length 1)."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1 if int(index) != -1 else None)
        if _is_tensor(self.y) and not isinstance(index, slice):
            index = torch.as_tensor(index if _is_tensor(index) else np.asarray(index), device=self.y.device)
        return replace(self, **{name: value[index] for name, value in self._arrays().items()})

    def subset(self, rows) -> "PairedSamples":
        return self[rows]

    # -- devices ---------------------------------------------------------------------------------

    def to(self, device="auto") -> "PairedSamples":
        """The same rows as torch tensors on ``device`` (``"auto"``: CUDA when present)."""
        from ..config import resolve_device

        target = resolve_device(device)
        return replace(self, **{n: _as_tensor(v).to(target) for n, v in self._arrays().items()})

    def tensors(self, device=None) -> tuple:
        """(X_num, X_cat, y, images) as torch tensors: on ``device`` when given, else where they
        are (NumPy arrays become CPU tensors sharing their memory)."""
        if device is not None:
            moved = self.to(device)
        elif _is_tensor(self.y):
            moved = self
        else:
            moved = replace(self, **{n: _as_tensor(v) for n, v in self._arrays().items()})
        return tuple(getattr(moved, name) for name in ARRAYS)

    def numpy(self) -> "PairedSamples":
        """The same rows as NumPy arrays (copied back from the device)."""
        return replace(self, **{n: (v.detach().cpu().numpy() if _is_tensor(v) else v) for n, v in self._arrays().items()})

    # -- iteration -------------------------------------------------------------------------------

    def batches(self, batch_size: int, shuffle: bool = True, generator=None, drop_last: bool = False) -> Iterator["PairedSamples"]:
        """Mini-batches over the rows, shuffled where the data live (``torch.randperm`` on the
        tensors' device; NumPy arrays are shuffled with ``numpy.random.default_rng(generator)``).
        generator: a ``torch.Generator`` on that device (tensors) or a seed (NumPy)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        n = len(self)
        if _is_tensor(self.y):
            order = torch.randperm(n, device=self.y.device, generator=generator) if shuffle else torch.arange(n, device=self.y.device)
        else:
            order = np.random.default_rng(generator).permutation(n) if shuffle else np.arange(n)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            yield self[order[start : start + batch_size]]

    def as_torch_dataset(self):
        """A ``torch.utils.data.Dataset`` view: item ``i`` is (X_num[i], X_cat[i], y[i], images[i])."""
        return PairedDataset(self)

    def __repr__(self) -> str:
        where = f"device={self.device}" if self.device is not None else "numpy"
        return (
            f"PairedSamples(n={len(self)}, n_num={self.X_num.shape[1]}, n_cat={self.X_cat.shape[1]}, "
            f"image={self.image_shape}, classes={list(self.class_names) or 'codes'}, {where})"
        )

    # -- building --------------------------------------------------------------------------------

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        encoder: TabularEncoder,
        imager: TabularImager,
        label: str = "label",
        image_encoder: TabularEncoder | None = None,
        class_names: Sequence[str] = (),
    ) -> "PairedSamples":
        """Encode ``frame`` both ways with fitted transformers.

        encoder: fitted; gives (X_num, X_cat) by ``transform_split``. image_encoder: fitted
        min-max encoder whose ``transform`` matrix (n, d) in [0, 1] the imager was fitted on
        (default: ``encoder``). label: the column holding int class codes.
        """
        image_encoder = image_encoder or encoder
        if image_encoder.numeric_scaling != "minmax" or not image_encoder.clip:
            raise ValueError(
                "images need features in [0, 1]: pass a min-max image_encoder with clip=True "
                f"(this one scales numerics with {image_encoder.numeric_scaling!r}, clip={image_encoder.clip})"
            )
        if label not in frame.columns:
            raise ValueError(f"frame has no label column {label!r}")
        X_num, X_cat = encoder.transform_split(frame)
        images = imager.transform(image_encoder.transform(frame))
        return cls(
            X_num=X_num.astype(np.float32, copy=False),
            X_cat=X_cat.astype(np.int64, copy=False),
            y=np.array(frame[label], dtype=np.int64),
            images=images,
            num_features=tuple(encoder.numeric),
            cat_features=tuple(encoder.categorical),
            cat_cardinalities=tuple(int(c) for c in encoder.cardinalities_),
            class_names=tuple(class_names),
        )


class PairedDataset(Dataset):
    """``torch.utils.data.Dataset`` over a :class:`PairedSamples`: item ``i`` is the tuple
    (X_num[i], X_cat[i], y[i], images[i]) of tensors. For code that wants a Dataset; in-memory
    training should use :meth:`PairedSamples.batches` instead of a DataLoader."""

    def __init__(self, samples: PairedSamples):
        self.samples = samples
        self._tensors = samples.tensors()

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        return tuple(t[i] for t in self._tensors)


def fit_image_pipeline(
    frame: pd.DataFrame,
    schema: Schema,
    imager: TabularImager | None = None,
    handle_unknown: str = "ignore",
) -> tuple[TabularEncoder, TabularImager]:
    """Fit, on training rows, the min-max encoder of the schema's features (numeric block, then
    one-hot blocks) and the imager on its (n, d) output, named by ``feature_names_``.

    handle_unknown: categories unseen in ``frame`` encode as all-zero one-hot pixels (and code
    -1 in ``transform_split``) by default, so that test rows can still be imaged.
    Returns (fitted encoder, fitted imager).
    """
    encoder = TabularEncoder.from_schema(schema, numeric_scaling="minmax", clip=True, handle_unknown=handle_unknown)
    encoder.fit(frame)
    imager = imager if imager is not None else TabularImager()
    imager.fit(encoder.transform(frame), feature_names=encoder.feature_names_)
    return encoder, imager
