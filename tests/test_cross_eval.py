"""Cross-evaluation: SMOTE and VGM as generators of typed frames (Table I), generators of typed
frames as over-samplers (Table 6), the CSV merges, the ranking, the discussion and the figure."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from idsynth.cache import ArtifactCache
from idsynth.config import get_profile
from idsynth.data.mageid_sets import sample_binary_set
from idsynth.data.nslkdd import CATEGORICAL, CATEGORIES, FEATURES, INTEGER, EncodedSplits, vgm_encoder
from idsynth.data.schema import Schema
from idsynth.experiments import vgm_oversample
from idsynth.experiments.cross_eval import (
    SMOTE_NAME, TABLE_I_MODELS, VGM_NAME, balanced_frame, check_table6_settings, class_recall_wide,
    fit_table6_generator, generator_setting, merge_rows, run_generator_oversampling, run_table_i, sampling_overrides,
    settings_against_code, smote_factory, table6_average, table6_beside_paper, table6_factories,
    table6_generator_config, table6_generators_to_run, table6_training_frame, table_i_factories, update_table6_tables,
    vgm_c_factory, with_paper_rows,
)
from idsynth.experiments.cross_eval_figures import plot_ranking
from idsynth.experiments.cross_eval_report import (
    best_by_column, column_order, discussion, generator_scores, paired_lead, rank_generators, rank_matrix,
)
from idsynth.experiments.table_i import METRICS, generator_params, table_i_long
from idsynth.experiments.vgm_oversample import OversamplingRun
from idsynth.metrics.classifiers import CLASSIFIER_NAMES
from idsynth.models.base import class_counts
from idsynth.models.encoded_frame import EncodedFrameGenerator
from idsynth.models.smote_generator import SMOTEGenerator
from idsynth.models.vgm import VGM
from sampling_fakes import ClassFrameGenerator

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: one torch/BLAS thread

TINY_VGM = {"latent_dim": 3, "encoder_units": (16,), "decoder_units": (16,), "label_repeat": 2, "label_units": 8,
            "epochs": 2, "batch_size": 64}  # fmt: skip


def typed_frame(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, Schema]:
    """Two classes of typed rows: attacks have large byte counts and are mostly udp."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    frame = pd.DataFrame({
        "bytes": np.where(y == 1, rng.integers(5000, 6000, n), rng.integers(0, 1000, n)).astype(np.int64),
        "rate": np.where(y == 1, 0.8, 0.2) + 0.1 * rng.random(n),
        "proto": np.where((y == 1) & (rng.random(n) < 0.9), "udp", rng.choice(["tcp", "icmp"], n)),
        "flag": rng.choice(["SF", "S0", "REJ"], n),
    })  # fmt: skip
    return frame, y, Schema(numeric=("bytes", "rate"), integer=("bytes",), categorical=("proto", "flag"))


def tiny_vgm(**kw) -> VGM:
    return VGM(option="C", **TINY_VGM, device="cpu", verbose=False, **kw)


# --- SMOTEGenerator --------------------------------------------------------------------------------


def test_smote_rows_lie_between_same_class_rows_and_counts_follow_the_mapping():
    rng = np.random.default_rng(0)
    # class 0 on the line y = 0, class 1 on the line y = 1: interpolations stay on their line
    X = np.column_stack([rng.random(60), np.repeat([0.0, 1.0], 30)])
    y = np.repeat(["normal", "attack"], 30)
    smote = SMOTEGenerator(k_neighbors=5).fit(X, y)
    X_new, y_new = smote.sample({"attack": 100, "normal": 7}, random_state=0)
    assert list(y_new) == ["attack"] * 100 + ["normal"] * 7  # the mapping's order
    assert (X_new[y_new == "attack", 1] == 1.0).all() and (X_new[y_new == "normal", 1] == 0.0).all()
    for label in ("attack", "normal"):
        real = X[y == label, 0]
        assert real.min() <= X_new[y_new == label, 0].min() and X_new[y_new == label, 0].max() <= real.max()
    # many more rows than the class holds in one call: SMOTE draws its base rows with replacement
    X_many, _ = smote.sample({"normal": 500}, random_state=1)
    assert X_many.shape == (500, 2) and len(np.unique(X_many[:, 0])) > 400


def test_smote_is_deterministic_per_seed_and_survives_save_load(tmp_path):
    X, y = np.random.default_rng(1).random((80, 4)), np.repeat([0, 1], 40)
    smote = SMOTEGenerator().fit(X, y)
    a, _ = smote.sample({0: 30, 1: 20}, random_state=3)
    b, _ = smote.sample({0: 30, 1: 20}, random_state=3)
    c, _ = smote.sample({0: 30, 1: 20}, random_state=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    smote.save(tmp_path / "smote.pt")
    again, y_again = SMOTEGenerator.load(tmp_path / "smote.pt").sample({0: 30, 1: 20}, random_state=3)
    np.testing.assert_array_equal(again, a)
    assert list(y_again) == [0] * 30 + [1] * 20


def test_smote_refuses_bad_input_clearly():
    X, y = np.random.default_rng(2).random((20, 3)), np.repeat([0, 1], 10)
    with pytest.raises(ValueError, match="more than 5 rows per class"):
        SMOTEGenerator().fit(X[:12], np.array([0] * 8 + [1] * 4))
    with pytest.raises(TypeError, match="numbers"):
        SMOTEGenerator().fit(np.array([["a", "b"]] * 20), y)
    with pytest.raises(ValueError, match="k_neighbors"):
        SMOTEGenerator(k_neighbors=0).fit(X, y)
    with pytest.raises(ValueError, match="not seen"):
        SMOTEGenerator().fit(X, y).sample({7: 3})
    with pytest.raises(RuntimeError, match="not fitted"):
        SMOTEGenerator().sample({0: 1})


# --- EncodedFrameGenerator --------------------------------------------------------------------------


def test_encoded_smote_returns_typed_rows_of_the_fit_frame():
    frame, y, schema = typed_frame()
    labels = np.where(y == 1, "attack", "normal")
    gen = EncodedFrameGenerator(SMOTEGenerator(), schema.numeric, schema.categorical, schema.integer).fit(frame, labels)
    counts = {"normal": 150, "attack": 60}
    out, y_out = gen.sample(counts, random_state=0)
    assert list(out.columns) == ["bytes", "rate", "proto", "flag"]
    assert class_counts(y_out) == {"attack": 60, "normal": 150}
    assert out.dtypes.to_dict() == frame[out.columns].dtypes.to_dict()
    attack = out[y_out == "attack"]
    assert attack["bytes"].between(5000, 6000).all() and attack["rate"].between(0.8, 0.9).all()
    assert set(out["proto"]) <= {"udp", "tcp", "icmp"} and set(out["flag"]) <= {"SF", "S0", "REJ"}
    assert (attack["proto"] == "udp").mean() > 0.7  # the class's category mix survives one-hot interpolation


def test_encoded_vgm_gets_its_widths_from_the_data_and_reloads_identically(tmp_path):
    frame, y, schema = typed_frame()
    gen = EncodedFrameGenerator(tiny_vgm(random_state=0), schema.numeric, schema.categorical, schema.integer)
    gen.fit(frame, y)
    width = 2 + frame["proto"].nunique() + frame["flag"].nunique()
    assert (gen.generator_.n_features, gen.generator_.n_classes, gen.generator_.continuous_features) == (width, 2, 2)
    assert gen.generator.n_features == 116  # the template is not modified
    out, y_out = gen.sample({0: 40, 1: 10}, random_state=5)
    assert list(y_out) == [0] * 40 + [1] * 10 and out["bytes"].between(0, frame["bytes"].max()).all()
    gen.save(tmp_path / "gen.pt")
    loaded = EncodedFrameGenerator.load(tmp_path / "gen.pt", device="cpu")
    pd.testing.assert_frame_equal(loaded.sample({0: 40, 1: 10}, random_state=5)[0], out)
    assert loaded.generator_.n_features == width


def test_encoded_frame_generator_refuses_bad_input_clearly():
    frame, y, schema = typed_frame(60)
    with pytest.raises(TypeError, match="one of"):
        EncodedFrameGenerator(ClassFrameGenerator(), schema.numeric, schema.categorical).fit(frame, y)
    with pytest.raises(TypeError, match="DataFrame"):
        EncodedFrameGenerator(SMOTEGenerator(), schema.numeric, schema.categorical).fit(frame.to_numpy(), y)
    with pytest.raises(ValueError, match="feature columns; missing"):
        EncodedFrameGenerator(SMOTEGenerator(), ("bytes", "nope"), schema.categorical).fit(frame, y)
    with pytest.raises(ValueError, match="shape"):
        EncodedFrameGenerator(SMOTEGenerator(), schema.numeric, schema.categorical).fit(frame, y[:-1])
    fitted = EncodedFrameGenerator(SMOTEGenerator(), schema.numeric, schema.categorical).fit(frame, y)
    with pytest.raises(ValueError, match="not seen"):
        fitted.sample({"other": 3})
    with pytest.raises(RuntimeError, match="not fitted"):
        EncodedFrameGenerator(SMOTEGenerator(), schema.numeric, schema.categorical).sample({0: 1})


def test_cache_key_of_a_wrapped_generator_ignores_the_device_but_not_the_schedule():
    _, _, schema = typed_frame(10)
    key = lambda vgm: generator_params(EncodedFrameGenerator(vgm, schema.numeric, schema.categorical))  # noqa: E731
    assert key(VGM(device="cpu", verbose=False)) == key(VGM(device="cuda", verbose=True, cuda_graph=False))
    assert key(VGM(epochs=2)) != key(VGM(epochs=3))
    assert key(VGM())["generator"]["class"] == "idsynth.models.vgm.VGM"


# --- Table I rows through the shared harness -------------------------------------------------------


def toy_set(n_rows: int = 500):
    frame, y, schema = typed_frame(2000, seed=7)
    return sample_binary_set(frame, list(schema.features), y.astype(bool), np.where(y == 1, "attack", "normal"),
                             name="NSL-KDD", schema=schema, class_names=("Normal", "Attack"), n_rows=n_rows,
                             seed=0)  # fmt: skip


def test_table_i_rows_for_vgm_c_and_smote(tmp_path):
    nsl = toy_set()
    factories = table_i_factories(nsl.schema, {"epochs": 2, "batch_size": 100}, device="cpu")
    make_vgm = factories[VGM_NAME]
    vgm = make_vgm(3).generator
    assert (vgm.option, vgm.epochs, vgm.batch_size, vgm.random_state, vgm.latent_dim) == ("C", 2, 100, 3, 25)
    cache = ArtifactCache(tmp_path)
    long, synthetic = run_table_i(nsl, [0], factories, cache, max_rows=None, k=3, n_splits=2)
    assert list(long["model"]) == list(table_i_long(long)["model"]) and set(long["model"]) == set(TABLE_I_MODELS)
    real = class_counts(nsl.xy("train")[1])
    for (name, _), (frame, y) in synthetic.items():
        assert class_counts(y) == real and list(frame.columns) == nsl.features
    smote = long.set_index("model").loc[SMOTE_NAME]
    # SMOTE interpolates real neighbours: high precision, and a detector trained on it works
    assert smote["precision"] > 0.8 and smote["auc"] > 0.9
    for m in METRICS:
        assert long[m].ge(0).all() and (m == "density" or long[m].le(1).all())
    again, _ = run_table_i(nsl, [0], {SMOTE_NAME: smote_factory(nsl.schema)}, cache, max_rows=None, k=3, n_splits=2)
    assert again.loc[0, METRICS[0]] == smote[METRICS[0]]  # cached synthetic set, same score
    with pytest.raises(TypeError, match="Schema"):
        vgm_c_factory("not a schema", {})


# --- Table 6 with generators of typed frames -------------------------------------------------------


class PicklableFrameGenerator(ClassFrameGenerator):
    """ClassFrameGenerator with the save/load the cache needs; counts its fits."""

    fits = 0

    def fit(self, X, y):
        type(self).fits += 1
        return super().fit(X, y)

    def save(self, path) -> None:
        with open(path, "wb") as fh:
            pickle.dump(self.__dict__, fh)

    @classmethod
    def load(cls, path) -> "PicklableFrameGenerator":
        out = cls.__new__(cls)
        with open(path, "rb") as fh:
            out.__dict__.update(pickle.load(fh))
        return out


def fake_splits(n_train: int = 400, n_test: int = 150, seed: int = 0) -> EncodedSplits:
    """KDD-shaped typed rows (the 41 features, five imbalanced classes) and their 116-column
    encoding; the class shifts a few features so that classifiers can learn it."""
    rng = np.random.default_rng(seed)

    def frame(n: int) -> tuple[pd.DataFrame, np.ndarray]:
        y = rng.choice(5, size=n, p=[0.35, 0.45, 0.12, 0.05, 0.03])
        data = {}
        for f in FEATURES:
            if f in CATEGORICAL:
                data[f] = rng.choice({"protocol_type": ["tcp", "udp", "icmp"], "service": ["http", "ftp", "smtp"],
                                      "flag": ["SF", "S0"]}[f], size=n)  # fmt: skip
            elif f in INTEGER:
                data[f] = rng.integers(0, 10, n) + 20 * y
            else:
                data[f] = np.clip(rng.random(n) * 0.2 + 0.2 * y, 0, 1)
        out = pd.DataFrame(data)
        out.loc[y == 1, "protocol_type"] = "icmp"
        return out, y.astype(np.int64)

    train, y_train = frame(n_train)
    test, y_test = frame(n_test)
    encoder = vgm_encoder().fit(pd.concat([train, test]))
    return EncodedSplits(encoder.transform(train), y_train, encoder.transform(test), y_test, train, test, encoder)


def test_fit_table6_generator_caches_the_fitted_model(tmp_path):
    data = fake_splits()
    X, y = data.frame_train[list(FEATURES)], data.y_train
    cache = ArtifactCache(tmp_path)
    PicklableFrameGenerator.fits = 0
    make = lambda s: PicklableFrameGenerator(random_state=s)  # noqa: E731
    first, seconds = fit_table6_generator("fake", make, X, y, 0, cache)
    again, seconds_again = fit_table6_generator("fake", make, X, y, 0, cache)
    assert PicklableFrameGenerator.fits == 1 and seconds == seconds_again and math.isfinite(seconds)
    pd.testing.assert_frame_equal(first.sample({3: 5}, 1)[0], again.sample({3: 5}, 1)[0])
    fit_table6_generator("fake", make, X, y, 1, cache)
    assert PicklableFrameGenerator.fits == 2  # another seed is another model


def test_balanced_frame_keeps_the_real_rows_first_and_reaches_the_majority():
    data = fake_splits()
    X, y = data.frame_train[list(FEATURES)], data.y_train
    gen = PicklableFrameGenerator().fit(X, y)
    X_bal, y_bal, seconds = balanced_frame(gen, X, y, seed=0)
    majority = np.bincount(y).max()
    assert (np.bincount(y_bal) == majority).all() and seconds >= 0
    pd.testing.assert_frame_equal(X_bal.iloc[: len(X)], X.reset_index(drop=True))
    assert X_bal.dtypes.to_dict() == X.dtypes.to_dict()


def test_run_generator_oversampling_trains_the_classifiers_on_real_plus_encoded_synthetic_rows(tmp_path, monkeypatch):
    data = fake_splits()
    seen = []
    original = vgm_oversample.run_fits  # cross_eval's fits go through vgm_oversample.fit_and_score

    def spy(tasks, X_test, **kw):
        seen.extend(tasks)
        return original(tasks, X_test, **kw)

    monkeypatch.setattr(vgm_oversample, "run_fits", spy)
    factories = {"MAGE-ID": lambda s: PicklableFrameGenerator(random_state=s)}
    run = run_generator_oversampling(data, [0, 1], factories, classifiers=("Logistic Regression",), n_jobs=1,
                                     cache=ArtifactCache(tmp_path), verbose=False)  # fmt: skip
    assert isinstance(run, OversamplingRun)
    assert len(run.scores) == 2 and set(run.scores["method"]) == {"MAGE-ID"} and list(run.scores["seed"]) == [0, 1]
    assert len(run.recall) == 2 * len(CATEGORIES) and set(run.recall["class"]) == set(CATEGORIES)
    majority = int(np.bincount(data.y_train).max())
    assert (run.samplers[list(CATEGORIES)] == majority).all().all()
    X_bal, y_bal = seen[0].parts[0]
    assert X_bal.shape == (5 * majority, data.X_train.shape[1]) and ((X_bal >= 0) & (X_bal <= 1)).all()
    np.testing.assert_array_equal(X_bal[: len(data.X_train)], data.X_train)  # real rows, encoded the same way
    np.testing.assert_array_equal(y_bal[: len(data.y_train)], data.y_train)
    # the classes were learnt: each class's synthetic rows carry its shifted integer features
    synthetic = X_bal[len(data.X_train):]
    col = data.encoder.feature_names_.index("count")
    means = [synthetic[y_bal[len(data.y_train):] == c, col].mean() for c in (0, 2, 3, 4)]
    assert means == sorted(means)
    assert run.scores["accuracy"].gt(0.5).all()  # the class signal is strong in the fake data
    with pytest.raises(ValueError, match="seeds"):
        run_generator_oversampling(data, [], factories)


def test_run_generator_oversampling_reuses_finished_seeds_and_refits_when_a_generator_changes(tmp_path, monkeypatch):
    data = fake_splits()
    fits = []
    original = vgm_oversample.run_fits

    def counting(tasks, X_test, **kw):
        fits.extend((t.key, t.seed) for t in tasks)
        return original(tasks, X_test, **kw)

    monkeypatch.setattr(vgm_oversample, "run_fits", counting)
    cache = ArtifactCache(tmp_path)
    options = dict(classifiers=("Logistic Regression",), n_jobs=1, cache=cache, verbose=False)
    factories = {"TabSyn": lambda s: PicklableFrameGenerator(random_state=s)}
    first = run_generator_oversampling(data, [0], factories, **options)
    PicklableFrameGenerator.fits = 0
    both = run_generator_oversampling(data, [0, 1], factories, **options)  # seed 0 from the cache
    assert fits == [("TabSyn", 0), ("TabSyn", 1)] and PicklableFrameGenerator.fits == 1
    pd.testing.assert_frame_equal(both.scores[both.scores["seed"] == 0].reset_index(drop=True), first.scores)
    assert list(both.samplers["seed"]) == [0, 1] and both.samplers["fit_seconds"].notna().all()
    # another generator (class or settings) is another key: seed 0 is fitted and scored again
    class OtherGenerator(PicklableFrameGenerator):
        pass

    run_generator_oversampling(data, [0], {"TabSyn": lambda s: OtherGenerator(random_state=s)}, **options)
    assert fits == [("TabSyn", 0), ("TabSyn", 1), ("TabSyn", 0)]


def test_table6_factories_and_settings():
    smoke = get_profile("smoke")
    factories = table6_factories(smoke["mageid"], smoke["tabddpm"], device="cpu", names=("TabSyn", "TabDDPM"))
    assert list(factories) == ["TabSyn", "TabDDPM"]
    tabsyn = factories["TabSyn"](4)
    assert tabsyn.random_state == 4 and not tabsyn.uses_images
    assert tabsyn.edm["epochs"] == smoke["mageid"]["edm"]["epochs"]
    assert factories["TabDDPM"](4).steps == smoke["tabddpm"]["steps"]
    with pytest.raises(ValueError, match="among"):
        table6_factories(smoke["mageid"], smoke["tabddpm"], names=("VGM",))
    for name in ("paper", "smoke"):
        profile = get_profile(name)
        check_table6_settings(profile["cross_eval"]["table6"], profile["oversample"])  # notebook 04's rows
        assert set(profile["cross_eval"]["table6_generators"]) == {"MAGE-ID", "TabSyn", "TabDDPM"}
    with pytest.raises(ValueError, match="train_rows"):
        check_table6_settings({"train_rows": 10, "test_rows": None, "mlp_backend": "torch"},
                              {"train_rows": None, "test_rows": None, "mlp_backend": "torch"})


# --- merging into the shared CSVs --------------------------------------------------------------------


def scores_frame(methods, seeds=(0,), base=0.7):
    return pd.DataFrame([{"method": m, "classifier": c, "seed": s, "accuracy": base + 0.01 * i,
                          "f1_weighted": base, "f1_macro": base - 0.1, "fit_seconds": 1.0}
                         for i, m in enumerate(methods) for c in CLASSIFIER_NAMES for s in seeds])  # fmt: skip


def test_merge_rows_replaces_equal_keys_and_keeps_the_rest(tmp_path):
    old = scores_frame(["VGM", "SMOTE"], seeds=(0, 1))
    new = scores_frame(["SMOTE", "MAGE-ID"], seeds=(1,), base=0.5).assign(extra=1)
    merged = merge_rows(old, new, ["method", "classifier", "seed"])
    assert len(merged) == len(old) + 4  # SMOTE seed 1 replaced, MAGE-ID added
    smote = merged[merged["method"] == "SMOTE"].set_index("seed")["f1_weighted"]
    assert (smote.loc[0] == 0.7).all() and (smote.loc[1] == 0.5).all()
    assert list(merged.columns)[-1] == "extra" and merged["extra"].isna().sum() == len(old) - 4
    path = tmp_path / "t.csv"
    old.to_csv(path, index=False)
    again = merge_rows(pd.read_csv(path), new, ["method", "classifier", "seed"])  # seeds read back from a CSV
    assert len(again) == len(merged)
    with pytest.raises(ValueError, match="repeat"):
        merge_rows(old, pd.concat([new, new]), ["method", "classifier", "seed"])
    with pytest.raises(ValueError, match="key columns"):
        merge_rows(old, new.drop(columns="seed"), ["method", "classifier", "seed"])


def test_update_table6_tables_adds_rows_beside_notebook_04s(tmp_path):
    (tmp_path / "tables").mkdir()
    scores_frame(["VGM", "SMOTE"]).to_csv(tmp_path / "tables" / "table6_oversamplers.csv", index=False)
    recall = lambda methods: pd.DataFrame([  # noqa: E731
        {"method": m, "classifier": c, "seed": 0, "class": k, "recall": 0.5}
        for m in methods for c in CLASSIFIER_NAMES for k in CATEGORIES])
    run = OversamplingRun(scores_frame(["MAGE-ID"]), recall(["MAGE-ID"]),
                          pd.DataFrame([{"method": "MAGE-ID", "seed": 0, "seconds": 1.0, "rows": 10}]), 1.0)
    merged = update_table6_tables(run, tmp_path)
    assert list(dict.fromkeys(merged["table6_oversamplers"]["method"])) == ["VGM", "SMOTE", "MAGE-ID"]
    markdown = (tmp_path / "tables" / "table6_oversamplers.md").read_text()
    assert "VGM (C)" in markdown and "MAGE-ID" in markdown
    beside = table6_beside_paper(merged["table6_oversamplers"])
    smote_rf = beside[(beside["method"] == "SMOTE") & (beside["classifier"] == "Random Forest")].iloc[0]
    assert smote_rf["accuracy_paper"] == 0.7298 and smote_rf["accuracy_diff"] == pytest.approx(0.71 - 0.7298)
    assert beside.loc[beside["method"] == "MAGE-ID", "accuracy_paper"].isna().all()
    assert list(class_recall_wide(merged["table6_recall"]).columns) == list(CATEGORIES)
    assert "MAGE-ID" in (tmp_path / "tables" / "table6_recall.md").read_text()
    again = update_table6_tables(run, tmp_path)  # a rerun replaces its own rows
    assert len(again["table6_oversamplers"]) == len(merged["table6_oversamplers"])


def test_with_paper_rows_borrows_the_uncut_models_only_where_the_settings_match(tmp_path, monkeypatch):
    monkeypatch.setenv("IDSYNTH_FIGURES", str(tmp_path))  # figures_dir of every profile -> tmp_path
    (tmp_path / "tables").mkdir()
    paper_rows = scores_frame(["VGM", "SMOTE", "MAGE-ID"]).assign(profile="paper")
    paper_rows.to_csv(tmp_path / "tables" / "table6_oversamplers.csv", index=False)
    cpu_rows = scores_frame(["MAGE-ID", "TabDDPM"], base=0.5)
    combined = with_paper_rows(cpu_rows, get_profile("cpu"), "table6_oversamplers", "method")
    # the cpu profile's own MAGE-ID rows stay, the paper's VGM and SMOTE rows join, its MAGE-ID does not
    assert list(dict.fromkeys(combined["method"])) == ["MAGE-ID", "TabDDPM", "VGM", "SMOTE"]
    assert (combined.loc[combined["method"] == "MAGE-ID", "f1_weighted"] == 0.5).all()
    assert (combined.loc[combined["method"] == "VGM", "profile"] == "paper").all()
    # the paper profile itself, and a profile that sets the uncut models otherwise (smoke), borrow nothing
    assert with_paper_rows(cpu_rows, get_profile("paper"), "table6_oversamplers", "method") is cpu_rows
    assert with_paper_rows(cpu_rows, get_profile("smoke"), "table6_oversamplers", "method") is cpu_rows
    assert with_paper_rows(cpu_rows, get_profile("cpu"), "no_such_table", "method") is cpu_rows


def test_table6_average_beside_the_papers_average_column():
    average = table6_average(scores_frame(["MAGE-ID", "VGM", "SMOTE"], seeds=(0, 1)))
    assert list(average["method"]) == ["SMOTE", "VGM (C)", "MAGE-ID"]  # best mean accuracy first
    vgm = average.set_index("method").loc["VGM (C)"]
    assert vgm["accuracy_paper"] == 0.7685 and vgm["accuracy_diff"] == pytest.approx(0.71 - 0.7685)
    assert vgm["accuracy"] == "0.7100 ± 0.0000" and vgm["n_seeds"] == 2
    assert np.isnan(average.set_index("method").at["MAGE-ID", "f1_paper"])


# --- ranking and discussion ----------------------------------------------------------------------------


def table_i_rows(values: dict[str, dict[str, list[float]]], dataset="NSL-KDD") -> pd.DataFrame:
    """{model: {metric: per-seed values}} -> Table I long rows (metrics not given: 0.5)."""
    rows = []
    for model, metrics in values.items():
        n = len(next(iter(metrics.values())))
        for seed in range(n):
            rows.append({"dataset": dataset, "model": model, "seed": seed,
                         **{m: metrics.get(m, [0.5] * n)[seed] for m in METRICS}})  # fmt: skip
    return pd.DataFrame(rows)


def test_generator_scores_average_the_classifiers_and_the_minority_classes():
    scores = scores_frame(["VGM", "MAGE-ID"])
    recall = pd.DataFrame([{"method": m, "classifier": c, "seed": 0, "class": k,
                            "recall": {"R2L": 0.2, "U2R": 0.6}.get(k, 0.9) + (0.1 if c == "MLP" else 0.0)}
                           for m in ("VGM", "MAGE-ID") for c in CLASSIFIER_NAMES for k in CATEGORIES])  # fmt: skip
    long = generator_scores(table_i_rows({"VGM-C": {"precision": [0.4]}}), scores, recall)
    assert set(long["generator"]) == {"VGM-C", "MAGE-ID"}  # Table 6's VGM is Table I's VGM-C
    value = long.set_index(["generator", "column"])["value"]
    assert value[("VGM-C", "Table 6 · R2L+U2R recall")] == pytest.approx(0.4 + 0.1 / 4)
    assert value[("MAGE-ID", "Table 6 · accuracy")] == pytest.approx(0.71)
    assert value[("VGM-C", "Table I · Precision")] == 0.4
    assert generator_scores(None, None, None).empty


def test_density_is_ranked_by_closeness_to_one_and_ties_share_the_best_rank():
    table = table_i_rows({"A": {"density": [1.3], "precision": [0.8]}, "B": {"density": [0.9], "precision": [0.8]},
                          "C": {"density": [0.5], "precision": [0.6]}})  # fmt: skip
    ranks = rank_generators(generator_scores(table, None, None)).set_index(["column", "generator"])["rank"]
    assert [ranks[("Table I · Density", g)] for g in "BAC"] == [1, 2, 3]
    assert [ranks[("Table I · Precision", g)] for g in "ABC"] == [1, 1, 3]


def test_best_by_column_and_paired_lead_know_the_seed_spread():
    table = table_i_rows({"MAGE-ID": {"precision": [0.80, 0.82, 0.84], "recall": [0.5, 0.7, 0.3]},
                          "TabSyn": {"precision": [0.70, 0.71, 0.72], "recall": [0.6, 0.5, 0.4]}})  # fmt: skip
    scores = generator_scores(table, None, None)
    best = best_by_column(rank_generators(scores)).set_index("column")
    precision = best.loc["Table I · Precision"]
    assert precision["best"] == "MAGE-ID" and precision["margin"] == pytest.approx(0.11)
    assert precision["spread"] == pytest.approx(0.02) and precision["beyond_spread"]
    assert not best.loc["Table I · Recall", "beyond_spread"]  # 0.0 margin... within a 0.2 std
    lead = paired_lead(scores, "MAGE-ID", "TabSyn").set_index("column")
    assert lead.loc["Table I · Precision", "mean_diff"] == pytest.approx(0.11)
    assert lead.loc["Table I · Precision", "wins"] == 3 and lead.loc["Table I · Precision", "beyond_spread"]
    assert lead.loc["Table I · Recall", "wins"] == 1 and not lead.loc["Table I · Recall", "beyond_spread"]
    assert paired_lead(scores, "MAGE-ID", "TabDDPM").empty
    # a runner-up with one seed: no spread to compare with, and its value shown without one
    one_seed = table_i_rows({"MAGE-ID": {"precision": [0.80, 0.82, 0.84]}, "TabDDPM": {"precision": [0.5]}})
    mixed = best_by_column(rank_generators(generator_scores(one_seed, None, None))).set_index("column")
    row = mixed.loc["Table I · Precision"]
    assert row["n_seeds"] == 3 and row["runner_up_n_seeds"] == 1 and not row["beyond_spread"]
    text = discussion(generator_scores(one_seed, None, None), None)
    assert "ahead of TabDDPM 0.5000 by" in text and "one of the two has a single seed" in text


def test_column_order_and_rank_matrix():
    table = pd.concat([table_i_rows({"A": {"auc": [0.9]}, "B": {"auc": [0.8]}}, "CIC-IDS-2017"),
                       table_i_rows({"A": {"auc": [0.7]}, "B": {"auc": [0.8]}})])  # fmt: skip
    scores = generator_scores(table, scores_frame(["SMOTE", "VGM"]), None, datasets=("CIC-IDS-2017", "NSL-KDD"))
    order = column_order(scores)
    assert order[0] == "Table I · Detectability" and order[6] == "Table I · Detectability (CIC-IDS-2017)"
    assert order[-2:] == ["Table 6 · accuracy", "Table 6 · macro F1"]
    rank, mean = rank_matrix(rank_generators(scores))
    assert list(rank.columns) == order and np.isnan(rank.at["SMOTE", "Table I · Precision"])
    assert rank.at["VGM-C", "Table 6 · accuracy"] == 1
    assert mean.at["SMOTE", "Table 6 · accuracy"] == pytest.approx(0.7)


def test_discussion_reports_winners_and_missing_rows_from_the_numbers():
    table = table_i_rows({"MAGE-ID": {"precision": [0.9, 0.91]},
                          "TabSyn": {"precision": [0.5, 0.52], "recall": [0.6, 0.6]},
                          "TabDDPM": {"precision": [0.3, 0.31]}, "VGM-C": {"precision": [0.1, 0.12]}})  # fmt: skip
    t6 = scores_frame(["VGM", "SMOTE", "ADASYN"], seeds=(0, 1))
    text = discussion(generator_scores(table, t6, None), t6)
    assert "**Table I · Precision**: best **MAGE-ID** 0.9050 ± 0.0071, ahead of TabSyn" in text
    assert "VGM-C ranks 3 of 3" in text and "beats 0 of the 2 others" in text  # VGM's accuracy is the lowest
    assert "MAGE-ID vs TabSyn: better on 1 of 6 columns" in text  # equal columns are not wins
    assert "MAGE-ID vs TabDDPM: better on 1 of 6 columns" in text
    assert "best (ties included) on 5 of the 6 Table I columns" in text  # TabSyn has the higher recall
    no_vgm = discussion(generator_scores(table, None, None), None)
    assert "rows are missing (run notebook 04 first)" in no_vgm


def test_plot_ranking_draws_one_cell_per_generator_and_column(tmp_path):
    table = table_i_rows({"A": {"auc": [0.9]}, "B": {"auc": [0.8]}})
    ranks = rank_generators(generator_scores(table, scores_frame(["SMOTE", "VGM"]), None))
    fig = plot_ranking(ranks)
    assert isinstance(fig, Figure)
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (4, 8) and image.mask.sum() == 2 * 2 + 2 * 6  # grey where not run
    fig.savefig(tmp_path / "rank.png")
    assert (tmp_path / "rank.png").stat().st_size > 0


def test_table6_merge_replaces_every_seed_of_a_method_rerun_at_another_setting(tmp_path):
    from idsynth.experiments.cross_eval import update_table6_tables
    from idsynth.experiments.vgm_oversample import OversamplingRun

    def run(method, seeds, setting):
        scores = pd.DataFrame([{"method": method, "classifier": "MLP", "seed": s, "accuracy": 0.5 + s / 10,
                                "f1_weighted": 0.5, "f1_macro": 0.5, "setting": setting} for s in seeds])
        recall = pd.DataFrame([{"method": method, "classifier": "MLP", "seed": s, "class": "DoS", "recall": 0.5,
                                "setting": setting} for s in seeds])
        samplers = pd.DataFrame([{"method": method, "seed": s, "seconds": 1.0, "setting": setting} for s in seeds])
        return OversamplingRun(scores, recall, samplers, 0.0)

    def seeds_of(method):
        table = pd.read_csv(tmp_path / "tables" / "table6_oversamplers.csv")
        return sorted(table.loc[table["method"] == method, "seed"])

    update_table6_tables(run("SMOTE", [0, 1, 2], "s"), tmp_path)
    update_table6_tables(run("MAGE-ID", [0, 1, 2], "old"), tmp_path)
    old = pd.read_csv(tmp_path / "tables" / "table6_oversamplers.csv").drop(columns="setting")
    old.to_csv(tmp_path / "tables" / "table6_oversamplers.csv", index=False)  # rows from before settings
    update_table6_tables(run("MAGE-ID", [0, 1], "new"), tmp_path)
    assert seeds_of("MAGE-ID") == [0, 1] and seeds_of("SMOTE") == [0, 1, 2]
    update_table6_tables(run("MAGE-ID", [2], "new"), tmp_path)  # one seed per call, one setting
    assert seeds_of("MAGE-ID") == [0, 1, 2]
    update_table6_tables(run("MAGE-ID", [0], "newer"), tmp_path)
    assert seeds_of("MAGE-ID") == [0] and seeds_of("SMOTE") == [0, 1, 2]
    recall = pd.read_csv(tmp_path / "tables" / "table6_recall.csv")
    assert sorted(recall.loc[recall["method"] == "MAGE-ID", "seed"]) == [0]


def test_table6_generators_to_run():
    profile = ("MAGE-ID", "TabSyn", "TabDDPM")
    assert table6_generators_to_run(profile) == profile
    assert table6_generators_to_run(profile, ["MAGE-ID"]) == ("MAGE-ID",)
    assert table6_generators_to_run(profile, ("TabDDPM", "TabSyn")) == ("TabDDPM", "TabSyn")
    for bad in ([], ["VGM"], ["TabSyn", "TabSyn"]):
        with pytest.raises(ValueError, match="among the profile's"):
            table6_generators_to_run(profile, bad)
    with pytest.raises(ValueError, match="list of names"):
        table6_generators_to_run(profile, "MAGE-ID")


def test_kept_rows_are_current_only_where_their_setting_is_the_one_the_code_makes_now(tmp_path):
    data = fake_splits()
    options = dict(classifiers=("Logistic Regression",), n_jobs=1, cache=ArtifactCache(tmp_path), verbose=False)
    made = {"TabSyn": lambda s: PicklableFrameGenerator(random_state=s)}
    run = run_generator_oversampling(data, [0, 1], made, **options)
    X, y = table6_training_frame(data)

    class OtherGenerator(PicklableFrameGenerator):
        pass

    now = {**made, "TabDDPM": lambda s: PicklableFrameGenerator(random_state=s)}
    check = settings_against_code(run.scores, now, X, y, seed=2).set_index("method")
    assert check.loc["TabSyn", "current"] and check.loc["TabSyn", "rows"] == 2  # any seed decides the setting
    assert check.loc["TabSyn", "table_setting"] == check.loc["TabSyn", "current_setting"]
    assert not check.loc["TabDDPM", "current"] and check.loc["TabDDPM", "rows"] == 0  # no rows: not current
    changed = settings_against_code(run.scores, {"TabSyn": lambda s: OtherGenerator(random_state=s)}, X, y)
    assert not changed.loc[0, "current"]  # other code made the kept rows
    assert not settings_against_code(run.scores.drop(columns="setting"), made, X, y).loc[0, "current"]


def test_table6_rows_drawn_with_other_sampling_settings_get_another_key_and_setting():
    smoke, cpu = get_profile("smoke"), get_profile("cpu")
    X, y = table6_training_frame(fake_splits())
    make = table6_factories(cpu["mageid"], cpu["tabddpm"], device="cpu", names=("MAGE-ID",))["MAGE-ID"]
    plain = make(0)
    assert sampling_overrides(plain) == {}  # the cpu profile samples with LatentEDM's defaults
    key = table6_generator_config("MAGE-ID", plain, X, y, 0)
    assert "sampling" not in key  # so the keys of the rows already made stay what they were
    guided = make(0).set_params(edm={**plain.edm, "guidance": 2.0})
    guided_key = table6_generator_config("MAGE-ID", guided, X, y, 0)
    assert guided_key["sampling"] == {"guidance": 2.0}
    assert {k: v for k, v in guided_key.items() if k != "sampling"} == key  # the same trained model
    assert generator_setting(guided_key) != generator_setting(key)
    smoke_make = table6_factories(smoke["mageid"], smoke["tabddpm"], device="cpu", names=("MAGE-ID",))["MAGE-ID"]
    assert sampling_overrides(smoke_make(0)) == {"num_steps": 12}
    assert sampling_overrides(PicklableFrameGenerator()) == {}
