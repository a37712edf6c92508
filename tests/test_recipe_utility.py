"""MAGE-ID's recipes as Table 6 over-samplers (idsynth.experiments.recipe_utility)."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_cross_eval import PicklableFrameGenerator, fake_splits

from idsynth.cache import ArtifactCache
from idsynth.config import get_profile
from idsynth.data.nslkdd import CATEGORIES
from idsynth.experiments.cross_eval import (
    generator_setting, run_generator_oversampling, table6_factories, table6_generator_config, table6_training_frame,
)
from idsynth.experiments.cross_eval_figures import RECIPE_PANELS, plot_recipes
from idsynth.experiments.recipe_utility import (
    PAIRED_COLUMNS, REAL_HELD_OUT, RECIPE_AGREEMENT_COLUMNS, RECIPE_METRICS, agreement_summary, parse_label,
    per_seed_average, recipe_agreement, recipe_factories, recipe_paired, recipe_summary, recipes_to_run, run_recipes,
    screen_rows,
)
from idsynth.experiments.recipe_utility import main as recipe_utility_main
from idsynth.metrics.classifiers import CLASSIFIER_NAMES
from idsynth.metrics.label_agreement import AGREEMENT_COLUMNS
from idsynth.models.mageid import MAGEID_RECIPE


def test_recipes_to_run_puts_the_reference_first_and_refuses_bad_labels():
    assert recipes_to_run(["v2", "v3"], reference="v4") == ("v4", "v2", "v3")
    assert recipes_to_run(["v2", "v4"], reference="v4") == ("v4", "v2")
    assert recipes_to_run(["v4 guidance 2"], reference="v4") == ("v4", "v4 guidance 2")
    assert recipes_to_run([]) == (MAGEID_RECIPE,)
    for bad in (["v9"], ["v4 guidance 1"], ["v4 guidance -2"], ["v4 guidance x"], ["v4 w 2"], ["v4 guidance"]):
        with pytest.raises(ValueError, match="a recipe label is"):
            recipes_to_run(bad, reference="v4")
    with pytest.raises(ValueError, match="distinct labels"):
        recipes_to_run(["v2", "v2"], reference="v4")
    with pytest.raises(ValueError, match="the reference must be a recipe"):
        recipes_to_run(["v2"], reference="v0")
    with pytest.raises(ValueError, match="list of recipe labels"):
        recipes_to_run("v2")
    assert parse_label("v3") == ("v3", None) and parse_label("v4 guidance 1.5") == ("v4", 1.5)
    assert recipes_to_run(["v2", "v3"], reference="v4", with_reference=False) == ("v2", "v3")
    assert recipes_to_run(["v2", "v4"], reference="v4", with_reference=False) == ("v4", "v2")
    with pytest.raises(ValueError, match="a recipe label is"):
        recipes_to_run(["v9"], reference="v4", with_reference=False)


def test_recipe_factories_build_each_recipes_edm_and_share_the_default_fit_with_table6():
    smoke = get_profile("smoke")
    labels = ["v6", "v4", "v2", "v3", "v4 guidance 2", "v5"]
    made = recipe_factories(smoke["mageid"], smoke["tabddpm"], labels, device="cpu")
    assert list(made) == labels
    edm = {recipe: make(1).edm for recipe, make in made.items()}
    assert edm["v4 guidance 2"] == {**edm["v4"], "guidance": 2.0} and "guidance" not in edm["v4"]
    assert edm["v2"]["latent_scaling"] == "global" and "class_init_std" not in edm["v2"]
    assert edm["v3"]["class_init_std"] == 0.02 and "noise_label_scale" not in edm["v3"]
    assert edm["v4"]["noise_label_scale"] == 250.0 and edm["v4"]["epochs"] == smoke["mageid"]["edm"]["epochs"]
    assert edm["v5"] == {**edm["v4"], "class_balance": 0.5}
    X, y = table6_training_frame(fake_splits())
    key = {recipe: generator_setting(table6_generator_config("MAGE-ID", make(1), X, y, 1))
           for recipe, make in made.items()}  # fmt: skip
    assert len(set(key.values())) == 6  # five recipes and a guided sampler: six settings
    # the profile leaves the image latent to the recipe: v6 is v4 with 16 dimensions instead of 64
    assert {r: made[r](1).img_vae["latent_dim"] for r in ("v6", "v4")} == {"v6": 16, "v4": 64}
    assert made["v6"](1).edm == edm["v4"]
    guided, plain = (table6_generator_config("MAGE-ID", made[label](1), X, y, 1) for label in ("v4 guidance 2", "v4"))
    assert guided.pop("sampling") == {**plain.pop("sampling"), "guidance": 2.0} and guided == plain  # one model
    table6 = table6_factories(smoke["mageid"], smoke["tabddpm"], device="cpu", names=("MAGE-ID",))["MAGE-ID"]
    # the default recipe is notebook 11's MAGE-ID: same key, so its cached fit and seed rows are shared
    assert key[MAGEID_RECIPE] == generator_setting(table6_generator_config("MAGE-ID", table6(1), X, y, 1))


class WiderGenerator(PicklableFrameGenerator):
    """Another "recipe" of the fake: another class, so another cache key and setting."""


def test_run_recipes_scores_each_recipe_and_reuses_the_cached_seeds(tmp_path):
    data = fake_splits()
    options = dict(classifiers=("Logistic Regression", "Random Forest"), n_jobs=1, cache=ArtifactCache(tmp_path),
                   verbose=False)  # fmt: skip
    factories = {"v4": lambda s: PicklableFrameGenerator(random_state=s), "v2": lambda s: WiderGenerator(random_state=s)}
    PicklableFrameGenerator.fits = WiderGenerator.fits = 0  # each class counts its own fits
    out = run_recipes(data, [0, 1], factories, **options)
    assert PicklableFrameGenerator.fits == WiderGenerator.fits == 2  # two recipes x two seeds
    scores, recall, samplers = out["scores"], out["recall"], out["samplers"]
    assert list(scores.columns[:2]) == ["method", "recipe"] and set(scores["method"]) == {"MAGE-ID"}
    assert len(scores) == 2 * 2 * 2 and len(recall) == len(scores) * len(CATEGORIES) and len(samplers) == 4
    assert scores.groupby("recipe")["setting"].nunique().eq(1).all() and scores["setting"].nunique() == 2
    # the reference recipe's rows are notebook 11's MAGE-ID rows: taken from the cache, not refitted
    direct = run_generator_oversampling(data, [0, 1], {"MAGE-ID": factories["v4"]}, **options)
    assert PicklableFrameGenerator.fits == 2
    pd.testing.assert_frame_equal(scores[scores["recipe"] == "v4"].drop(columns="recipe").reset_index(drop=True),
                                  direct.scores)  # fmt: skip
    with pytest.raises(ValueError, match="at least one recipe"):
        run_recipes(data, [0], {}, **options)


def long_rows(values: dict[str, list[float]], recall_r2l: dict[str, list[float]]):
    """Scores and recall frames of two classifiers whose average per seed is ``values[recipe][seed]``
    (accuracy; F1s follow) and R2L recall ``recall_r2l[recipe][seed]``."""
    scores, recall = [], []
    for recipe, per_seed in values.items():
        for seed, value in enumerate(per_seed):
            for offset, classifier in zip((-0.01, 0.01), CLASSIFIER_NAMES[:2]):
                scores.append({"method": "MAGE-ID", "recipe": recipe, "classifier": classifier, "seed": seed,
                               "accuracy": value + offset, "f1_weighted": value, "f1_macro": value - 0.2})  # fmt: skip
                for name in CATEGORIES:
                    r = recall_r2l[recipe][seed] if name == "R2L" else 0.5
                    recall.append({"method": "MAGE-ID", "recipe": recipe, "classifier": classifier, "seed": seed,
                                   "class": name, "recall": r + offset})  # fmt: skip
    return pd.DataFrame(scores), pd.DataFrame(recall)


def test_recipe_paired_and_summary_compare_the_four_classifier_average_by_seed():
    v4, v2, v3 = [0.75, 0.76, 0.74], [0.78, 0.77, 0.79], [0.75, 0.76, 0.74]
    scores, recall = long_rows({"v4": v4, "v2": v2, "v3": v3},
                               {"v4": [0.3, 0.2, 0.25], "v2": [0.3, 0.2, 0.25], "v3": [0.2, 0.3, 0.1]})
    averaged = per_seed_average(scores, recall).set_index(["recipe", "seed"])
    assert averaged.loc[("v2", 1), "accuracy"] == pytest.approx(0.77)  # the classifiers' offsets cancel
    assert averaged.loc[("v3", 2), "recall_R2L"] == pytest.approx(0.1)
    assert averaged.loc[("v3", 2), "recall_U2R"] == pytest.approx(0.5)
    summary = recipe_summary(scores, recall).set_index("recipe")
    assert list(summary.index) == ["v4", "v2", "v3"]
    assert summary.loc["v2", "accuracy_mean"] == pytest.approx(np.mean(v2))
    assert summary.loc["v2", "accuracy_std"] == pytest.approx(np.std(v2, ddof=1))
    paired = recipe_paired(scores, recall, reference="v4")
    assert list(paired.columns) == list(PAIRED_COLUMNS)
    assert set(paired["metric"]) == set(RECIPE_METRICS) and set(paired["recipe"]) == {"v2", "v3"}
    row = paired.set_index(["metric", "recipe"]).loc[("accuracy", "v2")]
    assert row["gain_mean"] == pytest.approx(np.mean(np.subtract(v2, v4))) and row["gain_mean"] > 0
    assert row["gain_std"] == pytest.approx(np.std(np.subtract(v2, v4), ddof=1))
    assert row["p_value"] == pytest.approx(stats.ttest_rel(v2, v4).pvalue)
    assert row["recipe_wins"] == 3 and row["n_seeds"] == 3
    assert row["beyond_noise"] == (row["p_value"] < 0.05)
    same = paired.set_index(["metric", "recipe"]).loc[("accuracy", "v3")]
    assert same["gain_mean"] == pytest.approx(0) and same["recipe_wins"] == 0 and not same["beyond_noise"]
    r2l = paired.set_index(["metric", "recipe"]).loc[("recall_R2L", "v3")]
    assert r2l["gain_mean"] == pytest.approx(np.mean([-0.1, 0.1, -0.15])) and r2l["recipe_wins"] == 1
    with pytest.raises(ValueError, match="reference recipe 'v1'"):
        recipe_paired(scores, recall, reference="v1")


def test_plot_recipes_joins_each_seeds_recipes_and_marks_the_mean(tmp_path):
    scores, recall = long_rows({"v4": [0.75, 0.76], "v2": [0.78, 0.77]}, {"v4": [0.3, 0.2], "v2": [0.1, 0.4]})
    fig = plot_recipes(per_seed_average(scores, recall))
    assert len(fig.axes) == len(RECIPE_PANELS)
    accuracy = fig.axes[0]
    seed_lines, mean = accuracy.lines[:-1], accuracy.lines[-1]
    assert len(seed_lines) == 2 and [t.get_text() for t in accuracy.get_xticklabels()] == ["v4", "v2"]
    np.testing.assert_allclose(seed_lines[1].get_ydata(), [0.76, 0.77])
    np.testing.assert_allclose(mean.get_ydata(), [0.755, 0.775])
    np.testing.assert_allclose(fig.axes[3].lines[-1].get_ydata(), [0.25, 0.25])  # R2L recall's means
    fig.savefig(tmp_path / "recipes.png")


class WrongClassGenerator(PicklableFrameGenerator):
    """A "recipe" whose rows for every class are drawn from class 1's (Normal's) moments."""

    def sample(self, n_per_class, random_state=None):
        counts = {label: 0 for label in n_per_class}
        counts[1] = int(sum(n_per_class.values()))
        frame, _ = super().sample(counts, random_state)
        return frame, np.repeat(list(n_per_class), list(n_per_class.values()))


def test_recipe_agreement_reads_each_recipes_rows_with_a_forest_of_real_rows(tmp_path):
    data = fake_splits(n_train=600)
    cache = ArtifactCache(tmp_path)
    factories = {"v4": lambda s: PicklableFrameGenerator(random_state=s), "v2": lambda s: WrongClassGenerator(random_state=s)}
    out = recipe_agreement(data, [0, 1], factories, n_per_class=40, cache=cache)
    assert list(out.columns) == list(RECIPE_AGREEMENT_COLUMNS) and set(out["source"]) == {"real", "drawn"}
    assert out["decoded_agreement"].isna().all()  # the fakes decode no label column
    assert list(dict.fromkeys(out["recipe"])) == [REAL_HELD_OUT, "v4", "v2"]
    assert len(out) == (1 + 2 * 2) * len(CATEGORIES) and (out.loc[out["recipe"] != REAL_HELD_OUT, "rows"] == 40).all()
    mean = out.groupby(["recipe", "class"])["agreement"].mean()
    assert mean[REAL_HELD_OUT].min() > 0.8 and mean["v4"].min() > 0.8  # faithful rows read as their class
    assert mean["v2", "Normal"] > 0.8 and mean["v2"].drop("Normal").max() < 0.2
    assert set(out.loc[(out["recipe"] == "v2") & (out["class"] != "Normal"), "most_confused_with"]) == {"Normal"}
    # every part from the cache the second time: no generator fitted, no forest trained
    PicklableFrameGenerator.fits = WrongClassGenerator.fits = 0
    again = recipe_agreement(data, [0, 1], factories, n_per_class=40, cache=cache)
    pd.testing.assert_frame_equal(again, out)
    assert PicklableFrameGenerator.fits == WrongClassGenerator.fits == 0
    with pytest.raises(ValueError, match="n_per_class"):
        recipe_agreement(data, [0], factories, n_per_class=0, cache=cache)
    summary = agreement_summary(out).set_index("recipe")
    assert list(summary.index) == [REAL_HELD_OUT, "v4", "v2"] and list(summary.columns) == ["source", *CATEGORIES]
    normal = out[(out["recipe"] == "v2") & (out["class"] == "Normal")]["agreement"]
    assert summary.loc["v2", "Normal"] == f"{normal.mean():.3f} ± {normal.std():.3f}"
    assert " ± " not in summary.loc[REAL_HELD_OUT, "Normal"]  # one reading, no spread


class DecodingGenerator(PicklableFrameGenerator):
    """A fake with MAGE-ID's ``generate``, ``encode`` and ``decode``: its autoencoder gives the rows
    back unchanged, and its decoded label column says R2L's rows are Normal's."""

    R2L = CATEGORIES.index("R2L")

    def generate(self, n_per_class, random_state=None):
        frame, y = self.sample(n_per_class, random_state)
        return SimpleNamespace(frame=frame, y=y, decoded_label=np.where(y == self.R2L, 1, y))

    def encode(self, X, y):
        self.encoded_ = (X.reset_index(drop=True), np.asarray(y))
        return np.arange(len(X))

    def decode(self, z):
        X, y = self.encoded_
        return X.iloc[z].reset_index(drop=True), None, np.where(y[z] == self.R2L, 1, y[z])


def test_recipe_agreement_reports_the_decoded_label_column_and_the_autoencoded_real_rows(tmp_path):
    out = recipe_agreement(fake_splits(n_train=600), [0], {"v4": lambda s: DecodingGenerator(random_state=s)},
                           n_per_class=20, cache=ArtifactCache(tmp_path))  # fmt: skip
    assert list(dict.fromkeys(out["source"])) == ["real", "drawn", "autoencoded"]
    for source in ("drawn", "autoencoded"):
        decoded = out[out["source"] == source].set_index("class")["decoded_agreement"]
        assert decoded["R2L"] == 0.0 and (decoded.drop("R2L") == 1.0).all()
    assert out.loc[out["source"] == "real", "decoded_agreement"].isna().all()
    # an autoencoder that gives the rows back is read exactly as the held-out real rows
    real, autoencoded = (out[out["source"] == s].set_index("class")[list(AGREEMENT_COLUMNS[1:])]
                         for s in ("real", "autoencoded"))  # fmt: skip
    pd.testing.assert_frame_equal(autoencoded, real)


def test_screen_rows_keep_each_recipes_setting_and_the_cli_refuses_an_unknown_recipe_before_any_fit(capsys):
    scores, recall = long_rows({"v6": [0.75, 0.76], "v4": [0.78, 0.77]}, {"v6": [0.3, 0.2], "v4": [0.1, 0.4]})
    scores["setting"] = scores["recipe"].map({"v6": "aaa", "v4": "bbb"})
    rows = screen_rows(scores, recall)
    assert list(rows.columns) == ["recipe", "classifier", "seed", *RECIPE_METRICS, "setting"]
    assert len(rows) == 2 * 2 * 2 and rows.groupby("recipe")["setting"].first().to_dict() == {"v6": "aaa", "v4": "bbb"}
    one = rows.set_index(["recipe", "classifier", "seed"]).loc[("v4", CLASSIFIER_NAMES[1], 1)]
    assert one["accuracy"] == pytest.approx(0.78) and one["recall_R2L"] == pytest.approx(0.41)
    with pytest.raises(ValueError, match="a recipe label is"):
        recipe_utility_main(["--profile", "smoke", "--recipes", "v9", "--seeds", "0"])
    with pytest.raises(SystemExit):  # the paired tables need the reference's rows
        recipe_utility_main(["--profile", "smoke", "--recipes", "v4", "--seeds", "0", "--without-reference", "--write"])
    assert "--write compares each recipe with the reference" in capsys.readouterr().err
