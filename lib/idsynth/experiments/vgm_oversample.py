"""Table 6 of the VGM paper: VGM against seven over-samplers as makers of balanced training sets.

For each method (:data:`~idsynth.experiments.oversampling.OVERSAMPLER_NAMES`) and seed, a
class-balanced training set is made from KDDTrain+; the four default classifiers are trained
on it and predict KDDTest+. Reported per (method, classifier, seed): accuracy, weighted F1
(scikit-learn's ``average="weighted"``, the paper's F1), macro F1 and the recall of every
class (R2L and U2R are where over-sampling should matter).

:func:`paired_comparison` then asks, per classifier, whether VGM beats each method by more
than the seed-to-seed noise: differences paired by seed (same classifier seed, same test set),
their mean and standard deviation, how many seeds VGM wins, and a paired t-test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, recall_score

from idsynth.experiments.classifier_runs import FitTask, run_fits
from idsynth.experiments.oversampling import OVERSAMPLER_NAMES, balanced_training_set
from idsynth.metrics.classifiers import CLASSIFIER_NAMES

SCORE_COLUMNS: tuple[str, ...] = ("method", "classifier", "seed", "accuracy", "f1_weighted", "f1_macro", "fit_seconds")
RECALL_COLUMNS: tuple[str, ...] = ("method", "classifier", "seed", "class", "recall")


@dataclass(frozen=True)
class OversamplingRun:
    """Everything one Table 6 run produced.

    ``scores``: one row per (method, classifier, seed), :data:`SCORE_COLUMNS`.
    ``recall``: one row per (method, classifier, seed, class), :data:`RECALL_COLUMNS`.
    ``samplers``: one row per (method, seed): ``seconds`` spent resampling, ``rows`` of the
    balanced set, and its row count per class.
    ``total_seconds``: wall time of the whole run.
    """

    scores: pd.DataFrame
    recall: pd.DataFrame
    samplers: pd.DataFrame
    total_seconds: float


def classification_scores(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence) -> dict[str, Any]:
    """Accuracy, weighted and macro F1, and per-class recall (``{label: recall}``) for ``labels``."""
    recall = recall_score(y_true, y_pred, labels=list(labels), average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_weighted": float(f1_score(y_true, y_pred, labels=list(labels), average="weighted", zero_division=0)),
        "f1_macro": float(f1_score(y_true, y_pred, labels=list(labels), average="macro", zero_division=0)),
        "recall": dict(zip(labels, recall.tolist())),
    }


def run_oversampling(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    seeds: Sequence[int],
    *,
    methods: Sequence[str] = OVERSAMPLER_NAMES,
    classifiers: Sequence[str] = CLASSIFIER_NAMES,
    generator_factory: Callable[[int | None], Any] | None = None,
    class_names: Sequence[str] | None = None,
    n_jobs: int | None = None,
    mlp_backend: str = "sklearn",
    device: str = "auto",
    verbose: bool = True,
) -> OversamplingRun:
    """Table 6 in long form.

    X_train: (n, d) float (KDDTrain+ encoded), y_train: (n,) integer labels 0..K-1; X_test,
    y_test likewise (KDDTest+). ``generator_factory(seed)`` gives VGM's generator (see
    :func:`~idsynth.experiments.oversampling.balanced_training_set`). ``class_names[k]`` names
    label ``k`` in the recall frame (default: the label itself).

    Per seed, the balanced sets are made one method after another (each with ``n_jobs`` for its
    neighbour searches), then all (method, classifier) fits of that seed run in parallel.
    """
    X_train, y_train, X_test, y_test = (np.asarray(a) for a in (X_train, y_train, X_test, y_test))
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    unknown = [m for m in methods if m not in OVERSAMPLER_NAMES]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; expected names from {OVERSAMPLER_NAMES}")
    labels = np.unique(np.concatenate([y_train, y_test])).tolist()
    names = {label: (class_names[label] if class_names is not None else label) for label in labels}

    start = time.perf_counter()
    score_rows, recall_rows, sampler_rows = [], [], []
    for seed in seeds:
        tasks = []
        for method in methods:
            X_bal, y_bal, seconds = balanced_training_set(method, X_train, y_train, seed, n_jobs, generator_factory)
            counts = {names[label]: int(np.sum(y_bal == label)) for label in labels}
            sampler_rows.append({"method": method, "seed": seed, "seconds": seconds, "rows": len(y_bal), **counts})
            if verbose:
                print(f"seed {seed} {method:>15}: {len(y_bal):>7} rows in {seconds:7.1f} s  {counts}", flush=True)
            tasks += [FitTask(name, seed, method, [(X_bal, y_bal)]) for name in classifiers]
        for result in run_fits(tasks, X_test, n_jobs=n_jobs, mlp_backend=mlp_backend, device=device):
            scores = classification_scores(y_test, result.y_pred, labels)
            recall = scores.pop("recall")
            score_rows.append({"method": result.key, "classifier": result.classifier, "seed": result.seed,
                               **scores, "fit_seconds": result.fit_seconds})  # fmt: skip
            recall_rows += [{"method": result.key, "classifier": result.classifier, "seed": result.seed,
                             "class": names[label], "recall": value} for label, value in recall.items()]  # fmt: skip
    total = time.perf_counter() - start
    if verbose:
        print(f"Table 6 run: {len(score_rows)} classifier fits, total {total:.1f} s", flush=True)
    return OversamplingRun(
        scores=pd.DataFrame(score_rows, columns=list(SCORE_COLUMNS)),
        recall=pd.DataFrame(recall_rows, columns=list(RECALL_COLUMNS)),
        samplers=pd.DataFrame(sampler_rows),
        total_seconds=total,
    )


def paired_comparison(
    scores: pd.DataFrame, metric: str = "accuracy", reference: str = "VGM", alpha: float = 0.05
) -> pd.DataFrame:
    """``reference`` minus every other method, paired by (classifier, seed).

    ``scores`` holds columns ``method, classifier, seed`` and ``metric``. A classifier named
    ``"Average"`` is added (the per-seed mean over classifiers, as the paper's average column).
    Returns one row per (classifier, method) with ``mean_diff`` (reference - method),
    ``std_diff`` (sample std over seeds, NaN for one seed), ``n_seeds``, ``wins`` (seeds where
    the reference is strictly better), ``p_value`` (two-sided paired t-test, NaN for fewer than
    two seeds or identical differences) and ``better_beyond_noise`` (mean_diff > 0 and
    p_value < alpha).
    """
    missing = {"method", "classifier", "seed", metric} - set(scores.columns)
    if missing:
        raise ValueError(f"scores lacks columns {sorted(missing)}")
    if reference not in set(scores["method"]):
        raise ValueError(f"reference method {reference!r} not in scores; methods: {sorted(set(scores['method']))}")
    average = scores.groupby(["method", "seed"], as_index=False)[metric].mean().assign(classifier="Average")
    frame = pd.concat([scores[["method", "classifier", "seed", metric]], average], ignore_index=True)
    wide = frame.pivot_table(index=["classifier", "seed"], columns="method", values=metric)
    rows = []
    for classifier, block in wide.groupby(level="classifier", sort=False):
        for method in [m for m in wide.columns if m != reference]:
            pair = block[[reference, method]].dropna()
            diff = (pair[reference] - pair[method]).to_numpy()
            p_value = np.nan
            if len(diff) >= 2 and np.ptp(diff) > 0:
                p_value = float(stats.ttest_rel(pair[reference], pair[method]).pvalue)
            rows.append({
                "classifier": classifier, "method": method, "metric": metric,
                "mean_diff": float(diff.mean()) if len(diff) else np.nan,
                "std_diff": float(diff.std(ddof=1)) if len(diff) >= 2 else np.nan,
                "n_seeds": len(diff), "wins": int((diff > 0).sum()), "p_value": p_value,
            })  # fmt: skip
    result = pd.DataFrame(rows)
    result["better_beyond_noise"] = (result["mean_diff"] > 0) & (result["p_value"] < alpha)
    order = {name: i for i, name in enumerate([*CLASSIFIER_NAMES, "Average"])}
    return result.sort_values(["classifier", "method"], key=lambda s: s.map(order) if s.name == "classifier" else s,
                              ignore_index=True)  # fmt: skip


# Table 6 as printed in the paper (TARGETS.md): accuracy and weighted F1 on KDDTest+.
_PAPER_TABLE6: dict[str, tuple[tuple[float, float, float, float], tuple[float, float, float, float]]] = {
    # method: ((RF, LR, LinSVM, MLP) accuracy, (RF, LR, LinSVM, MLP) weighted F1)
    "VGM": ((0.7361, 0.7729, 0.7723, 0.7926), (0.6908, 0.7529, 0.7557, 0.7645)),
    "SMOTE": ((0.7298, 0.7717, 0.7758, 0.7795), (0.6840, 0.7483, 0.7634, 0.7455)),
    "BorderlineSMOTE": ((0.7376, 0.7597, 0.7679, 0.7738), (0.6920, 0.7353, 0.7496, 0.7303)),
    "SMOTEENN": ((0.7294, 0.7533, 0.7675, 0.7795), (0.6819, 0.7208, 0.7517, 0.7428)),
    "SMOTETomek": ((0.7324, 0.7548, 0.7657, 0.7889), (0.6847, 0.7254, 0.7501, 0.7573)),
    "SVMSMOTE": ((0.7425, 0.7629, 0.7799, 0.7798), (0.6993, 0.7474, 0.7723, 0.7406)),
    "EasyEnsemble": ((0.7373, 0.7749, 0.7721, 0.7782), (0.6910, 0.7528, 0.7541, 0.7579)),
    "ADASYN": ((0.7312, 0.7521, 0.7512, 0.7800), (0.6833, 0.7236, 0.7293, 0.7458)),
}


def paper_table6() -> pd.DataFrame:
    """The paper's Table 6 in long form: columns method, classifier, accuracy, f1_weighted."""
    rows = [
        {"method": method, "classifier": name, "accuracy": acc[i], "f1_weighted": f1[i]}
        for method, (acc, f1) in _PAPER_TABLE6.items()
        for i, name in enumerate(CLASSIFIER_NAMES)
    ]
    return pd.DataFrame(rows)
