"""How far a fitted latent EDM got: its training loss along the budget, and how well it denoises
the real latents, block by block (notebook 13, section 10).

Two views of the same question, why one model gains more from more EDM steps than another:

* :func:`loss_at_fractions`: the EDM's epoch loss (EDM's weighted denoising loss, in units of
  ``sigma_data**2`` per dimension; ~0.7 while the network only predicts the mean) at fractions of
  its training, so that runs of different lengths line up;
* :func:`block_denoising_error`: the mean squared error of the denoiser the model samples with on
  real latents with noise of level ``sigma`` added, per latent block (MAGE-ID's ``tabular`` and
  ``image`` dimensions), in the same units. Low noise levels decide the detail of the samples.

And a cheap screen of training settings before a full row is paid for: :func:`refit_screen`
trains the EDM again, with changed :class:`~idsynth.models.edm.LatentEDM` arguments and a short
budget, on the latents a fitted model's VAEs give, and reports both views; the command line runs
it on the cached models of notebook 13's committed recipe::

    python -m idsynth.experiments.edm_diagnostics --profile cpu --dataset CIC-IDS-2017 --model MAGE-ID \
        --steps 600 --setting committed '{}' --setting class_init_0.02 '{"class_init_std": 0.02}'
"""

from __future__ import annotations

import argparse
import fcntl
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

#: Fractions of the training at which :func:`loss_at_fractions` reads the loss.
FRACTIONS: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 1.0)
#: Noise levels (in the EDM's scaled latent space, sigma_data = 0.5) of :func:`block_denoising_error`.
SIGMAS: tuple[float, ...] = (0.02, 0.1, 0.3, 0.6, 1.0, 2.0, 5.0)
COLUMNS: tuple[str, ...] = ("quantity", "block", "at", "value")


def loss_at_fractions(history, fractions: Sequence[float] = FRACTIONS) -> pd.DataFrame:
    """The epoch losses ``history`` (n_epochs,) at each fraction f of training (epoch
    ``round(f * (n_epochs - 1))``): a frame of :data:`COLUMNS` with ``quantity = "loss"``,
    ``block = "all"``, ``at = f``."""
    history = np.asarray(history, dtype=float)
    if history.ndim != 1 or len(history) == 0:
        raise ValueError(f"history must be a non-empty 1-D array of epoch losses, got shape {history.shape}")
    if any(not 0.0 <= f <= 1.0 for f in fractions):
        raise ValueError(f"fractions must lie in [0, 1], got {list(fractions)}")
    rows = [{"quantity": "loss", "block": "all", "at": float(f),
             "value": float(history[int(round(f * (len(history) - 1)))])} for f in fractions]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def block_denoising_error(edm, Z: np.ndarray, labels: np.ndarray | None, blocks: Mapping[str, slice],
                          sigmas: Sequence[float] = SIGMAS, n_rows: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Mean squared denoising error of a fitted :class:`~idsynth.models.edm.LatentEDM` per block.

    Z: (n, dim) real latents in the original scale (what the EDM was fitted on); labels: (n,)
    their class codes (None for an unconditional EDM); blocks: ``{name: slice}`` of Z's columns.
    Up to ``n_rows`` rows (drawn with ``seed``) are scaled as in training, the dimensions the EDM
    left out dropped, noise ``sigma * N(0, I)`` added and denoised by the weights it samples
    with (the EMA unless ``sample_weights = "raw"``). Returns :data:`COLUMNS` with
    ``quantity = "denoise_error"``, one row per block and sigma: the mean over rows and the
    block's modelled dimensions of ``(D(x + n) - x)**2 / sigma_data**2`` (0: perfect; about
    ``x``'s variance, 1, when it only predicts the mean at a large sigma).
    """
    Z = np.asarray(Z, dtype=np.float32)
    if Z.ndim != 2 or Z.shape[1] != len(edm.mean_):
        raise ValueError(f"Z must be (n, {len(edm.mean_)}) latents, got shape {Z.shape}")
    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(Z))[: int(n_rows)]
    kept = np.asarray(edm.kept_, dtype=bool)
    x = torch.as_tensor(edm.scaled(Z[rows]), dtype=torch.float32, device=edm.device_)
    codes = None if labels is None or not edm.conditional_ else torch.as_tensor(
        np.asarray(labels)[rows], dtype=torch.long, device=edm.device_)
    kept_index = np.flatnonzero(kept)
    columns = {name: torch.as_tensor((kept_index >= s.start) & (kept_index < s.stop), device=edm.device_)
               for name, s in blocks.items()}
    net = edm.ema_ if edm.ema_ is not None and edm.sample_weights == "ema" else edm.denoiser_
    net.eval()
    generator = torch.Generator(device=edm.device_).manual_seed(int(seed))
    out = []
    with torch.no_grad():
        for sigma in sigmas:
            noise = torch.randn(x.shape, generator=generator, device=edm.device_) * float(sigma)
            denoised = net(x + noise, torch.full((len(x),), float(sigma), device=edm.device_), codes).float()
            error = (denoised - x) ** 2 / edm.sigma_data ** 2
            for name, mask in columns.items():
                if bool(mask.any()):
                    out.append({"quantity": "denoise_error", "block": name, "at": float(sigma),
                                "value": float(error[:, mask].mean())})
    return pd.DataFrame(out, columns=list(COLUMNS))


def model_diagnostics(model, X: pd.DataFrame, y, n_rows: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Both views for a fitted MAGE-ID / TabSyn model (:class:`~idsynth.models.mageid.MAGEID`,
    stage 2) on its real rows ``X``, ``y``: :func:`loss_at_fractions` of its EDM and
    :func:`block_denoising_error` on :meth:`~idsynth.models.mageid.MAGEID.encode`'s latents."""
    Z = model.encode(X, y)
    return pd.concat([loss_at_fractions(model.edm_.loss_history_),
                      block_denoising_error(model.edm_, Z, model._label_codes(np.asarray(y)), model.latent_slices_,
                                            n_rows=n_rows, seed=seed)], ignore_index=True)


#: The columns of :func:`refit_screen`'s frame (and of ``mageid_edm_screen.csv``, with the
#: data set, model and seed the notebook or command line adds).
SCREEN_COLUMNS: tuple[str, ...] = ("setting", "changes", "steps", "fit_seconds", *COLUMNS)


def refit(edm, Z: np.ndarray, labels, steps: int, changes: Mapping[str, Any] | None = None):
    """A new :class:`~idsynth.models.edm.LatentEDM` with ``edm``'s arguments, ``changes`` applied
    and a budget of ``steps`` optimiser steps, fitted on ``Z`` (n, dim) with ``labels`` (n,)
    codes (None: unconditional). Same arguments, same latents -> the same model as a fit of
    those arguments in a row (the seed is ``edm.random_state``)."""
    from idsynth.models.edm import LatentEDM

    params = {**edm.get_params(), "steps": int(steps), "verbose": False, **dict(changes or {})}
    unknown = sorted(set(params) - set(LatentEDM._PARAMS))
    if unknown:
        raise ValueError(f"unknown LatentEDM arguments {unknown}")
    return LatentEDM(**params).fit(Z, labels)


def refit_screen(model, X: pd.DataFrame, y, settings: Mapping[str, Mapping[str, Any]], steps: int,
                 sigmas: Sequence[float] = (0.1, 0.3, 1.0), n_rows: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Each of ``settings`` (``{name: LatentEDM changes}``) trained for ``steps`` on the latents
    of a fitted MAGE-ID / TabSyn ``model``'s VAEs for its real rows ``X``, ``y``: the training loss
    at :data:`FRACTIONS` and the denoising error per block at ``sigmas`` (:func:`block_denoising_error`,
    ``n_rows`` rows drawn with ``seed``), with the seconds of each fit. Returns
    :data:`SCREEN_COLUMNS`, ``changes`` as JSON text."""
    Z = model.encode(X, y)
    codes = model._label_codes(np.asarray(y))
    frames = []
    for name, changes in settings.items():
        edm = refit(model.edm_, Z, codes, steps, changes)
        views = pd.concat([loss_at_fractions(edm.loss_history_),
                           block_denoising_error(edm, Z, codes, model.latent_slices_, sigmas, n_rows, seed)],
                          ignore_index=True)
        frames.append(views.assign(setting=name, changes=json.dumps(dict(changes), sort_keys=True), steps=int(steps),
                                   fit_seconds=float(edm.fit_seconds_)))
    return pd.concat(frames, ignore_index=True)[list(SCREEN_COLUMNS)]


#: What names one screened curve in ``mageid_edm_screen.csv``: a rerun of it replaces its rows.
SCREEN_KEY: tuple[str, ...] = ("dataset", "model", "seed", "setting", "steps")


def merge_screen(found: pd.DataFrame, out: Path) -> pd.DataFrame:
    """Write ``found`` (:data:`SCREEN_KEY` + :data:`SCREEN_COLUMNS`) into ``out/tables/mageid_edm_screen.csv``
    (+ Markdown, via :func:`~idsynth.tables.write_table`): the earlier rows of the same key are
    replaced, every other earlier row kept. Screens running side by side merge one by one (an
    exclusive lock on a ``.lock`` file beside the table). Returns the merged table."""
    from ..tables import write_table

    path = Path(out) / "tables" / "mageid_edm_screen.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    key = list(SCREEN_KEY)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            earlier = pd.read_csv(path).drop(columns="profile", errors="ignore")
            same = earlier.set_index(key).index.isin(found.set_index(key).index)
            found = pd.concat([earlier[~same], found], ignore_index=True)
        write_table(found, "mageid_edm_screen", Path(out),
                    title="EDM settings screened on the committed models' latents: training loss at fractions of a "
                          "short budget and denoising error per block (units of sigma_data^2 per dimension)")
    return found


def main(argv: Sequence[str] | None = None) -> None:
    """Screen EDM settings on the cached committed models of notebook 13 (``refit_screen``); the
    table goes to ``<figures>/tables/mageid_edm_screen.csv``, rows of an earlier screen of
    another data set, model, seed or setting kept."""
    from ..cache import ArtifactCache
    from ..config import figures_dir, get_profile
    from ..data.mageid_sets import build_mageid_sets
    from . import mageid_fixes as fixes
    from .mageid_train import train_mageid

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--model", required=True, choices=fixes.BOTH)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--setting", nargs=2, action="append", metavar=("NAME", "JSON"), required=True,
                        help='a name and its LatentEDM changes as JSON, e.g. class_init \'{"class_init_std": 0.02}\'')
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    settings = {}
    for name, text in args.setting:
        try:
            settings[name] = json.loads(text)
        except json.JSONDecodeError as error:
            parser.error(f"--setting {name}: {text!r} is not JSON ({error})")
        if not isinstance(settings[name], dict):
            parser.error(f"--setting {name}: {text!r} is not a JSON object of LatentEDM arguments")
    profile = get_profile(args.profile)
    sets = {s.name: s for s in build_mageid_sets(n_rows=profile["mageid_data"]["n_rows"], seed=0,
                                                  data_dir=args.data_dir)}
    if args.dataset not in sets:
        parser.error(f"unknown data set {args.dataset!r}; known: {sorted(sets)}")
    chosen = sets[args.dataset]
    section = fixes.variant_section(fixes.ablation_section(profile), {})
    model = train_mageid(chosen, args.seed, section, device="cpu", modalities=fixes.MODALITIES[args.model],
                         cache=ArtifactCache(), verbose=False)
    X, y = chosen.xy("train")
    found = refit_screen(model, X, y, settings, args.steps, seed=args.seed).assign(
        dataset=chosen.name, model=args.model, seed=args.seed)
    found = merge_screen(found[["dataset", "model", "seed", *SCREEN_COLUMNS]], figures_dir(profile))
    print(found[found["quantity"] == "loss"].pivot_table(index=["dataset", "model", "setting"], columns="at",
                                                        values="value").round(4).to_string())
    print(found[found["quantity"] == "denoise_error"].pivot_table(
        index=["dataset", "model", "setting"], columns=["block", "at"], values="value").round(4).to_string())


if __name__ == "__main__":
    main()
