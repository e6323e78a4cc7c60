"""The canonical tables as pandera schemas: the data contract between cleaning and analysis.

Every table in ``data_clean/<dataset>/`` is checked against one
:class:`pandera.pandas.DataFrameModel` below. The contract:

* **Strict columns.** A clean table has exactly the columns listed here, no more
  (``strict=True``) and no fewer. This is also a confidentiality guard: a name, phone
  or address column can never slip into a clean table, and dates of birth exist only
  as ``birth_month`` (the first day of the month).
* **No coercion.** Cleaning produces the right dtypes; the schemas only verify them
  (``coerce=False``): strings are ``object`` (or ``string``) columns, dates are
  ``datetime64`` (tz-naive), yes/no fields are pandas' nullable ``"boolean"``, counts
  are ``int64``, money is ``float64``. (pandera 0.35 is lenient in three ways: an
  ``int64`` column may be nullable ``Int64``, a date column any datetime64 unit, a
  string column ``string`` or ``category``; a plain numpy ``bool`` is refused.)
* **Vocabularies from one place.** Every coded column takes its allowed values from
  :func:`evalkit.labels.codes`, so schemas and report labels cannot drift apart.
* **Keys.** ``family_id``, ``child_id`` and ``case_id`` are primary keys; the long
  tables are unique on the composite keys in :data:`KEYS`. Every row that shares a
  duplicated key is reported (pandera's behaviour): which copy is right is not a
  question a schema can answer.
* **Lazy, tidy problems.** :func:`table_problems` and :func:`validate_dataset` never
  raise for bad data; they return one row per problem with the columns
  ``table, row, column, value, rule, message`` (``row`` is the index label of the
  failing row, ``None`` for a table-level problem such as a missing column), which is
  what a quarantine table needs.
* **Cross-table rules** (:data:`CROSS_TABLE_RULES`, :func:`check_dataset`): every
  reference points at an existing row, an assessment's case belongs to the child's
  family, events and contacts fall within the child's life and services within their
  case. They are vectorised (hash lookups, no Python loops over rows).

Examples
--------
>>> import pandas as pd
>>> from evalkit import schemas
>>> list(schemas.TABLES)
['families', 'children', 'cases', 'assessments', 'events', 'contacts', 'services', 'costs']
>>> schemas.KEYS["events"]
['child_id', 'date', 'event']
>>> children = schemas.empty_table("children")
>>> schemas.table_problems("children", children).empty
True
>>> bad = children.assign(mother_name=pd.Series(dtype=object))
>>> schemas.table_problems("children", bad)[["row", "column", "rule"]]
    row       column               rule
0  None  mother_name  unexpected_column
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors
from pandera.typing import Series

from evalkit import labels

__all__ = [
    "Families",
    "Children",
    "Cases",
    "Assessments",
    "Events",
    "Contacts",
    "Services",
    "Costs",
    "TABLES",
    "KEYS",
    "PROBLEM_COLUMNS",
    "TABLE_RULES",
    "CROSS_TABLE_RULES",
    "schema",
    "validate_table",
    "table_problems",
    "empty_table",
    "check_dataset",
    "validate_dataset",
]

#: The columns of every problems frame.
PROBLEM_COLUMNS = ["table", "row", "column", "value", "rule", "message"]

Bool = pd.BooleanDtype


def _vocab(name: str, *, required: bool = False, allowed=None):
    """A string column restricted to a vocabulary of :mod:`evalkit.labels`."""
    return pa.Field(
        isin=list(labels.codes(name) if allowed is None else allowed),
        nullable=not required,
        metadata={"vocab": name},
    )


def _opt():
    return pa.Field(nullable=True)


def _is_dates(s: pd.Series) -> bool:
    """True for a tz-naive datetime64 column (the only kind the date rules can compare)."""
    return isinstance(s.dtype, np.dtype) and s.dtype.kind == "M"


def _pass(df: pd.DataFrame) -> pd.Series:
    return pd.Series(True, index=df.index)


class _Table(pa.DataFrameModel):
    class Config:
        strict = True
        coerce = False
        unique_column_names = True


class Families(_Table):
    family_id: Series[str] = pa.Field(unique=True)
    org: Series[str]
    region: Series[str] = _opt()
    household: Series[str] = _vocab("household")
    parent_mental_illness: Series[Bool] = _opt()
    parent_intellectual_disability: Series[Bool] = _opt()
    parent_substance_use: Series[Bool] = _opt()
    parent_orphan_background: Series[Bool] = _opt()
    prior_removal: Series[Bool] = _opt()
    no_registration: Series[Bool] = _opt()
    housing_at_intake: Series[str] = _vocab("housing")
    stable_income_at_intake: Series[Bool] = _opt()
    rights_status_at_intake: Series[str] = _vocab("rights_status")

    class Config:
        name = "families"
        description = "One row per family (the household a case works with)."


class Children(_Table):
    child_id: Series[str] = pa.Field(unique=True)
    family_id: Series[str]
    sex: Series[str] = _vocab("sex")
    birth_month: Series[pa.DateTime] = _opt()
    disability: Series[Bool] = _opt()

    class Config:
        name = "children"
        description = "One row per child of a supported family."

    @pa.check(
        "birth_month",
        name="first_of_month",
        description="birth_month must be the first day of a month at midnight "
        "(never an exact birth date)",
    )
    def _first_of_month(cls, s: pd.Series) -> pd.Series:
        if not _is_dates(s):
            return pd.Series(True, index=s.index)  # the dtype problem is reported already
        return (s.dt.day == 1) & (s == s.dt.normalize())


class Cases(_Table):
    case_id: Series[str] = pa.Field(unique=True)
    family_id: Series[str]
    org: Series[str]
    opened: Series[pa.DateTime]
    closed: Series[pa.DateTime] = _opt()
    support: Series[str] = _vocab("support", required=True)
    case_type: Series[str] = _vocab("case_type")
    closure: Series[str] = _vocab("closure", required=True)
    crisis_centre: Series[Bool] = _opt()
    case_manager: Series[str] = _opt()

    class Config:
        name = "cases"
        description = "One row per support episode (case) of a family."

    @pa.dataframe_check(
        name="closed_after_opened",
        description="closed must not be before opened",
    )
    def _closed_after_opened(cls, df: pd.DataFrame) -> pd.Series:
        if not {"opened", "closed"} <= set(df) or not (
            _is_dates(df["opened"]) and _is_dates(df["closed"])
        ):
            return _pass(df)
        return df["closed"].isna() | df["opened"].isna() | (df["closed"] >= df["opened"])

    @pa.dataframe_check(
        name="ongoing_iff_open",
        description="closure must be 'ongoing' exactly when closed is empty",
    )
    def _ongoing_iff_open(cls, df: pd.DataFrame) -> pd.Series:
        if not {"closure", "closed"} <= set(df):
            return _pass(df)
        return df["closure"].isna() | ((df["closure"] == "ongoing") == df["closed"].isna())


class Assessments(_Table):
    child_id: Series[str]
    case_id: Series[str]
    date: Series[pa.DateTime]
    timepoint: Series[str] = _vocab("timepoint", required=True)
    instrument: Series[str] = _vocab("instrument", required=True)
    domain: Series[str] = _vocab("domain", required=True)
    score: Series[int] = _vocab("level", required=True)

    class Config:
        name = "assessments"
        description = "One row per child x assessment date x domain (long format)."
        unique = ["child_id", "instrument", "domain", "date", "timepoint"]


class Events(_Table):
    child_id: Series[str]
    date: Series[pa.DateTime]
    event: Series[str] = _vocab("event", required=True)
    source: Series[str] = _vocab("source", required=True)

    class Config:
        name = "events"
        description = "One row per event in a child's life (removal, return home, ...)."
        unique = ["child_id", "date", "event"]


class Contacts(_Table):
    child_id: Series[str]
    date: Series[pa.DateTime]
    living_with_family: Series[Bool]
    safe: Series[Bool] = _opt()
    source: Series[str] = _vocab("source", required=True, allowed=labels.CONTACT_SOURCES)

    class Config:
        name = "contacts"
        description = "One row per observation of whether the child is at home."
        unique = ["child_id", "date", "source"]


class Services(_Table):
    case_id: Series[str]
    date: Series[pa.DateTime]
    service: Series[str] = _vocab("service", required=True)
    amount_rub: Series[float] = pa.Field(nullable=True, ge=0)

    class Config:
        name = "services"
        description = "One row per service given within a case."


class Costs(_Table):
    org: Series[str]
    project: Series[str]
    year: Series[int] = pa.Field(in_range={"min_value": 1990, "max_value": 2100})
    expenses_rub: Series[float] = pa.Field(ge=0)

    class Config:
        name = "costs"
        description = "One row per project and year (the project's expenses)."
        unique = ["org", "project", "year"]


#: The canonical tables, in pipeline order: name -> schema model.
TABLES: dict[str, type[pa.DataFrameModel]] = {
    "families": Families,
    "children": Children,
    "cases": Cases,
    "assessments": Assessments,
    "events": Events,
    "contacts": Contacts,
    "services": Services,
    "costs": Costs,
}


def _keys(model: type[pa.DataFrameModel]) -> list[str]:
    s = model.to_schema()
    if s.unique:
        return list(s.unique)
    return [name for name, col in s.columns.items() if col.unique]


@contextlib.contextmanager
def _pandas_only_annotations():
    """Build the models' schemas without pandera importing dask.dataframe.

    To tell dask frames in a model's annotations from pandas ones, pandera imports
    ``dask.dataframe`` (0.4 s, a third of importing this module) when dask is installed,
    as it is for evalkit's batch runner. These models annotate pandas only: while their
    schemas are built (and cached by pandera for this thread), pandera's dask typing is a
    stand-in saying dask is absent; afterwards pandera is left as it was, its real dask
    typing imported when something else asks for it.
    """
    import sys
    import types

    import pandera.typing as typing

    if "pandera.typing.dask" in sys.modules:
        yield
        return
    stand_in = types.ModuleType("pandera.typing.dask")
    stand_in.DASK_INSTALLED = False
    sys.modules["pandera.typing.dask"] = stand_in
    try:
        yield
    finally:
        if sys.modules.get("pandera.typing.dask") is stand_in:
            del sys.modules["pandera.typing.dask"]
        if getattr(typing, "dask", None) is stand_in:
            delattr(typing, "dask")
        for cached in ("get_dataframe_types", "get_series_types", "get_index_types"):
            getattr(getattr(typing, cached, None), "cache_clear", lambda: None)()


#: Key columns per table: the primary key, the composite unique key, or [] (services).
with _pandas_only_annotations():
    KEYS: dict[str, list[str]] = {name: _keys(model) for name, model in TABLES.items()}

#: Cross-table rules checked by :func:`check_dataset`: rule -> (table, column, description).
CROSS_TABLE_RULES: dict[str, tuple[str, str, str]] = {
    "child_family_exists": ("children", "family_id", "every child's family is in families"),
    "case_family_exists": ("cases", "family_id", "every case's family is in families"),
    "assessment_child_exists": ("assessments", "child_id", "every assessed child is in children"),
    "assessment_case_exists": ("assessments", "case_id", "every assessment's case is in cases"),
    "assessment_case_matches_family": (
        "assessments", "case_id", "the case of an assessment belongs to the child's family"),
    "event_child_exists": ("events", "child_id", "every event's child is in children"),
    "contact_child_exists": ("contacts", "child_id", "every contact's child is in children"),
    "service_case_exists": ("services", "case_id", "every service's case is in cases"),
    "event_within_life": (
        "events", "date",
        "no event before the child's birth month, and none after the child's death "
        "(a 'died' event)"),
    "contact_within_life": ("contacts", "date", "no contact before the child's birth month"),
    "service_within_case": (
        "services", "date", "a service falls within its case, between opened and closed "
        "(an open case has no end)"),
}


# --------------------------------------------------------------------------- one table


def _model(name: str) -> type[pa.DataFrameModel]:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known: {list(TABLES)}") from None


def schema(name: str) -> pa.DataFrameSchema:
    """The :class:`pandera.pandas.DataFrameSchema` of a canonical table."""
    return _model(name).to_schema()


def validate_table(name: str, df: pd.DataFrame, lazy: bool = True) -> pd.DataFrame:
    """Validate one canonical table.

    Parameters
    ----------
    name : str
        A key of :data:`TABLES`.
    df : pandas.DataFrame
        The table.
    lazy : bool, default True
        Collect every failure before raising (``SchemaErrors``) instead of stopping at
        the first (``SchemaError``).

    Returns
    -------
    pandas.DataFrame
        The validated table (unchanged: the schemas never coerce).

    Raises
    ------
    pandera.errors.SchemaErrors
        When ``lazy`` and the table breaks the contract; ``.failure_cases`` lists every
        failure. :func:`table_problems` turns them into a tidy frame.
    """
    return _quietly_validate(_model(name), df, lazy)


def _quietly_validate(schema_or_model, df: pd.DataFrame, lazy: bool = True, inplace: bool = False) -> pd.DataFrame:
    with warnings.catch_warnings():
        # pandera 0.35 concatenates failure cases with all-NA columns (pandas FutureWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return schema_or_model.validate(df, lazy=lazy, inplace=inplace)


def table_problems(name: str, df: pd.DataFrame, check_dtypes: bool = True, check_keys: bool = True) -> pd.DataFrame:
    """Every way a table breaks its schema, one row per problem; never raises for bad data.

    Parameters
    ----------
    name : str
        A key of :data:`TABLES`.
    df : pandas.DataFrame
        The table.
    check_dtypes : bool, default True
        False skips pandera's element-wise type check of text columns (it visits every
        value in Python); for callers that build the columns themselves and compare dtypes
        with :func:`empty_table` instead, as cleaning does. Every other rule still applies.
    check_keys : bool, default True
        False skips the check of the composite key (:data:`KEYS` of a long table), a sort
        of millions of rows; for callers that have already removed every duplicate key, as
        cleaning does (it merges or quarantines them first). Only with ``check_dtypes=False``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PROBLEM_COLUMNS`; empty when the table is valid. ``rule`` is one
        of ``required``, ``allowed_values``, ``duplicate_key``, ``range``, ``dtype``,
        ``missing_column``, ``unexpected_column``, ``duplicate_column`` or a table's own check
        (``first_of_month``, ``closed_after_opened``, ``ongoing_iff_open``).

    Examples
    --------
    >>> costs = pd.DataFrame({"org": ["A"], "project": ["P"], "year": [1890],
    ...                       "expenses_rub": [1.0]})
    >>> table_problems("costs", costs)[["row", "column", "rule", "message"]]
      row column   rule                                 message
    0   0   year  range  year must be in 1990..2100, found 1890
    """
    s = schema(name)
    try:
        if check_dtypes:
            validate_table(name, df, lazy=True)
        else:
            loose = s.update_columns({c: {"dtype": None} for c, col in s.columns.items() if str(col.dtype) == "str"})
            if not check_keys:
                loose = copy.deepcopy(loose)
                loose.unique = None
            # the schemas never coerce, so validating in place changes nothing: no copy of the table
            _quietly_validate(loose, df, inplace=True)
    except SchemaErrors as err:
        return _from_failure_cases(name, s, err.failure_cases)
    return _no_problems()


def empty_table(name: str) -> pd.DataFrame:
    """A table with the canonical columns and dtypes and no rows."""
    kinds = {"str": object, "datetime64[ns]": "datetime64[ns]"}
    return pd.DataFrame(
        {
            col: pd.Series(dtype=kinds.get(str(c.dtype), str(c.dtype)))
            for col, c in schema(name).columns.items()
        }
    )


# ----------------------------------------------------------------- failure cases -> problems

_RULES = {
    "not_nullable": "required",
    "field_uniqueness": "duplicate_key",
    "multiple_fields_uniqueness": "duplicate_key",
    "isin": "allowed_values",
    "in_range": "range",
    "greater_than_or_equal_to": "range",
    "greater_than": "range",
    "less_than_or_equal_to": "range",
    "less_than": "range",
    "dtype": "dtype",
    "column_in_schema": "unexpected_column",
    "column_in_dataframe": "missing_column",
    "dataframe_column_labels_unique": "duplicate_column",
}
_BOUNDS = {  # pandera's name of a one-sided bound -> the sign in a message
    "greater_than_or_equal_to": ">=",
    "greater_than": ">",
    "less_than_or_equal_to": "<=",
    "less_than": "<",
}


def _own_checks() -> list[str]:
    out = []
    for model in TABLES.values():
        s = model.to_schema()
        out += [c.name for col in s.columns.values() for c in col.checks if c.name not in _RULES]
        out += [c.name for c in s.checks]
    return out


#: Rule names :func:`table_problems` reports: pandera's checks renamed, then the tables' own.
TABLE_RULES: tuple[str, ...] = tuple(dict.fromkeys([*_RULES.values(), *_own_checks()]))

#: Table-level checks report every column of a failing row; keep the one that matters.
_TABLE_CHECK_COLUMN = {"closed_after_opened": "closed", "ongoing_iff_open": "closure"}


def _fmt(value) -> str | None:
    """A value as readable text for the problems frame (None for a missing value)."""
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    return str(value)


def _no_problems() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS})


def _frame(records: list[dict]) -> pd.DataFrame:
    if not records:
        return _no_problems()
    return pd.DataFrame.from_records(records, columns=PROBLEM_COLUMNS).astype(object)


def _message(table: str, rule: str, column, value: str | None, row, check, quote: bool) -> str:
    """A short plain-English message for one pandera failure."""
    stats = getattr(check, "statistics", None) or {}
    shown = repr(value) if quote else value
    if rule == "required":
        return f"{column} is required but empty"
    if rule == "allowed_values":
        allowed = ", ".join(map(str, stats.get("allowed_values", [])))
        return f"{shown} is not an allowed {column} (allowed: {allowed})"
    if rule == "range":
        if "min_value" in stats and "max_value" in stats:
            return f"{column} must be in {stats['min_value']}..{stats['max_value']}, found {value}"
        bound = stats.get("min_value", stats.get("max_value"))
        return f"{column} must be {_BOUNDS.get(check.name, '?')} {bound}, found {value}"
    if rule == "duplicate_key":
        return f"{column} {value} occurs more than once"
    if rule == "dtype":
        expected = str(check)
        if row is None:
            return f"{column} has dtype {value}, expected {expected}"
        return f"{shown} in {column} is not a {expected} value"
    if rule == "missing_column":
        return f"column {column} is missing from {table}"
    if rule == "unexpected_column":
        return f"column {column} is not part of {table} (extra columns are not allowed)"
    if rule == "duplicate_column":
        return f"column {column} appears more than once"
    if row is None:  # a row-level check that raised instead of answering
        return f"check {rule} could not run: {value}"
    if getattr(check, "description", None):
        return check.description
    return f"{column} failed check {rule}"


def _from_failure_cases(table: str, s: pa.DataFrameSchema, fc: pd.DataFrame) -> pd.DataFrame:
    """Turn pandera's long ``failure_cases`` into the tidy problems frame.

    pandera 0.35 gives one row per failing value with ``schema_context, column, check,
    check_number, failure_case, index``; a table-level check that fails on a row is
    repeated for every column of that row, a composite key for every key column, and a
    table-level problem (missing or extra column, wrong dtype) has ``index`` None.
    """
    checks: dict = {}  # (column or None, pandera's check text) -> Check / dtype
    for c in s.checks:
        checks[(None, c.name)] = c
    for name, col in s.columns.items():
        checks[(name, f"dtype({str(col.dtype)!r})")] = col.dtype
        for c in col.checks:
            checks[(name, c.error or c.name)] = c
    fc = fc.reset_index(drop=True)
    records: list[dict] = []
    composite: dict = {}
    for context, check, column, case, index in zip(
        fc["schema_context"], fc["check"].astype(str), fc["column"], fc["failure_case"],
        fc["index"],
    ):
        base = check.partition("(")[0]
        rule = _RULES.get(base, check)
        row = None if index is None or (np.ndim(index) == 0 and pd.isna(index)) else index
        if base == "multiple_fields_uniqueness":
            composite.setdefault(row, {})[column] = _fmt(case)
            continue
        if context == "DataFrameSchema" and rule in _TABLE_CHECK_COLUMN:
            if row is not None and column != _TABLE_CHECK_COLUMN[rule]:
                continue  # pandera repeats a row-level table check for every column
            obj = checks.get((None, check))
            column = _TABLE_CHECK_COLUMN[rule]
        else:
            obj = checks.get((column, check))
        if rule in ("missing_column", "unexpected_column"):
            column, case = case, None
        elif rule == "duplicate_column":  # the failure case is an Index of the names
            column, case = ", ".join(map(str, case)), None
        value = _fmt(case)
        records.append(dict(table=table, row=row, column=column, value=value, rule=rule,
                            message=_message(table, rule, column, value, row, obj,
                                             quote=isinstance(case, str))))
    key = list(s.unique or [])
    for row, values in composite.items():
        vals = [str(values.get(k)) for k in key]
        records.append(dict(
            table=table, row=row, column=", ".join(key), value=" | ".join(vals),
            rule="duplicate_key",
            message=f"({', '.join(key)}) = ({', '.join(vals)}) occurs more than once",
        ))
    return _frame(records)


# ---------------------------------------------------------------------------- the dataset

_NAT = np.datetime64("NaT", "ns")


def _problems(table: str, df: pd.DataFrame, mask: np.ndarray, column: str, rule: str,
              fields: dict[str, np.ndarray], value, message) -> pd.DataFrame:
    """Problems for the rows of ``df`` where ``mask`` holds.

    ``fields`` are row-aligned arrays; only their flagged rows reach ``value`` and
    ``message`` (as Series), which build the text vectorised: the cost follows the
    number of problems, not the size of the table.
    """
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return _no_problems()
    n = int(m.sum())
    sub = {k: pd.Series(_flagged(v, m)) for k, v in fields.items()}
    return pd.DataFrame({
        "table": np.full(n, table, dtype=object),
        "row": np.asarray(df.index[m], dtype=object),
        "column": np.full(n, column, dtype=object),
        "value": np.asarray(value(sub), dtype=object),
        "rule": np.full(n, rule, dtype=object),
        "message": np.asarray(message(sub), dtype=object),
    })


def _flagged(values, mask: np.ndarray) -> np.ndarray:
    """The values at the flagged rows; a categorical column gives objects, None where missing.

    Only the flagged rows are converted: a categorical column of millions of rows is never
    turned into Python objects as a whole.
    """
    if isinstance(values, pd.Series):
        values = values.array
    if isinstance(values, pd.Categorical):
        out = np.asarray(values[mask], dtype=object)
        out[values.codes[mask] < 0] = None
        return out
    return np.asarray(values)[mask]


def _day(s: pd.Series, unit: str = "D") -> pd.Series:
    """Dates as ISO text ("open" for a missing date), vectorised in numpy."""
    text = np.datetime_as_string(s.to_numpy(dtype="datetime64[ns]"), unit=unit)
    return pd.Series(np.where(s.isna().to_numpy(), "open", text), dtype=object)


def _text(s: pd.Series) -> pd.Series:
    return s.astype(str)


def _dates(s: pd.Series) -> np.ndarray:
    return s.to_numpy(dtype="datetime64[ns]")


def _category_positions(ref_keys: pd.Categorical, keys: pd.Categorical) -> np.ndarray:
    """Like :meth:`_Dataset.positions` for two categorical columns, on their integer codes.

    Only the categories (the distinct keys) are matched by value, and not even they when
    both columns share one set of categories (as cleaning builds them).
    """
    ref_codes = np.asarray(ref_keys.codes, dtype=np.int64)
    present = np.flatnonzero(ref_codes >= 0)
    n = len(ref_codes)
    row_of_code = np.full(len(ref_keys.categories) + 1, n, dtype=np.int64)  # last slot: missing
    np.minimum.at(row_of_code, ref_codes[present], present)  # the first row of each code, without a sort
    row_of_code[row_of_code == n] = -1
    if ref_keys.categories is keys.categories or ref_keys.categories.equals(keys.categories):
        mapped = np.asarray(keys.codes, dtype=np.int64)
    else:
        to_ref = ref_keys.categories.get_indexer(keys.categories)
        codes = np.asarray(keys.codes, dtype=np.int64)
        mapped = np.where(codes >= 0, to_ref[np.maximum(codes, 0)] if len(to_ref) else -1, -1)
    return row_of_code[mapped]  # -1 (missing or not found) reads the last slot


def _differ(a, b) -> np.ndarray:
    """Elementwise ``a != b`` for arrays or Categoricals (on codes when they share categories)."""
    if isinstance(a, pd.Categorical) and isinstance(b, pd.Categorical) and (
            a.categories is b.categories or a.categories.equals(b.categories)):
        return a.codes != b.codes
    return np.asarray(a, dtype=object) != np.asarray(b, dtype=object)


class _Dataset:
    """The tables of one :func:`check_dataset` call, with their key lookups cached.

    A lookup hashes a referencing column once into row positions of the referenced
    table (-1 when the key is not there); every rule then works on integer positions.
    """

    def __init__(self, tables: Mapping[str, pd.DataFrame]):
        self.tables = tables
        self._positions: dict[tuple[str, str, str], np.ndarray] = {}

    def has(self, *needs: tuple[str, tuple[str, ...]]) -> bool:
        """Whether every needed table is given and holds the needed columns."""
        return all(t in self.tables and set(c) <= set(self.tables[t].columns) for t, c in needs)

    def dates_ok(self, *columns: tuple[str, str]) -> bool:
        """Whether date columns are tz-naive datetime64 (else the table's schema says so)."""
        return all(_is_dates(self.tables[t][c]) for t, c in columns)

    def positions(self, table: str, column: str, ref: str) -> np.ndarray:
        """Row position in ``ref`` of each row's ``column`` key (the first match), or -1."""
        key = (table, column, ref)
        if key not in self._positions:
            ref_keys, keys = self.tables[ref][column], self.tables[table][column]
            if isinstance(ref_keys.dtype, pd.CategoricalDtype) and isinstance(keys.dtype, pd.CategoricalDtype):
                self._positions[key] = _category_positions(ref_keys.array, keys.array)
            else:
                first = np.flatnonzero((ref_keys.notna() & ~ref_keys.duplicated()).to_numpy())
                found = pd.Index(ref_keys.to_numpy()[first]).get_indexer(keys.to_numpy())
                self._positions[key] = np.where(found >= 0, first[np.maximum(found, 0)], -1) \
                    if len(first) else np.full(len(found), -1)
        return self._positions[key]

    def take(self, ref: str, column: str, pos: np.ndarray, missing=None):
        """Values of ``ref[column]`` at row positions ``pos`` (``missing`` where -1).

        A categorical column gives a Categorical (missing where -1), anything else an array.
        """
        column_values = self.tables[ref][column]
        if isinstance(column_values.dtype, pd.CategoricalDtype):
            return column_values.array.take(pos, allow_fill=True)
        values = column_values.to_numpy()
        if not len(values):
            return np.full(len(pos), missing, dtype=values.dtype if missing is _NAT else object)
        return np.where(pos >= 0, values[np.maximum(pos, 0)], missing)

    # -- the rules ------------------------------------------------------------------
    def exists(self, table: str, column: str, ref: str, rule: str) -> pd.DataFrame:
        if not self.has((table, (column,)), (ref, (column,))):
            return _no_problems()
        df = self.tables[table]
        ids = df[column]
        mask = self.positions(table, column, ref) < 0
        mask &= ids.notna().to_numpy()  # an empty key is a per-table problem
        return _problems(table, df, mask, column, rule, {"id": ids},
                         value=lambda f: _text(f["id"]),
                         message=lambda f: f"{column} " + _text(f["id"]) + f" is not in {ref}")

    def case_matches_family(self) -> pd.DataFrame:
        if not self.has(("assessments", ("child_id", "case_id")),
                        ("children", ("child_id", "family_id")),
                        ("cases", ("case_id", "family_id"))):
            return _no_problems()
        a = self.tables["assessments"]
        child_pos = self.positions("assessments", "child_id", "children")
        case_pos = self.positions("assessments", "case_id", "cases")
        child_family = self.take("children", "family_id", child_pos)
        case_family = self.take("cases", "family_id", case_pos)
        mask = (child_pos >= 0) & (case_pos >= 0) & _differ(child_family, case_family)
        mask[mask] = pd.notna(child_family[mask]) & pd.notna(case_family[mask])
        fields = {"case": a["case_id"], "child": a["child_id"],
                  "case_family": case_family, "child_family": child_family}
        return _problems(
            "assessments", a, mask, "case_id", "assessment_case_matches_family", fields,
            value=lambda f: _text(f["case"]),
            message=lambda f: "case " + _text(f["case"]) + " belongs to family "
            + _text(f["case_family"]) + ", but child " + _text(f["child"])
            + " is in family " + _text(f["child_family"]))

    def within_life(self, table: str, rule: str) -> list[pd.DataFrame]:
        if not (self.has((table, ("child_id", "date")), ("children", ("child_id", "birth_month")))
                and self.dates_ok((table, "date"), ("children", "birth_month"))):
            return []
        df = self.tables[table]
        pos = self.positions(table, "child_id", "children")
        date = _dates(df["date"])
        birth = self.take("children", "birth_month", pos, _NAT).astype("datetime64[ns]")
        what = table[:-1]  # "event" / "contact"
        out = [_problems(  # comparisons with NaT are False: unknown dates never flag
            table, df, date < birth, "date", rule, {"date": date, "birth": birth},
            value=lambda f: _day(f["date"]),
            message=lambda f: f"{what} on " + _day(f["date"])
            + " is before the child's birth month " + _day(f["birth"], unit="M"))]
        if table == "events" and "event" in df:
            died = (df["event"] == "died").to_numpy() & (pos >= 0)
            first_death = pd.Series(date[died]).groupby(pos[died]).min()
            death_of = np.full(len(self.tables["children"]), _NAT)
            death_of[first_death.index.to_numpy()] = first_death.to_numpy()
            death = np.where(pos >= 0, death_of[np.maximum(pos, 0)], _NAT) if len(death_of) \
                else np.full(len(df), _NAT)
            out.append(_problems(
                table, df, date > death, "date", rule, {"date": date, "death": death},
                value=lambda f: _day(f["date"]),
                message=lambda f: "event on " + _day(f["date"])
                + " is after the child's death on " + _day(f["death"])))
        return out

    def service_within_case(self) -> pd.DataFrame:
        if not (self.has(("services", ("case_id", "date")),
                         ("cases", ("case_id", "opened", "closed")))
                and self.dates_ok(("services", "date"), ("cases", "opened"),
                                  ("cases", "closed"))):
            return _no_problems()
        sv = self.tables["services"]
        pos = self.positions("services", "case_id", "cases")
        date = _dates(sv["date"])
        opened = self.take("cases", "opened", pos, _NAT).astype("datetime64[ns]")
        closed = self.take("cases", "closed", pos, _NAT).astype("datetime64[ns]")
        mask = (date < opened) | (date > closed)  # NaT compares False: open cases never end
        fields = {"date": date, "case": sv["case_id"], "opened": opened,
                  "closed": closed}
        return _problems(
            "services", sv, mask, "date", "service_within_case", fields,
            value=lambda f: _day(f["date"]),
            message=lambda f: "service on " + _day(f["date"]) + " is outside case "
            + _text(f["case"]) + " (" + _day(f["opened"]) + " to " + _day(f["closed"]) + ")")


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return _no_problems()
    return pd.concat(parts, ignore_index=True)


def check_dataset(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The cross-table rules (:data:`CROSS_TABLE_RULES`) over a set of canonical tables.

    Parameters
    ----------
    tables : mapping of str to pandas.DataFrame
        Canonical tables by name. Missing tables (and the rules needing them) are
        skipped, as are rules whose columns are missing or whose dates are not
        tz-naive datetime64: the per-table schema reports those.

    Returns
    -------
    pandas.DataFrame
        One row per problem, columns :data:`PROBLEM_COLUMNS`; ``row`` is the index label
        of the offending row in ``table``. A key that is duplicated in the referenced
        table resolves to its first row (the duplicate is a per-table problem).

    Notes
    -----
    Vectorised: each reference is hashed once into row positions of the referenced
    table, and every rule then compares numpy arrays, so a register of a million
    children with millions of records is checked in seconds.

    Examples
    --------
    >>> children = empty_table("children")
    >>> children.loc[0] = ["C1", "F9", "girl", pd.NaT, pd.NA]
    >>> check_dataset({"families": empty_table("families"), "children": children})[
    ...     ["table", "row", "rule", "message"]]
          table row                 rule                          message
    0  children   0  child_family_exists  family_id F9 is not in families
    """
    ds = _Dataset(tables)
    parts = [
        ds.exists("children", "family_id", "families", "child_family_exists"),
        ds.exists("cases", "family_id", "families", "case_family_exists"),
        ds.exists("assessments", "child_id", "children", "assessment_child_exists"),
        ds.exists("assessments", "case_id", "cases", "assessment_case_exists"),
        ds.case_matches_family(),
        ds.exists("events", "child_id", "children", "event_child_exists"),
        ds.exists("contacts", "child_id", "children", "contact_child_exists"),
        ds.exists("services", "case_id", "cases", "service_case_exists"),
        *ds.within_life("events", "event_within_life"),
        *ds.within_life("contacts", "contact_within_life"),
        ds.service_within_case(),
    ]
    return _concat(parts)


def validate_dataset(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every problem of a dataset: each table against its schema, then the cross-table rules.

    Parameters
    ----------
    tables : mapping of str to pandas.DataFrame
        Canonical tables by name. Missing tables are skipped; a name that is not a
        canonical table is itself a problem (rule ``unknown_table``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PROBLEM_COLUMNS`, per-table problems first (in :data:`TABLES`
        order), then cross-table problems. Empty when the dataset keeps the contract.
    """
    parts = [table_problems(name, tables[name]) for name in TABLES if name in tables]
    unknown = [
        dict(table=name, row=None, column=None, value=None, rule="unknown_table",
             message=f"{name} is not a canonical table (known: {', '.join(TABLES)})")
        for name in tables if name not in TABLES
    ]
    parts.append(_frame(unknown))
    parts.append(check_dataset(tables))
    return _concat(parts)
