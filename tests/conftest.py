"""Shared fixtures: where the real data lies (tests needing it skip, saying why, without it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REAL_DATA = Path(os.environ.get("IDSYNTH_DATA", Path(__file__).resolve().parents[1] / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The directory holding ``nsl-kdd/`` and ``cic-ids-2017/`` (``$IDSYNTH_DATA`` or ./data)."""
    if not (REAL_DATA / "nsl-kdd" / "KDDTrain+.txt").is_file():
        pytest.skip(f"real NSL-KDD files not found under {REAL_DATA}; set IDSYNTH_DATA")
    return REAL_DATA


@pytest.fixture(scope="session")
def nslkdd_train(data_dir):
    from idsynth.data.nslkdd import load_nslkdd

    return load_nslkdd("train", data_dir)


@pytest.fixture(scope="session")
def nslkdd_test(data_dir):
    from idsynth.data.nslkdd import load_nslkdd

    return load_nslkdd("test", data_dir)


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for torch and for BLAS/OpenMP while a module's tiny models run.

    On a small shared machine (CI has 2 cores) thread oversubscription makes such models many
    times slower. The previous settings are restored afterwards. Use it with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(before)
