"""Why VGM-C's rows cover little of the real data: a 2 x 2 x 2 ablation of how its rows are made.

In Table I (notebook 10), VGM-C's synthetic rows score recall ~0.06 and coverage ~0.05 where
the diffusion models and SMOTE reach recall ~0.96 and coverage 0.47-0.99: its rows sit in a
small part of the real data's support. Three steps of VGM's generation could be responsible, and each has an alternative
that the same trained model allows:

* ``latent``: ``"prior"``, z ~ N(0, I) and the label (what ``VGM.sample`` does, the paper's
  generation), or ``"posterior"``, z ~ q(z | x) of each real training row and its label
  (``VGM.reconstruct``, the paper's "forward pass" of Tables 1-4). If the posterior rows cover
  the data and the prior rows do not, the prior reaches regions the decoder was never trained
  on (the aggregate posterior does not fill N(0, I)); if both fall short, the decoder itself
  cannot produce the spread of the data.
* ``categories``: ``"argmax"``, each one-hot block's largest output (the paper), or
  ``"sampled"``, a category drawn in proportion to the block's outputs.
* ``numeric``: ``"mean"``, the decoder's Bernoulli means mapped back to the columns' units (the
  paper; drawing 0/1 from a Bernoulli over a min-max-scaled value has no meaning), or
  ``"snapped"``, each value moved to the nearest value its column takes in the real training
  rows (:func:`snap_to_observed`). NSL-KDD's counts and rates repeat a few values, and a real
  row's 5 nearest neighbours are often at distance ~0; mean outputs fall between those values.
  Snapping is a diagnostic that borrows the real rows' values, not a generator: if it raises
  coverage, off-lattice numerics are what keeps VGM-C's rows out of the real rows' balls.

The prior / argmax / mean cell is VGM-C's Table I row itself (same model, same draws, same scoring).
Every cell is scored by :func:`~idsynth.experiments.table_i.evaluate_synthetic` against the
real training rows, with the training set's class counts; ``distinct_share`` adds the share
of synthetic rows that are distinct in the typed frame.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..cache import ArtifactCache
from ..data.encoding import CATEGORY_DECODINGS
from ..models.base import class_counts
from ..models.encoded_frame import EncodedFrameGenerator
from .seed_cache import cached_seed_rows
from .table_i import METRICS, evaluate_synthetic, fit_generator, generator_cache_config

LATENTS: tuple[str, ...] = ("prior", "posterior")
"""Where z comes from: N(0, I) (generation) or q(z | x) of the real training rows (reconstruction)."""

NUMERIC_DECODINGS: tuple[str, ...] = ("mean", "snapped")
"""Numeric columns as decoded (the paper) or moved to the nearest value seen in the real training rows."""

#: The paper's way of making VGM-C's rows: (latent, categories, numeric).
PAPER_WAY: tuple[str, str, str] = ("prior", "argmax", "mean")

ABLATION_COLUMNS: tuple[str, ...] = ("dataset", "seed", "latent", "categories", "numeric", *METRICS, "distinct_share")


def snap_to_observed(frame: pd.DataFrame, reference: pd.DataFrame, columns) -> pd.DataFrame:
    """``frame`` with each of ``columns`` moved to the nearest value that column takes in
    ``reference`` (ties: the smaller value); the columns keep ``frame``'s dtypes, the other
    columns are untouched. Raises ``ValueError`` for a missing value or an empty reference."""
    out = frame.copy()
    for column in columns:
        grid = np.unique(reference[column].to_numpy(dtype=np.float64))
        values = frame[column].to_numpy(dtype=np.float64)
        if grid.size == 0 or np.isnan(grid).any() or np.isnan(values).any():
            raise ValueError(f"column {column!r}: snapping needs reference values and no missing values")
        if grid.size == 1:
            nearest = np.full(values.shape, grid[0])
        else:  # the neighbours in the grid of each value (the two ends for values outside it)
            right = np.clip(np.searchsorted(grid, values), 1, grid.size - 1)
            left = right - 1
            nearest = np.where(values - grid[left] <= grid[right] - values, grid[left], grid[right])
        out[column] = nearest.astype(frame[column].dtype)
    return out


def decoded_rows(generator: EncodedFrameGenerator, mageid_set, latent: str, categories: str,
                 seed: int, numeric: str = "mean") -> tuple[pd.DataFrame, np.ndarray]:
    """``(frame (n, d), labels (n,))`` of a fitted VGM inside ``generator``, made the ``latent`` /
    ``categories`` / ``numeric`` way, ``n`` = the set's training rows, with their class counts.

    ``"prior"`` draws ``VGM.sample`` with ``random_state=seed`` (class by class, in the
    training labels' sorted order, as Table I's sampling); ``"posterior"`` reconstructs each
    training row with its own label (``VGM.reconstruct``, ``random_state=seed``). Sampled
    categories are drawn from a generator seeded with ``seed``.
    """
    if latent not in LATENTS:
        raise ValueError(f"latent must be one of {LATENTS}, got {latent!r}")
    if categories not in CATEGORY_DECODINGS:
        raise ValueError(f"categories must be one of {CATEGORY_DECODINGS}, got {categories!r}")
    if numeric not in NUMERIC_DECODINGS:
        raise ValueError(f"numeric must be one of {NUMERIC_DECODINGS}, got {numeric!r}")
    inner = getattr(generator, "generator_", None)
    if not callable(getattr(inner, "reconstruct", None)):
        raise TypeError("generator must be a fitted EncodedFrameGenerator around a VGM (it needs reconstruct)")
    X_real, y_real = mageid_set.xy("train")
    codes_of = {label.item() if hasattr(label, "item") else label: i for i, label in enumerate(generator.classes_)}
    if latent == "prior":
        counts = {codes_of[label]: n for label, n in class_counts(y_real).items()}
        matrix, y_codes = inner.sample(counts, random_state=int(seed))
    else:
        y_codes = np.asarray([codes_of[label] for label in np.asarray(y_real).tolist()], dtype=np.int64)
        encoded = generator.encoder_.transform(X_real[generator.columns_])
        matrix = inner.reconstruct(encoded, y_codes, random_state=int(seed))
    frame, labels = generator.decode(matrix, y_codes, categories=categories, random_state=int(seed))
    frame = frame[mageid_set.features].reset_index(drop=True)
    if numeric == "snapped":
        frame = snap_to_observed(frame, X_real, list(mageid_set.schema.numeric))
    return frame, np.asarray(labels).astype(np.int64)


def distinct_share(frame: pd.DataFrame) -> float:
    """Share of rows of ``frame`` that differ from every earlier row (1.0: all distinct)."""
    if len(frame) == 0:
        raise ValueError("distinct_share of an empty frame")
    return float(1.0 - frame.duplicated().mean())


def run_decoding_ablation(
    mageid_set,
    seeds: Sequence[int],
    make_generator: Callable[[int], EncodedFrameGenerator],
    cache: ArtifactCache | None = None,
    *,
    name: str = "VGM-C",
    max_rows: int | None = None,
    k: int = 5,
    n_splits: int = 5,
    detectability: str = "ours",
    prdc_dtype: str = "float32",
    verbose: bool = True,
) -> pd.DataFrame:
    """The ablation in long form, :data:`ABLATION_COLUMNS`, one row per (seed, latent, categories,
    numeric).

    ``make_generator(seed)``: the unfitted generator of Table I's ``name`` row; with the same
    ``name`` and ``cache`` as notebook 10, its fitted models are reused. Each finished seed's
    rows are kept in ``cache`` (kind ``"vgm_decoding_seed"``), so a rerun scores only new seeds.
    ``max_rows``, ``k``, ``n_splits``, ``detectability``, ``prdc_dtype``: Table I's metric settings.
    """
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    settings = {"max_rows": max_rows, "k": int(k), "n_splits": int(n_splits), "detectability": detectability,
                "prdc_dtype": prdc_dtype}

    def one_seed(seed: int) -> list[dict[str, Any]]:
        generator, _ = fit_generator(name, make_generator, mageid_set, seed, cache)
        rows = []
        for latent in LATENTS:
            for categories in CATEGORY_DECODINGS:
                for numeric in NUMERIC_DECODINGS:
                    frame, y = decoded_rows(generator, mageid_set, latent, categories, seed, numeric)
                    scores = evaluate_synthetic(mageid_set, frame, y, seed, **settings)
                    row = {"dataset": mageid_set.name, "seed": int(seed), "latent": latent, "categories": categories,
                           "numeric": numeric, **{m: float(scores[m]) for m in METRICS},
                           "distinct_share": distinct_share(frame)}
                    if verbose:
                        print(f"seed {seed} {latent:>9} / {categories:<7} / {numeric:<7}: "
                              + ", ".join(f"{m} {row[m]:.4f}" for m in (*METRICS, "distinct_share")), flush=True)
                    rows.append(row)
        return rows

    rows = []
    for seed in seeds:
        config = {**generator_cache_config(name, make_generator(int(seed)), mageid_set, int(seed)), **settings,
                  "cells": [LATENTS, CATEGORY_DECODINGS, NUMERIC_DECODINGS]}
        rows += cached_seed_rows(cache, "vgm_decoding_seed", config, int(seed), lambda seed=seed: one_seed(int(seed)))
    return pd.DataFrame(rows, columns=list(ABLATION_COLUMNS))


def ablation_summary(long: pd.DataFrame, reference: tuple[str, str, str] = PAPER_WAY) -> pd.DataFrame:
    """Mean and std over seeds of each metric per (latent, categories, numeric), and the mean
    paired difference to ``reference`` (the paper's way), one row per cell and metric."""
    metrics = [m for m in (*METRICS, "distinct_share") if m in long.columns]
    cell = ["latent", "categories", "numeric"]
    tall = long.melt(id_vars=["dataset", "seed", *cell], value_vars=metrics, var_name="metric")
    base = tall[(tall[cell] == list(reference)).all(axis=1)]
    tall = tall.merge(base[["dataset", "seed", "metric", "value"]].rename(columns={"value": "reference"}),
                      on=["dataset", "seed", "metric"], how="left")
    tall["diff"] = tall["value"] - tall["reference"]
    summary = (tall.groupby(["dataset", *cell, "metric"], sort=False)
               .agg(mean=("value", "mean"), std=("value", "std"), n_seeds=("seed", "nunique"),
                    diff_vs_paper_way=("diff", "mean"))
               .reset_index())  # fmt: skip
    return summary
