"""Read a VGM network's architecture back from its modules, in the vocabulary of Table 7.

Nothing here repeats a hyper-parameter: every width, activation and dropout rate is read
from the ``nn.Module`` tree, so the table shows what was actually trained.
"""

from __future__ import annotations

from torch import nn

from .vgm_nets import VGMNet

_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SELU, nn.Tanh, nn.Sigmoid, nn.Softplus)


def _linear_widths(module: nn.Module) -> list[int]:
    return [m.out_features for m in module.modules() if isinstance(m, nn.Linear)]


def _hidden_activations(net: VGMNet) -> str:
    names = sorted({type(m).__name__ for m in net.modules() if isinstance(m, _ACTIVATIONS)})
    return ", ".join(names) if names else "none"


def _dropout(net: VGMNet) -> str:
    rates = sorted({float(m.p) for m in net.modules() if isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0})
    return "No" if not rates else "Yes (p=" + ", ".join(f"{p:g}" for p in rates) + ")"


def _head_activation(head: nn.Module) -> str:
    return "Linear" if isinstance(head, nn.Linear) else type(head).__name__


def _output_activation(net: VGMNet) -> str:
    n_out = net.decoder.out.out_features
    n_linear = net.activation.n_linear
    if n_linear == 0:
        return f"Sigmoid (all {n_out} features)"
    return f"Sigmoid ({n_out - n_linear} discrete), Linear ({n_linear} continuous)"


def _input(net: VGMNet) -> str:
    encoder_in = net.encoder.mean.in_features if not len(net.encoder.body) else net.encoder.body[0].in_features
    conditioning = net.decoder.conditioning
    if conditioning is None:
        return f"labels: {encoder_in} (one-hot)"
    return f"X: {encoder_in} + labels: {conditioning.n_classes} (one-hot, to the decoder)"


def _nodes_per_layer(net: VGMNet) -> str:
    layers: list[str] = [str(w) for w in _linear_widths(net.encoder.body)]
    layers.append(str(net.encoder.mean.out_features))
    conditioning = net.decoder.conditioning
    if conditioning is not None:
        layers.append(f"({conditioning.latent_units}+{conditioning.label_units})")
    layers += [str(w) for w in _linear_widths(net.decoder.body)]
    return "[" + ",".join(layers) + "]"


def network_configuration(net: VGMNet, n_continuous: int) -> dict[str, object]:
    """Table 7's architecture columns for ``net``.

    ``n_continuous`` is the number of leading continuous columns of the data encoding (a
    property of the data, used only to label the output; Option B's split is read from
    the network itself).
    """
    n_out = net.decoder.out.out_features
    return {
        "input": _input(net),
        "output": f"{n_out} ({n_continuous} continuous and {n_out - n_continuous} discrete)",
        "latent_dim": net.encoder.mean.out_features,
        "last_encoder_activation": _head_activation(net.encoder.mean),
        "last_decoder_activation": _output_activation(net),
        "hidden_activation": _hidden_activations(net),
        "dropout": _dropout(net),
        "nodes_per_layer": _nodes_per_layer(net),
        "n_parameters": sum(p.numel() for p in net.parameters()),
    }
