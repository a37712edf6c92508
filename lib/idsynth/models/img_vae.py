"""MAGE-ID stage 1, image branch: a convolutional VAE for the feature images.

The poster gives the branch as "a CNN-based VAE for image data" trained with MSE(x_img) + beta*KL;
the layer sizes are **(our choice)**:

* the image ``(C, H, W)``, ``H = W = image_size``, is zero-padded on the bottom/right to
  ``P = s * 2**k`` so that ``k`` stride-2 stages divide it exactly;
* encoder: per stage ``Conv3x3/stride 2 -> GELU -> Conv3x3 -> GELU`` (widths ``widths``), then a
  linear layer from the ``(widths[-1], s, s)`` map to ``mu`` and ``logvar`` (each ``latent_dim``);
* decoder: the mirror image, a linear layer back to ``(widths[-1], s, s)``, per stage
  ``ConvTranspose4x4/stride 2 -> GELU -> Conv3x3 -> GELU``, a final ``Conv3x3`` to ``C``
  channels and a sigmoid, cropped back to ``H x W`` (outputs in [0, 1]); every convolution is
  followed by GroupNorm (without it the sigmoid saturates early and training stalls at a
  constant image), and the output bias starts at the logit of the mean pixel;
* loss = MSE over the ``H x W`` pixels + beta * KL (KL averaged per latent coordinate, as in
  the tabular VAE, so one beta means the same in both branches).

With ``widths=None`` the depth follows the image size: ``k = max(1, ceil(log2(image_size / 4)))``
stages (2 for 9-16 px, 3 for 17-32 px, 4 for 33-64 px), widths ``32, 64, 128, 128, ...``, which
leaves a 3x3 or 4x4 map before the linear layer.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from torch import nn

from ..config import resolve_device
from .training import (DeviceBatches, LossAccumulator, TorchEstimatorMixin, batched_apply, budget_bar,
                       check_float_array, count_parameters, gaussian_kl, make_adam, make_generator, seeded_init,
                       step_budget)


def auto_widths(image_size: int) -> tuple[int, ...]:
    """Channel widths of the stride-2 stages for a square image of ``image_size`` pixels."""
    n_stages = max(1, math.ceil(math.log2(image_size / 4)))
    return tuple(min(32 * 2**i, 128) for i in range(n_stages))


def padded_grid(image_size: int, n_stages: int) -> tuple[int, int]:
    """``(s, P)``: the smallest ``P = s * 2**n_stages >= image_size``, and ``s``."""
    s = math.ceil(image_size / 2**n_stages)
    return s, s * 2**n_stages


def _conv_stage(c_in: int, c_out: int, upsample: bool) -> nn.Sequential:
    resample = (nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1) if upsample
                else nn.Conv2d(c_in, c_out, 3, stride=2, padding=1))
    return nn.Sequential(resample, _group_norm(c_out), nn.GELU(),
                         nn.Conv2d(c_out, c_out, 3, padding=1), _group_norm(c_out), nn.GELU())


def _group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with 8 groups where the width allows (1 group otherwise): keeps the activations
    of the un-normalised-input network in range, independent of the batch."""
    return nn.GroupNorm(8 if channels % 8 == 0 else 1, channels)


class ConvVAENet(nn.Module):
    """Images ``(n, C, H, W)`` in [0, 1] <-> Gaussian latents ``(n, latent_dim)``."""

    def __init__(self, image_size: int, channels: int, latent_dim: int, widths: tuple[int, ...]):
        super().__init__()
        self.image_size = image_size
        self.grid, self.padded_size = padded_grid(image_size, len(widths))
        flat = widths[-1] * self.grid**2
        self.encoder = nn.Sequential(*(_conv_stage(c_in, c_out, False)
                                       for c_in, c_out in zip((channels, *widths[:-1]), widths)), nn.Flatten())
        self.to_posterior = nn.Linear(flat, 2 * latent_dim)
        self.from_latent = nn.Sequential(nn.Linear(latent_dim, flat), nn.GELU(),
                                         nn.Unflatten(1, (widths[-1], self.grid, self.grid)))
        up = widths[::-1]
        self.decoder = nn.Sequential(*(_conv_stage(c_in, c_out, True) for c_in, c_out in zip(up, (*up[1:], up[-1]))),
                                     nn.Conv2d(up[-1], channels, 3, padding=1))

    @torch.no_grad()
    def start_at_mean(self, channel_means: np.ndarray) -> None:
        """Set the output bias to ``logit(mean pixel)`` per channel, so training starts from the
        mean image rather than from 0.5 everywhere (feature images are mostly dark)."""
        means = torch.as_tensor(np.clip(channel_means, 1e-3, 1 - 1e-3), dtype=torch.float32)
        self.decoder[-1].bias.copy_(torch.logit(means))

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(n, C, H, W)`` -> ``mu, logvar``, each ``(n, latent_dim)``."""
        pad = self.padded_size - self.image_size
        mu, logvar = self.to_posterior(self.encoder(F.pad(images, (0, pad, 0, pad)))).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(n, latent_dim)`` -> images ``(n, C, H, W)`` in [0, 1]."""
        out = self.decoder(self.from_latent(z))[..., :self.image_size, :self.image_size]
        return torch.sigmoid(out)

    def forward(self, images, generator: torch.Generator | None = None):
        """One VAE pass with the reparameterisation trick; -> ``reconstruction, mu, logvar``."""
        mu, logvar = self.encode(images)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return self.decode(mu + eps * torch.exp(0.5 * logvar)), mu, logvar


def img_vae_losses(images, reconstruction, mu, logvar) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mse, kl)``: MSE averaged over pixels and :func:`~idsynth.models.training.gaussian_kl`."""
    return F.mse_loss(reconstruction, images), gaussian_kl(mu, logvar)


class ImageVAE(TorchEstimatorMixin, BaseEstimator):
    """Convolutional VAE for square feature images (MAGE-ID's image encoder).

    Parameters
    ----------
    image_size: ``H = W`` in pixels. channels: ``C`` (1 for the feature images).
    latent_dim: size of the Gaussian latent vector.
    widths: channels of the stride-2 stages, or ``None`` for :func:`auto_widths`.
    beta: weight of the KL term (fixed).
    epochs, batch_size, learning_rate, weight_decay: the Adam schedule.
    steps: the training length in optimiser steps (replaces ``epochs`` when given;
        :func:`~idsynth.models.training.step_budget`).
    device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...; random_state: seeds weights, shuffling, noise.

    Fitted attributes: ``net_``, ``widths_``, ``latent_dim_``, ``loss_history_`` (one dict per
    epoch: ``total, mse, kl, beta``), ``n_parameters_``, ``device_``, ``n_steps_``, ``fit_seconds_``.
    """

    checkpoint_kind = "idsynth.ImageVAE"

    def __init__(self, image_size: int, channels: int = 1, latent_dim: int = 64, widths: tuple[int, ...] | None = None,
                 beta: float = 1e-3, epochs: int = 300, batch_size: int = 2048, learning_rate: float = 1e-3,
                 weight_decay: float = 0.0, steps: int | None = None, device: str = "auto", random_state: int = 0, verbose: bool = True):
        self.image_size = image_size
        self.channels = channels
        self.latent_dim = latent_dim
        self.widths = widths
        self.beta = beta
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.steps = steps
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _resolved_widths(self) -> tuple[int, ...]:
        widths = auto_widths(int(self.image_size)) if self.widths is None else tuple(int(w) for w in self.widths)
        if not widths or any(w < 1 for w in widths):
            raise ValueError(f"widths must be a non-empty sequence of positive integers, got {self.widths!r}")
        return widths

    def _build_net(self) -> ConvVAENet:
        if int(self.image_size) < 2 or int(self.channels) < 1 or int(self.latent_dim) < 1:
            raise ValueError(f"need image_size >= 2, channels >= 1, latent_dim >= 1; got "
                             f"{self.image_size}, {self.channels}, {self.latent_dim}")
        if not self.beta >= 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")
        with seeded_init(self.random_state):
            return ConvVAENet(int(self.image_size), int(self.channels), int(self.latent_dim), self._resolved_widths())

    def _set_fitted(self, net: ConvVAENet, device: torch.device) -> None:
        self.net_ = net.to(device).eval()
        self.device_ = device
        self.widths_ = self._resolved_widths()
        self.latent_dim_ = int(self.latent_dim)
        self.n_parameters_ = count_parameters(net)

    def _checkpoint_config(self) -> dict:
        params = self.get_params()
        return {**params, "widths": None if self.widths is None else [int(w) for w in self.widths]}

    def _check_images(self, images) -> np.ndarray:
        """-> ``(n, channels, image_size, image_size) float32`` in [0, 1], validated."""
        size = int(self.image_size)
        images = check_float_array("images", images, (int(self.channels), size, size))
        if images.size and (images.min() < 0 or images.max() > 1):
            raise ValueError(f"images must lie in [0, 1], got values in [{images.min()}, {images.max()}]")
        return images

    def fit(self, images) -> "ImageVAE":
        """Train on ``images (n, channels, image_size, image_size) float32`` in [0, 1]."""
        images = self._check_images(images)
        if len(images) < 2:
            raise ValueError(f"need at least 2 images to fit, got {len(images)}")
        device = resolve_device(self.device)
        net = self._build_net()
        net.start_at_mean(images.mean(axis=(0, 2, 3)))
        self._set_fitted(net, device)
        net.train()
        (x,) = self._to_device(images)
        generator = make_generator(self.random_state, device)
        budget = step_budget(len(x), int(self.batch_size), self.epochs, self.steps)
        batches = DeviceBatches(x, batch_size=budget.batch_size, generator=generator)
        optimizer = make_adam(net.parameters(), self.learning_rate, self.weight_decay, device)
        beta = float(self.beta)
        self.loss_history_ = []
        bar = budget_bar(budget, self.verbose, "ImageVAE")
        started = time.perf_counter()
        for epoch in bar:
            sums = LossAccumulator()
            for _, (xb,) in zip(range(budget.steps_in(epoch)), batches):
                mse, kl = img_vae_losses(xb, *net(xb, generator))
                loss = mse + beta * kl
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                sums.add(len(xb), mse=mse, kl=kl)
            record = sums.means()
            record.update(epoch=epoch, total=record["mse"] + beta * record["kl"], beta=beta)
            self.loss_history_.append(record)
            bar.set_postfix(mse=f"{record['mse']:.5f}", kl=f"{record['kl']:.3f}")
        self.n_steps_, self.fit_seconds_ = budget.steps, time.perf_counter() - started
        net.eval()
        return self

    def _posterior_tensors(self, images) -> tuple[torch.Tensor, torch.Tensor]:
        """Images -> ``mu, logvar`` on the model's device, each ``(n, latent_dim)``."""
        self._check_fitted()
        (x,) = self._to_device(self._check_images(images))
        return batched_apply(self.net_.encode, x, batch_size=int(self.batch_size))

    def posterior(self, images) -> tuple[np.ndarray, np.ndarray]:
        """Images -> the posterior's ``(mu, logvar)``, each ``(n, latent_dim) float32``."""
        mu, logvar = self._posterior_tensors(images)
        return mu.cpu().numpy(), logvar.cpu().numpy()

    def encode(self, images, sample: bool = False, random_state: int | None = None) -> np.ndarray:
        """Images -> latents ``(n, latent_dim) float32``: the posterior mean, or a draw when ``sample``."""
        mu, logvar = self._posterior_tensors(images)
        if sample:
            seed = self.random_state if random_state is None else random_state
            eps = torch.randn(mu.shape, generator=make_generator(seed, self.device_), device=self.device_)
            mu = mu + eps * torch.exp(0.5 * logvar)
        return mu.cpu().numpy()

    def decode(self, z) -> np.ndarray:
        """Latents ``(n, latent_dim)`` -> images ``(n, channels, image_size, image_size) float32`` in [0, 1]."""
        self._check_fitted()
        (z_dev,) = self._to_device(check_float_array("z", z, (self.latent_dim_,)))
        return batched_apply(self.net_.decode, z_dev, batch_size=int(self.batch_size)).cpu().numpy()

    def reconstruction_report(self, images) -> dict:
        """Encode (posterior mean) and decode; returns ``mse``, ``rmse``, ``mae`` (per pixel) and
        ``psnr_db`` (10 log10(1 / mse), the peak being 1)."""
        images = self._check_images(images)
        err = self.decode(self.encode(images)).astype(np.float64) - images
        mse = float(np.square(err).mean())
        return {"mse": mse, "rmse": math.sqrt(mse), "mae": float(np.abs(err).mean()),
                "psnr_db": 10 * math.log10(1 / mse) if mse > 0 else float("inf")}
