"""Tests for idsynth.models.edm: EDM formulas with known answers, and a trained toy model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from idsynth.models.edm import (
    EDMLoss,
    EDMPrecond,
    LatentEDM,
    MLPDenoiser,
    SinusoidalEmbedding,
    edm_sampler,
    edm_sigma_steps,
)
from idsynth.models.training import class_balance_weights, weighted_index_batches


pytestmark = pytest.mark.usefixtures("one_thread")


class ZeroNet(nn.Module):
    """F ≡ 0, so D(x; σ) = c_skip(σ)·x: the exact denoiser for data ~ N(0, σ_data² I)."""

    def forward(self, x, c_noise, labels=None):
        return torch.zeros_like(x)


class ConstantDenoiser:
    """D(x; σ, labels) = a where labels are given, b for the unconditional (labels=None) call."""

    def __init__(self, a: float, b: float):
        self.a, self.b = a, b

    def __call__(self, x, sigma, labels=None):
        return torch.full_like(x, self.a if labels is not None else self.b)


SIGMAS = torch.tensor([0.002, 0.05, 0.5, 1.0, 3.0, 80.0], dtype=torch.float64)


# ---- EDM Table 1 preconditioning ---------------------------------------------------------
@pytest.mark.parametrize("sigma_data", [0.5, 1.0])
def test_preconditioning_matches_table_1(sigma_data):
    pre = EDMPrecond(ZeroNet(), sigma_data=sigma_data)
    s, sd = SIGMAS, sigma_data
    torch.testing.assert_close(pre.c_skip(s), sd**2 / (s**2 + sd**2))
    torch.testing.assert_close(pre.c_out(s), s * sd / torch.sqrt(s**2 + sd**2))
    torch.testing.assert_close(pre.c_in(s), 1 / torch.sqrt(s**2 + sd**2))
    torch.testing.assert_close(pre.c_noise(s), torch.log(s) / 4)
    # Unit-variance network input and training target (EDM Appendix B.6).
    torch.testing.assert_close(pre.c_in(s) ** 2 * (s**2 + sd**2), torch.ones_like(s))
    target_var = ((1 - pre.c_skip(s)) ** 2 * sd**2 + pre.c_skip(s) ** 2 * s**2) / pre.c_out(s) ** 2
    torch.testing.assert_close(target_var, torch.ones_like(s))
    # The loss weight undoes c_out: λ(σ)·c_out(σ)² = 1.
    torch.testing.assert_close(EDMLoss(sigma_data=sd).weight(s) * pre.c_out(s) ** 2, torch.ones_like(s))


def test_precond_wraps_any_network_and_is_identity_at_zero_noise():
    torch.manual_seed(0)
    raw = MLPDenoiser(dim=3, hidden=16, n_layers=1)
    pre = EDMPrecond(raw, sigma_data=0.5)
    x = torch.randn(5, 3)
    torch.testing.assert_close(pre(x, 1e-6), x, atol=1e-5, rtol=0)  # c_skip -> 1, c_out -> 0
    sigma = torch.tensor([0.1, 0.5, 1.0, 2.0, 10.0])
    expected = pre.c_skip(sigma[:, None]) * x + pre.c_out(sigma[:, None]) * raw(
        pre.c_in(sigma[:, None]) * x, torch.log(sigma) / 4
    )
    torch.testing.assert_close(pre(x, sigma), expected)
    torch.testing.assert_close(EDMPrecond(ZeroNet(), 0.5)(x, 2.0), x * 0.25 / 4.25)
    with pytest.raises(ValueError, match="sigma"):
        pre(x, torch.ones(4))


def test_edm_loss_of_the_exact_gaussian_denoiser_is_one():
    """For y ~ N(0, σ_d²), D = c_skip·x is Bayes-optimal and λ(σ)·E(D − y)² = λ·c_out² = 1 at every σ."""
    sd = 0.5
    gen = torch.Generator().manual_seed(0)
    y = torch.randn(20000, 4, generator=gen) * sd
    loss = EDMLoss(sigma_data=sd)(EDMPrecond(ZeroNet(), sd), y, None, generator=gen)
    assert loss.shape == (20000,)
    assert abs(loss.mean().item() - 1.0) < 0.03
    # A wrong denoiser (identity, D = x) costs λ·σ², far more than 1 on average.
    wrong = EDMLoss(sigma_data=sd)(lambda x, sigma, labels: x, y, None, generator=gen)
    assert wrong.mean().item() > 2.0


def test_edm_loss_sigma_is_log_normal():
    gen = torch.Generator().manual_seed(1)
    log_sigma = EDMLoss(P_mean=-1.2, P_std=1.2).sample_sigma(50000, "cpu", gen).log()
    assert abs(log_sigma.mean().item() + 1.2) < 0.03
    assert abs(log_sigma.std().item() - 1.2) < 0.03


# ---- EDM Eq. 5 schedule and the Heun sampler ---------------------------------------------
def test_sigma_schedule_endpoints_and_monotone():
    steps = edm_sigma_steps(18, sigma_min=0.002, sigma_max=80, rho=7)
    assert steps.shape == (19,)
    assert steps[0].item() == pytest.approx(80)
    assert steps[-2].item() == pytest.approx(0.002)
    assert steps[-1].item() == 0
    assert torch.all(steps[1:] < steps[:-1])
    linear = edm_sigma_steps(5, sigma_min=1.0, sigma_max=5.0, rho=1)
    torch.testing.assert_close(linear, torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0, 0.0], dtype=torch.float64))
    with pytest.raises(ValueError):
        edm_sigma_steps(10, sigma_min=1.0, sigma_max=0.5)


def test_heun_sampler_solves_the_gaussian_flow_to_second_order():
    """With D = c_skip·x the probability-flow ODE gives x(0) = latents·σ_max·σ_d/sqrt(σ_max² + σ_d²)."""
    sd = 0.5
    latents = torch.randn(2000, 3, generator=torch.Generator().manual_seed(0))
    expected = latents * 80 * sd / np.sqrt(80**2 + sd**2)

    def relative_error(num_steps):
        out = edm_sampler(EDMPrecond(ZeroNet(), sd), latents, num_steps=num_steps)
        return ((out - expected).abs() / expected.abs()).max().item()

    assert relative_error(100) < 2e-3
    # Heun is second order: 18 -> 40 steps cuts the error by ~(40/18)^2 = 4.9 (Euler: ~2.2).
    assert relative_error(18) / relative_error(40) > 4.0
    out = edm_sampler(EDMPrecond(ZeroNet(), sd), latents, num_steps=100)
    assert abs(out.std().item() - sd) < 0.02


def test_sampler_is_deterministic_and_churn_uses_the_generator():
    pre = EDMPrecond(ZeroNet(), 0.5)
    latents = torch.randn(100, 2, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(edm_sampler(pre, latents, num_steps=10), edm_sampler(pre, latents, num_steps=10))

    def churned(seed):
        gen = torch.Generator().manual_seed(seed)
        return edm_sampler(pre, latents, num_steps=10, S_churn=20, S_min=0.05, S_max=50, generator=gen)

    torch.testing.assert_close(churned(1), churned(1))
    assert not torch.allclose(churned(1), churned(2))


def test_classifier_free_guidance_mixes_conditional_and_unconditional():
    """With constant D the ODE lands exactly on D; guidance w gives D_u + w·(D_c − D_u)."""
    latents = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    labels = torch.zeros(50, dtype=torch.long)
    net = ConstantDenoiser(a=1.0, b=0.0)
    for w, target in [(1.0, 1.0), (2.0, 2.0), (0.0, 0.0)]:
        out = edm_sampler(net, latents, labels, num_steps=12, guidance=w)
        torch.testing.assert_close(out, torch.full_like(out, target), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="labels"):
        edm_sampler(net, latents, None, guidance=2.0)


# ---- the MLP denoiser ----------------------------------------------------------------------
def test_sinusoidal_embedding():
    emb = SinusoidalEmbedding(8)(torch.tensor([0.0, 1.0]))
    assert emb.shape == (2, 8)
    torch.testing.assert_close(emb[0], torch.tensor([1.0] * 4 + [0.0] * 4))
    torch.testing.assert_close(emb[:, :4] ** 2 + emb[:, 4:] ** 2, torch.ones(2, 4))


def test_mlp_denoiser_shapes_null_class_and_label_dropout():
    torch.manual_seed(0)
    net = MLPDenoiser(dim=5, hidden=16, n_layers=2, n_classes=3, label_dropout=0.5).eval()
    x, labels = torch.randn(64, 5), torch.randint(0, 3, (64,))
    c_noise = torch.full((64,), 0.3)
    out = net(x, c_noise, labels)
    assert out.shape == (64, 5)
    torch.testing.assert_close(net(x, torch.tensor([0.3]), labels), out)  # one σ broadcasts
    null = torch.full((64,), 3)
    torch.testing.assert_close(net(x, c_noise, None), net(x, c_noise, null))  # None = null class
    assert not torch.allclose(net(x, c_noise, labels), net(x, c_noise, None))
    torch.testing.assert_close(net(x, c_noise, labels), out)  # eval: no dropout
    net.train()
    dropped = net(x, c_noise, labels)
    changed = ~torch.isclose(dropped, out).all(dim=1)
    assert 0.2 < changed.float().mean().item() < 0.8  # about half the labels were replaced
    with pytest.raises(ValueError, match="unconditional"):
        MLPDenoiser(dim=5, hidden=16)(x, c_noise, labels)
    with pytest.raises(ValueError, match="labels"):
        net(x, c_noise, labels[:10])


def test_class_init_std_scales_only_the_class_table():
    def built(**kwargs):
        torch.manual_seed(0)
        return MLPDenoiser(dim=5, hidden=16, n_layers=1, n_classes=3, **kwargs).state_dict()

    default, same, small = built(), built(class_init_std=1.0), built(class_init_std=0.02)
    for name, weight in default.items():
        torch.testing.assert_close(same[name], weight, rtol=0, atol=0)  # 1.0 draws PyTorch's default
        expected = weight * 0.02 if name == "class_embedding.weight" else weight
        torch.testing.assert_close(small[name], expected, rtol=0, atol=0)
    assert default["class_embedding.weight"].std().item() > 0.5  # nn.Embedding's N(0, 1)
    with pytest.raises(ValueError, match="class_init_std"):
        MLPDenoiser(dim=5, hidden=16, n_classes=3, class_init_std=-1.0)
    with pytest.raises(ValueError, match="class_init_std"):
        LatentEDM(hidden=8, n_layers=1, steps=1, class_init_std=float("nan"), verbose=False)._check_params()


def test_noise_label_scale_multiplies_c_noise_before_the_sinusoids():
    torch.manual_seed(0)
    default = MLPDenoiser(dim=5, hidden=16, n_layers=1, n_classes=3).eval()
    scaled = MLPDenoiser(dim=5, hidden=16, n_layers=1, n_classes=3, noise_label_scale=250.0).eval()
    scaled.load_state_dict(default.state_dict())  # the scale is not a weight: same weights, same draw
    x, labels, c_noise = torch.randn(8, 5), torch.randint(0, 3, (8,)), torch.linspace(-1.5, 1.2, 8)
    torch.testing.assert_close(scaled(x, c_noise, labels), default(x, c_noise * 250.0, labels))
    assert not torch.allclose(scaled(x, c_noise, labels), default(x, c_noise, labels))
    with pytest.raises(ValueError, match="noise_label_scale"):
        MLPDenoiser(dim=5, hidden=16, noise_label_scale=0.0)
    with pytest.raises(ValueError, match="noise_label_scale"):
        LatentEDM(hidden=8, n_layers=1, steps=1, noise_label_scale=-1.0, verbose=False)._check_params()
    assert LatentEDM(noise_label_scale=250.0)._build_denoiser(5, 3, "cpu").net.noise_label_scale == 250.0


def test_class_init_std_is_saved_and_changes_the_fit(tmp_path):
    rng = np.random.default_rng(4)
    Z, y = rng.normal(size=(120, 3)).astype(np.float32), rng.integers(0, 2, size=120)
    common = dict(hidden=8, n_layers=1, steps=6, batch_size=40, num_steps=3, device="cpu", verbose=False)
    small = LatentEDM(class_init_std=0.02, **common).fit(Z, y)
    default = LatentEDM(**common).fit(Z, y)
    assert not np.allclose(small.loss_history_, default.loss_history_)
    small.save(tmp_path / "m.pt")
    loaded = LatentEDM.load(tmp_path / "m.pt")
    assert loaded.class_init_std == 0.02
    np.testing.assert_array_equal(loaded.sample({0: 3, 1: 2}, 1)[0], small.sample({0: 3, 1: 2}, 1)[0])


def test_class_balance_weights_and_weighted_batches():
    codes = np.array([0] * 90 + [1] * 9 + [2] * 1)
    np.testing.assert_array_equal(class_balance_weights(codes, 0.0), np.ones(100))
    balanced = class_balance_weights(codes, 1.0)
    assert [balanced[codes == c].sum() for c in (0, 1, 2)] == pytest.approx([1.0, 1.0, 1.0])  # equal shares
    half = class_balance_weights(codes, 0.5)
    assert half[codes == 0].sum() / half[codes == 2].sum() == pytest.approx(np.sqrt(90))
    with pytest.raises(ValueError, match=">= 0"):
        class_balance_weights(codes, -0.5)
    weights = torch.as_tensor(np.where(codes == 1, 0.0, 1.0))
    batches = weighted_index_batches(weights, 32, torch.Generator().manual_seed(0))
    drawn = torch.cat(batches).numpy()
    assert [b.numel() for b in batches] == [32, 32, 32, 4]  # an epoch draws n rows
    assert not np.isin(drawn, np.flatnonzero(codes == 1)).any()  # weight 0: never drawn
    again = torch.cat(weighted_index_batches(weights, 32, torch.Generator().manual_seed(0))).numpy()
    np.testing.assert_array_equal(drawn, again)
    assert [b.numel() for b in weighted_index_batches(weights, 32, torch.Generator(), drop_last=True)] == [32, 32, 32]


def test_class_balance_draws_the_rare_class_as_often_as_asked(monkeypatch):
    import idsynth.models.edm as edm_module

    rng = np.random.default_rng(5)
    Z, y = rng.normal(size=(200, 3)).astype(np.float32), np.array([0] * 190 + [1] * 10)
    seen = []

    def spy(weights, batch_size, generator, drop_last=False):
        batches = weighted_index_batches(weights, batch_size, generator, drop_last)
        seen.extend(torch.cat(batches).tolist())
        return batches

    monkeypatch.setattr(edm_module, "weighted_index_batches", spy)
    common = dict(hidden=8, n_layers=1, epochs=20, batch_size=50, num_steps=3, device="cpu", verbose=False)
    balanced = LatentEDM(class_balance=1.0, **common).fit(Z, y)
    share = np.mean(y[np.array(seen)] == 1)
    assert len(seen) == 20 * 200 and 0.45 < share < 0.55  # 5 % of the rows, half of the draws
    seen.clear()
    plain = LatentEDM(**common).fit(Z, y)
    assert seen == []  # 0 (the default) shuffles the rows as before
    assert not np.allclose(balanced.loss_history_, plain.loss_history_)
    with pytest.raises(ValueError, match="class_balance"):
        LatentEDM(class_balance=-1.0, **common).fit(Z, y)


# ---- LatentEDM on a class-conditional 2-D Gaussian mixture ----------------------------------
# Class 0: two round components (bimodal); class 1: one elongated, correlated component.
COMPONENTS = {
    0: [((-3.0, -2.0), np.eye(2) * 0.16), ((-3.0, 2.0), np.eye(2) * 0.16)],
    1: [((3.0, 0.0), np.array([[1.0, 0.8], [0.8, 1.0]]) * 0.6)],
}


def draw(cls: int, n: int, rng: np.random.Generator) -> np.ndarray:
    comps = COMPONENTS[cls]
    which = rng.integers(len(comps), size=n)
    out = np.empty((n, 2))
    for j, (mean, cov) in enumerate(comps):
        out[which == j] = rng.multivariate_normal(mean, cov, size=int((which == j).sum()))
    return out.astype(np.float32)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, n_proj: int = 64) -> float:
    """Mean 1-D Wasserstein-1 distance over random projections (equal sample sizes)."""
    theta = np.random.default_rng(123).normal(size=(a.shape[1], n_proj))
    theta /= np.linalg.norm(theta, axis=0)
    return float(np.abs(np.sort(a @ theta, axis=0) - np.sort(b @ theta, axis=0)).mean())


TOY_KW = dict(
    hidden=64, n_layers=2, epochs=100, batch_size=256, learning_rate=2e-3, ema_decay=0.99, num_steps=25, verbose=False
)


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    Z = np.concatenate([draw(0, 800, rng), draw(1, 800, rng)])
    y = np.repeat(np.array([0, 1], dtype=np.int64), 800)
    return Z, y, LatentEDM(**TOY_KW).fit(Z, y)


def test_trained_edm_matches_the_mixture(toy):
    Z, y, model = toy
    assert model.loss_history_.shape == (100,)
    assert model.loss_history_[-10:].mean() < 0.7 * model.loss_history_[:3].mean()
    Zs, ys = model.sample({0: 2000, 1: 2000}, random_state=1)
    fresh = np.random.default_rng(7)
    for cls in (0, 1):
        reference = draw(cls, 2000, fresh)
        model_sw = sliced_wasserstein(Zs[ys == cls], reference)
        swapped_sw = sliced_wasserstein(Zs[ys != cls], reference)
        assert model_sw < 0.15, (cls, model_sw)
        assert swapped_sw > 3.0
    # Class 0 is bimodal: the moment-matched Gaussian (a badly matched baseline) is far worse.
    data0 = Z[y == 0]
    gaussian = np.random.default_rng(5).multivariate_normal(data0.mean(0), np.cov(data0.T), 2000)
    reference0 = draw(0, 2000, fresh)
    assert sliced_wasserstein(Zs[ys == 0], reference0) < 0.4 * sliced_wasserstein(gaussian, reference0)
    # ... and the model reproduces both modes in equal shares.
    upper = (Zs[ys == 0, 1] > 0).mean()
    assert 0.4 < upper < 0.6


def test_conditional_sampling_counts_and_components(toy):
    _, _, model = toy
    Zs, ys = model.sample({1: 300, 0: 7}, random_state=2)
    assert Zs.shape == (307, 2) and Zs.dtype == np.float32
    assert ys.tolist() == [1] * 300 + [0] * 7  # grouped in the mapping's order
    means = np.array([c[0] for cls in (0, 1) for c in COMPONENTS[cls]])
    owner = np.array([cls for cls in (0, 1) for _ in COMPONENTS[cls]])
    nearest = owner[np.argmin(((Zs[:, None, :] - means[None]) ** 2).sum(-1), axis=1)]
    assert (nearest == ys).mean() > 0.97
    empty, empty_y = model.sample({0: 0, 1: 0}, random_state=0)
    assert empty.shape == (0, 2) and empty_y.shape == (0,)
    with pytest.raises(ValueError, match="not seen"):
        model.sample({5: 10})
    with pytest.raises(TypeError, match="mapping"):
        model.sample(10)


def test_sampling_reports_each_network_step_when_verbose(toy, capsys):
    _, _, model = toy
    calls = []
    latents = torch.randn(10, 2, generator=torch.Generator().manual_seed(0))
    edm_sampler(EDMPrecond(ZeroNet(), 0.5), latents, num_steps=7, on_step=lambda: calls.append(1))
    assert len(calls) == 7
    quiet, _ = model.sample({0: 5, 1: 5}, random_state=0)
    assert "EDM sampling" not in capsys.readouterr().err
    batch = model.sample_batch_size
    model.verbose = True
    try:
        loud, _ = model.sample({0: 5, 1: 5}, random_state=0)
        np.testing.assert_array_equal(loud, quiet)  # the bar reports, it does not change the rows
        capsys.readouterr()
        model.set_sampling(sample_batch_size=4)
        model.sample({0: 5, 1: 5}, random_state=0)
    finally:
        model.verbose = False
        model.set_sampling(sample_batch_size=batch)
    err = capsys.readouterr().err
    # 10 rows in batches of 4: 3 batches of 25 steps
    assert "EDM sampling (10 rows)" in err and "0/75 " in err


def test_sampling_on_the_cpu_keeps_freed_memory_as_a_fit_does(toy, monkeypatch):
    """A model loaded from the cache samples in a process that never built an optimiser: without
    this, 210,742 KDDTrain+ rows page-faulted 227 M times (511 s of system time on one core)."""
    import idsynth.models.edm as edm_module

    _, _, model = toy
    calls = []
    monkeypatch.setattr(edm_module, "keep_freed_memory", lambda device: calls.append(str(device)))
    model.sample({0: 3}, random_state=0)
    assert calls == ["cpu"]


def test_sampling_determinism_and_save_load_round_trip(toy, tmp_path):
    _, _, model = toy
    first, _ = model.sample({0: 50, 1: 50}, random_state=11)
    again, _ = model.sample({0: 50, 1: 50}, random_state=11)
    other, _ = model.sample({0: 50, 1: 50}, random_state=12)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    path = tmp_path / "edm.pt"
    model.save(path)
    loaded = LatentEDM.load(path)
    np.testing.assert_array_equal(loaded.sample({0: 50, 1: 50}, random_state=11)[0], first)
    np.testing.assert_array_equal(loaded.loss_history_, model.loss_history_)
    assert loaded.get_params() == model.get_params()


def test_fit_is_deterministic_and_leaves_the_global_rng_alone():
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(300, 6)).astype(np.float32) * 3 + 10
    y = rng.integers(0, 3, size=300)
    kw = dict(hidden=16, n_layers=1, epochs=3, batch_size=64, num_steps=5, verbose=False)
    state = torch.random.get_rng_state()
    a = LatentEDM(random_state=4, **kw).fit(Z, y)
    torch.testing.assert_close(torch.random.get_rng_state(), state)
    b = LatentEDM(random_state=4, **kw).fit(Z, y)
    c = LatentEDM(random_state=5, **kw).fit(Z, y)
    np.testing.assert_array_equal(a.loss_history_, b.loss_history_)
    assert not np.array_equal(a.loss_history_, c.loss_history_)
    np.testing.assert_array_equal(a.sample({0: 5, 2: 5}, 0)[0], b.sample({0: 5, 2: 5}, 0)[0])
    np.testing.assert_allclose(a.mean_, Z.mean(0), rtol=1e-5)


def test_unconditional_and_guided_models():
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(200, 3)).astype(np.float32)
    kw = dict(hidden=16, n_layers=1, epochs=2, batch_size=64, num_steps=4, verbose=False)
    uncond = LatentEDM(ema_decay=None, **kw).fit(Z)
    Zs, ys = uncond.sample(25, random_state=0)
    assert Zs.shape == (25, 3) and (ys == 0).all()
    y = rng.integers(0, 2, size=200)
    guided = LatentEDM(guidance=2.0, **kw).fit(Z, y)
    Zg, yg = guided.sample({0: 4, 1: 6}, random_state=0)
    assert Zg.shape == (10, 3) and np.isfinite(Zg).all()


def test_bad_inputs_raise_clear_errors():
    kw = dict(hidden=16, n_layers=1, epochs=1, verbose=False)
    Z = np.zeros((10, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="2-D"):
        LatentEDM(**kw).fit(np.zeros(10))
    with pytest.raises(ValueError, match="NaN"):
        LatentEDM(**kw).fit(np.full((10, 2), np.nan))
    with pytest.raises(ValueError, match="shape"):
        LatentEDM(**kw).fit(Z, np.zeros(9, dtype=int))
    with pytest.raises(ValueError, match="dim"):
        LatentEDM(dim=3, **kw).fit(Z, np.zeros(10, dtype=int))
    with pytest.raises(ValueError, match="n_classes"):
        LatentEDM(n_classes=2, **kw).fit(Z, np.full(10, 2))
    with pytest.raises(ValueError, match="label_dropout"):
        LatentEDM(guidance=3.0, label_dropout=0.0, **kw).fit(Z, np.zeros(10, dtype=int))
    with pytest.raises(RuntimeError, match="not fitted"):
        LatentEDM(**kw).sample({0: 1})
    with pytest.raises(ValueError, match="LatentEDM"):
        import io

        buffer = io.BytesIO()
        torch.save({"format": "other"}, buffer)
        buffer.seek(0)
        LatentEDM.load(buffer)


def test_ema_update_and_numpy_params_survive_save(tmp_path):
    from idsynth.models.edm import _ema_update

    ema, model = nn.Linear(2, 2), nn.Linear(2, 2)
    nn.init.zeros_(ema.weight), nn.init.zeros_(ema.bias), nn.init.ones_(model.weight), nn.init.ones_(model.bias)
    _ema_update(ema, model, 0.9)
    torch.testing.assert_close(ema.weight, torch.full((2, 2), 0.1))
    rng = np.random.default_rng(3)
    Z, y = rng.normal(size=(100, 2)).astype(np.float32), rng.integers(0, 2, size=100)
    fitted = LatentEDM(hidden=8, n_layers=1, epochs=np.int64(2), random_state=np.int64(3), num_steps=3, verbose=False)
    fitted.fit(Z, y)
    assert not torch.allclose(fitted.ema_.net.proj.weight, fitted.denoiser_.net.proj.weight)
    fitted.save(tmp_path / "m.pt")
    loaded = LatentEDM.load(tmp_path / "m.pt")
    np.testing.assert_array_equal(loaded.sample({0: 3}, 1)[0], fitted.sample({0: 3}, 1)[0])


def test_sampling_from_raw_weights_is_a_sampling_setting(tmp_path):
    rng = np.random.default_rng(4)
    Z, y = rng.normal(size=(200, 3)).astype(np.float32), rng.integers(0, 2, size=200)
    fitted = LatentEDM(hidden=16, n_layers=1, epochs=4, batch_size=64, num_steps=4, ema_decay=0.9,
                       random_state=2, verbose=False).fit(Z, y)
    with_ema = fitted.sample({0: 5, 1: 5}, 1)[0]
    fitted.set_sampling(sample_weights="raw")
    raw = fitted.sample({0: 5, 1: 5}, 1)[0]
    assert not np.allclose(raw, with_ema)
    fitted.save(tmp_path / "m.pt")
    loaded = LatentEDM.load(tmp_path / "m.pt")
    assert loaded.sample_weights == "raw"
    np.testing.assert_array_equal(loaded.sample({0: 5, 1: 5}, 1)[0], raw)
    loaded.ema_ = None  # the raw weights are the denoiser's: the same rows without any average
    np.testing.assert_array_equal(loaded.set_sampling(sample_weights="ema").sample({0: 5, 1: 5}, 1)[0], raw)
    with pytest.raises(ValueError, match="sample_weights must be one of"):
        fitted.set_sampling(sample_weights="best")
    with pytest.raises(ValueError, match="sample_weights must be one of"):
        LatentEDM(sample_weights="last", verbose=False).fit(Z, y)


def test_stochastic_sampling_is_a_seeded_sampling_setting(tmp_path):
    rng = np.random.default_rng(5)
    Z, y = rng.normal(size=(200, 3)).astype(np.float32), rng.integers(0, 2, size=200)
    fitted = LatentEDM(hidden=16, n_layers=1, epochs=4, batch_size=64, num_steps=6, random_state=3,
                       verbose=False).fit(Z, y)
    deterministic = fitted.sample({0: 5, 1: 5}, 1)[0]
    assert fitted.S_churn == 0.0
    fitted.set_sampling(S_churn=1.0)
    churned = fitted.sample({0: 5, 1: 5}, 1)[0]
    assert not np.allclose(churned, deterministic)  # the churn noise moved the rows
    np.testing.assert_array_equal(fitted.sample({0: 5, 1: 5}, 1)[0], churned)  # from the seed alone
    assert not np.allclose(fitted.sample({0: 5, 1: 5}, 2)[0], churned)
    fitted.save(tmp_path / "m.pt")
    loaded = LatentEDM.load(tmp_path / "m.pt")
    assert loaded.S_churn == 1.0
    np.testing.assert_array_equal(loaded.sample({0: 5, 1: 5}, 1)[0], churned)
    np.testing.assert_array_equal(loaded.set_sampling(S_churn=0.0).sample({0: 5, 1: 5}, 1)[0], deterministic)
    with pytest.raises(ValueError, match="S_churn must be >= 0"):
        fitted.set_sampling(S_churn=-1.0)
