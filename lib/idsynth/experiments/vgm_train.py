"""Training the VGM options through the artefact cache, their loss curves, and Table 7.

A trained model goes through the one route of :func:`idsynth.runs.fit_or_load`, keyed by
everything that determines it: option, seed, every hyper-parameter, VGM's code version and a
fingerprint of the training arrays. Notebook 01 trains the
models; notebook 02 calls the same functions with the same arguments and only loads them.
The key leaves out ``device``, ``cuda_graph`` and ``verbose``: they change how fast a model
trains, not its recipe. The same seed on another device gives another model of that recipe, not
the same numbers: on CUDA the shuffles and the noise come from the CUDA generator (the initial
weights are the same), so a model cached on one device and loaded on another is that device's.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from .. import runs
from ..cache import ArtifactCache
from ..config import resolve_device
from ..models.base import RUNTIME_PARAMS
from ..models.vgm import FILE_FORMAT, VGM
from ..models.vgm_nets import OPTIONS


#: The paper's Table 7, transcribed into the vocabulary of :meth:`VGM.describe`.
PAPER_TABLE7 = pd.DataFrame(
    [
        {"option": o, "input": "labels: 5 (one-hot)", "output": "116 (32 continuous and 84 discrete)",
         "latent_dim": 25, "last_encoder_activation": "Linear", "last_decoder_activation": out,
         "hidden_activation": "ReLU", "batch_size": 200, "epochs": 80, "dropout": "No",
         "nodes_per_layer": "[500,500,500,25,500,500]"}
        for o, out in (("A", "Sigmoid (all 116 features)"), ("B", "Sigmoid (84 discrete), Linear (32 continuous)"))
    ]
    + [
        {"option": "C", "input": "X: 116 + labels: 5 (one-hot, to the decoder)",
         "output": "116 (32 continuous and 84 discrete)", "latent_dim": 25, "last_encoder_activation": "Linear",
         "last_decoder_activation": "Sigmoid (all 116 features)", "hidden_activation": "ReLU", "batch_size": 200,
         "epochs": 80, "dropout": "No", "nodes_per_layer": "[500,500,500,25,(300+200),500,500]"}
    ]
)  # fmt: skip


def vgm_params(option: str, seed: int, profile_section: Mapping[str, Any]) -> dict[str, Any]:
    """VGM's parameters: the defaults (the paper's), overridden by the section's VGM keys."""
    names = VGM().get_params()
    params = {k: v for k, v in profile_section.items() if k in names}
    return {**names, **params, "option": option, "random_state": int(seed)}


def vgm_cache_config(option: str, X: np.ndarray, y: np.ndarray, seed: int, profile_section: Mapping[str, Any]) -> dict:
    """The artefact key (:func:`idsynth.runs.generator_key`): option, seed, all hyper-parameters,
    VGM's code version and the data fingerprint."""
    return runs.generator_key(f"VGM-{option}", VGM(**vgm_params(option, seed, profile_section)), X, y, seed=seed)


def vgm_identity(profile_section: Mapping[str, Any], options: Iterable[str] = OPTIONS) -> dict:
    """What decides the VGMs behind a table, for the key of that table's cached rows (notebooks
    03, 04): the model file format and, per option, every parameter :func:`vgm_cache_config`
    keys a model by, except the seed (the rows' key holds it) and the training arrays (their
    digest is in the rows' key too). A changed VGM default then retrains the models *and* redoes
    the rows made from them."""
    skip = (*RUNTIME_PARAMS, "random_state")
    return {"format": FILE_FORMAT,
            "params": {o: {k: v for k, v in vgm_params(o, 0, profile_section).items() if k not in skip}
                       for o in options}}  # fmt: skip


def vgm_table_cache_config(profile_section: Mapping[str, Any], device: str = "auto",
                           options: Iterable[str] = OPTIONS) -> dict:
    """``cache_config`` of the per-seed rows of a table made from VGMs (notebooks 03, 04): the
    profile section, :func:`vgm_identity` of the ``options`` used, and the device type the rows
    are computed on (classifier fits and neighbour searches differ by rounding between devices)."""
    return {"vgm": dict(profile_section), "vgm_models": vgm_identity(profile_section, options),
            "device": resolve_device(device).type}


def train_vgm(
    option: str,
    X: np.ndarray,
    y: np.ndarray,
    seed: int,
    profile_section: Mapping[str, Any],
    device: str = "auto",
    cache: ArtifactCache | None = None,
    verbose: bool = True,
) -> VGM:
    """The VGM ``option`` trained on X (n, 116) in [0, 1], y (n,) codes 0..4 with ``seed``.

    ``profile_section`` (``profile["vgm"]``) supplies ``epochs``, ``batch_size`` and any other
    VGM parameter it names; the rest are the paper's. Loaded from ``cache`` when trained before.
    """
    if option not in OPTIONS:
        raise ValueError(f"option must be one of {OPTIONS}, got {option!r}")
    params = {**vgm_params(option, seed, profile_section), "device": device, "verbose": verbose}
    model, _ = runs.fit_or_load(f"VGM-{option}", VGM(**params), X, y, seed=seed, cache=cache)
    return model


def vgm_models(
    data,
    split: str,
    seeds: Iterable[int],
    profile_section: Mapping[str, Any],
    device: str = "auto",
    options: Iterable[str] = OPTIONS,
    cache: ArtifactCache | None = None,
    verbose: bool = True,
) -> dict[tuple[str, int], VGM]:
    """``{(option, seed): VGM}`` trained on ``data``'s ``split`` ("train" or "test").

    ``data``: :func:`idsynth.data.nslkdd.load_vgm_arrays`'s result. The paper trains separate
    models on KDDTrain+ and on KDDTest+ (Table 1's two halves).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    X, y = getattr(data, f"X_{split}"), getattr(data, f"y_{split}")
    return {
        (option, int(seed)): train_vgm(option, X, y, int(seed), profile_section, device, cache, verbose)
        for option in options
        for seed in seeds
    }


def loss_curves(models: Mapping[tuple[str, int], VGM], **labels) -> pd.DataFrame:
    """Long frame: option, seed, epoch, term (loss, kl, bernoulli_nll, rmse), value; plus ``labels``."""
    frames = []
    for (option, seed), model in models.items():
        history = model.loss_history_.drop(columns="seconds").melt(id_vars="epoch", var_name="term", value_name="value")
        frames.append(history.assign(option=option, seed=seed, **labels))
    columns = ["option", "seed", *labels, "epoch", "term", "value"]
    return pd.concat(frames, ignore_index=True)[columns]


def table7_parameters(models: Mapping[Any, VGM]) -> pd.DataFrame:
    """Table 7 read from the models (one per option), beside the paper's values.

    Long frame: option, parameter, ours, paper, match (``ours == paper`` as text; empty where
    the paper gives no value, e.g. the parameter count).
    """
    described: dict[str, pd.Series] = {}
    for model in models.values():
        described.setdefault(model.option, model.describe().iloc[0])
    paper = PAPER_TABLE7.set_index("option")
    rows = []
    for option in sorted(described):
        for parameter, value in described[option].drop("option").items():
            reference = paper.at[option, parameter] if parameter in paper.columns else None
            rows.append({
                "option": option, "parameter": parameter, "ours": str(value),
                "paper": None if reference is None else str(reference),
                "match": None if reference is None else str(value) == str(reference),
            })  # fmt: skip
    return pd.DataFrame(rows)
