"""ImageVAE: shapes, size-adaptive depth, learning on toy blob images, persistence, determinism, errors."""

import numpy as np
import pytest
import torch

from idsynth.models.img_vae import ConvVAENet, ImageVAE, auto_widths, padded_grid

SIZE = 10


pytestmark = pytest.mark.usefixtures("one_thread")


def blob_images(n=300, size=SIZE, seed=0):
    """``(n, 1, size, size)`` Gaussian blobs in [0, 1] around one of three class centres."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] * (10 / size)
    centres = np.array([[2.0, 7.0], [5.0, 3.0], [7.5, 6.0]])[rng.integers(0, 3, n)] + rng.normal(0, 0.5, (n, 2))
    d2 = (xx[None] - centres[:, 0, None, None]) ** 2 + (yy[None] - centres[:, 1, None, None]) ** 2
    return np.exp(-d2 / 4)[:, None].astype(np.float32)


def small_vae(**kw):
    params = dict(image_size=SIZE, latent_dim=8, widths=(8, 16), beta=1e-3, epochs=20, batch_size=100,
                  learning_rate=3e-3, device="cpu", random_state=0, verbose=False)
    params.update(kw)
    return ImageVAE(**params)


@pytest.fixture(scope="module")
def fitted():
    images = blob_images()
    return small_vae().fit(images), images


@pytest.mark.parametrize("size, widths, grid, padded", [
    (8, (32,), 4, 8), (9, (32, 64), 3, 12), (10, (32, 64), 3, 12), (16, (32, 64), 4, 16),
    (20, (32, 64, 128), 3, 24), (40, (32, 64, 128, 128), 3, 48),
])
def test_depth_adapts_to_the_image_size(size, widths, grid, padded):
    assert auto_widths(size) == widths
    assert padded_grid(size, len(widths)) == (grid, padded)
    net = ConvVAENet(size, 1, 5, widths)
    mu, logvar = net.encode(torch.rand(3, 1, size, size))
    assert mu.shape == logvar.shape == (3, 5)
    out = net.decode(mu)
    assert out.shape == (3, 1, size, size) and out.min() >= 0 and out.max() <= 1


def test_encode_decode_shapes_and_range(fitted):
    model, images = fitted
    z = model.encode(images[:7])
    assert z.shape == (7, 8) and z.dtype == np.float32 and model.latent_dim_ == 8
    out = model.decode(z)
    assert out.shape == (7, 1, SIZE, SIZE) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    prior_draws = model.decode(np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32))
    assert prior_draws.shape == (5, 1, SIZE, SIZE)


def test_training_reduces_loss_and_beats_the_mean_image(fitted):
    model, images = fitted
    history = model.loss_history_
    assert len(history) == 20 and set(history[0]) >= {"total", "mse", "kl", "beta"}
    assert history[-1]["mse"] < 0.3 * history[0]["mse"]
    baseline = float(np.square(images - images.mean(axis=0)).mean())  # the best constant image
    report = model.reconstruction_report(images)
    assert report["mse"] < 0.1 * baseline, (report, baseline)
    held_out = blob_images(seed=1)
    assert model.reconstruction_report(held_out)["mse"] < 0.1 * baseline
    assert report["rmse"] == pytest.approx(report["mse"] ** 0.5) and report["psnr_db"] > 0


def test_sampled_encoding_is_seeded(fitted):
    model, images = fitted
    a = model.encode(images, sample=True, random_state=4)
    np.testing.assert_array_equal(a, model.encode(images, sample=True, random_state=4))
    assert not np.allclose(a, model.encode(images))


def test_save_load_round_trip(fitted, tmp_path):
    model, images = fitted
    path = tmp_path / "img_vae.pt"
    model.save(path)
    loaded = ImageVAE.load(path)
    assert loaded.get_params() == {**model.get_params(), "widths": [8, 16]}
    z = model.encode(images)
    np.testing.assert_array_equal(loaded.encode(images), z)
    np.testing.assert_array_equal(loaded.decode(z), model.decode(z))
    assert loaded.loss_history_ == model.loss_history_


def test_same_seed_same_model_other_seed_differs():
    images = blob_images(n=80)
    a = small_vae(epochs=2, random_state=1).fit(images)
    b = small_vae(epochs=2, random_state=1).fit(images)
    c = small_vae(epochs=2, random_state=2).fit(images)
    assert a.loss_history_ == b.loss_history_
    np.testing.assert_array_equal(a.encode(images), b.encode(images))
    assert not np.allclose(a.encode(images), c.encode(images))


def test_upscaled_images_with_automatic_widths():
    images = blob_images(n=40, size=20)
    model = ImageVAE(20, latent_dim=4, epochs=1, batch_size=40, device="cpu", verbose=False).fit(images)
    assert model.widths_ == (32, 64, 128)
    assert model.decode(model.encode(images)).shape == (40, 1, 20, 20)


def test_bad_input(fitted):
    model, images = fitted
    with pytest.raises(ValueError, match=r"images must have shape \(n, 1, 10, 10\)"):
        model.encode(images[:, :, :9])
    with pytest.raises(ValueError, match=r"images must have shape"):
        model.encode(images[:, 0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.encode(images * 2)
    with pytest.raises(ValueError, match="NaN"):
        model.encode(np.full_like(images[:2], np.nan))
    with pytest.raises(TypeError, match="real numbers"):
        model.encode(images.astype(bool))
    with pytest.raises(ValueError, match=r"z must have shape \(n, 8\)"):
        model.decode(np.zeros((3, 7), np.float32))
    with pytest.raises(RuntimeError, match="not fitted"):
        small_vae().decode(np.zeros((3, 8), np.float32))
    with pytest.raises(ValueError, match="widths"):
        small_vae(widths=()).fit(images)
    with pytest.raises(ValueError, match="at least 2"):
        small_vae().fit(images[:1])
