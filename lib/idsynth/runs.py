"""One route for every generator: fit-or-load through the cache under one key and one layout.

    from idsynth import runs
    model, seconds = runs.fit_or_load("TabDDPM", fresh, X, y, seed=0, dataset="NSL-KDD")

A fitted generator is stored as ``<cache>/generator/<key>.model`` (with ``.config.json``,
``.sha256`` and ``.fit_seconds.json`` beside it), keyed by :func:`generator_key`:

* ``generator``: the name it goes by in the tables (``"MAGE-ID"``, ``"VGM-C"``, ...);
* ``code``: :func:`~idsynth.code_versions.code_versions`, ``{class: CODE_VERSION}`` of the generator and of every
  generator it holds; a class bumps its ``CODE_VERSION`` when a change alters what a fit learns
  (beyond rounding), and every model fitted by the older code is then refitted;
* ``class`` and ``params``: the class and :func:`key_params` (its ``get_params`` without the
  settings that change speed or logging, :data:`~idsynth.models.base.RUNTIME_PARAMS`; a staged
  generator names the parameters each stage reads);
* ``stage``: for a staged generator (below), the stage fitted; else None;
* ``data``: the data set's name, :func:`data_fingerprint` of the training rows and labels, and
  the number of rows;
* ``seed``.

A staged generator (``FIT_STAGES = n`` with methods ``fit_stage1`` ... ``fit_stage<n>`` and
``key_params(stage)``; MAGE-ID and TabSyn: the VAEs, then the EDM) is fitted stage by stage, each
stage stored under its own key, so a change to a later stage's settings refits that stage only
(the ablations reuse the VAEs): an earlier stage loaded from the cache takes the call's
parameters before the next stage is fitted, and its ``unkeyed_settings()`` are set on any
loaded model (MAGE-ID's sampling settings, which no key holds). Synthetic sets are keyed by their
generator's key, those unkeyed settings, the class counts and the seed they were sampled with
(:func:`synthetic_key`, kind :data:`SYNTHETIC_KIND`). :mod:`idsynth.experiments.generator_cache` applies this route to the
MAGE-ID sets (Table I) and holds the synthetic sets' files; the VGM notebooks
(:mod:`~idsynth.experiments.vgm_train`), the MAGE-ID notebooks
(:mod:`~idsynth.experiments.mageid_train`) and Table 6 (:mod:`~idsynth.experiments.cross_eval`)
call it with their own rows.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import time
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .cache import ArtifactCache, array_digest, atomic_write_text
from .code_versions import code_versions, qualified_name
from .models.base import RUNTIME_PARAMS

#: The cache kind of every fitted generator.
GENERATOR_KIND = "generator"
#: The cache kind of every synthetic set sampled from a cached generator.
SYNTHETIC_KIND = "synthetic"
#: The suffix of a fitted generator's file.
MODEL_SUFFIX = ".model"


def dtype_name(dtype) -> str:
    """``dtype``'s name, with text columns named ``"str"`` under every pandas version (pandas 3's
    name of its string dtype; pandas 2 holds text as ``object``), so keys do not move with the
    pandas release."""
    if not isinstance(dtype, pd.CategoricalDtype) and pd.api.types.is_string_dtype(dtype):
        return "str"
    return str(dtype)


def data_fingerprint(X, y) -> str:
    """16 hex digits of SHA-256 identifying training rows and labels.

    A DataFrame ``X``: its column names and dtypes (:func:`dtype_name`), each row's hash and
    ``y`` as int64. Arrays: :func:`~idsynth.cache.array_digest` of ``X`` as float32 and ``y`` as
    int64 (the array generators' input; float64 and float32 copies of the same values agree).
    """
    if isinstance(X, pd.DataFrame):
        digest = hashlib.sha256(repr([(str(c), dtype_name(t)) for c, t in X.dtypes.items()]).encode())
        digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
        digest.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
        return digest.hexdigest()[:16]
    return array_digest(np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.int64))


def keyable(value: Any) -> Any:
    """A JSON form of a parameter value for a key: an estimator (a generator inside a wrapper)
    by its class and :func:`generator_params`; unknown objects by their repr."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        return {"class": qualified_name(type(value)), "params": generator_params(value)}
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


def stages(generator) -> int:
    """How many stages ``generator`` is fitted in (``FIT_STAGES``; 1 for a plain ``fit``)."""
    return int(getattr(type(generator), "FIT_STAGES", 1))


def key_params(generator, stage: int | None = None, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The parameters a (stage of a) generator is keyed by: a staged generator's
    ``key_params(stage)``, else :func:`generator_params`."""
    if stage is not None:
        return keyable(generator.key_params(stage))
    return generator_params(generator, params)


def generator_key(name: str, generator, X, y, *, seed: int, dataset: str | None = None, stage: int | None = None,
                  params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The key of ``generator`` (fresh or fitted: parameters, not weights) fitted on ``X``, ``y``
    (up to ``stage`` for a staged generator; None = its last); see the module docstring.
    ``params``: the identifying parameters of a generator without ``get_params``."""
    staged = stages(generator) > 1
    if staged:
        stage = stages(generator) if stage is None else int(stage)
        if not 1 <= stage <= stages(generator):
            raise ValueError(f"stage must be in 1..{stages(generator)}, got {stage!r}")
    elif stage not in (None, 1):
        raise ValueError(f"{type(generator).__name__} is fitted in one stage; got stage={stage!r}")
    return {
        "generator": str(name),
        "code": code_versions(generator),
        "class": qualified_name(type(generator)),
        "params": key_params(generator, stage if staged else None, params),
        "stage": stage if staged else None,
        "data": {"dataset": dataset, "fingerprint": data_fingerprint(X, y), "rows": int(len(X))},
        "seed": int(seed),
    }


def synthetic_key(generator, generator_key_: Mapping[str, Any], counts: Mapping[Any, int],
                  random_state: int) -> dict[str, Any]:
    """The key of a synthetic set: its generator's key, the settings the model key leaves out
    but sampling reads (a staged generator's ``unkeyed_settings()``, e.g. MAGE-ID's Heun steps),
    the class counts and the sampling seed."""
    unkeyed = generator.unkeyed_settings() if hasattr(generator, "unkeyed_settings") else None
    return {**dict(generator_key_), "sampling": keyable(unkeyed),
            "sample": {"counts": {str(k): int(v) for k, v in counts.items()}, "random_state": int(random_state)}}


def _load_like(fresh, path):
    """``type(fresh).load(path)``, on ``fresh``'s device when ``load`` takes one."""
    load = type(fresh).load
    if hasattr(fresh, "device") and "device" in inspect.signature(load).parameters:
        return load(path, device=fresh.device)
    return load(path)


def check_generator(generator) -> None:
    """``TypeError`` unless ``generator`` can be fitted, sampled, saved and loaded back."""
    for method in ("fit", "sample", "save"):
        if not callable(getattr(generator, method, None)):
            raise TypeError(f"a {type(generator).__name__} has no {method}() method")
    if not callable(getattr(type(generator), "load", None)):
        raise TypeError(f"{type(generator).__name__} has no classmethod load(path); the cache cannot reload it")


def is_fitted(name: str, fresh, X, y, *, seed: int, dataset: str | None = None, cache: ArtifactCache | None = None,
              stage: int | None = None, params: Mapping[str, Any] | None = None) -> bool:
    """Whether :func:`fit_or_load` with these arguments would load (True) or fit (False)."""
    cache = cache if cache is not None else ArtifactCache()
    key = generator_key(name, fresh, X, y, seed=seed, dataset=dataset, stage=stage, params=params)
    return cache.has(GENERATOR_KIND, key, MODEL_SUFFIX)


def fit_or_load(name: str, fresh, X, y, *, seed: int, dataset: str | None = None,
                cache: ArtifactCache | None = None, stage: int | None = None,
                params: Mapping[str, Any] | None = None) -> tuple[Any, float]:
    """``(fitted generator, fit seconds)``: ``fresh`` fitted on ``X``, ``y`` (up to ``stage``), or
    the model the cache holds under :func:`generator_key`.

    fresh: an unfitted generator (``fit``, ``sample``, ``save``, a classmethod ``load``; reloaded
    on ``fresh.device`` when it has one); it is the object fitted when the cache has no model.
    A staged generator's earlier stages come through this route too. The fit seconds are stored
    beside the model (a loaded model reports those; NaN if missing); a staged generator's are the
    sum over its stages up to ``stage``, each as it was measured when fitted.
    """
    check_generator(fresh)
    cache = cache if cache is not None else ArtifactCache()
    key = generator_key(name, fresh, X, y, seed=seed, dataset=dataset, stage=stage, params=params)
    measured: dict[str, float] = {}

    def build():
        if key["stage"] is None:
            started = time.perf_counter()
            fresh.fit(X, y)
            measured["fit_seconds"] = time.perf_counter() - started
            return fresh
        model, earlier = fresh, 0.0
        if key["stage"] > 1:
            model, earlier = fit_or_load(name, fresh, X, y, seed=seed, dataset=dataset, cache=cache,
                                         stage=key["stage"] - 1)
            model.set_params(**fresh.get_params(deep=False))  # this call's settings, not the cached model's
        started = time.perf_counter()
        getattr(model, f"fit_stage{key['stage']}")(X, y)
        measured["fit_seconds"] = earlier + (time.perf_counter() - started)  # stages 1..k (NaN if one is unknown)
        return model

    model = cache.get_or_create(GENERATOR_KIND, key, build=build, save=lambda g, path: g.save(path),
                                load=lambda path: _load_like(fresh, path), suffix=MODEL_SUFFIX)
    timing = cache.path_for(GENERATOR_KIND, key, ".fit_seconds.json")
    if measured:
        atomic_write_text(timing, json.dumps(measured))
    elif timing.exists():
        measured = json.loads(timing.read_text())
    if hasattr(fresh, "unkeyed_settings"):
        model.set_params(**fresh.unkeyed_settings())
    return model, float(measured.get("fit_seconds", math.nan))

