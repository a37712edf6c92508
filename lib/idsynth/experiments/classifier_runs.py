"""Fit many (classifier, training set) pairs in parallel and predict one test set.

Tables 5 and 6 both train the four default classifiers on many training sets and predict
KDDTest+. A training set is given as a list of ``(X_part, y_part)`` pieces that the worker
concatenates (so "original x3" ships the original arrays once, and joblib memory-maps large
arrays instead of copying them per task).

Parallelism: one joblib (loky) worker per fit, ``n_jobs`` at a time; inside a worker each
classifier runs single-job (the outer level already fills the cores), and joblib limits the
BLAS/OpenMP threads of each worker to ``cpu_count // n_jobs``.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Hashable, Sequence

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.exceptions import ConvergenceWarning

from idsynth.metrics.classifiers import make_classifier

# Rough relative cost per training row, to start the slowest fits first.
_COST = {"MLP": 8.0, "Linear SVM": 3.0, "Random Forest": 2.0, "Logistic Regression": 1.0}


@dataclass(frozen=True)
class FitTask:
    """One classifier fit: ``classifier`` name, ``seed`` (its random_state), ``key`` naming the
    training set (any hashable, echoed in the result) and the pieces of that set."""

    classifier: str
    seed: int
    key: Hashable
    parts: Sequence[tuple[np.ndarray, np.ndarray]] = field(repr=False, compare=False)

    @property
    def n_rows(self) -> int:
        return int(sum(len(y) for _, y in self.parts))


@dataclass(frozen=True)
class FitResult:
    """A task's identity (without its arrays), ``y_pred``: (n_test,) predictions on the test
    set, ``fit_seconds``: training wall time, ``n_rows``: training rows."""

    classifier: str
    seed: int
    key: Hashable
    y_pred: np.ndarray = field(repr=False)
    fit_seconds: float
    n_rows: int


def concatenate_parts(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """``[(X_i, y_i)]`` -> one (sum n_i, d) matrix and its (sum n_i,) labels."""
    if not parts:
        raise ValueError("a training set needs at least one (X, y) part")
    X = np.concatenate([np.asarray(p[0]) for p in parts], axis=0)
    y = np.concatenate([np.asarray(p[1]) for p in parts], axis=0)
    return X, y


def fit_and_predict(task: FitTask, X_test: np.ndarray, mlp_backend: str, device: str, n_jobs: int | None) -> FitResult:
    """Train ``task.classifier`` (random_state = ``task.seed``) on the task's set; predict X_test."""
    X, y = concatenate_parts(task.parts)
    clf = make_classifier(task.classifier, random_state=task.seed, n_jobs=n_jobs, mlp_backend=mlp_backend, device=device)
    start = time.perf_counter()
    with warnings.catch_warnings():
        # Default max_iter is part of "default parameters"; non-convergence is expected.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    seconds = time.perf_counter() - start
    y_pred = np.asarray(clf.predict(X_test))
    return FitResult(task.classifier, task.seed, task.key, y_pred, seconds, len(y))


def run_fits(
    tasks: Sequence[FitTask],
    X_test: np.ndarray,
    *,
    n_jobs: int | None = None,
    mlp_backend: str = "sklearn",
    device: str = "auto",
    verbose: int = 0,
) -> list[FitResult]:
    """All ``tasks`` (in parallel when ``n_jobs`` != 1), results in the order of ``tasks``."""
    keys = [(t.classifier, t.seed, t.key) for t in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError("two fit tasks share (classifier, seed, key): identical fits should be run once")
    order = sorted(range(len(tasks)), key=lambda i: -_COST.get(tasks[i].classifier, 1.0) * tasks[i].n_rows)
    parallel = Parallel(n_jobs=n_jobs, verbose=verbose, return_as="list")
    inner_jobs = None if effective_n_jobs(n_jobs) == 1 else 1
    done = parallel(delayed(fit_and_predict)(tasks[i], X_test, mlp_backend, device, inner_jobs) for i in order)
    results: list[FitResult | None] = [None] * len(tasks)
    for i, result in zip(order, done):
        results[i] = result
    return results  # type: ignore[return-value]
