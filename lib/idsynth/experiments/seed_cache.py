"""Per-seed results in the artefact cache, so that an interrupted multi-seed run resumes.

Tables 5 and 6 fit dozens of classifiers per seed (minutes each seed on a GPU machine, an hour on
two CPU cores). :func:`cached_seed_rows` keeps each finished seed's rows (JSON, written
atomically by :class:`~idsynth.cache.ArtifactCache`) under a key made of the run's settings, a
digest of its data (:func:`~idsynth.cache.array_digest`) and the seed; a rerun redoes only the seeds not
finished, and reused rows keep the seconds measured when they were made.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import numpy as np

from ..cache import ArtifactCache, config_key

T = TypeVar("T")


def setting_digest(config: Mapping[str, Any]) -> str:
    """12 hex digits naming the setting ``config`` (a seed row's key without its seed) describes:
    the ``setting`` column a shared table's rows carry, so a committed row can be checked against
    the key the current code makes (notebook 11's generators, notebook 13's rows)."""
    return config_key(config)[:12]


def cached_seed_rows(cache: ArtifactCache | None, kind: str, config: Mapping[str, Any], seed: int,
                     build: Callable[[], T]) -> T:
    """``build()`` (JSON-serialisable rows of one seed), or its earlier result from ``cache``
    (entry ``kind`` keyed by ``config`` plus the seed); without a cache, just ``build()``."""
    if cache is None:
        return build()
    return cache.get_or_create(kind, {**dict(config), "seed": int(seed)}, build=build, save=_save_json,
                               load=_load_json, suffix=".json")


def cached_seeds(cache: ArtifactCache | None, kind: str, config: Mapping[str, Any], seeds) -> list[int]:
    """The ``seeds`` whose rows :func:`cached_seed_rows` would take from ``cache`` (none without one)."""
    if cache is None:
        return []
    return [int(s) for s in seeds if cache.has(kind, {**dict(config), "seed": int(s)}, ".json")]


def restorable_sets(table, sets, column: str, known, noun: str) -> dict[str, Any]:
    """``{name: set}`` of ``sets``, once every ``dataset`` of a committed ``table`` is among them and
    every value of its ``column`` among ``known`` (what a ``restore_rows`` can key); otherwise a
    ``ValueError`` names the unknown sets and ``noun`` values, before anything is written."""
    by_name = {s.name: s for s in sets}
    unknown_sets = sorted(set(table["dataset"]) - set(by_name))
    unknown = sorted(set(table[column]) - set(known))
    if unknown_sets or unknown:
        raise ValueError(f"cannot restore rows of data sets {unknown_sets} / {noun} {unknown}: "
                         f"known sets {sorted(by_name)}, {noun} {list(known)}")
    return by_name


def _save_json(rows: Any, path: str | Path) -> None:
    Path(path).write_text(json.dumps(rows, default=_plain_number))


def _load_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def _plain_number(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
