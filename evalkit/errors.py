"""Errors evalkit raises for a user's mistake, carrying where the problem is.

The CLI turns a :class:`UserError` into one readable message and exit code 2, never a
traceback. Data errors name the file, sheet, row, column and value (papermill's
``PapermillExecutionError`` is the model: structured fields, a readable ``str``).
"""

from __future__ import annotations

__all__ = ["UserError", "DataError"]


class UserError(Exception):
    """A mistake the user can fix (a missing file, a bad option); exit code 2 in the CLI."""

    exit_code = 2


class DataError(UserError):
    """A problem in the user's data, located as precisely as known."""

    def __init__(self, message: str, *, file=None, sheet=None, row=None, column=None, value=None, rule=None):
        self.file, self.sheet, self.row, self.column, self.value, self.rule = file, sheet, row, column, value, rule
        where = ", ".join(f"{k} {v!r}" if k in ("column", "value") else f"{k} {v}"
                          for k, v in (("file", file), ("sheet", sheet), ("row", row), ("column", column),
                                       ("value", value)) if v is not None)
        super().__init__(f"{message} ({where})" if where else message)
