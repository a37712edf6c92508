"""NSL-KDD (Tavallaee et al. 2009): loading, the five-category label mapping, VGM's encoding.

Official files: ``KDDTrain+.txt`` (125,973 rows) and ``KDDTest+.txt`` (22,544 rows), 43
comma-separated fields without header: 41 features, the attack label and a difficulty level
(0-21). The ``.arff`` variants carry only a binary class (normal / anomaly) and no difficulty.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .encoding import TabularEncoder
from .errors import DataFormatError, UnknownLabelError
from .sources import Located, locate, member_name, verify_bytes, verify_checksum

DATASET = "nsl-kdd"

FEATURES: tuple[str, ...] = (
    "duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land",
    "wrong_fragment", "urgent", "hot", "num_failed_logins", "logged_in", "num_compromised",
    "root_shell", "su_attempted", "num_root", "num_file_creations", "num_shells",
    "num_access_files", "num_outbound_cmds", "is_host_login", "is_guest_login", "count",
    "srv_count", "serror_rate", "srv_serror_rate", "rerror_rate", "srv_rerror_rate",
    "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate", "dst_host_count",
    "dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate", "dst_host_srv_diff_host_rate", "dst_host_serror_rate",
    "dst_host_srv_serror_rate", "dst_host_rerror_rate", "dst_host_srv_rerror_rate",
)  # fmt: skip
COLUMNS: tuple[str, ...] = (*FEATURES, "label", "difficulty")
CATEGORICAL: tuple[str, ...] = ("protocol_type", "service", "flag")
NUMERIC: tuple[str, ...] = tuple(f for f in FEATURES if f not in CATEGORICAL)
#: Counts and flags (integers in the files); the other numeric features are rates in [0, 1].
INTEGER: tuple[str, ...] = tuple(f for f in NUMERIC if not f.endswith("_rate"))

#: The six near-constant numeric features the VGM paper leaves out (38 - 6 = 32 continuous).
VGM_DROPPED: tuple[str, ...] = (
    "land", "urgent", "su_attempted", "num_shells", "num_outbound_cmds", "is_host_login",
)  # fmt: skip
VGM_CONTINUOUS: tuple[str, ...] = tuple(f for f in NUMERIC if f not in VGM_DROPPED)
#: One-hot blocks in the paper's column order: protocol 33-35, flag 36-46, service 47-116.
VGM_CATEGORICAL: tuple[str, ...] = ("protocol_type", "flag", "service")

#: The five categories, in the paper's (alphabetical) order; a label's code is its index.
CATEGORIES: tuple[str, ...] = ("DoS", "Normal", "Probe", "R2L", "U2R")
ATTACKS_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "DoS": ("back", "land", "neptune", "pod", "smurf", "teardrop", "apache2", "mailbomb",
            "processtable", "udpstorm", "worm"),
    "Probe": ("ipsweep", "nmap", "portsweep", "satan", "mscan", "saint"),
    "R2L": ("ftp_write", "guess_passwd", "imap", "multihop", "phf", "spy", "warezclient",
            "warezmaster", "xlock", "xsnoop", "snmpguess", "snmpgetattack", "httptunnel",
            "sendmail", "named"),
    "U2R": ("buffer_overflow", "loadmodule", "perl", "rootkit", "ps", "sqlattack", "xterm"),
    "Normal": ("normal",),
}  # fmt: skip
CATEGORY_OF: dict[str, str] = {a: c for c, attacks in ATTACKS_BY_CATEGORY.items() for a in attacks}

#: The paper's reference counts per category (TARGETS.md; train = the paper's Table 3).
PAPER_CATEGORY_COUNTS: dict[str, dict[str, int]] = {
    "train": {"Normal": 67343, "DoS": 45927, "Probe": 11656, "R2L": 995, "U2R": 52},
    "test": {"Normal": 9711, "DoS": 7460, "Probe": 2421, "R2L": 2885, "U2R": 67},
}

SPLIT_FILES: dict[str, str] = {
    "train": "KDDTrain+.txt",
    "test": "KDDTest+.txt",
    "train-20": "KDDTrain+_20Percent.txt",
    "test-21": "KDDTest-21.txt",
}


def load_nslkdd(
    split: str = "train", data_dir: str | os.PathLike | None = None, path: str | os.PathLike | None = None
) -> pd.DataFrame:
    """Read one NSL-KDD split into a typed frame.

    ``split`` is ``train``, ``test``, ``train-20`` or ``test-21``; ``path`` (optional) names the
    file directly: a ``.txt``, an ``.arff`` or the official ``NSL-KDD.zip`` (then the split's
    file is read from inside it). Otherwise the file is found by :func:`~.sources.locate`.
    The file is parsed first, then checked against its published SHA-256, so an edited file
    reports its first bad line and column rather than only a hash mismatch.

    Returns a frame with the 41 features (integers as int64, rates as float64, the three
    categorical features as strings), ``label`` (attack name; ``normal``/``anomaly`` for ARFF),
    ``difficulty`` (Int64, missing for ARFF) and ``category`` (one of :data:`CATEGORIES`, or
    ``Attack`` for an ARFF anomaly). Raises :class:`DataFormatError` naming file, line and
    column for malformed input (non-ASCII bytes, ``inf``/``nan``, negative values, rates above
    1, a truncated archive), :class:`UnknownLabelError` for a label outside the mapping and
    :class:`ChecksumError` for a file that parses but is not the official release.
    """
    if split not in SPLIT_FILES:
        raise ValueError(f"unknown NSL-KDD split {split!r}; expected one of {sorted(SPLIT_FILES)}")
    name = SPLIT_FILES[split]
    if path is None:
        found = locate(DATASET, name, data_dir)
    else:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file (expected an NSL-KDD .txt, .arff or NSL-KDD.zip)")
        if path.suffix.lower() == ".zip":
            member = member_name(path, name)
            if member is None:
                raise DataFormatError(f"archive holds no {name}", path=path)
            found = Located(path, member, "path argument")
        else:
            found = Located(path, None, "path argument")
    data = found.read()
    # Parse first: an edited file learns its first bad line and column, not only a hash mismatch.
    text = decode_ascii(data, found.source)
    is_arff = Path(found.member or found.path).suffix.lower() == ".arff"
    frame = _parse_arff(text, found.source) if is_arff else _parse_txt(text, found.source)
    file_name = Path(found.member).name if found.member else found.path.name
    if found.member is None:
        verify_checksum(found.path, DATASET, file_name)
    else:
        verify_bytes(data, DATASET, file_name, found.source)
    return frame


def decode_ascii(data: bytes, source) -> str:
    """``data`` as ASCII text; a non-ASCII byte raises :class:`DataFormatError` naming its
    line and column (the field it falls in)."""
    try:
        return data.decode("ascii", errors="strict")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        field = data.count(b",", line_start, exc.start)
        column = COLUMNS[field] if field < len(COLUMNS) else f"field {field + 1}"
        raise DataFormatError(
            f"non-ASCII byte 0x{data[exc.start]:02x} at character {exc.start - line_start + 1} of the line; "
            f"NSL-KDD files are plain ASCII (was the file re-saved in another encoding?)",
            path=source, line=data.count(b"\n", 0, exc.start) + 1, column=column,
        ) from None


def _check_field_counts(lines: list[str], expected: int, source, first_line: int = 1,
                        line_numbers: np.ndarray | None = None) -> None:
    """Every line must hold ``expected`` fields; ``line_numbers[i]`` is line i's number in the
    file (default: ``first_line + i``)."""
    for offset, line in enumerate(lines):
        fields = line.count(",") + 1
        if fields != expected:
            raise DataFormatError(
                f"expected {expected} comma-separated fields, found {fields}",
                path=source,
                line=int(line_numbers[offset]) if line_numbers is not None else first_line + offset,
            )


def _typed_frame(raw: pd.DataFrame, source, first_line: int = 1,
                 line_numbers: np.ndarray | None = None) -> pd.DataFrame:
    """Convert the string columns of ``raw`` to their types; errors name line and column
    (row i is file line ``line_numbers[i]``, default ``first_line + i``)."""
    if line_numbers is None:
        line_numbers = first_line + np.arange(len(raw))
    out = pd.DataFrame(index=raw.index)
    for column in FEATURES:
        values = raw[column].str.strip()
        if column in CATEGORICAL:
            bad = values == ""
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise DataFormatError("empty categorical value", path=source, line=int(line_numbers[row]), column=column)
            out[column] = values.astype(str)
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataFormatError(
                f"cannot parse {raw[column].iloc[row]!r} as a number (field {FEATURES.index(column) + 1})",
                path=source,
                line=int(line_numbers[row]),
                column=column,
            )
        array = numbers.to_numpy(dtype=np.float64)
        checks = ((~np.isfinite(array), "a finite number"),
                  (array < 0, "a value >= 0 (counts and rates are never negative)"),
                  ((array > 1) & (column not in INTEGER), "a rate in [0, 1]"))
        for bad, expected in checks:
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise DataFormatError(f"expected {expected}, found {raw[column].iloc[row]!r}", path=source,
                                      line=int(line_numbers[row]), column=column)
        if column in INTEGER:
            if not np.all(numbers.to_numpy() == np.round(numbers.to_numpy())):
                row = int(np.flatnonzero(numbers.to_numpy() != np.round(numbers.to_numpy()))[0])
                raise DataFormatError(
                    f"expected an integer, found {raw[column].iloc[row]!r}",
                    path=source,
                    line=int(line_numbers[row]),
                    column=column,
                )
            out[column] = numbers.astype(np.int64)
        else:
            out[column] = numbers.astype(np.float64)
    return out


def _parse_txt(text: str, source) -> pd.DataFrame:
    numbered = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not numbered:
        raise DataFormatError("the file is empty", path=source)
    line_numbers = np.asarray([number for number, _ in numbered])  # blank lines skipped, not renumbered
    lines = [line for _, line in numbered]
    _check_field_counts(lines, len(COLUMNS), source, line_numbers=line_numbers)
    raw = pd.read_csv(io.StringIO("\n".join(lines)), header=None, names=list(COLUMNS), dtype=str, na_filter=False)
    frame = _typed_frame(raw, source, line_numbers=line_numbers)
    labels = raw["label"].str.strip()
    unknown = ~labels.isin(list(CATEGORY_OF))
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise UnknownLabelError(
            f"unknown attack label {labels.iloc[row]!r}; known labels: {sorted(CATEGORY_OF)}",
            path=source,
            line=int(line_numbers[row]),
            column="label",
        )
    difficulty = pd.to_numeric(raw["difficulty"].str.strip(), errors="coerce")
    if difficulty.isna().any():
        row = int(np.flatnonzero(difficulty.isna().to_numpy())[0])
        raise DataFormatError(
            f"cannot parse {raw['difficulty'].iloc[row]!r} as a number", path=source, line=int(line_numbers[row]),
            column="difficulty",
        )
    frame["label"] = labels.astype(str)
    frame["difficulty"] = difficulty.astype("Int64")
    frame["category"] = labels.map(CATEGORY_OF).astype(str)
    return frame


_ARFF_ATTRIBUTE = re.compile(r"@attribute\s+'?([^'\s]+)'?\s+(.+)", re.IGNORECASE)


def _parse_arff(text: str, source) -> pd.DataFrame:
    """The ARFF variant: the same 41 features plus ``class`` in {normal, anomaly}."""
    lines = text.splitlines()
    names, data_start = [], None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.lower().startswith("@attribute"):
            match = _ARFF_ATTRIBUTE.match(stripped)
            if not match:
                raise DataFormatError("malformed @attribute line", path=source, line=number)
            names.append(match.group(1))
        elif stripped.lower().startswith("@data"):
            data_start = number + 1
            break
    expected = [*FEATURES, "class"]
    if names != expected:
        missing = [n for n in expected if n not in names]
        raise DataFormatError(f"expected the 41 NSL-KDD attributes and 'class'; missing or out of order: {missing}", path=source)
    if data_start is None:
        raise DataFormatError("no @data section", path=source)
    body = [(n, line.strip()) for n, line in enumerate(lines[data_start - 1 :], start=data_start)]
    body = [(n, line) for n, line in body if line and not line.startswith("%")]
    numbers = [n for n, _ in body]
    rows = [line.replace("'", "") for _, line in body]
    for n, line in zip(numbers, rows):
        if line.count(",") + 1 != len(expected):
            raise DataFormatError(f"expected {len(expected)} fields, found {line.count(',') + 1}", path=source, line=n)
    raw = pd.read_csv(io.StringIO("\n".join(rows)), header=None, names=expected, dtype=str, na_filter=False)
    line_of = np.asarray(numbers)
    try:
        frame = _typed_frame(raw, source)
    except DataFormatError as exc:  # re-anchor the row number on the file's own line numbers
        raise DataFormatError(str(exc).split(": ", 1)[-1], path=source, line=int(line_of[exc.line - 1]), column=exc.column) from None
    labels = raw["class"].str.strip()
    unknown = ~labels.isin(["normal", "anomaly"])
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise UnknownLabelError(
            f"unknown class {labels.iloc[row]!r}; ARFF files use 'normal' or 'anomaly'",
            path=source, line=int(line_of[row]), column="class",
        )  # fmt: skip
    frame["label"] = labels.astype(str)
    frame["difficulty"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame["category"] = np.where(labels == "normal", "Normal", "Attack")
    return frame


def category_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Rows per category, in :data:`CATEGORIES` order (categories absent from the frame give 0)."""
    counts = frame["category"].value_counts()
    return {c: int(counts.get(c, 0)) for c in CATEGORIES}


def vgm_encoder() -> TabularEncoder:
    """The paper's 116-column encoding (unfitted): 32 min-max continuous + 84 one-hot."""
    return TabularEncoder(
        numeric=VGM_CONTINUOUS,
        categorical=VGM_CATEGORICAL,
        integer=[c for c in VGM_CONTINUOUS if c in INTEGER],
        numeric_scaling="minmax",
        clip=True,
    )


def stratified_subsample(y: np.ndarray, n: int | None, seed: int, min_per_class: int = 20) -> np.ndarray:
    """Sorted row indices of a class-stratified subsample of size ~``n`` (all rows if None).

    Each class keeps its share of ``n`` but at least ``min(min_per_class, its size)`` rows, so
    that the rare classes (U2R has 52 training rows) survive in the smoke profile.
    """
    y = np.asarray(y)
    if n is None or n >= len(y):
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        take = max(int(round(n * len(rows) / len(y))), min(min_per_class, len(rows)))
        chosen.append(rng.choice(rows, size=min(take, len(rows)), replace=False))
    return np.sort(np.concatenate(chosen))


@dataclass
class EncodedSplits:
    """KDDTrain+/KDDTest+ in VGM's encoding.

    ``X_*``: (n, 116) float32 in [0, 1]; ``y_*``: (n,) int64 category codes (index into
    ``classes``); ``frame_*``: the typed rows they came from; ``encoder``: fitted on train.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    frame_train: pd.DataFrame
    frame_test: pd.DataFrame
    encoder: TabularEncoder
    classes: tuple[str, ...] = CATEGORIES

    @property
    def feature_names(self) -> list[str]:
        return list(self.encoder.feature_names_)


def encode_categories(categories: pd.Series) -> np.ndarray:
    """Category names -> int64 codes (index into :data:`CATEGORIES`)."""
    codes = pd.Categorical(categories, categories=list(CATEGORIES)).codes.astype(np.int64)
    if (codes < 0).any():
        bad = categories[codes < 0].iloc[0]
        raise UnknownLabelError(f"category {bad!r} is not one of {CATEGORIES}")
    return codes


def load_vgm_arrays(
    data_dir: str | os.PathLike | None = None,
    train_rows: int | None = None,
    test_rows: int | None = None,
    seed: int = 0,
) -> EncodedSplits:
    """KDDTrain+ and KDDTest+ encoded as the VGM paper does (encoder fitted on train).

    ``train_rows``/``test_rows`` take a class-stratified subsample (smoke profile); ``None``
    keeps every row. The encoder is always fitted on the whole of KDDTrain+, so the matrix has
    the paper's 116 columns in every profile. A test service never seen in train would be an
    error; NSL-KDD has none (the test set's 64 services are among train's 70).
    """
    full_train = load_nslkdd("train", data_dir)
    test = load_nslkdd("test", data_dir)
    encoder = vgm_encoder().fit(full_train)
    keep = stratified_subsample(full_train["category"].to_numpy(), train_rows, seed)
    train = full_train.iloc[keep].reset_index(drop=True)
    test = test.iloc[stratified_subsample(test["category"].to_numpy(), test_rows, seed + 1)].reset_index(drop=True)
    return EncodedSplits(
        X_train=encoder.transform(train),
        y_train=encode_categories(train["category"]),
        X_test=encoder.transform(test),
        y_test=encode_categories(test["category"]),
        frame_train=train,
        frame_test=test,
        encoder=encoder,
    )
