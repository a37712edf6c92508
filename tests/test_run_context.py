"""start_run: a notebook's setup in one call."""

import os

import numpy as np
import torch

from idsynth.config import figures_dir, get_profile
from idsynth.run_context import RunContext, start_run


def test_start_run_prints_the_seeds_it_runs_and_seeds_the_generators(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("IDSYNTH_CACHE", str(tmp_path / "cache"))
    run = start_run("smoke", seed=4, device="cpu", n_seeds=2)
    printed = capsys.readouterr().out
    assert isinstance(run, RunContext) and run.profile.name == "smoke"
    assert run.seeds == [4, 5] and "seeds=[4, 5]" in printed and printed.strip() == run.header
    assert run.figures == figures_dir(get_profile("smoke")) and (run.figures / "tables").is_dir()
    assert run.cache.root == tmp_path / "cache" and run.device == "cpu"
    first = np.random.random()
    start_run("smoke", seed=4, device="cpu", verbose=False)
    assert np.random.random() == first  # seeded again: the same draw
    assert capsys.readouterr().out == ""


def test_start_run_takes_the_threads_of_a_section(monkeypatch):
    before = torch.get_num_threads()
    try:
        smoke = get_profile("smoke")
        threads = smoke["mageid"]["cpu_threads"]
        assert threads  # the smoke profile sets one
        start_run(smoke, device="cpu", threads_from="mageid", verbose=False)
        assert torch.get_num_threads() == threads
        run = start_run("paper", device="cpu", verbose=False)
        assert run.seeds == get_profile("paper").seeds(0) and len(run.seeds) == get_profile("paper").n_seeds
    finally:
        torch.set_num_threads(before)


def test_the_header_names_the_cpu_model(tmp_path, monkeypatch):
    from idsynth import config
    from idsynth.run_record import _HEADER

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14\nprocessor\t: 1\n"
                    "model name\t: AMD EPYC 9R14\n")
    assert config.cpu_name(info) == "AMD EPYC 9R14"
    assert config.cpu_name(tmp_path / "absent") != ""  # platform's name, or "cpu"
    monkeypatch.setattr(config, "cpu_name", lambda: "AMD EPYC 9R14")
    header = config.run_header(get_profile("smoke"), 0, "cpu")
    found = _HEADER.search(header)
    assert found and found["device"] == f"cpu [AMD EPYC 9R14, {os.cpu_count()} cores]"
