"""VGM-C's decoding ablation (prior / posterior latent x argmax / sampled categories) and the
sampled decoding of one-hot blocks it relies on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from idsynth.cache import ArtifactCache
from idsynth.data.encoding import TabularEncoder, sample_categories
from idsynth.experiments import vgm_decoding
from idsynth.experiments.cross_eval import VGM_NAME, run_table_i, table_i_factories
from idsynth.experiments.table_i import METRICS, fit_generator
from idsynth.experiments.vgm_decoding import (
    ABLATION_COLUMNS, PAPER_WAY, ablation_summary, decoded_rows, distinct_share, run_decoding_ablation,
    snap_to_observed,
)
from idsynth.models.base import class_counts
from test_cross_eval import toy_set

pytestmark = pytest.mark.usefixtures("one_thread")

VGM_SECTION = {"epochs": 2, "batch_size": 100}


def test_sample_categories_follows_the_weights():
    rng = np.random.default_rng(0)
    weights = np.tile([[0.1, 0.0, 0.3, -2.0]], (100_000, 1))  # 1 : 0 : 3 : 0 (negative counts as 0)
    share = np.bincount(sample_categories(weights, rng), minlength=4) / len(weights)
    assert share[1] == 0 and share[3] == 0 and abs(share[0] - 0.25) < 0.01 and abs(share[2] - 0.75) < 0.01
    uniform = np.bincount(sample_categories(np.zeros((30_000, 3)), rng), minlength=3) / 30_000
    assert np.all(np.abs(uniform - 1 / 3) < 0.02)
    one_hot = np.eye(5)[rng.integers(0, 5, 1000)]
    assert (sample_categories(one_hot, rng) == one_hot.argmax(axis=1)).all()  # a certain block stays certain


def test_inverse_transform_sampled_categories():
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.5], "c": ["a", "b", "c", "a"]})
    encoder = TabularEncoder(numeric=["x"], categorical=["c"]).fit(frame)
    X = np.array([[0.5, 0.2, 0.5, 0.3]] * 20_000)
    argmax = encoder.inverse_transform(X)
    assert (argmax["c"] == "b").all() and np.allclose(argmax["x"], 1.75)
    sampled = encoder.inverse_transform(X, categories="sampled", random_state=0)
    share = sampled["c"].value_counts(normalize=True)
    assert abs(share["a"] - 0.2) < 0.02 and abs(share["b"] - 0.5) < 0.02 and abs(share["c"] - 0.3) < 0.02
    assert sampled["c"].equals(encoder.inverse_transform(X, categories="sampled", random_state=0)["c"])
    with pytest.raises(ValueError, match="categories must be one of"):
        encoder.inverse_transform(X, categories="mode")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    nsl = toy_set()
    make = table_i_factories(nsl.schema, VGM_SECTION, device="cpu")[VGM_NAME]
    cache = ArtifactCache(tmp_path_factory.mktemp("cache"))
    generator, _ = fit_generator(VGM_NAME, make, nsl, 0, cache)
    return nsl, make, cache, generator


def test_prior_argmax_is_table_i_sampling_and_posterior_keeps_the_real_labels(fitted):
    nsl, make, cache, generator = fitted
    X_real, y_real = nsl.xy("train")
    prior, y_prior = decoded_rows(generator, nsl, "prior", "argmax", seed=0)
    table_frame, table_y = generator.sample(class_counts(y_real), random_state=0)  # what Table I's row scores
    pd.testing.assert_frame_equal(prior, table_frame[nsl.features].reset_index(drop=True))
    assert (y_prior == table_y).all() and class_counts(y_prior) == class_counts(y_real)
    posterior, y_post = decoded_rows(generator, nsl, "posterior", "argmax", seed=0)
    assert (y_post == np.asarray(y_real)).all() and list(posterior.columns) == nsl.features
    assert (posterior.dtypes == X_real[nsl.features].dtypes).all()
    sampled, _ = decoded_rows(generator, nsl, "posterior", "sampled", seed=0)
    assert sampled[list(nsl.schema.numeric)].equals(posterior[list(nsl.schema.numeric)])  # numerics: same means
    categorical = list(nsl.schema.categorical)
    assert (sampled[categorical] != posterior[categorical]).any(axis=None)  # a 2-epoch model is unsure somewhere
    for column in categorical:
        assert set(sampled[column]) <= set(X_real[column])
    snapped, y_snapped = decoded_rows(generator, nsl, "posterior", "argmax", seed=0, numeric="snapped")
    assert (y_snapped == y_post).all() and snapped[categorical].equals(posterior[categorical])
    assert (snapped.dtypes == posterior.dtypes).all()
    for column in nsl.schema.numeric:  # every snapped value is one the real rows take
        assert set(snapped[column]) <= set(X_real[column]), column
    with pytest.raises(ValueError, match="latent must be one of"):
        decoded_rows(generator, nsl, "mixed", "argmax", seed=0)
    with pytest.raises(ValueError, match="numeric must be one of"):
        decoded_rows(generator, nsl, "prior", "argmax", seed=0, numeric="rounded")


def test_snap_to_observed_known_answer():
    reference = pd.DataFrame({"n": [0, 10, 10, 100], "r": [0.0, 0.5, 0.5, 1.0], "c": ["a", "b", "c", "d"]})
    frame = pd.DataFrame({"n": np.array([-3, 4, 5, 6, 54, 56, 1000], dtype=np.int64),
                          "r": [0.2, 0.25, 0.26, 0.74, 0.76, 2.0, -1.0], "c": list("zzzzzzz")})
    snapped = snap_to_observed(frame, reference, ["n", "r"])
    assert snapped["n"].tolist() == [0, 0, 0, 10, 10, 100, 100]  # 5 is a tie: the smaller value
    assert snapped["r"].tolist() == [0.0, 0.0, 0.5, 0.5, 1.0, 1.0, 0.0]
    assert snapped["n"].dtype == np.int64 and snapped["c"].equals(frame["c"])
    assert frame["n"].tolist()[0] == -3  # the input is not modified
    single = snap_to_observed(frame, pd.DataFrame({"n": [7], "r": [0.1]}), ["n"])
    assert (single["n"] == 7).all()
    with pytest.raises(ValueError, match="column 'r'"):
        snap_to_observed(frame.assign(r=[np.nan] * 7), reference, ["r"])


def test_ablation_rows_match_table_i_and_are_cached(fitted, monkeypatch):
    nsl, make, cache, _ = fitted
    long = run_decoding_ablation(nsl, [0], make, cache, k=3, n_splits=2, verbose=False)
    assert list(long.columns) == list(ABLATION_COLUMNS) and len(long) == 8
    assert set(zip(long["latent"], long["categories"], long["numeric"])) == {
        (a, b, c) for a in ("prior", "posterior") for b in ("argmax", "sampled") for c in ("mean", "snapped")}
    table_i, _ = run_table_i(nsl, [0], {VGM_NAME: make}, cache, max_rows=None, k=3, n_splits=2)
    paper_way = long[(long[["latent", "categories", "numeric"]] == list(PAPER_WAY)).all(axis=1)].iloc[0]
    for m in METRICS:  # the prior / argmax cell is VGM-C's Table I row
        assert paper_way[m] == pytest.approx(table_i.iloc[0][m]), m
    assert long["distinct_share"].between(0, 1).all()

    def no_scoring(*args, **kwargs):
        raise AssertionError("a cached seed was scored again")

    monkeypatch.setattr(vgm_decoding, "evaluate_synthetic", no_scoring)
    again = run_decoding_ablation(nsl, [0], make, cache, k=3, n_splits=2, verbose=False)
    pd.testing.assert_frame_equal(again, long)
    summary = ablation_summary(long)
    reference = summary[(summary[["latent", "categories", "numeric"]] == list(PAPER_WAY)).all(axis=1)]
    assert (reference["diff_vs_paper_way"] == 0).all() and len(reference) == len(METRICS) + 1
    assert len(summary) == 8 * (len(METRICS) + 1)


def test_distinct_share():
    assert distinct_share(pd.DataFrame({"a": [1, 1, 2, 2], "b": ["x", "x", "y", "z"]})) == 0.75
    with pytest.raises(ValueError):
        distinct_share(pd.DataFrame({"a": []}))
