"""Do a conditional generator's rows belong to the class they were drawn for?

An over-sampler helps a classifier only if the rows it draws for class c look like class c. A
classifier trained on real rows alone reads the synthetic rows (train on real, test on synthetic):
its **agreement** for class c is the share of the rows drawn for c that it assigns to c. Its
ceiling is the same classifier's agreement on real rows it did not see (a held-out split of the
real rows), so both are reported side by side, per class. (MAGE-ID's own ``label_agreement_``
is another check: its decoder's label column against the class drawn for.)
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

#: :func:`agreement_rows`' columns.
AGREEMENT_COLUMNS: tuple[str, ...] = ("class", "rows", "agreement", "most_confused_with", "confused_share")


class RealRowsReader:
    """A random forest (``n_estimators`` trees, ``random_state``) fitted on a stratified share
    ``1 − held_out`` of the real rows ``X`` (n, d) with labels ``y`` (n,); the held-out rows
    (positions ``held_index_`` in ``X``) are its reference. ``names``: ``{label: class name}``
    for every label that may be read."""

    def __init__(self, X: np.ndarray, y: np.ndarray, names: Mapping[int, str], held_out: float = 0.2,
                 n_estimators: int = 100, random_state: int = 0, n_jobs: int | None = 1):
        X, y = np.asarray(X), np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
        missing = sorted(set(np.unique(y).tolist()) - set(names))
        if missing:
            raise ValueError(f"labels {missing} have no class name in names {dict(names)}")
        self.names = dict(names)
        fit_index, self.held_index_ = train_test_split(np.arange(len(y)), test_size=held_out, stratify=y,
                                                       random_state=random_state)  # fmt: skip
        X_fit, y_fit = X[fit_index], y[fit_index]
        self.X_held_, self.y_held_ = X[self.held_index_], y[self.held_index_]
        self.forest_ = RandomForestClassifier(n_estimators=n_estimators, random_state=random_state, n_jobs=n_jobs)
        self.forest_.fit(X_fit, y_fit)

    def read(self, X: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        """:func:`agreement_rows` of the forest's predictions for rows ``X`` drawn for labels ``y``."""
        return agreement_rows(np.asarray(y), self.forest_.predict(np.asarray(X)), self.names)

    def reference(self) -> pd.DataFrame:
        """:func:`agreement_rows` on the held-out real rows (the ceiling a generator can reach)."""
        return self.read(self.X_held_, self.y_held_)


def agreement_rows(y_drawn: np.ndarray, y_read: np.ndarray, names: Mapping[int, str],
                   labels: Sequence[int] | None = None) -> pd.DataFrame:
    """Per label of ``labels`` (default: those in ``y_drawn``, sorted): ``rows`` drawn for it,
    ``agreement`` (the share read as that label), ``most_confused_with`` (the other class read
    most often; empty when none) and ``confused_share`` (its share). :data:`AGREEMENT_COLUMNS`."""
    y_drawn, y_read = np.asarray(y_drawn), np.asarray(y_read)
    if y_drawn.shape != y_read.shape:
        raise ValueError(f"y_drawn {y_drawn.shape} and y_read {y_read.shape} must have one shape")
    out = []
    for label in sorted(np.unique(y_drawn).tolist()) if labels is None else labels:
        read = y_read[y_drawn == label]
        others = pd.Series(read[read != label]).value_counts()
        out.append({"class": names[label], "rows": int(len(read)),
                    "agreement": float(np.mean(read == label)) if len(read) else float("nan"),
                    "most_confused_with": names[others.index[0]] if len(others) else "",
                    "confused_share": float(others.iloc[0] / len(read)) if len(others) else 0.0})  # fmt: skip
    return pd.DataFrame(out, columns=list(AGREEMENT_COLUMNS))
