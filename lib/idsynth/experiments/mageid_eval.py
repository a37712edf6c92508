"""Table I rows of MAGE-ID and TabSyn (notebook 09), the ablation between them, and run times.

The models come from :func:`idsynth.experiments.mageid_train.train_mageid` (cached by notebooks
06 and 07, so nothing is retrained); each samples exactly the real training set's class counts
with ``random_state=seed`` and is scored by the shared harness
(:func:`idsynth.experiments.table_i.evaluate_synthetic`), so its rows sit in the same
``tableI_mageid.csv`` as TabDDPM's (notebook 08).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..cache import ArtifactCache
from ..models.base import class_counts
from ..models.mageid import MAGEID
from .paper_values import table_i as poster_table_i
from .table_i import CEILING, DATASETS, METRICS, SDMETRICS, cached_synthetic, evaluate_synthetic, store_synthetic

#: Table I's names of the two configurations.
MAGEID_NAME, TABSYN_NAME = "MAGE-ID", "TabSyn"


def evaluate_model(name: str, model: MAGEID, mageid_set, seed: int, cache: ArtifactCache | None = None,
                   transform=None, **metric_settings) -> tuple[dict, pd.DataFrame, np.ndarray]:
    """One Table I row of a fitted ``model`` on ``mageid_set``: sample the real training class
    counts with ``random_state=seed`` and score them (``metric_settings``: ``max_rows``, ``k``,
    ``n_splits``, ``classifier``, ``detectability``, ``prdc_dtype`` of :func:`evaluate_synthetic`).

    ``cache``: keep the sampled rows as a Table I synthetic twin
    (:func:`~idsynth.experiments.table_i.store_synthetic`, keyed by ``name``, the model's
    parameters, the set and the seed), and take them from there when present (no sampling), so
    that the rows a GPU sampled can be re-scored elsewhere (notebook 10).

    ``transform``: ``frame -> frame`` applied to the sampled rows before they are scored (and
    returned), never to the rows kept in ``cache`` (e.g.
    :func:`~idsynth.data.identities.keep_identities`).

    Returns ``(row, synthetic frame, synthetic y)``; ``row`` holds ``dataset, model, seed``, the
    six metrics, ``detectability_sdmetrics``, ``auc_real_ceiling``, ``fit_seconds`` (all stages), ``sample_seconds`` (as
    measured when the rows were sampled), ``label_agreement`` (decoded label column vs
    conditioning class), ``n_real_train`` and ``n_synthetic``.
    """
    fit_seconds = float(sum(model.fit_seconds_.values()))
    stored = None if cache is None else cached_synthetic(name, model, mageid_set, int(seed), cache)
    if stored is None:
        counts = class_counts(mageid_set.xy("train")[1])
        started = time.perf_counter()
        result = model.generate(counts, random_state=int(seed))
        stored = {"frame": result.frame[mageid_set.features], "y": np.asarray(result.y, dtype=np.int64),
                  "fit_seconds": fit_seconds, "sample_seconds": time.perf_counter() - started, "label_agreement": result.label_agreement}
        if cache is not None:
            store_synthetic(name, model, mageid_set, int(seed), stored, cache)
    frame, y = stored["frame"], stored["y"]
    if transform is not None:
        frame = transform(frame)
    scores = evaluate_synthetic(mageid_set, frame, y, int(seed), **metric_settings)
    row = {
        "dataset": mageid_set.name, "model": str(name), "seed": int(seed),
        **{m: scores[m] for m in METRICS},
        SDMETRICS: scores[SDMETRICS],
        CEILING: scores[CEILING],
        "fit_seconds": fit_seconds,
        "sample_seconds": float(stored["sample_seconds"]),
        "label_agreement": float(stored["label_agreement"]),
        "n_real_train": scores["n_real_train"], "n_synthetic": scores["n_synthetic"],
    }  # fmt: skip
    return row, frame, y


def ablation(long: pd.DataFrame, full: str = MAGEID_NAME, reduced: str = TABSYN_NAME) -> pd.DataFrame:
    """The image branch's effect, paired per seed: ``full − reduced`` for each metric.

    long: Table I's long rows holding both models with the same seeds. Returns one row per
    dataset and metric: ``mean_diff, std_diff, n_seeds, full_better`` (seeds where the full
    model scores higher), and the poster's difference ``paper_diff`` (MAGE-ID − TabSyn).
    """
    keys = ["dataset", "seed"]
    a = long[long["model"] == full].set_index(keys)[list(METRICS)]
    b = long[long["model"] == reduced].set_index(keys)[list(METRICS)]
    common = a.index.intersection(b.index)
    if common.empty:
        raise ValueError(f"no (dataset, seed) holds both {full!r} and {reduced!r}")
    diff = (a.loc[common] - b.loc[common]).reset_index().melt(id_vars=keys, var_name="metric", value_name="diff")
    grouped = diff.groupby(["dataset", "metric"], sort=False)["diff"]
    out = grouped.agg(mean_diff="mean", std_diff="std", n_seeds="count",
                      full_better=lambda d: int((d > 0).sum())).reset_index()
    out["std_diff"] = out["std_diff"].fillna(0.0)
    order = {"dataset": {d: i for i, d in enumerate(DATASETS)}, "metric": {m: i for i, m in enumerate(METRICS)}}
    out = out.sort_values(["dataset", "metric"], key=lambda col: col.map(order[col.name]), kind="stable")
    paper = poster_table_i().set_index(["dataset", "model"])
    out["paper_diff"] = [paper.at[(d, full), m] - paper.at[(d, reduced), m] if (d, full) in paper.index else np.nan
                         for d, m in zip(out["dataset"], out["metric"])]
    return out.reset_index(drop=True)


def run_times(models: Mapping[tuple[str, str, int], MAGEID]) -> pd.DataFrame:
    """Seconds per stage: ``{(model name, dataset, seed): fitted MAGEID}`` -> long frame
    ``dataset, model, seed, stage, seconds`` (stages of :attr:`MAGEID.fit_seconds_`)."""
    rows = [{"dataset": dataset, "model": name, "seed": seed, "stage": stage, "seconds": seconds}
            for (name, dataset, seed), model in models.items() for stage, seconds in model.fit_seconds_.items()]
    return pd.DataFrame(rows)
