"""The two MAGE-ID evaluation sets (poster, "IDS Datasets"): 80:20 benign:attack, 30,000 rows.

* CIC-IDS-2017: Benign vs (PortScan + DDoS), from the Friday-afternoon DDoS and PortScan files
  (with the rows of ``cic-ids-2017-extra/`` when present).
* NSL-KDD: Normal vs Attack (every other category), from KDDTrain+.

**(our choice)**, as TARGETS.md records: rows are sampled without replacement with a fixed seed
(attack rows uniformly from the pooled attack classes, so their mix follows the data), then split
80/20 into the generator's training set and a held-out real test set. Both splits keep the exact
80:20 ratio: the set is made of ``k`` "units" of 4 benign + 1 attack rows and ``round(0.2 k)``
units go to the test set. When the data hold too few rows for the asked size (the shared
CIC-IDS-2017 subset with its extra folder: 20,605 benign rows, so 25,755 rows = 20,604 benign +
5,151 attack instead of 30,000; 20,605 of them train the generator, 5,150 are held out), the
largest 80:20 set the data allow is built and the shortfall is logged and recorded in ``limited_by``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import numpy as np
import pandas as pd

from .cicids2017 import FRIDAY_AFTERNOON_FILES, LABEL as CIC_LABEL, load_cicids2017
from .schema import Schema

log = logging.getLogger(__name__)

#: The poster's size of each set and its benign:attack ratio.
PAPER_ROWS = 30000
ATTACK_SHARE = 0.2
TEST_FRACTION = 0.2

LABEL = "label"  # 0 = benign / normal, 1 = attack
ATTACK = "attack"  # the original label of the row (BENIGN, DDoS, PortScan; normal, neptune, ...)

CIC_NAME, NSLKDD_NAME = "CIC-IDS-2017", "NSL-KDD"
CIC_BENIGN, CIC_ATTACKS = ("BENIGN",), ("PortScan", "DDoS")


@dataclass
class MageIDSet:
    """One 80:20 evaluation set, split into generator-training rows and held-out real test rows.

    ``train`` / ``test``: the features (``schema.features``, typed as loaded), ``attack`` (the
    original label) and ``label`` (int64: 0 = benign, 1 = attack), rows shuffled, index
    0..n-1. ``train_rows`` / ``test_rows``: (n,) positions of those rows in the loaded source
    frame (disjoint). ``requested_rows`` / ``n_rows``: asked and built size; ``limited_by``:
    why they differ (None when they do not).
    """

    name: str
    train: pd.DataFrame
    test: pd.DataFrame
    schema: Schema
    class_names: tuple[str, str]
    train_rows: np.ndarray
    test_rows: np.ndarray
    requested_rows: int
    n_rows: int
    available: dict[str, int]
    limited_by: str | None
    seed: int
    label: str = LABEL
    attack_column: str = ATTACK

    @property
    def features(self) -> list[str]:
        return list(self.schema.features)

    def xy(self, split: str = "train") -> tuple[pd.DataFrame, np.ndarray]:
        """(feature frame, (n,) int64 binary labels) of ``split`` (``train`` or ``test``)."""
        frame = {"train": self.train, "test": self.test}[split]
        return frame[self.features], frame[LABEL].to_numpy(dtype=np.int64)

    def sizes_table(self) -> pd.DataFrame:
        """Rows per split and class: columns ``dataset, split, label, count``; ``label`` is the
        class name, or ``all``; split ``all`` is train + test."""
        rows = []
        for split, frame in (("train", self.train), ("test", self.test), ("all", None)):
            labels = (
                np.concatenate([self.train[LABEL].to_numpy(), self.test[LABEL].to_numpy()])
                if frame is None
                else frame[LABEL].to_numpy()
            )
            for code, name in enumerate(self.class_names):
                rows.append((self.name, split, name, int((labels == code).sum())))
            rows.append((self.name, split, "all", int(len(labels))))
        return pd.DataFrame(rows, columns=["dataset", "split", "label", "count"])


@dataclass
class MageIDSets:
    """The two evaluation sets: ``cic`` (CIC-IDS-2017) and ``nslkdd`` (NSL-KDD)."""

    cic: MageIDSet
    nslkdd: MageIDSet

    def __iter__(self):
        return iter((self.cic, self.nslkdd))

    def sizes_table(self) -> pd.DataFrame:
        """Both sets' :meth:`MageIDSet.sizes_table`, plus ``paper`` (the poster's count for the
        split ``all``: 30,000 rows, 24,000 benign, 6,000 attack; NaN for train/test, which the
        poster does not give)."""
        table = pd.concat([s.sizes_table() for s in self], ignore_index=True)
        paper = {"all": PAPER_ROWS}
        for s in self:
            paper[s.class_names[0]] = round(PAPER_ROWS * (1 - ATTACK_SHARE))
            paper[s.class_names[1]] = round(PAPER_ROWS * ATTACK_SHARE)
        table["paper"] = [paper[l] if split == "all" else np.nan for split, l in zip(table["split"], table["label"])]
        return table


def unit_counts(attack_share: float) -> tuple[int, int]:
    """(benign, attack) rows of the smallest block with the exact ratio: 0.2 -> (4, 1)."""
    if not 0 < attack_share < 1:
        raise ValueError(f"attack_share must lie strictly between 0 and 1, got {attack_share}")
    share = Fraction(attack_share).limit_denominator(1000)
    return share.denominator - share.numerator, share.numerator


def sample_binary_set(
    frame: pd.DataFrame,
    features: Sequence[str],
    is_attack: np.ndarray,
    attack_names: np.ndarray,
    *,
    name: str,
    schema: Schema,
    class_names: tuple[str, str],
    n_rows: int = PAPER_ROWS,
    attack_share: float = ATTACK_SHARE,
    test_fraction: float = TEST_FRACTION,
    seed: int = 0,
) -> MageIDSet:
    """Sample an exact ``1 - attack_share : attack_share`` set of (up to) ``n_rows`` rows and
    split it ``1 - test_fraction : test_fraction`` with the same ratio in both splits.

    frame: source rows; is_attack: (len(frame),) bool; attack_names: (len(frame),) original
    labels. Sampling is without replacement, with ``numpy.random.default_rng(seed)``.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    is_attack = np.asarray(is_attack, dtype=bool)
    if is_attack.shape != (len(frame),):
        raise ValueError(f"is_attack must have shape ({len(frame)},), got {is_attack.shape}")
    benign_per_unit, attack_per_unit = unit_counts(attack_share)
    per_unit = benign_per_unit + attack_per_unit
    benign_pool, attack_pool = np.flatnonzero(~is_attack), np.flatnonzero(is_attack)
    limits = {
        f"{n_rows} rows asked": n_rows // per_unit,
        f"{len(attack_pool)} {class_names[1].lower()} rows available": len(attack_pool) // attack_per_unit,
        f"{len(benign_pool)} {class_names[0].lower()} rows available": len(benign_pool) // benign_per_unit,
    }
    units = min(limits.values())
    if units < 2:
        raise ValueError(f"{name}: too few rows for an {benign_per_unit}:{attack_per_unit} set with a test split ({limits})")
    built = units * per_unit
    limited_by = None
    if built != n_rows:
        limited_by = min(limits, key=limits.get)
        log.warning(
            "%s: built %d rows (%d %s + %d %s) instead of the %d asked: limited by %s",
            name, built, units * benign_per_unit, class_names[0], units * attack_per_unit, class_names[1],
            n_rows, limited_by,
        )  # fmt: skip

    rng = np.random.default_rng(seed)
    benign = rng.choice(benign_pool, size=units * benign_per_unit, replace=False)
    attack = rng.choice(attack_pool, size=units * attack_per_unit, replace=False)
    test_units = min(max(int(round(units * test_fraction)), 1), units - 1)
    test_rows = np.concatenate([benign[: test_units * benign_per_unit], attack[: test_units * attack_per_unit]])
    train_rows = np.concatenate([benign[test_units * benign_per_unit :], attack[test_units * attack_per_unit :]])
    train_rows, test_rows = rng.permutation(train_rows), rng.permutation(test_rows)

    attack_names = np.asarray(attack_names)

    def take(rows: np.ndarray) -> pd.DataFrame:
        out = frame.iloc[rows][list(features)].reset_index(drop=True)
        out[ATTACK] = attack_names[rows]
        out[LABEL] = is_attack[rows].astype(np.int64)
        return out

    return MageIDSet(
        name=name,
        train=take(train_rows),
        test=take(test_rows),
        schema=dataclasses.replace(schema, label=LABEL),
        class_names=class_names,
        train_rows=train_rows,
        test_rows=test_rows,
        requested_rows=int(n_rows),
        n_rows=int(built),
        available={class_names[0]: len(benign_pool), class_names[1]: len(attack_pool)},
        limited_by=limited_by,
        seed=int(seed),
    )


def cic_mageid_set(
    n_rows: int = PAPER_ROWS,
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    extra: bool = True,
    **kwargs,
) -> MageIDSet:
    """CIC-IDS-2017 Benign vs (PortScan + DDoS) from the Friday-afternoon files; ``extra``: with
    the rows of the extra folder beside the data (see :func:`load_cicids2017`)."""
    loaded = load_cicids2017(
        data_dir, labels=(*CIC_BENIGN, *CIC_ATTACKS), files=FRIDAY_AFTERNOON_FILES, extra=extra
    )
    labels = loaded.frame[CIC_LABEL].to_numpy()
    return sample_binary_set(
        loaded.frame,
        loaded.schema.features,
        is_attack=np.isin(labels, CIC_ATTACKS),
        attack_names=labels,
        name=CIC_NAME,
        schema=loaded.schema,
        class_names=("Benign", "Attack"),
        n_rows=n_rows,
        seed=seed,
        **kwargs,
    )


def nslkdd_mageid_set(
    n_rows: int = PAPER_ROWS, seed: int = 0, data_dir: str | os.PathLike | None = None, **kwargs
) -> MageIDSet:
    """NSL-KDD Normal vs Attack (DoS, Probe, R2L, U2R) from KDDTrain+."""
    from .nslkdd import CATEGORICAL, FEATURES, INTEGER, NUMERIC, load_nslkdd

    frame = load_nslkdd("train", data_dir)
    schema = Schema(numeric=NUMERIC, integer=INTEGER, categorical=CATEGORICAL, label=None)
    return sample_binary_set(
        frame,
        FEATURES,
        is_attack=(frame["category"] != "Normal").to_numpy(),
        attack_names=frame["label"].to_numpy(),
        name=NSLKDD_NAME,
        schema=schema,
        class_names=("Normal", "Attack"),
        n_rows=n_rows,
        seed=seed,
        **kwargs,
    )


def build_mageid_sets(
    n_rows: int = PAPER_ROWS,
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    attack_share: float = ATTACK_SHARE,
    test_fraction: float = TEST_FRACTION,
) -> MageIDSets:
    """Both MAGE-ID evaluation sets with the same size, ratio, split and seed.

    n_rows: asked size of each set (profile ``mageid_data.n_rows``: 30,000 paper, 3,000 smoke);
    a data set too small for it gives its largest exact-ratio set (logged, ``limited_by``).
    """
    options = {"n_rows": n_rows, "seed": seed, "data_dir": data_dir, "attack_share": attack_share, "test_fraction": test_fraction}
    return MageIDSets(cic=cic_mageid_set(**options), nslkdd=nslkdd_mageid_set(**options))
