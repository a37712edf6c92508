"""Fit-or-load, sample-or-load, store: the cache route of the generators of Tables I and 6.

A fitted generator is keyed by its name, class and parameters (without ``device`` and
``verbose``, which change how fast, not what, it learns), the data set's name, size and a
fingerprint of its training rows, and the seed; a synthetic set by that and the class counts and
seed it was sampled with. Synthetic sets are stored as plain NumPy columns with their dtype names,
so that a file reads under every pandas release.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import pickle
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from ..cache import ArtifactCache, atomic_write_text
from ..data.mageid_sets import MageIDSet
from ..models.base import RUNTIME_PARAMS, class_counts
from ..models.plain_state import dtype_from_plain, dtype_to_plain

_SYNTHETIC_FORMAT = "idsynth.table_i.synthetic/2"
#: The first format (a pickled DataFrame; read only under the pandas release that wrote it).
_SYNTHETIC_FORMAT_V1 = "idsynth.table_i.synthetic/1"



def _check_set(mageid_set) -> None:
    if not isinstance(mageid_set, MageIDSet):
        raise TypeError(f"expected a MageIDSet (idsynth.data.mageid_sets), got {type(mageid_set).__name__}")



def keyable(value: Any) -> Any:
    """A cache-keyable (JSON) form of a parameter value: an estimator (a generator inside a
    wrapper) by its class and :func:`generator_params`; unknown objects by their repr."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        cls = type(value)
        return {"class": f"{cls.__module__}.{cls.__qualname__}", "params": generator_params(value)}
    if isinstance(value, Mapping):
        return {str(k): keyable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [keyable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return f"{type(value).__module__}.{type(value).__qualname__}:{value!r}"


def generator_params(generator, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The parameters that identify a generator's model: ``params`` when given, else its
    ``get_params(deep=False)`` (scikit-learn style) without :data:`RUNTIME_PARAMS`."""
    if params is None:
        if not hasattr(generator, "get_params"):
            raise TypeError(
                f"{type(generator).__name__} has no get_params(); pass params={{...}} naming its hyper-parameters"
            )
        params = {k: v for k, v in generator.get_params(deep=False).items() if k not in RUNTIME_PARAMS}
    return keyable(dict(params))


def training_fingerprint(mageid_set: MageIDSet) -> str:
    """16 hex digits of SHA-256 over the training rows' feature names, values and labels."""
    X, y = mageid_set.xy("train")
    digest = hashlib.sha256(json.dumps(list(X.columns)).encode())
    digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    digest.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def generator_cache_config(
    name: str, generator, mageid_set: MageIDSet, seed: int, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The cache key of a fitted generator: model name, class, parameters, data set, seed."""
    cls = type(generator)
    return {
        "model": str(name),
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "params": generator_params(generator, params),
        "dataset": mageid_set.name,
        "n_rows": int(mageid_set.n_rows),
        "data": {"sha256": training_fingerprint(mageid_set), "train_rows": int(len(mageid_set.train))},
        "seed": int(seed),
    }


def _fresh(make_generator: Callable[[int], Any], seed: int):
    if not callable(make_generator):
        raise TypeError("make_generator must be a callable seed -> fresh, unfitted generator")
    generator = make_generator(int(seed))
    for method in ("fit", "sample", "save"):
        if not callable(getattr(generator, method, None)):
            raise TypeError(f"make_generator returned a {type(generator).__name__} without a {method}() method")
    if not callable(getattr(type(generator), "load", None)):
        raise TypeError(f"{type(generator).__name__} has no classmethod load(path); the cache cannot reload it")
    return generator


def _load_like(fresh, path: Path):
    """``type(fresh).load(path)``, on ``fresh``'s device when ``load`` takes one."""
    load = type(fresh).load
    if hasattr(fresh, "device") and "device" in inspect.signature(load).parameters:
        return load(path, device=fresh.device)
    return load(path)


def fit_generator(name: str, make_generator: Callable[[int], Any], mageid_set: MageIDSet, seed: int,
                  cache: ArtifactCache | None = None, params: Mapping[str, Any] | None = None) -> tuple[Any, float]:
    """``(fitted generator, fit seconds)``: ``make_generator(seed)`` fitted on the set's real
    training frame (features only) and its (n,) int64 labels, or loaded from ``cache``.

    The fit time is stored beside the cached model, so a loaded model reports the seconds its
    fit took (NaN if that record is missing).
    """
    _check_set(mageid_set)
    cache = cache if cache is not None else ArtifactCache()
    fresh = _fresh(make_generator, seed)
    config = generator_cache_config(name, fresh, mageid_set, seed, params)
    return cached_fit(fresh, lambda: mageid_set.xy("train"), config, cache, kind="table_i_generator")


def cached_fit(
    fresh, training_data: Callable[[], tuple[Any, Any]], config: Mapping[str, Any], cache: ArtifactCache,
    kind: str,
) -> tuple[Any, float]:
    """``(fitted generator, fit seconds)``: ``fresh.fit(*training_data())``, or the model that
    ``cache`` holds under ``(kind, config)``.

    fresh: an unfitted generator with ``fit``, ``save`` and a classmethod ``load`` (reloaded on
    ``fresh.device`` when it has one); training_data: returns ``(X, y)``, called only when the
    model is fitted. The fit time is stored beside the model, so a loaded model reports the
    seconds its fit took (NaN if that record is missing).
    """
    measured: dict[str, float] = {}

    def build():
        X, y = training_data()
        start = time.perf_counter()
        fresh.fit(X, y)
        measured["fit_seconds"] = time.perf_counter() - start
        return fresh

    generator = cache.get_or_create(
        kind, config, build=build, save=lambda g, path: g.save(path), load=lambda path: _load_like(fresh, path),
        suffix=".model",
    )  # fmt: skip
    timing_path = cache.path_for(kind, config, ".fit_seconds.json")
    if measured:
        atomic_write_text(timing_path, json.dumps(measured))
    elif timing_path.exists():
        measured = json.loads(timing_path.read_text())
    return generator, float(measured.get("fit_seconds", math.nan))


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


#: The cache kind of the synthetic twins that Table I scores (one pickle per generator, set and seed).
SYNTHETIC_KIND = "table_i_synthetic"


def synthetic_cache_config(name: str, generator, mageid_set: MageIDSet, seed: int,
                           params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The cache key of a synthetic twin: :func:`generator_cache_config` (the same for the fresh
    and the fitted generator: parameters, not weights) plus the sampled class counts and seed."""
    counts = class_counts(mageid_set.xy("train")[1])
    return {
        **generator_cache_config(name, generator, mageid_set, seed, params),
        "sample": {"counts": {str(k): v for k, v in counts.items()}, "random_state": int(seed)},
    }


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
