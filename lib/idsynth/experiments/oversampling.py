"""The eight ways Table 6 makes a class-balanced training set from KDDTrain+.

The VGM paper compares VGM (Option C) with seven over-samplers from imbalanced-learn:
SMOTE, Borderline SMOTE, SMOTE+ENN, SMOTE+Tomek, ADASYN, SVM SMOTE and EasyEnsemble. Each is
used with imbalanced-learn's defaults (``sampling_strategy="auto"``: every class brought to the
majority count; ``k_neighbors=5``; ``m_neighbors=10``; ...), on the encoded 116-feature rows.

Defaults are kept exactly; only speed knobs are added, which leave the output as imbalanced-learn's
(on a GPU, up to tie-breaking, see the last point):

* nearest-neighbour searches are passed as ``NearestNeighbors(n_neighbors=k + 1, n_jobs=n_jobs)``
  objects, which is what imbalanced-learn builds from the integer ``k`` itself (0.14 removed
  ``n_jobs`` from the over-samplers, but the neighbour estimators still take it);
* SVM SMOTE refits the same ``SVC`` on the same ``(X, y)`` once per minority class (and once
  per seed); here the SVC skips refits on equal arrays (:class:`SVCFitOnce`, deterministic,
  same support vectors) and gets a larger kernel cache;
* on a GPU (``device`` "cuda" or "auto"), the exact nearest-neighbour searches of the SMOTE
  family, ADASYN, ENN and Tomek links run in PyTorch (:class:`~idsynth.neighbours.TorchNearestNeighbors`;
  ties in distance, exact or within float rounding, may be broken differently than by
  scikit-learn, which changes a few neighbour sets and so a few synthetic rows: this one knob
  does change the output slightly).

Two methods do not give exactly equal class counts by construction: SMOTE+ENN and SMOTE+Tomek
balance with SMOTE and then clean with ENN / Tomek links, which removes rows from every class
(``sampling_strategy="all"``, imbalanced-learn's default for the cleaning step). EasyEnsemble is
the stack of its ``n_subsets=10`` balanced under-samplings
(:class:`idsynth.sampling.EasyEnsembleSampler`), ``10 x minority count`` rows per class.
"""

from __future__ import annotations

import copy
import time
from typing import Any, Callable

import numpy as np
from imblearn.combine import SMOTEENN, SMOTETomek
from imblearn.over_sampling import ADASYN, SMOTE, SVMSMOTE, BorderlineSMOTE
from imblearn.under_sampling import EditedNearestNeighbours, TomekLinks
from sklearn.base import clone
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import SVC

from idsynth.cache import array_digest
from idsynth.config import resolve_device
from idsynth.neighbours import TorchNearestNeighbors
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
_ENN_NEIGHBORS = 3  # EditedNearestNeighbours default
_SVC_CACHE_MB = 2000


class SVCFitOnce(SVC):
    """An ``SVC`` that does not redo a fit it has already done on equal data and settings.

    ``SVMSMOTE`` calls ``svm_estimator_.fit(X, y)`` once per class to over-sample, always with
    the same ``X`` and ``y``, and Table 6 runs it again for every seed; libsvm is deterministic
    for ``probability=False`` (``random_state`` only seeds the probability calibration), so
    those refits repeat identical work (minutes each on KDDTrain+). The last fit is kept per
    process, keyed by the bytes of ``X`` and ``y`` and the parameters other than
    ``random_state``; an equal fit copies its fitted state. Anything else is fitted.
    """

    _last: tuple[str, dict] | None = None  # (key, fitted __dict__), shared by all instances

    def _fit_key(self, X, y) -> str | None:
        if self.probability is True or not (isinstance(X, np.ndarray) and isinstance(y, np.ndarray)):
            return None
        params = {k: v for k, v in self.get_params().items() if k != "random_state"}
        return repr((sorted(params.items()), array_digest(X, y)))

    def fit(self, X, y, sample_weight=None):
        key = self._fit_key(X, y) if sample_weight is None else None
        last = SVCFitOnce._last
        if key is not None and last is not None and last[0] == key:
            own = self.get_params()
            self.__dict__.update(copy.deepcopy(last[1]))
            self.set_params(**own)
            return self
        super().fit(X, y, sample_weight=sample_weight)
        if key is not None:
            SVCFitOnce._last = (key, copy.deepcopy(self.__dict__))
        return self


class NeighbourTomekLinks(TomekLinks):
    """``TomekLinks`` whose nearest-neighbour search is ``nn_estimator`` (a k-NN object with
    ``fit`` / ``kneighbors``; None: scikit-learn's ``NearestNeighbors``, as imbalanced-learn).

    A Tomek link is a pair of rows of different classes that are each other's nearest
    neighbour; the rows of the classes in ``sampling_strategy`` that are in a link are removed
    (imbalanced-learn's :meth:`TomekLinks.is_tomek` decides which).
    """

    def __init__(self, *, sampling_strategy="auto", n_jobs=None, nn_estimator=None):
        super().__init__(sampling_strategy=sampling_strategy, n_jobs=n_jobs)
        self.nn_estimator = nn_estimator

    def _fit_resample(self, X, y):
        if self.nn_estimator is None:
            return super()._fit_resample(X, y)
        search = clone(self.nn_estimator).fit(X)
        nearest = search.kneighbors(X, n_neighbors=2, return_distance=False)[:, 1]  # [:, 0] is the row itself
        self.sample_indices_ = np.flatnonzero(~self.is_tomek(y, nearest, self.sampling_strategy_))
        return X[self.sample_indices_], y[self.sample_indices_]


def _neighbours(k: int, n_jobs: int | None, device: str = "cpu"):
    """What imbalanced-learn builds for an integer ``k`` (the sample itself + k), with n_jobs;
    on a CUDA ``device`` the same exact search on the GPU (:class:`TorchNearestNeighbors`)."""
    if resolve_device(device).type == "cuda":
        return TorchNearestNeighbors(n_neighbors=k + 1, device=device, n_jobs=n_jobs)
    return NearestNeighbors(n_neighbors=k + 1, n_jobs=n_jobs)


def make_oversampler(method: str, random_state: int | None = 0, n_jobs: int | None = None, generator=None,
                     device: str = "cpu"):
    """An unfitted imbalanced-learn sampler for ``method`` (one of :data:`OVERSAMPLER_NAMES`).

    ``generator`` is required for ``"VGM"``: an unfitted generator (fitted on the data by the
    sampler) or ``sklearn.frozen.FrozenEstimator(trained_generator)``. ``device``: where the
    nearest-neighbour searches run (``"cpu"``: scikit-learn, as imbalanced-learn; CUDA:
    :class:`~idsynth.neighbours.TorchNearestNeighbors`; ``"auto"``: CUDA when present).
    """
    k = _neighbours(_K_NEIGHBORS, n_jobs, device)
    m = _neighbours(_M_NEIGHBORS, n_jobs, device)
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
            enn=EditedNearestNeighbours(sampling_strategy="all", n_neighbors=_neighbours(_ENN_NEIGHBORS, n_jobs, device),
                                        n_jobs=n_jobs),
        )
    if method == "SMOTETomek":
        return SMOTETomek(
            random_state=random_state,
            smote=SMOTE(random_state=random_state, k_neighbors=k),
            tomek=NeighbourTomekLinks(sampling_strategy="all", n_jobs=n_jobs,
                                      nn_estimator=_neighbours(1, n_jobs, device)),
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
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray, float]:
    """Resample ``(X, y)`` into a class-balanced training set with ``method``.

    X: (n, d) float array (the encoded 116 features in [0, 1] for NSL-KDD); y: (n,) labels.
    ``generator_factory(random_state)`` returns the generator for ``"VGM"`` (see
    :func:`make_oversampler`); it is ignored by the other methods. ``device``: where the
    nearest-neighbour searches run (see :func:`make_oversampler`).

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
    sampler = make_oversampler(method, random_state=random_state, n_jobs=n_jobs, generator=generator, device=device)
    start = time.perf_counter()
    X_bal, y_bal = sampler.fit_resample(X, y)
    seconds = time.perf_counter() - start
    return np.asarray(X_bal), np.asarray(y_bal), seconds
