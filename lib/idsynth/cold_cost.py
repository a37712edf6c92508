"""What a notebook's models cost to train from an empty cache, as measured: the run plan's second figure.

In the ``cpu`` profile the models of notebooks 06-09, 11, 12 and 14 are trained by background runs
(``python -m idsynth.prefill``, ``python -m idsynth.experiments.sdv_peers``, one process per core)
and the notebooks then read them from the artefact cache, so a notebook's recorded wall time
(``tables/notebook_runs.csv``) is that of a rerun from a filled cache: seconds, where a fresh clone
spends hours. The seconds each model's fit and sampling took are in the profile's committed tables
(:data:`NOTEBOOK_FITS` names them); :func:`cold_costs` sums them per notebook, scaled to the seeds
asked for, so that ``run_all.sh --plan`` can say what an empty cache costs. They are one process's
seconds as recorded (one core each for the ``cpu`` profile's background runs, which shared the
machine with others; README § Status tells the circumstances), not a model of the machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd


@dataclass(frozen=True)
class FitCost:
    """The rows of ``table`` (a CSV in a profile's ``tables/``) where each ``where`` column holds one
    of its values: one row per model, data set and seed, whose ``seconds`` columns (fit, sampling)
    add up to what that model cost."""

    table: str
    seconds: tuple[str, ...]
    where: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


_TABLE_I = ("fit_seconds", "sample_seconds")
_TABLE_6 = ("fit_seconds", "seconds")  # table6_balanced_sets: the fit, then the over-sampling
#: The models each notebook reads from the cache, by the table that records their seconds.
NOTEBOOK_FITS: dict[str, tuple[FitCost, ...]] = {
    "06_mageid_stage1": (FitCost("tableI_mageid.csv", _TABLE_I, {"model": ("MAGE-ID", "TabSyn")}),),
    "08_baselines": (FitCost("tableI_mageid.csv", _TABLE_I, {"model": ("TabDDPM",)}),),
    "11_cross_eval_table6": (FitCost("table6_balanced_sets.csv", _TABLE_6, {"method": ("MAGE-ID", "TabSyn", "TabDDPM")}),),
    "12_mageid_schedule": (FitCost("mageid_schedule.csv", _TABLE_I, {"schedule": ("long",)}),),
    "14_sdv_peers": (
        FitCost("tableI_mageid.csv", _TABLE_I, {"model": ("GaussianCopula", "TVAE", "CTGAN")}),
        FitCost("table6_balanced_sets.csv", _TABLE_6, {"method": ("GaussianCopula", "TVAE", "CTGAN-per-class")}),
    ),
}  # fmt: skip
#: Notebooks that read the models another one trains: the first of a group in a run is charged.
#: (Notebook 12's short schedule is 06-09's models too; its long one is its own.)
SHARES_FITS_OF: dict[str, str] = {"07_mageid_stage2": "06_mageid_stage1", "09_mageid_eval": "06_mageid_stage1"}


@dataclass(frozen=True)
class ColdCost:
    """``seconds`` (one process) to fit and sample a notebook's models for the seeds asked,
    scaled from ``measured_seeds`` seeds recorded in ``tables``."""

    seconds: float
    measured_seeds: int
    tables: tuple[str, ...]


def fit_seconds(cost: FitCost, tables_dir: Path) -> tuple[float, int] | None:
    """(seconds per seed, seeds measured) from ``cost``'s rows, or None where nothing is recorded:
    no table, no matching rows, or a table written before it recorded these columns (the paper
    profile's Table 6 rows of notebook 04 have no ``fit_seconds``). The plan only informs, so a
    table it cannot read never stops a run; ``tests/test_cold_cost.py`` checks that the ``cpu``
    profile's committed tables hold every column named here."""
    path = Path(tables_dir) / cost.table
    if not path.is_file():
        return None
    table = pd.read_csv(path)
    if any(c not in table.columns for c in (*cost.seconds, "seed", *cost.where)):
        return None
    for column, values in cost.where.items():
        table = table[table[column].isin(values)]
    seeds = table["seed"].nunique()
    if seeds == 0:
        return None
    return float(table[list(cost.seconds)].fillna(0.0).to_numpy().sum()) / seeds, int(seeds)


def cold_costs(stems: Sequence[str], tables_dir: Path, n_seeds: int) -> dict[str, ColdCost]:
    """``{notebook stem: ColdCost}`` for the notebooks of a run (in run order) whose models have
    recorded seconds: each group of notebooks that reads the same models is charged once, at its
    first notebook in ``stems``."""
    charged: set[str] = set()
    out = {}
    for stem in stems:
        owner = SHARES_FITS_OF.get(stem, stem)
        if owner in charged or owner not in NOTEBOOK_FITS:
            continue
        charged.add(owner)
        measured = [(cost.table, fit_seconds(cost, tables_dir)) for cost in NOTEBOOK_FITS[owner]]
        found = [(table, value) for table, value in measured if value is not None]
        if not found:
            continue
        out[stem] = ColdCost(
            seconds=sum(per_seed for _, (per_seed, _) in found) * int(n_seeds),
            measured_seeds=min(seeds for _, (_, seeds) in found),
            tables=tuple(dict.fromkeys(table for table, _ in found)),
        )
    return out
