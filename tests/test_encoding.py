"""TabularEncoder: the one-hot matrix, the num/cat split, inverses, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from idsynth.data import DataFormatError
from idsynth.data.encoding import TabularEncoder
from idsynth.data.nslkdd import INTEGER, vgm_encoder
from idsynth.data.schema import Schema


@pytest.fixture
def toy():
    return pd.DataFrame(
        {
            "bytes": [0, 10, 20, 40],
            "rate": [0.0, 0.25, 0.5, 1.0],
            "proto": ["tcp", "udp", "tcp", "icmp"],
            "flag": ["SF", "S0", "SF", "SF"],
        }
    )


def test_matrix_layout_and_values(toy):
    enc = TabularEncoder(numeric=["bytes", "rate"], categorical=["proto", "flag"]).fit(toy)
    X = enc.transform(toy)
    assert enc.feature_names_ == ["bytes", "rate", "proto=icmp", "proto=tcp", "proto=udp", "flag=S0", "flag=SF"]
    assert X.shape == (4, 7) and X.dtype == np.float32
    np.testing.assert_allclose(X[:, 0], [0, 0.25, 0.5, 1.0])
    np.testing.assert_array_equal(X[1, 2:], [0, 0, 1, 1, 0])
    assert enc.cat_slices_ == {"proto": slice(2, 5), "flag": slice(5, 7)}
    assert enc.integer_ == ("bytes",)


def test_inverse_of_soft_outputs_takes_argmax_and_rounds_integers(toy):
    enc = TabularEncoder(numeric=["bytes", "rate"], categorical=["proto", "flag"]).fit(toy)
    soft = np.array([[0.126, 0.3, 0.2, 0.7, 0.1, 0.6, 0.4]])
    back = enc.inverse_transform(soft)
    assert back.loc[0, "bytes"] == 5 and back["bytes"].dtype == np.int64  # 0.126 * 40 = 5.04
    assert back.loc[0, "rate"] == pytest.approx(0.3)
    assert back.loc[0, "proto"] == "tcp" and back.loc[0, "flag"] == "S0"


def test_test_values_are_clipped_and_unknown_categories_rejected(toy):
    enc = TabularEncoder(numeric=["bytes", "rate"], categorical=["proto", "flag"]).fit(toy)
    other = toy.copy()
    other.loc[0, "bytes"] = 80
    assert enc.transform(other)[0, 0] == 1.0
    other.loc[1, "proto"] = "sctp"
    with pytest.raises(DataFormatError, match=r"column 'proto'.*\['sctp'\].*row 1"):
        enc.transform(other)
    lenient = TabularEncoder(numeric=["bytes"], categorical=["proto"], handle_unknown="ignore").fit(toy)
    X = lenient.transform(other)
    assert X[1, 1:].sum() == 0
    assert lenient.transform_split(other)[1][1, 0] == -1


def test_split_round_trip_for_each_scaling(toy):
    for scaling in ("minmax", "standard", "quantile", "none"):
        enc = TabularEncoder(numeric=["bytes", "rate"], categorical=["proto", "flag"], numeric_scaling=scaling).fit(toy)
        num, cat = enc.transform_split(toy, dtype=np.float64)
        assert num.shape == (4, 2) and cat.dtype == np.int64 and cat.shape == (4, 2)
        back = enc.inverse_transform_split(num, cat)
        pd.testing.assert_frame_equal(back, toy, check_dtype=False, atol=1e-9)


def test_missing_columns_and_non_finite_values_are_errors(toy):
    enc = TabularEncoder(numeric=["bytes", "missing"], categorical=["proto"])
    with pytest.raises(DataFormatError, match="missing"):
        enc.fit(toy)
    bad = toy.assign(rate=[0.0, np.inf, 0.5, 1.0])
    with pytest.raises(DataFormatError, match="column 'rate'.*row 1"):
        TabularEncoder(numeric=["rate"], categorical=[]).fit(bad)
    with pytest.raises(RuntimeError, match="not fitted"):
        TabularEncoder(numeric=["rate"], categorical=[]).transform(toy)


def test_schema_infer_and_encoder_from_schema(toy):
    schema = Schema.infer(toy.assign(label=["a", "b", "a", "b"]), label="label")
    assert schema.numeric == ("bytes", "rate") and schema.integer == ("bytes",)
    assert schema.categorical == ("proto", "flag") and schema.label == "label"
    assert Schema.from_dict(schema.to_dict()) == schema
    enc = TabularEncoder.from_schema(schema).fit(toy)
    assert enc.transform(toy).shape == (4, 7)


def test_round_trip_on_the_real_data(nslkdd_train, nslkdd_test):
    enc = vgm_encoder().fit(nslkdd_train)
    columns = list(enc.numeric) + list(enc.categorical)
    exact = enc.inverse_transform(enc.transform(nslkdd_train, dtype=np.float64))
    pd.testing.assert_frame_equal(exact, nslkdd_train[columns].reset_index(drop=True), check_dtype=False, atol=1e-9)
    # test rows outside the train range are clipped to it (the paper scales with train's min-max)
    clipped = enc.inverse_transform(enc.transform(nslkdd_test, dtype=np.float64))
    expected = nslkdd_test[columns].copy()
    for column in enc.numeric:
        expected[column] = expected[column].clip(nslkdd_train[column].min(), nslkdd_train[column].max())
    pd.testing.assert_frame_equal(clipped, expected.reset_index(drop=True), check_dtype=False, atol=1e-9)
    # float32 (what models take): integers within float32's relative precision of their range
    approx = enc.inverse_transform(enc.transform(nslkdd_train))
    for column in enc.numeric:
        span = float(nslkdd_train[column].max() - nslkdd_train[column].min())
        error = np.abs(approx[column].to_numpy(float) - nslkdd_train[column].to_numpy(float)).max()
        assert error <= max(1.0 if column in INTEGER else 0.0, 1e-6 * span), column
    assert (approx[list(enc.categorical)] == nslkdd_train[list(enc.categorical)]).all().all()
