"""VGM: the variational generative model of the VGM paper (§3.3, Table 7), Options A, B, C.

    model = VGM(option="C", epochs=80, random_state=0).fit(X_train, y_train)
    X_syn, y_syn = model.sample({0: 1000, 4: 500}, random_state=1)   # from labels alone
    X_fwd = model.reconstruct(X_train, y_train, random_state=1)      # "forward pass" (Tables 1-4)

Data: X (n, 116) float32 in [0, 1] (32 min-max-scaled continuous columns first, then 84
one-hot columns), y (n,) int class codes 0..4. Networks: :mod:`.vgm_nets`; loss:
:mod:`.vgm_losses`; training loop: :mod:`.vgm_training`.
"""

from __future__ import annotations

import numbers
import os
import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator

from ..config import resolve_device
from .base import labels_from_counts
from .host_copy import ChunkedHostCopy
from .validation import check_label_codes, check_seed, check_unit_features
from .vgm_describe import network_configuration
from .vgm_losses import VGMLoss
from .vgm_nets import OPTIONS, VGMNet, glorot_init_
from .vgm_training import fit_network

FILE_FORMAT = "idsynth.vgm/1"
#: Rows generated per noise draw. Fixed (not device-dependent) so that samples depend only
#: on ``random_state`` and the device's random-number generator.
SAMPLE_CHUNK_ROWS = 1 << 16


class VGM(BaseEstimator):
    """Variational generative model for labelled tabular data (Options A, B, C).

    Parameters (stored unchanged; fitted state ends in ``_``)
    ----------
    option : "A" | "B" | "C"
        A: encoder q(z | L) on the label one-hot, sigmoid outputs, KL + Bernoulli NLL.
        B: as A, but the first ``continuous_features`` outputs are linear with an RMSE loss.
        C: conditional VAE, encoder q(z | X), label (tiled ``label_repeat`` times) into the
        decoder's first layer beside ``label_units`` units from z; KL + Bernoulli NLL.
    n_features, n_classes : data width (116) and number of classes (5).
    latent_dim : size of the diagonal-Gaussian latent z (25).
    encoder_units, decoder_units : hidden widths, ReLU (500-500-500 and 500-500).
    label_repeat, label_units : Option C's decoder input, [label_units ‖ n_classes * label_repeat].
    continuous_features : leading continuous columns of the encoding (32); Option B's linear block.
        Up to ``n_features`` (an all-numeric table: every column continuous).
    epochs, batch_size, learning_rate : Adam schedule (80, 200, 1e-3); no dropout.
    device : "auto" (CUDA if available), "cpu", "cuda", "cuda:1", ...
    cuda_graph : on CUDA, replay full batches from a captured CUDA graph (ignored on CPU).
    compile_step : compile the training objective with ``torch.compile`` (fewer, fused kernels;
        the first fit compiles). Same model up to floating-point reordering; off by default.
    random_state : int seed of initialisation, shuffling and noise; None draws one from NumPy.
    verbose : show a tqdm progress bar over epochs.

    Fitted attributes: ``net_`` (VGMNet), ``loss_history_`` (DataFrame: epoch, loss, kl,
    bernoulli_nll[, rmse], seconds), ``classes_``, ``class_counts_``, ``n_features_in_``,
    ``device_``, ``seed_``, ``fit_seconds_``.
    """

    #: Bumped when a change alters what a fit learns (beyond rounding): cached models of the class
    #: are refitted (:mod:`idsynth.code_versions`, which records the code its fits run).
    CODE_VERSION = 1

    def __init__(
        self,
        option: str = "C",
        n_features: int = 116,
        n_classes: int = 5,
        latent_dim: int = 25,
        encoder_units: Sequence[int] = (500, 500, 500),
        decoder_units: Sequence[int] = (500, 500),
        label_repeat: int = 40,
        label_units: int = 300,
        continuous_features: int = 32,
        epochs: int = 80,
        batch_size: int = 200,
        learning_rate: float = 1e-3,
        device: str = "auto",
        cuda_graph: bool = True,
        compile_step: bool = False,
        random_state: int | None = 0,
        verbose: bool = True,
    ):
        self.option = option
        self.n_features = n_features
        self.n_classes = n_classes
        self.latent_dim = latent_dim
        self.encoder_units = encoder_units
        self.decoder_units = decoder_units
        self.label_repeat = label_repeat
        self.label_units = label_units
        self.continuous_features = continuous_features
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.device = device
        self.cuda_graph = cuda_graph
        self.compile_step = compile_step
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ construction
    def _check_params(self) -> None:
        if self.option not in OPTIONS:
            raise ValueError(f"option must be one of {OPTIONS}, got {self.option!r}")
        for name in ("n_features", "n_classes", "latent_dim", "label_repeat", "label_units", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("encoder_units", "decoder_units"):
            units = getattr(self, name)
            if isinstance(units, (str, bytes)) or not all(
                isinstance(u, numbers.Integral) and not isinstance(u, bool) and u >= 1 for u in units
            ):
                raise ValueError(f"{name} must be a sequence of positive ints, got {units!r}")
        low = 1 if self.option == "B" else 0
        # continuous_features == n_features: an all-numeric table (no one-hot block).
        if not isinstance(self.continuous_features, numbers.Integral) or not low <= self.continuous_features <= self.n_features:
            raise ValueError(
                f"continuous_features (the leading numeric columns of the encoding) must be an int in "
                f"[{low}, n_features={self.n_features}] for option {self.option}, got {self.continuous_features!r}"
            )
        if not isinstance(self.learning_rate, numbers.Real) or not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}")

    def _network_on(self, device: torch.device | str) -> VGMNet:
        """The untrained network on ``device`` (weights uninitialised; "meta" for shapes only)."""
        with torch.device("meta"):
            net = VGMNet(
                self.option,
                n_features=self.n_features,
                n_classes=self.n_classes,
                latent_dim=self.latent_dim,
                encoder_units=tuple(self.encoder_units),
                decoder_units=tuple(self.decoder_units),
                label_repeat=self.label_repeat,
                label_units=self.label_units,
                continuous_features=self.continuous_features,
            )
        return net if str(device) == "meta" else net.to_empty(device=device)

    def _initialise(self, seed: int, device: torch.device) -> tuple[VGMNet, torch.Generator]:
        """The initial network on ``device`` and the training generator, both from ``seed``.

        Weights are drawn on the CPU (identical on every device); the training generator
        (shuffles and noise) lives on ``device``.
        """
        init_seed, train_seed = (int(s) for s in np.random.SeedSequence(seed).generate_state(2))
        net = glorot_init_(self._network_on("cpu"), torch.Generator().manual_seed(init_seed)).to(device)
        generator = torch.Generator(device=device)
        generator.manual_seed(train_seed)
        return net, generator

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y) -> "VGM":
        """Train on X (n, n_features) float32 in [0, 1] and y (n,) int codes 0..n_classes-1."""
        self._check_params()
        X = check_unit_features(X, self.n_features)
        y = check_label_codes(y, self.n_classes, n_rows=X.shape[0])
        device = resolve_device(self.device)
        seed = check_seed(self.random_state)
        net, generator = self._initialise(seed, device)
        X_dev = torch.as_tensor(X, device=device)
        onehot = F.one_hot(torch.as_tensor(y, device=device), self.n_classes).to(torch.float32)
        start = time.perf_counter()
        history = fit_network(
            net,
            VGMLoss(n_linear=net.activation.n_linear),
            X_dev,
            onehot,
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            learning_rate=float(self.learning_rate),
            generator=generator,
            cuda_graph=bool(self.cuda_graph),
            compile_step=bool(self.compile_step),
            verbose=bool(self.verbose),
            desc=f"VGM-{self.option}",
        )
        self._set_fitted(net, device, history, np.bincount(y, minlength=self.n_classes), X.shape[0], seed)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _set_fitted(self, net, device, history, counts, n_rows: int, seed: int) -> None:
        self.net_ = net.eval()
        self.device_ = torch.device(device)
        self.loss_history_ = pd.DataFrame(history)
        self.classes_ = np.arange(self.n_classes, dtype=np.int64)
        self.class_counts_ = {int(c): int(k) for c, k in zip(self.classes_, counts)}
        self.n_features_in_ = int(self.n_features)
        self.n_train_rows_ = int(n_rows)
        self.seed_ = int(seed)

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise RuntimeError("this VGM is not fitted yet: call fit(X, y) or VGM.load(path) first")

    # ------------------------------------------------------------------ generation
    def _run_chunks(
        self, step: Callable[[torch.Tensor | None, torch.Tensor, torch.Tensor], torch.Tensor],
        y: np.ndarray, X: np.ndarray | None, random_state, clip: bool,
    ) -> np.ndarray:
        """Apply ``step(x, onehot, eps)`` chunk by chunk; eps ~ N(0, I) from a seeded generator."""
        device = self.device_
        generator = torch.Generator(device=device)
        generator.manual_seed(check_seed(random_state))
        host = ChunkedHostCopy(np.empty((y.shape[0], self.n_features), dtype=np.float32),
                               min(SAMPLE_CHUNK_ROWS, max(1, y.shape[0])), device)
        labels = torch.as_tensor(y, device=device)
        with torch.inference_mode():
            for start in range(0, y.shape[0], SAMPLE_CHUNK_ROWS):
                stop = min(start + SAMPLE_CHUNK_ROWS, y.shape[0])
                onehot = F.one_hot(labels[start:stop], self.n_classes).to(torch.float32)
                eps = torch.randn(stop - start, self.latent_dim, generator=generator, device=device)
                x = None if X is None else torch.as_tensor(X[start:stop], device=device)
                rows = step(x, onehot, eps)
                if clip:
                    rows = rows.clamp_(0.0, 1.0)
                host.put(start, rows)
        return host.finish()

    def generate(self, y, random_state: int | None = None, clip: bool = False) -> np.ndarray:
        """Synthetic rows (n, n_features) float32 for the labels ``y`` (n,), from labels alone.

        Option C: decoder(z ~ N(0, I), label). Options A/B: z ~ q(z | label) from the encoder
        (whose input is the label), then the decoder. Values lie in (0, 1) except Option B's
        linear continuous block, which may leave [0, 1] unless ``clip=True``.
        """
        self._check_fitted()
        y = check_label_codes(y, self.n_classes)
        return self._run_chunks(lambda x, onehot, eps: self.net_.generate(onehot, eps), y, None, random_state, clip)

    def sample(
        self, n_per_class: Mapping[Any, int], random_state: int | None = None, clip: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """``{class code: count}`` -> (X (n, n_features) float32, y (n,) int64), grouped by class."""
        self._check_fitted()
        y = labels_from_counts(n_per_class, self.classes_).astype(np.int64)
        return self.generate(y, random_state=random_state, clip=clip), y

    def reconstruct(self, X, y, random_state: int | None = None, clip: bool = False) -> np.ndarray:
        """The whole model's forward pass on original rows: (n, n_features) float32, row i paired with X[i].

        Option C: z ~ q(z | X[i]) (reparameterised with seeded noise), decoder(z, y[i]).
        Options A/B: their encoder sees only the label, so ``X`` does not enter the result
        (it is validated for shape); the output equals ``generate(y, random_state)``.
        """
        self._check_fitted()
        X = check_unit_features(X, self.n_features)
        y = check_label_codes(y, self.n_classes, n_rows=X.shape[0])
        return self._run_chunks(lambda x, onehot, eps: self.net_.reconstruct(x, onehot, eps), y, X, random_state, clip)

    # ------------------------------------------------------------------ description
    def describe(self) -> pd.DataFrame:
        """One row of Table 7 read from the (fitted, else freshly built) network's modules."""
        self._check_params()
        net = self.net_ if hasattr(self, "net_") else self._network_on("meta")
        config = network_configuration(net, n_continuous=self.continuous_features)
        row = {"option": self.option, **config, "batch_size": self.batch_size, "epochs": self.epochs}
        order = [
            "option", "input", "output", "latent_dim", "last_encoder_activation", "last_decoder_activation",
            "hidden_activation", "batch_size", "epochs", "dropout", "nodes_per_layer", "n_parameters",
        ]  # fmt: skip
        return pd.DataFrame([row])[order]

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """One file (``torch.save`` of a dict): parameters, weights, loss history, fitted facts."""
        self._check_fitted()
        params = self.get_params()
        params["encoder_units"] = list(params["encoder_units"])
        params["decoder_units"] = list(params["decoder_units"])
        payload = {
            "format": FILE_FORMAT,
            "params": params,
            "state_dict": {k: v.detach().cpu() for k, v in self.net_.state_dict().items()},
            "loss_history": self.loss_history_.to_dict(orient="list"),
            "class_counts": [self.class_counts_[int(c)] for c in self.classes_],
            "n_train_rows": self.n_train_rows_,
            "seed": self.seed_,
            "fit_seconds": float(getattr(self, "fit_seconds_", float("nan"))),
            "trained_on": str(self.device_),
        }
        with open(path, "wb") as handle:
            torch.save(payload, handle)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto") -> "VGM":
        """A fitted VGM from ``save``'s file, on ``device`` (stored ``device`` parameter replaced).

        On the device it was saved from, the loaded model samples exactly as the saved one.
        """
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
            raise ValueError(f"{path} is not a VGM file (expected format {FILE_FORMAT!r})")
        params = dict(payload["params"], device=device)
        params["encoder_units"] = tuple(params["encoder_units"])
        params["decoder_units"] = tuple(params["decoder_units"])
        model = cls(**params)
        model._check_params()
        resolved = resolve_device(device)
        net = model._network_on("cpu")
        net.load_state_dict(payload["state_dict"])
        history = [dict(zip(payload["loss_history"], values)) for values in zip(*payload["loss_history"].values())]
        model._set_fitted(
            net.to(resolved), resolved, history, payload["class_counts"], payload["n_train_rows"], payload["seed"]
        )
        model.fit_seconds_ = payload["fit_seconds"]
        return model
