"""The generators a user would pick off the shelf (SDV's GaussianCopula, TVAE, CTGAN) in Table I
and Table 6, beside the package's own (notebook 14; issue 18).

They go through the same routes as every other generator, built by the registry
(:func:`idsynth.models.registry.factories`) from their profile sections:

* Table I: :func:`~idsynth.experiments.cross_eval.run_table_i` on each MAGE-ID set (fit, sample
  the real class counts, score; fits, samples and scored rows cached);
* Table 6: :func:`~idsynth.experiments.cross_eval.run_generator_oversampling` on all of KDDTrain+
  (each class up to the majority count, four classifiers, KDDTest+; seeds cached).

Long runs fill the cache from the command line (one process per part or seed, e.g. one per core),
and the notebook then reads it::

    python -m idsynth.experiments.sdv_peers --profile cpu --part table_i --seeds 0 1 2
    python -m idsynth.experiments.sdv_peers --profile cpu --part table6 --seeds 0
"""

from __future__ import annotations

import argparse
from typing import Any, Sequence

import pandas as pd

from ..cache import ArtifactCache
from ..config import get_profile
from ..data.mageid_sets import build_mageid_sets
from ..models import registry
from .cross_eval import (  # noqa: F401  (table6_data: the Table 6 rows, as notebook 11 reads them)
    fit_table6_generator, run_generator_oversampling, run_table_i, table6_data, table6_training_frame,
)
from .table_i import fit_generator

#: SDV's synthesizers of Table I, in the tables' order.
PEERS: tuple[str, ...] = ("GaussianCopula", "TVAE", "CTGAN")
#: Those of Table 6: CTGAN one per class there, since SDV's conditional sampling of one CTGAN
#: finds no row of KDDTrain+'s rarest class (U2R, 52 of 125,973 rows; measured: none in 5,000
#: draws at the cpu profile's budget), and an over-sampler must make every class.
PEERS_TABLE6: tuple[str, ...] = ("GaussianCopula", "TVAE", "CTGAN-per-class")
#: The two parts a run can do.
PARTS: tuple[str, ...] = ("table_i", "table6")


def peer_sets(profile, data_dir=None, seed: int = 0, datasets: Sequence[str] | None = None):
    """The MAGE-ID sets of Table I (``profile["mageid_data"]``), or those named ``datasets``."""
    sets = build_mageid_sets(n_rows=profile["mageid_data"]["n_rows"], seed=seed, data_dir=data_dir)
    return [s for s in sets if datasets is None or s.name in datasets]


def peer_table_i(profile, seeds: Sequence[int], sets, names: Sequence[str] = PEERS, device: str = "auto",
                 cache: ArtifactCache | None = None) -> tuple[pd.DataFrame, dict]:
    """Table I rows of ``names`` on each of ``sets`` for every seed (the long frame), and
    ``{(dataset, model, seed): (synthetic frame, y)}``."""
    longs, synthetic = [], {}
    factories = registry.factories(profile, names, device=device)
    for mageid_set in sets:
        long, frames = run_table_i(mageid_set, seeds, factories, cache, **dict(profile["table_i"]))
        longs.append(long)
        synthetic.update({(mageid_set.name, name, seed): pair for (name, seed), pair in frames.items()})
    return pd.concat(longs, ignore_index=True), synthetic


def peer_table6(profile, seeds: Sequence[int], data, names: Sequence[str] = PEERS_TABLE6, device: str = "auto",
                cache: ArtifactCache | None = None, verbose: bool = True):
    """Table 6 rows of ``names`` as over-samplers of KDDTrain+ (an
    :class:`~idsynth.experiments.vgm_oversample.OversamplingRun`)."""
    section = profile["cross_eval"]["table6"]
    return run_generator_oversampling(data, seeds, registry.factories(profile, names, device=device),
                                      n_jobs=section["n_jobs"], mlp_backend=section["mlp_backend"], device=device,
                                      cache=cache, verbose=verbose)


def fit_records(profile, seeds: Sequence[int], sets=(), data=None, names: Sequence[str] = PEERS,
                names_table6: Sequence[str] = PEERS_TABLE6, cache: ArtifactCache | None = None,
                seeds_table6: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per fitted generator (read from the cache, so after the runs): ``table``,
    ``dataset``, ``model``, ``seed``, ``epochs``, ``steps`` (optimiser steps taken),
    ``seconds`` (the fit), ``rows`` and the last epoch's losses (``loss: <name>``; the mean over a
    per-class generator's models). Table 6's fits are those of ``seeds_table6`` (default: ``seeds``)."""
    rows = []
    factories = registry.factories(profile, names)
    factories_6 = registry.factories(profile, names_table6)

    def record(table: str, dataset: str, name: str, seed: int, generator, n_rows: int) -> dict[str, Any]:
        fit = getattr(generator, "fit_record_", None) or {}
        parts = pd.DataFrame(fit.get("losses", []))  # one row per SDV model (per class: several)
        losses = {f"loss: {k}": float(v) for k, v in parts.mean().items()}
        return {"table": table, "dataset": dataset, "model": name, "seed": int(seed), "epochs": fit.get("epochs"),
                "steps": fit.get("steps"), "seconds": fit.get("seconds"), "rows": int(n_rows), **losses}

    for mageid_set in sets:
        for name, make in factories.items():
            for seed in seeds:
                generator, _ = fit_generator(name, make, mageid_set, int(seed), cache)
                rows.append(record("Table I", mageid_set.name, name, seed, generator, len(mageid_set.train)))
    if data is not None:
        X, y = table6_training_frame(data)
        for name, make in factories_6.items():
            for seed in seeds if seeds_table6 is None else seeds_table6:
                generator, _ = fit_table6_generator(name, make, X, y, int(seed), cache)
                rows.append(record("Table 6", "NSL-KDD KDDTrain+", name, seed, generator, len(X)))
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=None)
    parser.add_argument("--part", choices=PARTS, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the profile's seeds")
    parser.add_argument("--models", nargs="+", default=None, choices=sorted({*PEERS, *PEERS_TABLE6}),
                        help="default: PEERS (table_i), PEERS_TABLE6 (table6)")
    parser.add_argument("--datasets", nargs="+", default=None, help="Table I sets (default: both)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    profile = get_profile(args.profile)
    seeds = args.seeds if args.seeds is not None else profile.seeds(0, None)
    cache = ArtifactCache()
    if args.part == "table_i":
        long, _ = peer_table_i(profile, seeds, peer_sets(profile, args.data_dir, datasets=args.datasets),
                               args.models or PEERS, args.device, cache)
        print(long.to_string())
    else:
        run = peer_table6(profile, seeds, table6_data(profile, args.data_dir), args.models or PEERS_TABLE6,
                          args.device, cache)
        print(run.scores.groupby("method")[["accuracy", "f1_weighted", "f1_macro"]].mean().to_string())


if __name__ == "__main__":
    main()
