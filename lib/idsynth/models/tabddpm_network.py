"""TabDDPM's denoising network, MLPDiffusion (Kotelnikov et al., ICML 2023, Sec. 4).

The input row ``[noisy numerics ‖ one-hot noisy categories]`` is projected to ``dim_t``
dimensions and added to a timestep embedding and a class embedding; an MLP (Gorishniy et al.
2021's baseline: Linear → ReLU → Dropout blocks and a linear head) maps the sum to
``[ε for the numerics ‖ logits for each categorical feature]``, as wide as the input.

It knows nothing of the diffusion: any module with the same call signature can replace it in
:class:`idsynth.models.tabddpm_diffusion.MixedDiffusion`.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# TabDDPM's default (the paper tunes it per data set; its MLPs have equal middle layers).
DEFAULT_D_LAYERS: tuple[int, ...] = (512, 1024, 1024, 512)


# Vaswani et al. 2017, Sec. 3.5 (as Ho et al. 2020): [cos(t·ω_i) ‖ sin(t·ω_i)], ω_i = 10000^(−i/(d/2))
def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """t: (n,) step indices (any numeric dtype) -> (n, dim) float32 embedding."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = t.float().unsqueeze(1) * freqs.unsqueeze(0)
    embedding = torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)
    if dim % 2:
        embedding = F.pad(embedding, (0, 1))
    return embedding


class MLPDiffusion(nn.Module):
    """ε and x̂_0-logits from ``(x_in, t, y)``.

    x_in: (n, d_in) float32; t: (n,) long step indices; y: (n,) long class indices in
    ``[0, num_classes)``. Returns (n, d_in) float32.
    """

    def __init__(
        self,
        d_in: int,
        num_classes: int,
        d_layers: Sequence[int] = DEFAULT_D_LAYERS,
        dim_t: int = 128,
        dropout: float = 0.0,
    ):
        super().__init__()
        d_layers = tuple(int(d) for d in d_layers)
        if int(d_in) < 1 or int(num_classes) < 1 or int(dim_t) < 2:
            raise ValueError(f"need d_in >= 1, num_classes >= 1, dim_t >= 2; got {d_in}, {num_classes}, {dim_t}")
        if not d_layers or any(d < 1 for d in d_layers):
            raise ValueError(f"d_layers must be a non-empty sequence of positive widths, got {d_layers}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dim_t = int(dim_t)
        self.proj = nn.Linear(int(d_in), self.dim_t)
        self.time_embed = nn.Sequential(nn.Linear(self.dim_t, self.dim_t), nn.SiLU(), nn.Linear(self.dim_t, self.dim_t))
        self.label_embed = nn.Embedding(int(num_classes), self.dim_t)
        blocks: list[nn.Module] = []
        width = self.dim_t
        for d in d_layers:
            blocks += [nn.Linear(width, d), nn.ReLU(), nn.Dropout(float(dropout))]
            width = d
        self.mlp = nn.Sequential(*blocks)
        self.head = nn.Linear(width, int(d_in))

    def forward(self, x: Tensor, t: Tensor, y: Tensor) -> Tensor:
        emb = self.time_embed(timestep_embedding(t, self.dim_t)) + F.silu(self.label_embed(y))
        return self.head(self.mlp(self.proj(x) + emb))
