"""Fused CPU kernels for the narrow-token Transformer of the TabVAE, with their autograd wrappers.

TabSyn's VAE runs a Transformer over 4-wide tokens (one head, a 128-wide feed-forward layer).
On a CPU every PyTorch op of it is a matmul with an inner size of 4 or a memory-bound pass over
a hidden tensor 32x wider than the tokens, and the fused attention kernels are built for heads
of 64 and more: a training step ran ~20x above the machine's bound (README § Performance).
``narrow_kernels.cpp`` (beside this file) computes each half of a pre-norm block as one pass:

* :func:`attention_half` ``x + attention(qkv(LayerNorm(x)))`` for one head, 16 batch rows at a
  time in vector lanes, saving only each query's largest score and inverse softmax sum beside its
  input and output (the backward pass recomputes LayerNorm, q, k, v and the probabilities, and
  the attention's output as output - input), and
* :func:`ffn_half` ``x + FFN(LayerNorm(x))`` over tiles of tokens, the 128-wide hidden
  activation kept in registers and recomputed in the backward pass (nothing of it is stored),

forward and backward, in float32, with the token width a compile-time constant (1 to
:data:`MAX_WIDTH`; wider tokens take PyTorch's path). :func:`latent_sample_kl` is the VAE's
reparameterised sample and its KL term, :func:`tokens` the tokenizer and
:func:`reconstruction_losses` the read-outs' MSE and cross-entropy, each in one pass each way
(they replaced ~25 small PyTorch ops a step, 6 % of the TabVAE's step on 2 cores). The library is compiled on first
use with the machine's C++ compiler (``torch.utils.cpp_extension``, ~20 s, cached under
``$TORCH_EXTENSIONS_DIR`` or ``~/.cache/torch_extensions``) for the CPU it runs on
(``-march=native``; AVX-512 gathers, scatters and ``vscalefps`` where the CPU has them, plain
vector code elsewhere, its lanes as wide as the CPU's vectors: :func:`lanes`). Where that fails (no compiler) or ``IDSYNTH_NATIVE_KERNELS=0``,
:func:`available` is ``False`` and the callers keep their PyTorch path (also inside
:func:`disabled`); the tests check both give the same values and gradients. Same inputs and
thread count, same bits: weight gradients are summed per fixed chunk of tokens and the chunks
added in order.
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
# -fno-associative-math: fast-math otherwise rebalances each 4-term dot product into a tree (two
# more instructions than a chain of fused multiply-adds)
_FLAGS = ["-std=c++20", "-O3", "-march=native", "-mprefer-vector-width=512", "-ffast-math", "-fno-associative-math",
          "-fopenmp"]
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
    if hasattr(torch.ops.idsynth_narrow, "ffn_half_forward"):
        return True
    try:
        from torch.utils.cpp_extension import load

        # one build per CPU kind, source and checkout: torch's build file names the source by its
        # path, so two checkouts sharing a build directory (a CI clone beside the work tree) would
        # rebuild over each other, and a run killed mid-build leaves a lock the next one waits on
        source = hashlib.sha256(_SOURCE.read_bytes() + str(_SOURCE.resolve()).encode()).hexdigest()[:8]
        load(name=f"idsynth_narrow_{_machine_tag()}_{source}", sources=[str(_SOURCE)], extra_cflags=_FLAGS,
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


def lanes() -> int | None:
    """Floats per lane vector in the loaded build: 16 where the CPU has AVX-512, 8 where it has
    AVX (a 16-float vector there compiled to stack spills and scalar code, ~10-40x slower), 4
    otherwise; None where the kernels are not built."""
    return int(torch.ops.idsynth_narrow.lanes()) if _built() else None


MAX_WIDTH = 8  # token widths the library is compiled for (a compile-time constant in each kernel)


def usable(*tensors: torch.Tensor) -> bool:
    """True when the block kernels apply: :func:`elementwise_usable`, and tokens at most
    :data:`MAX_WIDTH` wide."""
    return elementwise_usable(*tensors) and all(t.shape[-1] <= MAX_WIDTH for t in tensors)


def elementwise_usable(*tensors: torch.Tensor) -> bool:
    """True when the kernels apply to these tensors at all: float32 on the CPU, no autocast,
    kernels built and on."""
    return (all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)
            and not torch.is_autocast_enabled("cpu") and available())


def _contiguous(*tensors: torch.Tensor) -> list[torch.Tensor]:
    return [t.contiguous() for t in tensors]


class _FFNHalf(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, ln_w, ln_b, w1, b1, w2, b2, eps: float):
        ctx.save_for_backward(x, ln_w, ln_b, w1, b1, w2, b2)
        ctx.eps = eps
        return torch.ops.idsynth_narrow.ffn_half_forward(x, ln_w, ln_b, w1, b1, w2, b2, eps)

    @staticmethod
    def backward(ctx, grad_out):
        grads = torch.ops.idsynth_narrow.ffn_half_backward(*ctx.saved_tensors, grad_out.contiguous(), ctx.eps)
        return (*grads, None)


class _AttentionHalf(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, ln_w, ln_b, w_qkv, b_qkv, eps: float):
        out, top, inv = torch.ops.idsynth_narrow.attn_half_forward(x, ln_w, ln_b, w_qkv, b_qkv, eps)
        ctx.save_for_backward(x, out, top, inv, ln_w, ln_b, w_qkv, b_qkv)  # the output: the next half keeps it
        ctx.eps = eps
        return out

    @staticmethod
    def backward(ctx, grad_out):
        grads = torch.ops.idsynth_narrow.attn_half_backward(*ctx.saved_tensors, grad_out.contiguous(), ctx.eps)
        return (*grads, None)


class _LatentKL(torch.autograd.Function):
    @staticmethod
    def forward(ctx, mu, logvar, eps):
        z, total = torch.ops.idsynth_narrow.latent_kl_forward(mu, logvar, eps)
        ctx.save_for_backward(mu, logvar, eps)
        return z, total

    @staticmethod
    def backward(ctx, grad_z, grad_total):
        mu, logvar, eps = ctx.saved_tensors
        grad_z = torch.zeros_like(mu) if grad_z is None else grad_z.contiguous()
        grad_total = mu.new_zeros(()) if grad_total is None else grad_total
        return (*torch.ops.idsynth_narrow.latent_kl_backward(mu, logvar, eps, grad_z, grad_total), None)


class _Tokens(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x_num, codes, num_w, emb, bias):
        ctx.save_for_backward(x_num, codes)
        ctx.n_emb = emb.shape[0]
        return torch.ops.idsynth_narrow.tokens_forward(x_num, codes, num_w, emb, bias)

    @staticmethod
    def backward(ctx, grad_out):
        x_num, codes = ctx.saved_tensors
        return (None, None, *torch.ops.idsynth_narrow.tokens_backward(x_num, codes, grad_out.contiguous(), ctx.n_emb))


def tokens(x_num: torch.Tensor, codes: torch.Tensor, num_w: torch.Tensor, emb: torch.Tensor,
           bias: torch.Tensor) -> torch.Tensor:
    """The TabVAE's tokens in one pass each way: ``x_num (n, k)`` and ``codes (n, c)`` (int64,
    rows of ``emb``) -> ``(n, k + c, d)``, numeric token ``t`` = ``x_num[:, t] num_w[t] + bias[t]``
    and categorical token ``j`` = ``emb[codes[:, j]] + bias[k + j]``; gradients for the weights
    only (the rows are data). The caller checks :func:`elementwise_usable`."""
    if x_num.requires_grad:
        raise ValueError("tokens: x_num is data here; it must not require a gradient")
    return _Tokens.apply(x_num.contiguous(), codes.contiguous(), *_contiguous(num_w, emb, bias))


class _ReconLosses(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, x_num, x_cat, num_w, num_b, cat_w, cat_b, cards):
        ctx.save_for_backward(h, x_num, x_cat, num_w, num_b, cat_w, cat_b, cards)
        return tuple(torch.ops.idsynth_narrow.recon_losses_forward(h, x_num, x_cat, num_w, num_b, cat_w, cat_b, cards))

    @staticmethod
    def backward(ctx, grad_mse, grad_ce):  # both given: autograd passes 0 for an unused loss
        gh, gw, gb, gcw, gcb = torch.ops.idsynth_narrow.recon_losses_backward(*ctx.saved_tensors, grad_mse, grad_ce)
        return gh, None, None, gw, gb, gcw, gcb, None


def reconstruction_losses(h: torch.Tensor, x_num: torch.Tensor, x_cat: torch.Tensor, num_w: torch.Tensor,
                          num_b: torch.Tensor, cat_w: torch.Tensor, cat_b: torch.Tensor,
                          cards: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mse, ce)`` of decoded tokens ``h (n, k + c, d)`` against the rows in one pass each way:
    numeric value ``t`` = ``<h[:, t], num_w[t]> + num_b[t]`` against ``x_num (n, k)`` (mean squared
    error) and categorical column ``j``'s logits ``h[:, k + j] cat_w[j, :, :cards[j]] + cat_b[j,
    :cards[j]]`` against ``x_cat[:, j]`` (cross-entropy, mean over rows and columns); as
    :meth:`~idsynth.models.tab_vae.FeatureReconstructor.losses` computes them with PyTorch ops. The
    caller checks :func:`usable`."""
    if x_num.requires_grad:
        raise ValueError("reconstruction_losses: x_num is data here; it must not require a gradient")
    return _ReconLosses.apply(h.contiguous(), x_num.contiguous(), x_cat.long().contiguous(),
                              *_contiguous(num_w, num_b, cat_w, cat_b), cards.contiguous())


def latent_sample_kl(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(z, kl)``: the reparameterised sample ``z = mu + eps * exp(logvar / 2)`` (``mu``'s shape)
    and ``KL(N(mu, exp(logvar)) || N(0, I))`` averaged over every coordinate (0-d, as
    :func:`~idsynth.models.training.gaussian_kl`), in one pass forward and one backward where
    the kernels apply (else the same formulas as PyTorch ops)."""
    if elementwise_usable(mu, logvar, eps) and mu.numel():
        z, total = _LatentKL.apply(mu.contiguous(), logvar.contiguous(), eps.contiguous())
        return z, total * (-0.5 / mu.numel())
    from .training import gaussian_kl

    return mu + eps * torch.exp(0.5 * logvar), gaussian_kl(mu, logvar)


def ffn_half(x: torch.Tensor, norm: torch.nn.LayerNorm, first: torch.nn.Linear, second: torch.nn.Linear) -> torch.Tensor:
    """``x + second(relu(first(norm(x))))`` for ``x (..., d)`` (``second`` maps back to ``d``)."""
    flat = x.reshape(-1, x.shape[-1]).contiguous()
    weights = _contiguous(norm.weight, norm.bias, first.weight, first.bias, second.weight, second.bias)
    return _FFNHalf.apply(flat, *weights, float(norm.eps)).view(x.shape)


def attention_half(x: torch.Tensor, norm: torch.nn.LayerNorm, qkv: torch.nn.Linear) -> torch.Tensor:
    """``x + softmax(q k^T / sqrt(d)) v`` with ``q | k | v = qkv(norm(x))``: one head, no mask, no
    output projection (as a one-head TabSyn block), for ``x (n, tokens, d)`` -> ``(n, tokens, d)``."""
    if x.dim() != 3 or qkv.out_features != 3 * x.shape[-1]:
        raise ValueError(f"attention_half needs x (n, tokens, d) and a Linear(d, 3 d); got x {tuple(x.shape)}, "
                         f"Linear({qkv.in_features}, {qkv.out_features})")
    weights = _contiguous(norm.weight, norm.bias, qkv.weight, qkv.bias)
    return _AttentionHalf.apply(x.contiguous(), *weights, float(norm.eps))
