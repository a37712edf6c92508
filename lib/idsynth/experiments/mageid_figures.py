"""Figures of notebooks 06 and 07: loss curves, image grids per class, latent projections."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

#: Panel titles of :func:`plot_loss_curves`, keyed by (part, term).
TERM_TITLES = {
    ("tab_vae", "mse"): "TabVAE: MSE (numeric)",
    ("tab_vae", "ce"): "TabVAE: CE (categorical + label)",
    ("tab_vae", "kl"): "TabVAE: KL per coordinate",
    ("tab_vae", "beta"): "TabVAE: adaptive beta",
    ("img_vae", "mse"): "ImageVAE: MSE per pixel",
    ("img_vae", "kl"): "ImageVAE: KL per coordinate",
    ("edm", "loss"): "EDM: weighted denoising loss",
}
_LOG_TERMS = {("tab_vae", "beta"), ("tab_vae", "mse"), ("tab_vae", "ce"), ("img_vae", "mse"), ("edm", "loss")}


def plot_loss_curves(curves: pd.DataFrame, parts: Sequence[str] = ("tab_vae", "img_vae", "edm")):
    """One panel per (part, term) present, one line per dataset (mean over seeds, band = min-max).

    ``curves``: :func:`idsynth.experiments.mageid_report.loss_curves`'s long frame. Returns the Figure.
    """
    panels = [key for key in TERM_TITLES if key[0] in parts
              and ((curves["part"] == key[0]) & (curves["term"] == key[1])).any()]
    if not panels:
        raise ValueError(f"no loss terms of parts {list(parts)} in the curves")
    n_cols = min(4, len(panels))
    n_rows = -(-len(panels) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.6 * n_cols, 2.8 * n_rows), squeeze=False)
    for ax, (part, term) in zip(axes.ravel(), panels):
        chosen = curves[(curves["part"] == part) & (curves["term"] == term)]
        for dataset, frame in chosen.groupby("dataset", sort=False):
            stats = frame.groupby("epoch")["value"].agg(["mean", "min", "max"])
            ax.plot(stats.index, stats["mean"], label=dataset, linewidth=1)
            ax.fill_between(stats.index, stats["min"], stats["max"], alpha=0.25)
        if (part, term) in _LOG_TERMS and (chosen["value"] > 0).all():
            ax.set_yscale("log")
        ax.set_title(TERM_TITLES[(part, term)], fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    axes.ravel()[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_image_rows(sources: Mapping[str, tuple[np.ndarray, np.ndarray]], class_names: Sequence[str],
                    n_per_class: int = 8, paired: bool = False, seed: int = 0, title: str = ""):
    """Images of each class from several sources: one row per (class, source), ``n_per_class``
    columns.

    sources: ``{name: (images (n, 1, H, W) in [0, 1], y (n,) class codes)}``. With ``paired``
    all sources hold the same rows in the same order (e.g. real and reconstructed), and every
    row of the figure shows the same examples; otherwise each source's examples are drawn
    independently with ``seed``.
    """
    names = list(sources)
    if paired and len({len(sources[n][1]) for n in names}) != 1:
        raise ValueError("paired sources must hold the same number of rows")
    rng = np.random.default_rng(seed)
    n_rows = len(class_names) * len(names)
    fig, axes = plt.subplots(n_rows, n_per_class, figsize=(1.15 * n_per_class, 1.25 * n_rows), squeeze=False)
    for k, class_name in enumerate(class_names):
        shared = None
        for s, name in enumerate(names):
            images, y = np.asarray(sources[name][0]), np.asarray(sources[name][1])
            if shared is None or not paired:
                rows = np.flatnonzero(y == k)
                chosen = rng.choice(rows, size=min(n_per_class, len(rows)), replace=False) if len(rows) else []
                shared = chosen
            row_axes = axes[k * len(names) + s]
            for j, ax in enumerate(row_axes):
                ax.set_xticks([])
                ax.set_yticks([])
                if j < len(shared):
                    ax.imshow(images[shared[j], 0], cmap="viridis", vmin=0, vmax=1)
            row_axes[0].set_ylabel(f"{class_name}\n{name}", fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_latent_projection(frames: Mapping[str, pd.DataFrame], class_names: Sequence[str], title: str = ""):
    """Scatter of :func:`~idsynth.experiments.mageid_report.latent_projection` frames, one panel per
    dataset; colour = real / synthetic, marker = class."""
    fig, axes = plt.subplots(1, len(frames), figsize=(5.0 * len(frames), 4.4), squeeze=False)
    markers = ("o", "^", "s", "D", "v")
    colours = {"real": "tab:blue", "synthetic": "tab:orange"}
    for ax, (dataset, frame) in zip(axes[0], frames.items()):
        for source, colour in colours.items():
            for k, class_name in enumerate(class_names):
                chosen = frame[(frame["source"] == source) & (frame["label"] == k)]
                ax.scatter(chosen["c1"], chosen["c2"], s=5, alpha=0.4, c=colour, marker=markers[k % len(markers)],
                           label=f"{source}, {class_name}", linewidths=0)
        ax.set_title(dataset, fontsize=10)
        ax.set_xlabel("component 1")
        ax.set_ylabel("component 2")
        ax.legend(fontsize=7, markerscale=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
