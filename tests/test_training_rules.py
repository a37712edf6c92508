"""TabSyn's reference training rules, as options: the TabVAE's plateaus on a held-out, noisy
reconstruction loss, and the EDM's learning-rate schedules, best-loss weights and early stopping."""

from __future__ import annotations

import numpy as np
import pytest

from idsynth.models.edm import LatentEDM
from idsynth.models.tab_vae import TabVAE


def _rows(n=120, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)).astype(np.float32), rng.integers(0, 3, size=(n, 2))


def test_tab_vae_holdout_plateau_watches_held_out_rows_and_records_steps():
    X_num, X_cat = _rows()
    common = dict(d_ff=8, n_layers=1, steps=40, batch_size=32, patience=1, device="cpu", verbose=False)
    vae = TabVAE(3, [3, 3], plateau_on="holdout", holdout_fraction=0.25, **common).fit(X_num, X_cat)
    history = vae.loss_history_
    assert all("holdout_recon" in r and np.isfinite(r["holdout_recon"]) for r in history)
    assert [r["step"] for r in history][-1] == 40
    assert history[0]["step"] == 3  # 90 training rows (30 held out) in batches of 32
    assert history[-1]["beta"] < vae.beta_max  # a noisy held-out loss plateaus and beta decays
    train_only = TabVAE(3, [3, 3], **common).fit(X_num, X_cat).loss_history_
    assert "holdout_recon" not in train_only[0] and train_only[0]["step"] == 4


def test_tab_vae_rejects_an_unknown_plateau_rule():
    X_num, X_cat = _rows()
    with pytest.raises(ValueError, match="plateau_on"):
        TabVAE(3, [3, 3], plateau_on="valid", steps=2, device="cpu", verbose=False).fit(X_num, X_cat)


def _latents(n=200, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 2, n)


EDM_COMMON = dict(hidden=16, n_layers=1, batch_size=50, device="cpu", verbose=False, random_state=0)


def test_edm_cosine_schedule_anneals_to_zero():
    Z, y = _latents()
    model = LatentEDM(steps=20, lr_schedule="cosine", **EDM_COMMON).fit(Z, y)
    assert model.final_lr_ == pytest.approx(0.0, abs=1e-12)


def test_edm_early_stopping_and_best_weights():
    Z, y = _latents()
    noisy = dict(EDM_COMMON, learning_rate=0.05)
    stopped = LatentEDM(steps=400, early_stop_patience=2, keep_best=True, **noisy).fit(Z, y)
    assert stopped.stopped_epoch_ is not None and len(stopped.loss_history_) == stopped.stopped_epoch_ + 1
    assert stopped.n_steps_ < 400
    assert stopped.best_epoch_ == int(np.argmin(stopped.loss_history_))
    last = LatentEDM(steps=stopped.n_steps_, keep_best=False, **noisy).fit(Z, y)
    np.testing.assert_allclose(last.loss_history_, stopped.loss_history_, rtol=1e-5)  # same run
    best_weights = next(iter(stopped.denoiser_.state_dict().values()))
    last_weights = next(iter(last.denoiser_.state_dict().values()))
    assert not np.allclose(best_weights.numpy(), last_weights.numpy())  # the best epoch was not the last


def test_edm_rejects_unknown_schedule():
    Z, y = _latents()
    with pytest.raises(ValueError, match="lr_schedule"):
        LatentEDM(steps=2, lr_schedule="step", **EDM_COMMON).fit(Z, y)
