"""Figures of the tabular-to-image step: the feature layout, per-class mean images, examples."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from .plots import save_figure  # noqa: F401  (re-exported for notebook 05)
from .imaging import TabularImager


def plot_layout(imager: TabularImager, values: np.ndarray | None = None, title: str = "", wrap: int = 14):
    """The feature grid with each feature's name in its pixel.

    values: (d,) optional per-feature value shown as the cell colour (e.g. the training mean).
    Padding pixels are hatched grey. Returns the Figure.
    """
    height, width = imager.grid_shape_
    cell = 1.25 if max(height, width) <= 10 else 1.05
    fig, ax = plt.subplots(figsize=(width * cell + 1.5, height * cell))
    shown = np.full((height, width), np.nan)
    if values is not None:
        values = np.asarray(values, dtype=float)
        if values.shape != (imager.n_features_in_,):
            raise ValueError(f"values must have shape ({imager.n_features_in_},), got {values.shape}")
        occupied = imager.feature_grid_ >= 0
        shown[occupied] = values[imager.feature_grid_[occupied]]
    mesh = ax.imshow(shown, cmap="viridis", vmin=0, vmax=1, alpha=0.55)
    size = 5.5 if max(height, width) <= 10 else 4.5
    for r in range(height):
        for c in range(width):
            name = imager.feature_name_grid_[r, c]
            if name is None:
                ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=True, color="0.85", hatch="//", ec="0.6"))
                continue
            ax.text(c, r, textwrap.fill(str(name), wrap), ha="center", va="center", fontsize=size)
    ax.set_xticks(np.arange(-0.5, width), minor=True)
    ax.set_yticks(np.arange(-0.5, height), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    if values is not None:
        fig.colorbar(mesh, ax=ax, fraction=0.035, label="feature mean (scaled)")
    score = f"layout={imager.layout}, rank correlation {imager.layout_score_:.3f}"
    ax.set_title(f"{title}\n{score}" if title else score)
    return fig


def plot_class_means(images: np.ndarray, y: np.ndarray, class_names: Sequence[str], title: str = ""):
    """Mean image of each class and the difference of the last class from the first.

    images: (n, 1, H, W) in [0, 1]; y: (n,) int codes indexing ``class_names``.
    """
    images, y = np.asarray(images), np.asarray(y)
    means = [images[y == k, 0].mean(axis=0) for k in range(len(class_names))]
    fig, axes = plt.subplots(1, len(means) + 1, figsize=(3.2 * (len(means) + 1), 3.4))
    for ax, mean, name in zip(axes, means, class_names):
        im = ax.imshow(mean, cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"{name} (n={int((y == class_names.index(name)).sum())})")
    fig.colorbar(im, ax=axes[: len(means)].tolist(), fraction=0.03)
    diff = means[-1] - means[0]
    bound = max(float(np.abs(diff).max()), 1e-6)
    im = axes[-1].imshow(diff, cmap="RdBu_r", vmin=-bound, vmax=bound)
    axes[-1].set_title(f"{class_names[-1]} - {class_names[0]}")
    fig.colorbar(im, ax=axes[-1], fraction=0.046)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return fig


def plot_examples(images: np.ndarray, y: np.ndarray, class_names: Sequence[str], n_per_class: int = 8, seed: int = 0, title: str = ""):
    """``n_per_class`` random images of each class (one row per class), drawn with ``seed``."""
    images, y = np.asarray(images), np.asarray(y)
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(class_names), n_per_class, figsize=(1.3 * n_per_class, 1.45 * len(class_names)), squeeze=False)
    for k, name in enumerate(class_names):
        rows = np.flatnonzero(y == k)
        chosen = rng.choice(rows, size=min(n_per_class, len(rows)), replace=False) if len(rows) else []
        for j, ax in enumerate(axes[k]):
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(chosen):
                ax.imshow(images[chosen[j], 0], cmap="viridis", vmin=0, vmax=1)
            if j == 0:
                ax.set_ylabel(name)
    if title:
        fig.suptitle(title)
    return fig
