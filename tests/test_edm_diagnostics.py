"""The EDM diagnostics of notebook 13, section 10: loss along the budget, denoising error per block."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from idsynth.experiments.edm_diagnostics import (
    COLUMNS,
    FRACTIONS,
    SCREEN_COLUMNS,
    block_denoising_error,
    loss_at_fractions,
    main,
    merge_screen,
    refit,
    refit_screen,
)
from idsynth.models.edm import LatentEDM


def test_loss_is_read_at_fractions_of_the_training():
    history = np.arange(11, dtype=float)  # epoch i has loss i
    frame = loss_at_fractions(history, (0.0, 0.25, 0.5, 1.0))
    assert list(frame.columns) == list(COLUMNS) and set(frame["quantity"]) == {"loss"}
    assert frame["value"].tolist() == [0.0, 2.0, 5.0, 10.0]  # round(0.25 * 10) = 2
    assert loss_at_fractions([0.7])["value"].tolist() == [0.7] * 5
    with pytest.raises(ValueError, match="non-empty"):
        loss_at_fractions([])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        loss_at_fractions(history, (1.5,))


def two_blocks(n=1000, seed=0):
    """A 'tabular' block of 3 correlated dimensions and an 'image' block of 2, the last nearly
    constant (left out by drop_below); labels 0/1 shift the tabular block."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    base = rng.normal(size=(n, 1))
    tab = np.hstack([base + 2.0 * y[:, None], 0.5 * base, -base]) + 0.1 * rng.normal(size=(n, 3))
    img = np.hstack([rng.normal(size=(n, 1)), 1e-4 * rng.normal(size=(n, 1))])
    return np.hstack([tab, img]).astype(np.float32), y


def fitted(steps, Z, y):
    return LatentEDM(hidden=32, n_layers=2, epochs=None, steps=steps, batch_size=250, learning_rate=3e-3,
                     drop_below=0.1, blocks=(3, 2), device="cpu", verbose=False, random_state=0).fit(Z, y)


def test_denoising_error_per_block_of_the_modelled_dimensions():
    Z, y = two_blocks()
    blocks = {"tabular": slice(0, 3), "image": slice(3, 5)}
    trained, untrained = fitted(300, Z, y), fitted(1, Z, y)
    assert trained.kept_.tolist() == [True, True, True, True, False]  # the near-constant one left out
    scaled = trained.scaled(Z)  # the space the denoiser works in: standardised, times sigma_data, 4 kept
    assert scaled.shape == (len(Z), 4) and np.allclose(scaled.std(axis=0), trained.sigma_data, rtol=1e-2)
    frame = block_denoising_error(trained, Z, y, blocks, sigmas=(1e-4, 0.3), n_rows=500)
    assert list(frame.columns) == list(COLUMNS) and len(frame) == 4 and set(frame["block"]) == {"tabular", "image"}
    values = frame.set_index(["block", "at"])["value"]
    assert (values.loc[:, 1e-4] < 1e-4).all()  # at almost no noise the skip connection returns the input
    before = block_denoising_error(untrained, Z, y, blocks, sigmas=(0.3,), n_rows=500).set_index("block")["value"]
    assert values.loc[("tabular", 0.3)] < 0.7 * before["tabular"]  # training lowers the error where it learns
    # a block whose dimensions are all left out has no row; the same seed gives the same rows
    only_dropped = block_denoising_error(trained, Z, y, {"tabular": slice(0, 3), "flat": slice(4, 5)}, sigmas=(0.3,))
    assert only_dropped["block"].tolist() == ["tabular"]
    again = block_denoising_error(trained, Z, y, blocks, sigmas=(1e-4, 0.3), n_rows=500)
    assert np.array_equal(again["value"].to_numpy(), frame["value"].to_numpy())
    with pytest.raises(ValueError, match=r"\(n, 5\)"):
        block_denoising_error(trained, Z[:, :4], y, blocks)


class FittedLatents:
    """What :func:`refit_screen` reads of a fitted MAGE-ID: its latents, label codes, EDM and blocks."""

    def __init__(self, Z, y, edm):
        self.Z, self.y, self.edm_ = Z, y, edm
        self.latent_slices_ = {"tabular": slice(0, 3), "image": slice(3, 5)}

    def encode(self, X, y):
        return self.Z

    def _label_codes(self, y):
        return np.asarray(y)


def test_refit_repeats_a_fit_and_applies_changes():
    Z, y = two_blocks(n=400)
    original = fitted(20, Z, y)
    again = refit(original, Z, y, steps=20)
    np.testing.assert_array_equal(again.loss_history_, original.loss_history_)  # same arguments, same model
    changed = refit(original, Z, y, steps=10, changes={"class_init_std": 0.02})
    assert changed.n_steps_ == 10 and changed.class_init_std == 0.02 and original.class_init_std == 1.0
    with pytest.raises(ValueError, match="unknown LatentEDM arguments"):
        refit(original, Z, y, steps=5, changes={"class_init": 0.02})


def test_refit_screen_reports_both_views_per_setting():
    Z, y = two_blocks(n=400)
    model = FittedLatents(Z, y, fitted(5, Z, y))
    settings = {"committed": {}, "class_init": {"class_init_std": 0.02}}
    frame = refit_screen(model, None, y, settings, steps=30, sigmas=(0.3,), n_rows=200)
    assert list(frame.columns) == list(SCREEN_COLUMNS)
    assert frame["setting"].unique().tolist() == ["committed", "class_init"] and (frame["steps"] == 30).all()
    per_setting = frame.groupby("setting")["quantity"].value_counts().unstack()
    assert (per_setting["loss"] == len(FRACTIONS)).all() and (per_setting["denoise_error"] == 2).all()
    assert frame.loc[frame["setting"] == "class_init", "changes"].iloc[0] == '{"class_init_std": 0.02}'
    losses = frame[frame["quantity"] == "loss"].pivot(index="at", columns="setting", values="value")
    assert not np.allclose(losses["committed"], losses["class_init"])  # the setting was trained with
    assert (frame["fit_seconds"] > 0).all()


def screen_rows(dataset, setting, value, steps=30):
    return pd.DataFrame([{"dataset": dataset, "model": "TabSyn", "seed": 0, "setting": setting, "changes": "{}",
                          "steps": steps, "fit_seconds": 1.0, "quantity": "loss", "block": "", "at": 1.0,
                          "value": value}])


def test_a_screen_merges_into_the_table_replacing_only_its_own_curves(tmp_path):
    merge_screen(pd.concat([screen_rows("NSL-KDD", "a", 0.5), screen_rows("NSL-KDD", "b", 0.4)]), tmp_path)
    merged = merge_screen(screen_rows("NSL-KDD", "a", 0.3), tmp_path)  # "a" again: its new curve replaces the old
    merged = merge_screen(screen_rows("CIC-IDS-2017", "a", 0.9), tmp_path)
    written = pd.read_csv(tmp_path / "tables" / "mageid_edm_screen.csv")
    assert len(written) == len(merged) == 3
    values = written.set_index(["dataset", "setting"])["value"]
    assert values[("NSL-KDD", "a")] == 0.3 and values[("NSL-KDD", "b")] == 0.4 and values[("CIC-IDS-2017", "a")] == 0.9
    assert (tmp_path / "tables" / "mageid_edm_screen.md").is_file()


def test_the_command_line_screens_a_cached_model_and_refuses_bad_settings(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IDSYNTH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("IDSYNTH_FIGURES", str(tmp_path / "figures"))
    with pytest.raises(SystemExit):
        main(["--profile", "smoke", "--dataset", "NSL-KDD", "--model", "TabSyn", "--steps", "4",
              "--setting", "bad", "[0.02]"])
    assert "not a JSON object" in capsys.readouterr().err
    main(["--profile", "smoke", "--dataset", "NSL-KDD", "--model", "TabSyn", "--steps", "4", "--data-dir",
          str(data_dir), "--setting", "committed", "{}", "--setting", "class_init", '{"class_init_std": 0.02}'])
    table = pd.read_csv(tmp_path / "figures" / "tables" / "mageid_edm_screen.csv")
    assert set(table["setting"]) == {"committed", "class_init"} and (table["steps"] == 4).all()
    assert set(table["quantity"]) == {"loss", "denoise_error"} and (table["dataset"] == "NSL-KDD").all()
    assert "class_init" in capsys.readouterr().out
