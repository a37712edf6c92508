"""MAGE-ID's recipes as Table 6 over-samplers: does a recipe chosen for fidelity cost utility?

Notebook 13 adopts a recipe (:data:`~idsynth.models.mageid.MAGEID_RECIPES`) by Table I fidelity
on the 24,000-row MAGE-ID sets; a user who over-samples their own flows cares about what the
balanced set does for classifiers. This module refits MAGE-ID on KDDTrain+ under several recipes
(the cached fit of the default is shared with notebook 11's Table 6 row), over-samples, scores the
four classifiers on KDDTest+ exactly as :func:`~idsynth.experiments.cross_eval.run_generator_oversampling`
does for Table 6, and compares each recipe with the default, paired by seed.

- :func:`section_recipe`: the recipe a profile builds (the reference);
- :func:`recipes_to_run`: the recipes a run compares (validated; the reference first), each a
  recipe or a recipe's model sampled with classifier-free guidance (:func:`parse_label`);
- :func:`run_recipes`: Table 6 rows per recipe (long form, a ``recipe`` column);
- :func:`recipe_summary`: per recipe, the four-classifier average over seeds, and minority recall;
- :func:`recipe_paired`: each recipe against the reference, paired by seed (four-classifier
  average), with :func:`~idsynth.experiments.vgm_oversample.paired_comparison`'s test;
- :func:`recipe_agreement`: do each recipe's rows belong to the class they were drawn for
  (:mod:`idsynth.metrics.label_agreement`: a forest trained on real KDDTrain+ rows reads them,
  beside real rows and real rows through the recipe's autoencoders)? :func:`agreement_summary`
  puts it one row per recipe and source.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..cache import ArtifactCache, array_digest
from ..metrics.label_agreement import AGREEMENT_COLUMNS, RealRowsReader
from ..models.mageid import MAGEID_RECIPE, MAGEID_RECIPES
from ..tables import mean_pm_std, summarise
from .cross_eval import (
    fit_table6_generator, generator_setting, run_generator_oversampling, table6_data, table6_factories,
    table6_generator_config,
    table6_training_frame,
)
from .seed_cache import cached_seed_rows
from .vgm_oversample import paired_comparison

#: The four-classifier averages compared (Table 6's columns, then the two classes over-sampling
#: is for: KDDTest+ recall of R2L and U2R).
RECIPE_METRICS: tuple[str, ...] = ("accuracy", "f1_weighted", "f1_macro", "recall_R2L", "recall_U2R")
#: :func:`recipe_paired`'s columns.
PAIRED_COLUMNS: tuple[str, ...] = ("metric", "reference", "recipe", "reference_mean", "recipe_mean", "gain_mean",
                                   "gain_std", "n_seeds", "recipe_wins", "p_value", "beyond_noise")


def section_recipe(mageid_section: Mapping[str, Any]) -> str:
    """The recipe a profile's ``mageid`` section builds (its ``recipe``, else :data:`MAGEID_RECIPE`),
    as the registry's MAGE-ID factory reads it."""
    return str(mageid_section.get("recipe", MAGEID_RECIPE))


def parse_label(label: str) -> tuple[str, float | None]:
    """A recipe label, ``"<recipe>"`` or ``"<recipe> guidance <w>"`` (the recipe's model sampled with
    classifier-free guidance of weight ``w`` > 0, w != 1: the same trained model, another sampler),
    as ``(recipe, w or None)``. Raises ``ValueError`` naming what was expected."""
    parts = str(label).split()
    guidance = None
    if len(parts) == 3 and parts[1] == "guidance":
        try:
            guidance = float(parts[2])
        except ValueError:
            guidance = float("nan")
    if not (len(parts) == 1 or guidance is not None) or parts[0] not in MAGEID_RECIPES or (
            guidance is not None and not (guidance > 0 and guidance != 1)):
        raise ValueError(f"a recipe label is '<recipe>' or '<recipe> guidance <w>' with a recipe among "
                         f"{sorted(MAGEID_RECIPES)} and w > 0, w != 1; got {label!r}")  # fmt: skip
    return parts[0], guidance


def recipes_to_run(requested: Sequence[str], reference: str = MAGEID_RECIPE,
                   with_reference: bool = True) -> tuple[str, ...]:
    """``requested`` recipe labels (:func:`parse_label`), validated, with ``reference`` first
    (added when missing; with ``with_reference=False`` only where requested: a process that runs
    some of a seed's recipes while another runs the reference). Raises ``ValueError`` naming what
    was expected: a list (not one string) of distinct labels; the reference a recipe of
    :data:`MAGEID_RECIPES`."""
    if isinstance(requested, str):
        raise ValueError(f"mageid_recipes must be a list of recipe labels, got the string {requested!r}")
    requested = tuple(requested)
    if reference not in MAGEID_RECIPES:
        raise ValueError(f"the reference must be a recipe among {sorted(MAGEID_RECIPES)}, got {reference!r}")
    for label in requested:
        parse_label(label)
    if len(set(requested)) != len(requested):
        raise ValueError(f"mageid_recipes must be distinct labels, got {list(requested)}")
    if not with_reference and reference not in requested:
        return requested
    return (reference, *(label for label in requested if label != reference))


def recipe_factories(mageid_section: Mapping[str, Any], tabddpm_section: Mapping[str, Any],
                     labels: Sequence[str], device: str = "auto",
                     verbose: bool = False) -> dict[str, Callable[[int], Any]]:
    """``{label: seed -> unfitted MAGE-ID}``: notebook 11's MAGE-ID factory
    (:func:`~idsynth.experiments.cross_eval.table6_factories`) with the section's ``recipe``
    replaced (and its EDM's ``guidance`` where the label names one, :func:`parse_label`), so the
    default recipe's fit is the one Table 6 caches, and a guided label samples that same fit."""
    out = {}
    for label in labels:
        recipe, guidance = parse_label(label)
        section = {**mageid_section, "recipe": recipe}
        if guidance is not None:
            section["edm"] = {**dict(section.get("edm") or {}), "guidance": guidance}
        out[label] = table6_factories(section, tabddpm_section, device=device, verbose=verbose,
                                      names=("MAGE-ID",))["MAGE-ID"]  # fmt: skip
    return out


def run_recipes(data, seeds: Sequence[int], factories: Mapping[str, Callable[[int], Any]],
                **options: Any) -> dict[str, pd.DataFrame]:
    """Table 6 rows of MAGE-ID under each recipe of ``factories`` (``{recipe: seed -> generator}``).

    Each recipe is one :func:`~idsynth.experiments.cross_eval.run_generator_oversampling` call
    (method ``"MAGE-ID"``, so cached fits and seed rows are shared with notebook 11); ``options``
    go to it. Returns ``{"scores", "recall", "samplers"}``, each with a ``recipe`` column after
    ``method`` (scores and recall keep their ``setting``: the fitted model's digest).
    """
    if not factories:
        raise ValueError("factories must name at least one recipe")
    parts: dict[str, list[pd.DataFrame]] = {"scores": [], "recall": [], "samplers": []}
    for recipe, make in factories.items():
        run = run_generator_oversampling(data, seeds, {"MAGE-ID": make}, **options)
        for name in parts:
            frame = getattr(run, name)
            parts[name].append(frame.assign(recipe=recipe)[["method", "recipe", *frame.columns.drop("method")]])
    return {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}


def per_classifier(scores: pd.DataFrame, recall: pd.DataFrame) -> pd.DataFrame:
    """One row per (recipe, classifier, seed) with each of :data:`RECIPE_METRICS` (the R2L and
    U2R recall from ``recall``'s long form)."""
    keys = ["recipe", "classifier", "seed"]
    minority = recall[recall["class"].isin(["R2L", "U2R"])]
    minority = minority.pivot_table(index=keys, columns="class", values="recall", aggfunc="mean")
    joined = scores.set_index(keys)[["accuracy", "f1_weighted", "f1_macro"]].join(minority.add_prefix("recall_"))
    return joined.reset_index()[[*keys, *RECIPE_METRICS]]


def per_seed_average(scores: pd.DataFrame, recall: pd.DataFrame) -> pd.DataFrame:
    """One row per (recipe, seed): the mean over the classifiers of each of :data:`RECIPE_METRICS`."""
    frame = per_classifier(scores, recall)
    return frame.groupby(["recipe", "seed"], sort=False, as_index=False)[list(RECIPE_METRICS)].mean()


def recipe_summary(scores: pd.DataFrame, recall: pd.DataFrame) -> pd.DataFrame:
    """Per recipe, mean, std and seed count of each of :data:`RECIPE_METRICS` (the
    four-classifier average of each seed), in the order the recipes first appear."""
    order = list(dict.fromkeys(scores["recipe"]))
    summary = summarise(per_seed_average(scores, recall), by=["recipe"], values=list(RECIPE_METRICS))
    return summary.set_index("recipe").loc[order].reset_index()


def recipe_paired(scores: pd.DataFrame, recall: pd.DataFrame, reference: str, alpha: float = 0.05) -> pd.DataFrame:
    """Each recipe against ``reference`` on each of :data:`RECIPE_METRICS`, paired by seed.

    The four-classifier average of each seed is compared (:func:`per_seed_average`). Columns:
    ``metric, reference, recipe, reference_mean, recipe_mean, gain_mean`` (recipe − reference,
    > 0: the recipe is better), ``gain_std``, ``n_seeds``, ``recipe_wins`` (seeds where the recipe
    is strictly better), ``p_value`` (two-sided paired t-test; NaN with fewer than two seeds) and
    ``beyond_noise`` (p_value < alpha)."""
    frame = per_classifier(scores, recall).rename(columns={"recipe": "method"})
    if reference not in set(frame["method"]):
        raise ValueError(f"reference recipe {reference!r} has no rows; recipes: {sorted(set(frame['method']))}")
    per_seed = per_seed_average(scores, recall)
    means = per_seed.groupby("recipe")[list(RECIPE_METRICS)].mean()
    rows = []
    for metric in RECIPE_METRICS:
        # reference − recipe per classifier and for the classifiers' per-seed "Average"; the latter kept
        test = paired_comparison(frame, metric, reference, alpha)
        for row in test[test["classifier"] == "Average"].itertuples(index=False):
            rows.append({"metric": metric, "reference": reference, "recipe": row.method,
                         "reference_mean": float(means.loc[reference, metric]),
                         "recipe_mean": float(means.loc[row.method, metric]), "gain_mean": -row.mean_diff,
                         "gain_std": row.std_diff, "n_seeds": row.n_seeds,
                         "recipe_wins": _wins(per_seed, metric, reference, row.method), "p_value": row.p_value,
                         "beyond_noise": bool(row.p_value < alpha)})  # fmt: skip
    return pd.DataFrame(rows, columns=list(PAIRED_COLUMNS))


def _wins(per_seed: pd.DataFrame, metric: str, reference: str, recipe: str) -> int:
    wide = per_seed.pivot_table(index="seed", columns="recipe", values=metric).dropna(subset=[reference, recipe])
    return int((wide[recipe] > wide[reference]).sum())


#: The ``recipe`` of :func:`recipe_agreement`'s reference rows (real rows the forest did not see).
REAL_HELD_OUT = "real rows (held out)"
#: The forest that reads the drawn rows (:class:`~idsynth.metrics.label_agreement.RealRowsReader`).
READER_SETTINGS: dict[str, Any] = {"held_out": 0.2, "n_estimators": 100, "random_state": 0}
#: :func:`recipe_agreement`'s ``source`` values: the held-out real rows, rows drawn for each class,
#: and the held-out real rows encoded and decoded by the recipe's fitted autoencoders.
SOURCES: tuple[str, ...] = ("real", "drawn", "autoencoded")
#: :func:`recipe_agreement`'s columns.
RECIPE_AGREEMENT_COLUMNS: tuple[str, ...] = ("recipe", "seed", "source", *AGREEMENT_COLUMNS, "decoded_agreement")


def recipe_agreement(data, seeds: Sequence[int], factories: Mapping[str, Callable[[int], Any]], n_per_class: int,
                     cache: ArtifactCache | None = None) -> pd.DataFrame:
    """Per recipe of ``factories``, seed and class: do the rows of that seed's fitted MAGE-ID
    (loaded from ``cache``, where :func:`run_recipes` left it; fitted otherwise) belong to the
    class they stand for?

    A random forest (:data:`READER_SETTINGS`) trained on 80 % of the encoded KDDTrain+ rows
    (``data.X_train``, stratified) reads (:class:`RealRowsReader`), by ``source``:

    - ``"real"``: the other 20 % (``recipe`` :data:`REAL_HELD_OUT`, seed
      ``READER_SETTINGS["random_state"]``): the ceiling;
    - ``"drawn"``: ``n_per_class`` rows drawn for each class;
    - ``"autoencoded"`` (a generator with ``encode`` / ``decode``, MAGE-ID): the held-out real rows
      through its autoencoders (posterior means, decoded): what its decoder can give a class at
      best, whatever the EDM draws.

    Columns :data:`RECIPE_AGREEMENT_COLUMNS`; ``decoded_agreement``: for MAGE-ID, the share of
    the class's rows whose label column the TabVAE decoded as the class (does the latent carry
    the class?), NaN otherwise and for the real rows. Each (recipe, seed, source)'s rows are
    cached (kinds "table6_recipe_agreement_seed" and "table6_recipe_autoencoded_seed", keyed by
    the generator's setting, ``n_per_class``, the forest and the data); the forest is fitted only
    when some are missing.
    """
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be at least 1, got {n_per_class}")
    X, y = table6_training_frame(data)
    labels = sorted(np.unique(y).tolist())
    names = {label: str(data.classes[label]) for label in labels}
    base = {"reader": READER_SETTINGS, "train": array_digest(data.X_train, data.y_train), "n_per_class": int(n_per_class),
            "class_names": [names[k] for k in labels], "columns": "decoded_agreement"}  # fmt: skip
    reader: list[RealRowsReader] = []

    def read_with() -> RealRowsReader:
        if not reader:
            reader.append(RealRowsReader(data.X_train, data.y_train, names, **READER_SETTINGS))
        return reader[0]

    def read(frame: pd.DataFrame, y_rows: np.ndarray, decoded: np.ndarray | None) -> list[dict]:
        rows = read_with().read(data.encoder.transform(frame), y_rows)
        rows["decoded_agreement"] = [float(np.mean(decoded[y_rows == label] == label)) if decoded is not None
                                     else float("nan") for label in sorted(np.unique(y_rows).tolist())]  # fmt: skip
        return rows.to_dict("records")

    def drawn(make: Callable[[int], Any], seed: int) -> list[dict]:
        generator, _ = fit_table6_generator("MAGE-ID", make, X, y, seed, cache)
        counts = {label: int(n_per_class) for label in labels}
        if hasattr(generator, "generate"):  # MAGE-ID: also the label column its TabVAE decoded
            result = generator.generate(counts, random_state=int(seed))
            return read(result.frame, result.y, result.decoded_label)
        frame, y_drawn = generator.sample(counts, random_state=int(seed))
        return read(frame, y_drawn, None)

    def autoencoded(make: Callable[[int], Any], seed: int) -> list[dict]:
        generator, _ = fit_table6_generator("MAGE-ID", make, X, y, seed, cache)
        held = read_with().held_index_
        frame, _, decoded = generator.decode(generator.encode(X.iloc[held], y[held]))
        return read(frame, y[held], decoded)

    real = {**base, "rows": "held out"}
    parts = [pd.DataFrame(cached_seed_rows(cache, "table6_recipe_agreement_seed", real, READER_SETTINGS["random_state"],
                                           lambda: read_with().reference().to_dict("records")))
             .assign(recipe=REAL_HELD_OUT, seed=READER_SETTINGS["random_state"], source="real")]  # fmt: skip
    for recipe, make in factories.items():
        for seed in seeds:
            fresh = make(int(seed))
            config = {**base, "generator": generator_setting(table6_generator_config("MAGE-ID", fresh, X, y, int(seed)))}
            kinds = {"drawn": ("table6_recipe_agreement_seed", drawn)}
            if hasattr(fresh, "encode") and hasattr(fresh, "decode"):
                kinds["autoencoded"] = ("table6_recipe_autoencoded_seed", autoencoded)
            for source, (kind, build) in kinds.items():
                rows = cached_seed_rows(cache, kind, config, int(seed),
                                        lambda build=build, make=make, seed=seed: build(make, int(seed)))  # fmt: skip
                parts.append(pd.DataFrame(rows).assign(recipe=recipe, seed=int(seed), source=source))
    return pd.concat(parts, ignore_index=True)[list(RECIPE_AGREEMENT_COLUMNS)]


def agreement_summary(agreement: pd.DataFrame) -> pd.DataFrame:
    """:func:`recipe_agreement`'s rows as one row per (recipe, source) (in their order) and one
    column per class (in their order): ``"mean ± std"`` of the agreement over seeds (the mean
    alone for one)."""
    keys = list(dict.fromkeys(zip(agreement["recipe"], agreement["source"])))
    classes = list(dict.fromkeys(agreement["class"]))
    stats = agreement.groupby(["recipe", "source", "class"])["agreement"].agg(["mean", "std", "count"])
    text = {key: (mean_pm_std(m, s, 3) if n > 1 else f"{m:.3f}") for key, (m, s, n) in stats.iterrows()}
    return pd.DataFrame([[r, src, *(text[(r, src, c)] for c in classes)] for r, src in keys],
                        columns=["recipe", "source", *classes])


#: :func:`main`'s tables (in ``figures_dir(profile)/tables``): one row per recipe, classifier and
#: seed, and each recipe against the reference paired by seed. Notebook 11 section 2's own tables
#: (``table6_mageid_recipes*``) are left as that notebook wrote them.
SCREEN_TABLE = "table6_mageid_recipes_screen"
SCREEN_PAIRED_TABLE = "table6_mageid_recipes_screen_paired"


def screen_rows(scores: pd.DataFrame, recall: pd.DataFrame) -> pd.DataFrame:
    """:func:`per_classifier`'s rows with each fitted model's ``setting`` (its cache digest)."""
    setting = scores.drop_duplicates("recipe").set_index("recipe")["setting"]
    frame = per_classifier(scores, recall)
    return frame.assign(setting=frame["recipe"].map(setting))


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: notebook 11 section 2's Table 6 reading of MAGE-ID's recipes outside the notebook,
    so that seeds can run as separate processes (one per core), each filling the cache::

        python -m idsynth.experiments.recipe_utility --profile cpu --recipes v4 --seeds 0 --n-jobs 1
        python -m idsynth.experiments.recipe_utility --profile cpu --recipes v4 --seeds 1 --n-jobs 1
        python -m idsynth.experiments.recipe_utility --profile cpu --recipes v4 --seeds 0 1 --write

    The reference (the recipe the profile builds) runs too, unless ``--without-reference`` (one
    seed's recipes split over two processes: ``--recipes v6 --seeds 2`` beside ``--recipes v4
    --seeds 2 --without-reference``). ``--write`` puts :data:`SCREEN_TABLE`
    and :data:`SCREEN_PAIRED_TABLE` into the profile's figures folder (the seeds' rows come from the
    cache when earlier processes made them)."""
    import argparse

    from ..config import figures_dir, get_profile
    from ..tables import write_table

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--recipes", nargs="+", required=True, help='labels beside the reference ("v4", "v4 guidance 2")')
    parser.add_argument("--seeds", nargs="+", type=int, required=True)
    parser.add_argument("--n-jobs", type=int, default=1, help="classifier fits in parallel (default 1: one core)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--without-reference", action="store_true",
                        help="run only the named recipes (another process runs the reference); not with --write")
    parser.add_argument("--write", action="store_true", help="write the screen's tables (profile's figures folder)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars for the fits (a runtime setting: same keys)")
    args = parser.parse_args(argv)
    if args.without_reference and args.write:
        parser.error("--write compares each recipe with the reference: run it without --without-reference")
    profile = get_profile(args.profile)
    section = profile["cross_eval"]
    reference = section_recipe(profile["mageid"])
    recipes = recipes_to_run(args.recipes, reference, with_reference=not args.without_reference)
    data = table6_data(profile, args.data_dir)  # notebook 11's rows (its base seed 0)
    made = recipe_factories(profile["mageid"], profile["tabddpm"], recipes, device=args.device, verbose=not args.quiet)
    run = run_recipes(data, args.seeds, made, n_jobs=args.n_jobs, mlp_backend=section["table6"]["mlp_backend"],
                      device=args.device, cache=ArtifactCache(), verbose=True)
    scores, recall = run["scores"], run["recall"]
    summary = recipe_summary(scores, recall)
    print(summary.to_string(index=False))
    if len(args.seeds) > 1 and reference in recipes:
        paired = recipe_paired(scores, recall, reference)
        print(paired.to_string(index=False))
    if args.write:
        out = figures_dir(profile)
        write_table(screen_rows(scores, recall), SCREEN_TABLE, out, markdown=summary,
                    title=f"MAGE-ID's recipes as Table 6 over-samplers (seeds {args.seeds}; the four-classifier average)")
        if len(args.seeds) > 1:
            write_table(paired, SCREEN_PAIRED_TABLE, out,
                        title=f"MAGE-ID's recipes against {reference} on Table 6, paired by seed")


if __name__ == "__main__":
    main()
