"""README.md's "Over-sample your own data" block runs as printed (on a stratified subset).

The block is read from README.md (the fenced ``python`` block after the marker comment), so the
README cannot drift from the library's API. ``load_nslkdd`` is swapped for one returning a small
stratified subset of the real split, to keep the test to seconds; everything else is the
README's code, unchanged.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
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
    report = capsys.readouterr().out
    assert "Synthetic-data check" in report  # report="print", during model.fit
    assert "R2L" in report and "weighted avg" in report
    sampler = model.steps[0][1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the check's warnings, already shown by the README's run
        X_res, y_res = sampler.fit_resample(train[features], train["category"])
    counts = dict(zip(*np.unique(np.asarray(y_res), return_counts=True)))
    assert counts["R2L"] == 10_000 and counts["U2R"] == 2_000  # the dict's targets, reached
    original = train["category"].value_counts()
    for cls in ("DoS", "Normal", "Probe"):  # classes not named keep their rows, no synthetic ones
        assert counts[cls] == original[cls]
    assert list(X_res.columns) == features and X_res.dtypes.equals(train[features].dtypes)
    synthetic = X_res.iloc[len(train):]
    assert set(synthetic["service"]) <= set(train["service"])  # decoded to categories seen in fit


# -- issue 17: the same block, unchanged but for the generator line, on a user's all-numeric flows -
GENERATOR_LINE = re.compile(r"^generator = .*$", re.M)
TINY = {
    "VGM": 'VGM(option="C", latent_dim=4, encoder_units=(16,), decoder_units=(16,), label_repeat=2, label_units=8, '
           'epochs=1, batch_size=256, device="cpu", verbose=False)',
    "TabSyn": 'tabsyn(tab_vae=dict(d_token=4, n_layers=1, d_ff=16, epochs=2, batch_size=256), '
              'edm=dict(hidden=32, n_layers=1, epochs=2, batch_size=256, num_steps=3), device="cpu", verbose=False)',
    "MAGE-ID": 'mageid(tab_vae=dict(d_token=4, n_layers=1, d_ff=16, epochs=2, batch_size=256), img_vae=dict(latent_dim=4, '
               'widths=(8,), epochs=1, batch_size=256), edm=dict(hidden=32, n_layers=1, epochs=2, batch_size=256, '
               'num_steps=3), imager=dict(n_init=1, max_sweeps=2), device="cpu", verbose=False)',
    "TabDDPM": 'TabDDPM(steps=3, num_timesteps=5, d_layers=(16, 16), dim_t=16, batch_size=256, device="cpu", verbose=False)',
    "SMOTE": "SMOTEGenerator(k_neighbors=3)",
}  # fmt: skip
IMPORTS = ("from idsynth.models.mageid import mageid, tabsyn\nfrom idsynth.models.tabddpm import TabDDPM\n"
           "from idsynth.models.smote_generator import SMOTEGenerator\n")


def numeric_flows(split: str = "train", *args, **kwargs) -> pd.DataFrame:
    """A renamed, all-numeric, imbalanced flow table with string labels in the README's columns."""
    n = {"train": 400, "test": 200}[split]
    rng = np.random.default_rng(0 if split == "train" else 1)
    category = rng.choice(["Normal", "DoS", "R2L", "U2R"], size=n, p=[0.6, 0.3, 0.07, 0.03])
    low = rng.integers(0, 40, n) + 300 * (category == "DoS")
    return pd.DataFrame({
        "Flow Duration": rng.integers(0, 9000, n) * (1 + 4 * (category == "R2L")),
        "Packet Length Min": low, "Packet Length Max": low + rng.integers(0, 90, n),
        "Flow Bytes/s": rng.gamma(2.0, 50.0, n) * (1 + (category == "U2R")),
        "category": category, "label": category, "difficulty": 0,
    })  # fmt: skip


@pytest.mark.parametrize("name", list(TINY))
def test_readme_example_runs_unchanged_on_an_all_numeric_frame_with_string_labels(name, monkeypatch, capsys):
    monkeypatch.setattr(nslkdd, "load_nslkdd", numeric_flows)
    code = GENERATOR_LINE.sub(f"generator = {TINY[name]}", readme_example())
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny schedules: the check warns, as it should
        exec(compile(IMPORTS + code, f"README.md with {name}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "Synthetic-data check" in out and "U2R" in out and "weighted avg" in out
    assert namespace["categorical"] == []


