"""MAGE-ID stage 1, tabular branch: a TabSyn-style Transformer VAE with per-token latents.

Follows the VAE of TabSyn (Zhang et al., ICLR 2024, "Mixed-type tabular data synthesis with
score-based diffusion in latent space", Sec. 3.2), which MAGE-ID's poster names as its tabular
representation learner:

* tokenizer: numeric feature ``i`` -> ``x_i * w_i + b_i`` and categorical feature ``j`` ->
  ``E_j[x_j] + b_j``, one ``d_token`` vector per feature (``n_tokens = n_numeric + n_cat``);
* two Transformer encoders map the tokens to the mean and the log-variance of a Gaussian per
  token, ``mu, logvar: (n, n_tokens, d_token)``;
* a Transformer decoder maps a latent ``z`` of the same shape back to tokens, and a
  reconstructor reads numeric values (a per-feature linear read-out) and category logits (a
  per-feature linear head);
* loss = MSE(num) + CE(cat) + beta * KL, where beta starts at ``beta_max`` and is multiplied by
  ``beta_decay`` (floored at ``beta_min``) whenever the reconstruction loss has not improved for
  ``patience`` epochs (TabSyn Sec. 3.2, "adaptive beta"); the learning rate is reduced the same
  way by ``lr_decay`` (TabSyn's ReduceLROnPlateau(0.95, patience 10)).

On a CPU in float32 each half of a one-head block (LayerNorm, q/k/v, attention, residual; and
LayerNorm, FFN, residual) runs as one C++ kernel (:mod:`idsynth.models.narrow_kernels`; the same
function, ~6x faster per step), else as PyTorch ops (the FFN in cache-sized chunks,
:mod:`idsynth.models.fused_ffn`); training computes its losses with
:meth:`TabVAENet.training_losses` (the latent sample and KL in one pass, no padding logits; on a
CPU in float32 the tokenizer and the reconstruction losses are one C++ pass each way too).

Differences from TabSyn's reference code, all **(our choice)**: no [CLS] token (TabSyn drops
its latent anyway); pre-normalisation in every block; fused scaled-dot-product attention;
numeric read-outs have a bias; the plateau is measured on the training reconstruction loss
(TabSyn uses a held-out split) and the patience counter restarts after each decay, so beta
keeps decaying during a long plateau.

The class label is not special: the caller appends it as one more categorical column.
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
from . import narrow_kernels
from .fused_ffn import chunked_ffn, narrow_layer_norm
from .graphed_step import GraphedStep, step_schedule
from .training import (DeviceBatches, LossAccumulator, TorchEstimatorMixin, batched_apply, budget_bar,
                       check_float_array, count_parameters, gaussian_kl, make_adam, make_generator, seeded_init,
                       step_budget)


class BetaAnnealer:
    """TabSyn's adaptive KL weight: decay beta when the reconstruction loss plateaus.

    ``step(recon_loss)`` is called once per epoch. An epoch improves when its loss is below the
    best so far by more than ``min_delta``; after ``patience`` epochs in a row without an
    improvement, ``beta <- max(beta * decay, beta_min)`` and the counter restarts.
    """

    def __init__(self, beta_max: float, beta_min: float, decay: float, patience: int, min_delta: float = 0.0):
        if not 0 < beta_min <= beta_max:
            raise ValueError(f"need 0 < beta_min <= beta_max, got beta_min={beta_min}, beta_max={beta_max}")
        if not 0 < decay <= 1:
            raise ValueError(f"beta_decay must be in (0, 1], got {decay}")
        if int(patience) < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.beta = float(beta_max)
        self.beta_min = float(beta_min)
        self.decay = float(decay)
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.best = math.inf
        self.wait = 0

    def step(self, recon_loss: float) -> float:
        """Record one epoch's reconstruction loss; returns beta for the next epoch."""
        if recon_loss < self.best - self.min_delta:
            self.best = float(recon_loss)
            self.wait = 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.beta = max(self.beta * self.decay, self.beta_min)
                self.wait = 0
        return self.beta


def _uniform_(tensor: torch.Tensor, fan_in: int) -> torch.Tensor:
    """In-place U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the nn.Linear default scale."""
    bound = 1.0 / math.sqrt(max(fan_in, 1))
    return nn.init.uniform_(tensor, -bound, bound)


class FeatureTokenizer(nn.Module):
    """Rows -> tokens. ``x_num (n, n_num) float``, ``x_cat (n, n_cat) int64`` -> ``(n, n_num + n_cat, d)``."""

    def __init__(self, n_numeric: int, cardinalities: list[int], d_token: int):
        super().__init__()
        self.n_numeric = n_numeric
        self.num_weight = nn.Parameter(_uniform_(torch.empty(n_numeric, d_token), 1))
        self.bias = nn.Parameter(_uniform_(torch.empty(n_numeric + len(cardinalities), d_token), d_token))
        offsets = torch.tensor([0, *cardinalities[:-1]], dtype=torch.long).cumsum(0) if cardinalities else torch.zeros(0, dtype=torch.long)
        self.register_buffer("cat_offsets", offsets, persistent=False)
        self.cat_embedding = nn.Embedding(max(sum(cardinalities), 1), d_token)
        _uniform_(self.cat_embedding.weight, d_token)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        codes = x_cat + self.cat_offsets
        if narrow_kernels.elementwise_usable(x_num, self.num_weight) and not x_num.requires_grad:  # one C++ pass
            return narrow_kernels.tokens(x_num, codes, self.num_weight, self.cat_embedding.weight, self.bias)
        num_tokens = x_num.unsqueeze(-1) * self.num_weight
        return torch.cat([num_tokens, self.cat_embedding(codes)], dim=1) + self.bias


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + Attn(LN(x))`` then ``x + FFN(LN(x))`` with a ReLU FFN of width ``d_ff``.

    With one head there is no output projection (as in TabSyn / FT-Transformer).
    """

    def __init__(self, d_token: int, n_heads: int, d_ff: int):
        super().__init__()
        self.n_heads = n_heads
        self.norm_attn = nn.LayerNorm(d_token)
        self.qkv = nn.Linear(d_token, 3 * d_token)
        self.out = nn.Linear(d_token, d_token) if n_heads > 1 else nn.Identity()
        self.norm_ffn = nn.LayerNorm(d_token)
        self.ffn = nn.Sequential(nn.Linear(d_token, d_ff), nn.ReLU(), nn.Linear(d_ff, d_token))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        on_cpu = x.device.type == "cpu" and not torch.is_autocast_enabled("cpu")
        if on_cpu and self.n_heads == 1 and narrow_kernels.usable(x):  # each half one C++ kernel
            x = narrow_kernels.attention_half(x, self.norm_attn, self.qkv)
            return narrow_kernels.ffn_half(x, self.norm_ffn, self.ffn[0], self.ffn[2])
        norm = narrow_layer_norm if on_cpu else (lambda h, module: module(h))
        q, k, v = self.qkv(norm(x, self.norm_attn)).view(n, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, t, d)
        x = x + self.out(attended)
        normed = norm(x, self.norm_ffn)
        if on_cpu:  # the same function in cache-sized chunks (idsynth.models.fused_ffn)
            return x + chunked_ffn(normed, self.ffn[0], self.ffn[2])
        return x + self.ffn(normed)


class TokenTransformer(nn.Sequential):
    """``n_layers`` :class:`TransformerBlock` s; ``(n, tokens, d) -> (n, tokens, d)``."""

    def __init__(self, n_layers: int, d_token: int, n_heads: int, d_ff: int):
        super().__init__(*(TransformerBlock(d_token, n_heads, d_ff) for _ in range(n_layers)))


class FeatureReconstructor(nn.Module):
    """Tokens -> (numeric values ``(n, n_num)``, category logits ``(n, n_cat, max_card)``).

    Numeric feature ``i``: ``<h_i, w_i> + b_i``. Categorical feature ``j``: a linear head to its
    ``cardinalities[j]`` logits; all heads are held in one padded tensor, and the padding logits
    are ``-inf`` so softmax, cross-entropy and argmax ignore them.
    """

    def __init__(self, n_numeric: int, cardinalities: list[int], d_token: int):
        super().__init__()
        self.n_numeric = n_numeric
        self.cardinalities = [int(c) for c in cardinalities]
        n_cat, max_card = len(cardinalities), max(cardinalities, default=1)
        self.num_weight = nn.Parameter(_uniform_(torch.empty(n_numeric, d_token), d_token))
        self.num_bias = nn.Parameter(torch.zeros(n_numeric))
        self.cat_weight = nn.Parameter(_uniform_(torch.empty(n_cat, d_token, max_card), d_token))
        self.cat_bias = nn.Parameter(torch.zeros(n_cat, max_card))
        cards = torch.tensor(self.cardinalities, dtype=torch.long)
        self.register_buffer("cat_cards", cards, persistent=False)
        self.register_buffer("cat_padding", torch.arange(max_card)[None, :] >= cards.view(-1, 1), persistent=False)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h_num, h_cat = h[:, :self.n_numeric], h[:, self.n_numeric:]
        logits = torch.einsum("nkd,kdc->nkc", h_cat, self.cat_weight) + self.cat_bias
        return self._numeric(h_num), logits.masked_fill(self.cat_padding, float("-inf"))

    def _numeric(self, h_num: torch.Tensor) -> torch.Tensor:
        return (h_num * self.num_weight).sum(-1) + self.num_bias

    def losses(self, h: torch.Tensor, x_num: torch.Tensor, x_cat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mse, ce)`` of tokens ``h`` against the rows, as :func:`tab_vae_losses` computes them
        from :meth:`forward`'s outputs, with each categorical head at its own width (no padding
        logits: the padded head is ~3x wider on NSL-KDD, where one column has 66 categories)."""
        if narrow_kernels.usable(h) and not x_num.requires_grad:  # one C++ pass each way
            return narrow_kernels.reconstruction_losses(h, x_num, x_cat, self.num_weight, self.num_bias, self.cat_weight,
                                                        self.cat_bias, self.cat_cards)
        zero = h.new_zeros(())
        h_num, h_cat = h.split([self.n_numeric, h.shape[1] - self.n_numeric], dim=1)  # backward: one cat
        mse = F.mse_loss(self._numeric(h_num), x_num) if self.n_numeric else zero
        if not x_cat.shape[1]:
            return mse, zero
        ce = sum(F.cross_entropy(h_cat[:, j] @ self.cat_weight[j, :, :card] + self.cat_bias[j, :card], x_cat[:, j],
                                 reduction="sum") for j, card in enumerate(self.cardinalities))
        return mse, ce / x_cat.numel()


class TabVAENet(nn.Module):
    """Tokenizer + mu/logvar Transformer encoders + Transformer decoder + reconstructor."""

    def __init__(self, n_numeric: int, cardinalities: list[int], d_token: int, n_heads: int, n_layers: int, d_ff: int):
        super().__init__()
        self.tokenizer = FeatureTokenizer(n_numeric, cardinalities, d_token)
        self.encoder_mu = TokenTransformer(n_layers, d_token, n_heads, d_ff)
        self.encoder_logvar = TokenTransformer(n_layers, d_token, n_heads, d_ff)
        self.decoder = TokenTransformer(n_layers, d_token, n_heads, d_ff)
        self.reconstructor = FeatureReconstructor(n_numeric, cardinalities, d_token)

    def encode(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> ``mu, logvar``, each ``(n, n_tokens, d_token)``."""
        tokens = self.tokenizer(x_num, x_cat)
        return self.encoder_mu(tokens), self.encoder_logvar(tokens)

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``z (n, n_tokens, d_token)`` -> numeric values ``(n, n_num)``, logits ``(n, n_cat, max_card)``."""
        return self.reconstructor(self.decoder(z))

    def forward(self, x_num, x_cat, generator: torch.Generator | None = None):
        """One VAE pass with the reparameterisation trick; -> ``num_hat, logits, mu, logvar``."""
        mu, logvar = self.encode(x_num, x_cat)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        num_hat, logits = self.decode(mu + eps * torch.exp(0.5 * logvar))
        return num_hat, logits, mu, logvar

    def training_losses(self, x_num, x_cat, generator: torch.Generator | None = None):
        """``(mse, ce, kl)`` of one VAE pass: ``tab_vae_losses(x_num, x_cat, *self(x_num, x_cat,
        generator))`` (the same noise from ``generator``, the same values up to rounding), computed
        the cheap way: the sample and the KL in one pass (:func:`narrow_kernels.latent_sample_kl`)
        and the categorical heads without padding (:meth:`FeatureReconstructor.losses`)."""
        mu, logvar = self.encode(x_num, x_cat)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z, kl = narrow_kernels.latent_sample_kl(mu, logvar, eps)
        return (*self.reconstructor.losses(self.decoder(z), x_num, x_cat), kl)


def tab_vae_losses(x_num, x_cat, num_hat, logits, mu, logvar) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(mse, ce, kl)``: MSE over all numeric entries, CE averaged over rows and categorical
    columns, and :func:`gaussian_kl`. An empty block contributes 0."""
    zero = mu.new_zeros(())
    mse = F.mse_loss(num_hat, x_num) if x_num.shape[1] else zero
    ce = F.cross_entropy(logits.flatten(0, 1), x_cat.flatten()) if x_cat.shape[1] else zero
    return mse, ce, gaussian_kl(mu, logvar)


class TabVAE(TorchEstimatorMixin, BaseEstimator):
    """TabSyn-style Transformer VAE for mixed-type rows (MAGE-ID's tabular encoder).

    Parameters
    ----------
    n_numeric: number of numeric columns (already scaled by the caller, e.g. quantile-normal).
    cat_cardinalities: number of categories of each categorical column (codes ``0..card-1``).
    d_token, n_heads, n_layers, d_ff: token width, attention heads, blocks per Transformer,
        FFN width. TabSyn: 4, 1, 2, 128 (factor 32 x d_token).
    beta_max, beta_min, beta_decay, patience: the adaptive KL weight (TabSyn: 1e-2, 1e-5, 0.7, 10).
    lr_decay: learning-rate factor on the same plateau (TabSyn 0.95; 1.0 switches it off).
    epochs, batch_size, learning_rate, weight_decay: the Adam schedule.
    steps: the training length in optimiser steps of ``batch_size`` rows; when given it replaces
        ``epochs`` (:func:`~idsynth.models.training.step_budget`), so sets of different sizes get
        the same budget.
    device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ...
    random_state: seeds the initial weights, the shuffling and the reparameterisation noise.
    plateau_on: what the beta and learning-rate plateaus watch: ``"train"`` (the epoch's mean
        training reconstruction loss, smooth) or ``"holdout"`` (TabSyn's reference: the
        reconstruction loss MSE + CE of ``holdout_fraction`` of the rows, held out of training and
        scored once per epoch through the sampling VAE, so noisy).
    cuda_graph: on CUDA, replay each training step from a CUDA graph
        (:class:`~idsynth.models.graphed_step.GraphedStep`; same kernels, ~10x fewer launches).

    Fitted attributes: ``net_`` (the :class:`TabVAENet`), ``latent_shape_ = (n_tokens, d_token)``,
    ``latent_dim_ = n_tokens * d_token``, ``loss_history_`` (one dict per epoch: ``total, mse,
    ce, kl, beta, lr`` and ``step``, the optimiser steps taken by its end, so beta and the learning
    rate are known per step; ``holdout_recon`` with ``plateau_on="holdout"``), ``n_parameters_``, ``device_``, ``n_steps_`` and ``fit_seconds_``
    (optimiser steps taken and wall seconds of the last ``fit``).
    """

    checkpoint_kind = "idsynth.TabVAE"

    def __init__(self, n_numeric: int, cat_cardinalities: list[int], d_token: int = 4, n_heads: int = 1,
                 n_layers: int = 2, d_ff: int = 128, beta_max: float = 1e-2, beta_min: float = 1e-5,
                 beta_decay: float = 0.7, patience: int = 10, lr_decay: float = 0.95, epochs: int = 1000,
                 batch_size: int = 4096, steps: int | None = None, learning_rate: float = 1e-3, weight_decay: float = 0.0,
                 device: str = "auto", random_state: int = 0, cuda_graph: bool = True, verbose: bool = True,
                 plateau_on: str = "train", holdout_fraction: float = 0.1):
        self.n_numeric = n_numeric
        self.cat_cardinalities = cat_cardinalities
        self.d_token = d_token
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.d_ff = d_ff
        self.beta_max = beta_max
        self.beta_min = beta_min
        self.beta_decay = beta_decay
        self.patience = patience
        self.lr_decay = lr_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.steps = steps
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state
        self.cuda_graph = cuda_graph
        self.verbose = verbose
        self.plateau_on = plateau_on
        self.holdout_fraction = holdout_fraction

    # -- construction and validation ------------------------------------------------------------
    def _cardinalities(self) -> list[int]:
        cards = [int(c) for c in self.cat_cardinalities]
        if any(c < 1 for c in cards):
            raise ValueError(f"cat_cardinalities must be positive integers, got {self.cat_cardinalities}")
        return cards

    def _build_net(self) -> TabVAENet:
        cards = self._cardinalities()
        if int(self.n_numeric) < 0 or int(self.n_numeric) + len(cards) == 0:
            raise ValueError(f"need at least one column; got n_numeric={self.n_numeric}, cat_cardinalities={cards}")
        if int(self.d_token) < 1 or int(self.d_token) % int(self.n_heads):
            raise ValueError(f"d_token ({self.d_token}) must be a positive multiple of n_heads ({self.n_heads})")
        with seeded_init(self.random_state):
            return TabVAENet(int(self.n_numeric), cards, int(self.d_token), int(self.n_heads),
                             int(self.n_layers), int(self.d_ff))

    def _set_fitted(self, net: TabVAENet, device: torch.device) -> None:
        self.net_ = net.to(device).eval()
        self.device_ = device
        self.n_tokens_ = int(self.n_numeric) + len(self.cat_cardinalities)
        self.latent_shape_ = (self.n_tokens_, int(self.d_token))
        self.latent_dim_ = self.n_tokens_ * int(self.d_token)
        self.n_parameters_ = count_parameters(net)

    def _check_rows(self, X_num, X_cat) -> tuple[np.ndarray, np.ndarray]:
        """-> ``X_num (n, n_numeric) float32``, ``X_cat (n, n_cat) int64``, validated."""
        cards = self._cardinalities()
        n_num, n_cat = int(self.n_numeric), len(cards)
        if X_num is None and n_num == 0:
            X_num = np.zeros((len(X_cat), 0), np.float32)
        if X_cat is None and n_cat == 0:
            X_cat = np.zeros((len(X_num), 0), np.int64)
        X_num, X_cat = check_float_array("X_num", X_num, (n_num,)), np.asarray(X_cat)
        if X_cat.ndim != 2 or X_cat.shape[1] != n_cat:
            raise ValueError(f"X_cat must have shape (n, {n_cat}), got {X_cat.shape}")
        if X_num.shape[0] != X_cat.shape[0]:
            raise ValueError(f"X_num and X_cat must have the same rows, got {X_num.shape[0]} and {X_cat.shape[0]}")
        if not (np.issubdtype(X_cat.dtype, np.integer) or X_cat.size == 0):
            raise TypeError(f"X_cat must hold integer category codes, got dtype {X_cat.dtype}")
        X_cat = X_cat.astype(np.int64, copy=False)
        if n_cat and X_cat.size:
            low, high = X_cat.min(axis=0), X_cat.max(axis=0)
            bad = np.flatnonzero((low < 0) | (high >= np.asarray(cards)))
            if bad.size:
                j = int(bad[0])
                raise ValueError(f"X_cat column {j} has codes in [{low[j]}, {high[j]}], expected 0..{cards[j] - 1}")
        return X_num, X_cat

    # -- training -----------------------------------------------------------------------------
    def fit(self, X_num, X_cat) -> "TabVAE":
        """Train on ``X_num (n, n_numeric) float32`` and ``X_cat (n, n_cat) int64`` codes."""
        X_num, X_cat = self._check_rows(X_num, X_cat)
        if len(X_num) < 2:
            raise ValueError(f"need at least 2 rows to fit, got {len(X_num)}")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1] (1 = constant learning rate), got {self.lr_decay}")
        (X_num, X_cat), holdout = self._split_holdout(X_num, X_cat)
        device = resolve_device(self.device)
        net = self._build_net()
        self._set_fitted(net, device)
        net.train()
        x_num, x_cat = self._to_device(X_num, X_cat)
        holdout_score = self._holdout_scorer(net, holdout, device)
        generator = make_generator(self.random_state, device)
        budget = step_budget(len(X_num), int(self.batch_size), self.epochs, self.steps)
        batches = DeviceBatches(x_num, x_cat, batch_size=budget.batch_size, generator=generator)
        optimizer = make_adam(net.parameters(), self.learning_rate, self.weight_decay, device)
        lr_schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=self.lr_decay, patience=self.patience) \
            if self.lr_decay < 1 else None
        annealer = BetaAnnealer(self.beta_max, self.beta_min, self.beta_decay, self.patience)
        beta_t = torch.tensor(annealer.beta, device=device)  # read by the captured step

        def step(xb_num, xb_cat):
            mse, ce, kl = net.training_losses(xb_num, xb_cat, runner.generator)
            (mse + ce + beta_t * kl).backward()
            optimizer.step()
            return mse.detach(), ce.detach(), kl.detach()

        runner = GraphedStep(step, optimizer, device, enabled=self.cuda_graph, generator=generator)
        self.loss_history_ = []
        bar = budget_bar(budget, self.verbose, "TabVAE")
        started = time.perf_counter()
        with runner.seeded(self.random_state):
            for epoch in bar:
                beta = annealer.beta
                beta_t.fill_(beta)
                sums = LossAccumulator()
                for _, (xb_num, xb_cat) in zip(range(budget.steps_in(epoch)), batches):
                    mse, ce, kl = runner(xb_num, xb_cat)
                    sums.add(len(xb_num), mse=mse, ce=ce, kl=kl)
                record = sums.means()
                recon = record["mse"] + record["ce"]
                record.update(epoch=epoch, step=min((epoch + 1) * budget.batches_per_epoch, budget.steps),
                              total=recon + beta * record["kl"], beta=beta, lr=float(optimizer.param_groups[0]["lr"]))
                if holdout_score is not None:
                    record["holdout_recon"] = recon = holdout_score()
                self.loss_history_.append(record)
                bar.set_postfix(mse=f"{record['mse']:.4f}", ce=f"{record['ce']:.4f}", kl=f"{record['kl']:.3f}",
                                beta=f"{beta:.1e}")
                annealer.step(recon)
                if lr_schedule is not None:
                    step_schedule(lr_schedule, recon)
        self.cuda_graphs_ = runner.n_graphs  # batch shapes replayed from CUDA graphs (0: eager)
        self.n_steps_, self.fit_seconds_ = budget.steps, time.perf_counter() - started
        net.eval()
        return self

    def _split_holdout(self, X_num: np.ndarray, X_cat: np.ndarray):
        """``((X_num, X_cat) to train on, (X_num, X_cat) held out or None)`` per ``plateau_on``."""
        if self.plateau_on == "train":
            return (X_num, X_cat), None
        if self.plateau_on != "holdout":
            raise ValueError(f"plateau_on must be 'train' or 'holdout', got {self.plateau_on!r}")
        if not 0 < self.holdout_fraction < 1:
            raise ValueError(f"holdout_fraction must be in (0, 1), got {self.holdout_fraction}")
        n_out = max(1, int(round(len(X_num) * float(self.holdout_fraction))))
        if len(X_num) - n_out < 2:
            raise ValueError(f"{len(X_num)} rows leave fewer than 2 to train on after holding out {n_out}")
        order = np.random.default_rng(int(self.random_state)).permutation(len(X_num))
        out, keep = np.sort(order[:n_out]), np.sort(order[n_out:])
        return (X_num[keep], X_cat[keep]), (X_num[out], X_cat[out])

    def _holdout_scorer(self, net: "TabVAENet", holdout, device):
        """A function returning the held-out rows' reconstruction loss (MSE + CE, one latent draw
        per row from a generator of its own), or None without a holdout."""
        if holdout is None:
            return None
        h_num, h_cat = self._to_device(*holdout)
        noise = make_generator(int(self.random_state) + 1, device)

        @torch.no_grad()
        def score() -> float:
            net.eval()
            mse, ce, _ = net.training_losses(h_num, h_cat, noise)
            net.train()
            return float(mse + ce)

        return score

    # -- encoding and decoding ------------------------------------------------------------------
    def _posterior_tensors(self, X_num, X_cat) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows -> ``mu, logvar`` on the model's device, each ``(n, n_tokens, d_token)``."""
        self._check_fitted()
        x_num, x_cat = self._to_device(*self._check_rows(X_num, X_cat))
        return batched_apply(self.net_.encode, x_num, x_cat, batch_size=int(self.batch_size))

    def posterior(self, X_num, X_cat) -> tuple[np.ndarray, np.ndarray]:
        """Rows -> the posterior's ``(mu, logvar)``, each ``(n, latent_dim_) float32``
        (token-major, as :meth:`encode`)."""
        mu, logvar = self._posterior_tensors(X_num, X_cat)
        return mu.flatten(1).cpu().numpy(), logvar.flatten(1).cpu().numpy()

    def encode(self, X_num, X_cat, sample: bool = False, random_state: int | None = None) -> np.ndarray:
        """Rows -> latents ``(n, latent_dim_) float32`` (token-major: token 0's ``d_token``
        coordinates first). The posterior mean, or a draw from it when ``sample``."""
        mu, logvar = self._posterior_tensors(X_num, X_cat)
        if sample:
            seed = self.random_state if random_state is None else random_state
            eps = torch.randn(mu.shape, generator=make_generator(seed, self.device_), device=self.device_)
            mu = mu + eps * torch.exp(0.5 * logvar)
        return mu.flatten(1).cpu().numpy()

    def _decode_tensors(self, z) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_fitted()
        z = check_float_array("z", z, (self.latent_dim_,))
        (z_dev,) = self._to_device(z)
        return batched_apply(self.net_.decode, z_dev.view(len(z), *self.latent_shape_), batch_size=int(self.batch_size))

    def decode(self, z) -> tuple[np.ndarray, np.ndarray]:
        """Latents ``(n, latent_dim_)`` -> ``X_num_hat (n, n_numeric) float32``, ``X_cat_hat (n, n_cat) int64`` (argmax)."""
        num, logits = self._decode_tensors(z)
        return num.cpu().numpy(), logits.argmax(-1).cpu().numpy()

    def decode_logits(self, z) -> tuple[np.ndarray, list[np.ndarray]]:
        """Latents -> ``X_num_hat (n, n_numeric) float32`` and one ``(n, card_j)`` logit array per categorical column."""
        num, logits = self._decode_tensors(z)
        logits = logits.cpu().numpy()
        return num.cpu().numpy(), [logits[:, j, :card] for j, card in enumerate(self._cardinalities())]

    def reconstruction_report(self, X_num, X_cat) -> dict:
        """Encode (posterior mean) and decode ``X``; returns ``num_mse``, ``num_rmse`` (over all numeric
        entries), ``num_rmse_per_feature`` (list), ``cat_accuracy`` (list, per categorical column) and
        ``cat_accuracy_mean``."""
        X_num, X_cat = self._check_rows(X_num, X_cat)
        num_hat, cat_hat = self.decode(self.encode(X_num, X_cat))
        sq = np.square(num_hat.astype(np.float64) - X_num)
        acc = (cat_hat == X_cat).mean(axis=0) if len(X_cat) else np.full(X_cat.shape[1], np.nan)
        mse = float(sq.mean()) if sq.size else float("nan")
        return {
            "num_mse": mse,
            "num_rmse": math.sqrt(mse) if sq.size else float("nan"),
            "num_rmse_per_feature": np.sqrt(sq.mean(axis=0)).tolist() if sq.size else [],
            "cat_accuracy": acc.tolist(),
            "cat_accuracy_mean": float(acc.mean()) if acc.size else float("nan"),
        }

    def _checkpoint_config(self) -> dict:
        return {**self.get_params(), "cat_cardinalities": self._cardinalities()}
