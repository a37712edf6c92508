"""Table I as tables: the long per-seed frame, the view beside the poster's values, the Markdown,
the shared CSV that every notebook's rows meet in, and the summary of the metric-detail variants."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from ..cache import atomic_path, atomic_write_text
from ..data.mageid_sets import CIC_NAME, NSLKDD_NAME
from ..metrics.table_i import FIDELITY_VARIANTS, SDMETRICS_DETECTABILITY_TITLE, TABLE_I_COLUMNS
from ..tables import summarise, to_markdown, with_profile
from .paper_values import table_i as poster_table_i
from .table_i_scoring import CEILING, CEILING_TITLE, METRICS, SDMETRICS

#: The poster's two data sets, in Table I's order.
DATASETS: tuple[str, ...] = (CIC_NAME, NSLKDD_NAME)
#: One row per (dataset, model, seed).
KEY_COLUMNS: tuple[str, ...] = ("dataset", "model", "seed")
#: The first columns of the long Table I frame / CSV; extra columns follow them.
LONG_COLUMNS: tuple[str, ...] = KEY_COLUMNS + METRICS
#: The poster's model order; other models follow alphabetically.
POSTER_MODELS: tuple[str, ...] = ("TabDDPM", "TabSyn", "MAGE-ID")


# --- tables --------------------------------------------------------------------------------------


def _model_order(models: Iterable[str]) -> list[str]:
    known = [m for m in POSTER_MODELS if m in set(models)]
    return known + sorted(set(models) - set(POSTER_MODELS))


def table_i_long(rows) -> pd.DataFrame:
    """Per-seed Table I rows (dicts or a DataFrame) -> the long frame.

    Columns exactly :data:`LONG_COLUMNS` (``dataset, model, seed, detectability, precision,
    recall, density, coverage, auc``) followed by any extra columns in their first-seen order;
    rows sorted by dataset (Table I's order), model (the poster's order, then alphabetical) and
    seed. Raises ``ValueError`` for a missing column, a dataset other than ``CIC-IDS-2017`` /
    ``NSL-KDD`` or a repeated (dataset, model, seed).
    """
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    missing = [c for c in LONG_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"Table I rows lack the columns {missing}; expected {list(LONG_COLUMNS)}")
    unknown = sorted(set(frame["dataset"]) - set(DATASETS))
    if unknown:
        raise ValueError(f"unknown datasets {unknown}; Table I's datasets are {list(DATASETS)}")
    frame["seed"] = frame["seed"].astype(np.int64)
    frame["model"] = frame["model"].astype(str)
    repeated = frame.duplicated(list(KEY_COLUMNS), keep=False)
    if repeated.any():
        keys = frame.loc[repeated, list(KEY_COLUMNS)].drop_duplicates().to_records(index=False).tolist()
        raise ValueError(f"repeated (dataset, model, seed) rows: {keys}")
    for m in METRICS:
        frame[m] = frame[m].astype(np.float64)
    extras = [c for c in frame.columns if c not in LONG_COLUMNS]
    order = {
        "dataset": {d: i for i, d in enumerate(DATASETS)},
        "model": {m: i for i, m in enumerate(_model_order(frame["model"]))},
    }
    frame = frame.sort_values(
        list(KEY_COLUMNS), key=lambda col: col.map(order[col.name]) if col.name in order else col, kind="stable"
    )
    return frame[list(LONG_COLUMNS) + extras].reset_index(drop=True)


#: The headers of the metrics :func:`table_i_beside_paper` lists, in its order.
_TITLES: dict[str, str] = {**TABLE_I_COLUMNS, SDMETRICS: SDMETRICS_DETECTABILITY_TITLE, CEILING: CEILING_TITLE}


def _poster_long(paper: pd.DataFrame) -> pd.DataFrame:
    """The poster's values, one row per (dataset, model, metric header); its Detectability
    stands beside both ours and SDMetrics' (the score it most likely is)."""
    long = paper.melt(id_vars=["dataset", "model"], value_vars=list(METRICS), var_name="metric", value_name="paper")
    sdmetrics = long[long["metric"] == "detectability"].assign(metric=SDMETRICS)
    long = pd.concat([long, sdmetrics], ignore_index=True)
    long["metric"] = long["metric"].map(_TITLES)
    return long


def table_i_beside_paper(long: pd.DataFrame, paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mean ± std over seeds per dataset, model and metric, beside the poster's value.

    long: :func:`table_i_long` rows; paper: wide poster values (columns dataset, model and the
    six :data:`METRICS`; default :func:`idsynth.experiments.paper_values.table_i`).
    Returns columns ``dataset, model, metric, mean, std, n_seeds, paper, diff`` (diff = mean −
    paper; empty where the poster has no value, e.g. a model it does not report). ``metric``
    holds the poster's column headers, then ``Detectability (SDMetrics)`` (beside the poster's
    Detectability too) and ``AUC (train on real)`` (the train-on-real ceiling of the MLE AUC, no
    poster value) when present; seeds without a value of those two are left out of them.
    """
    long = table_i_long(long)
    extras = [c for c in (SDMETRICS, CEILING) if c in long.columns]
    values = list(METRICS) + extras
    titles = {v: _TITLES[v] for v in values}
    melted = long.melt(id_vars=list(KEY_COLUMNS), value_vars=values, var_name="metric", value_name="value")
    melted = melted[~(melted["metric"].isin(extras) & melted["value"].isna())]
    melted["metric"] = melted["metric"].map(titles)
    summary = summarise(melted, by=["dataset", "model", "metric"], values=["value"])
    summary = summary.rename(columns={"value_mean": "mean", "value_std": "std"})
    out = summary.merge(
        _poster_long(poster_table_i() if paper is None else paper), on=["dataset", "model", "metric"], how="left"
    )
    out["diff"] = out["mean"] - out["paper"]
    metric_order = {t: i for i, t in enumerate(titles[v] for v in values)}
    out["_m"] = out["metric"].map(metric_order)
    out["_d"] = out["dataset"].map({d: i for i, d in enumerate(DATASETS)})
    out["_model"] = out["model"].map({m: i for i, m in enumerate(_model_order(out["model"]))})
    out = out.sort_values(["_d", "_model", "_m"], kind="stable").drop(columns=["_m", "_d", "_model"])
    return out[["dataset", "model", "metric", "mean", "std", "n_seeds", "paper", "diff"]].reset_index(drop=True)


def table_i_markdown(long: pd.DataFrame) -> str:
    """The Markdown of ``tableI_mageid.md``: the table beside the poster, then the per-seed rows."""
    return (
        "# MAGE-ID Table I: ours (mean ± std over seeds) beside the poster\n\n"
        "Fidelity (detectability, PRDC) of the synthetic rows against the real training rows and\n"
        "utility (ROC AUC on the real test rows of a classifier trained on the synthetic rows); all\n"
        "in the encoded space of `idsynth.experiments.table_i.metric_encoder`. Detectability\n"
        "(SDMetrics) is `sdmetrics.single_table.LogisticDetection` on the raw typed tables, as\n"
        "TabSyn's evaluation computes it; the poster's Detectability stands beside it and ours.\n"
        "`diff` = ours − poster.\n\n"
        + to_markdown(table_i_beside_paper(long))
        + "\n## Per seed\n\n"
        + to_markdown(table_i_long(long))
    )


def update_table_i_csv(new_rows, path: str | Path) -> pd.DataFrame:
    """Merge ``new_rows`` into the shared Table I CSV at ``path`` and rewrite it atomically.

    The CSV (``figures/tables/tableI_mageid.csv``, shared by notebooks 08 and 09) is read if
    present; its rows with the same (dataset, model, seed) as a new row are replaced, all other
    rows are kept; columns are the union (a column missing from one side is empty there). The
    Markdown beside the poster (:func:`table_i_markdown`) is written to the same name with
    ``.md``. Rows carry a ``profile`` column where the folder has a profile marker
    (:func:`idsynth.tables.with_profile`). Returns the merged long frame (:func:`table_i_long`).
    """
    path = Path(path)
    new = table_i_long(new_rows)
    merged = new
    if path.exists():
        old = table_i_long(pd.read_csv(path))
        new_keys = set(new[list(KEY_COLUMNS)].itertuples(index=False, name=None))
        kept = old[[key not in new_keys for key in old[list(KEY_COLUMNS)].itertuples(index=False, name=None)]]
        if len(kept):
            merged = table_i_long(pd.concat([kept, new], ignore_index=True, sort=False))
    merged = with_profile(merged, path.parent)  # each row says which profile it came from
    with atomic_path(path) as tmp:
        merged.to_csv(tmp, index=False)
    atomic_write_text(path.with_suffix(".md"), table_i_markdown(merged))
    return merged


def metric_variant_summary(sensitivity: pd.DataFrame) -> pd.DataFrame:
    """:func:`metric_sensitivity`'s rows (with a ``model`` column) -> one row per (dataset, model,
    metric): the two variants' means over seeds (``first`` is Table I's), the mean paired
    difference ``second - first`` and its standard deviation over seeds."""
    rows = []
    for (dataset, model, metric), group in sensitivity.groupby(["dataset", "model", "metric"], sort=False):
        first, second = FIDELITY_VARIANTS["detectability" if metric == "detectability" else "prdc"]
        wide = group.pivot(index="seed", columns="variant", values="value")
        diff = wide[second] - wide[first]
        rows.append({"dataset": dataset, "model": model, "metric": metric, "first": first,
                     "first_mean": wide[first].mean(), "second": second, "second_mean": wide[second].mean(),
                     "diff_mean": diff.mean(), "diff_std": diff.std(ddof=1) if len(diff) > 1 else math.nan,
                     "n_seeds": len(wide)})  # fmt: skip
    return pd.DataFrame(rows)
