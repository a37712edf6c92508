"""Precision, recall, density and coverage (Naeem et al. 2020) of synthetic against real rows.

Table I of MAGE-ID reports PRDC with k = 5 nearest neighbours on the encoded feature space and
equal numbers of real and synthetic rows (TARGETS.md). The numbers are the reference
implementation's, the ``prdc`` package's ``compute_prdc``: by default computed a slice of
distances at a time (:mod:`idsynth.metrics.prdc_blocked`, the same distances and comparisons, bit
for bit; memory one eighth of one ``(m, m)`` matrix instead of whole ones and their
``argpartition`` indices: 0.47 against 6.5 GiB at m = 24,000), or by the package itself with
``backend="prdc"``. This module checks inputs and equalises the counts.

Precision: Table I's rows so far use float32 (the default). In a min-max-scaled space whose
heavy-tailed columns (byte counts) shrink most differences to ~1e-9, float32 turns distances
that differ by less than ~1e-7 into exact ties, and PRDC's strict ``<`` then drops them: SMOTE on
NSL-KDD, seed 0, density 1.2238 in float32, 1.2428 in float64 (an audit, 2026-11-23; the
float64 result agrees with an independent ``cdist`` implementation). Notebook 10 measures both.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from prdc import compute_prdc

from idsynth.metrics._common import as_features, equal_size_subsample
from idsynth.metrics.prdc_blocked import prdc_blocked

PRDC_KEYS: tuple[str, ...] = ("precision", "recall", "density", "coverage")
#: ``"sliced"``: :func:`~idsynth.metrics.prdc_blocked.prdc_blocked`; ``"prdc"``: the package.
PRDC_BACKENDS: tuple[str, ...] = ("sliced", "prdc")


def prdc_scores(real, synthetic, k: int = 5, max_rows: int | None = None, random_state: int = 0,
                dtype=np.float32, backend: str = "sliced") -> dict[str, float]:
    """PRDC of ``synthetic`` (n_s, d) against ``real`` (n_r, d), both in the same encoded space.

    The larger set is subsampled (seeded by ``random_state``) to the size of the smaller, and
    both to at most ``max_rows``. Returns ``{"precision", "recall", "density", "coverage"}``:
    precision, recall and coverage lie in [0, 1]; density is >= 0 and about 1 when the two
    sets come from the same distribution. ``dtype``: the precision of the distances (see the
    module). ``backend``: one of :data:`PRDC_BACKENDS` (the same numbers). Raises ``ValueError``
    when fewer than ``k + 2`` rows remain (``prdc`` partitions each row's distances at index
    ``k + 1``).
    """
    if int(k) < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    real_x, syn_x = equal_size_subsample(
        as_features(real, "real"), as_features(synthetic, "synthetic"), max_rows, random_state
    )
    if len(real_x) < k + 2:
        raise ValueError(f"PRDC with k={k} needs at least {k + 2} real and synthetic rows, got {len(real_x)}")
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    if backend not in PRDC_BACKENDS:
        raise ValueError(f"backend must be one of {PRDC_BACKENDS}, got {backend!r}")
    if backend == "sliced":
        return prdc_blocked(real_x.astype(dtype), syn_x.astype(dtype), int(k))
    with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints the two counts
        scores = compute_prdc(real_x.astype(dtype), syn_x.astype(dtype), nearest_k=int(k))
    return {key: float(scores[key]) for key in PRDC_KEYS}
