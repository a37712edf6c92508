"""The notebooks' split over two xdist workers (the root ``conftest.py``) keeps what they share."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Table files that several notebooks write or merge (Table I, Table 6) or read from each other.
SHARED_TABLES = ("tableI_mageid", "table6_", "with_paper_rows", "update_table6_tables")


def _root_conftest():
    spec = importlib.util.spec_from_file_location("idsynth_root_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _code(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def _shared_tables_in(notebook: Path) -> list[str]:
    code = _code(notebook)
    return [name for name in SHARED_TABLES if name in code]


def test_the_side_chain_names_no_shared_table_and_every_notebook_has_a_chain():
    conftest = _root_conftest()
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    side = [nb for nb in notebooks if nb.name[:2] in conftest.SIDE_CHAIN]
    assert len(side) == len(conftest.SIDE_CHAIN)  # every number in the side chain is a notebook
    for nb in side:
        named = _shared_tables_in(nb)
        assert not named, f"{nb.name} is in the side chain but names the shared tables {named}"
    units = {conftest.work_unit(f"notebooks/{nb.stem}::ipynb::Cell 0") for nb in notebooks}
    assert units == {conftest.MAIN_GROUP, conftest.SIDE_GROUP}
    assert conftest.work_unit("notebooks/07_mageid_stage2::ipynb::Cell 3") == conftest.SIDE_GROUP
    assert conftest.work_unit("notebooks/11_cross_eval_table6.ipynb::Cell 0") == conftest.MAIN_GROUP
    assert conftest.work_unit("tests/test_x.py::test_y[a::b]") == "tests/test_x.py"


def test_a_side_chain_notebook_that_reads_a_shared_table_is_caught(tmp_path):
    nb = tmp_path / "07_x.ipynb"
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "source": ["pd.read_csv(FIG / 'tables' / "
                                                                          "'tableI_mageid.csv')"]}]}))
    assert _shared_tables_in(nb) == ["tableI_mageid"]
