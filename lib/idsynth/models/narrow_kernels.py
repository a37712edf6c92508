"""Fused CPU kernels for the narrow-token Transformer of the TabVAE, with their autograd wrappers.

TabSyn's VAE runs a Transformer over 4-wide tokens (one head, a 128-wide feed-forward layer).
On a CPU every PyTorch op of it is a matmul with an inner size of 4 or a memory-bound pass over
a hidden tensor 32x wider than the tokens, and the fused attention kernels are built for heads
of 64 and more: a training step ran ~20x above the machine's bound (README § Performance).
``narrow_kernels.cpp`` (beside this file) computes

* :func:`ffn` ``relu(x @ w1.T + b1) @ w2.T + b2`` over tiles of 64 tokens, the hidden activation
  kept in registers and recomputed in the backward pass (nothing of it is stored),
* :func:`layer_norm` over rows of a few features, one pass each way (PyTorch's CPU kernel, and
  the same formula in element-wise ops, make ~10 passes over the tokens), and
* :func:`attention` one head's ``softmax(q @ k.T * scale) @ v`` per batch row, from the packed
  ``qkv`` projection (no copies to split it), 16 rows at a time in vector lanes, saving only the
  log-normaliser per query for the backward pass,

forward and backward, in float32. The library is compiled on first use with the machine's C++
compiler (``torch.utils.cpp_extension``, ~10 s, cached under ``$TORCH_EXTENSIONS_DIR`` or
``~/.cache/torch_extensions``) for the CPU it runs on (``-march=native``). Where that fails (no
compiler) or ``IDSYNTH_NATIVE_KERNELS=0``, :func:`available` is ``False`` and the callers keep
their PyTorch path (also inside :func:`disabled`); the tests check both give the same values
and gradients. Same inputs and thread count, same bits: weight gradients are summed per fixed
chunk of tokens and the chunks added in order.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import warnings
from pathlib import Path

import torch

_SOURCE = Path(__file__).with_name("narrow_kernels.cpp")
_FLAGS = ["-O3", "-march=native", "-mprefer-vector-width=512", "-ffast-math", "-fopenmp"]
_enabled = True


def _machine_tag() -> str:
    """8 hex digits of the CPU's model and instruction-set flags: the library is built for the
    CPU it runs on (``-march=native``), so a home directory shared by other CPUs gets one build
    per kind instead of one that would fault on the others."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        text = "\n".join(sorted({line for line in lines if line.startswith(("model name", "flags"))}))
    except OSError:
        import platform

        text = platform.processor() + platform.machine()
    return hashlib.sha256(text.encode()).hexdigest()[:8]


@functools.lru_cache(maxsize=1)
def _built() -> bool:
    if os.environ.get("IDSYNTH_NATIVE_KERNELS", "1") == "0":
        return False
    if hasattr(torch.ops.idsynth_narrow, "ffn_forward"):
        return True
    try:
        from torch.utils.cpp_extension import load

        load(name=f"idsynth_narrow_{_machine_tag()}", sources=[str(_SOURCE)], extra_cflags=_FLAGS,
             extra_ldflags=["-fopenmp"], is_python_module=False, verbose=False)
    except Exception as error:  # no compiler, no headers: the PyTorch path stays
        first_line = str(error).splitlines()[0] if str(error) else ""
        warnings.warn(f"idsynth's narrow-token CPU kernels could not be built ({type(error).__name__}: {first_line}); "
                      "using the PyTorch ops", stacklevel=3)
        return False
    return True


def available() -> bool:
    """Whether the kernels are loaded and switched on (compiling them on the first call).
    ``False`` when ``IDSYNTH_NATIVE_KERNELS=0``, inside :func:`disabled`, or when the build
    fails (a warning says why)."""
    return _enabled and _built()


@contextlib.contextmanager
def disabled():
    """Within the block the callers take their PyTorch path (for comparisons and for counting
    multiply-adds, which ``torch.utils.flop_counter`` cannot see inside these kernels)."""
    global _enabled
    previous, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = previous


def usable(*tensors: torch.Tensor) -> bool:
    """True when the kernels apply: float32 CPU tensors, no autocast, kernels built and on."""
    return (all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)
            and not torch.is_autocast_enabled("cpu") and available())


class _FFN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2):
        ctx.save_for_backward(x, w1, b1, w2)
        return torch.ops.idsynth_narrow.ffn_forward(x, w1, b1, w2, b2)

    @staticmethod
    def backward(ctx, grad_out):
        x, w1, b1, w2 = ctx.saved_tensors
        return tuple(torch.ops.idsynth_narrow.ffn_backward(x, w1, b1, w2, grad_out.contiguous()))


class _LayerNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps: float):
        out, rstd = torch.ops.idsynth_narrow.layer_norm_forward(x, weight, bias, eps)
        ctx.save_for_backward(x, weight, rstd)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, rstd = ctx.saved_tensors
        return (*torch.ops.idsynth_narrow.layer_norm_backward(x, weight, rstd, grad_out.contiguous()), None)


class _Attention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, qkv, scale: float):
        out, lse = torch.ops.idsynth_narrow.attention_forward(qkv, scale)
        ctx.save_for_backward(qkv, out, lse)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad_out):
        qkv, out, lse = ctx.saved_tensors
        return torch.ops.idsynth_narrow.attention_backward(qkv, out, lse, grad_out.contiguous(), ctx.scale), None


def ffn(x: torch.Tensor, first: torch.nn.Linear, second: torch.nn.Linear) -> torch.Tensor:
    """``second(relu(first(x)))`` for ``x (..., d)`` -> ``(..., second.out_features)``."""
    flat = x.reshape(-1, x.shape[-1]).contiguous()
    out = _FFN.apply(flat, first.weight.contiguous(), first.bias.contiguous(), second.weight.contiguous(),
                     second.bias.contiguous())
    return out.view(*x.shape[:-1], second.out_features)


def layer_norm(x: torch.Tensor, norm: torch.nn.LayerNorm) -> torch.Tensor:
    """``norm(x)`` for ``x (..., d)`` with ``norm`` over the last dimension (elementwise affine)."""
    flat = x.reshape(-1, x.shape[-1]).contiguous()
    return _LayerNorm.apply(flat, norm.weight.contiguous(), norm.bias.contiguous(), float(norm.eps)).view(x.shape)


def attention(qkv: torch.Tensor) -> torch.Tensor:
    """One-head ``softmax(q k^T / sqrt(d)) v`` (``F.scaled_dot_product_attention`` without a mask
    or dropout) from ``qkv (n, tokens, 3 d)``, each token's query, key and value side by side as a
    ``Linear(d, 3 d)`` returns them -> ``(n, tokens, d)``."""
    if qkv.dim() != 3 or qkv.shape[-1] % 3:
        raise ValueError(f"attention needs qkv of shape (n, tokens, 3 d), got {tuple(qkv.shape)}")
    return _Attention.apply(qkv.contiguous(), float(qkv.shape[-1] // 3) ** -0.5)
