"""Generated rows from the device into one host array, chunk by chunk, overlapping the copies.

Sampling a million VGM rows on a GPU takes milliseconds; moving them (464 MB of float32) into a
fresh NumPy array through pageable memory takes far longer and, done synchronously per chunk,
keeps the GPU idle meanwhile. :class:`ChunkedHostCopy` copies each chunk with a non-blocking
device-to-host copy into one of two page-locked ("pinned") staging buffers and moves the previous
chunk from its staging buffer into the result on the CPU while the GPU works on the next one. On
a CPU device the chunks are written straight into the result.
"""

from __future__ import annotations

import numpy as np
import torch


class ChunkedHostCopy:
    """Fill ``out`` (n, d) with device chunks ``rows`` (m <= chunk_rows, d) given in any order.

    ``put(start, rows)`` writes ``rows`` to ``out[start : start + m]`` (on CUDA: once
    :meth:`finish` has run); ``finish()`` waits for the last copy and returns ``out``. The
    caller must not reuse ``out`` before ``finish``.
    """

    def __init__(self, out: np.ndarray, chunk_rows: int, device: torch.device | str):
        if out.ndim != 2:
            raise ValueError(f"out must be a 2-D array, got shape {out.shape}")
        self.out = out
        self.device = torch.device(device)
        self.staged = self.device.type == "cuda"
        self._pending: tuple[int, int, int] | None = None  # (slot, start, rows) copied, not yet moved
        self._count = 0
        if self.staged:
            dtype = torch.from_numpy(out[:0]).dtype
            with torch.cuda.device(self.device):
                self._buffers = [torch.empty((int(chunk_rows), out.shape[1]), dtype=dtype, pin_memory=True)
                                 for _ in range(2)]  # fmt: skip
                self._events = [torch.cuda.Event() for _ in range(2)]

    def put(self, start: int, rows: torch.Tensor) -> None:
        n = int(rows.shape[0])
        if not self.staged:
            torch.from_numpy(self.out[start : start + n]).copy_(rows)
            return
        slot = self._count % 2
        self._buffers[slot][:n].copy_(rows, non_blocking=True)
        self._events[slot].record(torch.cuda.current_stream(self.device))  # the copy's stream, on this GPU
        self._move_pending()  # the other slot's chunk, while this one is copied
        self._pending = (slot, start, n)
        self._count += 1

    def _move_pending(self) -> None:
        if self._pending is None:
            return
        slot, start, n = self._pending
        self._events[slot].synchronize()
        np.copyto(self.out[start : start + n], self._buffers[slot][:n].numpy())
        self._pending = None

    def finish(self) -> np.ndarray:
        if self.staged:
            self._move_pending()
        return self.out
