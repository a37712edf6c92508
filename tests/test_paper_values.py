import numpy as np
import pytest

from idsynth.experiments import paper_values as pv
from idsynth.metrics.classifiers import CLASSIFIER_NAMES

# KDDTrain+ class counts (TARGETS.md): the row totals of every Table 3 panel.
TRAIN_COUNTS = {"DoS": 45927, "Normal": 67343, "Probe": 11656, "R2L": 995, "U2R": 52}


def _value(frame, column="paper", **keys):
    mask = np.ones(len(frame), dtype=bool)
    for k, v in keys.items():
        mask &= frame[k] == v
    assert mask.sum() == 1, keys
    return frame.loc[mask, column].item()


def test_table1():
    t = pv.table1()
    assert list(t.columns) == ["option", "trained_on", "feature", "paper"]
    assert len(t) == 18
    assert not t.duplicated(["option", "trained_on", "feature"]).any()
    assert _value(t, option="C", trained_on="KDDTrain+", feature="service") == 0.88315
    assert _value(t, option="A", trained_on="KDDTest+", feature="flag") == 0.65822
    assert _value(t, option="B", trained_on="KDDTest+", feature="protocol_type") == 0.83747


def test_table2():
    t = pv.table2()
    assert list(t.columns) == ["classifier", "option", "train_on", "predict_on", "paper"]
    assert len(t) == 48
    assert set(t["classifier"]) == set(CLASSIFIER_NAMES)
    assert _value(t, classifier="Linear SVM", option="B", train_on="synthetic", predict_on="real") == 0.09812
    assert _value(t, classifier="MLP", option="C", train_on="real", predict_on="synthetic") == 0.99753
    assert _value(t, classifier="Random Forest", option="C", train_on="synthetic", predict_on="synthetic") == 1.0
    # real -> real does not depend on the option
    rr = t[(t["train_on"] == "real") & (t["predict_on"] == "real")]
    assert (rr.groupby("classifier")["paper"].nunique() == 1).all()


def test_table3_panels_are_consistent_with_table2_and_the_class_counts():
    t = pv.table3()
    assert len(t) == 100
    assert set(t["panel"]) == {"real->synthetic", "real->real", "synthetic->real", "synthetic->synthetic"}
    assert _value(t, panel="real->synthetic", true="DoS", predicted="DoS") == 45712
    assert _value(t, panel="synthetic->real", true="Normal", predicted="R2L") == 1186
    for panel, rows in t.groupby("panel"):
        totals = rows.groupby("true")["paper"].sum().to_dict()
        assert totals == TRAIN_COUNTS, panel
    # the paper's column totals, e.g. synthetic->real predicted R2L = 2128
    col_totals = t[t["panel"] == "synthetic->real"].groupby("predicted")["paper"].sum()
    assert col_totals.to_dict() == {"DoS": 46397, "Normal": 65617, "Probe": 11688, "R2L": 2128, "U2R": 143}
    # real->real is the same fit scored on the same rows as Table 2's MLP R->R accuracy
    rr = t[t["panel"] == "real->real"]
    accuracy = rr.loc[rr["true"] == rr["predicted"], "paper"].sum() / rr["paper"].sum()
    t2 = pv.table2()
    assert accuracy == pytest.approx(_value(t2, classifier="MLP", option="C", train_on="real", predict_on="real"), abs=5e-6)


def test_table4():
    t = pv.table4()
    assert list(t.columns) == ["index", "feature", "kind", "mean", "std"]
    assert len(t) == 40
    assert list(t["index"]) == list(range(1, 21)) + list(range(97, 117))
    assert _value(t, "mean", feature="count") == 0.0253
    assert _value(t, "std", feature="service=whois") == 0.0813
    assert _value(t, "feature", index=97) == "service=red_i"
    assert (t["mean"].abs() < 0.03).all()
    assert t["std"].between(0.004, 0.49).all()


def test_table6():
    t = pv.table6()
    assert list(t.columns) == ["method", "classifier", "accuracy", "f1_weighted"]
    assert len(t) == 8 * 5
    assert _value(t, "accuracy", method="VGM (C)", classifier="MLP") == 0.7926
    assert _value(t, "f1_weighted", method="ADASYN", classifier="Average") == 0.7205
    # the paper's average column is the mean of its four classifiers (to its 4-digit rounding)
    four = t[t["classifier"] != "Average"].groupby("method")[["accuracy", "f1_weighted"]].mean()
    avg = t[t["classifier"] == "Average"].set_index("method")[["accuracy", "f1_weighted"]]
    np.testing.assert_allclose(four.loc[avg.index].to_numpy(), avg.to_numpy(), atol=2e-4)


def test_table5_fragments():
    t = pv.table5_fragments()
    assert list(t.columns) == ["classifier", "option", "scenario", "paper", "reading"]
    assert set(t["scenario"]) <= set(pv.TABLE5_SCENARIOS)
    assert set(t["reading"]) == {"certain", "probable", "unplaced"}
    assert _value(t, classifier="Random Forest", option="A", scenario="original") == 0.7388
    assert _value(t, classifier="MLP", option="C", scenario="original") == 0.7752
    assert _value(t, option="C", scenario="original + balancing synthetic") == 0.7549


def test_table_i():
    t = pv.table_i()
    assert len(t) == 6
    assert list(t.columns) == ["dataset", "model", "detectability", "precision", "recall", "density", "coverage", "auc"]
    assert _value(t, "coverage", dataset="CIC-IDS-2017", model="TabSyn") == 0.3814
    assert _value(t, "auc", dataset="NSL-KDD", model="MAGE-ID") == 0.9993


def test_frames_are_fresh_copies():
    a = pv.table1()
    a.loc[0, "paper"] = -1.0
    assert pv.table1().loc[0, "paper"] != -1.0
