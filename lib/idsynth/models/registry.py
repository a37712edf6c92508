"""Every generator of the package by name: its profile section, its factory, its kind of input.

    from idsynth.config import get_profile
    from idsynth.models import registry

    gen = registry.make("CTGAN", get_profile("smoke"), seed=0)     # unfitted, from profile["ctgan"]
    gen.fit(frame, y)                                               # typed feature frame, (n,) labels
    synth_frame, synth_y = gen.sample({0: 800, 1: 200}, random_state=0)
    gen.save(path); same = registry.load(path, device="cpu")        # any generator's file

Each :class:`Entry` names the profile section its factory reads
(``factory(section, seed, device="auto", verbose=False) -> unfitted generator``) and the input it
takes: ``"frame"`` (a typed DataFrame and its labels) or ``"frame|arrays"`` (also its own arrays,
e.g. TabDDPM's ``fit(X_num, X_cat, y)``). Every registered generator takes a typed frame and
follows :mod:`idsynth.models.base` (``tests/test_registry_conformance.py`` checks each one).

An entry names the importable packages it needs beyond the core ones (``requires``): the SDV
entries need ``sdv`` (pinned in ``requirements.txt``, optional for a user who installs idsynth
without it); :func:`available` tells, and :func:`make` raises ``ImportError`` saying so.

Adding a generator: its model file (a :class:`~idsynth.models.base.FrameGenerator` subclass, or
an array generator inside :class:`~idsynth.models.encoded_frame.EncodedFrameGenerator`), one
:func:`register` line below, one section in each profile of :mod:`idsynth.config`. The SDV
entries at the end are that, and nothing more.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch

from . import encoded_frame, mageid, tabddpm
from .encoded_frame import EncodedFrameGenerator
from .mageid import MAGEID
from .sdv_generators import SDVSynthesizer
from .smote_generator import SMOTEGenerator
from .tabddpm import TabDDPM
from .vgm import VGM

INPUTS: tuple[str, ...] = ("frame", "frame|arrays")


@dataclass(frozen=True)
class Entry:
    """One generator: ``name`` (as in the tables), the profile ``section`` its ``factory`` reads,
    its kind of ``input`` (one of :data:`INPUTS`), a one-line ``summary`` and the importable
    packages it ``requires`` beyond the pinned set."""

    name: str
    section: str
    factory: Callable[..., Any]
    input: str
    summary: str
    requires: tuple[str, ...] = ()


#: The registry, in the order generators are listed.
REGISTRY: dict[str, Entry] = {}
#: ``format`` field of a saved file -> the class whose ``load(path, device=None)`` reads it.
FILE_CLASSES: dict[str, type] = {
    encoded_frame.FILE_FORMAT: EncodedFrameGenerator,
    mageid.FILE_FORMAT: MAGEID,
    tabddpm.FILE_FORMAT: TabDDPM,
    SDVSynthesizer.FILE_FORMAT: SDVSynthesizer,
}


def register(name: str, section: str, factory: Callable[..., Any], input: str = "frame", summary: str = "",
             requires: tuple[str, ...] = ()) -> Entry:
    """Add a generator; ``ValueError`` for a name already registered or an unknown ``input``."""
    if name in REGISTRY:
        raise ValueError(f"a generator named {name!r} is registered already")
    if input not in INPUTS:
        raise ValueError(f"input must be one of {INPUTS}, got {input!r}")
    REGISTRY[name] = Entry(name, section, factory, input, summary, tuple(requires))
    return REGISTRY[name]


def missing_packages(name: str) -> list[str]:
    """The packages ``name`` requires that are not installed here."""
    return [p for p in entry(name).requires if importlib.util.find_spec(p) is None]


def available(name: str) -> bool:
    """Whether ``name`` can be built here (every package it requires is installed)."""
    return not missing_packages(name)


def names() -> list[str]:
    """The registered generators' names, in registration order."""
    return list(REGISTRY)


def entry(name: str) -> Entry:
    """The registry entry of ``name``; ``KeyError`` naming the registered ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no generator named {name!r}; registered: {names()}") from None


def make(name: str, profile, seed: int, device: str = "auto", verbose: bool = False):
    """An unfitted ``name`` generator built from ``profile[entry.section]`` with ``seed``.

    profile: an :class:`idsynth.config.Profile` (or any mapping of section name -> section).
    """
    spec = entry(name)
    missing = missing_packages(name)
    if missing:
        raise ImportError(f"{name} needs the packages {missing}, not installed here (pinned in requirements.txt)")
    return spec.factory(profile[spec.section], int(seed), device=device, verbose=verbose)


def factories(profile, names, device: str = "auto", verbose: bool = False) -> dict[str, Callable[[int], Any]]:
    """``{name: seed -> unfitted generator}`` of :func:`make` for each of ``names``, in that order
    (the form the Table I and Table 6 runs take)."""
    for name in names:
        entry(name)
    return {name: (lambda seed, name=name: make(name, profile, seed, device=device, verbose=verbose))
            for name in names}


def load(path: str | os.PathLike, device: str | None = None):
    """Any registered generator from its saved file (``device``: where torch models go; None =
    their saved setting). The file's ``format`` field picks the class (:data:`FILE_CLASSES`)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    file_format = state.get("format") if isinstance(state, dict) else None
    if file_format not in FILE_CLASSES:
        raise ValueError(f"{path} is not a generator file of idsynth (format {file_format!r}; "
                         f"known: {sorted(FILE_CLASSES)})")
    return FILE_CLASSES[file_format].load(path, device=device)


# --- building parameters from a section ---------------------------------------------------------


def constructor_params(cls: type, section: Mapping[str, Any], strict: bool = False) -> dict[str, Any]:
    """The keys of ``section`` that are ``cls``'s constructor parameters (tuples for lists of
    widths kept as the section gives them). ``strict``: a key that is not one raises
    ``ValueError`` (a section of that generator alone, where a typo must not pass silently)."""
    known = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(section) - known)
    if strict and unknown:
        raise ValueError(f"the section has keys {unknown} that are not {cls.__name__} parameters {sorted(known)}")
    return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in section.items() if k in known}


def _seeded(params: dict[str, Any], seed: int, device: str, verbose: bool) -> dict[str, Any]:
    reserved = sorted({"random_state", "device"} & set(params))
    if reserved:
        raise ValueError(f"a profile section must not set {reserved}; they come from the seed and the caller")
    return {**params, "random_state": int(seed), "device": device, "verbose": bool(verbose)}


# --- factories: (section, seed, device="auto", verbose=False) -> unfitted generator ---------------


def vgm_factory(option: str) -> Callable[..., EncodedFrameGenerator]:
    """VGM Option ``option`` (the paper's architecture, the section's ``epochs`` / ``batch_size``)
    inside an :class:`EncodedFrameGenerator` that splits the frame's columns by dtype and sets
    VGM's widths from the data."""

    def make_vgm(section, seed, device="auto", verbose=False):
        params = _seeded(constructor_params(VGM, section), seed, device, verbose)
        return EncodedFrameGenerator(VGM(**{**params, "option": option}))

    return make_vgm


def smote(section, seed, device="auto", verbose=False) -> EncodedFrameGenerator:
    """SMOTE's interpolations in the encoded space (its randomness: ``sample``'s random_state)."""
    return EncodedFrameGenerator(SMOTEGenerator(**constructor_params(SMOTEGenerator, section, strict=True)))


def mageid_factory(modalities: tuple[str, ...]) -> Callable[..., MAGEID]:
    """MAGE-ID (both modalities) or TabSyn (``("tabular",)``) with the section's ``tab_vae`` /
    ``img_vae`` / ``edm`` / ``imager`` overrides and ``numeric_scaling``; MAGE-ID from the
    section's ``recipe`` (:data:`~idsynth.models.mageid.MAGEID_RECIPES`; default
    :data:`~idsynth.models.mageid.MAGEID_RECIPE`), which TabSyn, with one recipe, ignores. Other
    keys steer the notebooks."""

    def make_mageid(section, seed, device="auto", verbose=False):
        params = _seeded(constructor_params(MAGEID, section), seed, device, verbose)
        params.pop("modalities", None)
        if "image" in modalities:
            recipe = section.get("recipe", mageid.MAGEID_RECIPE)
            return mageid.mageid(**params, modalities=modalities, recipe=recipe)
        params.pop("img_vae", None)
        params.pop("imager", None)
        return mageid.tabsyn(**params)

    return make_mageid


def tabddpm_model(section, seed, device="auto", verbose=False) -> TabDDPM:
    """TabDDPM's defaults overridden by every key of the section (all must be its parameters)."""
    params = _seeded(constructor_params(TabDDPM, section, strict=True), seed, device, verbose)
    if isinstance(params.get("d_layers"), list):
        params["d_layers"] = tuple(params["d_layers"])
    return TabDDPM(**params)


def sdv_factory(synthesizer: str) -> Callable[..., SDVSynthesizer]:
    """SDV's ``synthesizer`` with the section's ``options`` (keyword arguments of the SDV class),
    ``conditioning`` and ``steps`` (:class:`~idsynth.models.sdv_generators.SDVSynthesizer`); runs
    on the CPU whatever ``device``."""

    def make_sdv(section, seed, device="auto", verbose=False):
        allowed = {"options", "conditioning", "steps"}
        unknown = sorted(set(section) - allowed)
        if unknown:
            raise ValueError(f"an SDV section holds {sorted(allowed)} only, got also {unknown}")
        params = {k: section[k] for k in ("conditioning", "steps") if k in section}
        return SDVSynthesizer(synthesizer, dict(section.get("options") or {}), **params, random_state=int(seed),
                              verbose=verbose)

    return make_sdv


# --- the registry ---------------------------------------------------------------------------------

for _option in ("A", "B", "C"):
    register(f"VGM-{_option}", "vgm", vgm_factory(_option), summary=f"VGM paper's Option {_option} (encoded frame)")
register("SMOTE", "smote", smote, summary="SMOTE's interpolations (encoded frame)")
register("MAGE-ID", "mageid", mageid_factory(("tabular", "image")), summary="MAGE-ID: joint tabular + image latent EDM")
register("TabSyn", "mageid", mageid_factory(("tabular",)), summary="TabSyn: MAGE-ID's tabular branch alone")
register("TabDDPM", "tabddpm", tabddpm_model, input="frame|arrays", summary="TabDDPM: Gaussian + multinomial diffusion")
register("GaussianCopula", "gaussian_copula", sdv_factory("GaussianCopula"), summary="SDV's GaussianCopula",
         requires=("sdv",))
register("TVAE", "tvae", sdv_factory("TVAE"), summary="SDV's TVAE", requires=("sdv",))
register("CTGAN", "ctgan", sdv_factory("CTGAN"), summary="SDV's CTGAN", requires=("sdv",))
register("CTGAN-per-class", "ctgan_per_class", sdv_factory("CTGAN"), summary="SDV's CTGAN, one per class",
         requires=("sdv",))
