"""Exact linear identities among numeric columns (idsynth.data.identities)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from idsynth.data.identities import Identity, find_identities, keep_identities


def table(n=500, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 1000, n)
    b = rng.lognormal(3.0, 2.0, n)
    frame = pd.DataFrame({
        "a": a,                                   # integers
        "b": b,                                   # heavy-tailed
        "const": np.full(n, 7.0),                 # constant: no rule
        "copy_a": a.copy(),                       # a copy of a
        "noisy": b + rng.normal(0, 1e-3, n),      # close to b, not equal: no rule
        "affine": 2.0 * a - 0.5 * b + 3.0,        # an affine function of a and b
        "free": rng.normal(size=n),
    })
    return frame


def test_copies_and_affine_columns_are_found_with_the_later_column_as_target():
    frame = table()
    rules = find_identities(frame, list(frame.columns))
    assert [r.target for r in rules] == ["copy_a", "affine"]
    copy, affine = rules
    assert copy.sources == ("a",) and copy.weights == (1.0,) and copy.intercept == 0.0 and copy.max_error == 0.0
    assert set(affine.sources) == {"a", "b"}
    weights = dict(zip(affine.sources, affine.weights))
    assert weights["a"] == 2.0 and weights["b"] == pytest.approx(-0.5) and affine.intercept == pytest.approx(3.0)
    assert "copy_a = 1·a" in str(copy)
    # the later column is the target whatever the order of the columns
    reordered = find_identities(frame, ["copy_a", "b", "a", "affine", "free"])
    assert [(r.target, r.sources) for r in reordered][0] == ("a", ("copy_a",))


def test_a_sum_is_computed_from_its_parts_wherever_it_stands():
    rng = np.random.default_rng(3)
    parts = rng.lognormal(0, 1, (300, 2))
    frame = pd.DataFrame({"total": parts.sum(axis=1), "fwd": parts[:, 0], "bwd": parts[:, 1], "x": rng.random(300)})
    (rule,) = find_identities(frame, list(frame.columns))
    assert rule.target == "total" and rule.sources == ("fwd", "bwd") and rule.weights == (1.0, 1.0)


def test_keep_identities_recomputes_the_targets_of_generated_rows():
    frame = table()
    rules = find_identities(frame, list(frame.columns))
    generated = table(n=200, seed=1)
    generated["copy_a"] += 3  # a generator's independent errors
    generated["affine"] *= 1.01
    kept = keep_identities(generated, rules)
    assert (kept["copy_a"] == kept["a"]).all() and kept["copy_a"].dtype == generated["copy_a"].dtype
    assert np.allclose(kept["affine"], 2.0 * kept["a"] - 0.5 * kept["b"] + 3.0)
    untouched = [c for c in generated.columns if c not in ("copy_a", "affine")]
    pd.testing.assert_frame_equal(kept[untouched], generated[untouched])
    assert (generated["copy_a"] != generated["a"]).all()  # the input is not changed


def test_a_relation_seen_on_the_probed_rows_must_hold_on_all(monkeypatch):
    import idsynth.data.identities as identities

    frame = table(n=1000).drop(columns="affine").assign(copy_b=lambda f: f["b"])
    frame.loc[1, "copy_a"] += 1  # breaks the copy on one row the probe skips
    monkeypatch.setattr(identities, "MAX_ROWS", 100)  # rows 0, 10, 20, ...
    assert [r.target for r in identities.find_identities(frame, list(frame.columns))] == ["copy_b"]
    monkeypatch.setattr(identities, "MAX_ROWS", 20_000)
    assert [r.target for r in identities.find_identities(frame, list(frame.columns))] == ["copy_b"]


def test_no_rule_where_none_holds_exactly_or_the_values_are_bad():
    frame = table()
    assert find_identities(frame, ["a", "b", "noisy", "free", "const"]) == []
    assert find_identities(frame.iloc[:1], list(frame.columns)) == []
    assert find_identities(frame, []) == []
    bad = frame.assign(b=frame["b"].where(frame.index != 3, np.inf))
    with pytest.raises(ValueError, match="column 'b' holds inf at row 3"):
        find_identities(bad, list(frame.columns))
    with pytest.raises(ValueError, match=r"\['proto'\] are not"):
        find_identities(frame.assign(proto="tcp"), ["a", "proto"])
    # an integer target computed from non-integer weights is rounded back to whole numbers
    rule = Identity("a", ("b",), (0.5,), 0.0, 0.0)
    assert keep_identities(frame, [rule])["a"].dtype == frame["a"].dtype


def test_cicids2017_identities_hold_on_the_test_rows(data_dir):
    from idsynth.data.mageid_sets import build_mageid_sets

    cic = next(s for s in build_mageid_sets(n_rows=30_000, seed=0, data_dir=data_dir) if s.name == "CIC-IDS-2017")
    rules = {r.target: r for r in find_identities(cic.train, cic.schema.numeric)}
    assert rules["Subflow Fwd Packets"].sources == ("Total Fwd Packets",)
    assert rules["Avg Bwd Segment Size"].sources == ("Bwd Packet Length Mean",)
    assert rules["Flow Packets/s"].sources == ("Fwd Packets/s", "Bwd Packets/s")  # a sum, from its parts
    assert len(rules) == 9
    for rule in rules.values():  # found on the training rows, they hold on the held-out ones
        error = np.abs(rule.values(cic.test) - cic.test[rule.target].to_numpy(float))
        assert error.max() <= 1e-6 * np.abs(cic.test[rule.target]).max() + 1e-12
