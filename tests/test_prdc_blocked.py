"""PRDC a slice at a time against the ``prdc`` package: the same four numbers, bit for bit."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from prdc import compute_prdc
from sklearn.metrics.pairwise import euclidean_distances

from idsynth.metrics.prdc_blocked import (
    euclidean_distances_like_sklearn,
    kth_neighbour_radii,
    prdc_blocked,
    upcast_batch_rows,
)
from idsynth.metrics.prdc_metrics import prdc_scores

pytestmark = pytest.mark.usefixtures("one_thread")


def reference(real, fake, k):
    with contextlib.redirect_stdout(io.StringIO()):
        return {key: float(value) for key, value in compute_prdc(real, fake, nearest_k=k).items()}


def tied_rows(n: int, seed: int) -> np.ndarray:
    """(n, 12) rows like an encoded flow table: one-hot-ish columns, a heavy-tailed column
    min-max scaled (most differences ~1e-9, so float32 ties), and exact duplicate rows."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([
        rng.integers(0, 2, size=(n, 8)),
        rng.lognormal(0, 6, size=(n, 2)) / 1e9,
        rng.integers(0, 4, size=(n, 2)) / 3,
    ]).astype(np.float64)  # fmt: skip
    X[n // 2:n // 2 + n // 10] = X[: n // 10]  # duplicates
    return X


def test_distances_are_sklearns_bit_for_bit_over_several_upcast_chunks():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(2600, 7)), rng.normal(size=(330, 7))
    assert upcast_batch_rows(len(X), len(Y), 7) < len(X)  # more than one chunk of X
    for dtype in (np.float32, np.float64):
        a, b = X.astype(dtype), Y.astype(dtype)
        ours = euclidean_distances_like_sklearn(a, b)
        assert ours.dtype == dtype
        np.testing.assert_array_equal(ours, euclidean_distances(a, b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 5])
def test_prdc_equals_the_package_on_rows_with_ties(dtype, k):
    real, fake = tied_rows(1800, 0).astype(dtype), tied_rows(1500, 1).astype(dtype)
    fake[:200] = real[:200]  # synthetic rows that copy real ones
    assert prdc_blocked(real, fake, k) == reference(real, fake, k)


def test_radii_count_the_row_itself_and_duplicates_at_zero():
    X = np.array([[0.0], [0.0], [1.0], [3.0]], dtype=np.float32)
    np.testing.assert_array_equal(kth_neighbour_radii(X, 1), [0.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(kth_neighbour_radii(X, 2), [1.0, 1.0, 1.0, 3.0])


def test_prdc_scores_backends_agree_on_real_rows(nslkdd_train):
    from idsynth.data.nslkdd import vgm_encoder

    encoded = vgm_encoder().fit(nslkdd_train).transform(nslkdd_train, dtype=np.float64)
    rng = np.random.default_rng(0)
    real = encoded[rng.choice(len(encoded), 2000, replace=False)]
    fake = encoded[rng.choice(len(encoded), 2000, replace=False)]
    for dtype in (np.float32, np.float64):
        sliced = prdc_scores(real, fake, k=5, dtype=dtype)
        assert sliced == prdc_scores(real, fake, k=5, dtype=dtype, backend="prdc")
    assert 0 < sliced["precision"] <= 1 and sliced["density"] > 0


def test_bad_inputs_are_refused():
    real = np.zeros((10, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="both be float32 or both float64"):
        prdc_blocked(real, real.astype(np.float64), 2)
    with pytest.raises(ValueError, match=r"\(n, d\) and \(m, d\)"):
        prdc_blocked(real, real[:, :1], 2)
    with pytest.raises(ValueError, match="k must be in"):
        prdc_blocked(real, real, 10)
    with pytest.raises(ValueError, match="backend must be one of"):
        prdc_scores(real, real, k=2, backend="fast")
