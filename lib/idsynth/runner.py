"""Execute the ordered notebooks with papermill (what ``run_all.sh`` calls).

    python -m idsynth.runner [--profile NAME] [--seed N] [--only NN] [--from NN]
                             [--device auto|cpu|cuda] [--n-seeds N] [--notebooks DIR]
                             [--output DIR | --in-place] [--plan]

Each ``notebooks/NN_*.ipynb`` is executed in order with the parameters injected into its
``parameters`` cell (``profile``, ``seed``, ``device``, and ``n_seeds`` when given). Where the
executed notebook goes (:func:`output_dir`): the paper profile writes it back in place (the
committed results); the smoke profile never does, it writes under ``build/<profile>/notebooks/``;
any other profile (``cpu``, ...) writes there too unless ``--in-place`` asks for the committed
notebooks. Each notebook is executed into a temporary file beside its target and renamed onto
it only once complete, so an interrupted or failed run never leaves a half-written notebook
(a failed one is kept under ``build/failed/`` for reading). Before starting, a plan lists each
notebook, the device and its expected time (from the profile's ``tables/notebook_runs.csv``,
and what its models cost from an empty cache, :mod:`idsynth.cold_cost`) and warns when the paper profile is about to run on a CPU. The wall time of each notebook is
printed and recorded, with the header of its outputs, in ``tables/notebook_runs.csv``
(:mod:`idsynth.run_record`). The run stops at the first failing notebook, printing its name and
the failing cell's error.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .config import PROFILES, figures_dir, repo_root

#: Profiles whose executed notebooks are the committed results (written in place).
IN_PLACE_PROFILES = ("paper",)
#: Profiles that never write over the committed notebooks, not even with ``--in-place``.
NEVER_IN_PLACE = ("smoke",)

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


def output_dir(profile: str, notebooks_dir: Path, in_place: bool = False, output: Path | None = None) -> Path:
    """Where the executed notebooks of ``profile`` go (module docstring); a ``SystemExit``
    for ``--in-place`` with a profile that must never write over the committed notebooks."""
    if in_place and profile in NEVER_IN_PLACE:
        raise SystemExit(f"--in-place is refused for the {profile} profile: its notebooks never replace the "
                         f"committed ones (they go to build/{profile}/notebooks/)")
    if output is not None:
        return Path(output)
    if in_place or profile in IN_PLACE_PROFILES:
        return notebooks_dir
    return repo_root() / "build" / profile / "notebooks"


def execute_atomically(source: Path, target: Path, parameters: dict, kernel_name: str | None) -> None:
    """Execute ``source`` with papermill into a temporary file beside ``target``, tidy it, and
    rename it onto ``target``; on any error (or Ctrl-C) ``target`` is left as it was and the
    partial notebook is moved to ``build/failed/<name>`` before the error propagates."""
    import papermill

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".running.ipynb", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        papermill.execute_notebook(str(source), str(tmp), parameters=parameters, cwd=str(source.parent),
                                   kernel_name=kernel_name, progress_bar=False, request_save_on_cell_execute=True)
        tidy_outputs(tmp)
        os.replace(tmp, target)
    except BaseException:
        if tmp.exists() and tmp.stat().st_size:
            failed = repo_root() / "build" / "failed" / target.name
            failed.parent.mkdir(parents=True, exist_ok=True)
            try:
                tidy_outputs(tmp)
            except Exception:  # a notebook papermill could not even write: keep it raw
                pass
            shutil.move(str(tmp), failed)
            print(f"[run_all] the partial notebook is in {failed}; {target} is unchanged", flush=True)
        raise
    finally:
        tmp.unlink(missing_ok=True)


def parse_parameter(text: str) -> tuple[str, Any]:
    """``"NAME=VALUE"`` -> ``(NAME, VALUE)``, the value read as JSON where it parses (``true``,
    ``3``, ``["a", "b"]``), else the text itself."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise ValueError(f"a parameter must be NAME=VALUE with NAME a Python identifier, got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def run(notebooks: list[Path], parameters: dict, kernel_name: str | None = None, out_dir: Path | None = None) -> int:
    """Execute ``notebooks`` in order into ``out_dir`` (default: in place); 0 on success, 1 at
    the first failure."""
    # A kernel started with MPLBACKEND set (Agg on headless machines) keeps that backend and stores
    # figures as text; without it, ipykernel selects its inline backend and stores them as PNG.
    os.environ.pop("MPLBACKEND", None)
    total = time.perf_counter()
    for path in notebooks:
        target = (out_dir or path.parent) / path.name
        print(f"[run_all] {path.name} -> {target} ...", flush=True)
        start = time.perf_counter()
        try:
            execute_atomically(path, target, parameters, kernel_name)
        except Exception as error:  # papermill raises PapermillExecutionError for a cell error
            print(f"[run_all] FAILED {path.name} after {time.perf_counter() - start:.1f} s", flush=True)
            print(describe_failure(error), flush=True)
            return 1
        print(f"[run_all] {path.name}: {time.perf_counter() - start:.1f} s", flush=True)
        record_runs(target.parent, parameters.get("profile", "paper"))
    print(f"[run_all] all {len(notebooks)} notebook(s) done in {time.perf_counter() - total:.1f} s")
    return 0


# -- the plan ------------------------------------------------------------------------------------
def recorded_runs(profile: str) -> dict[str, dict]:
    """``{notebook stem: its row of the profile's notebook_runs.csv}`` (empty when none)."""
    path = figures_dir(profile) / "tables" / "notebook_runs.csv"
    if not path.is_file():
        return {}
    with open(path, newline="") as handle:
        return {row["notebook"]: row for row in csv.DictReader(handle) if row.get("duration_s")}


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def expected_time(stem: str, profile: str) -> tuple[float | None, str]:
    """(seconds or None, a phrase) for notebook ``stem`` in ``profile``, from the last recorded run
    (the phrase names the run's profile where it was another one)."""
    row = recorded_runs(profile).get(stem)
    if row is None:
        return None, "no recorded run"
    seconds = float(row["duration_s"])
    other = row.get("profile") and row["profile"] != profile
    where = f" in the {row['profile']} profile," if other else ""
    return seconds, f"{_duration(seconds)} (last run{where} on {row['device'] or 'an unknown device'})"


def plan(notebooks: list[Path], profile: str, device: str, out_dir: Path, n_seeds: int | None = None) -> str:
    """The lines printed before a run: device, destination, each notebook's expected time (its
    last recorded run, and what its models cost to train from an empty cache where the profile's
    tables record it: :mod:`idsynth.cold_cost`), and a warning when the paper profile is about to
    run on a CPU. ``n_seeds``: the run's seeds (default: the profile's)."""
    from .cold_cost import cold_costs
    from .config import get_profile, resolve_device

    resolved = resolve_device(device)
    seeds = len(get_profile(profile).seeds(0, n_seeds))
    cold = cold_costs([path.stem for path in notebooks], figures_dir(profile) / "tables", seeds)
    lines = [f"[run_all] plan: profile={profile}, device={device} -> {resolved}, notebooks written to {out_dir}"]
    total, known = 0.0, True
    for path in notebooks:
        seconds, phrase = expected_time(path.stem, profile)
        known &= seconds is not None
        total += seconds or 0.0
        if path.stem in cold:
            cost = cold[path.stem]
            phrase += (f"; its models from an empty cache: +{_duration(cost.seconds)} of one process "
                       f"({seeds} seeds, from {cost.measured_seeds} measured in {', '.join(cost.tables)})")
        lines.append(f"[run_all]   {path.name:<32} {phrase}")
    lines.append(f"[run_all] expected total: {'at least ' if not known else ''}{_duration(total)}"
                 + ("" if not cold else " with every model in the cache; from an empty cache add "
                    f"{_duration(sum(c.seconds for c in cold.values()))} of one process (the model fits and "
                    "sampling as recorded; background runs, one per core, divide it among the cores)"))
    if profile == "paper" and resolved.type == "cpu":
        lines.append(
            "[run_all] WARNING: the paper profile is about to run on a CPU; its trainings were sized for a GPU and "
            "take hours to days on a few cores (times above are per notebook, with the device each was measured on). "
            "For a run that finishes on a CPU use --profile cpu"
            + ("" if "cpu" in PROFILES else " (where your checkout has it)")
            + "; --profile smoke checks that everything runs in minutes."
        )
    return "\n".join(lines)


def help_epilog() -> str:
    """``--help``'s run times: the paper profile's last recorded time per notebook."""
    runs = recorded_runs("paper")
    if not runs:
        return "No recorded paper-profile run times (figures/tables/notebook_runs.csv)."
    lines = ["Run times of the last paper-profile run (figures/tables/notebook_runs.csv):"]
    lines += [f"  {stem:<28} {_duration(float(row['duration_s'])):>8}  on {row['device']}"
              for stem, row in runs.items()]
    lines.append(f"  {'total':<28} {_duration(sum(float(r['duration_s']) for r in runs.values())):>8}")
    lines.append("The smoke profile runs every notebook in minutes on 2 CPU cores.")
    return "\n".join(lines)


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
    parser = argparse.ArgumentParser(prog="run_all.sh", description=__doc__.split("\n\n")[0], epilog=help_epilog(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="paper", choices=sorted(PROFILES),
                        help="sizes and schedules (idsynth.config.PROFILES); default paper")
    parser.add_argument("--seed", type=int, default=0, help="base seed (the paper profile uses seed, seed+1, ...)")
    parser.add_argument("--only", metavar="NN", help="run only notebook NN")
    parser.add_argument("--from", dest="start", metavar="NN", help="resume from notebook NN")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--notebooks", type=Path, default=None, help="directory of notebooks (default notebooks/)")
    parser.add_argument("--n-seeds", type=int, default=None,
                        help="number of seeds (default: the profile's); passed to the notebooks as n_seeds")
    parser.add_argument("--kernel", default=None, help="Jupyter kernel name (default: the notebook's)")
    parser.add_argument("--in-place", action="store_true",
                        help="write the executed notebooks over the committed ones (implied by the paper profile; "
                             "refused for smoke)")
    parser.add_argument("--output", type=Path, default=None, help="directory for the executed notebooks")
    parser.add_argument("--plan", action="store_true", help="print the plan and exit without running")
    parser.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="another notebook parameter (repeatable); VALUE is read as JSON "
                             "(true, 3, [\"a\", \"b\"]), else taken as a string")
    args = parser.parse_args(argv)
    if args.only and args.start:
        parser.error("--only and --from are exclusive")
    if args.in_place and args.output is not None:
        parser.error("--in-place and --output are exclusive")
    directory = args.notebooks or repo_root() / "notebooks"
    notebooks = select(discover(directory), args.only, args.start)
    out_dir = output_dir(args.profile, directory, args.in_place, args.output)
    parameters = {"profile": args.profile, "seed": args.seed, "device": args.device}
    if args.n_seeds is not None:
        parameters["n_seeds"] = args.n_seeds
    for text in args.parameter:
        try:
            name, value = parse_parameter(text)
        except ValueError as error:
            parser.error(str(error))
        if name in parameters:
            parser.error(f"-p {name}: set it with its own option")
        parameters[name] = value
    print(plan(notebooks, args.profile, args.device, out_dir, args.n_seeds), flush=True)
    if args.plan:
        return 0
    return run(notebooks, parameters, args.kernel, out_dir)


if __name__ == "__main__":
    sys.exit(main())
