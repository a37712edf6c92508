"""Figures of notebooks 06 and 07: images per class from several sources, latent projections.

Like :mod:`idsynth.plots`, every function builds a :class:`matplotlib.figure.Figure` directly
(no ``pyplot`` state); write it with :func:`idsynth.plots.save_figure`. Loss curves use
:func:`idsynth.plots.loss_curves` with :func:`idsynth.experiments.mageid_report.loss_panels`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def plot_image_rows(sources: Mapping[str, tuple[np.ndarray, np.ndarray]], class_names: Sequence[str],
                    n_per_class: int = 8, paired: bool = False, seed: int = 0, title: str = "") -> Figure:
    """Images of each class from several sources: one row per (class, source), ``n_per_class``
    columns.

    sources: ``{name: (images (n, 1, H, W) in [0, 1], y (n,) class codes indexing class_names)}``.
    With ``paired`` all sources hold the same rows in the same order (e.g. real images and
    their reconstructions) and each class's rows show the same examples; otherwise each
    source's examples are drawn independently with ``seed``.
    """
    names = list(sources)
    if not names:
        raise ValueError("sources is empty")
    if paired and len({len(sources[n][1]) for n in names}) != 1:
        raise ValueError("paired sources must hold the same number of rows")
    rng = np.random.default_rng(seed)
    n_rows = len(class_names) * len(names)
    fig = Figure(figsize=(1.1 * n_per_class + 0.6, 1.15 * n_rows + 0.4), layout="constrained")
    axes = fig.subplots(n_rows, n_per_class, squeeze=False)
    for k, class_name in enumerate(class_names):
        chosen = None
        for s, name in enumerate(names):
            images, y = np.asarray(sources[name][0]), np.asarray(sources[name][1])
            if chosen is None or not paired:
                rows = np.flatnonzero(y == k)
                chosen = rng.choice(rows, size=min(n_per_class, len(rows)), replace=False) if len(rows) else []
            row_axes = axes[k * len(names) + s]
            for j, ax in enumerate(row_axes):
                ax.set_xticks([])
                ax.set_yticks([])
                if j < len(chosen):
                    ax.imshow(images[chosen[j], 0], cmap="viridis", vmin=0, vmax=1)
            row_axes[0].set_ylabel(f"{class_name}\n{name}", fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def plot_latent_projection(frames: Mapping[str, pd.DataFrame], class_names: Sequence[str],
                           titles: Mapping[str, str] | None = None) -> Figure:
    """One scatter panel per dataset of :func:`~idsynth.experiments.mageid_report.latent_projection`
    frames (columns ``source, label, c1, c2``): colour = real / synthetic, marker = class."""
    fig = Figure(figsize=(5.0 * len(frames), 4.4), layout="constrained")
    axes = fig.subplots(1, len(frames), squeeze=False)[0]
    markers = ("o", "^", "s", "D", "v")
    colours = {"real": "tab:blue", "synthetic": "tab:orange"}
    for ax, (dataset, frame) in zip(axes, frames.items()):
        for source, colour in colours.items():
            for k, class_name in enumerate(class_names):
                chosen = frame[(frame["source"] == source) & (frame["label"] == k)]
                ax.scatter(chosen["c1"], chosen["c2"], s=5, alpha=0.4, color=colour, marker=markers[k % len(markers)],
                           label=f"{source}, {class_name}", linewidths=0)
        ax.set_title((titles or {}).get(dataset, dataset), fontsize=10)
        ax.set_xlabel("component 1")
        ax.set_ylabel("component 2")
        ax.legend(fontsize=7, markerscale=2)
    return fig
