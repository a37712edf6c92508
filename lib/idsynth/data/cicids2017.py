"""CIC-IDS-2017 (Sharafaldin, Habibi Lashkari, Ghorbani, ICISSP 2018): reading and cleaning.

The release comes in two CSV layouts, both read here the same way:

* MachineLearningCSV (``MachineLearningCVE/*.csv``): 79 columns, the 78 CICFlowMeter features
  (``Fwd Header Length`` appears twice, the second copy as ``Fwd Header Length.1``) and
  ``Label``; most names carry a leading space.
* GeneratedLabelledFlows (``TrafficLabelling/*.csv``): the same 79 plus six identifier columns
  (``Flow ID``, ``Source IP``, ``Source Port``, ``Destination IP``, ``Protocol``,
  ``Timestamp``), 85 in all; some files are cp1252-encoded.

Cleaning, in this order and reported per file (never silently): names stripped, ``labels`` /
``label`` read as ``Label``, the identifier columns and ``Fwd Header Length.1`` dropped, blank
lines and rows without a label dropped, rows with ``Infinity``/NaN/empty features dropped, rows
whose label was not asked for dropped, then exact duplicates (features and label) dropped across
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

_DASH = re.compile("\\s+[\u2013\u2014\ufffd\x96-]\\s+")
_MISSING_TOKENS = {"", "nan", "infinity", "-infinity", "+infinity", "inf", "-inf", "+inf"}


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------


@dataclass
class CICLoadReport:
    """What :func:`load_cicids2017` read and what it dropped.

    ``files``: one row per file: file (path relative to ``directory``), layout, encoding,
    rows_read (data lines, blank lines included), rows_kept, sha256 (``"ok"`` when checked
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


def _csv_files(root: Path) -> list[Path]:
    """The CSV files under ``root`` at any depth, sorted by relative path (none if no folder)."""
    return sorted(root.rglob("*.csv"), key=lambda p: str(p.relative_to(root)).lower()) if root.is_dir() else []


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


def standard_columns(columns: Sequence[str], path=None) -> tuple[list[str], str]:
    """Strip names, spell the label ``Label`` and name a repeated column ``<name>.1``.

    Returns (new names, layout); raises :class:`DataFormatError` naming the missing (or
    unexpected) columns when the header matches neither official layout.
    """
    names: list[str] = []
    for raw in columns:
        name = str(raw).strip()
        if name.lower() in LABEL_ALIASES:
            name = LABEL
        if name in names:  # pandas' mangling of repeated names happens before stripping
            name = f"{name}.1"
        names.append(name)
    present = set(names)
    expected_ml = set(FEATURES) | {LABEL}
    missing = [c for c in (*FEATURES, LABEL) if c not in present]
    ids = [c for c in IDENTIFIERS if c in present]
    unexpected = [c for c in names if c not in expected_ml | set(IDENTIFIERS) | {DUPLICATED_COLUMN}]
    if missing or unexpected or (ids and len(ids) != len(IDENTIFIERS)):
        layout = LAYOUT_GLF if ids else LAYOUT_ML
        missing += [c for c in IDENTIFIERS if ids and c not in present]
        detail = []
        if missing:
            detail.append(f"missing columns {missing}")
        if unexpected:
            detail.append(f"unexpected columns {unexpected}")
        raise DataFormatError(
            f"columns match neither CIC-IDS-2017 layout ({LAYOUT_ML}: 79 columns, {LAYOUT_GLF}: 85); "
            f"closest is {layout}, with {'; '.join(detail)}",
            path=path,
        )
    return names, (LAYOUT_GLF if ids else LAYOUT_ML)


def normalise_label(label: str) -> str:
    """Strip and write the web attacks' dash (en dash, cp1252 0x96, U+FFFD) as ``" - "``."""
    return _DASH.sub(" - ", label.strip())


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


def read_cicids2017_file(path: str | os.PathLike, labels: Sequence[str] | None = None) -> tuple[pd.DataFrame, dict]:
    """Read and clean one CSV file of either layout (duplicates across files are not handled).

    labels: labels to keep (None = all; spelled as :func:`resolve_labels` accepts). Returns
    (frame with :data:`FEATURES` as float64 and ``Label``, info) where info holds the layout,
    encoding, rows_read and a list of (reason, rows, detail) drops.
    """
    path = Path(path)
    labels = resolve_labels(labels)
    raw, encoding = _read_csv(path)
    names, layout = standard_columns(raw.columns, path)
    raw.columns = names
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
    frame[LABEL] = label[keep].map(normalise_label).to_numpy()
    if labels is not None:
        wanted = frame[LABEL].isin(labels).to_numpy()
        other = frame.loc[~wanted, LABEL].value_counts()
        drops.append(("label not asked for", int((~wanted).sum()), ", ".join(f"{k}: {v}" for k, v in other.items())))
        frame = frame[wanted]
    info = {"layout": layout, "encoding": encoding, "rows_read": rows_read, "drops": drops}
    return frame.reset_index(drop=True), info


# ----------------------------------------------------------------------------------------------
# The data set
# ----------------------------------------------------------------------------------------------


def resolve_labels(labels: Sequence[str] | str | None) -> tuple[str, ...] | None:
    """Canonical spelling of the asked labels (case-insensitive, dash-normalised).

    Raises :class:`UnknownLabelError` listing the known labels for one outside the release.
    """
    if labels is None:
        return None
    if isinstance(labels, str):
        labels = [labels]
    known = {name.lower(): name for name in KNOWN_LABELS}
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
    folder: Path, paths: Sequence[Path], prefix: str, wanted: tuple[str, ...] | None, verify: bool
) -> tuple[list[pd.DataFrame], list[str], list[dict], list[tuple]]:
    """Read and clean ``paths`` of ``folder``, checking them against its SHA256SUMS.

    Returns (frames, file names ``prefix + path inside folder``, rows of the report's files
    table without ``rows_kept``, (file, reason, rows, detail) drops).
    """
    sums_path = folder / "SHA256SUMS"
    sums = read_sha256sums(sums_path) if verify and sums_path.is_file() else {}
    frames, names, file_rows, drop_rows = [], [], [], []
    for path in paths:
        name = prefix + str(path.relative_to(folder))
        checked = check_file_hash(path, folder, sums) if verify else "not checked"
        frame, info = read_cicids2017_file(path, wanted)
        frames.append(frame)
        names.append(name)
        file_rows.append({"file": name, "layout": info["layout"], "encoding": info["encoding"],
                          "rows_read": info["rows_read"], "sha256": checked})  # fmt: skip
        drop_rows += [(name, reason, n, detail) for reason, n, detail in info["drops"]]
    return frames, names, file_rows, drop_rows


def load_cicids2017(
    data_dir: str | os.PathLike | None = None,
    labels: Sequence[str] | str | None = None,
    files: Sequence[str] | None = None,
    verify: bool = True,
    extra: bool = True,
) -> CICIDS2017:
    """Read every CIC-IDS-2017 CSV in the data folder (either layout), cleaned and de-duplicated.

    data_dir: the directory holding ``cic-ids-2017/`` (default ``$IDSYNTH_DATA``, then
    ``./data``), or that folder itself. labels: the labels to keep (None = all), e.g.
    ``("BENIGN", "DDoS", "PortScan")``; case-insensitive. files: file-name patterns that select
    the files (e.g. :data:`FRIDAY_AFTERNOON_FILES`); None = every CSV. verify: check hashes
    (the folder's SHA256SUMS, else the ones shipped with idsynth) of every file read. extra:
    also read the matching files of :data:`EXTRA_FOLDER` beside ``cic-ids-2017/`` when it
    exists (after the main folder, so a row present in both is kept once, from the main folder).

    Every matching CSV is read, so unpack only one of the two archives: with both
    (MachineLearningCVE/ and TrafficLabelling/) each flow is read twice, and only copies that
    agree in every value are caught as duplicates of a row in an earlier file.

    Returns :class:`CICIDS2017` (frame: 77 features + ``Label``, index 0..n-1; schema; report).
    Raises DataNotFoundError, DataFormatError (naming file, line, column), UnknownLabelError,
    ChecksumError.
    """
    wanted = resolve_labels(labels)
    root, paths = find_cicids2017_files(data_dir, files)
    folders = [(root, paths, "")]
    if extra:
        folders += [(folder, chosen, f"{folder.name}/") for folder, chosen in find_extra_files(root, files)]
    frames, names, file_rows, drop_rows = [], [], [], []
    for folder, folder_paths, prefix in folders:
        read = _read_folder(folder, folder_paths, prefix, wanted, verify)
        for collected, new in zip((frames, names, file_rows, drop_rows), read):
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
    warnings = [f"label {label!r} was asked for but no row has it" for label, n in counts.items() if n == 0]
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
