"""The eight Table 6 methods: balanced output, imblearn's defaults kept, determinism, errors."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sklearn.svm import SVC
from imblearn.combine import SMOTEENN, SMOTETomek
from imblearn.over_sampling import ADASYN, SMOTE, SVMSMOTE, BorderlineSMOTE
from sklearn.datasets import make_classification

from idsynth.experiments.oversampling import (
    OVERSAMPLER_NAMES,
    PAPER_NAMES,
    SVCFitOnce,
    balanced_training_set,
    make_oversampler,
)
from sampling_fakes import ClassGaussianGenerator


@pytest.fixture(scope="module")
def imbalanced():
    """Five classes, rows scaled to [0, 1] like the encoded NSL-KDD; the rarest class has ~14 rows."""
    X, y = make_classification(
        n_samples=700, n_features=12, n_informative=6, n_classes=5, n_clusters_per_class=1,
        weights=[0.5, 0.3, 0.12, 0.06, 0.02], class_sep=1.5, random_state=0,
    )
    X = (X - X.min(axis=0)) / (X.max(axis=0) - X.min(axis=0))
    return X.astype(np.float32), y


def _factory(seed):
    return ClassGaussianGenerator(random_state=seed)


@pytest.mark.parametrize("method", OVERSAMPLER_NAMES)
def test_every_method_returns_a_balanced_set_deterministically(imbalanced, method):
    X, y = imbalanced
    counts = Counter(y)
    X_a, y_a, seconds = balanced_training_set(method, X, y, random_state=3, generator_factory=_factory)
    X_b, y_b, _ = balanced_training_set(method, X, y, random_state=3, generator_factory=_factory)
    np.testing.assert_array_equal(X_a, X_b)
    np.testing.assert_array_equal(y_a, y_b)
    assert seconds >= 0 and X_a.dtype == X.dtype and X_a.shape[1] == X.shape[1]
    got = Counter(y_a)
    assert set(got) == set(counts)
    if method == "EasyEnsemble":
        assert got == {c: 10 * min(counts.values()) for c in counts}
    elif method in ("SMOTEENN", "SMOTETomek", "ADASYN"):
        # SMOTE then cleaning removes a few rows per class; ADASYN's count is approximate.
        assert max(got.values()) / min(got.values()) < 1.5
        assert min(got.values()) > 0.6 * max(counts.values())
    else:
        assert got == {c: max(counts.values()) for c in counts}
    assert method in PAPER_NAMES


_IMBLEARN_DEFAULTS = {
    "SMOTE": SMOTE,
    "BorderlineSMOTE": BorderlineSMOTE,
    "SMOTEENN": SMOTEENN,
    "SMOTETomek": SMOTETomek,
    "ADASYN": ADASYN,
    "SVMSMOTE": SVMSMOTE,
}


@pytest.mark.parametrize("method", sorted(_IMBLEARN_DEFAULTS))
def test_speed_settings_leave_imblearns_default_output_unchanged(imbalanced, method):
    X, y = imbalanced
    ours = make_oversampler(method, random_state=5, n_jobs=2).fit_resample(X, y)
    reference = _IMBLEARN_DEFAULTS[method](random_state=5).fit_resample(X, y)
    np.testing.assert_array_equal(ours[0], reference[0])
    np.testing.assert_array_equal(ours[1], reference[1])


def test_svm_smote_fits_its_svm_once_for_all_minority_classes_and_seeds(imbalanced, monkeypatch):
    X, y = imbalanced
    libsvm_fits = []
    plain_fit = SVC.fit

    def counting_fit(self, *args, **kwargs):
        libsvm_fits.append(self.get_params()["C"])
        return plain_fit(self, *args, **kwargs)

    monkeypatch.setattr(SVC, "fit", counting_fit)
    monkeypatch.setattr(SVCFitOnce, "_last", None)
    first = SVMSMOTE(random_state=0, svm_estimator=SVCFitOnce(gamma="scale", random_state=0)).fit_resample(X, y)
    assert len(libsvm_fits) == 1  # four minority classes, one libsvm fit
    SVMSMOTE(random_state=0, svm_estimator=SVCFitOnce(gamma="scale", random_state=1)).fit_resample(X.copy(), y.copy())
    assert len(libsvm_fits) == 1  # another seed, equal arrays: the fit is reused
    again = SVMSMOTE(random_state=0, svm_estimator=SVC(gamma="scale")).fit_resample(X, y)
    assert len(libsvm_fits) == 5  # the plain SVC: one libsvm fit per minority class
    for ours, plain in zip(first, again):
        np.testing.assert_array_equal(ours, plain)
    svc = SVCFitOnce().fit(X, y)  # reused (random_state aside, the same settings)
    assert len(libsvm_fits) == 5
    support = svc.support_.copy()
    svc.fit(X[::-1].copy(), y[::-1].copy())  # other arrays: refitted
    assert not np.array_equal(support, svc.support_)
    SVCFitOnce(C=0.5).fit(X, y)  # other settings: refitted
    assert libsvm_fits[-1] == 0.5 and len(libsvm_fits) == 7


def test_vgm_uses_the_generator_and_bad_requests_fail_clearly(imbalanced):
    X, y = imbalanced
    X_bal, y_bal, _ = balanced_training_set("VGM", X, y, random_state=0, generator_factory=_factory)
    np.testing.assert_array_equal(X_bal[: len(X)], X)  # originals first, then the synthetic rows
    with pytest.raises(ValueError, match="generator_factory"):
        balanced_training_set("VGM", X, y)
    with pytest.raises(ValueError, match="unknown over-sampling method"):
        balanced_training_set("RandomOverSampler", X, y)
    with pytest.raises(ValueError, match="shape"):
        balanced_training_set("SMOTE", X, y[:-1])
