"""Does MAGE-ID's short training schedule cost Table I quality? (notebook 12)

The profile's ``mageid`` schedule (paper profile: TabVAE 600, image VAE 150, EDM 1000 epochs)
was cut to fit a GPU budget of minutes per model; TabSyn's reference implementation trains its
VAE for 4000 epochs and its diffusion model for up to 10,001. The MAGE-ID issue asks for training
in minutes "at Table I quality no worse than a long schedule". This module makes the long
schedule's section from the short one (:func:`long_section`: the same models with the epoch
counts of ``mageid_schedule.long``) and compares the two on Table I's metrics
(:func:`schedule_comparison`).

"No worse" is judged per (data set, model, metric) against the short schedule's seed-to-seed
spread: the long schedule is *better beyond noise* when its mean improves on the short one's by
more than ``tolerance`` (2) standard deviations of the short seeds (for Density, whose ideal is 1,
"better" means closer to 1). With one short seed there is no spread and no verdict.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from .paper_values import table_i as poster_table_i
from .table_i import KEY_COLUMNS, METRICS

#: Metrics whose best value is 1 rather than the largest (Density > 1: rows crowd dense regions).
TARGET_ONE_METRICS: tuple[str, ...] = ("density",)
SCHEDULES: tuple[str, str] = ("short", "long")
COMPARISON_COLUMNS: tuple[str, ...] = (
    "dataset", "model", "metric", "short_mean", "short_std", "n_short", "long_mean", "n_long",
    "long_minus_short", "long_better_beyond_noise", "poster", "short_minus_poster", "long_minus_poster",
)  # fmt: skip


def long_section(short: Mapping[str, Any], overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The ``mageid`` section ``short`` with ``overrides`` (``{sub-model: {key: value}}``, e.g.
    ``{"tab_vae": {"epochs": 4000}}``) applied; every other setting stays the same.

    Raises ``KeyError`` for a sub-model or key that ``short`` does not have (a typo would
    otherwise train the short schedule twice under another name).
    """
    merged = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in short.items()}
    for part, values in overrides.items():
        if not isinstance(merged.get(part), dict):
            raise KeyError(f"mageid section has no sub-model {part!r}; sub-models: "
                           f"{sorted(k for k, v in merged.items() if isinstance(v, dict))}")  # fmt: skip
        unknown = sorted(set(values) - set(merged[part]))
        if unknown:
            raise KeyError(f"mageid.{part} has no keys {unknown}; keys: {sorted(merged[part])}")
        merged[part].update(values)
    return merged


def schedule_comparison(rows: pd.DataFrame, tolerance: float = 2.0, paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """Long vs short schedule per (dataset, model, metric), beside the poster's value.

    rows: Table I rows (``dataset, model, seed``, the six metrics) with a ``schedule`` column
    ("short" or "long"); several seeds per schedule allowed. Returns :data:`COMPARISON_COLUMNS`:
    the short schedule's mean and sample std over its seeds (NaN std for one seed), the long
    schedule's mean, ``long_minus_short`` and ``long_better_beyond_noise`` (the long mean is
    better than the short mean by more than ``tolerance`` short stds; for Density, closer to 1;
    ``pd.NA`` when the short schedule has fewer than two seeds), and the poster's value (``paper``:
    wide, columns dataset, model and the metrics; default the poster's Table I) with both
    schedules' differences from it.
    """
    missing = sorted({"schedule", *KEY_COLUMNS, *METRICS} - set(rows.columns))
    if missing:
        raise ValueError(f"rows lack the columns {missing}")
    odd = sorted(set(rows["schedule"]) - set(SCHEDULES))
    if odd:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {odd}")
    out = []
    for (dataset, model), block in rows.groupby(["dataset", "model"], sort=False):
        short, long = (block[block["schedule"] == s] for s in SCHEDULES)
        if short.empty or long.empty:
            raise ValueError(f"{dataset} {model}: need rows of both schedules, got {sorted(set(block['schedule']))}")
        for metric in METRICS:
            s_mean, l_mean = float(short[metric].mean()), float(long[metric].mean())
            s_std = float(short[metric].std(ddof=1)) if len(short) > 1 else float("nan")
            if metric in TARGET_ONE_METRICS:
                gain = abs(s_mean - 1.0) - abs(l_mean - 1.0)
            else:
                gain = l_mean - s_mean
            verdict = pd.NA if np.isnan(s_std) else bool(gain > tolerance * s_std)
            out.append({"dataset": dataset, "model": model, "metric": metric, "short_mean": s_mean,
                        "short_std": s_std, "n_short": len(short), "long_mean": l_mean, "n_long": len(long),
                        "long_minus_short": l_mean - s_mean, "long_better_beyond_noise": verdict})  # fmt: skip
    poster = (poster_table_i() if paper is None else paper).melt(
        id_vars=["dataset", "model"], value_vars=list(METRICS), var_name="metric", value_name="poster")
    frame = pd.DataFrame(out).merge(poster, on=["dataset", "model", "metric"], how="left")
    frame["short_minus_poster"] = frame["short_mean"] - frame["poster"]
    frame["long_minus_poster"] = frame["long_mean"] - frame["poster"]
    return frame[list(COMPARISON_COLUMNS)]
