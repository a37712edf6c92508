"""run_all's notebook runner: selection, where executed notebooks go, atomic writes, the plan,
stop at the first failure."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from idsynth import runner


def make(path, sources, tag_first=True):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for i, src in enumerate(sources):
        cell = new_code_cell(src)
        if i == 0 and tag_first:
            cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nbformat.write(nb, path)


def test_select_only_and_from(tmp_path):
    for name in ("00_a.ipynb", "01_b.ipynb", "02_c.ipynb", "notes.ipynb"):
        make(tmp_path / name, ["x = 1"])
    found = runner.discover(tmp_path)
    assert [p.name for p in found] == ["00_a.ipynb", "01_b.ipynb", "02_c.ipynb"]
    assert [p.name for p in runner.select(found, only="1")] == ["01_b.ipynb"]
    assert [p.name for p in runner.select(found, start="01")] == ["01_b.ipynb", "02_c.ipynb"]
    with pytest.raises(SystemExit, match="no notebook numbered"):
        runner.select(found, only="07")


@pytest.mark.slow
def test_runs_with_parameters_into_the_output_and_stops_at_first_failure(tmp_path, capsys, monkeypatch):
    # as on a headless machine, and a figure built without pyplot (as idsynth.plots does): still stored as PNG
    monkeypatch.setenv("MPLBACKEND", "Agg")
    make(tmp_path / "00_ok.ipynb", ['profile = "paper"\nseed = 0', "print(profile, seed * 10)",
                                    "from matplotlib.figure import Figure\nimport idsynth.plots\nfig = Figure(figsize=(1, 1))\nfig.add_subplot().plot([0, 1])\nfig"])
    make(tmp_path / "01_bad.ipynb", ['profile = "paper"', "raise ValueError('broken cell')"])
    make(tmp_path / "02_never.ipynb", ['profile = "paper"', "print('ran')"])
    monkeypatch.setattr(runner, "repo_root", lambda: tmp_path / "repo")  # build/failed/ goes there
    sources = {p.name: p.read_bytes() for p in tmp_path.glob("*.ipynb")}
    out = tmp_path / "out"
    status = runner.main(["--profile", "smoke", "--seed", "4", "--notebooks", str(tmp_path), "--output", str(out)])
    printed_out = capsys.readouterr().out
    assert status == 1
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.ipynb")} == sources  # the sources untouched
    assert "FAILED 01_bad.ipynb" in printed_out and "ValueError: broken cell" in printed_out
    assert "02_never" not in printed_out.split("FAILED")[1]
    assert not (out / "01_bad.ipynb").exists() and not (out / "02_never.ipynb").exists()
    failed = nbformat.read(tmp_path / "repo" / "build" / "failed" / "01_bad.ipynb", as_version=4)
    assert "broken cell" in str(failed.cells[-1].outputs)  # the failure kept for reading
    done = nbformat.read(out / "00_ok.ipynb", as_version=4)
    injected = [c for c in done.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "nbval-skip" in injected[0].metadata["tags"]
    printed = "".join(o.get("text", "") for c in done.cells for o in c.get("outputs", []))
    assert "smoke 40" in printed
    assert any("image/png" in o.get("data", {}) for c in done.cells for o in c.get("outputs", []))


def test_progress_bar_redraws_collapse_to_their_final_state(tmp_path):
    assert runner.resolve_carriage_returns("\rA 1/3\rA 2/3\rA 3/3\nnext\n") == "A 3/3\nnext\n"
    make(tmp_path / "00_x.ipynb", ["x = 1"])
    nb = nbformat.read(tmp_path / "00_x.ipynb", as_version=4)
    nb.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="\rbar 0%"),
        nbformat.v4.new_output("stream", name="stderr", text="\rbar 50%"),
        nbformat.v4.new_output("stream", name="stderr", text="\rbar 100%\n"),
        nbformat.v4.new_output("stream", name="stdout", text="done\n"),
    ]
    nbformat.write(nb, tmp_path / "00_x.ipynb")
    runner.tidy_outputs(tmp_path / "00_x.ipynb")
    outputs = nbformat.read(tmp_path / "00_x.ipynb", as_version=4).cells[0].outputs
    assert [(o.name, o.text) for o in outputs] == [("stderr", "bar 100%\n"), ("stdout", "done\n")]


def test_n_seeds_is_passed_to_the_notebooks_only_when_given(tmp_path, monkeypatch):
    make(tmp_path / "00_a.ipynb", ["x = 1"])
    seen = []
    monkeypatch.setattr(runner, "run", lambda notebooks, parameters, kernel, out_dir: seen.append(parameters) or 0)
    assert runner.main(["--notebooks", str(tmp_path), "--n-seeds", "2"]) == 0
    assert runner.main(["--notebooks", str(tmp_path)]) == 0
    assert seen[0]["n_seeds"] == 2 and "n_seeds" not in seen[1]


def test_extra_parameters_are_read_as_json_or_text(tmp_path, monkeypatch):
    make(tmp_path / "00_a.ipynb", ["x = 1"])
    seen = []
    monkeypatch.setattr(runner, "run", lambda notebooks, parameters, kernel, out_dir: seen.append(parameters) or 0)
    assert runner.main(["--notebooks", str(tmp_path), "-p", "only_cached=true", "-p", 'confirm_variants=["a", "b"]',
                        "-p", "label=plain text"]) == 0
    assert seen[0]["only_cached"] is True and seen[0]["confirm_variants"] == ["a", "b"]
    assert seen[0]["label"] == "plain text"
    for bad in ("novalue", "2x=1", "profile=cpu"):
        with pytest.raises(SystemExit):
            runner.main(["--notebooks", str(tmp_path), "-p", bad])


# -- issue 17: never over the committed notebooks by accident; atomic; a plan first ---------------
def test_smoke_runs_never_write_over_the_committed_notebooks(tmp_path):
    assert runner.output_dir("smoke", tmp_path) == runner.repo_root() / "build" / "smoke" / "notebooks"
    with pytest.raises(SystemExit, match="--in-place is refused for the smoke profile"):
        runner.output_dir("smoke", tmp_path, in_place=True)
    assert runner.output_dir("paper", tmp_path) == tmp_path


def test_another_profile_writes_in_place_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setitem(runner.PROFILES, "cpu", runner.PROFILES["smoke"])  # whatever config.PROFILES holds
    make(tmp_path / "00_a.ipynb", ["x = 1"])
    targets = []
    monkeypatch.setattr(runner, "run", lambda notebooks, parameters, kernel, out_dir: targets.append(out_dir) or 0)
    monkeypatch.setattr(runner, "plan", lambda *args: "plan")
    assert runner.main(["--profile", "cpu", "--notebooks", str(tmp_path)]) == 0
    assert runner.main(["--profile", "cpu", "--notebooks", str(tmp_path), "--in-place"]) == 0
    assert targets == [runner.repo_root() / "build" / "cpu" / "notebooks", tmp_path]


def test_an_interrupted_notebook_leaves_its_target_untouched(tmp_path, monkeypatch):
    import papermill

    make(tmp_path / "00_a.ipynb", ["x = 1"])
    committed = (tmp_path / "00_a.ipynb").read_bytes()

    def half_then_interrupt(source, output, **kwargs):
        with open(output, "w") as handle:
            handle.write('{"cells": [')  # half a notebook on disk, as when Ctrl-C hits mid-run
        raise KeyboardInterrupt

    monkeypatch.setattr(papermill, "execute_notebook", half_then_interrupt)
    monkeypatch.setattr(runner, "repo_root", lambda: tmp_path / "repo")
    with pytest.raises(KeyboardInterrupt):
        runner.execute_atomically(tmp_path / "00_a.ipynb", tmp_path / "00_a.ipynb", {}, None)
    assert (tmp_path / "00_a.ipynb").read_bytes() == committed
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["00_a.ipynb"]  # no temporary left
    assert (tmp_path / "repo" / "build" / "failed" / "00_a.ipynb").exists()


def _record(folder, rows):
    tables = folder / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    lines = ["notebook,profile,seeds,device,torch,commit,started,duration_s"]
    lines += [f"{name},paper,[0],{device},x,abc,2026,{seconds}" for name, device, seconds in rows]
    (tables / "notebook_runs.csv").write_text("\n".join(lines) + "\n")


def test_the_plan_gives_expected_times_and_warns_before_a_paper_run_on_a_cpu(tmp_path, monkeypatch, capsys):
    _record(tmp_path / "fig", [("00_a", "cpu [cpu (2 cores)]", 30.0), ("01_b", "cuda [H100]", 7200.0)])
    monkeypatch.setattr(runner, "figures_dir", lambda profile: tmp_path / "fig")
    for name in ("00_a.ipynb", "01_b.ipynb", "02_c.ipynb"):
        make(tmp_path / name, ["x = 1"])
    ran = []
    monkeypatch.setattr(runner, "run", lambda *args: ran.append(args) or 0)
    assert runner.main(["--notebooks", str(tmp_path), "--device", "cpu", "--plan"]) == 0
    out = capsys.readouterr().out
    assert not ran
    assert "00_a.ipynb" in out and "30 s (last run on cpu [cpu (2 cores)])" in out
    assert "2.0 h (last run on cuda [H100])" in out and "02_c.ipynb" in out and "no recorded run" in out
    assert "WARNING: the paper profile is about to run on a CPU" in out and "--profile cpu" in out
    runner.main(["--notebooks", str(tmp_path), "--device", "cpu", "--profile", "smoke", "--plan"])
    out = capsys.readouterr().out
    assert "WARNING" not in out and "30 s (last run in the paper profile, on cpu [cpu (2 cores)])" in out


def test_help_gives_the_run_times(tmp_path, monkeypatch, capsys):
    _record(tmp_path / "fig", [("00_a", "cpu [cpu (2 cores)]", 30.0), ("01_b", "cuda [H100]", 7200.0)])
    monkeypatch.setattr(runner, "figures_dir", lambda profile: tmp_path / "fig")
    with pytest.raises(SystemExit):
        runner.main(["--help"])
    out = capsys.readouterr().out
    assert "01_b" in out and "2.0 h" in out and "total" in out and "--in-place" in out
