"""SDMetrics' LogisticDetection on raw typed tables (``detectability_sdmetrics``) and its place
in Table I's row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from idsynth.metrics.detectability import detectability_sdmetrics, sdmetrics_metadata
from idsynth.metrics.table_i import SDMETRICS_DETECTABILITY, TABLE_I_COLUMNS, TYPED_LABEL, table_i_row, typed_table

pytestmark = pytest.mark.usefixtures("one_thread")


def flows(n: int, seed: int, shift: float = 0.0, protocols=("tcp", "udp", "icmp")) -> pd.DataFrame:
    """A typed table: a float, an integer count and a text category."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "duration": rng.exponential(1.0, n) + shift,
        "packets": rng.poisson(5 + 10 * shift, n).astype(np.int64),
        "protocol": rng.choice(list(protocols), n),
    })


def test_same_distribution_scores_near_one_and_a_different_one_lower():
    real = flows(1500, 0)
    same = detectability_sdmetrics(real, flows(1500, 1), discrete_columns=["protocol"])
    other = detectability_sdmetrics(real, flows(1500, 2, shift=2.0), discrete_columns=["protocol"])
    assert same > 0.9
    assert other < 0.3 and other < same
    assert detectability_sdmetrics(real, real.copy(), discrete_columns=["protocol"]) > 0.95


def test_a_category_the_real_table_lacks_gives_nan_and_a_warning():
    real = flows(300, 0)
    with pytest.warns(UserWarning, match=r"\{'protocol': \['gre'\]\}.*NaN"):
        score = detectability_sdmetrics(real, flows(300, 3, protocols=("tcp", "gre")), discrete_columns=["protocol"])
    assert np.isnan(score)


def test_seeded_reproducible_and_numpy_state_left_alone():
    real, synthetic = flows(600, 0), flows(600, 5, shift=0.3)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = detectability_sdmetrics(real, synthetic, random_state=7)
    assert np.array_equal(np.random.get_state()[1], before)
    assert detectability_sdmetrics(real, synthetic, random_state=7) == first


def test_equal_counts_and_max_rows():
    real, synthetic = flows(900, 0), flows(300, 1)
    assert 0 <= detectability_sdmetrics(real, synthetic, max_rows=200) <= 1
    assert 0 <= detectability_sdmetrics(real, synthetic) <= 1


def test_input_checks_and_metadata():
    real = flows(100, 0)
    assert sdmetrics_metadata(real.columns, ["protocol"]) == {"columns": {
        "duration": {"sdtype": "numerical"}, "packets": {"sdtype": "numerical"}, "protocol": {"sdtype": "categorical"}}}
    with pytest.raises(ValueError, match=r"discrete columns \['proto'\]"):
        sdmetrics_metadata(real.columns, ["proto"])
    with pytest.raises(ValueError, match="different columns"):
        detectability_sdmetrics(real, real.drop(columns="packets"))
    with pytest.raises(TypeError, match="DataFrame"):
        detectability_sdmetrics(real.to_numpy(), real)


def test_table_i_row_carries_sdmetrics_next_to_ours_when_given_the_typed_tables():
    rng = np.random.default_rng(3)
    real, good, bad = flows(600, 0), flows(600, 1), flows(600, 2, shift=3.0)
    y_real, y_good = rng.integers(0, 2, 600), rng.integers(0, 2, 600)

    def encoded(frame):
        return np.column_stack([frame[["duration", "packets"]].to_numpy(float),
                                pd.get_dummies(frame["protocol"]).reindex(columns=["icmp", "tcp", "udp"], fill_value=0)])

    pairs = {name: (encoded(frame), y_good) for name, frame in (("good", good), ("bad", bad))}
    test = (encoded(flows(300, 9)), rng.integers(0, 2, 300))
    plain = table_i_row((encoded(real), y_real), test, pairs["good"], n_splits=3)
    assert list(plain) == list(TABLE_I_COLUMNS)
    rows = {name: table_i_row((encoded(real), y_real), test, pairs[name], n_splits=3, typed=(real, frame),
                              discrete_columns=["protocol"]) for name, frame in (("good", good), ("bad", bad))}
    for row in rows.values():
        assert list(row) == [*TABLE_I_COLUMNS, SDMETRICS_DETECTABILITY]
    assert rows["good"]["detectability"] == plain["detectability"]
    assert rows["good"][SDMETRICS_DETECTABILITY] > 0.8 > rows["bad"][SDMETRICS_DETECTABILITY]
    with pytest.raises(ValueError, match="SDMetrics' own score"):
        table_i_row((encoded(real), y_real), test, pairs["good"], detectability_protocol="sdmetrics")


def test_typed_table_appends_the_label():
    frame = flows(5, 0)
    table = typed_table(frame, np.arange(5), include_label=True)
    assert list(table.columns) == [*frame.columns, TYPED_LABEL] and table[TYPED_LABEL].tolist() == [0, 1, 2, 3, 4]
    assert list(typed_table(frame, np.arange(5), include_label=False).columns) == list(frame.columns)
    with pytest.raises(ValueError, match="shape"):
        typed_table(frame, np.arange(4), include_label=True)
    with pytest.raises(ValueError, match="already has a column"):
        typed_table(table, np.arange(5), include_label=True)
