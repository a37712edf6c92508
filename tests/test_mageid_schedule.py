"""The long-schedule section and the long-vs-short comparison of notebook 12, on hand-made rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from idsynth.config import get_profile
from idsynth.experiments.mageid_schedule import COMPARISON_COLUMNS, long_section, schedule_comparison
from idsynth.experiments.table_i import METRICS


def test_long_section_changes_only_the_named_epochs_and_refuses_typos():
    short = dict(get_profile("paper")["mageid"])
    long = long_section(short, {"tab_vae": {"epochs": 4000}, "edm": {"epochs": 10000}})
    assert long["tab_vae"] == {**short["tab_vae"], "epochs": 4000}
    assert long["edm"] == {**short["edm"], "epochs": 10000}
    assert long["img_vae"] == short["img_vae"] and long["numeric_scaling"] == short["numeric_scaling"]
    assert short["tab_vae"]["epochs"] == 600  # the short section is not modified
    with pytest.raises(KeyError, match="no keys \\['epoch'\\]"):
        long_section(short, {"tab_vae": {"epoch": 4000}})
    with pytest.raises(KeyError, match="no sub-model 'diffusion'"):
        long_section(short, {"diffusion": {"epochs": 1}})


def test_both_profiles_name_a_longer_schedule_for_every_sub_model_they_override():
    for name in ("paper", "smoke"):
        profile = get_profile(name)
        long = profile["mageid_schedule"]["long"]
        for part, values in long.items():
            assert values["epochs"] > profile["mageid"][part]["epochs"], (name, part)


def rows(schedule: str, seeds, **metrics) -> list[dict]:
    base = {m: 0.5 for m in METRICS}
    return [{"dataset": "NSL-KDD", "model": "MAGE-ID", "seed": s, "schedule": schedule,
             **base, **{m: v[i] for m, v in metrics.items()}} for i, s in enumerate(seeds)]


def test_comparison_flags_a_long_run_better_beyond_twice_the_short_spread():
    frame = pd.DataFrame(
        rows("short", [0, 1, 2], precision=[0.40, 0.42, 0.44], coverage=[0.50, 0.50, 0.50], density=[0.3, 0.3, 0.5])
        + rows("long", [0], precision=[0.60], coverage=[0.49], density=[0.9])
    )
    result = schedule_comparison(frame)
    assert list(result.columns) == list(COMPARISON_COLUMNS)
    out = result.set_index("metric")
    assert out.loc["precision", "short_mean"] == pytest.approx(0.42)
    assert out.loc["precision", "short_std"] == pytest.approx(0.02)
    assert out.loc["precision", "long_minus_short"] == pytest.approx(0.18)
    verdict = out["long_better_beyond_noise"].astype(bool)
    assert verdict["precision"]  # 0.18 > 2 * 0.02
    assert not verdict["coverage"]  # worse, and the spread is 0
    # density: the long run's 0.9 is closer to 1 than the short mean 0.367 by 0.53 > 2 * 0.115
    assert verdict["density"]
    assert not verdict["recall"]  # equal
    assert out.loc["precision", "poster"] == pytest.approx(0.7978)  # the poster's NSL-KDD MAGE-ID row
    assert out.loc["precision", "long_minus_poster"] == pytest.approx(0.60 - 0.7978)
    assert out.loc["precision", "short_minus_poster"] == pytest.approx(0.42 - 0.7978)


def test_comparison_needs_two_short_seeds_for_a_verdict_and_both_schedules():
    one = pd.DataFrame(rows("short", [0]) + rows("long", [0]))
    assert schedule_comparison(one)["long_better_beyond_noise"].isna().all()
    assert np.isnan(schedule_comparison(one)["short_std"]).all()
    with pytest.raises(ValueError, match="both schedules"):
        schedule_comparison(pd.DataFrame(rows("short", [0, 1])))
    with pytest.raises(ValueError, match="schedule must be one of"):
        schedule_comparison(pd.DataFrame(rows("medium", [0])))
    with pytest.raises(ValueError, match="lack the columns \\['schedule'\\]"):
        schedule_comparison(pd.DataFrame(rows("short", [0])).drop(columns="schedule"))
