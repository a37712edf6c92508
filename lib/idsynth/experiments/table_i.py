"""MAGE-ID's Table I for any generator of the protocol: fit, sample the real class counts, score.

Every generator of Table I (TabDDPM, TabSyn, MAGE-ID, and VGM-C or SMOTE beside them) goes
through the same steps on each of the two MAGE-ID sets (:mod:`idsynth.data.mageid_sets`)::

    row, synthetic_frame, synthetic_y = run_generator("TabDDPM", make_tabddpm, mageid_set, seed)

1. ``make_generator(seed)`` gives a fresh, unfitted generator; it is fitted on the set's real
   training rows (the feature frame, no label column) and their binary labels (0 benign, 1 attack);
2. it samples exactly the real training set's class counts, with ``random_state=seed``;
3. :func:`evaluate_synthetic` scores the synthetic rows with Table I's six columns
   (:func:`idsynth.metrics.table_i.table_i_row`) in the *encoded space* of
   :func:`metric_encoder`, SDMetrics' ``LogisticDetection`` on the raw typed tables
   (``detectability_sdmetrics``, :data:`SDMETRICS`: the score the poster's Detectability is
   compared with) and the train-on-real AUC (``auc_real_ceiling``) beside them.

Fitted generators, synthetic sets and scored rows are cached (:class:`idsynth.cache.ArtifactCache`),
fitted generators through the one route of :mod:`idsynth.runs` (keyed by the model's name, code
versions, class and parameters without ``device`` and ``verbose``, which change how fast, not
what, it learns, the data set's name and a fingerprint of its training rows, and the seed), a
synthetic set by that and its class counts and seed, a row also by the metric settings and
:func:`scoring_code_digest`; a rerun loads them instead of refitting and rescoring.

Its parts, one job each: :mod:`.table_i_scoring` (step 3: the encoded space and the scores),
:mod:`.generator_cache` (steps 1-2: fit-or-load and sample-or-load through the cache, the route
Table 6's generators take too), :mod:`.table_i_tables` (the long frame, the view beside the
poster, the shared CSV); this module runs one row (:func:`run_generator`) and re-exports their
names.

Rows from all notebooks meet in one long CSV (``figures/tables/tableI_mageid.csv``, columns
:data:`LONG_COLUMNS` then extras): :func:`update_table_i_csv` replaces the rows of the same
(dataset, model, seed) and keeps the rest, and writes the Markdown beside the poster's values
(:func:`table_i_beside_paper`).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin

from ..cache import ArtifactCache
from ..data.mageid_sets import MageIDSet
from .generator_cache import (  # noqa: F401  (the route's names, imported from here by notebooks and modules)
    SYNTHETIC_KIND, _fresh, _load_synthetic, _save_synthetic, cached_synthetic, cached_twins, fit_generator,
    generator_cache_config, generator_params, keyable, sample_synthetic, store_synthetic, synthetic_cache_config,
)
from .seed_cache import cached_seed_rows
from .table_i_scoring import (  # noqa: F401
    CEILING, CEILING_TITLE, METRICS, SDMETRICS, evaluate_synthetic, metric_encoder, metric_sensitivity,
    scoring_code_digest, spread_ratio, typed_tables,
)
from .table_i_tables import (  # noqa: F401
    DATASETS, KEY_COLUMNS, LONG_COLUMNS, POSTER_MODELS, metric_variant_summary, table_i_beside_paper, table_i_long,
    table_i_markdown, update_table_i_csv,
)

__all__ = [
    "SYNTHETIC_KIND",
    "_fresh",
    "_load_synthetic",
    "_save_synthetic",
    "cached_synthetic",
    "cached_twins",
    "fit_generator",
    "generator_cache_config",
    "generator_params",
    "keyable",
    "sample_synthetic",
    "store_synthetic",
    "synthetic_cache_config",
    "CEILING",
    "CEILING_TITLE",
    "METRICS",
    "SDMETRICS",
    "evaluate_synthetic",
    "metric_encoder",
    "metric_sensitivity",
    "scoring_code_digest",
    "spread_ratio",
    "typed_tables",
    "DATASETS",
    "KEY_COLUMNS",
    "LONG_COLUMNS",
    "POSTER_MODELS",
    "metric_variant_summary",
    "table_i_beside_paper",
    "table_i_long",
    "table_i_markdown",
    "update_table_i_csv",
    "ROW_KIND",
    "run_generator",
]

#: The cache kind of a scored Table I row (:func:`run_generator` with the default classifier).
ROW_KIND = "table_i_row"


def run_generator(
    name: str, make_generator: Callable[[int], Any], mageid_set: MageIDSet, seed: int,
    cache: ArtifactCache | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    max_rows: int | None = None,
    k: int = 5,
    n_splits: int = 5,
    classifier: ClassifierMixin | None = None,
    detectability: str = "ours",
    prdc_dtype: str = "float32",
) -> tuple[dict[str, Any], pd.DataFrame, np.ndarray]:
    """One Table I row: fit ``make_generator(seed)`` on the set, sample its class counts, score.

    name: the model's name in Table I (``"TabDDPM"``); make_generator: seed -> a fresh protocol
    generator that takes a feature DataFrame and (n,) labels and samples DataFrames; params:
    its identifying hyper-parameters when it has no ``get_params``; cache: default
    ``ArtifactCache()``. ``max_rows``, ``k``, ``n_splits``, ``classifier``, ``detectability``,
    ``prdc_dtype``: see :func:`evaluate_synthetic`.

    Returns ``(row, synthetic_frame, synthetic_y)``; ``row`` holds :data:`LONG_COLUMNS`, then
    ``detectability_sdmetrics``, ``auc_real_ceiling``, ``fit_seconds``, ``sample_seconds`` (as measured when the artefact was
    made; a cached rerun reports those), ``n_real_train`` and ``n_synthetic``.
    """
    cache = cache if cache is not None else ArtifactCache()
    synthetic = sample_synthetic(name, make_generator, mageid_set, seed, cache, params)
    settings = {"max_rows": max_rows, "k": int(k), "n_splits": int(n_splits), "detectability": detectability,
                "prdc_dtype": prdc_dtype}

    def score() -> dict[str, Any]:
        return evaluate_synthetic(mageid_set, synthetic["frame"], synthetic["y"], seed, classifier=classifier,
                                  **settings)

    if classifier is None:  # the default classifier: the row is cached with the synthetic set's key
        config = {**synthetic_cache_config(name, _fresh(make_generator, seed), mageid_set, seed, params),
                  "scoring": {**settings, "code": scoring_code_digest()}}
        scores = cached_seed_rows(cache, ROW_KIND, config, seed, score)
    else:
        scores = score()
    row = {
        "dataset": mageid_set.name,
        "model": str(name),
        "seed": int(seed),
        **{m: scores[m] for m in METRICS},
        SDMETRICS: scores[SDMETRICS],
        CEILING: scores[CEILING],
        "fit_seconds": float(synthetic["fit_seconds"]),
        "sample_seconds": float(synthetic["sample_seconds"]),
        "n_real_train": scores["n_real_train"],
        "n_synthetic": scores["n_synthetic"],
    }
    return row, synthetic["frame"], synthetic["y"]
