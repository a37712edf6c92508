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


def plot_vae_schedules(histories: Mapping[str, pd.DataFrame]) -> Figure:
    """The TabVAE's KL weight and learning rate against the optimiser step, one line per run.

    histories: ``{label: loss_history_ frame}`` with columns ``step``, ``beta``, ``lr`` (one row
    per epoch; both change only at epoch ends, so the lines are steps). Both axes logarithmic.
    """
    fig = Figure(figsize=(10.0, 3.6), layout="constrained")
    axes = fig.subplots(1, 2)
    for label, history in histories.items():
        missing = sorted({"step", "beta", "lr"} - set(history.columns))
        if missing:
            raise ValueError(f"{label}: the history lacks the columns {missing}")
        for ax, column in zip(axes, ("beta", "lr")):
            ax.step(history["step"], history[column], where="post", label=label)
    for ax, name in zip(axes, ("KL weight β", "learning rate")):
        ax.set_yscale("log")
        ax.set_xlabel("optimiser step")
        ax.set_ylabel(name)
        ax.legend(fontsize=7)
    return fig


def plot_latent_report(reports: Mapping[str, pd.DataFrame]) -> Figure:
    """Per joint-latent dimension: spread of the posterior means and KL from the prior, one
    column of panels per data set (:meth:`~idsynth.models.mageid.MAGEID.latent_report` frames),
    coloured by modality; dimensions the EDM leaves out (``modelled`` False) are hollow."""
    fig = Figure(figsize=(5.0 * len(reports), 6.0), layout="constrained")
    axes = fig.subplots(2, len(reports), squeeze=False)
    colours = {"tabular": "tab:blue", "image": "tab:orange"}
    for column, (dataset, report) in enumerate(reports.items()):
        index = np.arange(len(report))
        modelled = report["modelled"].to_numpy(bool) if "modelled" in report else np.ones(len(report), bool)
        for row, (metric, label) in enumerate((("std", "std of posterior means"), ("kl", "KL to N(0, 1), nats"))):
            ax = axes[row, column]
            for modality, colour in colours.items():
                chosen = (report["modality"] == modality).to_numpy()
                for filled in (True, False):
                    pick = chosen & (modelled == filled)
                    ax.scatter(index[pick], report[metric].to_numpy()[pick], s=9, color=colour if filled else "none",
                               edgecolors=colour, label=f"{modality}{'' if filled else ' (left out)'}" if pick.any() else None)
            ax.set_yscale("log")
            ax.set_ylabel(label)
            ax.set_xlabel("joint-latent dimension")
            if row == 0:
                ax.set_title(dataset, fontsize=10)
            ax.legend(fontsize=7)
    return fig


#: Axis labels of long metric names.
_SHORT_NAMES = {"detectability": "detect. (ours)", "detectability_sdmetrics": "detect. (SDMetrics)"}


def plot_variant_gains(gains: pd.DataFrame, metrics: Sequence[str]) -> Figure:
    """Heat maps of the mean paired gain of each variant over the committed recipe
    (:func:`~idsynth.experiments.mageid_fixes.paired_gains`), one panel per (data set, model):
    rows variants, columns ``metrics``; green better, red worse; a star where beyond noise."""
    panels = list(gains.groupby(["dataset", "model"], sort=False))
    if not panels:
        fig = Figure(figsize=(4.0, 1.0))
        fig.text(0.5, 0.5, "no variant rows paired with the committed recipe yet", ha="center", va="center")
        return fig
    fig = Figure(figsize=(1.1 * len(metrics) * 2 + 2.0, 0.45 * max(len(p[1]["variant"].unique()) for p in panels) * 2 + 1.5),
                 layout="constrained")
    axes = fig.subplots(2, (len(panels) + 1) // 2, squeeze=False).ravel()
    limit = float(np.nanmax(np.abs(gains["gain_mean"].to_numpy(float)))) or 1.0
    for ax, ((dataset, model), block) in zip(axes, panels):
        wide = block.pivot(index="variant", columns="metric", values="gain_mean").reindex(columns=list(metrics))
        noise = block.pivot(index="variant", columns="metric", values="beyond_noise").reindex(columns=list(metrics))
        ax.imshow(wide.to_numpy(float), cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
        ax.set_xticks(range(len(metrics)), [_SHORT_NAMES.get(m, m) for m in metrics], rotation=45, ha="right",
                      fontsize=7)
        ax.set_yticks(range(len(wide)), wide.index, fontsize=7)
        for i in range(wide.shape[0]):
            for j in range(wide.shape[1]):
                value, verdict = wide.iat[i, j], noise.iat[i, j]
                star = "*" if verdict is not pd.NA and pd.notna(verdict) and verdict != 0 else ""
                ax.text(j, i, f"{value:+.3f}{star}", ha="center", va="center", fontsize=6)
        ax.set_title(f"{dataset}, {model}", fontsize=9)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return fig
