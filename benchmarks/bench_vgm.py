"""Benchmark VGM: seconds per training epoch on the full KDDTrain+ and sampling throughput.

For each option and device, trains ``--epochs`` epochs (paper batch size 200) and reports
setup time (copy to the device, initialisation, CUDA-graph capture), the first and the
steady-state epoch, the projected time of the paper's 80 epochs, and the rows per second of
``sample`` for ``--sample-rows`` rows (a small warm-up call first; then ``--sample-repeats``
timed calls: the first, which also pays for faulting in the fresh output array's pages, and the
median of all). ``host floor`` is what the host alone needs to allocate such an array and fill it
from a chunk-sized buffer: the bound on any device's rate. Not a test: a script.

    PYTHONPATH=lib python benchmarks/bench_vgm.py                       # CPU (+ CUDA if present)
    PYTHONPATH=lib python benchmarks/bench_vgm.py --devices cuda --compare-eager
    PYTHONPATH=lib python benchmarks/bench_vgm.py --devices cpu --options C --threads 1
    PYTHONPATH=lib python benchmarks/bench_vgm.py --devices cuda --compile both   # torch.compile'd step too

Uses the real KDDTrain+ when found ($IDSYNTH_DATA or --data-dir), otherwise random data of
the same shape and class balance (timings do not depend on the values).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from idsynth.models.vgm import VGM

PAPER_EPOCHS = 80
TRAIN_COUNTS = (45927, 67343, 11656, 995, 52)  # KDDTrain+ per category (DoS, Normal, Probe, R2L, U2R)


def training_set(data_dir: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    """KDDTrain+ in VGM's encoding, or random data of the same shape when the files are absent."""
    try:
        from idsynth.data.nslkdd import load_vgm_arrays

        data = load_vgm_arrays(data_dir)
        return data.X_train, data.y_train, "KDDTrain+"
    except (ImportError, FileNotFoundError) as error:
        print(f"(real data unavailable: {error}; timing random data of the same shape)")
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(5), TRAIN_COUNTS)
    X = np.zeros((len(y), 116), np.float32)
    X[:, :32] = rng.random((len(y), 32))
    for start, width in ((32, 3), (35, 11), (46, 70)):
        X[np.arange(len(y)), start + rng.integers(0, width, len(y))] = 1.0
    return X, y, "random (125,973 x 116)"


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def host_floor_seconds(n_rows: int, n_features: int = 116, chunk_rows: int = 65_536) -> float:
    """Seconds to allocate a fresh (n_rows, n_features) float32 array and fill it chunk by chunk
    from one chunk-sized buffer: the host-memory part of returning sampled rows as NumPy."""
    chunk = np.ones((min(chunk_rows, n_rows), n_features), np.float32)
    start = time.perf_counter()
    out = np.empty((n_rows, n_features), np.float32)
    for first in range(0, n_rows, chunk_rows):
        n = min(chunk_rows, n_rows - first)
        np.copyto(out[first : first + n], chunk[:n])
    return time.perf_counter() - start


def bench_one(option: str, device: str, cuda_graph: bool, X, y, epochs: int, sample_rows: int,
              compile_step: bool = False, sample_repeats: int = 3) -> dict:
    model = VGM(option=option, epochs=epochs, device=device, cuda_graph=cuda_graph, compile_step=compile_step,
                verbose=False, random_state=0)
    start = time.perf_counter()
    model.fit(X, y)
    synchronize(device)
    fit_seconds = time.perf_counter() - start
    seconds = model.loss_history_["seconds"].to_numpy()
    first = seconds[0]
    steady = (seconds[-1] - seconds[0]) / (epochs - 1) if epochs > 1 else first
    setup = fit_seconds - seconds[-1] + 0.0
    per_class = {c: sample_rows // 5 + (1 if c < sample_rows % 5 else 0) for c in range(5)}
    model.sample({c: 1000 for c in range(5)}, random_state=0)  # warm-up
    sample_seconds = []
    for repeat in range(max(1, sample_repeats)):
        start = time.perf_counter()
        X_syn, _ = model.sample(per_class, random_state=1 + repeat)
        sample_seconds.append(time.perf_counter() - start)
        del X_syn
    n_sampled = sum(per_class.values())
    first_sample, median_sample = sample_seconds[0], float(np.median(sample_seconds))
    return {
        "option": option, "device": device, "cuda_graph": cuda_graph if device.startswith("cuda") else None,
        "compile_step": compile_step,
        "epochs_timed": epochs, "setup_s": setup, "first_epoch_s": first, "epoch_s": steady,
        "projected_80_epochs_s": setup + first + (PAPER_EPOCHS - 1) * steady,
        "steps_per_s": int(np.ceil(len(y) / model.batch_size)) / steady,
        "sample_rows": n_sampled, "first_sample_s": first_sample, "sample_s": median_sample,
        "first_sample_rows_per_s": n_sampled / first_sample, "sample_rows_per_s": n_sampled / median_sample,
        "final_loss": float(model.loss_history_["loss"].iloc[-1]),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--options", nargs="+", default=["A", "B", "C"], choices=["A", "B", "C"])
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, and cuda when present")
    parser.add_argument("--epochs", type=int, default=None, help="epochs timed (default: 1 on CPU, 3 on CUDA)")
    parser.add_argument("--sample-rows", type=int, default=1_000_000)
    parser.add_argument("--sample-repeats", type=int, default=3, help="timed sampling calls (median reported)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads on CPU")
    parser.add_argument("--compare-eager", action="store_true", help="on CUDA, also time cuda_graph=False")
    parser.add_argument("--compile", choices=["off", "on", "both"], default="off",
                        help="time the torch.compile'd training step (VGM compile_step); its first epoch includes compiling")
    parser.add_argument("--rows", type=int, default=None, help="time on a random subset of this size (quick check)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=None, help="also write the results to this CSV")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    X, y, source = training_set(args.data_dir)
    if args.rows:
        keep = np.sort(np.random.default_rng(0).choice(len(y), size=min(args.rows, len(y)), replace=False))
        X, y, source = X[keep], y[keep], f"{source} subset"
    names = {d: torch.cuda.get_device_name(d) if d.startswith("cuda") else f"cpu, {torch.get_num_threads()} threads" for d in devices}
    print(f"data: {source}, {len(y):,} rows; torch {torch.__version__}; devices: {names}")
    floors = [host_floor_seconds(args.sample_rows) for _ in range(3)]
    print(f"host floor for {args.sample_rows:,} rows: first {args.sample_rows / floors[0] / 1e6:.1f} M rows/s, "
          f"median {args.sample_rows / float(np.median(floors)) / 1e6:.1f} M rows/s", flush=True)
    rows = []
    for device in devices:
        graphs = [True, False] if device.startswith("cuda") and args.compare_eager else [True]
        epochs = args.epochs or (3 if device.startswith("cuda") else 1)
        compiles = {"off": [False], "on": [True], "both": [False, True]}[args.compile]
        for option in args.options:
            for cuda_graph in graphs:
                for compile_step in compiles:
                    result = bench_one(option, device, cuda_graph, X, y, epochs, args.sample_rows, compile_step,
                                       args.sample_repeats)
                    rows.append(result)
                    print(
                        f"{option} {device:5s} graph={result['cuda_graph']!s:5s} compile={compile_step!s:5s} "
                        f"epoch {result['epoch_s']:.3f} s "
                        f"({result['steps_per_s']:.0f} steps/s), 80 epochs ~ {result['projected_80_epochs_s']:.1f} s; "
                        f"sampling {result['sample_rows_per_s'] / 1e6:.2f} M rows/s "
                        f"(first call {result['first_sample_rows_per_s'] / 1e6:.2f})",
                        flush=True,
                    )
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.out:
        table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
