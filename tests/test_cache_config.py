"""Artefact cache (keys, atomic writes, reuse) and profiles."""

from __future__ import annotations

import pytest

from idsynth.cache import ArtifactCache, atomic_path, config_key
from idsynth.config import PROFILES, figures_dir, get_profile


def test_config_key_is_order_independent_and_sensitive_to_values():
    assert config_key({"a": 1, "b": [1, 2]}) == config_key({"b": [1, 2], "a": 1})
    assert config_key({"a": 1}) != config_key({"a": 2})
    assert len(config_key({})) == 16
    with pytest.raises(TypeError, match="cannot key"):
        config_key({"a": object()})


def test_get_or_create_builds_once_then_reuses(tmp_path):
    cache = ArtifactCache(tmp_path)
    calls = []

    def build():
        calls.append(1)
        return "artefact"

    def save(obj, path):
        path.write_text(obj)

    def load(path):
        return path.read_text()

    assert cache.get_or_create("kind", {"x": 1}, build, save, load) == "artefact"
    assert cache.get_or_create("kind", {"x": 1}, build, save, load) == "artefact"
    assert len(calls) == 1
    assert cache.has("kind", {"x": 1}) and not cache.has("kind", {"x": 2})
    assert cache.path_for("kind", {"x": 1}).with_name(cache.path_for("kind", {"x": 1}).name + ".config.json").exists()


def test_a_crash_while_saving_leaves_no_artefact(tmp_path):
    cache = ArtifactCache(tmp_path)

    def save(obj, path):
        path.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        cache.get_or_create("kind", {"x": 1}, lambda: "a", save, lambda p: p.read_text())
    assert not cache.has("kind", {"x": 1})
    assert list((tmp_path / "kind").iterdir()) == []


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.write_text("new")
            raise ValueError
    assert target.read_text() == "old"


def test_profiles(monkeypatch):
    assert get_profile("smoke").n_seeds == 1 and get_profile("paper").n_seeds >= 3
    assert get_profile("paper").seeds(5) == [5, 6, 7]
    monkeypatch.setenv("IDSYNTH_PROFILE", "smoke")
    assert get_profile().name == "smoke"
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile("huge")
    with pytest.raises(KeyError, match="no section"):
        get_profile("paper")["nope"]
    assert set(PROFILES["paper"].sections) == set(PROFILES["smoke"].sections)


def test_smoke_figures_never_land_in_the_committed_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("IDSYNTH_FIGURES", raising=False)
    assert figures_dir("smoke").parts[-3:] == ("build", "smoke", "figures")
    assert figures_dir("paper").name == "figures" and "build" not in figures_dir("paper").parts


def test_seeds_count_can_be_overridden():
    from idsynth.config import get_profile

    paper = get_profile("paper")
    assert paper.seeds(5) == [5, 6, 7]
    assert paper.seeds(5, 1) == [5]
    assert paper.seeds(0, None) == paper.seeds(0)
    with pytest.raises(ValueError, match="n_seeds must be >= 1"):
        paper.seeds(0, 0)


def test_git_commit_is_dirty_for_code_changes_not_for_run_outputs(tmp_path, monkeypatch):
    import subprocess

    import idsynth.config as config

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    for name in ("lib/code.py", "notebooks/01.ipynb", "figures/tables/t.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("v1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    monkeypatch.delenv("IDSYNTH_COMMIT", raising=False)
    monkeypatch.setattr(config, "repo_root", lambda: tmp_path)
    clean = config.git_commit()
    assert len(clean) >= 7 and not clean.endswith("+dirty")
    (tmp_path / "notebooks/01.ipynb").write_text("executed\n")
    (tmp_path / "figures/tables/t.csv").write_text("new numbers\n")
    assert config.git_commit() == clean
    (tmp_path / "lib/code.py").write_text("v2\n")
    assert config.git_commit() == clean + "+dirty"


# -- issue 17: integrity ------------------------------------------------------------------------
def _bytes_cache(tmp_path):
    cache = ArtifactCache(tmp_path)
    builds = []

    def build():
        builds.append(1)
        return bytes(range(256)) * 64

    def get():
        return cache.get_or_create("model", {"x": 1}, build, lambda obj, p: p.write_bytes(obj), _strict_load,
                                   suffix=".bin")

    return cache, builds, get, cache.path_for("model", {"x": 1}, ".bin")


def _strict_load(path):
    data = path.read_bytes()
    if len(data) != 256 * 64:
        raise EOFError("unexpected end of file")  # what torch.load says of a truncated model
    return data


def test_each_artefact_is_stored_with_its_hash(tmp_path):
    import hashlib

    _, builds, get, path = _bytes_cache(tmp_path)
    get()
    stored = path.with_name(path.name + ".sha256").read_text().strip()
    assert stored == hashlib.sha256(path.read_bytes()).hexdigest()
    get()
    assert len(builds) == 1


def test_flipped_bytes_are_reported_with_the_path_and_rebuilt(tmp_path):
    import pytest
    from idsynth.cache import CacheIntegrityWarning

    cache, builds, get, path = _bytes_cache(tmp_path)
    original = get()
    damaged = bytearray(path.read_bytes())
    damaged[100:116] = bytes(16)  # 16 flipped bytes: loads fine, different content
    path.write_bytes(bytes(damaged))
    with pytest.warns(CacheIntegrityWarning, match=f"{path}.*does not match its stored SHA-256"):
        assert get() == original
    assert len(builds) == 2 and path.read_bytes() == original
    assert cache.has("model", {"x": 1}, ".bin")


def test_a_truncated_artefact_is_reported_and_rebuilt_even_without_a_hash(tmp_path):
    import pytest
    from idsynth.cache import CacheIntegrityWarning

    _, builds, get, path = _bytes_cache(tmp_path)
    original = get()
    path.write_bytes(original[:1000])
    path.with_name(path.name + ".sha256").unlink()  # an artefact from before hashes existed
    with pytest.warns(CacheIntegrityWarning, match=f"{path} cannot be loaded \\(EOFError"):
        assert get() == original
    assert len(builds) == 2


def test_load_returns_none_for_a_damaged_artefact_so_the_caller_rebuilds(tmp_path):
    import pytest
    from idsynth.cache import CacheIntegrityWarning

    cache, _, get, path = _bytes_cache(tmp_path)
    original = get()
    assert cache.load("model", {"x": 1}, _strict_load, ".bin") == original
    path.write_bytes(original[::-1])
    with pytest.warns(CacheIntegrityWarning, match=str(path)):
        assert cache.load("model", {"x": 1}, _strict_load, ".bin") is None
    assert not path.exists() and cache.load("model", {"x": 1}, _strict_load, ".bin") is None
