"""The imaging figures draw what they claim and save as PNG."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from idsynth.imaging import TabularImager  # noqa: E402
from idsynth.imaging_plots import plot_class_means, plot_examples, plot_layout, save_figure  # noqa: E402


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.random((300, 10)).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(np.int64)
    imager = TabularImager(random_state=0).fit(X, feature_names=[f"feature number {j}" for j in range(10)])
    return X, y, imager


def test_layout_figure_names_every_feature(fitted, tmp_path):
    X, _, imager = fitted
    fig = plot_layout(imager, values=X.mean(axis=0), title="toy")
    texts = [t.get_text().replace("\n", " ") for t in fig.axes[0].texts]
    assert sorted(texts) == sorted(f"feature number {j}" for j in range(10))
    assert "rank correlation" in fig.axes[0].get_title()
    path = tmp_path / "layout.png"
    save_figure(fig, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close(fig)
    with pytest.raises(ValueError, match="values must have shape"):
        plot_layout(imager, values=np.zeros(3))


def test_mean_and_example_figures(fitted):
    X, y, imager = fitted
    images = imager.transform(X)
    fig = plot_class_means(images, y, ["Benign", "Attack"])
    shown = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(np.asarray(shown), images[y == 0, 0].mean(axis=0), rtol=1e-6)
    diff = np.asarray(fig.axes[2].images[0].get_array())
    np.testing.assert_allclose(diff, images[y == 1, 0].mean(axis=0) - images[y == 0, 0].mean(axis=0), rtol=1e-5, atol=1e-7)
    plt.close(fig)
    fig = plot_examples(images, y, ["Benign", "Attack"], n_per_class=5, seed=1)
    assert len(fig.axes) == 10 and all(len(ax.images) == 1 for ax in fig.axes)
    plt.close(fig)
