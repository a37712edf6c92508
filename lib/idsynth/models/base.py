"""The generator protocol that every model in ``idsynth.models`` follows.

Because all generators share it, every metric runs on every generator (VGM in Table I's
metrics, MAGE-ID as an over-sampler in Table 6).

* ``fit(X, y)``: ``X`` is an ``(n, d)`` array (or a DataFrame for mixed-type generators),
  ``y`` an ``(n,)`` array of class labels. Returns ``self``.
* ``sample(n_per_class, random_state=None) -> (X, y)``: ``n_per_class`` maps each class label
  to a row count; returns rows in the same space and type as ``fit``'s ``X``, and their labels,
  grouped by class in the mapping's order.
* ``save(path)`` / ``load(path)`` (a classmethod): a single file; a loaded model samples
  exactly as the saved one for the same ``random_state``.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, runtime_checkable

import numpy as np

#: Generator parameters that change speed or logging, not the trained model: left out of every
#: cache key (VGM, MAGE-ID/TabSyn, TabDDPM and the wrapped generators of Table I).
RUNTIME_PARAMS: tuple[str, ...] = ("device", "verbose", "cuda_graph", "compile_step")


@runtime_checkable
class Generator(Protocol):
    def fit(self, X, y) -> "Generator": ...

    def sample(self, n_per_class: Mapping[Any, int], random_state: int | None = None) -> tuple[Any, np.ndarray]: ...

    def save(self, path) -> None: ...


def labels_from_counts(n_per_class: Mapping[Any, int], classes: np.ndarray) -> np.ndarray:
    """``{label: count}`` -> the ``(sum(counts),)`` label array, classes in mapping order.

    Raises ``ValueError`` for a label the generator was not fitted on or a negative count.
    """
    known = set(np.asarray(classes).tolist())
    parts = []
    for label, count in n_per_class.items():
        if label not in known:
            raise ValueError(f"class {label!r} was not seen in fit; known classes: {sorted(known, key=str)}")
        if int(count) < 0:
            raise ValueError(f"negative sample count {count} for class {label!r}")
        parts.append(np.full(int(count), label, dtype=np.asarray(classes).dtype))
    if not parts:
        return np.asarray([], dtype=np.asarray(classes).dtype)
    return np.concatenate(parts)


def class_counts(y: np.ndarray) -> dict[Any, int]:
    """``{label: count}`` of ``y`` in sorted label order (what ``sample`` needs to mirror ``y``)."""
    labels, counts = np.unique(np.asarray(y), return_counts=True)
    return {label.item() if hasattr(label, "item") else label: int(c) for label, c in zip(labels, counts)}
