"""Label agreement of drawn rows (idsynth.metrics.label_agreement)."""

import numpy as np
import pandas as pd
import pytest

from idsynth.metrics.label_agreement import AGREEMENT_COLUMNS, RealRowsReader, agreement_rows

NAMES = {0: "Normal", 1: "DoS", 2: "R2L"}


def blobs(n_per_class: int, seed: int = 0, centres=((0, 0), (6, 0), (0, 6))):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(c, 1.0, size=(n_per_class, 2)) for c in centres])
    return X, np.repeat(np.arange(len(centres)), n_per_class)


def test_agreement_rows_counts_the_share_read_as_the_drawn_class_and_the_main_confusion():
    drawn = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    read = np.array([0, 0, 0, 1, 1, 1, 0, 0, 1, 2])
    out = agreement_rows(drawn, read, NAMES).set_index("class")
    assert list(out.reset_index().columns) == list(AGREEMENT_COLUMNS)
    assert out.loc["Normal", "agreement"] == 0.75 and out.loc["Normal", "most_confused_with"] == "DoS"
    assert out.loc["DoS", "agreement"] == 1.0 and out.loc["DoS", "most_confused_with"] == ""
    assert out.loc["DoS", "confused_share"] == 0.0
    assert out.loc["R2L", "agreement"] == 0.25 and out.loc["R2L", "most_confused_with"] == "Normal"
    assert out.loc["R2L", "confused_share"] == 0.5 and out.loc["R2L", "rows"] == 4
    with pytest.raises(ValueError, match="one shape"):
        agreement_rows(drawn, read[:-1], NAMES)


def test_reader_agrees_with_faithful_rows_and_flags_rows_drawn_into_the_wrong_class():
    X, y = blobs(300)
    reader = RealRowsReader(X, y, NAMES, n_estimators=30)
    ceiling = reader.reference().set_index("class")
    assert (ceiling["agreement"] > 0.95).all() and ceiling["rows"].sum() == pytest.approx(0.2 * len(y), abs=1)
    np.testing.assert_array_equal(X[reader.held_index_], reader.X_held_)  # the held-out rows' positions in X
    X_new, y_new = blobs(100, seed=1)
    faithful = reader.read(X_new, y_new).set_index("class")
    assert (faithful["agreement"] > 0.95).all()
    # a generator whose R2L rows land on Normal's centre
    X_bad, y_bad = blobs(100, seed=2, centres=((0, 0), (6, 0), (0, 0)))
    bad = reader.read(X_bad, y_bad).set_index("class")
    assert bad.loc["R2L", "agreement"] < 0.1 and bad.loc["R2L", "most_confused_with"] == "Normal"
    assert bad.loc["DoS", "agreement"] > 0.95
    with pytest.raises(ValueError, match="no class name"):
        RealRowsReader(X, y, {0: "Normal", 1: "DoS"})
    with pytest.raises(ValueError, match="rows but y has"):
        RealRowsReader(X, y[:-1], NAMES)
