"""Tabular rows -> single-channel images (MAGE-ID phase 1: "transform features into images").

Each feature owns one pixel of an ``H x W`` grid (optionally blown up to ``upscale x upscale``
blocks); a row's image holds the row's feature values at those pixels and ``pad_value`` on the
unused pixels. Two layouts place the features on the grid:

* ``"rowmajor"``: feature ``j`` at pixel ``j`` in reading order (the naive baseline).
* ``"igtd"``: a correlation-preserving layout in the spirit of IGTD (Zhu et al., "Converting
  tabular data into images for deep learning with convolutional neural networks", Scientific
  Reports 11, 2021). Feature distance is ``1 - |rho|`` (Spearman or Pearson correlation over the
  training rows), grid distance is the Euclidean distance between pixel centres; both are
  turned into normalised ranks and greedy pairwise swaps minimise the squared difference
  between the two rank matrices, so strongly correlated features end up as neighbours.

The quality of a layout is ``layout_score_``: the Spearman correlation between the upper
triangles of the feature-distance matrix and the grid-distance matrix of the placed features
(1 = grid distance orders the pairs exactly as feature distance does).

The transform is one gather/scatter (``images[:, pixels] = X[:, features]``), so a million rows
take about a second; ``inverse_transform`` reads the feature pixels back (averaging each
``upscale`` block), which recovers the rows exactly.
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np
from scipy.stats import rankdata

LAYOUTS = ("igtd", "rowmajor")
CORRELATIONS = ("spearman", "pearson")


# ----------------------------------------------------------------------------------------------
# Distances
# ----------------------------------------------------------------------------------------------


def feature_distance(X: np.ndarray, correlation: str = "spearman") -> np.ndarray:
    """Pairwise feature distance ``1 - |rho|`` of the columns of ``X``.

    X: (n, d) numeric matrix. Returns a (d, d) float64 symmetric matrix in [0, 1] with a zero
    diagonal. A constant column has no defined correlation: its distance to every other column
    is 1 (it is "unrelated" to everything).
    """
    if correlation not in CORRELATIONS:
        raise ValueError(f"correlation must be one of {CORRELATIONS}, got {correlation!r}")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"X must be a 2-D matrix with at least 2 rows, got shape {X.shape}")
    if correlation == "spearman":
        X = rankdata(X, axis=0, method="average")
    centred = X - X.mean(axis=0)
    norms = np.sqrt((centred**2).sum(axis=0))
    constant = norms <= 1e-12 * max(1.0, float(np.abs(X).max(initial=0.0)))
    safe = np.where(constant, 1.0, norms)
    unit = centred / safe
    rho = np.clip(unit.T @ unit, -1.0, 1.0)
    dist = 1.0 - np.abs(rho)
    dist[constant, :] = 1.0
    dist[:, constant] = 1.0
    np.fill_diagonal(dist, 0.0)
    return dist


def grid_distance(grid_shape: tuple[int, int]) -> np.ndarray:
    """Euclidean distance between the centres of every pair of pixels of an ``H x W`` grid.

    Returns a (H*W, H*W) float64 matrix; pixel ``p`` sits at row ``p // W``, column ``p % W``.
    """
    height, width = grid_shape
    rows, cols = np.divmod(np.arange(height * width), width)
    coords = np.stack([rows, cols], axis=1).astype(np.float64)
    diff = coords[:, None, :] - coords[None, :, :]
    return np.sqrt((diff**2).sum(axis=-1))


def _normalised_ranks(dist: np.ndarray) -> np.ndarray:
    """Replace the off-diagonal entries of a symmetric matrix by their ranks scaled to (0, 1]."""
    size = dist.shape[0]
    upper = np.triu_indices(size, k=1)
    ranks = np.zeros_like(dist, dtype=np.float64)
    if upper[0].size:
        r = rankdata(dist[upper], method="average")
        r /= r.max()
        ranks[upper] = r
        ranks[(upper[1], upper[0])] = r
    return ranks


def layout_rank_correlation(feature_dist: np.ndarray, grid_dist: np.ndarray, position: np.ndarray) -> float:
    """Spearman correlation between feature distances and the grid distances of their pixels.

    feature_dist: (d, d); grid_dist: (P, P) over all pixels; position: (d,) pixel of each
    feature. Computed over the d*(d-1)/2 feature pairs. Returns NaN for fewer than 3 features
    or when either distance is constant over the pairs.
    """
    d = feature_dist.shape[0]
    if d < 3:
        return float("nan")
    upper = np.triu_indices(d, k=1)
    placed = grid_dist[np.ix_(position, position)]
    a = rankdata(feature_dist[upper])
    b = rankdata(placed[upper])
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


# ----------------------------------------------------------------------------------------------
# Layouts
# ----------------------------------------------------------------------------------------------


def rowmajor_layout(n_features: int, grid_shape: tuple[int, int]) -> np.ndarray:
    """Feature ``j`` at pixel ``j``: returns the (d,) pixel index of each feature."""
    _check_fits(n_features, grid_shape)
    return np.arange(n_features, dtype=np.int64)


def _swap_gains(a: int, fr: np.ndarray, weight: np.ndarray, dp: np.ndarray) -> np.ndarray:
    """Change of the IGTD error when item ``a`` swaps pixels with each item ``b`` (vectorised).

    fr: (P, P) feature-distance ranks between items; weight: (P, P) 1 for pairs of two real
    features, else 0; dp: (P, P) grid-distance ranks between the items' current pixels.
    Error = sum over weighted pairs of (fr - dp)^2. Returns (P,) deltas (negative = better).
    The pair (a, b) itself keeps its distance, so its term is left out of every row sum.
    """
    wa, fa = weight[a], fr[a]
    # Row a after the swap: a sits on b's pixel, so its distances become dp[b, k].
    new_a = ((fa[None, :] - dp) ** 2 * wa[None, :]).sum(axis=1) - wa * fa**2
    old_a = (wa * (fa - dp[a]) ** 2).sum() - wa * (fa - dp[a]) ** 2
    # Row b after the swap: b sits on a's pixel, so its distances become dp[a, k].
    new_b = (weight * (fr - dp[a][None, :]) ** 2).sum(axis=1) - wa * fa**2
    old_b = (weight * (fr - dp) ** 2).sum(axis=1) - wa * (fa - dp[a]) ** 2
    delta = new_a + new_b - old_a - old_b
    delta[a] = 0.0
    return delta


def igtd_layout(
    feature_dist: np.ndarray,
    grid_shape: tuple[int, int],
    *,
    max_sweeps: int = 200,
    n_init: int = 3,
    random_state: int | None = 0,
) -> tuple[np.ndarray, list[float]]:
    """IGTD-style placement of ``d`` features on an ``H x W`` grid by greedy pairwise swaps.

    feature_dist: (d, d) symmetric distance matrix. The grid's ``H*W >= d`` pixels are items
    ``0..P-1`` (features first, then empty pixels). One sweep visits every feature in a random
    order; for each it evaluates swapping its pixel with every other pixel (occupied or empty)
    and makes the best swap if it lowers the error
    ``sum_{i<j} (rank_feature(i, j) - rank_grid(pixel_i, pixel_j))^2`` (ranks scaled to (0, 1]).
    Sweeps stop at a local optimum (a sweep without a swap) or after ``max_sweeps``; the best of
    ``n_init`` random starts is kept. Returns ((d,) pixel index of each feature, the error after
    each sweep of the best start).
    """
    d = feature_dist.shape[0]
    _check_fits(d, grid_shape)
    n_pixels = grid_shape[0] * grid_shape[1]
    if max_sweeps < 0 or n_init < 1:
        raise ValueError(f"need max_sweeps >= 0 and n_init >= 1, got {max_sweeps}, {n_init}")
    rng = np.random.default_rng(random_state)
    fr = np.zeros((n_pixels, n_pixels))
    fr[:d, :d] = _normalised_ranks(feature_dist)
    weight = np.zeros((n_pixels, n_pixels))
    weight[:d, :d] = 1.0
    np.fill_diagonal(weight, 0.0)
    gr = _normalised_ranks(grid_distance(grid_shape))

    best_pixels, best_history, best_error = None, [], math.inf
    for _ in range(n_init):
        pixel_of = rng.permutation(n_pixels)  # pixel_of[item] = pixel holding that item
        dp = gr[np.ix_(pixel_of, pixel_of)]
        history = [float((weight * (fr - dp) ** 2).sum() / 2)]
        for _sweep in range(max_sweeps):
            swapped = False
            for a in rng.permutation(d):
                delta = _swap_gains(int(a), fr, weight, dp)
                b = int(np.argmin(delta))
                if delta[b] < -1e-12:
                    pixel_of[[a, b]] = pixel_of[[b, a]]
                    dp[[a, b], :] = dp[[b, a], :]
                    dp[:, [a, b]] = dp[:, [b, a]]
                    swapped = True
            history.append(float((weight * (fr - dp) ** 2).sum() / 2))
            if not swapped:
                break
        if history[-1] < best_error:
            best_error, best_pixels, best_history = history[-1], pixel_of[:d].copy(), history
    return best_pixels.astype(np.int64), best_history


def _check_fits(n_features: int, grid_shape: tuple[int, int]) -> None:
    if n_features < 1:
        raise ValueError("need at least one feature")
    if grid_shape[0] * grid_shape[1] < n_features:
        raise ValueError(
            f"a {grid_shape[0]}x{grid_shape[1]} grid has {grid_shape[0] * grid_shape[1]} pixels, "
            f"fewer than the {n_features} features"
        )


def _grid_shape(image_size, n_features: int) -> tuple[int, int]:
    """``None`` -> the smallest square holding ``n_features``; an int -> square; a pair -> (H, W)."""
    if image_size is None:
        side = math.isqrt(n_features - 1) + 1 if n_features > 1 else 1
        return side, side
    if isinstance(image_size, (int, np.integer)):
        shape = (int(image_size), int(image_size))
    else:
        try:
            height, width = image_size
        except (TypeError, ValueError):
            raise TypeError(f"image_size must be None, an int or a pair (H, W), got {image_size!r}") from None
        shape = (int(height), int(width))
    if min(shape) < 1:
        raise ValueError(f"image_size must be positive, got {image_size!r}")
    _check_fits(n_features, shape)
    return shape


# ----------------------------------------------------------------------------------------------
# The transformer
# ----------------------------------------------------------------------------------------------


class TabularImager:
    """Fitted map from scaled tabular rows to single-channel images and back.

    Parameters (stored unchanged, scikit-learn style):
        layout: ``"igtd"`` (correlated features adjacent) or ``"rowmajor"`` (naive reshape).
        image_size: grid size: None (smallest square holding the features), an int (square) or
            (H, W); must have at least as many pixels as features.
        upscale: each feature pixel becomes an ``upscale x upscale`` block.
        correlation: ``"spearman"`` or ``"pearson"`` for the feature distance ``1 - |rho|``.
        max_sweeps, n_init: IGTD search budget (see :func:`igtd_layout`).
        max_fit_rows: at most this many training rows (drawn with ``random_state``) enter the
            correlation estimate; None = all.
        pad_value: value of the pixels that hold no feature.
        random_state: seed of the row subsample and of the IGTD starts and visiting order.

    Fitted attributes:
        n_features_in_, feature_names_in_ (d,), grid_shape_ (H, W), image_shape_ (1, H*up, W*up),
        position_ (d,) pixel of each feature in the H x W grid (row-major index),
        feature_grid_ (H, W) int feature index per pixel, -1 for padding,
        feature_name_grid_ (H, W) object: feature name per pixel, None for padding,
        feature_distance_ (d, d), layout_score_ (Spearman rank correlation of the layout, see
        :func:`layout_rank_correlation`), rowmajor_score_ (the same for the naive layout, for
        comparison), layout_history_ (IGTD error per sweep; [] for rowmajor), fit_seconds_.
    """

    def __init__(
        self,
        layout: str = "igtd",
        image_size=None,
        upscale: int = 1,
        correlation: str = "spearman",
        max_sweeps: int = 200,
        n_init: int = 3,
        max_fit_rows: int | None = 20000,
        pad_value: float = 0.0,
        random_state: int | None = 0,
    ):
        self.layout = layout
        self.image_size = image_size
        self.upscale = upscale
        self.correlation = correlation
        self.max_sweeps = max_sweeps
        self.n_init = n_init
        self.max_fit_rows = max_fit_rows
        self.pad_value = pad_value
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------------------

    def fit(self, X, feature_names: Sequence[str] | None = None) -> "TabularImager":
        """Choose the pixel of every feature from training rows.

        X: (n, d) numeric matrix scaled to [0, 1] (e.g. ``TabularEncoder`` min-max output), or a
        DataFrame (its column names become the feature names). feature_names: (d,) names.
        """
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if not isinstance(self.upscale, (int, np.integer)) or self.upscale < 1:
            raise ValueError(f"upscale must be a positive int, got {self.upscale!r}")
        if feature_names is None and hasattr(X, "columns"):
            feature_names = [str(c) for c in X.columns]
        X = self._as_matrix(X)
        if X.shape[0] < 2:
            raise ValueError(f"fit needs at least 2 rows, got {X.shape[0]}")
        lo, hi = float(X.min()), float(X.max())
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise ValueError(
                f"X must be scaled to [0, 1] before imaging (e.g. TabularEncoder min-max output); "
                f"got values in [{lo:.4g}, {hi:.4g}]"
            )
        started = time.perf_counter()
        d = X.shape[1]
        if feature_names is None:
            feature_names = [f"x{j}" for j in range(d)]
        if len(feature_names) != d:
            raise ValueError(f"got {len(feature_names)} feature names for {d} columns")
        self.n_features_in_ = d
        self.feature_names_in_ = np.asarray([str(n) for n in feature_names], dtype=object)
        self.grid_shape_ = _grid_shape(self.image_size, d)
        height, width = self.grid_shape_
        self.image_shape_ = (1, height * self.upscale, width * self.upscale)

        rows = X
        if self.max_fit_rows is not None and X.shape[0] > self.max_fit_rows:
            rng = np.random.default_rng(self.random_state)
            rows = X[np.sort(rng.choice(X.shape[0], size=int(self.max_fit_rows), replace=False))]
        self.feature_distance_ = feature_distance(rows, self.correlation)
        grid_dist = grid_distance(self.grid_shape_)
        naive = rowmajor_layout(d, self.grid_shape_)
        self.rowmajor_score_ = layout_rank_correlation(self.feature_distance_, grid_dist, naive)
        if self.layout == "igtd":
            self.position_, self.layout_history_ = igtd_layout(
                self.feature_distance_,
                self.grid_shape_,
                max_sweeps=self.max_sweeps,
                n_init=self.n_init,
                random_state=self.random_state,
            )
            self.layout_score_ = layout_rank_correlation(self.feature_distance_, grid_dist, self.position_)
        else:
            self.position_, self.layout_history_ = naive, []
            self.layout_score_ = self.rowmajor_score_
        self._build_index()
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _build_index(self) -> None:
        """Grids of feature indices/names and the flat pixel <-> feature index of the image."""
        height, width = self.grid_shape_
        grid = np.full(height * width, -1, dtype=np.int64)
        grid[self.position_] = np.arange(self.n_features_in_)
        self.feature_grid_ = grid.reshape(height, width)
        names = np.full(height * width, None, dtype=object)
        names[self.position_] = self.feature_names_in_
        self.feature_name_grid_ = names.reshape(height, width)
        up = self.upscale
        big = np.kron(self.feature_grid_, np.ones((up, up), dtype=np.int64)).ravel()
        self._pad_pixels = np.flatnonzero(big < 0)  # image pixels holding no feature
        self._source = np.where(big < 0, 0, big)  # feature shown by each image pixel (pads: any)

    # -- transforms ------------------------------------------------------------------------------

    def transform(self, X):
        """Rows -> images. X: (n, d) matrix (NumPy, DataFrame or torch tensor).

        Returns float32 (n, 1, H*upscale, W*upscale): a NumPy array, or a tensor on X's device
        when X is a torch tensor. One gather along the feature axis, then the padding is set.
        """
        self._check_fitted()
        torch_mod = _torch_if_tensor(X)
        if torch_mod is None:
            X = self._as_matrix(X)
        elif X.ndim != 2:
            raise ValueError(f"X must be 2-D (n, d), got shape {tuple(X.shape)}")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} columns, the imager was fitted on {self.n_features_in_}")
        if torch_mod is None:
            out = np.take(X, self._source, axis=1)  # one gather along the feature axis
        else:
            out = torch_mod.index_select(X.to(torch_mod.float32), 1, torch_mod.as_tensor(self._source, device=X.device))
        if self._pad_pixels.size:
            pads = self._pad_pixels if torch_mod is None else torch_mod.as_tensor(self._pad_pixels, device=X.device)
            out[:, pads] = self.pad_value
        return out.reshape(X.shape[0], *self.image_shape_)

    def inverse_transform(self, images):
        """Images -> rows by reading each feature's pixel (the mean of its upscale block).

        images: (n, 1, H*upscale, W*upscale) (or without the channel axis), NumPy or torch.
        Returns float32 (n, d) of the same library (and device). Exact for images made by
        :meth:`transform` (block means are accumulated in float64).
        """
        self._check_fitted()
        up, (height, width) = self.upscale, self.grid_shape_
        shape = tuple(images.shape)
        if shape[1:] != self.image_shape_ and shape[1:] != self.image_shape_[1:]:
            raise ValueError(f"images must have shape (n, {', '.join(map(str, self.image_shape_))}), got {shape}")
        n = shape[0]
        torch_mod = _torch_if_tensor(images)
        if torch_mod is None:
            images = np.asarray(images)
            position = self.position_
            if up == 1:
                grid = images.reshape(n, height * width)
            else:
                grid = images.reshape(n, height, up, width, up).mean(axis=(2, 4), dtype=np.float64)
            return np.take(grid.reshape(n, height * width), position, axis=1).astype(np.float32, copy=False)
        position = torch_mod.as_tensor(self.position_, device=images.device)
        if up == 1:
            grid = images.reshape(n, height * width)
        else:
            grid = images.reshape(n, height, up, width, up).to(torch_mod.float64).mean(dim=(2, 4))
        return torch_mod.index_select(grid.reshape(n, height * width), 1, position).to(torch_mod.float32)

    def fit_transform(self, X, feature_names: Sequence[str] | None = None):
        return self.fit(X, feature_names).transform(X)

    # -- helpers ---------------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "position_"):
            raise RuntimeError("TabularImager is not fitted yet: call fit(X) first")

    @staticmethod
    def _as_matrix(X) -> np.ndarray:
        values = X.to_numpy() if hasattr(X, "to_numpy") else X
        try:
            values = np.asarray(values, dtype=np.float32)
        except (TypeError, ValueError):
            raise TypeError("X must be a numeric (n, d) matrix") from None
        if values.ndim != 2:
            raise ValueError(f"X must be 2-D (n, d), got shape {values.shape}")
        if not np.isfinite(values).all():
            raise ValueError("X holds NaN or infinite values")
        return values

    def __repr__(self) -> str:
        return (
            f"TabularImager(layout={self.layout!r}, image_size={self.image_size!r}, upscale={self.upscale}, "
            f"correlation={self.correlation!r}, random_state={self.random_state!r})"
        )


def _torch_if_tensor(obj):
    """The torch module when ``obj`` is a torch tensor (without importing torch otherwise)."""
    module = type(obj).__module__
    if module.startswith("torch"):
        import torch

        if isinstance(obj, torch.Tensor):
            return torch
    return None


# ----------------------------------------------------------------------------------------------
# Comparing layouts and measuring speed
# ----------------------------------------------------------------------------------------------


def compare_layouts(
    X, feature_names: Sequence[str] | None = None, layouts: Sequence[str] = LAYOUTS, **imager_kwargs
) -> tuple["pd.DataFrame", dict[str, TabularImager]]:
    """Fit one imager per layout on the same rows.

    X: (n, d) in [0, 1]. Returns (table with columns layout, rank_correlation, grid, n_features,
    fit_seconds; {layout: fitted imager}).
    """
    import pandas as pd

    imagers, rows = {}, []
    for layout in layouts:
        imager = TabularImager(layout=layout, **imager_kwargs).fit(X, feature_names)
        imagers[layout] = imager
        rows.append(
            {
                "layout": layout,
                "rank_correlation": imager.layout_score_,
                "grid": f"{imager.grid_shape_[0]}x{imager.grid_shape_[1]}",
                "n_features": imager.n_features_in_,
                "fit_seconds": imager.fit_seconds_,
            }
        )
    return pd.DataFrame(rows), imagers


def imaging_speed(imager: TabularImager, X, n_rows: int, repeats: int = 3) -> "pd.DataFrame":
    """Rows per second of ``transform`` and ``inverse_transform`` on ``n_rows`` rows (``X``
    tiled to that size), best of ``repeats``; checks that the round trip is exact.

    Returns a table with columns operation, rows, seconds, rows_per_s.
    """
    import pandas as pd

    X = np.asarray(X, dtype=np.float32)
    reps = -(-int(n_rows) // len(X))
    rows = np.tile(X, (reps, 1))[: int(n_rows)]
    timings = {"transform": math.inf, "inverse_transform": math.inf}
    for _ in range(repeats):
        started = time.perf_counter()
        images = imager.transform(rows)
        timings["transform"] = min(timings["transform"], time.perf_counter() - started)
        started = time.perf_counter()
        back = imager.inverse_transform(images)
        timings["inverse_transform"] = min(timings["inverse_transform"], time.perf_counter() - started)
    if not np.array_equal(back, rows):
        raise AssertionError("inverse_transform(transform(X)) differs from X")
    return pd.DataFrame(
        [{"operation": op, "rows": len(rows), "seconds": s, "rows_per_s": len(rows) / s} for op, s in timings.items()]
    )
