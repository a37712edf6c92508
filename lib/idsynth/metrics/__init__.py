"""Metrics for synthetic data: fidelity, utility (classifier grids, TSTR, MLE), PRDC, detectability."""
