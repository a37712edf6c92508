"""The stage-1 ceiling of MAGE-ID and TabSyn (issue 16, notebook 13): real rows through the
TabVAE, scored as a synthetic set, and the share of it a generated row reaches."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from idsynth.cache import ArtifactCache
from idsynth.config import get_profile
from idsynth.experiments import mageid_ceiling as ceiling
from idsynth.experiments.table_i import METRICS, SDMETRICS

pytestmark = pytest.mark.usefixtures("one_thread")


def smoke():
    profile = get_profile("smoke")
    section = {k: (dict(v) if hasattr(v, "items") else v) for k, v in profile["mageid"].items()}
    return section, dict(profile["table_i"])


@pytest.fixture(scope="module")
def nsl():
    from idsynth.data.mageid_sets import build_mageid_sets

    sets = build_mageid_sets(n_rows=get_profile("smoke")["mageid_data"]["n_rows"], seed=0)
    return next(s for s in sets if s.name == "NSL-KDD")


class Identity:
    """An autoencoder that gives every row back exactly (its latent: the row's position)."""

    classes_ = np.array([0, 1])

    def __init__(self, mageid_set):
        self.rows = {"train": mageid_set.train, "test": mageid_set.test}
        self.split = None

    def paired(self, X, y, drop_unknown=False):
        self.split = next(k for k, v in self.rows.items() if len(v) == len(X))
        return SimpleNamespace(position=np.arange(len(X)), y=np.asarray(y))

    def encode_samples(self, samples):
        return samples.position.astype(np.float32)[:, None]

    def decode(self, z):
        frame = self.rows[self.split].iloc[z[:, 0].astype(int)].reset_index(drop=True)
        return frame, None, None


def test_an_exact_autoencoder_reaches_the_real_rows_own_scores(nsl, tmp_path, monkeypatch):
    section, metrics = smoke()
    built = []

    def fake_train(mageid_set, seed, section, **kwargs):
        built.append(kwargs["stage"])
        return Identity(mageid_set)

    monkeypatch.setattr(ceiling, "train_mageid", fake_train)
    cache = ArtifactCache(tmp_path / "cache")
    frame, y = ceiling.autoencoded_rows(Identity(nsl), nsl, "train")
    assert list(frame.columns) == nsl.features and np.array_equal(y, nsl.xy("train")[1])
    pd.testing.assert_frame_equal(frame, nsl.train[nsl.features].reset_index(drop=True))
    with pytest.raises(ValueError, match="split"):
        ceiling.autoencoded_rows(Identity(nsl), nsl, "valid")

    assert ceiling.ceiling_row(nsl, 0, section, metrics, cache=cache, only_cached=True) is None  # no TabVAE cached
    row = ceiling.ceiling_row(nsl, 0, section, metrics, cache=cache)
    assert built == [1] and set(row) == set(ceiling.COLUMNS)
    assert row["precision"] == pytest.approx(1.0) and row["coverage"] == pytest.approx(1.0)
    assert row["recall"] == pytest.approx(1.0) and row["detectability"] > 0.9  # the real rows, indistinguishable
    again = ceiling.ceiling_row(nsl, 0, section, metrics, cache=cache, only_cached=True)
    assert again == row and built == [1]  # the scored row is cached: nothing rebuilt
    relabelled = ceiling.ceiling_row(nsl, 0, section, metrics, cache=cache, only_cached=True, tab_vae="other")
    assert built == [1] and relabelled == {**row, "tab_vae": "other"}  # the label is not part of the key
    test_row = ceiling.ceiling_row(nsl, 0, section, metrics, split="test", cache=cache)
    assert built == [1, 1] and test_row["split"] == "test"
    table = ceiling.ceiling_table([test_row, row])
    assert table["split"].tolist() == ["test", "train"] and list(table.columns) == list(ceiling.COLUMNS)


def test_a_real_tabvae_gives_typed_rows_in_the_sets_columns(nsl):
    from idsynth.experiments.mageid_train import train_mageid

    section, _ = smoke()
    model = train_mageid(nsl, 0, section, device="cpu", modalities=("tabular",), stage=1, verbose=False)
    frame, y = ceiling.autoencoded_rows(model, nsl, "test")
    unseen = model.paired(*nsl.xy("test")).X_cat.min(axis=1) < 0  # test rows with a category fit never saw
    assert unseen.any() and frame.shape == (int((~unseen).sum()), len(nsl.features))
    assert np.array_equal(y, nsl.xy("test")[1][~unseen])
    assert dict(frame.dtypes) == dict(nsl.test[nsl.features].dtypes)
    for column in nsl.schema.categorical:  # decoded categories are categories the data has
        assert set(frame[column]) <= set(nsl.train[column])


def test_stage2_share_pairs_rows_with_the_ceiling_of_their_set_and_seed():
    metrics = ("detectability", "coverage")
    ceiling_rows = ceiling.ceiling_table(
        [{"dataset": d, "seed": s, "tab_vae": "committed", "split": split,
          **{m: top + 0.1 * s for m in (*METRICS, SDMETRICS)}}
         for d, top in (("A", 0.8), ("B", 0.5)) for s in (0, 1) for split in ("train", "test")]
        + [{"dataset": "A", "seed": s, "tab_vae": "shorter", "split": "train", **{m: 0.5 for m in (*METRICS, SDMETRICS)}}
           for s in (0, 1, 2)])
    fixes = pd.DataFrame([{"dataset": d, "model": m, "variant": v, "seed": s,
                           **{k: 0.4 + 0.1 * s for k in (*METRICS, SDMETRICS)}}
                          for d in ("A", "B") for m in ("MAGE-ID", "TabSyn") for v in ("committed_retrain", "other")
                          for s in ((0, 1, 2) if d == "A" else (0,))])
    share = ceiling.stage2_share(fixes, ceiling_rows, metrics=metrics)
    assert list(share.columns) == list(ceiling.SHARE_COLUMNS) and set(share["variant"]) == {"committed_retrain"}
    a = share[(share["dataset"] == "A") & (share["model"] == "TabSyn") & (share["metric"] == "coverage")].iloc[0]
    assert a["n_seeds"] == 2  # seed 2 has no ceiling
    assert a["ceiling_mean"] == pytest.approx(0.85) and a["generated_mean"] == pytest.approx(0.45)
    assert a["gap_mean"] == pytest.approx(0.4) and a["share_mean"] == pytest.approx((0.4 / 0.8 + 0.5 / 0.9) / 2)
    b = share[(share["dataset"] == "B") & (share["metric"] == "detectability")]
    assert b["n_seeds"].tolist() == [1, 1] and b["share_mean"].to_numpy() == pytest.approx([0.8, 0.8])
    # rows of a variant that trains its own TabVAE pair with that TabVAE's ceiling only
    own = ceiling.stage2_share(fixes, ceiling_rows, variants=("other",), metrics=metrics, tab_vae="shorter")
    assert set(own["dataset"]) == {"A"} and set(own["tab_vae"]) == {"shorter"} and (own["n_seeds"] == 3).all()
    assert own["share_mean"].to_numpy() == pytest.approx([(0.4 + 0.5 + 0.6) / 3 / 0.5] * len(own))


def test_committed_ceiling_rows_are_restored_into_an_empty_cache_and_then_read_not_rescored(nsl, tmp_path,
                                                                                            monkeypatch):
    section, metrics = smoke()
    shorter = {**section, "tab_vae": {**section["tab_vae"], "epochs": 3}}
    sections = {"committed": section, "half_steps": shorter}
    table = ceiling.ceiling_table(
        [{"dataset": "NSL-KDD", "seed": s, "tab_vae": label, "split": split,
          **{m: 0.5 + 0.1 * s + (0.01 if label == "half_steps" else 0) for m in (*METRICS, SDMETRICS)}}
         for label in sections for s in (0, 1) for split in ceiling.SPLITS]).assign(profile="smoke")
    cache = ArtifactCache(tmp_path / "cache")
    assert ceiling.ceiling_row(nsl, 0, section, metrics, "train", cache=cache, only_cached=True) is None
    # the cache's own row of one key stays as it is
    own = ceiling.ceiling_config(nsl, 1, section, "test", metrics)
    ceiling.cached_seed_rows(cache, ceiling.ROW_KIND, own, 1, lambda: {"dataset": "NSL-KDD", "seed": 1, "split": "test",
                                                                      **{m: 0.0 for m in (*METRICS, SDMETRICS)}})
    assert ceiling.restore_rows(table, [nsl], sections, metrics, cache) == len(table) - 1
    monkeypatch.setattr(ceiling, "train_mageid", lambda *a, **k: pytest.fail("a restored row is read, not rescored"))
    back = ceiling.ceiling_table([ceiling.ceiling_row(nsl, s, sections[label], metrics, split, cache=cache,
                                                      only_cached=True, tab_vae=label)
                                  for label in sections for s in (0, 1) for split in ceiling.SPLITS])
    expected = table.drop(columns="profile").set_index(["tab_vae", "seed", "split"])
    got = back.set_index(["tab_vae", "seed", "split"])
    assert got.loc[("half_steps", 1, "train"), "coverage"] == pytest.approx(expected.loc[("half_steps", 1, "train"),
                                                                                         "coverage"])
    assert got.loc[("committed", 1, "test"), "coverage"] == 0.0  # the cache's own row kept
    assert ceiling.restore_rows(table, [nsl], sections, metrics, cache) == 0  # idempotent
    with pytest.raises(ValueError, match="TabVAEs \\['doubled'\\]"):
        ceiling.restore_rows(table.assign(tab_vae="doubled"), [nsl], sections, metrics, cache)


def test_ceiling_spread_gives_each_tabvaes_seed_spread_and_its_paired_difference_to_the_committed_one():
    metrics = ("detectability", "coverage")
    values = {"committed": {0: 0.9, 1: 0.6, 2: 0.9}, "longer": {0: 0.9, 1: 0.85, 3: 0.8}}
    rows = ceiling.ceiling_table(
        [{"dataset": "A", "seed": s, "tab_vae": label, "split": "train", **{m: v for m in (*METRICS, SDMETRICS)}}
         for label, by_seed in values.items() for s, v in by_seed.items()])
    spread = ceiling.ceiling_spread(rows, metrics=metrics).set_index(["tab_vae", "metric"])
    assert list(ceiling.ceiling_spread(rows, metrics=metrics).columns) == list(ceiling.SPREAD_COLUMNS)
    base = spread.loc[("committed", "coverage")]
    assert base["n_seeds"] == 3 and base["mean"] == pytest.approx(0.8) and base["std"] == pytest.approx(np.std([0.9, 0.6, 0.9], ddof=1))
    assert base["min"] == pytest.approx(0.6) and base["min_seed"] == 1 and base["vs_committed_mean"] == 0.0
    longer = spread.loc[("longer", "detectability")]
    assert longer["min"] == pytest.approx(0.8) and longer["min_seed"] == 3
    # paired on seeds 0 and 1 only (seed 3 has no committed ceiling): +0.0 and +0.25
    assert longer["vs_committed_mean"] == pytest.approx(0.125) and longer["vs_committed_min"] == pytest.approx(0.0)
    alone = ceiling.ceiling_spread(rows[rows["seed"] == 3], metrics=metrics)
    assert alone["std"].isna().all() and alone["vs_committed_mean"].isna().all()
    # a NaN score leaves its seed out of that metric; NaN everywhere: no values, no lowest seed
    holed = rows.assign(coverage=np.where((rows["tab_vae"] == "longer") & (rows["seed"] == 1), np.nan, rows["coverage"]),
                        detectability=np.nan)
    gaps = ceiling.ceiling_spread(holed, metrics=metrics).set_index(["tab_vae", "metric"])
    assert gaps.loc[("longer", "coverage"), "n_seeds"] == 2 and gaps.loc[("longer", "coverage"), "vs_committed_mean"] == 0.0
    assert gaps.loc[("longer", "detectability"), "n_seeds"] == 0 and pd.isna(gaps.loc[("longer", "detectability"), "min_seed"])
    assert np.isnan(gaps.loc[("longer", "detectability"), "mean"])


def test_the_ceiling_command_names_tabvaes_by_variant_and_refuses_unknown_sets_and_variants(capsys):
    from idsynth.experiments import mageid_fixes as fixes

    section = fixes.ablation_section(get_profile("cpu"))
    sections = ceiling.tab_vae_sections(section, ["committed", "tabvae_steps_2x", "tabvae_holdout"])
    steps = section["tab_vae"]["steps"]
    assert sections["committed"]["tab_vae"]["steps"] == steps and sections["tabvae_steps_2x"]["tab_vae"]["steps"] == 2 * steps
    assert sections["tabvae_holdout"]["tab_vae"]["plateau_on"] == "holdout"
    assert sections["committed"]["edm"] == sections["tabvae_steps_2x"]["edm"]  # only the TabVAE moves
    with pytest.raises(KeyError, match="known"):
        ceiling.tab_vae_sections(section, ["tabvae_typo"])
    with pytest.raises(SystemExit):
        ceiling.main(["--datasets", "NSL", "--seeds", "0"])
    assert "unknown data sets ['NSL']; known: ['CIC-IDS-2017', 'NSL-KDD']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        ceiling.main(["--tab-vaes", "tabvae_typo"])
