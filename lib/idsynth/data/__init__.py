"""Data layer: discovery and checksums (``sources``), loaders (``nslkdd``, ``cicids2017``),
the shared column ``schema`` and the ``encoding`` (TabularEncoder)."""

from .errors import ChecksumError, DataError, DataFormatError, DataNotFoundError, UnknownLabelError

__all__ = ["ChecksumError", "DataError", "DataFormatError", "DataNotFoundError", "UnknownLabelError"]
