"""GeneratorOverSampler: imblearn semantics, pipelines, cloning, determinism, estimator checks."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from imblearn.pipeline import Pipeline
from imblearn.under_sampling import RandomUnderSampler
from imblearn.utils.estimator_checks import estimator_checks_generator
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks as sklearn_checks

from idsynth.sampling import EasyEnsembleSampler, GeneratorOverSampler
from sampling_fakes import ClassGaussianGenerator


def _imbalanced(n=600, weights=(0.7, 0.2, 0.1), seed=0):
    X, y = make_classification(
        n_samples=n, n_features=6, n_informative=4, n_classes=len(weights), weights=list(weights),
        n_clusters_per_class=1, class_sep=2.0, random_state=seed,
    )
    return X.astype(np.float32), y


def test_auto_balances_every_class_to_the_majority_and_keeps_the_originals_first():
    X, y = _imbalanced()
    counts = Counter(y)
    X_res, y_res = GeneratorOverSampler(ClassGaussianGenerator(), random_state=0).fit_resample(X, y)
    majority = max(counts.values())
    assert Counter(y_res) == {label: majority for label in counts}
    np.testing.assert_array_equal(X_res[: len(X)], X)
    np.testing.assert_array_equal(y_res[: len(y)], y)
    assert X_res.dtype == X.dtype and y_res.dtype == y.dtype


def test_synthetic_rows_come_from_the_fitted_class_distributions():
    X, y = _imbalanced(n=3000)
    sampler = GeneratorOverSampler(ClassGaussianGenerator(), sampling_strategy={2: 20000}, random_state=1)
    X_res, y_res = sampler.fit_resample(X, y)
    new = X_res[len(X):]
    assert (y_res[len(y):] == 2).all()
    np.testing.assert_allclose(new.mean(axis=0), X[y == 2].mean(axis=0), atol=0.05)
    np.testing.assert_allclose(new.std(axis=0), X[y == 2].std(axis=0), rtol=0.05)


def test_dict_strategy_counts_are_honoured_and_other_classes_untouched():
    X, y = _imbalanced()
    counts = Counter(y)
    target = {1: counts[1] + 50, 2: counts[2] + 300}
    sampler = GeneratorOverSampler(ClassGaussianGenerator(), sampling_strategy=target, random_state=0)
    _, y_res = sampler.fit_resample(X, y)
    assert Counter(y_res) == {0: counts[0], **target}
    assert sampler.sampling_strategy_ == {1: 50, 2: 300}


def test_float_ratio_for_a_binary_problem():
    X, y = _imbalanced(weights=(0.9, 0.1))
    counts = Counter(y)
    _, y_res = GeneratorOverSampler(ClassGaussianGenerator(), sampling_strategy=0.5, random_state=0).fit_resample(X, y)
    assert Counter(y_res)[0] == counts[0]
    assert Counter(y_res)[1] == int(0.5 * counts[0])  # imblearn truncates


def test_float_ratio_for_multiclass_is_refused_by_the_base_class():
    X, y = _imbalanced()
    with pytest.raises(ValueError, match="binary"):
        GeneratorOverSampler(ClassGaussianGenerator(), sampling_strategy=0.5).fit_resample(X, y)


def test_minority_and_all_strategies():
    X, y = _imbalanced()
    counts = Counter(y)
    majority = max(counts.values())
    _, y_min = GeneratorOverSampler(ClassGaussianGenerator(), sampling_strategy="minority", random_state=0).fit_resample(X, y)
    assert Counter(y_min) == {0: counts[0], 1: counts[1], 2: majority}
    sampler = GeneratorOverSampler(ClassGaussianGenerator(), sampling_strategy="all", random_state=0)
    _, y_all = sampler.fit_resample(X, y)
    assert Counter(y_all) == {label: majority for label in counts}
    assert sampler.sampling_strategy_[0] == 0


def test_same_random_state_gives_identical_output_and_another_differs():
    X, y = _imbalanced()
    make = lambda rs: GeneratorOverSampler(ClassGaussianGenerator(jitter=0.5), random_state=rs)  # noqa: E731
    X_a, y_a = make(3).fit_resample(X, y)
    X_b, y_b = make(3).fit_resample(X, y)
    X_c, _ = make(4).fit_resample(X, y)
    np.testing.assert_array_equal(X_a, X_b)
    np.testing.assert_array_equal(y_a, y_b)
    assert not np.array_equal(X_a, X_c)


def test_the_seed_is_passed_to_a_generator_whose_random_state_is_unset_but_not_over_an_explicit_one():
    X, y = _imbalanced()
    sampler = GeneratorOverSampler(ClassGaussianGenerator(jitter=0.5), random_state=7).fit(X, y)
    sampler.fit_resample(X, y)
    assert sampler.generator_.random_state == 7
    assert sampler.generator.random_state is None  # the template is not modified
    pinned = GeneratorOverSampler(ClassGaussianGenerator(jitter=0.5, random_state=11), random_state=7)
    pinned.fit_resample(X, y)
    assert pinned.generator_.random_state == 11


def test_clone_gives_an_unfitted_equal_copy():
    X, y = _imbalanced()
    target = {1: int((y == 1).sum()) + 10}
    sampler = GeneratorOverSampler(ClassGaussianGenerator(jitter=0.1), sampling_strategy=target, random_state=5)
    sampler.fit_resample(X, y)
    copy = clone(sampler)
    assert copy.get_params()["generator__jitter"] == 0.1
    assert copy.get_params()["sampling_strategy"] == target
    assert not hasattr(copy, "generator_")
    X1, y1 = sampler.fit_resample(X, y)
    X2, y2 = copy.fit_resample(X, y)
    np.testing.assert_array_equal(X1, X2)


def test_inside_an_imblearn_pipeline_with_a_classifier():
    X, y = _imbalanced(n=1200)
    pipe = Pipeline([
        ("oversample", GeneratorOverSampler(ClassGaussianGenerator(), random_state=0)),
        ("classify", LogisticRegression(max_iter=500)),
    ])
    pipe.fit(X, y)
    assert pipe.score(X, y) > 0.8
    # The sampler only acts during fit: predict sees the rows unchanged.
    assert pipe.predict(X).shape == y.shape
    pipe.set_params(oversample__generator__jitter=0.0, oversample__sampling_strategy="minority")
    assert pipe.fit(X, y).score(X, y) > 0.8


def test_a_frozen_trained_generator_is_used_as_is():
    X, y = _imbalanced()
    trained = ClassGaussianGenerator().fit(X, y)
    trained.means_ = trained.means_ + 100.0  # a mark that refitting would erase
    sampler = GeneratorOverSampler(FrozenEstimator(trained), sampling_strategy={2: 500}, random_state=0)
    X_res, _ = sampler.fit_resample(X, y)
    assert X_res[len(X):].mean() > 50


def test_bad_generator_and_sparse_input_are_rejected_clearly():
    X, y = _imbalanced()
    with pytest.raises(ValueError, match="generator"):
        GeneratorOverSampler(LogisticRegression()).fit_resample(X, y)
    from scipy import sparse

    with pytest.raises(TypeError, match="[Ss]parse"):
        GeneratorOverSampler(ClassGaussianGenerator()).fit_resample(sparse.csr_matrix(X), y)


class _WrongCounts(ClassGaussianGenerator):
    def sample(self, n_per_class, random_state=None):
        X, y = super().sample(n_per_class, random_state)
        return X[:-1], y[:-1]


def test_a_generator_that_returns_the_wrong_number_of_rows_is_reported():
    X, y = _imbalanced()
    with pytest.raises(ValueError, match="expected"):
        GeneratorOverSampler(_WrongCounts()).fit_resample(X, y)


# imbalanced-learn's sampler checks (dtype preservation, pandas/list round trips, one-vs-all
# targets, sampling_strategy dicts, ...). The sampler declares sparse=False in its tags
# (generators work on dense arrays), so imblearn does not generate its sparse-matrix check; it
# still generates the pandas-sparse one, which cannot apply for the same reason.
_IMBLEARN_NOT_APPLICABLE = {
    "check_samplers_pandas_sparse": "generators need dense X; sparse pandas columns are refused with a TypeError",
}
def _check_name(check) -> str:
    while hasattr(check, "func") or hasattr(check, "__wrapped__"):
        check = getattr(check, "func", None) or check.__wrapped__
    return check.__name__


_IMBLEARN_CHECKS = list(
    estimator_checks_generator(
        GeneratorOverSampler(ClassGaussianGenerator(), random_state=0),
        expected_failed_checks=_IMBLEARN_NOT_APPLICABLE,
        mark="xfail",
    )
)


@pytest.mark.parametrize(
    "estimator, check", _IMBLEARN_CHECKS, ids=lambda obj: _check_name(obj) if callable(obj) else "sampler"
)
def test_imblearn_estimator_checks(estimator, check):
    check(estimator)


# scikit-learn's generic API checks (cloning, get/set_params, no attributes set in __init__,
# parameter validation, pickling, ...). Those that need predict/transform are not generated
# for an estimator that has neither. All of them apply and pass.
@sklearn_checks([GeneratorOverSampler(ClassGaussianGenerator(), random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# -- EasyEnsembleSampler ---------------------------------------------------------------------
def test_easy_ensemble_stacks_n_balanced_under_samplings():
    X, y = _imbalanced(n=900)
    counts = Counter(y)
    minority = min(counts.values())
    sampler = EasyEnsembleSampler(n_subsets=4, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert Counter(y_res) == {label: 4 * minority for label in counts}
    assert len(sampler.subset_indices_) == 4
    seeds = np.random.RandomState(0).randint(np.iinfo(np.int32).max, size=4)
    for rows, seed in zip(sampler.subset_indices_, seeds):
        assert Counter(y[rows]) == {label: minority for label in counts}
        assert len(set(rows.tolist())) == len(rows)  # replacement=False: no repeats inside a subset
        ref = RandomUnderSampler(random_state=int(seed))
        ref.fit_resample(X, y)
        np.testing.assert_array_equal(rows, ref.sample_indices_)
    np.testing.assert_array_equal(X_res, X[np.concatenate(sampler.subset_indices_)])
    # The minority class is kept whole in every subset; the others differ from subset to subset.
    first, second = (set(r[y[r] == 0].tolist()) for r in sampler.subset_indices_[:2])
    assert first != second


def test_easy_ensemble_is_deterministic_per_seed():
    X, y = _imbalanced()
    a = EasyEnsembleSampler(random_state=5).fit_resample(X, y)
    b = EasyEnsembleSampler(random_state=5).fit_resample(X, y)
    c = EasyEnsembleSampler(random_state=6).fit_resample(X, y)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


_EASY_CHECKS = list(estimator_checks_generator(EasyEnsembleSampler(n_subsets=3, random_state=0), mark="xfail"))


@pytest.mark.parametrize(
    "estimator, check", _EASY_CHECKS, ids=lambda obj: _check_name(obj) if callable(obj) else "easy"
)
def test_easy_ensemble_imblearn_checks(estimator, check):
    check(estimator)


@sklearn_checks([EasyEnsembleSampler(n_subsets=3, random_state=0)])
def test_easy_ensemble_sklearn_checks(estimator, check):
    check(estimator)


# -- with the real generator -------------------------------------------------------------------
def _small_vgm():
    from idsynth.models.vgm import VGM

    return VGM(option="C", n_features=6, n_classes=3, latent_dim=2, encoder_units=(16,), decoder_units=(16,),
               label_repeat=2, label_units=8, continuous_features=4, epochs=2, batch_size=50, device="cpu",
               verbose=False)  # fmt: skip


def test_vgm_as_an_over_sampler():
    X, y = _imbalanced(n=300)
    X = (X - X.min(axis=0)) / (X.max(axis=0) - X.min(axis=0))  # VGM takes features in [0, 1]
    sampler = GeneratorOverSampler(_small_vgm(), random_state=4)
    X_res, y_res = sampler.fit_resample(X, y)
    assert Counter(y_res) == {c: max(Counter(y).values()) for c in Counter(y)}
    assert X_res.dtype == X.dtype and ((X_res >= 0) & (X_res <= 1)).all()
    X_again, _ = clone(sampler).fit_resample(X, y)
    np.testing.assert_array_equal(X_res, X_again)
    frozen = GeneratorOverSampler(FrozenEstimator(sampler.generator_), random_state=4)
    np.testing.assert_array_equal(frozen.fit_resample(X, y)[0], X_res)


# --- typed frames (numeric and string columns), as MAGE-ID, TabSyn and TabDDPM take -----------


def _typed(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.choice([0, 1, 2], size=n, p=[0.7, 0.2, 0.1])
    frame = pd.DataFrame({
        "bytes": (rng.integers(0, 1000, n) + 5000 * y).astype(np.int64),
        "rate": rng.random(n) + y,
        "proto": np.where(y == 2, "icmp", rng.choice(["tcp", "udp"], n)),
        "flag": pd.Categorical(rng.choice(["SF", "S0"], n)),
    })  # fmt: skip
    return frame, y


def test_a_typed_frame_goes_to_the_generator_as_a_frame_and_comes_back_typed():
    from sampling_fakes import ClassFrameGenerator

    X, y = _typed()
    sampler = GeneratorOverSampler(ClassFrameGenerator(), random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    majority = max(Counter(y).values())
    assert isinstance(X_res, pd.DataFrame) and list(X_res.columns) == list(X.columns)
    assert X_res.dtypes.to_dict() == X.dtypes.to_dict()
    assert Counter(y_res) == {label: majority for label in Counter(y)}
    pd.testing.assert_frame_equal(X_res.iloc[: len(X)], X)
    assert (X_res.index == np.arange(len(X_res))).all()
    new, y_new = X_res.iloc[len(X):], y_res[len(y):]
    # the generator learnt each class: class 2 is all icmp, its bytes far above the others
    assert (new.loc[y_new == 2, "proto"] == "icmp").all()
    assert new.loc[y_new == 2, "bytes"].mean() > 9000 > new.loc[y_new == 1, "bytes"].mean() > 4000
    X_again, _ = GeneratorOverSampler(ClassFrameGenerator(), random_state=0).fit_resample(X, y)
    pd.testing.assert_frame_equal(X_again, X_res)


def test_a_typed_frame_needs_a_generator_that_returns_frames():
    X, y = _typed()
    with pytest.raises(TypeError, match="DataFrame"):
        GeneratorOverSampler(_FrameToArray(), random_state=0).fit_resample(X, y)
    with pytest.raises(ValueError, match="shape"):
        GeneratorOverSampler(_FrameToArray(), random_state=0).fit_resample(X, y[:-1])


class _FrameToArray(ClassGaussianGenerator):
    """Fits on the numeric columns of a frame, returns arrays (wrong for typed input)."""

    def fit(self, X, y):
        return super().fit(X.select_dtypes("number"), y)


def test_keep_identities_makes_the_synthetic_rows_keep_the_columns_derived_from_others():
    from sampling_fakes import ClassFrameGenerator

    X, y = _typed()
    X = X.assign(bytes_copy=X["bytes"], total=lambda f: f["bytes"] + 2 * f["bytes_copy"])  # derived columns
    plain_X, _ = GeneratorOverSampler(ClassFrameGenerator(), random_state=0).fit_resample(X, y)
    new = plain_X.iloc[len(X):]
    assert not np.allclose(new["bytes_copy"], new["bytes"])  # a column-by-column generator breaks them
    sampler = GeneratorOverSampler(ClassFrameGenerator(), random_state=0, keep_identities=True)
    X_res, y_res = sampler.fit_resample(X, y)
    new = X_res.iloc[len(X):]
    assert [r.target for r in sampler.identities_] == ["bytes_copy", "total"]
    assert (new["bytes_copy"] == new["bytes"]).all() and np.allclose(new["total"], 3 * new["bytes"])
    pd.testing.assert_frame_equal(X_res.iloc[: len(X)], X)  # the real rows are untouched
    untouched = [c for c in X.columns if c not in ("bytes_copy", "total")]
    pd.testing.assert_frame_equal(new[untouched], plain_X.iloc[len(X):][untouched])
