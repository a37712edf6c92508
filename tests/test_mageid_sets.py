"""Tests of idsynth.data.mageid_sets: exact 80:20 ratios, disjoint splits, size limits, seeds."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from idsynth.data.mageid_sets import (
    ATTACK,
    LABEL,
    build_mageid_sets,
    cic_mageid_set,
    sample_binary_set,
    unit_counts,
)
from idsynth.data.schema import Schema

REAL = Path(os.environ.get("IDSYNTH_DATA", Path(__file__).resolve().parents[1] / "data"))
HAVE_BOTH = all((REAL / p).exists() for p in ("cic-ids-2017", "cic-ids-2017-extra", "nsl-kdd/KDDTrain+.txt"))


def toy_source(n_benign=5000, n_attack=1500, seed=0):
    rng = np.random.default_rng(seed)
    n = n_benign + n_attack
    frame = pd.DataFrame({"a": rng.random(n), "b": rng.integers(0, 9, n), "proto": rng.choice(["tcp", "udp"], n)})
    names = np.array(["normal"] * n_benign + list(rng.choice(["dos", "probe"], n_attack)), dtype=object)
    order = rng.permutation(n)  # classes interleaved in the source
    frame, names = frame.iloc[order].reset_index(drop=True), names[order]
    frame["id"] = np.arange(n)
    return frame, names


def build(frame, names, **kw):
    schema = Schema(numeric=("a", "b", "id"), integer=("b", "id"), categorical=("proto",))
    return sample_binary_set(
        frame, ["a", "b", "proto", "id"], names != "normal", names,
        name="toy", schema=schema, class_names=("Normal", "Attack"), **kw,
    )  # fmt: skip


def test_unit_counts():
    assert unit_counts(0.2) == (4, 1)
    assert unit_counts(0.25) == (3, 1)
    assert unit_counts(0.4) == (3, 2)
    with pytest.raises(ValueError, match="attack_share"):
        unit_counts(1.0)


def test_exact_ratio_and_disjoint_splits():
    frame, names = toy_source()
    s = build(frame, names, n_rows=3000, seed=1)
    assert s.n_rows == 3000 and s.limited_by is None
    assert len(s.train) == 2400 and len(s.test) == 600
    for split, n in ((s.train, 2400), (s.test, 600)):
        assert (split[LABEL] == 1).sum() * 5 == n  # exactly 20% attack in each split
        assert split[LABEL].dtype == np.int64
    assert set(s.train["id"]).isdisjoint(s.test["id"])
    assert set(s.train_rows).isdisjoint(s.test_rows)
    assert len(np.unique(np.concatenate([s.train_rows, s.test_rows]))) == 3000  # without replacement
    # each row carries its own source values and original attack name
    np.testing.assert_array_equal(s.train["id"].to_numpy(), s.train_rows)
    np.testing.assert_array_equal(s.test[ATTACK].to_numpy(), names[s.test_rows])
    assert ((s.train[ATTACK] == "normal") == (s.train[LABEL] == 0)).all()
    assert s.schema.label == LABEL and s.features == ["a", "b", "id", "proto"]
    X, y = s.xy("test")
    assert list(X.columns) == s.features and y.shape == (600,)
    # both classes appear in shuffled order, not as two blocks
    assert 0 < np.argmax(s.train[LABEL].to_numpy()) < 100


def test_same_seed_same_set_other_seed_other_set():
    frame, names = toy_source()
    a, b, c = (build(frame, names, n_rows=1000, seed=s) for s in (7, 7, 8))
    pd.testing.assert_frame_equal(a.train, b.train)
    np.testing.assert_array_equal(a.test_rows, b.test_rows)
    assert not np.array_equal(np.sort(a.train_rows), np.sort(c.train_rows))


def test_too_few_attacks_gives_the_largest_exact_set(caplog):
    frame, names = toy_source(n_benign=5000, n_attack=301)
    with caplog.at_level(logging.WARNING, logger="idsynth.data.mageid_sets"):
        s = build(frame, names, n_rows=30000, seed=0)
    assert s.n_rows == 1505 and s.requested_rows == 30000  # 301 attack + 1204 benign
    assert "301 attack rows available" in s.limited_by
    assert "built 1505 rows" in caplog.text
    total = pd.concat([s.train, s.test])
    assert (total[LABEL] == 1).sum() == 301 and (total[LABEL] == 0).sum() == 1204
    assert (s.train[LABEL] == 1).sum() * 5 == len(s.train) and (s.test[LABEL] == 1).sum() * 5 == len(s.test)
    sizes = s.sizes_table()
    assert list(sizes.columns) == ["dataset", "split", "label", "count"]
    got = sizes.set_index(["split", "label"])["count"]
    assert got[("all", "all")] == 1505 and got[("train", "all")] + got[("test", "all")] == 1505
    assert got[("test", "Attack")] == 60 and got[("test", "Normal")] == 240


def test_too_few_benign_rows_and_bad_arguments():
    frame, names = toy_source(n_benign=400, n_attack=1000)
    s = build(frame, names, n_rows=3000)
    assert s.n_rows == 500 and "400 normal rows available" in s.limited_by
    with pytest.raises(ValueError, match="test_fraction"):
        build(frame, names, test_fraction=1.5)
    with pytest.raises(ValueError, match="too few rows"):
        build(frame, names, n_rows=5)


@pytest.mark.skipif(not HAVE_BOTH, reason=f"CIC-IDS-2017 subset or NSL-KDD not found under {REAL}; set IDSYNTH_DATA")
def test_real_sets_sizes():
    sets = build_mageid_sets(n_rows=30000, seed=0, data_dir=REAL)
    cic, kdd = sets.cic, sets.nslkdd
    # with cic-ids-2017-extra/ (its README): 20,604 benign + 5,151 attack rows
    assert (cic.n_rows, cic.available) == (25755, {"Benign": 20605, "Attack": 5998})
    assert "20605 benign rows available" in cic.limited_by
    assert (len(cic.train), len(cic.test)) == (20605, 5150)
    assert int((cic.train[LABEL] == 0).sum() + (cic.test[LABEL] == 0).sum()) == 20604
    assert kdd.n_rows == 30000 and kdd.limited_by is None
    assert (len(kdd.train), len(kdd.test)) == (24000, 6000)
    assert set(cic.train[ATTACK]) | set(cic.test[ATTACK]) == {"BENIGN", "DDoS", "PortScan"}
    assert len(cic.features) == 77 and kdd.schema.categorical == ("protocol_type", "service", "flag")
    assert set(kdd.train[ATTACK][kdd.train[LABEL] == 0]) == {"normal"}
    for s in sets:
        assert set(s.train_rows).isdisjoint(s.test_rows)
        for split in (s.train, s.test):
            assert (split[LABEL] == 1).sum() * 5 == len(split)
    # CIC rows are exact-duplicate free, so no test row repeats a training row
    merged = cic.train.merge(cic.test, on=cic.features + [ATTACK], how="inner")
    assert merged.empty
    table = sets.sizes_table()
    all_rows = table[(table["split"] == "all") & (table["label"] == "all")].set_index("dataset")
    assert all_rows["count"].to_dict() == {"CIC-IDS-2017": 25755, "NSL-KDD": 30000}
    assert (all_rows["paper"] == 30000).all()


@pytest.mark.skipif(not (REAL / "cic-ids-2017").is_dir(), reason=f"CIC-IDS-2017 subset not found under {REAL}")
def test_real_cic_smoke_size():
    s = cic_mageid_set(n_rows=3000, seed=0, data_dir=REAL)
    assert (s.n_rows, s.limited_by, len(s.train), len(s.test)) == (3000, None, 2400, 600)


@pytest.mark.skipif(not (REAL / "cic-ids-2017").is_dir(), reason=f"CIC-IDS-2017 subset not found under {REAL}")
def test_real_cic_without_the_extra_rows_is_the_subset_set():
    s = cic_mageid_set(n_rows=30000, seed=0, data_dir=REAL, extra=False)
    assert (s.n_rows, s.available) == (14805, {"Benign": 20600, "Attack": 2961})
    assert "2961 attack rows available" in s.limited_by
