"""The networks of VGM (variational generative model, paper §3.3, Figures 3-6, Table 7).

Three options share one encoder and one decoder class; they differ in what the encoder sees,
whether the decoder also sees the label, and the output activation:

========  =======================  ==========================================  =====================
option    encoder input            decoder input                               output activation
========  =======================  ==========================================  =====================
A         label one-hot (n, 5)     z (n, 25)                                   sigmoid on all 116
B         label one-hot (n, 5)     z (n, 25)                                   linear on the 32
                                                                               continuous columns,
                                                                               sigmoid on the 84
                                                                               one-hot columns
C         features X (n, 116)      [ReLU(Linear(z)) (300) ‖ label one-hot      sigmoid on all 116
                                   repeated 40 times (200)]
========  =======================  ==========================================  =====================

The decoder returns *pre-activation* values ("raw": logits on sigmoid columns, the value
itself on linear columns) so that the Bernoulli likelihood is computed from logits
(numerically stable); :class:`OutputActivation` maps raw values into the data space.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

OPTIONS: tuple[str, ...] = ("A", "B", "C")


def relu_mlp(in_dim: int, units: Sequence[int]) -> nn.Sequential:
    """``Linear -> ReLU`` for each width in ``units`` (an empty ``units`` is the identity)."""
    layers: list[nn.Module] = []
    for width in units:
        layers += [nn.Linear(in_dim, int(width)), nn.ReLU()]
        in_dim = int(width)
    return nn.Sequential(*layers)


def _out_width(in_dim: int, units: Sequence[int]) -> int:
    return int(units[-1]) if len(units) else int(in_dim)


class GaussianEncoder(nn.Module):
    """q(z | I) = N(mean(I), diag(exp(log_var(I)))).

    ``I``: (n, in_dim) -> ``mean``, ``log_var``: (n, latent_dim). Hidden layers are ReLU;
    the two heads are linear (Table 7: "activation function last encoder layer: Linear").
    """

    def __init__(self, in_dim: int, units: Sequence[int], latent_dim: int):
        super().__init__()
        self.body = relu_mlp(in_dim, units)
        width = _out_width(in_dim, units)
        self.mean = nn.Linear(width, latent_dim)
        self.log_var = nn.Linear(width, latent_dim)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.body(inputs)
        return self.mean(hidden), self.log_var(hidden)


class LabelConditioning(nn.Module):
    """Option C's first decoder layer: ``[ReLU(Linear(z)) ‖ one-hot label tiled `repeat` times]``.

    z: (n, latent_dim), one-hot: (n, n_classes) -> (n, units + n_classes * repeat), i.e.
    (n, 300 + 5 * 40) = (n, 500) with the paper's sizes. The label is tiled (not
    interleaved): ``[l_0 .. l_4, l_0 .. l_4, ...]``.
    """

    def __init__(self, latent_dim: int, units: int, n_classes: int, repeat: int):
        super().__init__()
        self.latent = nn.Sequential(nn.Linear(latent_dim, units), nn.ReLU())
        self.n_classes = int(n_classes)
        self.repeat = int(repeat)

    @property
    def latent_units(self) -> int:
        return self.latent[0].out_features

    @property
    def label_units(self) -> int:
        return self.n_classes * self.repeat

    @property
    def out_features(self) -> int:
        return self.latent_units + self.label_units

    def forward(self, z: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.latent(z), onehot.repeat(1, self.repeat)], dim=1)


class Decoder(nn.Module):
    """p(X | z [, L]): z (n, latent_dim) [+ one-hot (n, n_classes)] -> raw (n, n_features)."""

    def __init__(
        self, latent_dim: int, units: Sequence[int], n_features: int, conditioning: LabelConditioning | None = None
    ):
        super().__init__()
        self.conditioning = conditioning
        in_dim = conditioning.out_features if conditioning is not None else latent_dim
        self.body = relu_mlp(in_dim, units)
        self.out = nn.Linear(_out_width(in_dim, units), n_features)

    def forward(self, z: torch.Tensor, onehot: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self.conditioning(z, onehot) if self.conditioning is not None else z
        return self.out(self.body(hidden))


class OutputActivation(nn.Module):
    """Raw decoder output -> data space: identity on the first ``n_linear`` columns, sigmoid after.

    ``n_linear = 0`` (Options A, C): sigmoid on every column, so the output lies in (0, 1).
    ``n_linear = 32`` (Option B): the continuous block stays linear and may leave [0, 1].
    """

    def __init__(self, n_linear: int = 0):
        super().__init__()
        self.n_linear = int(n_linear)

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        if self.n_linear == 0:
            return torch.sigmoid(raw)
        return torch.cat([raw[:, : self.n_linear], torch.sigmoid(raw[:, self.n_linear :])], dim=1)


class VGMNet(nn.Module):
    """Encoder, decoder and output activation of one VGM option.

    Shapes: x (n, n_features) in [0, 1], onehot (n, n_classes) float, eps (n, latent_dim)
    standard-normal noise (passed in, so that every random draw comes from the caller's
    seeded generator).
    """

    def __init__(
        self,
        option: str,
        n_features: int,
        n_classes: int,
        latent_dim: int,
        encoder_units: Sequence[int],
        decoder_units: Sequence[int],
        label_repeat: int,
        label_units: int,
        continuous_features: int,
    ):
        super().__init__()
        if option not in OPTIONS:
            raise ValueError(f"option must be one of {OPTIONS}, got {option!r}")
        self.option = option
        encoder_in = n_classes if self.label_in_encoder else n_features
        self.encoder = GaussianEncoder(encoder_in, encoder_units, latent_dim)
        conditioning = None if self.label_in_encoder else LabelConditioning(latent_dim, label_units, n_classes, label_repeat)
        self.decoder = Decoder(latent_dim, decoder_units, n_features, conditioning)
        self.activation = OutputActivation(continuous_features if option == "B" else 0)

    @property
    def label_in_encoder(self) -> bool:
        """Options A and B encode the label; Option C encodes X and feeds the label to the decoder."""
        return self.option in ("A", "B")

    def encode(self, x: torch.Tensor, onehot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log_var) of q(z | L) for A/B (``x`` unused) or q(z | X) for C.

        q(z | L) has only ``n_classes`` distinct inputs, so A/B run the encoder once per class
        (on the identity matrix) and select each row's parameters with ``onehot @ params``:
        the same function as encoding every row (a product with an exact one-hot only
        selects; GEMM blocking may change the last bit), gradients included, at a fraction of
        the cost (5 encoder rows per batch instead of 200).
        """
        if not self.label_in_encoder:
            return self.encoder(x)
        classes = torch.eye(onehot.shape[1], dtype=onehot.dtype, device=onehot.device)
        mean, log_var = self.encoder(classes)
        return onehot @ mean, onehot @ log_var

    def decode(self, z: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        """Raw (pre-activation) output (n, n_features); the label is used by Option C only."""
        return self.decoder(z, None if self.label_in_encoder else onehot)

    def forward(
        self, x: torch.Tensor, onehot: torch.Tensor, eps: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training pass with the reparameterisation z = mean + exp(log_var / 2) * eps.

        Returns (raw (n, n_features), mean (n, latent_dim), log_var (n, latent_dim)).
        """
        mean, log_var = self.encode(x, onehot)
        z = mean + torch.exp(0.5 * log_var) * eps
        return self.decode(z, onehot), mean, log_var

    def generate(self, onehot: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Rows in the data space (n, n_features) from labels alone (paper Figure 6).

        Option C: the decoder alone, z = eps ~ N(0, I). Options A/B: z ~ q(z | L) through the
        encoder (whose input is the label), then the decoder.
        """
        if self.label_in_encoder:
            mean, log_var = self.encode(None, onehot)
            z = mean + torch.exp(0.5 * log_var) * eps
        else:
            z = eps
        return self.activation(self.decode(z, onehot))

    def reconstruct(self, x: torch.Tensor, onehot: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """The whole model's forward pass in the data space (n, n_features)."""
        return self.activation(self.forward(x, onehot, eps)[0])


def glorot_init_(net: nn.Module, generator: torch.Generator) -> nn.Module:
    """Glorot-uniform weights and zero biases for every ``nn.Linear`` (Keras' defaults).

    The paper's models were written in TensorFlow/Keras, whose dense layers start this way
    **(our choice** to follow it rather than PyTorch's default initialisation).
    """
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight, generator=generator)
                nn.init.zeros_(module.bias)
    return net
