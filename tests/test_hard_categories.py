"""Hard one-hot blocks for a generator's encoded samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.frozen import FrozenEstimator

from idsynth.data.encoding import TabularEncoder
from idsynth.models.hard_categories import HardCategories, category_blocks, harden_categories
from idsynth.sampling import GeneratorOverSampler


def test_blocks_of_an_encoder():
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0], "a": ["p", "q", "p"], "b": ["u", "v", "w"]})
    encoder = TabularEncoder(numeric=["x"], categorical=["a", "b"]).fit(frame)
    assert category_blocks(encoder) == ((1, 3), (3, 6))
    with pytest.raises(RuntimeError):
        category_blocks(TabularEncoder(numeric=["x"], categorical=["a"]))


def test_harden_argmax_and_sampled():
    X = np.array([[0.3, 0.7, 0.2, 0.1], [0.9, 0.1, 0.5, 0.5]] * 5000)
    hard = harden_categories(X, [(1, 4)], "argmax")
    assert np.array_equal(hard[:2], [[0.3, 1, 0, 0], [0.9, 0, 1, 0]])  # ties: the first
    assert np.array_equal(X[0], [0.3, 0.7, 0.2, 0.1])  # the input is not changed
    drawn = harden_categories(X, [(1, 4)], "sampled", np.random.default_rng(0))
    assert (drawn[:, 1:].sum(axis=1) == 1).all() and np.array_equal(drawn[:, 0], X[:, 0])
    share = drawn[::2, 1:].mean(axis=0)  # rows like the first: 0.7 / 0.2 / 0.1 of 1.0
    assert np.allclose(share, [0.7, 0.2, 0.1], atol=0.02)
    with pytest.raises(ValueError, match="categories"):
        harden_categories(X, [(1, 4)], "mode")
    with pytest.raises(ValueError, match="outside"):
        harden_categories(X, [(3, 6)])


class _SoftGenerator:
    """Rows [class, soft block of 3] for any class mapping."""

    def sample(self, n_per_class, random_state=None):
        rng = np.random.default_rng(random_state)
        y = np.concatenate([np.full(n, c) for c, n in n_per_class.items()])
        block = rng.dirichlet([1.0, 1.0, 1.0], size=len(y))
        return np.column_stack([y, block]).astype(np.float32), y


def test_wrapper_in_an_over_sampler_gives_hard_rows():
    X = np.column_stack([np.repeat([0, 1], [90, 10]), np.eye(3)[np.arange(100) % 3]]).astype(np.float32)
    y = np.repeat([0, 1], [90, 10])
    for categories in ("argmax", "sampled"):
        wrapped = FrozenEstimator(HardCategories(_SoftGenerator(), blocks=((1, 4),), categories=categories))
        X_res, y_res = GeneratorOverSampler(wrapped, random_state=3).fit_resample(X, y)
        new = X_res[len(X):]
        assert len(new) == 80 and (new[:, 1:].sum(axis=1) == 1).all() and set(np.unique(new[:, 1:])) == {0.0, 1.0}
        assert X_res.dtype == np.float32
    again = HardCategories(_SoftGenerator(), ((1, 4),), "sampled").sample({1: 50}, random_state=4)[0]
    assert np.array_equal(again, HardCategories(_SoftGenerator(), ((1, 4),), "sampled").sample({1: 50}, 4)[0])
