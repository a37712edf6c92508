"""Time Table 6's over-samplers and classifiers on KDDTrain+ (a script, not a test).

Usage::

    PYTHONPATH=lib python benchmarks/bench_oversample.py --rows 20000 --n-jobs 2
    PYTHONPATH=lib python benchmarks/bench_oversample.py            # the full 125,973 rows

Part 1 runs every method of :data:`idsynth.experiments.oversampling.OVERSAMPLER_NAMES` on
(a stratified subsample of) KDDTrain+ and reports its wall time and the class counts it
produced; with ``--device cuda`` (or ``auto`` on a GPU machine) the neighbour searches run on the GPU. VGM is included when ``idsynth.models.vgm`` is importable; its time is the
over-sampler's (fitting a VGM Option C with ``--vgm-epochs`` epochs, then sampling).

Part 2 fits each classifier (both MLP backends) on the SMOTE-balanced set and predicts
KDDTest+, reporting fit and predict seconds and accuracy.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from idsynth.config import resolve_device
from idsynth.data.nslkdd import CATEGORIES, load_vgm_arrays
from idsynth.experiments.oversampling import OVERSAMPLER_NAMES, balanced_training_set
from idsynth.metrics.classifiers import CLASSIFIER_NAMES, make_classifier


def _vgm_factory(epochs: int, device: str):
    """Unfitted VGM Option C (fitted inside the over-sampler), or None when VGM is not installed."""
    if importlib.util.find_spec("idsynth.models.vgm") is None:
        return None
    from idsynth.models.vgm import VGM

    def factory(seed):
        return VGM(option="C", epochs=epochs, random_state=seed, device=device, verbose=False)

    return factory


def bench_oversamplers(X, y, methods, n_jobs, seed, vgm_factory, device="cpu") -> tuple[pd.DataFrame, dict]:
    rows, sets = [], {}
    for method in methods:
        if method == "VGM" and vgm_factory is None:
            print("VGM: idsynth.models.vgm not available, skipped")
            continue
        X_bal, y_bal, seconds = balanced_training_set(method, X, y, seed, n_jobs, generator_factory=vgm_factory,
                                                      device=device)
        counts = np.bincount(y_bal, minlength=len(CATEGORIES))
        rows.append({"method": method, "seconds": round(seconds, 2), "rows": len(y_bal),
                     **{c: int(n) for c, n in zip(CATEGORIES, counts)}})  # fmt: skip
        print(rows[-1], flush=True)
        sets[method] = (X_bal, y_bal)
    return pd.DataFrame(rows), sets


def bench_classifiers(X, y, X_test, y_test, n_jobs, seed, device) -> pd.DataFrame:
    rows = []
    configs = [(name, "sklearn") for name in CLASSIFIER_NAMES] + [("MLP", "torch")]
    for name, backend in configs:
        clf = make_classifier(name, random_state=seed, n_jobs=n_jobs, mlp_backend=backend, device=device)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        accuracy = float((clf.predict(X_test) == y_test).mean())
        predict_s = time.perf_counter() - start
        label = name if name != "MLP" else f"MLP ({backend})"
        rows.append({"classifier": label, "fit_s": round(fit_s, 2), "predict_s": round(predict_s, 3),
                     "accuracy": round(accuracy, 4), "epochs": getattr(clf, "n_iter_", None)})  # fmt: skip
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="stratified KDDTrain+ subsample (default: all)")
    parser.add_argument("--test-rows", type=int, default=None, help="stratified KDDTest+ subsample")
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--methods", nargs="*", default=list(OVERSAMPLER_NAMES), choices=OVERSAMPLER_NAMES)
    parser.add_argument("--classifiers", action=argparse.BooleanOptionalAction, default=True,
                        help="part 2: time the classifiers on the SMOTE-balanced set")
    parser.add_argument("--vgm-epochs", type=int, default=80)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)

    data = load_vgm_arrays(args.data_dir, train_rows=args.rows, test_rows=args.test_rows, seed=args.seed)
    print(f"KDDTrain+ rows {len(data.y_train)}, KDDTest+ rows {len(data.y_test)}, "
          f"n_jobs={args.n_jobs}, device={resolve_device(args.device)}")  # fmt: skip
    total = time.perf_counter()
    samplers, sets = bench_oversamplers(
        data.X_train, data.y_train, args.methods, args.n_jobs, args.seed, _vgm_factory(args.vgm_epochs, args.device),
        device=args.device,
    )
    print("\nOver-samplers\n" + samplers.to_string(index=False))
    if args.classifiers and "SMOTE" in sets:
        X_bal, y_bal = sets["SMOTE"]
        classifiers = bench_classifiers(X_bal, y_bal, data.X_test, data.y_test, args.n_jobs, args.seed, args.device)
        print(f"\nClassifiers on the SMOTE-balanced set ({len(y_bal)} rows)\n" + classifiers.to_string(index=False))
    print(f"\ntotal {time.perf_counter() - total:.1f} s")


if __name__ == "__main__":
    main()
