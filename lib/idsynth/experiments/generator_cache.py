"""Fit-or-load, sample-or-load, store: :mod:`idsynth.runs`'s route on the MAGE-ID sets (Table I).

A fitted generator is keyed as :func:`idsynth.runs.generator_key` says (name, code versions,
class, parameters without the runtime ones, data set name, fingerprint of its training rows,
seed); a synthetic set by that and the class counts and seed it was sampled with
(:func:`idsynth.runs.synthetic_key`). Synthetic sets are stored as plain NumPy columns with
their dtype names, so that a file reads under every pandas release.
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from .. import runs
from ..cache import ArtifactCache
from ..data.mageid_sets import MageIDSet
from ..models.base import class_counts
from ..models.plain_state import dtype_from_plain, dtype_to_plain
from ..runs import SYNTHETIC_KIND, generator_params, keyable  # noqa: F401  (re-exported)

_SYNTHETIC_FORMAT = "idsynth.table_i.synthetic/2"
#: The first format (a pickled DataFrame; read only under the pandas release that wrote it).
_SYNTHETIC_FORMAT_V1 = "idsynth.table_i.synthetic/1"


def _check_set(mageid_set) -> None:
    if not isinstance(mageid_set, MageIDSet):
        raise TypeError(f"expected a MageIDSet (idsynth.data.mageid_sets), got {type(mageid_set).__name__}")


def generator_cache_config(
    name: str, generator, mageid_set: MageIDSet, seed: int, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The key of ``generator`` (fresh or fitted) fitted on the set's training rows:
    :func:`idsynth.runs.generator_key` with the set's name."""
    X, y = mageid_set.xy("train")
    return runs.generator_key(name, generator, X, y, seed=seed, dataset=mageid_set.name, params=params)


def _fresh(make_generator: Callable[[int], Any], seed: int):
    if not callable(make_generator):
        raise TypeError("make_generator must be a callable seed -> fresh, unfitted generator")
    generator = make_generator(int(seed))
    try:
        runs.check_generator(generator)
    except TypeError as error:
        raise TypeError(f"make_generator returned a generator the cache cannot use: {error}") from None
    return generator


def fit_generator(name: str, make_generator: Callable[[int], Any], mageid_set: MageIDSet, seed: int,
                  cache: ArtifactCache | None = None, params: Mapping[str, Any] | None = None) -> tuple[Any, float]:
    """``(fitted generator, fit seconds)``: ``make_generator(seed)`` fitted on the set's real
    training frame (features only) and its (n,) int64 labels, or loaded from ``cache``
    (:func:`idsynth.runs.fit_or_load`; a loaded model reports the seconds its fit took)."""
    _check_set(mageid_set)
    X, y = mageid_set.xy("train")
    return runs.fit_or_load(name, _fresh(make_generator, seed), X, y, seed=seed, dataset=mageid_set.name,
                            cache=cache, params=params)


def _save_synthetic(result: dict, path: Path) -> None:
    """The synthetic set as plain data: each column's values as a NumPy array (text as objects)
    with its dtype's name (:func:`~idsynth.models.plain_state.dtype_to_plain`), so a file written
    under one pandas release reads under another (a pickled DataFrame of pandas 3's string dtype
    does not unpickle under pandas 2)."""
    frame = result["frame"]
    columns = {str(c): (frame[c].to_numpy() if pd.api.types.is_numeric_dtype(frame[c].dtype)
                        and not isinstance(frame[c].dtype, pd.CategoricalDtype)
                        else np.asarray(frame[c].astype(object), dtype=object)) for c in frame.columns}
    plain = {"format": _SYNTHETIC_FORMAT, "columns": columns,
             "dtypes": {str(c): dtype_to_plain(frame[c].dtype) for c in frame.columns},
             **{k: v for k, v in result.items() if k not in ("frame", "format")}}
    with open(path, "wb") as fh:
        pickle.dump(plain, fh, protocol=pickle.HIGHEST_PROTOCOL)


def _load_synthetic(path: Path) -> dict:
    with open(path, "rb") as fh:
        result = pickle.load(fh)
    if not isinstance(result, dict) or result.get("format") not in (_SYNTHETIC_FORMAT, _SYNTHETIC_FORMAT_V1):
        raise ValueError(f"{path} is not a synthetic set cached by idsynth.experiments.table_i")
    if result["format"] == _SYNTHETIC_FORMAT:
        frame = pd.DataFrame(result.pop("columns"))
        result["frame"] = frame.astype({c: dtype_from_plain(d) for c, d in result.pop("dtypes").items()})
    return result


def sample_synthetic(name: str, make_generator: Callable[[int], Any], mageid_set: MageIDSet, seed: int,
                     cache: ArtifactCache | None = None, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The synthetic twin of the set's real training rows, from cache or fitted and sampled.

    Returns ``{"frame": (n, len(features)) DataFrame, "y": (n,) int64, "fit_seconds",
    "sample_seconds"}`` with exactly the real training set's class counts, sampled with
    ``random_state=seed``. Raises ``RuntimeError`` when the generator returns other counts or
    not a DataFrame with the feature columns.
    """
    _check_set(mageid_set)
    cache = cache if cache is not None else ArtifactCache()
    counts = class_counts(mageid_set.xy("train")[1])
    config = synthetic_cache_config(name, _fresh(make_generator, seed), mageid_set, seed, params)

    def build() -> dict:
        generator, fit_seconds = fit_generator(name, make_generator, mageid_set, seed, cache, params)
        start = time.perf_counter()
        frame, y = generator.sample(counts, random_state=int(seed))
        sample_seconds = time.perf_counter() - start
        features = mageid_set.features
        if not isinstance(frame, pd.DataFrame) or any(c not in frame.columns for c in features):
            raise RuntimeError(f"{name}.sample must return a DataFrame with the set's {len(features)} feature columns")
        y = np.asarray(y).astype(np.int64)
        if class_counts(y) != counts:
            raise RuntimeError(f"{name} sampled class counts {class_counts(y)}, expected {counts}")
        frame = frame[features].reset_index(drop=True)
        return {"frame": frame, "y": y, "fit_seconds": fit_seconds, "sample_seconds": sample_seconds}

    result = cache.get_or_create(SYNTHETIC_KIND, config, build, _save_synthetic, _load_synthetic, suffix=".pkl")
    return {key: result[key] for key in ("frame", "y", "fit_seconds", "sample_seconds")}


def synthetic_cache_config(name: str, generator, mageid_set: MageIDSet, seed: int,
                           params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The key of a synthetic twin: :func:`generator_cache_config` (the same for the fresh and the
    fitted generator: parameters, not weights) plus the real training class counts and ``seed``
    (:func:`idsynth.runs.synthetic_key`)."""
    counts = class_counts(mageid_set.xy("train")[1])
    key = generator_cache_config(name, generator, mageid_set, seed, params)
    return runs.synthetic_key(generator, key, counts, seed)


def cached_synthetic(name: str, generator, mageid_set: MageIDSet, seed: int, cache: ArtifactCache | None = None,
                     params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The synthetic twin stored for ``generator`` (fresh or fitted) on the set and seed, or
    None: what :func:`sample_synthetic` or :func:`store_synthetic` wrote (a dict with at least
    ``frame``, ``y``, ``fit_seconds``, ``sample_seconds``). Never fits or samples, so a machine
    without a GPU can re-score sets a GPU made."""
    _check_set(mageid_set)
    cache = cache if cache is not None else ArtifactCache()
    config = synthetic_cache_config(name, generator, mageid_set, seed, params)
    return cache.load(SYNTHETIC_KIND, config, _load_synthetic, ".pkl")  # None when absent or damaged


def cached_twins(mageid_set: MageIDSet, seeds: Iterable[int], factories: Mapping[str, Callable[[int], Any]],
                 cache: ArtifactCache | None = None) -> dict[tuple[str, int], tuple[pd.DataFrame, np.ndarray]]:
    """``{(name, seed): (frame, y)}`` of the synthetic twins ``cache`` holds for the generators of
    ``factories`` (name -> seed -> fresh generator) on the set, for each seed; absent ones are
    left out. Fits and samples nothing (see :func:`cached_synthetic`)."""
    found = {}
    for name, make in factories.items():
        for seed in seeds:
            stored = cached_synthetic(name, _fresh(make, int(seed)), mageid_set, int(seed), cache)
            if stored is not None:
                found[(name, int(seed))] = (stored["frame"], np.asarray(stored["y"]))
    return found


def store_synthetic(name: str, generator, mageid_set: MageIDSet, seed: int, result: Mapping[str, Any],
                    cache: ArtifactCache | None = None, params: Mapping[str, Any] | None = None) -> None:
    """Keep a synthetic twin sampled elsewhere (e.g. notebook 09's MAGE-ID rows) under
    :func:`synthetic_cache_config`; ``result`` holds ``frame`` (n, len(features)), ``y`` (n,),
    ``fit_seconds``, ``sample_seconds`` and any other plain values. Refuses a set whose class
    counts are not the real training counts (the key says they are)."""
    _check_set(mageid_set)
    missing = [key for key in ("frame", "y", "fit_seconds", "sample_seconds") if key not in result]
    if missing:
        raise ValueError(f"result lacks {missing}")
    counts = class_counts(mageid_set.xy("train")[1])
    if class_counts(np.asarray(result["y"])) != counts:
        raise ValueError(f"{name}'s synthetic labels have counts {class_counts(np.asarray(result['y']))}, "
                         f"expected the real training counts {counts}")
    cache = cache if cache is not None else ArtifactCache()
    config = synthetic_cache_config(name, generator, mageid_set, seed, params)
    path = cache.path_for(SYNTHETIC_KIND, config, ".pkl")
    path.unlink(missing_ok=True)  # a newer sample replaces the old one
    cache.get_or_create(SYNTHETIC_KIND, config, lambda: dict(result), _save_synthetic, _load_synthetic, suffix=".pkl")
