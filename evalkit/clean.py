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

A mistake in the mapping or the files (a missing file or sheet, a mapped column absent,
an unreadable encoding, a value spelled in a way the mapping does not list) is a
:class:`~evalkit.errors.UserError`, raised after all such problems of the run have been
collected, so one run lists them all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit import labels, normalise, schemas
from evalkit.errors import DataError, UserError, where
from evalkit.mapping import ID_FIELDS, VOCAB_FIELDS, Mapping, TableSpec, field_kind, load_mapping
from evalkit.pseudonymise import key_id, pseudonyms
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


@dataclass
class CleanResult:
    """Everything a cleaning produced; :func:`evalkit.dataset.write_dataset` writes it."""

    tables: dict[str, pd.DataFrame]
    log: pd.DataFrame
    quarantine: pd.DataFrame
    conservation: pd.DataFrame
    sources: list[dict]
    key_id: str
    ignored_columns: list[dict] = field(default_factory=list)

    @property
    def summary(self) -> pd.DataFrame:
        """Rows read / kept / merged / quarantined per table, all sources together."""
        return self.conservation.groupby("table", sort=False)[["read", "kept", "merged", "quarantined"]].sum()


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
    if kind == "id" or kind == "text":
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
        return normalise.categories(values, _spellings(mapping, VOCAB_FIELDS[fname], problems, ctx)), {"exact"}
    if kind == "level":
        sp = mapping.values.get("level")
        if not sp:
            return normalise.integers(values), {"cell", "text"}
        n = normalise.categories(values, sp)
        # a level written as a digit that is not a listed spelling: read it as a number, so an
        # out-of-range level (0, 5, 7) is quarantined by the schema, not mistaken for a mapping gap
        digits = n.failed & values.astype(str).str.strip().str.fullmatch(r"-?\d+(\.0)?").fillna(False).to_numpy()
        if digits.any():
            i = normalise.integers(values[digits])
            n.clean = n.clean.astype(object)
            n.clean[digits] = i.clean.astype(object).to_numpy()
            n.how = n.how.astype(object)
            n.how[digits] = "number"
            n.failed = n.failed & ~digits
            n.reason[digits] = None
        return n, {"exact"}
    raise AssertionError(kind)


def _clean_dtype(kind: str, clean: pd.Series) -> pd.Series:
    if kind == "boolean":
        return clean.astype("boolean")
    if kind in ("date", "birth_month"):
        return pd.to_datetime(clean).astype("datetime64[ns]")
    if kind == "number":
        return clean.astype("float64")
    if kind in ("integer", "level"):
        return pd.array(clean.to_numpy(dtype=object), dtype="Int64")
    return clean.astype(object).where(clean.notna(), None)


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
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return str(v.date()) if v == v.normalize() else str(v)
    if hasattr(v, "year") and not isinstance(v, str):
        return str(pd.Timestamp(v).date()) if pd.Timestamp(v) == pd.Timestamp(v).normalize() else str(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _texts(values: pd.Series) -> np.ndarray:
    """``_text`` of every value, computed once per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.array([_text(u) for u in uniques] + [None], dtype=object)
    return table[codes]


def _read_table(mapping: Mapping, spec: TableSpec, problems: _Problems, unmatched: dict,
                fingerprints: dict, ignored: list) -> _Sheet | None:
    path = mapping.folder / spec.file
    try:
        raw = read_sheet(path, sheet=spec.sheet, header_line=spec.header_line, encoding=spec.encoding,
                         delimiter=spec.delimiter)
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
        if kind in ("boolean", "vocab", "level") and failed.any():
            bad = values[failed]
            unknown = n.reason[failed] == "unknown value"
            if unknown.any():
                key = (str(path), sheet_name, column, VOCAB_FIELDS.get(fname, "yes_no" if kind == "boolean" else "level"))
                counts = bad[unknown.to_numpy()].astype(str).value_counts()
                first = {v: int(bad.index[(bad.astype(str) == v).to_numpy()][0]) for v in counts.index[:10]}
                unmatched.setdefault(key, []).append((counts, first))
        for line, r, v in zip(values.index[failed], n.reason[failed], values[failed]):
            shown = WITHHELD if fname in PERSONAL_FIELDS else repr(_text(v))
            reasons.setdefault(int(line), []).append(f"«{column}»: {_in_russian(r)} ({shown})")
        how = n.how
        logged = how.notna().to_numpy() & ~how.isin(list(usual)).to_numpy() & ~failed
        if logged.any():
            raw_v = values[logged]
            log_parts.append(pd.DataFrame({
                "row": values.index[logged].to_numpy(), "column": column,
                "raw_value": WITHHELD if fname in PERSONAL_FIELDS else _texts(raw_v),
                "clean_value": WITHHELD if fname in PERSONAL_FIELDS and kind == "id" else _texts(n.clean[logged]),
                "rule": f"{fname}:" + how[logged].astype(str)}))
        return _clean_dtype(kind, n.clean)

    for fname, fs in spec.fields.items():
        kind = field_kind(fname)
        if fs.constant is not None:
            const = fs.constant
            if kind == "vocab" and const not in labels.codes(VOCAB_FIELDS[fname]):
                problems.add(f"{mapping.path}: tables.{spec.table}.fields.{fname}: constant {const!r} is not a code "
                             f"of {VOCAB_FIELDS[fname]}: {labels.codes(VOCAB_FIELDS[fname])}")
            out[fname] = pd.Series(const, index=df.index, dtype=object)
            continue
        out[fname] = one(fname, cols[fname], df[cols[fname]], kind)
    out["org"] = mapping.source
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
        parts = []
        vkind = field_kind(spec.wide.value)
        for col, code in spec.wide.columns.items():
            raw_col = cols[f"__wide__{col}"]
            part = out.copy()
            part[spec.wide.name] = code
            part[spec.wide.value] = one(spec.wide.value, raw_col, df[raw_col], vkind)
            parts.append(part[part[spec.wide.value].notna() | df[raw_col].notna().to_numpy()])
        out = pd.concat(parts)
        empty_rows = set(df.index) - set(out.index)
        for line in empty_rows:  # a row with no domain filled in at all
            reasons.setdefault(int(line), []).append("нет ни одной оценки / no value in any of the wide columns")
    # canonical columns this source does not record: empty, in the canonical dtype
    template = schemas.empty_table(spec.table)
    for c in template.columns:
        if c not in out.columns:
            out[c] = pd.Series(pd.array([None] * len(out), dtype=template[c].dtype), index=out.index) \
                if str(template[c].dtype) != "object" else pd.Series(None, index=out.index, dtype=object)
    out["_line"] = out.index.astype("int64")
    out = out.reset_index(drop=True)
    personal = {_header_key(c) for c in spec.personal}
    birth_cols = {cols[f] for f in spec.fields if f in cols and f in PERSONAL_FIELDS}
    raw_cols = [c for c in dict.fromkeys(cols.values()) if _header_key(c) not in personal]
    raw_keep = df[raw_cols].copy()
    for c in birth_cols:
        raw_keep[c] = raw_keep[c].map(lambda v: None if v is None else WITHHELD)
    logdf = pd.concat(log_parts, ignore_index=True) if log_parts else pd.DataFrame(columns=["row", "column", "raw_value", "clean_value", "rule"])
    logdf.insert(0, "sheet", sheet_name)
    logdf.insert(0, "file", spec.file)
    logdf.insert(0, "source", mapping.source)
    return _Sheet(mapping.source, spec.table, spec.file, sheet_name, lines, out, reasons, raw_keep, [logdf])


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


def clean_sources(sources: list[Path], key: bytes, progress=None) -> CleanResult:
    """Clean one or more sources into one set of canonical tables (nothing written)."""
    say = progress or (lambda msg: log.info(msg))
    problems = _Problems()
    mappings = {}
    for s in sources:
        m = load_mapping(Path(s))
        if m.source in {x.source for x in mappings.values()}:
            problems.add(f"{m.path}: source code {m.source!r} is used by two sources; each organisation needs its own")
        mappings[Path(s)] = m
    problems.raise_if_any()
    unmatched: dict = {}
    sheets: list[_Sheet] = []
    src_info = []
    ignored: list[dict] = []
    for s, m in mappings.items():
        fingerprints: dict = {}
        for tname, spec in m.tables.items():
            say(f"{m.source}: reading {spec.file}{' / ' + spec.sheet if spec.sheet else ''} → {tname}")
            sh = _read_table(m, spec, problems, unmatched, fingerprints, ignored)
            if sh is not None:
                sheets.append(sh)
        src_info.append({"source": m.source, "name": m.name, "folder": str(Path(s).resolve()),
                         "mapping_sha256": _sha256(m.path), "files": list(fingerprints.values())})
    _raise_unmatched(unmatched, problems)
    problems.raise_if_any()

    result = _assemble(sheets, key, say)
    result.sources = src_info
    result.ignored_columns = ignored
    return result


def _member(sorted_ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """values in sorted_ids, by binary search (np.isin re-sorts its second argument every call)."""
    if not len(sorted_ids):
        return np.zeros(len(values), dtype=bool)
    i = np.searchsorted(sorted_ids, values).clip(max=len(sorted_ids) - 1)
    return sorted_ids[i] == values


def _assemble(sheets: list[_Sheet], key: bytes, say=lambda msg: None) -> CleanResult:
    src_of_sheet = np.array([sh.source for sh in sheets], dtype=object)
    quarantine: dict[int, list[str]] = {}   # raw row id -> reasons
    merged: dict[int, int] = {}              # raw row id -> line of the row it merged into
    logs = []
    frames: dict[str, list[pd.DataFrame]] = {}
    for i, sh in enumerate(sheets):
        base = np.int64(i) << _SHIFT
        for line, rs in sh.reasons.items():
            quarantine.setdefault(int(base | line), []).extend(rs)
        for part in sh.log:  # an integer sort key: sheet, then row (strings sort slowly)
            part["_k"] = base | part["row"].to_numpy(dtype="int64")
        logs.extend(sh.log)
        sh.frame["_rid"] = base | sh.frame.pop("_line").to_numpy(dtype="int64")
        frames.setdefault(sh.table, []).append(sh.frame)

    def drop_quarantined(df: pd.DataFrame) -> pd.DataFrame:
        """The rows not in quarantine; the same frame (no copy) when none of its rows is."""
        if not quarantine or df.empty:
            return df
        gone = _member(np.sort(np.fromiter(quarantine, dtype="int64")), df["_rid"].to_numpy())
        return df[~gone] if gone.any() else df

    tables: dict[str, pd.DataFrame] = {}
    raw_ids: dict[str, str] = {}
    say("pseudonymising identifiers, merging duplicates")
    for tname in schemas.TABLES:
        parts = frames.get(tname)
        if not parts:
            tables[tname] = None
            continue
        df = drop_quarantined(pd.concat(parts, ignore_index=True))
        src = src_of_sheet[(df["_rid"].to_numpy() >> _SHIFT)] if len(df) else np.array([], dtype=object)
        # pseudonymise identifiers (per source: the hash covers "source:raw"); the way back is
        # kept in memory only, to name rows in quarantine messages by the organisation's codes
        for fname, prefix in ID_FIELDS.items():
            if fname in df and len(df):
                hashed = pd.Series(None, index=df.index, dtype=object)
                for s_code in pd.unique(src):
                    m = src == s_code
                    hashed[m] = pseudonyms(df.loc[m, fname], s_code, key, prefix).to_numpy()
                if fname not in PERSONAL_FIELDS:
                    pairs = pd.DataFrame({"h": hashed, "r": df[fname]}).dropna().drop_duplicates("h")
                    raw_ids.update(zip(pairs["h"], pairs["r"]))
                df[fname] = hashed
        tables[tname] = _dedupe(tname, df, quarantine, merged, logs, sheets)

    # schema rules, lazily, then references across tables until nothing changes
    say("checking the schemas and the references between tables")
    for tname, df in tables.items():
        if df is None:
            continue
        cols = list(schemas.TABLES[tname].to_schema().columns)
        _quarantine_problems(schemas.table_problems(tname, df[cols], check_dtypes=False), df, quarantine, tname,
                             raw_ids)
    for _ in range(10):
        tables = {t: (drop_quarantined(df) if df is not None else None) for t, df in tables.items()}
        # check_dataset reads its columns by name: the frames go in as they are, no copies
        probs = schemas.check_dataset({t: df for t, df in tables.items() if df is not None})
        if probs.empty:
            break
        for tname, p in probs.groupby("table"):
            _quarantine_problems(p, tables[tname], quarantine, tname, raw_ids)
    else:  # pragma: no cover - cascades are at most a few levels deep
        raise RuntimeError("cross-table quarantine did not settle")

    out_tables = {}
    for tname in schemas.TABLES:
        df = tables.get(tname)
        template = schemas.empty_table(tname)
        cols = list(template.columns)
        if df is None:
            out_tables[tname] = template
            continue
        clean = df[cols].copy()
        for c in cols:  # whole numbers are required fields: plain int64 once the gaps are quarantined
            if str(clean[c].dtype) == "Int64":
                clean[c] = clean[c].astype("int64")
        keys = schemas.KEYS.get(tname) or cols
        clean = clean.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)
        wrong = {c: (str(clean[c].dtype), str(template[c].dtype)) for c in cols
                 if str(clean[c].dtype) != str(template[c].dtype)}
        if wrong:  # pragma: no cover - the contract's dtypes, cheaply; a failure here is a bug
            raise RuntimeError(f"{tname}: wrong dtypes {wrong}")
        out_tables[tname] = clean

    # the log, the quarantine, and row conservation
    logdf = pd.concat([l for l in logs if len(l)], ignore_index=True) if any(len(l) for l in logs) else \
        pd.DataFrame(columns=LOG_COLUMNS + ["_k"])
    say("writing the cleaning log and the quarantine")
    logdf = logdf.sort_values("_k", kind="stable")[LOG_COLUMNS].reset_index(drop=True)
    logdf["row"] = logdf["row"].astype("int64")
    qrows = []
    q_sorted = np.sort(np.fromiter(quarantine, dtype="int64"))
    for i in np.unique(q_sorted >> _SHIFT):
        sh = sheets[int(i)]
        lines = (q_sorted[(q_sorted >> _SHIFT) == i] & _MASK).astype("int64")
        present = lines[np.isin(lines, sh.raw.index.to_numpy())]
        cells = {}
        if len(present):  # the raw cells of each quarantined row, blanks left out
            block = sh.raw.loc[present]
            texts = {c: _texts(block[c]) for c in block.columns}
            for j, line in enumerate(present):
                cells[int(line)] = json.dumps({c: t[j] for c, t in texts.items() if t[j] is not None},
                                              ensure_ascii=False)
        for line in lines:
            rid = int((int(i) << _SHIFT) | int(line))
            qrows.append({"source": sh.source, "table": sh.table, "file": sh.file, "sheet": sh.sheet,
                          "row": int(line), "reasons": "; ".join(dict.fromkeys(quarantine[rid])),
                          "raw": cells.get(int(line), "{}")})
    qdf = pd.DataFrame(qrows, columns=QUARANTINE_COLUMNS)
    qdf["row"] = qdf["row"].astype("int64")
    qdf = qdf.sort_values(["source", "file", "sheet", "row"], kind="stable", na_position="first").reset_index(drop=True)
    # row conservation, per raw sheet: every data line read is kept, merged or quarantined
    kept = np.sort(np.concatenate([df["_rid"].to_numpy() for df in tables.values() if df is not None] or
                                  [np.array([], dtype="int64")]))
    q_ids = np.sort(np.fromiter(quarantine, dtype="int64"))
    m_ids = np.sort(np.fromiter(merged, dtype="int64"))
    cons = []
    for i, sh in enumerate(sheets):
        lines = (np.int64(i) << _SHIFT) | sh.lines.astype("int64")
        q = _member(q_ids, lines)
        k = _member(kept, lines) & ~q
        mg = _member(m_ids, lines) & ~q & ~k
        if (q | k | mg).sum() != len(lines):  # pragma: no cover - an internal invariant
            lost = (lines[~(q | k | mg)] & _MASK)[:10].tolist()
            raise RuntimeError(f"row conservation broken for {sh.file}/{sh.sheet}: lines {lost} vanished")
        cons.append({"source": sh.source, "table": sh.table, "file": sh.file, "sheet": sh.sheet,
                     "read": int(len(lines)), "kept": int(k.sum()), "merged": int(mg.sum()),
                     "quarantined": int(q.sum())})
    return CleanResult(tables=out_tables, log=logdf, quarantine=qdf,
                       conservation=pd.DataFrame(cons, columns=CONSERVATION_COLUMNS), sources=[], key_id=key_id(key))


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
                         raw_ids: dict | None = None) -> None:
    """Quarantine the raw rows behind schema problems, saying why in words and with the
    organisation's own codes (a pseudonym means nothing to the person fixing the file)."""
    if probs.empty:
        return
    raw_ids = raw_ids or {}
    probs = probs.assign(message=[
        f"{RULE_WORDS.get(r, r)}: " + _PSEUDONYM.sub(lambda m: repr(raw_ids.get(m.group(0), m.group(0))), str(msg))
        for r, msg in zip(probs["rule"], probs["message"])])
    rows = probs[probs["row"].notna()]
    table_level = probs[probs["row"].isna()]
    if len(table_level):  # pragma: no cover - the cleaner produced a wrong column: a bug, not the user's
        raise RuntimeError(f"{tname}: {table_level['message'].tolist()}")
    rids = df.loc[rows["row"].to_numpy(), "_rid"].to_numpy()
    for rid, msg in zip(rids, rows["message"]):
        quarantine.setdefault(int(rid), []).append(msg)


def _dedupe(tname: str, df: pd.DataFrame, quarantine: dict, merged: dict, logs: list, sheets: list) -> pd.DataFrame:
    """Exact duplicates (same key, same content) merge into the first; conflicting ones are quarantined."""
    keys = schemas.KEYS.get(tname) or []
    if not keys or df.empty:
        return df
    values = [c for c in schemas.TABLES[tname].to_schema().columns if c not in keys]
    dup = df.duplicated(keys, keep=False).to_numpy()
    if not dup.any():
        return df
    sub = df[dup].sort_values("_rid", kind="stable")
    grp = sub.groupby(keys, dropna=False, sort=False)
    distinct = grp[values].nunique(dropna=False).max(axis=1) if values else pd.Series(1, index=grp.size().index)
    conflict_keys = distinct[distinct > 1].index
    is_conflict = sub.set_index(keys).index.isin(conflict_keys)
    conflict = sub[is_conflict]
    for _, g in conflict.groupby(keys, dropna=False, sort=False):
        ids = g["_rid"].tolist()
        for rid in ids:
            others = sorted({int(x & _MASK) for x in ids if x != rid})
            quarantine.setdefault(int(rid), []).append(
                f"противоречивый дубликат / conflicting duplicate: same key as row(s) {others} with different values")
    exact = sub[~is_conflict]
    first = exact.groupby(keys, dropna=False, sort=False)["_rid"].transform("first")
    later = exact[exact["_rid"] != first]
    if len(later):
        kept_line = first[later.index].to_numpy() & _MASK
        later_rid = later["_rid"].to_numpy()
        for rid, k in zip(later_rid, kept_line):
            merged[int(rid)] = int(k)
        sheet_of = [sheets[int(r >> _SHIFT)] for r in later_rid]
        logs.append(pd.DataFrame({"source": [sh.source for sh in sheet_of], "file": [sh.file for sh in sheet_of],
                                  "sheet": [sh.sheet for sh in sheet_of], "row": later_rid & _MASK,
                                  "column": None, "raw_value": None,
                                  "clean_value": [f"row {int(k)}" for k in kept_line],
                                  "rule": "duplicate:merged", "_k": later_rid}))
    drop = set(later.index) | set(conflict.index)
    return df.drop(index=list(drop))
