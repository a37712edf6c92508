"""TorchNearestNeighbors: the same neighbours as scikit-learn's brute force, and a drop-in k-NN
object for imbalanced-learn (SMOTE, ENN, Tomek links) with unchanged output."""

import numpy as np
import pytest
import torch
from imblearn.combine import SMOTEENN, SMOTETomek
from imblearn.over_sampling import SMOTE
from imblearn.under_sampling import EditedNearestNeighbours, TomekLinks
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.neighbors import NearestNeighbors

from idsynth.experiments.oversampling import OVERSAMPLER_NAMES, NeighbourTomekLinks, make_oversampler
from idsynth.neighbours import TorchNearestNeighbors


@pytest.fixture(scope="module")
def rows():
    """Continuous rows (no two at equal distance), four classes of unequal size."""
    X, y = make_classification(n_samples=600, n_features=10, n_informative=5, n_classes=4, n_clusters_per_class=1,
                               weights=[0.55, 0.25, 0.15, 0.05], class_sep=1.0, random_state=1)
    return X, y


def test_same_neighbours_and_distances_as_scikit_learn(rows):
    X, _ = rows
    ours = TorchNearestNeighbors(n_neighbors=6, device="cpu", query_batch=97).fit(X[:500])
    theirs = NearestNeighbors(n_neighbors=6, algorithm="brute").fit(X[:500])
    dist, idx = ours.kneighbors(X[400:])
    ref_dist, ref_idx = theirs.kneighbors(X[400:])
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-9, atol=1e-6)  # a row to itself: sqrt(rounding)
    np.testing.assert_array_equal(ours.kneighbors(X[:3], n_neighbors=2, return_distance=False), theirs.kneighbors(X[:3], 2)[1])
    for mode in ("connectivity", "distance"):
        diff = ours.kneighbors_graph(X[450:], mode=mode) - theirs.kneighbors_graph(X[450:], mode=mode)
        assert abs(diff).max() < 1e-6


def test_clear_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        TorchNearestNeighbors(device="cpu").kneighbors(np.zeros((1, 2)))
    nn = TorchNearestNeighbors(n_neighbors=3, device="cpu").fit(np.random.default_rng(0).random((5, 2)))
    with pytest.raises(ValueError, match="needs the query rows"):
        nn.kneighbors()
    with pytest.raises(ValueError, match=r"in \[1, 5\]"):
        nn.kneighbors(np.zeros((1, 2)), n_neighbors=6)
    with pytest.raises(ValueError, match=r"shape \(m, 2\)"):
        nn.kneighbors(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="finite"):
        TorchNearestNeighbors(device="cpu").fit(np.array([[0.0, np.nan]]))
    assert clone(nn).get_params() == nn.get_params()


def test_imbalanced_learn_gives_the_same_output_with_torch_neighbours(rows):
    X, y = rows
    torch_nn = lambda k: TorchNearestNeighbors(n_neighbors=k, device="cpu")  # noqa: E731
    pairs = [
        (SMOTE(random_state=0, k_neighbors=torch_nn(6)), SMOTE(random_state=0)),
        (EditedNearestNeighbours(sampling_strategy="all", n_neighbors=torch_nn(4)),
         EditedNearestNeighbours(sampling_strategy="all")),
        (NeighbourTomekLinks(sampling_strategy="all", nn_estimator=torch_nn(2)), TomekLinks(sampling_strategy="all")),
        (SMOTEENN(random_state=0, smote=SMOTE(random_state=0, k_neighbors=torch_nn(6)),
                  enn=EditedNearestNeighbours(sampling_strategy="all", n_neighbors=torch_nn(4))),
         SMOTEENN(random_state=0)),
        (SMOTETomek(random_state=0, smote=SMOTE(random_state=0, k_neighbors=torch_nn(6)),
                    tomek=NeighbourTomekLinks(sampling_strategy="all", nn_estimator=torch_nn(2))),
         SMOTETomek(random_state=0)),
    ]
    removed = 0
    for ours, reference in pairs:
        X_ours, y_ours = ours.fit_resample(X, y)
        X_ref, y_ref = reference.fit_resample(X, y)
        np.testing.assert_allclose(X_ours, X_ref, rtol=1e-12)
        np.testing.assert_array_equal(y_ours, y_ref)
        removed += len(y) - len(y_ours) if len(y_ours) < len(y) else 0
    assert removed > 0  # the cleaning steps did remove rows, so the comparison means something


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("method", [m for m in OVERSAMPLER_NAMES if m not in ("VGM", "EasyEnsemble")])
def test_gpu_neighbour_searches_give_the_cpu_output(rows, method):
    X, y = rows
    X_gpu, y_gpu = make_oversampler(method, random_state=2, device="cuda").fit_resample(X, y)
    X_cpu, y_cpu = make_oversampler(method, random_state=2, device="cpu").fit_resample(X, y)
    np.testing.assert_allclose(X_gpu, X_cpu, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(y_gpu, y_cpu)
