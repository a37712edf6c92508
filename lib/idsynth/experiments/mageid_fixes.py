"""Which change to the committed recipe lifts MAGE-ID and TabSyn? (issue 16; notebook 13)

A read of our code beside TabSyn's reference found differences in how the models are trained and
how the joint latent is scaled; each is a :class:`Variant` here: the committed recipe (the
profile's ``mageid`` section on MAGE-ID's recipe :data:`BASE_RECIPE`, ``"v1"``) with a few
arguments of one part changed. A change that :func:`verdict` adopts becomes a new recipe in
:data:`~idsynth.models.mageid.MAGEID_RECIPES` (``latent_global`` became ``"v2"``); the ablation
keeps its base, so its rows stay paired. Every variant is trained
and scored like notebook 09's models (:func:`~idsynth.experiments.mageid_train.train_mageid`,
:func:`~idsynth.experiments.mageid_eval.evaluate_model`: the real training class counts sampled
with ``random_state=seed``, Table I's metrics), on both sets and several seeds, so the committed
recipe's row of a seed is the pair of every variant's row of that seed (:func:`paired_gains`).
Models, samples and scored rows are cached by configuration: a rerun redoes only what is missing.

``python -m idsynth.experiments.mageid_fixes --profile cpu --datasets NSL-KDD --seeds 0 1 2``
fills the cache in the background (one process per set keeps two CPU cores busy); notebook 13
then reads the rows from it.
"""

from __future__ import annotations

import argparse
from functools import partial
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from ..cache import ArtifactCache
from ..code_versions import code_versions
from ..data.identities import find_identities, keep_identities
from .mageid_eval import MAGEID_NAME, TABSYN_NAME, evaluate_model
from .mageid_schedule import TARGET_ONE_METRICS
from ..runs import data_fingerprint
from ..models.mageid import MAGEID_RECIPES
from .mageid_train import MODALITIES_BY_NAME, make_generator, train_mageid
from .seed_cache import cached_seed_rows, cached_seeds, restorable_sets, setting_digest
from .table_i import METRICS, SDMETRICS, generator_params, keyable
from .table_i_scoring import scoring_code_digest

BOTH: tuple[str, str] = (MAGEID_NAME, TABSYN_NAME)
#: The cache kind of a scored row.
ROW_KIND = "mageid_fixes_row"
MODALITIES = MODALITIES_BY_NAME
#: The columns of ``figures/tables/mageid_fixes.csv`` (``profile`` is added by ``write_table``).
COLUMNS: tuple[str, ...] = (
    "dataset", "model", "variant", "seed", "detectability", SDMETRICS, "precision", "recall", "density",
    "coverage", "auc", "train_seconds",
)  # fmt: skip
#: Metrics where a larger value is better (density: closer to 1; see ``TARGET_ONE_METRICS``).
SCORED: tuple[str, ...] = (*METRICS, SDMETRICS)


@dataclass(frozen=True)
class Variant:
    """The committed recipe with ``changes`` (``{part: {argument: value}}``, parts ``tab_vae``,
    ``img_vae``, ``edm``) for the ``models`` it makes sense for; ``why``: what it tests.
    ``step_factor``: ``{part: factor}`` multiplying a part's ``steps`` where the profile counts
    steps (a profile that counts epochs gets more steps from a smaller batch by itself).
    ``keep_identities``: the sampled rows' columns that are exact linear functions of others in
    every real training row are recomputed from them before scoring
    (:mod:`idsynth.data.identities`; the model and its cached rows are those without the flag).
    ``pair``: the variant whose rows of the same seed are this one's exact pair, made by the same
    code on the same cached parts (:func:`exact_pair_gains`): ``"committed"`` for the changes
    made before the cache was lost in session 17, ``"committed_retrain"`` for those since, a
    recipe's retrain for a change made on top of that recipe."""

    name: str
    changes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    models: tuple[str, ...] = BOTH
    why: str = ""
    step_factor: Mapping[str, float] = field(default_factory=dict)
    keep_identities: bool = False
    pair: str = "committed"


#: The MAGE-ID recipe every variant changes (:data:`~idsynth.models.mageid.MAGEID_RECIPES`): the
#: one the ablation began from, kept when a variant's change became the default recipe, so that
#: every row stays paired with the same baseline ("committed" is this recipe at the profile's
#: sizes). TabSyn has one recipe.
BASE_RECIPE = "v1"


def recipe_changes(recipe: str) -> dict[str, dict[str, Any]]:
    """MAGE-ID's ``recipe`` (:data:`~idsynth.models.mageid.MAGEID_RECIPES`) as a variant's changes:
    ``{part: {argument: value}}`` where it differs from :data:`BASE_RECIPE`'s (recipes are never
    edited in place, so a variant made from one keeps its key)."""
    base, chosen = MAGEID_RECIPES[BASE_RECIPE], MAGEID_RECIPES[recipe]
    return {part: diff for part in chosen
            if (diff := {k: v for k, v in chosen[part].items() if base[part].get(k, object()) != v})}


#: In the order they are run: the committed pair of all, then the changes of sampling alone (they
#: reuse the committed models: the training key leaves sampling settings out), then those of stage
#: 2 alone (they reuse the committed VAEs; a sampling change of a stage-2 variant follows it and
#: reuses its models), then those that retrain a VAE.
VARIANTS: tuple[Variant, ...] = (
    Variant("committed", {}, BOTH, "the committed recipe: the profile's mageid section on BASE_RECIPE"),
    Variant("committed_retrain", {}, BOTH,
            "the committed recipe's models as the current code trains them again after the cache was lost "
            "(session 17): what a retrain alone moves a row, the noise floor of a one-seed screen; the "
            "sampling-only screens of that session were sampled from these models"),
    Variant("sample_steps_25", {"edm": {"num_steps": 25}}, BOTH,
            "the committed models sampled with 25 Heun steps (49 network evaluations) instead of 50 (99)"),
    Variant("sample_steps_12", {"edm": {"num_steps": 12}}, BOTH,
            "the committed models sampled with 12 Heun steps (23 network evaluations)"),
    Variant("edm_raw_weights", {"edm": {"sample_weights": "raw"}}, BOTH,
            "the committed models sampled from the raw weights of the last step instead of the EMA "
            "(the reference keeps no EMA)"),
    Variant("sample_churn", {"edm": {"S_churn": 1.0}}, BOTH,
            "the committed models sampled as TabSyn's reference samples: EDM's stochastic sampler with "
            "S_churn = 1 (each Heun step first raises the noise level by 2 % with fresh noise)",
            pair="committed_retrain"),
    Variant("sample_guidance_1.5", {"edm": {"guidance": 1.5}}, BOTH,
            "the committed models sampled with classifier-free guidance 1.5 (the null class is trained "
            "by the 10 % label dropout): rows pushed towards their class, twice the network evaluations",
            pair="committed_retrain"),
    Variant("sample_guidance_2", {"edm": {"guidance": 2.0}}, BOTH,
            "the committed models sampled with classifier-free guidance 2",
            pair="committed_retrain"),
    Variant("keep_identities", {}, BOTH,
            "the committed models' rows with every column that is an exact linear function of others "
            "in all real training rows recomputed from them (CIC-IDS-2017: 9 columns, e.g. Subflow Fwd "
            "Packets = Total Fwd Packets, Flow Packets/s = Fwd Packets/s + Bwd Packets/s; NSL-KDD: none)",
            keep_identities=True,
            pair="committed_retrain"),
    Variant("latent_global", {"edm": {"latent_scaling": "global"}}, BOTH,
            "the joint latent centred and divided by one pooled deviation (TabSyn's (z - mean) / 2) "
            "instead of standardised per dimension"),
    Variant("edm_cosine", {"edm": {"lr_schedule": "cosine"}}, BOTH,
            "the EDM's learning rate annealed to 0 over its step budget"),
    Variant("edm_cosine_raw", {"edm": {"lr_schedule": "cosine", "sample_weights": "raw"}}, BOTH,
            "edm_cosine's models sampled from their raw weights (annealed to a stop, they need no average)"),
    Variant("latent_per_block", {"edm": {"latent_scaling": "per_block"}}, (MAGEID_NAME,),
            "one pooled deviation per modality: tabular and image blocks weigh the same"),
    Variant("latent_drop_collapsed", {"edm": {"drop_below": 0.1}}, (MAGEID_NAME,),
            "image (and tabular) dimensions with under 0.1 of their block's pooled spread left out"),
    Variant("latent_global_drop", {"edm": {"latent_scaling": "global", "drop_below": 0.1}}, (MAGEID_NAME,),
            "latent_global and latent_drop_collapsed together: one pooled deviation for the dimensions "
            "kept, the near-constant ones left out"),
    Variant("edm_batch_1024", {"edm": {"batch_size": 1024}}, BOTH,
            "a quarter of TabSyn's batch for 4x the optimiser steps: the same rows seen (the same "
            "multiply-adds), four times the updates", {"edm": 4}),
    Variant("edm_lr_2e-3", {"edm": {"learning_rate": 2e-3}}, BOTH,
            "the EDM's Adam learning rate 1e-3 -> 2e-3 (constant): more progress per step on a budget "
            "that ends with the loss still falling",
            pair="committed_retrain"),
    Variant("edm_lr_5e-4", {"edm": {"learning_rate": 5e-4}}, BOTH,
            "the EDM's Adam learning rate 1e-3 -> 5e-4 (constant): at 2e-3 the loss stays on its early "
            "plateau (~0.7) where 1e-3 breaks through to ~0.2; does a lower rate break through sooner?",
            pair="committed_retrain"),
    Variant("edm_steps_2x", {}, BOTH,
            "the EDM trained for twice the profile's steps on the same VAEs: notebook 12's longer "
            "schedule doubles every part; this asks how much of its gain is the EDM's alone",
            {"edm": 2},
            pair="committed_retrain"),
    Variant("edm_half_width_3x", {"edm": {"hidden": 512}}, BOTH,
            "the EDM's MLP at half width (512 -> 1024 -> 1024 -> 512) for 3x the steps: about the same "
            "seconds on a CPU core (0.28 vs 0.87 s a step at batch 4,096 on CIC-IDS-2017's latents), "
            "more updates for a loss still falling when the budget ends",
            {"edm": 3},
            pair="committed_retrain"),
    Variant("budget_to_edm", {}, BOTH,
            "half the TabVAE's steps for twice the EDM's: about the same seconds for TabSyn on "
            "CIC-IDS-2017 (its TabVAE step is 0.57 s against the EDM's 0.48), where the EDM is far below "
            "what the TabVAE allows (notebook 13's ceiling) and twice its steps lift it most",
            {"tab_vae": 0.5, "edm": 2},
            pair="committed_retrain"),
    Variant("budget_to_edm_1.5x", {}, BOTH,
            "half the TabVAE's steps for 1.5x the EDM's: about the same seconds for TabSyn on NSL-KDD, "
            "whose TabVAE step is half CIC-IDS-2017's (mageid_run_times.csv: 2,000 TabVAE steps 541 s, "
            "1,200 EDM steps 582 s, so -1,000 TabVAE steps ~ -270 s and +600 EDM steps ~ +290 s)",
            {"tab_vae": 0.5, "edm": 1.5},
            pair="committed_retrain"),
    Variant("budget_to_edm_global_drop", {"edm": {"latent_scaling": "global", "drop_below": 0.1}}, (MAGEID_NAME,),
            "budget_to_edm on latent_global_drop's joint latent: MAGE-ID gains little from EDM steps on its "
            "per-dimension standardised latent (edm_steps_2x, budget_to_edm at seed 0), so give the steps to "
            "an EDM that no longer learns the near-constant image dimensions",
            {"tab_vae": 0.5, "edm": 2},
            pair="committed_retrain"),
    Variant("edm_class_init_0.02", {"edm": {"class_init_std": 0.02}}, BOTH,
            "the EDM's class vectors drawn at std 0.02 (DiT's label table) instead of nn.Embedding's N(0, 1), "
            "which at initialisation outweighs the projected latent three to one: same steps, same seconds "
            "(notebook 13 section 10 shows each EDM's loss and denoising error)",
            pair="committed_retrain"),
    Variant("class_init_noise_label_250", {"edm": {"class_init_std": 0.02, "noise_label_scale": 250.0}}, BOTH,
            "edm_class_init_0.02 with c_noise multiplied by 250 before the sinusoids (DDPM's 0-1000 step range, "
            "for which they were made): the σ signal at initialisation ~100x stronger; the same steps and seconds. "
            "Screened first (section 11): alone the factor does not move the plateau, on the small class table it does",
            pair="committed_retrain"),
    Variant("latent_global_retrain", {"edm": {"latent_scaling": "global"}}, (MAGEID_NAME,),
            "MAGE-ID's default recipe v2 (latent_global) as the current code trains it again: latent_global's "
            "models were lost with the cache in session 17 (its rows are restored), so this is the exact pair of "
            "a change made on top of v2",
            pair="committed_retrain"),
    Variant("latent_global_class_init", {"edm": {"latent_scaling": "global", "class_init_std": 0.02}}, (MAGEID_NAME,),
            "edm_class_init_0.02 on recipe v2's globally scaled joint latent: the candidate recipe v3, paired with "
            "latent_global_retrain (v2 retrained); same steps, same seconds",
            pair="latent_global_retrain"),
    Variant("v3_noise_label_250", {"edm": {"latent_scaling": "global", "class_init_std": 0.02,
                                           "noise_label_scale": 250.0}}, (MAGEID_NAME,),
            "recipe v3 (latent_global_class_init) with c_noise x 250 before the sinusoids: "
            "class_init_noise_label_250's second change on MAGE-ID's default; same steps and seconds",
            pair="latent_global_class_init"),
    Variant("v4_retrain", recipe_changes("v4"), (MAGEID_NAME,),
            "recipe v4 (v3_noise_label_250) trained again by the current code on another machine (session 26, "
            "AMD EPYC without AMX, where bf16 kernels differ from the Xeon that made v3_noise_label_250's rows): "
            "the exact pair of changes made on top of v4 since, and against v3_noise_label_250 what a retrain "
            "on another machine moves a row",
            pair="v3_noise_label_250"),
    Variant("v4_class_balance_0.5", recipe_changes("v5"), (MAGEID_NAME,),
            "recipe v4 with class-balanced EDM minibatches (a row of a class of n_c rows drawn with weight "
            "n_c ** -0.5; recipe v5): the rare classes' latents seen more often at the same steps and seconds",
            pair="v4_retrain"),
    Variant("edm_plateau", {"edm": {"lr_schedule": "plateau", "keep_best": True, "early_stop_patience": 500}},
            BOTH, "the reference's EDM rule: LR x0.9 after 20 flat epochs, best-loss weights, stop after 500"),
    Variant("tabvae_holdout", {"tab_vae": {"plateau_on": "holdout"}}, BOTH,
            "the TabVAE's beta and LR plateaus read a held-out noisy reconstruction loss (the reference)"),
    Variant("tabvae_steps_2x", {}, BOTH,
            "the TabVAE trained for twice the profile's steps where it counts steps (the cpu profile: 4,000, "
            "about the paper profile's 3,600 on NSL-KDD; a profile counting epochs keeps its TabVAE): on NSL-KDD the TabVAE's seed moves the rows more than the EDM's changes do "
            "(seed 3's ceiling detectability 0.76 against 0.87-0.93), so does a longer TabVAE steady it?",
            {"tab_vae": 2}, pair="committed_retrain"),
    Variant("tabvae_steps_2x_class_init_noise_label_250", {"edm": {"class_init_std": 0.02, "noise_label_scale": 250.0}},
            BOTH,
            "class_init_noise_label_250's two EDM changes on tabvae_steps_2x's TabVAE, paired with it: the EDM "
            "changes at equal EDM budget on a stage 1 whose seed moves the rows less (issue 16's second bar on "
            "NSL-KDD, where seed 3's committed TabVAE reversed them)",
            {"tab_vae": 2}, pair="tabvae_steps_2x"),
    Variant("v4_tabvae_steps_2x", recipe_changes("v4"), (MAGEID_NAME,),
            "MAGE-ID's recipe v4 on tabvae_steps_2x's TabVAE (twice the steps), paired with v4 itself "
            "(v4_retrain): the longer TabVAE raised the ceiling's precision, density and coverage at every "
            "NSL-KDD seed but TabSyn's rows within noise; does MAGE-ID, whose EDM has the image block to "
            "learn too, gain more? Its TabVAE is TabSyn's (mageid_train.reuse_tab_vae)",
            {"tab_vae": 2}, pair="v4_retrain"),
    Variant("v4_tabvae_steps_2x_img_latent_16",
            recipe_changes("v6"),  # v4's changes and img_vae.latent_dim 16: recipe v6 came from here
            (MAGEID_NAME,),
            "v4_tabvae_steps_2x with an image latent of 16 dimensions instead of 64 (the image branch is our "
            "choice, not the poster's): the 64 image dimensions hold ~2-3 % of the joint latent's KL (18-26 "
            "nats against ~1,000 for the tabular block; most under 0.5 nats each) yet are 28 % of NSL-KDD's "
            "joint latent; does an EDM with fewer near-empty dimensions to learn close MAGE-ID's gap to TabSyn? "
            "Cheaper than its pair (a smaller EDM input and ImageVAE head), same steps",
            {"tab_vae": 2}, pair="v4_tabvae_steps_2x"),
    Variant("v6_img_latent_8",
            {**recipe_changes("v6"), "img_vae": {**recipe_changes("v6")["img_vae"], "latent_dim": 8}},
            (MAGEID_NAME,),
            "recipe v6 (v4_tabvae_steps_2x_img_latent_16) with an image latent of 8 dimensions instead of 16: "
            "64 -> 16 gained precision, density and coverage on both sets; does halving it again gain more, or "
            "is the image branch then too small to carry anything? Same steps, a smaller model. Screened in "
            "session 32 on an AMD EPYC Zen 3 (fp32 EDM: no native bf16) against its pair's rows from a Zen 4 "
            "(bf16 EDM): the machine alone moves a row by up to ~0.02 (committed_retrain)",
            {"tab_vae": 2}, pair="v4_tabvae_steps_2x_img_latent_16"),
    Variant("img_beta_low", {"img_vae": {"beta": 1e-4}}, (MAGEID_NAME,),
            "the image VAE's KL weight 1e-3 -> 1e-4 (fewer collapsed image dimensions)"),
)
VARIANT_NAMES: tuple[str, ...] = tuple(v.name for v in VARIANTS)


def variant(name: str) -> Variant:
    """The :class:`Variant` called ``name`` (a ``KeyError`` lists the known ones)."""
    for v in VARIANTS:
        if v.name == name:
            return v
    raise KeyError(f"unknown variant {name!r}; known: {list(VARIANT_NAMES)}")


def ablation_section(profile) -> dict[str, Any]:
    """The ``mageid`` section every variant changes: ``profile["mageid"]`` with the parts that
    ``profile["mageid_fixes"]["base"]`` (``{part: {argument: value}}``, or None) names updated. A
    profile whose own budget moves keeps the ablation's old one there, so the committed rows
    keep their pairs and cache keys (:func:`row_config` resolves the parameters from this)."""
    section = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in profile["mageid"].items()}
    for part, values in (profile["mageid_fixes"].get("base") or {}).items():
        if part not in section:
            raise KeyError(f"mageid_fixes.base names part {part!r}; the mageid section has {sorted(section)}")
        section[part] = {**(section[part] or {}), **dict(values)}
    return section


def variant_section(section: Mapping[str, Any], changes: Mapping[str, Mapping[str, Any]],
                    step_factor: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The ``mageid`` section on :data:`BASE_RECIPE` with ``changes`` applied to its parts and
    their ``steps`` multiplied by ``step_factor`` where the section gives steps (new arguments
    allowed: a typo is refused by the model's own argument check, run here before any training)."""
    merged = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in section.items()}
    merged["recipe"] = BASE_RECIPE
    for part, values in changes.items():
        merged[part] = {**(merged.get(part) or {}), **dict(values)}
    for part, factor in (step_factor or {}).items():
        if (merged.get(part) or {}).get("steps") is not None:
            merged[part] = {**merged[part], "steps": int(round(int(merged[part]["steps"]) * float(factor)))}
    make_generator(merged, 0, MODALITIES[MAGEID_NAME], device="cpu", verbose=False)._check_params()
    return merged


def variant_row(mageid_set, seed: int, section: Mapping[str, Any], chosen: Variant, model_name: str,
                metric_settings: Mapping[str, Any], device: str = "auto", cache: ArtifactCache | None = None,
                verbose: bool = False, only_cached: bool = False) -> dict[str, Any] | None:
    """One row of :data:`COLUMNS` (plus ``fit_seconds``, ``sample_seconds``, ``label_agreement``):
    ``model_name`` trained with ``chosen``'s changes on ``mageid_set`` with ``seed``, scored by
    Table I's metrics; cached (models, samples and the row) when ``cache`` is given.
    ``only_cached``: None instead of training or scoring what the cache does not hold."""
    if model_name not in chosen.models:
        raise ValueError(f"variant {chosen.name!r} applies to {list(chosen.models)}, not {model_name!r}")
    changed = variant_section(section, chosen.changes, chosen.step_factor)
    config = row_config(mageid_set, seed, changed, chosen.name, model_name, metric_settings)

    if only_cached and not cached_seeds(cache, ROW_KIND, config, [seed]):
        return None

    def build() -> dict[str, Any]:
        model = train_mageid(mageid_set, seed, changed, device=device, modalities=MODALITIES[model_name],
                             cache=cache, stage=2, verbose=verbose)
        transform = None
        if chosen.keep_identities:
            transform = partial(keep_identities, identities=identities_of(mageid_set))
        row, _, _ = evaluate_model(model_name, model, mageid_set, seed, cache, transform, **metric_settings)
        return {**row, "variant": chosen.name, "train_seconds": float(row["fit_seconds"]),
                "setting": row_setting(config)}

    return cached_seed_rows(cache, ROW_KIND, config, seed, build)


def row_config(mageid_set, seed: int, changed: Mapping[str, Any], name: str, model_name: str,
               metric_settings: Mapping[str, Any]) -> dict[str, Any]:
    """The cache key of a scored row (without the seed, which :func:`cached_seed_rows` adds): the
    model's parameters as its factory resolves them from ``changed`` (so a changed default recipe
    or factory default makes another row, never an old one), the code versions of the model's
    classes (:func:`~idsynth.code_versions.code_versions`: a change to what a fit learns makes
    another row, as it makes another model), the scoring code
    (:func:`~idsynth.experiments.table_i_scoring.scoring_code_digest`), the variant's name, the
    training rows' fingerprint and the metric settings; for a variant that keeps the identities,
    the rules (so a change in how they are found makes another row)."""
    X, y = mageid_set.xy("train")
    fresh = make_generator(changed, seed, MODALITIES[model_name], device="cpu", verbose=False)
    config = {"model": model_name, "variant": name, "params": generator_params(fresh),
              "code": code_versions(fresh), "scoring": scoring_code_digest(),
              "data": {"dataset": mageid_set.name, "sha256": data_fingerprint(X, y)},
              "metrics": keyable(metric_settings)}
    if name in VARIANT_NAMES and variant(name).keep_identities:
        config["identities"] = [str(rule) for rule in identities_of(mageid_set)]
    return config


def row_setting(config: Mapping[str, Any]) -> str:
    """A row's ``setting`` column: :func:`~idsynth.experiments.seed_cache.setting_digest` of
    :func:`row_config` (every seed of one setting shares it), checked by :func:`restore_rows`."""
    return setting_digest(config)


def identities_of(mageid_set) -> list:
    """The exact linear identities among ``mageid_set``'s numeric columns in its training rows."""
    return find_identities(mageid_set.train, mageid_set.schema.numeric)


def plan(variants: Iterable[str] = VARIANT_NAMES, models: Sequence[str] = BOTH) -> list[tuple[str, str]]:
    """``[(variant, model)]`` in run order for the named variants."""
    return [(v.name, m) for v in map(variant, variants) for m in models if m in v.models]


def run_rows(sets, seeds: Sequence[int], section: Mapping[str, Any], metric_settings: Mapping[str, Any],
             variants: Iterable[str] = VARIANT_NAMES, models: Sequence[str] = BOTH, device: str = "auto",
             cache: ArtifactCache | None = None, verbose: bool = False, progress=print,
             only_cached: bool = False) -> pd.DataFrame:
    """Every (set, seed, variant, model) row, seed by seed (so a partial run holds whole seeds
    of every variant); returns them in a frame of :data:`COLUMNS` and the extra timings.
    ``only_cached``: take the rows the cache holds and name the missing ones (``progress``)
    instead of training them (a long ablation filled in the background, partly)."""
    variants = list(variants)
    rows = []
    for seed in seeds:
        for mageid_set in sets:
            for name, model_name in plan(variants, models):
                row = variant_row(mageid_set, int(seed), section, variant(name), model_name, metric_settings,
                                  device, cache, verbose, only_cached)
                if row is None:
                    if progress is not None:
                        progress(f"{mageid_set.name} seed {seed} {model_name} {name}: not in the cache, left out")
                    continue
                rows.append(row)
                if progress is not None:
                    progress(f"{mageid_set.name} seed {seed} {model_name} {name}: detectability "
                             f"{row['detectability']:.3f}, precision {row['precision']:.3f}, "
                             f"coverage {row['coverage']:.3f} (train {row['train_seconds']:.0f} s)")
    return fixes_table(rows)


def restore_rows(table: pd.DataFrame, sets, section: Mapping[str, Any], metric_settings: Mapping[str, Any],
                 cache: ArtifactCache, progress=print) -> int:
    """Put the rows of a committed ``table`` (notebook 13's ``mageid_fixes.csv``) into ``cache``
    under their keys (:func:`row_config` from ``section``, the profile's ``mageid`` section), where
    it holds none: after the cache is lost, a notebook run with ``only_cached`` then shows them
    again beside newly made rows instead of dropping them. A row the cache holds (made again by
    the current code) is kept as it is. A row whose ``setting`` (:func:`row_setting`) differs from
    the one the current code makes is not restored (it was made by other code or settings; named
    through ``progress``); a row without one (made before rows carried it) is restored with its
    ``setting`` left empty, so the table shows that it was not checked. A variant no longer known
    or a data set not in ``sets`` is refused by name before anything is written. Returns how many
    rows were restored."""
    by_name = restorable_sets(table, sets, "variant", VARIANT_NAMES, "variants")
    restored, stale = 0, []
    for record in table.drop(columns=["profile"], errors="ignore").to_dict("records"):
        chosen, seed = variant(record["variant"]), int(record["seed"])
        changed = variant_section(section, chosen.changes, chosen.step_factor)
        config = row_config(by_name[record["dataset"]], seed, changed, chosen.name, record["model"], metric_settings)
        written = record.get("setting")
        written = written if isinstance(written, str) and written else None
        if written is not None and written != row_setting(config):
            stale.append(f"{record['dataset']} {record['model']} {record['variant']} seed {seed}")
            continue
        if cached_seeds(cache, ROW_KIND, config, [seed]):
            continue
        row = {**record, "seed": seed, "fit_seconds": record.get("fit_seconds", record["train_seconds"]),
               "setting": written}
        cached_seed_rows(cache, ROW_KIND, config, seed, lambda row=row: row)
        restored += 1
    if stale and progress is not None:
        progress(f"{len(stale)} rows not restored: another setting (code, parameters or data) made them: "
                 + "; ".join(stale[:5]) + (" ..." if len(stale) > 5 else ""))
    return restored


def fixes_table(rows) -> pd.DataFrame:
    """Rows -> the long table of :data:`COLUMNS` (then ``fit_seconds``-style extras if present)."""
    rows = list(rows)
    frame = pd.DataFrame(rows, columns=None if rows else list(COLUMNS))
    missing = sorted(set(COLUMNS) - set(frame.columns))
    if missing:
        raise ValueError(f"rows lack the columns {missing}")
    extras = [c for c in ("sample_seconds", "label_agreement", "setting") if c in frame.columns]
    return frame[[*COLUMNS, *extras]].sort_values(["dataset", "model", "variant", "seed"], kind="stable",
                                                   ignore_index=True)


def _gain(metric: str, values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Improvement of ``values`` over ``reference`` (density: the distance to 1 shrinks)."""
    if metric in TARGET_ONE_METRICS:
        return np.abs(reference - 1.0) - np.abs(values - 1.0)
    return values - reference


GAIN_COLUMNS: tuple[str, ...] = (
    "dataset", "model", "variant", "metric", "n_seeds", "reference_mean", "variant_mean", "gain_mean", "gain_std",
    "beyond_noise",
)  # fmt: skip
VERSUS_COLUMNS: tuple[str, ...] = (
    "dataset", "variant", "tabsyn_variant", "n_seeds", *(f"{m}_diff" for m in METRICS), "mageid_wins",
)  # fmt: skip


def _verdict(gains: np.ndarray, alpha: float) -> Any:
    """+1 / -1 / 0: the two-sided paired t-test of ``gains`` (finite, one per seed) at level
    ``alpha``; NA with fewer than two. A spread of exactly 0 (identical gains) is no evidence
    either: it needs a gain above 1e-12 as well."""
    if len(gains) < 2:
        return pd.NA
    mean, std = float(gains.mean()), float(gains.std(ddof=1))
    bound = max(student_t.ppf(1.0 - alpha / 2.0, len(gains) - 1) * std / np.sqrt(len(gains)), 1e-12)
    return int(np.sign(mean)) if abs(mean) > bound else 0


def _same_model(row: pd.Series, other: pd.Series) -> bool:
    """Whether two rows of one seed are one fitted model scored twice under two names (equal
    training seconds and every score): e.g. ``committed_retrain`` at a seed whose committed
    model the current code trained, where the retrain is that model. Such a pair is no evidence
    of a change, nor of a retrain's noise, so :func:`paired_gains` leaves the seed out."""
    columns = ["train_seconds", *SCORED]
    return bool(np.array_equal(row[columns].to_numpy(float), other[columns].to_numpy(float), equal_nan=True))


def paired_gains(table: pd.DataFrame, reference: str = "committed", alpha: float = 0.05) -> pd.DataFrame:
    """Each variant against ``reference``, paired by seed, per (dataset, model, metric).

    Returns :data:`GAIN_COLUMNS`: ``gain`` is the per-seed improvement (higher is better;
    density: closer to 1) over the seeds where both scores are finite and the two rows are not one
    model under two names (:func:`_same_model`) (``n_seeds``; SDMetrics'
    detectability can be NaN), ``beyond_noise`` the two-sided paired t-test of the gains at level
    ``alpha`` (+1 better, -1 worse, 0 within noise; NA with fewer than two paired seeds). With
    three seeds the mean gain must exceed 4.3 standard errors (t with 2 degrees of freedom).
    Each cell is one test: over dozens of cells, about ``alpha`` of them flag by chance.
    """
    out = []
    for (dataset, model), block in table.groupby(["dataset", "model"], sort=False):
        base = block[block["variant"] == reference].set_index("seed")
        for name, rows in block[block["variant"] != reference].groupby("variant", sort=False):
            rows = rows.set_index("seed")
            seeds = [s for s in sorted(set(rows.index) & set(base.index)) if not _same_model(rows.loc[s], base.loc[s])]
            for metric in SCORED:
                mine, theirs = rows.loc[seeds, metric].to_numpy(float), base.loc[seeds, metric].to_numpy(float)
                finite = np.isfinite(mine) & np.isfinite(theirs)
                mine, theirs = mine[finite], theirs[finite]
                gains = _gain(metric, mine, theirs)
                out.append({"dataset": dataset, "model": model, "variant": name, "metric": metric,
                            "n_seeds": int(finite.sum()), "reference_mean": float(theirs.mean()) if len(theirs) else float("nan"),
                            "variant_mean": float(mine.mean()) if len(mine) else float("nan"),
                            "gain_mean": float(gains.mean()) if len(gains) else float("nan"),
                            "gain_std": float(gains.std(ddof=1)) if len(gains) > 1 else float("nan"),
                            "beyond_noise": _verdict(gains, alpha)})  # fmt: skip
    frame = pd.DataFrame(out, columns=list(GAIN_COLUMNS))
    frame["beyond_noise"] = frame["beyond_noise"].astype("Int64")
    return frame


#: The variants paired with ``committed_retrain`` (:attr:`Variant.pair`): screened since session 17,
#: after the cache was lost, they were sampled from, or trained on the VAEs of, the committed
#: recipe's retrained models (against ``committed`` their gains would also hold what a retrain
#: alone moves).
PAIRED_WITH_RETRAIN: tuple[str, ...] = tuple(v.name for v in VARIANTS if v.pair == "committed_retrain")


def gains_against_pair(table: pd.DataFrame, pair: str, alpha: float = 0.05) -> pd.DataFrame:
    """:func:`paired_gains` of the variants of ``table`` whose :attr:`Variant.pair` is ``pair``, against it."""
    names = [n for n in table["variant"].unique() if n != "committed" and variant(n).pair == pair]
    return paired_gains(table[table["variant"].isin([pair, *names])], reference=pair, alpha=alpha)


def against_retrain(table: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """:func:`paired_gains` of the :data:`PAIRED_WITH_RETRAIN` variants against ``committed_retrain``."""
    return gains_against_pair(table, "committed_retrain", alpha)


def exact_pair_gains(table: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Each variant of ``table`` against its exact pair (:attr:`Variant.pair`, by seed):
    :func:`gains_against_pair` once per pair named. What the verdict judges: against
    ``committed``, a screen of the retrained models would also carry what the retrain alone moved."""
    pairs = dict.fromkeys(variant(n).pair for n in table["variant"].unique() if n != "committed")
    frames = [gains_against_pair(table, pair, alpha) for pair in pairs]
    return pd.concat(frames, ignore_index=True) if frames else paired_gains(table.iloc[:0], alpha=alpha)


def tabsyn_counterpart(name: str) -> str:
    """The variant whose TabSyn rows stand beside MAGE-ID's rows of variant ``name``: ``name``
    where it applies to TabSyn, else the first variant up its chain of pairs that does (a change
    made on MAGE-ID's recipe v2 meets TabSyn's own recipe retrained by the same code)."""
    seen = [name]
    while TABSYN_NAME not in variant(seen[-1]).models:
        if seen[-1] == "committed" or variant(seen[-1]).pair in seen:
            raise ValueError(f"no variant up {name!r}'s chain of pairs {seen} applies to TabSyn")
        seen.append(variant(seen[-1]).pair)
    return seen[-1]


def builds_on(name: str, base: str) -> bool:
    """Whether variant ``name`` makes every change of variant ``base`` (and more): its gains
    against ``base`` are then the effect of its further changes alone."""
    mine, theirs = variant(name).changes, variant(base).changes
    return name != base and all(all(mine.get(part, {}).get(k, object()) == v for k, v in args.items())
                                for part, args in theirs.items())


def against_variant(table: pd.DataFrame, base: str, alpha: float = 0.05) -> pd.DataFrame:
    """:func:`paired_gains` of the variants that build on ``base`` (:func:`builds_on`) and were
    made by the same code (their :attr:`Variant.pair` is ``base`` or ``base``'s own pair) against
    ``base``'s rows, per model: how a change does on top of a recipe that an earlier change made
    the default (``base="latent_global"``: MAGE-ID's recipe v2 as first trained;
    ``"latent_global_retrain"``: v2 trained again by the code of the screens since session 17)."""
    same_code = {base, variant(base).pair}
    names = [v for v in table["variant"].unique() if builds_on(v, base) and variant(v).pair in same_code]
    return paired_gains(table[table["variant"].isin([base, *names])], reference=base, alpha=alpha)


VERDICT_COLUMNS: tuple[str, ...] = ("variant", "model", "better", "worse", "judged", "sets_better", "adopt")


def verdict(gains: pd.DataFrame) -> pd.DataFrame:
    """Per (variant, model): how many (data set, metric) cells of :func:`paired_gains` are better
    (``beyond_noise`` +1) or worse (-1) than the reference, of how many were ``judged``; on how
    many data sets at least one cell is better (``sets_better``); and the rule by which a change
    becomes a model's default recipe: ``adopt`` when it is better beyond noise on at least one
    set and worse beyond noise in no cell of any set (the model's other set may be unchanged:
    a change that helps where it can and costs nothing elsewhere).

    Returns :data:`VERDICT_COLUMNS`, sorted by ``better - worse`` (largest first)."""
    judged = gains.assign(better=gains["beyond_noise"].eq(1).fillna(False),
                          worse=gains["beyond_noise"].eq(-1).fillna(False),
                          judged=gains["beyond_noise"].notna())
    per_set = judged.groupby(["variant", "model", "dataset"], sort=False)[["better", "worse", "judged"]].sum()
    out = per_set.groupby(["variant", "model"], sort=False).agg(
        better=("better", "sum"), worse=("worse", "sum"), judged=("judged", "sum"),
        sets_better=("better", lambda b: int((b > 0).sum()))).reset_index()
    out["adopt"] = (out["sets_better"] >= 1) & (out["worse"] == 0)
    order = (out["better"] - out["worse"]).sort_values(ascending=False, kind="stable").index
    return out.loc[order, list(VERDICT_COLUMNS)].reset_index(drop=True)


#: Issue 16's second bar: per model, the change at the committed budget whose gains it is judged
#: by (MAGE-ID's default recipe v4; for TabSyn, v4's two EDM changes that apply to it).
EQUAL_BUDGET_CHANGES: dict[str, str] = {MAGEID_NAME: "v3_noise_label_250", TABSYN_NAME: "class_init_noise_label_250"}
#: The metrics that bar names: the fidelity side of PRDC and precision.
FIDELITY_METRICS: tuple[str, ...] = ("precision", "density", "coverage")


def equal_budget_bar(gains: pd.DataFrame, changes: Mapping[str, str] = EQUAL_BUDGET_CHANGES,
                     metrics: Sequence[str] = FIDELITY_METRICS) -> pd.DataFrame:
    """Per (dataset, model): the gains of :func:`paired_gains` (against ``committed``) of the model's
    change in ``changes`` on ``metrics``, and ``met``: each of them better beyond noise. A model
    whose change is missing from ``gains`` on a set has no row there.

    Returns ``dataset, model, variant, n_seeds`` (the fewest paired seeds over ``metrics``),
    ``<metric>_gain`` (mean over seeds), ``<metric>_beyond_noise`` (+1 / 0 / -1 / NA) and ``met``."""
    out = []
    for (dataset, model), block in gains.groupby(["dataset", "model"], sort=False):
        cells = block[(block["variant"] == changes.get(model)) & block["metric"].isin(metrics)].set_index("metric")
        if len(cells) < len(metrics):
            continue
        flags = [cells.loc[m, "beyond_noise"] for m in metrics]
        out.append({"dataset": dataset, "model": model, "variant": changes[model],
                    "n_seeds": int(cells.loc[list(metrics), "n_seeds"].min()),
                    **{f"{m}_gain": float(cells.loc[m, "gain_mean"]) for m in metrics},
                    **{f"{m}_beyond_noise": f for m, f in zip(metrics, flags)},
                    "met": all(not pd.isna(f) and f == 1 for f in flags)})
    columns = ["dataset", "model", "variant", "n_seeds", *(f"{m}_gain" for m in metrics),
               *(f"{m}_beyond_noise" for m in metrics), "met"]
    return pd.DataFrame(out, columns=columns)


def mageid_vs_tabsyn(table: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, variant): on how many of Table I's six metrics MAGE-ID's mean over seeds
    is at least TabSyn's (density: at least as close to 1), over the seeds where both have
    finite scores. TabSyn's rows are those of :func:`tabsyn_counterpart` (the same variant where
    it applies to TabSyn, else the nearest up its chain of pairs); a variant whose TabSyn rows are
    missing is left out.

    Returns :data:`VERSUS_COLUMNS`: ``<metric>_diff`` is MAGE-ID − TabSyn, ``mageid_wins`` 0-6.
    """
    out = []
    for (dataset, name), rows in table[table["model"] == MAGEID_NAME].groupby(["dataset", "variant"], sort=False):
        other = tabsyn_counterpart(name)
        tabsyn = table[(table["dataset"] == dataset) & (table["model"] == TABSYN_NAME) & (table["variant"] == other)]
        tabsyn = tabsyn.set_index("seed")
        seeds = sorted(set(rows["seed"]) & set(tabsyn.index))
        if not seeds:
            continue
        mine = rows.set_index("seed").loc[seeds]
        record = {"dataset": dataset, "variant": name, "tabsyn_variant": other, "n_seeds": len(seeds)}
        wins = 0
        for metric in METRICS:
            a, b = mine[metric].to_numpy(float), tabsyn.loc[seeds, metric].to_numpy(float)
            finite = np.isfinite(a) & np.isfinite(b)
            a_mean, b_mean = (float(a[finite].mean()), float(b[finite].mean())) if finite.any() else (np.nan, np.nan)
            wins += int(bool(_gain(metric, np.array([a_mean]), np.array([b_mean]))[0] >= 0))
            record[f"{metric}_diff"] = a_mean - b_mean
        out.append({**record, "mageid_wins": wins})
    return pd.DataFrame(out, columns=list(VERSUS_COLUMNS))


#: The columns of :func:`matched_ablation`.
MATCHED_COLUMNS: tuple[str, ...] = (
    "dataset", "metric", "mageid_variant", "tabsyn_variant", "n_seeds", "mageid_mean", "tabsyn_mean", "diff_mean",
    "diff_std", "mageid_better",
)  # fmt: skip


def matched_ablation(table: pd.DataFrame, recipes: Mapping[str, str] = EQUAL_BUDGET_CHANGES,
                     alpha: float = 0.05) -> pd.DataFrame:
    """The ablation with each model at its own measured recipe: MAGE-ID's rows of variant
    ``recipes["MAGE-ID"]`` against TabSyn's of ``recipes["TabSyn"]``, paired by seed, per (dataset,
    metric of Table I and SDMetrics' detectability). With the defaults, MAGE-ID's default recipe
    v4 against TabSyn with the two EDM changes of v4 that apply to it (which notebook 13's rule
    adopts for TabSyn): what the image modality adds when both models get the changes each
    one's own measurements chose (:func:`mageid_vs_tabsyn` meets MAGE-ID's recipes with TabSyn's
    committed one).

    Returns :data:`MATCHED_COLUMNS`: ``diff`` = MAGE-ID − TabSyn per seed where both are finite
    (density: as :func:`_gain`, the distance to 1 that MAGE-ID saves), ``mageid_better`` the
    two-sided paired t-test at ``alpha`` (+1 MAGE-ID better, -1 worse, 0 within noise, NA under
    two seeds)."""
    # the two models' rows as two variants of one model, so paired_gains pairs and tests them
    sides = {MAGEID_NAME: "mageid", TABSYN_NAME: "tabsyn"}
    chosen = table[[recipes.get(m) == v for m, v in zip(table["model"], table["variant"])]]
    both = chosen.assign(variant=chosen["model"].map(sides), model="matched")
    both = both[both.groupby("dataset")["variant"].transform("nunique") == 2]
    gains = paired_gains(both, reference="tabsyn", alpha=alpha)
    frame = gains.rename(columns={"variant_mean": "mageid_mean", "reference_mean": "tabsyn_mean",
                                  "gain_mean": "diff_mean", "gain_std": "diff_std", "beyond_noise": "mageid_better"})
    frame = frame.assign(mageid_variant=recipes[MAGEID_NAME], tabsyn_variant=recipes[TABSYN_NAME])
    return frame[list(MATCHED_COLUMNS)].reset_index(drop=True)


def cli_sets(parser: argparse.ArgumentParser, profile, names: Sequence[str] | None, data_dir=None) -> list:
    """The MAGE-ID sets at ``profile``'s sizes called ``names`` (None: both), for a command line:
    an unknown name ends it through ``parser.error``, naming the known ones."""
    from ..data.mageid_sets import build_mageid_sets

    sets = build_mageid_sets(n_rows=profile["mageid_data"]["n_rows"], seed=0, data_dir=data_dir)
    unknown = sorted(set(names or ()) - {s.name for s in sets})
    if unknown:
        parser.error(f"unknown data sets {unknown}; known: {[s.name for s in sets]}")
    return [s for s in sets if not names or s.name in names]


def main(argv: Sequence[str] | None = None) -> None:
    """Fill the cache with the ablation's rows (the notebook then only reads them)."""
    from ..config import get_profile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--datasets", nargs="+", default=None, help="set names (default: both)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANT_NAMES), choices=VARIANT_NAMES)
    parser.add_argument("--models", nargs="+", default=list(BOTH), choices=BOTH)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--restore-from", type=Path, default=None,
                        help="a committed mageid_fixes.csv: put its rows into the cache where it has none, train nothing")
    args = parser.parse_args(argv)
    profile = get_profile(args.profile)
    sets = cli_sets(parser, profile, args.datasets, args.data_dir)
    section = ablation_section(profile)
    if args.restore_from is not None:
        table = pd.read_csv(args.restore_from)
        table = table[table["dataset"].isin([s.name for s in sets])]
        count = restore_rows(table, sets, section, dict(profile["table_i"]), ArtifactCache())
        print(f"restored {count} of {len(table)} rows from {args.restore_from} (the others were in the cache)")
        return
    run_rows(sets, args.seeds, section, dict(profile["table_i"]), args.variants, args.models, device=args.device,
             cache=ArtifactCache(), progress=lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
