"""A tiny generator that follows the idsynth protocol, for tests of samplers and experiments.

``ClassGaussianGenerator`` fits one diagonal Gaussian per class and samples from it. It is
deliberately simple (known answers: sample means converge to class means) and scikit-learn
clonable, as :class:`idsynth.sampling.GeneratorOverSampler` requires. ``ClassFrameGenerator``
does the same for typed DataFrames (numeric and string columns), as the mixed-type generators.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from idsynth.models.base import labels_from_counts


class ClassGaussianGenerator(BaseEstimator):
    """Per-class diagonal Gaussian; ``X``: (n, d) float, ``y``: (n,) labels.

    ``jitter`` > 0 adds seeded noise to the fitted means, so that fitting depends on
    ``random_state`` (to check that over-samplers pass their seed on).
    """

    def __init__(self, jitter: float = 0.0, random_state=None):
        self.jitter = jitter
        self.random_state = random_state

    def fit(self, X, y):
        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        rng = np.random.default_rng(self.random_state)
        self.means_ = np.stack([X[y == c].mean(axis=0) for c in self.classes_])
        self.means_ = self.means_ + self.jitter * rng.standard_normal(self.means_.shape)
        self.stds_ = np.stack([X[y == c].std(axis=0) for c in self.classes_])
        self.n_features_in_ = X.shape[1]
        return self

    def sample(self, n_per_class, random_state=None):
        y = labels_from_counts(n_per_class, self.classes_)
        index = np.searchsorted(self.classes_, y)
        rng = np.random.default_rng(random_state)
        noise = rng.standard_normal((len(y), self.n_features_in_))
        return self.means_[index] + noise * self.stds_[index], y


class ClassFrameGenerator(BaseEstimator):
    """Per-class generator of *typed* rows: numeric columns from a diagonal Gaussian, the other
    columns drawn from the class's category frequencies. ``X``: DataFrame; ``y``: (n,) labels.
    Samples are DataFrames with X's columns (numeric ones as float64, categories as strings)."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"ClassFrameGenerator needs a DataFrame, got {type(X).__name__}")
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.columns_ = list(X.columns)
        self.numeric_ = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
        self.moments_ = {c: (X.loc[y == c, self.numeric_].mean(), X.loc[y == c, self.numeric_].std(ddof=0))
                         for c in self.classes_}  # fmt: skip
        self.shares_ = {
            c: {col: X.loc[y == c, col].astype(str).value_counts(normalize=True)
                for col in self.columns_ if col not in self.numeric_}
            for c in self.classes_
        }  # fmt: skip
        return self

    def sample(self, n_per_class, random_state=None):
        y = labels_from_counts(n_per_class, self.classes_)
        rng = np.random.default_rng(random_state)
        parts = []
        for label, n in n_per_class.items():
            mean, std = self.moments_[label]
            part = {col: mean[col] + std[col] * rng.standard_normal(int(n)) for col in self.numeric_}
            for col, shares in self.shares_[label].items():
                part[col] = rng.choice(shares.index.to_numpy(dtype=object), size=int(n), p=shares.to_numpy())
            parts.append(pd.DataFrame(part)[self.columns_])
        return pd.concat(parts, ignore_index=True), y
