"""Benchmark PRDC on Table I's rows: ``idsynth.metrics.prdc_blocked`` against the ``prdc`` package.

Both compute the same distances and the same four numbers (checked here, and in
``tests/test_prdc_blocked.py``); this times them on one set's real training rows as Table I
encodes them (label one-hot appended) against a synthetic stand-in (the real rows resampled with
replacement, which makes duplicates and ties as a generator's copies do), interleaved
(ours, prdc, prdc, ours, ...) so that a busy machine slows both alike. It reports seconds, peak
memory that NumPy allocated (``tracemalloc``), the multiply-add bound (the three distance
matrices' ``n * m * d`` float64 multiply-adds at the machine's measured float64 matmul rate)
and the ratios, and writes ``figures/tables/bench_prdc.csv``. Not a test: a script.

    PYTHONPATH=lib python benchmarks/bench_prdc.py --dataset NSL-KDD --repeats 1
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from idsynth.config import get_profile
from idsynth.data.mageid_sets import build_mageid_sets
from idsynth.metrics.prdc_metrics import prdc_scores
from idsynth.metrics.table_i import _fidelity_pair
from idsynth.experiments.table_i_scoring import _encoded_sets

COLUMNS = ("dataset", "rows", "features", "dtype", "backend", "repeat", "seconds", "peak_gib",
           "bound_seconds", "ratio_to_bound", "ratio_to_prdc", "identical")


def float64_matmul_rate(size: int = 2048, repeats: int = 3) -> float:
    """Multiply-adds per second of a (size x size) float64 matmul, best of ``repeats``."""
    a = np.random.default_rng(0).random((size, size))
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return size**3 / best


def timed(real, fake, dtype, backend) -> tuple[dict, float, float]:
    tracemalloc.start()
    start = time.perf_counter()
    scores = prdc_scores(real, fake, k=5, dtype=dtype, backend=backend)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**30
    tracemalloc.stop()
    return scores, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="NSL-KDD")
    parser.add_argument("--profile", default="cpu", help="the profile whose mageid_data sizes the set")
    parser.add_argument("--rows", type=int, default=None, help="cut both sides to this many rows")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--output", default="figures/tables/bench_prdc.csv")
    args = parser.parse_args()

    sets = build_mageid_sets(n_rows=get_profile(args.profile)["mageid_data"]["n_rows"], seed=0)
    mageid_set = next(s for s in sets if s.name == args.dataset)
    X, y = mageid_set.xy("train")
    picks = np.random.default_rng(1).integers(0, len(X), size=len(X))
    (X_real, y_real), _, (X_syn, y_syn) = _encoded_sets(mageid_set, X.iloc[picks].reset_index(drop=True), y[picks])
    real, fake = _fidelity_pair(X_real, y_real, X_syn, y_syn, True)
    if args.rows:
        real, fake = real[: args.rows], fake[: args.rows]
    n, d = real.shape
    bound = 3 * n * n * d / float64_matmul_rate()
    print(f"{args.dataset}: {n} x {d} rows per side, {args.dtype}; bound {bound:.2f} s", flush=True)

    rows, scores = [], {}
    for repeat in range(args.repeats):
        for backend in (("sliced", "prdc") if repeat % 2 == 0 else ("prdc", "sliced")):
            result, seconds, peak = timed(real, fake, np.dtype(args.dtype), backend)
            scores.setdefault(backend, result)
            print(f"  {backend:>6}: {seconds:7.1f} s, peak {peak:5.2f} GiB, {result}", flush=True)
            rows.append({"dataset": args.dataset, "rows": n, "features": d, "dtype": args.dtype, "backend": backend,
                         "repeat": repeat, "seconds": seconds, "peak_gib": peak, "bound_seconds": bound})
    frame = pd.DataFrame(rows)
    reference = frame[frame.backend == "prdc"].groupby("repeat")["seconds"].first()
    frame["ratio_to_bound"] = frame.seconds / frame.bound_seconds
    frame["ratio_to_prdc"] = frame.seconds / frame.repeat.map(reference)
    frame["identical"] = scores["sliced"] == scores["prdc"]
    print(frame.to_string(index=False))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame[list(COLUMNS)].to_csv(out, index=False)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
