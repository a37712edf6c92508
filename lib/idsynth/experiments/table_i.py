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
keyed by the model's name, its class and parameters (without ``device`` and ``verbose``, which
change how fast, not what, it learns), the data set's name, size and a fingerprint of its
training rows, and the seed (a row also by the metric settings and :func:`scoring_code_digest`);
a rerun loads them instead of refitting and rescoring.

Rows from all notebooks meet in one long CSV (``figures/tables/tableI_mageid.csv``, columns
:data:`LONG_COLUMNS` then extras): :func:`update_table_i_csv` replaces the rows of the same
(dataset, model, seed) and keeps the rest, and writes the Markdown beside the poster's values
(:func:`table_i_beside_paper`).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import pickle
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin

from ..cache import ArtifactCache, atomic_path, atomic_write_text
from ..data.encoding import TabularEncoder
from ..data.mageid_sets import CIC_NAME, NSLKDD_NAME, MageIDSet
from ..metrics.mle import mle_ceiling
from ..metrics.table_i import (
    FIDELITY_VARIANTS,
    SDMETRICS_DETECTABILITY,
    SDMETRICS_DETECTABILITY_TITLE,
    TABLE_I_COLUMNS,
    fidelity_variants,
    table_i_row,
)
from ..models.base import RUNTIME_PARAMS, class_counts
from ..models.plain_state import dtype_from_plain, dtype_to_plain
from ..tables import summarise, to_markdown, with_profile
from .paper_values import table_i as poster_table_i
from .seed_cache import cached_seed_rows

#: The poster's two data sets, in Table I's order.
DATASETS: tuple[str, ...] = (CIC_NAME, NSLKDD_NAME)
#: Table I's six metric columns (keys of :func:`~idsynth.metrics.table_i.table_i_row`).
METRICS: tuple[str, ...] = tuple(TABLE_I_COLUMNS)
#: One row per (dataset, model, seed).
KEY_COLUMNS: tuple[str, ...] = ("dataset", "model", "seed")
#: The first columns of the long Table I frame / CSV; extra columns follow them.
LONG_COLUMNS: tuple[str, ...] = KEY_COLUMNS + METRICS
#: The extra column with SDMetrics' detectability on the typed tables (every row has it; rows
#: scored before it existed have it empty): the poster's Detectability is compared with it.
SDMETRICS = SDMETRICS_DETECTABILITY
#: The extra column with the train-on-real AUC, and its name in the table beside the paper.
CEILING = "auc_real_ceiling"
CEILING_TITLE = "AUC (train on real)"
#: The poster's model order; other models follow alphabetically.
POSTER_MODELS: tuple[str, ...] = ("TabDDPM", "TabSyn", "MAGE-ID")

_SYNTHETIC_FORMAT = "idsynth.table_i.synthetic/2"
#: The first format (a pickled DataFrame; read only under the pandas release that wrote it).
_SYNTHETIC_FORMAT_V1 = "idsynth.table_i.synthetic/1"


# --- the encoded space ---------------------------------------------------------------------------


def _check_set(mageid_set) -> None:
    if not isinstance(mageid_set, MageIDSet):
        raise TypeError(f"expected a MageIDSet (idsynth.data.mageid_sets), got {type(mageid_set).__name__}")


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
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} rows must be a DataFrame with the set's feature columns, got {type(frame).__name__}")
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} rows lack the feature columns {missing[:10]}{' ...' if len(missing) > 10 else ''}")
    y = np.asarray(y)
    if y.shape != (len(frame),):
        raise ValueError(f"{what} labels must have shape ({len(frame)},), got {y.shape}")
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


# --- fitting and sampling through the cache ------------------------------------------------------


def keyable(value: Any) -> Any:
    """A cache-keyable (JSON) form of a parameter value: an estimator (a generator inside a
    wrapper) by its class and :func:`generator_params`; unknown objects by their repr."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        cls = type(value)
        return {"class": f"{cls.__module__}.{cls.__qualname__}", "params": generator_params(value)}
    if isinstance(value, Mapping):
        return {str(k): keyable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [keyable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return f"{type(value).__module__}.{type(value).__qualname__}:{value!r}"


def generator_params(generator, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The parameters that identify a generator's model: ``params`` when given, else its
    ``get_params(deep=False)`` (scikit-learn style) without :data:`RUNTIME_PARAMS`."""
    if params is None:
        if not hasattr(generator, "get_params"):
            raise TypeError(
                f"{type(generator).__name__} has no get_params(); pass params={{...}} naming its hyper-parameters"
            )
        params = {k: v for k, v in generator.get_params(deep=False).items() if k not in RUNTIME_PARAMS}
    return keyable(dict(params))


def training_fingerprint(mageid_set: MageIDSet) -> str:
    """16 hex digits of SHA-256 over the training rows' feature names, values and labels."""
    X, y = mageid_set.xy("train")
    digest = hashlib.sha256(json.dumps(list(X.columns)).encode())
    digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    digest.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def generator_cache_config(
    name: str, generator, mageid_set: MageIDSet, seed: int, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The cache key of a fitted generator: model name, class, parameters, data set, seed."""
    cls = type(generator)
    return {
        "model": str(name),
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "params": generator_params(generator, params),
        "dataset": mageid_set.name,
        "n_rows": int(mageid_set.n_rows),
        "data": {"sha256": training_fingerprint(mageid_set), "train_rows": int(len(mageid_set.train))},
        "seed": int(seed),
    }


def _fresh(make_generator: Callable[[int], Any], seed: int):
    if not callable(make_generator):
        raise TypeError("make_generator must be a callable seed -> fresh, unfitted generator")
    generator = make_generator(int(seed))
    for method in ("fit", "sample", "save"):
        if not callable(getattr(generator, method, None)):
            raise TypeError(f"make_generator returned a {type(generator).__name__} without a {method}() method")
    if not callable(getattr(type(generator), "load", None)):
        raise TypeError(f"{type(generator).__name__} has no classmethod load(path); the cache cannot reload it")
    return generator


def _load_like(fresh, path: Path):
    """``type(fresh).load(path)``, on ``fresh``'s device when ``load`` takes one."""
    load = type(fresh).load
    if hasattr(fresh, "device") and "device" in inspect.signature(load).parameters:
        return load(path, device=fresh.device)
    return load(path)


def fit_generator(
    name: str,
    make_generator: Callable[[int], Any],
    mageid_set: MageIDSet,
    seed: int,
    cache: ArtifactCache | None = None,
    params: Mapping[str, Any] | None = None,
) -> tuple[Any, float]:
    """``(fitted generator, fit seconds)``: ``make_generator(seed)`` fitted on the set's real
    training frame (features only) and its (n,) int64 labels, or loaded from ``cache``.

    The fit time is stored beside the cached model, so a loaded model reports the seconds its
    fit took (NaN if that record is missing).
    """
    _check_set(mageid_set)
    cache = cache if cache is not None else ArtifactCache()
    fresh = _fresh(make_generator, seed)
    config = generator_cache_config(name, fresh, mageid_set, seed, params)
    return cached_fit(fresh, lambda: mageid_set.xy("train"), config, cache, kind="table_i_generator")


def cached_fit(
    fresh, training_data: Callable[[], tuple[Any, Any]], config: Mapping[str, Any], cache: ArtifactCache,
    kind: str,
) -> tuple[Any, float]:
    """``(fitted generator, fit seconds)``: ``fresh.fit(*training_data())``, or the model that
    ``cache`` holds under ``(kind, config)``.

    fresh: an unfitted generator with ``fit``, ``save`` and a classmethod ``load`` (reloaded on
    ``fresh.device`` when it has one); training_data: returns ``(X, y)``, called only when the
    model is fitted. The fit time is stored beside the model, so a loaded model reports the
    seconds its fit took (NaN if that record is missing).
    """
    measured: dict[str, float] = {}

    def build():
        X, y = training_data()
        start = time.perf_counter()
        fresh.fit(X, y)
        measured["fit_seconds"] = time.perf_counter() - start
        return fresh

    generator = cache.get_or_create(
        kind, config, build=build, save=lambda g, path: g.save(path), load=lambda path: _load_like(fresh, path),
        suffix=".model",
    )  # fmt: skip
    timing_path = cache.path_for(kind, config, ".fit_seconds.json")
    if measured:
        atomic_write_text(timing_path, json.dumps(measured))
    elif timing_path.exists():
        measured = json.loads(timing_path.read_text())
    return generator, float(measured.get("fit_seconds", math.nan))


def _save_synthetic(result: dict, path: Path) -> None:
    """The synthetic set as plain data: each column's values as a NumPy array (text as objects)
    with its dtype's name (:func:`~idsynth.models.plain_state.dtype_to_plain`), so a file written
    under one pandas release reads under another (a pickled DataFrame of pandas 3's string dtype
    does not unpickle under pandas 2)."""
    frame = result["frame"]
    columns = {str(c): (frame[c].to_numpy() if pd.api.types.is_numeric_dtype(frame[c].dtype)
                        and not isinstance(frame[c].dtype, pd.CategoricalDtype)
                        else np.asarray(frame[c].astype(object), dtype=object)) for c in frame.columns}
    plain = {"format": _SYNTHETIC_FORMAT, "columns": columns,
             "dtypes": {str(c): dtype_to_plain(frame[c].dtype) for c in frame.columns},
             **{k: v for k, v in result.items() if k not in ("frame", "format")}}
    with open(path, "wb") as fh:
        pickle.dump(plain, fh, protocol=pickle.HIGHEST_PROTOCOL)


def _load_synthetic(path: Path) -> dict:
    with open(path, "rb") as fh:
        result = pickle.load(fh)
    if not isinstance(result, dict) or result.get("format") not in (_SYNTHETIC_FORMAT, _SYNTHETIC_FORMAT_V1):
        raise ValueError(f"{path} is not a synthetic set cached by idsynth.experiments.table_i")
    if result["format"] == _SYNTHETIC_FORMAT:
        frame = pd.DataFrame(result.pop("columns"))
        result["frame"] = frame.astype({c: dtype_from_plain(d) for c, d in result.pop("dtypes").items()})
    return result


def sample_synthetic(
    name: str,
    make_generator: Callable[[int], Any],
    mageid_set: MageIDSet,
    seed: int,
    cache: ArtifactCache | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The synthetic twin of the set's real training rows, from cache or fitted and sampled.

    Returns ``{"frame": (n, len(features)) DataFrame, "y": (n,) int64, "fit_seconds",
    "sample_seconds"}`` with exactly the real training set's class counts, sampled with
    ``random_state=seed``. Raises ``RuntimeError`` when the generator returns other counts or
    not a DataFrame with the feature columns.
    """
    _check_set(mageid_set)
    cache = cache if cache is not None else ArtifactCache()
    counts = class_counts(mageid_set.xy("train")[1])
    config = synthetic_cache_config(name, _fresh(make_generator, seed), mageid_set, seed, params)

    def build() -> dict:
        generator, fit_seconds = fit_generator(name, make_generator, mageid_set, seed, cache, params)
        start = time.perf_counter()
        frame, y = generator.sample(counts, random_state=int(seed))
        sample_seconds = time.perf_counter() - start
        features = mageid_set.features
        if not isinstance(frame, pd.DataFrame) or any(c not in frame.columns for c in features):
            raise RuntimeError(f"{name}.sample must return a DataFrame with the set's {len(features)} feature columns")
        y = np.asarray(y).astype(np.int64)
        if class_counts(y) != counts:
            raise RuntimeError(f"{name} sampled class counts {class_counts(y)}, expected {counts}")
        frame = frame[features].reset_index(drop=True)
        return {"frame": frame, "y": y, "fit_seconds": fit_seconds, "sample_seconds": sample_seconds}

    result = cache.get_or_create(SYNTHETIC_KIND, config, build, _save_synthetic, _load_synthetic, suffix=".pkl")
    return {key: result[key] for key in ("frame", "y", "fit_seconds", "sample_seconds")}


#: The cache kind of the synthetic twins that Table I scores (one pickle per generator, set and seed).
SYNTHETIC_KIND = "table_i_synthetic"


def synthetic_cache_config(name: str, generator, mageid_set: MageIDSet, seed: int,
                           params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The cache key of a synthetic twin: :func:`generator_cache_config` (the same for the fresh
    and the fitted generator: parameters, not weights) plus the sampled class counts and seed."""
    counts = class_counts(mageid_set.xy("train")[1])
    return {
        **generator_cache_config(name, generator, mageid_set, seed, params),
        "sample": {"counts": {str(k): v for k, v in counts.items()}, "random_state": int(seed)},
    }


def cached_synthetic(name: str, generator, mageid_set: MageIDSet, seed: int, cache: ArtifactCache | None = None,
                     params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The synthetic twin stored for ``generator`` (fresh or fitted) on the set and seed, or
    None: what :func:`sample_synthetic` or :func:`store_synthetic` wrote (a dict with at least
    ``frame``, ``y``, ``fit_seconds``, ``sample_seconds``). Never fits or samples, so a machine
    without a GPU can re-score sets a GPU made."""
    _check_set(mageid_set)
    cache = cache if cache is not None else ArtifactCache()
    config = synthetic_cache_config(name, generator, mageid_set, seed, params)
    return cache.load(SYNTHETIC_KIND, config, _load_synthetic, ".pkl")  # None when absent or damaged


def cached_twins(mageid_set: MageIDSet, seeds: Iterable[int], factories: Mapping[str, Callable[[int], Any]],
                 cache: ArtifactCache | None = None) -> dict[tuple[str, int], tuple[pd.DataFrame, np.ndarray]]:
    """``{(name, seed): (frame, y)}`` of the synthetic twins ``cache`` holds for the generators of
    ``factories`` (name -> seed -> fresh generator) on the set, for each seed; absent ones are
    left out. Fits and samples nothing (see :func:`cached_synthetic`)."""
    found = {}
    for name, make in factories.items():
        for seed in seeds:
            stored = cached_synthetic(name, _fresh(make, int(seed)), mageid_set, int(seed), cache)
            if stored is not None:
                found[(name, int(seed))] = (stored["frame"], np.asarray(stored["y"]))
    return found


def store_synthetic(name: str, generator, mageid_set: MageIDSet, seed: int, result: Mapping[str, Any],
                    cache: ArtifactCache | None = None, params: Mapping[str, Any] | None = None) -> None:
    """Keep a synthetic twin sampled elsewhere (e.g. notebook 09's MAGE-ID rows) under
    :func:`synthetic_cache_config`; ``result`` holds ``frame`` (n, len(features)), ``y`` (n,),
    ``fit_seconds``, ``sample_seconds`` and any other plain values. Refuses a set whose class
    counts are not the real training counts (the key says they are)."""
    _check_set(mageid_set)
    missing = [key for key in ("frame", "y", "fit_seconds", "sample_seconds") if key not in result]
    if missing:
        raise ValueError(f"result lacks {missing}")
    counts = class_counts(mageid_set.xy("train")[1])
    if class_counts(np.asarray(result["y"])) != counts:
        raise ValueError(f"{name}'s synthetic labels have counts {class_counts(np.asarray(result['y']))}, "
                         f"expected the real training counts {counts}")
    cache = cache if cache is not None else ArtifactCache()
    config = synthetic_cache_config(name, generator, mageid_set, seed, params)
    path = cache.path_for(SYNTHETIC_KIND, config, ".pkl")
    path.unlink(missing_ok=True)  # a newer sample replaces the old one
    cache.get_or_create(SYNTHETIC_KIND, config, lambda: dict(result), _save_synthetic, _load_synthetic, suffix=".pkl")


def run_generator(
    name: str,
    make_generator: Callable[[int], Any],
    mageid_set: MageIDSet,
    seed: int,
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


#: The cache kind of a scored Table I row (:func:`run_generator` with the default classifier).
ROW_KIND = "table_i_row"
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


# --- tables --------------------------------------------------------------------------------------


def _model_order(models: Iterable[str]) -> list[str]:
    known = [m for m in POSTER_MODELS if m in set(models)]
    return known + sorted(set(models) - set(POSTER_MODELS))


def table_i_long(rows) -> pd.DataFrame:
    """Per-seed Table I rows (dicts or a DataFrame) -> the long frame.

    Columns exactly :data:`LONG_COLUMNS` (``dataset, model, seed, detectability, precision,
    recall, density, coverage, auc``) followed by any extra columns in their first-seen order;
    rows sorted by dataset (Table I's order), model (the poster's order, then alphabetical) and
    seed. Raises ``ValueError`` for a missing column, a dataset other than ``CIC-IDS-2017`` /
    ``NSL-KDD`` or a repeated (dataset, model, seed).
    """
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    missing = [c for c in LONG_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"Table I rows lack the columns {missing}; expected {list(LONG_COLUMNS)}")
    unknown = sorted(set(frame["dataset"]) - set(DATASETS))
    if unknown:
        raise ValueError(f"unknown datasets {unknown}; Table I's datasets are {list(DATASETS)}")
    frame["seed"] = frame["seed"].astype(np.int64)
    frame["model"] = frame["model"].astype(str)
    repeated = frame.duplicated(list(KEY_COLUMNS), keep=False)
    if repeated.any():
        keys = frame.loc[repeated, list(KEY_COLUMNS)].drop_duplicates().to_records(index=False).tolist()
        raise ValueError(f"repeated (dataset, model, seed) rows: {keys}")
    for m in METRICS:
        frame[m] = frame[m].astype(np.float64)
    extras = [c for c in frame.columns if c not in LONG_COLUMNS]
    order = {
        "dataset": {d: i for i, d in enumerate(DATASETS)},
        "model": {m: i for i, m in enumerate(_model_order(frame["model"]))},
    }
    frame = frame.sort_values(
        list(KEY_COLUMNS), key=lambda col: col.map(order[col.name]) if col.name in order else col, kind="stable"
    )
    return frame[list(LONG_COLUMNS) + extras].reset_index(drop=True)


#: The headers of the metrics :func:`table_i_beside_paper` lists, in its order.
_TITLES: dict[str, str] = {**TABLE_I_COLUMNS, SDMETRICS: SDMETRICS_DETECTABILITY_TITLE, CEILING: CEILING_TITLE}


def _poster_long(paper: pd.DataFrame) -> pd.DataFrame:
    """The poster's values, one row per (dataset, model, metric header); its Detectability
    stands beside both ours and SDMetrics' (the score it most likely is)."""
    long = paper.melt(id_vars=["dataset", "model"], value_vars=list(METRICS), var_name="metric", value_name="paper")
    sdmetrics = long[long["metric"] == "detectability"].assign(metric=SDMETRICS)
    long = pd.concat([long, sdmetrics], ignore_index=True)
    long["metric"] = long["metric"].map(_TITLES)
    return long


def table_i_beside_paper(long: pd.DataFrame, paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mean ± std over seeds per dataset, model and metric, beside the poster's value.

    long: :func:`table_i_long` rows; paper: wide poster values (columns dataset, model and the
    six :data:`METRICS`; default :func:`idsynth.experiments.paper_values.table_i`).
    Returns columns ``dataset, model, metric, mean, std, n_seeds, paper, diff`` (diff = mean −
    paper; empty where the poster has no value, e.g. a model it does not report). ``metric``
    holds the poster's column headers, then ``Detectability (SDMetrics)`` (beside the poster's
    Detectability too) and ``AUC (train on real)`` (the train-on-real ceiling of the MLE AUC, no
    poster value) when present; seeds without a value of those two are left out of them.
    """
    long = table_i_long(long)
    extras = [c for c in (SDMETRICS, CEILING) if c in long.columns]
    values = list(METRICS) + extras
    titles = {v: _TITLES[v] for v in values}
    melted = long.melt(id_vars=list(KEY_COLUMNS), value_vars=values, var_name="metric", value_name="value")
    melted = melted[~(melted["metric"].isin(extras) & melted["value"].isna())]
    melted["metric"] = melted["metric"].map(titles)
    summary = summarise(melted, by=["dataset", "model", "metric"], values=["value"])
    summary = summary.rename(columns={"value_mean": "mean", "value_std": "std"})
    out = summary.merge(
        _poster_long(poster_table_i() if paper is None else paper), on=["dataset", "model", "metric"], how="left"
    )
    out["diff"] = out["mean"] - out["paper"]
    metric_order = {t: i for i, t in enumerate(titles[v] for v in values)}
    out["_m"] = out["metric"].map(metric_order)
    out["_d"] = out["dataset"].map({d: i for i, d in enumerate(DATASETS)})
    out["_model"] = out["model"].map({m: i for i, m in enumerate(_model_order(out["model"]))})
    out = out.sort_values(["_d", "_model", "_m"], kind="stable").drop(columns=["_m", "_d", "_model"])
    return out[["dataset", "model", "metric", "mean", "std", "n_seeds", "paper", "diff"]].reset_index(drop=True)


def table_i_markdown(long: pd.DataFrame) -> str:
    """The Markdown of ``tableI_mageid.md``: the table beside the poster, then the per-seed rows."""
    return (
        "# MAGE-ID Table I: ours (mean ± std over seeds) beside the poster\n\n"
        "Fidelity (detectability, PRDC) of the synthetic rows against the real training rows and\n"
        "utility (ROC AUC on the real test rows of a classifier trained on the synthetic rows); all\n"
        "in the encoded space of `idsynth.experiments.table_i.metric_encoder`. Detectability\n"
        "(SDMetrics) is `sdmetrics.single_table.LogisticDetection` on the raw typed tables, as\n"
        "TabSyn's evaluation computes it; the poster's Detectability stands beside it and ours.\n"
        "`diff` = ours − poster.\n\n"
        + to_markdown(table_i_beside_paper(long))
        + "\n## Per seed\n\n"
        + to_markdown(table_i_long(long))
    )


def update_table_i_csv(new_rows, path: str | Path) -> pd.DataFrame:
    """Merge ``new_rows`` into the shared Table I CSV at ``path`` and rewrite it atomically.

    The CSV (``figures/tables/tableI_mageid.csv``, shared by notebooks 08 and 09) is read if
    present; its rows with the same (dataset, model, seed) as a new row are replaced, all other
    rows are kept; columns are the union (a column missing from one side is empty there). The
    Markdown beside the poster (:func:`table_i_markdown`) is written to the same name with
    ``.md``. Rows carry a ``profile`` column where the folder has a profile marker
    (:func:`idsynth.tables.with_profile`). Returns the merged long frame (:func:`table_i_long`).
    """
    path = Path(path)
    new = table_i_long(new_rows)
    merged = new
    if path.exists():
        old = table_i_long(pd.read_csv(path))
        new_keys = set(new[list(KEY_COLUMNS)].itertuples(index=False, name=None))
        kept = old[[key not in new_keys for key in old[list(KEY_COLUMNS)].itertuples(index=False, name=None)]]
        if len(kept):
            merged = table_i_long(pd.concat([kept, new], ignore_index=True, sort=False))
    merged = with_profile(merged, path.parent)  # each row says which profile it came from
    with atomic_path(path) as tmp:
        merged.to_csv(tmp, index=False)
    atomic_write_text(path.with_suffix(".md"), table_i_markdown(merged))
    return merged


def metric_variant_summary(sensitivity: pd.DataFrame) -> pd.DataFrame:
    """:func:`metric_sensitivity`'s rows (with a ``model`` column) -> one row per (dataset, model,
    metric): the two variants' means over seeds (``first`` is Table I's), the mean paired
    difference ``second - first`` and its standard deviation over seeds."""
    rows = []
    for (dataset, model, metric), group in sensitivity.groupby(["dataset", "model", "metric"], sort=False):
        first, second = FIDELITY_VARIANTS["detectability" if metric == "detectability" else "prdc"]
        wide = group.pivot(index="seed", columns="variant", values="value")
        diff = wide[second] - wide[first]
        rows.append({"dataset": dataset, "model": model, "metric": metric, "first": first,
                     "first_mean": wide[first].mean(), "second": second, "second_mean": wide[second].mean(),
                     "diff_mean": diff.mean(), "diff_std": diff.std(ddof=1) if len(diff) > 1 else math.nan,
                     "n_seeds": len(wide)})  # fmt: skip
    return pd.DataFrame(rows)
