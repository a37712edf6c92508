"""The fused narrow-token CPU kernels (idsynth.models.narrow_kernels) against PyTorch's own ops:
same values and gradients, same bits on a rerun, the TabVAE unchanged by switching them on."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from idsynth.models import narrow_kernels
from idsynth.models.tab_vae import TabVAENet, tab_vae_losses

pytestmark = pytest.mark.skipif(not narrow_kernels.available(), reason="no C++ compiler to build the kernels")


def _grads(fn, *tensors):
    """(output, gradients of <output, fixed random weights> w.r.t. every tensor)."""
    leaves = [t.detach().clone().requires_grad_() for t in tensors]
    out = fn(*leaves)
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(out.dtype)
    (out * weights).sum().backward()
    return out.detach(), [leaf.grad for leaf in leaves]


def _assert_close_to_float64(fused, reference, *tensors, rtol=1e-4, atol=1e-4):
    out, grads = _grads(fused, *tensors)
    ref_out, ref_grads = _grads(reference, *(t.double() for t in tensors))
    torch.testing.assert_close(out, ref_out.float(), rtol=rtol, atol=atol)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want.float(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("n, d, hidden, d_out", [(130, 4, 128, 4), (64, 4, 32, 4), (7, 3, 20, 5)])
def test_ffn_matches_relu_mlp_and_its_gradients(n, d, hidden, d_out):
    torch.manual_seed(0)
    first, second = nn.Linear(d, hidden), nn.Linear(hidden, d_out)
    x = torch.randn(n, d)

    def fused(x, w1, b1, w2, b2):
        return narrow_kernels._FFN.apply(x, w1, b1, w2, b2)

    def reference(x, w1, b1, w2, b2):
        return torch.relu(x @ w1.T + b1) @ w2.T + b2

    _assert_close_to_float64(fused, reference, x, first.weight, first.bias, second.weight, second.bias)


@pytest.mark.parametrize("n, d", [(300, 4), (5, 3)])
def test_layer_norm_matches_torch_and_its_gradients(n, d):
    torch.manual_seed(0)
    norm = nn.LayerNorm(d)
    nn.init.normal_(norm.weight)
    nn.init.normal_(norm.bias)
    x = torch.randn(n, d) * 3 + 1

    def fused(x, w, b):
        return narrow_kernels._LayerNorm.apply(x, w, b, norm.eps)

    def reference(x, w, b):
        return F.layer_norm(x, (d,), w, b, norm.eps)

    _assert_close_to_float64(fused, reference, x, norm.weight, norm.bias)


@pytest.mark.parametrize("batch, tokens, d", [(37, 7, 4), (16, 42, 4), (3, 1, 2)])
def test_attention_matches_sdpa_and_its_gradients(batch, tokens, d):
    torch.manual_seed(0)
    qkv = torch.randn(batch, tokens, 3 * d) * 2

    def reference(qkv):
        q, k, v = qkv.split(d, dim=-1)
        return F.scaled_dot_product_attention(q, k, v)

    _assert_close_to_float64(narrow_kernels.attention, reference, qkv)


def test_attention_rejects_a_qkv_of_the_wrong_shape():
    with pytest.raises(ValueError, match="3 d"):
        narrow_kernels.attention(torch.randn(2, 3, 4))


def _tab_vae_step(seed: int = 0):
    torch.manual_seed(seed)
    net = TabVAENet(n_numeric=5, cardinalities=[3, 7], d_token=4, n_heads=1, n_layers=2, d_ff=32)
    x_num, x_cat = torch.randn(150, 5), torch.stack([torch.randint(0, 3, (150,)), torch.randint(0, 7, (150,))], 1)
    mse, ce, kl = tab_vae_losses(x_num, x_cat, *net(x_num, x_cat, generator=torch.Generator().manual_seed(3)))
    loss = mse + ce + 1e-2 * kl
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in net.named_parameters()}


def test_tab_vae_gives_the_same_loss_and_gradients_with_and_without_the_kernels():
    fused_loss, fused_grads = _tab_vae_step()
    with narrow_kernels.disabled():
        assert not narrow_kernels.usable(torch.zeros(1))
        plain_loss, plain_grads = _tab_vae_step()
    assert narrow_kernels.usable(torch.zeros(1))
    torch.testing.assert_close(fused_loss, plain_loss, rtol=1e-5, atol=1e-5)
    for name in plain_grads:
        torch.testing.assert_close(fused_grads[name], plain_grads[name], rtol=1e-3, atol=1e-5, msg=name)


def test_kernels_give_the_same_bits_on_a_rerun():
    first_loss, first_grads = _tab_vae_step()
    second_loss, second_grads = _tab_vae_step()
    assert torch.equal(first_loss, second_loss)
    assert all(torch.equal(first_grads[name], second_grads[name]) for name in first_grads)


def test_kernels_stay_off_for_other_dtypes_and_under_autocast():
    assert not narrow_kernels.usable(torch.zeros(1, dtype=torch.float64))
    with torch.autocast("cpu", torch.bfloat16):
        assert not narrow_kernels.usable(torch.zeros(1))
