"""Figures for the notebooks: seaborn / matplotlib, no GUI needed.

Every function builds a :class:`matplotlib.figure.Figure` directly (no ``pyplot`` state, so
it works under any backend, Agg included, and leaks no open figures), writes it atomically
to ``path`` (format from the suffix, PNG by default) and returns it so a notebook can show it.

* :func:`extended_histograms`: VGM Figure 7, a "table plot" of original vs synthetic data.
* :func:`difference_histograms`: VGM Figure 8, histograms of original − synthetic.
* :func:`loss_curves`: training curves, one panel per model.
* :func:`bar_compare`: grouped bars (mean ± std over seeds) for method comparisons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .cache import atomic_path
from .metrics.fidelity import differences

MEAN_COLOUR = "#1f4e79"
SPREAD_COLOUR = "#9ecae1"


def show_figures_as_png() -> bool:
    """In an IPython kernel, display :class:`~matplotlib.figure.Figure` objects as PNG.

    The figures here are built without ``pyplot``, so the kernel's inline backend, which
    registers that formatter when ``pyplot`` first draws, may never be loaded; a notebook would
    then store a figure as the text ``<Figure size ...>``. Returns whether a kernel was found.
    Called when this module is imported.
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import select_figure_formats
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    select_figure_formats(shell, {"png"})
    return True


show_figures_as_png()


def save_figure(fig, path: str | Path, dpi: int = 150):
    """Write ``fig`` (a Figure, or a seaborn grid holding one) to ``path`` atomically.

    The format comes from the suffix (default PNG). Returns ``fig``.
    """
    target = Path(path)
    figure = getattr(fig, "figure", fig)
    fmt = target.suffix.lstrip(".").lower() or "png"
    if fmt not in figure.canvas.get_supported_filetypes():
        raise ValueError(f"cannot write a figure as {fmt!r}; supported: {sorted(figure.canvas.get_supported_filetypes())}")
    with atomic_path(target) as tmp:
        figure.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")
    return fig


# --- Figure 7: extended histograms (table plot) -------------------------------------------


def _rectangles(left: np.ndarray, bottom: np.ndarray, width: np.ndarray, height: float) -> np.ndarray:
    """(m, 4, 2) vertices of axis-aligned rectangles, for one PolyCollection."""
    left, bottom, width = np.broadcast_arrays(left, bottom, width)
    x0, x1 = left.ravel(), (left + width).ravel()
    y0 = bottom.ravel()
    y1 = y0 + height
    return np.stack([np.stack([x0, y0], 1), np.stack([x1, y0], 1), np.stack([x1, y1], 1), np.stack([x0, y1], 1)], 1)


def _row_slots(n_rows: int, bins: int) -> np.ndarray:
    """Start index of each of ``min(bins, n_rows)`` consecutive, near-equal row slots."""
    slots = min(bins, n_rows)
    return (np.arange(slots) * n_rows) // slots


def _slot_means(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(slots, k) mean of ``values`` (n, k) over each slot of consecutive rows."""
    sizes = np.diff(np.append(starts, len(values)))
    return np.add.reduceat(values, starts, axis=0) / sizes[:, None]


def _table_plot_columns(
    feature_names: Sequence[str], cat_slices: Mapping[str, slice] | None
) -> tuple[list[int], list[tuple[str, slice]]]:
    """Numeric column indices (those outside every one-hot block) and the categorical blocks."""
    blocks = list((cat_slices or {}).items())
    in_block = np.zeros(len(feature_names), dtype=bool)
    for name, block in blocks:
        if not isinstance(block, slice):
            raise TypeError(f"cat_slices[{name!r}] must be a slice, got {type(block).__name__}")
        in_block[block] = True
    return [i for i in range(len(feature_names)) if not in_block[i]], blocks


def _panel_summary(X, y, numeric, blocks, class_codes, bins):
    """Per row slot: numeric means/stds and category fractions, rows sorted by label."""
    order = np.argsort(y, kind="stable") if y is not None else np.arange(len(X))
    X = X[order]
    starts = _row_slots(len(X), bins)
    num = X[:, numeric]
    mean = _slot_means(num, starts)
    spread = np.sqrt(np.maximum(_slot_means(num**2, starts) - mean**2, 0.0))
    fractions = []
    for _, block in blocks:
        part = X[:, block]
        one_hot = np.eye(part.shape[1])[part.argmax(axis=1)]
        fractions.append(_slot_means(one_hot, starts))
    if y is not None:
        fractions.append(_slot_means(np.eye(len(class_codes))[np.searchsorted(class_codes, y[order])], starts))
    return mean, spread, fractions


def _draw_table_plot(ax, mean, spread, fractions, lo, span, palettes, column_width=0.9):
    """Numeric columns: dark bar 0..mean, light band mean ± std; categorical: stacked shares."""
    slots, n_num = mean.shape
    rows = np.arange(slots, dtype=float)
    scaled_mean = (mean - lo) / span
    scaled_spread = spread / span
    band_lo = np.clip(scaled_mean - scaled_spread, 0, 1)
    band_hi = np.clip(scaled_mean + scaled_spread, 0, 1)
    cols = np.arange(n_num, dtype=float)[None, :]
    ax.add_collection(
        PolyCollection(
            _rectangles(cols + column_width * band_lo, rows[:, None], column_width * (band_hi - band_lo), 1.0),
            facecolors=SPREAD_COLOUR,
            edgecolors="none",
        )
    )
    ax.add_collection(
        PolyCollection(
            _rectangles(cols, rows[:, None], column_width * np.clip(scaled_mean, 0, 1), 1.0),
            facecolors=MEAN_COLOUR,
            edgecolors="none",
        )
    )
    for j, (share, palette) in enumerate(zip(fractions, palettes)):
        x0 = n_num + j
        left = x0 + column_width * (np.cumsum(share, axis=1) - share)
        colours = np.broadcast_to(np.asarray(palette)[None, :, :], share.shape + (np.asarray(palette).shape[1],))
        ax.add_collection(
            PolyCollection(
                _rectangles(left, np.broadcast_to(rows[:, None], share.shape), column_width * share, 1.0),
                facecolors=colours.reshape(-1, colours.shape[-1]),
                edgecolors="none",
            )
        )


def _category_palette(k: int, palette: str = "husl") -> np.ndarray:
    """(k, 3) RGB colours for k categories."""
    return np.asarray(sns.color_palette(palette, k))


def extended_histograms(
    X_real,
    X_syn,
    feature_names: Sequence[str],
    path: str | Path,
    bins: int = 100,
    *,
    y_real=None,
    y_syn=None,
    cat_slices: Mapping[str, slice] | None = None,
    class_names: Sequence[str] | None = None,
    titles: tuple[str, str] = ("Original", "Synthetic"),
) -> Figure:
    """VGM Figure 7: a table plot of the original (upper) and synthetic (lower) data.

    ``X_real``: (n, d), ``X_syn``: (m, d) in the same feature space (e.g. [0, 1] encoded);
    ``feature_names``: d names. Rows are sorted by label (``y_real`` / ``y_syn``, (n,) and
    (m,) integer codes or sortable labels; both or neither) and cut into ``bins`` consecutive
    slots, the diagram's rows. Each numeric feature is a column showing, per slot, its mean
    (dark bar from the column's left edge) and mean ± std (light band: the dispersion); the
    scale of a column is the feature's joint min..max over both sets. Each one-hot block in
    ``cat_slices`` (``{feature: slice}``) collapses to one column of stacked category shares
    (category = argmax over the block), followed by the label column (``class_names`` name
    its codes in the legend). Without ``cat_slices`` every column is drawn as numeric.
    """
    real = np.asarray(X_real, dtype=np.float64)
    syn = np.asarray(X_syn, dtype=np.float64)
    if real.ndim != 2 or syn.ndim != 2 or real.shape[1] != syn.shape[1]:
        raise ValueError(f"expected two (n, d) arrays with the same d, got {real.shape} and {syn.shape}")
    names = list(feature_names)
    if len(names) != real.shape[1]:
        raise ValueError(f"expected {real.shape[1]} feature names, got {len(names)}")
    if (y_real is None) != (y_syn is None):
        raise ValueError("give both y_real and y_syn, or neither")
    if not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    labels = [None, None] if y_real is None else [np.asarray(y_real), np.asarray(y_syn)]
    for X, y, which in ((real, labels[0], "real"), (syn, labels[1], "syn")):
        if len(X) == 0:
            raise ValueError(f"X_{which} has no rows")
        if y is not None and y.shape != (len(X),):
            raise ValueError(f"y_{which} must have shape ({len(X)},), got {y.shape}")
    numeric, blocks = _table_plot_columns(names, cat_slices)
    class_codes = np.unique(np.concatenate(labels)) if y_real is not None else np.array([])
    if class_names is not None and len(class_names) != len(class_codes):
        raise ValueError(f"class_names has {len(class_names)} names for {len(class_codes)} classes")

    both = np.concatenate([real[:, numeric], syn[:, numeric]])
    lo = both.min(axis=0)
    span = np.where(both.max(axis=0) > lo, both.max(axis=0) - lo, 1.0)
    palettes = [_category_palette(len(range(*block.indices(len(names))))) for _, block in blocks]
    if y_real is not None:
        palettes.append(_category_palette(len(class_codes), "tab10" if len(class_codes) <= 10 else "husl"))
    column_labels = [names[i] for i in numeric] + [name for name, _ in blocks]
    column_labels += ["label"] if y_real is not None else []
    n_columns = len(column_labels)

    fig = Figure(figsize=(max(8.0, 0.13 * n_columns + 1.5), 9.0), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    for ax, X, y, title in zip(axes, (real, syn), labels, titles):
        mean, spread, fractions = _panel_summary(X, y, numeric, blocks, class_codes, bins)
        _draw_table_plot(ax, mean, spread, fractions, lo, span, palettes)
        ax.set_xlim(0, n_columns)
        ax.set_ylim(len(mean), 0)  # first slot (first label in sort order) at the top
        ax.set_title(f"{title} ({len(X):,} rows, {len(mean)} slots)", fontsize=10)
        ax.set_ylabel("row slot (rows sorted by label)")
        for x in range(1, n_columns):
            ax.axvline(x - 0.05, color="white", linewidth=0.3)
    axes[-1].set_xticks(np.arange(n_columns) + 0.45, column_labels, rotation=90, fontsize=5 if n_columns > 60 else 7)
    if y_real is not None:
        legend_names = [str(c) for c in (class_names if class_names is not None else class_codes)]
        handles = [Patch(color=c, label=n) for c, n in zip(palettes[-1], legend_names)]
        handles += [Patch(color=MEAN_COLOUR, label="slot mean"), Patch(color=SPREAD_COLOUR, label="mean ± std")]
        fig.legend(handles=handles, loc="outside upper center", ncols=len(handles), fontsize=8, frameon=False)
    return save_figure(fig, path)


# --- Figure 8: histograms of differences ----------------------------------------------------


def _feature_indices(selected: Sequence, names: list[str], which: str) -> list[int]:
    out = []
    for item in selected:
        if isinstance(item, (int, np.integer)):
            if not 0 <= int(item) < len(names):
                raise ValueError(f"{which}: column index {item} outside 0..{len(names) - 1}")
            out.append(int(item))
        elif item in names:
            out.append(names.index(item))
        else:
            raise ValueError(f"{which}: unknown feature {item!r}")
    return out


def difference_histograms(
    X_real,
    X_syn,
    feature_names: Sequence[str],
    features_continuous: Sequence,
    features_discrete: Sequence,
    path: str | Path,
    bins: int = 50,
    log_counts: bool = False,
) -> Figure:
    """VGM Figure 8: histograms of original − synthetic for chosen features.

    ``X_real``, ``X_syn``: paired (n, d) arrays; ``features_continuous`` (upper row) and
    ``features_discrete`` (lower row) are feature names or column indices. x spans [-1, 1]
    (``bins`` equal bins), y counts rows (log scale with ``log_counts``).
    """
    diff = differences(X_real, X_syn)
    names = list(feature_names)
    if len(names) != diff.shape[1]:
        raise ValueError(f"expected {diff.shape[1]} feature names, got {len(names)}")
    rows = [
        ("continuous", _feature_indices(features_continuous, names, "features_continuous")),
        ("discrete", _feature_indices(features_discrete, names, "features_discrete")),
    ]
    n_cols = max(len(cols) for _, cols in rows)
    if n_cols == 0:
        raise ValueError("no features chosen to plot")
    edges = np.linspace(-1.0, 1.0, bins + 1)
    fig = Figure(figsize=(2.2 * n_cols + 0.5, 4.8), layout="constrained")
    axes = np.atleast_2d(fig.subplots(2, n_cols, squeeze=False))
    for r, (kind, cols) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            if c >= len(cols):
                ax.set_axis_off()
                continue
            counts, _ = np.histogram(np.clip(diff[:, cols[c]], -1.0, 1.0), bins=edges)
            ax.stairs(counts, edges, fill=True, color=MEAN_COLOUR if kind == "continuous" else "#b35806")
            ax.set_xlim(-1, 1)
            if log_counts:
                ax.set_yscale("log")
            ax.set_title(names[cols[c]], fontsize=8)
            ax.tick_params(labelsize=7)
        axes[r, 0].set_ylabel(f"{kind}\nrows", fontsize=9)
    fig.supxlabel("original − synthetic", fontsize=9)
    return save_figure(fig, path)


# --- training curves and comparisons -------------------------------------------------------


def _history_frame(history) -> pd.DataFrame:
    """A frame of per-epoch series from a list/array, a {series: list} dict or a DataFrame."""
    if isinstance(history, pd.DataFrame):
        frame = history.copy()
    elif isinstance(history, Mapping):
        frame = pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in history.items()})
    else:
        values = np.asarray(history, dtype=float)
        if values.ndim != 1:
            raise ValueError(f"a history given as a sequence must be 1-D, got shape {values.shape}")
        frame = pd.DataFrame({"loss": values})
    if "epoch" not in frame:
        frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
    series = [c for c in frame.columns if c != "epoch" and pd.api.types.is_numeric_dtype(frame[c])]
    if not series or frame.empty:
        raise ValueError("a history needs at least one numeric series with at least one value")
    return frame.melt(id_vars="epoch", value_vars=series, var_name="series", value_name="value")


def loss_curves(histories: Mapping[str, object], path: str | Path, logy: bool = False, ncols: int = 3) -> Figure:
    """Training curves, one panel per model.

    ``histories``: ``{model name: history}``; a history is a sequence of per-epoch losses, a
    ``{series: sequence}`` dict, or a DataFrame whose numeric columns are series (an
    ``epoch`` column, if present, is the x axis; else epochs count from 1).
    """
    if not histories:
        raise ValueError("histories is empty")
    frames = {name: _history_frame(h) for name, h in histories.items()}
    n = len(frames)
    cols = min(ncols, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, (name, frame) in zip(axes, frames.items()):
        sns.lineplot(data=frame, x="epoch", y="value", hue="series", ax=ax)
        ax.set_title(name, fontsize=10)
        ax.set_ylabel("loss")
        if logy:
            ax.set_yscale("log")
        ax.legend(fontsize=7)
    for ax in axes[n:]:
        ax.set_axis_off()
    return save_figure(fig, path)


def bar_compare(
    frame: pd.DataFrame,
    x: str,
    y: str,
    hue: str | None,
    path: str | Path,
    title: str | None = None,
    ylim: tuple[float, float] | None = None,
    rotate_labels: bool = False,
) -> Figure:
    """Grouped bars of ``y`` by ``x`` and ``hue``; repeated rows (seeds) give mean ± std bars."""
    needed = [c for c in (x, y, hue) if c is not None]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}; has {list(frame.columns)}")
    if frame.empty:
        raise ValueError("frame is empty")
    n_groups = frame[x].nunique()
    fig = Figure(figsize=(max(5.0, 0.9 * n_groups + 2), 4.0), layout="constrained")
    ax = fig.subplots()
    sns.barplot(data=frame, x=x, y=y, hue=hue, errorbar="sd", ax=ax)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if title:
        ax.set_title(title)
    if rotate_labels:
        ax.tick_params(axis="x", labelrotation=45)
    if hue is not None:
        ax.legend(fontsize=8, title=hue)
    return save_figure(fig, path)


__all__ = [
    "bar_compare",
    "difference_histograms",
    "extended_histograms",
    "loss_curves",
    "save_figure",
]
