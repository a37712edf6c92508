"""The fused narrow-token CPU kernels (idsynth.models.narrow_kernels) against PyTorch's own ops:
same values and gradients, same bits on a rerun, the TabVAE unchanged by switching them on."""

from __future__ import annotations

from pathlib import Path

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


def _layer_norm_module(d: int) -> nn.LayerNorm:
    norm = nn.LayerNorm(d)
    nn.init.normal_(norm.weight)
    nn.init.normal_(norm.bias)
    return norm


@pytest.mark.parametrize("n, d, hidden", [(130, 4, 128), (64, 4, 32), (7, 3, 20), (600, 8, 16), (300, 1, 5)])
def test_ffn_half_matches_layer_norm_mlp_residual_and_its_gradients(n, d, hidden):
    torch.manual_seed(0)
    norm, first, second = _layer_norm_module(d), nn.Linear(d, hidden), nn.Linear(hidden, d)
    x = torch.randn(n, d) * 3 + 1

    def fused(x, ln_w, ln_b, w1, b1, w2, b2):
        return narrow_kernels._FFNHalf.apply(x, ln_w, ln_b, w1, b1, w2, b2, norm.eps)

    def reference(x, ln_w, ln_b, w1, b1, w2, b2):
        return x + torch.relu(F.layer_norm(x, (d,), ln_w, ln_b, norm.eps) @ w1.T + b1) @ w2.T + b2

    _assert_close_to_float64(fused, reference, x, norm.weight, norm.bias, first.weight, first.bias,
                             second.weight, second.bias)


@pytest.mark.parametrize("batch, tokens, d", [(37, 7, 4), (16, 42, 4), (3, 1, 2), (40, 9, 8), (17, 5, 1)])
def test_attention_half_matches_layer_norm_sdpa_residual_and_its_gradients(batch, tokens, d):
    torch.manual_seed(0)
    norm, qkv = _layer_norm_module(d), nn.Linear(d, 3 * d)
    x = torch.randn(batch, tokens, d) * 2

    def fused(x, ln_w, ln_b, w, b):
        return narrow_kernels._AttentionHalf.apply(x, ln_w, ln_b, w, b, norm.eps)

    def reference(x, ln_w, ln_b, w, b):
        q, k, v = (F.layer_norm(x, (d,), ln_w, ln_b, norm.eps) @ w.T + b).split(d, dim=-1)
        return x + F.scaled_dot_product_attention(q, k, v)

    _assert_close_to_float64(fused, reference, x, norm.weight, norm.bias, qkv.weight, qkv.bias)


def test_attention_half_saturates_without_overflow():
    """Scores of +-1000 (a softmax of one-hot rows): finite, and the attended value is the key's."""
    d = 2
    qkv = nn.Linear(d, 3 * d)
    norm = nn.LayerNorm(d)
    with torch.no_grad():
        qkv.weight.zero_()
        qkv.bias.zero_()
        qkv.weight[0:2] = torch.eye(2) * 1000  # q = 1000 * xn
        qkv.weight[2:4] = torch.eye(2)         # k = xn
        qkv.weight[4:6] = torch.eye(2)         # v = xn
    x = torch.tensor([[[1.0, -1.0], [-1.0, 1.0]]])  # LayerNorm keeps the signs: xn = x
    out = narrow_kernels.attention_half(x, norm, qkv)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, x + x, rtol=1e-5, atol=1e-5)


def test_attention_half_rejects_a_projection_of_the_wrong_width():
    with pytest.raises(ValueError, match="Linear"):
        narrow_kernels.attention_half(torch.randn(2, 3, 4), nn.LayerNorm(4), nn.Linear(4, 8))


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


def test_the_kernels_lanes_are_as_wide_as_the_cpus_vectors():
    # 16-float lanes on a CPU without AVX-512 compiled to stack spills and scalar code (~20x slower)
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []:
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    if not flags:
        pytest.skip("no /proc/cpuinfo flags to read the CPU's vector width from")
    assert narrow_kernels.lanes() == (16 if "avx512f" in flags else 8 if "avx" in flags else 4)


def test_kernels_stay_off_for_other_dtypes_and_under_autocast():
    assert not narrow_kernels.usable(torch.zeros(1, dtype=torch.float64))
    with torch.autocast("cpu", torch.bfloat16):
        assert not narrow_kernels.usable(torch.zeros(1))


def test_kernels_stay_off_for_tokens_wider_than_they_are_compiled_for():
    assert narrow_kernels.usable(torch.zeros(2, 3, narrow_kernels.MAX_WIDTH))
    assert not narrow_kernels.usable(torch.zeros(2, 3, narrow_kernels.MAX_WIDTH + 1))
    with pytest.raises(RuntimeError, match="token width"):
        x = torch.zeros(2, narrow_kernels.MAX_WIDTH + 1)
        torch.ops.idsynth_narrow.ffn_half_forward(x, *(torch.zeros(x.shape[1]),) * 2, torch.zeros(3, x.shape[1]),
                                                  torch.zeros(3), torch.zeros(x.shape[1], 3), torch.zeros(x.shape[1]), 1e-5)


def test_latent_sample_and_kl_match_pytorch_and_their_gradients():
    torch.manual_seed(0)
    shape = (37, 7, 4)  # 1,036 values: the last lane vector is partial
    mu, logvar, eps = torch.randn(shape), torch.randn(shape) * 2, torch.randn(shape)

    def fused(mu, logvar):
        z, kl = narrow_kernels.latent_sample_kl(mu, logvar, eps.to(mu.dtype))
        return torch.cat([z.flatten(), kl.reshape(1) * 1000])

    def reference(mu, logvar):
        kl = -0.5 * torch.mean(1 + logvar - mu.square() - logvar.exp())
        return torch.cat([(mu + eps.to(mu.dtype) * torch.exp(0.5 * logvar)).flatten(), kl.reshape(1) * 1000])

    _assert_close_to_float64(fused, reference, mu, logvar)


def test_tab_vae_training_losses_are_the_losses_of_its_forward_pass():
    torch.manual_seed(0)
    net = TabVAENet(5, [3, 66, 2], d_token=4, n_heads=1, n_layers=1, d_ff=16)
    x_num, x_cat = torch.randn(50, 5), torch.stack([torch.randint(0, c, (50,)) for c in (3, 66, 2)], 1)
    fast = net.training_losses(x_num, x_cat, torch.Generator().manual_seed(3))
    plain = tab_vae_losses(x_num, x_cat, *net(x_num, x_cat, torch.Generator().manual_seed(3)))
    for got, want in zip(fast, plain):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    sum(fast).backward()
    fast_grads = {name: p.grad.clone() for name, p in net.named_parameters()}
    net.zero_grad()
    sum(tab_vae_losses(x_num, x_cat, *net(x_num, x_cat, torch.Generator().manual_seed(3)))).backward()
    for name, p in net.named_parameters():
        torch.testing.assert_close(fast_grads[name], p.grad, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("n_num, cards", [(5, [3, 66, 2]), (0, [17, 16, 1]), (4, []), (38, [3, 70, 11, 5])])
def test_tokens_match_the_pytorch_tokenizer_and_its_gradients(n_num, cards):
    torch.manual_seed(0)
    n, d = 41, 4
    offsets = torch.tensor([0, *cards[:-1]], dtype=torch.long).cumsum(0) if cards else torch.zeros(0, dtype=torch.long)
    x_num = torch.randn(n, n_num)
    codes = (torch.stack([torch.randint(0, c, (n,)) for c in cards], 1) if cards
             else torch.zeros(n, 0, dtype=torch.long)) + offsets

    def fused(num_w, emb, bias):
        return narrow_kernels.tokens(x_num.to(num_w.dtype), codes, num_w, emb, bias)

    def reference(num_w, emb, bias):
        return torch.cat([x_num.to(num_w.dtype).unsqueeze(-1) * num_w, emb[codes]], 1) + bias

    num_w, emb, bias = torch.randn(n_num, d), torch.randn(max(sum(cards), 1), d), torch.randn(n_num + len(cards), d)
    out, grads = _grads(fused, num_w, emb, bias)
    ref_out, ref_grads = _grads(reference, num_w.double(), emb.double(), bias.double())
    torch.testing.assert_close(out, ref_out.float(), rtol=1e-5, atol=1e-5)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want.float(), rtol=1e-5, atol=1e-5)


def test_tokens_reject_a_code_outside_the_embedding():
    x_num, emb = torch.zeros(3, 1), torch.zeros(4, 4)
    with pytest.raises(RuntimeError, match=r"codes must lie in \[0, 4\)"):
        narrow_kernels.tokens(x_num, torch.tensor([[0], [4], [1]]), torch.zeros(1, 4), emb, torch.zeros(2, 4))


@pytest.mark.parametrize("n_num, cards", [(5, [3, 66, 2]), (0, [17, 16, 1]), (4, []), (38, [3, 70, 11, 5])])
def test_reconstruction_losses_match_the_pytorch_losses_and_their_gradients(n_num, cards):
    torch.manual_seed(0)
    n, d = 37, 4
    net = TabVAENet(n_num, cards, d_token=d, n_heads=1, n_layers=1, d_ff=8).reconstructor
    for p in net.parameters():
        nn.init.normal_(p)
    x_num = torch.randn(n, n_num)
    x_cat = torch.stack([torch.randint(0, c, (n,)) for c in cards], 1) if cards else torch.zeros(n, 0, dtype=torch.long)
    h = torch.randn(n, n_num + len(cards), d)

    def fused(h, num_w, num_b, cat_w, cat_b):
        mse, ce = narrow_kernels.reconstruction_losses(h, x_num, x_cat, num_w, num_b, cat_w, cat_b, net.cat_cards)
        return torch.stack([mse, 3 * ce])

    def reference(h, num_w, num_b, cat_w, cat_b):  # FeatureReconstructor.losses' formulas, in float64
        zero = h.new_zeros(())
        mse = F.mse_loss((h[:, :n_num] * num_w).sum(-1) + num_b, x_num.double()) if n_num else zero
        ce = (sum(F.cross_entropy(h[:, n_num + j] @ cat_w[j, :, :c] + cat_b[j, :c], x_cat[:, j], reduction="sum")
                  for j, c in enumerate(cards)) / x_cat.numel()) if cards else zero
        unused = 0 * (num_w.sum() + num_b.sum() + cat_w.sum() + cat_b.sum())  # zero gradients where a block is empty
        return torch.stack([mse, 3 * ce]) + unused

    params = [net.num_weight, net.num_bias, net.cat_weight, net.cat_bias]
    _assert_close_to_float64(fused, reference, h, *(p.detach() for p in params), rtol=1e-5, atol=1e-5)


def test_reconstruction_losses_reject_a_code_beyond_its_column():
    net = TabVAENet(1, [3, 5], d_token=4, n_heads=1, n_layers=1, d_ff=8).reconstructor
    x_cat = torch.tensor([[0, 4], [3, 0]])  # 3 is beyond the first column's 3 categories
    with pytest.raises(RuntimeError, match="outside its column"):
        narrow_kernels.reconstruction_losses(torch.zeros(2, 3, 4), torch.zeros(2, 1), x_cat, net.num_weight,
                                             net.num_bias, net.cat_weight, net.cat_bias, net.cat_cards)


def test_tokens_and_reconstruction_losses_refuse_rows_that_require_a_gradient():
    x_num = torch.zeros(2, 1, requires_grad=True)  # the kernels give gradients for the weights only
    with pytest.raises(ValueError, match="must not require a gradient"):
        narrow_kernels.tokens(x_num, torch.zeros(2, 1, dtype=torch.long), torch.zeros(1, 4), torch.zeros(3, 4),
                              torch.zeros(2, 4))
    net = TabVAENet(1, [3], d_token=4, n_heads=1, n_layers=1, d_ff=8)
    tokens = net.tokenizer(x_num, torch.zeros(2, 1, dtype=torch.long))  # the PyTorch path instead
    tokens.sum().backward()
    assert x_num.grad is not None
