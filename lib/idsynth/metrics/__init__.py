"""Metrics for synthetic data: fidelity, utility (classifier grids, TSTR, MLE), PRDC, detectability,
and :func:`synthetic_check` (are a generator's rows recognised as their class, and do they keep
the rules every real row keeps?)."""

from .synthetic_check import Constraint, SyntheticCheck, SyntheticDataWarning, learn_constraints, synthetic_check

__all__ = ["Constraint", "SyntheticCheck", "SyntheticDataWarning", "learn_constraints", "synthetic_check"]
