"""Training MAGE-ID and TabSyn through the artefact cache, shared by notebooks 06, 07 and 09.

The route is :func:`idsynth.runs.fit_or_load`: MAGE-ID is a staged generator, each stage stored
under its own key (1 = the two VAEs, 2 = also the EDM): the generator's parameters as
:meth:`~idsynth.models.mageid.MAGEID.key_params` names them (the profile section merged into the
factory defaults of :func:`~idsynth.models.mageid.mageid` / :func:`~idsynth.models.mageid.tabsyn`;
stage 1 without the EDM's, stage 2 without the sampling settings), the code versions, the seed
and a fingerprint of the training rows. Notebook 06 trains stage 1; notebook 07 loads it and
trains stage 2 (so a change of the EDM's schedule never retrains the VAEs); notebook 09 loads
both. ``device`` and ``verbose`` are left out of the key: they change how fast a model trains,
not which model it is. The same seed on another device gives another model of the same recipe,
not the same numbers: on CUDA the EDM runs in bf16 autocast (fp32 on a CPU), and the graphed
training steps draw their noise from the CUDA generator; a model cached on one device and loaded
on another is that device's model.

MAGE-ID and TabSyn share their TabVAE (same rows, settings and seed): a stage 1 that is not cached
reuses the TabVAE of the other configuration's cached stage-1 model (:func:`reuse_tab_vae`), so
MAGE-ID trained after TabSyn, in another process or session, skips the TabVAE's training.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .. import runs
from ..cache import ArtifactCache
from ..models.mageid import MAGEID, MODALITIES, remember_tab_vae, training_settings  # noqa: F401  (training_settings re-exported)
from ..models.registry import mageid_factory


#: The modalities of each configuration by the name it goes by in tables and keys (:func:`model_name`).
MODALITIES_BY_NAME: dict[str, tuple[str, ...]] = {"MAGE-ID": tuple(MODALITIES), "TabSyn": ("tabular",)}


def make_generator(section: Mapping[str, Any], seed: int, modalities: Sequence[str] = MODALITIES,
                   device: str = "auto", verbose: bool = True) -> MAGEID:
    """An unfitted MAGE-ID (both modalities) or TabSyn (``("tabular",)``) with the section's
    ``tab_vae`` / ``img_vae`` / ``edm`` / ``imager`` overrides, ``numeric_scaling`` and (MAGE-ID)
    ``recipe``: the registry's factory (:func:`~idsynth.models.registry.mageid_factory`)."""
    return mageid_factory(tuple(modalities))(section, seed, device, verbose)


def model_name(model: MAGEID) -> str:
    """The name a MAGE-ID model goes by in the tables and keys: ``"MAGE-ID"`` or ``"TabSyn"``."""
    return "MAGE-ID" if model.uses_images else "TabSyn"


def cache_config(model: MAGEID, X, y, stage: int, dataset: str) -> dict[str, Any]:
    """The key of ``model`` fitted on (X, y) up to ``stage`` (1 or 2):
    :func:`idsynth.runs.generator_key`."""
    return runs.generator_key(model_name(model), model, X, y, seed=model.random_state, dataset=dataset, stage=stage)


def train_mageid(dataset_set, seed: int, section: Mapping[str, Any], device: str = "auto",
                 modalities: Sequence[str] = MODALITIES, cache: ArtifactCache | None = None, stage: int = 2,
                 verbose: bool = True) -> MAGEID:
    """MAGE-ID (or TabSyn, with ``modalities=("tabular",)``) fitted on a MAGE-ID set's training
    rows up to ``stage``, loaded from ``cache`` when trained before.

    dataset_set: a :class:`~idsynth.data.mageid_sets.MageIDSet`; section: the profile's
    ``mageid`` section; stage 1 fits the encoders, imager and VAEs, stage 2 also the EDM (on the
    cached stage-1 model). A loaded model samples with this call's sampling settings.
    """
    X, y = dataset_set.xy("train")
    model = make_generator(section, seed, modalities, device, verbose)
    reuse_tab_vae(dataset_set, seed, section, device, modalities, cache)
    fitted, _ = runs.fit_or_load(model_name(model), model, X, y, seed=seed, dataset=dataset_set.name,
                                 cache=cache, stage=stage)
    return fitted


def reuse_tab_vae(dataset_set, seed: int, section: Mapping[str, Any], device: str = "auto",
                  modalities: Sequence[str] = MODALITIES, cache: ArtifactCache | None = None) -> bool:
    """Whether the TabVAE of the other configuration's cached stage-1 model (TabSyn's for MAGE-ID
    and vice versa, same ``section``, seed and set) was put in the process's memo for the stage-1
    fit of ``modalities`` (:func:`~idsynth.models.mageid.remember_tab_vae`): False when that fit is
    cached itself or the other's is not. The memo's key (the TabVAE's settings and encoded rows)
    decides at fit time whether it is used, so a mismatch trains the TabVAE as before."""
    cache = cache if cache is not None else ArtifactCache()
    other = ("tabular",) if "image" in modalities else MODALITIES
    if is_cached(dataset_set, seed, section, modalities, cache, stage=1) or \
            not is_cached(dataset_set, seed, section, other, cache, stage=1):
        return False
    X, y = dataset_set.xy("train")
    fresh = make_generator(section, seed, other, device, verbose=False)
    loaded, _ = runs.fit_or_load(model_name(fresh), fresh, X, y, seed=seed, dataset=dataset_set.name, cache=cache,
                                 stage=1)
    remember_tab_vae(loaded, X, y)
    return True


def is_cached(dataset_set, seed: int, section: Mapping[str, Any], modalities: Sequence[str] = MODALITIES,
              cache: ArtifactCache | None = None, stage: int = 2) -> bool:
    """Whether :func:`train_mageid` with these arguments would load its model from ``cache``
    (True) or train it (False)."""
    X, y = dataset_set.xy("train")
    model = make_generator(section, seed, modalities, device="cpu", verbose=False)
    return runs.is_fitted(model_name(model), model, X, y, seed=seed, dataset=dataset_set.name, cache=cache,
                          stage=stage)


def train_all(sets, seeds: Sequence[int], section: Mapping[str, Any], device: str = "auto",
              modalities: Sequence[str] = MODALITIES, cache: ArtifactCache | None = None, stage: int = 2,
              verbose: bool = True) -> dict[tuple[str, int], MAGEID]:
    """``{(dataset name, seed): model}`` for every set and seed (see :func:`train_mageid`)."""
    return {(s.name, int(seed)): train_mageid(s, int(seed), section, device, modalities, cache, stage, verbose)
            for s in sets for seed in seeds}
