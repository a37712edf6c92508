"""Samplers in imbalanced-learn's API: any idsynth generator as an over-sampler, and EasyEnsemble.

:class:`GeneratorOverSampler` turns a generator that follows the protocol of
:mod:`idsynth.models.base` (``fit(X, y)``, ``sample(n_per_class, random_state) -> (X, y)``)
into an ``imblearn`` over-sampler, so that VGM, MAGE-ID, TabSyn, TabDDPM or SMOTE can stand in
an ``imblearn.pipeline.Pipeline`` beside SMOTE and its variants (Table 6 of the VGM paper).

Everything about ``sampling_strategy`` (``'auto'``, ``'all'``, ``'minority'``,
``'not minority'``, ``'not majority'``, a dict of target counts, a float ratio for binary
problems, a callable) is parsed and validated by ``imblearn``'s ``BaseOverSampler``; this
module adds ``_fit_resample``: fit a clone of the generator on ``(X, y)``, ask it for
``sampling_strategy_[c]`` new rows of each class ``c``, append them to the original rows.

One input path for every generator (:func:`idsynth.data.user_table.check_table`): ``X`` is a
DataFrame (all-numeric or mixed), or a 2-D array with an optional column spec (``columns``,
``categorical``); ``y`` holds strings, integers or bools. Errors name the column and row at
fault. The labels are encoded once as codes ``0..K-1`` for the generator and decoded back, so
no generator sees strings. What the generator receives:

* MAGE-ID, TabSyn, TabDDPM, :class:`~idsynth.models.encoded_frame.EncodedFrameGenerator` and
  any other generator: a DataFrame of X's columns (an array without a spec goes to a generator
  of unknown kind as the array, as before);
* VGM and :class:`~idsynth.models.smote_generator.SMOTEGenerator`, which learn an encoded matrix:
  wrapped in ``EncodedFrameGenerator`` (numerics min-max scaled, categories one-hot, decoded
  back) for a DataFrame or a specified array; a bare numeric array goes to them as it is.

``fit_resample`` returns X's type: a DataFrame with X's columns and dtypes (integer columns
rounded) or an array of X's dtype; the original rows first, then the synthetic ones.

A trained generator is passed as ``sklearn.frozen.FrozenEstimator(generator)``: cloning then
returns it unchanged and ``fit`` is a no-op; it receives the labels as the user gave them (it
was trained on those), and no wrapping.

``report`` runs :func:`idsynth.metrics.synthetic_check` on the rows added (a forest trained on
the real rows, constraints learnt from them) and stores it as ``check_``; ``"warn"`` issues a
:class:`~idsynth.metrics.SyntheticDataWarning` for classes above the thresholds, ``"print"``
prints the whole report too.

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
from sklearn.frozen import FrozenEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import validate_data

from .data.user_table import UserTable, check_table

_MAX_SEED = np.iinfo(np.int32).max
REPORTS = ("warn", "print")


def _as_seed(random_state) -> int | None:
    """``None`` stays ``None``; an int stays itself; a ``RandomState`` draws an int seed."""
    if random_state is None:
        return None
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(_MAX_SEED))


def _generator_kinds() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(generators of encoded matrices, generators of typed frames) of this package."""
    from .models.encoded_frame import INNER_CLASSES, EncodedFrameGenerator
    from .models.mageid import MAGEID
    from .models.tabddpm import TabDDPM

    return tuple(INNER_CLASSES.values()), (EncodedFrameGenerator, MAGEID, TabDDPM)


class GeneratorOverSampler(BaseOverSampler):
    """Over-sample with a class-conditional generator.

    Parameters
    ----------
    generator : estimator with ``fit(X, y)`` and ``sample(n_per_class, random_state)``
        The generator (see :mod:`idsynth.models.base`). It is cloned and fitted on the data
        passed to ``fit_resample`` (VGM and SMOTEGenerator inside an ``EncodedFrameGenerator``
        for tables, see the module docstring); wrap a trained one in
        ``sklearn.frozen.FrozenEstimator`` to use it without refitting.
    sampling_strategy : float, str, dict or callable, default="auto"
        How many rows of each class to add; imblearn's semantics (``'auto'`` brings every
        class up to the majority count). Dict keys are the user's labels.
    random_state : int, RandomState instance or None, default=None
        Seed for the generator's ``sample`` call. If the generator has a ``random_state``
        parameter left at ``None``, it is set to the same seed before fitting, so that a fixed
        ``random_state`` makes ``fit_resample`` return identical arrays. A generator's own
        explicit seed is kept: ``VGM``'s default is ``random_state=0``, so pass
        ``VGM(random_state=None)`` to have this seed reach its training too.
    columns : sequence of names, default=None
        Names of the columns of an array ``X`` (a DataFrame has its own).
    categorical : sequence of names or positions, default=None
        Columns to treat as categories although they hold numbers (e.g. a protocol number);
        non-numeric columns are categorical anyway.
    report : None, "warn" or "print", default=None
        Check the synthetic rows (:func:`idsynth.metrics.synthetic_check`) after sampling:
        store it as ``check_`` and warn (``"warn"``), or also print it (``"print"``).
    min_own_class_share, max_violation_share : float in [0, 1], defaults 0.5 and 0.05
        The report's thresholds (see :func:`~idsynth.metrics.synthetic_check`).
    keep_identities : bool, default=False
        Recompute every numeric column that is an exact linear function of other numeric
        columns in all rows of ``X`` (a copy, a sum, a rate difference: flow features derived
        from one another, :func:`idsynth.data.identities.find_identities`) from those columns in
        the synthetic rows, so that they hold there too (``identities_`` lists them).

    Attributes
    ----------
    sampling_strategy_ : dict
        ``{class label: number of synthetic rows to add}`` (from ``BaseOverSampler``).
    generator_ : estimator
        The fitted generator (for VGM/SMOTEGenerator on a table: the ``EncodedFrameGenerator``
        around the fitted clone). Unless frozen, it was fitted on label codes: code ``i`` is
        ``classes_[i]``.
    classes_ : ndarray of shape (K,)
        The labels of ``y``, sorted.
    check_ : SyntheticCheck
        The synthetic-data check of the last ``fit_resample`` (with ``report`` set).
    identities_ : list of Identity
        The rules kept in the synthetic rows (with ``keep_identities``; [] if none holds).
    n_features_in_ : int
        Number of columns of ``X``.
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "generator": [HasMethods(["fit", "sample"])],
        "columns": [None, "array-like"],
        "categorical": [None, "array-like"],
        "report": [None, StrOptions(set(REPORTS))],
        "min_own_class_share": [Interval(numbers.Real, 0, 1, closed="both")],
        "max_violation_share": [Interval(numbers.Real, 0, 1, closed="both")],
        "keep_identities": ["boolean"],
    }

    def __init__(self, generator, *, sampling_strategy="auto", random_state=None, columns=None, categorical=None,
                 report=None, min_own_class_share=0.5, max_violation_share=0.05, keep_identities=False):
        super().__init__(sampling_strategy=sampling_strategy)
        self.generator = generator
        self.random_state = random_state
        self.columns = columns
        self.categorical = categorical
        self.report = report
        self.min_own_class_share = min_own_class_share
        self.max_violation_share = max_violation_share
        self.keep_identities = keep_identities

    def _check_X_y(self, X, y, accept_sparse=None):
        if not isinstance(X, pd.DataFrame) and not hasattr(X, "__array__") and not isinstance(X, (list, tuple)):
            return super()._check_X_y(X, y, accept_sparse=False)  # sparse and others: imblearn's TypeError
        if isinstance(X, pd.DataFrame) and any(isinstance(d, pd.SparseDtype) for d in X.dtypes):
            raise TypeError("X has sparse columns; generators need dense data (X.sparse.to_dense())")
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        table = check_table(X, y, columns=self.columns, categorical=self.categorical)
        validate_data(self, X=X if isinstance(X, pd.DataFrame) else table.array, y=np.asarray(y), reset=True,
                      skip_check_array=True)
        self.classes_ = table.classes
        return table, np.asarray(y), binarize_y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

    def _plan(self, table: UserTable):
        """``(generator, X for fit/sample, labels are codes)`` for this input (module docstring)."""
        matrix_kinds, frame_kinds = _generator_kinds()
        frozen = isinstance(self.generator, FrozenEstimator)
        inner = self.generator.estimator if frozen else self.generator
        bare_array = table.source == "array" and self.columns is None and self.categorical is None
        if isinstance(inner, matrix_kinds) and (frozen or bare_array):
            if table.categorical:
                raise TypeError(f"{type(inner).__name__} learns numbers; X has the categorical columns "
                                f"{table.categorical[:10]}: pass an unfitted generator (it is then wrapped in an "
                                f"EncodedFrameGenerator) or a DataFrame")
            matrix = table.frame.to_numpy(dtype=np.float64) if table.array is None else table.array
            return self.generator, matrix, not frozen
        if bare_array and not isinstance(inner, frame_kinds + matrix_kinds):
            return self.generator, table.array, not frozen
        if isinstance(inner, matrix_kinds):
            from .models.encoded_frame import EncodedFrameGenerator

            return EncodedFrameGenerator(inner, numeric=table.numeric, categorical=table.categorical), table.frame, True
        return self.generator, table.frame, not frozen

    @staticmethod
    def _fitted_generator(generator, X, y, seed: int | None):
        """A clone of ``generator`` fitted on ``(X, y)``; ``seed`` fills its (or its wrapped
        generator's) ``random_state`` when that is left at None."""
        generator = clone(generator)
        params = generator.get_params(deep=True)
        key = next((k for k in ("random_state", "generator__random_state") if k in params), None)
        if seed is not None and key is not None and params[key] is None:
            generator.set_params(**{key: seed})
        fitted = generator.fit(X, y)
        return generator if fitted is None else fitted

    def _fit_resample(self, X: UserTable, y):
        table = X
        seed = _as_seed(self.random_state)
        generator, X_in, coded = self._plan(table)
        self.generator_ = self._fitted_generator(generator, X_in, table.codes if coded else y, seed)
        n_per_class = {label: int(n) for label, n in self.sampling_strategy_.items() if int(n) > 0}
        self.__dict__.pop("check_", None)
        if self.keep_identities:
            from .data.identities import find_identities

            self.identities_ = find_identities(table.frame, table.numeric)
        if not n_per_class:
            return self._output(table, None), y.copy()
        asked = {table.code_of(label) if coded else label: n for label, n in n_per_class.items()}
        X_new, y_new = self.generator_.sample(asked, random_state=seed)
        name = type(self.generator_).__name__
        y_new = np.asarray(y_new)
        n_new = sum(n_per_class.values())
        if y_new.shape != (n_new,) or len(X_new) != n_new:
            raise ValueError(f"{name}.sample returned X of shape {np.shape(X_new)} and y of shape {y_new.shape}; "
                             f"expected ({n_new}, {table.frame.shape[1]}) and ({n_new},) for {n_per_class}")
        if coded:
            y_new = table.labels(y_new)
        X_new = _frame_like(X_new, table, name)
        if self.keep_identities:
            from .data.identities import keep_identities

            X_new = keep_identities(X_new, self.identities_)
        labels, counts = np.unique(y_new, return_counts=True)
        got = dict(zip(labels.tolist(), counts.tolist()))
        if got != {np.asarray(k).item(): v for k, v in n_per_class.items()}:
            raise ValueError(f"{name}.sample returned class counts {got}; asked for {n_per_class}")
        if self.report is not None:
            self._check_synthetic(table, y, X_new, y_new)
        y_resampled = np.concatenate([y, y_new.astype(y.dtype, copy=False)], axis=0)
        return self._output(table, X_new), y_resampled

    def _output(self, table: UserTable, X_new: pd.DataFrame | None):
        """The original rows then ``X_new``, as a DataFrame (X's dtypes) or an array (X's dtype)."""
        if table.source == "array":
            if X_new is None:
                return table.array.copy()
            return np.concatenate([table.array, X_new.to_numpy(dtype=table.array.dtype)], axis=0)
        original = table.frame.astype(table.dtypes)
        if X_new is None:
            return original
        return pd.concat([original, X_new], axis=0, ignore_index=True)

    def _check_synthetic(self, table: UserTable, y, X_new: pd.DataFrame, y_new) -> None:
        from .metrics.synthetic_check import synthetic_check

        real = table.frame.astype(table.dtypes)
        self.check_ = synthetic_check(real, y, X_new, y_new, categorical=table.categorical,
                                      min_own_class_share=self.min_own_class_share,
                                      max_violation_share=self.max_violation_share,
                                      random_state=_as_seed(self.random_state) or 0)
        agreement = getattr(self.generator_, "label_agreement_", None)
        if agreement is not None:
            self.check_.extra["label_agreement_ (decoded label = asked label)"] = round(float(agreement), 3)
        if self.report == "print":
            print(self.check_)
        self.check_.warn(stacklevel=4)


def _cast_column(values: pd.Series, dtype, column, generator_name: str) -> pd.Series:
    """One generated column in the user's ``dtype``: whole numbers rounded for integer dtypes,
    ``"True"``/``"False"`` strings back to bools; a NaN in an integer column is an error."""
    if pd.api.types.is_bool_dtype(dtype) and not pd.api.types.is_bool_dtype(values):
        return values.astype(str).str.lower().isin(["true", "1", "1.0"])
    if pd.api.types.is_integer_dtype(dtype) and pd.api.types.is_numeric_dtype(values):
        numbers_ = values.to_numpy(dtype=np.float64)
        if not np.isfinite(numbers_).all():
            raise ValueError(f"{generator_name}.sample returned NaN or infinite values in the integer column "
                             f"{column!r}")
        return pd.Series(np.round(numbers_), index=values.index).astype(dtype)
    return values.astype(dtype)


def _frame_like(X_new, table: UserTable, generator_name: str) -> pd.DataFrame:
    """The generator's rows as a DataFrame with X's columns (in order) and the user's dtypes."""
    columns = table.columns
    if not isinstance(X_new, pd.DataFrame):
        array = np.asarray(X_new)
        if table.categorical and array.dtype != object:
            raise TypeError(f"{generator_name}.sample returned a {type(X_new).__name__} of numbers; for X with the "
                            f"categorical columns {table.categorical[:10]} it must return a DataFrame with X's columns")
        if array.ndim != 2 or array.shape[1] != len(columns):
            raise ValueError(f"{generator_name}.sample returned rows of shape {array.shape}; expected "
                             f"(n, {len(columns)}) for X's columns")
        X_new = pd.DataFrame(array, columns=columns)
    missing = [c for c in columns if c not in X_new.columns]
    if missing:
        raise ValueError(f"{generator_name}.sample returned a frame without the columns {missing[:10]}")
    X_new = X_new[columns].reset_index(drop=True)
    return pd.DataFrame({c: _cast_column(X_new[c], table.dtypes[c], c, generator_name) for c in columns},
                        columns=columns)


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
