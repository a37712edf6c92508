"""VGM's loss: the negative evidence lower bound (paper §3.2, Figure 2) per option.

Every term is computed per row and averaged over the batch:

* ``kl``: KL(q(z | I) || N(0, I)), summed over the latent dimensions (nats).
* ``bernoulli_nll``: -log p(X | z) of independent Bernoulli outputs, i.e. binary
  cross-entropy summed over the sigmoid columns (nats).
* ``rmse`` (Option B only): root mean squared error over the continuous (linear) columns,
  in units of the min-max-scaled features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

RMSE_EPS = 1e-12  # keeps the gradient of sqrt finite when a row is reproduced exactly


def kl_to_standard_normal(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, diag(exp(log_var))) || N(0, I)) per row: (n, k) -> (n,).

    Kingma & Welling (2014), Appendix B: -KL = 1/2 sum(1 + log s^2 - m^2 - s^2).
    """
    return 0.5 * torch.sum(torch.exp(log_var) + mean.square() - 1.0 - log_var, dim=1)


def bernoulli_nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """-log p(target | sigmoid(logits)) summed over columns: (n, d), (n, d) in [0, 1] -> (n,)."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(dim=1)


def root_mean_squared_error(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """sqrt(mean over columns of the squared error) per row: (n, d), (n, d) -> (n,)."""
    return torch.sqrt((prediction - target).square().mean(dim=1) + RMSE_EPS)


class VGMLoss:
    """Negative ELBO terms of a VGM network, each a batch mean (a 0-d tensor).

    ``n_linear`` = number of leading linear (continuous) output columns: 0 for Options A and
    C (Bernoulli on every column), 32 for Option B (RMSE on columns ``[0, 32)``, Bernoulli on
    the rest). ``__call__(net, x, onehot, eps)`` runs the network's training pass and returns
    ``{"kl": ..., "bernoulli_nll": ...[, "rmse": ...]}``; :meth:`total` sums the terms.
    """

    def __init__(self, n_linear: int = 0):
        if n_linear < 0:
            raise ValueError(f"n_linear must be >= 0, got {n_linear}")
        self.n_linear = int(n_linear)

    @property
    def term_names(self) -> tuple[str, ...]:
        return ("kl", "bernoulli_nll", "rmse") if self.n_linear else ("kl", "bernoulli_nll")

    def terms(
        self, raw: torch.Tensor, x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The loss terms from a training pass's outputs (raw, mean, log_var) and its target x."""
        k = self.n_linear
        out = {
            "kl": kl_to_standard_normal(mean, log_var).mean(),
            "bernoulli_nll": bernoulli_nll(raw[:, k:], x[:, k:]).mean(),
        }
        if k:
            out["rmse"] = root_mean_squared_error(raw[:, :k], x[:, :k]).mean()
        return out

    def __call__(self, net: nn.Module, x: torch.Tensor, onehot: torch.Tensor, eps: torch.Tensor) -> dict[str, torch.Tensor]:
        raw, mean, log_var = net(x, onehot, eps)
        return self.terms(raw, x, mean, log_var)

    @staticmethod
    def total(terms: dict[str, torch.Tensor]) -> torch.Tensor:
        """The loss to minimise: the sum of the terms, in their fixed order."""
        values = list(terms.values())
        loss = values[0]
        for value in values[1:]:
            loss = loss + value
        return loss
