"""Profiles, seeds, devices and the places where results are written.

Three profiles share one code path and differ only in sizes and schedules:

* ``paper``: the papers' data sizes, epochs and several seeds (GPU recommended).
* ``cpu``: the paper's data, seeds and architectures with the diffusion family's training cut to
  step budgets that two CPU cores can run (its results are labelled ``cpu``, never ``paper``).
* ``smoke``: tiny subsets and a few epochs; minutes on two CPU cores (CI runs it via nbval).

Every experiment reads its sizes from ``profile[section]`` (a plain dict), so adding an
experiment means adding one section to both profiles below.
"""

from __future__ import annotations

import os
import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

PROFILE_ENV = "IDSYNTH_PROFILE"
DATA_ENV = "IDSYNTH_DATA"
CACHE_ENV = "IDSYNTH_CACHE"
FIGURES_ENV = "IDSYNTH_FIGURES"
#: A file in each ``tables/`` folder naming the profile whose results it holds.
PROFILE_MARKER = "PROFILE"

# One section per experiment. Each notebook reads only its own section(s).
_PAPER: dict[str, dict[str, Any]] = {
    "seeds": {"n_seeds": 3},
    "nslkdd": {"train_rows": None, "test_rows": None},
    # -- section: vgm (01, 02) --
    "vgm": {"train_rows": None, "test_rows": None, "epochs": 80, "batch_size": 200},
    # -- section: vgm_augment (03) / oversample (04) --
    # Same rows as "vgm", so the VGMs trained in 01 come from the cache. The MLP runs on the
    # PyTorch backend (sklearn's default MLP re-implemented, GPU); 04 checks it against sklearn's.
    "vgm_augment": {"train_rows": None, "test_rows": None, "mlp_backend": "torch", "n_jobs": -1},
    "oversample": {"train_rows": None, "test_rows": None, "mlp_backend": "torch", "n_jobs": -1,
                   "mlp_check_methods": ("SMOTE", "VGM")},
    # -- section: mageid_data / imaging (05) --
    "mageid_data": {"n_rows": 30000},
    "imaging": {"layout": "igtd", "image_size": None, "upscale": 1, "n_examples": 8, "speed_rows": 1_000_000},
    # -- section: mageid (06, 07, 09) --
    # MAGE-ID / TabSyn (idsynth.models.mageid) on the MAGE-ID sets (rows: mageid_data.n_rows; the
    # generator trains on the 80 % split: 24,000 NSL-KDD rows, 20,605 CIC-IDS-2017 rows of the
    # subset + extra rows; 11,844 before the extra rows were read, which the committed paper-profile
    # CIC rows were trained on). Architectures are TabSyn's (TabVAE 4-dim tokens, 2 layers, FFN 128; EDM
    # MLP 1024/2048, 50 Heun steps); the image branch is our choice. Schedules: our choice, cut to
    # what one session's 30 GPU-minutes allowed (TabSyn's reference runs 4000 VAE and up to 10,001
    # EDM epochs). Measured on one H100 (2026-11-23, one process, batch 4096, training steps
    # replayed from CUDA graphs): TabVAE 600 epochs 42-45 s (74 ms/epoch on NSL-KDD's 24,000
    # rows; 368 ms eager), ImageVAE 150 epochs 6-12 s, EDM 1000 epochs 4-8 s: MAGE-ID 53-66 s per
    # set and seed. `python -m idsynth.prefill --workers 1` trains the 12 models (2 sets x 3 seeds
    # x MAGE-ID/TabSyn; TabSyn reuses MAGE-ID's TabVAE) in 437 s; several workers on one GPU
    # time-slice it and gain nothing.
    "mageid": {
        "tab_vae": {"d_token": 4, "n_heads": 1, "n_layers": 2, "d_ff": 128, "epochs": 600, "batch_size": 4096},
        "img_vae": {"widths": None, "epochs": 150, "batch_size": 2048},  # latent_dim: the recipe's
        "edm": {"hidden": 1024, "n_layers": 2, "epochs": 1000, "batch_size": 4096, "num_steps": 50},
        "imager": {"layout": "igtd"},
        "numeric_scaling": "quantile",
        "n_examples": 8,  # images per class in the figures
        "projection_rows": 3000,  # latents per source (real, synthetic) in the 2-D projection
        "consistency_rows": 5000,  # generated and real pairs in the consistency table
        "cpu_threads": None,  # torch intra-op threads for notebooks 06, 07, 09 (None: torch's default)
    },
    # -- section: mageid_schedule (12) --
    # The long schedule that the short one is checked against: TabSyn's reference epochs (VAE
    # 4000, diffusion up to 10,001) and the image VAE lengthened by the same factor (150 -> 1000);
    # every other setting is "mageid"'s. One seed (about 10 GPU-minutes per data set for MAGE-ID
    # and TabSyn together); the short schedule's seeds are the profile's.
    "mageid_schedule": {"long": {"tab_vae": {"epochs": 4000}, "img_vae": {"epochs": 1000}, "edm": {"epochs": 10000}},
                        "long_seeds": 1},
    # -- section: mageid_fixes (13) --
    # The changes to the MAGE-ID / TabSyn recipe to compare with the committed one (names of
    # idsynth.experiments.mageid_fixes.VARIANTS; None: all of them), at the "mageid" schedule.
    # "base": {part: {argument: value}} applied to the "mageid" section before any variant's
    # change (idsynth.experiments.mageid_fixes.ablation_section); None: the "mageid" section as it
    # is. A profile that moves its own "mageid" budget pins the ablation's old one here, so the
    # rows already run keep their pairs and their cache keys.
    "mageid_fixes": {"variants": None, "base": None},
    # -- section: tabddpm (08) --
    # TabDDPM's defaults (Kotelnikov et al. 2023; the official code's MLPDiffusion and AdamW
    # settings): T = 1000, the (512, 1024, 1024, 512) MLP, 20,000 steps of 4,096 rows, lr 2e-3
    # annealed linearly to 0, weight decay 1e-4. No per-dataset tuning (our choice). One H100,
    # CUDA graphs: 60-64 s (NSL-KDD) / 40-43 s (CIC-IDS-2017) per model.
    "tabddpm": {
        "num_timesteps": 1000, "d_layers": (512, 1024, 1024, 512), "dim_t": 128, "steps": 20000,
        "batch_size": 4096, "learning_rate": 2e-3, "weight_decay": 1e-4, "sample_batch_size": 8192,
    },
    # Table I metrics (08, 09): PRDC/detectability on all rows (max_rows None; PRDC on 24,000
    # rows needs ~10 GB of memory), k = 5, 5-fold detectability. Detectability is reported twice:
    # "ours" (StandardScaler, 5 folds, the encoded space) and `detectability_sdmetrics`
    # (sdmetrics' LogisticDetection on the raw typed frames, as TabSyn's evaluation calls it).
    # PRDC distances in float32 or float64 (notebook 10 measures both).
    "table_i": {"max_rows": None, "k": 5, "n_splits": 5, "detectability": "ours", "prdc_dtype": "float32"},
    # -- section: cross_eval (10) --
    # Every generator under every protocol. The schedules are the generators' own sections
    # ("vgm" for VGM-C, "mageid" for MAGE-ID/TabSyn, "tabddpm"), the Table I set is
    # "mageid_data"'s NSL-KDD set, its metrics "table_i". Table 6 part: the rows and classifier
    # settings of "oversample" (the notebook checks they match, so these rows merge with notebook
    # 04's); the generators train on all of KDDTrain+ (125,973 rows, 5 classes): the mageid
    # schedules are in epochs, so about 5x the optimiser steps of notebook 07's 24,000 rows.
    "cross_eval": {
        "smote_k_neighbors": 5,
        "table6": {"train_rows": None, "test_rows": None, "mlp_backend": "torch", "n_jobs": -1},
        "table6_generators": ("MAGE-ID", "TabSyn", "TabDDPM"),
        # MAGE-ID's recipes (idsynth.models.mageid.MAGEID_RECIPES) compared as Table 6
        # over-samplers against the "mageid" section's recipe, paired by seed (notebook 11 § 2):
        # the recipes chosen for Table I fidelity since v2, each one more MAGE-ID fit per seed.
        "table6_mageid_recipes": ("v2", "v3", "v4", "v5"),
        # rows drawn per class from each recipe's fitted MAGE-ID and read by a forest trained on
        # real KDDTrain+ rows: do they belong to the class they were drawn for?
        "table6_recipe_agreement_rows": 2000,
        # read by that forest only (no Table 6 rows): a screen, e.g. the default recipe's model
        # sampled with classifier-free guidance (twice the sampling cost of an unguided draw)
        "table6_recipe_agreement_only": ("v4 guidance 2",),
        "cpu_threads": None,
    },
    # -- sections: smote, gaussian_copula, tvae, ctgan, ctgan_per_class (idsynth.models.registry) --
    # SMOTE as a generator: imbalanced-learn's default neighbours (cross_eval's smote_k_neighbors).
    "smote": {"k_neighbors": 5},
    # SDV's synthesizers (idsynth.models.sdv_generators), `options` = keyword arguments of the SDV
    # class: the library's defaults, written out (sdv 2.0.0: GaussianCopula fits a beta
    # distribution per numeric column; TVAE and CTGAN 300 epochs of 500 rows, their default
    # networks). GaussianCopula and CTGAN sample a class through SDV's conditional sampling; TVAE
    # has no conditional input, and SDV's reject sampling finds no row of a rare class (KDDTrain+'s
    # U2R is 52 of 125,973 rows), so one TVAE per class (`conditioning`: "per_class").
    "gaussian_copula": {"options": {"default_distribution": "beta"}},
    "tvae": {"options": {"epochs": 300, "batch_size": 500}, "conditioning": "per_class"},
    "ctgan": {"options": {"epochs": 300, "batch_size": 500}},
    # CTGAN with one model per class: SDV's conditional sampling of one CTGAN gave no U2R row in
    # 5,000 draws on KDDTrain+ (cpu budget, 2026-12-05), so Table 6 over-samples with this one.
    "ctgan_per_class": {"options": {"epochs": 300, "batch_size": 500}, "conditioning": "per_class"},
}

_SMOKE: dict[str, dict[str, Any]] = {
    "seeds": {"n_seeds": 1},
    "nslkdd": {"train_rows": 3000, "test_rows": 1500},
    # -- section: vgm (01, 02) --
    "vgm": {"train_rows": 3000, "test_rows": 1500, "epochs": 2, "batch_size": 200},
    # -- section: vgm_augment (03) / oversample (04) --
    # Smaller than "vgm" (the VGMs are retrained for 2 epochs, seconds) to keep 48 fits short;
    # sklearn's MLP is the faster of the two backends on a CPU for sets this small.
    "vgm_augment": {"train_rows": 2000, "test_rows": 1000, "mlp_backend": "sklearn", "n_jobs": 2},
    "oversample": {"train_rows": 2000, "test_rows": 1000, "mlp_backend": "sklearn", "n_jobs": 2,
                   "mlp_check_methods": ("SMOTE", "VGM")},
    # -- section: mageid_data / imaging (05) --
    "mageid_data": {"n_rows": 3000},
    "imaging": {"layout": "igtd", "image_size": None, "upscale": 1, "n_examples": 8, "speed_rows": 200_000},
    # -- section: mageid (06, 07, 09) --
    "mageid": {
        "tab_vae": {"d_token": 4, "n_heads": 1, "n_layers": 1, "d_ff": 32, "epochs": 20, "batch_size": 512},
        "img_vae": {"widths": [8, 16], "epochs": 8, "batch_size": 512},  # latent_dim: the recipe's (v6: 16)
        "edm": {"hidden": 128, "n_layers": 1, "epochs": 60, "batch_size": 512, "num_steps": 12},
        "imager": {"layout": "igtd", "n_init": 1, "max_sweeps": 20},
        "numeric_scaling": "quantile",
        "n_examples": 4,
        "projection_rows": 500,
        "consistency_rows": 500,
        # Tiny models on a shared 2-core machine: two intra-op threads make each step 5-10x slower.
        "cpu_threads": 1,
    },
    # -- section: mageid_schedule (12) --
    # A little longer than the smoke "mageid" schedule: exercises the code path, keeps CI short.
    "mageid_schedule": {"long": {"tab_vae": {"epochs": 24}, "img_vae": {"epochs": 10}, "edm": {"epochs": 80}},
                        "long_seeds": 1},
    # -- section: mageid_fixes (13) --
    # One variant per code path (a stage-2 scaling, dropped dimensions, a stage-1 retrain): the
    # others are parameters of the same paths, covered by the unit tests.
    "mageid_fixes": {"variants": ("committed", "latent_global", "latent_drop_collapsed", "tabvae_holdout")},
    # -- section: tabddpm (08) --
    "tabddpm": {
        "num_timesteps": 50, "d_layers": (128, 128), "dim_t": 128, "steps": 200,
        "batch_size": 512, "learning_rate": 2e-3, "weight_decay": 1e-4, "sample_batch_size": 1024,
    },
    "table_i": {"max_rows": None, "k": 5, "n_splits": 5, "detectability": "ours", "prdc_dtype": "float32"},
    # -- section: cross_eval (10) --
    # The smoke sections' schedules (VGM 2 epochs, the tiny MAGE-ID/TabSyn/TabDDPM), the 2,400
    # training rows of the smoke NSL-KDD MAGE-ID set, and "oversample"'s 2,000 KDDTrain+ rows.
    "cross_eval": {
        "smote_k_neighbors": 5,
        "table6": {"train_rows": 2000, "test_rows": 1000, "mlp_backend": "sklearn", "n_jobs": 2},
        "table6_generators": ("MAGE-ID", "TabSyn", "TabDDPM"),
        # one other recipe beside the default (v5: class-balanced minibatches, a code path of
        # its own): the comparison runs, one tiny fit more
        "table6_mageid_recipes": ("v4", "v5"),
        "table6_recipe_agreement_rows": 30,
        "table6_recipe_agreement_only": ("v4 guidance 2",),
        "cpu_threads": 1,
    },
    # -- sections: smote, gaussian_copula, tvae, ctgan, ctgan_per_class (idsynth.models.registry) --
    # The same generators, TVAE and CTGAN for 2 epochs of 100 rows (their default networks: a
    # narrower TVAE decodes a single class after 2 epochs, and its reject sampling then finds no
    # row of the others).
    "smote": {"k_neighbors": 5},
    "gaussian_copula": {"options": {"default_distribution": "beta"}},
    "tvae": {"options": {"epochs": 2, "batch_size": 100}, "conditioning": "per_class"},
    "ctgan": {"options": {"epochs": 2, "batch_size": 100}},
    "ctgan_per_class": {"options": {"epochs": 2, "batch_size": 100}, "conditioning": "per_class"},
}


def _merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied recursively (a nested dict updates, anything else replaces)."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


# The `cpu` profile: the paper profile's data (all rows, 3 seeds) and architectures, with the
# iterative models' training lengths cut to optimiser-step budgets that 2 CPU cores (Xeon with
# AMX-bf16, torch 2.13) can run: MAGE-ID + TabSyn + TabDDPM for one set and seed in 23-25
# minutes on 2 cores (one process per core; measured 2026-12-05, mageid_run_times.csv: the pair
# 41-45 min of one core, TabDDPM ~4.5; with the TabVAE's 4,000 steps since session 30 the pair
# is 46-54 min of one AMD EPYC core, sampling included), planned from the seconds per step measured on one core
# (benchmarks/bench_mageid.py --profile cpu, NSL-KDD, 2026-12-05): TabVAE 0.23 s (the C++ kernels
# of idsynth.models.narrow_kernels; shared by MAGE-ID and TabSyn), ImageVAE 0.63 s, EDM 0.42 s
# (bf16 autocast, batch 4096), TabDDPM 0.14 s; sampling a twin ~70 s per model. The budgets were
# 10x shorter for the TabVAE until the kernels made its step 4x cheaper (200/150/400 steps, chosen
# at 0.6 s per TabVAE step): those models were far from converged (NSL-KDD TabVAE numeric RMSE
# 0.72 vs 0.04 in the paper profile, MAGE-ID detectability 0.17). The only changes from `paper`
# are these lengths, bf16 for TabDDPM (the EDM already asks for it) and TabDDPM's T (below); the
# steps are the same for both data sets (the paper profile's epochs gave CIC-IDS-2017 half of
# NSL-KDD's steps). What the cut costs is measured by running both profiles (README § Results);
# no number of this profile is the paper's.
_CPU_CHANGES: dict[str, dict[str, Any]] = {
    # Paper, NSL-KDD's 24,000 rows: TabVAE 3,600 steps, ImageVAE 1,800, EDM 6,000 (per model),
    # TabDDPM 20,000. Here 10/9, 1/4, 1/5 and 1/13 of them. The TabVAE had 2,000 steps until
    # session 30: notebook 13's rule adopted twice that for both models (`tabvae_steps_2x`,
    # `v4_tabvae_steps_2x`; NSL-KDD coverage +0.037 TabSyn / +0.048 MAGE-ID, 5 seeds; CIC-IDS-2017
    # TabSyn detectability 0.143 -> 0.262, 3 seeds); the TabVAE that MAGE-ID and TabSyn share now
    # takes 511 s (NSL-KDD) / 1,009 s (CIC-IDS-2017) of one AMD EPYC core, ~4 min more per set and seed.
    "mageid": {
        "tab_vae": {"epochs": None, "steps": 4000},
        "img_vae": {"epochs": None, "steps": 450},
        "edm": {"epochs": None, "steps": 1200},
    },
    # Notebook 13's variants keep the budget they were run at (TabVAE 2,000 steps), so every row
    # keeps its pair and its cache key; `tabvae_steps_2x` / `v4_tabvae_steps_2x` are the profile's
    # models now.
    "mageid_fixes": {"base": {"tab_vae": {"steps": 2000}}},
    # The longer schedule that notebook 12 checks the cpu budget against: 2x every part (~70 min
    # per set on one core for MAGE-ID and TabSyn).
    "mageid_schedule": {"long": {"tab_vae": {"epochs": None, "steps": 4000}, "img_vae": {"epochs": None, "steps": 900},
                                 "edm": {"epochs": None, "steps": 2400}},
                        "long_seeds": 1},
    # TabDDPM with T = 100 diffusion steps instead of 1,000: one of the two values of TabDDPM's own
    # hyper-parameter search (the official code's tune_ddpm.py: num_timesteps in {100, 1000}), and
    # sampling is 10x shorter (notebook 11 over-samples KDDTrain+ to 336,715 rows: ~8 min instead
    # of ~80 on one core). Measured at 1,500 steps, seed 0, one core (2026-12-05): NSL-KDD
    # detectability 0.676 -> 0.703, precision 0.362 -> 0.416, coverage 0.315 -> 0.386, sampling
    # 340 -> 36 s; CIC-IDS-2017 0.406 -> 0.385, 0.152 -> 0.151, 0.066 -> 0.060, 197 -> 19 s.
    "tabddpm": {"steps": 1500, "mixed_precision": True, "num_timesteps": 100},
    # SDV's TVAE and CTGAN as step budgets (sdv 2.0.0, one core, NSL-KDD's 24,000 rows, batch 500,
    # measured 2026-12-05): a TVAE step 0.019 s, a CTGAN step 0.12 s, after ~35 s of fitting their
    # data transformers. The library's 300 epochs are 14,400 steps on NSL-KDD (TVAE ~5 min, CTGAN
    # ~30 min) but 75,600 on KDDTrain+ (notebook 14's Table 6). Here TVAE 9,600 steps (200 of
    # NSL-KDD's epochs, ~3.5 min) and CTGAN 2,400 (50 epochs, ~5.5 min), on every data set.
    # GaussianCopula needs no cut (~10 s).
    "tvae": {"options": {"epochs": None}, "steps": 9600},
    "ctgan": {"options": {"epochs": None}, "steps": 2400},
    "ctgan_per_class": {"options": {"epochs": None}, "steps": 2400},
}
_CPU = _merged(_PAPER, _CPU_CHANGES)


@dataclass(frozen=True)
class Profile:
    """A named set of sizes and schedules, read as ``profile["section"]["key"]``."""

    name: str
    sections: Mapping[str, Mapping[str, Any]] = field(repr=False)

    def __getitem__(self, section: str) -> Mapping[str, Any]:
        try:
            return MappingProxyType(dict(self.sections[section]))
        except KeyError:
            raise KeyError(
                f"profile {self.name!r} has no section {section!r}; "
                f"known sections: {sorted(self.sections)}"
            ) from None

    @property
    def n_seeds(self) -> int:
        return int(self.sections["seeds"]["n_seeds"])

    def seeds(self, base_seed: int, n_seeds: int | None = None) -> list[int]:
        """The seeds a table is averaged over: ``base_seed, base_seed + 1, ...``; ``n_seeds``
        overrides the profile's count (``run_all.sh --n-seeds``)."""
        count = self.n_seeds if n_seeds is None else int(n_seeds)
        if count < 1:
            raise ValueError(f"n_seeds must be >= 1, got {n_seeds!r}")
        return [int(base_seed) + i for i in range(count)]

    @property
    def is_paper(self) -> bool:
        return self.name == "paper"


PROFILES: dict[str, Profile] = {
    "paper": Profile("paper", _PAPER),
    "cpu": Profile("cpu", _CPU),
    "smoke": Profile("smoke", _SMOKE),
}


def get_profile(name: str | None = None) -> Profile:
    """Return the profile ``name``, else ``$IDSYNTH_PROFILE``, else ``paper``."""
    chosen = name or os.environ.get(PROFILE_ENV) or "paper"
    if chosen not in PROFILES:
        raise ValueError(f"unknown profile {chosen!r}; expected one of {sorted(PROFILES)}")
    return PROFILES[chosen]


def resolve_device(device: str | None = "auto"):
    """``"auto"`` -> CUDA when present, else CPU; any other string is passed to torch."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} asked for, but CUDA is not available here")
    return resolved


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices) for a reproducible run."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def repo_root(start: Path | None = None) -> Path:
    """The directory holding ``pyproject.toml``, searched upwards from ``start`` or cwd."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "lib" / "idsynth").is_dir():
            return candidate
    # Installed without a checkout: fall back to the working directory.
    return here


def figures_dir(profile: Profile | str) -> Path:
    """Where figures and ``tables/`` go: ``figures/`` for paper runs, ``figures/cpu/`` for the
    ``cpu`` profile (committed beside the paper's, never over them).

    Smoke runs write to ``build/smoke/figures`` so that running the tests never
    overwrites the committed results. ``$IDSYNTH_FIGURES`` overrides all.
    """
    name = profile if isinstance(profile, str) else profile.name
    override = os.environ.get(FIGURES_ENV)
    if override:
        out = Path(override)
    elif name == "paper":
        out = repo_root() / "figures"
    elif name == "cpu":
        out = repo_root() / "figures" / "cpu"
    else:
        out = repo_root() / "build" / name / "figures"
    (out / "tables").mkdir(parents=True, exist_ok=True)
    marker = out / "tables" / PROFILE_MARKER
    if not marker.is_file() or marker.read_text().strip() != name:
        marker.write_text(name + "\n")  # idsynth.tables.write_table labels each row with it
    return out


def git_commit() -> str:
    """Short hash of HEAD (``+dirty`` when tracked files outside ``notebooks/`` and ``figures/``
    have changes: those two hold what a run writes, the executed notebook included), or ``unknown``."""
    if os.environ.get("IDSYNTH_COMMIT"):  # a copy of the tree without .git (a remote GPU machine)
        return os.environ["IDSYNTH_COMMIT"]
    try:
        root = repo_root()
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!notebooks", ":!figures"],
            cwd=root, capture_output=True, text=True,
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_name(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's model as the OS names it (Linux: the first ``model name`` of ``cpuinfo``; else
    :func:`platform.processor`), or ``"cpu"`` when neither says. Timings are comparable only on
    the same model: the same 2-core VM kind has been an Intel Xeon with AMX and an AMD EPYC
    without it."""
    import platform

    try:
        for line in Path(cpuinfo).read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def run_header(profile: Profile, seed: int, device, n_seeds: int | None = None) -> str:
    """One line for a notebook's first output: profile, seeds (``n_seeds`` overrides the
    profile's count), device, commit, time."""
    import datetime

    import torch

    dev = resolve_device(device)
    dev_name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{cpu_name()}, {os.cpu_count()} cores"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"profile={profile.name} seeds={profile.seeds(seed, n_seeds)} device={dev} [{dev_name}] "
        f"torch={torch.__version__} commit={git_commit()} started={stamp}"
    )
