"""What the run plan says an empty cache costs (idsynth.cold_cost): from the committed tables' seconds."""

import pandas as pd
import pytest

from idsynth import cold_cost, runner


def _tables(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tableI_mageid.csv").write_text(
        "dataset,model,seed,fit_seconds,sample_seconds\n"
        "A,MAGE-ID,0,100,10\nA,TabSyn,0,50,5\nA,MAGE-ID,1,300,30\nA,TabSyn,1,150,15\n"
        "A,TabDDPM,0,20,2\nA,VGM-C,0,9999,9\n"
    )
    (folder / "mageid_schedule.csv").write_text(
        "dataset,model,schedule,seed,fit_seconds,sample_seconds\nA,MAGE-ID,short,0,100,10\nA,MAGE-ID,long,0,200,10\n"
    )
    return folder


def test_a_group_of_notebooks_is_charged_once_per_seed_from_the_rows_it_names(tmp_path):
    tables = _tables(tmp_path / "tables")
    costs = cold_cost.cold_costs(["07_mageid_stage2", "08_baselines", "09_mageid_eval", "12_mageid_schedule"], tables, 3)
    # 06-09's MAGE-ID + TabSyn: (110 + 55 + 330 + 165) / 2 seeds measured = 330 s a seed, charged to 07
    assert set(costs) == {"07_mageid_stage2", "08_baselines", "12_mageid_schedule"}
    assert costs["07_mageid_stage2"].seconds == pytest.approx(3 * 330.0)
    assert costs["07_mageid_stage2"].measured_seeds == 2 and costs["07_mageid_stage2"].tables == ("tableI_mageid.csv",)
    assert costs["08_baselines"].seconds == pytest.approx(3 * 22.0)  # VGM-C's rows are not notebook 08's
    assert costs["12_mageid_schedule"].seconds == pytest.approx(3 * 210.0)  # the long schedule only
    assert cold_cost.cold_costs(["11_cross_eval_table6", "13_mageid_fixes"], tables, 3) == {}  # nothing recorded


def test_a_table_that_does_not_record_the_seconds_gives_no_cost(tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "tableI_mageid.csv").write_text("dataset,model,seed,fit_seconds\nA,TabDDPM,0,20\n")
    assert cold_cost.cold_costs(["08_baselines"], tables, 1) == {}


def test_the_committed_cpu_tables_record_every_fit_the_plan_names():
    """A column or value misspelt in NOTEBOOK_FITS would silently drop a notebook's cost."""
    from idsynth.config import figures_dir

    tables = figures_dir("cpu") / "tables"
    for notebook, costs in cold_cost.NOTEBOOK_FITS.items():
        for cost in costs:
            table = pd.read_csv(tables / cost.table)
            assert {*cost.seconds, "seed", *cost.where} <= set(table.columns), (notebook, cost.table)
            for column, values in cost.where.items():
                assert set(values) <= set(table[column]), (notebook, cost.table, column)


@pytest.mark.parametrize("profile", ["paper", "cpu", "smoke"])
def test_the_plan_reads_every_profile_s_committed_tables(profile, tmp_path):
    from idsynth.config import repo_root

    notebooks = sorted((repo_root() / "notebooks").glob("*.ipynb"))
    text = runner.plan(notebooks, profile, "cpu", tmp_path, n_seeds=3)
    assert text.count("[run_all]   ") == len(notebooks)


def test_the_plan_adds_what_an_empty_cache_costs(tmp_path, monkeypatch):
    _tables(tmp_path / "fig" / "tables")
    monkeypatch.setattr(runner, "figures_dir", lambda profile: tmp_path / "fig")
    notebooks = [tmp_path / f"{stem}.ipynb" for stem in ("06_mageid_stage1", "09_mageid_eval", "10_other")]
    text = runner.plan(notebooks, "cpu", "cpu", tmp_path / "out", n_seeds=2)
    line_06 = next(line for line in text.splitlines() if "06_mageid_stage1" in line)
    assert "its models from an empty cache: +11 min of one process (2 seeds, from 2 measured in tableI_mageid.csv)" in line_06
    assert "empty cache" not in next(line for line in text.splitlines() if "09_mageid_eval" in line)
    assert "from an empty cache add 11 min of one process" in text
