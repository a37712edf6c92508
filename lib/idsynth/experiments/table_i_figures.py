"""Figures beside Table I: real-vs-synthetic marginals (any generator) and training-loss curves."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

#: A numeric column whose real values reach beyond this magnitude is drawn on a signed log scale.
LOG_SCALE_ABOVE = 100.0


def signed_log(values: np.ndarray) -> np.ndarray:
    """``sign(x) * log10(1 + |x|)``: heavy-tailed counts and byte sizes on a readable axis."""
    values = np.asarray(values, dtype=np.float64)
    return np.sign(values) * np.log10(1.0 + np.abs(values))


def _numeric_panel(ax, real: pd.Series, synthetic: pd.Series, bins: int) -> None:
    r, s = real.to_numpy(dtype=np.float64), synthetic.to_numpy(dtype=np.float64)
    log = np.nanmax(np.abs(r)) > LOG_SCALE_ABOVE if len(r) else False
    if log:
        r, s = signed_log(r), signed_log(s)
    lo, hi = np.nanmin(np.concatenate([r, s])), np.nanmax(np.concatenate([r, s]))
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    ax.hist(r, bins=edges, density=True, alpha=0.55, label="real", color="tab:blue")
    ax.hist(s, bins=edges, density=True, alpha=0.55, label="synthetic", color="tab:orange")
    ax.set_xlabel("sign·log10(1+|x|)" if log else "value")
    ax.set_ylabel("density")


def _categorical_panel(ax, real: pd.Series, synthetic: pd.Series, top: int) -> None:
    r = real.astype(str).value_counts(normalize=True)
    s = synthetic.astype(str).value_counts(normalize=True)
    levels = list(r.index[:top])
    r_vals, s_vals = list(r[levels]), list(s.reindex(levels, fill_value=0.0))
    other_r, other_s = 1.0 - sum(r_vals), 1.0 - sum(s_vals)
    if other_r > 1e-12 or other_s > 1e-12:
        levels, r_vals, s_vals = levels + ["(other)"], r_vals + [other_r], s_vals + [other_s]
    x = np.arange(len(levels))
    ax.bar(x - 0.2, r_vals, width=0.4, label="real", color="tab:blue")
    ax.bar(x + 0.2, s_vals, width=0.4, label="synthetic", color="tab:orange")
    ax.set_xticks(x, levels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("share of rows")


def plot_marginals(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    features: Sequence[str],
    categorical: Sequence[str] = (),
    title: str = "",
    bins: int = 40,
    top: int = 10,
):
    """One panel per feature: the real and synthetic marginal distributions overlaid.

    Numeric features: density histograms on shared bins (a signed log scale when the real
    values exceed :data:`LOG_SCALE_ABOVE` in magnitude). Features named in ``categorical``: the
    share of rows of the ``top`` most frequent real categories, the rest pooled as "(other)"
    (synthetic categories unseen in the real rows fall there). Returns the Figure.
    """
    missing = [f for f in features if f not in real.columns or f not in synthetic.columns]
    if missing:
        raise ValueError(f"features {missing} are not columns of both frames")
    if not features:
        raise ValueError("plot_marginals needs at least one feature")
    fig, axes = plt.subplots(1, len(features), figsize=(3.4 * len(features), 3.0), squeeze=False)
    for ax, feature in zip(axes[0], features):
        if feature in set(categorical):
            _categorical_panel(ax, real[feature], synthetic[feature], top)
        else:
            _numeric_panel(ax, real[feature], synthetic[feature], bins)
        ax.set_title(feature, fontsize=9)
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_loss_curves(curves: pd.DataFrame, window: int = 50, panel: str = "dataset"):
    """Training losses, one panel per value of ``panel``, one line per (term, seed).

    curves: long frame with columns ``panel``, ``seed``, ``step``, ``term``, ``value`` (e.g.
    :func:`idsynth.experiments.tabddpm_run.tabddpm_loss_curves`). Per-step losses of diffusion
    models are noisy (a random timestep per row), so each line is a centred rolling mean over
    ``window`` steps. Returns the Figure.
    """
    needed = {panel, "seed", "step", "term", "value"}
    if not needed <= set(curves.columns):
        raise ValueError(f"curves need the columns {sorted(needed)}, got {list(curves.columns)}")
    panels = list(dict.fromkeys(curves[panel]))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 3.4), squeeze=False)
    for ax, name in zip(axes[0], panels):
        part = curves[curves[panel] == name]
        for (term, seed), line in part.groupby(["term", "seed"], sort=False):
            line = line.sort_values("step")
            smooth = line["value"].rolling(max(int(window), 1), center=True, min_periods=1).mean()
            ax.plot(line["step"], smooth, label=f"{term} (seed {seed})", lw=1.2)
        ax.set_title(str(name))
        ax.set_xlabel("optimiser step")
        ax.set_ylabel(f"loss (rolling mean, {window} steps)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
