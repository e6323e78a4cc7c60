"""``evalkit clean``: raw exports -> canonical, validated, pseudonymised tables. Nothing lost.

For each source (a folder with its ``evalkit.yaml``) and each mapped table:

1. **read** the sheet or CSV (:mod:`evalkit.readers`), find the mapped columns;
2. **normalise** every field (:mod:`evalkit.normalise`): dates, yes/no, categories,
   numbers, identifiers; every repair beyond the export's usual spelling goes to the
   cleaning log (file, sheet, row, column, raw value, clean value, rule);
3. **quarantine** every raw row that cannot be used, with all its reasons: a value that
   cannot be read, a required value missing, a schema rule broken
   (:mod:`evalkit.schemas`, lazily: all problems at once), a conflicting duplicate, a
   reference to a row that does not exist (cascading: a quarantined child takes its
   contacts along);
4. **merge** exact duplicates (logged) and **pseudonymise** identifiers
   (:mod:`evalkit.pseudonymise`); personal columns are never read at all.

Row conservation holds for every raw sheet: rows read = rows kept + rows merged + rows
quarantined; :func:`clean_sources` checks it and refuses to return otherwise.

Each source is cleaned on its own (:func:`_clean_source`): pseudonyms hash
"source:raw", so two sources never share a key, a duplicate or a reference between
tables. Each source's tables are sorted by their keys; a dataset's table is its sources'
tables one after the other, in the order of the sources' codes (:func:`_joined`), as are
the log and row conservation; the quarantine is sorted by source, file, sheet and row.
The same sources give the same bytes whatever order they are named in.

Speed: when the sources' files add up to more than :data:`PARALLEL_BYTES`, the sources
are cleaned in :data:`WORKERS` worker processes ("forkserver", a source per job, the
largest first; smaller inputs such as the demo are cleaned in this process, the same
way). Text files are read into Arrow strings (pyarrow's CSV reader), identifiers and
codes are kept as Categoricals with sorted categories from normalisation until the tables
are returned (pseudonyms are hashed once per distinct identifier of a source; all
columns of one identifier share one set of categories), so merging duplicates, the
cross-table references and the final sort work on integer codes, not on millions of
Python strings. A worker writes its tables as Arrow IPC files, which this process maps
into memory; the tables a caller reads (``CleanResult.tables``) are converted to
pandas, with the canonical dtypes (text as ``object``), on first use.

A mistake in the mapping or the files (a missing file or sheet, a mapped column absent,
an unreadable encoding, a value spelled in a way the mapping does not list) is a
:class:`~evalkit.errors.UserError`, raised after all such problems of the run have been
collected, so one run lists them all.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import sys
import collections.abc
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evalkit import labels, normalise, schemas
from evalkit.errors import DataError, UserError, where
from evalkit.mapping import ID_FIELDS, VOCAB_FIELDS, Mapping, TableSpec, field_kind, load_mapping
from evalkit.pseudonymise import Pseudonymiser, key_id
from evalkit.readers import read_sheet

__all__ = ["CleanResult", "clean_sources", "LOG_COLUMNS", "QUARANTINE_COLUMNS", "CONSERVATION_COLUMNS"]

log = logging.getLogger("evalkit")

LOG_COLUMNS = ["source", "file", "sheet", "row", "column", "raw_value", "clean_value", "rule"]
QUARANTINE_COLUMNS = ["source", "table", "file", "sheet", "row", "reasons", "raw"]
CONSERVATION_COLUMNS = ["source", "table", "file", "sheet", "read", "kept", "merged", "quarantined"]
#: a raw row's id inside a run: the sheet's number << 32 | the row's line
_SHIFT = 32
_MASK = (1 << _SHIFT) - 1
WITHHELD = "скрыто: персональные данные / withheld: personal data"
#: fields whose raw value is personal data: read, transformed, but never shown in a log,
#: a quarantine or a message (an exact birth date; a staff member's name)
PERSONAL_FIELDS = {"birth_month", "case_manager"}


class _Frames(collections.abc.MutableMapping):
    """The canonical tables as pandas frames, each converted from its Arrow table on first use.

    Cleaning returns Arrow tables (what is written); a caller that reads a table as a
    frame pays for the conversion of that table only, once.
    """

    def __init__(self, tables: dict):
        self._given = dict(tables)
        self._frames: dict[str, pd.DataFrame] = {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._frames:
            t = self._table(name)
            self._frames[name] = t.to_pandas() if isinstance(t, pa.Table) else t
        return self._frames[name]

    def _table(self, name: str):
        """The table given, joined first when it was given as the function that joins it."""
        t = self._given[name]
        if callable(t):
            t = self._given[name] = t()
        return t

    def __setitem__(self, name: str, frame: pd.DataFrame) -> None:
        self._given[name] = frame
        self._frames[name] = frame

    def __delitem__(self, name: str) -> None:
        del self._given[name]
        self._frames.pop(name, None)

    def __iter__(self):
        return iter(self._given)

    def __len__(self) -> int:
        return len(self._given)

    def arrow(self, name: str) -> pa.Table:
        """The table as written: the Arrow table cleaning made, unless the frame was read
        (and so perhaps changed in place), then pyarrow's conversion of the frame."""
        t = self._table(name)
        if isinstance(t, pa.Table) and name not in self._frames:
            return t
        return pa.Table.from_pandas(self[name], preserve_index=False)


class CleanResult:
    """Everything a cleaning produced; :func:`evalkit.dataset.write_dataset` writes it.

    Parameters
    ----------
    tables : dict
        Table name -> the canonical table, as an Arrow table, a pandas DataFrame, or a
        function without arguments that returns the Arrow table (cleaning's join of the
        sources' parts, run when the table is first asked for).
    log : pyarrow.Table, pandas.DataFrame or function
        The cleaning log (:data:`LOG_COLUMNS`), as the tables.
    quarantine, conservation : pandas.DataFrame
        :data:`QUARANTINE_COLUMNS`, :data:`CONSERVATION_COLUMNS`.
    sources : list of dict
        Each source's code, name, folder, mapping checksum and files.
    key_id : str
        Which key made the pseudonyms (:func:`evalkit.pseudonymise.key_id`), not the key.
    ignored_columns : list of dict
        Columns of the exports that the mappings neither use nor declare.

    Attributes ``tables`` (a mapping of frames) and ``log`` convert the Arrow tables to
    pandas on first use; :meth:`arrow` gives what is written without converting.

    Examples
    --------
    >>> from evalkit.clean import clean_sources
    >>> res = clean_sources(["data_raw/demo/org_a", "data_raw/demo/org_b"], bytes(32))  # doctest: +SKIP
    >>> res.summary.loc["children", "read"] == res.summary.loc["children"].iloc[1:].sum()  # doctest: +SKIP
    True
    """

    def __init__(self, tables: dict, log, quarantine: pd.DataFrame, conservation: pd.DataFrame,
                 sources: list[dict], key_id: str, ignored_columns: list[dict] | None = None):
        self.tables = _Frames(tables)
        self._log = log
        self.quarantine = quarantine
        self.conservation = conservation
        self.sources = sources
        self.key_id = key_id
        self.ignored_columns = list(ignored_columns or [])

    def __repr__(self) -> str:
        return (f"CleanResult(sources={[s.get('source') for s in self.sources]}, key_id={self.key_id!r}, "
                f"tables={list(self.tables)}, quarantined={len(self.quarantine)})")

    @property
    def log(self) -> pd.DataFrame:
        """The cleaning log as a frame (converted from Arrow on first use)."""
        table = self._log_arrow()
        if isinstance(table, pa.Table):
            self._log = table.to_pandas()
        return self._log

    def _log_arrow(self):
        if callable(self._log):
            self._log = self._log()
        return self._log

    @log.setter
    def log(self, frame: pd.DataFrame) -> None:
        self._log = frame

    @property
    def summary(self) -> pd.DataFrame:
        """Rows read / kept / merged / quarantined per table, all sources together."""
        return self.conservation.groupby("table", sort=False)[["read", "kept", "merged", "quarantined"]].sum()

    def arrow(self, name: str) -> pa.Table:
        """A table (or ``"cleaning_log"``) as written: ``pa.Table.from_pandas(frame,
        preserve_index=False)``, without the conversion when the frame was never read."""
        if name == "cleaning_log":
            log_ = self._log_arrow()
            return log_ if isinstance(log_, pa.Table) else pa.Table.from_pandas(log_, preserve_index=False)
        if isinstance(self.tables, _Frames):
            return self.tables.arrow(name)
        return pa.Table.from_pandas(self.tables[name], preserve_index=False)


def _coded_arrays(frame: pd.DataFrame, coded: dict, texts: dict | None = None) -> tuple[pa.Schema, list] | None:
    """The schema of ``pa.Table.from_pandas(frame, preserve_index=False)`` and the
    columns, those in ``coded`` (text) as Arrow dictionary arrays of their Categoricals'
    codes (:func:`_decoded` gives the text).

    The schema, with the pandas metadata, is pyarrow's own of a frame of at most one row
    holding each column's first present value (pyarrow's and pandas' inference of a text
    column sees only whether it holds strings); the other columns are converted as
    pyarrow converts them. None when a type disagrees (the caller converts the frame).
    ``texts`` caches the Arrow text of each set of categories between calls (the tables of
    a source share one set per identifier).
    """
    n = len(frame)
    plain = [c for c in frame.columns if c not in coded]
    # one thread: this runs in a worker process beside another (pyarrow's pool of threads per
    # call costs more than it saves here)
    converted = pa.Table.from_pandas(frame[plain], preserve_index=False, nthreads=1) if plain else None
    sample = {}
    for c in frame.columns:
        if c in coded:
            cat = coded[c]
            codes = np.asarray(cat.codes)
            at = np.flatnonzero(codes >= 0)[:1]
            sample[c] = np.array([cat.categories[codes[at[0]]]] if len(at) else [None] * min(n, 1), dtype=object)
        else:
            col = frame[c]
            at = np.flatnonzero(col.notna().to_numpy())[:1]
            sample[c] = col.iloc[at if len(at) else np.arange(min(n, 1))].reset_index(drop=True)
    schema = pa.Schema.from_pandas(pd.DataFrame(sample, columns=frame.columns), preserve_index=False)
    arrays = []
    for f in schema:
        if f.name not in coded:
            arrays.append(converted.column(f.name).combine_chunks())
        elif pa.types.is_null(f.type):
            arrays.append(pa.nulls(n))
        elif pa.types.is_string(f.type):
            cat = coded[f.name]
            codes = np.asarray(cat.codes, dtype=np.int32)
            cached = (texts or {}).get(id(cat.categories))
            if cached is None or cached[0] is not cat.categories:
                cached = cat.categories, pa.array(cat.categories.to_numpy(dtype=object), type=pa.string())
                if texts is not None:  # (the categories are kept with their text: their id is not reused)
                    texts[id(cat.categories)] = cached
            text = cached[1]
            arrays.append(pa.DictionaryArray.from_arrays(pa.array(np.maximum(codes, 0), mask=codes < 0), text))
            continue
        else:  # pragma: no cover - categories of text are strings
            return None
        if arrays[-1].type != f.type:
            return None
    return schema, arrays


def _decoded(array: pa.Array) -> pa.Array:
    """A dictionary array as the plain array of its values (other arrays as they are)."""
    return array.dictionary.take(array.indices) if pa.types.is_dictionary(array.type) else array


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _header_key(text) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().casefold().replace("ё", "е")


class _Problems:
    """User mistakes collected over the whole run, raised together."""

    def __init__(self):
        self.items: list[str] = []

    def add(self, msg: str) -> None:
        self.items.append(msg)

    def raise_if_any(self) -> None:
        if self.items:
            n = len(self.items)
            head = ("исправьте описание источника или файлы и запустите снова / "
                    "fix the mapping or the files and run again")
            raise UserError(f"{n} problem(s) / проблем: {n}; {head}:\n- " + "\n- ".join(self.items))


# ----------------------------------------------------------------------------- one sheet

@dataclass
class _Sheet:
    """One mapped table of one source after normalisation: canonical rows + provenance."""

    source: str
    table: str
    file: str
    sheet: str | None
    lines: np.ndarray           # every data line read (non-blank)
    frame: pd.DataFrame         # canonical columns + _line (then _rid)
    reasons: dict               # line -> [reasons] (rows that cannot be used)
    raw: pd.DataFrame           # the mapped raw columns (for the quarantine), index = line
    log: list
    names: dict = field(default_factory=dict)  # identifier field -> pseudonyms of its categories


def _resolve_columns(spec: TableSpec, frame: pd.DataFrame, path: Path, problems: _Problems) -> dict[str, str]:
    have = {_header_key(c): c for c in frame.columns}
    found = {}
    for fname, fs in spec.fields.items():
        if fs.constant is not None:
            continue
        hit = next((have[_header_key(c)] for c in fs.columns if _header_key(c) in have), None)
        if hit is None:
            problems.add(f"нет столбца / column not found for field `{fname}`: looked for "
                         f"{list(fs.columns)}; the sheet has {list(frame.columns)} "
                         f"({where(path.name, spec.sheet)})")
        else:
            found[fname] = hit
    if spec.wide:
        for col in spec.wide.columns:
            if _header_key(col) not in have:
                problems.add(f"нет столбца / column {col!r} (wide: {spec.wide.name}) not found; the sheet has "
                             f"{list(frame.columns)} ({where(path.name, spec.sheet)})")
            else:
                found[f"__wide__{col}"] = have[_header_key(col)]
    return found


def _spellings(mapping: Mapping, vocab: str, problems: _Problems, ctx: str) -> dict:
    sp = mapping.values.get(vocab)
    if sp is None:
        if vocab == "instrument":
            return {c: [c] for c in labels.codes("instrument")}
        problems.add(f"{mapping.path}: нет написаний / no spellings for vocabulary `{vocab}` "
                     f"(needed by {ctx}); add `values: {vocab}: {{code: [spelling, ...]}}`")
        return {}
    return sp


def _normalise_field(kind: str, fname: str, values: pd.Series, spec: TableSpec, mapping: Mapping,
                     problems: _Problems, ctx: str):
    """Returns (Normalised, usual patterns not to log)."""
    if kind == "id":  # categorical: identifiers repeat (and are copied) millions of times
        return normalise.identifiers(values, as_category=True), {"exact", "number"}
    if kind == "text":
        return normalise.identifiers(values), {"exact", "number"}
    if kind == "date":
        return normalise.dates(values), set(spec.dates)
    if kind == "birth_month":
        return normalise.birth_months(values), set(spec.dates)
    if kind == "number":
        return normalise.numbers(values), set(spec.numbers)
    if kind == "integer":
        return normalise.integers(values), {"cell", "text"}
    if kind == "boolean":
        sp = _spellings(mapping, "yes_no", problems, ctx)
        return normalise.categories(values, sp), {"exact"}
    if kind == "vocab":
        sp = _spellings(mapping, VOCAB_FIELDS[fname], problems, ctx)
        return normalise.categories(values, sp, as_category=True), {"exact"}
    if kind == "level":
        sp = mapping.values.get("level")
        if not sp:
            return normalise.integers(values), {"cell", "text"}
        n = normalise.categories(values, sp)
        # a level written as a digit that is not a listed spelling: read it as a number, so an
        # out-of-range level (0, 5, 7) is quarantined by the schema, not mistaken for a mapping gap;
        # decided per distinct raw value (a row of each gives it), so n stays per distinct value
        codes, how_d, reason_d = n.distinct
        digits = pd.notna(reason_d)
        if digits.any():
            present = codes >= 0
            at = np.zeros(len(how_d), dtype=np.intp)
            at[codes[present]] = np.flatnonzero(present)
            raw = values.iloc[at]
            # only the failed values are looked at (as Python values, Arrow text too)
            failed_values = raw[digits].astype(object).astype(str).str.strip()
            digits[digits] = failed_values.str.fullmatch(r"-?\d+(\.0)?").fillna(False).to_numpy(dtype=bool)
        if digits.any():
            clean_d = n.clean.to_numpy(dtype=object)[at]
            clean_d[digits] = normalise.integers(raw[digits]).clean.astype(object).to_numpy()
            how_d, reason_d = how_d.copy(), reason_d.copy()
            how_d[digits] = "number"
            reason_d[digits] = None
            rows = np.append(digits, False)[codes]  # code -1 (an empty cell): not a digit
            n.clean = pd.Series(np.append(clean_d, None)[codes], index=n.clean.index, name=n.clean.name,
                                dtype=object)
            n.how = pd.Series(np.append(how_d, None)[codes], index=n.how.index, name=n.how.name, dtype=object)
            n.failed = n.failed & ~rows
            n.reason = pd.Series(np.append(reason_d, None)[codes], index=n.reason.index, name=n.reason.name,
                                 dtype=object)
            n.distinct = (codes, how_d, reason_d)
        return n, {"exact"}
    raise AssertionError(kind)


def _clean_dtype(kind: str, clean: pd.Series, codes: np.ndarray | None = None) -> pd.Series:
    """The clean values in the canonical dtype of their kind.

    ``codes``, when given, is per row the index of its distinct raw value (-1 where empty),
    the clean value being the same on all rows of one code (``Normalised.distinct``).
    """
    def by_distinct(inferred: str, dtype: str):
        """``pd.array(clean, dtype)`` converting only the distinct values (a column of millions
        of Python objects holds a few), or None unless every present value is of the one kind
        ``inferred`` names (so no two equal values of different types are taken as one)."""
        values = clean.to_numpy()
        if values.dtype != object:
            return None
        if codes is None:
            row_codes, uniques = pd.factorize(values, use_na_sentinel=True)
        else:  # a row of each code gives its clean value: no hashing of every row's value
            present = codes >= 0
            at = np.zeros(int(codes.max()) + 1 if present.any() else 0, dtype=np.intp)
            at[codes[present]] = np.flatnonzero(present)
            row_codes, uniques = codes, values[at]
        if pd.api.types.infer_dtype(uniques, skipna=True) != inferred:
            return None
        return pd.array(uniques, dtype=dtype).take(row_codes, allow_fill=True)

    if kind == "boolean":
        coded = by_distinct("boolean", "boolean")
        return clean.astype("boolean") if coded is None else pd.Series(coded, index=clean.index, name=clean.name)
    if kind in ("date", "birth_month"):
        return clean if clean.dtype == "datetime64[ns]" else pd.to_datetime(clean).astype("datetime64[ns]")
    if kind == "number":
        return clean.astype("float64")
    if kind in ("integer", "level"):
        if isinstance(clean.dtype, pd.Int64Dtype):  # what integers() gives: already the array wanted
            return clean.array
        coded = by_distinct("integer", "Int64")
        return pd.array(clean.to_numpy(dtype=object), dtype="Int64") if coded is None else coded
    if isinstance(clean.dtype, pd.CategoricalDtype):  # identifiers and codes stay categorical until written
        return clean
    return clean.astype(object).where(clean.notna(), None)


def _constant(value, index: pd.Index) -> pd.Series:
    """One code on every row, as a categorical column (like the normalised codes)."""
    dtype = pd.CategoricalDtype(pd.Index([value], dtype=object))
    return pd.Series(pd.Categorical.from_codes(np.zeros(len(index), dtype=np.int8), dtype=dtype), index=index)


#: the normalisers' reasons, as a methodist reads them
REASON_WORDS = {"no such date": "нет такой даты", "date before": "слишком ранняя дата", "date after": "дата в будущем",
                "not a date": "не дата", "unknown value": "неизвестное значение", "not a number": "не число",
                "not a whole number": "не целое число", "not an identifier": "не код",
                "a date cell, not an identifier": "дата вместо кода",
                "ambiguous day and month": "неясно, где день, где месяц"}


def _in_russian(reason) -> str:
    for en, ru in REASON_WORDS.items():
        if str(reason).startswith(en):
            return f"{ru} / {reason}"
    return str(reason)


def _text(v) -> str | None:
    if isinstance(v, str):  # the common case first
        return v
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return str(v.date()) if v == v.normalize() else str(v)
    if hasattr(v, "year") and not isinstance(v, str):
        return str(pd.Timestamp(v).date()) if pd.Timestamp(v) == pd.Timestamp(v).normalize() else str(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _distinct_texts(values: pd.Series) -> tuple[list, np.ndarray]:
    """The ``_text`` of each distinct value of a column that is not Arrow text, and each
    row's position in that list (a missing value: -1, or a None in the list). Categoricals
    cost one call per category used, date columns at midnight are written by numpy."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):  # the categories these rows use (of maybe millions)
        used, at = np.unique(np.asarray(values.array.codes), return_inverse=True)
        categories = dtype.categories.to_numpy()
        texts = [None if c < 0 else _text(categories[c]) for c in used.tolist()]
    else:
        at, uniques = pd.factorize(values, use_na_sentinel=True)
        if dtype == "datetime64[ns]" and (uniques == uniques.normalize()).all():  # str(Timestamp.date())
            texts = np.datetime_as_string(np.asarray(uniques, dtype="datetime64[D]"), unit="D").tolist()
        else:
            texts = [_text(u) for u in uniques]
    return texts, np.asarray(at, dtype=np.int64).reshape(-1)


def _texts(values: pd.Series) -> np.ndarray:
    """``_text`` of every value, computed once per distinct value (:func:`_distinct_texts`);
    text columns (``str`` or missing) need no call at all."""
    if isinstance(values.dtype, pd.StringDtype):  # the text of a str is itself; NA is None
        return values.to_numpy(dtype=object, na_value=None)
    texts, at = _distinct_texts(values)
    return np.array(texts + [None], dtype=object)[at]  # -1 (missing): the last, None


def _raw_json(block: pd.DataFrame) -> list[str]:
    """Each row's raw cells as a JSON object, blanks left out: ``json.dumps({column: text},
    ensure_ascii=False)``, built column by column (each text escaped by json's C encoder)."""
    from json.encoder import encode_basestring

    pieces = []
    for c in block.columns:
        key = encode_basestring(str(c)) + ": "
        pieces.append([None if t is None else key + encode_basestring(t) for t in _texts(block[c]).tolist()])
    return ["{" + ", ".join([p for p in row if p is not None]) + "}" for row in zip(*pieces)] if pieces \
        else ["{}"] * len(block)


def _arrow_texts(values: pd.Series) -> pa.Array:
    """``pa.array(_texts(values), type=pa.string())``, without a Python string per row:
    the texts of the distinct values, taken for each row by Arrow."""
    if isinstance(values.dtype, pd.StringDtype):  # the text of a str is itself
        arr = pa.array(values.array)
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        return arr.cast(pa.string())
    texts, at = _distinct_texts(values)
    return pa.array(texts, type=pa.string()).take(pa.array(at, mask=at < 0))


def _repeated(value: str | None, n: int) -> pa.Array:
    """A text (or nothing) ``n`` times, as Arrow text."""
    if value is None:
        return pa.nulls(n, pa.string())
    return pa.array([value], type=pa.string()).take(pa.array(np.zeros(n, dtype=np.int32)))


def _log_table(chunks: list[dict]) -> pa.Table:
    """The cleaning log of a source: its chunks (column -> Arrow array or numpy ``row``/``_k``)
    put together and sorted by ``_k`` (sheet, then row; stable), with the schema and pandas
    metadata pyarrow gives the frame of :data:`LOG_COLUMNS` (``pa.Table.from_pandas``):
    text columns with no value at all are Arrow's null type."""
    chunks = [c for c in chunks if len(c["row"])]
    arrays = {}
    for c in LOG_COLUMNS:
        if c == "row":
            arrays[c] = np.concatenate([ch[c] for ch in chunks]).astype(np.int64) if chunks else np.zeros(0, np.int64)
        else:
            arrays[c] = pa.concat_arrays([ch[c] for ch in chunks]) if chunks else pa.nulls(0, pa.string())
    if chunks:
        order = np.argsort(np.concatenate([ch["_k"] for ch in chunks]), kind="stable")
        arrays = {c: (a[order] if c == "row" else a.take(order)) for c, a in arrays.items()}
    n = len(arrays["row"])
    sample = {}
    for c in LOG_COLUMNS:
        if c == "row":
            sample[c] = arrays[c][:1]
        else:
            present = arrays[c].drop_null()
            sample[c] = np.array(present[:1].to_pylist() if len(present) else [None] * min(n, 1), dtype=object)
    schema = pa.Schema.from_pandas(pd.DataFrame(sample, columns=LOG_COLUMNS), preserve_index=False)
    columns = [pa.array(arrays[f.name]) if f.name == "row" else
               (pa.nulls(n) if pa.types.is_null(f.type) else arrays[f.name]) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def _read_table(mapping: Mapping, spec: TableSpec, problems: _Problems, unmatched: dict,
                fingerprints: dict, ignored: list) -> _Sheet | None:
    path = mapping.folder / spec.file
    try:
        raw = read_sheet(path, sheet=spec.sheet, header_line=spec.header_line, encoding=spec.encoding,
                         delimiter=spec.delimiter, arrow=True)
    except DataError as exc:
        problems.add(str(exc))
        return None
    if path not in fingerprints:
        fingerprints[path] = {"file": spec.file, "sha256": _sha256(path), "bytes": path.stat().st_size}
    cols = _resolve_columns(spec, raw.frame, path, problems)
    used = set(cols.values())
    declared = {_header_key(c) for c in spec.personal + spec.ignore}
    for c in raw.frame.columns:
        if c not in used and _header_key(c) not in declared:
            ignored.append({"source": mapping.source, "file": spec.file, "sheet": spec.sheet, "column": c})
    needed = [f for f in spec.fields if spec.fields[f].constant is None]
    if any(f not in cols for f in needed) or (spec.wide and any(f"__wide__{c}" not in cols for c in spec.wide.columns)):
        return None
    df = raw.frame
    lines = df.index.to_numpy()
    out = pd.DataFrame(index=df.index)
    reasons: dict[int, list[str]] = {}
    log_parts = []
    sheet_name = spec.sheet
    ctx = f"{spec.file}{'/' + sheet_name if sheet_name else ''}"

    def one(fname: str, column: str, values: pd.Series, kind: str) -> pd.Series:
        n, usual = _normalise_field(kind, fname, values, spec, mapping, problems, ctx)
        failed = np.asarray(n.failed, dtype=bool)
        if failed.any():  # the failed rows' reasons (from the distinct values': no per-row Series made)
            failed_reasons = n.reason[failed].to_numpy() if n.distinct is None else \
                np.append(n.distinct[2], None)[n.distinct[0][failed]]
        if kind in ("boolean", "vocab", "level") and failed.any():
            bad = values[failed].astype(object)  # Python values (Arrow text too), as the messages show them
            unknown = failed_reasons == "unknown value"
            if unknown.any():
                key = (str(path), sheet_name, column, VOCAB_FIELDS.get(fname, "yes_no" if kind == "boolean" else "level"))
                counts = bad[unknown].astype(str).value_counts()
                first = {v: int(bad.index[(bad.astype(str) == v).to_numpy()][0]) for v in counts.index[:10]}
                unmatched.setdefault(key, []).append((counts, first))
        if failed.any():  # (selecting no rows of a long column is not free)
            for line, r, v in zip(values.index[failed], failed_reasons, values[failed]):
                shown = WITHHELD if fname in PERSONAL_FIELDS else repr(_text(v))
                reasons.setdefault(int(line), []).append(f"«{column}»: {_in_russian(r)} ({shown})")
        if n.distinct is not None:  # what to log decided per distinct raw value, then spread to the rows
            codes, how_d, reason_d = n.distinct
            logged_d = pd.notna(how_d) & ~pd.notna(reason_d)
            for pattern in usual:  # (numpy on the distinct values: no Series per column)
                logged_d &= how_d != pattern
            logged = np.append(logged_d, False)[codes]  # code -1 (an empty cell): not logged
        else:
            how = n.how
            logged = how.notna().to_numpy() & ~how.isin(list(usual)).to_numpy() & ~failed
        if logged.any():  # built as Arrow: texts per distinct value, no Python string per row
            raw_v = values[logged]
            m = len(raw_v)
            if n.distinct is not None:  # a rule text per logged distinct value (the others are never taken)
                rule_d = np.full(len(how_d) + 1, None, dtype=object)
                rule_d[np.flatnonzero(logged_d)] = [f"{fname}:{h}" for h in how_d[logged_d]]
                rules = pa.array(rule_d, type=pa.string()).take(pa.array(codes[logged]))
            else:
                rules = pa.array((f"{fname}:" + how[logged].astype(str)).to_numpy(), type=pa.string())
            log_parts.append({
                "row": values.index[logged].to_numpy(), "column": _repeated(column, m),
                "raw_value": _repeated(WITHHELD, m) if fname in PERSONAL_FIELDS else _arrow_texts(raw_v),
                "clean_value": _repeated(WITHHELD, m) if fname in PERSONAL_FIELDS and kind == "id"
                else _arrow_texts(n.clean[logged]),
                "rule": rules})
        return _clean_dtype(kind, n.clean, None if n.distinct is None else n.distinct[0])

    for fname, fs in spec.fields.items():
        kind = field_kind(fname)
        if fs.constant is not None:
            const = fs.constant
            if kind == "vocab" and const not in labels.codes(VOCAB_FIELDS[fname]):
                problems.add(f"{mapping.path}: tables.{spec.table}.fields.{fname}: constant {const!r} is not a code "
                             f"of {VOCAB_FIELDS[fname]}: {labels.codes(VOCAB_FIELDS[fname])}")
            out[fname] = _constant(const, df.index) if kind == "vocab" else \
                pd.Series(const, index=df.index, dtype=object)
            continue
        out[fname] = one(fname, cols[fname], df[cols[fname]], kind)
    out["org"] = _constant(mapping.source, df.index)
    # required values missing (values present but unreadable are reported above)
    schema_cols = schemas.TABLES[spec.table].to_schema().columns
    wide_fields = {spec.wide.name, spec.wide.value} if spec.wide else set()
    for fname in out.columns:
        if fname in schema_cols and not schema_cols[fname].nullable and fname not in wide_fields:
            col = cols.get(fname, fname)
            empty = out[fname].isna().to_numpy() & df[col].isna().to_numpy() if fname in cols else out[fname].isna().to_numpy()
            for line in df.index[empty]:
                reasons.setdefault(int(line), []).append(f"«{col}»: обязательное значение пусто / required value missing")
    if spec.wide:
        # one part per wide column, stacked: the rows of ``out`` holding a value (or a raw cell) in
        # that column, with the column's code and value; each column of ``out`` is taken once
        # for all parts, not copied per part and concatenated
        vkind = field_kind(spec.wide.value)
        # every part's code column shares one set of categories, so the parts concatenate as categoricals
        wide_codes = pd.CategoricalDtype(pd.Index(sorted(set(spec.wide.columns.values())), dtype=object))
        rows, wide_at, wide_values = [], [], []
        filled = np.zeros(len(df), dtype=bool)
        for col, code in spec.wide.columns.items():
            raw_col = cols[f"__wide__{col}"]
            value = one(spec.wide.value, raw_col, df[raw_col], vkind)
            value = value if isinstance(value, pd.Series) else pd.Series(value, index=df.index)
            keep = value.notna().to_numpy() | df[raw_col].notna().to_numpy()
            rows.append(np.flatnonzero(keep))
            wide_at.append(np.full(len(rows[-1]), wide_codes.categories.get_loc(code), dtype=np.int8))
            wide_values.append(value[keep])
            filled |= keep
        out = out.take(np.concatenate(rows))
        out[spec.wide.name] = pd.Categorical.from_codes(np.concatenate(wide_at), dtype=wide_codes)
        out[spec.wide.value] = pd.concat(wide_values, ignore_index=True).array
        for line in df.index[~filled]:  # a row with no domain filled in at all
            reasons.setdefault(int(line), []).append("нет ни одной оценки / no value in any of the wide columns")
    # canonical columns this source does not record: empty, in the canonical dtype
    template = schemas.empty_table(spec.table)
    for c in template.columns:
        if c not in out.columns:
            out[c] = pd.Series(pd.array([None] * len(out), dtype=template[c].dtype), index=out.index) \
                if str(template[c].dtype) != "object" else pd.Series(None, index=out.index, dtype=object)
    out["_line"] = out.index.astype("int64")
    out.index = pd.RangeIndex(len(out))  # what reset_index(drop=True) gives, without copying every column
    personal = {_header_key(c) for c in spec.personal}
    birth_cols = {cols[f] for f in spec.fields if f in cols and f in PERSONAL_FIELDS}
    raw_cols = [c for c in dict.fromkeys(cols.values()) if _header_key(c) not in personal]
    raw_keep = df[raw_cols].copy()
    for c in birth_cols:
        if isinstance(raw_keep[c].dtype, pd.StringDtype):  # Arrow text: missing is NA, not None
            raw_keep[c] = np.where(raw_keep[c].isna().to_numpy(), None, WITHHELD).astype(object)
        else:
            raw_keep[c] = raw_keep[c].map(lambda v: None if v is None else WITHHELD)
    for part in log_parts:
        m = len(part["row"])
        part.update(source=_repeated(mapping.source, m), file=_repeated(spec.file, m), sheet=_repeated(sheet_name, m))
    return _Sheet(mapping.source, spec.table, spec.file, sheet_name, lines, out, reasons, raw_keep, log_parts)


# ----------------------------------------------------------------------------- the run

def _raise_unmatched(unmatched: dict, problems: _Problems) -> None:
    for (path, sheet, column, vocab), parts in unmatched.items():
        counts = pd.concat([c for c, _ in parts]).groupby(level=0).sum().sort_values(ascending=False)
        first = {}
        for _, f in parts:
            first.update(f)
        shown = ", ".join(f"{v!r} ({n} rows, first row {first.get(v, '?')})" for v, n in counts.head(10).items())
        more = f" and {len(counts) - 10} more" if len(counts) > 10 else ""
        problems.add(f"значения, которых нет в evalkit.yaml / values not listed in evalkit.yaml under "
                     f"`values: {vocab}`: {shown}{more} ({where(Path(path).name, sheet, column=column)}); "
                     f"add each to the code it means")


#: the sources' files must add up to this many bytes before tables are read in worker
#: processes (smaller inputs, the demo and the tests, are read in this process)
PARALLEL_BYTES = 64 << 20
#: worker processes for reading and normalising (the reference machine has 2 cores);
#: ``$EVALKIT_CLEAN_WORKERS`` overrides it (0 or 1: read in this process)
WORKERS = 2
_FAULT = "EVALKIT_FAULT_CLEAN_SOURCE"  # tests only: the worker given this source (folder name) dies
#: the memory allocators of the worker processes keep the memory a source freed for the
#: next source rather than hand it back to the kernel, which zeroes every page again when
#: it is next touched (a sixth of a worker's time went on that): glibc serves large blocks
#: from its heap and does not trim it, mimalloc (pyarrow's) does not purge. A worker's
#: memory then stays at its peak until the run ends. A variable the user set is kept.
WORKER_ALLOCATOR_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 40),
                        "MIMALLOC_PURGE_DELAY": "-1"}
#: CPU seconds the workers spent on the tables of this process's runs, and the largest
#: peak resident memory (bytes) of a worker (for benchmarks: the workers are not children
#: of this process, so its own resource usage does not include them)
WORKER_CPU = [0.0]
WORKER_PEAK_RSS = [0]


def _read_one(mapping: Mapping, tname: str, pseudonymiser: Pseudonymiser) -> tuple:
    """Read, normalise and pseudonymise one mapped table; what :func:`_read_table` found, as values."""
    problems, unmatched, fingerprints, ignored = _Problems(), {}, {}, []
    sh = _read_table(mapping, mapping.tables[tname], problems, unmatched, fingerprints, ignored)
    if sh is not None:
        _sheet_pseudonyms(sh, pseudonymiser)
    return sh, problems.items, unmatched, fingerprints, ignored


def _sheet_pseudonyms(sh: _Sheet, pseudonymiser: Pseudonymiser) -> None:
    """The pseudonyms of the distinct identifiers of a sheet (its categories), kept on the sheet.

    The hash covers "source:raw"; the identifier columns become Categoricals here, the
    pseudonyms are put in place of the raw codes by :func:`_pseudonymise`.
    """
    for fname, prefix in ID_FIELDS.items():
        if fname in sh.frame:
            raw = _as_categorical(sh.frame[fname])
            sh.frame[fname] = raw
            sh.names[fname] = pseudonymiser.pseudonyms(raw.categories, sh.source, prefix)


@dataclass
class _Part:
    """What cleaning one source gave (:func:`_clean_source`), as a worker sends it back.

    With problems (a mistake in the mapping or the files) nothing was assembled: the run
    stops with a UserError listing every source's problems.
    """

    source: str
    problems: list = field(default_factory=list)
    unmatched: dict = field(default_factory=dict)
    fingerprints: dict = field(default_factory=dict)  # path -> fingerprint, files in the order first read
    ignored: list = field(default_factory=list)
    #: table -> its Arrow table, sorted by the table's keys, or None when no sheet of the
    #: source maps to it; from a worker, the path of an Arrow IPC file until
    #: :func:`_mapped` opens it
    tables: dict = field(default_factory=dict)
    log: pa.Table | str | None = None
    quarantine: pd.DataFrame | None = None
    conservation: pd.DataFrame | None = None
    cpu: float = 0.0       # CPU seconds of a worker process
    peak_rss: int = 0      # peak resident memory of a worker process, bytes


def _clean_source(mapping: Mapping, key: bytes, say=lambda msg: None) -> _Part:
    """Read, normalise, pseudonymise, check and assemble every table of one source.

    A source is cleaned on its own: pseudonyms hash "source:raw", so the keys of two
    sources never meet, nor do their duplicates or their references between tables.
    """
    part = _Part(mapping.source)
    pseudonymiser = Pseudonymiser(key)  # one per source: an identifier met in several tables is hashed once
    sheets = []
    for tname, spec in mapping.tables.items():
        say(f"{mapping.source}: reading {spec.file}{' / ' + spec.sheet if spec.sheet else ''} → {tname}")
        sh, found, unmatched, fingerprints, ignored = _read_one(mapping, tname, pseudonymiser)
        part.problems.extend(found)
        for k, found_parts in unmatched.items():
            part.unmatched.setdefault(k, []).extend(found_parts)
        for p, fp in fingerprints.items():
            part.fingerprints.setdefault(p, fp)
        part.ignored.extend(ignored)
        if sh is not None:
            sheets.append(sh)
    if not part.problems and not part.unmatched:
        _assemble(sheets, part, lambda msg: say(f"{mapping.source}: {msg}"))
    return part


def _clean_in_worker(source: Path, key: bytes, folder: str, die: bool = False) -> _Part:
    """:func:`_clean_source` in a worker process, with the CPU seconds and peak memory it took.

    The tables and the log go back as Arrow IPC files in ``folder`` (:func:`_to_files`),
    which the calling process maps into memory: nothing of their size is pickled,
    copied down a pipe or decoded again.
    """
    import resource
    import time

    # each worker has a core of its own to keep busy: pyarrow's pool of threads would only
    # make the two workers take turns
    pa.set_cpu_count(1)
    # pandera's checks import hypothesis (0.4 s) for strategies that synthesise data, which
    # a worker never does: in a worker process, pandera finds it absent
    sys.modules.setdefault("hypothesis", None)
    cpu = time.process_time()
    if die:
        os._exit(137)  # what the kernel's out-of-memory killer does: no cleanup, no exception
    part = _to_files(_clean_source(load_mapping(source), key), Path(folder))
    part.cpu = time.process_time() - cpu
    part.peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return part


def _to_files(part: _Part, folder: Path) -> _Part:
    """The part with each of its Arrow tables (and its log) written to an IPC file in
    ``folder`` and replaced by the file's path."""
    import errno

    stem = hashlib.sha256(part.source.encode("utf-8")).hexdigest()[:16]  # a source code may hold any character

    def written(name: str, table: pa.Table) -> str:
        path = folder / f"{stem}.{name}.arrow"
        try:
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
        except OSError as e:
            if getattr(e, "errno", None) == errno.ENOSPC or "No space" in str(e):
                raise UserError(f"нет места на диске для временных файлов очистки в {folder} / no space left for "
                                f"cleaning's temporary files in {folder}; free some space or point TMPDIR "
                                "elsewhere") from None
            raise
        return str(path)

    part.tables = {t: (written(t, table) if table is not None else None) for t, table in part.tables.items()}
    if part.log is not None:
        part.log = written("cleaning_log", part.log)
    return part


def _mapped(part: _Part) -> _Part:
    """The part with each IPC file :func:`_to_files` wrote read back as an Arrow table,
    memory-mapped (no copy), and the file removed (the mapping keeps its pages)."""
    def read(path):
        if not isinstance(path, str):
            return path
        with pa.memory_map(path) as source:
            table = pa.ipc.open_file(source).read_all()
        # (Windows cannot remove a mapped file: there it stays in the temporary folder)
        with contextlib.suppress(OSError):
            os.remove(path)
        return table

    part.tables = {t: read(v) for t, v in part.tables.items()}
    part.log = read(part.log)
    return part


def _source_bytes(mapping: Mapping) -> int:
    files = {mapping.folder / spec.file for spec in mapping.tables.values()}
    return sum(f.stat().st_size for f in files if f.is_file())


@contextlib.contextmanager
def _main_not_imported():
    """Start worker processes that do not import the caller's main module.

    A "spawn" or "forkserver" child imports ``__main__`` by its path or module name, which
    re-runs a script written without the ``if __name__ == "__main__":`` idiom; the workers
    need only evalkit, so for the moment processes start the main module shows neither.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: vars(main)[k] for k in ("__file__", "__spec__") if k in vars(main)}
    main.__spec__ = None
    vars(main).pop("__file__", None)
    try:
        yield
    finally:
        vars(main).pop("__spec__", None)
        vars(main).update(saved)


@contextlib.contextmanager
def _worker_environment():
    """:data:`WORKER_ALLOCATOR_ENV` in the environment while worker processes start (the
    allocators read it as a process starts; this process's own allocators have started).

    The workers are forked by multiprocessing's forkserver, which takes the environment
    once, when this process first starts it (here, unless other code started it before).
    """
    added = {k: v for k, v in WORKER_ALLOCATOR_ENV.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


@contextlib.contextmanager
def _interrupt_held():
    """Ctrl-C while the worker processes start is held until they have (then raised).

    A worker interrupted half-started, before the pool knows of it, would be left to
    fail on its own and print multiprocessing's traceback after this process is gone.
    Only the main thread receives signals; elsewhere nothing is held.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, None):
        yield
        return
    held = []
    previous = signal.signal(signal.SIGINT, lambda *args: held.append(args))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if held:
        raise KeyboardInterrupt


def _forget_pool_thread(pool) -> None:
    """Wait for a stopped pool's manager thread, then drop it from those Python wakes at exit.

    Python 3.11 wakes every pool's manager thread at exit by writing to a pipe the thread
    may have closed already, and prints that error's traceback (fixed in 3.12). A thread
    not started is left alone (joining it would raise).
    """
    import concurrent.futures.process as cfp

    thread = getattr(pool, "_executor_manager_thread", None)
    if thread is None or thread.ident is None:
        return
    thread.join(timeout=10)
    if not thread.is_alive():
        getattr(cfp, "_threads_wakeups", {}).pop(thread, None)


def _source_parts(mappings: dict, key: bytes, say) -> list[_Part]:
    """:func:`_clean_source` of every source, in order; in worker processes when big.

    The workers are started with "forkserver" (pyarrow runs threads: no fork of a
    threaded process), a source per job, the largest first (the last job to finish is then
    a small one); each hands its tables back as Arrow IPC files (:func:`_to_files`,
    :func:`_mapped`).
    """
    import multiprocessing

    paths = list(mappings)
    sizes = [_source_bytes(mappings[p]) for p in paths]
    workers = int(os.environ.get("EVALKIT_CLEAN_WORKERS", WORKERS))
    if workers < 2 or len(paths) < 2 or sum(sizes) < PARALLEL_BYTES \
            or multiprocessing.current_process().daemon:  # a daemonic process (a pool's worker) has no children
        return [_clean_source(mappings[p], key, say) for p in paths]
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    import shutil
    import tempfile

    ctx = multiprocessing.get_context("forkserver")
    # nothing preloaded: the forkserver starts as `python -c` in the current folder, where another
    # copy of evalkit could shadow this one; each worker imports evalkit with this process's sys.path
    ctx.set_forkserver_preload([])
    say(f"cleaning {len(paths)} sources in {min(workers, len(paths))} worker processes")
    parts: list = [None] * len(paths)
    futures: dict = {}
    # the workers' tables come back as files here (readable by this user only), mapped into memory
    try:
        folder = tempfile.mkdtemp(prefix="evalkit-clean-")
    except OSError as e:
        raise UserError(f"не удалось создать временную папку / cannot create a temporary folder in "
                        f"{tempfile.gettempdir()} ({e.strerror or e}); point TMPDIR to a writable folder") from None
    pool = ProcessPoolExecutor(max_workers=min(workers, len(paths)), mp_context=ctx)
    try:
        # the workers start as the first jobs are submitted
        with _main_not_imported(), _worker_environment(), _interrupt_held():
            for i in sorted(range(len(paths)), key=lambda i: -sizes[i]):
                futures[pool.submit(_clean_in_worker, paths[i], key, folder,
                                    os.environ.get(_FAULT) == paths[i].name)] = i
        for done, fut in enumerate(as_completed(futures), 1):
            try:
                part = parts[futures[fut]] = _mapped(fut.result())
            except BrokenProcessPool:  # a worker was killed: which source it held is not known
                left = ", ".join(str(p) for p, got in zip(paths, parts) if got is None)
                raise UserError(
                    f"рабочий процесс очистки был остановлен (возможно, не хватило памяти); не очищены: {left}; "
                    "запустите с EVALKIT_CLEAN_WORKERS=1, чтобы очищать в одном процессе / a cleaning worker "
                    f"process was killed (out of memory?); not cleaned: {left}; run with EVALKIT_CLEAN_WORKERS=1 "
                    "to clean in this process") from None
            WORKER_CPU[0] += part.cpu
            WORKER_PEAK_RSS[0] = max(WORKER_PEAK_RSS[0], part.peak_rss)
            say(f"{part.source}: cleaned ({done}/{len(paths)} sources)")
    except BaseException:
        # Ctrl-C (perhaps while the pool was still starting its workers), a killed worker, a bug:
        # stop the workers now rather than after their sources, and do not wait for the pool's
        # threads (joining one not yet started would raise over the real error)
        for fut in futures:
            fut.cancel()
        for proc in list((getattr(pool, "_processes", None) or {}).values()):  # (no public way in 3.11)
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        _forget_pool_thread(pool)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    pool.shutdown(wait=True)
    return parts


def clean_sources(sources: list[Path], key: bytes, progress=None) -> CleanResult:
    """Clean one or more sources into one set of canonical tables (nothing written).

    Parameters
    ----------
    sources : list of path
        Folders, each with its ``evalkit.yaml`` and the files it maps.
    key : bytes
        The pseudonymisation key (:func:`evalkit.pseudonymise.load_key`).
    progress : callable, optional
        Called with a message as work proceeds (default: the ``evalkit`` logger).

    Raises
    ------
    UserError
        Every mistake of every source in the mapping or the files, in one message.
    """
    say = progress or (lambda msg: log.info(msg))
    problems = _Problems()
    mappings = {}
    for s in sources:
        m = load_mapping(Path(s))
        if m.source in {x.source for x in mappings.values()}:
            problems.add(f"{m.path}: source code {m.source!r} is used by two sources; each organisation needs its own")
        mappings[Path(s)] = m
    problems.raise_if_any()
    parts = _source_parts(mappings, key, say)
    unmatched: dict = {}
    src_info = []
    for (s, m), part in zip(mappings.items(), parts):
        problems.items.extend(part.problems)
        for k, found_parts in part.unmatched.items():
            unmatched.setdefault(k, []).extend(found_parts)
        src_info.append({"source": m.source, "name": m.name, "folder": str(Path(s).resolve()),
                         "mapping_sha256": _sha256(m.path), "files": list(part.fingerprints.values())})
    _raise_unmatched(unmatched, problems)
    problems.raise_if_any()
    return _joined(parts, key, src_info)  # each table joined when it is written (or read)


def _joined(parts: list[_Part], key: bytes, src_info: list[dict]) -> CleanResult:
    """One CleanResult of the sources' parts: each table, the log and conservation the
    sources' own, one after the other in the order of their codes; the quarantine
    sorted by source, file, sheet and row.

    Each source's tables are sorted by their keys already, so a table is its parts put
    together as chunks (:func:`_concatenated`), without a copy: what is written, and the
    same whichever order the sources were given in or whether they were cleaned in one run.
    """
    order = sorted(range(len(parts)), key=lambda i: parts[i].source)
    parts, src_info = [parts[i] for i in order], [src_info[i] for i in order]

    def table(tname: str) -> pa.Table:
        have = [p.tables[tname] for p in parts if p.tables.get(tname) is not None]
        if not have:  # no source maps a sheet to it
            return pa.Table.from_pandas(schemas.empty_table(tname), preserve_index=False)
        return _concatenated(have)

    quarantine = [p.quarantine for p in parts]
    if len(parts) > 1:  # one run's quarantine is sorted the same way
        quarantine = [q for q in quarantine if len(q)] or quarantine[:1]
    qdf = pd.concat(quarantine, ignore_index=True) if len(quarantine) > 1 else quarantine[0]
    qdf["row"] = qdf["row"].astype("int64")
    qdf = qdf.sort_values(["source", "file", "sheet", "row"], kind="stable", na_position="first").reset_index(drop=True)
    conservation = pd.concat([p.conservation for p in parts], ignore_index=True)
    return CleanResult(tables={t: functools.partial(table, t) for t in schemas.TABLES},
                       log=functools.partial(_concatenated, [p.log for p in parts]),
                       quarantine=qdf, conservation=conservation, sources=src_info, key_id=key_id(key),
                       ignored_columns=[i for p in parts for i in p.ignored])


def _joined_schema(schemas_: list[pa.Schema]) -> pa.Schema:
    """The schema pyarrow gives the concatenation of the frames these schemas were made
    of (each by :func:`_coded_arrays` or ``pa.Schema.from_pandas``).

    A column's field and pandas metadata depend only on its dtype and whether it holds
    a present value: each comes from the first schema in which its type is not null
    (Arrow's type of a column with nothing in it), else from the first schema.
    """
    if len(schemas_) == 1:
        return schemas_[0]
    first = schemas_[0]
    meta = json.loads(first.metadata[b"pandas"])
    fields = []
    for i, name in enumerate(first.names):
        src = next((s for s in schemas_ if not pa.types.is_null(s.field(name).type)), first)
        fields.append(src.field(name))
        if src is not first:
            meta["columns"][i] = json.loads(src.metadata[b"pandas"])["columns"][i]
    return pa.schema(fields, metadata={b"pandas": json.dumps(meta).encode("utf8")})


def _concatenated(tables: list[pa.Table]) -> pa.Table:
    """Arrow tables one after the other, each a chunk of the result (nothing is copied):
    what ``pa.Table.from_pandas(pd.concat(frames), preserve_index=False)`` gives of the
    frames behind them, schema and pandas metadata included.

    A column with nothing in it in one table (Arrow's null type) takes the type it has
    in the others.
    """
    if len(tables) == 1:
        return tables[0]
    schema = _joined_schema([t.schema for t in tables])
    columns = []
    for j, f in enumerate(schema):
        chunks = [c for t in tables for c in
                  ([pa.nulls(t.num_rows, f.type)] if pa.types.is_null(t.schema.field(j).type) and
                   not pa.types.is_null(f.type) else t.column(j).chunks)]
        columns.append(pa.chunked_array(chunks, type=f.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _sorted_union(arrays: list) -> pd.Index:
    """The distinct strings of several arrays, sorted, as an object Index.

    Sorted with pyarrow: UTF-8 byte order is code point order, so this is the order of
    Python's ``sorted`` (and of pandas' sort of an object column), only much faster.
    """
    if not arrays or not sum(len(a) for a in arrays):
        return pd.Index([], dtype=object)
    values = pa.chunked_array([pa.array(np.asarray(a, dtype=object), type=pa.string()) for a in arrays])
    distinct = pc.unique(values)
    ordered = distinct.take(pc.sort_indices(distinct))
    return pd.Index(ordered.to_numpy(zero_copy_only=False), dtype=object)


def _sorted_union_positions(arrays: list) -> tuple[pd.Index, list[np.ndarray]]:
    """:func:`_sorted_union` of arrays of distinct strings, and where each array's strings
    are in it: one hash pass over all of them in pyarrow, instead of a lookup per array."""
    lengths = [len(a) for a in arrays]
    if not sum(lengths):
        return pd.Index([], dtype=object), [np.zeros(n, dtype=np.intp) for n in lengths]
    values = pa.chunked_array([pa.array(np.asarray(a, dtype=object), type=pa.string()) for a in arrays])
    encoded = pc.dictionary_encode(values.combine_chunks())
    order = pc.sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    union = pd.Index(encoded.dictionary.take(pa.array(order)).to_numpy(zero_copy_only=False), dtype=object)
    positions = rank[encoded.indices.to_numpy()]
    return union, np.split(positions, np.cumsum(lengths)[:-1])


def _as_categorical(column: pd.Series) -> pd.Categorical:
    """A column as a Categorical (an object column of text or None is converted)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.array
    return pd.Categorical(column.to_numpy(dtype=object))


def _recode(cat: pd.Categorical, dtype: pd.CategoricalDtype, where=None) -> pd.Categorical:
    """``cat`` over the categories of ``dtype`` (which hold all of its values).

    ``where``, when given, is the position in ``dtype``'s categories of each of ``cat``'s
    categories (of its pseudonyms, which replace them).
    """
    if where is None and cat.categories.equals(dtype.categories):
        return cat
    if where is None:
        where = dtype.categories.get_indexer(cat.categories)
    codes = np.asarray(cat.codes, dtype=np.int64)
    new = np.where(codes >= 0, where[np.maximum(codes, 0)], -1) if len(where) else np.full(len(codes), -1)
    return pd.Categorical.from_codes(new, dtype=dtype)


class _RawIds:
    """The way back from a pseudonym to the organisation's own code, kept in memory only.

    Per identifier field: its sorted pseudonyms (the shared categories, whose hash table
    pandas builds once when the sheets are recoded) and the raw code of each; only the
    pseudonyms that appear in quarantine messages are ever looked up.
    """

    def __init__(self):
        self._fields: list[tuple[pd.Index, np.ndarray, np.ndarray]] = []

    def add(self, pseudonyms: pd.Index, raws: np.ndarray, known: np.ndarray) -> None:
        self._fields.append((pseudonyms, raws, known))

    def lookup(self, names) -> dict[str, str]:
        """{pseudonym: raw code} for those of ``names`` that are known."""
        names = list(names)
        out: dict[str, str] = {}
        if not names:
            return out
        for pseudonyms, raws, known in self._fields:
            for n, i in zip(names, pseudonyms.get_indexer(names)):
                if i >= 0 and known[i]:
                    out.setdefault(n, raws[i])
        return out


def _pseudonymise(sheets: list[_Sheet]) -> _RawIds:
    """Replace raw identifiers by pseudonyms in every sheet's frame; returns pseudonym -> raw.

    The pseudonyms of each sheet's distinct identifiers (the categories) were computed
    when it was read (:func:`_sheet_pseudonyms`). All columns of one identifier
    (``family_id`` in families, children and cases) share one sorted set of categories,
    so later lookups and sorts work on integer codes.
    """
    raw_ids = _RawIds()
    for fname in ID_FIELDS:
        hashed = []
        for sh in sheets:
            if fname not in sh.frame:
                continue
            raw = _as_categorical(sh.frame[fname])
            hashed.append((sh, raw, sh.names.pop(fname)))
        union, positions = _sorted_union_positions([names for _, _, names in hashed])
        dtype = pd.CategoricalDtype(union)
        raws = np.empty(len(dtype.categories), dtype=object)  # the raw code of each pseudonym
        known = np.zeros(len(dtype.categories), dtype=bool)
        for (sh, raw, names), at in zip(hashed, positions):
            if fname not in PERSONAL_FIELDS:  # the first sheet holding a pseudonym gives its raw code
                new = ~known[at]
                raws[at[new]] = raw.categories.to_numpy(dtype=object)[new]
                known[at] = True
            sh.frame[fname] = _recode(raw, dtype, where=at)
        if fname not in PERSONAL_FIELDS:
            raw_ids.add(dtype.categories, raws, known)
    return raw_ids


def _shared_categories(parts: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """The parts of one table with each categorical column over one shared set of categories.

    pandas concatenates categorical columns only when their categories are equal
    (otherwise it falls back to objects).
    """
    for c in parts[0].columns:
        if not any(isinstance(p[c].dtype, pd.CategoricalDtype) for p in parts):
            continue
        cats = [_as_categorical(p[c]) for p in parts]
        if all(cat.categories.equals(cats[0].categories) for cat in cats):  # equal *and* in the same order
            for p, cat in zip(parts, cats):
                p[c] = pd.Categorical.from_codes(cat.codes, dtype=cats[0].dtype, validate=False)
            continue
        dtype = pd.CategoricalDtype(_sorted_union([cat.categories for cat in cats]))
        for p, cat in zip(parts, cats):
            p[c] = _recode(cat, dtype)
    return parts


def _objects(cat: pd.Categorical) -> np.ndarray:
    """A Categorical as an object array of its values, None where missing (the canonical dtype)."""
    table = np.empty(len(cat.categories) + 1, dtype=object)
    table[:-1] = cat.categories.to_numpy(dtype=object)
    table[-1] = None
    return table[cat.codes]  # code -1 picks the None slot


def _lines_by_sheet(ids: np.ndarray, n_sheets: int) -> list[np.ndarray]:
    """The lines of raw row ids, one array per sheet (a radix sort on the sheet numbers)."""
    ids = np.asarray(ids, dtype=np.int64)
    sheet = ids >> _SHIFT
    order = np.argsort(sheet.astype(np.uint16) if n_sheets < 2 ** 16 else sheet, kind="stable")
    bounds = np.searchsorted(sheet[order], np.arange(n_sheets + 1))
    lines = (ids & _MASK)[order]
    return [lines[bounds[i]:bounds[i + 1]] for i in range(n_sheets)]


def _marked(members: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Which of a sheet's ``lines`` are among ``members`` (lines of the same sheet)."""
    if not len(members) or not len(lines):
        return np.zeros(len(lines), dtype=bool)
    mark = np.zeros(int(max(lines.max(), members.max())) + 1, dtype=bool)
    mark[members] = True
    return mark[lines]


def _member(sorted_ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """values in sorted_ids, by binary search (np.isin re-sorts its second argument every call)."""
    if not len(sorted_ids):
        return np.zeros(len(values), dtype=bool)
    i = np.searchsorted(sorted_ids, values).clip(max=len(sorted_ids) - 1)
    return sorted_ids[i] == values


def _assemble(sheets: list[_Sheet], out: _Part, say=lambda msg: None) -> None:
    """One source's sheets as its canonical tables, log, quarantine and row conservation,
    put in ``out`` (the tables as Arrow, sorted by their keys)."""
    quarantine: dict[int, list[str]] = {}   # raw row id -> reasons
    merged: dict[int, int] = {}              # raw row id -> line of the row it merged into
    logs = []
    frames: dict[str, list[pd.DataFrame]] = {}
    for i, sh in enumerate(sheets):
        base = np.int64(i) << _SHIFT
        for line, rs in sh.reasons.items():
            quarantine.setdefault(int(base | line), []).extend(rs)
        for part in sh.log:  # an integer sort key: sheet, then row (strings sort slowly)
            part["_k"] = base | np.asarray(part["row"], dtype=np.int64)
        logs.extend(sh.log)
        sh.frame["_rid"] = base | sh.frame.pop("_line").to_numpy(dtype="int64")
        frames.setdefault(sh.table, []).append(sh.frame)

    seen: dict[str, int] = {}  # table -> how many quarantined rows it was last filtered against

    def drop_quarantined(df: pd.DataFrame, tname: str | None = None) -> pd.DataFrame:
        """The rows not in quarantine; the same frame (no copy) when none of its rows is.

        With ``tname``, the frame already had the rows quarantined before its last call
        removed, so only those quarantined since are looked for (rows are only ever
        added to the quarantine, in order).
        """
        start = seen.get(tname, 0) if tname is not None else 0
        if tname is not None:
            seen[tname] = len(quarantine)
        if len(quarantine) <= start or df.empty:
            return df
        new = np.fromiter(quarantine, dtype="int64", count=len(quarantine))[start:]
        gone = _member(np.sort(new), df["_rid"].to_numpy())
        return df[~gone] if gone.any() else df

    tables: dict[str, pd.DataFrame] = {}
    say("pseudonymising identifiers, merging duplicates")
    # the way back from a pseudonym is kept in memory only, to name rows in quarantine
    # messages by the organisation's own codes
    raw_ids = _pseudonymise(sheets)
    for tname in schemas.TABLES:
        parts = frames.get(tname)
        if not parts:
            tables[tname] = None
            continue
        df = drop_quarantined(_concat(_shared_categories(parts)))
        del parts, frames[tname]  # the sheets' frames are not needed once joined: memory back
        for sh in sheets:
            if sh.table == tname:
                sh.frame = None
        tables[tname] = _dedupe(tname, df, quarantine, merged, logs, sheets)

    # schema rules, lazily, then references across tables until nothing changes
    say("checking the schemas and the references between tables")
    for tname, df in tables.items():
        if df is None:
            continue
        cols = list(schemas.TABLES[tname].to_schema().columns)
        # duplicate keys are merged or quarantined already (_dedupe): pandera need not look for them
        _quarantine_problems(schemas.table_problems(tname, df[cols], check_dtypes=False, check_keys=False), df,
                             quarantine, tname, raw_ids)
    for _ in range(10):
        tables = {t: (drop_quarantined(df, t) if df is not None else None) for t, df in tables.items()}
        # check_dataset reads its columns by name: the frames go in as they are, no copies
        probs = schemas.check_dataset({t: df for t, df in tables.items() if df is not None})
        if probs.empty:
            break
        for tname, p in probs.groupby("table"):
            _quarantine_problems(p, tables[tname], quarantine, tname, raw_ids)
    else:  # pragma: no cover - cascades are at most a few levels deep
        raise RuntimeError("cross-table quarantine did not settle")

    category_texts: dict = {}  # each shared set of categories as Arrow text, made once
    for tname in schemas.TABLES:
        df = tables.get(tname)
        if df is None:
            out.tables[tname] = None
            continue
        template = schemas.empty_table(tname)
        cols = list(template.columns)
        keys = schemas.KEYS.get(tname) or cols
        # sorted while the text columns are categorical (sorted categories: codes sort as the text)
        clean = _sorted(df[cols], keys)
        coded = {}
        for c in cols:
            if str(clean[c].dtype) == "Int64":  # whole numbers are required: plain int64 once gaps are quarantined
                clean[c] = clean[c].astype("int64")
            elif isinstance(clean[c].dtype, pd.CategoricalDtype):
                coded[c] = clean[c].array
        wrong = {c: (str(clean[c].dtype), str(template[c].dtype)) for c in cols
                 if str(template[c].dtype) != ("object" if c in coded else str(clean[c].dtype))}
        if wrong:  # pragma: no cover - the contract's dtypes, cheaply; a failure here is a bug
            raise RuntimeError(f"{tname}: wrong dtypes {wrong}")
        got = _coded_arrays(clean, coded, category_texts)
        if got is None:  # pragma: no cover - categories of text are strings
            table = pa.Table.from_pandas(clean.assign(**{c: _objects(cat) for c, cat in coded.items()}),
                                         preserve_index=False)
            got = table.schema, [c.combine_chunks() for c in table.columns]
        schema, arrays = got
        out.tables[tname] = pa.Table.from_arrays([_decoded(a) for a in arrays], schema=schema)
        del clean, coded

    # the log, the quarantine, and row conservation
    say("writing the cleaning log and the quarantine")
    log_table = _log_table(logs)  # sorted by sheet, then row
    qcols: dict[str, list] = {c: [] for c in QUARANTINE_COLUMNS}
    q_sorted = np.sort(np.fromiter(quarantine, dtype="int64"))
    for i in np.unique(q_sorted >> _SHIFT):
        sh = sheets[int(i)]
        lines = (q_sorted[(q_sorted >> _SHIFT) == i] & _MASK).astype("int64")
        present = lines[np.isin(lines, sh.raw.index.to_numpy())]
        cells = dict(zip(present.tolist(), _raw_json(sh.raw.loc[present]))) if len(present) else {}
        base = int(i) << _SHIFT
        for c, v in (("source", sh.source), ("table", sh.table), ("file", sh.file), ("sheet", sh.sheet)):
            qcols[c].extend([v] * len(lines))
        qcols["row"].extend(lines.tolist())
        qcols["reasons"].extend(["; ".join(dict.fromkeys(quarantine[base | line])) for line in lines.tolist()])
        qcols["raw"].extend([cells.get(line, "{}") for line in lines.tolist()])
    qdf = pd.DataFrame({c: np.array(v, dtype=object) if c != "row" else np.array(v, dtype=np.int64)
                        for c, v in qcols.items()}, columns=QUARANTINE_COLUMNS)
    qdf = qdf.sort_values(["source", "file", "sheet", "row"], kind="stable", na_position="first").reset_index(drop=True)
    # row conservation, per raw sheet: every data line read is kept, merged or quarantined
    kept = _lines_by_sheet(np.concatenate([df["_rid"].to_numpy() for df in tables.values() if df is not None] or
                                          [np.array([], dtype="int64")]), len(sheets))
    q_ids = _lines_by_sheet(np.fromiter(quarantine, dtype="int64"), len(sheets))
    m_ids = _lines_by_sheet(np.fromiter(merged, dtype="int64"), len(sheets))
    cons = []
    for i, sh in enumerate(sheets):
        lines = (np.int64(i) << _SHIFT) | sh.lines.astype("int64")
        q = _marked(q_ids[i], sh.lines)
        k = _marked(kept[i], sh.lines) & ~q
        mg = _marked(m_ids[i], sh.lines) & ~q & ~k
        if (q | k | mg).sum() != len(lines):  # pragma: no cover - an internal invariant
            lost = (lines[~(q | k | mg)] & _MASK)[:10].tolist()
            raise RuntimeError(f"row conservation broken for {sh.file}/{sh.sheet}: lines {lost} vanished")
        cons.append({"source": sh.source, "table": sh.table, "file": sh.file, "sheet": sh.sheet,
                     "read": int(len(lines)), "kept": int(k.sum()), "merged": int(mg.sum()),
                     "quarantined": int(q.sum())})
    out.log = log_table
    out.quarantine = qdf
    out.conservation = pd.DataFrame(cons, columns=CONSERVATION_COLUMNS)


#: the rules of evalkit.schemas, as a methodist reads them (Russian / English)
RULE_WORDS = {
    "child_family_exists": "семья не найдена / family not found",
    "case_family_exists": "семья не найдена / family not found",
    "assessment_child_exists": "ребёнок не найден / child not found",
    "event_child_exists": "ребёнок не найден / child not found",
    "contact_child_exists": "ребёнок не найден / child not found",
    "assessment_case_exists": "случай не найден / case not found",
    "service_case_exists": "случай не найден / case not found",
    "assessment_case_matches_family": "случай другой семьи / the case belongs to another family",
    "event_within_life": "дата вне жизни ребёнка / date outside the child's life",
    "contact_within_life": "дата раньше рождения ребёнка / date before the child's birth",
    "service_within_case": "услуга вне сроков случая / service outside the case's dates",
    "closed_after_opened": "закрыт раньше, чем открыт / closed before opened",
    "ongoing_iff_open": "итог не согласуется с датой закрытия / closure outcome does not match the closing date",
    "range": "вне допустимых значений / out of range",
    "allowed_values": "недопустимое значение / value not allowed",
    "required": "обязательное значение пусто / required value missing",
    "first_of_month": "не первое число месяца / not the first of a month",
}
_PSEUDONYM = re.compile(r"\b[fckm]_[0-9a-f]{20}\b")


def _quarantine_problems(probs: pd.DataFrame, df: pd.DataFrame, quarantine: dict, tname: str,
                         raw_ids: _RawIds | None = None) -> None:
    """Quarantine the raw rows behind schema problems, saying why in words and with the
    organisation's own codes (a pseudonym means nothing to the person fixing the file)."""
    if probs.empty:
        return
    messages = [str(msg) for msg in probs["message"]]
    found = set()
    for msg in messages:
        found.update(_PSEUDONYM.findall(msg))
    raw = raw_ids.lookup(found) if raw_ids is not None else {}
    probs = probs.assign(message=[
        f"{RULE_WORDS.get(r, r)}: " + _PSEUDONYM.sub(lambda m: repr(raw.get(m.group(0), m.group(0))), msg)
        for r, msg in zip(probs["rule"], messages)])
    rows = probs[probs["row"].notna()]
    table_level = probs[probs["row"].isna()]
    if len(table_level):  # pragma: no cover - the cleaner produced a wrong column: a bug, not the user's
        raise RuntimeError(f"{tname}: {table_level['message'].tolist()}")
    rids = df["_rid"].to_numpy()[_positions(df.index, rows["row"].to_numpy())]
    for rid, msg in zip(rids, rows["message"]):
        quarantine.setdefault(int(rid), []).append(msg)


def _positions(index: pd.Index, labels: np.ndarray) -> np.ndarray:
    """Row positions of index labels; by binary search when the index is sorted and unique.

    Cleaning's frames keep a sorted integer index (rows are only ever filtered), so no hash
    table of millions of labels is built for a few thousand problems.
    """
    if index.is_monotonic_increasing and index.is_unique and index.dtype.kind == "i":
        return np.searchsorted(index.to_numpy(), labels.astype(np.int64))
    return index.get_indexer(labels)


def _dedupe(tname: str, df: pd.DataFrame, quarantine: dict, merged: dict, logs: list, sheets: list) -> pd.DataFrame:
    """Exact duplicates (same key, same content) merge into the first; conflicting ones are quarantined.

    Rows are compared by integer group ids (:func:`_group_ids`), not by pandas' groupby of
    the columns: with millions of rows and identifiers that is many times faster. A
    missing value equals a missing value, as in ``DataFrame.duplicated``.
    """
    keys = schemas.KEYS.get(tname) or []
    if not keys or df.empty:
        return df
    values = [c for c in schemas.TABLES[tname].to_schema().columns if c not in keys]
    group, _ = pd.factorize(_group_ids(df, keys))
    dup = np.bincount(group)[group] > 1
    if not dup.any():
        return df
    rows = np.flatnonzero(dup)
    rid = df["_rid"].to_numpy()[rows]
    order = np.argsort(rid, kind="stable")  # each group's rows in raw order: the first one is kept
    rows, rid, group = rows[order], rid[order], group[rows[order]]
    content = _group_ids(df.iloc[rows], values) if values else np.zeros(len(rows), dtype=np.int64)
    contents = pd.Series(content).groupby(group).nunique()
    is_conflict = np.isin(group, contents.index[contents.to_numpy() > 1])
    by_group: dict[int, list[int]] = {}
    for g, r in zip(group[is_conflict], rid[is_conflict]):
        by_group.setdefault(int(g), []).append(int(r))
    for ids in by_group.values():
        for r in ids:
            others = sorted({int(x & _MASK) for x in ids if x != r})
            quarantine.setdefault(r, []).append(
                f"противоречивый дубликат / conflicting duplicate: same key as row(s) {others} with different values")
    exact = ~is_conflict
    firsts, at = np.unique(group[exact], return_index=True)  # the first row (in raw order) of each group
    first_rid = np.empty(group.max() + 1, dtype=np.int64)
    first_rid[firsts] = rid[exact][at]
    later = exact.copy()
    later[exact] = rid[exact] != first_rid[group[exact]]
    if later.any():
        later_rid = rid[later]
        kept_line = first_rid[group[later]] & _MASK
        for r, k in zip(later_rid, kept_line):
            merged[int(r)] = int(k)
        sheet_of = [sheets[int(r >> _SHIFT)] for r in later_rid]
        m = len(later_rid)
        logs.append({"source": pa.array([sh.source for sh in sheet_of], type=pa.string()),
                     "file": pa.array([sh.file for sh in sheet_of], type=pa.string()),
                     "sheet": pa.array([sh.sheet for sh in sheet_of], type=pa.string()), "row": later_rid & _MASK,
                     "column": _repeated(None, m), "raw_value": _repeated(None, m),
                     "clean_value": pa.array([f"row {int(k)}" for k in kept_line], type=pa.string()),
                     "rule": _repeated("duplicate:merged", m), "_k": later_rid})
    drop = np.zeros(len(df), dtype=bool)
    drop[rows[later | is_conflict]] = True
    return df[~drop]


def _codes(column: pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes of a column's values: equal values, equal codes; missing values one code (0).

    Returns the codes and how many codes there can be.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        return np.asarray(column.array.codes, dtype=np.int64) + 1, len(column.array.categories) + 1
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64) + 1, len(uniques) + 1


def _group_ids(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One integer per row, equal exactly when the rows hold equal values in ``columns``.

    The columns' codes are combined in mixed radix; when the product of their ranges
    would overflow an int64 the ids so far are first made dense.
    """
    ids = np.zeros(len(df), dtype=np.int64)
    size = 1
    for c in columns:
        codes, n = _codes(df[c])
        if size * n >= 2 ** 62:
            ids, uniques = pd.factorize(ids)
            ids, size = np.asarray(ids, dtype=np.int64), len(uniques)
        ids = ids * n + codes
        size *= n
    return ids


def _sort_key(column: pd.Series) -> pa.Array:
    """A column as an Arrow array that sorts as pandas sorts the column (missing values null)."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):  # sorted categories: the codes sort as the text
        codes = np.asarray(column.array.codes)
        return pa.array(codes, mask=codes < 0)
    missing = column.isna().to_numpy()
    if dtype.kind == "M":
        return pa.array(column.to_numpy().view("int64"), mask=missing)
    if dtype.kind in "fiub":  # float NaN and the gaps of Int64/boolean are missing values
        return pa.array(column.to_numpy(dtype=dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else dtype,
                                        na_value=0), mask=missing)
    return pa.array(column.to_numpy(dtype=object), type=pa.string(), from_pandas=True)  # text


def _rank(column: pd.Series) -> tuple[np.ndarray, int] | None:
    """Integers that sort as the column sorts (missing values last, as the largest), and
    how many there can be; None for a column ranked only by :func:`_sort_key` (text, a
    float column holding -0.0)."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):  # sorted categories: the codes sort as the text
        codes = np.asarray(column.array.codes, dtype=np.int64)
        n = len(column.array.categories)
        return np.where(codes < 0, n, codes), n + 1
    if dtype.kind not in "Mfiub":
        return None
    missing = column.isna().to_numpy()
    if dtype.kind == "M":
        values = column.to_numpy().view("int64")
    else:
        values = column.to_numpy(dtype=dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else dtype, na_value=0)
        if values.dtype.kind == "f" and (np.signbit(values) & (values == 0)).any():
            return None  # -0.0 and 0.0 are equal to a sort but not to a hash
    # distinct values by hashing (few: dates, years), then only those sorted
    codes, uniques = pd.factorize(values[~missing])
    rank_of = np.empty(len(uniques), dtype=np.int64)
    rank_of[np.argsort(np.asarray(uniques), kind="stable")] = np.arange(len(uniques))
    ranks = np.full(len(values), len(uniques), dtype=np.int64)
    ranks[~missing] = rank_of[codes]
    return ranks, len(uniques) + 1


def _sorted(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``df.sort_values(keys, kind="stable", na_position="last")`` with a fresh RangeIndex.

    Sorted by one integer per row, the keys' ranks in mixed radix (categorical codes, the
    ranks of dates and numbers), with numpy's stable sort: the same order, without pandas'
    re-factorising of every key column. Text keys, or ranks too many for an int64, are
    sorted by pyarrow's stable multi-column sort instead.
    """
    ids, size = np.zeros(len(df), dtype=np.int64), 1
    for k in keys:
        ranked = _rank(df[k])
        if ranked is None or size * ranked[1] >= 2 ** 62:
            table = pa.table({f"k{i}": _sort_key(df[k]) for i, k in enumerate(keys)})
            order = pc.sort_indices(table, sort_keys=[(f"k{i}", "ascending", "at_end")
                                                      for i in range(len(keys))]).to_numpy()
            break
        ids = ids * ranked[1] + ranked[0]
        size *= ranked[1]
    else:
        # numpy's default sort of integers (vectorised) is several times faster than its stable
        # one; with no two ids equal (keys made unique by _dedupe) the orders are the same
        order = np.argsort(ids)
        ranked = ids[order]
        if len(ranked) > 1 and (ranked[1:] == ranked[:-1]).any():
            order = np.argsort(ids, kind="stable")
    out = df.take(order)
    out.index = pd.RangeIndex(len(out))  # reset_index(drop=True) would copy every column
    return out


def _concat(parts: list[pd.DataFrame], keep_index: bool = False) -> pd.DataFrame:
    """``pd.concat(parts, ignore_index=not keep_index)``, categorical columns joined by their codes.

    The parts' categorical columns must share their categories (:func:`_shared_categories`,
    or copies of one frame); pandas would check that by hashing every category of every part
    (for every column of every table: seconds at a million children).
    """
    columns = list(parts[0].columns)
    # the same columns in another order are aligned by name, as pandas does (the first part's order)
    if len(set(columns)) != len(columns) or any(len(p.columns) != len(columns) or set(p.columns) != set(columns)
                                                for p in parts) or any(
            isinstance(p[c].dtype, pd.CategoricalDtype) and not p[c].cat.categories.equals(parts[0][c].cat.categories)
            for p in parts for c in columns):
        return pd.concat(parts, ignore_index=not keep_index)
    out = {}
    for c in columns:
        first = parts[0][c]
        if isinstance(first.dtype, pd.CategoricalDtype):
            codes = np.concatenate([np.asarray(p[c].array.codes, dtype=np.int64) for p in parts])
            out[c] = pd.Categorical.from_codes(codes, dtype=first.dtype, validate=False)
        else:  # the array, not the Series: its RangeIndex would not match ``index``
            out[c] = pd.concat([p[c] for p in parts], ignore_index=True).array
    index = parts[0].index.append([p.index for p in parts[1:]]) if keep_index else None
    return pd.DataFrame(out, index=index)
