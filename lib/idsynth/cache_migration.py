"""Re-key the artefacts of the three old fit routes (before 2026-12-05) under :mod:`idsynth.runs`' one key.

    python -m idsynth.cache_migration [--cache DIR] [--dry-run] [--remove-old]

Until issue 18's one route, fitted generators sat under five kinds (``vgm``, ``mageid``,
``tabsyn``, ``table_i_generator``, ``cross_eval_generator``) with three key layouts and three data
fingerprints, and synthetic sets under ``table_i_synthetic``. Each old artefact's
``.config.json`` holds the configuration it was keyed by; this module computes the key the
current code gives the same model (:func:`idsynth.runs.generator_key`: name, code versions at
1, class, parameters, stage, data set, fingerprint, seed) and links the file under it (a hard
link: no copy, the old entry keeps working for old checkouts until ``--remove-old``). Rows
cached by the tables that embed a generator's key (``table_i_row``, ``table6_generator_seed``,
``vgm_decoding_seed``) get their new keys the same way. The Table I route's old fingerprint
(rows without dtypes) is translated by rebuilding each MAGE-ID set named in a key (data under
``$IDSYNTH_DATA``) and checking it gives the old fingerprint; a key whose set cannot be rebuilt is
reported and left. Idempotent: an artefact already under its new key is skipped, so it can run
again after old code wrote more.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from .cache import ArtifactCache, _canonical
from .runs import GENERATOR_KIND, MODEL_SUFFIX, SYNTHETIC_KIND

#: Every class's code version when the route began.
FIRST_VERSION = 1
MAGEID_CLASS = "idsynth.models.mageid.MAGEID"
VGM_CLASS = "idsynth.models.vgm.VGM"
#: old generator kind -> suffix of its files
OLD_GENERATOR_KINDS = {"vgm": ".pt", "mageid": ".pt", "tabsyn": ".pt", "table_i_generator": ".model",
                       "cross_eval_generator": ".model"}
#: the fields of a Table I generator key (as merged into synthetic-set and row keys)
TABLE_I_FIELDS = ("model", "class", "params", "dataset", "n_rows", "data", "seed")


def old_training_fingerprint(X: pd.DataFrame, y) -> str:
    """The Table I route's fingerprint before the one route (names, row hashes, labels; no dtypes)."""
    digest = hashlib.sha256(json.dumps(list(X.columns)).encode())
    digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    digest.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


class Fingerprints:
    """Old Table I fingerprint -> :func:`idsynth.runs.data_fingerprint` of the same MAGE-ID set,
    each set rebuilt once (by name and built size; the request tried as that size and as the
    paper's 30,000 rows, which CIC-IDS-2017 builds as 25,755)."""

    def __init__(self):
        self.known: dict[str, str] = {}
        self.tried: set[tuple[str, int]] = set()

    def translate(self, dataset: str, n_rows: int, old: str) -> str | None:
        if old not in self.known and (dataset, n_rows) not in self.tried:
            self.tried.add((dataset, n_rows))
            from .data.mageid_sets import PAPER_ROWS, cic_mageid_set, nslkdd_mageid_set
            from .runs import data_fingerprint

            build = {"NSL-KDD": nslkdd_mageid_set, "CIC-IDS-2017": cic_mageid_set}.get(dataset)
            for requested in dict.fromkeys((int(n_rows), PAPER_ROWS)):
                if build is None:
                    break
                try:
                    mageid_set = build(n_rows=requested)
                except Exception as error:  # data missing here: reported by the caller as untranslated
                    print(f"[migrate] cannot rebuild {dataset} ({requested} rows): {error}", file=sys.stderr)
                    continue
                if mageid_set.n_rows == int(n_rows):
                    X, y = mageid_set.xy("train")
                    self.known[old_training_fingerprint(X, y)] = data_fingerprint(X, y)
        return self.known.get(old)


def _versions(cls: str, params: Mapping[str, Any]) -> dict[str, int]:
    versions = {cls: FIRST_VERSION}
    inner = params.get("generator")
    if isinstance(inner, Mapping) and "class" in inner:
        versions[inner["class"]] = FIRST_VERSION
    return versions


def new_generator_key(old: Mapping[str, Any], fingerprints: Fingerprints) -> dict[str, Any] | None:
    """The one route's key of the model an old generator key names (any of the three layouts),
    or None when its data fingerprint cannot be translated."""
    if "model" not in old:  # the vgm / mageid / tabsyn kinds: {format, [stage], params, data}
        params = dict(old["params"])
        if "stage" in old:
            name = "MAGE-ID" if "image" in params["modalities"] else "TabSyn"
            cls, stage = MAGEID_CLASS, int(old["stage"])
        else:
            name, cls, stage = f"VGM-{params['option']}", VGM_CLASS, None
        data = old["data"]
        return {"generator": name, "code": {cls: FIRST_VERSION}, "class": cls, "params": params, "stage": stage,
                "data": {"dataset": data.get("dataset"), "fingerprint": data["sha256"], "rows": int(data["rows"])},
                "seed": int(params["random_state"])}
    cls, params = old["class"], dict(old["params"])
    if "n_rows" in old:  # the Table I route: its fingerprint had no dtypes
        fingerprint = fingerprints.translate(old["dataset"], int(old["n_rows"]), old["data"]["sha256"])
        if fingerprint is None:
            return None
        data = {"dataset": old["dataset"], "fingerprint": fingerprint, "rows": int(old["data"]["train_rows"])}
    else:  # Table 6's: already the frame fingerprint
        data = {"dataset": old["data"]["dataset"], "fingerprint": old["data"]["sha256"], "rows": int(old["data"]["rows"])}
    stage = None
    if cls == MAGEID_CLASS:
        from .models.mageid import stage_params

        stage, params = 2, stage_params(params, 2)
    return {"generator": old["model"], "code": _versions(cls, old["params"]), "class": cls, "params": params,
            "stage": stage, "data": data, "seed": int(old["seed"])}


def _sampling(old_params: Mapping[str, Any], cls: str) -> Any:
    """What :func:`idsynth.runs.synthetic_key` adds for the model's class: MAGE-ID's ``edm``."""
    return {"edm": old_params.get("edm")} if cls == MAGEID_CLASS else None


def new_config(kind: str, old: Mapping[str, Any], fingerprints: Fingerprints) -> tuple[str, dict] | None:
    """``(new kind, new configuration)`` of an old artefact's configuration, or None when it
    needs no new key (already the one route's) or cannot get one (its data set not rebuilt)."""
    if kind in OLD_GENERATOR_KINDS:
        key = new_generator_key(old, fingerprints)
        return None if key is None else (GENERATOR_KIND, key)
    if kind in ("table_i_synthetic", "table_i_row", "vgm_decoding_seed") and "model" in old and "generator" not in old:
        key = new_generator_key({f: old[f] for f in TABLE_I_FIELDS}, fingerprints)
        if key is None:
            return None
        rest = {k: v for k, v in old.items() if k not in TABLE_I_FIELDS}
        if "sample" in old:
            rest = {"sampling": _sampling(old["params"], old["class"]), **rest}
        return ({"table_i_synthetic": SYNTHETIC_KIND}.get(kind, kind), {**key, **rest})
    if kind == "table6_generator_seed" and any("model" in g for g in old.get("generators", [])):
        generators = [new_generator_key(g, fingerprints) for g in old["generators"]]
        if any(g is None for g in generators):
            return None
        return kind, {**old, "generators": generators}
    return None


#: files stored beside an artefact ``<key><suffix>``
SIDE_FILES = (".sha256", ".fit_seconds.json")


def migrate(cache: ArtifactCache, dry_run: bool = False, remove_old: bool = False,
            log: Callable[[str], None] = print) -> dict[str, int]:
    """Link every old artefact under its new key; counts of ``linked``, ``present``, ``untranslated``
    (and ``removed`` with ``remove_old``: the old entries of the generator and synthetic kinds
    whose new entry exists)."""
    fingerprints = Fingerprints()
    counts = {"linked": 0, "present": 0, "untranslated": 0, "removed": 0}
    kinds = [*OLD_GENERATOR_KINDS, "table_i_synthetic", "table_i_row", "vgm_decoding_seed", "table6_generator_seed"]
    for kind in kinds:
        folder = cache.root / kind
        if not folder.is_dir():
            continue
        for config_path in sorted(folder.glob("*.config.json")):
            artefact = config_path.with_name(config_path.name[: -len(".config.json")])
            if not artefact.exists():
                continue
            suffix = artefact.name[16:]
            old = json.loads(config_path.read_text())
            made = new_config(kind, old, fingerprints)
            if made is None:
                if kind in OLD_GENERATOR_KINDS or "model" in old or any("model" in g for g in old.get("generators", [])):
                    counts["untranslated"] += 1
                    log(f"[migrate] {kind}/{artefact.name}: no new key (its data set could not be rebuilt)")
                continue
            new_kind, config = made
            new_suffix = MODEL_SUFFIX if new_kind == GENERATOR_KIND else suffix
            target = cache.path_for(new_kind, config, new_suffix)
            if target.exists():
                counts["present"] += 1
            else:
                counts["linked"] += 1
                if not dry_run:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    for side in SIDE_FILES:
                        source = artefact.with_name(artefact.name + side)
                        if source.exists():
                            os.link(source, target.with_name(target.name + side))
                    target.with_name(target.name + ".config.json").write_text(json.dumps(_canonical(config), indent=1))
                    os.link(artefact, target)  # last: the entry exists only once complete
            if remove_old and not dry_run and kind in (*OLD_GENERATOR_KINDS, "table_i_synthetic") and target.exists():
                for path in (artefact, *(artefact.with_name(artefact.name + s) for s in (*SIDE_FILES, ".config.json"))):
                    path.unlink(missing_ok=True)
                counts["removed"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=None, help="cache folder (default: $IDSYNTH_CACHE or .cache/idsynth)")
    parser.add_argument("--dry-run", action="store_true", help="count, link nothing")
    parser.add_argument("--remove-old", action="store_true",
                        help="delete the old generator and synthetic-set entries that have a new one")
    args = parser.parse_args(argv)
    counts = migrate(ArtifactCache(args.cache), args.dry_run, args.remove_old)
    print("[migrate] " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
