"""A training step replayed from CUDA graphs: one graph launch instead of hundreds of kernels.

The generators' networks are small (TabVAE: 4-dim tokens; TabDDPM and EDM: MLPs), so on a GPU
their steps are bound by the host launching kernels, not by arithmetic: a TabVAE step issues
~1,700 kernels (~24 ms on an H100 whatever the batch). :class:`GraphedStep` captures the whole
step (forward, backward, optimiser update) once per batch shape and replays it.

Contract for ``step(*inputs) -> tuple[Tensor, ...]``:

* it runs forward, backward and ``optimizer.step()`` on ``inputs`` (tensors on the device) and
  returns detached tensors (typically 0-d losses); gradients are cleared by the runner;
* its random numbers come from the generator :attr:`GraphedStep.generator` names: the caller's
  seeded generator on the eager path, ``None`` (the default CUDA generator, which a graph
  advances on every replay) on the graphed path; :meth:`GraphedStep.seeded` seeds and later
  restores that default generator, so the same seed gives the same run;
* whatever changes between steps (learning rate, loss weights) lives in device tensors updated
  in place (:func:`set_learning_rate`, ``tensor.fill_``), never in Python numbers, which a graph
  would freeze at their capture-time values;
* the optimiser was built with ``capturable=True`` (:func:`~idsynth.models.training.make_adam`
  does so on CUDA) and a tensor learning rate when it is scheduled.

The eager and graphed paths run the same kernels on the same numbers; they differ only in which
generator draws the noise, so their results agree in distribution (the CUDA tests compare them).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import torch

#: Eager steps per batch shape before its capture (cuBLAS handles, optimiser state and autograd
#: buffers are created lazily and must exist before capture). They are real training steps.
WARMUP_STEPS = 3


def set_learning_rate(optimizer: torch.optim.Optimizer, value: float) -> None:
    """Set every parameter group's learning rate; a tensor rate is filled in place (a captured
    optimiser step reads it from its address)."""
    for group in optimizer.param_groups:
        if torch.is_tensor(group["lr"]):
            group["lr"].fill_(float(value))
        else:
            group["lr"] = float(value)


def step_schedule(schedule, *args) -> None:
    """``schedule.step(*args)`` for a learning-rate scheduler, keeping each tensor learning rate
    the same tensor (schedulers of some PyTorch versions replace it with a float, which a
    captured step would never see)."""
    groups = schedule.optimizer.param_groups
    tensors = [group["lr"] if torch.is_tensor(group["lr"]) else None for group in groups]
    schedule.step(*args)
    for group, tensor in zip(groups, tensors):
        if tensor is not None and group["lr"] is not tensor:
            tensor.fill_(float(group["lr"]))
            group["lr"] = tensor


class GraphedStep:
    """Run ``step(*inputs)``; on CUDA (when ``enabled``) replay it from one graph per input shape.

    On the graphed path, the first :data:`WARMUP_STEPS` calls for a shape run eagerly on a side
    stream, the next captures the step into a graph with static input buffers, and every call
    then copies its inputs into those buffers and replays the graph. The returned tensors are the
    graph's static outputs: read or copy them before the next call.
    """

    def __init__(self, step: Callable[..., tuple[torch.Tensor, ...]], optimizer: torch.optim.Optimizer,
                 device: torch.device | str, *, enabled: bool = True, generator: torch.Generator | None = None):
        self.step = step
        self.optimizer = optimizer
        self.device = torch.device(device)
        self.graphed = bool(enabled) and self.device.type == "cuda"
        self._eager_generator = generator
        self._graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]] = {}
        self._calls: dict[tuple, int] = {}
        self._stream = torch.cuda.Stream(self.device) if self.graphed else None

    @property
    def generator(self) -> torch.Generator | None:
        """The generator ``step`` must draw from: the caller's (eager) or None (graphed)."""
        return None if self.graphed else self._eager_generator

    @contextmanager
    def seeded(self, seed: int) -> Iterator[None]:
        """On the graphed path, seed the default CUDA generator with ``seed`` for the block and
        restore its previous state afterwards; a no-op on the eager path."""
        if not self.graphed:
            yield
            return
        with torch.random.fork_rng(devices=[self.device]):
            torch.cuda.manual_seed(int(seed))
            yield

    @property
    def n_graphs(self) -> int:
        """How many shapes have been captured so far."""
        return len(self._graphs)

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if not self.graphed:
            self.optimizer.zero_grad(set_to_none=True)
            return self.step(*inputs)
        key = tuple((tuple(t.shape), t.dtype) for t in inputs)
        entry = self._graphs.get(key)
        if entry is None:
            self._calls[key] = self._calls.get(key, 0) + 1
            if self._calls[key] <= WARMUP_STEPS:
                return self._side_stream_step(inputs)
            entry = self._graphs[key] = self._capture(inputs)
        graph, static_inputs, static_outputs = entry
        for buffer, value in zip(static_inputs, inputs):
            buffer.copy_(value)
        graph.replay()
        return static_outputs

    def _side_stream_step(self, inputs) -> tuple[torch.Tensor, ...]:
        current = torch.cuda.current_stream(self.device)
        self._stream.wait_stream(current)
        with torch.cuda.stream(self._stream):
            self.optimizer.zero_grad(set_to_none=True)
            outputs = self.step(*inputs)
        current.wait_stream(self._stream)
        return outputs

    def _capture(self, inputs):
        static_inputs = tuple(t.detach().clone() for t in inputs)
        # Gradients are allocated inside the graph (its private pool) and overwritten by each
        # replay; eager steps before or after set them to None and allocate their own.
        self.optimizer.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        torch.cuda.current_stream(self.device).synchronize()
        with torch.cuda.graph(graph, stream=self._stream):
            static_outputs = tuple(self.step(*static_inputs))
        return graph, static_inputs, static_outputs
