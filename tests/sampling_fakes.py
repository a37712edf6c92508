"""A tiny generator that follows the idsynth protocol, for tests of samplers and experiments.

``ClassGaussianGenerator`` fits one diagonal Gaussian per class and samples from it. It is
deliberately simple (known answers: sample means converge to class means) and scikit-learn
clonable, as :class:`idsynth.sampling.GeneratorOverSampler` requires.
"""

from __future__ import annotations

import numpy as np
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
