"""Execute the ordered notebooks with papermill (what ``run_all.sh`` calls).

    python -m idsynth.runner [--profile paper|smoke] [--seed N] [--only NN] [--from NN]
                             [--device auto|cpu|cuda] [--n-seeds N] [--notebooks DIR]

Each ``notebooks/NN_*.ipynb`` is executed in order with the parameters injected into its
``parameters`` cell (``profile``, ``seed``, ``device``, and ``n_seeds`` when given) and written
back in place; the wall time of each is printed and recorded, with the header of its outputs,
in ``tables/notebook_runs.csv`` (:mod:`idsynth.run_record`). The run
stops at the first failing notebook, printing its name and the failing cell's error.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from .config import PROFILES, repo_root

NOTEBOOK_NAME = re.compile(r"^(\d\d)_.+\.ipynb$")


def discover(directory: Path) -> list[Path]:
    """``NN_*.ipynb`` files of ``directory`` in numeric order."""
    return sorted((p for p in directory.iterdir() if NOTEBOOK_NAME.match(p.name)), key=lambda p: p.name)


def select(notebooks: list[Path], only: str | None = None, start: str | None = None) -> list[Path]:
    """Keep notebook ``only`` (its two-digit number), or those from ``start`` on."""
    numbers = [NOTEBOOK_NAME.match(p.name).group(1) for p in notebooks]
    for wanted in (only, start):
        if wanted is not None and wanted.zfill(2) not in numbers:
            raise SystemExit(f"no notebook numbered {wanted!r}; available: {', '.join(numbers)}")
    if only is not None:
        return [p for p, n in zip(notebooks, numbers) if n == only.zfill(2)]
    if start is not None:
        return [p for p, n in zip(notebooks, numbers) if n >= start.zfill(2)]
    return notebooks


def describe_failure(error: BaseException) -> str:
    """The failing cell's error as papermill reports it (exception name, value, traceback)."""
    ename = getattr(error, "ename", type(error).__name__)
    evalue = getattr(error, "evalue", str(error))
    cell = getattr(error, "exec_count", None)
    lines = [f"  cell [{cell}]: {ename}: {evalue}" if cell is not None else f"  {ename}: {evalue}"]
    traceback = getattr(error, "traceback", None)
    if traceback:
        ansi = re.compile(r"\x1b\[[0-9;]*m")
        lines += ["  " + ansi.sub("", line) for line in traceback[-12:]]
    return "\n".join(lines)


def resolve_carriage_returns(text: str) -> str:
    """What a terminal would show: on each line keep only what follows its last ``\\r``."""
    lines = text.split("\n")
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in lines)


NBVAL_SKIP = "nbval-skip"


def tidy_outputs(path: Path) -> None:
    """Make an executed notebook fit to commit.

    * papermill's ``injected-parameters`` cell (e.g. ``profile = "paper"``) is tagged
      ``nbval-skip``: the committed notebook shows the parameters its outputs came from, but
      the test suite (nbval, smoke profile) must not re-run it, or CI would run the paper
      profile. papermill replaces the cell on the next run anyway.
    * consecutive stream outputs of a cell are merged and progress-bar redraws resolved: tqdm
      redraws with ``\\r`` and papermill stores every redraw as its own output, so an 80-epoch
      training would leave 160 lines; each bar keeps its final state, as Jupyter shows it.
    """
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and NBVAL_SKIP not in tags:
            tags.append(NBVAL_SKIP)
        merged = []
        for output in cell.get("outputs", []):
            if (
                output.get("output_type") == "stream"
                and merged
                and merged[-1].get("output_type") == "stream"
                and merged[-1].get("name") == output.get("name")
            ):
                merged[-1]["text"] += output["text"]
            else:
                merged.append(output)
        for output in merged:
            if output.get("output_type") == "stream":
                output["text"] = resolve_carriage_returns(output["text"])
        cell["outputs"] = merged
    nbformat.write(notebook, path)


def run(notebooks: list[Path], parameters: dict, kernel_name: str | None = None) -> int:
    """Execute ``notebooks`` in order; 0 on success, 1 at the first failure."""
    import papermill

    # A kernel started with MPLBACKEND set (Agg on headless machines) keeps that backend and stores
    # figures as text; without it, ipykernel selects its inline backend and stores them as PNG.
    os.environ.pop("MPLBACKEND", None)
    total = time.perf_counter()
    for path in notebooks:
        print(f"[run_all] {path.name} ...", flush=True)
        start = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(path),
                str(path),
                parameters=parameters,
                cwd=str(path.parent),
                kernel_name=kernel_name,
                progress_bar=False,
                request_save_on_cell_execute=True,
            )
        except Exception as error:  # papermill raises PapermillExecutionError for a cell error
            print(f"[run_all] FAILED {path.name} after {time.perf_counter() - start:.1f} s", flush=True)
            print(describe_failure(error), flush=True)
            tidy_outputs(path)
            return 1
        tidy_outputs(path)
        print(f"[run_all] {path.name}: {time.perf_counter() - start:.1f} s", flush=True)
        record_runs(path.parent, parameters.get("profile", "paper"))
    print(f"[run_all] all {len(notebooks)} notebook(s) done in {time.perf_counter() - total:.1f} s")
    return 0


def record_runs(directory: Path, profile: str) -> None:
    """Rewrite the profile's ``tables/notebook_runs.csv/.md`` from the notebooks of ``directory``
    (:mod:`idsynth.run_record`); a notebook it cannot read is reported, not fatal to the run."""
    from .config import figures_dir
    from .run_record import write_run_record

    try:
        write_run_record(directory, figures_dir(profile))
    except ValueError as error:
        print(f"[run_all] notebook_runs not updated: {error}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_all.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="paper", choices=sorted(PROFILES))
    parser.add_argument("--seed", type=int, default=0, help="base seed (the paper profile uses seed, seed+1, ...)")
    parser.add_argument("--only", metavar="NN", help="run only notebook NN")
    parser.add_argument("--from", dest="start", metavar="NN", help="resume from notebook NN")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--notebooks", type=Path, default=None, help="directory of notebooks (default notebooks/)")
    parser.add_argument("--n-seeds", type=int, default=None,
                        help="number of seeds (default: the profile's); passed to the notebooks as n_seeds")
    parser.add_argument("--kernel", default=None, help="Jupyter kernel name (default: the notebook's)")
    args = parser.parse_args(argv)
    if args.only and args.start:
        parser.error("--only and --from are exclusive")
    directory = args.notebooks or repo_root() / "notebooks"
    notebooks = select(discover(directory), args.only, args.start)
    parameters = {"profile": args.profile, "seed": args.seed, "device": args.device}
    if args.n_seeds is not None:
        parameters["n_seeds"] = args.n_seeds
    print(f"[run_all] profile={args.profile} seed={args.seed} device={args.device}: {[p.name for p in notebooks]}")
    return run(notebooks, parameters, args.kernel)


if __name__ == "__main__":
    sys.exit(main())
