"""A notebook's setup as one call: the profile, the seeds actually run, the device, where figures
and tables go, the artefact cache, and the header line every notebook prints first::

    run = start_run(profile, seed, device, n_seeds, threads_from="mageid")
    P, SEEDS, FIG, cache = run.profile, run.seeds, run.figures, run.cache
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .cache import ArtifactCache
from .config import Profile, figures_dir, get_profile, run_header, set_seed


@dataclass(frozen=True)
class RunContext:
    """What :func:`start_run` sets up: ``profile``; ``seeds`` (the ones this run averages over,
    after ``n_seeds``); ``device`` (as asked: ``"auto"``, ``"cpu"``, ``"cuda"``); ``figures`` (the
    profile's figures folder, ``tables/`` inside); ``cache``; ``header`` (the line printed)."""

    profile: Profile
    seeds: list[int]
    device: str
    figures: Path
    cache: ArtifactCache
    header: str


def start_run(profile: str | Profile | None = None, seed: int = 0, device: str = "auto", n_seeds: int | None = None,
              threads_from: str | None = None, verbose: bool = True) -> RunContext:
    """Print the run header (profile, the seeds run, device, commit, start time), seed Python,
    NumPy and PyTorch with ``seed``, cap PyTorch's threads at the ``cpu_threads`` of the profile
    section ``threads_from`` when it sets one (the smoke profile's tiny models run faster
    single-threaded on a shared CPU), and return the :class:`RunContext`."""
    import torch

    P = profile if isinstance(profile, Profile) else get_profile(profile)
    header = run_header(P, seed, device, n_seeds)
    if verbose:
        print(header)
    set_seed(seed)
    if threads_from is not None:
        threads = P[threads_from].get("cpu_threads")
        if threads:
            torch.set_num_threads(int(threads))
    return RunContext(P, P.seeds(seed, n_seeds), str(device), figures_dir(P), ArtifactCache(), header)
