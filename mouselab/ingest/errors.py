"""Errors raised by readers: always name the file, the row (1-based line in the file), the column and
what was expected, so the user can fix the input without a traceback."""

from __future__ import annotations

from pathlib import Path


class IngestError(ValueError):
    """Input that cannot enter the store. ``str(err)`` is one line: file, line, column, expectation."""

    def __init__(self, path: str | Path, message: str, *, line: int | None = None, column: str | None = None):
        self.path, self.line, self.column = str(path), line, column
        where = self.path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")
