"""Tables 5 and 6 machinery on small data with a fake generator: shapes, sharing, known answers."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.datasets import make_classification

import idsynth.experiments.vgm_augment as augment
from idsynth.experiments.classifier_runs import FitTask, run_fits
from idsynth.experiments.vgm_augment import (
    REPETITION_SCENARIOS,
    SCENARIOS,
    accuracy_table,
    paper_table5_fragments,
    run_augmentation,
    synthetic_parts,
)
from idsynth.experiments.vgm_oversample import (
    classification_scores,
    paired_comparison,
    paper_table6,
    run_oversampling,
)
from sampling_fakes import ClassGaussianGenerator

FAST = ("Logistic Regression", "Random Forest")


@pytest.fixture(scope="module")
def splits():
    X, y = make_classification(
        n_samples=900, n_features=10, n_informative=6, n_classes=4, n_clusters_per_class=1,
        weights=[0.55, 0.3, 0.1, 0.05], class_sep=1.2, random_state=1,
    )
    X = ((X - X.min(0)) / (X.max(0) - X.min(0))).astype(np.float32)
    return X[:600], y[:600], X[600:], y[600:]


@pytest.fixture(scope="module")
def generators(splits):
    X, y, _, _ = splits
    return {opt: ClassGaussianGenerator(jitter=0.02 * i, random_state=i).fit(X, y) for i, opt in enumerate("ABC")}


# -- shared fitting ----------------------------------------------------------------------------
def test_run_fits_keeps_task_order_refuses_duplicates_and_parallel_equals_serial(splits):
    X, y, X_test, _ = splits
    tasks = [FitTask(name, seed, "set", [(X, y)]) for name in FAST for seed in (0, 1)]
    serial = run_fits(tasks, X_test, n_jobs=1)
    parallel = run_fits(tasks, X_test, n_jobs=2)
    assert [(r.classifier, r.seed) for r in serial] == [(t.classifier, t.seed) for t in tasks]
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a.y_pred, b.y_pred)
        assert a.n_rows == len(y)
    with pytest.raises(ValueError, match="identical fits"):
        run_fits(tasks + tasks[:1], X_test)


# -- Table 5 -----------------------------------------------------------------------------------
def test_synthetic_parts_same_labels_and_balancing(splits, generators):
    X, y, _, _ = splits
    parts = synthetic_parts(generators["C"], X, y, seed=0)
    (x0, y0), copy_1 = parts["plus_1_synthetic"]
    assert x0 is X and Counter(copy_1[1]) == Counter(y)
    assert parts["plus_2_synthetic"][1] is copy_1  # the second scenario extends the first
    assert Counter(parts["plus_2_synthetic"][2][1]) == Counter(y)
    assert not np.array_equal(parts["plus_2_synthetic"][2][0], copy_1[0])
    balanced = np.concatenate([p[1] for p in parts["plus_balancing"]])
    assert set(Counter(balanced).values()) == {max(Counter(y).values())}
    again = synthetic_parts(generators["C"], X, y, seed=0)
    np.testing.assert_array_equal(again["plus_balancing"][1][0], parts["plus_balancing"][1][0])


def test_table5_long_form_with_shared_fits(splits, generators, monkeypatch):
    X, y, X_test, y_test = splits
    n_tasks = []

    def counting_run_fits(tasks, *args, **kwargs):
        n_tasks.append(len(tasks))
        return run_fits(tasks, *args, **kwargs)

    monkeypatch.setattr(augment, "run_fits", counting_run_fits)
    frame = run_augmentation(X, y, X_test, y_test, generators, seeds=[0, 1], classifiers=FAST)
    # 2 classifiers x 2 seeds x (3 shared + 3 options x 3 generator scenarios) fits.
    assert n_tasks == [2 * 2 * (3 + 3 * 3)]
    assert len(frame) == 3 * 2 * 6 * 2
    assert list(frame.columns[:5]) == ["option", "classifier", "scenario", "seed", "accuracy"]
    assert frame["accuracy"].between(0, 1).all()
    n = len(y)
    expected_rows = {"original": n, "original_x2": 2 * n, "original_x3": 3 * n, "plus_1_synthetic": 2 * n,
                     "plus_2_synthetic": 3 * n, "plus_balancing": 4 * max(Counter(y).values())}  # fmt: skip
    assert frame.groupby("scenario", observed=True)["n_train"].unique().map(list).to_dict() == {
        s: [v] for s, v in expected_rows.items()
    }
    shared = frame[frame["scenario"].isin(REPETITION_SCENARIOS)]
    assert shared.groupby(["classifier", "scenario", "seed"], observed=True)["accuracy"].nunique().max() == 1
    # Logistic regression is deterministic: the "original" accuracy is that of a direct fit.
    from sklearn.linear_model import LogisticRegression

    direct = LogisticRegression(random_state=0).fit(X, y).score(X_test, y_test)
    row = frame.query("option == 'A' and classifier == 'Logistic Regression' and scenario == 'original' and seed == 0")
    assert row["accuracy"].item() == pytest.approx(direct)
    table = accuracy_table(frame)
    assert list(table.columns) == list(SCENARIOS) and len(table) == 2 * 3


def test_table5_accepts_a_per_seed_generator_source(splits):
    X, y, X_test, y_test = splits
    seen = []

    def source(option, seed):
        seen.append((option, seed))
        return ClassGaussianGenerator(random_state=seed).fit(X, y)

    frame = run_augmentation(X, y, X_test, y_test, source, seeds=[3], options=("C",), classifiers=FAST[:1])
    assert seen == [("C", 3)] and len(frame) == 6


def test_paper_table5_fragments_are_the_readable_values():
    frag = paper_table5_fragments()
    assert set(frag["scenario"]) <= set(SCENARIOS)
    rf = frag.query("classifier == 'Random Forest' and option == 'A'").set_index("scenario")["accuracy"]
    assert rf["original"] == 0.7388 and rf["plus_1_synthetic"] == 0.7324


# -- Table 6 -----------------------------------------------------------------------------------
def test_classification_scores_known_answer():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 0])
    s = classification_scores(y_true, y_pred, [0, 1, 2])
    assert s["accuracy"] == pytest.approx(4 / 6)
    assert s["recall"] == pytest.approx({0: 2 / 3, 1: 1.0, 2: 0.0})
    # F1 per class: 0 -> p 2/3 r 2/3 = 2/3; 1 -> p 2/3 r 1 = 0.8; 2 -> 0.
    assert s["f1_macro"] == pytest.approx((2 / 3 + 0.8 + 0) / 3)
    assert s["f1_weighted"] == pytest.approx((3 * 2 / 3 + 2 * 0.8 + 0) / 6)


def test_table6_run_frames(splits):
    X, y, X_test, y_test = splits
    run = run_oversampling(
        X, y, X_test, y_test, seeds=[0, 1], methods=("VGM", "SMOTE", "EasyEnsemble"), classifiers=FAST,
        generator_factory=lambda seed: ClassGaussianGenerator(random_state=seed),
        class_names=["a", "b", "c", "d"], verbose=False,
    )
    assert len(run.scores) == 3 * 2 * 2 and run.total_seconds > 0
    assert set(run.recall["class"]) == {"a", "b", "c", "d"} and len(run.recall) == 4 * len(run.scores)
    # accuracy = sum over classes of recall x class share (a known identity)
    shares = np.bincount(y_test) / len(y_test)
    for _, row in run.scores.iterrows():
        rec = run.recall.query("method == @row.method and classifier == @row.classifier and seed == @row.seed")
        assert row["accuracy"] == pytest.approx(float(rec["recall"].to_numpy() @ shares))
    easy = run.samplers.query("method == 'EasyEnsemble'")
    assert (easy["rows"] == 10 * 4 * np.bincount(y).min()).all()
    comparison = paired_comparison(run.scores)
    assert set(comparison["method"]) == {"SMOTE", "EasyEnsemble"}
    assert set(comparison["classifier"]) == {*FAST, "Average"}


def test_paired_comparison_known_answer():
    rng = np.random.default_rng(0)
    rows = []
    noise = {"RF": rng.normal(0, 0.002, 5), "LR": rng.normal(0, 0.002, 5)}
    for seed in range(5):
        for clf, shift in (("RF", 0.02), ("LR", 0.0)):
            base = 0.75 + 0.01 * seed
            rows.append({"method": "SMOTE", "classifier": clf, "seed": seed, "accuracy": base})
            rows.append({"method": "VGM", "classifier": clf, "seed": seed, "accuracy": base + shift + noise[clf][seed]})
    result = paired_comparison(pd.DataFrame(rows)).set_index("classifier")
    rf = result.loc["RF"]
    assert rf["mean_diff"] == pytest.approx(0.02 + noise["RF"].mean())
    assert rf["std_diff"] == pytest.approx(noise["RF"].std(ddof=1))
    assert rf["wins"] == 5 and rf["better_beyond_noise"]
    vgm = [r["accuracy"] for r in rows if r["method"] == "VGM" and r["classifier"] == "RF"]
    smote = [r["accuracy"] for r in rows if r["method"] == "SMOTE" and r["classifier"] == "RF"]
    assert rf["p_value"] == pytest.approx(stats.ttest_rel(vgm, smote).pvalue)
    assert not result.loc["LR", "better_beyond_noise"]
    assert result.loc["Average", "mean_diff"] == pytest.approx((0.02 + noise["RF"].mean() + noise["LR"].mean()) / 2)
    with pytest.raises(ValueError, match="reference"):
        paired_comparison(pd.DataFrame(rows), reference="GAN")


def test_paper_table6_transcription_matches_its_average_columns():
    paper = paper_table6()
    averages = paper.groupby("method")[["accuracy", "f1_weighted"]].mean()
    printed = {  # the paper's "Average Accuracy" and "Average F1" columns
        "VGM": (0.7685, 0.7410), "SMOTE": (0.7642, 0.7353), "BorderlineSMOTE": (0.7597, 0.7268),
        "SMOTEENN": (0.7574, 0.7243), "SMOTETomek": (0.7605, 0.7294), "SVMSMOTE": (0.7663, 0.7399),
        "EasyEnsemble": (0.7656, 0.7390), "ADASYN": (0.7536, 0.7205),
    }  # fmt: skip
    for method, (acc, f1) in printed.items():
        assert averages.loc[method, "accuracy"] == pytest.approx(acc, abs=1.5e-4)
        assert averages.loc[method, "f1_weighted"] == pytest.approx(f1, abs=1.5e-4)
