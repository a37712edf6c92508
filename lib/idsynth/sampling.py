"""Samplers in imbalanced-learn's API: any idsynth generator as an over-sampler, and EasyEnsemble.

:class:`GeneratorOverSampler` turns a generator that follows the protocol of
:mod:`idsynth.models.base` (``fit(X, y)``, ``sample(n_per_class, random_state) -> (X, y)``)
into an ``imblearn`` over-sampler, so that VGM (or MAGE-ID, TabDDPM, ...) can stand in an
``imblearn.pipeline.Pipeline`` beside SMOTE and its variants (Table 6 of the VGM paper).

Everything about ``sampling_strategy`` (``'auto'``, ``'all'``, ``'minority'``,
``'not minority'``, ``'not majority'``, a dict of target counts, a float ratio for binary
problems, a callable) is parsed and validated by ``imblearn``'s ``BaseOverSampler``; this
module adds only ``_fit_resample``: fit a clone of the generator on ``(X, y)``, ask it for
``sampling_strategy_[c]`` new rows of each class ``c``, append them to the original rows.

Typed frames: a ``pandas.DataFrame`` with non-numeric (string, categorical) columns, as the
mixed-type generators (MAGE-ID, TabSyn, TabDDPM) take, is passed to the generator as it is
(no conversion to a numeric array), and ``fit_resample`` returns a DataFrame with the same
columns and dtypes: the original rows first, then the generator's rows. Numeric input (arrays,
all-numeric DataFrames) is validated and returned as before.

Requirement on generators: they must be scikit-learn clonable, i.e. every constructor
argument is stored unchanged under its own name so that ``get_params`` / ``clone`` work
(inheriting from ``sklearn.base.BaseEstimator`` gives that). A generator that is already
trained is passed as ``sklearn.frozen.FrozenEstimator(generator)``: cloning then returns it
unchanged and ``fit`` is a no-op, so its trained state is used as is.

:class:`EasyEnsembleSampler` is EasyEnsemble as a data-level method (Table 6 uses it as one of
the seven over-samplers): the union of its balanced random-under-sampled subsets.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from imblearn.base import BaseSampler
from imblearn.over_sampling.base import BaseOverSampler
from imblearn.under_sampling import RandomUnderSampler
from imblearn.under_sampling.base import BaseUnderSampler
from imblearn.utils import check_target_type
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import validate_data

_MAX_SEED = np.iinfo(np.int32).max


def _as_seed(random_state) -> int | None:
    """``None`` stays ``None``; an int stays itself; a ``RandomState`` draws an int seed."""
    if random_state is None:
        return None
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(_MAX_SEED))


class GeneratorOverSampler(BaseOverSampler):
    """Over-sample with a class-conditional generator.

    Parameters
    ----------
    generator : estimator with ``fit(X, y)`` and ``sample(n_per_class, random_state)``
        The generator (see :mod:`idsynth.models.base`). It is cloned and fitted on the data
        passed to ``fit_resample``; wrap a trained one in ``sklearn.frozen.FrozenEstimator``
        to use it without refitting.
    sampling_strategy : float, str, dict or callable, default="auto"
        How many rows of each class to add; imblearn's semantics (``'auto'`` brings every
        class up to the majority count).
    random_state : int, RandomState instance or None, default=None
        Seed for the generator's ``sample`` call. If the generator has a ``random_state``
        parameter left at ``None``, it is set to the same seed before fitting, so that a fixed
        ``random_state`` makes ``fit_resample`` return identical arrays. A generator's own
        explicit seed is kept: ``VGM``'s default is ``random_state=0``, so pass
        ``VGM(random_state=None)`` to have this seed reach its training too.

    Attributes
    ----------
    sampling_strategy_ : dict
        ``{class label: number of synthetic rows to add}`` (from ``BaseOverSampler``).
    generator_ : estimator
        The fitted clone of ``generator``.
    n_features_in_ : int
        Number of columns of ``X``.

    Notes
    -----
    ``fit_resample(X, y)`` takes ``X`` as a dense numeric ``(n, d)`` array or DataFrame and
    returns ``(X_resampled, y_resampled)``: the ``n`` original rows first, in their order,
    followed by ``sum(sampling_strategy_.values())`` synthetic rows grouped by class, with
    ``X``'s dtype and ``y``'s dtype.

    A *typed* DataFrame (at least one non-numeric column: strings, categories) goes to the
    generator unchanged; its ``sample`` must then return a DataFrame holding ``X``'s columns,
    and ``X_resampled`` is a DataFrame with ``X``'s columns and dtypes and a fresh
    ``RangeIndex``.
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "generator": [HasMethods(["fit", "sample"])],
    }

    def __init__(self, generator, *, sampling_strategy="auto", random_state=None):
        super().__init__(sampling_strategy=sampling_strategy)
        self.generator = generator
        self.random_state = random_state

    def _check_X_y(self, X, y, accept_sparse=None):
        if is_typed_frame(X):
            # As imblearn's SMOTENC: let strings pass, keep the frame for the generator.
            y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
            y = np.asarray(y)
            if len(X) < 1 or y.shape != (len(X),):
                raise ValueError(f"expected X with n >= 1 rows and y of shape (n,); got {len(X)} rows and {y.shape}")
            validate_data(self, X=X, y=y, reset=True, skip_check_array=True)
            return X, y, binarize_y
        # Generators work on dense arrays: refuse sparse input with a clear TypeError.
        return super()._check_X_y(X, y, accept_sparse=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

    def _fitted_generator(self, X: np.ndarray, y: np.ndarray, seed: int | None):
        generator = clone(self.generator)
        params = generator.get_params(deep=False)
        if seed is not None and "random_state" in params and params["random_state"] is None:
            generator.set_params(random_state=seed)
        fitted = generator.fit(X, y)
        return generator if fitted is None else fitted

    def _fit_resample(self, X, y):
        seed = _as_seed(self.random_state)
        self.generator_ = self._fitted_generator(X, y, seed)
        n_per_class = {label: int(n) for label, n in self.sampling_strategy_.items() if int(n) > 0}
        if not n_per_class:
            return X.copy(), y.copy()

        X_new, y_new = self.generator_.sample(n_per_class, random_state=seed)
        typed = isinstance(X, pd.DataFrame)
        if typed:
            X_new = _frame_like(X_new, X, type(self.generator_).__name__)
        else:
            X_new = np.asarray(X_new)
        y_new = np.asarray(y_new)
        n_new = sum(n_per_class.values())
        if X_new.shape != (n_new, X.shape[1]) or y_new.shape != (n_new,):
            raise ValueError(
                f"{type(self.generator_).__name__}.sample returned X of shape {X_new.shape} and y of "
                f"shape {y_new.shape}; expected ({n_new}, {X.shape[1]}) and ({n_new},) for {n_per_class}"
            )
        labels, counts = np.unique(y_new, return_counts=True)
        got = dict(zip(labels.tolist(), counts.tolist()))
        if got != {np.asarray(k).item(): v for k, v in n_per_class.items()}:
            raise ValueError(
                f"{type(self.generator_).__name__}.sample returned class counts {got}; asked for {n_per_class}"
            )
        if typed:
            X_resampled = pd.concat([X, X_new], axis=0, ignore_index=True)
        else:
            X_resampled = np.concatenate([X, X_new.astype(X.dtype, copy=False)], axis=0)
        y_resampled = np.concatenate([y, y_new.astype(y.dtype, copy=False)], axis=0)
        return X_resampled, y_resampled


def is_typed_frame(X) -> bool:
    """True for a DataFrame with at least one column that is neither numeric nor boolean."""
    if not isinstance(X, pd.DataFrame):
        return False
    return not all(
        pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype) for dtype in X.dtypes
    )


def _frame_like(X_new, X: pd.DataFrame, generator_name: str) -> pd.DataFrame:
    """The generator's rows as a DataFrame with ``X``'s columns (in order) and dtypes."""
    if not isinstance(X_new, pd.DataFrame):
        raise TypeError(
            f"{generator_name}.sample returned a {type(X_new).__name__}; for a typed DataFrame X it must "
            f"return a DataFrame with X's columns"
        )
    missing = [c for c in X.columns if c not in X_new.columns]
    if missing:
        raise ValueError(f"{generator_name}.sample returned a frame without the columns {missing[:10]}")
    return X_new[list(X.columns)].astype(X.dtypes.to_dict()).reset_index(drop=True)


class EasyEnsembleSampler(BaseSampler):
    """EasyEnsemble (Liu, Wu & Zhou 2009) as a sampler: ``n_subsets`` balanced subsets, stacked.

    EasyEnsemble draws ``n_subsets`` independent random under-samplings of the data, each one
    balanced (every class cut down to the minority count for ``sampling_strategy="auto"``),
    and trains one AdaBoost learner per subset. imbalanced-learn today exposes only that
    classifier (``EasyEnsembleClassifier``); up to version 0.3 it also offered the sampler
    ``EasyEnsemble(n_subsets=10, replacement=False)``, whose ``fit_sample`` returned the
    subsets as an ``(n_subsets, n_rows_per_subset, d)`` array, and that is how the VGM paper
    could use EasyEnsemble as a generator of training data. This class re-creates that
    sampler, with the same defaults and seeding (subset ``i`` is
    ``RandomUnderSampler(random_state=seeds[i], replacement=replacement)`` with ``seeds``
    drawn in turn from ``RandomState(random_state).randint(2**31 - 1)``), and returns the
    subsets one after another as a single training set, so every class has ``n_subsets``
    times the minority count: still balanced, as Table 6 requires.

    Attributes
    ----------
    sampling_strategy_ : dict
        ``{class: rows kept per subset}`` for the under-sampled classes.
    subset_indices_ : list of (rows_per_subset,) int arrays
        Row indices into the input of each subset; ``fit_resample`` returns
        ``X[np.concatenate(subset_indices_)]``.
    """

    _sampling_type = "under-sampling"
    _parameter_constraints: dict = {
        **BaseUnderSampler._parameter_constraints,
        "n_subsets": [Interval(numbers.Integral, 1, None, closed="left")],
        "replacement": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, *, sampling_strategy="auto", n_subsets: int = 10, replacement: bool = False, random_state=None):
        super().__init__(sampling_strategy=sampling_strategy)
        self.n_subsets = n_subsets
        self.replacement = replacement
        self.random_state = random_state

    def _fit_resample(self, X, y):
        rng = check_random_state(self.random_state)
        self.subset_indices_ = []
        for _ in range(self.n_subsets):
            under = RandomUnderSampler(
                sampling_strategy=self.sampling_strategy_,
                replacement=self.replacement,
                random_state=int(rng.randint(_MAX_SEED)),
            )
            under.fit_resample(X, y)
            self.subset_indices_.append(under.sample_indices_)
        rows = np.concatenate(self.subset_indices_)
        return X[rows], y[rows]
