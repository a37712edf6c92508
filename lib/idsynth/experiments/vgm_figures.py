"""Figures of notebook 01: VGM training curves."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..plots import save_figure  # noqa: F401  (re-exported for notebook 01)

TERM_TITLES = {
    "loss": "loss = KL + reconstruction (nats / row)",
    "kl": "KL(q(z | I) || N(0, I)) (nats / row)",
    "bernoulli_nll": "Bernoulli NLL (nats / row)",
    "rmse": "RMSE of continuous block (Option B)",
}


def plot_loss_curves(curves: pd.DataFrame, hue: str = "option", row: str | None = None):
    """One panel per loss term, one line per option (mean over seeds, band = ±1 sd).

    ``curves``: :func:`idsynth.experiments.vgm_train.loss_curves`'s long frame. Returns the
    seaborn ``FacetGrid``.
    """
    import seaborn as sns
    from matplotlib.ticker import MaxNLocator

    terms = [t for t in TERM_TITLES if t in set(curves["term"])]
    grid = sns.relplot(
        data=curves, x="epoch", y="value", hue=hue, col="term", col_order=terms, row=row,
        kind="line", errorbar="sd", facet_kws={"sharey": False}, height=3.0, aspect=1.15,
    )  # fmt: skip
    for key, ax in grid.axes_dict.items():
        row_name, term = key if row else (None, key)
        ax.set_title(TERM_TITLES[term] if row_name is None else f"{row_name}: {TERM_TITLES[term]}", fontsize=9)
        ax.set_ylabel("")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return grid
