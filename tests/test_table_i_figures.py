"""Figures beside Table I: marginals (numeric, heavy-tailed, categorical) and loss curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from idsynth.experiments.table_i_figures import plot_loss_curves, plot_marginals, signed_log  # noqa: E402


def test_signed_log_known_values():
    np.testing.assert_allclose(signed_log(np.array([-99.0, 0.0, 9.0])), [-2.0, 0.0, 1.0])


def test_plot_marginals_panels_and_scales():
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"rate": rng.random(200), "bytes": rng.integers(0, 10**6, 200),
                         "proto": rng.choice(list("abcdefghijklm"), 200)})  # fmt: skip
    synthetic = real.sample(frac=1.0, random_state=1).reset_index(drop=True)
    synthetic.loc[:5, "proto"] = "unseen"
    fig = plot_marginals(real, synthetic, ["rate", "bytes", "proto"], categorical=["proto"], title="t", top=5)
    axes = fig.axes
    assert [a.get_title() for a in axes] == ["rate", "bytes", "proto"]
    assert axes[0].get_xlabel() == "value" and axes[1].get_xlabel().startswith("sign")  # heavy tail -> log
    labels = [t.get_text() for t in axes[2].get_xticklabels()]
    assert len(labels) == 6 and labels[-1] == "(other)"  # top 5 + the rest
    heights = [p.get_height() for p in axes[2].patches]
    assert sum(heights[: len(heights) // 2]) == pytest.approx(1.0)  # real shares sum to 1
    plt.close(fig)
    with pytest.raises(ValueError, match="not columns of both"):
        plot_marginals(real, synthetic.drop(columns="rate"), ["rate"])


def test_plot_loss_curves_one_panel_per_dataset():
    curves = pd.DataFrame({"dataset": ["A"] * 20 + ["B"] * 20, "seed": 0, "step": list(range(20)) * 2,
                           "term": "loss", "value": np.linspace(2, 1, 40)})  # fmt: skip
    fig = plot_loss_curves(curves, window=3)
    assert [a.get_title() for a in fig.axes] == ["A", "B"] and all(len(a.lines) == 1 for a in fig.axes)
    plt.close(fig)
    with pytest.raises(ValueError, match="need the columns"):
        plot_loss_curves(curves.drop(columns="term"))
