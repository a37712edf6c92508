"""The eight ways Table 6 makes a class-balanced training set from KDDTrain+.

The VGM paper compares VGM (Option C) with seven over-samplers from imbalanced-learn:
SMOTE, Borderline SMOTE, SMOTE+ENN, SMOTE+Tomek, ADASYN, SVM SMOTE and EasyEnsemble. Each is
used with imbalanced-learn's defaults (``sampling_strategy="auto"``: every class brought to the
majority count; ``k_neighbors=5``; ``m_neighbors=10``; ...), on the encoded 116-feature rows.

Defaults are kept exactly; only speed knobs are added, none of which changes the output:

* nearest-neighbour searches are passed as ``NearestNeighbors(n_neighbors=k + 1, n_jobs=n_jobs)``
  objects, which is what imbalanced-learn builds from the integer ``k`` itself (0.14 removed
  ``n_jobs`` from the over-samplers, but the neighbour estimators still take it);
* SVM SMOTE refits the same ``SVC`` on the same ``(X, y)`` once per minority class; here the
  SVC skips refits on the identical arrays (:class:`SVCFitOnce`, deterministic, same support
  vectors) and gets a larger kernel cache.

Two methods do not give exactly equal class counts by construction: SMOTE+ENN and SMOTE+Tomek
balance with SMOTE and then clean with ENN / Tomek links, which removes rows from every class
(``sampling_strategy="all"``, imbalanced-learn's default for the cleaning step). EasyEnsemble is
the stack of its ``n_subsets=10`` balanced under-samplings
(:class:`idsynth.sampling.EasyEnsembleSampler`), ``10 x minority count`` rows per class.
"""

from __future__ import annotations

import time
import weakref
from typing import Any, Callable

import numpy as np
from imblearn.combine import SMOTEENN, SMOTETomek
from imblearn.over_sampling import ADASYN, SMOTE, SVMSMOTE, BorderlineSMOTE
from imblearn.under_sampling import EditedNearestNeighbours, TomekLinks
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import SVC

from idsynth.sampling import EasyEnsembleSampler, GeneratorOverSampler

OVERSAMPLER_NAMES: tuple[str, ...] = (
    "VGM", "SMOTE", "BorderlineSMOTE", "SMOTEENN", "SMOTETomek", "SVMSMOTE", "EasyEnsemble", "ADASYN",
)
"""Method names, in the row order of the paper's Table 6."""

PAPER_NAMES: dict[str, str] = {
    "VGM": "VGM (C)",
    "SMOTE": "SMOTE",
    "BorderlineSMOTE": "Borderline SMOTE",
    "SMOTEENN": "SMOTE+ENN",
    "SMOTETomek": "SMOTE+Tomek",
    "ADASYN": "ADASYN",
    "SVMSMOTE": "SVM SMOTE",
    "EasyEnsemble": "EasyEnsemble",
}
"""Each method's label in the paper's Table 6 (as :mod:`idsynth.experiments.paper_values` has it)."""

_K_NEIGHBORS = 5  # SMOTE family and ADASYN default
_M_NEIGHBORS = 10  # Borderline / SVM SMOTE default
_SVC_CACHE_MB = 2000


class SVCFitOnce(SVC):
    """An ``SVC`` that does not refit when ``fit`` is called again on the very same arrays.

    ``SVMSMOTE`` calls ``svm_estimator_.fit(X, y)`` once per class to over-sample, always with
    the same ``X`` and ``y`` objects; libsvm is deterministic for ``probability=False``, so the
    refits only repeat identical work (minutes each on KDDTrain+). Any other arrays refit.
    """

    def fit(self, X, y, sample_weight=None):
        last = getattr(self, "_fitted_on", None)
        if sample_weight is None and last is not None and last[0]() is X and last[1]() is y:
            return self
        super().fit(X, y, sample_weight=sample_weight)
        try:
            self._fitted_on = (weakref.ref(X), weakref.ref(y))
        except TypeError:  # objects that cannot be weakly referenced: always refit
            self._fitted_on = None
        return self

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_fitted_on", None)  # weak references do not pickle
        return state


def _neighbours(k: int, n_jobs: int | None) -> NearestNeighbors:
    """What imbalanced-learn builds for an integer ``k`` (the sample itself + k), with n_jobs."""
    return NearestNeighbors(n_neighbors=k + 1, n_jobs=n_jobs)


def make_oversampler(method: str, random_state: int | None = 0, n_jobs: int | None = None, generator=None):
    """An unfitted imbalanced-learn sampler for ``method`` (one of :data:`OVERSAMPLER_NAMES`).

    ``generator`` is required for ``"VGM"``: an unfitted generator (fitted on the data by the
    sampler) or ``sklearn.frozen.FrozenEstimator(trained_generator)``.
    """
    k = _neighbours(_K_NEIGHBORS, n_jobs)
    m = _neighbours(_M_NEIGHBORS, n_jobs)
    if method == "VGM":
        if generator is None:
            raise ValueError("method 'VGM' needs a generator (e.g. FrozenEstimator(trained VGM))")
        return GeneratorOverSampler(generator, random_state=random_state)
    if method == "SMOTE":
        return SMOTE(random_state=random_state, k_neighbors=k)
    if method == "BorderlineSMOTE":
        return BorderlineSMOTE(random_state=random_state, k_neighbors=k, m_neighbors=m)
    if method == "SMOTEENN":
        return SMOTEENN(
            random_state=random_state,
            smote=SMOTE(random_state=random_state, k_neighbors=k),
            enn=EditedNearestNeighbours(sampling_strategy="all", n_jobs=n_jobs),
        )
    if method == "SMOTETomek":
        return SMOTETomek(
            random_state=random_state,
            smote=SMOTE(random_state=random_state, k_neighbors=k),
            tomek=TomekLinks(sampling_strategy="all", n_jobs=n_jobs),
        )
    if method == "ADASYN":
        return ADASYN(random_state=random_state, n_neighbors=k)
    if method == "SVMSMOTE":
        svm = SVCFitOnce(gamma="scale", random_state=random_state, cache_size=_SVC_CACHE_MB)
        return SVMSMOTE(random_state=random_state, k_neighbors=k, m_neighbors=m, svm_estimator=svm)
    if method == "EasyEnsemble":
        return EasyEnsembleSampler(random_state=random_state)
    raise ValueError(f"unknown over-sampling method {method!r}; expected one of {OVERSAMPLER_NAMES}")


def balanced_training_set(
    method: str,
    X: np.ndarray,
    y: np.ndarray,
    random_state: int | None = 0,
    n_jobs: int | None = None,
    generator_factory: Callable[[int | None], Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Resample ``(X, y)`` into a class-balanced training set with ``method``.

    X: (n, d) float array (the encoded 116 features in [0, 1] for NSL-KDD); y: (n,) labels.
    ``generator_factory(random_state)`` returns the generator for ``"VGM"`` (see
    :func:`make_oversampler`); it is ignored by the other methods.

    Returns ``(X_bal, y_bal, seconds)``: the resampled rows (X's dtype; for the over-samplers
    the originals first, then the synthetic rows), their labels, and the wall time of the
    resampling in seconds (including the generator's fit when it is not frozen).
    """
    if method not in OVERSAMPLER_NAMES:
        raise ValueError(f"unknown over-sampling method {method!r}; expected one of {OVERSAMPLER_NAMES}")
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"expected X of shape (n, d) and y of shape (n,); got {X.shape} and {y.shape}")
    generator = None
    if method == "VGM":
        if generator_factory is None:
            raise ValueError("method 'VGM' needs generator_factory(random_state) -> generator")
        generator = generator_factory(random_state)
    sampler = make_oversampler(method, random_state=random_state, n_jobs=n_jobs, generator=generator)
    start = time.perf_counter()
    X_bal, y_bal = sampler.fit_resample(X, y)
    seconds = time.perf_counter() - start
    return np.asarray(X_bal), np.asarray(y_bal), seconds
