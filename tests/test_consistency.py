"""Cross-modal consistency: known answers on hand-made pairs."""

import numpy as np
import pandas as pd
import pytest

from idsynth.data.paired import fit_image_pipeline
from idsynth.data.schema import Schema
from idsynth.imaging import TabularImager
from idsynth.metrics.consistency import (
    PAIRINGS,
    consistency_table,
    derangement,
    images_of_rows,
    pair_distances,
    per_sample_mse,
)


@pytest.fixture(scope="module")
def pipeline():
    """Structured rows (three correlated numerics, a category) with their fitted min-max encoder
    and imager."""
    rng = np.random.default_rng(0)
    n = 200
    base = rng.random(n)
    frame = pd.DataFrame({
        "x1": base, "x2": 2 * base + 0.05 * rng.random(n), "x3": rng.random(n),
        "kind": np.where(base > 0.5, "hi", "lo"),
    })  # fmt: skip
    encoder, imager = fit_image_pipeline(frame, Schema.infer(frame), TabularImager(layout="rowmajor"))
    return frame, encoder, imager


def test_identical_pairs_score_zero(pipeline):
    frame, encoder, imager = pipeline
    images = images_of_rows(frame, encoder, imager)
    assert images.shape == (len(frame), 1, 3, 3)
    np.testing.assert_array_equal(pair_distances(images, frame, encoder, imager), np.zeros(len(frame)))
    table = consistency_table(images, frame, encoder, imager, reference_images=images, reference_frame=frame)
    assert table["pairing"].tolist() == list(PAIRINGS)
    assert list(table.columns) == ["pairing", "mean", "std", "median", "n"]
    paired, shuffled, floor = table["mean"]
    assert paired == 0.0 and floor == 0.0 and shuffled > 0.0


def test_shuffled_pairs_are_farther_than_noisy_pairs(pipeline):
    frame, encoder, imager = pipeline
    rng = np.random.default_rng(1)
    noisy = np.clip(images_of_rows(frame, encoder, imager) + 0.02 * rng.standard_normal((len(frame), 1, 3, 3)), 0, 1)
    table = consistency_table(noisy.astype(np.float32), frame, encoder, imager, random_state=3).set_index("pairing")
    assert len(table) == 2  # no reference given
    assert table.loc[PAIRINGS[1], "mean"] > 10 * table.loc[PAIRINGS[0], "mean"]
    # noise variance 4e-4 per pixel, less where clipping at 0 or 1 (pads, one-hot pixels) cuts it
    assert 1e-4 < table.loc[PAIRINGS[0], "mean"] < 4e-4


def test_known_distance():
    a = np.zeros((2, 1, 2, 2))
    b = np.stack([np.zeros((1, 2, 2)), np.full((1, 2, 2), 0.5)])
    np.testing.assert_allclose(per_sample_mse(a, b), [0.0, 0.25])
    with pytest.raises(ValueError, match="same shape"):
        per_sample_mse(a, b[:1])


def test_derangement_has_no_fixed_points():
    for n in (2, 3, 10, 101):
        pi = derangement(n, random_state=n)
        assert sorted(pi.tolist()) == list(range(n)) and not (pi == np.arange(n)).any()
    with pytest.raises(ValueError):
        derangement(1)


def test_errors(pipeline):
    frame, encoder, imager = pipeline
    images = images_of_rows(frame, encoder, imager)
    with pytest.raises(ValueError, match="images for"):
        pair_distances(images[:5], frame, encoder, imager)
    with pytest.raises(ValueError, match="permutation"):
        pair_distances(images, frame, encoder, imager, permutation=np.zeros(len(frame), int))
    with pytest.raises(ValueError, match="both"):
        consistency_table(images, frame, encoder, imager, reference_images=images)
    encoder.numeric_scaling = "quantile"
    try:
        with pytest.raises(ValueError, match="min-max"):
            images_of_rows(frame, encoder, imager)
    finally:
        encoder.numeric_scaling = "minmax"
