"""scikit-learn's default ``MLPClassifier``, re-implemented in PyTorch so that it runs on a GPU.

The VGM tables train an MLP "with default parameters" on up to ~380k rows, many times
(four options x six scenarios x seeds). scikit-learn's MLP is single-threaded NumPy; this
class keeps the data on the device and reproduces what ``MLPClassifier()`` does:

* architecture: ``hidden_layer_sizes=(100,)`` ReLU layers, then a softmax output (a single
  logistic unit when there are two classes, as scikit-learn does);
* initialisation: Glorot uniform, bound ``sqrt(6 / (fan_in + fan_out))`` for weights *and*
  biases, drawn from ``numpy.random.RandomState(random_state)`` in scikit-learn's order, so the
  initial weights are the same numbers as scikit-learn's for the same integer seed;
* loss per mini-batch: mean cross-entropy ``+ alpha / (2 * n_batch) * sum ||W||^2`` over the
  weight matrices (biases are not penalised);
* optimiser: Adam in scikit-learn's form (``lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t)``,
  ``update = -lr_t * m / (sqrt(v) + eps)``), lr 1e-3, betas (0.9, 0.999), eps 1e-8;
* ``batch_size = min(200, n)``, the rows reshuffled every epoch (on the device, with a seeded
  ``torch.Generator``), the last batch smaller;
* stopping: at most ``max_iter=200`` epochs; the epoch's training loss (the mean of the batch
  losses weighted by batch size, with probabilities clipped to ``[eps, 1 - eps]`` as
  scikit-learn's ``log_loss`` does) counts as "no improvement" when it is above
  ``best_loss - tol`` (``tol=1e-4``); training stops when that happened more than
  ``n_iter_no_change=10`` epochs in a row.

The one difference is where the per-epoch shuffling comes from (a torch generator rather than
scikit-learn's NumPy stream), so the two fit the same model on differently ordered batches:
their accuracies agree within seed noise (tests/test_torch_mlp.py checks this, and that with
``shuffle=False`` the loss curves coincide). Everything runs in float32.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from idsynth.config import resolve_device

_PREDICT_CHUNK = 65536


def glorot_uniform_init(layer_units: list[int], rng: np.random.RandomState) -> tuple[list, list]:
    """scikit-learn's MLP initialisation for ReLU nets, in its draw order.

    ``layer_units`` = [n_features, *hidden, n_outputs]. For each layer, the weight matrix
    (fan_in, fan_out) and then the bias (fan_out,) are drawn from U(-b, b) with
    b = sqrt(6 / (fan_in + fan_out)). Returns (weights, biases) as float64 arrays.
    """
    weights, biases = [], []
    for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append(rng.uniform(-bound, bound, (fan_in, fan_out)))
        biases.append(rng.uniform(-bound, bound, fan_out))
    return weights, biases


def mlp_logits(x: torch.Tensor, weights: list[torch.Tensor], biases: list[torch.Tensor]) -> torch.Tensor:
    """ReLU hidden layers, linear last layer: (n, d) -> (n, n_outputs) logits."""
    h = x
    for w, b in zip(weights[:-1], biases[:-1]):
        h = torch.relu(torch.addmm(b, h, w))
    return torch.addmm(biases[-1], h, weights[-1])


def per_sample_log_loss(logits: torch.Tensor, target: torch.Tensor, binary: bool) -> torch.Tensor:
    """Cross-entropy of each row, (n,): logistic for one output column, softmax otherwise."""
    if binary:
        return F.binary_cross_entropy_with_logits(logits[:, 0], target.to(logits.dtype), reduction="none")
    return F.cross_entropy(logits, target, reduction="none")


def l2_penalty(weights: list[torch.Tensor], alpha: float, n_batch: int) -> torch.Tensor:
    """scikit-learn's L2 term for one batch: alpha / (2 n_batch) * sum of squared weights."""
    return (0.5 * alpha / n_batch) * sum((w * w).sum() for w in weights)


class _SklearnAdam:
    """Adam exactly as scikit-learn's ``AdamOptimizer`` writes it (bias correction in the step size)."""

    def __init__(self, params: list[torch.Tensor], lr: float, beta_1: float, beta_2: float, epsilon: float):
        self.params = params
        self.lr, self.beta_1, self.beta_2, self.epsilon = lr, beta_1, beta_2, epsilon
        self.t = 0
        self.ms = [torch.zeros_like(p) for p in params]
        self.vs = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        lr_t = self.lr * math.sqrt(1.0 - self.beta_2**self.t) / (1.0 - self.beta_1**self.t)
        for p, m, v in zip(self.params, self.ms, self.vs):
            g = p.grad
            m.mul_(self.beta_1).add_(g, alpha=1.0 - self.beta_1)
            v.mul_(self.beta_2).addcmul_(g, g, value=1.0 - self.beta_2)
            p.addcdiv_(m, v.sqrt().add_(self.epsilon), value=-lr_t)
            p.grad = None


class TorchMLPClassifier(ClassifierMixin, BaseEstimator):
    """PyTorch twin of ``sklearn.neural_network.MLPClassifier()`` (adam, relu, default settings).

    Parameters mirror scikit-learn's of the same names; ``device`` is ``"auto"`` (CUDA when
    available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...

    ``fit(X, y)``: X (n, d) numeric array, y (n,) class labels (>= 2 classes).
    ``predict_proba(X)`` -> (n, n_classes) float64 rows summing to 1, columns in ``classes_``.

    Fitted attributes: ``classes_``, ``coefs_`` / ``intercepts_`` (float32 NumPy arrays, as in
    scikit-learn), ``loss_curve_`` (per-epoch training loss), ``loss_``, ``best_loss_``,
    ``n_iter_`` (epochs run), ``t_`` (rows seen), ``n_features_in_``, ``n_outputs_``,
    ``out_activation_`` ("logistic" or "softmax"), ``device_`` (the device it trained on).
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str, torch.device],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        alpha: float = 1e-4,
        batch_size="auto",
        learning_rate_init: float = 1e-3,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state=None,
        tol: float = 1e-4,
        verbose: bool = False,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        device="auto",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.device = device

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X, y):
        """Train on X (n, d) and labels y (n,); returns self."""
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float32, reset=True)
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"TorchMLPClassifier needs at least 2 classes in y; got 1 class: {self.classes_.tolist()}"
            )
        hidden = [int(self.hidden_layer_sizes)] if np.isscalar(self.hidden_layer_sizes) else list(self.hidden_layer_sizes)
        if not hidden or min(hidden) <= 0:
            raise ValueError(f"hidden_layer_sizes must be positive integers; got {self.hidden_layer_sizes!r}")

        device = resolve_device(self.device)
        binary = len(self.classes_) == 2
        self.n_outputs_ = 1 if binary else len(self.classes_)
        self.out_activation_ = "logistic" if binary else "softmax"
        layer_units = [X.shape[1], *hidden, self.n_outputs_]

        rng = check_random_state(self.random_state)
        init_w, init_b = glorot_uniform_init(layer_units, rng)
        shuffle_seed = int(rng.randint(np.iinfo(np.int32).max))
        weights = [torch.tensor(w, dtype=torch.float32, device=device, requires_grad=True) for w in init_w]
        biases = [torch.tensor(b, dtype=torch.float32, device=device, requires_grad=True) for b in init_b]

        X_dev = torch.as_tensor(X, device=device)
        y_dev = torch.as_tensor(y_index, dtype=torch.int64, device=device)
        self._train(X_dev, y_dev, weights, biases, binary, shuffle_seed)

        self.coefs_ = [w.detach().cpu().numpy() for w in weights]
        self.intercepts_ = [b.detach().cpu().numpy() for b in biases]
        self.n_layers_ = len(layer_units)
        self.device_ = str(device)
        return self

    def _train(self, X, y, weights, biases, binary: bool, shuffle_seed: int) -> None:
        n = X.shape[0]
        batch_size = min(200, n) if self.batch_size == "auto" else int(np.clip(self.batch_size, 1, n))
        optimizer = _SklearnAdam(weights + biases, self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)
        generator = torch.Generator(device=X.device).manual_seed(shuffle_seed)
        eps = float(np.finfo(np.float32).eps)
        clip_lo, clip_hi = -math.log1p(-eps), -math.log(eps)

        self.loss_curve_ = []
        self.best_loss_ = np.inf
        self.t_ = 0
        self.n_iter_ = 0
        no_improvement = 0
        order = torch.arange(n, device=X.device)
        for _ in tqdm(range(self.max_iter), desc="TorchMLP", disable=not self.verbose, leave=False):
            if self.shuffle:
                order = torch.randperm(n, generator=generator, device=X.device)
            epoch_loss = torch.zeros((), dtype=torch.float64, device=X.device)
            for batch in order.split(batch_size):
                xb, yb = X[batch], y[batch]
                nll = per_sample_log_loss(mlp_logits(xb, weights, biases), yb, binary)
                penalty = l2_penalty(weights, self.alpha, len(batch))
                (nll.mean() + penalty).backward()
                optimizer.step()
                with torch.no_grad():  # the loss scikit-learn reports: probabilities clipped
                    reported = nll.detach().clamp(clip_lo, clip_hi).sum() + penalty.detach() * len(batch)
                    epoch_loss += reported
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = float(epoch_loss.item()) / n
            self.loss_curve_.append(self.loss_)
            no_improvement = no_improvement + 1 if self.loss_ > self.best_loss_ - self.tol else 0
            self.best_loss_ = min(self.best_loss_, self.loss_)
            if no_improvement > self.n_iter_no_change:
                break
        else:
            warnings.warn(
                f"TorchMLPClassifier: maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
            )

    # -- prediction --------------------------------------------------------------------------
    @torch.no_grad()
    def _logits(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        if not X.flags.writeable:  # e.g. a memory-mapped array from joblib; torch warns on those
            X = X.copy()
        device = resolve_device(self.device)
        weights = [torch.as_tensor(w, device=device) for w in self.coefs_]
        biases = [torch.as_tensor(b, device=device) for b in self.intercepts_]
        out = [
            mlp_logits(torch.as_tensor(X[i : i + _PREDICT_CHUNK], device=device), weights, biases).cpu()
            for i in range(0, X.shape[0], _PREDICT_CHUNK)
        ]
        return torch.cat(out).double().numpy() if out else np.empty((0, self.n_outputs_))

    def predict_proba(self, X) -> np.ndarray:
        """(n, n_classes) class probabilities, columns in ``classes_`` order."""
        logits = torch.from_numpy(self._logits(X))
        if self.n_outputs_ == 1:
            p = torch.sigmoid(logits[:, 0])
            return torch.stack([1.0 - p, p], dim=1).numpy()
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        """(n,) predicted labels from ``classes_``."""
        logits = self._logits(X)
        index = (logits[:, 0] > 0).astype(int) if self.n_outputs_ == 1 else logits.argmax(axis=1)
        return self.classes_[index]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags
