"""Figures for Tables 5 and 6: our mean +- std over seeds, the paper's values as crosses.

Like :mod:`idsynth.plots`, each function builds a ``matplotlib.figure.Figure`` directly (no
pyplot state), writes it atomically to ``path`` and returns it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from idsynth.metrics.classifiers import CLASSIFIER_NAMES
from idsynth.plots import save_figure


def _points(ax, summary: pd.DataFrame, x: str, hue: str, value: str, hue_order, x_order, paper=None):
    """Mean +- std of ``value`` per (x, hue) as dodged points; the paper's value as a cross."""
    width = 0.8 / max(len(hue_order), 1)
    colours = colormaps["tab10"]
    for j, h in enumerate(hue_order):
        block = summary[summary[hue] == h].set_index(x).reindex(x_order)
        pos = np.arange(len(x_order)) - 0.4 + width * (j + 0.5)
        ax.errorbar(pos, block[f"{value}_mean"], yerr=block[f"{value}_std"], fmt="o", ms=4, capsize=2,
                    color=colours(j), label=h)  # fmt: skip
        if paper is not None:
            ref = paper[paper[hue] == h].set_index(x).reindex(x_order)[value]
            ax.scatter(pos, ref, marker="x", s=30, color=colours(j), zorder=3)
    ax.set_xticks(np.arange(len(x_order)), x_order, rotation=30, ha="right")
    ax.grid(axis="y", alpha=0.3)


def plot_oversamplers(
    scores: pd.DataFrame, recall: pd.DataFrame, paper: pd.DataFrame, methods, class_order, path: str | Path
) -> Figure:
    """Table 6's figure, written to ``path``.

    Three panels: accuracy and weighted F1 per method and classifier (dots: ours, mean +- std
    over seeds; crosses: the paper), and the recall of every class per method (mean over
    classifiers and seeds). ``scores``/``recall``: :class:`~idsynth.experiments.vgm_oversample.
    OversamplingRun`'s frames; ``paper``: :func:`~idsynth.experiments.vgm_oversample.paper_table6`.
    """
    summary = scores.groupby(["method", "classifier"], as_index=False).agg(
        accuracy_mean=("accuracy", "mean"), accuracy_std=("accuracy", "std"),
        f1_weighted_mean=("f1_weighted", "mean"), f1_weighted_std=("f1_weighted", "std"),
    ).fillna(0.0)  # fmt: skip
    classifiers = [c for c in CLASSIFIER_NAMES if c in set(scores["classifier"])]
    fig = Figure(figsize=(17, 4.8), layout="constrained")
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 0.9]})
    for ax, value, title in ((axes[0], "accuracy", "Accuracy on KDDTest+"), (axes[1], "f1_weighted", "Weighted F1")):
        _points(ax, summary, "method", "classifier", value, classifiers, list(methods), paper)
        ax.set_title(title + "  (x = paper)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=9, frameon=False)
    heat = recall.groupby(["method", "class"])["recall"].mean().unstack("class").reindex(index=list(methods))
    heat = heat.reindex(columns=list(class_order))
    image = axes[2].imshow(heat.to_numpy(), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    axes[2].set_xticks(range(heat.shape[1]), heat.columns)
    axes[2].set_yticks(range(heat.shape[0]), heat.index)
    for (i, j), v in np.ndenumerate(heat.to_numpy()):
        axes[2].text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.6 else "black")
    axes[2].set_title("Recall per class (mean over classifiers, seeds)")
    fig.colorbar(image, ax=axes[2], fraction=0.046)
    fig.suptitle("Table 6: classifiers trained on balanced sets from each over-sampler, tested on KDDTest+")
    return save_figure(fig, path)


def plot_augmentation(results: pd.DataFrame, paper: pd.DataFrame | None, scenarios, path: str | Path) -> Figure:
    """Table 5's figure, written to ``path``: one panel per classifier, accuracy per scenario and
    option (mean +- std over seeds; crosses: the paper's surviving values, ``paper`` as
    :func:`~idsynth.experiments.vgm_augment.paper_table5`)."""
    summary = results.groupby(["classifier", "option", "scenario"], as_index=False, observed=True).agg(
        accuracy_mean=("accuracy", "mean"), accuracy_std=("accuracy", "std")
    )  # fmt: skip
    summary["accuracy_std"] = summary["accuracy_std"].fillna(0.0)  # one seed: no spread (the keys stay as they are)
    summary["scenario"] = summary["scenario"].astype(str)
    classifiers = [c for c in CLASSIFIER_NAMES if c in set(results["classifier"])]
    options = sorted(set(results["option"]))
    fig = Figure(figsize=(4.4 * len(classifiers), 4.4), layout="constrained")
    axes = fig.subplots(1, len(classifiers), squeeze=False)
    for ax, name in zip(axes[0], classifiers):
        ref = paper[paper["classifier"] == name] if paper is not None else None
        _points(ax, summary[summary["classifier"] == name], "scenario", "option", "accuracy", options,
                list(scenarios), ref)  # fmt: skip
        ax.set_title(name)
    axes[0][0].set_ylabel("accuracy on KDDTest+")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, [f"Option {label}" for label in labels], loc="outside lower center", ncols=len(labels),
               fontsize=9, frameon=False)  # fmt: skip
    fig.suptitle("Table 5: KDDTrain+ repeated or extended with VGM samples (x = paper)")
    return save_figure(fig, path)
