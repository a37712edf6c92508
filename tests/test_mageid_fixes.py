"""The fixes' ablation (issue 16, notebook 13): variants as section changes, paired gains,
MAGE-ID against TabSyn. The models themselves are exercised by notebook 13 at smoke sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from idsynth.config import get_profile
from idsynth.experiments import mageid_fixes as fixes
from idsynth.experiments.mageid_figures import plot_latent_report, plot_vae_schedules, plot_variant_gains
from idsynth.experiments.table_i import METRICS, SDMETRICS


def section():
    return {k: (dict(v) if isinstance(v, dict) or hasattr(v, "items") else v)
            for k, v in get_profile("smoke")["mageid"].items()}


def test_variants_change_only_what_they_name():
    base = section()
    changed = fixes.variant_section(base, fixes.variant("latent_global").changes)
    assert changed["edm"] == {**base["edm"], "latent_scaling": "global"}
    assert changed["tab_vae"] == base["tab_vae"] and base["edm"].get("latent_scaling") is None  # base untouched
    with pytest.raises(ValueError, match="unknown or reserved"):
        fixes.variant_section(base, {"edm": {"latent_scalling": "global"}})
    with pytest.raises(KeyError, match="known"):
        fixes.variant("nope")
    assert fixes.VARIANT_NAMES[0] == "committed" and len(set(fixes.VARIANT_NAMES)) == len(fixes.VARIANTS)
    pairs = fixes.plan(["committed", "latent_per_block"])
    assert pairs == [("committed", "MAGE-ID"), ("committed", "TabSyn"), ("latent_per_block", "MAGE-ID")]
    for v in fixes.VARIANTS:  # every variant's changes are accepted by the models they apply to
        fixes.variant_section(base, v.changes, v.step_factor)
    # a smaller batch for more steps: steps scale where the section counts steps, epochs stay epochs
    batch = fixes.variant("edm_batch_1024")
    counted = fixes.variant_section({**base, "edm": {**base["edm"], "epochs": None, "steps": 30}}, batch.changes,
                                    batch.step_factor)
    assert counted["edm"]["steps"] == 120 and counted["edm"]["batch_size"] == 1024
    shifted = fixes.variant("budget_to_edm")
    counted = fixes.variant_section({**base, "tab_vae": {**base["tab_vae"], "epochs": None, "steps": 31},
                                     "edm": {**base["edm"], "epochs": None, "steps": 30}},
                                    shifted.changes, shifted.step_factor)
    assert counted["tab_vae"]["steps"] == 16 and counted["edm"]["steps"] == 60  # 15.5 rounds to even
    by_epochs = fixes.variant_section(base, batch.changes, batch.step_factor)
    assert by_epochs["edm"].get("steps") is None and by_epochs["edm"]["epochs"] == base["edm"]["epochs"]


def test_sampling_variants_reuse_the_models_they_sample_and_run_after_them():
    """A variant that changes only how the EDM samples (Heun steps, raw or EMA weights) trains
    nothing: its trained model's key is that of the variant it samples, which runs before it."""
    from idsynth.experiments.mageid_train import make_generator, training_settings

    def trained(name):
        return training_settings(make_generator(fixes.variant_section(section(), fixes.variant(name).changes), 0,
                                                device="cpu", verbose=False).edm)

    order = list(fixes.VARIANT_NAMES)
    for name, base in (("sample_steps_25", "committed"), ("sample_steps_12", "committed"),
                       ("edm_raw_weights", "committed"), ("sample_churn", "committed"),
                       ("sample_guidance_1.5", "committed"), ("sample_guidance_2", "committed"),
                       ("keep_identities", "committed"),
                       ("edm_cosine_raw", "edm_cosine")):
        assert trained(name) == trained(base) and order.index(base) < order.index(name)
    assert trained("edm_cosine") != trained("committed")


def test_variants_change_the_base_recipe_and_rows_are_keyed_by_the_resolved_model(monkeypatch):
    """Every variant changes :data:`BASE_RECIPE` whatever MAGE-ID's default recipe is, and a row's
    key holds the model's resolved parameters: a changed default recipe makes another row, never
    an old one."""
    from idsynth.data.mageid_sets import build_mageid_sets
    from idsynth.experiments.mageid_train import make_generator
    from idsynth.models import mageid as mageid_module

    base = section()
    committed = fixes.variant_section(base, {})
    assert committed["recipe"] == fixes.BASE_RECIPE == "v1" and "recipe" not in base
    assert make_generator(committed, 0, device="cpu", verbose=False).edm.get("latent_scaling") is None
    assert make_generator(base, 0, device="cpu", verbose=False).edm["latent_scaling"] == "global"  # v2, the default
    # TabSyn has one recipe: the same model from either section
    assert (make_generator(committed, 0, ("tabular",), device="cpu").get_params()
            == make_generator(base, 0, ("tabular",), device="cpu").get_params())

    data = next(iter(build_mageid_sets(n_rows=get_profile("smoke")["mageid_data"]["n_rows"], seed=0)))
    metrics = dict(get_profile("smoke")["table_i"])
    key = fixes.row_config(data, 0, committed, "committed", "MAGE-ID", metrics)
    assert key == fixes.row_config(data, 0, committed, "committed", "MAGE-ID", metrics)
    assert key["params"]["edm"] == make_generator(committed, 0, device="cpu").edm
    global_key = fixes.row_config(data, 0, fixes.variant_section(base, fixes.variant("latent_global").changes),
                                  "committed", "MAGE-ID", metrics)
    assert global_key != key  # same name, another model: another row
    # a base recipe that changes its defaults changes the row's key under the same section
    # a variant that keeps identities is keyed by the rules found (none on the smoke NSL-KDD set)
    kept = fixes.row_config(data, 0, committed, "keep_identities", "MAGE-ID", metrics)
    assert kept["identities"] == [str(r) for r in fixes.identities_of(data)] and "identities" not in key
    monkeypatch.setattr(fixes, "identities_of", lambda s: ["x = 1·y"])
    assert fixes.row_config(data, 0, committed, "keep_identities", "MAGE-ID", metrics)["identities"] == ["x = 1·y"]
    edited = {**mageid_module.MAGEID_RECIPES["v1"], "edm": {**mageid_module.TABSYN_EDM, "sigma_data": 0.25}}
    monkeypatch.setitem(mageid_module.MAGEID_RECIPES, "v1", edited)
    assert fixes.row_config(data, 0, committed, "committed", "MAGE-ID", metrics) != key


def test_the_ablation_keeps_its_base_when_the_profile_moves_its_budget():
    """``mageid_fixes.base`` pins the section the variants change: the ``cpu`` profile doubled its
    TabVAE steps in session 30 and pins the old count, so the ablation's rows keep the keys they
    had before the move (the profile as it was: 2,000 steps, no pin); without the pin they move,
    and the profile's own model is the ablation's ``tabvae_steps_2x``."""
    from dataclasses import replace

    from idsynth.data.mageid_sets import build_mageid_sets

    cpu = get_profile("cpu")
    pinned_steps = cpu["mageid_fixes"]["base"]["tab_vae"]["steps"]
    assert cpu["mageid"]["tab_vae"]["steps"] == 2 * pinned_steps
    sections = {name: dict(cpu.sections[name]) for name in cpu.sections}
    unpinned = replace(cpu, sections={**sections, "mageid_fixes": {"variants": None, "base": None}})
    before = replace(cpu, sections={**sections, "mageid_fixes": {"variants": None, "base": None},
                                    "mageid": {**sections["mageid"],
                                               "tab_vae": {**cpu["mageid"]["tab_vae"], "steps": pinned_steps}}})
    assert fixes.ablation_section(cpu) == fixes.ablation_section(before)
    assert fixes.ablation_section(cpu)["tab_vae"] == {**cpu["mageid"]["tab_vae"], "steps": pinned_steps}
    assert fixes.ablation_section(cpu)["edm"] == dict(cpu["mageid"]["edm"])  # only the pinned part moves
    assert fixes.ablation_section(unpinned)["tab_vae"]["steps"] == 2 * pinned_steps

    data = next(iter(build_mageid_sets(n_rows=get_profile("smoke")["mageid_data"]["n_rows"], seed=0)))
    metrics = dict(cpu["table_i"])

    def section(profile, name="committed"):
        chosen = fixes.variant(name)
        return fixes.variant_section(fixes.ablation_section(profile), chosen.changes, chosen.step_factor)

    def key(profile, name="committed"):
        return fixes.row_config(data, 0, section(profile, name), name, "TabSyn", metrics)

    assert key(cpu) == key(before) and key(cpu, "tabvae_steps_2x") == key(before, "tabvae_steps_2x")
    assert key(unpinned) != key(cpu)
    # the profile's TabVAE is the ablation's tabvae_steps_2x (same TabVAE settings, hence same models)
    assert section(cpu, "tabvae_steps_2x")["tab_vae"] == dict(cpu["mageid"]["tab_vae"])
    with pytest.raises(KeyError, match="names part 'edn'"):
        fixes.ablation_section(replace(cpu, sections={**sections, "mageid_fixes": {"base": {"edn": {"steps": 1}}}}))


def rows(gain_of: dict[str, float], seeds=(0, 1, 2), noise=0.01):
    """A table where each variant's metrics are the committed ones plus ``gain_of[variant]`` plus
    ``noise`` times +1, -1, 0 for the three seeds (a paired spread with mean 0)."""
    out = []
    for seed in seeds:
        base = {m: 0.5 + 0.05 * seed for m in (*METRICS, SDMETRICS)}
        base["density"] = 0.8
        for name, gain in gain_of.items():
            for model in ("MAGE-ID", "TabSyn"):
                values = {m: v + gain + (noise * (1, -1, 0)[seed % 3] if name != "committed" else 0.0)
                          for m, v in base.items()}
                if model == "TabSyn":
                    values = {m: v - 0.1 for m, v in values.items()}
                out.append({"dataset": "NSL-KDD", "model": model, "variant": name, "seed": seed, **values,
                            "train_seconds": 1.0 + list(gain_of).index(name)})  # one fit per variant
    return fixes.fixes_table(out)


def test_paired_gains_judge_beyond_noise_and_density_by_its_distance_to_one():
    table = rows({"committed": 0.0, "latent_global": 0.1, "edm_cosine": 0.0})
    gains = fixes.paired_gains(table)
    assert len(gains) == 2 * 2 * len((*METRICS, SDMETRICS))
    better = gains[gains["variant"] == "latent_global"].set_index(["model", "metric"])
    assert (better.loc[("MAGE-ID", "precision"), "gain_mean"]) == pytest.approx(0.1, abs=0.03)
    assert better.loc[("MAGE-ID", "precision"), "beyond_noise"] == 1
    # density 0.8 -> 0.9 is 0.1 closer to 1: a gain
    assert better.loc[("MAGE-ID", "density"), "gain_mean"] == pytest.approx(0.1, abs=0.03)
    same = gains[gains["variant"] == "edm_cosine"]
    assert set(same["beyond_noise"]) == {0} and (same["n_seeds"] == 3).all()
    # a gain of 0.01 with paired spread 0.01 over 3 seeds (t = 1.7) is within noise; 0.1 is not
    small = fixes.paired_gains(rows({"committed": 0.0, "edm_cosine": 0.01}))
    assert set(small["beyond_noise"]) == {0}
    one_seed = fixes.paired_gains(table[table["seed"] == 0])
    assert one_seed["beyond_noise"].isna().all()


def test_against_variant_pairs_what_builds_on_a_recipe_with_it():
    assert fixes.builds_on("latent_global_drop", "latent_global")
    assert not fixes.builds_on("latent_drop_collapsed", "latent_global")  # drops, but scales per dimension
    assert not fixes.builds_on("latent_global", "latent_global")
    assert fixes.builds_on("edm_cosine_raw", "edm_cosine") and fixes.builds_on("latent_global", "committed")
    table = rows({"committed": 0.0, "latent_global": 0.1, "latent_global_drop": 0.15, "latent_drop_collapsed": 0.3})
    gains = fixes.against_variant(table, "latent_global")
    assert set(gains["variant"]) == {"latent_global_drop"}
    assert gains.set_index(["model", "metric"]).loc[("MAGE-ID", "precision"), "gain_mean"] == pytest.approx(0.05, abs=0.03)


def test_verdict_adopts_a_change_better_somewhere_and_worse_nowhere():
    def cells(model, dataset, flags):
        return [{"dataset": dataset, "model": model, "variant": "v", "metric": m, "beyond_noise": f}
                for m, f in zip(("detectability", "precision"), flags)]

    gains = pd.DataFrame(cells("MAGE-ID", "NSL-KDD", (1, 0)) + cells("MAGE-ID", "CIC-IDS-2017", (0, 0))
                         + cells("TabSyn", "NSL-KDD", (1, 1)) + cells("TabSyn", "CIC-IDS-2017", (-1, pd.NA)))
    gains["beyond_noise"] = gains["beyond_noise"].astype("Int64")
    out = fixes.verdict(gains).set_index("model")
    assert out.loc["MAGE-ID", ["better", "worse", "judged", "sets_better"]].tolist() == [1, 0, 4, 1]
    assert out.loc["TabSyn", ["better", "worse", "judged", "sets_better"]].tolist() == [2, 1, 3, 1]
    assert bool(out.loc["MAGE-ID", "adopt"]) and not bool(out.loc["TabSyn", "adopt"])
    assert list(fixes.verdict(gains)["model"]) == ["MAGE-ID", "TabSyn"]  # net 1 before net 1: stable order


def test_density_above_one_is_no_gain():
    table = rows({"committed": 0.0, "img_beta_low": 0.4})  # density 0.8 -> 1.2: as far from 1
    gains = fixes.paired_gains(table).set_index(["model", "metric"])
    assert gains.loc[("MAGE-ID", "density"), "gain_mean"] == pytest.approx(0.0, abs=0.03)


def test_mageid_against_tabsyn_counts_wins_per_variant():
    table = rows({"committed": 0.0, "latent_per_block": 0.05})
    table = table[~((table["model"] == "TabSyn") & (table["variant"] == "latent_per_block"))]
    versus = fixes.mageid_vs_tabsyn(table).set_index("variant")
    assert versus.loc["committed", "mageid_wins"] == 6  # TabSyn is 0.1 lower everywhere but density
    assert versus.loc["latent_per_block", "tabsyn_variant"] == "committed"
    assert versus.loc["committed", "precision_diff"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="lack"):
        fixes.fixes_table([{"dataset": "x"}])


def test_figures_draw_from_the_report_frames():
    report = pd.DataFrame({"modality": ["tabular"] * 3 + ["image"] * 2, "dim": [0, 1, 2, 0, 1],
                           "std": [1.0, 0.5, 2.0, 0.01, 0.3], "kl": [1.0, 0.2, 3.0, 0.001, 0.1],
                           "modelled": [True, True, True, False, True]})
    assert len(plot_latent_report({"NSL-KDD": report}).axes) == 2
    history = pd.DataFrame({"step": [6, 12, 18], "beta": [1e-2, 1e-2, 7e-3], "lr": [1e-3, 1e-3, 9.5e-4]})
    assert len(plot_vae_schedules({"a": history}).axes) == 2
    with pytest.raises(ValueError, match="lacks"):
        plot_vae_schedules({"a": history.drop(columns="lr")})
    gains = fixes.paired_gains(rows({"committed": 0.0, "latent_global": 0.1}))
    assert plot_variant_gains(gains, [*METRICS, SDMETRICS]).axes


def test_nan_scores_and_identical_gains_are_no_evidence():
    table = rows({"committed": 0.0, "latent_global": 0.1})
    nan_row = (table["variant"] == "latent_global") & (table["seed"] == 2)
    table.loc[nan_row, SDMETRICS] = np.nan  # SDMetrics gives NaN for unseen categories
    gains = fixes.paired_gains(table).set_index(["model", "metric"])
    assert gains.loc[("MAGE-ID", SDMETRICS), "n_seeds"] == 2 and gains.loc[("MAGE-ID", "precision"), "n_seeds"] == 3
    assert np.isfinite(gains.loc[("MAGE-ID", SDMETRICS), "gain_mean"])
    constant = rows({"committed": 0.0, "edm_cosine": 0.0}, noise=0.0)
    assert fixes.paired_gains(constant)["beyond_noise"].eq(0).all()  # zero gain, zero spread: within noise
    empty = fixes.paired_gains(constant[constant["variant"] == "committed"])
    assert list(empty.columns) == list(fixes.GAIN_COLUMNS) and empty.empty
    assert plot_variant_gains(empty, list(METRICS)) is not None


def test_a_variant_without_its_tabsyn_rows_is_left_out():
    table = rows({"committed": 0.0, "latent_global": 0.05})
    table = table[~((table["model"] == "TabSyn") & (table["variant"] == "latent_global"))]
    versus = fixes.mageid_vs_tabsyn(table)
    assert versus["variant"].tolist() == ["committed"]  # latent_global applies to TabSyn: no fallback
    assert list(fixes.mageid_vs_tabsyn(table.iloc[:0]).columns) == list(fixes.VERSUS_COLUMNS)


def test_committed_rows_are_restored_into_a_cache_that_lacks_them_and_never_over_its_own(tmp_path):
    from idsynth.cache import ArtifactCache
    from idsynth.data.mageid_sets import build_mageid_sets

    sets = build_mageid_sets(n_rows=get_profile("smoke")["mageid_data"]["n_rows"], seed=0)
    metrics = dict(get_profile("smoke")["table_i"])
    table = rows({"committed": 0.0, "sample_churn": 0.02}, seeds=(0, 1)).assign(profile="smoke")
    table = table[table["model"] == "MAGE-ID"]
    cache = ArtifactCache(tmp_path / "cache")
    nsl = [s for s in sets if s.name == "NSL-KDD"]
    held = fixes.variant_row(nsl[0], 0, section(), fixes.variant("committed"), "MAGE-ID", metrics, cache=cache,
                             only_cached=True)
    assert held is None  # nothing cached yet: only_cached trains nothing
    # the cache's own row (made by the current code) of one key stays as it is
    key = fixes.row_config(nsl[0], 0, fixes.variant_section(section(), {}), "committed", "MAGE-ID", metrics)
    fixes.cached_seed_rows(cache, fixes.ROW_KIND, key, 0, lambda: {**table.iloc[0].to_dict(), "detectability": 0.123})
    assert fixes.restore_rows(table, sets, section(), metrics, cache) == len(table) - 1
    back = fixes.run_rows(nsl, [0, 1], section(), metrics, ["committed", "sample_churn"], models=("MAGE-ID",),
                          cache=cache, only_cached=True, progress=None)
    assert len(back) == len(table)
    restored = back.set_index(["variant", "seed"])
    expected = table.set_index(["variant", "seed"])
    assert restored.loc[("committed", 0), "detectability"] == 0.123
    assert restored.loc[("sample_churn", 1), "precision"] == pytest.approx(expected.loc[("sample_churn", 1), "precision"])
    assert fixes.restore_rows(table, sets, section(), metrics, cache) == 0  # idempotent
    assert back["setting"].isna().all()  # restored rows without a setting: shown as not checked
    with pytest.raises(ValueError, match="variants \\['edm_magic'\\]"):
        fixes.restore_rows(table.assign(variant="edm_magic"), sets, section(), metrics, cache)


def test_screens_of_the_retrained_models_pair_with_them():
    table = rows({"committed": 0.0, "committed_retrain": 0.03, "sample_churn": 0.05, "latent_global": 0.1})
    gains = fixes.against_retrain(table)
    assert set(gains["variant"]) == {"sample_churn"}  # only the retrain's screens, against it
    assert np.allclose(gains["gain_mean"], 0.02) and set(fixes.PAIRED_WITH_RETRAIN) <= set(fixes.VARIANT_NAMES)
    # the verdict's gains: each variant against its exact pair
    exact = fixes.exact_pair_gains(table)
    assert set(exact["variant"]) == {"committed_retrain", "sample_churn", "latent_global"}
    churn = exact[exact["variant"] == "sample_churn"]
    assert np.allclose(churn["gain_mean"], 0.02) and len(churn) == len(gains)
    assert np.allclose(exact.loc[exact["variant"] == "latent_global", "gain_mean"], 0.1)


def test_every_variant_pairs_with_a_known_variant_up_a_chain_that_ends_at_committed():
    for v in fixes.VARIANTS:
        chain = [v.name]
        while chain[-1] != "committed":
            chain.append(fixes.variant(chain[-1]).pair)  # a KeyError names an unknown pair
            assert len(chain) == len(set(chain)), f"{v.name}: its pairs loop: {chain}"
    assert fixes.variant("latent_global_class_init").pair == "latent_global_retrain"
    assert fixes.variant("v3_noise_label_250").pair == "latent_global_class_init"  # judged on top of v3
    assert fixes.tabsyn_counterpart("v3_noise_label_250") == "committed_retrain"
    # recipe v4 trained again (session 26), and v5's change judged on top of that retrain
    assert fixes.variant("v4_class_balance_0.5").pair == "v4_retrain"
    assert fixes.variant("v4_retrain").changes == fixes.variant("v3_noise_label_250").changes
    assert fixes.builds_on("v4_class_balance_0.5", "v4_retrain")
    from idsynth.models.mageid import MAGEID_RECIPES
    assert {**MAGEID_RECIPES["v1"]["edm"], **fixes.variant("v4_class_balance_0.5").changes["edm"]} == \
        MAGEID_RECIPES["v5"]["edm"]  # the variant is recipe v5 on the ablation's base recipe
    assert fixes.builds_on("latent_global_class_init", "latent_global_retrain")
    assert "edm_class_init_0.02" in fixes.PAIRED_WITH_RETRAIN and "latent_global" not in fixes.PAIRED_WITH_RETRAIN


def test_a_change_on_top_of_a_retrained_recipe_pairs_with_that_retrain():
    table = rows({"committed": 0.0, "committed_retrain": 0.03, "latent_global_retrain": 0.05,
                  "latent_global_class_init": 0.09})
    table = table[~((table["model"] == "TabSyn") & table["variant"].str.startswith("latent_global"))]
    exact = fixes.exact_pair_gains(table)
    gain = exact.groupby("variant")["gain_mean"].mean()
    assert np.isclose(gain["latent_global_class_init"], 0.04)  # against v2 retrained, not committed
    assert np.isclose(gain["latent_global_retrain"], 0.02) and np.isclose(gain["committed_retrain"], 0.03)
    assert fixes.tabsyn_counterpart("latent_global_class_init") == "committed_retrain"
    assert fixes.tabsyn_counterpart("latent_per_block") == "committed"
    assert fixes.tabsyn_counterpart("edm_class_init_0.02") == "edm_class_init_0.02"
    versus = fixes.mageid_vs_tabsyn(table).set_index("variant")
    assert versus.loc["latent_global_class_init", "tabsyn_variant"] == "committed_retrain"
    # MAGE-ID's rows are TabSyn's + 0.1 (rows()), the counterpart's 0.03 below its own 0.09
    assert np.isclose(versus.loc["latent_global_class_init", "precision_diff"], 0.1 + 0.09 - 0.03)


def test_a_change_on_a_recipe_meets_only_that_recipe_made_by_the_same_code():
    table = rows({"committed": 0.0, "committed_retrain": 0.01, "latent_global": 0.1, "latent_global_drop": 0.15,
                  "latent_global_retrain": 0.05, "latent_global_class_init": 0.12})
    on_first = fixes.against_variant(table, "latent_global")
    assert set(on_first["variant"]) == {"latent_global_drop"}  # not the changes made on the retrain
    on_retrain = fixes.against_variant(table, "latent_global_retrain")
    assert set(on_retrain["variant"]) == {"latent_global_class_init"}  # not latent_global (another code)
    assert np.allclose(on_retrain["gain_mean"], 0.07)


def test_a_row_key_names_the_model_code_and_the_scoring_code(monkeypatch):
    from idsynth.data.mageid_sets import build_mageid_sets
    from idsynth.experiments import table_i_scoring

    nsl = [s for s in build_mageid_sets(n_rows=get_profile("smoke")["mageid_data"]["n_rows"], seed=0)
           if s.name == "NSL-KDD"][0]
    metrics = dict(get_profile("smoke")["table_i"])
    changed = fixes.variant_section(section(), {})

    def setting():
        return fixes.row_setting(fixes.row_config(nsl, 0, changed, "committed", "MAGE-ID", metrics))

    before = setting()
    assert before == setting() and len(before) == 12
    fresh = fixes.make_generator(changed, 0, fixes.MODALITIES["MAGE-ID"], device="cpu", verbose=False)
    monkeypatch.setattr(type(fresh), "CODE_VERSION", (getattr(type(fresh), "CODE_VERSION", None) or 0) + 1000)
    bumped = setting()
    assert bumped != before  # a fit-changing code version makes another row
    monkeypatch.undo()
    monkeypatch.setattr(fixes, "scoring_code_digest", lambda: "0" * 16)
    assert setting() not in (before, bumped)  # so does other scoring code


def test_a_committed_row_of_another_setting_is_not_restored(tmp_path):
    from idsynth.cache import ArtifactCache
    from idsynth.data.mageid_sets import build_mageid_sets

    sets = build_mageid_sets(n_rows=get_profile("smoke")["mageid_data"]["n_rows"], seed=0)
    nsl = [s for s in sets if s.name == "NSL-KDD"]
    metrics = dict(get_profile("smoke")["table_i"])
    table = rows({"committed": 0.0}, seeds=(0, 1)).assign(profile="smoke")
    table = table[table["model"] == "MAGE-ID"].reset_index(drop=True)
    current = fixes.row_setting(fixes.row_config(nsl[0], 0, fixes.variant_section(section(), {}), "committed",
                                                 "MAGE-ID", metrics))
    table["setting"] = [current, "0123456789ab"]  # seed 1's row was made by other code
    said = []
    cache = ArtifactCache(tmp_path / "cache")
    assert fixes.restore_rows(table, sets, section(), metrics, cache, progress=said.append) == 1
    assert len(said) == 1 and "1 rows not restored" in said[0] and "seed 1" in said[0]
    back = fixes.run_rows(nsl, [0, 1], section(), metrics, ["committed"], models=("MAGE-ID",), cache=cache,
                          only_cached=True, progress=None)
    assert back["seed"].tolist() == [0] and back["setting"].tolist() == [current]


def test_the_equal_budget_bar_asks_every_fidelity_metric_beyond_noise_per_model_and_set():
    changes = {"MAGE-ID": "v3_noise_label_250", "TabSyn": "class_init_noise_label_250"}
    table = rows({"committed": 0.0, "v3_noise_label_250": 0.1, "class_init_noise_label_250": 0.01})
    table = table[~((table["model"] == "TabSyn") & (table["variant"] == "v3_noise_label_250"))]
    table = table[~((table["model"] == "MAGE-ID") & (table["variant"] == "class_init_noise_label_250"))]
    bar = fixes.equal_budget_bar(fixes.paired_gains(table), changes).set_index("model")
    assert bar.loc["MAGE-ID", "met"] and not bar.loc["TabSyn", "met"]  # a gain of 0.01 with spread 0.01: noise
    assert bar.loc["MAGE-ID", "precision_gain"] == pytest.approx(0.1, abs=0.03) and bar.loc["MAGE-ID", "n_seeds"] == 3
    assert list(bar.loc["TabSyn", [f"{m}_beyond_noise" for m in fixes.FIDELITY_METRICS]]) == [0, 0, 0]
    # TabSyn's precision better beyond noise, density and coverage not: one metric of three is not the bar
    lifted = table.copy()
    lifted.loc[lifted["variant"] == "class_init_noise_label_250", "precision"] += 0.1
    bar = fixes.equal_budget_bar(fixes.paired_gains(lifted), changes).set_index("model")
    assert bar.loc["TabSyn", "precision_beyond_noise"] == 1 and not bar.loc["TabSyn", "met"]
    assert fixes.equal_budget_bar(fixes.paired_gains(lifted), changes, ("precision",)).set_index("model").loc["TabSyn", "met"]
    # a single seed judges nothing
    single = fixes.equal_budget_bar(fixes.paired_gains(table[table["seed"] == 0]), changes)
    assert not single["met"].any() and single["precision_beyond_noise"].isna().all()
    assert fixes.equal_budget_bar(fixes.paired_gains(table), {"MAGE-ID": "edm_cosine"}).empty


def test_one_model_scored_under_two_names_is_no_pair():
    # committed_retrain at seeds 3-4 is the committed model itself (the current code trained it once)
    table = rows({"committed": 0.0, "committed_retrain": 0.02}, seeds=(0, 1, 2, 3, 4))
    same = (table["variant"] == "committed_retrain") & table["seed"].isin([3, 4])
    for seed in (3, 4):
        for model in ("MAGE-ID", "TabSyn"):
            ref = table[(table["variant"] == "committed") & (table["seed"] == seed) & (table["model"] == model)]
            table.loc[same & (table["seed"] == seed) & (table["model"] == model), ["train_seconds", *METRICS, SDMETRICS]] = \
                ref[["train_seconds", *METRICS, SDMETRICS]].to_numpy()
    gains = fixes.paired_gains(table)
    assert (gains["n_seeds"] == 3).all()
    assert gains.set_index(["model", "metric"]).loc[("MAGE-ID", "precision"), "gain_mean"] == pytest.approx(0.02, abs=0.01)
    # the same scores with other training seconds are two models that agree: a pair
    table.loc[same, "train_seconds"] += 1.0
    assert (fixes.paired_gains(table)["n_seeds"] == 5).all()


def test_matched_ablation_pairs_each_models_own_recipe_by_seed_and_tests_the_difference():
    # MAGE-ID's rows of v3_noise_label_250 are TabSyn's rows of class_init_noise_label_250 + 0.1 + noise:
    # rows() makes TabSyn 0.1 below MAGE-ID within a variant, and the two variants' gains differ by 0.02
    table = rows({"committed": 0.0, "v3_noise_label_250": 0.02, "class_init_noise_label_250": 0.0}, noise=0.001)
    matched = fixes.matched_ablation(table)
    assert list(matched.columns) == list(fixes.MATCHED_COLUMNS) and len(matched) == len(fixes.SCORED)
    cell = matched.set_index("metric").loc["precision"]
    assert cell["mageid_variant"] == "v3_noise_label_250" and cell["tabsyn_variant"] == "class_init_noise_label_250"
    assert cell["n_seeds"] == 3 and cell["diff_mean"] == pytest.approx(0.12) and cell["mageid_better"] == 1
    # density is judged by its distance to 1: MAGE-ID 1.1, TabSyn 0.7 -> 0.2 closer (not 0.4)
    over = table.copy()
    over.loc[(over["model"] == "MAGE-ID") & (over["variant"] == "v3_noise_label_250"), "density"] = 1.1
    assert fixes.matched_ablation(over).set_index("metric").loc["density", "diff_mean"] == pytest.approx(0.2)
    # TabSyn's recipe better on a metric beyond noise: -1; a NaN score drops its seed from that metric only
    flipped = table.copy()
    is_mine = (flipped["model"] == "MAGE-ID") & (flipped["variant"] == "v3_noise_label_250")
    flipped.loc[is_mine, "coverage"] -= 0.3
    flipped.loc[is_mine & (flipped["seed"] == 0), SDMETRICS] = np.nan
    again = fixes.matched_ablation(flipped).set_index("metric")
    assert again.loc["coverage", "mageid_better"] == -1 and again.loc["coverage", "diff_mean"] == pytest.approx(-0.18)
    assert again.loc[SDMETRICS, "n_seeds"] == 2 and again.loc["precision", "n_seeds"] == 3
    # a set where one model lacks its recipe's rows has no cells; under two seeds: no verdict
    assert fixes.matched_ablation(table[table["variant"] != "class_init_noise_label_250"]).empty
    one = fixes.matched_ablation(table[table["seed"] == 0])
    assert one["mageid_better"].isna().all() and one["diff_std"].isna().all()
