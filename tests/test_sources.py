"""Data discovery order, download with checksum verification, and the not-found message."""

from __future__ import annotations

import hashlib
import zipfile

import pytest

from idsynth.data import ChecksumError, DataNotFoundError
from idsynth.data import sources
from idsynth.data.nslkdd import load_nslkdd

ROW = (
    "0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,"
    "150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20\n"
)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $IDSYNTH_DATA, an empty ./data (repo root moved to tmp), cache in tmp, no real hashes."""
    monkeypatch.delenv("IDSYNTH_DATA", raising=False)
    monkeypatch.setattr(sources, "repo_root", lambda: tmp_path / "repo")
    monkeypatch.setenv("IDSYNTH_CACHE", str(tmp_path / "cache"))
    digest = hashlib.sha256(ROW.encode()).hexdigest()
    monkeypatch.setattr(sources, "known_checksums", lambda dataset: {"KDDTrain+.txt": digest})
    return tmp_path


def test_missing_file_says_where_it_looked_and_how_to_get_it(isolated, monkeypatch):
    monkeypatch.setenv("IDSYNTH_DATA", str(isolated / "env"))
    with pytest.raises(DataNotFoundError) as info:
        sources.find_file("nsl-kdd", "KDDTrain+.txt", data_dir=isolated / "explicit", download=False)
    message = str(info.value)
    assert "explicit" in message and "$IDSYNTH_DATA" in message and "./data" in message
    assert "unb.ca/cic/datasets/nsl.html" in message


def test_discovery_order_explicit_then_env_then_local(isolated, monkeypatch):
    for place in ("explicit", "env", "repo/data"):
        (isolated / place / "nsl-kdd").mkdir(parents=True)
        (isolated / place / "nsl-kdd" / "KDDTrain+.txt").write_text(ROW)
    monkeypatch.setenv("IDSYNTH_DATA", str(isolated / "env"))
    found = sources.find_file("nsl-kdd", "KDDTrain+.txt", data_dir=isolated / "explicit")
    assert found.parent.parent.name == "explicit"
    assert sources.find_file("nsl-kdd", "KDDTrain+.txt").parent.parent.name == "env"
    monkeypatch.delenv("IDSYNTH_DATA")
    assert sources.find_file("nsl-kdd", "KDDTrain+.txt").parent.parent.name == "data"


def test_checksum_mismatch_is_an_error(isolated):
    (isolated / "d").mkdir()
    (isolated / "d" / "KDDTrain+.txt").write_text(ROW.replace("491", "492"))
    with pytest.raises(ChecksumError, match="does not match the published"):
        load_nslkdd("train", data_dir=isolated / "d")


def test_download_verifies_and_extracts(isolated, monkeypatch):
    archive = isolated / "served" / "NSL-KDD.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("KDDTrain+.txt", ROW)
    monkeypatch.setenv("IDSYNTH_NSLKDD_URL", archive.as_uri())
    frame = load_nslkdd("train")
    assert len(frame) == 1
    assert (isolated / "repo" / "data" / "nsl-kdd" / "NSL-KDD.zip").is_file()


def test_download_with_a_wrong_checksum_fails(isolated, monkeypatch):
    archive = isolated / "served" / "NSL-KDD.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("KDDTrain+.txt", ROW.replace("491", "999"))
    monkeypatch.setenv("IDSYNTH_NSLKDD_URL", archive.as_uri())
    with pytest.raises(ChecksumError):
        load_nslkdd("train")


def test_failed_download_is_reported_in_the_not_found_error(isolated, monkeypatch):
    monkeypatch.setenv("IDSYNTH_NSLKDD_URL", (isolated / "nowhere.zip").as_uri())
    with pytest.raises(DataNotFoundError, match="download failed"):
        load_nslkdd("train")


def test_real_files_pass_their_published_checksums(data_dir):
    for name, digest in sources.known_checksums("nsl-kdd").items():
        assert sources.sha256_file(data_dir / "nsl-kdd" / name) == digest


def test_explicit_data_dir_fallback_warns(isolated, monkeypatch):
    (isolated / "env" / "nsl-kdd").mkdir(parents=True)
    (isolated / "env" / "nsl-kdd" / "KDDTrain+.txt").write_text(ROW)
    monkeypatch.setenv("IDSYNTH_DATA", str(isolated / "env"))
    with pytest.warns(UserWarning, match=r"holds no KDDTrain\+\.txt; using .*env.*IDSYNTH_DATA"):
        sources.find_file("nsl-kdd", "KDDTrain+.txt", data_dir=isolated / "typo")


def test_a_replaced_archive_is_extracted_again(isolated):
    folder = isolated / "d" / "nsl-kdd"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "NSL-KDD.zip", "w") as zf:
        zf.writestr("KDDTrain+.txt", ROW.replace("491", "492"))  # corrupt
    with pytest.raises(ChecksumError):
        sources.find_file("nsl-kdd", "KDDTrain+.txt", data_dir=isolated / "d", download=False)
    with zipfile.ZipFile(folder / "NSL-KDD.zip", "w") as zf:
        zf.writestr("KDDTrain+.txt", ROW)  # the good archive replaces it
    found = sources.find_file("nsl-kdd", "KDDTrain+.txt", data_dir=isolated / "d", download=False)
    assert found.read_text() == ROW
