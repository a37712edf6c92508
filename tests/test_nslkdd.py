"""NSL-KDD loading: the real files' counts, the 116-column encoding, and clear errors."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from idsynth.data import DataFormatError, UnknownLabelError
from idsynth.data.errors import ChecksumError
from idsynth.data.nslkdd import (
    CATEGORIES,
    PAPER_CATEGORY_COUNTS,
    category_counts,
    load_nslkdd,
    load_vgm_arrays,
    stratified_subsample,
)

GOOD = (
    "0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,"
    "150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20"
)


def write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_real_category_counts_match_the_paper(nslkdd_train, nslkdd_test):
    assert len(nslkdd_train) == 125_973 and len(nslkdd_test) == 22_544
    assert category_counts(nslkdd_train) == PAPER_CATEGORY_COUNTS["train"]
    assert category_counts(nslkdd_test) == PAPER_CATEGORY_COUNTS["test"]
    assert nslkdd_train["label"].nunique() == 23 and nslkdd_test["label"].nunique() == 38
    assert len(set(nslkdd_test["label"]) - set(nslkdd_train["label"])) == 17


def test_real_types(nslkdd_train):
    assert nslkdd_train["src_bytes"].dtype == np.int64
    assert nslkdd_train["serror_rate"].dtype == np.float64
    assert nslkdd_train["service"].nunique() == 70
    assert str(nslkdd_train["difficulty"].dtype) == "Int64"


def test_vgm_encoding_has_the_papers_116_columns(data_dir):
    splits = load_vgm_arrays(data_dir)
    assert splits.X_train.shape == (125_973, 116) and splits.X_test.shape == (22_544, 116)
    assert splits.X_train.dtype == np.float32
    assert 0.0 <= splits.X_train.min() and splits.X_train.max() <= 1.0
    assert 0.0 <= splits.X_test.min() and splits.X_test.max() <= 1.0
    names = splits.feature_names
    assert names[:4] == ["duration", "src_bytes", "dst_bytes", "wrong_fragment"]  # Table 4's 1-4
    assert names[96] == "service=red_i" and names[115] == "service=whois"  # Table 4's 97 and 116
    assert all(n.startswith(("protocol_type=", "flag=")) for n in names[32:46])
    # every one-hot block holds exactly one 1 per row
    for block in splits.encoder.cat_slices_.values():
        assert np.all(splits.X_train[:, block].sum(axis=1) == 1)
    assert np.bincount(splits.y_train).tolist() == [PAPER_CATEGORY_COUNTS["train"][c] for c in CATEGORIES]


def test_stratified_subsample_keeps_rare_classes():
    y = np.array([0] * 1000 + [1] * 30 + [2] * 5)
    rows = stratified_subsample(y, 100, seed=0)
    counts = np.bincount(y[rows])
    assert counts[1] >= 20 and counts[2] == 5 and 90 <= counts[0] <= 100
    assert np.array_equal(rows, stratified_subsample(y, 100, seed=0))


def test_wrong_number_of_fields_names_file_and_line(tmp_path):
    path = write(tmp_path, "broken.txt", [GOOD, GOOD, GOOD.rsplit(",", 1)[0]])
    with pytest.raises(DataFormatError, match=r"broken\.txt, line 3: expected 43 comma-separated fields, found 42"):
        load_nslkdd(path=path)


def test_line_numbers_count_blank_lines(tmp_path):
    bad = GOOD.replace(",491,", ",4x1,")
    path = write(tmp_path, "gappy.txt", [GOOD, "", "  ", GOOD, bad])  # the bad row is the file's line 5
    with pytest.raises(DataFormatError, match=r"gappy\.txt, line 5, column 'src_bytes'"):
        load_nslkdd(path=path)
    path = write(tmp_path, "gappy2.txt", ["", GOOD, GOOD.rsplit(",", 1)[0]])
    with pytest.raises(DataFormatError, match=r"gappy2\.txt, line 3: expected 43"):
        load_nslkdd(path=path)
    path = write(tmp_path, "gappy3.txt", ["", "", GOOD.replace(",normal,", ",teleport,")])
    with pytest.raises(UnknownLabelError, match=r"gappy3\.txt, line 3, column 'label'"):
        load_nslkdd(path=path)


def test_unparsable_number_names_file_line_and_column(tmp_path):
    bad = GOOD.replace(",491,", ",4x1,")
    path = write(tmp_path, "broken.txt", [GOOD, bad])
    with pytest.raises(DataFormatError, match=r"broken\.txt, line 2, column 'src_bytes': cannot parse '4x1'"):
        load_nslkdd(path=path)


def test_empty_number_is_an_error_not_a_nan(tmp_path):
    bad = GOOD.replace(",0.17,0.03,", ",,0.03,")
    path = write(tmp_path, "broken.txt", [bad])
    with pytest.raises(DataFormatError, match="column 'dst_host_same_srv_rate'"):
        load_nslkdd(path=path)


def test_unknown_attack_label(tmp_path):
    path = write(tmp_path, "broken.txt", [GOOD, GOOD.replace(",normal,", ",teleport,")])
    with pytest.raises(UnknownLabelError, match=r"line 2, column 'label': unknown attack label 'teleport'"):
        load_nslkdd(path=path)


def test_reads_the_official_zip_and_arff(tmp_path, nslkdd_train, data_dir):
    archive = tmp_path / "NSL-KDD.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(data_dir / "nsl-kdd" / "KDDTrain+.txt", "NSL-KDD/KDDTrain+.txt")
    frame = load_nslkdd("train", path=archive)
    assert len(frame) == len(nslkdd_train) and frame["label"].equals(nslkdd_train["label"])
    # an archive member under an official name is held to the official checksum, like a file
    forged = tmp_path / "forged" / "NSL-KDD.zip"
    forged.parent.mkdir()
    with zipfile.ZipFile(forged, "w") as zf:
        zf.writestr("NSL-KDD/KDDTrain+.txt", "\n".join([GOOD] * 3) + "\n")
    with pytest.raises(ChecksumError, match=r"NSL-KDD\.zip!NSL-KDD/KDDTrain\+\.txt: SHA-256"):
        load_nslkdd("train", path=forged)

    header = ["@relation 'KDDTrain'"] + [
        f"@attribute '{c}' {'real' if c not in ('protocol_type', 'service', 'flag') else '{tcp}'}"
        for c in nslkdd_train.columns[:41]
    ] + ["@attribute 'class' {'normal', 'anomaly'}", "@data"]
    rows = [GOOD.rsplit(",", 2)[0] + ",normal", GOOD.rsplit(",", 2)[0] + ",anomaly"]
    frame = load_nslkdd(path=write(tmp_path, "tiny.arff", header + rows))
    assert frame["category"].tolist() == ["Normal", "Attack"]
    assert frame["difficulty"].isna().all()
    with pytest.raises(UnknownLabelError, match=r"tiny2\.arff, line 46"):
        load_nslkdd(path=write(tmp_path, "tiny2.arff", header + [rows[0], rows[0].replace(",normal", ",weird")]))


# -- issue 17: bad files say what is wrong, where, before any checksum ---------------------------
@pytest.fixture
def official_name(tmp_path, monkeypatch):
    """A folder whose KDDTrain+.txt is held to a published hash it cannot match (an edited file)."""
    from idsynth.data import sources

    monkeypatch.setattr(sources, "known_checksums", lambda dataset: {"KDDTrain+.txt": "0" * 64})
    folder = tmp_path / "data" / "nsl-kdd"
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize("edit, where", [
    (lambda row: row.replace(",491,", ",inf,"), r"line 2, column 'src_bytes': expected a finite number, found 'inf'"),
    (lambda row: row.replace(",0.17,0.03,", ",nan,0.03,"), r"line 2, column 'dst_host_same_srv_rate': cannot parse 'nan'"),
    (lambda row: row.replace(",150,25,", ",-150,25,"), r"line 2, column 'dst_host_count': expected a value >= 0"),
    (lambda row: row.replace(",1.00,0.00,0.00,150", ",1.50,0.00,0.00,150"), r"line 2, column 'same_srv_rate': expected a rate"),
])  # fmt: skip
def test_an_edited_file_under_its_official_name_reports_line_and_column_not_only_the_hash(official_name, edit, where):
    (official_name / "KDDTrain+.txt").write_text("\n".join([GOOD, edit(GOOD)]) + "\n")
    with pytest.raises(DataFormatError, match=r"KDDTrain\+\.txt, " + where):
        load_nslkdd("train", data_dir=official_name.parent)


def test_a_file_that_parses_but_differs_is_still_a_checksum_error(official_name):
    (official_name / "KDDTrain+.txt").write_text(GOOD + "\n")
    with pytest.raises(ChecksumError, match="does not match the published"):
        load_nslkdd("train", data_dir=official_name.parent)


def test_non_ascii_bytes_name_the_line_and_column(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes((GOOD + "\n" + GOOD.replace(",ftp_data,", ",ftp_d\xe4ta,") + "\n").encode("latin-1"))
    with pytest.raises(DataFormatError, match=r"latin1\.txt, line 2, column 'service': non-ASCII byte 0xe4"):
        load_nslkdd(path=path)


def test_a_truncated_zip_names_the_archive(tmp_path, official_name):
    archive = official_name / "NSL-KDD.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("KDDTrain+.txt", "\n".join([GOOD] * 2000) + "\n")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DataFormatError, match=r"NSL-KDD\.zip: cannot read KDDTrain\+\.txt .*truncated or damaged"):
        load_nslkdd("train", data_dir=official_name.parent)
    with pytest.raises(DataFormatError, match="truncated or damaged"):
        load_nslkdd("train", path=archive)


def test_nothing_unverified_is_left_in_the_extract_cache(tmp_path, official_name, monkeypatch):
    from idsynth.data import sources

    monkeypatch.setenv("IDSYNTH_CACHE", str(tmp_path / "cache"))
    with zipfile.ZipFile(official_name / "NSL-KDD.zip", "w") as zf:
        zf.writestr("KDDTrain+.txt", GOOD + "\n")
    with pytest.raises(ChecksumError):
        sources.find_file("nsl-kdd", "KDDTrain+.txt", data_dir=official_name.parent, download=False)
    with pytest.raises(ChecksumError):
        load_nslkdd("train", data_dir=official_name.parent)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
