"""TabDDPM as a Table I baseline: its generator factory from a profile section and its loss curves."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import pandas as pd

from ..models.tabddpm import TabDDPM

#: The model's name in Table I.
NAME = "TabDDPM"


def tabddpm_params(section: Mapping[str, Any]) -> dict[str, Any]:
    """TabDDPM's parameters: its defaults overridden by the keys of ``section`` (``profile["tabddpm"]``).

    Raises ``ValueError`` for a key that is not a TabDDPM parameter (a typo would otherwise be
    ignored silently) or for ``device`` / ``random_state`` (given by the notebook and the seed).
    """
    known = TabDDPM().get_params()
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise ValueError(f"the tabddpm section has keys {unknown} that are not TabDDPM parameters {sorted(known)}")
    reserved = sorted({"device", "random_state"} & set(section))
    if reserved:
        raise ValueError(f"the tabddpm section must not set {reserved}; they come from the notebook and the seed")
    params = {**known, **section}
    if isinstance(params["d_layers"], list):
        params["d_layers"] = tuple(params["d_layers"])
    return params


def tabddpm_factory(
    section: Mapping[str, Any], device: str = "auto", verbose: bool = False
) -> Callable[[int], TabDDPM]:
    """``seed -> TabDDPM(**section, random_state=seed, device=device)``, unfitted, for
    :func:`idsynth.experiments.table_i.run_generator`."""
    params = tabddpm_params(section)

    def make(seed: int) -> TabDDPM:
        return TabDDPM(**{**params, "random_state": int(seed), "device": device, "verbose": verbose})

    return make


def tabddpm_loss_curves(models: Mapping[tuple[str, int], TabDDPM]) -> pd.DataFrame:
    """Long frame ``dataset, seed, step, term, value`` of fitted models keyed by (dataset, seed);
    terms: ``loss_gauss`` (numeric-feature MSE), ``loss_multi`` (categorical KL) and their sum
    ``loss``. A model without categorical features has ``loss_multi`` = 0 throughout."""
    frames = []
    for (dataset, seed), model in models.items():
        history = model.loss_history_.melt(id_vars="step", var_name="term", value_name="value")
        frames.append(history.assign(dataset=dataset, seed=int(seed)))
    if not frames:
        raise ValueError("tabddpm_loss_curves needs at least one fitted model")
    return pd.concat(frames, ignore_index=True)[["dataset", "seed", "step", "term", "value"]]
