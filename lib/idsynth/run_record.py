"""How each notebook's committed outputs were made, read back from the notebooks themselves.

Every notebook prints a header as its first output (:func:`~idsynth.config.run_header`:
profile, seeds, device, torch, commit, start time) and papermill records its start and
duration in the notebook's metadata. :func:`notebook_runs` collects both into one table,
``figures/tables/notebook_runs.csv/.md``, which ``run_all.sh`` rewrites after each notebook it
runs (``python -m idsynth.run_record`` rewrites it from the notebooks as they are), so that the
run time of every committed result is regenerated, not typed.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd

from .config import repo_root

#: The columns of :func:`notebook_runs`.
RUN_COLUMNS: tuple[str, ...] = ("notebook", "profile", "seeds", "device", "torch", "commit", "started",
                                "duration_s")
_HEADER = re.compile(r"profile=(?P<profile>\S+) seeds=(?P<seeds>\[[^\]]*\]) device=(?P<device>.+?) "
                     r"torch=(?P<torch>\S+) commit=(?P<commit>\S+)")


def _first_text(notebook: dict) -> str:
    """The text of the first stream or plain-text output of the notebook's code cells."""
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            text = output.get("text") or output.get("data", {}).get("text/plain")
            if text:
                return "".join(text) if isinstance(text, list) else str(text)
    return ""


def notebook_run(path: str | Path) -> dict:
    """One row of :data:`RUN_COLUMNS` for the notebook at ``path``: the header fields found in its
    outputs (empty where it has none, e.g. a notebook committed without outputs) and papermill's
    start time and duration (seconds; NaN when it was not run by papermill)."""
    path = Path(path)
    try:
        notebook = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable notebook ({error})") from None
    match = _HEADER.search(_first_text(notebook))
    fields = match.groupdict() if match else {}
    papermill = notebook.get("metadata", {}).get("papermill", {})
    duration = papermill.get("duration")
    return {
        "notebook": path.stem,
        **{key: fields.get(key, "") for key in ("profile", "seeds", "device", "torch", "commit")},
        "started": papermill.get("start_time") or "",
        "duration_s": round(float(duration), 1) if duration is not None else float("nan"),
    }


def notebook_runs(directory: str | Path | None = None) -> pd.DataFrame:
    """:func:`notebook_run` of every ``NN_*.ipynb`` of ``directory`` (default ``notebooks/``)."""
    from .runner import discover

    directory = Path(directory) if directory is not None else repo_root() / "notebooks"
    return pd.DataFrame([notebook_run(p) for p in discover(directory)], columns=list(RUN_COLUMNS))


def write_run_record(directory: str | Path | None = None, out_dir: str | Path | None = None) -> pd.DataFrame:
    """Write :func:`notebook_runs` to ``<out_dir>/tables/notebook_runs.csv/.md`` (default: the
    paper profile's ``figures/``) and return it."""
    from .config import figures_dir
    from .tables import write_table

    runs = notebook_runs(directory)
    out = Path(out_dir) if out_dir is not None else figures_dir("paper")
    write_table(runs, "notebook_runs", out,
                title="How each committed notebook was run: its header (profile, seeds, device, commit) and "
                      "papermill's wall time")
    return runs


if __name__ == "__main__":
    print(write_run_record().to_string(index=False))
    sys.exit(0)
