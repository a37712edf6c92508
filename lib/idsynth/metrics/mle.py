"""Machine-learning efficacy (MLE): train on synthetic, test on held-out real, score ROC AUC.

MAGE-ID's Table I "AUC (MLE)" column. The default classifier is scikit-learn's
``HistGradientBoostingClassifier`` with its default settings (**our choice**): TabSyn's
protocol uses a gradient-boosted tree ensemble (XGBoost); the histogram booster is the same
family, needs no extra dependency, is strong without tuning and fast on tens of thousands of
rows. Any unfitted scikit-learn classifier may be passed instead (it is cloned, not modified).
:func:`mle_ceiling` trains the same classifier on the *real* training rows: the
train-on-real AUC that a synthetic set can at best approach.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from idsynth.metrics._common import as_features


def default_mle_classifier(random_state: int = 0) -> ClassifierMixin:
    """The unfitted default MLE classifier (histogram gradient boosting, default settings)."""
    return HistGradientBoostingClassifier(random_state=random_state)


def _scores(fitted, X: np.ndarray, binary: bool) -> np.ndarray:
    if hasattr(fitted, "predict_proba"):
        proba = fitted.predict_proba(X)
        return proba[:, 1] if binary else proba
    if binary and hasattr(fitted, "decision_function"):
        return fitted.decision_function(X)
    raise TypeError(f"{type(fitted).__name__} has no predict_proba (nor decision_function for a binary task)")


def mle_auc(
    X_train, y_train, X_test, y_test, classifier: ClassifierMixin | None = None, random_state: int = 0
) -> float:
    """ROC AUC on ``(X_test, y_test)`` of ``classifier`` fitted on ``(X_train, y_train)``.

    ``X_train`` (n, d) is normally synthetic (train-on-synthetic, test-on-real); ``X_test``
    (m, d) the held-out real rows in the same encoded space. Binary labels: AUC of the larger
    label's score. More classes: one-vs-rest macro-averaged AUC. Every class of ``y_test``
    must occur in ``y_train``, and with more than two classes every class of ``y_train`` in ``y_test``.
    """
    X_train, X_test = as_features(X_train, "X_train"), as_features(X_test, "X_test")
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if X_train.shape[1] != X_test.shape[1]:
        raise ValueError(f"X_train has {X_train.shape[1]} features but X_test has {X_test.shape[1]}")
    if y_train.shape != (len(X_train),) or y_test.shape != (len(X_test),):
        raise ValueError("y_train and y_test must be 1-D with one label per row of X_train and X_test")
    train_classes, test_classes = np.unique(y_train), np.unique(y_test)
    if len(train_classes) < 2 or len(test_classes) < 2:
        raise ValueError(f"MLE AUC needs >= 2 classes in both sets; got {train_classes} and {test_classes}")
    missing = np.setdiff1d(test_classes, train_classes)
    if len(missing):
        raise ValueError(f"classes {missing.tolist()} of the test set are absent from the training set")
    unseen = np.setdiff1d(train_classes, test_classes)
    if len(train_classes) > 2 and len(unseen):  # their one-vs-rest AUC is undefined (sklearn: NaN)
        raise ValueError(f"classes {unseen.tolist()} of the training set are absent from the test set; "
                         "a macro one-vs-rest AUC needs every class in both")
    model = clone(classifier) if classifier is not None else default_mle_classifier(random_state)
    model.fit(X_train, y_train)
    binary = len(train_classes) == 2
    scores = _scores(model, X_test, binary)
    if binary:
        return float(roc_auc_score(y_test == train_classes[1], scores))
    return float(roc_auc_score(y_test, scores, multi_class="ovr", average="macro", labels=model.classes_))


def mle_ceiling(
    X_real_train, y_real_train, X_test, y_test, classifier: ClassifierMixin | None = None, random_state: int = 0
) -> float:
    """Train-on-real AUC: :func:`mle_auc` with the real training rows, the reference for MLE."""
    return mle_auc(X_real_train, y_real_train, X_test, y_test, classifier=classifier, random_state=random_state)
