"""Normalisers: raw cell values (as a :class:`~evalkit.readers.RawSheet` holds them) to canonical values.

Every normaliser takes a Series of raw values — text, ``datetime`` cells, numbers, bools,
None — and returns a :class:`Normalised`: the clean values in the canonical dtype, per
value the pattern that read it (``how``), whether a present value was unusable
(``failed``) and why (``reason``), all on the input's index. Empty values (None, NaN,
``""``, blank text) are never failures: whether a missing value is allowed is the
pipeline's decision.

Everything is vectorised over the *distinct* values: a column is factorised, each distinct
raw value is read once (by pattern, with pandas' string methods and pyarrow's regular
expressions; a date from the day, month and year its pattern names, never dateutil's
guessing, which silently reads "2014-10-02" day-first), and the results are mapped back. On the 2-core reference
machine a million dates in mixed formats (cells, serials, dmy, dmy_short, iso, words)
take 0.8 s, a million distinct identifiers 1.4 s, a million yes/no values 0.1 s.

Arrow-backed text (``string[pyarrow]``, what :func:`evalkit.readers.read_sheet` gives with
``arrow=True``) is read the same way, with its distinct values, stripping and whitespace
checks computed in pyarrow: only the distinct values become Python strings.
:func:`identifiers` and :func:`categories` can give their codes as a Categorical
(``as_category=True``, sorted categories), which is what cleaning keeps in memory.

Matching of spellings (:func:`booleans`, :func:`categories`) ignores surrounding and
repeated whitespace, case and "ё"/"е" (and, for categories, a trailing dot); ``how`` tells
whether a value matched exactly as listed or only after that.

Examples
--------
>>> import pandas as pd
>>> r = dates(pd.Series(["12.03.2020", "12 марта 2020 г.", "43902", "31.02.2020", None]))
>>> r.clean.dt.strftime("%Y-%m-%d").tolist()[:3], r.how.tolist(), r.reason.tolist()[3]
(['2020-03-12', '2020-03-12', '2020-03-12'], ['dmy', 'words', 'serial', 'dmy', None], 'no such date')
"""

from __future__ import annotations

import datetime
import numbers as _numbers
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evalkit.errors import UserError

__all__ = ["Normalised", "dates", "birth_months", "booleans", "categories", "unmatched", "numbers", "integers",
           "identifiers", "MISSING_VALUES", "RU_MONTHS", "EXCEL_EPOCH", "DATE_ORDERS"]

#: spellings read as "not known" by :func:`booleans` (clean value missing, not a failure)
MISSING_VALUES = ("", "не известно", "неизвестно", "?", "н/д")
#: day 0 of Excel's serial dates (1900 date system, with its phantom 29.02.1900 before day 61)
EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
#: the numeric day/month orders :func:`dates` knows (``base=``)
DATE_ORDERS = ("dmy", "mdy")
#: Russian month names (genitive, nominative, short forms; "ё" written "е") -> month number
RU_MONTHS = {
    **{m: i + 1 for i, m in enumerate(("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
                                        "сентября", "октября", "ноября", "декабря"))},
    **{m: i + 1 for i, m in enumerate(("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август",
                                        "сентябрь", "октябрь", "ноябрь", "декабрь"))},
    **{m: i + 1 for i, m in enumerate(("янв", "фев", "мар", "апр", "май", "июн", "июл", "авг", "сен", "окт",
                                        "ноя", "дек"))},
    "февр": 2, "сент": 9, "нояб": 11,
}

_NO_SUCH_DATE, _NOT_A_DATE, _AMBIGUOUS = "no such date", "not a date", "ambiguous day and month"
_UNKNOWN, _NOT_A_NUMBER, _NOT_WHOLE = "unknown value", "not a number", "not a whole number"
_NOT_AN_ID, _DATE_AS_ID = "not an identifier", "a date cell, not an identifier"
#: years pandas' datetime64[ns] can hold
_NS_YEARS = (1678, 2261)
#: whitespace used as a thousands separator: space, NBSP, thin space, narrow NBSP
_THOUSANDS = "[ \u00a0\u2009\u202f]"
_TIME = r"(?:[ t](?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]+)?)?)?"
_YEAR_WORD = r"(?:\s*(?:г\.?|года?))?"


@dataclass
class Normalised:
    """What a normaliser made of a column of raw values (all on the input's index).

    Attributes
    ----------
    clean : pandas.Series
        Canonical values: datetime64[ns], "boolean", "Int64", float64 or object (codes,
        identifiers); missing (None/NaT/NA) where the raw value was empty or failed.
    how : pandas.Series
        Object: the pattern that read each value ("cell", "dmy", "iso", "words",
        "serial", "exact", "stripped", "variant", "text", "ru_text", ...); None where empty.
    failed : numpy.ndarray
        Bool: a value was present but unusable.
    reason : pandas.Series
        Object: why a value failed ("no such date", "unknown value", ...); None elsewhere.

    A normaliser that read distinct values gives ``how`` and ``reason`` per distinct value
    (``distinct``) and makes their per-row Series only when they are first read: cleaning
    reads them per distinct value.
    """

    clean: pd.Series
    how: pd.Series
    failed: np.ndarray
    reason: pd.Series
    #: (per-row index of the distinct raw value, -1 where empty; ``how`` and ``reason`` per
    #: distinct value) when the normaliser read distinct values, else None
    distinct: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def summary(self) -> pd.DataFrame:
        """Counts of values by ``how`` and ``reason`` (empty values under how None)."""
        df = pd.DataFrame({"how": self.how.to_numpy(), "reason": self.reason.to_numpy()})
        return (df.fillna({"how": "(empty)", "reason": ""}).groupby(["how", "reason"], sort=True).size()
                .rename("n").reset_index())


class _Spread:
    """Per-distinct values of a column, spread to its rows (an object Series) when first asked for."""

    __slots__ = ("per_distinct", "codes", "index", "name")

    def __init__(self, per_distinct: np.ndarray, codes: np.ndarray, index: pd.Index, name):
        self.per_distinct, self.codes, self.index, self.name = per_distinct, codes, index, name

    def series(self) -> pd.Series:
        table = np.empty(len(self.per_distinct) + 1, dtype=object)
        table[:-1] = self.per_distinct
        table[-1] = None  # code -1: an empty cell
        return pd.Series(table[self.codes], index=self.index, name=self.name, dtype=object)


def _spread_when_read(name: str) -> property:
    """A :class:`Normalised` field that may be given as a :class:`_Spread`, made a Series when read."""
    attr = f"_{name}"

    def get(self):
        value = getattr(self, attr)
        if isinstance(value, _Spread):
            value = value.series()
            setattr(self, attr, value)
        return value

    def put(self, value):
        setattr(self, attr, value)

    return property(get, put)


Normalised.how = _spread_when_read("how")
Normalised.reason = _spread_when_read("reason")


# ----------------------------------------------------------------------------- distinct values

class _Distinct:
    """The distinct values of a column, what kind each is, and the way back to every row.

    ``kind`` per distinct value: "text" (non-blank str), "blank" (blank str), "bool",
    "number", "datetime" (a date cell) or "other". ``text`` holds the stripped text of the
    "text" values (a Series indexed by their position among the distinct values).

    For Arrow input ``values`` and ``text`` become Python strings only when first asked
    for: :func:`identifiers` reads Arrow text without them.
    """

    def __init__(self, values):
        values = values if isinstance(values, pd.Series) else pd.Series(values)
        self.index, self.name = values.index, values.name
        #: the stripped non-blank texts as a pyarrow array (Arrow input only), aligned with ``text``
        self.arrow_text = None
        #: the distinct values as a pyarrow array (Arrow input only), aligned with ``values``
        self.arrow_values = None
        strings = _arrow_strings(values)
        if strings is not None:  # Arrow text (the CSV reader's): distinct values found in C++, all text
            self._from_arrow(strings)
            return
        arr = values.to_numpy(dtype=object, na_value=None)
        codes, uniq = pd.factorize(arr)
        self.codes, self._values = _split_bools(arr, codes, np.asarray(uniq, dtype=object))
        self.kind = _kinds(self._values)
        texts = self.kind == "text"
        stripped = pd.Series(self._values[texts], index=np.flatnonzero(texts), dtype=object).str.strip()
        blank = (stripped == "").to_numpy()
        self.kind[stripped.index[blank]] = "blank"
        self._text = stripped[~blank]

    def _from_arrow(self, strings) -> None:
        """Distinct values, kinds and stripped text of an Arrow text column, computed in pyarrow.

        pyarrow's whitespace is Python's (``str.isspace``; checked in the tests), so the
        stripping is that of ``str.strip``.
        """
        self.codes, self.arrow_values = _arrow_distinct(strings)
        stripped = pc.utf8_trim_whitespace(self.arrow_values)
        blank = np.asarray(pc.equal(stripped, "").to_numpy(zero_copy_only=False), dtype=bool)
        self.kind = np.array(["text", "blank"], dtype=object)[blank.astype(np.intp)]  # (no new string per value)
        self.arrow_text = stripped.filter(pa.array(~blank))
        self._values = self._text = None

    @property
    def values(self) -> np.ndarray:
        """The distinct raw values (object array)."""
        if self._values is None:
            self._values = np.asarray(self.arrow_values.to_numpy(zero_copy_only=False), dtype=object)
        return self._values

    @property
    def text(self) -> pd.Series:
        """The stripped texts of the "text" values, indexed by their position among the distinct values."""
        if self._text is None:
            self._text = pd.Series(self.arrow_text.to_numpy(zero_copy_only=False), index=self.where("text"),
                                   dtype=object)
        return self._text

    def __len__(self) -> int:
        return len(self.kind)

    def where(self, kind: str) -> np.ndarray:
        """Positions of the distinct values of one kind."""
        return np.flatnonzero(self.kind == kind)

    def expand(self, per_distinct: np.ndarray, fill) -> np.ndarray:
        """Per-distinct results back to one per row (``fill`` for empty rows)."""
        out = np.empty(len(per_distinct) + 1, dtype=per_distinct.dtype)
        out[:-1] = per_distinct
        out[-1] = fill
        return out[self.codes]

    def categorical(self, per_distinct: np.ndarray) -> pd.Categorical:
        """Per-distinct text values (None for missing) as a per-row Categorical.

        The categories are the distinct clean values in sorted order, so sorting by the
        codes sorts by the text; only the distinct values are hashed and sorted (by
        pyarrow: UTF-8 byte order is code point order, Python's order of strings).
        """
        return self.categorical_of(pa.array(per_distinct, type=pa.string(), from_pandas=True))

    def categorical_of(self, text: pa.Array) -> pd.Categorical:
        """:meth:`categorical` of per-distinct text values given as a pyarrow array (null for missing)."""
        categories = pc.unique(text.drop_null())
        categories = categories.take(pc.sort_indices(categories))
        codes = pc.fill_null(pc.index_in(text, value_set=categories), -1).to_numpy(zero_copy_only=False)
        dtype = pd.CategoricalDtype(pd.Index(categories.to_numpy(zero_copy_only=False), dtype=object))
        return pd.Categorical.from_codes(self.expand(np.asarray(codes, dtype=np.int64), -1), dtype=dtype)

    def result(self, clean: pd.Series | pd.api.extensions.ExtensionArray | np.ndarray, how: np.ndarray,
               reason: np.ndarray) -> Normalised:
        """Assemble a :class:`Normalised` from per-row clean values and per-distinct how/reason."""
        codes = np.asarray(self.codes)
        failed = self.expand(pd.notna(reason).astype(bool), False)  # per distinct value, then per row
        dtype = object if isinstance(clean, np.ndarray) and clean.dtype == object else None
        return Normalised(clean=pd.Series(clean, index=self.index, name=self.name, dtype=dtype),
                          how=_Spread(how, codes, self.index, self.name),
                          failed=failed,
                          reason=_Spread(reason, codes, self.index, self.name),
                          distinct=(codes, how, reason))


def _arrow_strings(values: pd.Series):
    """The column as a pyarrow ChunkedArray when it holds Arrow-backed text, else None."""
    dtype = values.dtype
    arrow_text = (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow") or (
        isinstance(dtype, pd.ArrowDtype) and (pa.types.is_string(dtype.pyarrow_dtype)
                                              or pa.types.is_large_string(dtype.pyarrow_dtype)))
    return values.array.__arrow_array__() if arrow_text else None


def _arrow_distinct(strings) -> tuple[np.ndarray, pa.Array]:
    """(per-row code, -1 where missing; the distinct values as a pyarrow array) of Arrow text.

    Like :func:`pandas.factorize` (distinct values in order of first appearance), but the
    hashing runs in pyarrow and only the distinct values become Python strings.
    """
    strings = strings.combine_chunks() if isinstance(strings, pa.ChunkedArray) else strings
    encoded = pc.dictionary_encode(strings)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.intp)
    return codes, encoded.dictionary


_TRUE, _FALSE = object(), object()  # bools kept apart from 1 and 0, which hash equal


def _split_bools(arr: np.ndarray, codes: np.ndarray, uniq: np.ndarray):
    """Refactorise a column mixing bools with numbers: True == 1 would share a distinct value."""
    if not any(isinstance(u, (_numbers.Number, np.bool_)) and u in (0, 1) for u in uniq):
        return codes, uniq
    is_bool = np.frompyfunc(lambda v: isinstance(v, (bool, np.bool_)), 1, 1)(arr).astype(bool)
    if not is_bool.any() or is_bool[codes >= 0].all():
        return codes, uniq
    key = arr.copy()
    key[is_bool] = np.where(arr[is_bool].astype(bool), _TRUE, _FALSE)
    codes, _ = pd.factorize(key)
    first = np.unique(codes, return_index=True)
    keep = first[0] >= 0
    return codes, arr[first[1][keep]]


def _kinds(uniq: np.ndarray) -> np.ndarray:
    inferred = pd.api.types.infer_dtype(uniq, skipna=True)
    if inferred == "string":
        return np.full(len(uniq), "text", dtype=object)
    if inferred in ("floating", "integer", "mixed-integer-float"):
        return np.full(len(uniq), "number", dtype=object)
    return np.array([_kind(v) for v in uniq], dtype=object)  # mixed: per distinct value


def _kind(v) -> str:
    if isinstance(v, str):
        return "text"
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (datetime.date, np.datetime64)):
        return "datetime"
    if isinstance(v, _numbers.Real):
        return "number"
    return "other"


def _as_floats(vals: np.ndarray) -> np.ndarray:
    """Number cells as float64; a Python int too big for a float becomes inf."""
    try:
        return np.asarray(vals, dtype=object).astype(float)
    except OverflowError:
        return np.array([_float_or_inf(v) for v in vals], dtype=float)


def _float_or_inf(v) -> float:
    try:
        return float(v)
    except OverflowError:
        return np.inf if v > 0 else -np.inf


def _empty(n: int, dtype=object, fill=None) -> np.ndarray:
    return np.full(n, fill, dtype=dtype)


def _key(s: pd.Series, trailing_dot: bool = False) -> pd.Series:
    """Matching key: stripped, case-folded, inner whitespace collapsed, "ё" as "е"."""
    k = s.astype(str).str.strip().str.casefold().str.replace(r"\s+", " ", regex=True).str.replace("ё", "е")
    return k.str.replace(r"\s*\.$", "", regex=True) if trailing_dot else k


_SPACES, _TRAILING_DOT = re.compile(r"\s+"), re.compile(r"\s*\.$")


def _key_text(s, trailing_dot: bool = False) -> str:
    """:func:`_key` of one value (for the spellings of a mapping: no pandas per value)."""
    k = _SPACES.sub(" ", str(s).strip().casefold()).replace("ё", "е")
    return _TRAILING_DOT.sub("", k) if trailing_dot else k


def _number_as_text(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    f = _float_or_inf(v)
    return str(int(f)) if np.isfinite(f) and f.is_integer() else repr(f)


# ----------------------------------------------------------------------------- dates

def _numeric_patterns(order: str) -> list[tuple[str, str]]:
    """(how, regex) of the numeric date patterns for one day/month order (groups d, m, y)."""
    a, b = ("d", "m") if order == "dmy" else ("m", "d")
    two = r"[0-9]{1,2}"
    return [
        (order, rf"(?P<date>(?P<{a}>{two})\.(?P<{b}>{two})\.(?P<y>[0-9]{{4}})){_TIME}{_YEAR_WORD}"),
        (f"{order}_short", rf"(?P<date>(?P<{a}>{two})\.(?P<{b}>{two})\.(?P<y>[0-9]{{2}})){_YEAR_WORD}"),
        (f"{order}_slash", rf"(?P<date>(?P<{a}>{two})/(?P<{b}>{two})/(?P<y>[0-9]{{4}})){_TIME}"),
    ]


_ISO = ("iso", rf"(?P<date>(?P<y>[0-9]{{4}})-(?P<m>[0-9]{{1,2}})-(?P<d>[0-9]{{1,2}})){_TIME}")
_WORDS = ("words", rf"«?(?P<d>[0-9]{{1,2}})»?\s*(?P<mon>[а-я]+)\.?\s*(?P<y>[0-9]{{4}}){_YEAR_WORD}")
#: the first and last day datetime64[ns] holds at midnight (pandas' Timestamp.min and max are within them)
_NS_DAYS = (np.datetime64("1677-09-22", "D"), np.datetime64("2262-04-11", "D"))
_SERIAL_TEXT = r"[0-9]{5}"


def _re2(regex: str) -> str:
    """One of this module's patterns for pyarrow's RE2, matching what Python's ``re`` matches.

    The patterns use only literals, ranges of code points and ``\\s``, which RE2 reads as
    ASCII whitespace only: it becomes the class of every character ``str.isspace`` (Python's
    ``\\s``) calls whitespace. RE2 reports the submatches a backtracking engine finds (a test
    compares the two on every pattern).
    """
    return regex.replace(r"\s", "[ " + "".join(f"\\x{{{ord(c):04x}}}" for c in _OTHER_WHITESPACE) + "]")


def _arrow_of(text: pd.Series) -> pa.Array | None:
    """The texts as an Arrow array; None when one is not UTF-8 (a lone surrogate from a workbook)."""
    try:
        return pa.array(text.to_numpy(dtype=object), type=pa.string())
    except UnicodeEncodeError:
        return None


def _fullmatch(text: pd.Series, regex: str, arrow: pa.Array | None = None) -> np.ndarray:
    """``text.str.fullmatch(regex)`` as bools, for stripped texts (no line break for ``$`` to
    skip), by pyarrow: no Python call per text. ``arrow``: the texts already as Arrow."""
    arrow = _arrow_of(text) if arrow is None else arrow
    if arrow is None:
        return text.str.fullmatch(regex).to_numpy(dtype=bool)
    found = pc.match_substring_regex(arrow, f"^(?:{_re2(regex)})$")
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def _extract(text: pd.Series, regex: str, arrow: pa.Array | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """Which texts ``regex`` matches in full, and its named groups in those (a frame on their index).

    What ``text.str.extract(f"^{regex}$")`` finds in the texts that match, for stripped texts
    (no line break for ``$`` to skip), found by pyarrow instead of a Python call per text.
    ``arrow``: the texts already as Arrow.
    """
    arrow = _arrow_of(text) if arrow is None else arrow
    if arrow is None:
        parts = text.str.extract(f"^{regex}$")
        matched = parts.notna().any(axis=1).to_numpy()
        return matched, parts[matched].astype(object)
    found = pc.extract_regex(arrow, f"^{_re2(regex)}$")
    matched = np.asarray(found.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    hits = found.filter(pa.array(matched))
    groups = {f.name: hits.field(i).to_numpy(zero_copy_only=False) for i, f in enumerate(found.type)}
    return matched, pd.DataFrame(groups, index=text.index[matched], dtype=object)


def _calendar_days(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Year, month and day numbers as datetime64[D]; NaT where there is no such date or
    datetime64[ns] cannot hold it: what ``pd.to_datetime(text, format="%d.%m.%Y",
    errors="coerce")`` makes of the same numbers written as text (checked in the tests), by
    numpy's calendar instead of parsing text again."""
    year, month, day = (np.asarray(v, dtype=np.int64) for v in (year, month, day))
    valid = (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31) & (year >= 1) & (year <= 9999)
    first = np.where(valid, (year - 1970) * 12 + month - 1, 0).astype("datetime64[M]")
    days = first.astype("datetime64[D]") + np.where(valid, day - 1, 0)
    valid &= days < (first + 1).astype("datetime64[D]")  # within its month: no 31.04 or 29.02.2021
    valid &= (days >= _NS_DAYS[0]) & (days <= _NS_DAYS[1])
    return np.where(valid, days, np.datetime64("NaT", "D"))


def _date_range(min_date, max_date) -> tuple[np.datetime64, np.datetime64]:
    lo = np.datetime64(pd.Timestamp(min_date).date(), "D")
    hi = np.datetime64((pd.Timestamp.today() if max_date is None else pd.Timestamp(max_date)).date(), "D")
    return lo, hi


class _DateReader:
    """Reads the distinct values of a column as dates, pattern by pattern."""

    def __init__(self, d: _Distinct, lo: np.datetime64, hi: np.datetime64, base: tuple[str, ...]):
        self.d, self.lo, self.hi, self.base = d, lo, hi, base
        n = len(d)
        self.parsed = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")  # any real calendar date
        self.days = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")  # ... within the range
        self.how = _empty(n)
        self.reason = _empty(n)
        self.reason[d.where("bool")] = _NOT_A_DATE
        self.reason[d.where("other")] = _NOT_A_DATE

    def run(self) -> "_DateReader":
        self._cells(self.d.where("datetime"))
        self._serial_numbers(self.d.where("number"))
        # the texts not read yet, and the same as Arrow (converted once, filtered along; None when
        # one is not UTF-8) for pyarrow's regexes
        text = self.d.text.str.casefold()
        text, arrow = self._serial_text(text, _arrow_of(text))
        for order in self.base:  # numeric patterns, one day/month order at a time
            for how, regex in _numeric_patterns(order):
                text, arrow = self._pattern(text, arrow, how, regex, short_year=how.endswith("_short"))
        text, arrow = self._pattern(text, arrow, *_ISO)
        text = self._words(text)
        self.reason[text.index] = _NOT_A_DATE
        return self

    def _settle(self, pos: np.ndarray, days: np.ndarray, how: str | np.ndarray) -> None:
        """Record parsed days (datetime64[D]) at distinct positions, with the range check."""
        before, after = days < self.lo, days > self.hi
        self.parsed[pos] = days
        self.how[pos] = how
        self.reason[pos[before]] = f"date before {self.lo}"
        self.reason[pos[after]] = f"date after {self.hi}"
        ok = ~(before | after)
        self.days[pos[ok]] = days[ok]

    def _cells(self, pos: np.ndarray) -> None:
        if not len(pos):
            return
        days = np.array([np.datetime64(v, "D") if isinstance(v, np.datetime64)
                         else np.datetime64(datetime.date(v.year, v.month, v.day), "D")
                         for v in self.d.values[pos]], dtype="datetime64[D]")
        self._settle(pos, days, "cell")

    def _serial(self, pos: np.ndarray, serials: np.ndarray) -> None:
        plausible = np.isfinite(serials) & (serials >= 10_000) & (serials < 100_000)
        self.reason[pos[~plausible]] = _NOT_A_DATE
        pos, serials = pos[plausible], serials[plausible]
        self._settle(pos, EXCEL_EPOCH + np.floor(serials).astype("int64"), "serial")

    def _serial_numbers(self, pos: np.ndarray) -> None:
        if len(pos):
            self._serial(pos, _as_floats(self.d.values[pos]))

    @staticmethod
    def _rest(text: pd.Series, arrow: pa.Array | None, hit: np.ndarray) -> tuple[pd.Series, pa.Array | None]:
        rest = ~hit
        return text[rest], None if arrow is None else arrow.filter(pa.array(rest))

    def _serial_text(self, text: pd.Series, arrow: pa.Array | None) -> tuple[pd.Series, pa.Array | None]:
        if not len(text):
            return text, arrow
        m = _fullmatch(text, _SERIAL_TEXT, arrow)
        if not m.any():
            return text, arrow
        self._serial(text.index[m].to_numpy(), text[m].astype(float).to_numpy())
        return self._rest(text, arrow, m)

    def _pattern(self, text: pd.Series, arrow: pa.Array | None, how: str, regex: str,
                 short_year: bool = False) -> tuple[pd.Series, pa.Array | None]:
        """Read the values whose shape matches ``regex`` by its day, month and year; return the rest."""
        if not len(text):
            return text, arrow
        hit, parts = _extract(text, regex, arrow)
        if not hit.any():
            return text, arrow
        year = parts["y"].astype(int).to_numpy()
        if short_year:  # two-digit years: 00-69 -> 2000s, 70-99 -> 1900s
            year = year + np.where(year <= 69, 2000, 1900)
        self._parsed(parts.index.to_numpy(), year, parts["m"].astype(int).to_numpy(), parts["d"].astype(int).to_numpy(),
                     how)
        return self._rest(text, arrow, hit)

    def _parsed(self, pos: np.ndarray, year: np.ndarray, month: np.ndarray, day: np.ndarray, how: str) -> None:
        """Record dates from their numbers; NaT means no such date (or a year pandas can't hold)."""
        days = _calendar_days(year, month, day)
        good = ~np.isnat(days)
        self._settle(pos[good], days[good], how)
        bad, year = pos[~good], year[~good]
        far = (year < _NS_YEARS[0]) | (year > _NS_YEARS[1])
        self.how[bad] = how
        self.reason[bad] = _NO_SUCH_DATE
        self.reason[bad[far & (year > _NS_YEARS[1])]] = f"date after {self.hi}"
        self.reason[bad[far & (year < _NS_YEARS[0])]] = f"date before {self.lo}"

    def _words(self, text: pd.Series) -> pd.Series:
        """"12 марта 2020 г.", "12 мар. 2020", "«12» марта 2020 года" -> day.month.year."""
        if not len(text):
            return text
        matched, parts = _extract(_key(text), _WORDS[1])
        month = parts["mon"].map(RU_MONTHS)
        known = month.notna().to_numpy()  # a month name this module knows
        hit = np.zeros(len(text), dtype=bool)
        hit[np.flatnonzero(matched)[known]] = True
        if hit.any():
            p = parts[known]
            self._parsed(p.index.to_numpy(), p["y"].astype(int).to_numpy(), month[known].astype(int).to_numpy(),
                         p["d"].astype(int).to_numpy(), _WORDS[0])
        return text[~hit]


def _resolve_orders(d: _Distinct, lo, hi, base: tuple[str, ...]) -> _DateReader:
    """Read with each day/month order of ``base``; values read differently by two orders fail."""
    if len(base) == 1:
        return _DateReader(d, lo, hi, base).run()
    readers = [_DateReader(d, lo, hi, (order,)).run() for order in base]
    first = readers[0]
    for other in readers[1:]:
        numeric = np.array([isinstance(h, str) and h.startswith(other.base[0]) for h in other.how], dtype=bool)
        mine, theirs = ~np.isnat(first.parsed), ~np.isnat(other.parsed)
        clash = numeric & mine & theirs & (first.parsed != other.parsed)
        take = numeric & ~mine & theirs
        for name in ("parsed", "days", "how", "reason"):
            getattr(first, name)[take] = getattr(other, name)[take]
        first.days[clash], first.reason[clash] = np.datetime64("NaT"), _AMBIGUOUS
    return first


def dates(values, *, min_date="1990-01-01", max_date=None, base=("dmy",)) -> Normalised:
    """Read dates: Excel date cells, serial numbers, day-first text, ISO text, Russian month names.

    Parameters
    ----------
    values : pandas.Series
        Raw cells: ``datetime``/``date`` cells ("cell"); Excel serial numbers as numbers
        or 5-digit text ("serial", epoch 1899-12-30); "12.03.2020" ("dmy"), "12.03.20"
        ("dmy_short"; years 00–69 are 2000s), "12/03/2020" ("dmy_slash"), "2020-03-12"
        and "2020-03-12 00:00:00" ("iso"), "12 марта 2020", "12 мар. 2020 г.",
        "«12» марта 2020 года" ("words"). Surrounding spaces are allowed; a time of day is
        dropped.
    min_date, max_date : date-like, optional
        The plausible range (default 1990-01-01 to today); outside it a value fails with
        "date before …"/"date after …".
    base : tuple of {"dmy", "mdy"}
        The numeric day/month order(s) the source writes. With both, a value the two
        orders read as different dates fails "ambiguous day and month".

    Returns
    -------
    Normalised
        ``clean`` datetime64[ns] at midnight. Impossible dates (31.02.2020, 00.05.2020)
        fail with "no such date", anything else unreadable with "not a date".

    Examples
    --------
    >>> import pandas as pd
    >>> dates(pd.Series(["2014-10-02", "02.10.2014"])).clean.dt.strftime("%d %b %Y").tolist()
    ['02 Oct 2014', '02 Oct 2014']
    """
    base = tuple(base)
    unknown = [b for b in base if b not in DATE_ORDERS]
    if unknown or not base:
        raise UserError(f"unknown date order(s) {unknown or base!r}; known: {', '.join(DATE_ORDERS)}")
    d = _Distinct(values)
    lo, hi = _date_range(min_date, max_date)
    reader = _resolve_orders(d, lo, hi, base)
    clean = d.expand(reader.days.astype("datetime64[ns]"), np.datetime64("NaT", "ns"))
    return d.result(clean, reader.how, reader.reason)


def birth_months(values, **kwargs) -> Normalised:
    """Like :func:`dates`, but the clean value is the first day of the month.

    The exact date is read to check it, then dropped: nothing returned holds the day.

    Examples
    --------
    >>> import pandas as pd
    >>> birth_months(pd.Series(["26.07.2014"])).clean.dt.strftime("%Y-%m-%d").tolist()
    ['2014-07-01']
    """
    r = dates(values, **kwargs)
    month = r.clean.to_numpy().astype("datetime64[M]").astype("datetime64[ns]")
    return Normalised(pd.Series(month, index=r.clean.index, name=r.clean.name), r.how, r.failed, r.reason)


# ----------------------------------------------------------------------------- spellings

class _Spellings:
    """Listed spellings of codes: exact lookup and normalised-key lookup, conflicts refused."""

    def __init__(self, spellings: dict, trailing_dot: bool, what: str, variants: bool):
        self.codes = list(spellings)
        self.exact: dict[str, tuple[int, str]] = {}
        self.keys: dict[str, int] = {}
        for i, (code, spelled) in enumerate(spellings.items()):
            spelled = [spelled] if isinstance(spelled, str) or not hasattr(spelled, "__iter__") else list(spelled)
            for j, s in enumerate(spelled):
                s = _number_as_text(s) if isinstance(s, (_numbers.Number, np.bool_)) else str(s)
                self._add(self.exact, s, (i, "variant" if variants and j else "exact"), code, what)
                k = _key_text(s, trailing_dot)
                self._add(self.keys, k, i, code, what)
        self.trailing_dot = trailing_dot

    def _add(self, table: dict, spelling: str, value, code, what: str) -> None:
        i = value[0] if isinstance(value, tuple) else value
        if spelling in table:
            j = table[spelling][0] if isinstance(table[spelling], tuple) else table[spelling]
            if j != i:
                raise UserError(f"{what}: {spelling!r} is listed for both {self.codes[j]!r} and {code!r} / "
                                f"написание {spelling!r} указано для двух значений")
            return
        table[spelling] = value

    def match(self, d: _Distinct, missing_code: int | None = None):
        """Per distinct value: code index (-1 unmatched), how, reason."""
        n = len(d)
        code = np.full(n, -1, dtype=np.int64)
        how = _empty(n)
        reason = _empty(n)
        text = d.text
        raw = pd.Series(d.values[text.index], index=text.index, dtype=object)
        exact = raw.map({s: v[0] for s, v in self.exact.items()})
        exact_how = raw.map({s: v[1] for s, v in self.exact.items()})
        keyed = _key(text, self.trailing_dot).map(self.keys)
        hit_exact = exact.notna().to_numpy()
        hit_key = ~hit_exact & keyed.notna().to_numpy()
        pos = text.index.to_numpy()
        code[pos[hit_exact]] = exact[hit_exact].astype(np.int64)
        how[pos[hit_exact]] = exact_how[hit_exact].to_numpy()
        code[pos[hit_key]] = keyed[hit_key].astype(np.int64)
        how[pos[hit_key]] = "stripped"
        typed = np.concatenate([d.where("number"), d.where("bool")])
        if len(typed):  # typed cells: 3.0 matches "3", True matches "1"
            as_text = pd.Series([_number_as_text(v) for v in d.values[typed]], index=typed, dtype=object)
            keyed = as_text.map(self.keys)
            hit = keyed.notna().to_numpy()
            code[typed[hit]] = keyed[hit].astype(np.int64)
            how[typed[hit]] = "cell"
        unmatched_ = (code < 0) & np.isin(d.kind, ("text", "number", "bool", "datetime", "other"))
        reason[unmatched_] = _UNKNOWN
        if missing_code is not None:
            missing = code == missing_code
            how[missing] = "missing"
            code[missing] = -1
        return code, how, reason


def _text_spellings(values) -> list[str]:
    return [values] if isinstance(values, str) else list(values)


def booleans(values, true_values, false_values, missing_values=MISSING_VALUES) -> Normalised:
    """Read yes/no values by their listed spellings.

    Parameters
    ----------
    values : pandas.Series
        Raw cells.
    true_values, false_values : sequence of str
        The source's spellings of yes and no (e.g. ``["да", "+", "1"]``). Matching ignores
        surrounding/repeated whitespace, case and "ё"/"е": ``how`` is "exact" when the
        raw value equals a listed spelling as given, "stripped" otherwise. Bool cells
        and 0/1 number cells are read when "1"/"0" are listed ("cell").
    missing_values : sequence of str
        Spellings of "not known": clean value missing, ``how`` "missing", not a failure.

    Returns
    -------
    Normalised
        ``clean`` dtype "boolean"; anything else fails with "unknown value".

    Examples
    --------
    >>> import pandas as pd
    >>> r = booleans(pd.Series(["да", "Да ", "нет", "может"]), ["да"], ["нет"])
    >>> r.clean.tolist(), r.how.tolist()
    ([True, True, False, <NA>], ['exact', 'stripped', 'exact', None])
    """
    true_values, false_values = _text_spellings(true_values), _text_spellings(false_values)
    listed = {_key_text(v) for v in true_values + false_values}
    missing = [m for m in _text_spellings(missing_values) if _key_text(m) not in listed]  # an explicit yes/no wins
    spellings = _Spellings({True: true_values, False: false_values, None: missing}, False, "booleans",
                           variants=False)
    d = _Distinct(values)
    code, how, reason = spellings.match(d, missing_code=2)
    value = d.expand(code == 0, False)
    mask = d.expand(code < 0, True)
    clean = pd.arrays.BooleanArray(value, mask)
    return d.result(clean, how, reason)


def categories(values, spellings: dict, *, as_category: bool = False) -> Normalised:
    """Read coded values by their listed spellings.

    Parameters
    ----------
    values : pandas.Series
        Raw cells.
    spellings : dict
        ``{code: [preferred spelling, other spellings...]}``. ``how`` is "exact" for the
        preferred spelling as given, "variant" for another listed spelling as given,
        "stripped" when only whitespace, case, "ё"/"е" or a trailing dot differ, "cell"
        for a number cell matching a listed number ("3" for 3.0).
    as_category : bool, default False
        Give ``clean`` as a pandas Categorical (categories: the codes present, sorted)
        instead of an object column: the same values, cheaper to copy and compare.

    Returns
    -------
    Normalised
        ``clean`` object (the codes); unmatched values fail with "unknown value".

    Raises
    ------
    UserError
        When one spelling (after normalising) is listed for two codes.

    Examples
    --------
    >>> import pandas as pd
    >>> spell = {"palliative": ["соц. паллиатив", "паллиатив"], "ordinary": ["обычный"]}
    >>> r = categories(pd.Series(["соц. паллиатив", "паллиатив", "Обычный.", "палиатив"]), spell)
    >>> r.clean.tolist(), r.how.tolist(), r.reason.tolist()[3]
    (['palliative', 'palliative', 'ordinary', None], ['exact', 'variant', 'stripped', None], 'unknown value')
    """
    table = _Spellings(spellings, True, "categories", variants=True)
    d = _Distinct(values)
    code, how, reason = table.match(d)
    codes = np.empty(len(table.codes) + 1, dtype=object)
    codes[:-1] = table.codes
    codes[-1] = None
    per_distinct = codes[code]  # index -1 is the None slot
    clean = d.categorical(per_distinct) if as_category else d.expand(per_distinct, None)
    return d.result(clean, how, reason)


def unmatched(values, spellings: dict) -> pd.Series:
    """The distinct raw values :func:`categories` cannot read, with how often each occurs.

    Returns
    -------
    pandas.Series
        Counts (name "count") indexed by raw value, most frequent first.

    Examples
    --------
    >>> import pandas as pd
    >>> unmatched(pd.Series(["да", "дa", "дa", "нет"]), {"yes": ["да"], "no": ["нет"]}).to_dict()
    {'дa': 2}
    """
    r = categories(values, spellings)
    raw = pd.Series(values if isinstance(values, pd.Series) else pd.Series(values), dtype=object)
    bad = raw[r.failed]
    counts = bad.value_counts(sort=False, dropna=True)
    order = sorted(range(len(counts)), key=lambda i: (-counts.iloc[i], str(counts.index[i])))
    return counts.iloc[order].rename("count")


# ----------------------------------------------------------------------------- numbers

def numbers(values, *, decimal: str = ",") -> Normalised:
    """Read numbers: number cells, plain text, and locale text with thousands separators.

    Parameters
    ----------
    values : pandas.Series
        Raw cells: numbers ("cell"); "6000.5", "-6000" ("text"); with ``decimal=","``,
        Russian text with a decimal comma and space/NBSP/thin-space thousands separators,
        "5 271 254,08", "6000,5" ("ru_text"); with ``decimal="."``, "5,271,254.08" or
        "5 271 254.08" ("grouped_text"). A Unicode minus is read as a minus.
    decimal : {",", "."}
        The decimal mark of the source's locale text.

    Returns
    -------
    Normalised
        ``clean`` float64; anything else fails with "not a number".

    Examples
    --------
    >>> import pandas as pd
    >>> r = numbers(pd.Series(["5 271 254,08", "6000.5", 17.0, "-1,5", "пять"]))
    >>> r.clean.tolist()[:4], r.how.tolist()
    ([5271254.08, 6000.5, 17.0, -1.5], ['ru_text', 'text', 'cell', 'ru_text', None])
    """
    d = _Distinct(values)
    value, how, reason = _read_numbers(d, decimal)
    return d.result(d.expand(value, np.nan), how, reason)


def _read_numbers(d: _Distinct, decimal: str):
    """Per distinct value: float value (NaN if none), how, reason."""
    if decimal not in (",", "."):
        raise UserError(f"decimal must be ',' or '.', not {decimal!r}")
    n = len(d)
    value = np.full(n, np.nan)
    how = _empty(n)
    reason = _empty(n)
    for kind in ("bool", "datetime", "other"):
        reason[d.where(kind)] = _NOT_A_NUMBER
    cells = d.where("number")
    if len(cells):
        x = _as_floats(d.values[cells])
        finite = np.isfinite(x)
        value[cells[finite]] = x[finite]
        how[cells] = "cell"
        reason[cells[~finite]] = _NOT_A_NUMBER
    text = d.text.str.replace("\u2212", "-", regex=False)
    if not len(text):
        return value, how, reason
    thousands = _THOUSANDS if decimal == "," else "[ ,\u00a0\u2009\u202f]"
    dec = "," if decimal == "," else r"\."
    patterns = [("text", r"[+-]?[0-9]+(?:\.[0-9]+)?", None),
                ("ru_text" if decimal == "," else "grouped_text",
                 rf"[+-]?(?:[0-9]{{1,3}}(?:{thousands}[0-9]{{3}})+|[0-9]+)(?:{dec}[0-9]+)?", thousands)]
    rest = np.ones(len(text), dtype=bool)
    arrow = _arrow_of(text)  # the patterns are matched by pyarrow (no \s in them: RE2 reads them as Python does)
    for name, regex, seps in patterns:
        hit = rest & _fullmatch(text, regex, arrow)
        t = text[hit]
        if seps is not None:
            t = t.str.replace(seps, "", regex=True)
            if decimal == ",":
                t = t.str.replace(",", ".", regex=False)
        pos = text.index.to_numpy()[hit]
        value[pos] = pd.to_numeric(t, errors="coerce").to_numpy(dtype=float)
        how[pos] = name
        rest &= ~hit
    pos = text.index.to_numpy()[rest]
    reason[pos] = _NOT_A_NUMBER
    return value, how, reason


def integers(values, *, decimal: str = ",") -> Normalised:
    """Read whole numbers (years, ЕФО levels): like :func:`numbers`, but 3.5 fails.

    Returns
    -------
    Normalised
        ``clean`` dtype "Int64"; non-whole numbers fail with "not a whole number",
        anything else with "not a number".

    Examples
    --------
    >>> import pandas as pd
    >>> integers(pd.Series(["3", 3.0, "2 019", 3.5])).clean.tolist()
    [3, 3, 2019, <NA>]
    """
    d = _Distinct(values)
    value, how, reason = _read_numbers(d, decimal)
    present = ~np.isnan(value)
    whole = present & (np.abs(value) <= 2.0 ** 53) & (value == np.round(value))
    reason[present & ~whole] = _NOT_WHOLE
    ints = np.where(whole, value, 0).astype(np.int64)
    clean = pd.arrays.IntegerArray(d.expand(ints, 0), d.expand(~whole, True))
    return d.result(clean, how, reason)


# ----------------------------------------------------------------------------- identifiers

def _number_ids(vals: np.ndarray) -> np.ndarray:
    """Number cells as identifier text (17.0 -> "17", 17.5 -> "17.5"); None when not finite."""
    x = _as_floats(vals)
    out = np.full(len(vals), None, dtype=object)
    whole = np.isfinite(x) & (x == np.round(x)) & (np.abs(x) < 2.0 ** 53)
    out[whole] = x[whole].astype(np.int64).astype(str)
    for i in np.flatnonzero(~whole):  # rare: fractions and integers too big for a float
        v = vals[i]
        if isinstance(v, (int, np.integer)):
            out[i] = str(int(v))
        elif np.isfinite(x[i]):
            out[i] = repr(float(v))
    return out


#: the characters Python's ``\\s`` and ``str.isspace`` call whitespace, but for the space itself
_OTHER_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                     "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
#: a text that collapsing whitespace would change (for pyarrow's RE2, whose ``\\s`` is ASCII only)
_UNCOLLAPSED = "[" + "".join(f"\\x{{{ord(c):04x}}}" for c in _OTHER_WHITESPACE) + "]|  "


def _collapse_whitespace(d: _Distinct) -> pd.Series:
    """The distinct texts with every run of whitespace as one space (``re.sub(r"\\s+", " ")``)."""
    return d.text.str.replace(r"\s+", " ", regex=True)


def _collapse_whitespace_arrow(d: _Distinct) -> pa.Array:
    """:func:`_collapse_whitespace` of Arrow input, as a pyarrow array aligned with ``d.arrow_text``.

    pyarrow finds the few texts that have anything to collapse and only those go through
    Python's ``re``.
    """
    changes = pc.match_substring_regex(d.arrow_text, _UNCOLLAPSED)
    if not pc.any(changes).as_py():
        return d.arrow_text
    fixed = [_SPACES.sub(" ", t) for t in d.arrow_text.filter(changes).to_pylist()]
    return pc.replace_with_mask(d.arrow_text, changes, pa.array(fixed, type=d.arrow_text.type))


def _arrow_identifiers(d: _Distinct, as_category: bool) -> Normalised:
    """:func:`identifiers` of Arrow text (every distinct value text or blank), in pyarrow.

    The clean texts, whether each is its raw value unchanged and the categories are
    computed on Arrow arrays; Python strings are made only of the texts with whitespace to
    collapse, and of the clean texts when they are wanted as an object column.
    """
    n = len(d)
    pos = d.where("text")
    text = _collapse_whitespace_arrow(d)
    unchanged = pc.equal(text, d.arrow_values.filter(pa.array(d.kind == "text")))
    how = _empty(n)
    how[pos] = np.array(["stripped", "exact"], dtype=object)[
        np.asarray(unchanged.to_numpy(zero_copy_only=False), dtype=np.intp)]
    reason = _empty(n)
    if as_category:
        at = np.full(n, -1, dtype=np.int64)  # each distinct value's clean text; blanks missing
        at[pos] = np.arange(len(pos))
        return d.result(d.categorical_of(text.take(pa.array(at, mask=at < 0))), how, reason)
    clean = _empty(n)
    clean[pos] = text.to_numpy(zero_copy_only=False)
    return d.result(d.expand(clean, None), how, reason)


def identifiers(values, *, as_category: bool = False) -> Normalised:
    """Read identifiers as text: surrounding whitespace stripped, inner whitespace collapsed.

    ``how`` is "exact" (unchanged), "stripped" (whitespace changed) or "number" (a number
    cell: 17.0 -> "17"). Empty values are None and not failures: whether an id may be
    missing is the pipeline's decision. Bool cells fail with "not an identifier", date
    cells (Excel turning "2016/1" into a date) with "a date cell, not an identifier".
    With ``as_category=True`` ``clean`` is a pandas Categorical (sorted categories) of the
    same values.

    Examples
    --------
    >>> import pandas as pd
    >>> r = identifiers(pd.Series([" 2016/3 ", "СР-00001", 17.0, None]))
    >>> r.clean.tolist(), r.how.tolist()
    (['2016/3', 'СР-00001', '17', None], ['stripped', 'exact', 'number', None])
    """
    d = _Distinct(values)
    if d.arrow_text is not None:
        return _arrow_identifiers(d, as_category)
    n = len(d)
    clean = _empty(n)
    how = _empty(n)
    reason = _empty(n)
    text = _collapse_whitespace(d)
    pos = text.index.to_numpy()
    clean[pos] = text.to_numpy()
    how[pos] = np.where(text.to_numpy() == d.values[pos], "exact", "stripped")
    cells = d.where("number")
    as_text = _number_ids(d.values[cells])
    ok = pd.notna(as_text)
    clean[cells[ok]] = as_text[ok]
    how[cells[ok]] = "number"
    reason[cells[~ok]] = _NOT_AN_ID
    reason[d.where("bool")] = _NOT_AN_ID
    reason[d.where("other")] = _NOT_AN_ID
    reason[d.where("datetime")] = _DATE_AS_ID
    return d.result(d.categorical(clean) if as_category else d.expand(clean, None), how, reason)
