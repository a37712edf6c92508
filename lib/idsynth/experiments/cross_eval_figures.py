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
