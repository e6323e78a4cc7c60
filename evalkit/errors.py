"""Errors evalkit raises for a user's mistake, carrying where the problem is.

The CLI turns a :class:`UserError` into one readable message and exit code 2, never a
traceback. Data errors name the file, sheet, row, column and value (papermill's
``PapermillExecutionError`` is the model: structured fields, a readable ``str``).
"""

from __future__ import annotations

__all__ = ["UserError", "DataError", "where"]


class UserError(Exception):
    """A mistake the user can fix (a missing file, a bad option); exit code 2 in the CLI."""

    exit_code = 2


class DataError(UserError):
    """A problem in the user's data, located as precisely as known."""

    def __init__(self, message: str, *, file=None, sheet=None, row=None, column=None, value=None, rule=None):
        self.file, self.sheet, self.row, self.column, self.value, self.rule = file, sheet, row, column, value, rule
        super().__init__(f"{message} ({where(file, sheet, row, column, value)})"
                         if any(v is not None for v in (file, sheet, row, column, value)) else message)


def where(file=None, sheet=None, row=None, column=None, value=None) -> str:
    """A bilingual location, e.g. ``файл/file a.xlsx, лист/sheet Дети, строка/row 5, столбец/column 'Пол'``."""
    parts = []
    for ru, en, v in (("файл", "file", file), ("лист", "sheet", sheet), ("строка", "row", row),
                      ("столбец", "column", column), ("значение", "value", value)):
        if v is not None:
            shown = repr(str(v)) if en in ("column", "value") else str(v)
            parts.append(f"{ru}/{en} {shown}")
    return ", ".join(parts)
