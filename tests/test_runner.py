"""run_all's notebook runner: selection, in-place execution, stop at the first failure."""

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
def test_runs_in_place_with_parameters_and_stops_at_first_failure(tmp_path, capsys, monkeypatch):
    # as on a headless machine, and a figure built without pyplot (as idsynth.plots does): still stored as PNG
    monkeypatch.setenv("MPLBACKEND", "Agg")
    make(tmp_path / "00_ok.ipynb", ['profile = "paper"\nseed = 0', "print(profile, seed * 10)",
                                    "from matplotlib.figure import Figure\nimport idsynth.plots\nfig = Figure(figsize=(1, 1))\nfig.add_subplot().plot([0, 1])\nfig"])
    make(tmp_path / "01_bad.ipynb", ['profile = "paper"', "raise ValueError('broken cell')"])
    make(tmp_path / "02_never.ipynb", ['profile = "paper"', "print('ran')"])
    status = runner.main(["--profile", "smoke", "--seed", "4", "--notebooks", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 1
    assert "FAILED 01_bad.ipynb" in out and "ValueError: broken cell" in out
    assert "02_never" not in out.split("FAILED")[1]
    done = nbformat.read(tmp_path / "00_ok.ipynb", as_version=4)
    injected = [c for c in done.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "nbval-skip" in injected[0].metadata["tags"]
    printed = "".join(o.get("text", "") for c in done.cells for o in c.get("outputs", []))
    assert "smoke 40" in printed
    assert any("image/png" in o.get("data", {}) for c in done.cells for o in c.get("outputs", []))
    assert nbformat.read(tmp_path / "02_never.ipynb", as_version=4).cells[1].outputs == []


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
    monkeypatch.setattr(runner, "run", lambda notebooks, parameters, kernel: seen.append(parameters) or 0)
    assert runner.main(["--notebooks", str(tmp_path), "--n-seeds", "2"]) == 0
    assert runner.main(["--notebooks", str(tmp_path)]) == 0
    assert seen[0]["n_seeds"] == 2 and "n_seeds" not in seen[1]
