"""TabDDPM's two diffusion processes (Kotelnikov et al., ICML 2023), kept apart from any network.

* Gaussian diffusion (Ho et al. 2020) on the quantile-normalised numerical features: the
  network predicts the noise ε and is trained with the mean squared error.
* Multinomial diffusion (Hoogeboom et al. 2021) on each categorical feature, each with its own
  number of categories K, computed in log space: trained with the KL divergence between the
  true and the predicted posteriors (and the decoder likelihood at the first step).
* Both share one cosine schedule (Nichol & Dhariwal 2021).

Time index convention: ``t`` is an integer tensor with values in ``0 .. T-1``; index ``t`` is
step ``t + 1`` of the papers, so ``schedule.log_alpha_bar[t]`` is log ᾱ_{t+1} and index 0 is
the first noising step (whose reverse is the decoder p(x_0 | x_1)).

:class:`MixedDiffusion` combines the two: ``loss(net, ...)`` and ``sample(net, ...)`` take the
network as an argument (any ``net(x_in, t, y) -> out`` with ``out`` = [ε for the numerics ‖
logits for each categorical]), so swapping the network never touches the loss or the sampler.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

# log-probability standing in for log 0: keeps logaddexp, KL and softmax finite (as TabDDPM).
LOG_ZERO = math.log(1e-30)

Denoiser = Callable[[Tensor, Tensor, Tensor], Tensor]


# Nichol & Dhariwal 2021, Eq. 17: ᾱ_t = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s)·π/2); β_t = min(1 − ᾱ_t/ᾱ_{t−1}, .999)
def cosine_beta_schedule(num_timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """The ``(num_timesteps,)`` float64 β_1..β_T of the cosine schedule."""
    if int(num_timesteps) < 1:
        raise ValueError(f"num_timesteps must be a positive integer, got {num_timesteps!r}")
    grid = np.arange(int(num_timesteps) + 1, dtype=np.float64) / int(num_timesteps)
    f = np.cos((grid + s) / (1.0 + s) * np.pi / 2.0) ** 2
    return np.minimum(1.0 - f[1:] / f[:-1], max_beta)


@dataclass(frozen=True)
class DiffusionSchedule:
    """Per-step constants of both processes, each a ``(T,)`` float32 tensor on one device.

    Computed in float64 from the β's, then stored as float32.
    """

    betas: Tensor
    log_alpha: Tensor  # log α_t, α_t = 1 − β_t
    log_1m_alpha: Tensor  # log(1 − α_t)
    log_alpha_bar: Tensor  # log ᾱ_t, ᾱ_t = Π_{s≤t} α_s
    log_1m_alpha_bar: Tensor  # log(1 − ᾱ_t)
    sqrt_alpha_bar: Tensor
    sqrt_1m_alpha_bar: Tensor
    recip_sqrt_alpha_bar: Tensor  # 1/√ᾱ_t
    sqrt_recip_alpha_bar_m1: Tensor  # √(1/ᾱ_t − 1)
    posterior_coef_x0: Tensor  # β_t √ᾱ_{t−1}/(1 − ᾱ_t), ᾱ_0 = 1 (Ho et al. Eq. 7)
    posterior_coef_xt: Tensor  # (1 − ᾱ_{t−1}) √α_t/(1 − ᾱ_t)
    sigma: Tensor  # √β_t, the reverse-step standard deviation (Ho et al.: σ_t² = β_t)

    @classmethod
    def from_betas(cls, betas: np.ndarray, device: torch.device | str | None = None) -> "DiffusionSchedule":
        betas = np.asarray(betas, dtype=np.float64)
        if betas.ndim != 1 or betas.size == 0 or np.any(betas <= 0) or np.any(betas >= 1):
            raise ValueError("betas must be a non-empty 1-D array with values in (0, 1)")
        alphas = 1.0 - betas
        alpha_bar = np.cumprod(alphas)
        alpha_bar_prev = np.append(1.0, alpha_bar[:-1])
        values = {
            "betas": betas,
            "log_alpha": np.log(alphas),
            "log_1m_alpha": np.log(betas),
            "log_alpha_bar": np.log(alpha_bar),
            "log_1m_alpha_bar": np.log1p(-alpha_bar),
            "sqrt_alpha_bar": np.sqrt(alpha_bar),
            "sqrt_1m_alpha_bar": np.sqrt(1.0 - alpha_bar),
            "recip_sqrt_alpha_bar": 1.0 / np.sqrt(alpha_bar),
            "sqrt_recip_alpha_bar_m1": np.sqrt(1.0 / alpha_bar - 1.0),
            "posterior_coef_x0": betas * np.sqrt(alpha_bar_prev) / (1.0 - alpha_bar),
            "posterior_coef_xt": (1.0 - alpha_bar_prev) * np.sqrt(alphas) / (1.0 - alpha_bar),
            "sigma": np.sqrt(betas),
        }
        return cls(**{k: torch.as_tensor(v, dtype=torch.float32, device=device) for k, v in values.items()})

    @classmethod
    def cosine(cls, num_timesteps: int, device: torch.device | str | None = None) -> "DiffusionSchedule":
        return cls.from_betas(cosine_beta_schedule(num_timesteps), device)

    @property
    def num_timesteps(self) -> int:
        return int(self.betas.shape[0])

    def to(self, device: torch.device | str) -> "DiffusionSchedule":
        return type(self)(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


def _per_row(values: Tensor, t: Tensor) -> Tensor:
    """``values[t]`` as an ``(n, 1)`` column, to broadcast over the features of each row."""
    return values[t].unsqueeze(1)


# ---------------------------------------------------------------------------------------------
# Gaussian diffusion on the numerical features
# ---------------------------------------------------------------------------------------------


# Ho et al. 2020, Eq. 4: q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I), i.e. x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε
def gaussian_q_sample(schedule: DiffusionSchedule, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
    """x0, noise: (n, d) float; t: (n,) long -> x_t (n, d)."""
    return _per_row(schedule.sqrt_alpha_bar, t) * x0 + _per_row(schedule.sqrt_1m_alpha_bar, t) * noise


# Ho et al. 2020, Eq. 14 (L_simple): ‖ε − ε_θ(x_t, t)‖², here averaged over the features
def gaussian_eps_mse(eps_pred: Tensor, noise: Tensor) -> Tensor:
    """eps_pred, noise: (n, d) -> (n,) per-row mean squared error."""
    return (noise - eps_pred).pow(2).mean(dim=1)


# Ho et al. 2020, Eq. 15 solved for x_0: x̂_0 = (x_t − √(1 − ᾱ_t) ε_θ)/√ᾱ_t
def gaussian_predict_x0(schedule: DiffusionSchedule, x_t: Tensor, t: Tensor, eps_pred: Tensor) -> Tensor:
    """x_t, eps_pred: (n, d); t: (n,) long -> x̂_0 (n, d), the data the predicted noise implies."""
    return _per_row(schedule.recip_sqrt_alpha_bar, t) * x_t - _per_row(schedule.sqrt_recip_alpha_bar_m1, t) * eps_pred


# Ho et al. 2020, Eq. 7: μ̃_t(x_t, x_0) = β_t √ᾱ_{t−1}/(1 − ᾱ_t) · x_0 + (1 − ᾱ_{t−1}) √α_t/(1 − ᾱ_t) · x_t
def gaussian_posterior_mean(schedule: DiffusionSchedule, x0: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
    """x0, x_t: (n, d); t: (n,) long -> the mean of q(x_{t−1} | x_t, x_0), (n, d)."""
    return _per_row(schedule.posterior_coef_x0, t) * x0 + _per_row(schedule.posterior_coef_xt, t) * x_t


# Ho et al. 2020, Alg. 2: x_{t−1} = μ̃_t(x_t, x̂_0) + σ_t z, σ_t² = β_t, z = 0 at the end. With the
# unclipped x̂_0 of Eq. 15 this is Eq. 11, (x_t − β_t/√(1 − ᾱ_t)·ε_θ)/√α_t + σ_t z; with ``bounds``,
# x̂_0 is first clipped to the data's support, as Ho et al.'s and Nichol & Dhariwal's samplers do
# for images in [−1, 1] (``clip_denoised``).
def gaussian_p_sample(
    schedule: DiffusionSchedule,
    x_t: Tensor,
    t: Tensor,
    eps_pred: Tensor,
    noise: Tensor,
    bounds: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """x_t, eps_pred, noise: (n, d); t: (n,) long -> x_{t−1} (n, d).

    bounds: None, or (low, high), each (d,) (or broadcastable), the support of x_0 to clip x̂_0 to.
    """
    x0 = gaussian_predict_x0(schedule, x_t, t, eps_pred)
    if bounds is not None:
        x0 = torch.clamp(x0, min=bounds[0], max=bounds[1])
    mean = gaussian_posterior_mean(schedule, x0, x_t, t)
    not_last = (t > 0).to(x_t.dtype).unsqueeze(1)
    return mean + not_last * _per_row(schedule.sigma, t) * noise


# ---------------------------------------------------------------------------------------------
# Multinomial diffusion on the categorical features
# ---------------------------------------------------------------------------------------------


class CategoricalLayout:
    """Where C categorical features sit in a flat ``(n, ΣK_j)`` one-hot or log-probability block.

    Feature ``j`` (with ``K_j`` categories) owns columns ``starts[j] .. starts[j] + K_j - 1``.
    Per-feature reductions (softmax, argmax) go through a padded ``(n, C, K_max)`` view, so
    every operation is one vectorised call, whatever the number of features.
    """

    def __init__(self, num_categories: Sequence[int], device: torch.device | str | None = None):
        sizes = tuple(int(k) for k in num_categories)
        if any(k < 1 for k in sizes):
            raise ValueError(f"every categorical feature needs at least one category, got sizes {sizes}")
        self.sizes = sizes
        self.width = int(sum(sizes))
        k_max = max(sizes, default=1)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if sizes else np.zeros(0, np.int64)
        slot = np.arange(k_max)
        valid = slot[None, :] < np.asarray(sizes, dtype=np.int64).reshape(-1, 1)
        gather = np.where(valid, starts.reshape(-1, 1) + slot[None, :], 0)
        scatter = np.concatenate([j * k_max + np.arange(k) for j, k in enumerate(sizes)]) if sizes else np.zeros(0)
        log_k = np.concatenate([np.full(k, np.log(k)) for k in sizes]) if sizes else np.zeros(0)
        self._k_max = k_max
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.starts = torch.as_tensor(starts, dtype=torch.long, device=self.device)
        self.log_k = torch.as_tensor(log_k, dtype=torch.float32, device=self.device)  # (width,) log K_j per column
        self._gather = torch.as_tensor(gather, dtype=torch.long, device=self.device)  # (C, K_max)
        self._valid = torch.as_tensor(valid, dtype=torch.bool, device=self.device)  # (C, K_max)
        self._scatter = torch.as_tensor(scatter, dtype=torch.long, device=self.device)  # (width,)

    @property
    def num_features(self) -> int:
        return len(self.sizes)

    def to(self, device: torch.device | str) -> "CategoricalLayout":
        return CategoricalLayout(self.sizes, device)

    def _padded(self, x: Tensor, fill: float) -> Tensor:
        """(n, width) -> (n, C, K_max), ``fill`` where a feature has fewer than K_max categories."""
        return x[:, self._gather].masked_fill(~self._valid, fill)

    def _flat(self, x_padded: Tensor) -> Tensor:
        """(n, C, K_max) -> (n, width), dropping the padding."""
        return x_padded.flatten(1)[:, self._scatter]

    def log_onehot(self, codes: Tensor) -> Tensor:
        """codes: (n, C) long in [0, K_j) -> (n, width) float32 log one-hot (0 and LOG_ZERO)."""
        out = torch.full((codes.shape[0], self.width), LOG_ZERO, dtype=torch.float32, device=codes.device)
        return out.scatter_(1, codes + self.starts, 0.0)

    def log_normalise(self, log_unnormalised: Tensor) -> Tensor:
        """Per-feature log-softmax of an (n, width) block: each feature's probabilities sum to 1."""
        return self._flat(torch.log_softmax(self._padded(log_unnormalised, -math.inf), dim=-1))

    def codes(self, log_probs: Tensor) -> Tensor:
        """(n, width) -> (n, C) long, the most probable category of each feature."""
        return self._padded(log_probs, -math.inf).argmax(dim=-1)

    def sample(self, log_probs: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One category per feature from (possibly unnormalised) log-probabilities, by Gumbel-max.

        log_probs: (n, width) -> (n, C) long codes.
        """
        u = torch.rand(log_probs.shape, generator=generator, device=log_probs.device, dtype=log_probs.dtype)
        gumbel = -torch.log(-torch.log(u + 1e-30) + 1e-30)
        return self.codes(log_probs + gumbel)


# Hoogeboom et al. 2021, Sec. 4: q(x_t | x_0) = Cat(x_t; ᾱ_t x_0 + (1 − ᾱ_t)/K)
def multinomial_q_marginal(schedule: DiffusionSchedule, layout: CategoricalLayout, log_x0: Tensor, t: Tensor) -> Tensor:
    """log_x0: (n, width) log-probabilities of x_0; t: (n,) -> (n, width) log q(x_t | x_0)."""
    return torch.logaddexp(
        log_x0 + _per_row(schedule.log_alpha_bar, t), _per_row(schedule.log_1m_alpha_bar, t) - layout.log_k
    )


# Hoogeboom et al. 2021, Sec. 4: q(x_t | x_{t−1}) = Cat(x_t; α_t x_{t−1} + (1 − α_t)/K), symmetric in x_t, x_{t−1}
def multinomial_q_step(schedule: DiffusionSchedule, layout: CategoricalLayout, log_x_t: Tensor, t: Tensor) -> Tensor:
    """(n, width) log one-hot x_t -> (n, width) log q(x_t | x_{t−1} = k) for every category k."""
    return torch.logaddexp(log_x_t + _per_row(schedule.log_alpha, t), _per_row(schedule.log_1m_alpha, t) - layout.log_k)


# Hoogeboom et al. 2021, Sec. 4: q(x_{t−1} | x_t, x_0) = Cat(θ/Σθ),
#   θ = [α_t x_t + (1 − α_t)/K] ⊙ [ᾱ_{t−1} x_0 + (1 − ᾱ_{t−1})/K]
def multinomial_posterior(
    schedule: DiffusionSchedule, layout: CategoricalLayout, log_x0: Tensor, log_x_t: Tensor, t: Tensor
) -> Tensor:
    """log_x0, log_x_t: (n, width); t: (n,) -> (n, width) log q(x_{t−1} | x_t, x_0).

    At index ``t = 0`` the factor q(x_{t−1} | x_0) is x_0 itself (ᾱ_0 = 1).
    """
    log_prev = multinomial_q_marginal(schedule, layout, log_x0, (t - 1).clamp(min=0))
    log_prev = torch.where((t == 0).unsqueeze(1), log_x0, log_prev)
    return layout.log_normalise(log_prev + multinomial_q_step(schedule, layout, log_x_t, t))


# Hoogeboom et al. 2021, Sec. 4: p_θ(x_{t−1} | x_t) = q(x_{t−1} | x_t, x̂_0), x̂_0 = per-feature softmax of the logits
def multinomial_p_log_probs(
    schedule: DiffusionSchedule, layout: CategoricalLayout, logits: Tensor, log_x_t: Tensor, t: Tensor
) -> Tensor:
    """logits: (n, width) network output -> (n, width) log p_θ(x_{t−1} | x_t)."""
    return multinomial_posterior(schedule, layout, layout.log_normalise(logits), log_x_t, t)


# KL(p ‖ q) = Σ_k p_k (log p_k − log q_k), summed over the categorical features
def multinomial_kl(log_p: Tensor, log_q: Tensor) -> Tensor:
    """(n, width) log-probabilities -> (n,) KL summed over all features."""
    return (log_p.exp() * (log_p - log_q)).sum(dim=1)


# Hoogeboom et al. 2021, Sec. 4: L_t = KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t)), t > 1; L_1 = −log p_θ(x_0 | x_1)
def multinomial_vb_term(
    schedule: DiffusionSchedule, layout: CategoricalLayout, logits: Tensor, log_x0: Tensor, log_x_t: Tensor, t: Tensor
) -> Tensor:
    """The bound's term at each row's step, summed over features: (n,) nats."""
    log_model = multinomial_p_log_probs(schedule, layout, logits, log_x_t, t)
    kl = multinomial_kl(multinomial_posterior(schedule, layout, log_x0, log_x_t, t), log_model)
    decoder_nll = -(log_x0.exp() * log_model).sum(dim=1)
    return torch.where(t == 0, decoder_nll, kl)


# Hoogeboom et al. 2021, Sec. 4: L_T = KL(q(x_T | x_0) ‖ Cat(1/K)), the prior term of the bound (no parameters)
def multinomial_prior_kl(schedule: DiffusionSchedule, layout: CategoricalLayout, log_x0: Tensor) -> Tensor:
    """log_x0: (n, width) -> (n,) nats, summed over features."""
    last = torch.full((log_x0.shape[0],), schedule.num_timesteps - 1, dtype=torch.long, device=log_x0.device)
    log_uniform = (-layout.log_k).expand_as(log_x0)
    return multinomial_kl(multinomial_q_marginal(schedule, layout, log_x0, last), log_uniform)


# ---------------------------------------------------------------------------------------------
# The joint process: TabDDPM's loss and its reverse-process sampler
# ---------------------------------------------------------------------------------------------


class MixedDiffusion:
    """TabDDPM's joint diffusion over ``[numerics ‖ categoricals]``, for any denoising network.

    The network is called as ``net(x_in, t, y)`` with ``x_in`` = ``(n, n_num + ΣK)`` float32
    (noisy numerics ‖ one-hot of the noisy categories), ``t`` = ``(n,)`` long step indices and
    ``y`` = ``(n,)`` long class indices, and returns ``(n, n_num + ΣK)``: ε for the numerics ‖
    unnormalised logits of x̂_0 for each categorical feature.
    """

    def __init__(
        self,
        num_numerical: int,
        num_categories: Sequence[int],
        num_timesteps: int = 1000,
        device: torch.device | str | None = None,
    ):
        if int(num_numerical) < 0:
            raise ValueError(f"num_numerical must be >= 0, got {num_numerical}")
        self.num_numerical = int(num_numerical)
        self.schedule = DiffusionSchedule.cosine(num_timesteps, device)
        self.layout = CategoricalLayout(num_categories, device)
        if self.num_numerical + self.layout.width == 0:
            raise ValueError("the data needs at least one numerical or categorical feature")

    @property
    def num_timesteps(self) -> int:
        return self.schedule.num_timesteps

    @property
    def d_in(self) -> int:
        """Width of the network's input and output."""
        return self.num_numerical + self.layout.width

    def _net_out(
        self, net: Denoiser, x_num_t: Tensor, log_x_cat_t: Tensor, t: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor]:
        out = net(torch.cat([x_num_t, log_x_cat_t.exp()], dim=1), t, y).float()  # fp32 under bf16 autocast
        if out.shape != (t.shape[0], self.d_in):
            raise ValueError(f"the network returned shape {tuple(out.shape)}; expected {(t.shape[0], self.d_in)}")
        return out[:, : self.num_numerical], out[:, self.num_numerical :]

    # Kotelnikov et al. 2023, Sec. 4: L = L_simple + Σ_{i≤C} L_i / C (each L_i weighted by 1/p(t) = T as in their code)
    def loss(
        self, net: Denoiser, x_num: Tensor, x_cat: Tensor, y: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """One Monte-Carlo estimate of TabDDPM's loss on a batch.

        x_num: (n, n_num) float32 quantile-normalised; x_cat: (n, C) long codes; y: (n,) long.
        Returns ``(loss_gauss, loss_multi)``, two 0-dim tensors: the mean ε-MSE and the mean
        over rows of (T·L_t + L_T)/C, the multinomial bound with one uniformly drawn step
        (an unbiased estimate of the full bound) divided by the number of categorical features.
        """
        n, device = y.shape[0], y.device
        sched, layout = self.schedule, self.layout
        t = torch.randint(0, self.num_timesteps, (n,), generator=generator, device=device)
        noise = torch.randn(x_num.shape, generator=generator, device=device, dtype=x_num.dtype)
        x_num_t = gaussian_q_sample(sched, x_num, t, noise)
        log_x0 = layout.log_onehot(x_cat)
        log_x_t = layout.log_onehot(layout.sample(multinomial_q_marginal(sched, layout, log_x0, t), generator))
        eps_pred, logits = self._net_out(net, x_num_t, log_x_t, t, y)

        zero = eps_pred.new_zeros(())
        loss_gauss = gaussian_eps_mse(eps_pred, noise).mean() if self.num_numerical else zero
        if layout.num_features:
            bound = self.num_timesteps * multinomial_vb_term(sched, layout, logits, log_x0, log_x_t, t)
            bound = bound + multinomial_prior_kl(sched, layout, log_x0)
            loss_multi = (bound / layout.num_features).mean()
        else:
            loss_multi = zero
        return loss_gauss, loss_multi

    @torch.no_grad()
    def sample(
        self,
        net: Denoiser,
        y: Tensor,
        generator: torch.Generator | None = None,
        x0_bounds: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Run the reverse process over all T steps for a batch of class indices ``y`` (n,).

        Starts from x_T ~ N(0, I) for the numerics and Cat(1/K) for each categorical feature.
        x0_bounds: None (TabDDPM's sampler) or (low, high), each (n_num,) float32 on the device:
        every step's x̂_0 of the numerics is clipped to it (see :func:`gaussian_p_sample`).
        Returns ``(x_num, x_cat)``: (n, n_num) float32 in the normalised space and (n, C) long codes.
        """
        n, device = y.shape[0], y.device
        sched, layout = self.schedule, self.layout
        x_num = torch.randn((n, self.num_numerical), generator=generator, device=device)
        uniform = torch.zeros((n, layout.width), device=device)
        log_x_cat = layout.log_onehot(layout.sample(uniform, generator))
        for step in reversed(range(self.num_timesteps)):
            t = torch.full((n,), step, dtype=torch.long, device=device)
            eps_pred, logits = self._net_out(net, x_num, log_x_cat, t, y)
            noise = torch.randn(x_num.shape, generator=generator, device=device)
            x_num = gaussian_p_sample(sched, x_num, t, eps_pred, noise, x0_bounds)
            if layout.num_features:
                log_probs = multinomial_p_log_probs(sched, layout, logits, log_x_cat, t)
                log_x_cat = layout.log_onehot(layout.sample(log_probs, generator))
        return x_num, layout.codes(log_x_cat)
