import numpy as np
import pandas as pd
import pytest

from idsynth.experiments import vgm_similarity as vs

CLASSES = ("DoS", "Normal", "Probe", "R2L", "U2R")


def _vgm_like(n, seed):
    """(n, 2 + 3 + 4 + 3) encoding: 2 numeric, protocol_type, flag, service; class codes 0..4."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(5), n // 5)
    blocks = [np.eye(k)[(y + rng.integers(0, 2, len(y))) % k] for k in (3, 4, 3)]
    X = np.hstack([rng.random((len(y), 2)) * 0.2 + y[:, None] / 5, *blocks])
    names = ["duration", "src_bytes"] + [f"protocol_type_{i}" for i in "abc"]
    names += [f"flag_{i}" for i in "abcd"] + ["service_red_i", "service_smtp", "service_x"]
    slices = {"flag": slice(5, 9), "protocol_type": slice(2, 5), "service": slice(9, 12)}
    return X, y, names, slices


def test_table1_rows_join_the_paper():
    X, y, _, slices = _vgm_like(50, 0)
    X_syn = X.copy()
    X_syn[:10, 9:12] = np.roll(X_syn[:10, 9:12], 1, axis=1)  # 10 of 50 services changed
    frame = vs.table1_discrete_accuracy(X, X_syn, slices, option="C", trained_on="KDDTrain+", seed=3)
    assert list(frame.columns) == ["option", "trained_on", "feature", "seed", "accuracy", "paper"]
    acc = frame.set_index("feature")["accuracy"]
    assert acc["flag"] == 1.0 and acc["protocol_type"] == 1.0 and acc["service"] == pytest.approx(0.8)
    assert frame.set_index("feature").loc["service", "paper"] == 0.88315
    assert (frame["seed"] == 3).all()


@pytest.fixture(scope="module")
def grid_and_data():
    X, y, _, _ = _vgm_like(100, 1)
    X_syn = X + np.random.default_rng(2).normal(0, 0.01, X.shape)
    grids = vs.classifier_grids(X, y, {"C": (X_syn, y)}, seed=0, n_jobs=1, classifiers=["Logistic Regression", "MLP"])
    assert list(grids) == ["C"]
    return grids["C"], X, y


def test_table2_rows(grid_and_data):
    grid, _, _ = grid_and_data
    frame = vs.table2_real_vs_synthetic(grid, option="C", seed=0)
    assert list(frame.columns) == ["classifier", "option", "train_on", "predict_on", "seed", "accuracy", "paper"]
    assert len(frame) == 8
    row = frame[(frame["classifier"] == "MLP") & (frame["train_on"] == "synthetic") & (frame["predict_on"] == "real")]
    assert row["paper"].item() == 0.96736
    assert frame["accuracy"].between(0, 1).all()


def test_table3_counts_match_the_grid(grid_and_data):
    grid, _, y = grid_and_data
    frame = vs.table3_contingency(grid, CLASSES, seed=0)
    assert list(frame.columns) == ["panel", "seed", "true", "predicted", "count", "paper"]
    assert len(frame) == 100
    for panel, rows in frame.groupby("panel"):
        assert rows["count"].sum() == len(y)
        assert rows.groupby("true")["count"].sum().tolist() == np.bincount(y, minlength=5).tolist()
    rs = frame[frame["panel"] == "real->synthetic"]
    diagonal = rs.loc[rs["true"] == rs["predicted"], "count"].sum() / len(y)
    scores = grid.scores.set_index(["classifier", "train_on", "predict_on"])["accuracy"]
    assert diagonal == pytest.approx(scores[("MLP", "real", "synthetic")])
    assert frame.loc[(frame["panel"] == "synthetic->real") & (frame["true"] == "Normal") & (frame["predicted"] == "R2L"), "paper"].item() == 1186
    with pytest.raises(ValueError, match="no predictions"):
        vs.table3_contingency(grid, CLASSES, seed=0, classifier="Random Forest")


def test_table4_rows_and_highlighting():
    X, _, names, _ = _vgm_like(50, 3)
    shift = np.zeros(X.shape[1])
    shift[0] = 0.1
    frame = vs.table4_difference(X, X - shift, names, seed=1)
    assert list(frame.columns) == ["index", "feature", "seed", "mean", "std", "paper_mean", "paper_std", "highlighted"]
    assert list(frame["index"]) == list(range(1, X.shape[1] + 1))
    assert frame.loc[0, "mean"] == pytest.approx(0.1) and frame.loc[0, "std"] == pytest.approx(0.0, abs=1e-12)
    highlighted = frame[frame["highlighted"]].set_index("feature")
    assert set(highlighted.index) == {"duration", "src_bytes", "service_red_i", "service_smtp"}
    assert highlighted.loc["service_smtp", "paper_mean"] == -0.0094
    assert highlighted.loc["duration", "paper_std"] == 0.1706


def test_summarise_beside_paper_over_seeds():
    frame = pd.DataFrame(
        {
            "option": ["C"] * 4,
            "feature": ["flag", "service"] * 2,
            "seed": [0, 0, 1, 1],
            "accuracy": [0.99, 0.80, 1.00, 0.90],
            "paper": [0.99371, 0.88315] * 2,
        }
    )
    summary = vs.summarise_beside_paper(frame, ["option", "feature"], "accuracy")
    assert list(summary["feature"]) == ["flag", "service"]
    row = summary.set_index("feature").loc["service"]
    assert row["accuracy_mean"] == pytest.approx(0.85)
    assert row["accuracy_std"] == pytest.approx(np.std([0.8, 0.9], ddof=1))
    assert row["n_seeds"] == 2
    assert row["diff"] == pytest.approx(0.85 - 0.88315)
    with pytest.raises(ValueError, match="lacks columns"):
        vs.summarise_beside_paper(frame, ["option"], "f1")


def test_table1_targets_met():
    frame = pd.DataFrame(
        {
            "option": ["C"] * 3 + ["A"] * 3,
            "trained_on": ["KDDTrain+"] * 6,
            "feature": ["flag", "protocol_type", "service"] * 2,
            "accuracy": [0.995, 0.98, 0.90, 1.0, 1.0, 1.0],
        }
    )
    met = vs.table1_targets_met(frame).set_index("feature")["met"].to_dict()
    assert met == {"flag": True, "protocol_type": False, "service": True}
    with pytest.raises(ValueError, match="no Table 1 rows"):
        vs.table1_targets_met(frame, option="B")


def test_table3_beside_paper_shares_and_panels(grid_and_data):
    grid, _, y = grid_and_data
    rows = pd.concat([vs.table3_contingency(grid, CLASSES, seed=s) for s in (0, 1)], ignore_index=True)
    summary = vs.table3_beside_paper(rows)
    assert len(summary) == 100 and (summary["n_seeds"] == 2).all()
    assert (summary["count_std"] == 0).all()  # the same grid twice
    per_row = summary.groupby(["panel", "true"])[["share", "paper_share"]].sum()
    np.testing.assert_allclose(per_row.to_numpy(), 100.0)
    cell = summary[(summary["panel"] == "real->real") & (summary["true"] == "U2R") & (summary["predicted"] == "U2R")]
    assert cell["paper_share"].item() == pytest.approx(100 * 39 / 52)
    panels = vs.table3_panels(summary, CLASSES)
    assert list(panels) == ["real->synthetic", "real->real", "synthetic->real", "synthetic->synthetic"]
    assert panels["real->real"].loc["Total", "Total"] == len(y)
    paper_panels = vs.table3_panels(summary, CLASSES, value="paper")
    assert paper_panels["synthetic->real"].loc["Total", "R2L"] == 2128
    assert paper_panels["real->synthetic"].loc["DoS", "%"] == pytest.approx(100 * 45927 / 125973)


def test_table4_beside_paper():
    X, _, names, _ = _vgm_like(50, 4)
    rng = np.random.default_rng(5)
    rows = pd.concat(
        [vs.table4_difference(X, X + rng.normal(0, 0.01, X.shape), names, seed=s) for s in (0, 1, 2)],
        ignore_index=True,
    )
    summary = vs.table4_beside_paper(rows)
    assert len(summary) == X.shape[1] and (summary["n_seeds"] == 3).all()
    duration = summary.set_index("feature").loc["duration"]
    assert duration["diff_std"] == pytest.approx(duration["std_mean"] - 0.1706)
    assert summary.loc[~summary["highlighted"], "diff_mean"].isna().all()
