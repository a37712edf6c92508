"""The EDM diagnostics of notebook 13, section 10: loss along the budget, denoising error per block."""

from __future__ import annotations

import numpy as np
import pytest

from idsynth.experiments.edm_diagnostics import COLUMNS, block_denoising_error, loss_at_fractions
from idsynth.models.edm import LatentEDM


def test_loss_is_read_at_fractions_of_the_training():
    history = np.arange(11, dtype=float)  # epoch i has loss i
    frame = loss_at_fractions(history, (0.0, 0.25, 0.5, 1.0))
    assert list(frame.columns) == list(COLUMNS) and set(frame["quantity"]) == {"loss"}
    assert frame["value"].tolist() == [0.0, 2.0, 5.0, 10.0]  # round(0.25 * 10) = 2
    assert loss_at_fractions([0.7])["value"].tolist() == [0.7] * 5
    with pytest.raises(ValueError, match="non-empty"):
        loss_at_fractions([])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        loss_at_fractions(history, (1.5,))


def two_blocks(n=1000, seed=0):
    """A 'tabular' block of 3 correlated dimensions and an 'image' block of 2, the last nearly
    constant (left out by drop_below); labels 0/1 shift the tabular block."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    base = rng.normal(size=(n, 1))
    tab = np.hstack([base + 2.0 * y[:, None], 0.5 * base, -base]) + 0.1 * rng.normal(size=(n, 3))
    img = np.hstack([rng.normal(size=(n, 1)), 1e-4 * rng.normal(size=(n, 1))])
    return np.hstack([tab, img]).astype(np.float32), y


def fitted(steps, Z, y):
    return LatentEDM(hidden=32, n_layers=2, epochs=None, steps=steps, batch_size=250, learning_rate=3e-3,
                     drop_below=0.1, blocks=(3, 2), device="cpu", verbose=False, random_state=0).fit(Z, y)


def test_denoising_error_per_block_of_the_modelled_dimensions():
    Z, y = two_blocks()
    blocks = {"tabular": slice(0, 3), "image": slice(3, 5)}
    trained, untrained = fitted(300, Z, y), fitted(1, Z, y)
    assert trained.kept_.tolist() == [True, True, True, True, False]  # the near-constant one left out
    frame = block_denoising_error(trained, Z, y, blocks, sigmas=(1e-4, 0.3), n_rows=500)
    assert list(frame.columns) == list(COLUMNS) and len(frame) == 4 and set(frame["block"]) == {"tabular", "image"}
    values = frame.set_index(["block", "at"])["value"]
    assert (values.loc[:, 1e-4] < 1e-4).all()  # at almost no noise the skip connection returns the input
    before = block_denoising_error(untrained, Z, y, blocks, sigmas=(0.3,), n_rows=500).set_index("block")["value"]
    assert values.loc[("tabular", 0.3)] < 0.7 * before["tabular"]  # training lowers the error where it learns
    # a block whose dimensions are all left out has no row; the same seed gives the same rows
    only_dropped = block_denoising_error(trained, Z, y, {"tabular": slice(0, 3), "flat": slice(4, 5)}, sigmas=(0.3,))
    assert only_dropped["block"].tolist() == ["tabular"]
    again = block_denoising_error(trained, Z, y, blocks, sigmas=(1e-4, 0.3), n_rows=500)
    assert np.array_equal(again["value"].to_numpy(), frame["value"].to_numpy())
    with pytest.raises(ValueError, match=r"\(n, 5\)"):
        block_denoising_error(trained, Z[:, :4], y, blocks)
