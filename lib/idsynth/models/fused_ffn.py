"""A token-wise feed-forward layer computed in cache-sized chunks, for narrow tokens on a CPU.

TabSyn's Transformer VAE applies ``Linear(d, d_ff) -> ReLU -> Linear(d_ff, d)`` to every token
with ``d = 4`` and ``d_ff = 128``: per token 1,024 multiply-adds, but a hidden activation 32x
wider than the token. At a batch of 4,096 rows x 42 tokens that hidden tensor is 88 MB, so the
plain layer spends its time writing and re-reading it from main memory (forward: written by the
first matmul, read and rewritten by the ReLU, read by the second matmul; backward: four more
passes), not multiplying.

:func:`chunked_ffn` computes the same function over chunks of ``chunk_rows`` tokens, so each
chunk's hidden activation (``chunk_rows x d_ff`` floats, 1 MiB at the default) stays in the
core's cache, and keeps nothing of it for the backward pass: the backward recomputes each
chunk's pre-activation from the saved input (one ``d -> d_ff`` matmul, 1/3 of the layer's
forward multiply-adds). Same gradients as the plain layer up to float summation order (the
tests check it). Used on the CPU only; a GPU keeps the plain layer (it has the bandwidth).
"""

from __future__ import annotations

import torch
from torch import nn

#: Tokens per chunk: 2,048 x 128 fp32 hidden values = 1 MiB, inside a 2 MiB L2 cache.
DEFAULT_CHUNK_ROWS = 2048


class _ChunkedFFN(torch.autograd.Function):
    """``relu(x @ w1.T + b1) @ w2.T + b2`` over row chunks; saves only ``x`` and the weights."""

    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2, chunk_rows: int):
        out = x.new_empty(x.shape[0], w2.shape[0])
        for start in range(0, x.shape[0], chunk_rows):
            stop = start + chunk_rows
            hidden = torch.addmm(b1, x[start:stop], w1.t()).clamp_min_(0)
            torch.addmm(b2, hidden, w2.t(), out=out[start:stop])
        ctx.save_for_backward(x, w1, b1, w2)
        ctx.chunk_rows = chunk_rows
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, w1, b1, w2 = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        grad_x = torch.empty_like(x)
        grad_w1, grad_b1 = torch.zeros_like(w1), torch.zeros_like(b1)
        grad_w2 = torch.zeros_like(w2)
        for start in range(0, x.shape[0], ctx.chunk_rows):
            stop = start + ctx.chunk_rows
            x_c, g_c = x[start:stop], grad_out[start:stop]
            pre = torch.addmm(b1, x_c, w1.t())
            hidden = pre.clamp_min(0)
            grad_w2.addmm_(g_c.t(), hidden)
            grad_pre = torch.ops.aten.threshold_backward(torch.mm(g_c, w2), pre, 0)  # masked by the ReLU
            grad_w1.addmm_(grad_pre.t(), x_c)
            grad_b1 += grad_pre.sum(0)
            torch.mm(grad_pre, w1, out=grad_x[start:stop])
        return grad_x, grad_w1, grad_b1, grad_w2, grad_out.sum(0), None


def narrow_layer_norm(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    """``norm(x)`` written out in element-wise ops: for a width of a few features (TabSyn's
    4-wide tokens) PyTorch's fused CPU LayerNorm kernel, backward especially, is ~2.5x slower."""
    centred = x - x.mean(-1, keepdim=True)
    inv_std = torch.rsqrt(centred.square().mean(-1, keepdim=True) + norm.eps)
    return torch.addcmul(norm.bias, centred * inv_std, norm.weight)


def chunked_ffn(x: torch.Tensor, first: nn.Linear, second: nn.Linear, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> torch.Tensor:
    """``second(relu(first(x)))`` for ``x (..., d)`` -> ``(..., d)``, in chunks of ``chunk_rows`` tokens."""
    flat = x.reshape(-1, x.shape[-1]).contiguous()
    out = _ChunkedFFN.apply(flat, first.weight, first.bias, second.weight, second.bias, int(chunk_rows))
    return out.view(*x.shape[:-1], second.out_features)
