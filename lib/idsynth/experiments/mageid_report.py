"""Tables of notebooks 06 and 07: stage-1 reconstruction, loss curves, latents, consistency.

The poster reports no number for either stage (only Table I, notebook 09), so these tables
stand alone; each says what it measures and in which units.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..metrics.consistency import consistency_table
from ..models.mageid import LABEL_COLUMN, MAGEID, MAGEIDSample

#: What each measure of :func:`stage1_reconstruction` is, for the notebooks' text.
MEASURES = {
    "num_rmse": "RMSE of the numeric columns in the tabular branch's (quantile-normal) units",
    "num_rmse_relative": "num_rmse / RMS spread of those columns about their means (1 = no better than the means)",
    "cat_accuracy": "share of rows whose category is reproduced (argmax), per categorical column",
    "label_accuracy": "share of rows whose appended class-label column is reproduced",
    "image_mse": "MSE per pixel of the ImageVAE reconstruction (pixels in [0, 1])",
    "image_psnr_db": "PSNR of the ImageVAE reconstruction, 10 log10(1 / MSE), in dB",
}


def reconstruction_rows(model: MAGEID, X: pd.DataFrame, y) -> tuple[list[dict[str, Any]], int]:
    """One dict (branch, measure, column, value) per reconstruction measure of ``model``'s
    stage-1 VAEs on rows (X, y), posterior means; rows with a category unseen in fit are left
    out. Returns (rows, number left out)."""
    samples = model.paired(X, y, drop_unknown=True)
    dropped = len(X) - len(samples)
    tab = model.tab_vae_.reconstruction_report(samples.X_num, samples.X_cat)
    spread = float(np.sqrt(np.mean(samples.X_num.astype(np.float64).var(axis=0))))
    out = [{"branch": "tabular", "measure": "num_rmse", "column": "all numeric", "value": tab["num_rmse"]},
           {"branch": "tabular", "measure": "num_rmse_relative", "column": "all numeric",
            "value": tab["num_rmse"] / spread if spread > 0 else float("nan")}]
    for column, accuracy in zip(samples.cat_features, tab["cat_accuracy"]):
        measure = "label_accuracy" if column == LABEL_COLUMN else "cat_accuracy"
        out.append({"branch": "tabular", "measure": measure, "column": "label" if column == LABEL_COLUMN else column,
                    "value": accuracy})
    if model.img_vae_ is not None:
        image = model.img_vae_.reconstruction_report(samples.images)
        out.append({"branch": "image", "measure": "image_mse", "column": "all pixels", "value": image["mse"]})
        out.append({"branch": "image", "measure": "image_psnr_db", "column": "all pixels", "value": image["psnr_db"]})
    return out, dropped


def stage1_reconstruction(models: Mapping[tuple[str, int], MAGEID], sets: Mapping[str, Any],
                          splits: tuple[str, ...] = ("train", "test")) -> pd.DataFrame:
    """Long table: ``dataset, seed, split, rows, dropped, branch, measure, column, value``.

    models: ``{(dataset name, seed): fitted MAGEID}``; sets: ``{dataset name: MageIDSet}``.
    ``train`` = the rows the VAEs learnt from; ``test`` = the held-out real rows.
    """
    frames = []
    for (name, seed), model in models.items():
        for split in splits:
            X, y = sets[name].xy(split)
            rows, dropped = reconstruction_rows(model, X, y)
            frames.append(pd.DataFrame(rows).assign(dataset=name, seed=seed, split=split, rows=len(X) - dropped,
                                                    dropped=dropped))
    columns = ["dataset", "seed", "split", "rows", "dropped", "branch", "measure", "column", "value"]
    return pd.concat(frames, ignore_index=True)[columns]


def reconstruction_summary(long: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std over seeds: one row per dataset and split, one column per measure/column."""
    grouped = long.groupby(["dataset", "split", "measure", "column"], sort=False)["value"]
    stats = grouped.agg(["mean", "std"]).reset_index()
    stats["text"] = [f"{m:.4f}" if not np.isfinite(s) or len(long["seed"].unique()) == 1 else f"{m:.4f} ± {s:.4f}"
                     for m, s in zip(stats["mean"], stats["std"])]
    stats["name"] = [m if c in ("all numeric", "all pixels") else f"{m}[{c}]"
                     for m, c in zip(stats["measure"], stats["column"])]
    wide = stats.pivot(index=["dataset", "split"], columns="name", values="text")
    order = [n for n in dict.fromkeys(stats["name"])]
    return wide[order].reset_index().rename_axis(columns=None).fillna("")


#: Loss terms shown per part (the columns of :meth:`MAGEID.loss_histories`'s frames).
LOSS_TERMS = {"tab_vae": ("mse", "ce", "kl"), "img_vae": ("mse", "kl"), "edm": ("loss",)}
PART_NAMES = {"tab_vae": "TabVAE", "img_vae": "ImageVAE", "edm": "EDM"}


def loss_panels(models: Mapping[tuple[str, int], MAGEID], parts: tuple[str, ...], seed: int) -> dict[str, pd.DataFrame]:
    """``{"<dataset> · <part>": frame (epoch, terms...)}`` of the models trained with ``seed``,
    for :func:`idsynth.plots.loss_curves` (one panel each)."""
    panels = {}
    for (name, model_seed), model in models.items():
        if model_seed != seed:
            continue
        histories = model.loss_histories()
        for part in parts:
            if part in histories:
                panels[f"{name} · {PART_NAMES[part]}"] = histories[part][["epoch", *LOSS_TERMS[part]]]
    return panels


def subsample(X: pd.DataFrame, y, n_rows: int, random_state: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """At most ``n_rows`` rows of (X, y), drawn without replacement, stratified by class."""
    y = np.asarray(y)
    if len(y) <= n_rows:
        return X.reset_index(drop=True), y
    rng = np.random.default_rng(random_state)
    keep = np.concatenate([
        rng.choice(np.flatnonzero(y == label), size=max(1, round(n_rows * np.mean(y == label))), replace=False)
        for label in np.unique(y)
    ])  # fmt: skip
    keep = np.sort(keep)
    return X.iloc[keep].reset_index(drop=True), y[keep]


def latent_projection(real_z: np.ndarray, real_y, synthetic_z: np.ndarray, synthetic_y,
                      method: str = "pca", random_state: int = 0) -> tuple[pd.DataFrame, dict[str, Any]]:
    """2-D projection of real and generated joint latents, fitted on both together.

    Returns (frame ``source, label, c1, c2``; info ``{"method", "explained_variance"}``, the
    latter for PCA only). ``method``: ``"pca"`` or ``"tsne"`` (sklearn, seeded).
    """
    real_z, synthetic_z = np.asarray(real_z, np.float64), np.asarray(synthetic_z, np.float64)
    if real_z.ndim != 2 or synthetic_z.ndim != 2 or real_z.shape[1] != synthetic_z.shape[1]:
        raise ValueError(f"need two (n, d) latent arrays of the same d, got {real_z.shape} and {synthetic_z.shape}")
    both = np.concatenate([real_z, synthetic_z])
    # Standardise with the real latents' statistics so every coordinate counts alike.
    both = (both - real_z.mean(axis=0)) / np.where(real_z.std(axis=0) > 0, real_z.std(axis=0), 1.0)
    info: dict[str, Any] = {"method": method}
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=random_state).fit(both[: len(real_z)])
        coords = pca.transform(both)
        info["explained_variance"] = pca.explained_variance_ratio_.tolist()
    elif method == "tsne":
        from sklearn.manifold import TSNE

        coords = TSNE(n_components=2, random_state=random_state, init="pca").fit_transform(both)
    else:
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
    frame = pd.DataFrame({
        "source": ["real"] * len(real_z) + ["synthetic"] * len(synthetic_z),
        "label": np.concatenate([np.asarray(real_y), np.asarray(synthetic_y)]),
        "c1": coords[:, 0], "c2": coords[:, 1],
    })  # fmt: skip
    return frame, info


def consistency(model: MAGEID, generated: MAGEIDSample, X_real: pd.DataFrame, y_real,
                random_state: int = 0) -> pd.DataFrame:
    """:func:`~idsynth.metrics.consistency.consistency_table` of ``model``'s generated pairs,
    with real rows (X_real, y_real) passed through its two autoencoders as the noise floor."""
    if not model.uses_images:
        raise ValueError("cross-modal consistency needs the image branch")
    real_frame, real_images = model.reconstruct(X_real, y_real)
    return consistency_table(generated.images, generated.frame, model.img_encoder_, model.imager_,
                             reference_images=real_images, reference_frame=real_frame, random_state=random_state)
