"""Artefacts (trained models, synthetic sets, tables) keyed by a hash of their configuration.

A rerun with the same configuration reuses what a previous run finished; a crash loses only
the artefact in progress, because every write goes to a temporary file that is renamed into
place once complete.

Integrity: every artefact ``<key><suffix>`` is stored with its SHA-256 in ``<key><suffix>.sha256``.
Before an artefact is reused its bytes are hashed again (memoised per path, size and mtime); a
mismatch (flipped bytes, a truncated copy) or a file that ``load`` cannot read is reported with
its path (:class:`CacheIntegrityWarning`), removed and rebuilt. An artefact from before hashes
existed gets its hash on first use.

    cache = ArtifactCache()                          # $IDSYNTH_CACHE or <repo>/.cache/idsynth
    model = cache.get_or_create("vgm", config, build=train, save=save, load=load)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
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


class CacheIntegrityWarning(UserWarning):
    """A cached artefact was damaged or unreadable; it is rebuilt."""


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hash_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


_INTACT: dict[tuple[str, int, int], str] = {}


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
        """Load the artefact for ``config`` if finished before and intact, else build, save and
        return it.

        ``save(obj, path)`` writes to a temporary path that is renamed to the final one
        only after it returns, so a half-written artefact is never found by a rerun. A stored
        artefact whose hash does not match, or that ``load`` cannot read, is reported with its
        path (:class:`CacheIntegrityWarning`) and rebuilt.
        """
        found = self.load(kind, config, load, suffix)
        if found is not None:
            return found
        path = self.path_for(kind, config, suffix)
        obj = build()
        with atomic_path(path) as tmp:
            save(obj, tmp)
        atomic_write_text(_hash_path(path), file_sha256(path) + "\n")
        atomic_write_text(path.with_name(path.name + ".config.json"), json.dumps(_canonical(config), indent=1))
        return obj

    def load(self, kind: str, config: Mapping[str, Any], load: Callable[[Path], T], suffix: str = "") -> T | None:
        """The stored artefact for ``config`` read by ``load``, or None when there is none or it
        was damaged or unreadable (then reported with its path and removed, so that the caller
        rebuilds it)."""
        path = self.path_for(kind, config, suffix)
        if not self._intact(path):
            return None
        try:
            return load(path)
        except Exception as error:  # torch, pickle, json, ...: any unreadable file is rebuilt
            self._discard(path, f"cannot be loaded ({type(error).__name__}: {error})")
            return None

    def _intact(self, path: Path) -> bool:
        """True when ``path`` exists and its bytes match its stored SHA-256 (stored now when the
        artefact predates hashes); a mismatch is reported and the artefact removed."""
        if not path.is_file():
            return path.exists()  # a directory artefact: no hash
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        actual = _INTACT.get(key) or file_sha256(path)
        stored = _hash_path(path)
        if not stored.exists():
            atomic_write_text(stored, actual + "\n")
        elif stored.read_text().strip() != actual:
            self._discard(path, f"does not match its stored SHA-256 ({stored.read_text().strip()[:16]}..., "
                                f"now {actual[:16]}...): it was damaged after it was written")
            return False
        _INTACT[key] = actual
        return True

    @staticmethod
    def _discard(path: Path, why: str) -> None:
        warnings.warn(f"cached artefact {path} {why}; removing it and rebuilding", CacheIntegrityWarning, stacklevel=5)
        for stale in (path, _hash_path(path)):
            stale.unlink(missing_ok=True)
        for key in [k for k in _INTACT if k[0] == str(path.resolve())]:
            del _INTACT[key]

    def has(self, kind: str, config: Mapping[str, Any], suffix: str = "") -> bool:
        """True when the artefact exists and is intact (a damaged one is reported and removed)."""
        return self._intact(self.path_for(kind, config, suffix))
