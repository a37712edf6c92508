"""Benchmark MAGE-ID (or TabSyn): seconds per training stage and sampling rows per second.

Fits the generator of the profile's ``mageid`` section on one MAGE-ID set (``mageid_data.n_rows``
rows, the generator trains on the 80 % split) on each device, and prints per stage (prepare =
schema, encoders, imager and images; TabVAE; ImageVAE; encode; EDM) the measured seconds and
the seconds projected to the profile's full epochs, then the rows per second of ``generate``
(EDM sampling + both decoders) for ``--sample-rows`` rows after a warm-up call. Not a test:
a script.

    PYTHONPATH=lib python benchmarks/bench_mageid.py --devices cuda            # the paper schedule
    PYTHONPATH=lib python benchmarks/bench_mageid.py --devices cpu --epochs-scale 0.01 --threads 2
    PYTHONPATH=lib python benchmarks/bench_mageid.py --dataset cic --modalities tabular   # TabSyn

``--epochs-scale`` multiplies every part's epochs (at least 1 each) to keep CPU runs short; the
projection assumes time linear in epochs, which holds once the first epoch's warm-up is paid.
Needs the real data ($IDSYNTH_DATA or --data-dir).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from idsynth.config import get_profile
from idsynth.data.mageid_sets import cic_mageid_set, nslkdd_mageid_set
from idsynth.experiments.mageid_train import make_generator
from idsynth.models.base import class_counts

PARTS = ("tab_vae", "img_vae", "edm")


def scaled_section(section, scale: float) -> dict:
    """The profile section with every part's training length (its ``epochs``, or its ``steps``
    where the profile gives a step budget) multiplied by ``scale`` (at least 1)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in section.items()}
    for part in PARTS:
        for length in ("epochs", "steps"):
            if part in out and out[part].get(length) is not None:
                out[part][length] = max(1, round(out[part][length] * scale))
    return out


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bench_one(mageid_set, section: dict, scale: float, modalities, device: str, sample_rows: int) -> pd.DataFrame:
    X, y = mageid_set.xy("train")
    model = make_generator(scaled_section(section, scale), seed=0, modalities=modalities, device=device, verbose=False)
    started = time.perf_counter()
    model.fit(X, y)
    synchronize(device)
    total = time.perf_counter() - started
    rows = []
    for stage, seconds in model.fit_seconds_.items():
        timed = full = None
        if stage in PARTS:
            part = getattr(model, f"{stage}_")
            # Step budgets (the cpu profile) are projected in steps, epoch budgets in epochs.
            if section[stage].get("steps") is not None:
                timed, full = part.n_steps_, section[stage]["steps"]
            else:
                timed, full = part.epochs, section[stage]["epochs"]
        projected = seconds * full / timed if timed else seconds
        rows.append({"stage": stage, "length_timed": timed, "length_profile": full, "seconds": seconds,
                     "projected_s": projected})
    rows.append({"stage": "fit (total)", "seconds": total, "projected_s": sum(r["projected_s"] for r in rows)})

    counts = class_counts(y)
    share = {label: n / len(y) for label, n in counts.items()}
    request = {label: max(1, round(sample_rows * p)) for label, p in share.items()}
    model.generate({label: 100 for label in counts}, random_state=0)  # warm-up
    synchronize(device)
    result = model.generate(request, random_state=1)
    rows.append({"stage": f"sample {len(result.y)} rows", "seconds": result.seconds, "projected_s": result.seconds,
                 "rows_per_s": result.rows_per_second, "label_agreement": result.label_agreement})
    table = pd.DataFrame(rows).assign(device=device)
    return table.astype({"length_timed": "Int64", "length_profile": "Int64"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=("nslkdd", "cic"), default="nslkdd")
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--modalities", choices=("both", "tabular"), default="both",
                        help="both = MAGE-ID, tabular = TabSyn")
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, and cuda when present")
    parser.add_argument("--epochs-scale", type=float, default=1.0)
    parser.add_argument("--sample-rows", type=int, default=None, help="default: the training rows")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    profile = get_profile(args.profile)
    section = {k: (dict(v) if hasattr(v, "items") else v) for k, v in profile["mageid"].items()}
    build = {"nslkdd": nslkdd_mageid_set, "cic": cic_mageid_set}[args.dataset]
    mageid_set = build(n_rows=profile["mageid_data"]["n_rows"], seed=0, data_dir=args.data_dir)
    modalities = ("tabular", "image") if args.modalities == "both" else ("tabular",)
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    sample_rows = args.sample_rows or len(mageid_set.train)
    print(f"{mageid_set.name}: {len(mageid_set.train)} training rows, {len(mageid_set.features)} features; "
          f"profile={profile.name}, modalities={modalities}, epochs x {args.epochs_scale}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads")
    for device in devices:
        name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"
        table = bench_one(mageid_set, section, args.epochs_scale, modalities, device, sample_rows)
        print(f"\n== {device} ({name}) ==")
        print(table.drop(columns="device").to_string(index=False, float_format=lambda v: f"{v:,.3f}", na_rep=""))


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
