"""Ranking every generator on every metric of both protocols, and the discussion drawn from it.

Inputs are the two shared long tables: Table I (``tableI_mageid.csv``: ``dataset, model, seed``
and the six metrics) and Table 6 (``table6_oversamplers.csv``: ``method, classifier, seed,
accuracy, f1_weighted, f1_macro, ...`` and ``table6_recall.csv``: ``method, classifier, seed,
class, recall``). :func:`generator_scores` puts them into one long frame of per-seed values,
one *column* per (protocol, metric):

* Table I, per data set: Detectability, Precision, Recall, Density, Coverage, AUC (MLE);
* Table 6 (the mean over the four classifiers, per seed): accuracy, macro F1, and the minority
  recall (the mean recall of R2L and U2R, the two rare classes over-sampling is meant for).

Every column is "higher is better" except Density, where the real data's own value is 1
(below: the synthetic rows miss the dense regions; above: they crowd them), so Density is
ranked by ``|density − 1|`` (**our choice**; the poster reads it as higher-is-better, and all of
its values lie below 1, where both readings agree). VGM Option C is ``VGM`` in Table 6 and
``VGM-C`` in Table I; here it is ``VGM-C`` in both.

The discussion (:func:`discussion`) is generated from the numbers: the best generator of each
column and its margin over the runner-up against the seed spread, VGM against the seven
over-samplers (notebook 04's paired test), and MAGE-ID against TabSyn and TabDDPM (the
poster's claim), paired by seed.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..data.mageid_sets import NSLKDD_NAME
from ..metrics.table_i import TABLE_I_COLUMNS
from .oversampling import OVERSAMPLER_NAMES
from .vgm_oversample import paired_comparison

#: Table 6's name of VGM Option C, and the name used for it here (Table I's).
TABLE6_ALIASES: dict[str, str] = {"VGM": "VGM-C"}
#: The classes whose recall makes Table 6's minority-recall column.
MINORITY_CLASSES: tuple[str, ...] = ("R2L", "U2R")
#: Table 6's columns: (metric, title).
TABLE6_COLUMNS: dict[str, str] = {
    "accuracy": "accuracy",
    "f1_macro": "macro F1",
    "minority_recall": "R2L+U2R recall",
}
#: Metrics ranked by closeness to 1 rather than by size.
CLOSER_TO_ONE: tuple[str, ...] = ("density",)
#: Columns of :func:`generator_scores`.
SCORE_COLUMNS: tuple[str, ...] = ("generator", "protocol", "dataset", "metric", "column", "seed", "value")
#: The generators of the poster's claim ("MAGE-ID beats TabSyn and TabDDPM").
POSTER_CLAIM: tuple[str, tuple[str, ...]] = ("MAGE-ID", ("TabSyn", "TabDDPM"))


def column_title(protocol: str, metric: str, dataset: str = NSLKDD_NAME) -> str:
    """The label of a column: ``"Table I · Precision"``, ``"Table I · Precision (CIC-IDS-2017)"``
    for a data set other than NSL-KDD, ``"Table 6 · macro F1"``."""
    if protocol == "Table I":
        title = f"Table I · {TABLE_I_COLUMNS[metric]}"
        return title if dataset == NSLKDD_NAME else f"{title} ({dataset})"
    if protocol == "Table 6":
        return f"Table 6 · {TABLE6_COLUMNS[metric]}"
    raise ValueError(f"protocol must be 'Table I' or 'Table 6', got {protocol!r}")


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks the columns {missing}")


def generator_scores(
    table_i: pd.DataFrame | None,
    table6_scores: pd.DataFrame | None,
    table6_recall: pd.DataFrame | None,
    datasets: Sequence[str] = (NSLKDD_NAME,),
    minority: Sequence[str] = MINORITY_CLASSES,
) -> pd.DataFrame:
    """Per-seed values of every generator on every column, long: :data:`SCORE_COLUMNS`.

    table_i: Table I's long rows (``dataset, model, seed`` + the six metrics), of which the
    ``datasets`` are used; table6_scores / table6_recall: Table 6's long score and recall rows.
    Any of the three may be None (its columns are then absent). Table 6's values are the mean
    over the classifiers of each (method, seed); ``minority_recall`` is the mean recall of the
    ``minority`` classes. Generator names follow :data:`TABLE6_ALIASES`.
    """
    parts = []
    if table_i is not None and len(table_i):
        _require(table_i, ["dataset", "model", "seed", *TABLE_I_COLUMNS], "the Table I rows")
        rows = table_i[table_i["dataset"].isin(list(datasets))]
        long = rows.melt(id_vars=["dataset", "model", "seed"], value_vars=list(TABLE_I_COLUMNS),
                         var_name="metric", value_name="value").rename(columns={"model": "generator"})
        long["protocol"] = "Table I"
        parts.append(long)
    if table6_scores is not None and len(table6_scores):
        _require(table6_scores, ["method", "classifier", "seed", "accuracy", "f1_macro"], "the Table 6 scores")
        grouped = table6_scores.groupby(["method", "seed"], as_index=False, sort=False)
        per_seed = grouped[["accuracy", "f1_macro"]].mean()
        parts.append(per_seed.melt(id_vars=["method", "seed"], var_name="metric", value_name="value"))
    if table6_recall is not None and len(table6_recall):
        _require(table6_recall, ["method", "classifier", "seed", "class", "recall"], "the Table 6 recall rows")
        rare = table6_recall[table6_recall["class"].isin(list(minority))]
        if rare.empty:
            raise ValueError(f"the Table 6 recall rows hold none of the classes {list(minority)}")
        per_seed = rare.groupby(["method", "seed"], as_index=False, sort=False)["recall"].mean()
        parts.append(per_seed.rename(columns={"recall": "value"}).assign(metric="minority_recall"))
    if not parts:
        return pd.DataFrame(columns=list(SCORE_COLUMNS))
    for part in parts:
        if "method" in part.columns:
            part.rename(columns={"method": "generator"}, inplace=True)
            part["protocol"] = "Table 6"
            part["dataset"] = NSLKDD_NAME
    frame = pd.concat(parts, ignore_index=True)
    frame["generator"] = frame["generator"].astype(str).replace(TABLE6_ALIASES)
    frame["seed"] = frame["seed"].astype(np.int64)
    frame["value"] = frame["value"].astype(np.float64)
    frame["column"] = [column_title(p, m, d) for p, m, d in zip(frame["protocol"], frame["metric"], frame["dataset"])]
    return frame[list(SCORE_COLUMNS)]


def _goodness(metric: pd.Series, value: pd.Series) -> pd.Series:
    """Higher = better: the value itself, or ``−|value − 1|`` for :data:`CLOSER_TO_ONE`."""
    closer = metric.isin(CLOSER_TO_ONE)
    return value.where(~closer, -(value - 1.0).abs())


def column_order(frame: pd.DataFrame) -> list[str]:
    """The distinct ``column`` labels of ``frame`` (which holds ``column, protocol, dataset,
    metric``) in reading order: Table I on NSL-KDD, then on the other sets (alphabetical), each
    in the poster's metric order; then Table 6's columns."""
    _require(frame, ["column", "protocol", "dataset", "metric"], "the frame")
    columns = frame[["column", "protocol", "dataset", "metric"]].drop_duplicates("column")
    metrics = {m: i for i, m in enumerate([*TABLE_I_COLUMNS, *TABLE6_COLUMNS])}
    key = [(p != "Table I", d != NSLKDD_NAME, d, metrics.get(m, len(metrics)), c)
           for c, p, d, m in columns.itertuples(index=False)]  # fmt: skip
    return [k[-1] for k in sorted(key)]


def rank_generators(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std over seeds of every (generator, column) and its rank within the column.

    scores: :func:`generator_scores`. Returns columns ``column, protocol, metric, dataset,
    generator, mean, std, n_seeds, rank, n_ranked``: ``rank`` 1 is the best (largest mean;
    for Density the mean closest to 1), ties share the best rank; ``n_ranked`` = generators in
    that column. Sorted by column (:func:`column_order`) then rank.
    """
    _require(scores, SCORE_COLUMNS, "the scores")
    if scores.empty:
        raise ValueError("no scores to rank: both tables are empty")
    keys = ["column", "protocol", "metric", "dataset", "generator"]
    grouped = scores.groupby(keys, sort=False)["value"]
    out = grouped.agg(mean="mean", std="std", n_seeds="count").reset_index()
    out["std"] = out["std"].fillna(0.0)
    out["goodness"] = _goodness(out["metric"], out["mean"])
    out["rank"] = out.groupby("column")["goodness"].rank(ascending=False, method="min").astype(int)
    out["n_ranked"] = out.groupby("column")["generator"].transform("size").astype(int)
    order = {c: i for i, c in enumerate(column_order(out))}
    out = out.sort_values(["column", "rank", "generator"], key=lambda s: s.map(order) if s.name == "column" else s)
    return out.drop(columns="goodness").reset_index(drop=True)


def rank_matrix(ranks: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(rank, mean)`` wide frames: one row per generator, one column per column (NaN where a
    generator was not run under that protocol). Rows are sorted by the mean *relative* rank
    ``(rank − 1) / (n_ranked − 1)`` over the columns each generator has (0 = best everywhere)."""
    relative = ranks.assign(relative=(ranks["rank"] - 1) / (ranks["n_ranked"] - 1).clip(lower=1))
    order_rows = relative.groupby("generator")["relative"].mean().sort_values(kind="stable").index
    order_cols = column_order(ranks)
    rank = ranks.pivot(index="generator", columns="column", values="rank").reindex(index=order_rows, columns=order_cols)
    mean = ranks.pivot(index="generator", columns="column", values="mean").reindex(index=order_rows, columns=order_cols)
    return rank.rename_axis(index=None, columns=None), mean.rename_axis(index=None, columns=None)


# --- the discussion ---------------------------------------------------------------------------------


def best_by_column(ranks: pd.DataFrame) -> pd.DataFrame:
    """Per column: the best generator and the runner-up (mean, std), the ``margin`` between
    them (in the column's direction, > 0), the ``spread`` = the larger of their two seed std,
    and ``beyond_spread`` = margin > spread (False where either has a single seed, whose spread
    is unknown; a loose criterion, not a test); ``n_seeds`` / ``runner_up_n_seeds`` per side. Columns with one generator have no runner-up."""
    rows = []
    for column, block in ranks.groupby("column", sort=False):
        block = block.assign(goodness=_goodness(block["metric"], block["mean"]))
        block = block.sort_values("goodness", ascending=False)
        best = block.iloc[0]
        row = {"column": column, "metric": best["metric"], "n_ranked": len(block), "best": best["generator"],
               "best_mean": best["mean"], "best_std": best["std"], "n_seeds": int(best["n_seeds"])}  # fmt: skip
        if len(block) > 1:
            second = block.iloc[1]
            spread = max(best["std"], second["std"])
            several = min(best["n_seeds"], second["n_seeds"]) >= 2
            margin = best["goodness"] - second["goodness"]
            row.update({"runner_up": second["generator"], "runner_up_mean": second["mean"],
                        "runner_up_std": second["std"], "runner_up_n_seeds": int(second["n_seeds"]),
                        "margin": margin, "spread": spread,
                        "beyond_spread": bool(several and margin > spread)})  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)


def paired_lead(scores: pd.DataFrame, leader: str, other: str) -> pd.DataFrame:
    """``leader`` against ``other`` on every column both have, paired by seed.

    Per column: ``mean_diff`` and ``std_diff`` over the shared seeds of the difference in the
    column's direction (``leader − other``; for Density ``|other − 1| − |leader − 1|``), so
    > 0 means the leader is better; ``n_seeds``, ``wins`` (seeds the leader is strictly
    better) and ``beyond_spread`` = mean_diff > std_diff with at least two seeds (loose).
    """
    _require(scores, SCORE_COLUMNS, "the scores")
    good = scores.assign(goodness=_goodness(scores["metric"], scores["value"]))
    wide = good.pivot_table(index=["column", "seed"], columns="generator", values="goodness", aggfunc="mean")
    if leader not in wide.columns or other not in wide.columns:
        return pd.DataFrame(columns=["column", "leader", "other", "mean_diff", "std_diff", "n_seeds", "wins",
                                     "beyond_spread"])  # fmt: skip
    diff = (wide[leader] - wide[other]).dropna()
    out = diff.groupby(level="column", sort=False).agg(mean_diff="mean", std_diff="std", n_seeds="count",
                                                       wins=lambda d: int((d > 0).sum())).reset_index()  # fmt: skip
    out.insert(1, "leader", leader)
    out.insert(2, "other", other)
    out["beyond_spread"] = (out["n_seeds"] >= 2) & (out["mean_diff"] > out["std_diff"].fillna(np.inf))
    order = {c: i for i, c in enumerate(column_order(scores))}
    return out.sort_values("column", key=lambda s: s.map(order)).reset_index(drop=True)


def _num(value: float) -> str:
    return f"{value:.4f}"


def _pm(mean: float, std: float, n: int) -> str:
    return f"{mean:.4f} ± {std:.4f}" if n >= 2 else f"{mean:.4f}"


def _winners_lines(best: pd.DataFrame) -> list[str]:
    lines = []
    for row in best.itertuples(index=False):
        direction = " (closest to 1)" if row.metric in CLOSER_TO_ONE else ""
        text = f"- **{row.column}**{direction}: best **{row.best}** {_pm(row.best_mean, row.best_std, row.n_seeds)}"
        if isinstance(getattr(row, "runner_up", None), str):
            if row.n_seeds < 2 and row.runner_up_n_seeds < 2:
                noise = "one seed, so no seed spread to compare with"
            elif min(row.n_seeds, row.runner_up_n_seeds) < 2:
                noise = "one of the two has a single seed, so no seed spread to compare with"
            elif row.beyond_spread:
                noise = f"more than the larger seed std ({_num(row.spread)})"
            else:
                noise = f"within the larger seed std ({_num(row.spread)})"
            text += (f", ahead of {row.runner_up} {_pm(row.runner_up_mean, row.runner_up_std, row.runner_up_n_seeds)} "
                     f"by {_num(row.margin)}, {noise}")  # fmt: skip
        else:
            text += " (the only generator run under it)"
        lines.append(text + f"; {row.n_ranked} generators ranked.")
    return lines


def _vgm_lines(table6_scores: pd.DataFrame | None, ranks: pd.DataFrame) -> list[str]:
    if table6_scores is None or "VGM" not in set(table6_scores["method"]):
        return ["- VGM's Table 6 rows are missing (run notebook 04 first): no comparison with the over-samplers."]
    samplers = table6_scores[table6_scores["method"].isin(OVERSAMPLER_NAMES)]
    others = sorted(set(samplers["method"]) - {"VGM"})
    if not others:
        return ["- Table 6 holds no over-sampler besides VGM: no comparison."]
    lines = []
    for metric in ("accuracy", "f1_macro"):
        paired = paired_comparison(samplers, metric, reference="VGM")
        average = paired[paired["classifier"] == "Average"]
        beaten = average[average["mean_diff"] > 0]
        beyond = average[average["better_beyond_noise"]]
        column = column_title("Table 6", metric)
        block = ranks[(ranks["column"] == column) & ranks["generator"].isin([TABLE6_ALIASES.get(m, m) for m in
                                                                              ("VGM", *others)])]  # fmt: skip
        rank = int(block["mean"].rank(ascending=False, method="min")[block["generator"] == "VGM-C"].iloc[0])
        n_seeds = int(average["n_seeds"].min())
        test = (f"{len(beyond)} of them beyond seed noise (paired t-test, p < 0.05)" if n_seeds >= 2
                else "one seed, so no test")  # fmt: skip
        lines.append(
            f"- Table 6 average {TABLE6_COLUMNS[metric]}: VGM-C ranks {rank} of {len(others) + 1} among the paper's "
            f"over-samplers and beats {len(beaten)} of the {len(others)} others on the mean over seeds; {test}. "
            f"VGM-C minus the others' mean: {float(average['mean_diff'].mean()):+.4f}."
        )
    return lines


def _claim_lines(scores: pd.DataFrame) -> list[str]:
    leader, others = POSTER_CLAIM
    present = set(scores["generator"])
    if leader not in present:
        return [f"- {leader}'s rows are missing (run notebooks 09 and 10): the poster's claim cannot be checked."]
    lines = []
    for other in others:
        if other not in present:
            lines.append(f"- {other}'s rows are missing: {leader} vs {other} cannot be compared.")
            continue
        lead = paired_lead(scores, leader, other)
        if lead.empty:
            continue
        n_seeds = int(lead["n_seeds"].min())
        better = lead[lead["mean_diff"] > 0]
        beyond = lead[lead["beyond_spread"]]
        worse = lead[lead["mean_diff"] < 0]
        noise = (f", by more than the seed std of the paired difference in {len(beyond)}" if n_seeds >= 2
                 else " (one seed: no spread)")  # fmt: skip
        text = (f"- {leader} vs {other}: better on {len(better)} of {len(lead)} columns{noise}. "
                f"Largest lead: {_lead_text(lead.loc[lead['mean_diff'].idxmax()])}")  # fmt: skip
        if len(worse):
            text += f"; largest deficit: {_lead_text(lead.loc[lead['mean_diff'].idxmin()])}"
        lines.append(text + ".")
    table_i = scores[scores["protocol"] == "Table I"]
    cells = table_i.groupby(["column"])["generator"].apply(lambda g: set(g) >= {leader, *others})
    complete = [c for c, ok in cells.items() if ok]
    if complete:
        three = table_i["column"].isin(complete) & table_i["generator"].isin([leader, *others])
        ranks = rank_generators(table_i[three])
        first = ranks[(ranks["generator"] == leader) & (ranks["rank"] == 1)]
        lines.append(f"- The poster claims {leader} is best of the three on every Table I column of both sets; here "
                     f"it is best (ties included) on {len(first)} of the {len(complete)} Table I columns where all "
                     "three were run.")  # fmt: skip
    return lines


def _lead_text(row: pd.Series) -> str:
    spread = f" ± {_num(row['std_diff'])}" if row["n_seeds"] >= 2 else ""
    return f"{row['column']} {row['mean_diff']:+.4f}{spread} ({int(row['wins'])}/{int(row['n_seeds'])} seeds)"


def discussion(scores: pd.DataFrame, table6_scores: pd.DataFrame | None = None) -> str:
    """Markdown text drawn from the numbers: who wins each column and by how much against the
    seed spread (:func:`best_by_column`), VGM-C against the seven over-samplers on Table 6's
    average accuracy and macro F1 (:func:`~idsynth.experiments.vgm_oversample.paired_comparison`
    on ``table6_scores``), and MAGE-ID against TabSyn and TabDDPM on every shared column
    (:func:`paired_lead`). scores: :func:`generator_scores` (Table I columns of every set to
    include)."""
    ranks = rank_generators(scores)
    n_seeds = int(scores.groupby(["generator", "column"])["seed"].nunique().max())
    parts = [
        f"**Seeds**: up to {n_seeds} per cell. Margins are compared with the seed standard deviation, "
        "a loose yardstick (not a test) that needs at least two seeds.",
        "",
        "**Who wins where**",
        *_winners_lines(best_by_column(ranks)),
        "",
        "**VGM-C against the seven over-samplers (Table 6)**",
        *_vgm_lines(table6_scores, ranks),
        "",
        "**MAGE-ID against TabSyn and TabDDPM (the poster's claim), paired by seed**",
        *_claim_lines(scores),
    ]
    return "\n".join(parts) + "\n"
