"""synthetic_check: own-class share, learnt constraints, unseen categories (data made here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from idsynth.metrics import SyntheticDataWarning, learn_constraints, synthetic_check
from idsynth.sampling import GeneratorOverSampler
from sampling_fakes import ClassFrameGenerator

pytestmark = pytest.mark.usefixtures("one_thread")


def real_rows(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Benign rows small and TCP/UDP; attack rows large and TCP only; min <= mean <= max."""
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.3, "attack", "benign")
    low = rng.integers(0, 20, n) + 500 * (y == "attack")
    span = rng.integers(1, 50, n)
    X = pd.DataFrame({
        "len_min": low, "len_mean": low + span / 2, "len_max": low + span,
        "rate": rng.random(n),
        "proto": np.where(y == "attack", "TCP", rng.choice(["TCP", "UDP"], n)),
    })  # fmt: skip
    return X, y


def test_faithful_rows_pass_and_the_report_is_clean():
    X, y = real_rows()
    X_new, y_new = real_rows(seed=1)  # fresh draws from the same distribution
    check = synthetic_check(X, y, X_new, y_new, random_state=0)
    assert (check.classes["own_class_share"] > 0.95).all()
    assert (check.classes["constraint_share"] < 0.02).all() and not check.classes["flagged"].any()  # range edges only
    assert check.warnings() == [] and "No class above the thresholds" in str(check)


def test_attack_rows_that_look_benign_are_flagged_with_what_they_look_like():
    X, y = real_rows()
    benign_like, _ = real_rows(seed=2)
    benign_like = benign_like[_ == "benign"].head(100)
    check = synthetic_check(X, y, benign_like, np.full(len(benign_like), "attack"), random_state=0)
    row = check.classes.loc["attack"]
    assert row["own_class_share"] < 0.1 and row["predicted_as"] == "benign" and row["real_own_class_share"] > 0.9
    assert any("only" in w and "'benign'" in w for w in check.warnings())
    # the UDP rows are a category the attack class never takes in the real rows
    assert row["unseen_category_share"] == pytest.approx(np.mean(benign_like["proto"] == "UDP"))
    assert "proto = 'UDP' (never in this class)" in set(check.violations["constraint"])


def test_constraints_are_learnt_from_the_real_rows():
    X, _ = real_rows()
    rules = {str(r) for r in learn_constraints(X, ["len_min", "len_mean", "len_max", "rate"])}
    assert {"len_min <= len_mean", "len_mean <= len_max", "len_min <= len_max"} <= rules
    assert {"len_min >= 0", "len_min is a whole number", "len_max is a whole number"} <= rules
    assert "len_mean is a whole number" not in rules and "rate is a whole number" not in rules
    assert not any(r.startswith("rate <=") or r.endswith("<= rate") for r in rules)  # never holds


def test_impossible_rows_are_counted_per_rule_and_warned_above_the_threshold():
    X, y = real_rows()
    bad, y_bad = real_rows(seed=3)
    swap = np.arange(len(bad)) % 4 == 0  # a quarter of rows: min > max, a negative rate, a fraction
    bad.loc[swap, ["len_min", "len_max"]] = bad.loc[swap, ["len_max", "len_min"]].to_numpy()
    bad["len_max"] = bad["len_max"].astype(float)
    bad.loc[swap, "len_max"] += 0.5
    bad.loc[swap, "rate"] = -1.0
    check = synthetic_check(X, y, bad, y_bad, random_state=0)
    counts = check.violations.groupby("constraint")["rows"].sum()
    assert counts["len_min <= len_max"] == swap.sum()
    assert counts["rate >= 0"] == swap.sum() and counts["len_max is a whole number"] == swap.sum()
    planted = np.asarray([swap[y_bad == c].mean() for c in check.classes.index])
    share = check.classes["constraint_share"].to_numpy()
    assert (share >= planted).all() and (share <= planted + 0.03).all()  # plus a few range edges
    with pytest.warns(SyntheticDataWarning, match="break a rule every real row keeps"):
        check.warn()


def test_the_sampler_reports_through_report_warn():
    X, y = real_rows()
    X["proto"] = np.where(y == "attack", "TCP", "UDP")  # the fake generator draws per-class categories

    # independent per-column Gaussians break len_min <= len_mean <= len_max in some rows
    sampler = GeneratorOverSampler(ClassFrameGenerator(), random_state=0, report="warn", max_violation_share=0.0)
    with pytest.warns(SyntheticDataWarning, match="class 'attack': .* break a rule every real row keeps"):
        sampler.fit_resample(X, y)
    assert list(sampler.check_.classes.index) == ["attack"]
    quiet = GeneratorOverSampler(ClassFrameGenerator(), random_state=0)
    quiet.fit_resample(X, y)
    assert not hasattr(quiet, "check_")
