"""Generators sharing the protocol of :mod:`idsynth.models.base`."""
