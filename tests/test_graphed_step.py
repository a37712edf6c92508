"""GraphedStep: the eager path on any device; on CUDA, graph replays match eager steps and the
generators trained through graphs are deterministic and as good as the eager ones."""

import numpy as np
import pytest
import torch
from torch import nn

from idsynth.models.edm import LatentEDM
from idsynth.models.graphed_step import WARMUP_STEPS, GraphedStep, set_learning_rate, step_schedule
from idsynth.models.tab_vae import TabVAE
from idsynth.models.tabddpm import TabDDPM

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")


def regression_problem(device, n=1000, d=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=gen)
    y = X @ torch.randn(d, 1, generator=gen) + 0.1 * torch.randn(n, 1, generator=gen)
    return X.to(device), y.to(device)


def train_regression(device, graphed: bool, steps=48, batch=128, lr=0.05):
    """A deterministic step (no random numbers); batches of two shapes (full and tail)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1)).to(device)
    X, y = regression_problem(device)
    fused = torch.device(device).type == "cuda"
    optimizer = torch.optim.Adam(net.parameters(), lr=torch.tensor(lr, device=device), fused=fused or None,
                                 capturable=fused, foreach=False if not fused else None)

    def step(xb, yb):
        loss = (net(xb) - yb).square().mean()
        loss.backward()
        optimizer.step()
        return (loss.detach(),)

    runner = GraphedStep(step, optimizer, device, enabled=graphed)
    losses = []
    for i in range(steps):
        start = (i % 8) * batch
        stop = min(start + batch, 1000)  # 1000 = 7 * 128 + 104: a tail batch every 8th step (6 in all)
        set_learning_rate(optimizer, lr * (1 - i / steps))
        (loss,) = runner(X[start:stop], y[start:stop])
        losses.append(float(loss))
    return net, losses, runner


def test_eager_path_clears_gradients_and_uses_the_callers_generator():
    net, losses, runner = train_regression("cpu", graphed=True)  # CPU: always eager
    assert not runner.graphed and runner.n_graphs == 0
    assert losses[-1] < 0.5 * losses[0]
    gen = torch.Generator().manual_seed(3)
    assert GraphedStep(lambda: (), torch.optim.SGD(net.parameters(), lr=0.1), "cpu", generator=gen).generator is gen


def test_set_learning_rate_fills_tensors_in_place_and_sets_floats():
    p = nn.Parameter(torch.zeros(2))
    lr = torch.tensor(0.1)
    tensor_opt = torch.optim.Adam([p], lr=lr, foreach=False)
    set_learning_rate(tensor_opt, 0.25)
    assert tensor_opt.param_groups[0]["lr"] is lr and float(lr) == 0.25
    float_opt = torch.optim.SGD([p], lr=0.1)
    set_learning_rate(float_opt, 0.5)
    assert float_opt.param_groups[0]["lr"] == 0.5


def test_step_schedule_keeps_the_learning_rate_tensor():
    p = nn.Parameter(torch.zeros(2))
    lr = torch.tensor(1.0)
    optimizer = torch.optim.Adam([p], lr=lr, foreach=False)

    class ReplacingScheduler:  # what older PyTorch schedulers do: write a float
        def __init__(self, optimizer):
            self.optimizer = optimizer

        def step(self, factor):
            for group in self.optimizer.param_groups:
                group["lr"] = float(group["lr"]) * factor

    step_schedule(ReplacingScheduler(optimizer), 0.5)
    assert optimizer.param_groups[0]["lr"] is lr and float(lr) == 0.5
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
    for _ in range(3):
        step_schedule(plateau, 1.0)
    assert optimizer.param_groups[0]["lr"] is lr and float(lr) < 0.5


@needs_cuda
def test_graph_replays_give_the_eager_result():
    eager_net, eager_losses, eager_runner = train_regression("cuda", graphed=False)
    graph_net, graph_losses, runner = train_regression("cuda", graphed=True)
    assert eager_runner.n_graphs == 0 and runner.n_graphs == 2  # the full and the tail batch shape
    np.testing.assert_allclose(graph_losses, eager_losses, rtol=1e-4, atol=1e-6)
    for a, b in zip(eager_net.parameters(), graph_net.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert len(graph_losses) > WARMUP_STEPS + 1


def mixed_rows(n=1100, seed=0):
    rng = np.random.default_rng(seed)
    X_cat = np.stack([rng.integers(0, 3, n), rng.integers(0, 4, n)], axis=1).astype(np.int64)
    X_num = np.stack([X_cat[:, 0] - 1 + 0.1 * rng.standard_normal(n), rng.standard_normal(n)], axis=1)
    return X_num.astype(np.float32), X_cat, (X_cat[:, 0] > 0).astype(np.int64)


def fit_tab_vae(graphed):
    X_num, X_cat, _ = mixed_rows()
    model = TabVAE(2, [3, 4], d_token=4, n_layers=1, d_ff=16, epochs=15, batch_size=256, learning_rate=3e-3,
                   device="cuda", random_state=1, cuda_graph=graphed, verbose=False)
    return model.fit(X_num, X_cat), np.array([record["mse"] + record["ce"] for record in model.loss_history_])


def fit_tabddpm(graphed):
    X_num, X_cat, y = mixed_rows()
    model = TabDDPM(num_timesteps=50, d_layers=(64, 64), dim_t=32, steps=300, batch_size=256, device="cuda",
                    random_state=1, cuda_graph=graphed, verbose=False)
    model.fit(X_num, X_cat, y)
    return model, model.loss_history_["loss"].to_numpy()


def fit_edm(graphed):
    X_num, _, y = mixed_rows()
    model = LatentEDM(hidden=64, n_layers=1, epochs=40, batch_size=256, device="cuda", random_state=1,
                      cuda_graph=graphed, verbose=False)
    model.fit(X_num, y)
    return model, np.asarray(model.loss_history_)


def weights(model):
    net = model.denoiser_ if isinstance(model, LatentEDM) else model.net_
    return {k: v.detach().cpu() for k, v in net.state_dict().items()}


@needs_cuda
@pytest.mark.parametrize("fit", [fit_tab_vae, fit_tabddpm, fit_edm], ids=["TabVAE", "TabDDPM", "EDM"])
def test_generators_trained_through_graphs_are_deterministic_and_learn_as_eagerly(fit):
    eager, eager_loss = fit(False)
    graph, graph_loss = fit(True)
    again, again_loss = fit(True)
    assert eager.cuda_graphs_ == 0 and graph.cuda_graphs_ >= 1
    np.testing.assert_array_equal(graph_loss, again_loss)
    for key, value in weights(graph).items():
        assert torch.equal(value, weights(again)[key]), key
    # Different noise streams, same distribution: the losses end at the same level.
    tail = max(1, len(eager_loss) // 5)
    assert graph_loss[-tail:].mean() == pytest.approx(eager_loss[-tail:].mean(), rel=0.25)
    assert graph_loss[-tail:].mean() < graph_loss[:tail].mean()
