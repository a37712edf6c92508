"""scripts/gpu/all.sh without a GPU: syntax, its parts and their order, the $OUT names the README
states, the skip logic (a deadline of 0 skips every part, in order) and a pack/unpack round trip.
Bash only (no Python or torch is started by the scripts here); well under 5 s."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GPU = ROOT / "scripts" / "gpu"
PARTS = ["a", "a12", "b", "c", "d"]
NAMES = {"a": "a_nb06-09", "a12": "a_nb12", "b": "b_nb11", "c": "c_bench_vgm", "d": "d_table6"}

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GPU_", "IDSYNTH_"))}
    env.update(IDSYNTH_GPU_PROFILE="smoke", OUT=str(tmp_path / "out"), TMPDIR=str(tmp_path),
               IDSYNTH_CACHE=str(tmp_path / "cache"), IDSYNTH_FIGURES=str(tmp_path / "figures"))
    env.update(extra)
    return env


@pytest.mark.parametrize("script", sorted(p.name for p in GPU.glob("*.sh")))
def test_scripts_parse(script):
    subprocess.run(["bash", "-n", str(GPU / script)], check=True)


def test_all_sh_parts_order_and_names_match_readme():
    text = (GPU / "all.sh").read_text()
    assert re.search(r'^GPU_ALL_PARTS="([^"]+)"', text, re.M).group(1).split() == PARTS
    names = dict(re.findall(r"\[(\w+)\]=([\w-]+)", re.search(r"PART_NAME=\(([^)]*)\)", text).group(1)))
    assert names == NAMES
    # the header's table and the README's table: part, file, in this order
    header = re.findall(r"^#\s+(a12|[abcd])\s+(\S+)\.tgz\.00", text, re.M)
    readme = re.findall(r"^\|\s*(a12|[abcd])\s*\|\s*`([\w-]+)\.tgz\.00`", (GPU / "README.md").read_text(), re.M)
    assert header == [(p, NAMES[p]) for p in PARTS]
    assert readme == [(p, NAMES[p]) for p in PARTS]


def test_all_sh_skips_every_part_in_order_when_no_time_is_left(tmp_path):
    run = subprocess.run(["bash", str(GPU / "all.sh")], env=_env(tmp_path, GPU_DEADLINE="0"),
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stdout + run.stderr
    rows = [line.split("\t") for line in (tmp_path / "out" / "parts.tsv").read_text().splitlines()[1:]]
    assert [(r[0], r[1], r[2]) for r in rows] == [(p, NAMES[p], "skipped") for p in PARTS]
    assert all("left" in r[6] for r in rows)
    assert sorted(os.listdir(tmp_path / "out")) == ["all.log", "parts.tsv"]


def test_pack_then_unpack_puts_results_where_the_repo_keeps_them(tmp_path):
    work = tmp_path / "work"
    (work / "build" / "smoke" / "notebooks").mkdir(parents=True)
    (work / "build" / "smoke" / "notebooks" / "06_x.ipynb").write_text("{}")
    (work / "build" / "smoke" / "notebooks" / "05_y.ipynb").write_text("{}")  # not the part's
    (tmp_path / "figures" / "tables").mkdir(parents=True)
    (tmp_path / "figures" / "tables" / "t.csv").write_text("a\n")
    (tmp_path / "cache" / "table_i_synthetic").mkdir(parents=True)
    (tmp_path / "cache" / "table_i_synthetic" / "k.pkl").write_text("x")
    (tmp_path / "out").mkdir()
    script = f'source "{GPU}/lib.sh" && gpu_pack a_nb06-09 "" "06" table_i_synthetic'
    subprocess.run(["bash", "-c", script], cwd=work, env=_env(tmp_path), check=True, capture_output=True, timeout=30)
    assert os.listdir(tmp_path / "out") == ["a_nb06-09.tgz.00"]
    dest = tmp_path / "dest"
    subprocess.run(["bash", str(GPU / "unpack.sh"), str(tmp_path / "out"), str(dest)], check=True,
                   capture_output=True, timeout=30)
    found = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert found == [".cache/idsynth/table_i_synthetic/k.pkl", "build/smoke/figures/tables/t.csv",
                     "build/smoke/notebooks/06_x.ipynb"]
