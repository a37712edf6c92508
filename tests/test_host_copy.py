"""ChunkedHostCopy: device chunks land in the right rows of the host array (CPU and CUDA paths)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from idsynth.models import vgm as vgm_module
from idsynth.models.host_copy import ChunkedHostCopy

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_chunks_fill_their_rows_in_any_order_with_a_partial_last_chunk(device):
    data = torch.arange(23 * 3, dtype=torch.float32, device=device).reshape(23, 3)
    host = ChunkedHostCopy(np.full((23, 3), -1.0, dtype=np.float32), chunk_rows=5, device=device)
    for start in (10, 0, 20, 5, 15):  # chunks of 5 rows, the last one 3
        host.put(start, data[start : start + 5])
    np.testing.assert_array_equal(host.finish(), data.cpu().numpy())


def test_refuses_an_output_that_is_not_a_matrix():
    with pytest.raises(ValueError, match="2-D"):
        ChunkedHostCopy(np.zeros(4, dtype=np.float32), 2, "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the pinned staging path needs a CUDA device")
def test_vgm_sampling_through_pinned_staging_matches_the_model_on_cpu(monkeypatch):
    from idsynth.models.vgm import VGM

    rng = np.random.default_rng(0)
    X, y = rng.random((600, 116)).astype(np.float32), rng.integers(0, 5, 600)
    model = VGM(option="C", epochs=1, device="cuda", random_state=0, verbose=False).fit(X, y)
    monkeypatch.setattr(vgm_module, "SAMPLE_CHUNK_ROWS", 1000)  # 3,500 rows: 4 chunks, the last partial
    labels = rng.integers(0, 5, 3500)
    generator = torch.Generator(device="cuda").manual_seed(3)  # as _run_chunks draws: one call per chunk
    with torch.inference_mode():
        onehot = torch.nn.functional.one_hot(torch.as_tensor(labels, device="cuda"), 5).float()
        expected = torch.cat([
            model.net_.generate(onehot[i : i + 1000],
                                torch.randn(min(1000, 3500 - i), model.latent_dim, generator=generator, device="cuda"))
            for i in range(0, 3500, 1000)
        ])  # fmt: skip
    np.testing.assert_allclose(model.generate(labels, random_state=3), expected.cpu().numpy(), rtol=1e-5, atol=1e-6)
