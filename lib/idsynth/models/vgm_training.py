"""Mini-batch Adam training of a VGM network on a training set held on the device.

Per epoch, one seeded generator on the training device draws, in this order,

1. ``order = randperm(n)``: the shuffle, and
2. ``eps ~ N(0, I)`` of shape (n, latent_dim): the reparameterisation noise, row ``i`` of
   ``eps`` serving the ``i``-th row of the shuffled epoch.

Batch ``b`` is rows ``order[b*B : (b+1)*B]`` with noise ``eps[b*B : (b+1)*B]``; the last
batch may be smaller (it is kept, never dropped). Two loops implement exactly this schedule:

* :class:`EagerTrainer`: one gather of the shuffled epoch on the device, then contiguous
  batch slices (no DataLoader, no host round trip). Used on CPU and, on request, on CUDA.
* :class:`GraphTrainer` (CUDA only): the training step on a full batch (forward, backward,
  fused Adam update, loss bookkeeping) is captured once in a CUDA graph that reads its batch
  from static per-epoch buffers through a device-side batch counter; each full batch is one
  ``replay()``. The last, partial batch runs through the eager step. Results match the eager
  loop up to floating-point reordering (they run the same kernels on the same numbers).

With ``compile_step=True`` the objective (forward pass, loss terms and their bookkeeping) is
compiled by TorchInductor (``torch.compile``, static shapes), which fuses the ~100
small kernels of a batch-200 step into a few; its backward comes compiled with it. The first
call compiles (seconds to a minute, cached on disk by PyTorch for later processes); the result
equals the eager objective up to floating-point reordering. The partial last batch always runs
the eager objective (no second compilation for its shape).
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import torch
from torch import nn
from tqdm import tqdm

from .vgm_losses import VGMLoss

#: Eager steps run on a side stream before capture (lazy CUDA / cuBLAS / optimizer-state
#: initialisation must not happen inside the capture); their effect is undone afterwards.
GRAPH_WARMUP_STEPS = 3


def make_optimizer(net: nn.Module, learning_rate: float, device: torch.device) -> torch.optim.Adam:
    """Adam (PyTorch defaults besides ``lr``); fused and graph-capturable on CUDA."""
    if torch.device(device).type == "cuda":
        return torch.optim.Adam(net.parameters(), lr=learning_rate, fused=True, capturable=True)
    return torch.optim.Adam(net.parameters(), lr=learning_rate)


def draw_epoch(
    generator: torch.Generator, n_rows: int, latent_dim: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """The epoch's shuffle ``order`` (n,) int64 and noise ``eps`` (n, latent_dim) float32."""
    order = torch.randperm(n_rows, generator=generator, device=device)
    eps = torch.randn(n_rows, latent_dim, generator=generator, device=device)
    return order, eps


#: ``objective(x, onehot, eps) -> (loss (0-d), [loss, *terms] (1 + n_terms,) detached)``.
Objective = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def make_objective(net: nn.Module, loss_fn: VGMLoss, compile_step: bool = False) -> Objective:
    """The training objective of ``net`` under ``loss_fn`` on one batch: the loss to minimise and
    the row ``[loss, *terms]`` (batch means) for the epoch's bookkeeping. ``compile_step``:
    compiled with ``torch.compile(dynamic=False)`` (see the module notes)."""

    def objective(x: torch.Tensor, onehot: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        terms = loss_fn(net, x, onehot, eps)
        loss = loss_fn.total(terms)
        return loss, torch.stack([loss, *terms.values()]).detach()

    # Not fullgraph: past Dynamo's recompile limit (many differently shaped nets in one process)
    # the objective then runs eagerly (same result) instead of raising.
    return torch.compile(objective, dynamic=False) if compile_step else objective


def train_step(
    objective: Objective,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    onehot: torch.Tensor,
    eps: torch.Tensor,
    sums: torch.Tensor,
) -> None:
    """One Adam update on a batch; adds ``batch_size * [loss, *terms]`` to ``sums`` (on device).

    The caller clears gradients first (the captured graph instead overwrites them).
    """
    loss, row = objective(x, onehot, eps)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        sums.add_(row * x.shape[0])


class EagerTrainer:
    """The epoch loop on the device: gather the shuffled epoch once, step over batch slices.

    X: (n, d) float32 and onehot: (n, n_classes) float32, both already on the device.
    ``compile_step``: full batches use the compiled objective, a partial last one the eager one.
    """

    def __init__(self, net, loss_fn: VGMLoss, optimizer, X: torch.Tensor, onehot: torch.Tensor, batch_size: int,
                 compile_step: bool = False):
        self.net, self.loss_fn, self.optimizer = net, loss_fn, optimizer
        self.X, self.onehot, self.batch_size = X, onehot, int(batch_size)
        self.eager_objective = make_objective(net, loss_fn)
        self.full_objective = make_objective(net, loss_fn, compile_step) if compile_step else self.eager_objective

    def _step(self, x, onehot, eps, sums) -> None:
        objective = self.full_objective if x.shape[0] == self.batch_size else self.eager_objective
        train_step(objective, self.optimizer, x, onehot, eps, sums)

    def run_epoch(self, order: torch.Tensor, eps: torch.Tensor, sums: torch.Tensor) -> None:
        x_epoch = self.X.index_select(0, order)
        onehot_epoch = self.onehot.index_select(0, order)
        for start in range(0, order.shape[0], self.batch_size):
            batch = slice(start, start + self.batch_size)
            self.optimizer.zero_grad(set_to_none=True)
            self._step(x_epoch[batch], onehot_epoch[batch], eps[batch], sums)


class GraphTrainer(EagerTrainer):
    """The same epoch with every full batch replayed from one captured CUDA graph.

    Static buffers hold the epoch's full batches, shaped (n_full, B, ·); inside the graph
    the batch is picked with ``index_select`` on a device counter that the graph increments,
    so a replay needs no host work. The partial last batch (n mod B rows) is run eagerly
    on the same parameters and optimizer state.
    """

    def __init__(self, net, loss_fn: VGMLoss, optimizer, X: torch.Tensor, onehot: torch.Tensor, batch_size: int,
                 compile_step: bool = False):
        super().__init__(net, loss_fn, optimizer, X, onehot, batch_size, compile_step)
        if X.device.type != "cuda":
            raise ValueError(f"GraphTrainer needs CUDA tensors, got device {X.device}")
        self.n_full = X.shape[0] // self.batch_size
        self.graph: torch.cuda.CUDAGraph | None = None
        if self.n_full:
            self._capture()

    def _allocate(self) -> None:
        device, B, n_full = self.X.device, self.batch_size, self.n_full
        latent_dim = self.net.encoder.mean.out_features
        self.x_buf = torch.zeros(n_full, B, self.X.shape[1], device=device)
        self.onehot_buf = torch.zeros(n_full, B, self.onehot.shape[1], device=device)
        self.eps_buf = torch.zeros(n_full, B, latent_dim, device=device)
        self.batch_no = torch.zeros(1, dtype=torch.long, device=device)
        self.graph_sums = torch.zeros(1 + len(self.loss_fn.term_names), device=device)

    def _captured_step(self) -> None:
        x = self.x_buf.index_select(0, self.batch_no)[0]
        onehot = self.onehot_buf.index_select(0, self.batch_no)[0]
        eps = self.eps_buf.index_select(0, self.batch_no)[0]
        self._step(x, onehot, eps, self.graph_sums)
        self.batch_no.add_(1)

    def _capture(self) -> None:
        self._allocate()
        params = [p.detach().clone() for p in self.net.parameters()]
        stream = torch.cuda.Stream(device=self.X.device)
        stream.wait_stream(torch.cuda.current_stream(self.X.device))
        with torch.cuda.stream(stream):
            for _ in range(GRAPH_WARMUP_STEPS):
                self.batch_no.zero_()
                self.optimizer.zero_grad(set_to_none=True)
                self._captured_step()
        torch.cuda.current_stream(self.X.device).wait_stream(stream)
        self._undo_warmup(params)
        self.optimizer.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, stream=stream):
            self._captured_step()

    def _undo_warmup(self, params: Sequence[torch.Tensor]) -> None:
        """Restore the initial weights and a fresh optimizer state, in place (addresses kept)."""
        with torch.no_grad():
            for p, saved in zip(self.net.parameters(), params):
                p.copy_(saved)
            for state in self.optimizer.state.values():
                for value in state.values():
                    if torch.is_tensor(value):
                        value.zero_()
            self.graph_sums.zero_()
            self.batch_no.zero_()

    def run_epoch(self, order: torch.Tensor, eps: torch.Tensor, sums: torch.Tensor) -> None:
        n_graphed = self.n_full * self.batch_size
        if self.n_full:
            torch.index_select(self.X, 0, order[:n_graphed], out=self.x_buf.view(n_graphed, -1))
            torch.index_select(self.onehot, 0, order[:n_graphed], out=self.onehot_buf.view(n_graphed, -1))
            self.eps_buf.view(n_graphed, -1).copy_(eps[:n_graphed])
            self.batch_no.zero_()
            self.graph_sums.zero_()
            for _ in range(self.n_full):
                self.graph.replay()
            sums.add_(self.graph_sums)
        if n_graphed < order.shape[0]:
            tail = order[n_graphed:]
            # The graph owns the gradient tensors: clear them in place, never replace them.
            self.optimizer.zero_grad(set_to_none=False)
            self._step(self.X.index_select(0, tail), self.onehot.index_select(0, tail), eps[n_graphed:], sums)


def fit_network(
    net: nn.Module,
    loss_fn: VGMLoss,
    X: torch.Tensor,
    onehot: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    generator: torch.Generator,
    cuda_graph: bool = True,
    compile_step: bool = False,
    verbose: bool = True,
    desc: str = "VGM",
) -> list[dict]:
    """Train ``net`` in place; return one record per epoch.

    X: (n, d) float32 in [0, 1], onehot: (n, n_classes) float32, both on the training device
    (the device of ``net`` and ``generator``). Each record holds ``epoch`` (1-based), the
    epoch's row-weighted mean ``loss`` and of each term of ``loss_fn`` (nats per row; RMSE in
    scaled units) and ``seconds`` (wall time since the start, including capture and, with
    ``compile_step``, compilation).
    """
    device = X.device
    n_rows = X.shape[0]
    latent_dim = net.encoder.mean.out_features
    optimizer = make_optimizer(net, learning_rate, device)
    start = time.perf_counter()
    net.train()
    use_graph = bool(cuda_graph) and device.type == "cuda"
    trainer_cls = GraphTrainer if use_graph else EagerTrainer
    trainer = trainer_cls(net, loss_fn, optimizer, X, onehot, batch_size, compile_step)
    names = ("loss", *loss_fn.term_names)
    sums = torch.zeros(len(names), device=device)
    history: list[dict] = []
    bar = tqdm(range(epochs), desc=desc, unit="epoch", disable=not verbose, leave=False)
    for epoch in bar:
        order, eps = draw_epoch(generator, n_rows, latent_dim, device)
        sums.zero_()
        trainer.run_epoch(order, eps, sums)
        means = (sums / n_rows).tolist()  # the one host sync per epoch
        record = {"epoch": epoch + 1, **dict(zip(names, means)), "seconds": time.perf_counter() - start}
        history.append(record)
        bar.set_postfix(loss=f"{record['loss']:.3f}", kl=f"{record['kl']:.3f}")
    net.eval()
    return history
