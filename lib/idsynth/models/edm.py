"""EDM latent diffusion (Karras et al. 2022): MAGE-ID's stage 2, TabSyn's latent model.

"Elucidating the Design Space of Diffusion-Based Generative Models" (Karras, Aittala, Aila,
Laine; NeurIPS 2022) is cited below as *EDM*. Each formula is one small piece, and the pieces
only meet through a denoiser ``D(x; sigma, labels)``:

* :class:`EDMPrecond` wraps *any* raw network ``F(x_in, c_noise, labels)`` into the
  preconditioned denoiser ``D`` (EDM Eq. 7, Table 1).
* :class:`EDMLoss` is a callable ``(D, x, labels) -> per-sample loss`` (EDM Eq. 2 and 8,
  Table 1).
* :func:`edm_sigma_steps` and :func:`edm_sampler` integrate the probability-flow ODE with
  Heun's method (EDM Eq. 5, Algorithms 1 and 2); the sampler is a pure function of
  ``(net, latents, labels, num_steps, sigma_min, sigma_max, rho)``.
* :class:`MLPDenoiser` is the raw network ``F`` (an MLP in the spirit of TabSyn's
  ``MLPDiffusion``) with a sinusoidal noise embedding and a class embedding that reserves a
  *null* class for classifier-free guidance (Ho & Salimans 2022).
* :class:`LatentEDM` puts them together as a generator of latent vectors
  (``fit(Z, y)`` / ``sample(n_per_class)`` / ``save`` / ``load``, the protocol of
  :mod:`idsynth.models.base`).

Swapping the network never touches the loss or the sampler.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import nn

from idsynth.config import resolve_device
from idsynth.models.base import labels_from_counts
from idsynth.models.graphed_step import GraphedStep, set_learning_rate, step_schedule
from idsynth.models.training import (
    autocast_bf16, budget_bar, class_balance_weights, keep_freed_memory, make_adam, shuffled_index_batches, step_bar,
    step_budget, weighted_index_batches,
)

__all__ = [
    "EDMPrecond",
    "EDMLoss",
    "SinusoidalEmbedding",
    "MLPDenoiser",
    "edm_sigma_steps",
    "edm_sampler",
    "LatentEDM",
]


def _sigma_column(sigma, x: torch.Tensor) -> torch.Tensor:
    """``sigma`` (a float, a 0-d tensor, ``(n,)`` or ``(n, 1)``) -> a ``(n or 1, 1)`` tensor like ``x``."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if sigma.ndim == 0:
        return sigma.reshape(1, 1)
    if sigma.ndim == 1:
        sigma = sigma.reshape(-1, 1)
    if sigma.ndim != 2 or sigma.shape[1] != 1 or sigma.shape[0] not in (1, x.shape[0]):
        raise ValueError(
            f"sigma must be a scalar or hold one noise level per row of x ({x.shape[0]}); got shape {tuple(sigma.shape)}"
        )
    return sigma


# --------------------------------------------------------------------------------------
# EDM Eq. 7 and Table 1 ("Ours"): D(x; σ) = c_skip(σ) x + c_out(σ) F(c_in(σ) x; c_noise(σ)).
class EDMPrecond(nn.Module):
    """The preconditioned denoiser ``D(x; sigma, labels)`` around a raw network ``F``.

    ``net(x_in: (n, d), c_noise: (n,) or (1,), labels) -> (n, d)`` is any module; ``sigma_data``
    is the standard deviation the data are assumed to have (per dimension). The scalings make
    the network's input and its training target unit-variance at every noise level.
    """

    def __init__(self, net: nn.Module, sigma_data: float = 0.5):
        super().__init__()
        if not sigma_data > 0:
            raise ValueError(f"sigma_data must be positive, got {sigma_data}")
        self.net = net
        self.sigma_data = float(sigma_data)

    def c_skip(self, sigma):
        return self.sigma_data**2 / (sigma**2 + self.sigma_data**2)

    def c_out(self, sigma):
        return sigma * self.sigma_data / (sigma**2 + self.sigma_data**2) ** 0.5

    def c_in(self, sigma):
        return 1.0 / (sigma**2 + self.sigma_data**2) ** 0.5

    @staticmethod
    def c_noise(sigma):
        return torch.log(torch.as_tensor(sigma)) / 4.0

    def forward(self, x: torch.Tensor, sigma, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: (n, d) noisy data; ``sigma``: scalar or (n,) noise levels; -> D(x; sigma): (n, d)."""
        if x.ndim != 2:
            raise ValueError(f"x must be 2-D (n, d), got shape {tuple(x.shape)}")
        sigma = _sigma_column(sigma, x)
        raw = self.net(self.c_in(sigma) * x, self.c_noise(sigma).reshape(-1), labels)
        return self.c_skip(sigma) * x + self.c_out(sigma) * raw.to(x.dtype)


class _EpochWatch:
    """The epoch-level rules of :class:`LatentEDM`'s fit: learning-rate schedule, best weights,
    early stopping. With the defaults (constant rate, no best, no stopping) it never reads the
    loss, so training keeps its single host sync per progress report."""

    def __init__(self, model: "LatentEDM", optimiser: torch.optim.Optimizer, total_steps: int):
        self.model, self.optimiser, self.total_steps = model, optimiser, int(total_steps)
        self.base_lr = float(model.learning_rate)
        self.plateau = (torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, factor=0.9, patience=20)
                        if model.lr_schedule == "plateau" else None)
        self.reads_loss = self.plateau is not None or model.keep_best or model.early_stop_patience is not None
        self.best, self.best_state, self.since_best = math.inf, None, 0
        model.best_epoch_, model.stopped_epoch_ = None, None

    def after_step(self, step: int) -> None:
        if self.model.lr_schedule == "cosine":  # EDM/TabSyn keep it constant; an annealing alternative
            set_learning_rate(self.optimiser, 0.5 * self.base_lr * (1 + math.cos(math.pi * step / self.total_steps)))

    def after_epoch(self, epoch: int, loss: torch.Tensor) -> bool:
        """Apply the epoch rules; True when training should stop."""
        if not self.reads_loss:
            return False
        value = float(loss)
        if self.plateau is not None:
            step_schedule(self.plateau, value)
        if value < self.best:
            self.best, self.since_best, self.model.best_epoch_ = value, 0, epoch
            if self.model.keep_best:
                self.best_state = _state_copy(self.model)
        else:
            self.since_best += 1
        patience = self.model.early_stop_patience
        if patience is not None and self.since_best >= int(patience):
            self.model.stopped_epoch_ = epoch
            return True
        return False

    def restore_best(self) -> None:
        if self.best_state is not None:
            denoiser, ema = self.best_state
            self.model.denoiser_.load_state_dict(denoiser)
            if ema is not None:
                self.model.ema_.load_state_dict(ema)


def _state_copy(model: "LatentEDM"):
    """Copies of the denoiser's and the EMA's weights (EMA None when off)."""
    copy = lambda module: {k: v.detach().clone() for k, v in module.state_dict().items()}  # noqa: E731
    return copy(model.denoiser_), (None if model.ema_ is None else copy(model.ema_))


# --------------------------------------------------------------------------------------
# EDM Eq. 2 and 8, Table 1: ln σ ~ N(P_mean, P_std²), λ(σ) = (σ² + σ_data²) / (σ σ_data)².
class EDMLoss:
    """``loss(D, x, labels=None, generator=None) -> (n,)``: λ(σ)·mean_d (D(x + σε; σ) − x)².

    ``D`` is a preconditioned denoiser (e.g. :class:`EDMPrecond`); ``x``: (n, d) clean data with
    per-dimension standard deviation ``sigma_data``. One σ is drawn per row; ``generator``
    (on ``x``'s device) makes the draw reproducible. The weight equals ``1 / c_out(σ)²``, so
    the raw network sees a unit-weighted regression target at every σ.
    """

    def __init__(self, P_mean: float = -1.2, P_std: float = 1.2, sigma_data: float = 0.5):
        if not P_std > 0 or not sigma_data > 0:
            raise ValueError(f"P_std and sigma_data must be positive, got {P_std}, {sigma_data}")
        self.P_mean = float(P_mean)
        self.P_std = float(P_std)
        self.sigma_data = float(sigma_data)

    def weight(self, sigma):
        return (sigma**2 + self.sigma_data**2) / (sigma * self.sigma_data) ** 2

    def sample_sigma(self, n: int, device, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, 1) noise levels with ln σ ~ N(P_mean, P_std²)."""
        normal = torch.randn((n, 1), device=device, generator=generator)
        return (normal * self.P_std + self.P_mean).exp()

    def __call__(self, net: Callable, x: torch.Tensor, labels=None, generator: torch.Generator | None = None):
        sigma = self.sample_sigma(x.shape[0], x.device, generator)
        noise = torch.randn(x.shape, device=x.device, generator=generator) * sigma
        denoised = net(x + noise, sigma, labels)
        return self.weight(sigma).reshape(-1) * ((denoised - x) ** 2).mean(dim=1)


# --------------------------------------------------------------------------------------
# Vaswani et al. 2017, Sec. 3.5 sinusoids applied to the scalar c_noise (EDM's "positional" embedding).
class SinusoidalEmbedding(nn.Module):
    """``(m,) -> (m, channels)``: ``[cos(c·f_k), sin(c·f_k)]`` with ``f_k = max_positions^(-k/half)``."""

    def __init__(self, channels: int, max_positions: int = 10_000):
        super().__init__()
        if channels < 2 or channels % 2:
            raise ValueError(f"channels must be an even number >= 2, got {channels}")
        half = channels // 2
        freqs = (1.0 / max_positions) ** (torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        angles = c.reshape(-1, 1).to(self.freqs.dtype) * self.freqs
        return torch.cat([angles.cos(), angles.sin()], dim=1)


def check_embedding_scales(class_init_std: float, noise_label_scale: float) -> None:
    """Refuse a negative (or NaN) ``class_init_std`` and a ``noise_label_scale`` that is not
    positive (:class:`MLPDenoiser`'s arguments, checked again by :class:`LatentEDM` before a fit)."""
    if not float(class_init_std) >= 0.0:
        raise ValueError(f"class_init_std must be >= 0, got {class_init_std!r}")
    if not float(noise_label_scale) > 0.0:
        raise ValueError(f"noise_label_scale must be > 0, got {noise_label_scale!r}")


class MLPDenoiser(nn.Module):
    """Raw network ``F(x_in, c_noise, labels) -> (n, dim)`` for :class:`EDMPrecond`.

    ``h = proj(x_in) + noise_mlp(sinusoids(c_noise)) + class_embedding(labels)``, then
    ``hidden -> 2·hidden (×n_layers) -> hidden -> dim`` with SiLU; ``n_layers = 2`` is TabSyn's
    ``MLPDiffusion`` trunk (1024 -> 2048 -> 2048 -> 1024 -> d). ``c_noise`` may be ``(1,)``
    (one σ for the batch, as in sampling): its embedding is then computed once and broadcast.

    Class conditioning (``n_classes`` not None): ``labels`` are int64 codes in
    ``[0, n_classes)``; code ``n_classes`` is the null class, used when ``labels is None`` and,
    in training mode, in place of a fraction ``label_dropout`` of the labels (classifier-free
    guidance, Ho & Salimans 2022). That dropout draws from a private generator seeded by
    ``dropout_seed``, so training is reproducible without touching torch's global RNG.
    ``class_init_std``: the class vectors' initial standard deviation per entry (the table is
    drawn as ``nn.Embedding``'s N(0, 1) and scaled, so 1.0 is PyTorch's default and draws the
    same weights). At 1.0 the class vector outweighs ``proj(x_in)`` (entries of variance ~1/3
    for unit inputs) three to one at initialisation; EDM's own networks embed labels through a
    linear layer of that ~1/3 variance, DiT draws its label table at std 0.02.
    ``noise_label_scale``: a factor on ``c_noise`` (EDM's ln(σ)/4, about -1.5 to 1.2 over the
    training σ) before the sinusoids; at 1.0 only the lowest of the 512 frequencies turn by more
    than a fraction of a radian over that range, so at initialisation the embedding varies with
    σ by ~1e-4 (variance across σ) against ~0.3 for ``proj(x_in)``; ~250 spreads c_noise over the
    range of DDPM's step index (0-1000), for which the sinusoids were made.
    """

    def __init__(
        self,
        dim: int,
        hidden: int = 1024,
        n_layers: int = 2,
        n_classes: int | None = None,
        label_dropout: float = 0.1,
        dropout_seed: int = 0,
        class_init_std: float = 1.0,
        noise_label_scale: float = 1.0,
    ):
        super().__init__()
        if dim < 1 or hidden < 2 or n_layers < 1:
            raise ValueError(f"need dim >= 1, hidden >= 2, n_layers >= 1; got {dim}, {hidden}, {n_layers}")
        if n_classes is not None and n_classes < 1:
            raise ValueError(f"n_classes must be None (unconditional) or >= 1, got {n_classes}")
        if not 0.0 <= label_dropout < 1.0:
            raise ValueError(f"label_dropout must be in [0, 1), got {label_dropout}")
        check_embedding_scales(class_init_std, noise_label_scale)
        self.noise_label_scale = float(noise_label_scale)
        self.dim, self.hidden, self.n_layers = int(dim), int(hidden), int(n_layers)
        self.n_classes = None if n_classes is None else int(n_classes)
        self.label_dropout = float(label_dropout)
        self.dropout_seed = int(dropout_seed)
        self._dropout_generator: torch.Generator | None = None
        self._dropout_device: torch.device | None = None
        self.dropout_on_default_rng = False

        hidden = self.hidden
        self.proj = nn.Linear(dim, hidden)
        self.noise_embedding = nn.Sequential(
            SinusoidalEmbedding(hidden), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
        )
        self.class_embedding = None if n_classes is None else nn.Embedding(self.n_classes + 1, hidden)
        if self.class_embedding is not None and float(class_init_std) != 1.0:
            with torch.no_grad():
                self.class_embedding.weight.mul_(float(class_init_std))
        wide = 2 * hidden
        layers: list[nn.Module] = [nn.Linear(hidden, wide), nn.SiLU()]
        for _ in range(n_layers - 1):
            layers += [nn.Linear(wide, wide), nn.SiLU()]
        layers += [nn.Linear(wide, hidden), nn.SiLU(), nn.Linear(hidden, dim)]
        self.trunk = nn.Sequential(*layers)

    @property
    def null_class(self) -> int | None:
        return self.n_classes

    def _drop_labels(self, labels: torch.Tensor) -> torch.Tensor:
        if self._dropout_generator is None or self._dropout_device != labels.device:
            self._dropout_generator = torch.Generator(device=labels.device).manual_seed(self.dropout_seed)
            self._dropout_device = labels.device
        # On a graphed training step the draw comes from the default CUDA generator (which the
        # graph advances on each replay); see GraphedStep.
        gen = None if self.dropout_on_default_rng else self._dropout_generator
        drop = torch.rand(labels.shape, device=labels.device, generator=gen) < self.label_dropout
        return torch.where(drop, torch.full_like(labels, self.null_class), labels)

    def _class_vectors(self, labels: torch.Tensor | None, n: int, device) -> torch.Tensor | None:
        if self.class_embedding is None:
            if labels is not None:
                raise ValueError("this denoiser is unconditional (n_classes=None) but got labels")
            return None
        if labels is None:
            labels = torch.full((n,), self.null_class, dtype=torch.long, device=device)
        elif labels.shape != (n,) or labels.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"labels must be an int64 tensor of shape ({n},), got {labels.dtype} {tuple(labels.shape)}")
        elif self.training and self.label_dropout > 0:
            labels = self._drop_labels(labels.long())
        return self.class_embedding(labels.long())

    def forward(self, x: torch.Tensor, noise_labels: torch.Tensor, labels: torch.Tensor | None = None):
        """``x``: (n, dim); ``noise_labels``: (n,) or (1,) c_noise; ``labels``: (n,) codes or None."""
        if self.noise_label_scale != 1.0:
            noise_labels = noise_labels * self.noise_label_scale
        h = self.proj(x) + self.noise_embedding(noise_labels)
        cls = self._class_vectors(labels, x.shape[0], x.device)
        if cls is not None:
            h = h + cls
        return self.trunk(h)


# --------------------------------------------------------------------------------------
# EDM Eq. 5: σ_i = (σ_max^(1/ρ) + i/(N−1)·(σ_min^(1/ρ) − σ_max^(1/ρ)))^ρ for i < N, and σ_N = 0.
def edm_sigma_steps(num_steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0, device=None):
    """The ``(num_steps + 1,)`` float64 noise levels, from ``sigma_max`` down to ``sigma_min``, then 0."""
    if num_steps < 2:
        raise ValueError(f"num_steps must be >= 2, got {num_steps}")
    if not 0 < sigma_min < sigma_max or not rho > 0:
        raise ValueError(f"need 0 < sigma_min < sigma_max and rho > 0; got {sigma_min}, {sigma_max}, {rho}")
    ramp = torch.arange(num_steps, dtype=torch.float64, device=device) / (num_steps - 1)
    inv_max, inv_min = sigma_max ** (1.0 / rho), sigma_min ** (1.0 / rho)
    sigmas = (inv_max + ramp * (inv_min - inv_max)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros(1)])


def _guided(net: Callable, labels, guidance: float) -> Callable:
    """D(x; σ) with classifier-free guidance: D_u + w·(D_c − D_u) (Ho & Salimans 2022, Eq. 6)."""
    if guidance == 1.0:
        return lambda x, sigma: net(x, sigma, labels)
    if labels is None:
        raise ValueError("classifier-free guidance (guidance != 1) needs class labels")

    def denoise(x, sigma):
        conditional = net(x, sigma, labels)
        unconditional = net(x, sigma, None)
        return unconditional + guidance * (conditional - unconditional)

    return denoise


# EDM Algorithm 2 (Algorithm 1 when S_churn = 0): Heun's 2nd-order steps on Eq. 5's σ_i.
@torch.no_grad()
def edm_sampler(
    net: Callable,
    latents: torch.Tensor,
    labels: torch.Tensor | None = None,
    num_steps: int = 50, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0, guidance: float = 1.0,
    S_churn: float = 0.0,
    S_min: float = 0.0,
    S_max: float = float("inf"),
    S_noise: float = 1.0,
    generator: torch.Generator | None = None,
    on_step: Callable[[], Any] | None = None,
) -> torch.Tensor:
    """Integrate from ``x_0 = latents·σ_max`` (latents ~ N(0, I), (n, d)) to a sample x_N: (n, d).

    ``net(x, sigma, labels) -> D``. Deterministic for given latents when ``S_churn = 0``
    (the default, Algorithm 1); otherwise the churn noise comes from ``generator``. The state
    stays in ``latents``' dtype (float32): the sampler is run in large batches. ``on_step()``,
    if given, is called after each of the ``num_steps`` steps (a progress bar's ``update``).
    """
    denoise = _guided(net, labels, float(guidance))
    steps = edm_sigma_steps(num_steps, sigma_min, sigma_max, rho)  # on the host: no device sync
    steps_host = steps.tolist()  # control flow on the host, arithmetic with device scalars
    steps_dev = steps.to(device=latents.device, dtype=latents.dtype)
    gamma_max = min(S_churn / num_steps, math.sqrt(2.0) - 1.0)
    x_next = latents * steps_dev[0]
    for i in range(num_steps):
        x_cur, t_cur, t_next = x_next, steps_dev[i], steps_dev[i + 1]
        gamma = gamma_max if S_churn > 0 and S_min <= steps_host[i] <= S_max else 0.0
        if gamma > 0:
            t_hat = t_cur * (1.0 + gamma)
            churn = torch.randn(x_cur.shape, device=x_cur.device, dtype=x_cur.dtype, generator=generator)
            x_hat = x_cur + (t_hat**2 - t_cur**2).sqrt() * S_noise * churn
        else:
            t_hat, x_hat = t_cur, x_cur
        d_cur = (x_hat - denoise(x_hat, t_hat)) / t_hat
        x_next = x_hat + (t_next - t_hat) * d_cur
        if i < num_steps - 1:  # Heun's correction, skipped on the last step to σ = 0
            d_prime = (x_next - denoise(x_next, t_next)) / t_next
            x_next = x_hat + (t_next - t_hat) * (0.5 * d_cur + 0.5 * d_prime)
        if on_step is not None:
            on_step()
    return x_next


# --------------------------------------------------------------------------------------
# The joint latent's scaling, and private training helpers.
#: How :class:`LatentEDM` scales latents to ``sigma_data`` (see :func:`latent_scale`).
LATENT_SCALINGS = ("per_dimension", "global", "per_block")


def _rms(std: np.ndarray) -> float:
    """Root mean square of per-dimension standard deviations (the pooled std of a block)."""
    value = float(np.sqrt(np.mean(np.square(std)))) if std.size else 1.0
    return value if value > 1e-8 else 1.0


def _block_slices(dim: int, blocks) -> list[slice]:
    """``blocks`` (sizes summing to ``dim``, or None for one block) -> slices of the latent."""
    sizes = [dim] if blocks is None else [int(b) for b in blocks]
    if sum(sizes) != dim or any(size < 1 for size in sizes):
        raise ValueError(f"blocks {list(sizes)} must be positive sizes summing to the latent dimension {dim}")
    edges = np.cumsum([0, *sizes])
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def latent_scale(Z: np.ndarray, scaling: str = "per_dimension", blocks=None) -> tuple[np.ndarray, np.ndarray]:
    """``Z (n, dim)`` -> ``(mean (dim,), scale (dim,))`` float32: the model sees
    ``(Z - mean) / scale * sigma_data``.

    Every dimension is centred on its mean. ``"per_dimension"``: each divided by its own standard
    deviation (every dimension weighs the same, a near-constant one as much as an informative
    one); ``"global"``: all by one pooled deviation (the root mean square of the per-dimension
    ones), which keeps the dimensions' relative spread as TabSyn's ``(z - mean) / 2`` does (the
    two agree where the pooled deviation is about 1);
    ``"per_block"``: one pooled deviation per block of ``blocks`` (sizes, e.g. the tabular and
    image parts of MAGE-ID's joint latent), so each modality gets the same overall weight.
    """
    if scaling not in LATENT_SCALINGS:
        raise ValueError(f"latent_scaling must be one of {LATENT_SCALINGS}, got {scaling!r}")
    mean = Z.mean(axis=0)
    std = Z.std(axis=0)
    if scaling == "per_dimension":
        scale = np.where(std > 1e-8, std, 1.0)
    else:
        scale = np.empty_like(std)
        for part in _block_slices(Z.shape[1], None if scaling == "global" else blocks):
            scale[part] = _rms(std[part])
    return mean.astype(np.float32), scale.astype(np.float32)


def kept_dimensions(Z: np.ndarray, drop_below: float | None, blocks=None) -> np.ndarray:
    """``(dim,)`` bool: the dimensions the EDM models. A dimension whose standard deviation is
    below ``drop_below`` times its block's pooled deviation (:func:`latent_scale`) is nearly
    constant over the rows (a collapsed VAE dimension) and is dropped: sampling sets it to its
    mean. ``None`` keeps every dimension."""
    kept = np.ones(Z.shape[1], dtype=bool)
    if drop_below is None:
        return kept
    std = Z.std(axis=0)
    for part in _block_slices(Z.shape[1], blocks):
        kept[part] = std[part] >= float(drop_below) * _rms(std[part])
    if not kept.any():
        raise ValueError(f"drop_below={drop_below} drops every latent dimension")
    return kept


@torch.no_grad()
def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay·ema + (1 − decay)·model, for all parameters in one fused call."""
    torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1.0 - decay)


def _plain(value):
    """NumPy scalars -> Python numbers, so a saved file loads with ``weights_only=True``."""
    return value.item() if isinstance(value, np.generic) else value


#: The arguments of :class:`LatentEDM` that only :meth:`LatentEDM.sample` reads: a trained model
#: is the same whatever they are (:meth:`LatentEDM.set_sampling` changes them after a fit).
SAMPLING_PARAMS: tuple[str, ...] = (
    "num_steps", "sigma_min", "sigma_max", "rho", "guidance", "sample_batch_size", "sample_weights", "S_churn",
)
#: Which weights :meth:`LatentEDM.sample` integrates with: the moving average or the last step's.
SAMPLE_WEIGHTS: tuple[str, ...] = ("ema", "raw")


class LatentEDM:
    """Class-conditional EDM generator of latent vectors (MAGE-ID stage 2; TabSyn's stage 2).

    ``fit(Z, y)``: ``Z`` (n, dim) float32 latents, ``y`` (n,) class labels (or None for an
    unconditional model). Each latent dimension is centred and scaled (``latent_scaling``, see
    :func:`latent_scale`; stored ``mean_``, ``std_``): by default standardised per dimension and
    rescaled to standard deviation ``sigma_data``, so the data match the preconditioning's
    assumption exactly; with the default ``sigma_data = 0.5`` this is EDM's
    and TabSyn's convention, under which ``P_mean``, ``P_std``, ``sigma_min`` and ``sigma_max``
    keep their published values. Training minimises :class:`EDMLoss` with fused Adam
    (:func:`~idsynth.models.training.make_adam`) over device-resident, device-shuffled batches;
    ``ema_decay`` (None = off) keeps an exponential moving average of the weights (with the usual ``(1+t)/(10+t)`` warm-up, under which
    the weights of step s count ~((s + 6) / (t + 6))^9 at step t < ~9,000: the average is of the
    last ~10 % of a short budget). ``sample_weights``: sample with the average (``"ema"``, where
    kept) or with the raw weights of the last step (``"raw"``); both are saved, so this is a
    sampling setting. ``S_churn``: EDM's stochastic sampler (Algorithm 2: at each of the
    ``num_steps`` Heun steps the noise level is raised by a factor ``1 + min(S_churn / num_steps,
    √2 − 1)`` with fresh noise); 0, the default, is the deterministic Algorithm 1, TabSyn's
    reference samples with 1 (a 2 % rise per step at 50 steps). ``loss_history_`` holds the mean loss per epoch.

    ``sample(n_per_class, random_state)`` returns exactly the requested rows per class, in the
    original latent scale, by :func:`edm_sampler` in batches of ``sample_batch_size``.

    ``hidden`` / ``n_layers``: :class:`MLPDenoiser`'s width and number of wide layers (TabSyn:
    1024 and 2); ``class_init_std``: its class vectors' initial scale (1.0, PyTorch's
    ``nn.Embedding`` default, is the committed recipe); ``noise_label_scale``: its factor on
    ``c_noise`` before the sinusoids (1.0, EDM's and TabSyn's, is the committed recipe).
    ``class_balance``: the exponent a of the class-balanced minibatches, a row of a class of
    ``n_c`` rows drawn with weight ``n_c ** -a`` (with replacement; an epoch still draws n rows):
    0 (the committed recipe) shuffles the rows, so a class of 52 rows among 125,973 is in 0.04 %
    of the draws; 0.5 gives each class a share ∝ sqrt(n_c); 1 all classes equally
    (:func:`~idsynth.models.training.class_balance_weights`). ``guidance`` != 1 applies classifier-free guidance, which needs
    ``label_dropout > 0`` in training. ``mixed_precision``: bf16 autocast for the network on
    CUDA and on CPUs with native bf16 matmuls (:func:`~idsynth.models.training.autocast_bf16`;
    fp32 elsewhere). ``steps``: the training length in optimiser steps of ``batch_size`` rows,
    replacing ``epochs`` when given (:func:`~idsynth.models.training.step_budget`). ``cuda_graph``: on CUDA, replay each training step from a CUDA graph
    (:class:`~idsynth.models.graphed_step.GraphedStep`). Same ``random_state``, same device ->
    same model and same samples.

    Training as TabSyn's reference does it (all off by default, the committed recipe):
    ``lr_schedule="plateau"`` multiplies the learning rate by 0.9 after 20 epochs without a lower
    epoch loss (its ``ReduceLROnPlateau``); ``"cosine"`` anneals it to 0 over the step budget
    instead. ``early_stop_patience``: stop after that many epochs without a lower epoch loss (the
    reference: 500). ``keep_best``: end with the weights (and EMA) of the lowest-loss epoch.
    ``best_epoch_`` and ``stopped_epoch_`` record what happened.

    The joint latent (MAGE-ID; defaults are the committed recipe): ``latent_scaling``
    ``"per_dimension"`` | ``"global"`` (TabSyn-like) | ``"per_block"`` over ``blocks`` (the sizes
    of the latent's parts, set by :class:`~idsynth.models.mageid.MAGEID`); ``drop_below``: leave
    out of the model the dimensions that are nearly constant (:func:`kept_dimensions`; stored
    ``kept_``), which sampling sets to their means over all rows (so whatever little such a
    dimension says about the class is given up).
    """

    _PARAMS = (
        "dim", "n_classes", "hidden", "n_layers", "epochs", "steps", "batch_size", "learning_rate",
        "weight_decay", "label_dropout", "ema_decay", "sigma_data", "P_mean", "P_std",
        "num_steps", "sigma_min", "sigma_max", "rho", "guidance", "sample_batch_size",
        "mixed_precision", "device", "random_state", "cuda_graph", "verbose", "lr_schedule",
        "early_stop_patience", "keep_best", "latent_scaling", "blocks", "drop_below", "sample_weights",
        "S_churn", "class_init_std", "noise_label_scale", "class_balance",
    )  # fmt: skip

    def __init__(
        self,
        dim: int | None = None,
        n_classes: int | None = None,
        hidden: int = 1024,
        n_layers: int = 2,
        epochs: int = 2000,
        steps: int | None = None,
        batch_size: int = 4096,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        label_dropout: float = 0.1,
        ema_decay: float | None = 0.999,
        sigma_data: float = 0.5,
        P_mean: float = -1.2,
        P_std: float = 1.2,
        num_steps: int = 50,
        sigma_min: float = 0.002,
        sigma_max: float = 80.0,
        rho: float = 7.0,
        guidance: float = 1.0,
        sample_batch_size: int = 65_536,
        mixed_precision: bool = True,
        device: str = "auto",
        random_state: int = 0,
        cuda_graph: bool = True,
        verbose: bool = True,
        lr_schedule: str = "constant",
        early_stop_patience: int | None = None,
        keep_best: bool = False,
        latent_scaling: str = "per_dimension",
        blocks: tuple[int, ...] | None = None,
        drop_below: float | None = None,
        sample_weights: str = "ema",
        S_churn: float = 0.0,
        class_init_std: float = 1.0,
        noise_label_scale: float = 1.0,
        class_balance: float = 0.0,
    ):
        self.dim = dim
        self.n_classes = n_classes
        self.hidden = hidden
        self.n_layers = n_layers
        self.epochs = epochs
        self.steps = steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.label_dropout = label_dropout
        self.ema_decay = ema_decay
        self.sigma_data = sigma_data
        self.P_mean = P_mean
        self.P_std = P_std
        self.num_steps = num_steps
        self.sigma_min = sigma_min
        self.sigma_max = sigma_max
        self.rho = rho
        self.guidance = guidance
        self.sample_batch_size = sample_batch_size
        self.mixed_precision = mixed_precision
        self.device = device
        self.random_state = random_state
        self.cuda_graph = cuda_graph
        self.verbose = verbose
        self.lr_schedule = lr_schedule
        self.early_stop_patience = early_stop_patience
        self.keep_best = keep_best
        self.latent_scaling = latent_scaling
        self.blocks = None if blocks is None else tuple(int(b) for b in blocks)  # plain ints: saved as params
        self.drop_below = drop_below
        self.sample_weights = sample_weights
        self.S_churn = S_churn
        self.class_init_std = class_init_std
        self.noise_label_scale = noise_label_scale
        self.class_balance = class_balance

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_sampling(self, **settings: Any) -> "LatentEDM":
        """Change how :meth:`sample` integrates (``num_steps``, ``sigma_min``, ``sigma_max``,
        ``rho``, ``guidance``, ``sample_batch_size``, ``sample_weights``, ``S_churn``: :data:`SAMPLING_PARAMS`) on a fitted or
        fresh model; training never reads them, so the weights stay those of the fit."""
        unknown = sorted(set(settings) - set(SAMPLING_PARAMS))
        if unknown:
            raise ValueError(f"set_sampling accepts {list(SAMPLING_PARAMS)}, got {unknown}")
        for name, value in settings.items():
            setattr(self, name, value)
        if int(self.num_steps) < 1 or int(self.sample_batch_size) < 1:
            raise ValueError(f"num_steps and sample_batch_size must be >= 1, got {self.num_steps}, {self.sample_batch_size}")
        if not 0 < float(self.sigma_min) < float(self.sigma_max):
            raise ValueError(f"need 0 < sigma_min < sigma_max, got {self.sigma_min}, {self.sigma_max}")
        self._check_sampling()
        return self

    def _check_sampling(self) -> None:
        if self.guidance != 1.0 and self.label_dropout <= 0:
            raise ValueError("guidance != 1 needs label_dropout > 0 (the null class must be trained)")
        if not float(self.S_churn) >= 0:
            raise ValueError(f"S_churn must be >= 0, got {self.S_churn!r}")
        if self.sample_weights not in SAMPLE_WEIGHTS:
            raise ValueError(f"sample_weights must be one of {SAMPLE_WEIGHTS}, got {self.sample_weights!r}")

    # ---- construction -----------------------------------------------------------------
    def _build_denoiser(self, dim: int, n_classes: int | None, device) -> EDMPrecond:
        """A fresh denoiser, initialised on the CPU from ``random_state`` (global RNG untouched)."""
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(int(self.random_state))
            raw = MLPDenoiser(
                dim, hidden=self.hidden, n_layers=self.n_layers, n_classes=n_classes,
                label_dropout=self.label_dropout, dropout_seed=int(self.random_state) + 1,
                class_init_std=self.class_init_std, noise_label_scale=self.noise_label_scale,
            )  # fmt: skip
        return EDMPrecond(raw, sigma_data=self.sigma_data).to(device)

    def _check_params(self) -> None:
        if int(self.batch_size) < 1 or int(self.sample_batch_size) < 1:
            raise ValueError("batch_size and sample_batch_size must be >= 1")
        if (self.steps is None and (self.epochs is None or int(self.epochs) < 1)) or \
                (self.steps is not None and int(self.steps) < 1):
            raise ValueError(f"give epochs >= 1 or steps >= 1, got epochs={self.epochs!r}, steps={self.steps!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be None or in (0, 1), got {self.ema_decay}")
        if self.lr_schedule not in ("constant", "plateau", "cosine"):
            raise ValueError(f"lr_schedule must be 'constant', 'plateau' or 'cosine', got {self.lr_schedule!r}")
        if self.early_stop_patience is not None and int(self.early_stop_patience) < 1:
            raise ValueError(f"early_stop_patience must be None or >= 1, got {self.early_stop_patience!r}")
        if self.latent_scaling not in LATENT_SCALINGS:
            raise ValueError(f"latent_scaling must be one of {LATENT_SCALINGS}, got {self.latent_scaling!r}")
        if self.latent_scaling == "per_block" and self.blocks is None:
            raise ValueError("latent_scaling='per_block' needs blocks (the sizes of the latent's parts)")
        check_embedding_scales(self.class_init_std, self.noise_label_scale)
        if not float(self.class_balance) >= 0.0:
            raise ValueError(f"class_balance must be >= 0, got {self.class_balance!r}")
        if self.drop_below is not None and not 0.0 < float(self.drop_below) < 1.0:
            raise ValueError(f"drop_below must be None or in (0, 1), got {self.drop_below!r}")
        self._check_sampling()

    def _label_codes(self, y, n: int) -> tuple[np.ndarray, np.ndarray, bool]:
        """-> (classes, codes (n,) int64, conditional)."""
        if y is None:
            if self.n_classes not in (None, 0):
                raise ValueError(f"n_classes={self.n_classes} but fit got no labels")
            return np.asarray([0]), np.zeros(n, dtype=np.int64), False
        y = np.asarray(y)
        if y.shape != (n,):
            raise ValueError(f"y must have shape ({n},) to match Z, got {y.shape}")
        if self.n_classes is not None:
            if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= self.n_classes:
                raise ValueError(f"with n_classes={self.n_classes}, y must hold integer codes in [0, {self.n_classes})")
            return np.arange(self.n_classes, dtype=y.dtype), y.astype(np.int64), True
        classes, codes = np.unique(y, return_inverse=True)
        return classes, codes.astype(np.int64), True

    # ---- fit --------------------------------------------------------------------------
    def fit(self, Z, y=None) -> "LatentEDM":
        """Train on latents ``Z`` (n, dim) float32 with labels ``y`` (n,) (None: unconditional)."""
        self._check_params()
        Z = np.asarray(Z, dtype=np.float32)
        if Z.ndim != 2 or Z.shape[0] < 2:
            raise ValueError(f"Z must be a 2-D array (n >= 2, dim), got shape {Z.shape}")
        if self.dim is not None and Z.shape[1] != self.dim:
            raise ValueError(f"Z has {Z.shape[1]} columns but dim={self.dim}")
        if not np.isfinite(Z).all():
            raise ValueError("Z contains NaN or infinite values")
        n, dim = Z.shape
        self.classes_, codes, self.conditional_ = self._label_codes(y, n)
        self.device_ = resolve_device(self.device)
        device = self.device_

        self.mean_, self.std_ = latent_scale(Z, self.latent_scaling, self.blocks)
        self.kept_ = kept_dimensions(Z, self.drop_below, self.blocks)
        dim = int(self.kept_.sum())
        data = torch.as_tensor(self.scaled(Z), device=device)
        labels = torch.as_tensor(codes, device=device) if self.conditional_ else None

        n_classes = len(self.classes_) if self.conditional_ else None
        self.denoiser_ = self._build_denoiser(dim, n_classes, device)
        self.ema_ = None
        if self.ema_decay is not None:
            self.ema_ = self._build_denoiser(dim, n_classes, device)
            self.ema_.load_state_dict(self.denoiser_.state_dict())
            self.ema_.eval().requires_grad_(False)
        loss_fn = EDMLoss(self.P_mean, self.P_std, self.sigma_data)
        optimiser = make_adam(self.denoiser_.parameters(), self.learning_rate, self.weight_decay, device)
        generator = torch.Generator(device=device).manual_seed(int(self.random_state))

        budget = step_budget(n, int(self.batch_size), self.epochs, self.steps)
        epochs = budget.epochs
        row_weights = None
        if self.conditional_ and float(self.class_balance) > 0:
            row_weights = torch.as_tensor(class_balance_weights(codes, self.class_balance), device=device)

        def epoch_batches():
            if row_weights is None:
                return shuffled_index_batches(n, budget.batch_size, generator, device)
            return weighted_index_batches(row_weights, budget.batch_size, generator)
        epoch_loss = torch.zeros(epochs, device=device)
        report_every = max(1, epochs // 100)

        def step_on(idx):
            batch_labels = None if labels is None else labels[idx]
            with autocast_bf16(device, self.mixed_precision, cache_enabled=False):
                loss = loss_fn(self.denoiser_, data[idx], batch_labels, generator=runner.generator).mean()
            loss.backward()
            optimiser.step()
            return (loss.detach(),)

        runner = GraphedStep(step_on, optimiser, device, enabled=self.cuda_graph, generator=generator)
        self.denoiser_.net.dropout_on_default_rng = runner.graphed
        self.denoiser_.train()
        watch = _EpochWatch(self, optimiser, budget.steps)
        started, step = time.perf_counter(), 0
        bar = budget_bar(budget, self.verbose, "EDM")
        with runner.seeded(self.random_state):
            for epoch in bar:
                total, rows = torch.zeros((), device=device), 0
                for _, idx in zip(range(budget.steps_in(epoch)), epoch_batches()):
                    (loss,) = runner(idx)
                    step += 1
                    watch.after_step(step)
                    if self.ema_ is not None:
                        _ema_update(self.ema_, self.denoiser_, min(self.ema_decay, (1 + step) / (10 + step)))
                    total += loss * idx.numel()
                    rows += idx.numel()
                epoch_loss[epoch] = total / rows
                if self.verbose and (epoch % report_every == 0 or epoch == epochs - 1):
                    bar.set_postfix(loss=f"{epoch_loss[epoch].item():.4f}")  # one host sync per report
                if watch.after_epoch(epoch, epoch_loss[epoch]):
                    epoch_loss = epoch_loss[: epoch + 1]
                    break
        watch.restore_best()
        self.cuda_graphs_ = runner.n_graphs  # batch shapes replayed from CUDA graphs (0: eager)
        self.denoiser_.net.dropout_on_default_rng = False
        self.denoiser_.eval()
        self.loss_history_ = epoch_loss.cpu().numpy()
        self.fit_seconds_ = time.perf_counter() - started
        self.n_steps_ = step
        self.final_lr_ = float(optimiser.param_groups[0]["lr"])
        return self

    # ---- sample -----------------------------------------------------------------------
    def scaled(self, Z: np.ndarray) -> np.ndarray:
        """Latents ``Z`` (n, dim) in the space the denoiser works in: centred, divided by the
        fitted deviations, times ``sigma_data``, the left-out dimensions dropped -> (n, kept)
        float32 (what :meth:`fit` trains on; :meth:`sample` maps back)."""
        return ((np.asarray(Z, dtype=np.float32) - self.mean_) / self.std_ * self.sigma_data)[:, self.kept_]

    def _check_fitted(self) -> None:
        if not hasattr(self, "denoiser_"):
            raise RuntimeError("LatentEDM is not fitted; call fit(Z, y) or LatentEDM.load(path) first")

    @torch.no_grad()
    def sample(self, n_per_class: Mapping[Any, int] | int, random_state: int | None = None):
        """``{label: count}`` (or an int for an unconditional model) -> (Z (N, dim) float32, y (N,)).

        Rows come grouped by class in the mapping's order, in the original latent scale.
        """
        self._check_fitted()
        if isinstance(n_per_class, (int, np.integer)):
            if self.conditional_:
                raise TypeError("a class-conditional LatentEDM needs n_per_class as a {label: count} mapping")
            n_per_class = {self.classes_[0].item(): int(n_per_class)}
        y = labels_from_counts(n_per_class, self.classes_)
        dim = int(self.kept_.sum())
        device = self.device_
        keep_freed_memory(device)  # a model loaded from the cache has not run make_adam in this process
        if random_state is None:
            random_state = int(np.random.SeedSequence().generate_state(1)[0])
        generator = torch.Generator(device=device).manual_seed(int(random_state))
        net = self.ema_ if self.ema_ is not None and self.sample_weights == "ema" else self.denoiser_
        net.eval()
        codes = torch.as_tensor(np.searchsorted(self.classes_, y), dtype=torch.long, device=device)
        out = torch.empty((len(y), dim), dtype=torch.float32, device=device)
        starts = range(0, len(y), int(self.sample_batch_size))
        bar = step_bar(len(starts) * int(self.num_steps), self.verbose and len(y) > 0, f"EDM sampling ({len(y)} rows)")
        for start in starts:
            stop = min(start + int(self.sample_batch_size), len(y))
            latents = torch.randn((stop - start, dim), device=device, generator=generator)
            with autocast_bf16(device, self.mixed_precision):
                out[start:stop] = edm_sampler(
                    net, latents, codes[start:stop] if self.conditional_ else None,
                    num_steps=int(self.num_steps), sigma_min=self.sigma_min, sigma_max=self.sigma_max,
                    rho=self.rho, guidance=float(self.guidance), S_churn=float(self.S_churn), generator=generator,
                    on_step=bar.update,
                )  # fmt: skip
        bar.close()
        full = out
        if not self.kept_.all():
            full = torch.zeros((len(y), len(self.mean_)), dtype=torch.float32, device=device)
            full[:, torch.as_tensor(self.kept_, device=device)] = out  # dropped dimensions: their mean
        mean = torch.as_tensor(self.mean_, device=device)
        scale = torch.as_tensor(self.std_ / self.sigma_data, device=device)
        Z = (full * scale + mean).cpu().numpy()
        return Z, y

    # ---- persistence ------------------------------------------------------------------
    def save(self, path) -> None:
        """One file (torch.save of tensors, lists and numbers; loads with ``weights_only=True``)."""
        self._check_fitted()
        state = {
            "format": "idsynth.LatentEDM/1",
            "params": {name: _plain(value) for name, value in self.get_params().items()},
            "classes": self.classes_.tolist(),
            "conditional": bool(self.conditional_),
            "mean": torch.as_tensor(self.mean_),
            "std": torch.as_tensor(self.std_),
            "kept": torch.as_tensor(self.kept_),
            "loss_history": torch.as_tensor(self.loss_history_),
            "n_steps": int(self.n_steps_),
            "fit_seconds": float(self.fit_seconds_),
            "denoiser": {k: v.detach().cpu() for k, v in self.denoiser_.state_dict().items()},
            "ema": None if self.ema_ is None else {k: v.detach().cpu() for k, v in self.ema_.state_dict().items()},
        }
        if isinstance(path, (str, Path)):
            with open(path, "wb") as handle:
                torch.save(state, handle)
        else:
            torch.save(state, path)

    @classmethod
    def load(cls, path, device: str | None = None) -> "LatentEDM":
        """Rebuild a saved model; ``device`` overrides the saved device setting."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != "idsynth.LatentEDM/1":
            raise ValueError(f"{path} does not hold a saved LatentEDM")
        params = dict(state["params"])
        if device is not None:
            params["device"] = device
        model = cls(**params)
        model.classes_ = np.asarray(state["classes"])
        model.conditional_ = bool(state["conditional"])
        model.mean_ = state["mean"].numpy()
        model.std_ = state["std"].numpy()
        kept = state.get("kept")  # files written before dimensions could be dropped keep them all
        model.kept_ = np.ones(len(model.mean_), dtype=bool) if kept is None else kept.numpy().astype(bool)
        model.loss_history_ = state["loss_history"].numpy()
        model.n_steps_ = int(state["n_steps"])
        model.fit_seconds_ = float(state["fit_seconds"])
        model.device_ = resolve_device(model.device)
        n_classes = len(model.classes_) if model.conditional_ else None
        model.denoiser_ = model._build_denoiser(int(model.kept_.sum()), n_classes, model.device_)
        model.denoiser_.load_state_dict(state["denoiser"])
        model.denoiser_.eval()
        model.ema_ = None
        if state["ema"] is not None:
            model.ema_ = model._build_denoiser(int(model.kept_.sum()), n_classes, model.device_)
            model.ema_.load_state_dict(state["ema"])
            model.ema_.eval().requires_grad_(False)
        return model
