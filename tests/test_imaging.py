"""Tests of idsynth.imaging: layouts, exact inverse, scores, speed-relevant shapes, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from idsynth.imaging import (
    TabularImager,
    _normalised_ranks,
    _swap_gains,
    feature_distance,
    grid_distance,
    igtd_layout,
    layout_rank_correlation,
)


def block_correlated(n=1500, n_blocks=6, block_size=8, seed=0):
    """(n, n_blocks*block_size) in [0, 1]: features of one block share a latent factor; the
    columns are shuffled so that the naive reading order mixes the blocks. Returns (X, block of
    each column)."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, n_blocks))
    X = np.repeat(latent, block_size, axis=1) + 0.3 * rng.normal(size=(n, n_blocks * block_size))
    order = rng.permutation(n_blocks * block_size)
    X = X[:, order]
    X = (X - X.min(axis=0)) / (X.max(axis=0) - X.min(axis=0))
    return X.astype(np.float32), order // block_size


@pytest.fixture(scope="module")
def blocks():
    return block_correlated()


@pytest.mark.parametrize("layout", ["igtd", "rowmajor"])
@pytest.mark.parametrize("upscale", [1, 3])
def test_layout_is_a_permutation_and_inverse_is_exact(blocks, layout, upscale):
    X, _ = blocks
    imager = TabularImager(layout=layout, upscale=upscale, random_state=1).fit(X)
    d = X.shape[1]
    assert imager.grid_shape_ == (7, 7)  # smallest square holding 48 features
    placed = imager.feature_grid_[imager.feature_grid_ >= 0]
    assert sorted(placed.tolist()) == list(range(d))  # every feature exactly once
    assert (imager.feature_grid_ == -1).sum() == 49 - d
    assert len(set(imager.position_.tolist())) == d
    images = imager.transform(X)
    assert images.dtype == np.float32 and images.shape == (len(X), 1, 7 * upscale, 7 * upscale)
    np.testing.assert_array_equal(imager.inverse_transform(images), X)
    # the pixel of feature j (every pixel of its block) shows column j; padding shows pad_value
    row, col = divmod(int(imager.position_[5]), 7)
    block = images[:, 0, row * upscale : (row + 1) * upscale, col * upscale : (col + 1) * upscale]
    np.testing.assert_array_equal(block, np.broadcast_to(X[:, 5, None, None], block.shape))
    pad_r, pad_c = np.argwhere(imager.feature_grid_ == -1)[0]
    assert (images[:, 0, pad_r * upscale, pad_c * upscale] == 0).all()


def test_rowmajor_is_a_plain_reshape(blocks):
    X, _ = blocks
    imager = TabularImager(layout="rowmajor").fit(X)
    padded = np.concatenate([X, np.zeros((len(X), 1), np.float32)], axis=1)
    np.testing.assert_array_equal(imager.transform(X)[:, 0], padded.reshape(len(X), 7, 7))


def test_igtd_beats_naive_on_block_correlated_features(blocks):
    X, block_of = blocks
    igtd = TabularImager(layout="igtd", random_state=0).fit(X)
    naive = TabularImager(layout="rowmajor").fit(X)
    assert naive.layout_score_ == pytest.approx(igtd.rowmajor_score_)
    assert igtd.layout_score_ > naive.layout_score_ + 0.4
    # correlated features become neighbours: most 4-neighbour pairs share their block
    grid = np.where(igtd.feature_grid_ >= 0, block_of[np.maximum(igtd.feature_grid_, 0)], -1)

    def same_block_share(g):
        pairs = [(g[:, :-1], g[:, 1:]), (g[:-1, :], g[1:, :])]
        same = sum(((a == b) & (a >= 0)).sum() for a, b in pairs)
        total = sum(((a >= 0) & (b >= 0)).sum() for a, b in pairs)
        return same / total

    naive_grid = np.where(naive.feature_grid_ >= 0, block_of[np.maximum(naive.feature_grid_, 0)], -1)
    assert same_block_share(grid) > 0.5 > 0.3 > same_block_share(naive_grid)  # chance: 1/6
    # the greedy search never increases its error
    assert all(b <= a + 1e-9 for a, b in zip(igtd.layout_history_, igtd.layout_history_[1:]))


def test_igtd_is_deterministic_given_random_state(blocks):
    X, _ = blocks
    a = TabularImager(random_state=3).fit(X)
    b = TabularImager(random_state=3).fit(X)
    np.testing.assert_array_equal(a.position_, b.position_)


def test_swap_gains_match_brute_force():
    rng = np.random.default_rng(4)
    d, shape = 7, (3, 3)
    n_pixels = 9
    dist = rng.random((d, d))
    dist = (dist + dist.T) / 2
    np.fill_diagonal(dist, 0)
    fr = np.zeros((n_pixels, n_pixels))
    fr[:d, :d] = _normalised_ranks(dist)
    weight = np.zeros((n_pixels, n_pixels))
    weight[:d, :d] = 1
    np.fill_diagonal(weight, 0)
    gr = _normalised_ranks(grid_distance(shape))
    pixel_of = rng.permutation(n_pixels)

    def error(p):
        return (weight * (fr - gr[np.ix_(p, p)]) ** 2).sum() / 2

    dp = gr[np.ix_(pixel_of, pixel_of)]
    for a in range(d):
        delta = _swap_gains(a, fr, weight, dp)
        for b in range(n_pixels):
            swapped = pixel_of.copy()
            swapped[[a, b]] = swapped[[b, a]]
            assert delta[b] == pytest.approx(error(swapped) - error(pixel_of), abs=1e-9)


def test_feature_distance_known_values_and_constant_columns():
    rng = np.random.default_rng(0)
    x = rng.random(200)
    X = np.stack([x, 2 * x + 1, -x, np.full(200, 0.5), rng.random(200)], axis=1)
    for method in ("pearson", "spearman"):
        dist = feature_distance(X, method)
        assert dist.shape == (5, 5)
        np.testing.assert_allclose(np.diag(dist), 0)
        np.testing.assert_allclose(dist, dist.T)
        assert dist[0, 1] == pytest.approx(0, abs=1e-12)  # perfectly correlated
        assert dist[0, 2] == pytest.approx(0, abs=1e-12)  # |rho| = 1 for anti-correlation too
        assert (dist[3, [0, 1, 2, 4]] == 1).all()  # constant column: distance 1
        assert 0.8 < dist[0, 4] <= 1  # independent columns are far apart
    # Spearman sees a monotone (non-linear) relation as perfect, Pearson does not
    Y = np.stack([x, np.exp(8 * x)], axis=1)
    assert feature_distance(Y, "spearman")[0, 1] == pytest.approx(0, abs=1e-12)
    assert feature_distance(Y, "pearson")[0, 1] > 0.05


def test_constant_features_are_placed_and_recovered():
    X, _ = block_correlated(n=300, n_blocks=3, block_size=5)
    X = np.concatenate([X, np.zeros((300, 2), np.float32), np.ones((300, 1), np.float32)], axis=1)
    imager = TabularImager().fit(X)
    np.testing.assert_array_equal(imager.inverse_transform(imager.transform(X)), X)
    assert np.isfinite(imager.layout_score_)


def test_layout_rank_correlation_perfect_for_a_line():
    # features on a line with distance |i - j|: the row-major layout of a 1 x d grid is exact
    d = 6
    dist = np.abs(np.subtract.outer(np.arange(d), np.arange(d))).astype(float)
    score = layout_rank_correlation(dist, grid_distance((1, d)), np.arange(d))
    assert score == pytest.approx(1.0)
    assert layout_rank_correlation(dist, grid_distance((1, d)), np.arange(d)[::-1].copy()) == pytest.approx(1.0)
    position, _ = igtd_layout(dist, (1, d), random_state=0, n_init=3)
    assert layout_rank_correlation(dist, grid_distance((1, d)), position) == pytest.approx(1.0)


def test_image_size_names_and_grids(blocks):
    X, _ = blocks
    names = [f"f{j}" for j in range(X.shape[1])]
    imager = TabularImager(image_size=(8, 10), upscale=2).fit(X, feature_names=names)
    assert imager.image_shape_ == (1, 16, 20)
    assert imager.transform(X[:3]).shape == (3, 1, 16, 20)
    grid = imager.feature_name_grid_
    assert grid.shape == (8, 10)
    for j in (0, 17, 47):
        r, c = divmod(int(imager.position_[j]), 10)
        assert grid[r, c] == names[j] and imager.feature_grid_[r, c] == j
    assert sum(v is None for v in grid.ravel()) == 80 - X.shape[1]


def test_dataframe_input_gives_feature_names(blocks):
    import pandas as pd

    X, _ = blocks
    frame = pd.DataFrame(X[:, :10], columns=[f"col{j}" for j in range(10)])
    imager = TabularImager(layout="rowmajor").fit(frame)
    assert imager.feature_name_grid_[0, 0] == "col0"
    np.testing.assert_array_equal(imager.inverse_transform(imager.transform(frame)), X[:, :10])


def test_torch_tensors_round_trip(blocks):
    X, _ = blocks
    imager = TabularImager(upscale=2).fit(X)
    tensor = torch.from_numpy(X)
    images = imager.transform(tensor)
    assert isinstance(images, torch.Tensor) and images.dtype == torch.float32
    np.testing.assert_array_equal(images.numpy(), imager.transform(X))
    back = imager.inverse_transform(images)
    assert isinstance(back, torch.Tensor) and torch.equal(back, tensor)
    # inverse of a non-constant block is its mean
    noisy = images.clone()
    r, c = divmod(int(imager.position_[0]), imager.grid_shape_[1])
    noisy[:, 0, 2 * r, 2 * c] += 0.4
    assert torch.allclose(imager.inverse_transform(noisy)[:, 0], tensor[:, 0] + 0.1)


def test_bad_input_gives_clear_errors(blocks):
    X, _ = blocks
    with pytest.raises(ValueError, match="layout"):
        TabularImager(layout="spiral").fit(X)
    with pytest.raises(ValueError, match="scaled to \\[0, 1\\]"):
        TabularImager().fit(X * 5)
    with pytest.raises(ValueError, match="fewer than the 48 features"):
        TabularImager(image_size=6).fit(X)
    with pytest.raises(ValueError, match="upscale"):
        TabularImager(upscale=0).fit(X)
    with pytest.raises(ValueError, match="NaN"):
        TabularImager().fit(np.where(X > 0.99, np.nan, X))
    with pytest.raises(RuntimeError, match="not fitted"):
        TabularImager().transform(X)
    imager = TabularImager(layout="rowmajor").fit(X)
    with pytest.raises(ValueError, match="fitted on 48"):
        imager.transform(X[:, :10])
    with pytest.raises(ValueError, match="images must have shape"):
        imager.inverse_transform(np.zeros((2, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match="correlation"):
        TabularImager(correlation="kendall").fit(X)


def test_compare_layouts_and_speed_table(blocks):
    from idsynth.imaging import compare_layouts, imaging_speed

    X, _ = blocks
    table, imagers = compare_layouts(X, random_state=0)
    assert list(table["layout"]) == ["igtd", "rowmajor"] and set(imagers) == {"igtd", "rowmajor"}
    scores = table.set_index("layout")["rank_correlation"]
    assert scores["igtd"] == imagers["igtd"].layout_score_ > scores["rowmajor"]
    assert (table["grid"] == "7x7").all() and (table["n_features"] == 48).all()
    speed = imaging_speed(imagers["igtd"], X, n_rows=4000, repeats=1)
    assert list(speed["operation"]) == ["transform", "inverse_transform"]
    assert (speed["rows"] == 4000).all() and (speed["rows_per_s"] > 0).all()
