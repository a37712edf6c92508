"""Tables and figures describing a data set (notebook 00): labels, class counts, distributions."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..plots import save_figure
from .nslkdd import CATEGORIES, CATEGORY_OF, PAPER_CATEGORY_COUNTS, category_counts  # noqa: E402


def label_table(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """One row per attack label: its category and its row count in train and test (0 = absent)."""
    labels = sorted(set(train["label"]) | set(test["label"]), key=lambda a: (CATEGORY_OF.get(a, "~"), a))
    table = pd.DataFrame({"label": labels})
    table["category"] = table["label"].map(CATEGORY_OF)
    table["train"] = table["label"].map(train["label"].value_counts()).fillna(0).astype(int)
    table["test"] = table["label"].map(test["label"].value_counts()).fillna(0).astype(int)
    table["only_in"] = np.select([table["train"] == 0, table["test"] == 0], ["test", "train"], "")
    return table


def class_count_table(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Long form ``split, category, count, paper_count`` (+ ``diff``) for both splits."""
    rows = []
    for split, frame in (("train", train), ("test", test)):
        for category, count in category_counts(frame).items():
            paper = PAPER_CATEGORY_COUNTS[split][category]
            rows.append({"split": split, "category": category, "count": count, "paper_count": paper})
    table = pd.DataFrame(rows)
    table["diff"] = table["count"] - table["paper_count"]
    return table


def class_imbalance_figure(counts: pd.DataFrame, path: str | Path) -> plt.Figure:
    """Bar chart (log scale) of rows per category in each split, with each bar's share."""
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.barplot(data=counts, x="category", y="count", hue="split", order=list(CATEGORIES), ax=ax)
    ax.set_yscale("log")
    ax.set_ylim(top=ax.get_ylim()[1] * 12)  # headroom for the share labels
    ax.set_ylabel("rows (log scale)")
    ax.set_title("NSL-KDD: rows per category (KDDTrain+ vs KDDTest+)")
    totals = counts.groupby("split")["count"].sum()
    for container, split in zip(ax.containers, counts["split"].unique()):
        shares = [f"{100 * bar.get_height() / totals[split]:.2f}%" for bar in container]
        ax.bar_label(container, labels=shares, fontsize=7, rotation=90, padding=2)
    save_figure(fig, path)
    return fig


def feature_distribution_figure(
    X: np.ndarray, y: np.ndarray, feature_names: list[str], classes: tuple[str, ...], path: str | Path, n_features: int = 32
) -> plt.Figure:
    """Per-class box plots of the first ``n_features`` encoded (min-max) features.

    ``X``: (n, d) in [0, 1]; ``y``: (n,) integer class codes. One panel per feature, classes on
    the x axis, so the reader sees which features separate which categories.
    """
    n_features = min(n_features, X.shape[1])
    cols = 8
    rows = int(np.ceil(n_features / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.0 * rows), sharey=True)
    labels = np.asarray(classes)[y]
    palette = dict(zip(classes, sns.color_palette("tab10", len(classes))))
    for j, ax in enumerate(np.ravel(axes)):
        if j >= n_features:
            ax.axis("off")
            continue
        frame = pd.DataFrame({"value": X[:, j], "class": labels})
        sns.boxplot(data=frame, x="class", y="value", hue="class", order=list(classes), palette=palette,
                    fliersize=0.5, linewidth=0.6, ax=ax, legend=False)  # fmt: skip
        ax.set_title(feature_names[j], fontsize=7)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(axis="x", labelsize=6, rotation=90)
        ax.tick_params(axis="y", labelsize=6)
    fig.suptitle("KDDTrain+: the 32 continuous features (min-max scaled) per category", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return fig
