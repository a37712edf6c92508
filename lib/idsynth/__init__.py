"""idsynth: synthetic network-intrusion data, reproduced and measured.

Sub-packages: ``data`` (loaders, encoders), ``models`` (generators sharing one protocol),
``metrics`` (fidelity, utility, PRDC, detectability), ``experiments`` (one function per
paper table), plus ``config`` (profiles, seeds, devices) and ``cache`` (artefacts keyed by
configuration).
"""

__version__ = "0.1.0"
