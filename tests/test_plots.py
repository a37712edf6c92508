import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from idsynth import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _encoded(n, seed):
    rng = np.random.default_rng(seed)
    num = rng.random((n, 4))
    proto = np.eye(3)[rng.integers(0, 3, n)]
    service = np.eye(6)[rng.integers(0, 6, n)]
    X = np.hstack([num, proto, service])
    names = [f"num{i}" for i in range(4)] + [f"protocol_type={i}" for i in range(3)] + [f"service={i}" for i in range(6)]
    slices = {"protocol_type": slice(4, 7), "service": slice(7, 13)}
    return X, rng.integers(0, 5, n), names, slices


def _assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000


def test_extended_histograms_with_categorical_blocks(tmp_path):
    X, y, names, slices = _encoded(500, 0)
    X_syn = np.clip(X + np.random.default_rng(1).normal(0, 0.05, X.shape), 0, 1)
    fig = plots.extended_histograms(
        X, X_syn, names, tmp_path / "fig7.png", bins=50, y_real=y, y_syn=y, cat_slices=slices,
        class_names=["DoS", "Normal", "Probe", "R2L", "U2R"],
    )
    assert isinstance(fig, Figure)
    _assert_png(tmp_path / "fig7.png")
    top, bottom = fig.axes[:2]
    # 4 numeric columns + protocol_type + service + label
    labels = [t.get_text() for t in bottom.get_xticklabels()]
    assert labels == ["num0", "num1", "num2", "num3", "protocol_type", "service", "label"]
    assert top.get_ylim() == (50.0, 0.0)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left no temporary file


def test_extended_histograms_without_blocks_and_fewer_rows_than_bins(tmp_path):
    X, _, names, _ = _encoded(30, 2)
    fig = plots.extended_histograms(X, X[:20], names, tmp_path / "f.png", bins=100)
    _assert_png(tmp_path / "f.png")
    assert fig.axes[0].get_ylim() == (30.0, 0.0)  # one slot per row when rows < bins
    assert fig.axes[1].get_ylim() == (20.0, 0.0)


def test_extended_histograms_bad_inputs(tmp_path):
    X, y, names, _ = _encoded(20, 3)
    with pytest.raises(ValueError, match="both y_real and y_syn"):
        plots.extended_histograms(X, X, names, tmp_path / "f.png", y_real=y)
    with pytest.raises(ValueError, match="feature names"):
        plots.extended_histograms(X, X, names[:-1], tmp_path / "f.png")
    with pytest.raises(ValueError, match="same d"):
        plots.extended_histograms(X, X[:, :5], names, tmp_path / "f.png")


def test_difference_histograms(tmp_path):
    X, _, names, _ = _encoded(300, 4)
    X_syn = np.clip(X + np.random.default_rng(5).normal(0, 0.1, X.shape), 0, 1)
    fig = plots.difference_histograms(X, X_syn, names, ["num0", "num1", 2], ["service=0", "service=1"], tmp_path / "fig8.png")
    _assert_png(tmp_path / "fig8.png")
    axes = fig.axes
    visible = [ax for ax in axes if ax.axison]
    assert len(visible) == 5
    assert all(ax.get_xlim() == (-1.0, 1.0) for ax in visible)
    with pytest.raises(ValueError, match="unknown feature"):
        plots.difference_histograms(X, X_syn, names, ["nope"], [], tmp_path / "x.png")


def test_loss_curves_accepts_lists_dicts_and_frames(tmp_path):
    histories = {
        "Option A": [3.0, 2.0, 1.5],
        "Option B": {"kl": [1.0, 1.2, 1.3], "nll": [5.0, 3.0, 2.0]},
        "Option C": pd.DataFrame({"epoch": [1, 2, 3], "loss": [4.0, 2.0, 1.0], "note": ["a", "b", "c"]}),
        "Option D": pd.DataFrame({"total": [2.0, 1.0]}),
    }
    fig = plots.loss_curves(histories, tmp_path / "loss.png")
    _assert_png(tmp_path / "loss.png")
    titles = [ax.get_title() for ax in fig.axes if ax.axison]
    assert titles == list(histories)
    b_axis = fig.axes[1]
    assert len(b_axis.get_lines()) >= 2  # kl and nll
    with pytest.raises(ValueError, match="empty"):
        plots.loss_curves({}, tmp_path / "x.png")


def test_bar_compare(tmp_path):
    frame = pd.DataFrame(
        {"method": ["VGM", "VGM", "SMOTE", "SMOTE"] * 2, "classifier": ["RF"] * 4 + ["MLP"] * 4, "acc": np.linspace(0.7, 0.8, 8)}
    )
    plots.bar_compare(frame, "method", "acc", "classifier", tmp_path / "bars.png", ylim=(0.6, 0.85))
    _assert_png(tmp_path / "bars.png")
    with pytest.raises(ValueError, match="lacks columns"):
        plots.bar_compare(frame, "method", "f1", None, tmp_path / "x.png")


def test_save_figure_rejects_unknown_format(tmp_path):
    fig = Figure()
    fig.subplots().plot([0, 1])
    with pytest.raises(ValueError, match="cannot write"):
        plots.save_figure(fig, tmp_path / "f.xyz")
    plots.save_figure(fig, tmp_path / "f.svg")
    assert (tmp_path / "f.svg").read_text().lstrip().startswith("<?xml")
