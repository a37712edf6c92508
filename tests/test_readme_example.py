"""README.md's "Over-sample your own data" block runs as printed (on a stratified subset).

The block is read from README.md (the fenced ``python`` block after the marker comment), so the
README cannot drift from the library's API. ``load_nslkdd`` is swapped for one returning a small
stratified subset of the real split, to keep the test to seconds; everything else is the
README's code, unchanged.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import idsynth.data.nslkdd as nslkdd

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- example: oversample-own-data"

pytestmark = pytest.mark.usefixtures("one_thread")


def readme_example() -> str:
    """The fenced python block that follows :data:`MARKER` in README.md."""
    text = (ROOT / "README.md").read_text()
    start = text.find(MARKER)
    assert start >= 0, f"README.md has no {MARKER!r} marker"
    match = re.compile(r"```python\n(.*?)\n```", re.S).search(text, start)
    assert match is not None, "no fenced python block after the marker"
    return match.group(1)


def test_readme_example_oversamples_and_reports(data_dir, monkeypatch, capsys):
    real_load = nslkdd.load_nslkdd
    rows = {"train": 2500, "test": 1000}

    def small_load(split: str = "train", *args, **kwargs):
        frame = real_load(split, data_dir)
        keep = nslkdd.stratified_subsample(frame["category"].to_numpy(), rows[split], seed=0)
        return frame.iloc[keep].reset_index(drop=True)

    monkeypatch.setattr(nslkdd, "load_nslkdd", small_load)
    namespace: dict = {}
    exec(compile(readme_example(), "README.md (oversample-own-data)", "exec"), namespace)

    model, train, features = namespace["model"], namespace["train"], namespace["features"]
    sampler = model.steps[0][1]
    X_res, y_res = sampler.fit_resample(train[features], train["category"])
    counts = dict(zip(*np.unique(np.asarray(y_res), return_counts=True)))
    assert counts["R2L"] == 10_000 and counts["U2R"] == 2_000  # the dict's targets, reached
    original = train["category"].value_counts()
    for cls in ("DoS", "Normal", "Probe"):  # classes not named keep their rows, no synthetic ones
        assert counts[cls] == original[cls]
    assert list(X_res.columns) == features and X_res.dtypes.equals(train[features].dtypes)
    synthetic = X_res.iloc[len(train):]
    assert set(synthetic["service"]) <= set(train["service"])  # decoded to categories seen in fit
    report = capsys.readouterr().out
    assert "R2L" in report and "weighted avg" in report
