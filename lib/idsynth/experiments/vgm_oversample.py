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
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, recall_score

from sklearn.frozen import FrozenEstimator

from idsynth.cache import ArtifactCache, array_digest
from idsynth.data.encoding import CATEGORY_DECODINGS
from idsynth.experiments.classifier_runs import FitResult, FitTask, run_fits
from idsynth.experiments.oversampling import OVERSAMPLER_NAMES, PAPER_NAMES, balanced_training_set
from idsynth.experiments.paper_values import table6
from idsynth.experiments.seed_cache import cached_seed_rows, cached_seeds
from idsynth.metrics.classifiers import CLASSIFIER_NAMES
from idsynth.models.hard_categories import HardCategories

SCORE_COLUMNS: tuple[str, ...] = ("method", "classifier", "seed", "accuracy", "f1_weighted", "f1_macro", "fit_seconds")
RECALL_COLUMNS: tuple[str, ...] = ("method", "classifier", "seed", "class", "recall")


@dataclass(frozen=True)
class OversamplingRun:
    """Everything one Table 6 run produced.

    ``scores``: one row per (method, classifier, seed), :data:`SCORE_COLUMNS`.
    ``recall``: one row per (method, classifier, seed, class), :data:`RECALL_COLUMNS`.
    ``samplers``: one row per (method, seed): ``seconds`` spent resampling, ``rows`` of the
    balanced set, and its row count per class.
    ``total_seconds``: wall time of the whole run (seeds reused from the cache cost ~0 s).
    ``reused_seeds``: the seeds whose rows came from the cache.
    """

    scores: pd.DataFrame
    recall: pd.DataFrame
    samplers: pd.DataFrame
    total_seconds: float
    reused_seeds: tuple[int, ...] = ()

    @property
    def recorded_seconds(self) -> dict[str, float]:
        """The compute the rows record, reused seeds included (as measured when they were made):
        ``resampling``, summed over (method, seed); ``fits``, the classifier fit seconds summed over
        fits (they run in parallel, so the sum exceeds their wall time)."""
        return {"resampling": float(self.samplers["seconds"].sum()), "fits": float(self.scores["fit_seconds"].sum())}


def classification_scores(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence) -> dict[str, Any]:
    """Accuracy, weighted and macro F1, and per-class recall (``{label: recall}``) for ``labels``."""
    recall = recall_score(y_true, y_pred, labels=list(labels), average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_weighted": float(f1_score(y_true, y_pred, labels=list(labels), average="weighted", zero_division=0)),
        "f1_macro": float(f1_score(y_true, y_pred, labels=list(labels), average="macro", zero_division=0)),
        "recall": dict(zip(labels, recall.tolist())),
    }


def score_fit_results(
    results: Sequence[FitResult], y_test: np.ndarray, labels: Sequence, names: Mapping | None = None
) -> tuple[list[dict], list[dict]]:
    """Rows of :data:`SCORE_COLUMNS` and :data:`RECALL_COLUMNS` for classifier fits whose
    ``key`` is the method: each result's predictions scored against ``y_test`` (n_test,) with
    :func:`classification_scores`; ``names[label]`` names a class in the recall rows (default:
    the label itself)."""
    names = names if names is not None else {label: label for label in labels}
    score_rows, recall_rows = [], []
    for result in results:
        scores = classification_scores(y_test, result.y_pred, labels)
        recall = scores.pop("recall")
        score_rows.append({"method": result.key, "classifier": result.classifier, "seed": result.seed,
                           **scores, "fit_seconds": result.fit_seconds})  # fmt: skip
        recall_rows += [{"method": result.key, "classifier": result.classifier, "seed": result.seed,
                         "class": names[label], "recall": value} for label, value in recall.items()]  # fmt: skip
    return score_rows, recall_rows


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
    cache: ArtifactCache | None = None,
    cache_config: Mapping[str, Any] | None = None,
) -> OversamplingRun:
    """Table 6 in long form.

    X_train: (n, d) float (KDDTrain+ encoded), y_train: (n,) integer labels 0..K-1; X_test,
    y_test likewise (KDDTest+). ``generator_factory(seed)`` gives VGM's generator (see
    :func:`~idsynth.experiments.oversampling.balanced_training_set`). ``class_names[k]`` names
    label ``k`` in the recall frame (default: the label itself).

    Per seed, the balanced sets are made one method after another (each with ``n_jobs`` for its
    neighbour searches, which run on ``device`` when it is a GPU), then all (method, classifier)
    fits of that seed run in parallel.

    ``cache``: keep each finished seed's rows (``kind`` "table6_seed"), keyed by the seed, the
    methods, classifiers and settings, a digest of the four arrays and ``cache_config`` (which
    must name whatever else decides the result, e.g. the generator's settings); a rerun then
    redoes only the seeds not finished. Reused rows keep the seconds measured when they were made.
    """
    X_train, y_train, X_test, y_test = (np.asarray(a) for a in (X_train, y_train, X_test, y_test))
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    unknown = [m for m in methods if m not in OVERSAMPLER_NAMES]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; expected names from {OVERSAMPLER_NAMES}")
    labels = np.unique(np.concatenate([y_train, y_test])).tolist()
    names = {label: (class_names[label] if class_names is not None else label) for label in labels}

    def one_seed(seed: int) -> dict[str, list[dict]]:
        score_rows, recall_rows, sampler_rows, tasks = [], [], [], []
        for method in methods:
            X_bal, y_bal, seconds = balanced_training_set(method, X_train, y_train, seed, n_jobs, generator_factory,
                                                          device=device)
            counts = {str(names[label]): int(np.sum(y_bal == label)) for label in labels}  # str: as after a JSON round trip
            sampler_rows.append({"method": method, "seed": seed, "seconds": seconds, "rows": len(y_bal), **counts})
            if verbose:
                print(f"seed {seed} {method:>15}: {len(y_bal):>7} rows in {seconds:7.1f} s  {counts}", flush=True)
            tasks += [FitTask(name, seed, method, [(X_bal, y_bal)]) for name in classifiers]
        fit_and_score(tasks, X_test, y_test, labels, names, score_rows, recall_rows,
                      n_jobs=n_jobs, mlp_backend=mlp_backend, device=device)
        return {"scores": score_rows, "recall": recall_rows, "samplers": sampler_rows}

    config = {**dict(cache_config or {}), "methods": list(methods), "classifiers": list(classifiers),
              "mlp_backend": mlp_backend, "data": array_digest(X_train, y_train, X_test, y_test),
              "class_names": [str(names[label]) for label in labels]}  # fmt: skip
    start = time.perf_counter()
    reused = cached_seeds(cache, "table6_seed", config, seeds)
    rows: dict[str, list[dict]] = {"scores": [], "recall": [], "samplers": []}
    for seed in seeds:
        done = cached_seed_rows(cache, "table6_seed", config, seed, lambda seed=seed: one_seed(seed))
        for part in rows:
            rows[part] += done[part]
    return finish_run(rows["scores"], rows["recall"], rows["samplers"], start, "Table 6 run", verbose, reused)


def fit_and_score(tasks, X_test, y_test, labels, names, score_rows: list, recall_rows: list, **fit_options) -> None:
    """Run the classifier ``tasks`` (:func:`~idsynth.experiments.classifier_runs.run_fits`, with
    ``fit_options``), score them on ``(X_test, y_test)`` and append their score and recall
    rows to ``score_rows`` / ``recall_rows``."""
    results = run_fits(tasks, X_test, **fit_options)
    scores, recall = score_fit_results(results, y_test, labels, names)
    score_rows += scores
    recall_rows += recall


def finish_run(score_rows, recall_rows, sampler_rows, start: float, what: str, verbose: bool,
               reused_seeds: Sequence[int] = ()) -> OversamplingRun:
    """The :class:`OversamplingRun` of the accumulated rows; ``start`` is its ``perf_counter`` start,
    ``reused_seeds`` the seeds whose rows came from the cache."""
    total = time.perf_counter() - start
    if verbose:
        reused = f" ({len(reused_seeds)} seed(s) reused from the cache)" if reused_seeds else ""
        print(f"{what}: {len(score_rows)} classifier fits, total {total:.1f} s{reused}", flush=True)
    return OversamplingRun(
        scores=pd.DataFrame(score_rows, columns=list(SCORE_COLUMNS)),
        recall=pd.DataFrame(recall_rows, columns=list(RECALL_COLUMNS)),
        samplers=pd.DataFrame(sampler_rows),
        total_seconds=total,
        reused_seeds=tuple(int(s) for s in reused_seeds),
    )


#: Method names of VGM's rows with hard one-hot blocks, by how each block is decoded.
HARD_CATEGORY_NAMES: dict[str, str] = {c: f"VGM, {c} one-hot" for c in CATEGORY_DECODINGS}


def run_hard_categories(
    X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, seeds: Sequence[int],
    vgm_for_seed: Callable[[int], Any], blocks: Sequence[tuple[int, int]], *,
    cache_config: Mapping[str, Any] | None = None, **run_options,
) -> OversamplingRun:
    """VGM's Table 6 rows with hard one-hot categorical blocks (beyond the paper, which trains on
    the decoder's soft Bernoulli means): for each way of :data:`HARD_CATEGORY_NAMES`, the trained
    ``vgm_for_seed(seed)`` wrapped in :class:`~idsynth.models.hard_categories.HardCategories`
    (``blocks``: the one-hot blocks' columns) makes the balanced sets, scored exactly as
    :func:`run_oversampling` scores method "VGM" (``run_options``: its keyword arguments). Returns
    one run whose ``method`` column holds those names; each (way, seed) is cached."""
    parts = []
    for categories, name in HARD_CATEGORY_NAMES.items():
        def factory(seed, categories=categories):
            return FrozenEstimator(HardCategories(vgm_for_seed(seed), blocks, categories))

        run = run_oversampling(X_train, y_train, X_test, y_test, seeds, methods=("VGM",), generator_factory=factory,
                               cache_config={**dict(cache_config or {}), "vgm_categories": categories},
                               **run_options)  # fmt: skip
        parts.append((name, run))
    renamed = {part: pd.concat([getattr(run, part).assign(method=name) for name, run in parts], ignore_index=True)
               for part in ("scores", "recall", "samplers")}  # fmt: skip
    return OversamplingRun(**renamed, total_seconds=sum(run.total_seconds for _, run in parts),
                           reused_seeds=tuple(sorted(set.intersection(*(set(run.reused_seeds) for _, run in parts)))))


def other_backend_mlp(
    X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, seeds: Sequence[int],
    methods: Sequence[str], *, mlp_backend: str, generator_factory: Callable[[int | None], Any] | None = None,
    n_jobs: int | None = None, device: str = "auto", cache: ArtifactCache | None = None,
    cache_config: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The MLP on the backend *other* than the table's ``mlp_backend``, trained on the same
    balanced sets of ``methods`` (rebuilt per seed, as :func:`run_oversampling` builds them):
    rows ``method, seed, backend, accuracy, fit_seconds``. The check that the PyTorch MLP matches
    scikit-learn's (:func:`mlp_backend_agreement`). Each seed's rows are cached (kind
    ``"table6_mlp_check_seed"``, keyed like the table's rows plus the methods and the backend)."""
    other = "sklearn" if mlp_backend == "torch" else "torch"

    def one_seed(seed: int) -> list[dict]:
        tasks = []
        for method in methods:
            X_bal, y_bal, _ = balanced_training_set(method, X_train, y_train, seed, n_jobs, generator_factory,
                                                    device=device)
            tasks.append(FitTask("MLP", seed, method, [(X_bal, y_bal)]))
        results = run_fits(tasks, X_test, n_jobs=n_jobs, mlp_backend=other, device=device)
        return [{"method": r.key, "seed": r.seed, "backend": other, "accuracy": float(np.mean(r.y_pred == y_test)),
                 "fit_seconds": r.fit_seconds} for r in results]  # fmt: skip

    config = {**dict(cache_config or {}), "methods": list(methods), "backend": other,
              "data": array_digest(X_train, y_train, X_test, y_test)}
    rows: list[dict] = []
    for seed in seeds:
        rows += cached_seed_rows(cache, "table6_mlp_check_seed", config, seed, lambda seed=seed: one_seed(int(seed)))
    return pd.DataFrame(rows, columns=["method", "seed", "backend", "accuracy", "fit_seconds"])


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


def paper_table6() -> pd.DataFrame:
    """The paper's Table 6 in our method names: columns method, classifier, accuracy,
    f1_weighted; the four classifiers (the paper's "Average" column is left out, as it is
    recomputed from them). From :func:`idsynth.experiments.paper_values.table6`."""
    ours = {paper: name for name, paper in PAPER_NAMES.items()}
    paper = table6()
    unknown = set(paper["method"]) - set(ours)
    if unknown:
        raise ValueError(f"paper_values.table6 has methods {sorted(unknown)} with no name in PAPER_NAMES")
    paper = paper[paper["classifier"] != "Average"].assign(method=paper["method"].map(ours))
    return paper.reset_index(drop=True)


def mlp_backend_agreement(accuracies: pd.DataFrame, floor: float = 0.01, n_se: float = 3.0) -> pd.DataFrame:
    """Do the two MLP backends reach the same accuracy, within seed noise?

    ``accuracies``: columns ``method, seed, backend`` ("sklearn" / "torch") and ``accuracy``.
    Per method: each backend's mean and std over seeds, ``diff`` = torch - sklearn, its standard
    error ``se_diff`` = sqrt(std_torch^2 / n + std_sklearn^2 / n) (NaN for one seed), the
    ``tolerance`` max(n_se * se_diff, floor) and ``agree`` = |diff| <= tolerance.
    """
    missing = {"method", "seed", "backend", "accuracy"} - set(accuracies.columns)
    if missing:
        raise ValueError(f"accuracies lacks columns {sorted(missing)}")
    if set(accuracies["backend"]) != {"sklearn", "torch"}:
        raise ValueError(f"need both backends 'sklearn' and 'torch'; got {sorted(set(accuracies['backend']))}")
    stats_ = accuracies.groupby(["method", "backend"])["accuracy"].agg(["mean", "std", "count"]).unstack("backend")
    out = pd.DataFrame({
        "torch_mean": stats_[("mean", "torch")], "torch_std": stats_[("std", "torch")],
        "sklearn_mean": stats_[("mean", "sklearn")], "sklearn_std": stats_[("std", "sklearn")],
        "n_seeds": stats_[("count", "torch")].astype(int),
    })  # fmt: skip
    out["diff"] = out["torch_mean"] - out["sklearn_mean"]
    out["se_diff"] = np.sqrt(out["torch_std"] ** 2 / out["n_seeds"] + out["sklearn_std"] ** 2 / out["n_seeds"])
    out["tolerance"] = np.fmax(n_se * out["se_diff"], floor)
    out["agree"] = out["diff"].abs() <= out["tolerance"]
    return out.reset_index()
