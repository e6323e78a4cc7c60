"""A source's ``evalkit.yaml``: which file and sheet feed which canonical table, which raw
column is which field, and how values are spelled. An organisation writes this file, not
code. The format is documented in ``docs/mapping.md``; the demo's two mappings
(``evalkit/templates/mapping_xlsx.yaml``, ``mapping_csv.yaml``) are worked examples.

Every mistake in the file is a :class:`~evalkit.errors.UserError` naming the file, the
place in it and what is allowed, in Russian and English.

Examples
--------
>>> from evalkit.mapping import load_mapping
>>> from evalkit import paths
>>> m = load_mapping(paths.demo_source() / "org_b")          # doctest: +SKIP
>>> m.tables["children"].fields["birth_month"].columns       # doctest: +SKIP
('Д.р.',)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from evalkit import labels, schemas
from evalkit.errors import UserError

__all__ = ["MAPPING_FILE", "FieldSpec", "WideSpec", "TableSpec", "Mapping", "load_mapping", "field_kind",
           "BOOLEAN_FIELDS", "VOCAB_FIELDS", "ID_FIELDS"]

MAPPING_FILE = "evalkit.yaml"

#: identifiers: pseudonymised, with the prefix their keyed hash carries
ID_FIELDS = {"family_id": "f", "child_id": "c", "case_id": "k", "case_manager": "m"}
VOCAB_FIELDS = {"household": "household", "housing_at_intake": "housing", "rights_status_at_intake": "rights_status",
                "sex": "sex", "support": "support", "case_type": "case_type", "closure": "closure",
                "timepoint": "timepoint", "instrument": "instrument", "domain": "domain", "event": "event",
                "source": "source", "service": "service"}
BOOLEAN_FIELDS = {"parent_mental_illness", "parent_intellectual_disability", "parent_substance_use",
                  "parent_orphan_background", "prior_removal", "no_registration", "stable_income_at_intake",
                  "disability", "crisis_centre", "living_with_family", "safe"}
_KINDS = {"opened": "date", "closed": "date", "date": "date", "birth_month": "birth_month", "score": "level",
          "amount_rub": "number", "expenses_rub": "number", "year": "integer", "org": "org",
          "region": "text", "project": "text"}
#: the date / number spellings a mapping may declare as usual (not logged)
DATE_PATTERNS = ("cell", "dmy", "dmy_short", "dmy_slash", "iso", "words", "serial")
NUMBER_PATTERNS = ("cell", "text", "ru_text")


def field_kind(name: str) -> str:
    """How a canonical field is normalised: id, date, birth_month, boolean, vocab, level, number, integer, text, org."""
    if name in ID_FIELDS:
        return "id"
    if name in BOOLEAN_FIELDS:
        return "boolean"
    if name in VOCAB_FIELDS:
        return "vocab"
    return _KINDS[name]


@dataclass(frozen=True)
class FieldSpec:
    """One canonical field: the raw column (first alias found wins) or a constant."""

    name: str
    columns: tuple[str, ...] = ()
    constant: object = None


@dataclass(frozen=True)
class WideSpec:
    """Columns that are values of one field (ЕФО domains) melted into rows."""

    name: str
    value: str
    columns: dict


@dataclass
class TableSpec:
    table: str
    file: str
    sheet: str | None
    header_line: int | None
    encoding: str | None
    delimiter: str | None
    fields: dict[str, FieldSpec]
    wide: WideSpec | None
    personal: tuple[str, ...]
    ignore: tuple[str, ...]
    dates: tuple[str, ...]
    numbers: tuple[str, ...]


@dataclass
class Mapping:
    path: Path
    source: str
    name: str | None
    tables: dict[str, TableSpec]
    #: vocabulary (or "yes_no") -> {code: [spellings, preferred first]}
    values: dict[str, dict] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.path.parent


def _fail(path: Path, where: str, message: str) -> UserError:
    return UserError(f"{path}: {where}: {message}")


def _as_list(v) -> list:
    if v is None:
        return []
    return list(v) if isinstance(v, (list, tuple)) else [v]


def load_mapping(source: Path) -> Mapping:
    """Read and check ``<source>/evalkit.yaml`` (or a path to the yaml itself)."""
    source = Path(source)
    path = source if source.suffix in (".yaml", ".yml") else source / MAPPING_FILE
    if not source.exists():
        raise UserError(f"источник не найден / source not found: {source}")
    if not path.is_file():
        raise UserError(f"{path}: нет файла описания источника / the source has no {MAPPING_FILE}; "
                        "see docs/mapping.md for the format")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise _fail(path, at, f"ошибка синтаксиса YAML / YAML syntax error: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError:
        raise _fail(path, "file", "файл должен быть в кодировке UTF-8 / the mapping must be saved as UTF-8") from None
    if not isinstance(doc, dict):
        raise _fail(path, "top level", "ожидается словарь / expected keys such as source:, tables:")
    unknown = set(doc) - {"source", "name", "defaults", "tables", "values"}
    if unknown:
        raise _fail(path, "top level", f"неизвестные ключи / unknown keys {sorted(unknown)}; "
                                       "allowed: source, name, defaults, tables, values")
    src = doc.get("source")
    if not src or not isinstance(src, str) or ":" in src:
        raise _fail(path, "source", "нужен код организации без двоеточия / a short organisation code "
                                    "(no colon) is required, e.g. `source: org_a`")
    defaults = doc.get("defaults") or {}
    tables_doc = doc.get("tables") or {}
    if not isinstance(tables_doc, dict) or not tables_doc:
        raise _fail(path, "tables", "не описано ни одной таблицы / no tables are mapped")
    tables = {}
    for tname, tdoc in tables_doc.items():
        if tname not in schemas.TABLES:
            raise _fail(path, f"tables.{tname}", f"нет такой таблицы / unknown table; tables are {list(schemas.TABLES)}")
        tables[tname] = _table(path, tname, tdoc or {}, defaults)
    values = _values(path, doc.get("values") or {})
    return Mapping(path=path, source=src, name=doc.get("name"), tables=tables, values=values)


def _table(path: Path, tname: str, tdoc: dict, defaults: dict) -> TableSpec:
    where = f"tables.{tname}"
    allowed_keys = {"file", "sheet", "header_line", "encoding", "delimiter", "fields", "wide", "personal",
                    "ignore", "dates", "numbers"}
    unknown = set(tdoc) - allowed_keys
    if unknown:
        raise _fail(path, where, f"неизвестные ключи / unknown keys {sorted(unknown)}; allowed: {sorted(allowed_keys)}")
    file = tdoc.get("file", defaults.get("file"))
    if not file:
        raise _fail(path, where, "не указан файл / no `file:` (here or in defaults)")
    columns = list(schemas.TABLES[tname].to_schema().columns)
    fields = {}
    for fname, fdoc in (tdoc.get("fields") or {}).items():
        if fname not in columns or fname == "org":
            allowed = [c for c in columns if c != "org"]
            raise _fail(path, f"{where}.fields.{fname}",
                        f"нет такого поля / unknown field; fields of {tname}: {allowed}")
        if isinstance(fdoc, dict):
            if "constant" in fdoc:
                fields[fname] = FieldSpec(fname, constant=fdoc["constant"])
                continue
            cols = _as_list(fdoc.get("column")) + _as_list(fdoc.get("columns"))
        else:
            cols = _as_list(fdoc)
        if not cols or not all(isinstance(c, (str, int)) for c in cols):
            raise _fail(path, f"{where}.fields.{fname}", "укажите столбец / give the raw column name "
                                                         "(or a list of alternatives, or {constant: value})")
        fields[fname] = FieldSpec(fname, columns=tuple(str(c) for c in cols))
    wide = None
    if tdoc.get("wide"):
        w = tdoc["wide"]
        if not isinstance(w, dict) or not {"name", "value", "columns"} <= set(w):
            raise _fail(path, f"{where}.wide", "нужны name, value, columns / `wide:` needs name, value and columns")
        for k in ("name", "value"):
            if w[k] not in columns:
                raise _fail(path, f"{where}.wide.{k}", f"нет такого поля / unknown field {w[k]!r}")
        wide = WideSpec(w["name"], w["value"], {str(k): v for k, v in w["columns"].items()})
        vocab = VOCAB_FIELDS.get(wide.name)
        if vocab:
            bad = [v for v in wide.columns.values() if v not in labels.codes(vocab)]
            if bad:
                raise _fail(path, f"{where}.wide.columns", f"недопустимые коды / codes not in {vocab}: {bad}; "
                                                            f"allowed: {labels.codes(vocab)}")
    provided = set(fields) | ({wide.name, wide.value} if wide else set()) | {"org"}
    required = [c for c, col in schemas.TABLES[tname].to_schema().columns.items() if not col.nullable]
    missing = [c for c in required if c not in provided]
    if missing:
        raise _fail(path, where, f"не сопоставлены обязательные поля / required fields are not mapped: {missing}")
    dates = tuple(_as_list(tdoc.get("dates", defaults.get("dates", ["cell", "dmy"]))))
    numbers = tuple(_as_list(tdoc.get("numbers", defaults.get("numbers", ["cell", "text"]))))
    for name, got, allowed in (("dates", dates, DATE_PATTERNS), ("numbers", numbers, NUMBER_PATTERNS)):
        bad = [g for g in got if g not in allowed]
        if bad:
            raise _fail(path, f"{where}.{name}", f"неизвестный формат / unknown pattern {bad}; allowed: {list(allowed)}")
    header = tdoc.get("header_line", defaults.get("header_line"))
    if header is not None and (not isinstance(header, int) or header < 1):
        raise _fail(path, f"{where}.header_line", "номер строки заголовка — целое число от 1 / "
                                                  "header_line is a line number from 1")
    return TableSpec(table=tname, file=str(file), sheet=tdoc.get("sheet"), header_line=header,
                     encoding=tdoc.get("encoding", defaults.get("encoding")),
                     delimiter=tdoc.get("delimiter", defaults.get("delimiter")), fields=fields, wide=wide,
                     personal=tuple(str(c) for c in _as_list(tdoc.get("personal"))),
                     ignore=tuple(str(c) for c in _as_list(tdoc.get("ignore"))), dates=dates, numbers=numbers)


def _values(path: Path, doc: dict) -> dict:
    out = {}
    for vocab, spellings in doc.items():
        where = f"values.{vocab}"
        if vocab == "yes_no":
            allowed = ["true", "false"]
        elif vocab == "level":
            allowed = [str(c) for c in labels.codes("level")]
        elif vocab in labels.VOCABULARIES:
            allowed = labels.codes(vocab)
        else:
            raise _fail(path, where, f"неизвестный словарь / unknown vocabulary; known: "
                                     f"{['yes_no', 'level'] + [v for v in labels.VOCABULARIES if v != 'level']}")
        if not isinstance(spellings, dict):
            raise _fail(path, where, "ожидается код: [написания] / expected `code: [spellings]`")
        table = {}
        for code, words in spellings.items():
            key = str(code).lower() if vocab == "yes_no" else str(code)
            if key not in allowed:
                raise _fail(path, f"{where}.{code}", f"недопустимый код / not a code of {vocab}; allowed: {allowed}")
            words = [str(w) for w in _as_list(words)]
            if not words:
                raise _fail(path, f"{where}.{code}", "нет ни одного написания / no spellings given")
            code_value = int(key) if vocab == "level" else (key == "true") if vocab == "yes_no" else key
            table[code_value] = words
        out[vocab] = table
    return out
