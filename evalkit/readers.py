"""Read one sheet of a raw export (a workbook sheet or a CSV/TXT file) into a :class:`RawSheet`.

A :class:`RawSheet` keeps the raw cells as the organisation typed them (text, Excel date
cells, numbers), names its columns by the header texts and indexes its rows by the line
number a spreadsheet or a text editor shows, so that every later message can point at
the exact cell. Nothing is cleaned here: the normalisers (:mod:`evalkit.normalise`)
decide what a value means.

Workbooks (.xlsx, .xlsm, .xlsb, .xls, .ods) are read with python-calamine. Text files are
decoded (UTF-8 with or without BOM, or cp1251 when the text looks Russian), their
delimiter is detected among ``;``, ``,``, tab and ``|`` when not given, and every value is
read as text. A user's data problem (a missing file, an unknown sheet, a header beyond
the end of the file, duplicate or missing header names, an undecodable file) raises
:class:`~evalkit.errors.DataError` with a Russian/English message naming the place.

Line numbers
------------
``to_python(skip_empty_area=False)`` returns the sheet from cell A1, so its row *i* is
line *i + 1* even when the sheet starts with empty rows or columns; calamine's default
(``skip_empty_area=True``) drops leading empty rows *and* columns and would shift both
line numbers and column letters. In text files a record may span several lines (a quoted
field with a newline); its line is the line where it starts. Record starts are found
with a vectorised scan of quote parity; a file where that disagrees with the parser (a
stray quote inside an unquoted field) is re-scanned with :mod:`csv`.

Cell types
----------
calamine returns a date cell at midnight as ``datetime.date`` but one with a time as
``datetime.datetime``; both are given as ``datetime.datetime``. Number cells are floats
(``17`` reads as ``17.0``; the normalisers decide). Time-of-day and duration cells (and
a date cell holding serial 0, which calamine reports as ``time(0, 0)``) become text. A
formula without a cached value reads as empty.

Text files read with ``arrow=True`` (as cleaning reads them) are parsed by pyarrow's CSV
reader into Arrow string columns, with no Python object per cell; a file whose quoting
is not plain, or that pyarrow does not split into the records the line scan expects
(a short row, an empty header line), is parsed by pandas as above and then converted,
so both ways give the same cells (a property test checks it).

Blank lines between the header and the last record are skipped and listed in
:attr:`RawSheet.blank_lines`; blank lines after the last record are dropped silently
(spreadsheets often keep formatted empty rows at the end).

Speed (the 2-core reference machine, best of 3; synthetic register from ``evalkit synth
--families 41000 --orgs 2 --truth-mc 0``, where organisation A is written as CSV because it
is big, and ``--families 3000`` for an xlsx workbook):

=================================================================  =========
what                                                               seconds
=================================================================  =========
org_b/ЕФО.csv: cp1251, ``;``, 36 MB, 510,832 rows (the largest)     1.0
org_a/Мониторинг.csv: UTF-8 BOM, ``,``, 14.5 MB, 216,040 rows       0.24
org_a/Услуги.csv: UTF-8 BOM, ``,``, 14.5 MB, 195,817 rows           0.20
org_a_выгрузка.xlsx (3,000 families), all 8 sheets, 47k rows:
  ``read_sheet`` (python-calamine)                                  0.37
  ``pd.read_excel(sheet_name=None, engine="openpyxl")``             4.1
its largest sheet, Мониторинг, 16,314 rows:
  ``read_sheet`` (python-calamine)                                  0.11
  ``pd.read_excel(engine="openpyxl")``                              2.0
=================================================================  =========

Examples
--------
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "cases.csv"
>>> _ = p.write_bytes("Код;Дата\\r\\n1;12.03.2020\\r\\n".encode("cp1251"))
>>> raw = read_sheet(p)
>>> raw.encoding, raw.delimiter, list(raw.frame.columns), list(raw.frame.index)
('cp1251', ';', ['Код', 'Дата'], [2])
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from evalkit.errors import DataError

__all__ = ["RawSheet", "list_sheets", "read_sheet", "detect_encoding", "detect_delimiter",
           "WORKBOOK_SUFFIXES", "DELIMITERS"]

#: the dtype of text columns read with ``arrow=True``
_ARROW_STRING = pd.StringDtype("pyarrow")
#: files read as workbooks (any other file is read as delimited text)
WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"})
#: candidate delimiters of a text file, in order of preference on a tie
DELIMITERS = (";", ",", "\t", "|")
#: how many records after the header the delimiter must split consistently
_DELIMITER_PROBE = 20
#: bytes a file is scanned or transcoded in at a time: the temporaries stay small and are reused,
#: where a temporary the size of the file is fresh memory, faulted in page by page, every time
_CHUNK = 1 << 20
_ZIP_MAGIC, _OLE_MAGIC = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"
_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_C0 = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: a word mixing Cyrillic and Latin letters: latin-1 text mis-decoded as cp1251 ("cafй")
_MIXED_WORD = re.compile(r"[A-Za-z][А-Яа-яЁё]|[А-Яа-яЁё][A-Za-z]")
_WORD = re.compile(r"[А-Яа-яЁёA-Za-z]+")


@dataclass
class RawSheet:
    """One raw sheet as read: header texts, raw cells, line numbers as a spreadsheet shows them.

    Attributes
    ----------
    path : Path
        The file read.
    sheet : str or None
        The sheet's name; None for a text file.
    header_line : int
        1-based line of the header.
    frame : pandas.DataFrame
        Columns named by the header texts (surrounding spaces stripped), dtype object; values
        are ``str``, ``datetime.datetime``, ``int``, ``float``, ``bool`` or None (empty cells
        and ``""``). A text file read with ``arrow=True`` has ``string[pyarrow]`` columns
        instead (the same texts, NA for None). The index (named ``line``) is the 1-based line
        where each row starts.
    encoding, delimiter : str or None
        Text files only: the encoding and delimiter used (detected or given).
    blank_lines : list of int
        Fully blank lines between the header and the last row, skipped (not records).
    """

    path: Path
    sheet: str | None
    header_line: int
    frame: pd.DataFrame
    encoding: str | None = None
    delimiter: str | None = None
    blank_lines: list[int] = field(default_factory=list)

    @property
    def where(self) -> str:
        """The file (and sheet) as a short readable label."""
        return f"{self.path.name} [{self.sheet}]" if self.sheet is not None else self.path.name


# ----------------------------------------------------------------------------- public

def list_sheets(path) -> list[str]:
    """The sheet names of a workbook, in workbook order; ``[]`` for a text file.

    Raises
    ------
    DataError
        When the file is missing or is not a readable workbook.
    """
    path = _existing(path)
    if not _is_workbook(path):
        return []
    return list(_open_workbook(path).sheet_names)


def read_sheet(path, sheet: str | None = None, header_line: int | None = None,
               encoding: str | None = None, delimiter: str | None = None, *, arrow: bool = False) -> RawSheet:
    """Read one sheet of a workbook, or a delimited text file, as raw cells.

    Parameters
    ----------
    path : str or Path
        A workbook (.xlsx, .xlsm, .xlsb, .xls, .ods) or a delimited text file.
    sheet : str, optional
        The workbook sheet; default the first one. Must be None for a text file.
    header_line : int, optional
        1-based line of the header (default 1); lines above it (titles) are ignored.
    encoding : str, optional
        Text files: the encoding; detected when not given (UTF-8 with BOM, UTF-8, cp1251).
    delimiter : str, optional
        Text files: the delimiter; detected when not given among ``; , tab |``.
    arrow : bool, default False
        Text files: give the columns as Arrow-backed strings (``string[pyarrow]``, missing
        values NA instead of None), parsed by pyarrow's CSV reader when the file's quoting
        is plain (see :func:`_arrow_columns`), by pandas otherwise. The same cells either
        way; much faster and smaller for big files. Workbooks ignore it.

    Returns
    -------
    RawSheet

    Raises
    ------
    DataError
        For a missing or unreadable file, an unknown sheet, a header line beyond the end,
        an empty file, duplicate header names, or an unnamed column holding data.
    """
    path = _existing(path)
    header_line = 1 if header_line is None else header_line
    if isinstance(header_line, bool) or not isinstance(header_line, (int, np.integer)) or header_line < 1:
        raise DataError("строка заголовка должна быть целым числом от 1 / header_line must be a whole "
                        "number from 1", file=str(path), value=header_line, rule="header_line")
    header_line = int(header_line)
    if _is_workbook(path):
        return _read_workbook(path, sheet, header_line)
    if sheet is not None:
        raise DataError("в текстовом файле нет листов; уберите sheet из evalkit.yaml / a text file has no "
                        "sheets; remove sheet: from evalkit.yaml", file=str(path), sheet=sheet, rule="sheet")
    return _read_text(path, header_line, encoding, delimiter, arrow)


def detect_encoding(data: bytes, path=None) -> str:
    """The encoding of a text file's bytes: ``utf-8-sig``, ``utf-8`` or ``cp1251``.

    UTF-8 with a BOM first; else bytes that decode as strict UTF-8; else cp1251 when the
    decoded text looks Russian (Cyrillic letters, words not mixing Cyrillic and Latin
    letters, no control characters but tab/CR/LF).

    Raises
    ------
    DataError
        Naming the first byte that is not UTF-8, when no rule applies.
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if _valid_utf8(data):  # without building the text
        return "utf-8"
    try:  # the position of the first bad byte, for the message
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as e:
        bad = e.start
    try:
        text = data.decode("cp1251")
    except UnicodeDecodeError:
        text = None
    if text is not None and _looks_russian(text):
        return "cp1251"
    raise DataError(
        f"не удалось определить кодировку: байт 0x{data[bad]:02X} на позиции {bad} — не UTF-8, а текст "
        f"не похож на русский в cp1251; укажите encoding: в evalkit.yaml / cannot tell the encoding: "
        f"byte 0x{data[bad]:02X} at offset {bad} is not UTF-8 and the text does not look like Russian in "
        f"cp1251; set encoding: in evalkit.yaml",
        file=None if path is None else str(path), rule="encoding")


def detect_delimiter(records: list[str]) -> str:
    """The delimiter among ``; , tab |`` splitting the header record into the most fields.

    ``records`` are the header record and a few following ones (text, quoted newlines
    allowed). A candidate must split the following non-blank records into as many fields
    as the header; among consistent candidates the one with most header fields wins (ties
    in the order of :data:`DELIMITERS`). With no consistent candidate the most header
    fields win; with no candidate splitting the header at all, ``,``.
    """
    head, rest = records[0], [r for r in records[1:] if r.strip()]
    best = None
    for d in DELIMITERS:
        n = _field_count(head, d)
        consistent = all(_field_count(r, d) == n for r in rest)
        key = (n > 1, consistent, n)
        if best is None or key > best[0]:
            best = (key, d)
    return best[1] if best[0][0] else ","


# ----------------------------------------------------------------------------- files

def _existing(path) -> Path:
    path = Path(path)
    if not path.is_file():
        what = "это папка, а не файл / this is a folder, not a file" if path.is_dir() else \
            "файл не найден / file not found"
        raise DataError(what, file=str(path), rule="file")
    return path


def _is_workbook(path: Path) -> bool:
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        return True
    with open(path, "rb") as fh:  # a workbook saved under another name (".csv" that is xlsx)
        return fh.read(4) in (_ZIP_MAGIC, _OLE_MAGIC)


# ----------------------------------------------------------------------------- workbooks

def _open_workbook(path: Path):
    from python_calamine import CalamineWorkbook
    try:
        return CalamineWorkbook.from_path(str(path))
    except Exception as e:  # calamine raises its own zip/xml/password errors
        kind = type(e).__name__
        hint = "файл защищён паролем / the file is password-protected" if "Password" in kind else \
            "файл повреждён или это не книга Excel/ODS / the file is damaged or not an Excel/ODS workbook"
        raise DataError(f"не удалось открыть книгу: {hint} / cannot open the workbook", file=str(path),
                        rule="workbook") from None


def _read_workbook(path: Path, sheet: str | None, header_line: int) -> RawSheet:
    wb = _open_workbook(path)
    names = list(wb.sheet_names)
    if sheet is None:
        if not names:
            raise DataError("в книге нет листов / the workbook has no sheets", file=str(path), rule="sheet")
        sheet = names[0]
    elif sheet not in names:
        listed = ", ".join(repr(n) for n in names)
        raise DataError(f"в книге нет листа {sheet!r}; листы: {listed} / the workbook has no sheet "
                        f"{sheet!r}; its sheets: {listed}", file=str(path), sheet=sheet, rule="sheet")
    rows = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    grid = _cells_to_grid(rows)
    if not grid.size or not _present(grid).any():
        raise DataError("лист пуст / the sheet is empty", file=str(path), sheet=sheet, rule="empty")
    if header_line > grid.shape[0]:
        raise DataError(f"строка заголовка {header_line} за концом листа (в нём {grid.shape[0]} строк) / "
                        f"header line {header_line} is beyond the end of the sheet (it has "
                        f"{grid.shape[0]} lines)", file=str(path), sheet=sheet, row=header_line,
                        rule="header_line")
    lines = np.arange(header_line, grid.shape[0] + 1)
    frame, blank = _frame_from_grid(grid[header_line - 1:], lines, path, sheet, letters=True)
    return RawSheet(path, sheet, header_line, frame, None, None, blank)


def _cells_to_grid(rows: list[list]) -> np.ndarray:
    """calamine's rows as a 2-D object array: "" -> None, dates -> datetime, times -> text."""
    if not rows:
        return np.empty((0, 0), dtype=object)
    width = max(len(r) for r in rows)
    grid = np.empty((len(rows), width), dtype=object)
    if all(len(r) == width for r in rows):
        grid[:, :] = rows
    else:  # pragma: no cover - calamine returns a rectangle; kept for safety
        for i, r in enumerate(rows):
            grid[i, :len(r)] = r
    grid[grid == ""] = None
    types = np.frompyfunc(type, 1, 1)(grid)
    # a date cell at midnight comes back as datetime.date, with a time as datetime.datetime
    _convert(grid, types == datetime.date, lambda d: datetime.datetime(d.year, d.month, d.day))
    # time-of-day and duration cells are not values evalkit reads; keep what Excel shows
    _convert(grid, (types == datetime.time) | (types == datetime.timedelta), str)
    return grid


def _convert(grid: np.ndarray, mask: np.ndarray, fn) -> None:
    """Apply ``fn`` to the distinct values under ``mask`` only, and write them back."""
    if not mask.any():
        return
    codes, uniq = pd.factorize(grid[mask])
    converted = np.empty(len(uniq), dtype=object)
    converted[:] = [fn(u) for u in uniq]  # distinct values only; no pandas boxing to Timestamp
    grid[mask] = converted[codes]


# ----------------------------------------------------------------------------- text files

def _read_text(path: Path, header_line: int, encoding: str | None, delimiter: str | None,
               arrow: bool = False) -> RawSheet:
    utf8, data = _transcoded_file(path, encoding), None
    if utf8 is None:
        utf8, encoding = _utf8_bom_file(path, encoding)
    if utf8 is None:  # the file's bytes, whole: a UTF-8 file is its own text
        data = path.read_bytes()
        if not data or data.isspace():  # what ``not data.strip()`` says, without copying the file
            raise DataError("файл пуст / the file is empty", file=str(path), rule="empty")
        encoding = encoding or detect_encoding(data, path)
        # the text as a Python string is made only for the slow path below
        utf8 = _utf8(data, None, encoding) if _is_utf8(encoding, path) and _valid_utf8(data) else \
            _transcode((data[at:at + _CHUNK] for at in range(0, len(data), _CHUNK)), encoding)
        if utf8 is None:  # the located error of a file that does not decode
            utf8 = _utf8(data, _decode(data, encoding, path), encoding)
    line_starts = _line_starts(utf8)
    n_lines = len(line_starts)
    if header_line > n_lines:
        raise DataError(f"строка заголовка {header_line} за концом файла (в нём {n_lines} строк) / header "
                        f"line {header_line} is beyond the end of the file (it has {n_lines} lines)",
                        file=str(path), row=header_line, rule="header_line")
    rec_lines = _record_lines_fast(utf8, line_starts)
    delimiter = _delimiter_option(delimiter, path) if delimiter else None
    if delimiter is None:
        delimiter = detect_delimiter(_probe_records(utf8, line_starts, rec_lines, header_line))
    grid = None
    if _starts_record(rec_lines, header_line):
        if arrow:
            columns = _arrow_columns(utf8, line_starts, rec_lines, header_line, delimiter)
            if columns is not None:
                frame, blank = _frame_from_arrow(columns, rec_lines[rec_lines >= header_line], path)
                return RawSheet(path, None, header_line, frame, encoding, delimiter, blank)
        grid = _parse(utf8, line_starts, rec_lines, header_line, delimiter, path)
    if grid is None:  # quote parity and the parser disagree (a stray quote): ask csv, slowly
        data = path.read_bytes() if data is None else data
        rec_lines = _record_lines_csv(_decode(data, encoding, path), delimiter)
        if not _starts_record(rec_lines, header_line):
            start = rec_lines[np.searchsorted(rec_lines, header_line, side="right") - 1]
            raise DataError(f"строка заголовка {header_line} внутри поля в кавычках, начатого в строке {start} / "
                            f"header line {header_line} is inside a quoted field that starts on line {start}",
                            file=str(path), row=header_line, rule="header_line")
        grid = _parse(utf8, line_starts, rec_lines, header_line, delimiter, path)
        if grid is None:  # pragma: no cover - csv and pandas agree on record boundaries
            raise DataError("не удалось сопоставить записи со строками файла / cannot line up the records "
                            "with the file's lines", file=str(path), rule="csv")
    lines = rec_lines[rec_lines >= header_line]
    frame, blank = _frame_from_grid(grid, lines, path, None, letters=False)
    if arrow:  # the same cells as Arrow strings, like the pyarrow path gives them
        frame = frame.astype(_ARROW_STRING)
    return RawSheet(path, None, header_line, frame, encoding, delimiter, blank)


def _transcode(chunks, encoding: str) -> bytearray | None:
    """``_decode(data, encoding, path).encode("utf-8")`` of the bytes given in chunks, a chunk at
    a time (no string of the whole file), into one growing buffer (each chunk's bytes freed at
    once: no second copy of the file held in pieces); None when the bytes do not decode, or
    are empty or blank (the file is then read whole, and the error said)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    out, start, blank = bytearray(), True, True
    try:
        for chunk in itertools.chain(chunks, [b""]):
            blank = blank and (chunk.isspace() or not chunk)
            text = decoder.decode(chunk, final=not chunk)
            if start and text:  # a BOM _decode would drop
                text, start = text[1:] if text.startswith("\ufeff") else text, False
            out += text.encode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if blank else out


def _transcoded_file(path: Path, encoding: str | None) -> bytearray | None:
    """The file's text as UTF-8 when ``encoding`` is given, known and not UTF-8, read a chunk at a
    time: the file's bytes are never held whole (for a big file, fresh memory faulted in page by
    page); else, or when it is blank or does not decode, None (the caller reads it whole)."""
    try:
        if encoding is None or codecs.lookup(encoding).name in ("utf-8", "utf-8-sig"):
            return None
    except LookupError:
        return None
    with open(path, "rb") as fh:
        return _transcode(iter(lambda: fh.read(_CHUNK), b""), encoding)


def _utf8_bom_file(path: Path, encoding: str | None) -> tuple[bytes | None, str | None]:
    """(its text, its encoding) of a file starting with a UTF-8 BOM whose encoding is UTF-8 (given,
    or not given: the BOM says "utf-8-sig") and whose bytes are valid UTF-8: the bytes after the
    BOM, read as they are (``_utf8`` of the whole file's bytes would copy them); else (None, encoding),
    and the caller reads the file whole."""
    try:
        if encoding is not None and codecs.lookup(encoding).name not in ("utf-8", "utf-8-sig"):
            return None, encoding
    except LookupError:
        return None, encoding
    with open(path, "rb") as fh:
        if fh.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
            return None, encoding
        body = fh.read()
    return (body, encoding or "utf-8-sig") if _valid_utf8(body) else (None, encoding)


def _utf8(data: bytes, text: str | None, encoding: str) -> bytes:
    """The file as UTF-8 without a BOM (UTF-8 files as they are: no re-encoding, ``text`` unused)."""
    if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig"):
        return data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    return text.encode("utf-8")


def _is_utf8(encoding: str, path: Path) -> bool:
    """Whether the encoding is UTF-8 (with or without BOM); DataError for an unknown encoding."""
    try:
        return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
    except LookupError:
        raise DataError(f"неизвестная кодировка {encoding!r} / unknown encoding {encoding!r}", file=str(path),
                        value=encoding, rule="encoding") from None


def _valid_utf8(data: bytes) -> bool:
    """Whether the bytes are strict UTF-8, as ``data.decode("utf-8")`` would find, without decoding.

    pyarrow's validation of one string spanning the bytes (vectorised, no Python string built)
    refuses what Python's strict codec refuses: invalid and overlong sequences, surrogates,
    code points beyond U+10FFFF (checked in the tests).
    """
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    whole = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        whole.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _decode(data: bytes, encoding: str, path: Path) -> str:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataError(f"неизвестная кодировка {encoding!r} / unknown encoding {encoding!r}", file=str(path),
                        value=encoding, rule="encoding") from None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        raise DataError(f"файл не читается в кодировке {encoding}: байт 0x{data[e.start]:02X} на позиции "
                        f"{e.start} / the file does not decode as {encoding}: byte 0x{data[e.start]:02X} at "
                        f"offset {e.start}", file=str(path), rule="encoding") from None
    return text[1:] if text.startswith("\ufeff") else text


def _looks_russian(text: str) -> bool:
    """Cyrillic letters, no control characters, words not mixing Cyrillic and Latin."""
    if _C0.search(text) or not _CYRILLIC.search(text):
        return False
    sample = text[:1_000_000]
    cyrillic_words = sum(1 for w in _WORD.findall(sample) if _CYRILLIC.search(w))
    return len(_MIXED_WORD.findall(sample)) <= 0.05 * max(cyrillic_words, 1)


def _delimiter_option(delimiter: str, path: Path) -> str:
    d = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ",", "pipe": "|"}.get(delimiter, delimiter)
    if len(d) != 1:
        raise DataError("разделитель должен быть одним символом / the delimiter must be one character",
                        file=str(path), value=delimiter, rule="delimiter")
    return d


def _where_byte(b: np.ndarray, byte: int) -> np.ndarray:
    """``np.flatnonzero(b == byte)``, a chunk at a time."""
    found = [np.flatnonzero(b[at:at + _CHUNK] == byte) + at for at in range(0, len(b), _CHUNK)]
    return np.concatenate(found) if found else np.zeros(0, dtype=np.intp)


def _line_starts(utf8: bytes) -> np.ndarray:
    """Byte offset where each physical line starts (breaks: LF, CRLF, lone CR)."""
    b = np.frombuffer(utf8, dtype=np.uint8)
    lf = _where_byte(b, 10)
    # no lone CR (no CR at all, found by memchr, or as many as the LFs they precede): only LF ends
    # lines, without _breaks' search for CRs and merge
    crs = sum(np.count_nonzero(b[at:at + _CHUNK] == 13) for at in range(0, len(b), _CHUNK)) \
        if b"\r" in utf8 else 0
    breaks = lf if crs == 0 or crs == np.count_nonzero(b[lf[lf > 0] - 1] == 13) else _breaks(b)
    starts = np.concatenate([[0], breaks + 1])
    return starts[starts < len(b)]  # a break at the very end starts no line


def _breaks(b: np.ndarray) -> np.ndarray:
    """Byte positions that end a line: each LF, and each CR not followed by LF."""
    lf = np.flatnonzero(b == 10)
    cr = np.flatnonzero(b == 13)
    if len(cr):
        last = cr + 1 >= len(b)
        cr = cr[last | (b[np.minimum(cr + 1, len(b) - 1)] != 10)]
        if len(cr):  # lone CRs (CRLF files have none: no merge needed)
            return np.sort(np.concatenate([lf, cr]))
    return lf


def _record_lines_fast(utf8: bytes, line_starts: np.ndarray) -> np.ndarray:
    """1-based line where each record starts: line breaks outside quotes end records."""
    n_lines = len(line_starts)
    if b'"' not in utf8:  # memchr: no pass over a numpy copy of the file
        return np.arange(1, n_lines + 1)
    quotes = _where_byte(np.frombuffer(utf8, dtype=np.uint8), 34)
    # a line starts a record when the quotes before it are even in number
    even = (np.searchsorted(quotes, line_starts) % 2) == 0
    return np.flatnonzero(even) + 1


def _starts_record(rec_lines: np.ndarray, line: int) -> bool:
    i = int(np.searchsorted(rec_lines, line))
    return i < len(rec_lines) and int(rec_lines[i]) == line


def _record_lines_csv(text: str, delimiter: str) -> np.ndarray:
    """Record start lines by the csv module (slow path, for files with stray quotes)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    starts, prev = [], 0
    for _ in reader:
        starts.append(prev + 1)
        prev = reader.line_num
    return np.asarray(starts, dtype=np.int64)


def _record_text(utf8: bytes, line_starts: np.ndarray, rec_lines: np.ndarray, i: int) -> str:
    start = line_starts[rec_lines[i] - 1]
    end = line_starts[rec_lines[i + 1] - 1] if i + 1 < len(rec_lines) else len(utf8)
    return utf8[start:end].decode("utf-8").rstrip("\r\n")


def _probe_records(utf8: bytes, line_starts, rec_lines, header_line: int) -> list[str]:
    """The header record and a few after it, as text (for delimiter detection)."""
    first = int(np.searchsorted(rec_lines, header_line))
    last = min(len(rec_lines), first + 1 + _DELIMITER_PROBE)
    return [_record_text(utf8, line_starts, rec_lines, i) for i in range(first, last)]


def _field_count(record: str, delimiter: str) -> int:
    return max((len(r) for r in csv.reader(io.StringIO(record, newline=""), delimiter=delimiter)), default=0)


def _parse(utf8: bytes, line_starts, rec_lines, header_line: int, delimiter: str, path: Path) -> np.ndarray | None:
    """Parse from the header on with pandas; None when the record count disagrees with ``rec_lines``."""
    offset = int(line_starts[header_line - 1])
    expected = int((rec_lines >= header_line).sum())
    try:
        df = pd.read_csv(io.BytesIO(utf8[offset:]), sep=delimiter, header=None, dtype=str, na_filter=False,
                         skip_blank_lines=False, quotechar='"', doublequote=True, encoding="utf-8",
                         engine="c", low_memory=False)
    except pd.errors.ParserError as e:
        raise _parser_error(e, rec_lines[rec_lines >= header_line], path) from None
    if len(df) != expected:
        return None
    grid = df.to_numpy(dtype=object)
    grid[grid == ""] = None
    return grid


def _plain_quotes(b: np.ndarray, delimiter: str) -> bool:
    """Whether every ``"`` sits next to a delimiter, a line break or another ``"``.

    That is how quotes look in well-formed CSV (a quoted field opens after a delimiter or
    a line break and closes before one; a quote inside is doubled). A file with any other
    quote (``5" screen``) is left to pandas, whose reading of stray quotes is the
    reference; pyarrow's might differ.
    """
    quotes = _where_byte(b, 34)
    if not len(quotes):
        return True
    if len(delimiter.encode("utf-8")) != 1:
        return False
    edges = np.array([ord(delimiter), 10, 13, 34], dtype=np.uint8)
    before = np.isin(b[np.maximum(quotes - 1, 0)], edges) | (quotes == 0)
    after = np.isin(b[np.minimum(quotes + 1, len(b) - 1)], edges) | (quotes == len(b) - 1)
    return bool((before | after).all())


def _arrow_columns(utf8: bytes, line_starts, rec_lines, header_line: int, delimiter: str):
    """Parse from the header on with pyarrow: one string array per column (header included).

    ``utf8`` must be valid UTF-8: as :func:`_read_text` makes it, it is, and pyarrow does not
    check it again.

    Returns ``(columns, empty)`` where ``empty`` marks the records that are empty lines
    (pyarrow skips those; pandas reads them as blank rows), or None when pyarrow is not
    sure to read the file as pandas does: stray quotes, a record count that disagrees
    with the scan of line breaks, or a parse error (a short or long row, which pandas
    pads or reports with its line).
    """
    import pyarrow.csv as pv

    b = np.frombuffer(utf8, dtype=np.uint8)
    if b'"' in utf8 and not _plain_quotes(b, delimiter):
        return None
    lines = rec_lines[rec_lines >= header_line]
    first = b[line_starts[lines - 1]]
    empty = (first == 10) | (first == 13)  # a record that is an empty line (it cannot span lines)
    if empty[0]:
        return None  # an empty header line: pandas' path reports it
    offset = int(line_starts[header_line - 1])
    header = _record_text(utf8, line_starts, rec_lines, int(np.searchsorted(rec_lines, header_line)))
    as_text = {f"f{i}": pa.string() for i in range(_field_count(header, delimiter))}  # pyarrow's column names
    # one block, one thread: every column comes as a single chunk (nothing to combine), and on
    # cleaning's 2-core machine (a worker process per core) threads only add CPU time
    block = min(max(len(utf8) - offset + 1, 1 << 20), 1 << 30)
    try:
        table = pv.read_csv(
            pa.BufferReader(memoryview(utf8)[offset:]),
            read_options=pv.ReadOptions(autogenerate_column_names=True, use_threads=False, block_size=block),
            parse_options=pv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                          escape_char=False, newlines_in_values=True, ignore_empty_lines=True),
            # the text is valid UTF-8 already (validated, or encoded by Python) and a field never
            # splits a character (delimiters, quotes and line breaks are ASCII): no second check
            convert_options=pv.ConvertOptions(column_types=as_text, strings_can_be_null=True,
                                              null_values=[""], quoted_strings_can_be_null=True,
                                              check_utf8=False))
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    if table.num_rows != int((~empty).sum()) or any(t != pa.string() for t in table.schema.types):
        return None
    return [_one_chunk(table.column(i)) for i in range(table.num_columns)], empty


def _one_chunk(column: pa.ChunkedArray) -> pa.Array:
    """The column as one array: its only chunk as it is, or the chunks concatenated (copied)."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _parser_error(e: Exception, lines: np.ndarray, path: Path) -> DataError:
    """pandas' tokenizer error as a located DataError (its "line" counts records from the header)."""
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(e))
    if m:
        expected, rec, saw = (int(g) for g in m.groups())
        line = int(lines[rec - 1]) if rec - 1 < len(lines) else None
        return DataError(f"в строке больше полей ({saw}), чем в заголовке ({expected}); лишний разделитель "
                         f"или неверный delimiter / the line has more fields ({saw}) than the header "
                         f"({expected}): a stray delimiter, or the wrong delimiter", file=str(path), row=line,
                         rule="csv")
    return DataError("файл не разбирается как CSV (незакрытая кавычка?) / the file does not parse as CSV "
                     "(an unclosed quote?)", file=str(path), rule="csv")


# ----------------------------------------------------------------------------- header and rows

def _present(grid: np.ndarray) -> np.ndarray:
    """True where a cell holds something other than None/NaN or blank text."""
    present = ~pd.isna(grid)
    if not grid.size:
        return present
    blank_text = np.zeros(grid.shape, dtype=bool)
    for j in range(grid.shape[1]):  # columns, not rows
        col = pd.Series(grid[:, j], dtype=object)
        try:
            blank_text[:, j] = col.str.isspace().to_numpy() == True  # noqa: E712 (NaN for non-text)
        except AttributeError:  # no text in this column at all
            pass
    return present & ~blank_text


def _column_label(j: int, letters: bool) -> str:
    """Column ``j`` (0-based) as a spreadsheet letter with its position: ``C (3)``."""
    n, name = j + 1, ""
    while n:
        n, r = divmod(n - 1, 26)
        name = chr(65 + r) + name
    return f"{name} ({j + 1})" if letters else f"{j + 1} ({name})"


def _header_text(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, datetime.datetime):
        return v.date().isoformat() if v.time() == datetime.time() else v.isoformat(sep=" ")
    return str(v).strip()


def _frame_from_grid(grid: np.ndarray, lines: np.ndarray, path: Path, sheet, letters: bool):
    """Header row + data rows -> (frame indexed by line, blank lines skipped)."""
    names = [_header_text(v) for v in grid[0]]
    data, data_lines = grid[1:], np.asarray(lines[1:], dtype=np.int64)
    keep_cols, rows, blank = _layout(names, _present(data), data_lines, int(lines[0]), path, sheet, letters)
    frame = pd.DataFrame(data[np.ix_(rows, keep_cols)] if len(rows) else np.empty((0, len(keep_cols)), object),
                         columns=[names[j] for j in keep_cols],
                         index=pd.Index(data_lines[rows], name="line"), dtype=object)
    return frame, blank


def _frame_from_arrow(parsed, lines: np.ndarray, path: Path):
    """pyarrow's columns (header row first) -> (frame of Arrow strings indexed by line, blank lines).

    ``parsed`` is what :func:`_arrow_columns` returns; ``lines`` the line of every record
    from the header on, empty lines included.
    """
    columns, empty = parsed
    names = [_header_text(c[0].as_py()) for c in columns]
    data = [c.slice(1) for c in columns]
    data_lines = np.asarray(lines[1:], dtype=np.int64)
    read = np.flatnonzero(~empty[1:])  # the data records pyarrow read (it skips empty lines)
    every_record = len(read) == len(data_lines)  # (no empty line: no row to place)
    present = np.zeros((len(data_lines), len(columns)), dtype=bool, order="F")  # written column by column
    for j, c in enumerate(data):
        present[slice(None) if every_record else read, j] = _arrow_present(c)
    keep_cols, rows, blank = _layout(names, present, data_lines, int(lines[0]), path, None, letters=False)
    every = len(rows) == len(read)  # no blank row dropped: the columns as they are
    arrow_rows = None if every else (np.cumsum(~empty[1:]) - 1)[rows]  # each kept record's row among pyarrow's
    frame = pd.DataFrame(
        {names[j]: pd.arrays.ArrowStringArray(data[j] if every else data[j].take(pa.array(arrow_rows)))
         for j in keep_cols},
        index=pd.Index(data_lines[rows], name="line"))
    return frame, blank


def _arrow_present(column: pa.Array) -> np.ndarray:
    """Like :func:`_present` for one Arrow string column: not null and not blank text."""
    import pyarrow.compute as pc

    blank = pc.fill_null(pc.utf8_is_space(column), True)  # the same whitespace as str.isspace
    return ~np.asarray(blank.to_numpy(zero_copy_only=False), dtype=bool)


def _layout(names: list[str], present: np.ndarray, data_lines: np.ndarray, header_line: int, path: Path, sheet,
            letters: bool):
    """Check the header against the data; return (kept columns, kept rows, blank lines).

    Columns without a header are dropped (an error when they hold data); rows with no
    present cell are dropped, and those before the last record are the blank lines.
    """
    if not any(names):
        raise DataError(f"строка заголовка {header_line} пуста / header line {header_line} is empty",
                        file=str(path), sheet=sheet, row=header_line, rule="header")
    has_data = present.any(axis=0)
    for j, name in enumerate(names):
        if not name and has_data[j]:
            first = int(data_lines[np.argmax(present[:, j])])
            label = _column_label(j, letters)
            raise DataError(f"у столбца {label} нет заголовка в строке {header_line}, но есть данные (первые — в "
                            f"строке {first}); если заголовок в другой строке, укажите header_line в "
                            f"evalkit.yaml / column {label} has no header on line {header_line} but holds data "
                            f"(first on line {first}); if the header is on another line, set header_line in "
                            f"evalkit.yaml", file=str(path), sheet=sheet, row=header_line, column=label,
                            rule="header")
    keep_cols = [j for j, name in enumerate(names) if name]
    _check_duplicates([names[j] for j in keep_cols], keep_cols, path, sheet, header_line, letters)
    row_present = present[:, keep_cols].any(axis=1)
    last = np.flatnonzero(row_present)
    end = last[-1] + 1 if len(last) else 0
    blank = data_lines[:end][~row_present[:end]].tolist()
    return keep_cols, np.flatnonzero(row_present), blank


def _check_duplicates(names: list[str], cols: list[int], path: Path, sheet, header_line: int, letters: bool):
    seen: dict[str, list[int]] = {}
    for name, j in zip(names, cols):
        seen.setdefault(name, []).append(j)
    dups = {n: js for n, js in seen.items() if len(js) > 1}
    if dups:
        listed = "; ".join(f"{n!r}: " + ", ".join(_column_label(j, letters) for j in js) for n, js in dups.items())
        raise DataError(f"повторяющиеся заголовки в строке {header_line}: {listed} / duplicate header names on "
                        f"line {header_line}: {listed}", file=str(path), sheet=sheet, row=header_line,
                        column=next(iter(dups)), rule="header")
