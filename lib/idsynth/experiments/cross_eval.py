"""Every generator under every protocol: the cross-evaluation neither paper has (notebooks 10 and 11).

The VGM paper scores VGM against over-samplers (Table 6: a class-balanced KDDTrain+, four
classifiers, KDDTest+); the MAGE-ID poster scores diffusion generators on fidelity and utility
(Table I: a Normal-vs-Attack set, 80:20). This module runs each side's generators under the
other side's protocol, through the machinery that already produces those tables:

* **Table I rows for VGM-C and SMOTE** on the NSL-KDD MAGE-ID set: both work in an encoded
  matrix, so they are wrapped as generators of typed frames
  (:class:`~idsynth.models.encoded_frame.EncodedFrameGenerator`: the set's numeric columns
  min-max, its categoricals one-hot; VGM Option C with ``n_classes=2`` and the paper's
  architecture and schedule; SMOTE's interpolations by
  :class:`~idsynth.models.smote_generator.SMOTEGenerator`) and go through
  :func:`idsynth.experiments.table_i.run_generator` like TabDDPM, TabSyn and MAGE-ID.
* **MAGE-ID, TabSyn and TabDDPM as over-samplers in Table 6's protocol**
  (:func:`run_generator_oversampling`): each is fitted on the typed KDDTrain+ rows (the 41
  features, five classes; cached), used through
  :class:`~idsynth.sampling.GeneratorOverSampler` (``sampling_strategy="auto"``: every class
  up to the majority count) on those typed rows, and the balanced frame is encoded with the
  paper's 116-column encoder (``vgm_encoder()`` fitted on all of KDDTrain+); then the four
  classifiers are trained and scored exactly as for notebook 04's methods.

Rows are merged into the tables the other notebooks write (Table I through
:func:`~idsynth.experiments.table_i.update_table_i_csv`, Table 6 through
:func:`update_table6_tables`), so one table holds every method.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.frozen import FrozenEstimator

from .. import runs
from ..cache import ArtifactCache, array_digest
from ..config import Profile, figures_dir, get_profile, resolve_device
from ..data.nslkdd import CATEGORIES, FEATURES, EncodedSplits, load_vgm_arrays
from ..data.schema import Schema
from ..metrics.classifiers import CLASSIFIER_NAMES
from ..models.edm import LatentEDM
from ..models.encoded_frame import EncodedFrameGenerator
from ..models.smote_generator import SMOTEGenerator
from ..models.vgm import VGM
from ..sampling import GeneratorOverSampler
from ..tables import mean_pm_std, summarise, with_profile, write_table
from . import paper_values
from .classifier_runs import FitTask
from .mageid_train import make_generator
from .oversampling import OVERSAMPLER_NAMES, PAPER_NAMES
from .seed_cache import cached_seed_rows, setting_digest
from .table_i import run_generator, table_i_long
from .tabddpm_run import tabddpm_factory
from .vgm_oversample import OversamplingRun, finish_run, fit_and_score, paper_table6
from .vgm_train import vgm_params

#: Table I's names of the two models added here.
VGM_NAME, SMOTE_NAME = "VGM-C", "SMOTE"
TABLE_I_MODELS: tuple[str, ...] = (VGM_NAME, SMOTE_NAME)
#: The generators added to Table 6, in its row order after notebook 04's eight methods.
TABLE6_GENERATORS: tuple[str, ...] = ("MAGE-ID", "TabSyn", "TabDDPM")
#: Table 6's methods in row order: the paper's eight, then the generators added here.
TABLE6_METHODS: tuple[str, ...] = (*OVERSAMPLER_NAMES, *TABLE6_GENERATORS)
#: Keys of the rows of the three Table 6 CSVs (a new row replaces an old one with equal keys).
TABLE6_KEYS: dict[str, tuple[str, ...]] = {
    "table6_oversamplers": ("method", "classifier", "seed"),
    "table6_recall": ("method", "classifier", "seed", "class"),
    "table6_balanced_sets": ("method", "seed"),
}
#: The data set name in the cache key of the Table 6 generators.
TABLE6_DATASET = "NSL-KDD KDDTrain+ (5 classes)"


# --- Table I: VGM-C and SMOTE as generators of typed frames --------------------------------------


def _schema_columns(schema: Schema) -> dict[str, Any]:
    if not isinstance(schema, Schema):
        raise TypeError(f"schema must be an idsynth.data.schema.Schema, got {type(schema).__name__}")
    return {"numeric": tuple(schema.numeric), "categorical": tuple(schema.categorical),
            "integer": tuple(schema.integer)}


def vgm_c_factory(schema: Schema, vgm_section: Mapping[str, Any], device: str = "auto",
                  verbose: bool = False) -> Callable[[int], EncodedFrameGenerator]:
    """``seed -> unfitted VGM Option C inside an EncodedFrameGenerator`` over ``schema``'s columns.

    The VGM takes the paper's architecture and the ``vgm_section``'s schedule (``epochs``,
    ``batch_size``; :func:`~idsynth.experiments.vgm_train.vgm_params`), ``random_state=seed``;
    its widths (``n_features`` = the set's encoded width, ``n_classes`` = 2 for Normal vs
    Attack, ``continuous_features``) are set from the data at fit.
    """
    columns = _schema_columns(schema)

    def make(seed: int) -> EncodedFrameGenerator:
        vgm = VGM(**{**vgm_params("C", int(seed), vgm_section), "device": device, "verbose": verbose})
        return EncodedFrameGenerator(vgm, **columns)

    return make


def smote_factory(schema: Schema, k_neighbors: int = 5) -> Callable[[int], EncodedFrameGenerator]:
    """``seed -> unfitted SMOTEGenerator inside an EncodedFrameGenerator`` over ``schema``'s
    columns (SMOTE's randomness is the ``random_state`` of ``sample``, i.e. the seed)."""
    columns = _schema_columns(schema)
    return lambda seed: EncodedFrameGenerator(SMOTEGenerator(k_neighbors=int(k_neighbors)), **columns)


def table_i_factories(schema: Schema, vgm_section: Mapping[str, Any], device: str = "auto", verbose: bool = False,
                      k_neighbors: int = 5) -> dict[str, Callable[[int], EncodedFrameGenerator]]:
    """``{"VGM-C": factory, "SMOTE": factory}`` for :func:`run_table_i`."""
    return {VGM_NAME: vgm_c_factory(schema, vgm_section, device, verbose),
            SMOTE_NAME: smote_factory(schema, k_neighbors)}


def run_table_i(mageid_set, seeds: Sequence[int], factories: Mapping[str, Callable[[int], Any]],
                cache: ArtifactCache | None = None, **metric_settings) -> tuple[pd.DataFrame, dict]:
    """Table I rows of every ``factories`` model and seed on ``mageid_set`` (fitted, sampled and
    scored by :func:`~idsynth.experiments.table_i.run_generator`, cached).

    Returns ``(long, synthetic)``: the long Table I frame (:func:`table_i_long`) and
    ``{(model, seed): (synthetic frame, synthetic y)}``.
    """
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    rows, synthetic = [], {}
    for name, make in factories.items():
        for seed in seeds:
            row, frame, y = run_generator(name, make, mageid_set, int(seed), cache, **metric_settings)
            rows.append(row)
            synthetic[(name, int(seed))] = (frame, y)
    return table_i_long(rows), synthetic


# --- Table 6: MAGE-ID, TabSyn, TabDDPM as over-samplers of typed KDDTrain+ rows -------------------


def table6_factories(
    mageid_section: Mapping[str, Any], tabddpm_section: Mapping[str, Any], device: str = "auto",
    verbose: bool = False, names: Sequence[str] = TABLE6_GENERATORS,
) -> dict[str, Callable[[int], Any]]:
    """``{name: seed -> unfitted generator of typed frames}`` for ``names`` among
    :data:`TABLE6_GENERATORS`, with the profile's ``mageid`` (MAGE-ID, TabSyn) and ``tabddpm``
    sections (the schedules of notebooks 06-09)."""
    unknown = [n for n in names if n not in TABLE6_GENERATORS]
    if unknown or not names:
        raise ValueError(f"names must be among {TABLE6_GENERATORS}, got {list(names)}")
    section = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in mageid_section.items()}
    factories = {
        "MAGE-ID": lambda seed: make_generator(section, int(seed), ("tabular", "image"), device, verbose),
        "TabSyn": lambda seed: make_generator(section, int(seed), ("tabular",), device, verbose),
        "TabDDPM": tabddpm_factory(tabddpm_section, device=device, verbose=verbose),
    }
    return {name: factories[name] for name in names}


def table6_generators_to_run(profile_names: Sequence[str], requested: Sequence[str] | None = None) -> tuple[str, ...]:
    """The Table 6 generators a run of notebook 11 refits: ``profile_names`` (the profile's
    ``cross_eval.table6_generators``) when ``requested`` is ``None``, else ``requested``, which
    must be a non-empty subset of them without repeats. Naming fewer refits only those; the
    other generators' rows already in the shared tables are kept (:func:`update_table6_tables`),
    each with its own ``setting``. Raises ``ValueError`` naming what was expected."""
    if requested is None:
        return tuple(profile_names)
    if isinstance(requested, str):
        raise ValueError(f"generators must be a list of names, got the string {requested!r}")
    requested = tuple(requested)
    unknown = [name for name in requested if name not in profile_names]
    if not requested or unknown or len(set(requested)) != len(requested):
        raise ValueError(f"generators must be distinct names among the profile's {list(profile_names)}, "
                         f"got {list(requested)}")
    return requested


#: Table 6 settings that must equal notebook 04's (``oversample`` section) for the rows to merge.
SHARED_TABLE6_SETTINGS: tuple[str, ...] = ("train_rows", "test_rows", "mlp_backend")


def check_table6_settings(table6_section: Mapping[str, Any], oversample_section: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` unless the cross-evaluation's Table 6 rows, test rows and MLP backend
    equal notebook 04's: rows of both notebooks share one CSV and one KDDTest+ subset."""
    differ = {k: (table6_section.get(k), oversample_section.get(k)) for k in SHARED_TABLE6_SETTINGS
              if table6_section.get(k) != oversample_section.get(k)}  # fmt: skip
    if differ:
        raise ValueError(f"cross_eval.table6 differs from oversample (notebook 04) in {differ} (ours, 04's); "
                         "their rows would not be comparable")  # fmt: skip


def table6_data(profile, data_dir=None, seed: int = 0) -> EncodedSplits:
    """KDDTrain+ / KDDTest+ as Table 6 uses them (``profile["cross_eval"]["table6"]`` sizes, which
    must match notebook 04's ``oversample`` settings: :func:`check_table6_settings`)."""
    section = profile["cross_eval"]["table6"]
    check_table6_settings(section, profile["oversample"])
    return load_vgm_arrays(data_dir, train_rows=section["train_rows"], test_rows=section["test_rows"], seed=seed)


def table6_training_frame(data: EncodedSplits) -> tuple[pd.DataFrame, np.ndarray]:
    """The typed KDDTrain+ rows the generators learn: ``(frame (n, 41) of FEATURES, y (n,)
    int64 category codes 0..4)``, the same rows as ``data.X_train``."""
    return data.frame_train[list(FEATURES)].reset_index(drop=True), np.asarray(data.y_train, dtype=np.int64)


def fit_table6_generator(name: str, make_generator: Callable[[int], Any], X: pd.DataFrame, y: np.ndarray, seed: int,
                         cache: ArtifactCache | None = None) -> tuple[Any, float]:
    """``(fitted generator, fit seconds)``: ``make_generator(seed)`` fitted on the typed rows
    ``X`` and labels ``y``, or loaded from ``cache`` (:func:`idsynth.runs.fit_or_load`, data set
    :data:`TABLE6_DATASET`)."""
    return runs.fit_or_load(name, make_generator(int(seed)), X, y, seed=seed, dataset=TABLE6_DATASET, cache=cache)


def table6_generator_config(name: str, fresh, X: pd.DataFrame, y: np.ndarray, seed: int) -> dict[str, Any]:
    """The key of a Table 6 generator fitted on the typed training rows ``X`` and labels ``y``
    (:func:`idsynth.runs.generator_key`, data set :data:`TABLE6_DATASET`), plus, where it has
    any, the sampling settings its rows depend on beyond the model (:func:`sampling_overrides`)."""
    key = runs.generator_key(name, fresh, X, y, seed=seed, dataset=TABLE6_DATASET)
    overrides = sampling_overrides(fresh)
    return {**key, "sampling": overrides} if overrides else key


def sampling_overrides(generator) -> dict[str, Any]:
    """The sampling settings of ``generator`` that its model's key leaves out (one trained MAGE-ID
    serves every Heun step count, guidance, churn, ...: :meth:`~idsynth.models.mageid.MAGEID.sampling_settings`)
    and that differ from :class:`~idsynth.models.edm.LatentEDM`'s defaults; empty for a generator
    without them or at the defaults, so that the keys of rows drawn by the default sampler stay
    what they were. Rows drawn with other settings are other rows: their seed-row key and
    ``setting`` must differ."""
    if not hasattr(generator, "sampling_settings"):
        return {}
    defaults = LatentEDM()
    return {name: value for name, value in generator.sampling_settings().items() if value != getattr(defaults, name)}


def balanced_frame(generator, X: pd.DataFrame, y: np.ndarray, seed: int) -> tuple[pd.DataFrame, np.ndarray, float]:
    """``(X_bal, y_bal, seconds)``: the fitted ``generator`` (frozen) over-samples the typed
    rows ``X`` with ``sampling_strategy="auto"`` (every class up to the majority count) and
    ``random_state=seed``; X_bal holds X's rows first, then the synthetic ones, X's dtypes."""
    sampler = GeneratorOverSampler(FrozenEstimator(generator), sampling_strategy="auto", random_state=int(seed))
    start = time.perf_counter()
    X_bal, y_bal = sampler.fit_resample(X, y)
    return X_bal, np.asarray(y_bal), time.perf_counter() - start


def run_generator_oversampling(
    data: EncodedSplits,
    seeds: Sequence[int],
    factories: Mapping[str, Callable[[int], Any]],
    *,
    classifiers: Sequence[str] = CLASSIFIER_NAMES,
    n_jobs: int | None = None,
    mlp_backend: str = "sklearn",
    device: str = "auto",
    cache: ArtifactCache | None = None,
    verbose: bool = True,
) -> OversamplingRun:
    """Table 6 for generators of typed frames, in notebook 04's long form.

    data: :func:`~idsynth.data.nslkdd.load_vgm_arrays`'s splits (typed ``frame_train``, encoded
    ``X_test`` (m, 116), ``y_test``, and ``encoder``, the 116-column encoder fitted on all of
    KDDTrain+). Per seed and generator: fit on the typed training rows (cached), balance them
    (:func:`balanced_frame`), encode the balanced frame with ``data.encoder``; then all
    (generator, classifier) fits of that seed run in parallel (``n_jobs``) and are scored on
    KDDTest+ as in :func:`~idsynth.experiments.vgm_oversample.run_oversampling`.

    ``cache`` (default: the project's) keeps the fitted generators and each finished seed's rows
    (kind "table6_generator_seed", keyed by every generator's cache key, the classifiers, the MLP
    backend, the device type and a digest of the test rows), so a run stopped part-way redoes
    only the seeds not finished.

    Returns an :class:`~idsynth.experiments.vgm_oversample.OversamplingRun`; its ``samplers``
    frame has ``method, seed, seconds`` (over-sampling, i.e. sampling the frozen generator),
    ``fit_seconds`` (the generator's fit, as measured when it was trained), ``rows`` and the
    rows per class.
    """
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    if not factories:
        raise ValueError("factories must name at least one generator")
    cache = cache if cache is not None else ArtifactCache()
    X, y = table6_training_frame(data)
    labels = np.unique(np.concatenate([y, data.y_test])).tolist()
    names = {label: data.classes[label] for label in labels}

    def one_seed(seed: int) -> dict[str, list[dict]]:
        score_rows, recall_rows, sampler_rows, tasks = [], [], [], []
        for method, make in factories.items():
            generator, fit_seconds = fit_table6_generator(method, make, X, y, seed, cache)
            X_bal, y_bal, seconds = balanced_frame(generator, X, y, seed)
            X_enc = data.encoder.transform(X_bal)
            counts = {names[label]: int(np.sum(y_bal == label)) for label in labels}
            sampler_rows.append({"method": method, "seed": int(seed), "seconds": seconds, "fit_seconds": fit_seconds,
                                 "rows": len(y_bal), **counts})  # fmt: skip
            if verbose:
                print(f"seed {seed} {method:>8}: fit {fit_seconds:7.1f} s, {len(y_bal):>7} rows in {seconds:6.1f} s  "
                      f"{counts}", flush=True)  # fmt: skip
            tasks += [FitTask(name, int(seed), method, [(X_enc, y_bal)]) for name in classifiers]
        fit_and_score(tasks, data.X_test, data.y_test, labels, names, score_rows, recall_rows,
                      n_jobs=n_jobs, mlp_backend=mlp_backend, device=device)
        return {"scores": score_rows, "recall": recall_rows, "samplers": sampler_rows}

    def seed_config(seed: int) -> dict[str, Any]:
        return {"generators": [table6_generator_config(method, make(int(seed)), X, y, seed)
                               for method, make in factories.items()],
                "classifiers": list(classifiers), "mlp_backend": mlp_backend, "device": resolve_device(device).type,
                "test": array_digest(data.X_test, data.y_test), "class_names": [str(names[k]) for k in labels]}  # fmt: skip

    start = time.perf_counter()
    rows: dict[str, list[dict]] = {"scores": [], "recall": [], "samplers": []}
    settings: dict[str, set[str]] = {method: set() for method in factories}
    for seed in seeds:
        config = seed_config(seed)
        for method, key in zip(factories, config["generators"]):
            settings[method].add(generator_setting(key))
        done = cached_seed_rows(cache, "table6_generator_seed", config, seed, lambda seed=seed: one_seed(seed))
        for part in rows:
            rows[part] += done[part]
    if any(len(found) != 1 for found in settings.values()):
        raise ValueError(f"one generator's seeds have different settings: {settings}")
    run = finish_run(rows["scores"], rows["recall"], rows["samplers"], start, "Table 6 generators", verbose)
    return with_settings(run, {method: found.pop() for method, found in settings.items()})


def generator_setting(key: Mapping[str, Any]) -> str:
    """12 hex digits naming a generator's setting: its cache key (:func:`idsynth.runs.generator_key`)
    without the seed (``seed``, and ``random_state`` among its parameters), so that every seed
    of one setting (code versions, parameters such as the step budgets, data) shares it."""
    params = {k: v for k, v in dict(key["params"]).items() if k != "random_state"}
    return setting_digest({**{k: v for k, v in key.items() if k != "seed"}, "params": params})


def settings_against_code(scores: pd.DataFrame, factories: Mapping[str, Callable[[int], Any]], X: pd.DataFrame,
                          y: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Whether the rows of each generator in ``factories`` that ``scores`` holds (a merged
    ``table6_oversamplers`` frame, with its ``setting`` column) were made by what the current
    code would fit on the typed rows ``X``, ``y``: the setting their rows name against
    :func:`generator_setting` of the generator ``factories[name](seed)`` makes now (the setting
    leaves the seed out, so one seed decides it). A generator whose rows a run kept
    (notebook 11's ``generators``) is current only if the two agree.

    Returns one row per generator: ``method``, ``rows``, ``table_setting`` (the settings its rows
    name, joined by ", "; empty when it has no rows), ``current_setting`` and ``current``."""
    written = scores.get("setting", pd.Series(index=scores.index, dtype=object))
    out = []
    for method, make in factories.items():
        mine = written[scores["method"] == method]
        found = sorted({str(v) for v in mine.dropna()})
        current = generator_setting(table6_generator_config(method, make(int(seed)), X, y, int(seed)))
        out.append({"method": method, "rows": int(len(mine)), "table_setting": ", ".join(found),
                    "current_setting": current, "current": bool(len(mine)) and found == [current]})
    return pd.DataFrame(out, columns=["method", "rows", "table_setting", "current_setting", "current"])


def with_settings(run: OversamplingRun, settings: Mapping[str, str]) -> OversamplingRun:
    """``run`` with a ``setting`` column (:func:`generator_setting` by method) in its scores,
    recall and balanced-set rows."""
    def stamped(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(setting=frame["method"].map(dict(settings))) if "method" in frame else frame

    return dataclasses.replace(run, scores=stamped(run.scores), recall=stamped(run.recall),
                               samplers=stamped(run.samplers))


# --- merging into the shared CSVs -----------------------------------------------------------------


def merge_rows(old: pd.DataFrame | None, new: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """``old`` without the rows whose ``keys`` equal a row of ``new``, then ``new``.

    Columns: ``old``'s, then ``new``'s others (empty where a side lacks them). Raises
    ``ValueError`` when a key column is missing or ``new`` repeats a key.
    """
    keys = list(keys)
    for name, frame in (("new", new), ("old", old)):
        if frame is not None and (missing := [k for k in keys if k not in frame.columns]):
            raise ValueError(f"the {name} rows lack the key columns {missing}")
    if new.duplicated(keys).any():
        raise ValueError(f"the new rows repeat keys {new.loc[new.duplicated(keys), keys].to_records(index=False)[:5]}")
    if old is None or old.empty:
        return new.reset_index(drop=True)
    # compare keys as strings: a CSV read back gives ints where the new frame may hold numpy ints
    key_of = lambda frame: pd.Series(list(zip(*(frame[k].astype(str) for k in keys))), index=frame.index)  # noqa: E731
    kept = old[~key_of(old).isin(set(key_of(new)))]
    columns = list(old.columns) + [c for c in new.columns if c not in old.columns]
    return pd.concat([kept, new], ignore_index=True, sort=False).reindex(columns=columns)


def _method_order(methods) -> list[str]:
    present = list(dict.fromkeys(methods))
    return [m for m in TABLE6_METHODS if m in present] + sorted(m for m in present if m not in TABLE6_METHODS)


def table6_beside_paper(scores: pd.DataFrame) -> pd.DataFrame:
    """Table 6 as notebook 04 shows it, for any methods: per (method, classifier) accuracy and
    weighted F1 as mean ± std over seeds beside the paper's value and the difference (ours −
    paper; empty for a method the paper does not have), and macro F1. Methods in
    :data:`TABLE6_METHODS` order, labelled with the paper's names where it has them."""
    missing = {"method", "classifier", "seed", "accuracy", "f1_weighted", "f1_macro"} - set(scores.columns)
    if missing:
        raise ValueError(f"scores lack the columns {sorted(missing)}")
    summary = summarise(scores, by=["method", "classifier"], values=["accuracy", "f1_weighted", "f1_macro"])
    paper = paper_table6().rename(columns={"accuracy": "accuracy_paper", "f1_weighted": "f1_weighted_paper"})
    summary = summary.merge(paper, on=["method", "classifier"], how="left")
    order = {m: i for i, m in enumerate(_method_order(summary["method"]))}
    clf_order = {c: i for i, c in enumerate(CLASSIFIER_NAMES)}
    summary = summary.sort_values(["method", "classifier"], kind="stable",
                                  key=lambda s: s.map(order if s.name == "method" else clf_order))  # fmt: skip
    return _beside_paper_view(summary, keys=("classifier",))


def _beside_paper_view(summary: pd.DataFrame, keys: Sequence[str] = ()) -> pd.DataFrame:
    """The shown form of a Table 6 summary: ``method`` (the paper's names), ``keys``, accuracy
    and weighted F1 as mean ± std beside ``accuracy_paper`` / ``f1_weighted_paper`` and the
    difference, macro F1 and ``n_seeds``. ``summary`` holds :func:`~idsynth.tables.summarise`'s
    ``<metric>_mean`` / ``<metric>_std`` columns and the two paper columns."""
    cell = lambda m: [mean_pm_std(a, b) for a, b in zip(summary[f"{m}_mean"], summary[f"{m}_std"])]  # noqa: E731
    return pd.DataFrame({
        "method": summary["method"].map(lambda m: PAPER_NAMES.get(m, m)), **{k: summary[k] for k in keys},
        "accuracy": cell("accuracy"), "accuracy_paper": summary["accuracy_paper"],
        "accuracy_diff": summary["accuracy_mean"] - summary["accuracy_paper"],
        "f1_weighted": cell("f1_weighted"), "f1_paper": summary["f1_weighted_paper"],
        "f1_diff": summary["f1_weighted_mean"] - summary["f1_weighted_paper"],
        "f1_macro": cell("f1_macro"), "n_seeds": summary["n_seeds"],
    }).reset_index(drop=True)  # fmt: skip


#: Titles of the three Table 6 tables (notebook 04's).
TABLE6_TITLES: dict[str, str] = {
    "table6_oversamplers": "Table 6: classifiers trained on balanced sets, tested on KDDTest+ (mean ± std over seeds, "
                           "beside the paper; MAGE-ID, TabSyn and TabDDPM from notebook 11)",
    "table6_recall": "Table 6: recall per class on KDDTest+ (long form)",
    "table6_balanced_sets": "Table 6: the balanced training sets (rows per class, seconds)",
}


def without_other_settings(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame | None:
    """``old`` without the rows of ``new``'s methods that another setting made (their ``setting``
    differs from ``new``'s for that method, or they have none: rows written before settings were
    recorded). So a rerun at another step budget replaces every seed of its method, while seeds
    run one call at a time under one setting accumulate. Unchanged when ``new`` has no
    ``setting`` column (e.g. notebook 04's over-samplers)."""
    if old is None or "setting" not in new.columns:
        return old
    stale = pd.Series(False, index=old.index)
    recorded = old["setting"].astype(str) if "setting" in old.columns else pd.Series("", index=old.index)
    for method, setting in new.groupby("method")["setting"].first().items():
        stale |= (old["method"] == method) & (recorded != str(setting))
    return old[~stale]


def update_table6_tables(run: OversamplingRun, out_dir: str | Path) -> dict[str, pd.DataFrame]:
    """Merge ``run``'s scores, recall and balanced-set rows into notebook 04's tables under
    ``out_dir/tables``: ``table6_oversamplers``, ``table6_recall``, ``table6_balanced_sets``
    (``.csv`` long form + ``.md``; rows of other methods, e.g. notebook 04's, are kept; rows
    with the same keys, :data:`TABLE6_KEYS`, are replaced, and so are all rows of a method that
    another setting made, :func:`without_other_settings`; files need not exist). The Markdown
    of ``table6_oversamplers`` shows every method beside the paper (:func:`table6_beside_paper`).
    Returns the merged frames by name."""
    tables = Path(out_dir) / "tables"
    frames = {"table6_oversamplers": run.scores, "table6_recall": run.recall, "table6_balanced_sets": run.samplers}
    merged = {}
    for name, frame in frames.items():
        path = tables / f"{name}.csv"
        old = without_other_settings(pd.read_csv(path) if path.exists() else None, frame)
        merged[name] = merge_rows(old, frame, TABLE6_KEYS[name])
        view = table6_beside_paper(merged[name]) if name == "table6_oversamplers" else None
        write_table(merged[name], name, out_dir, markdown=view, title=TABLE6_TITLES[name])
    return merged


#: The profile sections that set the models a step-budget profile leaves as they are (VGM-C,
#: SMOTE, notebook 04's over-samplers and the Table I metrics): where a profile's sections equal
#: the paper profile's, the paper profile's rows of those models are the rows it would produce.
UNCUT_SECTIONS: tuple[str, ...] = ("nslkdd", "vgm", "oversample", "smote", "mageid_data", "table_i")


def with_paper_rows(frame: pd.DataFrame, profile: Profile, table: str, column: str) -> pd.DataFrame:
    """``frame`` (rows of ``profile``'s ``table``, e.g. ``"table6_oversamplers"``) plus the paper
    profile's rows of that table for every ``column`` value (method or model) ``frame`` lacks, when
    ``profile`` is not the paper profile but sets those models as it does (:data:`UNCUT_SECTIONS`
    and cross_eval's ``smote_k_neighbors`` equal: the ``cpu`` profile cuts only the diffusion
    family's steps). So notebook 11 in the ``cpu`` profile ranks its diffusion models against the
    committed rows of VGM-C, SMOTE and the over-samplers, which that profile would reproduce, instead
    of rerunning them (hours on a CPU). The borrowed rows keep ``profile == "paper"``. Unchanged
    for the paper profile, a profile with other settings (``smoke``), or no paper table."""
    if profile.is_paper:
        return frame
    paper = get_profile("paper")
    same = all(dict(profile[name]) == dict(paper[name]) for name in UNCUT_SECTIONS) and \
        profile["cross_eval"]["smote_k_neighbors"] == paper["cross_eval"]["smote_k_neighbors"]
    path = figures_dir(paper) / "tables" / f"{table}.csv"
    if not same or not path.is_file():
        return frame
    rows = with_profile(pd.read_csv(path), path.parent)  # labelled "paper" by that folder's marker
    borrowed = rows[~rows[column].isin(set(frame[column]))]
    return pd.concat([frame, borrowed], ignore_index=True)


def table6_average(scores: pd.DataFrame) -> pd.DataFrame:
    """The paper's "Average" columns for any methods: per method the mean over the four
    classifiers of each seed, then mean ± std over seeds of accuracy, weighted F1 and macro F1,
    beside the paper's average accuracy and F1 and the difference (empty for a method the paper
    does not have). Sorted by mean accuracy, best first."""
    per_seed = scores.groupby(["method", "seed"], as_index=False)[["accuracy", "f1_weighted", "f1_macro"]].mean()
    summary = summarise(per_seed, by=["method"], values=["accuracy", "f1_weighted", "f1_macro"])
    paper = paper_values.table6()
    paper = paper[paper["classifier"] == "Average"]
    ours = {label: name for name, label in PAPER_NAMES.items()}
    paper = paper.assign(method=paper["method"].map(ours))[["method", "accuracy", "f1_weighted"]]
    summary = summary.merge(paper.add_suffix("_paper").rename(columns={"method_paper": "method"}), on="method",
                            how="left").sort_values("accuracy_mean", ascending=False, kind="stable")  # fmt: skip
    return _beside_paper_view(summary)


def class_recall_wide(recall: pd.DataFrame, methods: Sequence[str] | None = None) -> pd.DataFrame:
    """Recall per class on KDDTest+ (mean over classifiers, then mean ± std over seeds), one row
    per method (:data:`TABLE6_METHODS` order, or ``methods``), one column per class."""
    per_seed = recall.groupby(["method", "class", "seed"], as_index=False)["recall"].mean()
    summary = summarise(per_seed, by=["method", "class"], values=["recall"])
    summary["cell"] = [mean_pm_std(m, s, 3) for m, s in zip(summary["recall_mean"], summary["recall_std"])]
    wide = summary.pivot(index="method", columns="class", values="cell")
    rows = list(methods) if methods is not None else _method_order(wide.index)
    columns = [c for c in CATEGORIES if c in wide.columns] + [c for c in wide.columns if c not in CATEGORIES]
    return wide.reindex(index=rows, columns=columns).rename_axis(index="method", columns=None)
