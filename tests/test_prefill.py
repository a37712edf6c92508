"""prefill: the unit plan, the complete-seed count, and that prefilled entries are the
notebooks' cache entries (a notebook-side lookup afterwards finds them without fitting)."""

from __future__ import annotations

import pytest

from idsynth import prefill
from idsynth.prefill import Unit, complete_seeds, only_seeds, plan_units


def test_plan_is_seed_major_with_both_mageid_variants():
    units = plan_units(["mageid", "tabddpm"], ["NSL-KDD", "CIC-IDS-2017"], [3, 4])
    assert [u.seed for u in units] == [3] * 6 + [4] * 6
    first = units[:3]
    assert first == [
        Unit("mageid", "NSL-KDD", 3, model="MAGE-ID"),
        Unit("mageid", "NSL-KDD", 3, model="TabSyn"),
        Unit("tabddpm", "NSL-KDD", 3),
    ]
    assert plan_units(["tabddpm"], ["NSL-KDD"], [0]) == [Unit("tabddpm", "NSL-KDD", 0)]
    with pytest.raises(ValueError, match="unknown --what"):
        plan_units(["vgm"], ["NSL-KDD"], [0])


def test_crosseval_units_are_kddtrain_models_last_in_each_seed_mageid_before_tabsyn():
    units = plan_units(["tabddpm", "crosseval"], ["NSL-KDD"], [0, 1], crosseval_models=("MAGE-ID", "TabSyn"))
    assert units[:3] == [
        Unit("tabddpm", "NSL-KDD", 0),
        Unit("crosseval", "KDDTrain+", 0, model="MAGE-ID"),
        Unit("crosseval", "KDDTrain+", 0, model="TabSyn"),
    ]
    assert [u.seed for u in units] == [0, 0, 0, 1, 1, 1]
    assert plan_units(["crosseval"], [], [2]) == [Unit("crosseval", "KDDTrain+", 2, model=m)
                                                  for m in ("MAGE-ID", "TabSyn", "TabDDPM")]


def test_complete_seeds_counts_leading_seeds_whose_units_all_finished():
    units = plan_units(["tabddpm"], ["A", "B"], [0, 1, 2])
    assert complete_seeds(units, []) == 0
    assert complete_seeds(units, units[:1]) == 0
    assert complete_seeds(units, units[:2]) == 1
    assert complete_seeds(units, units[:2] + units[4:]) == 1  # seed 1 incomplete: seed 2 does not count
    assert complete_seeds(units, units) == 3


def test_only_seeds_keeps_the_named_seeds_units_and_refuses_unplanned_ones():
    units = plan_units(["crosseval", "mageid_long"], ["NSL-KDD"], [0, 1, 2], crosseval_models=("TabDDPM",), long_seeds=1)
    assert only_seeds(units, None) == units
    assert only_seeds(units, [2]) == [Unit("crosseval", "KDDTrain+", 2, model="TabDDPM")]
    kept = only_seeds(units, [0, 2])
    assert {u.seed for u in kept} == {0, 2} and len(kept) == 4  # seed 0: 2 long units + 1 crosseval
    with pytest.raises(ValueError, match=r"--only-seeds \[5\] are not among the planned seeds \[0, 1, 2\]"):
        only_seeds(units, [1, 5])


def test_main_with_only_seeds_makes_nothing_of_the_other_seeds(monkeypatch, capsys):
    made = []
    monkeypatch.setattr(prefill, "prefill", lambda units, *a, **k: made.extend(units) or {u: 0.0 for u in units})
    assert prefill.main(["--profile", "paper", "--what", "crosseval", "--only-seeds", "1"]) == 0
    assert made and {u.seed for u in made} == {1}
    assert "complete seeds: 1" in capsys.readouterr().out


def test_prefill_rejects_empty_pools():
    with pytest.raises(ValueError, match="workers >= 1"):
        prefill.prefill([], "smoke", workers=0)


@pytest.mark.slow
def test_prefilled_tabddpm_is_found_by_the_notebook_lookup(data_dir, tmp_path, monkeypatch):
    from idsynth.cache import ArtifactCache
    from idsynth.config import get_profile
    from idsynth.data.mageid_sets import build_mageid_sets
    from idsynth.experiments.table_i import sample_synthetic
    from idsynth.experiments.tabddpm_run import NAME, tabddpm_factory
    from idsynth.models.tabddpm import TabDDPM

    monkeypatch.setenv("IDSYNTH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("IDSYNTH_DATA", str(data_dir))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    units = plan_units(["tabddpm"], ["NSL-KDD"], [0])
    done = prefill.prefill(units, "smoke", base_seed=0, device="cpu", workers=1, threads=1)
    assert set(done) == set(units) and complete_seeds(units, done) == 1

    def no_fit(*args, **kwargs):
        raise AssertionError("the prefilled model should have come from the cache")

    monkeypatch.setattr(TabDDPM, "fit", no_fit)
    profile = get_profile("smoke")
    sets = build_mageid_sets(n_rows=profile["mageid_data"]["n_rows"], seed=0, data_dir=data_dir)
    # notebook 08 makes its factory with verbose=P.is_paper: verbose is not part of the key
    result = sample_synthetic(NAME, tabddpm_factory(profile["tabddpm"], device="cpu", verbose=True),
                              sets.nslkdd, 0, ArtifactCache())
    assert len(result["frame"]) == len(sets.nslkdd.train)


@pytest.mark.slow
def test_prefilled_crosseval_generator_is_found_by_notebook_11s_lookup(data_dir, tmp_path, monkeypatch):
    from idsynth.cache import ArtifactCache
    from idsynth.config import get_profile
    from idsynth.data.nslkdd import load_vgm_arrays
    from idsynth.experiments.cross_eval import fit_table6_generator, table6_factories, table6_training_frame
    from idsynth.models.tabddpm import TabDDPM

    monkeypatch.setenv("IDSYNTH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    units = [Unit("crosseval", "KDDTrain+", 0, model="TabDDPM")]
    done = prefill.prefill(units, "smoke", base_seed=0, device="cpu", data_dir=str(data_dir), workers=1, threads=1)
    assert set(done) == set(units)

    def no_fit(*args, **kwargs):
        raise AssertionError("the prefilled model should have come from the cache")

    monkeypatch.setattr(TabDDPM, "fit", no_fit)
    profile = get_profile("smoke")
    sizes = profile["cross_eval"]["table6"]
    data = load_vgm_arrays(data_dir, train_rows=sizes["train_rows"], test_rows=sizes["test_rows"], seed=0)
    # notebook 11: table6_factories(..., verbose=P.is_paper); verbose and device are not in the key
    factory = table6_factories(profile["mageid"], profile["tabddpm"], device="cpu", verbose=True, names=["TabDDPM"])
    X, y = table6_training_frame(data)
    generator, _ = fit_table6_generator("TabDDPM", factory["TabDDPM"], X, y, 0, ArtifactCache())
    assert isinstance(generator, TabDDPM)


def test_long_schedule_units_cover_the_first_long_seeds_only():
    units = plan_units(["mageid_long"], ["NSL-KDD", "CIC-IDS-2017"], [0, 1, 2], long_seeds=1)
    assert units == [Unit("mageid_long", name, 0, model=model)
                     for name in ("NSL-KDD", "CIC-IDS-2017") for model in prefill.MAGEID_MODELS]
    both = plan_units(["mageid", "mageid_long"], ["NSL-KDD"], [0, 1], long_seeds=1)
    assert [(u.what, u.seed) for u in both] == [("mageid", 0)] * 2 + [("mageid_long", 0)] * 2 + [("mageid", 1)] * 2


def test_table_i_units_name_their_registry_generator_and_main_checks_the_names(monkeypatch):
    units = plan_units(["table_i"], ["NSL-KDD", "CIC-IDS-2017"], [0], table_i_models=("TVAE", "CTGAN"))
    assert units == [Unit("table_i", "NSL-KDD", 0, model="TVAE"), Unit("table_i", "NSL-KDD", 0, model="CTGAN"),
                     Unit("table_i", "CIC-IDS-2017", 0, model="TVAE"), Unit("table_i", "CIC-IDS-2017", 0, model="CTGAN")]
    made = []
    monkeypatch.setattr(prefill, "prefill", lambda units, *a, **k: made.extend(units) or {u: 0.0 for u in units})
    assert prefill.main(["--profile", "smoke", "--what", "crosseval", "--models", "CTGAN"]) == 0
    assert made == [Unit("crosseval", "KDDTrain+", 0, model="CTGAN")]
    with pytest.raises(KeyError, match="registered"):
        prefill.main(["--profile", "smoke", "--what", "table_i", "--models", "GAN-9000"])


@pytest.mark.slow
def test_a_prefilled_registry_generator_is_found_by_the_table_i_route(data_dir, tmp_path, monkeypatch):
    pytest.importorskip("sdv")
    from idsynth.cache import ArtifactCache
    from idsynth.config import get_profile
    from idsynth.experiments import sdv_peers
    from idsynth.models.sdv_generators import SDVSynthesizer

    monkeypatch.setenv("IDSYNTH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    units = plan_units(["table_i"], ["NSL-KDD"], [0], table_i_models=["GaussianCopula"])
    done = prefill.prefill(units, "smoke", base_seed=0, device="cpu", data_dir=str(data_dir), workers=1, threads=1)
    assert set(done) == set(units)

    def no_fit(*args, **kwargs):
        raise AssertionError("the prefilled model should have come from the cache")

    monkeypatch.setattr(SDVSynthesizer, "fit", no_fit)
    profile = get_profile("smoke")
    sets = sdv_peers.peer_sets(profile, data_dir, datasets=["NSL-KDD"])
    _, synthetic = sdv_peers.peer_table_i(profile, [0], sets, ["GaussianCopula"], "cpu", ArtifactCache())
    assert len(synthetic[("NSL-KDD", "GaussianCopula", 0)][0]) == len(sets[0].train)


@pytest.mark.slow
def test_a_prefilled_mageid_unit_is_found_by_the_notebooks_train_mageid(data_dir, tmp_path, monkeypatch):
    """A "mageid" unit is planned by registry name and fitted through idsynth.runs: notebook 06/07's
    train_mageid (modalities, profile section) finds both of its stages; a MAGE-ID unit fitted
    later, as by another worker, takes the cached TabSyn's TabVAE instead of training its own."""
    from idsynth.cache import ArtifactCache
    from idsynth.config import get_profile
    from idsynth.data.mageid_sets import build_mageid_sets
    from idsynth.experiments.mageid_train import is_cached

    monkeypatch.setenv("IDSYNTH_CACHE", str(tmp_path / "cache"))
    unit = Unit("mageid", "NSL-KDD", 0, model="TabSyn")
    assert prefill.run_unit(unit, "smoke", 0, "cpu", str(data_dir))[0] == unit
    profile = get_profile("smoke")
    nslkdd = {s.name: s for s in build_mageid_sets(n_rows=profile["mageid_data"]["n_rows"], seed=0,
                                                  data_dir=data_dir)}["NSL-KDD"]
    for stage in (1, 2):
        assert is_cached(nslkdd, 0, profile["mageid"], ("tabular",), ArtifactCache(), stage=stage)
    assert not is_cached(nslkdd, 0, profile["mageid"], cache=ArtifactCache())  # MAGE-ID was not made

    from idsynth.models import mageid as mageid_module
    from idsynth.models.tab_vae import TabVAE

    mageid_module._TAB_VAE_MEMO.clear()  # as in another worker's process
    monkeypatch.setattr(TabVAE, "fit", lambda *a, **k: pytest.fail("the MAGE-ID unit trained the TabVAE again"))
    mageid_unit = Unit("mageid", "NSL-KDD", 0, model="MAGE-ID")
    assert prefill.run_unit(mageid_unit, "smoke", 0, "cpu", str(data_dir))[0] == mageid_unit
    assert is_cached(nslkdd, 0, profile["mageid"], cache=ArtifactCache())
