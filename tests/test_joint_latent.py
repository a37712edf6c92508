"""The joint latent's treatments (issue 16, item 3): how the EDM scales it, which dimensions it
models, and the per-dimension report of MAGE-ID's two posteriors."""

from __future__ import annotations

import numpy as np
import pytest

from idsynth.models.edm import LatentEDM, kept_dimensions, latent_scale
from idsynth.models.mageid import MAGEID
from idsynth.models.training import gaussian_kl_per_dim

from test_mageid import TINY, toy_frame

pytestmark = pytest.mark.usefixtures("one_thread")


def latents(n=600, seed=0):
    """Three informative dimensions of spread 1, 2, 4 and a near-constant fourth (spread 1e-3)."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 4)) * np.array([1.0, 2.0, 4.0, 1e-3]) + np.array([5.0, -1.0, 0.0, 3.0])
    return Z.astype(np.float32), (np.arange(n) % 2).astype(np.int64)


def test_scalings_centre_every_dimension_and_divide_as_named():
    Z, _ = latents()
    std = Z.std(axis=0)
    for scaling in ("per_dimension", "global", "per_block"):
        mean, scale = latent_scale(Z, scaling, blocks=(3, 1))
        np.testing.assert_allclose(mean, Z.mean(axis=0), rtol=1e-6)
        assert scale.shape == (4,) and scale.dtype == np.float32
    np.testing.assert_allclose(latent_scale(Z, "per_dimension")[1], std, rtol=1e-6)
    pooled = np.sqrt(np.mean(std**2))
    np.testing.assert_allclose(latent_scale(Z, "global")[1], np.full(4, pooled), rtol=1e-6)
    # per block: the first three share their pooled spread, the fourth keeps its own
    _, scale = latent_scale(Z, "per_block", blocks=(3, 1))
    np.testing.assert_allclose(scale[:3], np.sqrt(np.mean(std[:3] ** 2)), rtol=1e-6)
    np.testing.assert_allclose(scale[3], std[3], rtol=1e-6)
    # global scaling keeps the relative spread: the 4x dimension stays 4x the 1x one
    z = (Z - Z.mean(0)) / latent_scale(Z, "global")[1]
    assert z[:, 2].std() / z[:, 0].std() == pytest.approx(std[2] / std[0], rel=1e-5)
    with pytest.raises(ValueError, match="latent_scaling"):
        latent_scale(Z, "per_modality")
    with pytest.raises(ValueError, match="summing"):
        latent_scale(Z, "per_block", blocks=(2, 1))


def test_collapsed_dimensions_are_found_per_block():
    Z, _ = latents()
    assert kept_dimensions(Z, None).all()
    np.testing.assert_array_equal(kept_dimensions(Z, 0.1), [True, True, True, False])
    # within its own block the near-constant dimension is all there is, so it is kept
    np.testing.assert_array_equal(kept_dimensions(Z, 0.1, blocks=(3, 1)), [True, True, True, True])
    # the 1x dimension is below half the pooled spread of (1, 2, 4, ~0): sqrt(21/4) = 2.29
    np.testing.assert_array_equal(kept_dimensions(Z, 0.5), [False, True, True, False])


@pytest.mark.parametrize("scaling", ["global", "per_block"])
def test_edm_with_a_dropped_dimension_samples_it_at_its_mean(scaling, tmp_path):
    Z, y = latents()
    kw = dict(hidden=32, n_layers=1, epochs=3, batch_size=128, num_steps=4, verbose=False, device="cpu")
    model = LatentEDM(latent_scaling=scaling, blocks=(2, 2), drop_below=0.1, **kw).fit(Z, y)
    np.testing.assert_array_equal(model.kept_, [True, True, True, False])
    assert model.denoiser_.net.dim == 3  # the network sees the modelled dimensions only
    sample, labels = model.sample({0: 40, 1: 60}, random_state=3)
    assert sample.shape == (100, 4) and labels.tolist() == [0] * 40 + [1] * 60
    np.testing.assert_allclose(sample[:, 3], Z[:, 3].mean(), rtol=1e-6)
    assert sample[:, 2].std() > 1.0  # a modelled dimension still varies
    path = tmp_path / "edm.pt"
    model.save(path)
    loaded = LatentEDM.load(path)
    np.testing.assert_array_equal(loaded.kept_, model.kept_)
    np.testing.assert_array_equal(loaded.sample({0: 40, 1: 60}, random_state=3)[0], sample)


def test_default_scaling_is_the_committed_per_dimension_one():
    Z, y = latents(200)
    kw = dict(hidden=16, n_layers=1, epochs=2, batch_size=64, num_steps=3, verbose=False, device="cpu")
    model = LatentEDM(**kw).fit(Z, y)
    np.testing.assert_allclose(model.std_, Z.std(axis=0), rtol=1e-6)
    assert model.kept_.all()
    with pytest.raises(ValueError, match="drop_below"):
        LatentEDM(drop_below=1.5, **kw).fit(Z, y)
    with pytest.raises(ValueError, match="latent_scaling"):
        LatentEDM(latent_scaling="pooled", **kw).fit(Z, y)


def test_kl_per_dimension_is_zero_at_the_prior_and_grows_with_the_mean():
    n = 1000
    np.testing.assert_allclose(gaussian_kl_per_dim(np.zeros((n, 3)), np.zeros((n, 3))), 0.0, atol=1e-12)
    mu = np.column_stack([np.zeros(n), np.ones(n), 2 * np.ones(n)])
    np.testing.assert_allclose(gaussian_kl_per_dim(mu, np.zeros((n, 3))), [0.0, 0.5, 2.0])


@pytest.mark.parametrize("scaling", ["per_dimension", "per_block"])
def test_mageid_reports_its_joint_latent_and_passes_its_blocks(scaling):
    X, y = toy_frame()
    model = MAGEID(**{**TINY, "edm": {**TINY["edm"], "epochs": 2, "latent_scaling": scaling}}).fit(X, y)
    report = model.latent_report(X, y)
    assert len(report) == model.latent_dim_
    tab = model.latent_slices_["tabular"].stop
    assert report["modality"].tolist() == ["tabular"] * tab + ["image"] * (model.latent_dim_ - tab)
    assert (report["kl"] >= -1e-6).all() and (report["std"] >= 0).all()
    assert model.edm_.blocks == (tab, model.latent_dim_ - tab)
    np.testing.assert_array_equal(report["edm_scale"], model.edm_.std_)
    if scaling == "per_block":
        assert report.groupby("modality")["edm_scale"].nunique().eq(1).all()
    frame, _ = model.sample({0: 5, 1: 5}, random_state=0)
    assert len(frame) == 10


def test_per_block_needs_blocks_and_numpy_blocks_save_as_plain_ints(tmp_path):
    Z, y = latents(200)
    kw = dict(hidden=16, n_layers=1, epochs=2, batch_size=64, num_steps=3, verbose=False, device="cpu")
    with pytest.raises(ValueError, match="needs blocks"):
        LatentEDM(latent_scaling="per_block", **kw).fit(Z, y)
    model = LatentEDM(latent_scaling="per_block", blocks=np.array([3, 1]), **kw).fit(Z, y)
    assert model.blocks == (3, 1) and all(type(b) is int for b in model.blocks)
    model.save(tmp_path / "edm.pt")
    assert LatentEDM.load(tmp_path / "edm.pt").blocks == (3, 1)
