"""Small, generic training utilities shared by the neural generators.

* :class:`DeviceBatches`: mini-batches of whole-dataset tensors that already live on the device,
  shuffled on the device by a seeded ``torch.Generator`` (no DataLoader, no host round trips).
* :func:`make_adam`: Adam, fused into one kernel per step and graph-capturable on CUDA.
* :class:`LossAccumulator`: per-epoch loss sums kept on the device, read back once per epoch.
* :func:`epoch_bar`: a tqdm range over epochs that shows the last epoch's losses.
* :func:`save_checkpoint` / :func:`load_checkpoint`: configuration + ``state_dict`` + extras
  in one ``torch.save`` file, written atomically and read with ``weights_only=True``.
* :class:`TorchEstimatorMixin`: fitted-state checks and ``save`` / ``load`` for estimators that
  hold one module in ``net_``.
* :func:`gaussian_kl`, :func:`seeded_init`, :func:`make_generator`, :func:`batched_apply`, :func:`count_parameters`,
  :func:`check_float_array`.
"""

from __future__ import annotations

import contextlib
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
from tqdm import tqdm

from ..cache import atomic_path
from ..config import resolve_device

CHECKPOINT_FORMAT = 1


def make_generator(seed: int, device: torch.device | str) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (for randperm / randn there)."""
    generator = torch.Generator(device=torch.device(device))
    generator.manual_seed(int(seed))
    return generator


@contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Run a block (typically module construction on the CPU) under ``torch.manual_seed(seed)``.

    The global CPU RNG state is restored afterwards, so building a model neither depends on
    nor disturbs whatever else the caller seeded. Build on the CPU, then ``.to(device)``: the
    initial weights are then the same on every device.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


class DeviceBatches:
    """Mini-batches over tensors that share their first dimension and live on one device.

    Each ``iter()`` is one epoch: when ``shuffle``, the rows are permuted once with
    ``torch.randperm(n, generator=generator)`` on the device, every tensor is gathered once in
    that order, and the batches are contiguous slices of the gathered copies. The last batch
    holds the remaining ``n % batch_size`` rows (none is dropped).

    Example: ``for xb, yb in DeviceBatches(X, y, batch_size=4096, generator=g): ...``
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int, generator: torch.Generator | None = None,
                 shuffle: bool = True):
        if not tensors:
            raise ValueError("DeviceBatches needs at least one tensor")
        n_rows = tensors[0].shape[0]
        for t in tensors:
            if t.shape[0] != n_rows:
                raise ValueError(f"all tensors must have the same number of rows; got "
                                 f"{[tuple(t.shape) for t in tensors]}")
            if t.device != tensors[0].device:
                raise ValueError(f"all tensors must be on one device; got {[str(t.device) for t in tensors]}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if shuffle and generator is None:
            raise ValueError("shuffle=True needs a seeded torch.Generator (see make_generator)")
        if shuffle and generator.device.type != tensors[0].device.type:
            raise ValueError(f"the generator is on {generator.device} but the tensors are on {tensors[0].device}")
        self.tensors = tensors
        self.n_rows = int(n_rows)
        self.batch_size = int(batch_size)
        self.generator = generator
        self.shuffle = bool(shuffle)

    def __len__(self) -> int:
        return -(-self.n_rows // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        tensors = self.tensors
        if self.shuffle:
            order = torch.randperm(self.n_rows, generator=self.generator, device=tensors[0].device)
            tensors = tuple(t.index_select(0, order) for t in tensors)
        for start in range(0, self.n_rows, self.batch_size):
            yield tuple(t[start:start + self.batch_size] for t in tensors)


def make_adam(params, learning_rate: float, weight_decay: float, device: torch.device,
              decoupled: bool = False) -> torch.optim.Optimizer:
    """Adam (AdamW when ``decoupled``), the fused implementation (one pass over each parameter
    per step; on one CPU core 10.6 ms instead of 51 ms for the EDM's 8.9 M parameters, 0.24 ms
    instead of 1.3 ms for the TabVAE's 60 small tensors; the same update up to rounding). On
    CUDA it is graph-capturable, with the learning rate in a device tensor (a scheduler or
    :func:`~idsynth.models.graphed_step.set_learning_rate` changes it in place, which a captured
    step then reads). On the CPU it first calls :func:`keep_freed_memory` (every generator's fit
    builds its optimiser here)."""
    optimiser = torch.optim.AdamW if decoupled else torch.optim.Adam
    kind = torch.device(device).type
    if kind != "cuda":
        keep_freed_memory(device)
        fused = True if kind == "cpu" else None  # elsewhere PyTorch's default
        return optimiser(params, lr=float(learning_rate), weight_decay=float(weight_decay), fused=fused)
    lr = torch.tensor(float(learning_rate), device=device)
    return optimiser(params, lr=lr, weight_decay=float(weight_decay), fused=True, capturable=True)


def shuffled_index_batches(n: int, batch_size: int, generator: torch.Generator, device,
                           drop_last: bool = False) -> tuple[torch.Tensor, ...]:
    """One epoch of row-index batches in a device-side random order.

    ``drop_last`` drops the short final batch (its rows come back in later epochs).
    """
    order = torch.randperm(int(n), generator=generator, device=device)
    batches = order.split(int(batch_size))
    if drop_last and len(batches) > 1 and batches[-1].numel() < int(batch_size):
        batches = batches[:-1]
    return batches


def weighted_index_batches(weights: torch.Tensor, batch_size: int, generator: torch.Generator,
                           drop_last: bool = False) -> tuple[torch.Tensor, ...]:
    """One epoch of row-index batches drawn with replacement, row ``i`` with probability
    proportional to ``weights[i]`` ((n,) non-negative, on the training device): as many rows as
    an epoch of :func:`shuffled_index_batches`, so step budgets count the same."""
    order = torch.multinomial(weights, int(weights.numel()), replacement=True, generator=generator)
    batches = order.split(int(batch_size))
    if drop_last and len(batches) > 1 and batches[-1].numel() < int(batch_size):
        batches = batches[:-1]
    return batches


def class_balance_weights(codes: np.ndarray, exponent: float) -> np.ndarray:
    """Row weights ``n_c ** -exponent`` for rows of class codes ``codes`` (n,) (``n_c`` the rows of
    that class): 0 draws rows uniformly (each class in proportion to its rows), 1 every class
    equally often, 0.5 between (a class's share of the draws ∝ sqrt(n_c)). float64 (n,)."""
    if not float(exponent) >= 0.0:
        raise ValueError(f"the class-balance exponent must be >= 0, got {exponent!r}")
    counts = np.bincount(np.asarray(codes))
    return counts[np.asarray(codes)].astype(np.float64) ** -float(exponent)


_ALLOCATOR_TUNED = False
#: glibc's M_TRIM_THRESHOLD set by :func:`keep_freed_memory`: the largest value its ``int`` holds
#: (2 GiB - 1). Until 2026-12-06 the call passed 4 GiB, which wrapped to 0 (trim at every free).
TRIM_THRESHOLD = (1 << 31) - 1


def keep_freed_memory(device: torch.device | str | None = None) -> None:
    """Make glibc keep freed memory for reuse instead of returning it to the OS (once per process).

    Called by every CPU loop over large tensors: fits (:func:`make_adam`) and samplers (a model
    loaded from the cache samples in a process that never built an optimiser). With ``device``
    given, a no-op unless it is the CPU (on CUDA the activations are not the host's).

    A CPU training step allocates and frees the same large activations every step; glibc serves
    blocks above its mmap threshold with fresh ``mmap`` calls, so each step page-faults its
    activations in again (measured: ~525,000 faults and ~36 % of a TabVAE step at batch 4096 on 2
    cores; the first steps take 4 s instead of 0.6 s). ``mallopt(M_MMAP_MAX, 0)`` serves them from
    the heap and ``M_TRIM_THRESHOLD`` of 2 GiB (:data:`TRIM_THRESHOLD`) keeps it. The process's resident memory then stays
    at its peak. No-op off glibc or with ``IDSYNTH_KEEP_FREED_MEMORY=0``.
    """
    global _ALLOCATOR_TUNED
    if device is not None and torch.device(device).type != "cpu":
        return
    if _ALLOCATOR_TUNED or os.environ.get("IDSYNTH_KEEP_FREED_MEMORY", "1") == "0":
        return
    _ALLOCATOR_TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]  # an out-of-range value raises, not wraps
        M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's malloc.h
        libc.mallopt(M_MMAP_MAX, 0)
        libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    except (OSError, AttributeError):
        pass


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU computes bf16 matmuls natively (AVX-512 BF16 or AMX, via oneDNN); without
    them bf16 is emulated and slower than fp32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_bf16(device: torch.device, enabled: bool = True, cache_enabled: bool = True):
    """bf16 autocast when ``enabled``: on CUDA, and on CPUs with native bf16 matmuls
    (:func:`cpu_has_fast_bf16`; measured on 2 Xeon cores with AMX, an EDM-sized MLP step at batch
    4096 takes 1.08 s instead of 2.65 s); a no-op context elsewhere (fp32). A step captured in a
    CUDA graph needs ``cache_enabled=False`` (no cast weights kept across the capture)."""
    kind = torch.device(device).type
    if enabled and (kind == "cuda" or (kind == "cpu" and cpu_has_fast_bf16())):
        return torch.autocast(kind, dtype=torch.bfloat16, cache_enabled=cache_enabled)
    return contextlib.nullcontext()


@dataclass(frozen=True)
class StepBudget:
    """A training length in optimiser steps of ``batch_size`` rows over a set of ``n_rows``.

    Epochs are whole passes over the shuffled rows (``batches_per_epoch`` steps, the last batch
    holding the remainder); the final epoch stops after the budget's remaining steps.
    """

    steps: int
    batch_size: int
    batches_per_epoch: int

    @property
    def epochs(self) -> int:
        """Epochs started (the last one possibly partial)."""
        return -(-self.steps // self.batches_per_epoch)

    def steps_in(self, epoch: int) -> int:
        """Optimiser steps taken in epoch ``epoch`` (0-based)."""
        return min(self.batches_per_epoch, self.steps - epoch * self.batches_per_epoch)


def step_budget(n_rows: int, batch_size: int, epochs: int | None = None, steps: int | None = None,
                drop_last: bool = False) -> StepBudget:
    """The :class:`StepBudget` of a fit: ``steps`` optimiser steps when given (a profile's CPU
    budget), else ``epochs`` full passes converted to steps (``epochs * ceil(n_rows / batch)``, or
    ``floor`` with ``drop_last``). The batch is capped at ``n_rows``."""
    batch = min(int(batch_size), int(n_rows))
    if batch < 1:
        raise ValueError(f"batch_size and the number of rows must be >= 1, got {batch_size}, {n_rows}")
    per_epoch = int(n_rows) // batch if drop_last else -(-int(n_rows) // batch)
    if steps is None:
        if epochs is None or int(epochs) < 1:
            raise ValueError(f"give epochs >= 1 or steps >= 1, got epochs={epochs!r}, steps={steps!r}")
        steps = int(epochs) * per_epoch
    elif int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps!r}")
    return StepBudget(int(steps), batch, per_epoch)


class LossAccumulator:
    """Row-weighted sums of scalar losses, kept on the device during an epoch.

    ``add(n_rows, mse=t1, ce=t2)`` adds ``n_rows * t`` for each (detached) 0-d tensor without
    a host sync; ``means()`` returns ``{name: float}`` with a single device-to-host copy.
    """

    def __init__(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}
        self._rows = 0

    def add(self, n_rows: int, **losses: torch.Tensor) -> None:
        for name, value in losses.items():
            value = value.detach() * n_rows
            self._sums[name] = self._sums[name] + value if name in self._sums else value
        self._rows += int(n_rows)

    def means(self) -> dict[str, float]:
        if not self._sums:
            return {}
        names = list(self._sums)
        values = torch.stack([self._sums[k].float() for k in names]).div(self._rows).tolist()
        return dict(zip(names, values))


def epoch_bar(epochs: int, verbose: bool, desc: str):
    """``tqdm(range(epochs))``; call ``bar.set_postfix(losses)`` once per epoch."""
    return tqdm(range(int(epochs)), desc=desc, unit="epoch", disable=not verbose, leave=False)


def step_bar(total: int, verbose: bool, desc: str):
    """``tqdm(total=total)`` counting steps (e.g. a sampler's network steps); ``bar.update()`` per step."""
    return tqdm(total=int(total), desc=desc, unit="step", disable=not verbose, leave=False)


def budget_bar(budget: StepBudget, verbose: bool, desc: str):
    """:func:`epoch_bar` over a :class:`StepBudget`'s epochs, its description naming the steps."""
    return epoch_bar(budget.epochs, verbose, f"{desc} ({budget.steps} steps of {budget.batch_size})")


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per latent coordinate, averaged over all coordinates
    and rows (TabSyn's normalisation); a 0-d tensor."""
    return -0.5 * torch.mean(1 + logvar - mu.square() - logvar.exp())


def gaussian_kl_per_dim(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """``mu, logvar (n, d)`` -> ``(d,)``: KL(N(mu, exp(logvar)) || N(0, 1)) of each coordinate,
    averaged over the rows (nats); a collapsed coordinate has KL near 0."""
    return (-0.5 * (1.0 + logvar - np.square(mu) - np.exp(logvar))).mean(axis=0)


def count_parameters(module: torch.nn.Module) -> int:
    """Number of trainable scalars in ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@torch.no_grad()
def batched_apply(fn: Callable[..., Any], *tensors: torch.Tensor, batch_size: int) -> Any:
    """Apply ``fn`` to row slices of ``tensors`` and concatenate the results along dim 0.

    ``fn`` returns a tensor or a tuple/list of tensors; the result has the same structure.
    Bounds peak memory at inference time for large inputs.
    """
    n_rows = tensors[0].shape[0]
    pieces = [fn(*(t[s:s + batch_size] for t in tensors)) for s in range(0, max(n_rows, 1), batch_size)]
    if isinstance(pieces[0], torch.Tensor):
        return torch.cat(pieces, dim=0)
    return type(pieces[0])(torch.cat(parts, dim=0) for parts in zip(*pieces))


def save_checkpoint(path: str | os.PathLike, *, kind: str, config: Mapping[str, Any],
                    state_dict: Mapping[str, torch.Tensor], extra: Mapping[str, Any] | None = None) -> None:
    """Write ``{kind, config, state_dict, extra}`` to ``path`` with one ``torch.save``.

    ``config`` holds the constructor arguments, ``extra`` the fitted state that is not in the
    ``state_dict`` (plain Python numbers, strings, lists, dicts, tensors). The tensors are moved to
    the CPU first so a checkpoint written on a GPU loads anywhere. The write is atomic.
    """
    payload = {
        "format": CHECKPOINT_FORMAT,
        "kind": str(kind),
        "config": dict(config),
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
        "extra": dict(extra or {}),
    }
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(payload, handle)


def load_checkpoint(path: str | os.PathLike, *, kind: str, map_location: str | torch.device = "cpu") -> dict:
    """Read a file written by :func:`save_checkpoint`; checks that it holds a ``kind`` model.

    Loaded with ``weights_only=True`` (no arbitrary code runs). Returns the payload dict.
    """
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an idsynth checkpoint (format {CHECKPOINT_FORMAT})")
    if payload.get("kind") != kind:
        raise ValueError(f"{path} holds a {payload.get('kind')!r} model, expected {kind!r}")
    return payload


def check_float_array(name: str, values, trailing_shape: Sequence[int]) -> np.ndarray:
    """``values`` as a C-contiguous float32 array of shape ``(n, *trailing_shape)``.

    Raises ``TypeError`` for non-numeric input and ``ValueError`` for a wrong shape or NaN/inf.
    """
    array = np.asarray(values)
    expected = ("n", *map(int, trailing_shape))
    if array.ndim != len(expected) or tuple(array.shape[1:]) != expected[1:]:
        raise ValueError(f"{name} must have shape ({', '.join(map(str, expected))}), got {array.shape}")
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


class TorchEstimatorMixin:
    """Fitted-state checks and one-file persistence for an estimator holding one module in ``net_``.

    The subclass is a scikit-learn ``BaseEstimator`` (``get_params`` gives its constructor
    arguments) and defines ``checkpoint_kind``, ``_build_net()`` (a freshly initialised module,
    on the CPU) and ``_set_fitted(net, device)`` (stores ``net_``, ``device_`` and derived
    attributes). ``save`` stores the arguments, the weights and ``loss_history_``; ``load``
    rebuilds the module and restores them, so a loaded model gives the same outputs.
    """

    checkpoint_kind: str

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet; call fit first")

    def _to_device(self, *arrays: np.ndarray) -> tuple[torch.Tensor, ...]:
        return tuple(torch.from_numpy(np.ascontiguousarray(a)).to(self.device_) for a in arrays)

    def _checkpoint_config(self) -> dict[str, Any]:
        return self.get_params()

    def save(self, path: str | os.PathLike) -> None:
        """One file: constructor arguments, weights and the per-epoch loss history."""
        self._check_fitted()
        extra = {"loss_history": self.loss_history_}
        extra.update({name: getattr(self, f"{name}_") for name in ("n_steps", "fit_seconds") if hasattr(self, f"{name}_")})
        save_checkpoint(path, kind=self.checkpoint_kind, config=self._checkpoint_config(),
                        state_dict=self.net_.state_dict(), extra=extra)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = None):
        """Rebuild a saved model on ``device`` (default: the saved ``device`` argument)."""
        payload = load_checkpoint(path, kind=cls.checkpoint_kind)
        config = dict(payload["config"])
        if device is not None:
            config["device"] = device
        model = cls(**config)
        net = model._build_net()
        net.load_state_dict(payload["state_dict"])
        model._set_fitted(net, resolve_device(model.device))
        model.loss_history_ = list(payload["extra"]["loss_history"])
        for name in ("n_steps", "fit_seconds"):  # absent from files written before they were recorded
            if name in payload["extra"]:
                setattr(model, f"{name}_", payload["extra"][name])
        return model
