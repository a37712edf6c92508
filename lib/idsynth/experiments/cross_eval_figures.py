"""The cross-evaluation's summary figure: every generator ranked on every column of both tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from ..metrics.table_i import TABLE_I_COLUMNS
from ..data.mageid_sets import NSLKDD_NAME
from .cross_eval_report import CLOSER_TO_ONE, TABLE6_COLUMNS, rank_matrix

#: Colour of a cell whose generator was not run under that protocol.
MISSING_COLOUR = "#e6e6e6"


def plot_ranking(ranks: pd.DataFrame, title: str = "") -> Figure:
    """Heat map of ranks: rows = generators (best mean relative rank first), columns = Table I's
    and Table 6's columns (:func:`~idsynth.experiments.cross_eval_report.rank_generators`).

    Each cell shows the rank (1 = best) over the value (mean over seeds); its colour is the
    relative rank ``(rank − 1) / (n − 1)`` of the column's ``n`` generators (dark = best), so
    columns with different numbers of generators share one scale. Grey cells: not run.
    Returns the Figure (no pyplot state).
    """
    rank, mean = rank_matrix(ranks)
    n_ranked = ranks.groupby("column")["n_ranked"].first().reindex(rank.columns)
    relative = (rank - 1) / (n_ranked - 1).clip(lower=1)
    height = 0.55 * len(rank) + 2.2
    width = 1.05 * len(rank.columns) + 2.6
    fig = Figure(figsize=(width, height))
    ax = fig.add_subplot()
    ax.set_facecolor(MISSING_COLOUR)
    cmap = ListedColormap(colormaps["Blues"](np.linspace(1.0, 0.12, 256)))  # dark = relative rank 0
    image = ax.imshow(np.ma.masked_invalid(relative.to_numpy(dtype=float)), cmap=cmap, vmin=0.0, vmax=1.0,
                      aspect="auto")  # fmt: skip
    for i, generator in enumerate(rank.index):
        for j, column in enumerate(rank.columns):
            r = rank.at[generator, column]
            if np.isnan(r):
                ax.text(j, i, "—", ha="center", va="center", fontsize=8, color="#777777")
                continue
            light = relative.at[generator, column] < 0.45
            ax.text(j, i, f"{int(r)}\n{mean.at[generator, column]:.3f}", ha="center", va="center", fontsize=7,
                    color="white" if light else "black")  # fmt: skip
    labels = [_label(ranks[ranks["column"] == column].iloc[0]) for column in rank.columns]
    ax.set_xticks(np.arange(len(rank.columns)), labels, fontsize=7, rotation=0)
    ax.set_yticks(np.arange(len(rank.index)), rank.index, fontsize=8)
    ax.tick_params(length=0)
    protocols = [ranks.loc[ranks["column"] == c, "protocol"].iloc[0] for c in rank.columns]
    for j in range(1, len(protocols)):
        if protocols[j] != protocols[j - 1]:
            ax.axvline(j - 0.5, color="black", linewidth=1.5)
    colorbar = fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
    colorbar.set_label("relative rank (0 = best)", fontsize=8)
    ax.set_title(title or "Every generator on every metric: rank (1 = best) and value", fontsize=10)
    fig.tight_layout()
    return fig


def _label(row: pd.Series) -> str:
    """Two to four short lines: protocol, metric, data set (if not NSL-KDD), direction."""
    title = TABLE_I_COLUMNS.get(row["metric"]) if row["protocol"] == "Table I" else TABLE6_COLUMNS[row["metric"]]
    lines = [row["protocol"], title]
    if row["protocol"] == "Table I" and row["dataset"] != NSLKDD_NAME:
        lines.append(row["dataset"])
    if row["metric"] in CLOSER_TO_ONE:
        lines.append("(closest to 1)")
    return "\n".join(lines)


#: Panel titles of :func:`plot_recipes` (the columns of
#: :func:`~idsynth.experiments.recipe_utility.per_seed_average`).
RECIPE_PANELS: dict[str, str] = {"accuracy": "accuracy", "f1_weighted": "weighted F1", "f1_macro": "macro F1",
                                 "recall_R2L": "R2L recall", "recall_U2R": "U2R recall"}  # fmt: skip


def plot_recipes(per_seed: pd.DataFrame, title: str = "") -> Figure:
    """One panel per metric of :data:`RECIPE_PANELS`: MAGE-ID's recipes (x, in the order they
    first appear in ``per_seed``) as Table 6 over-samplers, the four-classifier average of each
    seed as a grey line joining that seed's recipes (the pairing the paired test uses) and the
    mean over seeds as a black marker. ``per_seed``: columns ``recipe, seed`` and the metrics.
    Returns the Figure (no pyplot state)."""
    recipes = list(dict.fromkeys(per_seed["recipe"]))
    x = np.arange(len(recipes))
    fig = Figure(figsize=(2.3 * len(RECIPE_PANELS), 2.8))
    axes = fig.subplots(1, len(RECIPE_PANELS))
    for ax, (metric, label) in zip(axes, RECIPE_PANELS.items()):
        wide = per_seed.pivot_table(index="seed", columns="recipe", values=metric).reindex(columns=recipes)
        for seed, values in wide.iterrows():
            ax.plot(x, values.to_numpy(float), color="#999999", linewidth=1, marker=".", label=f"seed {seed}")
        ax.plot(x, wide.mean().to_numpy(float), color="black", linestyle="none", marker="D", markersize=5,
                label="mean")  # fmt: skip
        ax.set_xticks(x, recipes)
        ax.set_xlim(-0.4, len(recipes) - 0.6)
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=8)
    fig.suptitle(title or "MAGE-ID's recipes as Table 6 over-samplers (mean of the four classifiers)", fontsize=10)
    fig.tight_layout()
    return fig
