"""Fill the artefact cache of the GPU notebooks ahead of them, with a deadline.

Notebooks 06, 07, 09 (MAGE-ID and TabSyn), 08 (TabDDPM), 11 (the three as over-samplers of
KDDTrain+) and 12 (MAGE-ID and TabSyn on the long schedule) train one model per data set, seed and
variant, one after the other. This module trains the same models, under the same cache keys,
seed by seed in worker processes, and can stop at a deadline (``--deadline``) with the first
seeds complete; the notebooks run afterwards find every model in the cache and only evaluate
and plot. On one H100 the steps are replayed from CUDA graphs and one worker is best: several
workers time-slice the GPU (four ran each model ~4x slower than alone); one worker also lets
TabSyn reuse MAGE-ID's tabular VAE fit (:func:`~idsynth.models.mageid.fitted_tab_vae`).

    python -m idsynth.prefill --profile paper --what mageid --n-seeds 3 --deadline 500
    python -m idsynth.prefill --profile paper --what tabddpm
    python -m idsynth.prefill --profile paper --what crosseval --deadline 540
    python -m idsynth.prefill --profile paper --what crosseval --only-seeds 2   # 0, 1 done elsewhere
    python -m idsynth.prefill --profile paper --what mageid_long --deadline 540

A unit is one cache entry, every generator named as in :mod:`idsynth.models.registry` and fitted
through :func:`idsynth.runs.fit_or_load` (the notebooks' route and keys):
``("mageid", dataset, seed, model="MAGE-ID")`` trains MAGE-ID (``"TabSyn"``: TabSyn) through
stage 2 from the profile's ``mageid`` section, as
:func:`~idsynth.experiments.mageid_train.train_mageid` does, and ``("mageid_long", ...)`` the same on
the long schedule (:func:`~idsynth.experiments.mageid_schedule.long_section`; the first
``mageid_schedule.long_seeds`` seeds only); ``("tabddpm", dataset, seed)`` fits
TabDDPM and samples its synthetic twin with :func:`~idsynth.experiments.table_i.sample_synthetic`,
as notebook 08 does, and ``("table_i", dataset, seed, model=name)`` the same for any registered
generator (``--models``); ``("crosseval", "KDDTrain+", seed, model=name)`` fits a Table 6
generator ``name`` (default: the profile's ``cross_eval.table6_generators``; any registered name
with ``--models``, e.g. notebook 14's SDV peers) on the typed KDDTrain+ rows with
:func:`~idsynth.experiments.cross_eval.fit_table6_generator`. Every generator is built by
:func:`idsynth.models.registry.factories` from its profile section, so its cache key is the
notebooks' (``tests/test_registry_conformance.py`` checks the registry's factories against theirs).
Units already cached cost only a load.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from typing import Iterable, NamedTuple, Sequence

WHAT = ("mageid", "tabddpm", "crosseval", "mageid_long", "table_i")
#: The generator of a "tabddpm" unit (a "table_i" unit names its own).
TABLE_I_DEFAULT = "TabDDPM"
#: The data set of the "crosseval" units (notebook 11's Table 6 protocol).
CROSSEVAL_DATASET = "KDDTrain+"
#: The registry names of the "mageid" and "mageid_long" units (notebooks 06-09, 12): MAGE-ID, then
#: TabSyn (which reuses its tabular VAE fit within one worker).
MAGEID_MODELS: tuple[str, ...] = ("MAGE-ID", "TabSyn")


class Unit(NamedTuple):
    """One cache entry to make: the generator family, data set name, seed and the generator's
    registry name (empty for a "tabddpm" unit: :data:`TABLE_I_DEFAULT`)."""

    what: str
    dataset: str
    seed: int
    model: str = ""


def plan_units(what: Sequence[str], dataset_names: Sequence[str], seeds: Sequence[int],
               crosseval_models: Sequence[str] = ("MAGE-ID", "TabSyn", "TabDDPM"),
               long_seeds: int | None = None, table_i_models: Sequence[str] = ()) -> list[Unit]:
    """Every unit of the families in ``what``, seed by seed (so that, stopped at a deadline, the
    first seeds are complete) and, within a seed, the largest data set first (it runs longest);
    the "crosseval" units (KDDTrain+ only, whatever ``dataset_names``) come last in their seed, in
    the order of ``crosseval_models`` (MAGE-ID before TabSyn, which reuses its tabular VAE);
    "mageid_long" units exist for the first ``long_seeds`` seeds (default: all); "table_i" units
    fit and sample each of ``table_i_models`` (registry names) on each data set."""
    unknown = sorted(set(what) - set(WHAT))
    if unknown:
        raise ValueError(f"unknown --what {unknown}; expected some of {list(WHAT)}")
    units = []
    long_seeds = len(seeds) if long_seeds is None else int(long_seeds)
    for index, seed in enumerate(seeds):
        for name in dataset_names:
            for family in ("mageid", "mageid_long"):
                if family in what and (family == "mageid" or index < long_seeds):
                    units += [Unit(family, name, int(seed), model=model) for model in MAGEID_MODELS]
            if "tabddpm" in what:
                units.append(Unit("tabddpm", name, int(seed)))
            if "table_i" in what:
                units += [Unit("table_i", name, int(seed), model=model) for model in table_i_models]
        if "crosseval" in what:
            units += [Unit("crosseval", CROSSEVAL_DATASET, int(seed), model=model) for model in crosseval_models]
    return units


def only_seeds(units: Sequence[Unit], seeds: Sequence[int] | None) -> list[Unit]:
    """The units of ``seeds`` (all units when None), for a call that makes only some seeds: e.g.
    seed 2's, when seeds 0 and 1 were finished by an earlier machine and their per-seed rows
    carried in. Raises ``ValueError`` for a seed the plan does not hold."""
    if seeds is None:
        return list(units)
    planned = set(u.seed for u in units)
    missing = sorted(set(int(s) for s in seeds) - planned)
    if missing:
        raise ValueError(f"--only-seeds {missing} are not among the planned seeds {sorted(planned)}")
    return [u for u in units if u.seed in set(int(s) for s in seeds)]


def complete_seeds(units: Sequence[Unit], done: Iterable[Unit]) -> int:
    """How many of the planned seeds, in order, have all their units done."""
    finished = set(done)
    count = 0
    for seed in dict.fromkeys(u.seed for u in units):
        if not all(u in finished for u in units if u.seed == seed):
            break
        count += 1
    return count


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, int(threads)))


def run_unit(unit: Unit, profile_name: str, base_seed: int, device: str, data_dir: str | None) -> tuple[Unit, float]:
    """Make one unit's cache entry (or load it); returns ``(unit, seconds)``."""
    from .config import get_profile

    start = time.perf_counter()
    profile = get_profile(profile_name)
    if unit.what == "crosseval":
        _fit_crosseval(unit, profile, base_seed, device, data_dir)
    else:
        _fit_on_mageid_set(unit, profile, base_seed, device, data_dir)
    return unit, time.perf_counter() - start


def _fit_on_mageid_set(unit: Unit, profile, base_seed: int, device: str, data_dir: str | None) -> None:
    from .cache import ArtifactCache
    from .data.mageid_sets import build_mageid_sets

    sets = build_mageid_sets(n_rows=profile["mageid_data"]["n_rows"], seed=base_seed, data_dir=data_dir)
    by_name = {s.name: s for s in sets}
    if unit.dataset not in by_name:
        raise ValueError(f"unknown data set {unit.dataset!r}; expected one of {sorted(by_name)}")
    mageid_set = by_name[unit.dataset]
    cache = ArtifactCache()
    if unit.what in ("mageid", "mageid_long"):
        from .experiments.mageid_schedule import long_section
        from .experiments.mageid_train import MODALITIES_BY_NAME, train_mageid

        section = {k: (dict(v) if hasattr(v, "items") else v) for k, v in profile["mageid"].items()}
        if unit.what == "mageid_long":
            section = long_section(section, profile["mageid_schedule"]["long"])
        # the notebooks' route: a stage 1 not cached reuses the other model's cached TabVAE
        # (mageid_train.reuse_tab_vae), so MAGE-ID and TabSyn fitted by two workers train it once
        train_mageid(mageid_set, unit.seed, section, device=device, modalities=MODALITIES_BY_NAME[unit.model],
                     cache=cache, verbose=False)
    else:
        from .experiments.table_i import sample_synthetic
        from .models import registry

        name = unit.model or TABLE_I_DEFAULT
        factory = registry.factories(profile, [name], device=device)[name]
        sample_synthetic(name, factory, mageid_set, unit.seed, cache)


def _fit_crosseval(unit: Unit, profile, base_seed: int, device: str, data_dir: str | None) -> None:
    """Notebook 11's generator ``unit.model`` on its KDDTrain+ rows (the ``cross_eval.table6`` sizes)."""
    from .cache import ArtifactCache
    from .experiments.cross_eval import fit_table6_generator, table6_data, table6_training_frame
    from .models import registry

    data = table6_data(profile, data_dir, seed=base_seed)
    factory = registry.factories(profile, [unit.model], device=device)[unit.model]
    X, y = table6_training_frame(data)
    fit_table6_generator(unit.model, factory, X, y, unit.seed, ArtifactCache())


def _run_packed(args: tuple) -> tuple[Unit, float | None, str | None]:
    try:
        unit, seconds = run_unit(*args)
        return unit, seconds, None
    except Exception as error:  # reported by the parent with the unit that failed
        return args[0], None, repr(error)


def prefill(units: Sequence[Unit], profile_name: str, base_seed: int = 0, device: str = "auto",
            data_dir: str | None = None, workers: int = 1, threads: int = 2,
            deadline_s: float | None = None) -> dict[Unit, float]:
    """Run ``units`` in ``workers`` spawned processes of ``threads`` CPU threads each.

    deadline_s: seconds after which the units still running are stopped (their processes are
    terminated; cache writes are atomic, so nothing half-written is kept) and the pending ones
    dropped. Returns ``{unit: seconds}`` of the units done; raises ``RuntimeError`` after all
    ends if a unit failed.
    """
    if workers < 1 or threads < 1:
        raise ValueError(f"need workers >= 1 and threads >= 1, got {workers}, {threads}")
    start = time.perf_counter()
    seconds: dict[Unit, float] = {}
    errors: list[tuple[Unit, str]] = []
    context = multiprocessing.get_context("spawn")  # CUDA cannot be used in forked children
    pool = context.Pool(workers, initializer=_init_worker, initargs=(threads,))
    try:
        jobs = [(unit, profile_name, base_seed, device, data_dir) for unit in units]
        results = pool.imap_unordered(_run_packed, jobs)
        for done in range(1, len(units) + 1):
            timeout = None if deadline_s is None else max(0.0, deadline_s - (time.perf_counter() - start))
            try:
                unit, took, error = results.next(timeout=timeout)
            except multiprocessing.TimeoutError:
                print(f"[prefill] deadline of {deadline_s:.0f} s reached: {len(units) - done + 1} units not done",
                      flush=True)
                break
            if error is not None:
                errors.append((unit, error))
                print(f"[prefill] {done}/{len(units)} FAILED {unit}: {error}", flush=True)
                continue
            seconds[unit] = took
            print(f"[prefill] {done}/{len(units)} {unit.what} {unit.dataset} seed {unit.seed} "
                  f"{unit.model or TABLE_I_DEFAULT}: {took:.1f} s", flush=True)
    finally:
        pool.terminate()
        pool.join()
    if errors:
        unit, error = errors[0]
        raise RuntimeError(f"{len(errors)} of {len(units)} prefill units failed; first: {unit}: {error}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    from .config import get_profile

    parser = argparse.ArgumentParser(prog="python -m idsynth.prefill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--seed", type=int, default=0, help="base seed, as given to run_all.sh")
    parser.add_argument("--what", nargs="+", default=["mageid", "tabddpm"], choices=WHAT,
                        help="model families (default: notebooks 06-09's; crosseval: notebook 11's, mageid_long: 12's)")
    parser.add_argument("--datasets", nargs="+", default=["NSL-KDD", "CIC-IDS-2017"])
    parser.add_argument("--models", nargs="+", default=None,
                        help="registry names for the table_i and crosseval units (default: TabDDPM for table_i, the "
                             "profile's cross_eval.table6_generators for crosseval)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (on one GPU more than one gains nothing: they time-slice it)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads per worker")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--n-seeds", type=int, default=None, help="default: the profile's")
    parser.add_argument("--only-seeds", type=int, nargs="+", default=None,
                        help="make only these of the planned seeds (the others' results carried in)")
    parser.add_argument("--deadline", type=float, default=None, help="seconds; stop the units still running then")
    args = parser.parse_args(argv)
    profile = get_profile(args.profile)
    if args.models:
        from .models import registry

        for name in args.models:
            registry.entry(name)  # KeyError naming the registered generators
    units = plan_units(args.what, args.datasets, profile.seeds(args.seed, args.n_seeds),
                       crosseval_models=args.models or profile["cross_eval"]["table6_generators"],
                       long_seeds=profile["mageid_schedule"]["long_seeds"],
                       table_i_models=args.models or [TABLE_I_DEFAULT])
    units = only_seeds(units, args.only_seeds)
    print(f"[prefill] {len(units)} units, {args.workers} workers x {args.threads} threads, profile {profile.name}",
          flush=True)
    start = time.perf_counter()
    done = prefill(units, profile.name, args.seed, args.device, args.data_dir, args.workers, args.threads,
                   args.deadline)
    print(f"[prefill] done in {time.perf_counter() - start:.1f} s; complete seeds: {complete_seeds(units, done)}",
          flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    sys.exit(main())
