"""Errors raised by the data layer. Each message names the file (and line or column) at fault
and what was expected, so that a user can fix the input without reading our code."""

from __future__ import annotations


class DataError(Exception):
    """Base class of every data-layer error."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A data file is missing: the message lists where we looked and how to obtain it."""


class DataFormatError(DataError, ValueError):
    """A file does not have the expected format (fields, numbers, columns)."""

    def __init__(self, message: str, path=None, line: int | None = None, column: str | None = None):
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.path, self.line, self.column = path, line, column


class UnknownLabelError(DataFormatError):
    """A class label outside the known mapping."""


class ChecksumError(DataError):
    """A file's SHA-256 differs from the published one."""
