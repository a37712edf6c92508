"""Table 5 of the VGM paper: does adding synthetic rows to KDDTrain+ help classifiers on KDDTest+?

For each VGM option (A, B, C) and each of the four default classifiers, the paper reports
accuracy on KDDTest+ after training on six training sets (its six columns):

==================================  =====================================================
scenario                            training set
==================================  =====================================================
``original``                        KDDTrain+
``original x2``                     KDDTrain+ twice (every row repeated)
``original x3``                     KDDTrain+ three times
``original + 1 synthetic``          KDDTrain+ + one synthetic copy with the same labels
``original + 2 synthetic``          KDDTrain+ + two synthetic copies with the same labels
``original + balancing synthetic``  KDDTrain+ + synthetic rows that bring every class to
                                    the majority count (the over-sampler ``'auto'``
                                    strategy)
==================================  =====================================================

A synthetic copy "made up from the same labels" is ``generator.sample(class_counts(y_train))``.
The first three scenarios do not involve a generator, so they are fitted once per
(classifier, seed) and reported under every option, as the paper's table repeats them.
``original + 2 synthetic`` reuses the copy of ``original + 1 synthetic`` and adds a second one.

Seeds: for seed ``s`` every classifier gets ``random_state=s`` and the synthetic draws use
seeds derived from ``s``; the generators themselves are trained elsewhere (e.g.
``idsynth.experiments.vgm_train.train_vgm``), either once or per seed (pass a callable).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.frozen import FrozenEstimator

from idsynth.cache import ArtifactCache, array_digest
from idsynth.experiments.classifier_runs import FitTask, run_fits
from idsynth.experiments.paper_values import TABLE5_SCENARIOS, table5_fragments
from idsynth.experiments.seed_cache import cached_seed_rows
from idsynth.metrics.classifiers import CLASSIFIER_NAMES
from idsynth.models.base import class_counts
from idsynth.sampling import GeneratorOverSampler

#: The six training sets, named as in :mod:`idsynth.experiments.paper_values`.
SCENARIOS: tuple[str, ...] = TABLE5_SCENARIOS
#: Scenarios that do not depend on the generator (fitted once per classifier and seed).
REPETITION_SCENARIOS: tuple[str, ...] = SCENARIOS[:3]
OPTIONS: tuple[str, ...] = ("A", "B", "C")
RESULT_COLUMNS: tuple[str, ...] = ("option", "classifier", "scenario", "seed", "accuracy")

_MAX_SEED = np.iinfo(np.int32).max

GeneratorSource = Mapping[str, Any] | Callable[[str, int], Any]


def synthetic_seeds(seed: int) -> tuple[int, int, int]:
    """Seeds of the first copy, the second copy and the balancing set for run ``seed``."""
    a, b, c = np.random.RandomState(seed).randint(_MAX_SEED, size=3)
    return int(a), int(b), int(c)


def _generator(generators: GeneratorSource, option: str, seed: int):
    return generators(option, seed) if callable(generators) else generators[option]


def synthetic_parts(generator, X: np.ndarray, y: np.ndarray, seed: int) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """The three generator scenarios' training sets as lists of (X, y) parts.

    X: (n, d) training rows, y: (n,) labels; ``generator``: trained, protocol-following.
    Returns ``{scenario: [(X_part, y_part), ...]}``, the original part first.
    """
    seed_1, seed_2, seed_balance = synthetic_seeds(seed)
    counts = class_counts(y)
    copy_1 = _sample(generator, counts, seed_1, X.dtype, y.dtype)
    copy_2 = _sample(generator, counts, seed_2, X.dtype, y.dtype)
    balancer = GeneratorOverSampler(FrozenEstimator(generator), sampling_strategy="auto", random_state=seed_balance)
    X_bal, y_bal = balancer.fit_resample(X, y)
    extra = (X_bal[len(X):], y_bal[len(y):])
    plus_1, plus_2, plus_balancing = SCENARIOS[3:]
    return {plus_1: [(X, y), copy_1], plus_2: [(X, y), copy_1, copy_2], plus_balancing: [(X, y), extra]}


def _sample(generator, counts, seed, x_dtype, y_dtype) -> tuple[np.ndarray, np.ndarray]:
    X_new, y_new = generator.sample(counts, random_state=seed)
    return np.asarray(X_new, dtype=x_dtype), np.asarray(y_new).astype(y_dtype, copy=False)


def run_augmentation(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    generators: GeneratorSource,
    seeds: Sequence[int],
    *,
    options: Sequence[str] = OPTIONS,
    classifiers: Sequence[str] = CLASSIFIER_NAMES,
    n_jobs: int | None = None,
    mlp_backend: str = "sklearn",
    device: str = "auto",
    verbose: int = 0,
    cache: ArtifactCache | None = None,
    cache_config: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Table 5 in long form.

    X_train: (n, d) float (KDDTrain+ encoded), y_train: (n,) labels; X_test, y_test likewise for
    KDDTest+. ``generators``: ``{option: trained generator}`` or ``f(option, seed) -> trained
    generator``. Returns one row per (option, classifier, scenario, seed) with columns
    ``option, classifier, scenario, seed, accuracy, fit_seconds, n_train``; rows of the
    repetition scenarios are the same fit repeated under each option.

    The fits of one seed run in parallel (``n_jobs``), seed after seed. ``cache``: keep each
    finished seed's rows (:func:`~idsynth.experiments.seed_cache.cached_seed_rows`, kind
    "table5_seed"), keyed by the settings, a digest of the arrays and ``cache_config`` (which
    must name what else decides the result, e.g. the generators' settings).
    """
    X_train, y_train, X_test, y_test = (np.asarray(a) for a in (X_train, y_train, X_test, y_test))
    if X_train.ndim != 2 or y_train.shape != (len(X_train),) or y_test.shape != (len(X_test),):
        raise ValueError(
            f"expected X (n, d) with y (n,): got train {X_train.shape}/{y_train.shape}, test {X_test.shape}/{y_test.shape}"
        )
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    original = (X_train, y_train)
    shared_sets = {scenario: [original] * times for times, scenario in enumerate(REPETITION_SCENARIOS, start=1)}

    def one_seed(seed: int) -> list[dict]:
        tasks = []
        for name in classifiers:
            tasks += [FitTask(name, seed, (None, scenario), parts) for scenario, parts in shared_sets.items()]
        for option in options:
            sets = synthetic_parts(_generator(generators, option, seed), X_train, y_train, seed)
            for name in classifiers:
                tasks += [FitTask(name, seed, (option, scenario), parts) for scenario, parts in sets.items()]
        results = run_fits(tasks, X_test, n_jobs=n_jobs, mlp_backend=mlp_backend, device=device, verbose=verbose)
        seed_rows = []
        for result in results:
            task_option, scenario = result.key
            accuracy = float(np.mean(result.y_pred == y_test))
            for option in options if task_option is None else (task_option,):
                seed_rows.append({
                    "option": option, "classifier": result.classifier, "scenario": scenario, "seed": result.seed,
                    "accuracy": accuracy, "fit_seconds": result.fit_seconds, "n_train": result.n_rows,
                })  # fmt: skip
        return seed_rows

    config = {**dict(cache_config or {}), "options": list(options), "classifiers": list(classifiers),
              "mlp_backend": mlp_backend, "data": array_digest(X_train, y_train, X_test, y_test)}
    rows = []
    for seed in seeds:
        rows += cached_seed_rows(cache, "table5_seed", config, seed, lambda seed=seed: one_seed(seed))
    frame = pd.DataFrame(rows)
    frame["scenario"] = pd.Categorical(frame["scenario"], categories=SCENARIOS, ordered=True)
    return frame.sort_values(["option", "classifier", "scenario", "seed"], ignore_index=True)


def accuracy_table(results: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy over seeds, laid out as the paper's Table 5: rows (classifier, option),
    columns the six scenarios in order."""
    table = results.pivot_table(
        index=["classifier", "option"], columns="scenario", values="accuracy", aggfunc="mean", observed=True
    )
    return table.reindex(columns=[s for s in SCENARIOS if s in table.columns])


def paper_table5() -> pd.DataFrame:
    """The Table 5 values that can be placed (``reading`` "certain" or "probable"), from
    :func:`idsynth.experiments.paper_values.table5_fragments`: columns option, classifier,
    scenario, accuracy, reading. The unplaced value is :func:`paper_table5_unplaced`."""
    fragments = table5_fragments()
    placed = fragments[fragments["reading"] != "unplaced"].rename(columns={"paper": "accuracy"})
    return placed[["option", "classifier", "scenario", "accuracy", "reading"]].reset_index(drop=True)


def paper_table5_unplaced() -> pd.DataFrame:
    """The surviving Table 5 values whose row or column is unknown."""
    fragments = table5_fragments()
    return fragments[fragments["reading"] == "unplaced"].reset_index(drop=True)
