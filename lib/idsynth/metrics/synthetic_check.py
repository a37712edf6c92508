"""Are the synthetic rows plausible? A per-class check against the real rows they came from.

Three kinds of evidence, each per synthetic class::

    check = synthetic_check(X_real, y_real, X_synth, y_synth)   # typed frames or arrays
    print(check)               # a short report; check.warnings() lists what is above threshold
    check.classes              # one row per synthetic class (see SyntheticCheck)
    check.violations           # one row per (class, broken constraint)

1. *Own-class share*: a random forest trained on the real rows labels every synthetic row; the
   share of a class's synthetic rows it assigns to that class. Synthetic attack rows that the
   forest calls benign add little to an over-sampled training set. Beside it, the forest's
   out-of-bag share on the real rows of the class (what a faithful generator would reach).
2. *Constraints learnt from the real rows* (all classes together): a numeric column that is
   never negative, always a whole number, or within ``[min, max]`` of the real rows; and column
   pairs ``a <= b`` (or ``a == b``) that hold in every real row and are not implied by the
   columns' ranges (``Packet Length Min <= Packet Length Mean <= Packet Length Max``).
3. *Unseen categories*: a categorical value in a class's synthetic rows that the class never
   takes in the real rows (UDP rows for a TCP-only attack).

A class is flagged when its own-class share is below ``min_own_class_share`` or when more than
``max_violation_share`` of its rows break a constraint or carry an unseen category.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

from ..data.user_table import split_columns

#: Real rows (stratified) the forest and the pair constraints are learnt on, at most.
MAX_ROWS = 20_000


class SyntheticDataWarning(UserWarning):
    """Synthetic rows that a classifier trained on the real rows does not recognise, or that
    break constraints every real row satisfies."""


@dataclass
class Constraint:
    """One rule every real row satisfies. ``kind``: ``nonnegative``, ``integer``, ``range``,
    ``pair_le`` (``columns[0] <= columns[1]``) or ``pair_eq``; ``bounds``: (min, max) for range."""

    kind: str
    columns: tuple
    bounds: tuple[float, float] | None = None

    def __str__(self) -> str:
        a = self.columns[0]
        if self.kind == "nonnegative":
            return f"{a} >= 0"
        if self.kind == "integer":
            return f"{a} is a whole number"
        if self.kind == "range":
            return f"{self.bounds[0]:g} <= {a} <= {self.bounds[1]:g}"
        return f"{a} {'<=' if self.kind == 'pair_le' else '=='} {self.columns[1]}"

    def broken(self, frame: pd.DataFrame) -> np.ndarray:
        """(m,) bool: the rows of ``frame`` that break the rule."""
        a = frame[self.columns[0]].to_numpy(dtype=np.float64)
        if self.kind == "nonnegative":
            return a < 0
        if self.kind == "integer":
            return a != np.round(a)
        if self.kind == "range":
            return (a < self.bounds[0]) | (a > self.bounds[1])
        b = frame[self.columns[1]].to_numpy(dtype=np.float64)
        return a > b if self.kind == "pair_le" else a != b


def _as_frame(X, columns=None) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X.reset_index(drop=True)
    array = np.asarray(X)
    names = list(columns) if columns is not None else [f"x{j}" for j in range(array.shape[1])]
    return pd.DataFrame(array, columns=names)


def _stratified_rows(y: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted row indices: every row when ``len(y) <= limit``, else ~limit rows, each class
    keeping its share (at least 50 rows or all it has)."""
    if len(y) <= limit:
        return np.arange(len(y))
    keep = []
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        take = min(len(rows), max(50, int(round(limit * len(rows) / len(y)))))
        keep.append(rng.choice(rows, size=take, replace=False))
    return np.sort(np.concatenate(keep))


def learn_constraints(real: pd.DataFrame, numeric: list, rng: np.random.Generator | None = None) -> list[Constraint]:
    """The rules of the module docstring that every row of ``real`` satisfies.

    Pair candidates are found on at most :data:`MAX_ROWS` rows, then confirmed on all rows.
    """
    rng = rng or np.random.default_rng(0)
    values = real[numeric].to_numpy(dtype=np.float64)
    rules: list[Constraint] = []
    low, high = values.min(axis=0, initial=np.inf), values.max(axis=0, initial=-np.inf)
    for j, column in enumerate(numeric):
        if low[j] >= 0:
            rules.append(Constraint("nonnegative", (column,)))
        if np.all(values[:, j] == np.round(values[:, j])):
            rules.append(Constraint("integer", (column,)))
        rules.append(Constraint("range", (column,), (float(low[j]), float(high[j]))))
    subset = values[_stratified_rows(np.zeros(len(values)), MAX_ROWS, rng)]
    for i in range(len(numeric)):
        holds = np.all(subset[:, [i]] <= subset, axis=0)  # column i <= column k in every row
        for k in np.flatnonzero(holds):
            if k == i or high[i] <= low[k]:  # itself, or implied by the two ranges
                continue
            equal = bool(np.all(values[:, i] == values[:, k]))
            if equal and k < i:  # a == b once, from the first column
                continue
            if equal or np.all(values[:, i] <= values[:, k]):
                rules.append(Constraint("pair_eq" if equal else "pair_le", (numeric[i], numeric[k])))
    return rules


def _ordinal(frame: pd.DataFrame, numeric: list, categorical: list, levels: dict) -> np.ndarray:
    """(m, d) float64: numerics as they are, categories as their index in ``levels`` (-1 unseen)."""
    parts = [frame[numeric].to_numpy(dtype=np.float64)]
    for column in categorical:
        lookup = {v: i for i, v in enumerate(levels[column])}
        parts.append(frame[column].astype(str).map(lookup).fillna(-1).to_numpy(dtype=np.float64)[:, None])
    return np.concatenate(parts, axis=1)


@dataclass
class SyntheticCheck:
    """The result of :func:`synthetic_check`.

    ``classes``: DataFrame indexed by synthetic class with ``n_synthetic``, ``own_class_share``
    (share of its synthetic rows the forest assigns to it), ``real_own_class_share`` (the
    forest's out-of-bag share on its real rows), ``predicted_as`` (the class most of its
    synthetic rows are assigned to), ``constraint_share`` (share of its synthetic rows breaking
    at least one constraint), ``unseen_category_share``, ``flagged`` (bool).
    ``violations``: DataFrame (class, constraint, kind, rows, share), largest share first.
    ``constraints``: the rules learnt from the real rows. ``extra``: other facts a generator
    reported (e.g. MAGE-ID's ``label_agreement_``).
    """

    classes: pd.DataFrame
    violations: pd.DataFrame
    constraints: list
    min_own_class_share: float
    max_violation_share: float
    extra: dict = field(default_factory=dict)

    def warnings(self) -> list[str]:
        """One sentence per flagged class, naming what is wrong and its share."""
        out = []
        for label, row in self.classes.iterrows():
            if row["own_class_share"] < self.min_own_class_share:
                out.append(
                    f"class {label!r}: only {row['own_class_share']:.0%} of {int(row['n_synthetic'])} synthetic rows "
                    f"are classified as {label!r} by a forest trained on the real rows (most look like "
                    f"{row['predicted_as']!r}; real rows: {row['real_own_class_share']:.0%})"
                )
            if row["constraint_share"] > self.max_violation_share:
                rules = self.violations[(self.violations["class"] == label)
                                        & (self.violations["kind"] != "unseen_category")]
                worst = rules.iloc[0]
                out.append(
                    f"class {label!r}: {row['constraint_share']:.0%} of synthetic rows break a rule every real row "
                    f"keeps (worst: {worst['constraint']}, {worst['share']:.0%} of rows)"
                )
            if row["unseen_category_share"] > self.max_violation_share:
                out.append(f"class {label!r}: {row['unseen_category_share']:.0%} of synthetic rows carry a "
                           f"category this class never takes in the real rows")
        return out

    def __str__(self) -> str:
        lines = ["Synthetic-data check (forest trained on the real rows; rules learnt from them):",
                 self.classes.to_string(float_format=lambda v: f"{v:.3f}")]
        if len(self.violations):
            table = self.violations.head(10).to_string(index=False, float_format=lambda v: f"{v:.3f}")
            lines += ["Most broken rules:", table]
        for name, value in self.extra.items():
            lines.append(f"{name}: {value}")
        flagged = self.warnings()
        lines += [f"WARNING {w}" for w in flagged] if flagged else ["No class above the thresholds."]
        return "\n".join(lines)

    def warn(self, stacklevel: int = 2) -> None:
        """Issue one :class:`SyntheticDataWarning` listing the flagged classes (none if clean)."""
        flagged = self.warnings()
        if flagged:
            warnings.warn("synthetic rows look wrong:\n  " + "\n  ".join(flagged), SyntheticDataWarning,
                          stacklevel=stacklevel)


def synthetic_check(
    X_real, y_real, X_synth, y_synth, *, categorical=None, columns=None, min_own_class_share: float = 0.5,
    max_violation_share: float = 0.05, n_estimators: int = 100, random_state: int = 0, n_jobs: int | None = None,
) -> SyntheticCheck:
    """Check synthetic rows against the real rows (module docstring).

    X_real (n, d), y_real (n,): the real rows and labels; X_synth (m, d), y_synth (m,): the
    synthetic ones, same columns. DataFrames or arrays (``columns`` names an array's columns).
    ``categorical``: categorical columns (default: the non-numeric ones). Thresholds are
    shares in [0, 1]. The forest (``n_estimators`` trees, ``random_state``) is trained on at
    most :data:`MAX_ROWS` stratified real rows.
    """
    real, synth = _as_frame(X_real, columns), _as_frame(X_synth, columns)
    if list(synth.columns) != list(real.columns):
        raise ValueError(f"X_synth must have X_real's columns {list(real.columns)[:10]}, "
                         f"got {list(synth.columns)[:10]}")
    y_real, y_synth = np.asarray(y_real), np.asarray(y_synth)
    if y_real.shape != (len(real),) or y_synth.shape != (len(synth),):
        raise ValueError("y_real and y_synth must hold one label per row of X_real and X_synth")
    numeric, cats = split_columns(real, categorical or ())
    rng = np.random.default_rng(random_state)
    levels = {c: sorted(real[c].astype(str).unique()) for c in cats}

    rows = _stratified_rows(y_real, MAX_ROWS, rng)
    forest = RandomForestClassifier(n_estimators=n_estimators, oob_score=len(np.unique(y_real)) > 1 and len(rows) > 20,
                                    random_state=random_state, n_jobs=n_jobs)
    forest.fit(_ordinal(real.iloc[rows], numeric, cats, levels), y_real[rows])
    predicted = forest.predict(_ordinal(synth, numeric, cats, levels)) if len(synth) else np.asarray([])
    oob = getattr(forest, "oob_decision_function_", None)
    constraints = learn_constraints(real, numeric, rng)
    broken = {str(rule): rule.broken(synth) for rule in constraints}
    kinds = {str(rule): rule.kind for rule in constraints}

    class_rows, violation_rows = [], []
    for label in pd.unique(y_synth):
        mine = y_synth == label
        label = label.item() if isinstance(label, np.generic) else label
        n = int(mine.sum())
        assigned = pd.Series(predicted[mine]).value_counts()
        real_mine = y_real[rows] == label
        real_share = np.nan
        if oob is not None and real_mine.any():
            column = int(np.flatnonzero(forest.classes_ == label)[0])
            real_share = float(np.mean(np.argmax(np.nan_to_num(oob[real_mine]), axis=1) == column))
        any_broken = np.zeros(n, dtype=bool)
        for text, mask in broken.items():
            count = int(mask[mine].sum())
            any_broken |= mask[mine]
            if count:
                violation_rows.append({"class": label, "constraint": text, "kind": kinds[text], "rows": count,
                                       "share": count / n})
        unseen = np.zeros(n, dtype=bool)
        for column in cats:
            seen = set(real.loc[y_real == label, column].astype(str))
            values = synth.loc[mine, column].astype(str)
            new = ~values.isin(seen).to_numpy()
            unseen |= new
            for value, count in values[new].value_counts().items():
                violation_rows.append({"class": label, "constraint": f"{column} = {value!r} (never in this class)",
                                       "kind": "unseen_category", "rows": int(count), "share": count / n})
        class_rows.append({
            "class": label, "n_synthetic": n, "own_class_share": float(np.mean(predicted[mine] == label)),
            "real_own_class_share": real_share, "predicted_as": assigned.index[0] if len(assigned) else None,
            "constraint_share": float(any_broken.mean()), "unseen_category_share": float(unseen.mean()),
        })  # fmt: skip
    classes = pd.DataFrame(class_rows, columns=["class", "n_synthetic", "own_class_share", "real_own_class_share",
                                                "predicted_as", "constraint_share", "unseen_category_share"])
    classes = classes.set_index("class")
    classes["flagged"] = ((classes["own_class_share"] < min_own_class_share)
                          | (classes["constraint_share"] > max_violation_share)
                          | (classes["unseen_category_share"] > max_violation_share))
    violations = pd.DataFrame(violation_rows, columns=["class", "constraint", "kind", "rows", "share"])
    violations = violations.sort_values(["share", "rows"], ascending=False, kind="stable").reset_index(drop=True)
    return SyntheticCheck(classes, violations, constraints, float(min_own_class_share), float(max_violation_share))
