"""Tables as the notebooks show and save them: long-form CSV plus a Markdown rendering.

Every table a notebook prints stands next to the paper's numbers: ``summarise`` turns
per-seed rows into ``mean ± std`` and ``beside_paper`` adds the paper's value and the
difference (ours − paper).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import pandas as pd

from .cache import atomic_path, atomic_write_text
from .config import PROFILE_MARKER


def to_markdown(frame: pd.DataFrame, floatfmt: str = ".4f") -> str:
    """A GitHub-flavoured Markdown table (index dropped), floats formatted with ``floatfmt``."""

    whole = {  # float columns holding only whole numbers (counts with gaps) print as integers
        c for c in frame.columns
        if pd.api.types.is_float_dtype(frame[c]) and frame[c].dropna().map(float.is_integer).all()
        and frame[c].notna().any()
    }

    def cell(value, column) -> str:
        if isinstance(value, float):
            if math.isnan(value):
                return ""
            return f"{value:.0f}" if column in whole else format(value, floatfmt)
        return str(value).replace("|", "\\|")

    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = [
        "| " + " | ".join(cell(v, c) for v, c in zip(row, frame.columns)) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows]) + "\n"


def with_profile(frame: pd.DataFrame, tables: Path) -> pd.DataFrame:
    """``frame`` with a first column ``profile`` (the profile named by the folder's
    :data:`~idsynth.config.PROFILE_MARKER` file, written by :func:`~idsynth.config.figures_dir`),
    so every row says which profile it came from; rows with an empty ``profile`` (merged into a
    table written before the column existed) get the folder's; unchanged when no marker exists."""
    marker = tables / PROFILE_MARKER
    if not marker.is_file():
        return frame
    label = marker.read_text().strip()
    if "profile" in frame.columns:
        return frame.assign(profile=frame["profile"].fillna(label)) if frame["profile"].isna().any() else frame
    return frame.assign(profile=label)[["profile", *frame.columns]]


def write_table(
    frame: pd.DataFrame,
    name: str,
    out_dir: str | Path,
    markdown: pd.DataFrame | None = None,
    title: str | None = None,
) -> Path:
    """Write ``<out_dir>/tables/<name>.csv`` (``frame``, long form) and ``<name>.md``.

    ``markdown`` is an optional wide/summary view for the Markdown file; by default the
    Markdown shows ``frame`` itself. The CSV's rows carry their profile (:func:`with_profile`). Both files are written atomically. Returns the CSV path.
    """
    tables = Path(out_dir) / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    frame = with_profile(frame, tables)
    csv_path = tables / f"{name}.csv"
    with atomic_path(csv_path) as tmp:
        frame.to_csv(tmp, index=False)
    body = to_markdown(markdown if markdown is not None else frame)
    atomic_write_text(tables / f"{name}.md", (f"# {title}\n\n" if title else "") + body)
    return csv_path


def read_table(name: str, out_dir: str | Path) -> pd.DataFrame | None:
    """The table :func:`write_table` left at ``<out_dir>/tables/<name>.csv``, or None where there is
    none (a notebook that keeps its committed table when the cache lacks what would remake it)."""
    path = Path(out_dir) / "tables" / f"{name}.csv"
    return pd.read_csv(path, float_precision="round_trip") if path.is_file() else None


def summarise(
    frame: pd.DataFrame, by: Sequence[str], values: Sequence[str], seed_column: str = "seed"
) -> pd.DataFrame:
    """Mean, std and seed count of ``values`` grouped by ``by`` (std is 0 for one seed)."""
    grouped = frame.groupby(list(by), sort=False, observed=True)
    out = grouped[list(values)].agg(["mean", "std"])
    out.columns = [f"{v}_{stat}" for v, stat in out.columns]
    for v in values:
        out[f"{v}_std"] = out[f"{v}_std"].fillna(0.0)
    out["n_seeds"] = grouped[seed_column].nunique() if seed_column in frame else grouped.size()
    return out.reset_index()


def beside_paper(
    summary: pd.DataFrame, paper: pd.DataFrame, on: Sequence[str], value: str, paper_value: str = "paper"
) -> pd.DataFrame:
    """Join the paper's ``paper_value`` onto ``summary`` and add ``diff = <value>_mean − paper``.

    ``paper`` holds one row per key in ``on`` with a ``paper_value`` column; keys the paper
    does not report get an empty paper value and difference.
    """
    merged = summary.merge(paper[list(on) + [paper_value]], on=list(on), how="left")
    merged["diff"] = merged[f"{value}_mean"] - merged[paper_value]
    return merged


def mean_pm_std(mean: float, std: float, digits: int = 4) -> str:
    """``"0.7685 ± 0.0031"``."""
    return f"{mean:.{digits}f} ± {std:.{digits}f}"
