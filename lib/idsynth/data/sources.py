"""Where data files are found, how they are downloaded, and their SHA-256 checks.

Discovery order for a file of a data set (e.g. ``nsl-kdd/KDDTrain+.txt``):

1. an explicit path (a file, or a directory) given by the caller;
2. the directory in ``$IDSYNTH_DATA``;
3. ``./data/`` under the repository root;
4. a download from the official source (NSL-KDD only), verified against the published hashes.

Inside a directory, a file is looked up as ``<dir>/<dataset>/<name>`` and ``<dir>/<name>``, and
inside the official archive (``NSL-KDD.zip``) when one lies there.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..cache import atomic_path, file_sha256
from ..config import CACHE_ENV, DATA_ENV, repo_root
from .errors import ChecksumError, DataFormatError, DataNotFoundError


@dataclass(frozen=True)
class DatasetSource:
    """What we know about one public data set: its folder, archive, URL and how to get it."""

    folder: str
    archive: str | None
    url: str | None
    howto: str


SOURCES: dict[str, DatasetSource] = {
    "nsl-kdd": DatasetSource(
        folder="nsl-kdd",
        archive="NSL-KDD.zip",
        # The University of New Brunswick's Canadian Institute for Cybersecurity distributes
        # NSL-KDD (https://www.unb.ca/cic/datasets/nsl.html); override with $IDSYNTH_NSLKDD_URL.
        url="http://205.174.165.80/CICDataset/NSL-KDD/Dataset/NSL-KDD.zip",
        howto=(
            "Download NSL-KDD.zip from https://www.unb.ca/cic/datasets/nsl.html and put "
            "KDDTrain+.txt and KDDTest+.txt (or the zip itself) in <data>/nsl-kdd/, then point "
            "IDSYNTH_DATA at <data> (or pass data_dir=...)."
        ),
    ),
    "cic-ids-2017": DatasetSource(
        folder="cic-ids-2017",
        archive=None,
        url=None,
        howto=(
            "Request CIC-IDS-2017 (MachineLearningCSV.zip or GeneratedLabelledFlows.zip) from "
            "https://www.unb.ca/cic/datasets/ids-2017.html, unpack the CSV files into "
            "<data>/cic-ids-2017/, then point IDSYNTH_DATA at <data> (or pass data_dir=...)."
        ),
    ),
}

URL_ENV = {"nsl-kdd": "IDSYNTH_NSLKDD_URL"}


def known_checksums(dataset: str) -> dict[str, str]:
    """``{file name: sha256}`` published for ``dataset`` (shipped inside the package)."""
    text = resources.files("idsynth.data").joinpath("checksums", f"{dataset}.sha256").read_text()
    sums = {}
    for line in text.splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.strip().lstrip("*")] = digest.lower()
    return sums


sha256_file = file_sha256  # hex SHA-256 of a file's bytes (idsynth.cache)


_VERIFIED: dict[tuple[str, int, int], str] = {}


def verify_checksum(path: str | os.PathLike, dataset: str, name: str | None = None) -> bool:
    """Check ``path`` against the published SHA-256 of ``name`` (default: its file name).

    Returns ``True`` when checked, ``False`` when no hash is published for that name (e.g. the
    ``.arff`` variants). Raises :class:`ChecksumError` on a mismatch. Results are memoised on
    (path, size, mtime) so that re-reading a verified file costs nothing.
    """
    path = Path(path)
    name = name or path.name
    expected = known_checksums(dataset).get(name)
    if expected is None:
        return False
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    actual = _VERIFIED.get(key) or sha256_file(path)
    if actual != expected:
        raise ChecksumError(
            f"{path}: SHA-256 {actual} does not match the published {expected} for {name}; "
            f"the file is corrupt or not the official {dataset} release. {SOURCES[dataset].howto}"
        )
    _VERIFIED[key] = actual
    return True


def verify_bytes(data: bytes, dataset: str, name: str, source: str) -> bool:
    """:func:`verify_checksum` for content read from elsewhere (an archive member): ``data``
    against the published SHA-256 of ``name``; ``source`` names it in the error."""
    expected = known_checksums(dataset).get(name)
    if expected is None:
        return False
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ChecksumError(
            f"{source}: SHA-256 {actual} does not match the published {expected} for {name}; "
            f"the file is corrupt or not the official {dataset} release. {SOURCES[dataset].howto}"
        )
    return True


def candidate_dirs(data_dir: str | os.PathLike | None = None) -> list[tuple[Path, str]]:
    """The directories searched, in order, each with where it came from."""
    dirs: list[tuple[Path, str]] = []
    if data_dir is not None:
        dirs.append((Path(data_dir), "data_dir argument"))
    if os.environ.get(DATA_ENV):
        dirs.append((Path(os.environ[DATA_ENV]), f"${DATA_ENV}"))
    dirs.append((repo_root() / "data", "./data"))
    return dirs


def warn_if_fallback(data_dir, origin: str, found: Path, what: str) -> None:
    """Warn when an explicit ``data_dir`` did not hold ``what`` and ``found`` came from a later
    place of :func:`candidate_dirs` (``$IDSYNTH_DATA``, ``./data``): a mistyped path should not
    pass silently."""
    if data_dir is not None and origin != "data_dir argument":
        warnings.warn(f"data_dir {data_dir} holds no {what}; using {found} ({origin}) instead", stacklevel=3)


def _damaged(archive: Path, name: str, exc: BaseException) -> DataFormatError:
    return DataFormatError(
        f"cannot read {name} from this zip archive ({type(exc).__name__}: {exc}); it is truncated or damaged: "
        f"download it again", path=archive,
    )


_ZIP_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError)


def member_name(archive: Path, name: str) -> str | None:
    """The path inside ``archive`` of its first member called ``name`` (at any depth), or None.
    A file that is not a readable zip raises :class:`DataFormatError` naming it."""
    try:
        with zipfile.ZipFile(archive) as zf:
            return next((m for m in zf.namelist() if Path(m).name == name), None)
    except _ZIP_ERRORS as exc:
        raise _damaged(archive, name, exc) from None


def read_member(archive: Path, name: str) -> tuple[bytes, str] | None:
    """``(bytes, member path)`` of the member :func:`member_name` finds, or None. A truncated
    or damaged archive raises :class:`DataFormatError` naming the archive instead of zipfile's
    or zlib's message."""
    member = member_name(archive, name)
    if member is None:
        return None
    try:
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member), member
    except _ZIP_ERRORS as exc:
        raise _damaged(archive, member, exc) from None


def _extract_from_archive(archive: Path, name: str, dataset: str) -> Path | None:
    """Extract member ``name`` (at any depth) of ``archive`` into the cache; None if absent.

    The member's bytes are checked against the published SHA-256 *before* they are written, so
    the cache never holds an unverified extract (a mismatch raises :class:`ChecksumError`)."""
    found = read_member(archive, name)
    if found is None:
        return None
    data, member = found
    cache_root = Path(os.environ.get(CACHE_ENV) or repo_root() / ".cache" / "idsynth")
    target = cache_root / "extracted" / dataset / name
    stale = target.exists() and (target.stat().st_size != len(data)
                                 or zlib.crc32(target.read_bytes()) != zlib.crc32(data))  # the archive was replaced
    if stale or not target.exists():
        target.unlink(missing_ok=True)
        verify_bytes(data, dataset, name, f"{archive}!{member}")
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
    return target


@dataclass(frozen=True)
class Located:
    """Where a data file was found: ``path`` (a file, or an archive when ``member`` is set)
    and ``origin`` (which place of :func:`candidate_dirs`, or ``download``)."""

    path: Path
    member: str | None
    origin: str

    def read(self) -> bytes:
        """The file's bytes (the member's, for an archive); nothing is verified or cached."""
        if self.member is None:
            return self.path.read_bytes()
        found = read_member(self.path, Path(self.member).name)
        if found is None:
            raise DataFormatError(f"archive holds no {self.member}", path=self.path)
        return found[0]

    @property
    def source(self) -> str:
        """The name errors give: ``path`` or ``archive!member``."""
        return str(self.path) if self.member is None else f"{self.path}!{self.member}"


def locate(dataset: str, name: str, data_dir: str | os.PathLike | None = None, download: bool = True) -> Located:
    """Where file ``name`` of ``dataset`` lies (a file, or a member of the official archive),
    downloading the archive when allowed; nothing is verified or extracted (the caller parses
    first, then checks the bytes: :func:`verify_bytes`). Raises :class:`DataNotFoundError`
    listing every place searched and how to obtain the data."""
    source = SOURCES[dataset]
    looked: list[str] = []
    for directory, origin in candidate_dirs(data_dir):
        for folder in (directory / source.folder, directory):
            candidate = folder / name
            looked.append(f"{candidate} ({origin})")
            if candidate.is_file():
                warn_if_fallback(data_dir, origin, candidate, name)
                return Located(candidate, None, origin)
            archive = folder / source.archive if source.archive else None
            if archive is not None and archive.is_file():
                looked.append(f"{archive} ({origin})")
                member = member_name(archive, name)
                if member is not None:
                    warn_if_fallback(data_dir, origin, archive, name)
                    return Located(archive, member, origin)
    url = os.environ.get(URL_ENV.get(dataset, ""), source.url) if source.url else None
    if download and url:
        try:
            return _download(dataset, name, url)
        except (OSError, ValueError, zipfile.BadZipFile) as exc:  # URLError is an OSError
            looked.append(f"{url} (download failed: {exc})")
    raise DataNotFoundError(
        f"{dataset} file {name!r} not found. Looked in:\n  - " + "\n  - ".join(looked) + f"\n{source.howto}"
    )


def find_file(
    dataset: str, name: str, data_dir: str | os.PathLike | None = None, download: bool = True
) -> Path:
    """Locate (or download) file ``name`` of ``dataset`` and verify its checksum: a file as it
    lies, an archive member extracted (verified) into the cache. See :func:`locate`."""
    found = locate(dataset, name, data_dir, download)
    if found.member is None:
        verify_checksum(found.path, dataset, name)
        return found.path
    return _extract_from_archive(found.path, name, dataset)


def _download(dataset: str, name: str, url: str) -> Located:
    """Fetch the official archive into ``./data/<dataset>/`` and return where ``name`` lies in
    it. A member whose bytes do not match the published hash removes the download (nothing
    unverified stays behind) and raises :class:`ChecksumError`."""
    source = SOURCES[dataset]
    target_dir = repo_root() / "data" / source.folder
    archive = target_dir / (source.archive or Path(url).name)
    fetched = not archive.exists()
    if fetched:
        print(f"downloading {url} -> {archive}")
        with atomic_path(archive) as tmp, urllib.request.urlopen(url, timeout=60) as response:
            with open(tmp, "wb") as out:
                while block := response.read(1 << 20):
                    out.write(block)
    try:
        found = read_member(archive, name)
        if found is None:
            raise ValueError(f"{archive} (from {url}) holds no member named {name}")
        verify_bytes(found[0], dataset, name, f"{archive}!{found[1]} (downloaded from {url})")
    except (DataFormatError, ChecksumError, ValueError):
        if fetched:
            archive.unlink(missing_ok=True)
        raise
    return Located(archive, found[1], "download")
