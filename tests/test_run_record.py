"""run_record: each notebook's header and papermill wall time, read back from the notebooks."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from idsynth.run_record import RUN_COLUMNS, notebook_run, notebook_runs, write_run_record

HEADER = ("profile=paper seeds=[0, 1, 2] device=cuda [NVIDIA H100 80GB HBM3] torch=2.11.0+cu130 "
          "commit=f29fe74 started=2026-11-23 02:23 UTC\n")


def write_notebook(path, outputs, papermill=None):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# title"},
             {"cell_type": "code", "metadata": {}, "source": "print(header)", "execution_count": 1,
              "outputs": outputs}]
    metadata = {"papermill": papermill} if papermill else {}
    path.write_text(json.dumps({"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}))


def test_header_and_wall_time_are_read_back(tmp_path):
    write_notebook(tmp_path / "09_eval.ipynb", [{"output_type": "stream", "name": "stdout", "text": [HEADER]}],
                   {"start_time": "2026-11-23T02:23:12+00:00", "duration": 228.409})
    write_notebook(tmp_path / "11_new.ipynb", [])  # committed without outputs
    (tmp_path / "notes.ipynb").write_text("not a numbered notebook, ignored")
    runs = notebook_runs(tmp_path)
    assert list(runs.columns) == list(RUN_COLUMNS) and runs["notebook"].tolist() == ["09_eval", "11_new"]
    first = runs.iloc[0]
    assert (first["profile"], first["seeds"], first["commit"], first["torch"]) == ("paper", "[0, 1, 2]", "f29fe74",
                                                                                 "2.11.0+cu130")
    assert first["device"] == "cuda [NVIDIA H100 80GB HBM3]" and first["duration_s"] == 228.4
    assert first["started"] == "2026-11-23T02:23:12+00:00"
    second = runs.iloc[1]
    assert second["profile"] == "" and math.isnan(second["duration_s"])

    write_run_record(tmp_path, tmp_path / "figures")
    written = pd.read_csv(tmp_path / "figures" / "tables" / "notebook_runs.csv")
    assert written["notebook"].tolist() == ["09_eval", "11_new"] and written.loc[0, "duration_s"] == 228.4
    assert "papermill's wall time" in (tmp_path / "figures" / "tables" / "notebook_runs.md").read_text()


def test_an_unreadable_notebook_is_named(tmp_path):
    bad = tmp_path / "03_broken.ipynb"
    bad.write_text("{ not json")
    with pytest.raises(ValueError, match="03_broken.ipynb: not a readable notebook"):
        notebook_run(bad)


def test_the_committed_notebooks_all_have_a_paper_header_or_none():
    """Paper-profile outputs, or cpu-profile ones where no paper run of the current code exists
    (notebooks 11-14 today), never smoke outputs."""
    runs = notebook_runs()
    assert len(runs) >= 13 and set(runs["profile"]) <= {"paper", "cpu", ""}
    assert set(runs.loc[runs["profile"] == "cpu", "notebook"]) <= {"11_cross_eval_table6", "12_mageid_schedule",
                                                                  "13_mageid_fixes", "14_sdv_peers"}
