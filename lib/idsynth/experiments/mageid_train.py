"""Training MAGE-ID and TabSyn through the artefact cache, shared by notebooks 06, 07 and 09.

A trained model is keyed by everything that determines it: the stage (1 = the two VAEs, 2 =
also the EDM), the generator's parameters (the profile section merged into the factory
defaults of :func:`~idsynth.models.mageid.mageid` / :func:`~idsynth.models.mageid.tabsyn`),
the seed and a SHA-256 fingerprint of the training rows. Notebook 06 trains stage 1; notebook
07 loads it and trains stage 2 (so a change of the EDM's schedule never retrains the VAEs);
notebook 09 loads both. ``device`` and ``verbose`` are left out of the key: they change how
fast a model trains, not which model it is. The same seed on another device gives another
model of the same recipe, not the same numbers: on CUDA the EDM runs in bf16 autocast (fp32 on a
CPU), and the graphed training steps draw their noise from the CUDA generator; a model cached
on one device and loaded on another is that device's model.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..cache import ArtifactCache
from ..models.base import RUNTIME_PARAMS
from ..models.edm import SAMPLING_PARAMS, LatentEDM
from ..models.mageid import FILE_FORMAT, MAGEID, MODALITIES
from ..models.registry import mageid_factory


def dtype_name(dtype) -> str:
    """``dtype``'s name, with text columns named ``"str"`` under every pandas version (pandas 3's
    name of its string dtype; pandas 2 holds text as ``object``), so cache keys do not move with
    the pandas release."""
    if not isinstance(dtype, pd.CategoricalDtype) and pd.api.types.is_string_dtype(dtype):
        return "str"
    return str(dtype)


def frame_fingerprint(X: pd.DataFrame, y) -> str:
    """16 hex digits of SHA-256 over the column names, dtypes (:func:`dtype_name`), row hashes of
    ``X`` and ``y``."""
    digest = hashlib.sha256(repr([(str(c), dtype_name(t)) for c, t in X.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    digest.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def make_generator(section: Mapping[str, Any], seed: int, modalities: Sequence[str] = MODALITIES,
                   device: str = "auto", verbose: bool = True) -> MAGEID:
    """An unfitted MAGE-ID (both modalities) or TabSyn (``("tabular",)``) with the section's
    ``tab_vae`` / ``img_vae`` / ``edm`` / ``imager`` overrides, ``numeric_scaling`` and (MAGE-ID)
    ``recipe``: the registry's factory (:func:`~idsynth.models.registry.mageid_factory`)."""
    return mageid_factory(tuple(modalities))(section, seed, device, verbose)


def training_settings(edm: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The EDM overrides ``edm`` as a trained model's key names them: without the sampling
    settings (:data:`~idsynth.models.edm.SAMPLING_PARAMS`), except ``num_steps`` at LatentEDM's
    default where ``edm`` gives it (the factories always do, so keys written before this rule keep
    their value). Training never reads them, so every choice of Heun steps, sigmas, rho, guidance
    or sampling batch shares one trained model, sampled with the requested settings (see
    :meth:`~idsynth.models.mageid.MAGEID.sampling_settings`)."""
    if edm is None:
        return None
    kept = {name: value for name, value in edm.items() if name not in SAMPLING_PARAMS or name == "num_steps"}
    if "num_steps" in kept:
        kept["num_steps"] = LatentEDM().num_steps
    return kept


def cache_config(model: MAGEID, X: pd.DataFrame, y, stage: int, dataset: str) -> dict[str, Any]:
    """The artefact key of ``model`` fitted on (X, y) up to ``stage`` (1 or 2)."""
    if stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2, got {stage!r}")
    params = {k: v for k, v in model.get_params().items() if k not in RUNTIME_PARAMS}
    params["modalities"] = list(model._modalities())
    if not model.uses_images:
        params.pop("img_vae", None)
        params.pop("imager", None)
    if stage == 1:
        params.pop("edm", None)
    else:
        params["edm"] = training_settings(params["edm"])
    return {"format": FILE_FORMAT, "stage": stage, "params": params,
            "data": {"dataset": dataset, "sha256": frame_fingerprint(X, y), "rows": int(len(X))}}


def train_mageid(dataset_set, seed: int, section: Mapping[str, Any], device: str = "auto",
                 modalities: Sequence[str] = MODALITIES, cache: ArtifactCache | None = None, stage: int = 2,
                 verbose: bool = True) -> MAGEID:
    """MAGE-ID (or TabSyn, with ``modalities=("tabular",)``) fitted on a MAGE-ID set's training
    rows up to ``stage``, loaded from ``cache`` when trained before.

    dataset_set: a :class:`~idsynth.data.mageid_sets.MageIDSet`; section: the profile's
    ``mageid`` section; stage 1 fits the encoders, imager and VAEs, stage 2 also the EDM (on the
    cached stage-1 model).
    """
    cache = cache or ArtifactCache()
    X, y = dataset_set.xy("train")
    model = make_generator(section, seed, modalities, device, verbose)
    kind = "mageid" if model.uses_images else "tabsyn"

    def load(path) -> MAGEID:
        return MAGEID.load(path, device=device)

    def save(fitted: MAGEID, path) -> None:
        fitted.save(path)

    def stage1() -> MAGEID:
        key = cache_config(model, X, y, 1, dataset_set.name)
        return cache.get_or_create(kind, key, lambda: model.fit_stage1(X, y), save, load, suffix=".pt")

    if stage == 1:
        return stage1()
    def stage2() -> MAGEID:
        fitted = stage1()
        # The stage-1 key leaves the EDM's settings out (changing them must not retrain the VAEs),
        # so a stage-1 model loaded from the cache carries the settings it was first trained
        # with: stage 2 takes this call's.
        fitted.set_params(edm=model.edm)
        return fitted.fit_stage2(X, y)

    key = cache_config(model, X, y, 2, dataset_set.name)
    fitted = cache.get_or_create(kind, key, stage2, save, load, suffix=".pt")
    # The key leaves the sampling settings out (training_settings): a model loaded from the cache
    # carries those it was first trained with, and samples with this call's.
    return fitted.set_params(edm=model.edm)


def is_cached(dataset_set, seed: int, section: Mapping[str, Any], modalities: Sequence[str] = MODALITIES,
              cache: ArtifactCache | None = None, stage: int = 2) -> bool:
    """Whether :func:`train_mageid` with these arguments would load its model from ``cache``
    (True) or train it (False)."""
    cache = cache or ArtifactCache()
    X, y = dataset_set.xy("train")
    model = make_generator(section, seed, modalities, device="cpu", verbose=False)
    kind = "mageid" if model.uses_images else "tabsyn"
    return cache.has(kind, cache_config(model, X, y, stage, dataset_set.name), ".pt")


def train_all(sets, seeds: Sequence[int], section: Mapping[str, Any], device: str = "auto",
              modalities: Sequence[str] = MODALITIES, cache: ArtifactCache | None = None, stage: int = 2,
              verbose: bool = True) -> dict[tuple[str, int], MAGEID]:
    """``{(dataset name, seed): model}`` for every set and seed (see :func:`train_mageid`)."""
    return {(s.name, int(seed)): train_mageid(s, int(seed), section, device, modalities, cache, stage, verbose)
            for s in sets for seed in seeds}
