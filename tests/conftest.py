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
