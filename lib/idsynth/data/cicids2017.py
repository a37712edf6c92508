"""CIC-IDS-2017 (Sharafaldin, Habibi Lashkari, Ghorbani, ICISSP 2018): reading and cleaning.

The release comes in two CSV layouts, both read here the same way (:data:`LAYOUTS`), as is a
third, the *improved* release's:

* MachineLearningCSV (``MachineLearningCVE/*.csv``): 79 columns, the 78 CICFlowMeter features
  (``Fwd Header Length`` appears twice, the second copy as ``Fwd Header Length.1``) and
  ``Label``; most names carry a leading space.
* GeneratedLabelledFlows (``TrafficLabelling/*.csv``): the same 79 plus six identifier columns
  (``Flow ID``, ``Source IP``, ``Source Port``, ``Destination IP``, ``Protocol``,
  ``Timestamp``), 85 in all; some files are cp1252-encoded.
* The improved release (Engelen et al., 2021): 91 columns, twenty features renamed
  (:data:`IMPROVED_NAMES`), identifiers and five more features (:data:`IMPROVED_EXTRA`, dropped),
  labels such as ``Portscan`` and ``Botnet`` (read as ``PortScan`` and ``Bot``).

Any other header raises an error naming the missing and unexpected columns and the
``column_map`` that reads it; a label spelled otherwise is read with ``label_map``.

Cleaning, in this order and reported per file (never silently): names stripped, ``labels`` /
``label`` read as ``Label``, the identifier columns and ``Fwd Header Length.1`` dropped, blank
lines and rows without a label dropped, rows with ``Infinity``/NaN/empty features dropped, rows
whose label was not asked for dropped (an asked-for label left without a row is an error, never
a silently empty class), then exact duplicates (features and label) dropped across
all files, keeping the first copy in file order. The result has the 77 features (integers as
int64, the rest float64) and ``Label``.

The data sit in ``<data_dir>/cic-ids-2017/`` (``data_dir`` explicit, else ``$IDSYNTH_DATA``,
else ``./data``), at any depth; there is no download (the release needs a registration form).
More rows of the same release may sit beside it in ``<data_dir>/cic-ids-2017-extra/``
(:data:`EXTRA_FOLDER`); they are read after the main folder's files, cleaned the same way, and
a row already read from the main folder is dropped as a duplicate, never counted twice.
A ``SHA256SUMS`` file in each folder, when present, is checked for every file read from it.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .errors import ChecksumError, DataFormatError, DataNotFoundError, UnknownLabelError
from .schema import Schema
from .sources import SOURCES, candidate_dirs, sha256_file, verify_checksum, warn_if_fallback

DATASET = "cic-ids-2017"
LABEL = "Label"
#: Spellings of the label column met in the wild (compared after stripping, case-insensitive).
LABEL_ALIASES = ("label", "labels")

#: The 77 distinct CICFlowMeter features, in the MachineLearningCSV order.
FEATURES: tuple[str, ...] = (
    "Destination Port", "Flow Duration", "Total Fwd Packets", "Total Backward Packets",
    "Total Length of Fwd Packets", "Total Length of Bwd Packets", "Fwd Packet Length Max",
    "Fwd Packet Length Min", "Fwd Packet Length Mean", "Fwd Packet Length Std",
    "Bwd Packet Length Max", "Bwd Packet Length Min", "Bwd Packet Length Mean",
    "Bwd Packet Length Std", "Flow Bytes/s", "Flow Packets/s", "Flow IAT Mean", "Flow IAT Std",
    "Flow IAT Max", "Flow IAT Min", "Fwd IAT Total", "Fwd IAT Mean", "Fwd IAT Std", "Fwd IAT Max",
    "Fwd IAT Min", "Bwd IAT Total", "Bwd IAT Mean", "Bwd IAT Std", "Bwd IAT Max", "Bwd IAT Min",
    "Fwd PSH Flags", "Bwd PSH Flags", "Fwd URG Flags", "Bwd URG Flags", "Fwd Header Length",
    "Bwd Header Length", "Fwd Packets/s", "Bwd Packets/s", "Min Packet Length",
    "Max Packet Length", "Packet Length Mean", "Packet Length Std", "Packet Length Variance",
    "FIN Flag Count", "SYN Flag Count", "RST Flag Count", "PSH Flag Count", "ACK Flag Count",
    "URG Flag Count", "CWE Flag Count", "ECE Flag Count", "Down/Up Ratio", "Average Packet Size",
    "Avg Fwd Segment Size", "Avg Bwd Segment Size", "Fwd Avg Bytes/Bulk",
    "Fwd Avg Packets/Bulk", "Fwd Avg Bulk Rate", "Bwd Avg Bytes/Bulk", "Bwd Avg Packets/Bulk",
    "Bwd Avg Bulk Rate", "Subflow Fwd Packets", "Subflow Fwd Bytes", "Subflow Bwd Packets",
    "Subflow Bwd Bytes", "Init_Win_bytes_forward", "Init_Win_bytes_backward", "act_data_pkt_fwd",
    "min_seg_size_forward", "Active Mean", "Active Std", "Active Max", "Active Min", "Idle Mean",
    "Idle Std", "Idle Max", "Idle Min",
)  # fmt: skip
#: The second copy of ``Fwd Header Length`` that both layouts carry.
DUPLICATED_COLUMN = "Fwd Header Length.1"
#: Present in GeneratedLabelledFlows only; MachineLearningCSV has none of them.
IDENTIFIERS: tuple[str, ...] = ("Flow ID", "Source IP", "Source Port", "Destination IP", "Protocol", "Timestamp")
LAYOUT_ML = "MachineLearningCSV"
LAYOUT_GLF = "GeneratedLabelledFlows"
LAYOUT_IMPROVED = "improved release"

#: The improved release (Engelen, Rimmer, Joosen, WTMC 2021: flows re-extracted with a repaired
#: CICFlowMeter and relabelled; 91 columns): its names of the features it renames.
IMPROVED_NAMES: dict[str, str] = {
    "Destination Port": "Dst Port", "Total Fwd Packets": "Total Fwd Packet",
    "Total Backward Packets": "Total Bwd packets", "Total Length of Fwd Packets": "Total Length of Fwd Packet",
    "Total Length of Bwd Packets": "Total Length of Bwd Packet", "Min Packet Length": "Packet Length Min",
    "Max Packet Length": "Packet Length Max", "CWE Flag Count": "CWR Flag Count",
    "Avg Fwd Segment Size": "Fwd Segment Size Avg", "Avg Bwd Segment Size": "Bwd Segment Size Avg",
    "Fwd Avg Bytes/Bulk": "Fwd Bytes/Bulk Avg", "Fwd Avg Packets/Bulk": "Fwd Packet/Bulk Avg",
    "Fwd Avg Bulk Rate": "Fwd Bulk Rate Avg", "Bwd Avg Bytes/Bulk": "Bwd Bytes/Bulk Avg",
    "Bwd Avg Packets/Bulk": "Bwd Packet/Bulk Avg", "Bwd Avg Bulk Rate": "Bwd Bulk Rate Avg",
    "Init_Win_bytes_forward": "FWD Init Win Bytes", "Init_Win_bytes_backward": "Bwd Init Win Bytes",
    "act_data_pkt_fwd": "Fwd Act Data Pkts", "min_seg_size_forward": "Fwd Seg Size Min",
}  # fmt: skip
#: Its columns beyond the 77 features and the label (identifiers, five features the original
#: lacks, the attempt category), each dropped when present (users often drop identifiers first).
IMPROVED_EXTRA: tuple[str, ...] = (
    "id", "Flow ID", "Src IP", "Src Port", "Dst IP", "Protocol", "Timestamp", "Fwd RST Flags",
    "Bwd RST Flags", "ICMP Code", "ICMP Type", "Total TCP Flow Time", "Attempted Category",
)  # fmt: skip


@dataclass(frozen=True)
class Layout:
    """A CSV layout: its name, its names of the features it names differently (``renamed``:
    feature -> its name), the columns it must hold beyond the features and the label
    (``required``) and those it may hold (``optional``); both kinds are dropped on reading."""

    name: str
    renamed: dict[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    def column(self, feature: str) -> str:
        """This layout's name of ``feature`` (or of the label)."""
        return self.renamed.get(feature, feature)

    @property
    def n_columns(self) -> int:
        return len(FEATURES) + 1 + len(self.required) + len(self.optional)


LAYOUTS: tuple[Layout, ...] = (
    Layout(LAYOUT_ML, optional=(DUPLICATED_COLUMN,)),
    Layout(LAYOUT_GLF, required=IDENTIFIERS, optional=(DUPLICATED_COLUMN,)),
    Layout(LAYOUT_IMPROVED, renamed=IMPROVED_NAMES, optional=IMPROVED_EXTRA),
)

#: The fifteen labels of the release (web attacks with their dash normalised to " - ").
KNOWN_LABELS: tuple[str, ...] = (
    "BENIGN", "Bot", "DDoS", "DoS GoldenEye", "DoS Hulk", "DoS Slowhttptest", "DoS slowloris",
    "FTP-Patator", "Heartbleed", "Infiltration", "PortScan", "SSH-Patator",
    "Web Attack - Brute Force", "Web Attack - Sql Injection", "Web Attack - XSS",
)  # fmt: skip

#: File-name patterns (case-insensitive) of the Friday-afternoon DDoS and PortScan captures,
#: official names (``Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.csv``) and the subset's alike;
#: ``friday-extra_*.csv`` of :data:`EXTRA_FOLDER` holds rows of the same two captures.
FRIDAY_AFTERNOON_FILES: tuple[str, ...] = ("*friday*ddos*.csv", "*friday*portscan*.csv", "*friday*extra*.csv")

#: Folder beside ``cic-ids-2017/`` with more rows of the release, read with it (its README).
EXTRA_FOLDER = "cic-ids-2017-extra"

#: Class counts after cleaning of the subset in the shared data folder (its README).
SUBSET_CLASS_COUNTS: dict[str, int] = {"BENIGN": 20600, "DDoS": 1992, "PortScan": 969}
#: Class counts the extra folder adds after cleaning (its README: none of its rows is in the subset).
EXTRA_CLASS_COUNTS: dict[str, int] = {"BENIGN": 5, "DDoS": 2365, "PortScan": 672}

#: Label spellings of other releases that differ from :data:`KNOWN_LABELS` by more than case
#: (compared lower-case; the improved release's ``Portscan``, ``DoS Slowloris`` and
#: ``Web Attack - SQL Injection`` differ in case only).
LABEL_VALUE_ALIASES: dict[str, str] = {"botnet": "Bot"}

_DASH = re.compile("\\s+[\u2013\u2014\ufffd\x96-]\\s+")
_MISSING_TOKENS = {"", "nan", "infinity", "-infinity", "+infinity", "inf", "-inf", "+inf"}


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------


@dataclass
class CICLoadReport:
    """What :func:`load_cicids2017` read and what it dropped.

    ``files``: one row per file: file (path relative to ``directory``), layout, encoding,
    rows_read (data lines, blank lines included), columns_dropped (identifiers, the repeated
    ``Fwd Header Length.1``, the improved release's extra columns), rows_kept, sha256 (``"ok"`` when checked
    against a published hash, ``"not listed"`` otherwise).
    ``dropped``: one row per (file, reason) with a non-zero count: file, reason, rows, detail.
    ``class_counts``: rows per label after cleaning, in :data:`KNOWN_LABELS` order of the kept
    labels. ``conflicting_duplicates``: feature vectors kept under more than one label.
    ``extra_directories``: the folders read beside ``directory`` (:data:`EXTRA_FOLDER`); their
    files are named ``<folder name>/<path inside it>`` in ``files`` and ``dropped``.
    """

    directory: Path
    labels: tuple[str, ...] | None
    files: pd.DataFrame
    dropped: pd.DataFrame
    class_counts: dict[str, int]
    conflicting_duplicates: int = 0
    warnings: list[str] = field(default_factory=list)
    extra_directories: tuple[Path, ...] = ()

    @property
    def n_rows(self) -> int:
        return int(sum(self.class_counts.values()))

    def dropped_by_reason(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.dropped.groupby("reason", sort=False)["rows"].sum().items()}

    def __str__(self) -> str:
        folders = ", ".join(str(d) for d in (self.directory, *self.extra_directories))
        lines = [f"CIC-IDS-2017 from {folders}: {len(self.files)} file(s), {self.n_rows} rows kept"]
        lines += [f"  dropped {n} rows: {reason}" for reason, n in self.dropped_by_reason().items()]
        lines.append("  classes: " + ", ".join(f"{k} {v}" for k, v in self.class_counts.items()))
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


@dataclass
class CICIDS2017:
    """The cleaned rows (``frame``: 77 features + ``Label``), their ``schema`` and the ``report``."""

    frame: pd.DataFrame
    schema: Schema
    report: CICLoadReport


# ----------------------------------------------------------------------------------------------
# Discovery and checksums
# ----------------------------------------------------------------------------------------------


#: CSV files that document a folder rather than hold flows (the extra folder's per-row sources).
DOCUMENTATION_FILES: tuple[str, ...] = ("provenance*.csv",)


def _csv_files(root: Path) -> list[Path]:
    """The flow CSV files under ``root`` at any depth (not :data:`DOCUMENTATION_FILES`), sorted by
    relative path (none if no folder)."""
    if not root.is_dir():
        return []
    found = [p for p in root.rglob("*.csv") if not any(fnmatch.fnmatch(p.name.lower(), d) for d in DOCUMENTATION_FILES)]
    return sorted(found, key=lambda p: str(p.relative_to(root)).lower())


def _matching(paths: list[Path], files: Sequence[str] | None) -> list[Path]:
    """``paths`` whose name matches one of the patterns ``files`` (case-insensitive; None = all)."""
    if files is None:
        return paths
    return [p for p in paths if any(fnmatch.fnmatch(p.name.lower(), pat.lower()) for pat in files)]


def find_extra_files(root: Path, files: Sequence[str] | None = None) -> list[tuple[Path, list[Path]]]:
    """The :data:`EXTRA_FOLDER` beside ``root`` (when ``root`` is a ``cic-ids-2017`` folder) and
    its CSV files matching ``files``, as ``[(folder, paths)]``; empty when there is none."""
    if root.name != SOURCES[DATASET].folder:
        return []
    folder = root.with_name(EXTRA_FOLDER)
    chosen = _matching(_csv_files(folder), files)
    return [(folder, chosen)] if chosen else []


def find_cicids2017_files(
    data_dir: str | os.PathLike | None = None, files: Sequence[str] | None = None
) -> tuple[Path, list[Path]]:
    """The CIC-IDS-2017 folder and the CSV files in it (at any depth, sorted by relative path).

    The folder is ``<dir>/cic-ids-2017`` for the first ``dir`` of ``data_dir`` (explicit),
    ``$IDSYNTH_DATA``, ``./data`` that holds CSV files there; an explicit ``data_dir`` that is
    itself such a folder is accepted too. ``files``: file-name patterns (``fnmatch``,
    case-insensitive) that restrict the selection, e.g. :data:`FRIDAY_AFTERNOON_FILES`.
    Raises :class:`DataNotFoundError` naming every place searched and how to obtain the data.
    """
    looked: list[str] = []
    for directory, origin in candidate_dirs(data_dir):
        roots = [directory / SOURCES[DATASET].folder]
        if origin == "data_dir argument":
            roots.append(directory)
        for root in roots:
            found = _csv_files(root)
            if not found:
                zips = sorted(root.glob("*.zip")) if root.is_dir() else []
                note = f"; it holds {', '.join(z.name for z in zips)}: unpack the CSV files" if zips else ""
                looked.append(f"{root} ({origin}): no CSV file{note}")
                continue
            if files is None:
                warn_if_fallback(data_dir, origin, root, "CIC-IDS-2017 CSV file")
                return root, found
            chosen = _matching(found, files)
            if chosen:
                warn_if_fallback(data_dir, origin, root, f"CIC-IDS-2017 CSV file matching {list(files)}")
                return root, chosen
            looked.append(f"{root} ({origin}): no CSV file matches {list(files)} among {[p.name for p in found]}")
    raise DataNotFoundError(
        "CIC-IDS-2017 CSV files not found (there is no automatic download: the release needs a "
        "registration form). Looked in:\n  - " + "\n  - ".join(looked) + f"\n{SOURCES[DATASET].howto}"
    )


def read_sha256sums(path: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of a ``sha256sum``-style file (``<hash>  [*]<name>``)."""
    sums: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
            raise DataFormatError("expected '<64 hex digits>  <file name>'", path=path, line=number)
        sums[parts[1].strip().lstrip("*").replace("\\", "/")] = parts[0].lower()
    return sums


def check_file_hash(path: Path, root: Path, sums: dict[str, str]) -> str:
    """Check ``path`` against ``sums`` (the folder's SHA256SUMS) or the hashes shipped with
    idsynth. Returns ``"ok"`` or ``"not listed"``; raises :class:`ChecksumError` on a mismatch."""
    relative = str(path.relative_to(root)).replace("\\", "/")
    expected = sums.get(relative, sums.get(path.name))
    if expected is not None:
        actual = sha256_file(path)
        if actual != expected:
            raise ChecksumError(
                f"{path}: SHA-256 {actual} does not match {expected} listed in {root / 'SHA256SUMS'}; "
                "the file is corrupt or was modified"
            )
        return "ok"
    return "ok" if verify_checksum(path, DATASET) else "not listed"


# ----------------------------------------------------------------------------------------------
# One file
# ----------------------------------------------------------------------------------------------


def _read_csv(path: Path) -> tuple[pd.DataFrame, str]:
    """Read with the C parser (numbers, ``Infinity`` -> inf; only empty and NaN count as
    missing) trying UTF-8, then cp1252, then latin-1. Returns (frame, encoding)."""
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            raw = pd.read_csv(
                path,
                encoding=encoding,
                keep_default_na=False,
                na_values=["", "NaN", "nan"],
                skip_blank_lines=False,
                low_memory=False,
            )
            return raw, encoding
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise DataFormatError("the file is empty (no header line)", path=path) from None
        except pd.errors.ParserError as error:  # e.g. "Expected 79 fields in line 7, saw 80"
            raise DataFormatError(f"malformed CSV: {error}", path=path) from None
    raise DataFormatError("cannot decode the file as UTF-8, cp1252 or latin-1", path=path)  # pragma: no cover


def _check_column_map(column_map: dict[str, str | None] | None) -> dict[str, str | None]:
    """``column_map`` with stripped keys; raises ValueError for a target that is neither a
    feature of :data:`FEATURES`, ``Label`` nor None (drop the column)."""
    checked = {}
    for source, target in (column_map or {}).items():
        if target is not None and target not in (*FEATURES, LABEL):
            raise ValueError(
                f"column_map maps {source!r} to {target!r}, which is no CIC-IDS-2017 feature; map each "
                f"column to one of FEATURES (MachineLearningCSV names) or {LABEL!r}, or to None to drop it"
            )
        checked[str(source).strip()] = target
    return checked


def _stripped_names(columns: Sequence[str]) -> list[str]:
    """Strip names, spell the label ``Label`` and name a repeated column ``<name>.1``."""
    names: list[str] = []
    for raw in columns:
        name = str(raw).strip()
        if name.lower() in LABEL_ALIASES:
            name = LABEL
        if name in names:  # pandas' mangling of repeated names happens before stripping
            name = f"{name}.1"
        names.append(name)
    return names


@dataclass
class LayoutMatch:
    """How a header reads under one :class:`Layout`: the feature (or ``Label``) each column
    becomes (None: dropped), the layout's columns it lacks, the columns it does not know and the
    features more than one column maps to."""

    layout: Layout
    targets: list[str | None]
    missing: list[str]
    unexpected: list[str]
    repeated: list[str]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.repeated)

    @property
    def recognised(self) -> int:
        return len(self.targets) - len(self.unexpected)


def match_layout(names: Sequence[str], layout: Layout, column_map: dict[str, str | None]) -> LayoutMatch:
    """Read the (stripped) header ``names`` under ``layout``; ``column_map`` (file name ->
    feature, ``Label`` or None) takes precedence over the layout's own names."""
    own = {layout.column(c): c for c in (*FEATURES, LABEL)}
    dropped = set(layout.required) | set(layout.optional)
    targets, unexpected = [], []
    for name in names:
        if name in column_map:
            targets.append(column_map[name])
        elif name in own:
            targets.append(own[name])
        else:
            targets.append(None)
            if name not in dropped:
                unexpected.append(name)
    kept = [t for t in targets if t is not None]
    missing = [layout.column(c) for c in (*FEATURES, LABEL) if c not in kept]
    missing += [c for c in layout.required if c not in names]
    repeated = sorted({t for t in kept if kept.count(t) > 1})
    return LayoutMatch(layout, targets, missing, unexpected, repeated)


def closest_name(name: str, candidates: Sequence[str]) -> str | None:
    """The candidate spelled most like ``name`` (case, spaces and punctuation ignored), or None
    when none is close (difflib ratio below 0.8: ``Portscan - Attempted`` is not ``PortScan``)."""
    keys = {_spelling_key(c): c for c in candidates}
    close = difflib.get_close_matches(_spelling_key(name), list(keys), n=1, cutoff=0.8)
    return keys[close[0]] if close else None


def _spelling_key(text: str) -> str:
    """``text`` lower-case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", str(text).lower())


def _layout_error(match: LayoutMatch, path) -> DataFormatError:
    """The error for a header no layout reads: what is missing, unknown or repeated under the
    closest layout, and a ``column_map`` that would map it (close spellings paired up)."""
    layouts = ", ".join(f"{layout.name}: {layout.n_columns} columns" for layout in LAYOUTS)
    detail = [f"{label} {names}" for label, names in (("missing columns", match.missing),
              ("unexpected columns", match.unexpected), ("columns mapped to the same feature", match.repeated)) if names]  # fmt: skip
    own = {match.layout.column(c): c for c in (*FEATURES, LABEL)}
    suggestion = {}
    for name in match.unexpected:
        close = closest_name(name, match.missing)
        suggestion[name] = own.get(close, close)
    return DataFormatError(
        f"columns match no CIC-IDS-2017 layout ({layouts}); closest is {match.layout.name}, with "
        f"{'; '.join(detail)}. Pass column_map={{'<column in the file>': '<feature in FEATURES or Label>'}} "
        f"to name a column as the release does, or {{'<column>': None}} to drop it"
        + (f", e.g. column_map={suggestion}" if suggestion else ""),
        path=path,
    )


def standard_columns(
    columns: Sequence[str], path=None, column_map: dict[str, str | None] | None = None
) -> tuple[list[str | None], str]:
    """The feature (or ``Label``) each column of a header holds, under the first of
    :data:`LAYOUTS` that reads it, after ``column_map`` (file name -> feature, ``Label`` or None).

    Returns (one name per column, None for a column to drop; the layout's name). Raises
    :class:`DataFormatError` naming the closest layout's missing and unexpected columns and a
    ``column_map`` to pass when no layout reads the header.
    """
    names = _stripped_names(columns)
    mapping = _check_column_map(column_map)
    matches = [match_layout(names, layout, mapping) for layout in LAYOUTS]
    for match in matches:
        if match.ok:
            return match.targets, match.layout.name
    closest = max(matches, key=lambda m: (m.recognised, -len(m.missing)))
    raise _layout_error(closest, path)


def normalise_label(label: str) -> str:
    """Strip and write the web attacks' dash (en dash, cp1252 0x96, U+FFFD) as ``" - "``."""
    return _DASH.sub(" - ", label.strip())


def label_lookup(label_map: dict[str, str] | None = None) -> dict[str, str]:
    """``{lower-case normalised spelling: release label}``: the known labels, their
    :data:`LABEL_VALUE_ALIASES` and ``label_map`` (a file's spelling -> a known label, which
    :func:`resolve_labels` checks)."""
    lookup = {name.lower(): name for name in KNOWN_LABELS} | LABEL_VALUE_ALIASES
    for spelling, label in (label_map or {}).items():
        lookup[normalise_label(str(spelling)).lower()] = resolve_labels([label])[0]
    return lookup


def canonical_labels(labels: pd.Series, lookup: dict[str, str]) -> pd.Series:
    """``labels`` normalised (:func:`normalise_label`) and spelled as ``lookup`` says; a label
    it does not hold stays as written."""
    normalised = labels.map(normalise_label)
    return normalised.map(lambda name: lookup.get(name.lower(), name))


def _numeric_features(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The feature columns as float64 (Infinity -> inf, empty/NaN -> NaN). A column the parser
    left as text holds something else that is not a number: a :class:`DataFormatError` naming
    its first such line and the column."""
    out = {}
    for column in FEATURES:
        values = raw[column]
        if not pd.api.types.is_numeric_dtype(values):
            text = values.astype("string").str.strip()
            numbers = pd.to_numeric(text, errors="coerce")
            bad = (numbers.isna() & values.notna() & ~text.str.lower().isin(_MISSING_TOKENS)).to_numpy(dtype=bool)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise DataFormatError(
                    f"cannot parse {values.iloc[row]!r} as a number", path=path, line=row + 2, column=column
                )
            values = numbers
        out[column] = values.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.DataFrame(out, index=raw.index)


def read_cicids2017_file(
    path: str | os.PathLike,
    labels: Sequence[str] | None = None,
    column_map: dict[str, str | None] | None = None,
    label_map: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Read and clean one CSV file of any layout of :data:`LAYOUTS` (duplicates across files
    are not handled).

    labels: labels to keep (None = all; spelled as :func:`resolve_labels` accepts). column_map:
    {column in the file: feature of :data:`FEATURES`, ``Label`` or None to drop it}, for a
    header no layout reads. label_map: {label in the file: label of :data:`KNOWN_LABELS`} for
    spellings other than the known ones and :data:`LABEL_VALUE_ALIASES`. Returns (frame with
    :data:`FEATURES` as float64 and ``Label``, info) where info holds the layout, encoding,
    rows_read, columns_dropped (names), a list of (reason, rows, detail) drops and
    other_labels ({label: rows} dropped as not asked for).
    """
    path = Path(path)
    labels = resolve_labels(labels)
    lookup = label_lookup(label_map)
    raw, encoding = _read_csv(path)
    targets, layout = standard_columns(raw.columns, path, column_map)
    columns_dropped = [str(name).strip() for name, target in zip(raw.columns, targets) if target is None]
    raw = raw.iloc[:, [i for i, target in enumerate(targets) if target is not None]]
    raw.columns = [target for target in targets if target is not None]
    drops: list[tuple[str, int, str]] = []
    rows_read = len(raw)

    features = _numeric_features(raw, path)
    label = raw[LABEL].fillna("").astype(str).str.strip()
    blank = features.isna().all(axis=1).to_numpy() & (label == "").to_numpy()
    unlabeled = ~blank & (label == "").to_numpy()
    values = features.to_numpy()
    nonfinite = ~blank & ~unlabeled & ~np.isfinite(values).all(axis=1)
    drops.append(("blank line", int(blank.sum()), ""))
    drops.append(("no label", int(unlabeled.sum()), ""))
    if nonfinite.any():
        bad_cols = (~np.isfinite(values[nonfinite])).sum(axis=0)
        detail = ", ".join(f"{c}: {int(n)}" for c, n in zip(FEATURES, bad_cols) if n)
    else:
        detail = ""
    drops.append(("Infinity/NaN value", int(nonfinite.sum()), detail))

    keep = ~(blank | unlabeled | nonfinite)
    frame = features[keep].copy()
    frame[LABEL] = canonical_labels(label[keep], lookup).to_numpy()
    other = {}
    if labels is not None:
        wanted = frame[LABEL].isin(labels).to_numpy()
        other = {str(k): int(v) for k, v in frame.loc[~wanted, LABEL].value_counts().items()}
        drops.append(("label not asked for", int((~wanted).sum()), ", ".join(f"{k}: {v}" for k, v in other.items())))
        frame = frame[wanted]
    info = {"layout": layout, "encoding": encoding, "rows_read": rows_read, "columns_dropped": columns_dropped,
            "drops": drops, "other_labels": other}  # fmt: skip
    return frame.reset_index(drop=True), info


# ----------------------------------------------------------------------------------------------
# The data set
# ----------------------------------------------------------------------------------------------


def resolve_labels(labels: Sequence[str] | str | None) -> tuple[str, ...] | None:
    """Canonical spelling of the asked labels (case-insensitive, dash-normalised, the spellings
    of :data:`LABEL_VALUE_ALIASES` accepted).

    Raises :class:`UnknownLabelError` listing the known labels for one outside the release.
    """
    if labels is None:
        return None
    if isinstance(labels, str):
        labels = [labels]
    known = {name.lower(): name for name in KNOWN_LABELS} | LABEL_VALUE_ALIASES
    resolved = []
    for asked in labels:
        name = known.get(normalise_label(str(asked)).lower())
        if name is None:
            raise UnknownLabelError(f"unknown CIC-IDS-2017 label {asked!r}; known labels: {list(KNOWN_LABELS)}")
        if name not in resolved:
            resolved.append(name)
    return tuple(resolved)


def _duplicate_drops(frame: pd.DataFrame, source: np.ndarray, file_names: list[str]) -> tuple[np.ndarray, list]:
    """Mask of exact duplicate rows (all but the first copy) and per-file (reason, rows) drops."""
    duplicated = frame.duplicated(keep="first").to_numpy()
    drops = []
    if duplicated.any():
        keys = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        first_source = pd.Series(source).groupby(keys).transform("first").to_numpy()
        within = duplicated & (first_source == source)
        across = duplicated & (first_source != source)
        for index, name in enumerate(file_names):
            mine = source == index
            drops.append((name, "duplicate within the file", int((within & mine).sum()), ""))
            earlier = sorted({file_names[i] for i in first_source[across & mine]})
            drops.append((name, "duplicate of a row in an earlier file", int((across & mine).sum()), ", ".join(earlier)))
    return duplicated, drops


def _as_integers_where_whole(frame: pd.DataFrame) -> pd.DataFrame:
    """Feature columns whose values are all whole numbers become int64."""
    out = frame.copy()
    for column in FEATURES:
        values = out[column].to_numpy()
        if np.all(values == np.round(values)) and np.abs(values).max(initial=0) < 2**62:
            out[column] = values.astype(np.int64)
    return out


def _release_order(labels) -> list[str]:
    """Labels in :data:`KNOWN_LABELS` order, any others after them alphabetically."""
    known = [label for label in KNOWN_LABELS if label in set(labels)]
    return known + sorted(set(labels) - set(KNOWN_LABELS))


def _read_folder(
    folder: Path, paths: Sequence[Path], prefix: str, verify: bool, **options
) -> tuple[list[pd.DataFrame], list[str], list[dict], list[tuple], list[dict]]:
    """Read and clean ``paths`` of ``folder``, checking them against its SHA256SUMS; options go
    to :func:`read_cicids2017_file` (labels, column_map, label_map).

    Returns (frames, file names ``prefix + path inside folder``, rows of the report's files
    table without ``rows_kept``, (file, reason, rows, detail) drops, per-file labels dropped
    as not asked for).
    """
    sums_path = folder / "SHA256SUMS"
    sums = read_sha256sums(sums_path) if verify and sums_path.is_file() else {}
    frames, names, file_rows, drop_rows, other_labels = [], [], [], [], []
    for path in paths:
        name = prefix + str(path.relative_to(folder))
        checked = check_file_hash(path, folder, sums) if verify else "not checked"
        frame, info = read_cicids2017_file(path, **options)
        frames.append(frame)
        names.append(name)
        file_rows.append({"file": name, "layout": info["layout"], "encoding": info["encoding"],
                          "rows_read": info["rows_read"], "columns_dropped": len(info["columns_dropped"]),
                          "sha256": checked})  # fmt: skip
        drop_rows += [(name, reason, n, detail) for reason, n, detail in info["drops"]]
        other_labels.append(info["other_labels"])
    return frames, names, file_rows, drop_rows, other_labels


def _check_requested_classes(counts: dict[str, int], other_labels: list[dict]) -> None:
    """Raise :class:`UnknownLabelError` when an asked-for label kept no row, naming the labels
    the filter dropped and a ``label_map`` for a spelling close to the missing label."""
    empty = [label for label, n in counts.items() if n == 0]
    if not empty:
        return
    dropped: dict[str, int] = {}
    for per_file in other_labels:
        for label, n in per_file.items():
            dropped[label] = dropped.get(label, 0) + n
    suggestion = {}
    for label in empty:
        close = closest_name(label, list(dropped))
        if close is not None:
            suggestion[close] = label
    hint = f" e.g. label_map={suggestion}" if suggestion else ""
    raise UnknownLabelError(
        f"labels {empty} were asked for but no row read keeps them, so the label filter would drop "
        f"the whole class; the filter dropped these labels: {dropped or 'none'}. If the files spell "
        f"the class otherwise, pass label_map={{'<label in the file>': '<label>'}}{hint}; if the "
        "class is not in the files, leave it out of labels"
    )


def load_cicids2017(
    data_dir: str | os.PathLike | None = None,
    labels: Sequence[str] | str | None = None,
    files: Sequence[str] | None = None,
    verify: bool = True,
    extra: bool = True,
    column_map: dict[str, str | None] | None = None,
    label_map: dict[str, str] | None = None,
) -> CICIDS2017:
    """Read every CIC-IDS-2017 CSV in the data folder (either layout), cleaned and de-duplicated.

    data_dir: the directory holding ``cic-ids-2017/`` (default ``$IDSYNTH_DATA``, then
    ``./data``), or that folder itself. labels: the labels to keep (None = all), e.g.
    ``("BENIGN", "DDoS", "PortScan")``; case-insensitive. files: file-name patterns that select
    the files (e.g. :data:`FRIDAY_AFTERNOON_FILES`); None = every CSV. verify: check hashes
    (the folder's SHA256SUMS, else the ones shipped with idsynth) of every file read. extra:
    also read the matching files of :data:`EXTRA_FOLDER` beside ``cic-ids-2017/`` when it
    exists (after the main folder, so a row present in both is kept once, from the main folder).
    column_map: {column in the files: feature of :data:`FEATURES`, ``Label`` or None to drop
    it} for a layout other than :data:`LAYOUTS` (the error for such a file says what to map).
    label_map: {label in the files: label of :data:`KNOWN_LABELS`} for other spellings.

    Every matching CSV is read, so unpack only one of the two archives: with both
    (MachineLearningCVE/ and TrafficLabelling/) each flow is read twice, and only copies that
    agree in every value are caught as duplicates of a row in an earlier file.

    Returns :class:`CICIDS2017` (frame: 77 features + ``Label``, index 0..n-1; schema; report).
    Raises DataNotFoundError, DataFormatError (naming file, line, column), UnknownLabelError
    (also when an asked-for label keeps no row: the filter would drop the whole class),
    ChecksumError.
    """
    wanted = resolve_labels(labels)
    root, paths = find_cicids2017_files(data_dir, files)
    folders = [(root, paths, "")]
    if extra:
        folders += [(folder, chosen, f"{folder.name}/") for folder, chosen in find_extra_files(root, files)]
    options = {"labels": wanted, "column_map": column_map, "label_map": label_map}
    frames, names, file_rows, drop_rows, other_labels = [], [], [], [], []
    for folder, folder_paths, prefix in folders:
        read = _read_folder(folder, folder_paths, prefix, verify, **options)
        for collected, new in zip((frames, names, file_rows, drop_rows, other_labels), read):
            collected += new

    source = np.concatenate([np.full(len(f), i) for i, f in enumerate(frames)])
    data = pd.concat(frames, ignore_index=True)
    duplicated, duplicate_drops = _duplicate_drops(data, source, names)
    drop_rows += duplicate_drops
    data, source = data[~duplicated].reset_index(drop=True), source[~duplicated]
    data = _as_integers_where_whole(data)

    files_table = pd.DataFrame(file_rows)
    files_table["rows_kept"] = np.bincount(source, minlength=len(names))
    dropped = pd.DataFrame(drop_rows, columns=["file", "reason", "rows", "detail"])
    dropped = dropped[dropped["rows"] > 0].reset_index(drop=True)
    present = data[LABEL].value_counts()
    order = wanted if wanted is not None else _release_order(present.index)
    counts = {label: int(present.get(label, 0)) for label in order}
    _check_requested_classes(counts, other_labels)
    warnings = []
    conflicts = int(data.duplicated(subset=list(FEATURES), keep=False).sum()) if len(data) else 0
    if conflicts:
        warnings.append(f"{conflicts} kept rows share their features with a row of another label")
    report = CICLoadReport(
        directory=root,
        labels=wanted,
        files=files_table,
        dropped=dropped,
        class_counts=counts,
        conflicting_duplicates=conflicts,
        warnings=warnings,
        extra_directories=tuple(folder for folder, _, _ in folders[1:]),
    )
    schema = Schema.infer(data, label=LABEL)
    return CICIDS2017(frame=data, schema=schema, report=report)


def readme_class_counts(extra: bool = True) -> dict[str, int]:
    """Class counts after cleaning that the shared folders' READMEs give: the subset's, plus the
    extra folder's when ``extra``."""
    added = EXTRA_CLASS_COUNTS if extra else {}
    return {label: n + added.get(label, 0) for label, n in SUBSET_CLASS_COUNTS.items()}


def cicids2017_summary(
    data_dir: str | os.PathLike | None = None,
    labels: Sequence[str] | str | None = None,
    files: Sequence[str] | None = None,
    extra: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Three tables for a data overview: files read, rows dropped and why, class counts.

    The class-count table has columns ``label, rows, readme`` (the count the shared folders'
    READMEs give for the folders read, :func:`readme_class_counts`; NaN for other labels) and a
    final ``total`` row.
    """
    loaded = load_cicids2017(data_dir, labels=labels, files=files, extra=extra)
    report = loaded.report
    counts = pd.DataFrame({"label": list(report.class_counts), "rows": list(report.class_counts.values())})
    counts["readme"] = counts["label"].map(readme_class_counts(bool(report.extra_directories)))
    total = pd.DataFrame({"label": ["total"], "rows": [report.n_rows], "readme": [np.nan]})
    return report.files, report.dropped, pd.concat([counts, total], ignore_index=True)
