"""Tests of idsynth.data.paired: building paired samples and keeping rows paired."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from idsynth.data.encoding import TabularEncoder
from idsynth.data.paired import PairedSamples, fit_image_pipeline
from idsynth.data.schema import Schema
from idsynth.imaging import TabularImager


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    n = 400
    base = rng.random(n)
    frame = pd.DataFrame(
        {
            "bytes": (base * 1000).round(),
            "rate": base + 0.05 * rng.random(n),
            "count": rng.integers(0, 50, n),
            "proto": rng.choice(["tcp", "udp", "icmp"], n),
            "flag": rng.choice(["SF", "S0"], n),
            "label": (base > 0.7).astype(np.int64),
        }
    )
    schema = Schema.infer(frame, label="label", categorical=["proto", "flag"])
    return frame, schema


def test_fit_image_pipeline_and_from_frame(toy):
    frame, schema = toy
    encoder, imager = fit_image_pipeline(frame, schema, TabularImager(random_state=0))
    assert imager.n_features_in_ == encoder.n_features_out_ == 3 + 3 + 2
    assert set(imager.feature_names_in_) == set(encoder.feature_names_)
    paired = PairedSamples.from_frame(frame, encoder, imager, class_names=("Benign", "Attack"))
    assert len(paired) == 400 and paired.image_shape == (1, 3, 3)
    assert paired.X_num.dtype == np.float32 and paired.X_cat.dtype == np.int64 and paired.y.dtype == np.int64
    assert paired.cat_features == ("proto", "flag") and paired.cat_cardinalities == (3, 2)
    np.testing.assert_array_equal(paired.y, frame["label"].to_numpy())
    # the image of row i is exactly row i's min-max/one-hot encoding
    np.testing.assert_array_equal(imager.inverse_transform(paired.images), encoder.transform(frame))
    np.testing.assert_array_equal(paired.X_num, encoder.transform_split(frame)[0])
    # a tabular encoder with another scaling, the images from the min-max one
    standard = TabularEncoder.from_schema(schema, numeric_scaling="standard").fit(frame)
    mixed = PairedSamples.from_frame(frame, standard, imager, image_encoder=encoder)
    np.testing.assert_array_equal(mixed.images, paired.images)
    assert abs(float(mixed.X_num.mean())) < 0.1
    with pytest.raises(ValueError, match="min-max image_encoder"):
        PairedSamples.from_frame(frame, standard, imager)
    with pytest.raises(ValueError, match="no label column 'y'"):
        PairedSamples.from_frame(frame, encoder, imager, label="y")


@pytest.fixture
def paired(toy):
    frame, schema = toy
    encoder, imager = fit_image_pipeline(frame, schema)
    return PairedSamples.from_frame(frame, encoder, imager)


def rows_agree(p: PairedSamples, frame_rows: np.ndarray, full: PairedSamples) -> bool:
    q = p.numpy()
    return all(np.array_equal(getattr(q, n), getattr(full, n)[frame_rows]) for n in ("X_num", "X_cat", "y", "images"))


def test_indexing_keeps_pairs(paired):
    assert len(paired[5]) == 1 and rows_agree(paired[5], np.array([5]), paired)
    assert rows_agree(paired[10:20], np.arange(10, 20), paired)
    rows = np.array([3, 1, 399])
    assert rows_agree(paired.subset(rows), rows, paired)
    mask = paired.y == 1
    assert rows_agree(paired[mask], np.flatnonzero(mask), paired)


def test_tensors_devices_and_batches(paired):
    on_cpu = paired.to("cpu")
    assert on_cpu.device == torch.device("cpu") and on_cpu.X_num.dtype == torch.float32
    assert rows_agree(on_cpu[torch.tensor([7, 2])], np.array([7, 2]), paired)
    X_num, X_cat, y, images = paired.tensors()
    assert images.shape == (400, 1, 3, 3) and y.dtype == torch.int64 and X_cat.dtype == torch.int64
    # batches cover every row once, shuffled, and stay paired
    seen = []
    for batch in on_cpu.batches(64, generator=torch.Generator().manual_seed(0)):
        assert batch.device == torch.device("cpu")
        seen.append(batch.numpy())
    assert [len(b) for b in seen] == [64] * 6 + [16]
    stacked = np.concatenate([b.X_num for b in seen])
    assert sorted(map(tuple, stacked.tolist())) == sorted(map(tuple, paired.X_num.tolist()))
    first = seen[0]
    order = [int(np.flatnonzero((paired.X_num == r).all(axis=1))[0]) for r in first.X_num]
    assert rows_agree(first, np.array(order), paired) and order != list(range(64))
    assert len(list(paired.batches(100, shuffle=False, drop_last=True))) == 4
    # same generator seed, same order
    a = next(on_cpu.batches(32, generator=torch.Generator().manual_seed(3))).y
    b = next(on_cpu.batches(32, generator=torch.Generator().manual_seed(3))).y
    assert torch.equal(a, b)


def test_torch_dataset_view(paired):
    dataset = paired.as_torch_dataset()
    assert isinstance(dataset, torch.utils.data.Dataset) and len(dataset) == 400
    x_num, x_cat, y, image = dataset[17]
    assert torch.equal(x_num, torch.from_numpy(paired.X_num[17])) and int(y) == paired.y[17]
    assert image.shape == (1, 3, 3) and x_cat.shape == (2,)


def test_bad_arrays_are_rejected(paired):
    with pytest.raises(ValueError, match="images must be 4-D"):
        PairedSamples(paired.X_num, paired.X_cat, paired.y, paired.images[:, 0])
    with pytest.raises(TypeError, match="X_cat must be int64"):
        PairedSamples(paired.X_num, paired.X_cat.astype(np.int32), paired.y, paired.images)
    with pytest.raises(ValueError, match="X_num must be 2-D with 400 rows"):
        PairedSamples(paired.X_num[:10], paired.X_cat, paired.y, paired.images)
    with pytest.raises(TypeError, match="NumPy array or a torch tensor"):
        PairedSamples(paired.X_num.tolist(), paired.X_cat, paired.y, paired.images)
    with pytest.raises(ValueError, match="batch_size"):
        next(paired.batches(0))


def test_images_refuse_an_unclipped_encoder():
    import pandas as pd

    from idsynth.data.encoding import TabularEncoder
    from idsynth.data.paired import PairedSamples

    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0], "label": [0, 1, 0]})
    encoder = TabularEncoder(numeric=["a"], categorical=[], clip=False).fit(frame)
    with pytest.raises(ValueError, match="clip=True"):
        PairedSamples.from_frame(frame, encoder, imager=None, label="label")
