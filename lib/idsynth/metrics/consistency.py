"""Cross-modal consistency of generated (row, image) pairs.

A multimodal generator such as MAGE-ID emits each synthetic flow twice: as a typed row and as a
feature image. The two agree when the image equals the picture of the row, i.e. the image that
the min-max encoder and the :class:`~idsynth.imaging.TabularImager` compute from the row.
The distance of a pair is the per-sample MSE between the two images (mean over the pixels),
in the [0, 1] pixel scale.

A distance alone means little, so :func:`consistency_table` puts it between two references:

* *real pairs through the autoencoders* (the noise floor): the image-autoencoder's
  reconstruction of a real image against the picture of the tabular autoencoder's
  reconstruction of the same row; a generator cannot be more consistent than its own
  autoencoders;
* *shuffled generated pairs* (the chance level): image ``i`` against the picture of row
  ``pi(i)``, ``pi`` a random permutation without fixed points; a generator whose two outputs
  were unrelated would score this.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..data.encoding import TabularEncoder
from ..imaging import TabularImager

#: Row labels of :func:`consistency_table`, in its order.
PAIRINGS = ("generated (paired)", "generated (shuffled)", "real through the autoencoders")


def images_of_rows(frame: pd.DataFrame, encoder: TabularEncoder, imager: TabularImager) -> np.ndarray:
    """The pictures of typed rows: ``imager.transform(encoder.transform(frame))``, (n, 1, H, W)
    float32 in [0, 1]. ``encoder`` must be the fitted min-max encoder the imager was fitted on."""
    if encoder.numeric_scaling != "minmax":
        raise ValueError(f"images need a min-max encoder; this one scales numerics with {encoder.numeric_scaling!r}")
    return imager.transform(encoder.transform(frame))


def per_sample_mse(a, b) -> np.ndarray:
    """Mean squared difference per sample of two image stacks of equal shape (n, ...) -> (n,) float64."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(f"need two image stacks of the same shape (n, ...), got {a.shape} and {b.shape}")
    return np.square(a - b).reshape(len(a), -1).mean(axis=1)


def derangement(n: int, random_state: int = 0) -> np.ndarray:
    """A random permutation of ``0..n-1`` with no fixed point (n >= 2): a random cyclic order,
    each element sent to the next one in it."""
    if n < 2:
        raise ValueError(f"a permutation without fixed points needs n >= 2, got {n}")
    order = np.random.default_rng(random_state).permutation(n)
    pi = np.empty(n, dtype=np.int64)
    pi[order] = np.roll(order, -1)
    return pi


def pair_distances(images, frame: pd.DataFrame, encoder: TabularEncoder, imager: TabularImager,
                   permutation: Sequence[int] | None = None) -> np.ndarray:
    """(n,) per-sample MSE between ``images[i]`` and the picture of row ``permutation[i]`` of
    ``frame`` (row ``i`` when ``permutation`` is None). images: (n, 1, H, W) in [0, 1]."""
    images = np.asarray(images)
    if len(images) != len(frame):
        raise ValueError(f"got {len(images)} images for {len(frame)} rows")
    pictures = images_of_rows(frame, encoder, imager)
    if permutation is not None:
        permutation = np.asarray(permutation)
        if sorted(permutation.tolist()) != list(range(len(frame))):
            raise ValueError("permutation must be a permutation of 0..n-1")
        pictures = pictures[permutation]
    return per_sample_mse(images, pictures)


def _summary(pairing: str, distances: np.ndarray) -> dict:
    return {"pairing": pairing, "mean": float(distances.mean()), "std": float(distances.std()),
            "median": float(np.median(distances)), "n": int(len(distances))}


def consistency_table(generated_images, generated_frame: pd.DataFrame, encoder: TabularEncoder,
                      imager: TabularImager, reference_images=None, reference_frame: pd.DataFrame | None = None,
                      random_state: int = 0) -> pd.DataFrame:
    """Cross-modal consistency summary: columns ``pairing, mean, std, median, n`` (per-sample MSE).

    generated_images (n, 1, H, W) / generated_frame (n rows): the generator's pairs.
    reference_images / reference_frame: real pairs passed through the two autoencoders (image
    reconstruction, reconstructed row); optional, the noise-floor row is left out without them.
    The shuffled row uses :func:`derangement` with ``random_state``.
    """
    paired = pair_distances(generated_images, generated_frame, encoder, imager)
    shuffled = pair_distances(generated_images, generated_frame, encoder, imager,
                              derangement(len(generated_frame), random_state))
    rows = [_summary(PAIRINGS[0], paired), _summary(PAIRINGS[1], shuffled)]
    if (reference_images is None) != (reference_frame is None):
        raise ValueError("pass both reference_images and reference_frame, or neither")
    if reference_images is not None:
        rows.append(_summary(PAIRINGS[2], pair_distances(reference_images, reference_frame, encoder, imager)))
    return pd.DataFrame(rows)
