"""Fitted transformers as plain data, so that a model file loads with ``torch.load(weights_only=True)``.

``torch.load(..., weights_only=True)`` only rebuilds tensors and plain containers (dicts, lists,
strings, numbers); it never runs code named by the file. A generator that holds fitted
preprocessing objects (a :class:`~idsynth.data.encoding.TabularEncoder` with a scikit-learn
``QuantileTransformer`` inside, a :class:`~idsynth.imaging.TabularImager`) therefore stores them
as their instance dictionaries, converted to such plain data:

* ``None``, ``bool``, ``int``, ``float``, ``str`` (and NumPy scalars, as Python numbers) as is;
* lists and string-keyed dicts element by element; tuples and slices as tagged dicts;
* numeric and boolean NumPy arrays as CPU tensors (dtype and shape kept exactly);
* string / object arrays as a tagged dict with their shape, dtype and flat list of items;
* an instance of an *allowed* class as a tagged dict with its class name and its converted
  ``__dict__``; :func:`from_plain` only rebuilds classes the caller allows.

Tagged dicts carry the key ``"__plain__"``; a dict of the object's own with that key is refused.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import torch

TAG = "__plain__"


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def to_plain(value: Any, allowed: Iterable[type]) -> Any:
    """``value`` as plain data (see the module docstring); instances of ``allowed`` classes are
    stored by their ``__dict__``. Raises ``TypeError`` for anything else."""
    allowed = tuple(allowed)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return [to_plain(v, allowed) for v in value]
    if isinstance(value, tuple):
        return {TAG: "tuple", "items": [to_plain(v, allowed) for v in value]}
    if isinstance(value, slice):
        return {TAG: "slice", "start": value.start, "stop": value.stop, "step": value.step}
    if isinstance(value, dict):
        if TAG in value:
            raise TypeError(f"cannot store a dict with the reserved key {TAG!r}")
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise TypeError(f"only string-keyed dicts can be stored, got keys {bad[:5]}")
        return {k: to_plain(v, allowed) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            return torch.from_numpy(np.array(value, copy=True))
        if value.dtype.kind in "OU":
            items = [to_plain(v, allowed) for v in value.ravel().tolist()]
            return {TAG: "ndarray", "dtype": value.dtype.str, "shape": list(value.shape), "items": items}
        raise TypeError(f"cannot store a NumPy array of dtype {value.dtype}")
    if isinstance(value, allowed):
        return {TAG: "object", "class": _class_name(type(value)), "state": to_plain(vars(value), allowed)}
    raise TypeError(
        f"cannot store a {type(value).__name__} as plain data; allowed classes: {[c.__name__ for c in allowed]}"
    )


def from_plain(value: Any, allowed: Iterable[type]) -> Any:
    """Invert :func:`to_plain`. Tensors come back as NumPy arrays; an object is rebuilt only if
    its class is in ``allowed`` (``ValueError`` otherwise), without calling its ``__init__``."""
    allowed = tuple(allowed)
    if isinstance(value, torch.Tensor):
        return value.numpy()
    if isinstance(value, list):
        return [from_plain(v, allowed) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(TAG)
    if tag is None:
        return {k: from_plain(v, allowed) for k, v in value.items()}
    if tag == "tuple":
        return tuple(from_plain(v, allowed) for v in value["items"])
    if tag == "slice":
        return slice(value["start"], value["stop"], value["step"])
    if tag == "ndarray":
        flat = np.empty(len(value["items"]), dtype=np.dtype(value["dtype"]))
        flat[:] = [from_plain(v, allowed) for v in value["items"]]
        return flat.reshape(value["shape"])
    if tag == "object":
        by_name = {_class_name(c): c for c in allowed}
        if value["class"] not in by_name:
            raise ValueError(f"refusing to rebuild {value['class']}: not among the allowed classes {sorted(by_name)}")
        cls = by_name[value["class"]]
        obj = cls.__new__(cls)
        obj.__dict__.update(from_plain(value["state"], allowed))
        return obj
    raise ValueError(f"unknown plain-data tag {tag!r}")


def dtype_to_plain(dtype) -> Any:
    """A pandas column dtype as plain data: its name, or for a categorical its categories and order."""
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        return {"categories": [str(c) for c in dtype.categories], "ordered": bool(dtype.ordered)}
    return str(dtype)


def dtype_from_plain(spec) -> Any:
    """The inverse of :func:`dtype_to_plain`."""
    import pandas as pd

    if isinstance(spec, dict):
        return pd.CategoricalDtype(spec["categories"], ordered=spec["ordered"])
    return pd.api.types.pandas_dtype(spec)
