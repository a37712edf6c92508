"""Table I's scores of one synthetic set: the encoded space, the six metrics, SDMetrics'
detectability and the train-on-real AUC (:func:`evaluate_synthetic`), the metric-detail
sensitivity and the spread of each class, and the digest of the code behind a score
(:func:`scoring_code_digest`, part of a cached row's key)."""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin

from ..data.encoding import TabularEncoder
from ..data.mageid_sets import MageIDSet
from ..metrics.mle import mle_ceiling
from ..metrics.table_i import (
    SDMETRICS_DETECTABILITY,
    TABLE_I_COLUMNS,
    fidelity_variants,
    table_i_row,
)
from ..models.validation import check_frame_rows
from .generator_cache import _check_set

#: Table I's six metric columns (keys of :func:`~idsynth.metrics.table_i.table_i_row`).
METRICS: tuple[str, ...] = tuple(TABLE_I_COLUMNS)
#: The extra column with SDMetrics' detectability on the typed tables (every row has it; rows
#: scored before it existed have it empty): the poster's Detectability is compared with it.
SDMETRICS = SDMETRICS_DETECTABILITY
#: The extra column with the train-on-real AUC, and its name in the table beside the paper.
CEILING = "auc_real_ceiling"
CEILING_TITLE = "AUC (train on real)"

# --- the encoded space ---------------------------------------------------------------------------


def metric_encoder(mageid_set: MageIDSet) -> TabularEncoder:
    """The encoder of "the encoded space" in which PRDC, detectability and MLE are computed.

    Fitted on ``mageid_set``'s real training rows only and applied identically to the real
    training, real test and synthetic rows:

    * numeric columns: min-max scaled with the real training rows' minimum and maximum (so those
      rows lie in [0, 1]); **not clipped**, so a test or synthetic value outside the training
      range stays outside [0, 1] and counts against the synthetic set as it should;
    * categorical columns (NSL-KDD's ``protocol_type``, ``service``, ``flag``): one-hot over the
      categories of the real training rows. A category never seen there (a rare service that
      only a test row has, or one a generator invents) encodes as an all-zero block
      (``handle_unknown="ignore"``) rather than failing.

    ``transform(frame)`` then gives ``(n, n_numeric + sum_j K_j)`` float32.
    """
    _check_set(mageid_set)
    schema = mageid_set.schema
    encoder = TabularEncoder(
        numeric=schema.numeric,
        categorical=schema.categorical,
        integer=schema.integer,
        numeric_scaling="minmax",
        clip=False,
        handle_unknown="ignore",
    )
    return encoder.fit(mageid_set.train)


def _encoded(encoder: TabularEncoder, frame, y, features: list[str], what: str) -> tuple[np.ndarray, np.ndarray]:
    """``(X (n, d) float32 in the encoded space, y (n,) int64)`` of a feature frame and labels."""
    y = check_frame_rows(frame, y, features, f"{what} rows")
    return encoder.transform(frame), y.astype(np.int64)


def _encoded_sets(mageid_set: MageIDSet, synthetic_frame, synthetic_y, encoder: TabularEncoder | None = None):
    """``((X, y) real train, (X, y) real test, (X, y) synthetic)`` in the metric encoding
    (``encoder``, default :func:`metric_encoder` of the set)."""
    _check_set(mageid_set)
    encoder = encoder if encoder is not None else metric_encoder(mageid_set)
    features = mageid_set.features
    X_syn, y_syn = _encoded(encoder, synthetic_frame, synthetic_y, features, "synthetic")
    unknown = np.setdiff1d(np.unique(y_syn), np.arange(len(mageid_set.class_names)))
    if len(unknown):
        raise ValueError(f"synthetic labels {unknown.tolist()} are not class codes of {mageid_set.name} (0, 1)")
    train = _encoded(encoder, *mageid_set.xy("train"), features, "real train")
    test = _encoded(encoder, *mageid_set.xy("test"), features, "real test")
    return train, test, (X_syn, y_syn)


def spread_ratio(mageid_set: MageIDSet, synthetic_frame, synthetic_y) -> dict[int, float]:
    """``{class code: ratio}``: the total variance (sum over columns of the per-column variance)
    of the synthetic rows of each class over that of the real training rows of the class, in
    Table I's encoded space (:func:`metric_encoder`, no label columns). 1: the rows are as spread
    as the data; far below 1: they crowd together (e.g. near each class's mean), which no
    precision can make up for in recall and coverage. Raises ``ValueError`` for a class with
    fewer than 2 synthetic rows."""
    (X_real, y_real), _, (X_syn, y_syn) = _encoded_sets(mageid_set, synthetic_frame, synthetic_y)
    ratios = {}
    for code in np.unique(y_real):
        real, synthetic = X_real[y_real == code], X_syn[y_syn == code]
        if len(synthetic) < 2:
            raise ValueError(f"class {code}: {len(synthetic)} synthetic rows, need at least 2 for a variance")
        ratios[int(code)] = float(synthetic.var(axis=0).sum() / real.var(axis=0).sum())
    return ratios


def typed_tables(mageid_set: MageIDSet, synthetic_frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(real training rows, synthetic rows)`` as raw typed feature tables (the set's feature
    columns, as loaded), the tables SDMetrics scores."""
    features = mageid_set.features
    return mageid_set.train[features].reset_index(drop=True), synthetic_frame[features].reset_index(drop=True)


def metric_sensitivity(mageid_set: MageIDSet, synthetic_frame, synthetic_y, seed: int, max_rows: int | None = None,
                       *, k: int = 5, n_splits: int = 5, detectability: str | None = None,
                       prdc_dtype: str | None = None) -> list[dict[str, Any]]:
    """How two details of Table I's fidelity metrics move one synthetic set's scores:
    :func:`~idsynth.metrics.table_i.fidelity_variants` on the inputs :func:`evaluate_synthetic`
    scores (same encoding, label appended, same ``seed``). Rows ``{"dataset", "seed", "metric",
    "variant", "value"}``. Takes the profile's whole ``table_i`` section: its chosen variants
    (``detectability``, ``prdc_dtype``) are accepted and ignored, since every variant is computed."""
    train, _, synthetic = _encoded_sets(mageid_set, synthetic_frame, synthetic_y)
    rows = fidelity_variants(train, synthetic, k=k, n_splits=n_splits, max_rows=max_rows, random_state=int(seed),
                             typed=typed_tables(mageid_set, synthetic_frame),
                             discrete_columns=mageid_set.schema.categorical)  # fmt: skip
    return [{"dataset": mageid_set.name, "seed": int(seed), **row} for row in rows]


def evaluate_synthetic(
    mageid_set: MageIDSet,
    synthetic_frame: pd.DataFrame,
    synthetic_y,
    seed: int,
    max_rows: int | None = None,
    *,
    k: int = 5,
    n_splits: int = 5,
    classifier: ClassifierMixin | None = None,
    encoder: TabularEncoder | None = None,
    detectability: str = "ours",
    prdc_dtype: str = "float32",
) -> dict[str, Any]:
    """Table I's six columns for one synthetic set, SDMetrics' detectability and the
    train-on-real AUC beside them.

    synthetic_frame: (n, >= len(features)) DataFrame with the set's feature columns (raw units,
    typed like ``mageid_set.train``); synthetic_y: (n,) labels in {0, 1}. Fidelity (detectability,
    PRDC with ``k`` neighbours) compares the synthetic rows with the real *training* rows, on
    equal counts capped at ``max_rows``, label one-hot appended; utility (``auc``) trains
    ``classifier`` (default: histogram gradient boosting) on the synthetic rows and scores ROC AUC
    on the real *test* rows. ``auc_real_ceiling`` trains the same classifier on the real training
    rows instead. ``detectability_sdmetrics``: SDMetrics' ``LogisticDetection`` on the typed
    real training and synthetic tables with the label as a categorical column
    (:func:`typed_tables`, the set's categorical features categorical). ``detectability``
    (protocol, ``"ours"``) and ``prdc_dtype``: the metric details the profile's ``table_i``
    section names. ``seed`` seeds the subsampling, the folds and the classifier.

    Returns ``{"dataset", "seed", <the six METRICS>, "detectability_sdmetrics",
    "auc_real_ceiling", "n_real_train", "n_synthetic"}``; precision, recall, coverage, both
    detectabilities and the AUCs lie in [0, 1], density is >= 0 (about 1 for a synthetic set
    distributed like the real one).
    """
    (X_train, y_train), (X_test, y_test), (X_syn, y_syn) = _encoded_sets(mageid_set, synthetic_frame, synthetic_y,
                                                                         encoder)
    scores = table_i_row(
        (X_train, y_train),
        (X_test, y_test),
        (X_syn, y_syn),
        k=k,
        n_splits=n_splits,
        max_rows=max_rows,
        classifier=classifier,
        random_state=int(seed),
        detectability_protocol=detectability,
        prdc_dtype=prdc_dtype,
        typed=typed_tables(mageid_set, synthetic_frame),
        discrete_columns=mageid_set.schema.categorical,
    )
    ceiling = mle_ceiling(X_train, y_train, X_test, y_test, classifier=classifier, random_state=int(seed))
    return {
        "dataset": mageid_set.name,
        "seed": int(seed),
        **{m: float(scores[m]) for m in METRICS},
        SDMETRICS: float(scores[SDMETRICS]),
        CEILING: float(ceiling),
        "n_real_train": int(len(X_train)),
        "n_synthetic": int(len(X_syn)),
    }


#: The modules whose source decides a row's scores (with this module's scoring functions).
_SCORING_MODULES: tuple[str, ...] = ("idsynth.metrics", "idsynth.data.encoding", "idsynth.neighbours")


def scoring_code_digest() -> str:
    """16 hex digits of SHA-256 over what decides a scored row besides its data and settings:
    the source of :mod:`idsynth.metrics`, the encoder, the neighbour search and this module's
    scoring functions, and the versions of scikit-learn, sdmetrics and prdc. A cached row is
    reused only while all of them are unchanged."""
    import importlib
    from importlib.metadata import version

    digest = hashlib.sha256()
    for module_name in _SCORING_MODULES:
        module = importlib.import_module(module_name)
        files = sorted(Path(module.__file__).parent.glob("*.py")) if module.__file__.endswith("__init__.py") \
            else [Path(module.__file__)]
        for path in files:
            digest.update(path.read_bytes())
    for function in (evaluate_synthetic, _encoded_sets, _encoded, metric_encoder, typed_tables):
        digest.update(inspect.getsource(function).encode())
    for package in ("scikit-learn", "sdmetrics", "prdc"):
        digest.update(f"{package}=={version(package)}".encode())
    return digest.hexdigest()[:16]
