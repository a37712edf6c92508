"""The four classifiers both VGM tables use, with scikit-learn's default parameters.

The paper sets them up "with their defaults parameters (no tuning)": Random Forest,
multinomial Logistic Regression, Linear SVM and a Multilayer Perceptron. Only
``random_state`` (for reproducibility) and ``n_jobs`` (speed, no effect on results) are set.

``mlp_backend="torch"`` swaps scikit-learn's MLP for :class:`~idsynth.metrics.torch_mlp.
TorchMLPClassifier`, the same model, initialisation, optimiser and stopping rule in PyTorch,
which trains on a GPU when one is present (``device``). scikit-learn stays the reference.
"""

from __future__ import annotations

from sklearn.base import ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.svm import LinearSVC

CLASSIFIER_NAMES: tuple[str, ...] = ("Random Forest", "Logistic Regression", "Linear SVM", "MLP")
MLP_BACKENDS: tuple[str, ...] = ("sklearn", "torch")


def make_classifier(
    name: str,
    random_state: int | None = 0,
    n_jobs: int | None = None,
    *,
    mlp_backend: str = "sklearn",
    device: str = "auto",
) -> ClassifierMixin:
    """A fresh, unfitted classifier with scikit-learn defaults.

    ``name`` is one of :data:`CLASSIFIER_NAMES`. Logistic Regression is multinomial for
    more than two classes (the lbfgs default in scikit-learn >= 1.5). ``mlp_backend``
    ("sklearn" or "torch") and ``device`` only matter for ``"MLP"``.
    """
    if mlp_backend not in MLP_BACKENDS:
        raise ValueError(f"unknown mlp_backend {mlp_backend!r}; expected one of {MLP_BACKENDS}")
    if name == "Random Forest":
        return RandomForestClassifier(random_state=random_state, n_jobs=n_jobs)
    if name == "Logistic Regression":
        return LogisticRegression(random_state=random_state)
    if name == "Linear SVM":
        return LinearSVC(random_state=random_state)
    if name == "MLP":
        if mlp_backend == "torch":
            from idsynth.metrics.torch_mlp import TorchMLPClassifier

            return TorchMLPClassifier(random_state=random_state, device=device)
        return MLPClassifier(random_state=random_state)
    raise ValueError(f"unknown classifier {name!r}; expected one of {CLASSIFIER_NAMES}")
