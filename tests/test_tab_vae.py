"""TabVAE: shapes, learning on a toy mixed-type table, beta annealing, persistence, determinism, errors."""

import numpy as np
import pytest
import torch

from idsynth.models.tab_vae import BetaAnnealer, FeatureReconstructor, TabVAE

CARDS = [3, 5, 2]
N_NUM = 4


pytestmark = pytest.mark.usefixtures("one_thread")


def toy_table(n=400, seed=0):
    """Mixed rows: 3 categorical columns and 4 numeric ones, two of them tied to the categories."""
    rng = np.random.default_rng(seed)
    X_cat = np.stack([rng.integers(0, c, n) for c in CARDS], axis=1).astype(np.int64)
    X_num = np.stack([
        X_cat[:, 0] - 1 + 0.1 * rng.standard_normal(n),
        rng.standard_normal(n),
        X_cat[:, 1] / 2 - 1 + 0.1 * rng.standard_normal(n),
        rng.uniform(-1, 1, n),
    ], axis=1).astype(np.float32)
    return X_num, X_cat


def small_vae(**kw):
    params = dict(d_token=4, n_layers=2, d_ff=32, epochs=40, batch_size=100, learning_rate=3e-3,
                  device="cpu", random_state=0, verbose=False)
    params.update(kw)
    return TabVAE(N_NUM, CARDS, **params)


@pytest.fixture(scope="module")
def fitted():
    X_num, X_cat = toy_table()
    return small_vae().fit(X_num, X_cat), X_num, X_cat


def test_encode_decode_shapes_and_dtypes(fitted):
    model, X_num, X_cat = fitted
    n_tokens = N_NUM + len(CARDS)
    assert model.latent_shape_ == (n_tokens, 4) and model.latent_dim_ == n_tokens * 4
    z = model.encode(X_num[:7], X_cat[:7])
    assert z.shape == (7, model.latent_dim_) and z.dtype == np.float32
    num_hat, cat_hat = model.decode(z)
    assert num_hat.shape == (7, N_NUM) and num_hat.dtype == np.float32
    assert cat_hat.shape == (7, len(CARDS)) and cat_hat.dtype == np.int64
    assert ((cat_hat >= 0) & (cat_hat < np.array(CARDS))).all()
    num_again, logits = model.decode_logits(z)
    np.testing.assert_array_equal(num_again, num_hat)
    assert [lg.shape for lg in logits] == [(7, c) for c in CARDS]
    np.testing.assert_array_equal(np.stack([lg.argmax(1) for lg in logits], 1), cat_hat)


def test_training_reduces_loss_and_reconstructs(fitted):
    model, X_num, X_cat = fitted
    history = model.loss_history_
    assert len(history) == 40
    assert set(history[0]) >= {"total", "mse", "ce", "kl", "beta", "lr"}
    first, last = history[0], history[-1]
    assert last["mse"] < 0.3 * first["mse"] and last["ce"] < 0.3 * first["ce"]
    report = model.reconstruction_report(X_num, X_cat)
    assert min(report["cat_accuracy"]) > 0.9, report
    # a numeric column of variance ~0.33-1 is reproduced far better than by its mean
    assert report["num_rmse"] < 0.2, report
    assert len(report["num_rmse_per_feature"]) == N_NUM


def test_sampled_encoding_is_seeded_and_near_the_mean(fitted):
    model, X_num, X_cat = fitted
    mean = model.encode(X_num, X_cat)
    a = model.encode(X_num, X_cat, sample=True, random_state=5)
    b = model.encode(X_num, X_cat, sample=True, random_state=5)
    c = model.encode(X_num, X_cat, sample=True, random_state=6)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c) and not np.allclose(a, mean)
    # posterior noise is small next to the spread of the means (the VAE learned to encode)
    assert np.abs(a - mean).mean() < mean.std()


def test_beta_annealer_decays_on_plateau_and_floors():
    annealer = BetaAnnealer(beta_max=1e-2, beta_min=2e-3, decay=0.5, patience=2)
    betas = [annealer.step(loss) for loss in [1.0, 0.9, 0.8]]  # improving: no change
    assert betas == [1e-2] * 3
    betas = [annealer.step(0.8) for _ in range(6)]  # plateau: decay every 2 epochs, then floor
    assert betas == pytest.approx([1e-2, 5e-3, 5e-3, 2.5e-3, 2.5e-3, 2e-3])
    annealer.step(0.1)
    assert annealer.wait == 0 and annealer.best == 0.1
    with pytest.raises(ValueError, match="beta_min"):
        BetaAnnealer(1e-5, 1e-2, 0.7, 10)
    with pytest.raises(ValueError, match="patience"):
        BetaAnnealer(1e-2, 1e-5, 0.7, 0)


def test_fit_anneals_beta_by_the_recorded_reconstruction_losses():
    X_num, X_cat = toy_table(n=120)
    # a vanishing learning rate makes the reconstruction plateau at once
    model = small_vae(epochs=8, patience=2, batch_size=60, learning_rate=1e-9).fit(X_num, X_cat)
    betas = [h["beta"] for h in model.loss_history_]
    assert betas[0] == 1e-2 and betas[-1] < 1e-2
    replay = BetaAnnealer(1e-2, 1e-5, 0.7, 2)
    expected = [1e-2] + [replay.step(h["mse"] + h["ce"]) for h in model.loss_history_[:-1]]
    assert betas == pytest.approx(expected)


def test_save_load_round_trip(fitted, tmp_path):
    model, X_num, X_cat = fitted
    path = tmp_path / "tab_vae.pt"
    model.save(path)
    loaded = TabVAE.load(path)
    assert loaded.get_params() == {**model.get_params(), "cat_cardinalities": CARDS}
    z = model.encode(X_num, X_cat)
    np.testing.assert_array_equal(loaded.encode(X_num, X_cat), z)
    for a, b in zip(model.decode(z), loaded.decode(z)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.encode(X_num, X_cat, sample=True, random_state=3),
                                  model.encode(X_num, X_cat, sample=True, random_state=3))
    assert loaded.loss_history_ == model.loss_history_
    with pytest.raises(ValueError, match="ImageVAE"):
        from idsynth.models.img_vae import ImageVAE
        ImageVAE.load(path)


def test_same_seed_same_model_other_seed_differs():
    X_num, X_cat = toy_table(n=120)
    a = small_vae(epochs=3, random_state=1).fit(X_num, X_cat)
    b = small_vae(epochs=3, random_state=1).fit(X_num, X_cat)
    c = small_vae(epochs=3, random_state=2).fit(X_num, X_cat)
    assert a.loss_history_ == b.loss_history_
    np.testing.assert_array_equal(a.encode(X_num, X_cat), b.encode(X_num, X_cat))
    assert not np.allclose(a.encode(X_num, X_cat), c.encode(X_num, X_cat))


def test_only_numeric_or_only_categorical_columns():
    X_num, X_cat = toy_table(n=60)
    numeric = TabVAE(N_NUM, [], epochs=2, batch_size=30, device="cpu", verbose=False).fit(X_num, None)
    num_hat, cat_hat = numeric.decode(numeric.encode(X_num, None))
    assert num_hat.shape == (60, N_NUM) and cat_hat.shape == (60, 0)
    categorical = TabVAE(0, CARDS, epochs=2, batch_size=30, device="cpu", verbose=False).fit(None, X_cat)
    assert categorical.encode(None, X_cat).shape == (60, len(CARDS) * 4)


def test_padding_logits_never_win():
    head = FeatureReconstructor(0, [2, 4], d_token=3)
    logits = head(torch.randn(50, 2, 3))[1]
    assert logits.shape == (50, 2, 4)
    assert torch.isneginf(logits[:, 0, 2:]).all() and torch.isfinite(logits[:, 1]).all()
    assert (logits[:, 0].argmax(-1) < 2).all()


def test_bad_input(fitted):
    model, X_num, X_cat = fitted
    with pytest.raises(ValueError, match=r"X_num must have shape \(n, 4\)"):
        model.encode(X_num[:, :3], X_cat)
    with pytest.raises(ValueError, match=r"X_cat must have shape \(n, 3\)"):
        model.encode(X_num, X_cat[:, :2])
    with pytest.raises(ValueError, match="same rows"):
        model.encode(X_num[:5], X_cat[:6])
    too_big = X_cat.copy()
    too_big[0, 1] = 5
    with pytest.raises(ValueError, match=r"column 1 .* expected 0\.\.4"):
        model.encode(X_num, too_big)
    negative = X_cat.copy()
    negative[3, 2] = -1
    with pytest.raises(ValueError, match="column 2"):
        model.encode(X_num, negative)
    with pytest.raises(TypeError, match="integer category codes"):
        model.encode(X_num, X_cat.astype(float))
    nan = X_num.copy()
    nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        small_vae().fit(nan, X_cat)
    with pytest.raises(ValueError, match=r"z must have shape \(n, 28\)"):
        model.decode(np.zeros((2, 27), np.float32))
    with pytest.raises(RuntimeError, match="not fitted"):
        small_vae().encode(X_num, X_cat)
    with pytest.raises(ValueError, match="multiple of n_heads"):
        small_vae(d_token=4, n_heads=3).fit(X_num, X_cat)
    with pytest.raises(ValueError, match="lr_decay"):
        small_vae(lr_decay=1.5).fit(X_num, X_cat)
    with pytest.raises(ValueError, match="cat_cardinalities"):
        TabVAE(2, [3, 0], device="cpu").fit(X_num[:, :2], X_cat[:, :2])
