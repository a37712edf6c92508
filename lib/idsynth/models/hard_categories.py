"""Hard one-hot categories for a generator of encoded matrices (VGM's rows as training data).

VGM's decoder outputs Bernoulli means: in its matrix a categorical feature's one-hot block holds
soft values (e.g. 0.7 / 0.2 / 0.1), while every real row holds exactly one 1. Table 6 (as the
paper) trains classifiers on those soft rows. :class:`HardCategories` wraps a fitted generator so
that each block of its samples becomes a real one-hot row again, by the block's argmax or by a
category drawn in proportion to the block (as :meth:`~idsynth.data.encoding.TabularEncoder.inverse_transform`
decodes); numeric columns are left as they are. Notebook 04 asks whether this changes VGM's
standing in Table 6.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator

from ..data.encoding import TabularEncoder, block_codes, check_category_decoding


def category_blocks(encoder: TabularEncoder) -> tuple[tuple[int, int], ...]:
    """``((start, stop), ...)``: the columns of each one-hot block of a fitted ``encoder``'s matrix."""
    if not hasattr(encoder, "cat_slices_"):
        raise RuntimeError("the encoder is not fitted")
    return tuple((s.start, s.stop) for s in encoder.cat_slices_.values())


def harden_categories(X: np.ndarray, blocks: Sequence[tuple[int, int]], categories: str = "argmax",
                      rng: np.random.Generator | None = None) -> np.ndarray:
    """A copy of ``X`` (n, d) whose every block ``X[:, start:stop]`` is one-hot: a 1 at the block's
    argmax (``"argmax"``) or at a category drawn in proportion to the block (``"sampled"``, from
    ``rng``), 0 elsewhere. Columns outside the blocks are unchanged."""
    check_category_decoding(categories)
    X = np.array(X, copy=True)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}")
    rng = rng if rng is not None else np.random.default_rng(0)
    rows = np.arange(len(X))
    for start, stop in blocks:
        if not 0 <= start < stop <= X.shape[1]:
            raise ValueError(f"block ({start}, {stop}) is outside the {X.shape[1]} columns")
        codes = block_codes(X[:, start:stop], categories, rng)
        X[:, start:stop] = 0
        X[rows, start + codes] = 1
    return X


class HardCategories(BaseEstimator):
    """A fitted generator whose samples get hard one-hot blocks (:func:`harden_categories`).

    generator: fitted, with ``sample(n_per_class, random_state) -> (X, y)`` of encoded matrices;
    blocks: :func:`category_blocks` of the encoding; categories: ``"argmax"`` or ``"sampled"``
    (drawn with ``numpy.random.default_rng(random_state)``). ``fit`` does nothing (wrap it in
    ``sklearn.frozen.FrozenEstimator`` for :class:`~idsynth.sampling.GeneratorOverSampler`).
    """

    def __init__(self, generator, blocks: Sequence[tuple[int, int]] = (), categories: str = "argmax"):
        self.generator = generator
        self.blocks = blocks
        self.categories = categories

    def fit(self, X=None, y=None) -> "HardCategories":
        return self

    def __sklearn_is_fitted__(self) -> bool:  # it wraps a generator that is fitted already
        return True

    def sample(self, n_per_class: Mapping[Any, int], random_state: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The wrapped generator's ``(X, y)`` with hard one-hot blocks in ``X``."""
        X, y = self.generator.sample(n_per_class, random_state=random_state)
        rng = np.random.default_rng(random_state)
        return harden_categories(np.asarray(X), self.blocks, self.categories, rng).astype(np.asarray(X).dtype), y
