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
    paper_table5,
    paper_table5_unplaced,
    run_augmentation,
    synthetic_parts,
)
from idsynth.experiments.vgm_oversample import (
    classification_scores,
    other_backend_mlp,
    paired_comparison,
    paper_table6,
    run_oversampling,
)
from idsynth.experiments.oversampling import balanced_training_set
from sampling_fakes import ClassGaussianGenerator

FAST = ("Logistic Regression", "Linear SVM")


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
    plus_1, plus_2, plus_balancing = SCENARIOS[3:]
    parts = synthetic_parts(generators["C"], X, y, seed=0)
    assert set(parts) == {plus_1, plus_2, plus_balancing}
    (x0, y0), copy_1 = parts[plus_1]
    assert x0 is X and Counter(copy_1[1]) == Counter(y)
    assert parts[plus_2][1] is copy_1  # the second scenario extends the first
    assert Counter(parts[plus_2][2][1]) == Counter(y)
    assert not np.array_equal(parts[plus_2][2][0], copy_1[0])
    balanced = np.concatenate([p[1] for p in parts[plus_balancing]])
    assert set(Counter(balanced).values()) == {max(Counter(y).values())}
    again = synthetic_parts(generators["C"], X, y, seed=0)
    np.testing.assert_array_equal(again[plus_balancing][1][0], parts[plus_balancing][1][0])


def test_table5_long_form_with_shared_fits(splits, generators, monkeypatch):
    X, y, X_test, y_test = splits
    n_tasks = []

    def counting_run_fits(tasks, *args, **kwargs):
        n_tasks.append(len(tasks))
        return run_fits(tasks, *args, **kwargs)

    monkeypatch.setattr(augment, "run_fits", counting_run_fits)
    frame = run_augmentation(X, y, X_test, y_test, generators, seeds=[0, 1], classifiers=FAST)
    # Per seed, one parallel batch: 2 classifiers x (3 shared + 3 options x 3 generator scenarios) fits.
    assert n_tasks == [2 * (3 + 3 * 3)] * 2
    assert len(frame) == 3 * 2 * 6 * 2
    assert list(frame.columns[:5]) == ["option", "classifier", "scenario", "seed", "accuracy"]
    assert frame["accuracy"].between(0, 1).all()
    n = len(y)
    expected_rows = dict(zip(SCENARIOS, (n, 2 * n, 3 * n, 2 * n, 3 * n, 4 * max(Counter(y).values()))))
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


def test_paper_table5_placed_and_unplaced_fragments():
    frag = paper_table5()
    assert set(frag["scenario"]) <= set(SCENARIOS) and set(frag["classifier"]) <= {"Random Forest", "MLP"}
    rf = frag.query("classifier == 'Random Forest' and option == 'A'").set_index("scenario")["accuracy"]
    assert rf[SCENARIOS[0]] == 0.7388 and rf[SCENARIOS[3]] == 0.7324
    assert paper_table5_unplaced()["paper"].tolist() == [0.7549]


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


def test_paper_table6_in_our_method_names():
    from idsynth.experiments.oversampling import OVERSAMPLER_NAMES
    from idsynth.experiments.paper_values import table6

    paper = paper_table6()
    assert list(paper["method"].unique()) == list(OVERSAMPLER_NAMES)  # same methods, the paper's row order
    assert len(paper) == 8 * 4 and paper[["accuracy", "f1_weighted"]].notna().all().all()
    vgm = paper.query("method == 'VGM'").set_index("classifier")
    assert vgm.loc["MLP", "accuracy"] == 0.7926 and vgm.loc["Random Forest", "f1_weighted"] == 0.6908
    # The four classifiers average to the paper's own "Average" column.
    printed = table6().query("classifier == 'Average'").set_index("method")["accuracy"]
    assert paper.query("method == 'ADASYN'")["accuracy"].mean() == pytest.approx(printed["ADASYN"], abs=1.5e-4)


def test_mlp_backend_agreement_known_answer():
    from idsynth.experiments.vgm_oversample import mlp_backend_agreement

    rows = []
    for seed, (a, b) in enumerate([(0.70, 0.71), (0.72, 0.70), (0.71, 0.72)]):
        rows += [{"method": "SMOTE", "seed": seed, "backend": "torch", "accuracy": a},
                 {"method": "SMOTE", "seed": seed, "backend": "sklearn", "accuracy": b},
                 {"method": "VGM", "seed": seed, "backend": "torch", "accuracy": a + 0.1},
                 {"method": "VGM", "seed": seed, "backend": "sklearn", "accuracy": b}]  # fmt: skip
    out = mlp_backend_agreement(pd.DataFrame(rows)).set_index("method")
    se = np.sqrt(np.var([0.70, 0.72, 0.71], ddof=1) / 3 + np.var([0.71, 0.70, 0.72], ddof=1) / 3)
    assert out.loc["SMOTE", "diff"] == pytest.approx(0.0, abs=1e-12)
    assert out.loc["SMOTE", "se_diff"] == pytest.approx(se)
    assert out.loc["SMOTE", "agree"] and not out.loc["VGM", "agree"]
    one_seed = mlp_backend_agreement(pd.DataFrame(rows[:2]), floor=0.02)
    assert one_seed["tolerance"].item() == 0.02 and one_seed["agree"].item()
    with pytest.raises(ValueError, match="both backends"):
        mlp_backend_agreement(pd.DataFrame(rows).query("backend == 'torch'"))


def test_figures_are_written(splits, generators, tmp_path):
    from idsynth.experiments.augment_plots import plot_augmentation, plot_oversamplers

    X, y, X_test, y_test = splits
    run = run_oversampling(X, y, X_test, y_test, seeds=[0], methods=("VGM", "SMOTE"), classifiers=FAST[:1],
                           generator_factory=lambda s: ClassGaussianGenerator(random_state=s), verbose=False)  # fmt: skip
    fig = plot_oversamplers(run.scores, run.recall, paper_table6(), ["VGM", "SMOTE"], [0, 1, 2, 3], tmp_path / "t6.png")
    assert (tmp_path / "t6.png").stat().st_size > 10_000 and len(fig.axes) == 4  # 3 panels + colour bar
    frame = run_augmentation(X, y, X_test, y_test, generators, seeds=[0], options=("C",), classifiers=FAST[:1])
    fig = plot_augmentation(frame, paper_table5(), SCENARIOS, tmp_path / "t5.png")
    assert (tmp_path / "t5.png").stat().st_size > 10_000 and len(fig.axes) == 1


def test_finished_seeds_come_from_the_cache(splits, tmp_path, monkeypatch):
    import idsynth.experiments.vgm_oversample as oversample
    from idsynth.cache import ArtifactCache

    X, y, X_test, y_test = splits
    made = []
    real = oversample.balanced_training_set

    def counting(method, *args, **kwargs):
        made.append((method, args[2]))
        return real(method, *args, **kwargs)

    monkeypatch.setattr(oversample, "balanced_training_set", counting)
    cache = ArtifactCache(tmp_path)
    kwargs = dict(methods=("SMOTE",), classifiers=FAST[:1], verbose=False, cache=cache, cache_config={"what": "test"})
    first = run_oversampling(X, y, X_test, y_test, seeds=[0], **kwargs)
    assert made == [("SMOTE", 0)]
    both = run_oversampling(X, y, X_test, y_test, seeds=[0, 1], **kwargs)
    assert made == [("SMOTE", 0), ("SMOTE", 1)]  # seed 0 reused, seed 1 made
    pd.testing.assert_frame_equal(both.scores[both.scores["seed"] == 0].reset_index(drop=True), first.scores)
    pd.testing.assert_frame_equal(both.recall[both.recall["seed"] == 0].reset_index(drop=True), first.recall)
    assert first.reused_seeds == () and both.reused_seeds == (0,)
    assert both.recorded_seconds["fits"] == pytest.approx(both.scores["fit_seconds"].sum())
    assert both.recorded_seconds["resampling"] == pytest.approx(both.samplers["seconds"].sum())
    run_oversampling(X, y, X_test, y_test, seeds=[0], **dict(kwargs, cache_config={"what": "other"}))
    run_oversampling(X[1:], y[1:], X_test, y_test, seeds=[0], **kwargs)
    assert made[2:] == [("SMOTE", 0), ("SMOTE", 0)]  # another configuration, other data: made again


def test_other_backend_mlp_rebuilds_the_sets_and_is_cached(splits, tmp_path, monkeypatch):
    import idsynth.experiments.vgm_oversample as oversample
    from idsynth.cache import ArtifactCache

    X, y, X_test, y_test = splits
    backends = []
    real = oversample.run_fits

    def recording(tasks, *args, **kwargs):
        backends.append(kwargs["mlp_backend"])
        return real(tasks, *args, **kwargs)

    monkeypatch.setattr(oversample, "run_fits", recording)
    cache = ArtifactCache(tmp_path)
    kwargs = dict(mlp_backend="torch", n_jobs=1, device="cpu", cache=cache, cache_config={"what": "test"})
    other = other_backend_mlp(X, y, X_test, y_test, [0, 1], ["SMOTE", "EasyEnsemble"], **kwargs)
    assert backends == ["sklearn", "sklearn"] and len(other) == 4 and set(other["backend"]) == {"sklearn"}
    assert other["accuracy"].between(0, 1).all() and (other["fit_seconds"] > 0).all()
    # the same balanced set as the table's: the sklearn MLP fitted here equals one fitted on it directly
    X_bal, y_bal, _ = balanced_training_set("SMOTE", X, y, 1, 1, None, device="cpu")
    direct = real([FitTask("MLP", 1, "SMOTE", [(X_bal, y_bal)])], X_test, n_jobs=1, mlp_backend="sklearn")[0]
    row = other[(other["method"] == "SMOTE") & (other["seed"] == 1)].iloc[0]
    assert row["accuracy"] == np.mean(direct.y_pred == y_test)
    again = other_backend_mlp(X, y, X_test, y_test, [0, 1], ["SMOTE", "EasyEnsemble"], **kwargs)
    assert backends == ["sklearn", "sklearn"]  # both seeds from the cache
    pd.testing.assert_frame_equal(again, other)


def test_table5_seeds_come_from_the_cache(splits, generators, tmp_path, monkeypatch):
    from idsynth.cache import ArtifactCache

    X, y, X_test, y_test = splits
    fitted_seeds = []
    real = augment.run_fits

    def counting(tasks, *args, **kwargs):
        fitted_seeds.append(sorted({task.seed for task in tasks}))
        return real(tasks, *args, **kwargs)

    monkeypatch.setattr(augment, "run_fits", counting)
    kwargs = dict(options=("C",), classifiers=FAST[:1], cache=ArtifactCache(tmp_path), cache_config={"what": "test"})
    first = run_augmentation(X, y, X_test, y_test, generators, seeds=[0], **kwargs)
    both = run_augmentation(X, y, X_test, y_test, generators, seeds=[0, 1], **kwargs)
    assert fitted_seeds == [[0], [1]]  # seed 0 reused
    pd.testing.assert_frame_equal(both[both["seed"] == 0].reset_index(drop=True), first)
    plain = run_augmentation(X, y, X_test, y_test, generators, seeds=[0], options=("C",), classifiers=FAST[:1])
    assert fitted_seeds[-1] == [0]
    pd.testing.assert_frame_equal(plain.drop(columns="fit_seconds"), first.drop(columns="fit_seconds"))


def test_hard_category_rows_are_scored_like_vgm_and_cached(splits, tmp_path):
    from idsynth.cache import ArtifactCache
    from idsynth.experiments.vgm_oversample import HARD_CATEGORY_NAMES, run_hard_categories

    X, y, X_test, y_test = splits
    X = X.copy()
    X[:, -3:] = np.eye(3)[np.arange(len(X)) % 3]  # the last three columns: one one-hot block
    X_test = X_test.copy()
    X_test[:, -3:] = np.eye(3)[np.arange(len(X_test)) % 3]
    generator = ClassGaussianGenerator(jitter=0.3).fit(X, y)
    d = X.shape[1]
    kwargs = dict(classifiers=FAST[:1], verbose=False, n_jobs=1, cache=ArtifactCache(tmp_path), cache_config={"t": 1})
    run = run_hard_categories(X, y, X_test, y_test, [0, 1], lambda seed: generator, [(d - 3, d)], **kwargs)
    assert set(run.scores["method"]) == set(HARD_CATEGORY_NAMES.values()) and len(run.scores) == 2 * 2
    assert run.reused_seeds == () and set(run.samplers["method"]) == set(HARD_CATEGORY_NAMES.values())
    again = run_hard_categories(X, y, X_test, y_test, [0, 1], lambda seed: generator, [(d - 3, d)], **kwargs)
    assert again.reused_seeds == (0, 1)
    pd.testing.assert_frame_equal(again.scores, run.scores)
