"""VGM (Options A, B, C): shapes, losses, label conditioning, persistence, determinism, speed paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from idsynth.models.vgm import VGM
from idsynth.models.vgm_losses import VGMLoss, bernoulli_nll, kl_to_standard_normal, root_mean_squared_error
from idsynth.models.vgm_nets import OutputActivation
from idsynth.models.vgm_training import draw_epoch, make_optimizer

# Small networks keep the file fast; the paper's sizes are checked through describe().
TINY = dict(latent_dim=4, encoder_units=(32,), decoder_units=(32,), label_repeat=4, label_units=16,
            epochs=2, batch_size=64, verbose=False)  # fmt: skip
CLASS_BLOCK = slice(32, 37)  # toy data: the class decides which of these one-hot columns is hot


pytestmark = pytest.mark.usefixtures("one_thread")


def toy_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 116) in [0, 1]: 32 continuous columns, a 5-column one-hot block fixed by the class,
    and a second, 10-column one-hot block drawn at random."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 5, n)
    X = np.zeros((n, 116), dtype=np.float32)
    X[:, :32] = np.clip(rng.normal(0.15 + 0.15 * y[:, None], 0.05, (n, 32)), 0, 1)
    X[np.arange(n), 32 + y] = 1.0
    X[np.arange(n), 40 + rng.integers(0, 10, n)] = 1.0
    return X, y


@pytest.fixture(scope="module")
def toy():
    return toy_data(300)


@pytest.fixture(scope="module")
def fitted(toy):
    X, y = toy
    return {option: VGM(option=option, random_state=3, **TINY).fit(X, y) for option in "ABC"}


# ---------------------------------------------------------------- shapes and ranges
@pytest.mark.parametrize("option", ["A", "B", "C"])
def test_sample_shapes_ranges_and_class_order(fitted, option):
    X_syn, y_syn = fitted[option].sample({3: 7, 0: 5, 4: 0}, random_state=1)
    assert X_syn.shape == (12, 116) and X_syn.dtype == np.float32
    assert y_syn.dtype == np.int64 and y_syn.tolist() == [3] * 7 + [0] * 5
    assert np.isfinite(X_syn).all()
    discrete = X_syn[:, 32:] if option == "B" else X_syn
    assert discrete.min() >= 0.0 and discrete.max() <= 1.0


@pytest.mark.parametrize("option", ["A", "B", "C"])
def test_loss_history_records_every_epoch_and_term(fitted, option):
    history = fitted[option].loss_history_
    assert history["epoch"].tolist() == [1, 2]
    terms = ["kl", "bernoulli_nll"] + (["rmse"] if option == "B" else [])
    assert [c for c in history.columns if c not in ("epoch", "loss", "seconds")] == terms
    np.testing.assert_allclose(history["loss"], history[terms].sum(axis=1), rtol=1e-5)


def test_reconstruct_pairs_rows_and_options_ab_ignore_x(fitted, toy):
    X, y = toy
    for option in "AB":
        model = fitted[option]
        np.testing.assert_array_equal(model.reconstruct(X, y, random_state=4), model.generate(y, random_state=4))
        np.testing.assert_array_equal(model.reconstruct(1 - X, y, random_state=4), model.generate(y, random_state=4))
    model_c = fitted["C"]
    out = model_c.reconstruct(X, y, random_state=4)
    assert out.shape == X.shape
    assert not np.allclose(out, model_c.reconstruct(X[::-1].copy(), y, random_state=4))


def test_label_encoder_runs_once_per_class_with_per_row_values():
    """A/B select q(z | L) per class with onehot @ params: equal to encoding every row."""
    net = VGM(option="A", **TINY)._initialise(0, torch.device("cpu"))[0]
    onehot = torch.nn.functional.one_hot(torch.tensor([4, 0, 0, 2, 1, 3, 4]), 5).float()
    for selected, per_row in zip(net.encode(None, onehot), net.encoder(onehot)):
        torch.testing.assert_close(selected, per_row, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- losses (known values)
def test_kl_is_zero_at_the_prior_and_matches_closed_form():
    mean, log_var = torch.zeros(3, 4), torch.zeros(3, 4)
    assert torch.equal(kl_to_standard_normal(mean, log_var), torch.zeros(3))
    mean = torch.tensor([[1.0, -2.0]])
    log_var = torch.log(torch.tensor([[4.0, 0.25]]))
    # 1/2 sum(s^2 + m^2 - 1 - log s^2) = 1/2 [(4 + 1 - 1 - ln 4) + (0.25 + 4 - 1 - ln 0.25)]
    expected = 0.5 * ((4 + 1 - 1 - np.log(4)) + (0.25 + 4 - 1 - np.log(0.25)))
    assert kl_to_standard_normal(mean, log_var).item() == pytest.approx(expected, rel=1e-6)


def test_bernoulli_nll_and_rmse_match_their_definitions():
    logits = torch.tensor([[0.0, 2.0, -1.0]])
    target = torch.tensor([[1.0, 0.0, 0.3]])
    p = torch.sigmoid(logits)
    expected = -(target * p.log() + (1 - target) * (1 - p).log()).sum()
    assert bernoulli_nll(logits, target).item() == pytest.approx(expected.item(), rel=1e-6)
    pred, true = torch.tensor([[0.0, 3.0]]), torch.tensor([[1.0, 1.0]])
    assert root_mean_squared_error(pred, true).item() == pytest.approx(np.sqrt((1 + 4) / 2), rel=1e-6)


def test_option_b_loss_splits_columns_into_rmse_and_bernoulli():
    x = torch.rand(6, 10)
    raw = torch.randn(6, 10)
    mean, log_var = torch.randn(6, 3), torch.randn(6, 3)
    terms = VGMLoss(n_linear=4).terms(raw, x, mean, log_var)
    assert set(terms) == {"kl", "bernoulli_nll", "rmse"}
    assert terms["rmse"].item() == pytest.approx(root_mean_squared_error(raw[:, :4], x[:, :4]).mean().item())
    assert terms["bernoulli_nll"].item() == pytest.approx(bernoulli_nll(raw[:, 4:], x[:, 4:]).mean().item())
    assert set(VGMLoss(n_linear=0).terms(raw, x, mean, log_var)) == {"kl", "bernoulli_nll"}


def test_option_b_continuous_outputs_are_linear(fitted):
    raw = torch.tensor([[-0.5, 2.0, 0.0, 3.0]])
    out = OutputActivation(n_linear=2)(raw)
    assert out[0, :2].tolist() == [-0.5, 2.0]  # linear block passes through, outside [0, 1]
    assert out[0, 2:].tolist() == pytest.approx(torch.sigmoid(raw[0, 2:]).tolist())
    model = fitted["B"]
    with torch.no_grad():
        model.net_.decoder.out.bias[:32] += 5.0  # push the linear block above 1
        try:
            X_raw = model.generate(np.zeros(50, dtype=np.int64), random_state=0)
            X_clip = model.generate(np.zeros(50, dtype=np.int64), random_state=0, clip=True)
        finally:
            model.net_.decoder.out.bias[:32] -= 5.0
    assert X_raw[:, :32].max() > 1.0 and X_raw[:, 32:].max() <= 1.0
    assert X_clip.max() <= 1.0 and np.array_equal(X_clip[:, 32:], X_raw[:, 32:])


# ---------------------------------------------------------------- Option C uses the labels
def test_option_c_decoder_generates_the_requested_class():
    X, y = toy_data(1000, seed=1)
    model = VGM(option="C", random_state=0, **{**TINY, "epochs": 30, "batch_size": 50}).fit(X, y)
    for label in range(5):
        X_syn = model.generate(np.full(200, label), random_state=label)
        hot = X_syn[:, CLASS_BLOCK].argmax(axis=1)
        assert (hot == label).mean() > 0.95, f"label {label}: hot column shares {np.bincount(hot, minlength=5) / 200}"
    # Same noise z, different label: the label alone moves the class column.
    a, b = model.generate(np.zeros(100, dtype=np.int64), random_state=9), model.generate(np.full(100, 3), random_state=9)
    assert a[:, 32].mean() > 0.8 > 0.2 > b[:, 32].mean() and b[:, 35].mean() > 0.8


# ---------------------------------------------------------------- real data
def test_loss_decreases_on_real_subset(data_dir):
    from idsynth.data.nslkdd import load_vgm_arrays

    data = load_vgm_arrays(data_dir, train_rows=2000, test_rows=200)
    model = VGM(option="C", epochs=3, random_state=0, verbose=False).fit(data.X_train, data.y_train)
    loss = model.loss_history_["loss"].to_numpy()
    assert np.all(np.diff(loss) < 0), loss
    assert loss[-1] < 0.5 * loss[0]


# ---------------------------------------------------------------- persistence and determinism
@pytest.mark.parametrize("option", ["B", "C"])
def test_save_load_gives_identical_samples(fitted, toy, tmp_path, option):
    model = fitted[option]
    path = tmp_path / "vgm.pt"
    model.save(path)
    loaded = VGM.load(path, device="cpu")
    assert loaded.get_params() == {**model.get_params(), "device": "cpu"}
    np.testing.assert_array_equal(loaded.sample({1: 40, 2: 3}, random_state=5)[0], model.sample({1: 40, 2: 3}, random_state=5)[0])
    X, y = toy
    np.testing.assert_array_equal(loaded.reconstruct(X, y, random_state=2), model.reconstruct(X, y, random_state=2))
    assert loaded.loss_history_.equals(model.loss_history_)
    assert loaded.class_counts_ == model.class_counts_ and loaded.seed_ == model.seed_


def test_same_seed_same_weights_and_samples(toy):
    X, y = toy
    a, b, c = (VGM(option="C", random_state=s, **TINY).fit(X, y) for s in (7, 7, 8))
    for key, value in a.net_.state_dict().items():
        assert torch.equal(value, b.net_.state_dict()[key]), key
    assert a.loss_history_[["loss", "kl"]].equals(b.loss_history_[["loss", "kl"]])
    np.testing.assert_array_equal(a.sample({0: 20}, random_state=1)[0], b.sample({0: 20}, random_state=1)[0])
    assert not np.array_equal(a.sample({0: 20}, random_state=1)[0], a.sample({0: 20}, random_state=2)[0])
    assert not torch.equal(a.net_.decoder.out.weight, c.net_.decoder.out.weight)


# ---------------------------------------------------------------- fast path == textbook loop
@pytest.mark.parametrize("option", ["A", "B", "C"])
def test_device_batched_loop_equals_plain_per_batch_loop(toy, option):
    """fit()'s loop (one gather per epoch, batch slices) == indexing each batch from the data."""
    X, y = toy  # 300 rows, batch 64: four full batches and a partial one of 44 rows
    model = VGM(option=option, random_state=11, **TINY)
    net, generator = model._initialise(11, torch.device("cpu"))
    loss_fn = VGMLoss(n_linear=net.activation.n_linear)
    optimizer = make_optimizer(net, model.learning_rate, torch.device("cpu"))
    X_t, onehot = torch.as_tensor(X), torch.nn.functional.one_hot(torch.as_tensor(y), 5).float()
    epoch_loss = []
    for _ in range(model.epochs):
        order, eps = draw_epoch(generator, len(X), model.latent_dim, torch.device("cpu"))
        total = 0.0
        for start in range(0, len(X), model.batch_size):
            rows = order[start : start + model.batch_size]
            optimizer.zero_grad()
            loss = loss_fn.total(loss_fn(net, X_t[rows], onehot[rows], eps[start : start + model.batch_size]))
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
        epoch_loss.append(total / len(X))
    model.fit(X, y)
    np.testing.assert_allclose(model.loss_history_["loss"], epoch_loss, rtol=1e-6)
    for key, value in net.state_dict().items():
        torch.testing.assert_close(model.net_.state_dict()[key], value, rtol=1e-6, atol=1e-7)


def test_compiled_objective_trains_the_same_model_as_the_eager_one():
    X, y = toy_data(430, seed=5)  # 2 full batches of 200 (compiled) + a partial one of 30 (eager)
    kwargs = dict(option="B", epochs=2, batch_size=200, device="cpu", random_state=6, verbose=False)
    eager = VGM(**kwargs).fit(X, y)
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled = VGM(compile_step=True, **kwargs).fit(X, y)
    other_seed = VGM(compile_step=True, **{**kwargs, "random_state": 7}).fit(X, y)  # a new net, same shapes
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1  # one graph (no break), compiled once
    eager_other = VGM(**{**kwargs, "random_state": 7}).fit(X, y)  # the reused graph reads the new net's weights
    np.testing.assert_allclose(other_seed.loss_history_["loss"], eager_other.loss_history_["loss"], rtol=1e-4)
    columns = ["loss", "kl", "bernoulli_nll", "rmse"]
    np.testing.assert_allclose(compiled.loss_history_[columns], eager.loss_history_[columns], rtol=1e-4)
    for key, value in eager.net_.state_dict().items():
        torch.testing.assert_close(compiled.net_.state_dict()[key], value, rtol=1e-3, atol=1e-5)
    assert compiled.get_params()["compile_step"] is True


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graph path needs a CUDA device")
@pytest.mark.parametrize("option", ["A", "B", "C"])
def test_cuda_graph_path_matches_eager_path(option):
    X, y = toy_data(1030, seed=2)  # 5 full batches of 200 + a partial one of 30 (run eagerly)
    kwargs = dict(option=option, epochs=3, batch_size=200, device="cuda", random_state=4, verbose=False)
    eager = VGM(cuda_graph=False, **kwargs).fit(X, y)
    graph = VGM(cuda_graph=True, **kwargs).fit(X, y)
    again = VGM(cuda_graph=True, **kwargs).fit(X, y)
    np.testing.assert_allclose(graph.loss_history_["loss"], eager.loss_history_["loss"], rtol=1e-4)
    for key, value in eager.net_.state_dict().items():
        torch.testing.assert_close(graph.net_.state_dict()[key], value, rtol=1e-3, atol=1e-4)
        assert torch.equal(graph.net_.state_dict()[key], again.net_.state_dict()[key]), key
    np.testing.assert_array_equal(graph.sample({0: 50}, random_state=1)[0], again.sample({0: 50}, random_state=1)[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graph path needs a CUDA device")
@pytest.mark.parametrize("option", ["A", "C"])
def test_compiled_step_in_a_cuda_graph_matches_eager_path(option):
    X, y = toy_data(1030, seed=2)
    kwargs = dict(option=option, epochs=3, batch_size=200, device="cuda", random_state=4, verbose=False)
    eager = VGM(cuda_graph=False, **kwargs).fit(X, y)
    compiled = VGM(cuda_graph=True, compile_step=True, **kwargs).fit(X, y)
    again = VGM(cuda_graph=True, compile_step=True, **kwargs).fit(X, y)
    np.testing.assert_allclose(compiled.loss_history_["loss"], eager.loss_history_["loss"], rtol=1e-4)
    for key, value in eager.net_.state_dict().items():
        torch.testing.assert_close(compiled.net_.state_dict()[key], value, rtol=1e-3, atol=1e-4)
        assert torch.equal(compiled.net_.state_dict()[key], again.net_.state_dict()[key]), key


# ---------------------------------------------------------------- Table 7 from the modules
def test_describe_reads_the_paper_architectures_from_the_modules():
    rows = {o: VGM(option=o).describe().iloc[0] for o in "ABC"}
    assert rows["A"]["nodes_per_layer"] == rows["B"]["nodes_per_layer"] == "[500,500,500,25,500,500]"
    assert rows["C"]["nodes_per_layer"] == "[500,500,500,25,(300+200),500,500]"
    assert rows["A"]["input"] == "labels: 5 (one-hot)" and rows["C"]["input"].startswith("X: 116")
    assert rows["A"]["last_decoder_activation"] == "Sigmoid (all 116 features)"
    assert rows["B"]["last_decoder_activation"] == "Sigmoid (84 discrete), Linear (32 continuous)"
    for row in rows.values():
        assert (row["latent_dim"], row["batch_size"], row["epochs"]) == (25, 200, 80)
        assert (row["last_encoder_activation"], row["hidden_activation"], row["dropout"]) == ("Linear", "ReLU", "No")
    changed = VGM(option="C", encoder_units=(64, 32), label_repeat=2, latent_dim=8).describe().iloc[0]
    assert changed["nodes_per_layer"] == "[64,32,8,(300+10),500,500]"


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "X_bad, y_bad, error, match",
    [
        (np.zeros((10, 115), np.float32), np.zeros(10, int), ValueError, r"shape \(n, 116\)"),
        (np.full((10, 116), 1.5, np.float32), np.zeros(10, int), ValueError, r"\[0, 1\]"),
        (np.full((10, 116), np.nan, np.float32), np.zeros(10, int), ValueError, "NaN"),
        (np.zeros((10, 116), object), np.zeros(10, int), TypeError, "numeric"),
        (np.zeros((10, 116), np.float32), np.zeros(10, float), TypeError, "integer class codes"),
        (np.zeros((10, 116), np.float32), np.full(10, 5), ValueError, r"0\.\.4"),
        (np.zeros((10, 116), np.float32), np.zeros(9, int), ValueError, "9 labels but X has 10 rows"),
        (np.zeros((10, 116), np.float32), np.zeros((10, 1), int), ValueError, "one-dimensional"),
    ],
)
def test_fit_rejects_bad_data(X_bad, y_bad, error, match):
    with pytest.raises(error, match=match):
        VGM(**TINY).fit(X_bad, y_bad)


@pytest.mark.parametrize(
    "params, match",
    [({"option": "D"}, "option"), ({"latent_dim": 0}, "latent_dim"), ({"encoder_units": (32, -1)}, "encoder_units"),
     ({"option": "B", "continuous_features": 0}, "continuous_features"), ({"learning_rate": -1.0}, "learning_rate"),
     ({"random_state": -3}, "random_state")],
)  # fmt: skip
def test_fit_rejects_bad_hyper_parameters(toy, params, match):
    with pytest.raises(ValueError, match=match):
        VGM(**{**TINY, **params}).fit(*toy)


def test_sampling_errors(fitted, tmp_path):
    with pytest.raises(RuntimeError, match="not fitted"):
        VGM().sample({0: 1})
    with pytest.raises(ValueError, match="not seen in fit"):
        fitted["C"].sample({7: 1})
    with pytest.raises(ValueError, match="negative"):
        fitted["C"].sample({0: -1})
    not_vgm = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(1)}, not_vgm)
    with pytest.raises(ValueError, match="not a VGM file"):
        VGM.load(not_vgm)
