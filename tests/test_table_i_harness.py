"""The generic Table I harness: encoded space, evaluation, cached fit/sample, long table, CSV merge."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from sklearn.linear_model import LogisticRegression

from idsynth.cache import ArtifactCache
from idsynth.experiments import table_i as table_i_module
from idsynth.data.mageid_sets import sample_binary_set
from idsynth.data.schema import Schema
from idsynth.experiments.table_i import (
    LONG_COLUMNS,
    METRICS,
    SDMETRICS,
    evaluate_synthetic,
    fit_generator,
    metric_encoder,
    metric_sensitivity,
    run_generator,
    table_i_beside_paper,
    table_i_long,
    update_table_i_csv,
)
from idsynth.experiments.tabddpm_run import tabddpm_factory, tabddpm_loss_curves, tabddpm_params
from idsynth.models.base import class_counts, labels_from_counts


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: one torch/BLAS thread


def toy_set(name: str = "NSL-KDD", n_rows: int = 600, seed: int = 0):
    """An 80:20 MageIDSet of 600 rows from a toy source: attacks have larger bytes, mostly udp."""
    rng = np.random.default_rng(123)
    n = 2000
    attack = rng.random(n) < 0.3
    frame = pd.DataFrame(
        {
            "bytes": np.where(attack, rng.normal(5.0, 1.0, n), rng.normal(2.0, 1.0, n)),
            "rate": rng.random(n),
            "count": rng.integers(0, 50, n),
            "proto": np.where(attack & (rng.random(n) < 0.8), "udp", rng.choice(["tcp", "icmp"], n)),
        }
    )
    schema = Schema(numeric=("bytes", "rate", "count"), integer=("count",), categorical=("proto",))
    return sample_binary_set(
        frame, list(schema.features), attack, np.where(attack, "attack", "normal"),
        name=name, schema=schema, class_names=("Normal", "Attack"), n_rows=n_rows, seed=seed,
    )  # fmt: skip


class Bootstrap:
    """A 'generator' that resamples its training rows of each class with replacement."""

    fits = 0

    def __init__(self, random_state: int = 0, device: str = "cpu"):
        self.random_state, self.device = random_state, device

    def get_params(self, deep: bool = False) -> dict:
        return {"random_state": self.random_state, "device": self.device}

    def fit(self, X: pd.DataFrame, y) -> "Bootstrap":
        type(self).fits += 1
        self.frame_, self.y_ = X.reset_index(drop=True), np.asarray(y)
        return self

    def sample(self, n_per_class, random_state=None):
        rng = np.random.default_rng(random_state)
        labels = labels_from_counts(n_per_class, np.unique(self.y_))
        rows = np.concatenate(
            [rng.choice(np.flatnonzero(self.y_ == c), size=int(k), replace=True) for c, k in n_per_class.items()]
        )
        return self.frame_.iloc[rows].reset_index(drop=True), labels

    def save(self, path) -> None:
        with open(path, "wb") as fh:
            pickle.dump(self.__dict__, fh)

    @classmethod
    def load(cls, path, device=None) -> "Bootstrap":
        with open(path, "rb") as fh:
            state = pickle.load(fh)
        out = cls.__new__(cls)
        out.__dict__.update(state)
        if device is not None:
            out.device = device
        return out


class Garbage(Bootstrap):
    """Rows unrelated to the data: far-off numbers, a category never seen, labels at random."""

    def sample(self, n_per_class, random_state=None):
        rng = np.random.default_rng(random_state)
        labels = rng.permutation(labels_from_counts(n_per_class, np.unique(self.y_)))
        n = len(labels)
        frame = pd.DataFrame(
            {"bytes": rng.normal(-40.0, 3.0, n), "rate": rng.random(n) + 3.0,
             "count": rng.integers(500, 900, n), "proto": np.full(n, "zzz")}
        )  # fmt: skip
        return frame, labels


class WrongCounts(Bootstrap):
    def sample(self, n_per_class, random_state=None):
        frame, y = super().sample(n_per_class, random_state)
        return frame.iloc[1:], y[1:]


@pytest.fixture(scope="module")
def nsl():
    return toy_set()


def test_metric_encoder_space(nsl):
    enc = metric_encoder(nsl)
    X = enc.transform(nsl.train)
    assert X.shape == (len(nsl.train), 3 + nsl.train["proto"].nunique())
    assert X[:, :3].min() == 0.0 and X[:, :3].max() == 1.0  # min-max on the real training rows
    odd = nsl.train.iloc[:2].copy()
    odd.loc[:, "proto"] = "never-seen"
    odd.loc[:, "bytes"] = nsl.train["bytes"].max() + 10.0
    Z = enc.transform(odd)
    assert np.all(Z[:, 3:] == 0.0)  # an unseen category -> all-zero one-hot block
    assert np.all(Z[:, 0] > 1.0)  # not clipped: out-of-range stays out of range
    with pytest.raises(TypeError):
        metric_encoder(nsl.train)


def test_bootstrap_scores_high_and_garbage_low(nsl, tmp_path):
    cache = ArtifactCache(tmp_path)
    good, frame, y = run_generator("Bootstrap", lambda s: Bootstrap(s), nsl, seed=0, cache=cache)
    with pytest.warns(UserWarning, match=r"categories the real table lacks \(\{'proto': \['zzz'\]\}\)"):
        bad, _, _ = run_generator("Garbage", lambda s: Garbage(s), nsl, seed=0, cache=cache)
    real_y = nsl.xy("train")[1]
    assert class_counts(y) == class_counts(real_y) and len(frame) == len(real_y)
    assert list(frame.columns) == nsl.features
    assert list(good)[: len(LONG_COLUMNS)] == list(LONG_COLUMNS)
    assert {"auc_real_ceiling", "fit_seconds", "sample_seconds"} <= set(good)
    assert list(good)[len(LONG_COLUMNS)] == SDMETRICS  # SDMetrics' detectability right after the six
    assert good["dataset"] == "NSL-KDD" and good["model"] == "Bootstrap" and good["seed"] == 0
    # resampled real rows: indistinguishable and on the real support
    assert good["detectability"] > 0.85 and good[SDMETRICS] > 0.85
    assert good["precision"] > 0.95 and good["coverage"] > 0.8 and good["recall"] > 0.8
    assert 0.7 < good["density"] < 1.5
    assert good["auc"] > 0.85 and abs(good["auc"] - good["auc_real_ceiling"]) < 0.05
    # garbage: perfectly detectable, off the real support, useless for the classifier
    assert bad["detectability"] < 0.05
    assert np.isnan(bad[SDMETRICS])  # its category "zzz" is one SDMetrics cannot encode
    assert bad["precision"] < 0.05 and bad["coverage"] < 0.05 and bad["density"] < 0.05
    assert abs(bad["auc"] - 0.5) < 0.15
    assert bad["auc_real_ceiling"] == pytest.approx(good["auc_real_ceiling"])
    for row in (good, bad):
        assert all(np.isfinite(row[m]) for m in METRICS)
        assert row["fit_seconds"] >= 0 and row["sample_seconds"] >= 0


def test_run_generator_caches_fit_and_sample(nsl, tmp_path):
    cache = ArtifactCache(tmp_path)
    Bootstrap.fits = 0
    first, frame1, y1 = run_generator("Bootstrap", lambda s: Bootstrap(s), nsl, seed=3, cache=cache)
    assert Bootstrap.fits == 1
    second, frame2, y2 = run_generator("Bootstrap", lambda s: Bootstrap(s, device="other"), nsl, seed=3, cache=cache)
    assert Bootstrap.fits == 1  # loaded, not refitted (device is not part of the key)
    pd.testing.assert_frame_equal(frame1, frame2)
    np.testing.assert_array_equal(y1, y2)
    assert first == second  # same metrics, and the recorded fit/sample seconds
    model, seconds = fit_generator("Bootstrap", lambda s: Bootstrap(s), nsl, seed=3, cache=cache)
    assert Bootstrap.fits == 1 and seconds == pytest.approx(first["fit_seconds"])
    run_generator("Bootstrap", lambda s: Bootstrap(s), nsl, seed=4, cache=cache)
    assert Bootstrap.fits == 2  # another seed is another model
    other = toy_set(n_rows=500)
    run_generator("Bootstrap", lambda s: Bootstrap(s), other, seed=3, cache=cache)
    assert Bootstrap.fits == 3  # other data, another model


def test_run_generator_caches_the_scored_row_by_settings_and_scoring_code(nsl, tmp_path, monkeypatch):
    cache = ArtifactCache(tmp_path)
    calls = []
    real = table_i_module.evaluate_synthetic
    monkeypatch.setattr(table_i_module, "evaluate_synthetic", lambda *a, **kw: calls.append(kw) or real(*a, **kw))
    first, _, _ = run_generator("Bootstrap", lambda s: Bootstrap(s), nsl, seed=3, cache=cache, k=5)
    again, _, _ = run_generator("Bootstrap", lambda s: Bootstrap(s), nsl, seed=3, cache=cache, k=5)
    assert len(calls) == 1 and again == first  # the row is read back, not rescored
    run_generator("Bootstrap", lambda s: Bootstrap(s), nsl, seed=3, cache=cache, k=3)
    assert len(calls) == 2  # another metric setting: rescored
    monkeypatch.setattr(table_i_module, "scoring_code_digest", lambda: "changed-scoring")
    run_generator("Bootstrap", lambda s: Bootstrap(s), nsl, seed=3, cache=cache, k=5)
    assert len(calls) == 3  # another scoring code: rescored
    run_generator("Bootstrap", lambda s: Bootstrap(s), nsl, seed=3, cache=cache, k=5,
                  classifier=LogisticRegression(max_iter=200))
    assert len(calls) == 4  # a caller's classifier: never cached


def test_scoring_code_digest_is_stable_and_names_the_metric_sources():
    assert table_i_module.scoring_code_digest() == table_i_module.scoring_code_digest()
    assert len(table_i_module.scoring_code_digest()) == 16


def test_synthetic_sets_are_stored_as_plain_columns_and_old_files_still_load(tmp_path):
    frame = pd.DataFrame({"proto": pd.Series(["tcp", "udp", "tcp"], dtype=object).astype(str),
                          "flag": pd.Categorical(["SF", "S0", "SF"]), "n": np.array([1, 2, 3]),
                          "x": np.array([0.5, 1.5, 2.5], dtype=np.float32)})
    result = {"frame": frame, "y": np.array([0, 1, 0]), "fit_seconds": 1.0, "sample_seconds": 2.0}
    table_i_module._save_synthetic(result, tmp_path / "new.pkl")
    with open(tmp_path / "new.pkl", "rb") as fh:
        stored = pickle.load(fh)
    assert stored["format"] == "idsynth.table_i.synthetic/2" and "frame" not in stored
    assert all(isinstance(v, np.ndarray) for v in stored["columns"].values())  # no pandas object inside
    back = table_i_module._load_synthetic(tmp_path / "new.pkl")
    pd.testing.assert_frame_equal(back["frame"], frame)
    assert back["fit_seconds"] == 1.0 and back["y"].tolist() == [0, 1, 0]
    with open(tmp_path / "old.pkl", "wb") as fh:  # the first format: a pickled DataFrame
        pickle.dump({"format": "idsynth.table_i.synthetic/1", **result}, fh)
    pd.testing.assert_frame_equal(table_i_module._load_synthetic(tmp_path / "old.pkl")["frame"], frame)
    with open(tmp_path / "other.pkl", "wb") as fh:
        pickle.dump({"format": "someone/1"}, fh)
    with pytest.raises(ValueError, match="not a synthetic set"):
        table_i_module._load_synthetic(tmp_path / "other.pkl")


def test_run_generator_rejects_bad_generators(nsl, tmp_path):
    cache = ArtifactCache(tmp_path)
    with pytest.raises(RuntimeError, match="class counts"):
        run_generator("Wrong", lambda s: WrongCounts(s), nsl, seed=0, cache=cache)
    with pytest.raises(TypeError, match="fit"):
        run_generator("NotAGenerator", lambda s: object(), nsl, seed=0, cache=cache)


def test_evaluate_synthetic_checks_inputs(nsl):
    X, y = nsl.xy("train")
    with pytest.raises(ValueError, match="feature columns; missing"):
        evaluate_synthetic(nsl, X.drop(columns="bytes"), y, seed=0)
    with pytest.raises(ValueError, match="shape"):
        evaluate_synthetic(nsl, X, y[:-1], seed=0)
    with pytest.raises(ValueError, match="class codes"):
        evaluate_synthetic(nsl, X, y + 1, seed=0)


def test_sdmetrics_detectability_scores_typed_rows_and_is_a_sensitivity_variant(nsl):
    X, y = nsl.xy("train")
    shifted = X.assign(bytes=X["bytes"] + 4.0)
    same = evaluate_synthetic(nsl, X, y, seed=0)
    moved = evaluate_synthetic(nsl, shifted, y, seed=0)
    assert same[SDMETRICS] > 0.95 and moved[SDMETRICS] < 0.5
    rows = metric_sensitivity(nsl, shifted, y, seed=0, n_splits=3)
    variants = {(r["metric"], r["variant"]): r["value"] for r in rows}
    assert variants[("detectability", "sdmetrics")] == pytest.approx(moved[SDMETRICS])
    assert ("detectability", "ours") in variants


def _row(dataset, model, seed, value, **extra):
    return {"dataset": dataset, "model": model, "seed": seed, **{m: value for m in METRICS}, **extra}


def test_table_i_long_columns_order_and_errors():
    rows = [_row("NSL-KDD", "TabDDPM", 1, 0.5, fit_seconds=2.0), _row("CIC-IDS-2017", "MAGE-ID", 0, 0.4),
            _row("CIC-IDS-2017", "TabDDPM", 0, 0.3)]  # fmt: skip
    long = table_i_long(rows)
    assert list(long.columns) == list(LONG_COLUMNS) + ["fit_seconds"]
    assert list(zip(long["dataset"], long["model"])) == [
        ("CIC-IDS-2017", "TabDDPM"), ("CIC-IDS-2017", "MAGE-ID"), ("NSL-KDD", "TabDDPM")
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unknown datasets"):
        table_i_long([_row("KDD99", "TabDDPM", 0, 0.5)])
    with pytest.raises(ValueError, match="lack the columns"):
        table_i_long([{"dataset": "NSL-KDD", "model": "X", "seed": 0}])
    with pytest.raises(ValueError, match="repeated"):
        table_i_long([_row("NSL-KDD", "X", 0, 0.5), _row("NSL-KDD", "X", 0, 0.6)])


def test_table_i_beside_paper_mean_std_and_diff():
    long = table_i_long([_row("NSL-KDD", "TabDDPM", 0, 0.80, auc_real_ceiling=0.99),
                         _row("NSL-KDD", "TabDDPM", 1, 0.90, auc_real_ceiling=0.97),
                         _row("NSL-KDD", "VGM-C", 0, 0.70)])  # fmt: skip
    beside = table_i_beside_paper(long)
    assert list(beside.columns) == ["dataset", "model", "metric", "mean", "std", "n_seeds", "paper", "diff"]
    auc = beside[(beside["model"] == "TabDDPM") & (beside["metric"] == "AUC (MLE)")].iloc[0]
    assert auc["mean"] == pytest.approx(0.85) and auc["std"] == pytest.approx(np.std([0.8, 0.9], ddof=1))
    assert auc["n_seeds"] == 2 and auc["paper"] == pytest.approx(0.9683)
    assert auc["diff"] == pytest.approx(0.85 - 0.9683)
    ceiling = beside[(beside["model"] == "TabDDPM") & (beside["metric"] == "AUC (train on real)")].iloc[0]
    assert ceiling["mean"] == pytest.approx(0.98) and np.isnan(ceiling["paper"])
    assert beside[beside["model"] == "VGM-C"]["paper"].isna().all()  # not in the poster
    assert len(beside[beside["model"] == "TabDDPM"]) == 7  # six columns + the ceiling


def test_table_i_beside_paper_compares_the_poster_detectability_with_sdmetrics():
    # an older row (seed 0) lacks the SDMetrics column; it is left out of that column's mean
    long = table_i_long([_row("NSL-KDD", "TabSyn", 0, 0.80), _row("NSL-KDD", "TabSyn", 1, 0.90, **{SDMETRICS: 0.95}),
                         _row("NSL-KDD", "TabSyn", 2, 0.70, **{SDMETRICS: 0.85})])  # fmt: skip
    beside = table_i_beside_paper(long).set_index("metric")
    assert list(beside.index) == ["Detectability", "Precision", "Recall", "Density", "Coverage", "AUC (MLE)",
                                  "Detectability (SDMetrics)"]  # fmt: skip
    sdm, ours = beside.loc["Detectability (SDMetrics)"], beside.loc["Detectability"]
    assert sdm["mean"] == pytest.approx(0.90) and sdm["n_seeds"] == 2 and ours["n_seeds"] == 3
    assert sdm["paper"] == ours["paper"] and not np.isnan(sdm["paper"])
    assert sdm["diff"] == pytest.approx(0.90 - sdm["paper"])


def test_update_table_i_csv_replaces_same_keys_and_keeps_others(tmp_path):
    path = tmp_path / "tables" / "tableI_mageid.csv"
    update_table_i_csv([_row("NSL-KDD", "TabDDPM", 0, 0.5, fit_seconds=1.0),
                        _row("CIC-IDS-2017", "TabDDPM", 0, 0.6, fit_seconds=2.0)], path)  # fmt: skip
    merged = update_table_i_csv([_row("NSL-KDD", "TabDDPM", 0, 0.7, fit_seconds=3.0),
                                 _row("NSL-KDD", "MAGE-ID", 0, 0.8, epochs=5)], path)  # fmt: skip
    on_disk = pd.read_csv(path)
    assert list(on_disk.columns)[: len(LONG_COLUMNS)] == list(LONG_COLUMNS)
    assert len(on_disk) == 3 and len(merged) == 3
    keyed = on_disk.set_index(["dataset", "model", "seed"])
    assert keyed.loc[("NSL-KDD", "TabDDPM", 0), "auc"] == pytest.approx(0.7)  # replaced
    assert keyed.loc[("NSL-KDD", "TabDDPM", 0), "fit_seconds"] == pytest.approx(3.0)
    assert keyed.loc[("CIC-IDS-2017", "TabDDPM", 0), "auc"] == pytest.approx(0.6)  # kept
    assert np.isnan(keyed.loc[("CIC-IDS-2017", "TabDDPM", 0), "epochs"])  # union of columns
    assert keyed.loc[("NSL-KDD", "MAGE-ID", 0), "epochs"] == 5
    markdown = path.with_suffix(".md").read_text()
    assert "0.9683" in markdown and "MAGE-ID" in markdown and "Per seed" in markdown
    assert not list(path.parent.glob("*.tmp"))  # atomic writes left nothing behind
    update_table_i_csv([_row("NSL-KDD", "TabDDPM", 0, 0.7, fit_seconds=3.0)], path)  # idempotent
    assert len(pd.read_csv(path)) == 3


def test_update_table_i_csv_labels_every_row_with_the_folders_profile(tmp_path):
    path = tmp_path / "tables" / "tableI_mageid.csv"
    path.parent.mkdir()
    pd.DataFrame([_row("NSL-KDD", "TabDDPM", 0, 0.5)]).to_csv(path, index=False)  # written before the column
    (path.parent / "PROFILE").write_text("cpu\n")
    update_table_i_csv([_row("NSL-KDD", "MAGE-ID", 0, 0.8)], path)
    assert pd.read_csv(path)["profile"].tolist() == ["cpu", "cpu"]


def test_tabddpm_factory_through_the_harness(nsl, tmp_path):
    section = {"num_timesteps": 8, "d_layers": [16, 16], "dim_t": 16, "steps": 5, "batch_size": 64,
               "sample_batch_size": 256}  # fmt: skip
    make = tabddpm_factory(section, device="cpu")
    model = make(7)
    assert model.random_state == 7 and model.d_layers == (16, 16) and model.verbose is False
    row, frame, y = run_generator("TabDDPM", make, nsl, seed=7, cache=ArtifactCache(tmp_path))
    assert class_counts(y) == class_counts(nsl.xy("train")[1])
    assert set(frame["proto"]) <= set(nsl.train["proto"])
    assert all(np.isfinite(row[m]) for m in METRICS)
    loaded, _ = fit_generator("TabDDPM", make, nsl, seed=7, cache=ArtifactCache(tmp_path))
    assert len(loaded.loss_history_) == 5
    curves = tabddpm_loss_curves({("NSL-KDD", 7): loaded})
    assert list(curves.columns) == ["dataset", "seed", "step", "term", "value"]
    assert sorted(set(curves["term"])) == ["loss", "loss_gauss", "loss_multi"] and len(curves) == 15
    with pytest.raises(ValueError, match="not TabDDPM parameters"):
        tabddpm_params({"stepz": 10})
    with pytest.raises(ValueError, match="must not set"):
        tabddpm_params({"device": "cpu"})


def test_bound_shares_known_answer():
    from idsynth.experiments.synthetic_checks import bound_shares

    real = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [5.0, 6.0, 7.0, 8.0], "const": [1.0] * 4})
    synthetic = pd.DataFrame({"a": [0.0, 3.0, 3.0, 9.0], "b": [6.5, 6.5, 6.5, 8.0], "const": [4.0] * 4})
    shares = bound_shares(real, synthetic, ["a", "b", "const"])  # "const" is skipped
    assert shares == {"real_at_bounds": 0.5, "synthetic_at_bounds": 4 / 8, "synthetic_outside": 1 / 8}
    with pytest.raises(ValueError, match="not in both"):
        bound_shares(real, synthetic.drop(columns="b"), ["a", "b"])
    with pytest.raises(ValueError, match="constant"):
        bound_shares(real, synthetic, ["const"])


def test_metric_variant_summary_pairs_by_seed():
    import pandas as pd

    from idsynth.experiments.table_i import metric_variant_summary

    rows = [{"dataset": "D", "model": "M", "seed": s, "metric": "density", "variant": v, "value": value}
            for s, (a, b) in enumerate([(1.0, 1.5), (2.0, 2.1)]) for v, value in (("float32", a), ("float64", b))]
    rows += [{"dataset": "D", "model": "M", "seed": 0, "metric": "detectability", "variant": v, "value": x}
             for v, x in (("ours", 0.6), ("sdmetrics", 0.8))]
    summary = metric_variant_summary(pd.DataFrame(rows)).set_index("metric")
    assert summary.loc["density", "first_mean"] == 1.5 and summary.loc["density", "second_mean"] == 1.8
    assert summary.loc["density", "diff_mean"] == pytest.approx(0.3) and summary.loc["density", "n_seeds"] == 2
    assert summary.loc["density", "diff_std"] == pytest.approx(np.std([0.5, 0.1], ddof=1))
    assert summary.loc["detectability", "second"] == "sdmetrics"
    assert summary.loc["detectability", "diff_mean"] == pytest.approx(0.2)
