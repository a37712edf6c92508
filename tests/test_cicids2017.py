"""Tests of idsynth.data.cicids2017 on small files in both official layouts, and on the real subset."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from idsynth.data.cicids2017 import (
    DUPLICATED_COLUMN,
    EXTRA_CLASS_COUNTS,
    EXTRA_FOLDER,
    FEATURES,
    FRIDAY_AFTERNOON_FILES,
    IDENTIFIERS,
    IMPROVED_EXTRA,
    IMPROVED_NAMES,
    LABEL,
    LAYOUT_GLF,
    LAYOUT_IMPROVED,
    LAYOUT_ML,
    SUBSET_CLASS_COUNTS,
    cicids2017_summary,
    find_cicids2017_files,
    load_cicids2017,
    normalise_label,
    read_cicids2017_file,
    readme_class_counts,
)
from idsynth.data.errors import ChecksumError, DataFormatError, DataNotFoundError, UnknownLabelError

REAL_CIC = Path(os.environ.get("IDSYNTH_DATA", Path(__file__).resolve().parents[1] / "data")) / "cic-ids-2017"
REAL_EXTRA = REAL_CIC.with_name(EXTRA_FOLDER)

# The MachineLearningCSV header: Fwd Header Length.1 after Avg Bwd Segment Size, label last.
ML_COLUMNS = list(FEATURES[:55]) + [DUPLICATED_COLUMN] + list(FEATURES[55:])
GLF_COLUMNS = list(IDENTIFIERS[:4]) + [FEATURES[0], IDENTIFIERS[4], IDENTIFIERS[5]] + ML_COLUMNS[1:]


def flow(seed: int) -> dict[str, str]:
    """One flow's 78 feature fields as text: integers, plus a few fractional rates."""
    rng = np.random.default_rng(seed)
    values = {c: str(int(rng.integers(0, 1000))) for c in ML_COLUMNS}
    values["Flow Bytes/s"] = f"{rng.random() * 1e4:.6f}"
    values["Flow IAT Mean"] = f"{rng.random() * 1e3:.3f}"
    values[DUPLICATED_COLUMN] = values["Fwd Header Length"]
    return values


def write_csv(path: Path, columns: list[str], rows: list[dict[str, str]], label_name="Label", lead_space=True, encoding="utf-8"):
    """Write ``rows`` (dicts over ``columns`` + "Label") in the official style."""
    header = [(" " if lead_space and i else "") + c for i, c in enumerate(columns)] + [(" " if lead_space else "") + label_name]
    lines = [",".join(header)]
    for row in rows:
        if row is None:  # a blank line of commas, as in the official Thursday file
            lines.append("," * len(columns))
            continue
        lines.append(",".join([row.get(c, "") for c in columns] + [row["Label"]]))
    path.write_text("\n".join(lines) + "\n", encoding=encoding)


def glf_row(features: dict[str, str], label: str, port: int) -> dict[str, str]:
    ids = {"Flow ID": f"10.0.0.1-10.0.0.2-{port}-80-6", "Source IP": "10.0.0.1", "Source Port": str(port),
           "Destination IP": "10.0.0.2", "Protocol": "6", "Timestamp": "7/7/2017 3:56"}  # fmt: skip
    return {**features, **ids, "Label": label}


@pytest.fixture
def two_layouts(tmp_path):
    """An ML file and a GLF file under <tmp>/cic-ids-2017/ with every quirk the loader handles."""
    folder = tmp_path / "cic-ids-2017"
    (folder / "MachineLearningCVE").mkdir(parents=True)
    (folder / "TrafficLabelling").mkdir()
    infinite = flow(100) | {"Flow Bytes/s": "Infinity", "Flow Packets/s": "Infinity"}
    missing = flow(101) | {"Flow IAT Mean": ""}
    nan_text = flow(102) | {"Flow Bytes/s": "NaN"}
    ml_rows = [flow(i) | {"Label": "BENIGN"} for i in range(6)]
    ml_rows += [flow(10) | {"Label": "DDoS"}, flow(11) | {"Label": "DDoS"}]
    ml_rows += [infinite | {"Label": "BENIGN"}, missing | {"Label": "BENIGN"}, nan_text | {"Label": "DDoS"}]
    ml_rows += [flow(0) | {"Label": "BENIGN"}, flow(10) | {"Label": "DDoS"}]  # 2 duplicates within the file
    ml_rows += [flow(12) | {"Label": "PortScan"}, None]  # a blank line
    write_csv(folder / "MachineLearningCVE" / "Friday-Afternoon-DDos.pcap_ISCX.csv", ML_COLUMNS, ml_rows)
    glf_rows = [glf_row(flow(20 + i), "DDoS", 4000 + i) for i in range(3)]
    glf_rows += [glf_row(flow(1), "BENIGN", 5000), glf_row(flow(11), "DDoS", 5001)]  # in the ML file (other ids)
    glf_rows += [glf_row(flow(20), "DDoS", 4000)]  # duplicate within the GLF file
    glf_rows += [glf_row(flow(30) | {"Flow Packets/s": "-Infinity"}, "DDoS", 4100)]
    write_csv(folder / "TrafficLabelling" / "Friday-Afternoon-DDos.pcap_ISCX.csv", GLF_COLUMNS, glf_rows, lead_space=False)
    return tmp_path


def test_both_layouts_cleaned_and_reported(two_layouts):
    loaded = load_cicids2017(two_layouts)
    frame, report = loaded.frame, loaded.report
    assert list(frame.columns) == [*FEATURES, LABEL]
    assert report.class_counts == {"BENIGN": 6, "DDoS": 5, "PortScan": 1}
    assert len(frame) == 12 and not frame.duplicated().any()
    assert np.isfinite(frame[list(FEATURES)].to_numpy(dtype=float)).all()

    files = report.files.set_index("file")
    ml, glf = "MachineLearningCVE/Friday-Afternoon-DDos.pcap_ISCX.csv", "TrafficLabelling/Friday-Afternoon-DDos.pcap_ISCX.csv"
    assert files.loc[ml, "layout"] == LAYOUT_ML and files.loc[glf, "layout"] == LAYOUT_GLF
    assert files.loc[ml, "rows_read"] == 15 and files.loc[glf, "rows_read"] == 7
    assert files.loc[ml, "rows_kept"] == 9 and files.loc[glf, "rows_kept"] == 3
    assert (files["sha256"] == "not listed").all()

    dropped = {(r.file, r.reason): r.rows for r in report.dropped.itertuples()}
    assert dropped == {
        (ml, "blank line"): 1,
        (ml, "Infinity/NaN value"): 3,
        (glf, "Infinity/NaN value"): 1,
        (ml, "duplicate within the file"): 2,
        (glf, "duplicate within the file"): 1,
        (glf, "duplicate of a row in an earlier file"): 2,
    }
    detail = report.dropped.set_index(["file", "reason"]).loc[(ml, "Infinity/NaN value"), "detail"]
    assert detail == "Flow Bytes/s: 2, Flow Packets/s: 1, Flow IAT Mean: 1"
    assert report.dropped_by_reason()["duplicate of a row in an earlier file"] == 2
    assert "12 rows kept" in str(report)

    # types: integer-valued columns are int64, the rates float64; the schema agrees
    assert frame["Destination Port"].dtype == np.int64 and frame["Flow Bytes/s"].dtype == np.float64
    assert set(loaded.schema.numeric) == set(FEATURES) and loaded.schema.categorical == ()
    assert "Flow Bytes/s" not in loaded.schema.integer and "Destination Port" in loaded.schema.integer
    assert loaded.schema.label == LABEL


def test_label_filter_and_labels_spelling(tmp_path):
    folder = tmp_path / "cic-ids-2017"
    folder.mkdir()
    rows = [flow(i) | {"Label": label} for i, label in enumerate(["BENIGN", "BENIGN", "PortScan", "Bot"])]
    write_csv(folder / "friday-portscan.csv", ML_COLUMNS, rows, label_name="labels", lead_space=False)
    loaded = load_cicids2017(tmp_path, labels=["benign", "PortScan"])
    assert loaded.report.class_counts == {"BENIGN": 2, "PortScan": 1}
    row = loaded.report.dropped.iloc[0]
    assert (row.reason, row.rows, row.detail) == ("label not asked for", 1, "Bot: 1")
    # a known label absent from the files: the filter would drop the whole class, an error
    with pytest.raises(UnknownLabelError, match=r"\['DDoS'\] were asked for.*'Bot': 1.*leave it out of labels"):
        load_cicids2017(tmp_path, labels=["BENIGN", "DDoS"])


def test_a_label_spelled_otherwise_is_an_error_with_the_label_map_to_pass(tmp_path):
    folder = tmp_path / "cic-ids-2017"
    folder.mkdir()
    rows = [flow(i) | {"Label": label} for i, label in enumerate(["BENIGN", "Port Scan", "Port Scan", "Bot"])]
    write_csv(folder / "friday-portscan.csv", ML_COLUMNS, rows)
    with pytest.raises(UnknownLabelError, match=r"\['PortScan'\].*label_map=\{'Port Scan': 'PortScan'\}"):
        load_cicids2017(tmp_path, labels=["BENIGN", "PortScan"])
    loaded = load_cicids2017(tmp_path, labels=["BENIGN", "PortScan"], label_map={"port scan": "portscan"})
    assert loaded.report.class_counts == {"BENIGN": 1, "PortScan": 2}
    with pytest.raises(UnknownLabelError, match="'Port-Scan'"):
        load_cicids2017(tmp_path, label_map={"Port Scan": "Port-Scan"})  # the target must be a known label


def test_unknown_label_is_an_error(two_layouts):
    with pytest.raises(UnknownLabelError, match="'DDOS attack'.*known labels"):
        load_cicids2017(two_layouts, labels=["BENIGN", "DDOS attack"])


def test_missing_column_is_named(tmp_path):
    folder = tmp_path / "cic-ids-2017"
    folder.mkdir()
    columns = [c for c in ML_COLUMNS if c != "Flow IAT Std"]
    write_csv(folder / "broken.csv", columns, [flow(0) | {"Label": "BENIGN"}])
    with pytest.raises(DataFormatError, match=r"broken\.csv.*missing columns \['Flow IAT Std'\]"):
        load_cicids2017(tmp_path)


def test_partial_identifiers_and_unexpected_columns_are_named(tmp_path):
    columns = ["Flow ID", "Source IP", *ML_COLUMNS]
    write_csv(tmp_path / "partial.csv", columns, [glf_row(flow(0), "BENIGN", 1)])
    with pytest.raises(DataFormatError, match=r"GeneratedLabelledFlows.*'Source Port'.*'Timestamp'"):
        read_cicids2017_file(tmp_path / "partial.csv")
    write_csv(tmp_path / "extra.csv", [*ML_COLUMNS, "Payload"], [flow(0) | {"Label": "BENIGN"}])
    with pytest.raises(DataFormatError, match=r"unexpected columns \['Payload'\]"):
        read_cicids2017_file(tmp_path / "extra.csv")


IMPROVED_IDS = ["id", "Flow ID", "Src IP", "Src Port", "Dst IP"]


def improved_row(seed: int, label: str, attempted: int = -1) -> dict[str, str]:
    """One row of the improved release (91 columns, renamed features), from :func:`flow`."""
    features = {IMPROVED_NAMES.get(c, c): v for c, v in flow(seed).items() if c != DUPLICATED_COLUMN}
    ids = {"id": str(seed), "Flow ID": f"flow-{seed}", "Src IP": "10.0.0.1", "Src Port": "5000", "Dst IP": "10.0.0.2",
           "Protocol": "6", "Timestamp": "2017-07-07 15:56:00.000001"}  # fmt: skip
    more = {c: "0" for c in ("Fwd RST Flags", "Bwd RST Flags", "ICMP Code", "ICMP Type", "Total TCP Flow Time")}
    return ids | features | more | {"Label": label, "Attempted Category": str(attempted)}


def write_improved(path: Path, rows: list[dict[str, str]], drop: tuple[str, ...] = ()) -> list[str]:
    """Write ``rows`` in the improved release's column order (identifiers first, the label
    before ``Attempted Category``) without the columns ``drop``; returns the header."""
    order = IMPROVED_IDS + ["Dst Port", "Protocol", "Timestamp"]
    order += [c for c in rows[0] if c not in order and c not in ("Label", "Attempted Category")]
    order = [c for c in order + ["Label", "Attempted Category"] if c not in drop]
    pd.DataFrame(rows)[order].to_csv(path, index=False)
    return order


def test_improved_release_is_read_with_its_names_labels_and_extra_columns_dropped(tmp_path):
    rows = [improved_row(0, "BENIGN"), improved_row(1, "Portscan"), improved_row(2, "Portscan"),
            improved_row(3, "Botnet"), improved_row(4, "DDoS - Attempted", attempted=2)]  # fmt: skip
    header = write_improved(tmp_path / "Friday-WorkingHours.csv", rows)
    assert len(header) == 91
    frame, info = read_cicids2017_file(tmp_path / "Friday-WorkingHours.csv", labels=["BENIGN", "PortScan"])
    assert info["layout"] == LAYOUT_IMPROVED and sorted(info["columns_dropped"]) == sorted(IMPROVED_EXTRA)
    assert list(frame.columns) == [*FEATURES, LABEL]
    assert frame[LABEL].tolist() == ["BENIGN", "PortScan", "PortScan"]  # not dropped for its spelling
    assert frame["Destination Port"].tolist() == [float(r["Dst Port"]) for r in rows[:3]]
    assert frame["min_seg_size_forward"].tolist() == [float(r["Fwd Seg Size Min"]) for r in rows[:3]]
    assert info["other_labels"] == {"Bot": 1, "DDoS - Attempted": 1}  # Botnet spelled as the release
    # identifiers and the extra features already dropped by the user: still the improved layout
    write_improved(tmp_path / "numeric.csv", rows, drop=(*IMPROVED_IDS, "Protocol", "Timestamp", "ICMP Code"))
    frame, info = read_cicids2017_file(tmp_path / "numeric.csv")
    assert info["layout"] == LAYOUT_IMPROVED and len(frame) == 5
    assert set(frame[LABEL]) == {"BENIGN", "PortScan", "Bot", "DDoS - Attempted"}


def test_an_unknown_layout_says_which_columns_to_map_and_column_map_reads_it(tmp_path):
    renamed = {"Flow IAT Std": "flow_iat_sd", "Label": "Class"}
    columns = [renamed.get(c, c) for c in ML_COLUMNS] + ["Payload"]
    rows = [flow(i) | {"flow_iat_sd": flow(i)["Flow IAT Std"], "Payload": "x", "Label": "BENIGN"} for i in range(3)]
    write_csv(tmp_path / "own.csv", columns, rows, label_name="Class")
    with pytest.raises(DataFormatError) as info:
        read_cicids2017_file(tmp_path / "own.csv")
    message = str(info.value)
    assert "own.csv" in message and "closest is MachineLearningCSV" in message
    assert "missing columns ['Flow IAT Std', 'Label']" in message
    assert "unexpected columns ['flow_iat_sd', 'Payload', 'Class']" in message
    assert "column_map={'flow_iat_sd': 'Flow IAT Std', 'Payload': None, 'Class': None}" in message
    frame, info = read_cicids2017_file(tmp_path / "own.csv", column_map={"flow_iat_sd": "Flow IAT Std", "Payload": None, "Class": "Label"})
    assert info["layout"] == LAYOUT_ML and info["columns_dropped"] == [DUPLICATED_COLUMN, "Payload"]
    assert frame["Flow IAT Std"].tolist() == [float(r["Flow IAT Std"]) for r in rows]
    with pytest.raises(ValueError, match="column_map maps 'Payload' to 'payload'"):
        read_cicids2017_file(tmp_path / "own.csv", column_map={"Payload": "payload"})
    with pytest.raises(DataFormatError, match=r"mapped to the same feature \['Flow Duration'\]"):
        read_cicids2017_file(tmp_path / "own.csv", column_map={"flow_iat_sd": "Flow Duration", "Class": "Label", "Payload": None})


def test_non_numeric_value_names_line_and_column(tmp_path):
    rows = [flow(0) | {"Label": "BENIGN"}, flow(1) | {"Flow Duration": "12ms", "Label": "BENIGN"}]
    write_csv(tmp_path / "bad.csv", ML_COLUMNS, rows)
    with pytest.raises(DataFormatError, match=r"bad\.csv, line 3, column 'Flow Duration'.*'12ms'"):
        read_cicids2017_file(tmp_path / "bad.csv")


def test_malformed_and_empty_csv_files_are_named(tmp_path):
    write_csv(tmp_path / "ragged.csv", ML_COLUMNS, [flow(0) | {"Label": "BENIGN"}])
    with open(tmp_path / "ragged.csv", "a") as handle:
        handle.write(",".join(["1"] * (len(ML_COLUMNS) + 2)) + "\n")  # the features, a label and one more
    with pytest.raises(DataFormatError, match=r"ragged\.csv: malformed CSV: .*line 3"):
        read_cicids2017_file(tmp_path / "ragged.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataFormatError, match=r"empty\.csv: the file is empty"):
        read_cicids2017_file(tmp_path / "empty.csv")


def test_an_explicit_data_dir_without_the_files_warns_when_another_place_is_used(two_layouts, tmp_path, monkeypatch):
    monkeypatch.setenv("IDSYNTH_DATA", str(two_layouts))
    with pytest.warns(UserWarning, match=r"holds no CIC-IDS-2017 CSV file.*IDSYNTH_DATA"):
        find_cicids2017_files(tmp_path / "typo")


def test_no_csv_says_where_it_looked_and_how_to_get_the_data(tmp_path, monkeypatch):
    monkeypatch.delenv("IDSYNTH_DATA", raising=False)
    (tmp_path / "cic-ids-2017").mkdir()
    (tmp_path / "cic-ids-2017" / "MachineLearningCSV.zip").write_bytes(b"")
    with pytest.raises(DataNotFoundError) as info:
        load_cicids2017(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "cic-ids-2017") in message and "unpack" in message
    assert "registration" in message and "unb.ca/cic/datasets/ids-2017" in message


def test_file_patterns_select_files(two_layouts):
    with pytest.raises(DataNotFoundError, match="no CSV file matches"):
        load_cicids2017(two_layouts, files=["*monday*"])
    loaded = load_cicids2017(two_layouts, files=["*friday*ddos*.csv"])
    assert len(loaded.report.files) == 2


def test_discovery_through_the_environment(two_layouts, monkeypatch):
    monkeypatch.setenv("IDSYNTH_DATA", str(two_layouts))
    assert load_cicids2017().report.directory == two_layouts / "cic-ids-2017"
    # an explicit data_dir may also be the cic-ids-2017 folder itself
    assert load_cicids2017(two_layouts / "cic-ids-2017" / "MachineLearningCVE").report.n_rows == 9


def test_sha256sums_checked(two_layouts):
    folder = two_layouts / "cic-ids-2017"
    ml = folder / "MachineLearningCVE" / "Friday-Afternoon-DDos.pcap_ISCX.csv"
    digest = hashlib.sha256(ml.read_bytes()).hexdigest()
    (folder / "SHA256SUMS").write_text(f"{digest}  MachineLearningCVE/Friday-Afternoon-DDos.pcap_ISCX.csv\n")
    files = load_cicids2017(two_layouts).report.files.set_index("file")["sha256"]
    assert files.tolist() == ["ok", "not listed"]
    (folder / "SHA256SUMS").write_text(f"{'0' * 64}  MachineLearningCVE/Friday-Afternoon-DDos.pcap_ISCX.csv\n")
    with pytest.raises(ChecksumError, match="Friday-Afternoon-DDos.pcap_ISCX.csv"):
        load_cicids2017(two_layouts)
    assert load_cicids2017(two_layouts, verify=False).report.n_rows == 12


def test_extra_folder_read_with_the_same_cleaning_and_no_double_counting(two_layouts):
    extra = two_layouts / EXTRA_FOLDER
    extra.mkdir()
    rows = [flow(40) | {"Label": "DDoS"}, flow(41) | {"Label": "PortScan"}, flow(42) | {"Label": "Bot"}]
    rows += [flow(10) | {"Label": "DDoS"}]  # already in the main folder
    rows += [flow(43) | {"Flow Bytes/s": "Infinity", "Label": "DDoS"}]
    write_csv(extra / "friday-extra_rows.csv", ML_COLUMNS, rows)
    digest = hashlib.sha256((extra / "friday-extra_rows.csv").read_bytes()).hexdigest()
    (extra / "SHA256SUMS").write_text(f"{digest}  friday-extra_rows.csv\n")

    alone = load_cicids2017(two_layouts, extra=False).report
    both = load_cicids2017(two_layouts, labels=["BENIGN", "DDoS", "PortScan"]).report
    assert both.extra_directories == (extra,) and alone.extra_directories == ()
    assert both.class_counts == {"BENIGN": 6, "DDoS": 6, "PortScan": 2}
    assert both.n_rows == alone.n_rows + 2
    name = f"{EXTRA_FOLDER}/friday-extra_rows.csv"
    files = both.files.set_index("file")
    assert (files.loc[name, "rows_read"], files.loc[name, "rows_kept"], files.loc[name, "sha256"]) == (5, 2, "ok")
    dropped = both.dropped[both.dropped["file"] == name].set_index("reason")["rows"].to_dict()
    assert dropped == {"Infinity/NaN value": 1, "label not asked for": 1, "duplicate of a row in an earlier file": 1}
    assert str(extra) in str(both)
    # the extra folder's own SHA256SUMS is checked
    (extra / "SHA256SUMS").write_text(f"{'0' * 64}  friday-extra_rows.csv\n")
    with pytest.raises(ChecksumError, match="friday-extra_rows.csv"):
        load_cicids2017(two_layouts)
    # file patterns apply to the extra folder too
    assert load_cicids2017(two_layouts, files=["*ddos*"], verify=False).report.extra_directories == ()


def test_cp1252_web_attack_labels(tmp_path):
    rows = [flow(0) | {"Label": "Web Attack \u2013 Brute Force"}, flow(1) | {"Label": "BENIGN"}]
    write_csv(tmp_path / "thursday.csv", GLF_COLUMNS, [glf_row(r, r["Label"], i) for i, r in enumerate(rows)], encoding="cp1252")
    frame, info = read_cicids2017_file(tmp_path / "thursday.csv")
    assert info["encoding"] == "cp1252"
    assert frame[LABEL].tolist() == ["Web Attack - Brute Force", "BENIGN"]
    assert normalise_label(" Web Attack \ufffd XSS ") == "Web Attack - XSS"
    assert normalise_label("FTP-Patator") == "FTP-Patator"


@pytest.mark.skipif(not REAL_CIC.is_dir(), reason=f"CIC-IDS-2017 subset not found at {REAL_CIC}; set IDSYNTH_DATA")
def test_real_subset_reproduces_the_readme_counts():
    loaded = load_cicids2017(REAL_CIC.parent, labels=["BENIGN", "DDoS", "PortScan"], extra=False)
    assert loaded.report.class_counts == SUBSET_CLASS_COUNTS == {"BENIGN": 20600, "DDoS": 1992, "PortScan": 969}
    assert loaded.report.dropped_by_reason()["Infinity/NaN value"] == 3
    layouts = loaded.report.files["layout"].value_counts().to_dict()
    assert layouts == {LAYOUT_ML: 3, LAYOUT_GLF: 2}
    assert (loaded.report.files["sha256"] == "ok").all()
    assert loaded.frame.shape == (23561, 78)
    files, dropped, counts = cicids2017_summary(REAL_CIC.parent, extra=False)
    assert counts.set_index("label")["rows"].to_dict() == {**SUBSET_CLASS_COUNTS, "total": 23561}
    assert (counts["rows"].iloc[:3] == counts["readme"].iloc[:3]).all()
    assert isinstance(files, pd.DataFrame) and dropped["rows"].sum() == 23999 - 23561


@pytest.mark.skipif(not REAL_EXTRA.is_dir(), reason=f"CIC-IDS-2017 extra rows not found at {REAL_EXTRA}; set IDSYNTH_DATA")
def test_real_extra_rows_add_the_readme_counts_without_overlap():
    loaded = load_cicids2017(REAL_CIC.parent, labels=["BENIGN", "DDoS", "PortScan"], files=FRIDAY_AFTERNOON_FILES)
    report = loaded.report
    # the extra folder's README: 3,042 rows, none of them in the subset after its cleaning
    assert report.class_counts == readme_class_counts() == {"BENIGN": 20605, "DDoS": 4357, "PortScan": 1641}
    assert sum(EXTRA_CLASS_COUNTS.values()) == 3042
    files = report.files.set_index("file")
    name = f"{EXTRA_FOLDER}/friday-extra_3042rows_mlcsv.csv"
    assert (files.loc[name, "layout"], files.loc[name, "rows_read"], files.loc[name, "rows_kept"]) == (LAYOUT_ML, 3042, 3042)
    assert (files["sha256"] == "ok").all() and len(files) == 6
    assert report.dropped[report.dropped["file"] == name].empty
    assert report.n_rows == 23561 + 3042 and not loaded.frame.duplicated().any()
    extra_only = loaded.frame.iloc[23561:]
    assert extra_only[LABEL].value_counts().to_dict() == EXTRA_CLASS_COUNTS


def test_documentation_csvs_are_not_read_as_flows(tmp_path):
    """A folder's PROVENANCE.csv (per-row sources, as cic-ids-2017-extra/ ships) is not a flow file."""
    from idsynth.data.cicids2017 import _csv_files

    (tmp_path / "flows.csv").write_text("a\n1\n")
    (tmp_path / "PROVENANCE.csv").write_text("out_row,repo\n0,x\n")
    assert [p.name for p in _csv_files(tmp_path)] == ["flows.csv"]
