"""Artefacts (trained models, synthetic sets, tables) keyed by a hash of their configuration.

A rerun with the same configuration reuses what a previous run finished; a crash loses only
the artefact in progress, because every write goes to a temporary file that is renamed into
place once complete.

    cache = ArtifactCache()                          # $IDSYNTH_CACHE or <repo>/.cache/idsynth
    model = cache.get_or_create("vgm", config, build=train, save=save, load=load)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, TypeVar

import numpy as np

from .config import CACHE_ENV, repo_root

T = TypeVar("T")


def _canonical(value: Any) -> Any:
    """A JSON-serialisable, order-independent form of a configuration value."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot key a cache entry on a value of type {type(value).__name__}: {value!r}")


def array_digest(*arrays: np.ndarray) -> str:
    """16 hex digits of SHA-256 over the shapes and dtypes of ``arrays`` (all first), then their
    bytes in C order: the data part of a cache key or a memo key."""
    arrays = [np.ascontiguousarray(a) for a in arrays]
    digest = hashlib.sha256("".join(f"{a.shape}{a.dtype}" for a in arrays).encode())
    for array in arrays:
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def config_key(config: Mapping[str, Any]) -> str:
    """16 hex digits of SHA-256 over the canonical JSON of ``config``."""
    text = json.dumps(_canonical(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():  # mkstemp makes 0600 files; give the final file the usual mode
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


class ArtifactCache:
    """A directory of artefacts, one sub-directory per kind, one entry per configuration."""

    def __init__(self, root: str | os.PathLike | None = None):
        root = root or os.environ.get(CACHE_ENV) or repo_root() / ".cache" / "idsynth"
        self.root = Path(root)

    def path_for(self, kind: str, config: Mapping[str, Any], suffix: str = "") -> Path:
        """``<root>/<kind>/<key><suffix>``; the configuration is stored beside it as JSON."""
        return self.root / kind / f"{config_key(config)}{suffix}"

    def get_or_create(
        self,
        kind: str,
        config: Mapping[str, Any],
        build: Callable[[], T],
        save: Callable[[T, Path], None],
        load: Callable[[Path], T],
        suffix: str = "",
    ) -> T:
        """Load the artefact for ``config`` if finished before, else build, save and return it.

        ``save(obj, path)`` writes to a temporary path that is renamed to the final one
        only after it returns, so a half-written artefact is never found by a rerun.
        """
        path = self.path_for(kind, config, suffix)
        if path.exists():
            return load(path)
        obj = build()
        with atomic_path(path) as tmp:
            save(obj, tmp)
        atomic_write_text(path.with_name(path.name + ".config.json"), json.dumps(_canonical(config), indent=1))
        return obj

    def has(self, kind: str, config: Mapping[str, Any], suffix: str = "") -> bool:
        return self.path_for(kind, config, suffix).exists()
