"""PRDC (Naeem et al. 2020) a slice of distances at a time: the ``prdc`` package's numbers, bit
for bit, without its three whole ``(m, m)`` distance matrices and their ``argpartition``.

``prdc.compute_prdc`` builds the real-real, fake-fake and real-fake distance matrices whole with
scikit-learn's ``pairwise_distances(..., n_jobs=8)``, which computes them as 8 even column
slices, ``euclidean_distances(X, Y[s])``, and then finds each row's k-th neighbour with
``np.argpartition`` over the whole matrix (an int64 index per distance): on Table I's 24,000
rows 2.3 GB per float32 matrix, 4.6 GB of indices, 6.5 GiB at its peak and ~190-220 s on one
core, 3/4 of it in the partitions (``benchmarks/bench_prdc.py``). Here each of those same slices is computed by the same BLAS products on the same
chunks (:func:`euclidean_distances_like_sklearn`; so every distance is the package's, in float32
and in float64: scikit-learn upcasts float32 rows to float64 in chunks, ``d2 = (-2 x.y + |x|^2) +
|y|^2``, casts back, clamps at 0 and takes the root) and reduced at once:

- the radii: each row's k+1 smallest distances within the slice (``torch.topk``), then the
  (k+1)-th smallest of those over the 8 slices (a row's distance to itself counts, at 0);
- the real-fake slice: how many real balls hold each fake row (precision, density), whether
  each real row lies in some fake ball (recall), each real row's nearest fake row (coverage).

``tests/test_prdc_blocked.py`` compares the four numbers with the package's on rows with
duplicates, in both dtypes; ``benchmarks/bench_prdc.py`` times both on Table I's rows.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.utils import gen_batches, gen_even_slices
from sklearn.utils.extmath import row_norms

from idsynth.models.training import keep_freed_memory

#: The column slices of ``prdc``'s ``pairwise_distances(..., n_jobs=8)``: the same slices give the
#: same distances (BLAS sums a product in an order that depends on the shapes it is given).
PRDC_SLICES = 8


def upcast_batch_rows(n_x: int, n_y: int, n_features: int) -> int:
    """The rows per chunk of scikit-learn's ``_euclidean_distances_upcast`` for dense float32
    rows: about 10 % more memory than X, Y and the distances take (at least 10 MiB)."""
    maxmem = max(((n_x + n_y) * n_features + n_x * n_y) / 10, 10 * 2**17)
    tmp = 2 * n_features
    return max(int((-tmp + math.sqrt(tmp**2 + 4 * maxmem)) / 2), 1)


def euclidean_distances_like_sklearn(X: np.ndarray, Y: np.ndarray, buffer: np.ndarray | None = None) -> np.ndarray:
    """(len(X), len(Y)) ``sklearn.metrics.pairwise.euclidean_distances(X, Y)`` for dense float32
    or float64 rows (X and Y distinct arrays), computed by the same BLAS products on the same
    chunks, so bit for bit the same.

    float64: ``(-2 X Y^T + |x|^2) + |y|^2`` in one product; float32: over chunks of
    :func:`upcast_batch_rows` rows upcast to float64, each chunk cast back to float32. Then
    clamped at 0 and square-rooted in the input dtype. The element-wise steps run on
    :data:`SUB_ROWS` rows at a time while they are in cache; ``buffer``: a flat array of the
    input dtype with at least ``len(X) * len(Y)`` elements to write the result into (reused
    across calls, so its pages are not faulted in again).
    """
    n, m = len(X), len(Y)
    if buffer is None:
        buffer = np.empty(n * m, dtype=X.dtype)
    out = buffer[: n * m].reshape(n, m)
    if X.dtype == np.float64:
        np.matmul(X, Y.T, out=out)
        _finish(out, row_norms(X, squared=True)[:, None], row_norms(Y, squared=True)[None, :], out)
        return out
    rows = upcast_batch_rows(n, m, X.shape[1])
    y_chunks = [(cols, Yc, row_norms(Yc, squared=True)[None, :])
                for cols, Yc in ((cols, Y[cols].astype(np.float64)) for cols in gen_batches(m, rows))]
    products = np.empty(rows * min(rows, m), dtype=np.float64)
    for xs in gen_batches(n, rows):
        Xc = X[xs].astype(np.float64)
        XXc = row_norms(Xc, squared=True)[:, None]
        for cols, Yc, YYc in y_chunks:
            d = products[: len(Xc) * len(Yc)].reshape(len(Xc), len(Yc))
            np.matmul(Xc, Yc.T, out=d)
            _finish(d, XXc, YYc, out[xs, cols])
    return out


#: Rows per step of the element-wise work on a block of distances (a few hundred kB: in cache).
SUB_ROWS = 64


def _finish(products: np.ndarray, x_sq: np.ndarray, y_sq: np.ndarray, out: np.ndarray) -> None:
    """``out = sqrt(max(cast((-2 products + x_sq) + y_sq), 0))``, in the order scikit-learn does
    it, :data:`SUB_ROWS` rows at a time; ``products`` (r, c) float64 is overwritten; ``out``
    (r, c) may be ``products`` itself (float64) or a float32 view."""
    in_place = out is products
    for start in range(0, len(products), SUB_ROWS):
        part, dest = products[start:start + SUB_ROWS], out[start:start + SUB_ROWS]
        part *= -2
        part += x_sq[start:start + SUB_ROWS]
        part += y_sq
        if not in_place:
            dest[...] = part
        np.maximum(dest, 0, out=dest)
        np.sqrt(dest, out=dest)


def column_slices(n: int) -> list[slice]:
    """The column slices ``prdc``'s distance matrices over ``n`` rows are computed in."""
    return list(gen_even_slices(n, PRDC_SLICES))


def _slice_buffer(n: int, m: int, dtype) -> np.ndarray:
    """A flat buffer for one (n, slice of m) block of distances."""
    return np.empty(n * column_slices(m)[0].stop, dtype=dtype)


def kth_neighbour_radii(X: np.ndarray, k: int, buffer: np.ndarray | None = None) -> np.ndarray:
    """(n,) each row's distance to its k-th nearest other row (the (k+1)-th smallest distance,
    counting itself at 0): ``prdc``'s ``compute_nearest_neighbour_distances(X, k)``.
    ``buffer``: see :func:`euclidean_distances_like_sklearn`."""
    n = len(X)
    smallest = []
    buffer = _slice_buffer(n, n, X.dtype) if buffer is None else buffer
    for cols in column_slices(n):
        d = euclidean_distances_like_sklearn(X, X[cols], buffer)  # (n, |cols|)
        d[np.arange(cols.start, cols.stop), np.arange(d.shape[1])] = 0  # itself (fill_diagonal)
        keep = min(k + 1, d.shape[1])
        # the keep smallest values of each row (torch.topk: ~10x faster than np.partition here)
        smallest.append(torch.topk(torch.from_numpy(d), keep, dim=1, largest=False, sorted=False).values.numpy())
    return np.partition(np.concatenate(smallest, axis=1), k, axis=1)[:, k]


def prdc_blocked(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """``prdc.compute_prdc(real, fake, nearest_k=k)``'s precision, recall, density and coverage.

    real, fake: (n, d) and (m, d) arrays of one dtype (float32 or float64: the distances' dtype,
    as in the package). Memory: one ``(max(n, m), max(n, m) / 8)`` slice of distances, reused.
    """
    real, fake = np.asarray(real), np.asarray(fake)
    if real.dtype != fake.dtype or real.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"real and fake must both be float32 or both float64, got {real.dtype} and {fake.dtype}")
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and fake must be (n, d) and (m, d), got {real.shape} and {fake.shape}")
    if not 1 <= int(k) < min(len(real), len(fake)):
        raise ValueError(f"k must be in [1, {min(len(real), len(fake)) - 1}], got {k}")
    k = int(k)
    keep_freed_memory()  # reuse freed blocks: fresh pages fault in slowly on a busy VM (~0.1 ms each)
    buffer = _slice_buffer(max(len(real), len(fake)), max(len(real), len(fake)), real.dtype)  # one for all
    real_radii, fake_radii = kth_neighbour_radii(real, k, buffer), kth_neighbour_radii(fake, k, buffer)

    fake_inside = np.empty(len(fake), dtype=np.int64)  # per fake row: the real balls holding it
    real_recalled = np.zeros(len(real), dtype=bool)  # per real row: inside some fake ball
    nearest_fake = np.full(len(real), np.inf, dtype=real.dtype)  # per real row
    inside = np.empty(len(buffer), dtype=bool)
    for cols in column_slices(len(fake)):
        d = euclidean_distances_like_sklearn(real, fake[cols], buffer)  # (n, |cols|)
        hits = inside[: d.size].reshape(d.shape)
        fake_inside[cols] = np.less(d, real_radii[:, None], out=hits).sum(axis=0)
        real_recalled |= np.less(d, fake_radii[None, cols], out=hits).any(axis=1)
        np.minimum(nearest_fake, d.min(axis=1), out=nearest_fake)
    return {
        "precision": float((fake_inside > 0).mean()),
        "recall": float(real_recalled.mean()),
        "density": float((1.0 / float(k)) * fake_inside.mean()),
        "coverage": float((nearest_fake < real_radii).mean()),
    }
