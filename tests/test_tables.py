"""Markdown rendering and the summaries every notebook table goes through."""

from __future__ import annotations

import numpy as np
import pandas as pd

from idsynth.tables import beside_paper, read_table, summarise, to_markdown, write_table


def test_markdown_formats_floats_counts_and_pipes():
    frame = pd.DataFrame({"name": ["a|b", "c"], "count": [24000.0, np.nan], "acc": [0.5, 1.0]})
    lines = to_markdown(frame).splitlines()
    assert lines[0] == "| name | count | acc |"
    assert lines[2] == "| a\\|b | 24000 | 0.5000 |"
    assert lines[3] == "| c |  | 1.0000 |"


def test_summarise_and_beside_paper():
    runs = pd.DataFrame({"model": ["m", "m", "n"], "seed": [0, 1, 0], "acc": [0.7, 0.8, 0.5]})
    summary = summarise(runs, by=["model"], values=["acc"])
    row = summary.set_index("model").loc["m"]
    assert row["acc_mean"] == 0.75 and np.isclose(row["acc_std"], np.std([0.7, 0.8], ddof=1)) and row["n_seeds"] == 2
    assert summary.set_index("model").loc["n", "acc_std"] == 0.0
    joined = beside_paper(summary, pd.DataFrame({"model": ["m"], "paper": [0.7]}), on=["model"], value="acc")
    assert np.isclose(joined.set_index("model").loc["m", "diff"], 0.05)
    assert np.isnan(joined.set_index("model").loc["n", "paper"])


def test_write_table_writes_csv_and_markdown(tmp_path):
    frame = pd.DataFrame({"x": [1, 2]})
    path = write_table(frame, "t", tmp_path, title="T")
    assert path == tmp_path / "tables" / "t.csv" and pd.read_csv(path).equals(frame)
    assert (tmp_path / "tables" / "t.md").read_text().startswith("# T\n\n| x |")


def test_read_table_gives_back_what_write_table_left_or_none(tmp_path):
    assert read_table("t", tmp_path) is None
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, np.nan]})
    write_table(frame, "t", tmp_path)
    pd.testing.assert_frame_equal(read_table("t", tmp_path), frame)
