"""What stage 1 allows stage 2: Table I's scores of real rows passed through a fitted TabVAE
(issue 16; notebook 13).

MAGE-ID and TabSyn generate a row by sampling a latent from the EDM and decoding it with the
TabVAE. The EDM is trained on the TabVAE's posterior means of the real training rows, so the
best it can do is to give back latents distributed as those; decoded, they are the TabVAE's
reconstructions of the real rows. Scored like a synthetic set, those reconstructions are the
*ceiling* of the pair: what a perfect stage 2 would reach with this stage 1. The gap between a
model's row and its ceiling says which stage limits it: a row far below a high ceiling is the
EDM's to close, a low ceiling the TabVAE's.

MAGE-ID's rows are decoded by the same TabVAE as TabSyn's (the ablation shares it; the image
latent is not decoded into the row), so one ceiling per set and seed serves both.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..cache import ArtifactCache
from ..runs import data_fingerprint
from .mageid_eval import MAGEID_NAME, TABSYN_NAME
from .mageid_train import is_cached, make_generator, train_mageid
from .seed_cache import cached_seed_rows, cached_seeds, restorable_sets
from .table_i import METRICS, SDMETRICS, evaluate_synthetic, keyable, scoring_code_digest

#: The cache kind of a scored ceiling row.
ROW_KIND = "mageid_ceiling_row"
#: Which real rows are autoencoded: ``train`` (the rows the EDM learns from; scored against
#: themselves at equal counts, like a generated twin) and ``test`` (held out from both stages).
SPLITS: tuple[str, ...] = ("train", "test")
#: The columns of ``mageid_ceiling.csv`` (``profile`` is added by ``write_table``); ``tab_vae``
#: names whose TabVAE it is (the caller's label: ``committed``, or a variant that trains its own).
COLUMNS: tuple[str, ...] = ("dataset", "seed", "tab_vae", "split", *METRICS, SDMETRICS)
#: The columns of :func:`stage2_share`.
SHARE_COLUMNS: tuple[str, ...] = (
    "dataset", "model", "variant", "tab_vae", "metric", "n_seeds", "ceiling_mean", "generated_mean", "gap_mean", "share_mean",
)  # fmt: skip
_TABULAR: tuple[str, ...] = ("tabular",)


def autoencoded_rows(model, mageid_set, split: str = "train") -> tuple[pd.DataFrame, np.ndarray]:
    """The real ``split`` rows of ``mageid_set`` encoded by ``model``'s TabVAE to their posterior
    means and decoded: ``(typed frame (n, len(features)) in raw units, labels (n,) the real
    ones)``. ``model``: a :class:`~idsynth.models.mageid.MAGEID` fitted at least to stage 1.
    Rows holding a category the model never saw (a few test rows) have no latent and are left
    out, so ``n`` is the split's rows less those."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    samples = model.paired(*mageid_set.xy(split), drop_unknown=True)
    frame, _, _ = model.decode(model.encode_samples(samples))
    labels = np.asarray(model.classes_)[np.asarray(samples.y)]
    return frame[mageid_set.features].reset_index(drop=True), labels.astype(np.int64)


def ceiling_config(mageid_set, seed: int, section: Mapping[str, Any], split: str,
                   metric_settings: Mapping[str, Any]) -> dict[str, Any]:
    """The cache key of a ceiling row (without the seed): the stage-1 parameters of the TabVAE
    that ``section`` (a profile's ``mageid`` section) makes, the split, the training rows'
    fingerprint, the metric settings and the scoring code."""
    X, y = mageid_set.xy("train")
    fresh = make_generator(section, seed, _TABULAR, device="cpu", verbose=False)
    return {"stage1": keyable(fresh.key_params(1)), "split": split,
            "data": {"dataset": mageid_set.name, "sha256": data_fingerprint(X, y)},
            "metrics": keyable(dict(metric_settings)), "scoring": scoring_code_digest()}


def ceiling_row(mageid_set, seed: int, section: Mapping[str, Any], metric_settings: Mapping[str, Any],
                split: str = "train", device: str = "auto", cache: ArtifactCache | None = None,
                only_cached: bool = False, tab_vae: str = "committed") -> dict[str, Any] | None:
    """One row of :data:`COLUMNS`: Table I's metrics (``metric_settings``: the profile's
    ``table_i`` section) of :func:`autoencoded_rows` of the TabVAE that ``section`` trains on
    ``mageid_set`` with ``seed`` (the model is loaded from ``cache``, or trained). Cached (keyed
    by the TabVAE's parameters; ``tab_vae``, the label it is shown under, is not part of the key).
    ``only_cached``: None instead of training a TabVAE the cache does not hold."""
    config = ceiling_config(mageid_set, seed, section, split, metric_settings)

    def build() -> dict[str, Any]:
        model = train_mageid(mageid_set, seed, section, device=device, modalities=_TABULAR, cache=cache, stage=1,
                             verbose=False)
        frame, y = autoencoded_rows(model, mageid_set, split)
        scores = evaluate_synthetic(mageid_set, frame, y, int(seed), **dict(metric_settings))
        return {"dataset": mageid_set.name, "seed": int(seed), "split": split,
                **{m: float(scores[m]) for m in (*METRICS, SDMETRICS)}}

    if only_cached and not cached_seeds(cache, ROW_KIND, config, [seed]) \
            and not is_cached(mageid_set, seed, section, _TABULAR, cache, stage=1):
        return None
    return {**cached_seed_rows(cache, ROW_KIND, config, seed, build), "tab_vae": tab_vae}


def restore_rows(table: pd.DataFrame, sets, sections: Mapping[str, Mapping[str, Any]],
                 metric_settings: Mapping[str, Any], cache: ArtifactCache) -> int:
    """Put the rows of a committed ``table`` (notebook 13's ``mageid_ceiling.csv``) into ``cache``
    under their keys (:func:`ceiling_config`; ``sections``: ``{tab_vae label: mageid section}``,
    the section that trains each labelled TabVAE), where it holds none: after the cache is lost a
    rerun with ``only_cached`` shows them again instead of dropping them, and a TabVAE trained
    again under the same key (e.g. by a later variant) is not rescored over the committed row. A
    row the cache holds is kept as it is. A label not in ``sections`` or a data set not in
    ``sets`` is refused by name before anything is written. Returns how many were restored."""
    by_name = restorable_sets(table, sets, "tab_vae", sorted(sections), "TabVAEs")
    restored = 0
    for record in table.drop(columns=["profile"], errors="ignore").to_dict("records"):
        seed = int(record["seed"])
        config = ceiling_config(by_name[record["dataset"]], seed, sections[record["tab_vae"]], record["split"],
                                metric_settings)
        if cached_seeds(cache, ROW_KIND, config, [seed]):
            continue
        row = {k: v for k, v in record.items() if k != "tab_vae"} | {"seed": seed}
        cached_seed_rows(cache, ROW_KIND, config, seed, lambda row=row: row)
        restored += 1
    return restored


def ceiling_table(rows) -> pd.DataFrame:
    """Rows of :func:`ceiling_row` -> a frame of :data:`COLUMNS`, sorted."""
    frame = pd.DataFrame(list(rows), columns=list(COLUMNS))
    return frame.sort_values(["dataset", "tab_vae", "split", "seed"], kind="stable", ignore_index=True)


def stage2_share(fixes: pd.DataFrame, ceiling: pd.DataFrame, variants=("committed_retrain",),
                 models=(MAGEID_NAME, TABSYN_NAME), metrics=("detectability", SDMETRICS, "precision", "recall",
                                                             "density", "coverage"),
                 tab_vae: str = "committed") -> pd.DataFrame:
    """How much of its ceiling each generated row reaches, paired by set and seed.

    fixes: rows of notebook 13 (``dataset, model, variant, seed`` and the metrics); ceiling:
    :func:`ceiling_table` rows (its ``train`` split of the TabVAE labelled ``tab_vae`` is used:
    the rows the EDM learns from).
    For each (set, model, variant, metric): the means over the seeds both have of the ceiling,
    the generated value, ``gap`` = ceiling − generated and ``share`` = generated / ceiling (1:
    stage 2 gives back all that stage 1 allows; above 1 is possible, e.g. recall). Pairs exist
    only where the variant's model was trained on the TabVAE the ceiling was scored with, i.e.
    the same recipe's stage 1 and seed: the callers pass such variants."""
    train = ceiling[(ceiling["split"] == "train") & (ceiling["tab_vae"] == tab_vae)].set_index(["dataset", "seed"])
    out = []
    chosen = fixes[fixes["variant"].isin(list(variants)) & fixes["model"].isin(list(models))]
    for (dataset, model, name), rows in chosen.groupby(["dataset", "model", "variant"], sort=False):
        rows = rows.set_index("seed")
        seeds = sorted(s for s in rows.index if (dataset, s) in train.index)
        if not seeds:
            continue
        for metric in metrics:
            generated = rows.loc[seeds, metric].to_numpy(float)
            top = train.loc[[(dataset, s) for s in seeds], metric].to_numpy(float)
            out.append({"dataset": dataset, "model": model, "variant": name, "tab_vae": tab_vae, "metric": metric,
                        "n_seeds": len(seeds), "ceiling_mean": float(top.mean()),
                        "generated_mean": float(generated.mean()), "gap_mean": float((top - generated).mean()),
                        "share_mean": float((generated / top).mean())})
    return pd.DataFrame(out, columns=list(SHARE_COLUMNS))


#: The columns of :func:`ceiling_spread`.
SPREAD_COLUMNS: tuple[str, ...] = (
    "dataset", "tab_vae", "split", "metric", "n_seeds", "mean", "std", "min", "min_seed", "vs_committed_mean",
    "vs_committed_min",
)  # fmt: skip


def ceiling_spread(ceiling: pd.DataFrame, metrics=("detectability", SDMETRICS, "precision", "recall", "density",
                                                   "coverage")) -> pd.DataFrame:
    """How much each TabVAE's ceiling moves with the seed, and against the committed TabVAE's.

    ceiling: :func:`ceiling_table` rows. For each (set, ``tab_vae`` label, split, metric): the
    seeds' count, mean, sample standard deviation (NaN for one seed), the lowest value and its
    seed; ``vs_committed_mean`` / ``vs_committed_min``: the mean and the lowest of (this TabVAE −
    the committed TabVAE) over the seeds both have (NaN where none, and 0 for ``committed``
    itself). A TabVAE that steadies stage 1 raises ``min`` more than ``mean``. A NaN score
    (SDMetrics' detectability, where a category is unknown to it) leaves its seed out of that
    metric; a metric NaN in every seed has NaN values and no ``min_seed``."""
    out = []
    committed = ceiling[ceiling["tab_vae"] == "committed"].set_index(["dataset", "split", "seed"])
    for (dataset, label, split), rows in ceiling.groupby(["dataset", "tab_vae", "split"], sort=True):
        rows = rows.set_index("seed").sort_index()
        paired = [s for s in rows.index if (dataset, split, s) in committed.index]
        for metric in metrics:
            values = rows[metric].astype(float).dropna()
            diff = values.reindex(paired).to_numpy() - committed.loc[[(dataset, split, s) for s in paired], metric].to_numpy(float)
            diff = diff[np.isfinite(diff)]
            out.append({"dataset": dataset, "tab_vae": label, "split": split, "metric": metric,
                        "n_seeds": len(values), "mean": float(values.mean()) if len(values) else float("nan"),
                        "std": float(values.std(ddof=1)) if len(values) > 1 else float("nan"),
                        "min": float(values.min()) if len(values) else float("nan"),
                        "min_seed": int(values.idxmin()) if len(values) else pd.NA,
                        "vs_committed_mean": float(diff.mean()) if len(diff) else float("nan"),
                        "vs_committed_min": float(diff.min()) if len(diff) else float("nan")})
    frame = pd.DataFrame(out, columns=list(SPREAD_COLUMNS))
    frame["min_seed"] = frame["min_seed"].astype("Int64")
    return frame


def tab_vae_sections(section: Mapping[str, Any], labels) -> dict[str, dict[str, Any]]:
    """``{label: mageid section}`` for ceiling ``labels``: ``committed`` (``section`` on the
    ablation's base recipe) or the name of a notebook-13 variant, whose changes and step factors
    make its TabVAE (any variant is accepted; one that leaves the TabVAE alone gives the
    committed TabVAE's ceiling under its own name). ``section``: the ablation's ``mageid``
    section (:func:`~idsynth.experiments.mageid_fixes.ablation_section`)."""
    from . import mageid_fixes as fixes

    out = {}
    for label in labels:
        chosen = fixes.variant(label)  # a KeyError lists the known names
        out[label] = fixes.variant_section(section, chosen.changes, chosen.step_factor)
    return out


def main(argv=None) -> None:
    """Fill the cache with ceiling rows of the TabVAEs that notebook-13 variants train (the
    notebook then reads them): ``python -m idsynth.experiments.mageid_ceiling --profile cpu
    --datasets NSL-KDD --seeds 0 1 2 3 4 --tab-vaes committed tabvae_holdout``."""
    import argparse

    from ..config import get_profile
    from . import mageid_fixes as fixes

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--datasets", nargs="+", default=None, help="set names (default: both)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--tab-vaes", nargs="+", default=["committed"], choices=fixes.VARIANT_NAMES,
                        help="whose TabVAE: committed, or a variant that changes the TabVAE")
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    profile = get_profile(args.profile)
    sets = fixes.cli_sets(parser, profile, args.datasets, args.data_dir)
    sections = tab_vae_sections(fixes.ablation_section(profile), args.tab_vaes)
    cache = ArtifactCache()
    for label, section in sections.items():
        for mageid_set in sets:
            for seed in args.seeds:
                for split in args.splits:
                    row = ceiling_row(mageid_set, seed, section, dict(profile["table_i"]), split,
                                      device=args.device, cache=cache, tab_vae=label)
                    print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                          flush=True)


if __name__ == "__main__":
    main()
