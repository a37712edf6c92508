"""TabDDPM (Kotelnikov et al., ICML 2023) as a generator of the project's protocol.

Class-conditional Gaussian + multinomial diffusion over mixed-type rows
(:mod:`~idsynth.models.tabddpm_diffusion`) with the MLPDiffusion denoiser
(:mod:`~idsynth.models.tabddpm_network`), trained as the official implementation: AdamW, a
learning rate annealed linearly to zero over ``steps`` optimiser steps, uniformly drawn
diffusion steps, samples from the trained (not averaged) weights.

Two ways in, one model::

    gen = TabDDPM(steps=20000).fit(frame, y)               # numeric + object/category columns
    synth_frame, synth_y = gen.sample({0: 500, 1: 500}, random_state=0)

    gen = TabDDPM().fit(X_num, X_cat, y, integer_columns=[0, 3])  # arrays
    (X_num_s, X_cat_s), y_s = gen.sample({"DoS": 100}, random_state=0)

Differences from the official code, on purpose: the categorical part of the network input is
the one-hot of the noisy categories (the official code feeds their log, i.e. 0 / −69), class
counts are exact (the official sampler draws labels from the class distribution), integer
columns are rounded rather than snapped to values seen in training, and by default
(``clip_denoised=True``) each reverse step clips its x̂_0 of the numerics to their support in
the quantile-normal space (the official sampler never clips; see the parameter's notes).
"""

from __future__ import annotations

import os
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from tqdm import tqdm

from ..config import resolve_device
from .base import labels_from_counts
from .tabddpm_data import CategoryCodes, FrameSchema, QuantileNormaliser
from .tabddpm_diffusion import MixedDiffusion
from .tabddpm_network import DEFAULT_D_LAYERS, MLPDiffusion
from .graphed_step import GraphedStep, step_schedule
from .training import autocast_bf16, keep_freed_memory, make_adam, shuffled_index_batches

FILE_FORMAT = "idsynth.models.tabddpm/1"
_LOG_EVERY = 100  # steps between progress-bar loss updates (the only host syncs while training)


# --- small training helpers (private; the lead may merge them with models/training.py) -------


def _endless_batches(n: int, batch_size: int, generator: torch.Generator, device) -> Iterator[torch.Tensor]:
    """Endless (min(batch_size, n),) index batches, reshuffled on the device every epoch; the
    incomplete last batch of an epoch is dropped (its rows come back in the next epochs)."""
    while True:
        yield from shuffled_index_batches(n, min(batch_size, n), generator, device, drop_last=True)


def _seed_or_fresh(random_state: int | None) -> int:
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state, (int, np.integer)):
        raise TypeError(f"random_state must be an int or None, got {random_state!r}")
    return int(random_state)


def _as_2d(name: str, X, n: int | None, dtype_kind: str) -> np.ndarray:
    """Validate an (n, d) array: 'f' = finite real numbers, 'i' = integers."""
    if X is None:
        return np.zeros((0 if n is None else n, 0), dtype=np.float64 if dtype_kind == "f" else np.int64)
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_rows, n_columns), got shape {X.shape}")
    if n is not None and X.shape[0] != n:
        raise ValueError(f"{name} has {X.shape[0]} rows; expected {n}")
    if dtype_kind == "f":
        if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
            raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
        X = X.astype(np.float64)
        if not np.all(np.isfinite(X)):
            raise ValueError(f"{name} holds NaN or infinite values")
    elif not np.issubdtype(X.dtype, np.integer):
        raise TypeError(f"{name} must hold integer category codes (int64), got dtype {X.dtype}")
    return X


class TabDDPM(BaseEstimator):
    """Class-conditional TabDDPM following :mod:`idsynth.models.base`.

    Parameters (stored unchanged, sklearn style)
    ----------
    num_timesteps : T, diffusion steps of both processes (paper: 1000; 100 for some sets).
    d_layers : widths of the denoiser's MLP (TabDDPM default ``(512, 1024, 1024, 512)``).
    dim_t : width of the projection, timestep and class embeddings (TabDDPM: 128).
    dropout : dropout of the MLP blocks (TabDDPM: 0).
    steps : optimiser steps (the paper tunes 5000 / 20000 / 30000).
    batch_size : rows per step (TabDDPM: 4096 on large sets); capped at the number of rows.
    learning_rate : AdamW's initial rate, annealed linearly to 0 (official default 2e-3).
    weight_decay : AdamW's decoupled weight decay (official default 1e-4).
    sample_batch_size : rows per reverse-process batch in ``sample``.
    clip_denoised : clip each reverse step's x̂_0 (the data implied by the predicted noise) of
        the numerics to their support in the quantile-normal space, [−5.1993, 5.1993] per column
        (see :attr:`QuantileNormaliser.bounds`), before forming the step's mean, as Ho et al.
        (2020) and Nichol & Dhariwal (2021) do for images in [−1, 1]. **Departs from the official
        TabDDPM code**, whose sampler accepts ``clip_denoised`` but never applies it (False is
        the official behaviour). Why: with the cosine schedule β_T is capped at 0.999, so the
        first reverse step multiplies the ε-prediction error by 1/√α_T ≈ 31.6 (and x̂_0 carries
        it times √(1/ᾱ_t − 1) ~ 10³–10⁴ at the top steps); a network that has not learnt
        ε ≈ x_t there to a few hundredths (the paper's MLP after 500 steps on CIC-IDS-2017:
        0.5 RMS) sends the numerics far outside the support, and every such value inverts to
        a column's minimum or maximum. Clipping changes nothing for the ideal denoiser, whose
        x̂_0 = E[x_0 | x_t] always lies in the support's box.
    mixed_precision : bf16 autocast for the MLP in training and sampling where the device
        computes bf16 natively (:func:`~idsynth.models.training.autocast_bf16`; the ``cpu``
        profile's choice). Off by default: the official code and our paper runs are fp32.
    device : ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ...
    random_state : seeds the weights, the batches and the diffusion noise of ``fit``.
    cuda_graph : on CUDA, replay each training step from a CUDA graph
        (:class:`~idsynth.models.graphed_step.GraphedStep`; the same kernels, one launch).
    verbose : tqdm progress bars.

    Fitted attributes: ``classes_``, ``n_numeric_``, ``category_sizes_``, ``integer_columns_``,
    ``schema_`` (a :class:`FrameSchema` when fitted on a DataFrame, else None), ``net_``,
    ``diffusion_``, ``loss_history_`` (DataFrame: step, loss, loss_gauss, loss_multi).
    """

    #: Bumped when a change alters what a fit learns (beyond rounding): cached models of the class
    #: are refitted (:mod:`idsynth.code_versions`, which records the code its fits run).
    CODE_VERSION = 1

    def __init__(
        self,
        num_timesteps: int = 1000,
        d_layers: Sequence[int] = DEFAULT_D_LAYERS,
        dim_t: int = 128,
        dropout: float = 0.0,
        steps: int = 20000,
        batch_size: int = 4096,
        learning_rate: float = 2e-3,
        weight_decay: float = 1e-4,
        sample_batch_size: int = 8192,
        clip_denoised: bool = True,
        mixed_precision: bool = False,
        device: str = "auto",
        random_state: int = 0,
        cuda_graph: bool = True,
        verbose: bool = True,
    ):
        self.num_timesteps = num_timesteps
        self.d_layers = d_layers
        self.dim_t = dim_t
        self.dropout = dropout
        self.steps = steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.sample_batch_size = sample_batch_size
        self.clip_denoised = clip_denoised
        self.mixed_precision = mixed_precision
        self.device = device
        self.random_state = random_state
        self.cuda_graph = cuda_graph
        self.verbose = verbose

    # --- validation ----------------------------------------------------------------------------

    def _check_params(self) -> None:
        positive_ints = {"num_timesteps": 2, "steps": 1, "batch_size": 1, "sample_batch_size": 1, "dim_t": 2}
        for name, low in positive_ints.items():
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if not isinstance(self.clip_denoised, (bool, np.bool_)):
            raise TypeError(f"clip_denoised must be a bool, got {self.clip_denoised!r}")
        if not float(self.learning_rate) > 0 or float(self.weight_decay) < 0:
            raise ValueError(
                f"need learning_rate > 0 and weight_decay >= 0, got {self.learning_rate}, {self.weight_decay}"
            )
        _seed_or_fresh(self.random_state)

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise NotFittedError("this TabDDPM is not fitted yet; call fit(...) first")

    # --- fit -----------------------------------------------------------------------------------

    def fit(self, X_num, X_cat=None, y=None, *, integer_columns: Sequence[int] | None = None) -> "TabDDPM":
        """Fit on ``fit(frame, y)`` or ``fit(X_num, X_cat, y, integer_columns=None)``.

        frame: DataFrame; numeric (non-bool) columns are diffused as Gaussians (integer dtypes
        rounded back), object / string / category / bool columns as categoricals.
        X_num: (n, n_num) real numbers in raw units, or None; X_cat: (n, n_cat) integer codes,
        or None; y: (n,) class labels; integer_columns: positions in X_num to round in samples.
        """
        self._check_params()
        if isinstance(X_num, pd.DataFrame):
            if (X_cat is not None and y is not None) or integer_columns is not None:
                raise TypeError("with a DataFrame, call fit(frame, y); integer columns come from the dtypes")
            labels = X_cat if X_cat is not None else y
            if labels is None:
                raise TypeError("fit(frame, y) needs the labels y")
            schema = FrameSchema.infer(X_num)
            num, cat = schema.split(X_num)
            num = _as_2d("the numeric columns", num, len(labels), "f")
            return self._fit_arrays(num, cat, labels, schema.integer_columns, schema)
        if y is None:
            raise TypeError("fit(X_num, X_cat, y) needs the labels y (pass X_cat=None for numeric-only data)")
        n = len(y)
        num = _as_2d("X_num", X_num, n, "f")
        cat = _as_2d("X_cat", X_cat, n, "i")
        cols = [] if integer_columns is None else [int(c) for c in integer_columns]
        if any(not 0 <= c < num.shape[1] for c in cols):
            raise ValueError(f"integer_columns {cols} must index the {num.shape[1]} columns of X_num")
        return self._fit_arrays(num, cat, y, sorted(set(cols)), None)

    def _fit_arrays(self, X_num: np.ndarray, X_cat: np.ndarray, y, integer_columns: list[int], schema) -> "TabDDPM":
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != X_num.shape[0]:
            raise ValueError(f"y must be 1-D with one label per row ({X_num.shape[0]}), got shape {y.shape}")
        if y.shape[0] < 2:
            raise ValueError("TabDDPM needs at least 2 rows to fit")
        if pd.isna(y).any():
            raise ValueError("y holds missing labels")
        if X_num.shape[1] + X_cat.shape[1] == 0:
            raise ValueError("the data has no feature columns")
        device = resolve_device(self.device)
        seed = _seed_or_fresh(self.random_state)

        self.classes_, y_idx = np.unique(y, return_inverse=True)
        self.normaliser_ = QuantileNormaliser(seed).fit(X_num)
        self.codes_ = CategoryCodes().fit(X_cat)
        self.n_numeric_ = X_num.shape[1]
        self.category_sizes_ = self.codes_.sizes
        self.integer_columns_ = list(integer_columns)
        self.schema_ = schema
        self._build(device, seed)

        x_num = torch.as_tensor(self.normaliser_.transform(X_num), device=device)
        x_cat = torch.as_tensor(self.codes_.transform(X_cat), device=device)
        labels = torch.as_tensor(y_idx.astype(np.int64), device=device)
        history = self._train(x_num, x_cat, labels, device, seed)
        self._set_history(history)
        return self

    def _build(self, device: torch.device, seed: int) -> None:
        """The diffusion and a freshly initialised network (seeded, built on CPU, then moved)."""
        self.diffusion_ = MixedDiffusion(self.n_numeric_, self.category_sizes_, int(self.num_timesteps), device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = MLPDiffusion(
                self.diffusion_.d_in, len(self.classes_), self.d_layers, int(self.dim_t), float(self.dropout)
            )
        self.net_ = net.to(device)
        self.device_ = device

    def _train(self, x_num, x_cat, y, device: torch.device, seed: int) -> torch.Tensor:
        """``steps`` AdamW steps; returns the (steps, 2) per-step [gaussian, multinomial] losses."""
        steps = int(self.steps)
        net, diffusion = self.net_, self.diffusion_
        generator = torch.Generator(device=device).manual_seed(seed)
        optimiser = make_adam(net.parameters(), float(self.learning_rate), float(self.weight_decay), device, decoupled=True)
        annealing = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1.0 - step / steps)
        history = torch.zeros((steps, 2), device=device)
        batches = _endless_batches(y.shape[0], int(self.batch_size), generator, device)

        def step_on(idx):
            with autocast_bf16(device, bool(self.mixed_precision), cache_enabled=False):
                loss_gauss, loss_multi = diffusion.loss(net, x_num[idx], x_cat[idx], y[idx], runner.generator)
            (loss_gauss + loss_multi).backward()
            optimiser.step()
            return (torch.stack([loss_gauss.detach(), loss_multi.detach()]),)

        runner = GraphedStep(step_on, optimiser, device, enabled=self.cuda_graph, generator=generator)
        net.train()
        bar = tqdm(range(steps), desc="TabDDPM", disable=not self.verbose)
        with runner.seeded(seed):
            for step in bar:
                (history[step],) = runner(next(batches))
                step_schedule(annealing)
                if self.verbose and (step + 1) % _LOG_EVERY == 0:
                    recent = history[step + 1 - _LOG_EVERY : step + 1].mean(dim=0).tolist()
                    bar.set_postfix(gauss=f"{recent[0]:.4f}", multi=f"{recent[1]:.4f}")
        self.cuda_graphs_ = runner.n_graphs  # batch shapes replayed from CUDA graphs (0: eager)
        net.eval()
        return history.cpu()

    def _set_history(self, history: torch.Tensor) -> None:
        h = history.numpy().astype(np.float64)
        self.loss_history_ = pd.DataFrame(
            {"step": np.arange(1, len(h) + 1), "loss": h.sum(axis=1), "loss_gauss": h[:, 0], "loss_multi": h[:, 1]}
        )

    # --- sample --------------------------------------------------------------------------------

    def sample(self, n_per_class: Mapping[Any, int], random_state: int | None = None):
        """Rows of the requested classes, exactly ``n_per_class[label]`` of each, grouped by class
        in the mapping's order.

        Returns ``(frame, y)`` when fitted on a DataFrame, else ``((X_num, X_cat), y)`` with
        X_num (m, n_num) float32 in raw units and X_cat (m, n_cat) int64 codes as given to fit.
        ``random_state=None`` draws fresh randomness; an int gives identical rows on one device.
        """
        self._check_fitted()
        labels = labels_from_counts(n_per_class, self.classes_)
        y_idx = np.searchsorted(self.classes_, labels).astype(np.int64)
        generator = torch.Generator(device=self.device_).manual_seed(_seed_or_fresh(random_state))
        keep_freed_memory(self.device_)  # a model loaded from the cache has not run make_adam in this process
        bounds = None
        if self.clip_denoised:
            bounds = tuple(torch.as_tensor(b, device=self.device_) for b in self.normaliser_.bounds)
        z_parts, code_parts = [], []
        size = int(self.sample_batch_size)
        for start in tqdm(range(0, len(y_idx), size), desc="TabDDPM sample", disable=not self.verbose):
            y_batch = torch.as_tensor(y_idx[start : start + size], device=self.device_)
            with autocast_bf16(self.device_, bool(self.mixed_precision)):
                z, codes = self.diffusion_.sample(self.net_, y_batch, generator, bounds)
            z_parts.append(z.cpu().numpy())
            code_parts.append(codes.cpu().numpy())
        z = np.concatenate(z_parts) if z_parts else np.zeros((0, self.n_numeric_), np.float32)
        codes = np.concatenate(code_parts) if code_parts else np.zeros((0, len(self.category_sizes_)), np.int64)
        if not np.all(np.isfinite(z)):
            raise RuntimeError("the reverse process produced NaN or infinite values (diverged training?)")
        X_num = self.normaliser_.inverse_transform(z, self.integer_columns_)
        cat_values = self.codes_.inverse_transform(codes)
        if self.schema_ is not None:
            return self.schema_.build(X_num, cat_values), labels
        X_cat = np.column_stack(cat_values).astype(np.int64) if cat_values else np.zeros((len(labels), 0), np.int64)
        return (X_num.astype(np.float32), X_cat), labels

    # --- persistence ---------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """One file (torch format, plain tensors / lists / strings: loads with weights_only=True)."""
        self._check_fitted()
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()}
        params["d_layers"] = [int(d) for d in self.d_layers]
        h = self.loss_history_
        state = {
            "format": FILE_FORMAT,
            "params": params,
            "classes": self.classes_.tolist(),
            "classes_is_object": self.classes_.dtype == object,
            "n_numeric": self.n_numeric_,
            "category_sizes": list(self.category_sizes_),
            "integer_columns": self.integer_columns_,
            "normaliser": self.normaliser_.state_dict(),
            "codes": self.codes_.state_dict(),
            "schema": None if self.schema_ is None else self.schema_.state_dict(),
            "net": {k: v.detach().cpu() for k, v in self.net_.state_dict().items()},
            "loss_history": torch.tensor(h[["loss_gauss", "loss_multi"]].to_numpy(dtype=np.float32, copy=True)),
        }
        with open(path, "wb") as fh:
            torch.save(state, fh)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = None) -> "TabDDPM":
        """A model saved by :meth:`save`; ``device`` overrides the saved device setting."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != FILE_FORMAT:
            raise ValueError(f"{path} is not a TabDDPM file saved by idsynth (format {FILE_FORMAT})")
        params = dict(state["params"])
        params["d_layers"] = tuple(params["d_layers"])
        if device is not None:
            params["device"] = device
        model = cls(**params)
        model.classes_ = np.asarray(state["classes"], dtype=object if state["classes_is_object"] else None)
        model.n_numeric_ = int(state["n_numeric"])
        model.category_sizes_ = tuple(state["category_sizes"])
        model.integer_columns_ = list(state["integer_columns"])
        model.normaliser_ = QuantileNormaliser.from_state(state["normaliser"])
        model.codes_ = CategoryCodes.from_state(state["codes"])
        model.schema_ = None if state["schema"] is None else FrameSchema.from_state(state["schema"])
        model._build(resolve_device(model.device), 0)
        model.net_.load_state_dict(state["net"])
        model.net_.eval()
        model._set_history(state["loss_history"].to(torch.float64))
        return model
