"""TabDDPM: the schedule, both diffusion processes, the network and the generator protocol."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from idsynth.models.base import Generator
from idsynth.models.tabddpm import TabDDPM
from idsynth.models.tabddpm_data import QuantileNormaliser
from idsynth.models.tabddpm_diffusion import (
    CategoricalLayout,
    DiffusionSchedule,
    MixedDiffusion,
    cosine_beta_schedule,
    gaussian_p_sample,
    gaussian_posterior_mean,
    gaussian_predict_x0,
    gaussian_q_sample,
    multinomial_kl,
    multinomial_posterior,
    multinomial_prior_kl,
    multinomial_q_marginal,
    multinomial_vb_term,
)
from idsynth.models.tabddpm_network import MLPDiffusion, timestep_embedding

SIZES = (3, 5, 2)  # categories of three categorical features


pytestmark = pytest.mark.usefixtures("one_thread")


def _random_codes(n: int, sizes=SIZES, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, k, (n,), generator=g) for k in sizes], dim=1)


# --- schedule ------------------------------------------------------------------------------------


def test_cosine_schedule_properties():
    T = 1000
    betas = cosine_beta_schedule(T)
    alpha_bar = np.cumprod(1.0 - betas)
    assert betas.shape == (T,) and np.all(betas > 0) and np.all(betas <= 0.999)
    assert alpha_bar[0] > 0.9999  # ᾱ after the first step ≈ 1
    assert np.all(np.diff(alpha_bar) < 0)  # strictly decreasing
    assert alpha_bar[-1] < 1e-6  # ᾱ_T ≈ 0
    # before the β ≤ 0.999 clip bites, ᾱ_t = f(t/T)/f(0) exactly (Nichol & Dhariwal Eq. 17)
    f = lambda u: np.cos((u + 0.008) / 1.008 * np.pi / 2) ** 2  # noqa: E731
    t = np.arange(1, T)
    np.testing.assert_allclose(alpha_bar[:-1], f(t / T) / f(0), rtol=1e-9)


def test_schedule_tensors_are_consistent():
    s = DiffusionSchedule.cosine(100)
    assert s.num_timesteps == 100 and s.betas.dtype == torch.float32
    torch.testing.assert_close(s.log_alpha_bar.exp(), s.sqrt_alpha_bar**2, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(torch.logaddexp(s.log_alpha, s.log_1m_alpha), torch.zeros(100), atol=1e-6, rtol=0)
    log_one = torch.logaddexp(s.log_alpha_bar, s.log_1m_alpha_bar)
    torch.testing.assert_close(log_one, torch.zeros(100), atol=1e-6, rtol=0)
    with pytest.raises(ValueError):
        cosine_beta_schedule(0)
    with pytest.raises(ValueError):
        DiffusionSchedule.from_betas(np.array([0.1, 1.0]))


# --- Gaussian process ----------------------------------------------------------------------------


def test_gaussian_reverse_mean_is_the_true_posterior_mean_given_the_true_noise():
    """Ho et al. Eq. 11 with ε_θ = ε equals the posterior mean μ̃(x_t, x_0) of Eq. 7."""
    T = 200
    sched = DiffusionSchedule.cosine(T)
    betas = cosine_beta_schedule(T)
    ab = np.cumprod(1 - betas)
    ab_prev = np.append(1.0, ab[:-1])
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(6, 4, generator=g)
    eps = torch.randn(6, 4, generator=g)
    t = torch.tensor([0, 1, 50, 120, 198, 199])
    x_t = gaussian_q_sample(sched, x0, t, eps)
    mean = gaussian_p_sample(sched, x_t, t, eps, torch.zeros_like(x0))
    tt = t.numpy()
    c0 = np.sqrt(ab_prev[tt]) * betas[tt] / (1 - ab[tt])
    ct = np.sqrt(1 - betas[tt]) * (1 - ab_prev[tt]) / (1 - ab[tt])
    expected = c0[:, None] * x0.double().numpy() + ct[:, None] * x_t.double().numpy()
    np.testing.assert_allclose(mean.numpy(), expected, atol=2e-3, rtol=1e-3)
    np.testing.assert_allclose(mean[0].numpy(), x0[0].numpy(), atol=1e-4)  # last step returns x̂_0


def test_gaussian_reverse_step_adds_noise_except_at_the_last_step():
    sched = DiffusionSchedule.cosine(50)
    t = torch.tensor([0, 1, 49])
    x = torch.zeros(3, 2)
    diff = gaussian_p_sample(sched, x, t, x, torch.ones(3, 2)) - gaussian_p_sample(sched, x, t, x, torch.zeros(3, 2))
    torch.testing.assert_close(diff[:, 0], torch.stack([torch.tensor(0.0), sched.sigma[1], sched.sigma[49]]))


def test_x0_prediction_inverts_the_forward_process_and_the_last_mean_is_x0():
    sched = DiffusionSchedule.cosine(1000)
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    t = torch.tensor([0, 10, 500, 900, 980])  # ᾱ down to ~1e-4 (float32 cancellation grows as 1/√ᾱ)
    x_t = gaussian_q_sample(sched, x0, t, eps)
    torch.testing.assert_close(gaussian_predict_x0(sched, x_t, t, eps), x0, atol=1e-3, rtol=1e-3)
    # Eq. 7 at the first step (ᾱ_0 = 1) is x_0 itself
    torch.testing.assert_close(gaussian_posterior_mean(sched, x0, x_t, torch.zeros(5, dtype=torch.long)), x0)


def test_top_step_multiplies_the_noise_error_by_31_unless_x0_is_clipped():
    """β_T = 0.999 (the cosine schedule's cap): an ε error δ at t = T−1 moves x_{T−1} by
    β_T/(√α_T √(1 − ᾱ_T))·δ ≈ 31.6 δ; clipping x̂_0 to the data's support bounds the move."""
    T = 1000
    sched = DiffusionSchedule.cosine(T)
    last = torch.full((4,), T - 1)
    x_t = torch.randn(4, 6, generator=torch.Generator().manual_seed(0))
    eps_true = x_t  # x_0 ≈ 0, so ε = x_T to ~1e-9
    delta = 0.1
    zeros = torch.zeros_like(x_t)
    exact = gaussian_p_sample(sched, x_t, last, eps_true, zeros)
    off = gaussian_p_sample(sched, x_t, last, eps_true + delta, zeros)
    beta = 0.999
    gain = beta / (np.sqrt(1 - beta) * np.sqrt(1 - np.exp(sched.log_alpha_bar[-1].item())))
    assert 31.0 < gain < 32.0
    torch.testing.assert_close(exact - off, torch.full_like(x_t, gain * delta), atol=2e-3, rtol=1e-3)
    low, high = torch.full((6,), -5.2), torch.full((6,), 5.2)
    clipped = gaussian_p_sample(sched, x_t, last, eps_true + delta, zeros, (low, high))
    limit = sched.posterior_coef_x0[-1] * 5.2 + sched.posterior_coef_xt[-1] * x_t.abs()
    assert torch.all(clipped.abs() <= limit + 1e-6) and limit.max() < 0.2


def test_clipping_changes_nothing_when_x0_is_in_the_support_and_bounds_the_last_step():
    sched = DiffusionSchedule.cosine(200)
    g = torch.Generator().manual_seed(1)
    x0 = torch.rand(8, 3, generator=g) * 8 - 4  # inside [−5.2, 5.2]
    eps, noise = torch.randn(8, 3, generator=g), torch.randn(8, 3, generator=g)
    t = torch.tensor([0, 1, 5, 50, 100, 150, 190, 199])
    x_t = gaussian_q_sample(sched, x0, t, eps)
    bounds = (torch.full((3,), -5.2), torch.full((3,), 5.2))
    torch.testing.assert_close(
        gaussian_p_sample(sched, x_t, t, eps, noise, bounds), gaussian_p_sample(sched, x_t, t, eps, noise)
    )
    # per-column bounds; at t = 0 the output is the clipped x̂_0 however wrong ε is
    low, high = torch.tensor([-5.2, -1.0, 0.5]), torch.tensor([5.2, 1.0, 0.5])
    wild = gaussian_p_sample(sched, x_t, torch.zeros(8, dtype=torch.long), 100 * eps, noise, (low, high))
    assert torch.all(wild >= low) and torch.all(wild <= high) and torch.all(wild[:, 2] == 0.5)


def test_quantile_normaliser_bounds_are_the_support_of_the_normalised_data():
    rng = np.random.default_rng(0)
    n = 600
    X = np.column_stack([np.where(rng.random(n) < 0.6, 0.0, rng.exponential(5, n)), np.full(n, 3.0), rng.normal(size=n)])
    qn = QuantileNormaliser(0).fit(X)
    low, high = qn.bounds
    assert low.shape == high.shape == (3,) and low.dtype == np.float32
    ppf = -5.1993375  # Φ⁻¹(1e-7), sklearn's clip of the normal output
    np.testing.assert_allclose(low, [ppf, ppf, ppf], rtol=1e-6)
    np.testing.assert_allclose(high, [-ppf, ppf, -ppf], rtol=1e-6)  # a constant column sits at the low end
    Z = qn.transform(X)
    assert np.all(Z >= low) and np.all(Z <= high)
    assert abs((Z[:, 0] == low[0]).mean() - (X[:, 0] == 0).mean()) < 1e-9  # the ties at 0 all map to the bound
    # anything at or beyond the bounds inverts to the training min / max
    back = qn.inverse_transform(np.array([[-9.0, 0.0, 9.0], [low[0], 0.0, high[2]]]))
    np.testing.assert_allclose(back[:, [0, 2]], [[0.0, X[:, 2].max()]] * 2, rtol=1e-5)  # float32 bounds
    assert QuantileNormaliser.from_state(qn.state_dict()).bounds[1].tolist() == high.tolist()


# --- multinomial process -------------------------------------------------------------------------


def test_layout_one_hot_codes_and_gumbel_sampling():
    layout = CategoricalLayout(SIZES)
    codes = _random_codes(7)
    log_x = layout.log_onehot(codes)
    assert log_x.shape == (7, sum(SIZES))
    torch.testing.assert_close(log_x.exp().sum(dim=1), torch.full((7,), float(len(SIZES))))
    assert torch.equal(layout.codes(log_x), codes)
    # Gumbel-max draws follow the given probabilities, per feature
    probs = torch.tensor([0.6, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.6, 0.5, 0.5])
    draws = layout.sample(probs.log().expand(20000, -1), torch.Generator().manual_seed(1))
    freq = layout.log_onehot(draws).exp().mean(dim=0)
    torch.testing.assert_close(freq, probs, atol=0.015, rtol=0)


def test_multinomial_marginal_is_one_hot_at_the_start_and_uniform_at_the_end():
    T = 1000
    sched, layout = DiffusionSchedule.cosine(T), CategoricalLayout(SIZES)
    log_x0 = layout.log_onehot(_random_codes(5))
    first = multinomial_q_marginal(sched, layout, log_x0, torch.zeros(5, dtype=torch.long)).exp()
    last = multinomial_q_marginal(sched, layout, log_x0, torch.full((5,), T - 1)).exp()
    torch.testing.assert_close(first, log_x0.exp(), atol=1e-3, rtol=0)
    uniform = torch.cat([torch.full((k,), 1.0 / k) for k in SIZES]).expand(5, -1)
    torch.testing.assert_close(last, uniform, atol=1e-5, rtol=0)
    # ... so the prior term KL(q(x_T | x_0) || Cat(1/K)) is ≈ 0
    assert multinomial_prior_kl(sched, layout, log_x0).abs().max() < 1e-5


def _brute_force_posterior(betas: np.ndarray, k: int, x0: np.ndarray, xt: int, t: int) -> np.ndarray:
    """q(x_{t-1} | x_t, x_0) by Bayes' rule with explicit K x K transition matrices."""
    Q = [(1 - b) * np.eye(k) + b / k * np.ones((k, k)) for b in betas]
    prev = x0.copy()  # distribution of x_{t-1} given x_0 (index t-1; x_0 itself at t = 0)
    for s in range(t):
        prev = prev @ Q[s]
    joint = prev * Q[t][:, xt]  # p(x_{t-1} = j | x_0) q(x_t | x_{t-1} = j)
    return joint / joint.sum()


def test_multinomial_posterior_matches_bayes_rule_and_sums_to_one():
    T = 30
    betas = cosine_beta_schedule(T)
    sched, layout = DiffusionSchedule.cosine(T), CategoricalLayout(SIZES)
    g = torch.Generator().manual_seed(3)
    n = 12
    # x_0 as arbitrary distributions (the model's x̂_0 is one), x_t as one-hot codes
    x0_probs = torch.cat([torch.softmax(torch.randn(n, k, generator=g), dim=1) for k in SIZES], dim=1)
    xt_codes = _random_codes(n, seed=4)
    t = torch.randint(0, T, (n,), generator=g)
    t[0] = 0
    post = multinomial_posterior(sched, layout, x0_probs.log(), layout.log_onehot(xt_codes), t).exp()
    starts = np.concatenate([[0], np.cumsum(SIZES)[:-1]])
    for j, k in enumerate(SIZES):
        block = post[:, starts[j] : starts[j] + k].double().numpy()
        np.testing.assert_allclose(block.sum(axis=1), 1.0, atol=1e-5)
        for i in range(n):
            x0 = x0_probs[i, starts[j] : starts[j] + k].double().numpy()
            expected = _brute_force_posterior(betas, k, x0, int(xt_codes[i, j]), int(t[i]))
            np.testing.assert_allclose(block[i], expected, atol=2e-5)


def test_multinomial_bound_vanishes_for_a_perfect_prediction():
    T = 100
    sched, layout = DiffusionSchedule.cosine(T), CategoricalLayout(SIZES)
    codes = _random_codes(64, seed=5)
    log_x0 = layout.log_onehot(codes)
    g = torch.Generator().manual_seed(6)
    t = torch.randint(1, T, (64,), generator=g)
    log_x_t = layout.log_onehot(layout.sample(multinomial_q_marginal(sched, layout, log_x0, t), g))
    perfect = multinomial_vb_term(sched, layout, 50.0 * log_x0.exp(), log_x0, log_x_t, t)
    wrong = multinomial_vb_term(sched, layout, torch.randn(64, layout.width, generator=g), log_x0, log_x_t, t)
    assert perfect.abs().max() < 1e-4
    assert wrong.mean() > 100 * perfect.abs().mean() and wrong.min() >= -1e-6  # a KL is >= 0
    assert torch.all(multinomial_kl(log_x0, log_x0).abs() < 1e-6)


def test_mixed_loss_works_with_any_network():
    """Swapping the network does not touch the loss: a network predicting ε = 0 scores E[ε²] = 1."""
    diffusion = MixedDiffusion(4, SIZES, num_timesteps=50)
    n = 4096
    zero_net = lambda x, t, y: torch.zeros(x.shape[0], diffusion.d_in)  # noqa: E731
    g = torch.Generator().manual_seed(0)
    y = torch.zeros(n, dtype=torch.long)
    loss_gauss, loss_multi = diffusion.loss(zero_net, torch.randn(n, 4), _random_codes(n), y, g)
    assert loss_gauss.shape == () and abs(loss_gauss.item() - 1.0) < 0.05
    assert loss_multi.item() > 0
    bad_net = lambda x, t, y: torch.zeros(x.shape[0], 3)  # noqa: E731
    with pytest.raises(ValueError, match="network returned shape"):
        diffusion.loss(bad_net, torch.randn(8, 4), _random_codes(8), torch.zeros(8, dtype=torch.long), g)


# --- network -------------------------------------------------------------------------------------


def test_network_shapes_and_class_conditioning():
    emb = timestep_embedding(torch.tensor([0, 5, 999]), 16)
    assert emb.shape == (3, 16)
    torch.testing.assert_close(emb[0], torch.cat([torch.ones(8), torch.zeros(8)]))
    torch.manual_seed(0)
    net = MLPDiffusion(d_in=14, num_classes=3, d_layers=(32, 64, 32), dim_t=16)
    x, t = torch.randn(5, 14), torch.randint(0, 100, (5,))
    out0 = net(x, t, torch.zeros(5, dtype=torch.long))
    out2 = net(x, t, torch.full((5,), 2))
    assert out0.shape == (5, 14) and out0.dtype == torch.float32
    assert not torch.allclose(out0, out2)  # the class embedding reaches the output
    with pytest.raises(ValueError):
        MLPDiffusion(d_in=14, num_classes=3, d_layers=())


# --- the generator -------------------------------------------------------------------------------

SMALL = dict(num_timesteps=50, d_layers=(128, 128), dim_t=64, batch_size=256, learning_rate=3e-3, verbose=False)


def _toy(n: int = 2000, seed: int = 0):
    """Two classes; a Gaussian whose mean is ∓2, a Poisson count, a category (codes 7/12/17) by class."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    gauss = rng.normal(np.where(y == 0, -2.0, 2.0), 0.5)
    count = rng.poisson(3 + 3 * y).astype(np.float32)
    probs = np.where(y[:, None] == 0, [0.7, 0.2, 0.1], [0.1, 0.2, 0.7])
    cat = 7 + 5 * (rng.random(n)[:, None] > probs.cumsum(axis=1)).sum(axis=1)
    return np.column_stack([gauss, count]).astype(np.float32), cat[:, None].astype(np.int64), y


def _errors(model: TabDDPM, X_num, X_cat, y) -> tuple[float, float]:
    """Largest per-class error of the Gaussian's mean and of the category frequencies."""
    (xs, cs), ys = model.sample({0: 800, 1: 800}, random_state=1)
    mean_err, freq_err = 0.0, 0.0
    for k in (0, 1):
        mean_err = max(mean_err, abs(xs[ys == k, 0].mean() - X_num[y == k, 0].mean()))
        for code in (7, 12, 17):
            freq_err = max(freq_err, abs((cs[ys == k, 0] == code).mean() - (X_cat[y == k, 0] == code).mean()))
    return mean_err, freq_err


@pytest.fixture(scope="module")
def toy():
    return _toy()


@pytest.fixture(scope="module")
def trained(toy):
    X_num, X_cat, y = toy
    return TabDDPM(steps=800, **SMALL).fit(X_num, X_cat, y, integer_columns=[1])


def test_sampling_on_the_cpu_keeps_freed_memory_as_a_fit_does(trained, monkeypatch):
    """A model loaded from the cache samples in a process that never built an optimiser."""
    import idsynth.models.tabddpm as tabddpm_module

    calls = []
    monkeypatch.setattr(tabddpm_module, "keep_freed_memory", lambda device: calls.append(str(device)))
    trained.sample({trained.classes_[0]: 3}, random_state=0)
    assert calls == ["cpu"]


def test_toy_distribution_is_learned_and_an_untrained_model_is_not(toy, trained):
    X_num, X_cat, y = toy
    untrained = TabDDPM(steps=1, **SMALL).fit(X_num, X_cat, y, integer_columns=[1])
    mean_err, freq_err = _errors(trained, X_num, X_cat, y)
    mean_err0, freq_err0 = _errors(untrained, X_num, X_cat, y)
    assert mean_err < 0.35 and freq_err < 0.1, (mean_err, freq_err)
    assert mean_err0 > 1.0 and freq_err0 > 0.3, (mean_err0, freq_err0)
    h = trained.loss_history_
    assert list(h.columns) == ["step", "loss", "loss_gauss", "loss_multi"] and len(h) == 800
    assert np.all(np.isfinite(h["loss"])) and h["loss"][:20].mean() > h["loss"][-50:].mean()


def test_sample_shapes_dtypes_and_exact_class_counts(trained):
    (X_num, X_cat), y = trained.sample({1: 7, 0: 3}, random_state=0)
    assert isinstance(trained, Generator)
    assert X_num.shape == (10, 2) and X_num.dtype == np.float32
    assert X_cat.shape == (10, 1) and X_cat.dtype == np.int64
    assert y.tolist() == [1] * 7 + [0] * 3  # exact counts, grouped in the mapping's order
    assert set(X_cat[:, 0]) <= {7, 12, 17}  # the codes given to fit, not compact ones
    np.testing.assert_array_equal(X_num[:, 1], np.rint(X_num[:, 1]))  # integer column rounded
    (e_num, e_cat), e_y = trained.sample({0: 0}, random_state=0)
    assert e_num.shape == (0, 2) and e_cat.shape == (0, 1) and e_y.shape == (0,)


def test_sample_is_batched_with_exact_counts(toy):
    X_num, X_cat, y = toy
    model = TabDDPM(steps=2, sample_batch_size=64, **{**SMALL, "num_timesteps": 5}).fit(X_num, X_cat, y)
    _, labels = model.sample({0: 100, 1: 45}, random_state=0)
    assert (labels == 0).sum() == 100 and (labels == 1).sum() == 45


def test_determinism(toy, trained):
    a, ya = trained.sample({0: 20, 1: 20}, random_state=5)
    b, yb = trained.sample({0: 20, 1: 20}, random_state=5)
    c, _ = trained.sample({0: 20, 1: 20}, random_state=6)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    X_num, X_cat, y = toy
    fit1 = TabDDPM(steps=5, **SMALL).fit(X_num, X_cat, y)
    fit2 = TabDDPM(steps=5, **SMALL).fit(X_num, X_cat, y)
    fit3 = TabDDPM(steps=5, random_state=1, **SMALL).fit(X_num, X_cat, y)
    pd.testing.assert_frame_equal(fit1.loss_history_, fit2.loss_history_)
    assert not fit1.loss_history_.equals(fit3.loss_history_)


def test_save_load_round_trip(trained, tmp_path):
    path = tmp_path / "tabddpm.pt"
    trained.save(path)
    loaded = TabDDPM.load(path)
    assert loaded.get_params() == trained.get_params()
    (a_num, a_cat), a_y = trained.sample({0: 30, 1: 20}, random_state=3)
    (b_num, b_cat), b_y = loaded.sample({0: 30, 1: 20}, random_state=3)
    np.testing.assert_array_equal(a_num, b_num)
    np.testing.assert_array_equal(a_cat, b_cat)
    np.testing.assert_array_equal(a_y, b_y)
    pd.testing.assert_frame_equal(loaded.loss_history_, trained.loss_history_)
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a TabDDPM file"):
        TabDDPM.load(tmp_path / "other.pt")


def test_dataframe_in_dataframe_out(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "duration": rng.exponential(5.0, n),
            "count": rng.integers(0, 50, n),
            "protocol": rng.choice(["tcp", "udp", "icmp"], n),
            "flag": pd.Categorical(rng.choice(["SF", "S0"], n), categories=["REJ", "S0", "SF"]),
            "logged_in": rng.random(n) > 0.5,
        }
    )
    labels = rng.choice(["normal", "attack"], n)
    model = TabDDPM(steps=10, **{**SMALL, "num_timesteps": 10}).fit(frame, y=labels)
    assert model.n_numeric_ == 2 and model.category_sizes_ == (3, 2, 2)
    out, y = model.sample({"attack": 4, "normal": 6}, random_state=0)
    assert list(out.columns) == list(frame.columns) and len(out) == 10
    assert (out.dtypes == frame.dtypes).all()
    assert list(out["flag"].cat.categories) == ["REJ", "S0", "SF"]
    assert set(out["protocol"]) <= {"tcp", "udp", "icmp"} and y.tolist() == ["attack"] * 4 + ["normal"] * 6
    model.save(tmp_path / "frame.pt")
    again, _ = TabDDPM.load(tmp_path / "frame.pt").sample({"attack": 4, "normal": 6}, random_state=0)
    pd.testing.assert_frame_equal(out, again)


def test_only_numeric_or_only_categorical_columns(toy):
    X_num, X_cat, y = toy
    quick = {**SMALL, "num_timesteps": 5}
    (n_only, c_none), _ = TabDDPM(steps=2, **quick).fit(X_num, None, y).sample({0: 3}, random_state=0)
    assert n_only.shape == (3, 2) and c_none.shape == (3, 0)
    (n_none, c_only), _ = TabDDPM(steps=2, **quick).fit(None, X_cat, y).sample({1: 3}, random_state=0)
    assert n_none.shape == (3, 0) and c_only.shape == (3, 1)


def test_bad_input_raises_clear_errors(toy, trained):
    X_num, X_cat, y = toy
    quick = TabDDPM(steps=1, **SMALL)
    with pytest.raises(ValueError, match="2-D"):
        quick.fit(X_num[:, 0], X_cat, y)
    with pytest.raises(ValueError, match="NaN"):
        quick.fit(np.where(np.arange(len(y))[:, None] == 3, np.nan, X_num), X_cat, y)
    with pytest.raises(TypeError, match="integer category codes"):
        quick.fit(X_num, X_cat.astype(float), y)
    with pytest.raises(ValueError, match="rows"):
        quick.fit(X_num[:-1], X_cat, y)
    with pytest.raises(TypeError, match="needs the labels"):
        quick.fit(X_num, X_cat)
    with pytest.raises(ValueError, match="integer_columns"):
        quick.fit(X_num, X_cat, y, integer_columns=[2])
    with pytest.raises(ValueError, match="steps"):
        TabDDPM(steps=0).fit(X_num, X_cat, y)
    with pytest.raises(TypeError, match="clip_denoised"):
        TabDDPM(steps=1, clip_denoised="yes").fit(X_num, X_cat, y)
    with pytest.raises(ValueError, match="no feature columns"):
        quick.fit(None, None, y)
    with pytest.raises(TypeError, match="dtype"):
        quick.fit(pd.DataFrame({"when": pd.date_range("2020", periods=4)}), np.arange(4))
    with pytest.raises(ValueError, match="missing values"):
        quick.fit(pd.DataFrame({"a": [1.0, 2.0, 3.0], "s": ["x", None, "y"]}), np.arange(3))
    with pytest.raises(ValueError, match="NaN"):
        quick.fit(pd.DataFrame({"a": [1.0, np.nan, 3.0], "s": ["x", "z", "y"]}), y=np.arange(3))
    with pytest.raises(TypeError, match="needs the labels"):
        quick.fit(pd.DataFrame({"a": [1.0, 2.0, 3.0]}))
    with pytest.raises(NotFittedError):
        TabDDPM().sample({0: 1})
    with pytest.raises(ValueError, match="not seen in fit"):
        trained.sample({5: 1})
    with pytest.raises(ValueError, match="negative"):
        trained.sample({0: -1})
    with pytest.raises(TypeError, match="random_state"):
        trained.sample({0: 1}, random_state=1.5)


# --- regression: heavy ties at the minimum, T = 1000, a short training -------------------------


def _flow_counts(n: int = 1000, d: int = 40, seed: int = 0):
    """Flow-count-like columns: 30-80 % zeros (the minimum) by column and class, else a
    heavy-tailed count. (n, d) float64 and (n,) labels, 30 % of class 1."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    p_zero = np.linspace(0.3, 0.8, d)
    zero = rng.random((n, d)) < np.where(y[:, None] == 1, p_zero[::-1], p_zero)
    counts = np.rint(rng.lognormal(mean=3.0 + y[:, None], sigma=1.5, size=(n, d))) + 1.0
    return np.where(zero, 0.0, counts), y


def _share_at_bounds(X, low, high) -> float:
    return float(((X <= low) | (X >= high)).mean())


@pytest.fixture(scope="module")
def heavy_ties():
    X, y = _flow_counts()
    # 40 columns through 64-wide ReLU layers, 300 steps: ε ≈ x_t at the top steps is learnt to
    # ~0.5 RMS only, the regime where the official sampler blows up (as on CIC-IDS-2017)
    params = dict(num_timesteps=1000, d_layers=(64, 64), dim_t=64, steps=300, batch_size=256, verbose=False)
    model = TabDDPM(**params, sample_batch_size=len(y)).fit(X, None, y, integer_columns=range(X.shape[1]))
    return X, y, model


def test_heavy_ties_keep_the_reverse_process_inside_the_support(heavy_ties):
    X, y, model = heavy_ties
    low, high = (torch.as_tensor(b) for b in model.normaliser_.bounds)
    z, _ = model.diffusion_.sample(model.net_, torch.as_tensor(y), torch.Generator().manual_seed(0), (low, high))
    assert torch.isfinite(z).all() and torch.all(z >= low) and torch.all(z <= high)
    z_official, _ = model.diffusion_.sample(model.net_, torch.as_tensor(y), torch.Generator().manual_seed(0))
    assert z_official.abs().max() > 50  # without clipping it leaves the support by far


def test_heavy_ties_share_at_the_min_and_max_stays_near_the_real_share(heavy_ties):
    X, y, model = heavy_ties
    low, high = X.min(axis=0), X.max(axis=0)
    real = _share_at_bounds(X, low, high)  # ≈ 0.55: the zeros
    counts = {0: int((y == 0).sum()), 1: int((y == 1).sum())}
    (S, _), _ = model.sample(counts, random_state=0)
    assert np.all(np.isfinite(S))
    assert abs(_share_at_bounds(S, low, high) - real) < 0.25, (_share_at_bounds(S, low, high), real)
    # the same network with the official sampler (no clipping): nearly every cell at a bound
    official = copy.copy(model).set_params(clip_denoised=False)  # shares the fitted network
    (S_official, _), _ = official.sample(counts, random_state=0)
    assert _share_at_bounds(S_official, low, high) > 0.9

