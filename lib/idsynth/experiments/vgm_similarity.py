"""VGM section 4.1, Tables 1-4: how similar forward-pass synthetic data is to the original.

Each ``tableN_*`` function turns one seed's arrays into tidy long-form rows, with the paper's
value beside each row; notebooks concatenate seeds, then :func:`summarise_beside_paper`
gives ``mean ± std`` over seeds and the difference to the paper. Model training stays out:
the inputs are the real arrays and the synthetic arrays a model's forward pass
(``reconstruct(X, y)``) made from them, row i of one paired with row i of the other.

Array conventions: ``X``: (n, 116) float in [0, 1] (the VGM encoding), ``y``: (n,) int class
codes into ``classes`` (NSL-KDD: ``("DoS", "Normal", "Probe", "R2L", "U2R")``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..metrics.fidelity import contingency_long, contingency_wide, difference_stats, discrete_accuracy
from ..metrics.classifiers import CLASSIFIER_NAMES
from ..metrics.utility import COMBINATIONS, GridResult, train_predict_grids
from ..tables import summarise
from . import paper_values

TABLE1_TARGETS: dict[str, float] = {"flag": 0.99, "protocol_type": 0.99, "service": 0.88}
"""Option C's Table 1 accuracies on KDDTrain+, rounded down: what a faithful VGM must reach."""


def table1_discrete_accuracy(
    X_real, X_syn, cat_slices: Mapping[str, slice], option: str, trained_on: str, seed: int
) -> pd.DataFrame:
    """Table 1 rows: accuracy reproducing each discrete feature.

    ``cat_slices``: ``{feature: slice}`` of the one-hot blocks (``encoder.cat_slices_``);
    ``trained_on``: ``"KDDTrain+"`` or ``"KDDTest+"`` (the set the model was trained on and
    reconstructs). Columns ``option, trained_on, feature, seed, accuracy, paper``.
    """
    accuracy = discrete_accuracy(X_real, X_syn, cat_slices)
    frame = pd.DataFrame(
        {
            "option": option,
            "trained_on": trained_on,
            "feature": list(accuracy),
            "seed": int(seed),
            "accuracy": list(accuracy.values()),
        }
    )
    return frame.merge(paper_values.table1(), on=["option", "trained_on", "feature"], how="left")


def classifier_grids(
    X_real, y_real, synthetic: Mapping[str, tuple], seed: int, n_jobs: int | None = -1, classifiers=CLASSIFIER_NAMES
) -> dict[str, GridResult]:
    """Table 2's grid per option, predictions kept for Table 3.

    ``synthetic``: ``{option: (X_syn, y_syn)}``, the forward pass of each option's model on
    ``X_real``/``y_real``. The classifiers (seeded with ``seed``) are fitted once on the
    real set and once per option, all in one joblib pool (see
    :func:`idsynth.metrics.utility.train_predict_grids`).
    """
    return train_predict_grids(X_real, y_real, synthetic, classifiers=classifiers, random_state=seed, n_jobs=n_jobs)


def table2_real_vs_synthetic(grid: GridResult, option: str, seed: int) -> pd.DataFrame:
    """Table 2 rows from one option's :func:`classifier_grids` result.

    Columns ``classifier, option, train_on, predict_on, seed, accuracy, paper``.
    """
    frame = grid.scores.assign(option=option, seed=int(seed))
    frame = frame[["classifier", "option", "train_on", "predict_on", "seed", "accuracy"]]
    return frame.merge(paper_values.table2(), on=["classifier", "option", "train_on", "predict_on"], how="left")


def table3_contingency(
    grid: GridResult, classes: Sequence[str], seed: int, classifier: str = "MLP"
) -> pd.DataFrame:
    """Table 3 rows: true vs predicted counts of ``classifier`` in the four panels.

    ``classes``: the class names the codes in ``y`` index. Columns ``panel, seed, true,
    predicted, count, paper``; panels ``"real->synthetic"``, ``"real->real"``,
    ``"synthetic->real"``, ``"synthetic->synthetic"`` (train -> predict). The paper's counts
    (Option C, MLP, the full KDDTrain+) are joined for every classifier; they are
    comparable only for that case.
    """
    parts = []
    for train_on, predict_on in COMBINATIONS:
        key = (classifier, train_on, predict_on)
        if key not in grid.predictions:
            raise ValueError(f"the grid holds no predictions of {classifier!r}; it has {sorted(grid.predictions)}")
        long = contingency_long(grid.truth[predict_on], grid.predictions[key], classes)
        parts.append(long.assign(panel=paper_values.panel_name(train_on, predict_on), seed=int(seed)))
    frame = pd.concat(parts, ignore_index=True)[["panel", "seed", "true", "predicted", "count"]]
    paper = paper_values.table3()[["panel", "true", "predicted", "paper"]]
    return frame.merge(paper, on=["panel", "true", "predicted"], how="left")


def _name_key(name: str) -> str:
    """``"service=red_i"``, ``"service_red_i"`` -> ``"serviceredi"``: encoder-agnostic names."""
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def table4_difference(X_real, X_syn, feature_names: Sequence[str], seed: int) -> pd.DataFrame:
    """Table 4 rows: mean and std of original − synthetic for every feature.

    Columns ``index, feature, seed, mean, std, paper_mean, paper_std, highlighted``:
    ``index`` is the 1-based column number; the paper's 40 features are matched by name
    (separators ignored, so ``service_red_i`` matches the paper's ``service=red_i``) and
    flagged ``highlighted``; the other features carry no paper values.
    """
    stats = difference_stats(X_real, X_syn, feature_names)
    keys = stats["feature"].map(_name_key)
    if keys.duplicated().any():
        raise ValueError(f"feature names collide once separators are dropped: {list(stats['feature'][keys.duplicated()])}")
    stats.insert(0, "index", np.arange(1, len(stats) + 1))
    stats.insert(2, "seed", int(seed))
    paper = paper_values.table4()
    paper = pd.DataFrame(
        {"key": paper["feature"].map(_name_key), "paper_mean": paper["mean"], "paper_std": paper["std"]}
    )
    out = stats.assign(key=keys).merge(paper, on="key", how="left").drop(columns="key")
    out["highlighted"] = out["paper_mean"].notna()
    return out


def summarise_beside_paper(
    frame: pd.DataFrame, keys: Sequence[str], value: str, paper: str = "paper", diff: str = "diff"
) -> pd.DataFrame:
    """Mean and std of ``value`` over seeds per ``keys``, the paper's value and the difference.

    ``frame``: rows from one of the ``table*`` functions (several seeds concatenated), with
    the paper's value in column ``paper``. Returns ``keys, <value>_mean, <value>_std,
    n_seeds, <paper>, <diff>`` with ``<diff> = <value>_mean − <paper>`` (NaN where the paper
    reports nothing), groups in first-appearance order.
    """
    missing = [c for c in (*keys, value, paper) if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}; has {list(frame.columns)}")
    summary = summarise(frame, by=list(keys), values=[value])
    reference = frame[list(keys) + [paper]].drop_duplicates(subset=list(keys))
    merged = summary.merge(reference, on=list(keys), how="left")
    merged[diff] = merged[f"{value}_mean"] - merged[paper]
    return merged


def table1_targets_met(
    frame: pd.DataFrame, option: str = "C", trained_on: str = "KDDTrain+", targets: Mapping[str, float] = TABLE1_TARGETS
) -> pd.DataFrame:
    """Whether ``option``'s mean Table 1 accuracy reaches ``targets`` per feature.

    ``frame``: Table 1 rows (any number of seeds). Returns ``feature, accuracy_mean,
    target, met``; ``ValueError`` if a targeted feature has no rows.
    """
    chosen = frame[(frame["option"] == option) & (frame["trained_on"] == trained_on)]
    means = chosen.groupby("feature")["accuracy"].mean()
    missing = [f for f in targets if f not in means.index]
    if missing:
        raise ValueError(f"no Table 1 rows for option {option!r}, {trained_on!r}, features {missing}")
    return pd.DataFrame(
        {
            "feature": list(targets),
            "accuracy_mean": [float(means[f]) for f in targets],
            "target": list(targets.values()),
            "met": [bool(means[f] >= t) for f, t in targets.items()],
        }
    )


def table3_beside_paper(frame: pd.DataFrame) -> pd.DataFrame:
    """Table 3 over seeds: mean counts and each cell's share of its true class, beside the paper.

    ``frame``: :func:`table3_contingency` rows (several seeds). Returns ``panel, true,
    predicted, count_mean, count_std, n_seeds, paper, share, paper_share, diff_share``:
    ``share`` = ``count_mean`` as a percentage of its true class's rows, so that a subsample
    (smoke profile) compares with the paper's full-set counts; ``diff_share`` = ours − paper,
    in percentage points.
    """
    summary = summarise_beside_paper(frame, ["panel", "true", "predicted"], "count").drop(columns="diff")
    by_row = ["panel", "true"]
    summary["share"] = 100 * summary["count_mean"] / summary.groupby(by_row)["count_mean"].transform("sum")
    summary["paper_share"] = 100 * summary["paper"] / summary.groupby(by_row)["paper"].transform("sum")
    summary["diff_share"] = summary["share"] - summary["paper_share"]
    return summary


def table3_panels(summary: pd.DataFrame, classes: Sequence[str], value: str = "count_mean") -> dict[str, pd.DataFrame]:
    """``{panel: Table 3 layout}`` (counts, totals, percentages) of ``value`` per panel.

    ``summary``: :func:`table3_beside_paper` output; ``value``: ``"count_mean"`` for ours,
    ``"paper"`` for the paper's counts.
    """
    return {
        panel: contingency_wide(rows, classes, value=value)
        for panel, rows in summary.groupby("panel", sort=False)
    }


def table4_beside_paper(frame: pd.DataFrame) -> pd.DataFrame:
    """Table 4 over seeds: ``index, feature, highlighted, mean_mean, mean_std, std_mean,
    std_std, n_seeds, paper_mean, paper_std, diff_mean, diff_std`` (ours − paper, for the
    paper's 40 features; NaN for the others)."""
    keys = ["index", "feature", "highlighted"]
    summary = summarise(frame, by=keys, values=["mean", "std"])
    reference = frame[keys + ["paper_mean", "paper_std"]].drop_duplicates(subset=keys)
    merged = summary.merge(reference, on=keys, how="left")
    merged["diff_mean"] = merged["mean_mean"] - merged["paper_mean"]
    merged["diff_std"] = merged["std_mean"] - merged["paper_std"]
    return merged
