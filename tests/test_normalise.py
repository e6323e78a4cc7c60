"""evalkit.normalise: one test per pattern and per failure reason, properties, and the synthetic exports."""

from __future__ import annotations

import datetime
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.errors import UserError
from evalkit.normalise import (RU_MONTHS, Normalised, birth_months, booleans, categories, dates, identifiers,
                               integers, numbers, unmatched)

WIDE = {"min_date": "1900-01-01", "max_date": "2100-12-31"}
GENITIVE = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
            "ноября", "декабря")
NOMINATIVE = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь",
              "ноябрь", "декабрь")
SHORT = ("янв.", "фев.", "мар.", "апр.", "мая", "июн.", "июл.", "авг.", "сент.", "окт.", "нояб.", "дек.")
EMPTIES = (None, np.nan, "", "   ", "\u00a0", pd.NaT, pd.NA)


def one(fn, value, *args, **kwargs):
    """(clean, how, failed, reason) of a single value."""
    r = fn(pd.Series([value], dtype=object), *args, **kwargs)
    assert isinstance(r, Normalised)
    return r.clean.iloc[0], r.how.iloc[0], bool(r.failed[0]), r.reason.iloc[0]


def day(s: str) -> pd.Timestamp:
    return pd.Timestamp(s)


# ----------------------------------------------------------------------------- dates: patterns

@pytest.mark.parametrize("value, how", [
    (datetime.datetime(2020, 3, 12), "cell"),
    (datetime.datetime(2020, 3, 12, 17, 45), "cell"),
    (datetime.date(2020, 3, 12), "cell"),
    (pd.Timestamp("2020-03-12 08:00"), "cell"),
    (np.datetime64("2020-03-12"), "cell"),
    (43902, "serial"),
    (43902.0, "serial"),
    (43902.75, "serial"),
    ("43902", "serial"),
    (" 43902 ", "serial"),
    ("12.03.2020", "dmy"),
    ("  12.03.2020 ", "dmy"),
    ("12.3.2020", "dmy"),
    ("12.03.2020 0:00:00", "dmy"),
    ("12.03.2020 г.", "dmy"),
    ("12.03.20", "dmy_short"),
    ("2020-03-12", "iso"),
    ("2020-03-12 00:00:00", "iso"),
    ("2020-03-12T14:30:00", "iso"),
    ("2020-3-12", "iso"),
    ("12/03/2020", "dmy_slash"),
    ("12 марта 2020", "words"),
    ("12 марта 2020 г.", "words"),
    ("12 марта 2020г", "words"),
    ("12 мар. 2020 г.", "words"),
    ("12 март 2020", "words"),
    ("12 МАРТА 2020 ГОДА", "words"),
    ("«12» марта 2020 года", "words"),
    (" 12  марта   2020 ", "words"),
])
def test_dates_patterns(value, how):
    clean, got_how, failed, reason = one(dates, value)
    assert (clean, got_how, failed, reason) == (day("2020-03-12"), how, False, None)


def test_dates_iso_is_never_read_day_first():
    r = dates(pd.Series(["2014-10-02", "02.10.2014", "2014-02-10"]))
    assert r.clean.tolist() == [day("2014-10-02"), day("2014-10-02"), day("2014-02-10")]


@pytest.mark.parametrize("month", range(1, 13))
def test_dates_every_month_name(month):
    for names in (GENITIVE, NOMINATIVE, SHORT):
        assert one(dates, f"1 {names[month - 1]} 2021")[0] == pd.Timestamp(2021, month, 1)
    assert set(RU_MONTHS.values()) == set(range(1, 13))


def test_dates_two_digit_years_pivot_at_69():
    r = dates(pd.Series(["01.01.00", "31.12.69", "01.01.70", "01.01.99"]), **WIDE)
    assert r.clean.tolist() == [day("2000-01-01"), day("2069-12-31"), day("1970-01-01"), day("1999-01-01")]
    assert set(r.how) == {"dmy_short"}


def test_dates_clean_is_datetime64_at_midnight_with_the_index_kept():
    s = pd.Series([datetime.datetime(2020, 3, 12, 23, 59), "2020-03-12 23:59:59"], index=[10, 7], name="Дата")
    r = dates(s)
    assert r.clean.dtype == "datetime64[ns]"
    assert r.clean.tolist() == [day("2020-03-12")] * 2
    for part in (r.clean, r.how, r.reason):
        assert part.index.equals(s.index) and part.name == "Дата"
    assert r.failed.dtype == bool and len(r.failed) == 2


def test_dates_month_first_order():
    r = dates(pd.Series(["03/12/2020", "03.12.2020", "03.12.20"]), base=("mdy",))
    assert r.clean.tolist() == [day("2020-03-12")] * 3
    assert r.how.tolist() == ["mdy_slash", "mdy", "mdy_short"]
    assert one(dates, "2020-03-12", base=("mdy",))[0] == day("2020-03-12")


def test_dates_both_orders_fail_when_they_disagree():
    r = dates(pd.Series(["03/12/2020", "25/12/2020", "12/25/2020", "05/05/2020"]), base=("dmy", "mdy"))
    assert r.reason.tolist() == ["ambiguous day and month", None, None, None]
    assert r.clean.tolist()[1:] == [day("2020-12-25"), day("2020-12-25"), day("2020-05-05")]
    assert r.how.tolist()[1:] == ["dmy_slash", "mdy_slash", "dmy_slash"]
    with pytest.raises(UserError):
        dates(pd.Series(["12.03.2020"]), base=("ymd",))


# ----------------------------------------------------------------------------- dates: failures

@pytest.mark.parametrize("value, how", [
    ("31.02.2020", "dmy"), ("30.02.2020", "dmy"), ("00.05.2020", "dmy"), ("32.01.2020", "dmy"),
    ("12.13.2020", "dmy"), ("29.02.2021", "dmy"), ("2020-02-30", "iso"), ("31/04/2020", "dmy_slash"),
    ("31.02.20", "dmy_short"), ("30 февраля 2020", "words"),
])
def test_dates_no_such_date(value, how):
    clean, got_how, failed, reason = one(dates, value)
    assert pd.isna(clean) and (got_how, failed, reason) == (how, True, "no such date")


def test_dates_leap_day_exists():
    assert one(dates, "29.02.2020")[0] == day("2020-02-29")


@pytest.mark.parametrize("value", ["31.12.1989", datetime.datetime(1980, 1, 1), 10000, "01.01.70"])
def test_dates_before_the_range(value):
    clean, how, failed, reason = one(dates, value)
    assert pd.isna(clean) and failed and reason == "date before 1990-01-01" and how is not None


@pytest.mark.parametrize("value", ["12.03.2198", "12.03.3020", "3020-01-01", datetime.datetime(9999, 12, 31),
                                   "01.01.2031", 99999])
def test_dates_after_the_range(value):
    clean, how, failed, reason = one(dates, value, max_date="2030-12-31")
    assert pd.isna(clean) and failed and reason == "date after 2030-12-31"


def test_dates_after_today_by_default():
    tomorrow = (pd.Timestamp.today().normalize() + pd.Timedelta(days=1)).strftime("%d.%m.%Y")
    today = pd.Timestamp.today().strftime("%Y-%m-%d")
    assert one(dates, tomorrow)[3] == f"date after {today}"
    assert one(dates, pd.Timestamp.today().strftime("%d.%m.%Y"))[2] is False


def test_dates_custom_min_date():
    assert one(dates, "01.01.1985", min_date="1980-01-01")[0] == day("1985-01-01")
    assert one(dates, "01.01.1985", min_date="1986-01-01")[3] == "date before 1986-01-01"


@pytest.mark.parametrize("value", ["завтра", "12 мартобря 2020", "2020", "1234", 1234, 123456, "123456",
                                   "12.03", "12-03-2020", "2020/03/12", "12.03.2020.", True, False,
                                   datetime.time(10, 30), "١٢.٠٣.٢٠٢٠", "12.03.2020 25:00", math.inf])
def test_dates_not_a_date(value):
    clean, how, failed, reason = one(dates, value)
    assert pd.isna(clean) and failed and reason == "not a date" and how is None


@pytest.mark.parametrize("value", EMPTIES)
def test_dates_empty_values_are_not_failures(value):
    clean, how, failed, reason = one(dates, value)
    assert pd.isna(clean) and how is None and not failed and reason is None


def test_birth_months_give_the_first_of_the_month_only():
    s = pd.Series(["26.07.2014", datetime.datetime(2014, 7, 31), "2014-07-01", "31.02.2014", None])
    r = birth_months(s)
    assert r.clean.dtype == "datetime64[ns]"
    assert r.clean.tolist()[:3] == [day("2014-07-01")] * 3
    assert pd.isna(r.clean.iloc[3]) and r.reason.iloc[3] == "no such date"
    assert r.how.tolist() == ["dmy", "cell", "iso", "dmy", None]
    assert all(d.day == 1 for d in r.clean.dropna())
    text = " ".join(map(str, [*r.clean, *r.how, *r.reason]))
    assert "26" not in text and "31" not in text
    assert birth_months(pd.Series(["01.01.2031"]), max_date="2030-12-31").reason.iloc[0] == "date after 2030-12-31"


# ----------------------------------------------------------------------------- booleans

YES, NO = ["да", "+", "1"], ["нет", "-", "0"]


@pytest.mark.parametrize("value, clean, how", [
    ("да", True, "exact"), ("+", True, "exact"), ("1", True, "exact"), ("нет", False, "exact"),
    ("Да", True, "stripped"), ("ДА", True, "stripped"), ("да ", True, "stripped"), (" нет", False, "stripped"),
    ("+ ", True, "stripped"), (" -", False, "stripped"),
    (True, True, "cell"), (False, False, "cell"), (1, True, "cell"), (0.0, False, "cell"), (np.bool_(True), True, "cell"),
])
def test_booleans_spellings(value, clean, how):
    assert one(booleans, value, YES, NO) == (clean, how, False, None)


def test_booleans_yo_and_inner_whitespace():
    assert one(booleans, "ещё  бы", ["еще бы"], ["нет"])[:2] == (True, "stripped")


@pytest.mark.parametrize("value", ["не известно", "Неизвестно", "?", "н/д", " Н/Д "])
def test_booleans_missing_spellings_are_missing_not_failed(value):
    clean, how, failed, reason = one(booleans, value, YES, NO)
    assert clean is pd.NA and how == "missing" and not failed and reason is None


def test_booleans_an_explicit_spelling_wins_over_a_missing_one():
    assert one(booleans, "?", ["да", "?"], ["нет"])[:3] == (True, "exact", False)


@pytest.mark.parametrize("value", ["может быть", "да.", "lf", 2, 0.5, datetime.datetime(2020, 1, 1)])
def test_booleans_unknown_value(value):
    clean, how, failed, reason = one(booleans, value, YES, NO)
    assert clean is pd.NA and failed and reason == "unknown value" and how is None


def test_booleans_numbers_need_1_and_0_listed():
    r = booleans(pd.Series([True, 1, 0.0, False]), ["да"], ["нет"])
    assert r.failed.all() and set(r.reason) == {"unknown value"}


def test_booleans_dtype_and_empties():
    r = booleans(pd.Series(["да", None, "", "  ", np.nan]), YES, NO)
    assert r.clean.dtype == "boolean"
    assert r.clean.isna().tolist() == [False, True, True, True, True]
    assert not r.failed.any() and r.how.tolist() == ["exact", None, None, None, None]


def test_booleans_conflicting_spellings_are_refused():
    with pytest.raises(UserError, match="both"):
        booleans(pd.Series(["да"]), ["да"], ["Да "])


def test_bools_and_ones_in_one_column_are_read_apart():
    # True == 1 in Python: the distinct-value machinery must not merge them
    r = numbers(pd.Series([True, 1.0, 1, False, 0]))
    assert r.failed.tolist() == [True, False, False, True, False]
    assert r.clean.tolist()[1:3] == [1.0, 1.0]
    r = numbers(pd.Series([1.0, True]))
    assert r.failed.tolist() == [False, True]
    r = identifiers(pd.Series([1, True]))
    assert r.clean.tolist() == ["1", None] and r.reason.tolist() == [None, "not an identifier"]


# ----------------------------------------------------------------------------- categories

SPELL = {"palliative": ["соц. паллиатив", "паллиатив", "палиатив"], "ordinary": ["обычный"],
         "rented": ["съёмное"], "followup": ["через 6 мес."], 3: ["3", "удовлетворительный"]}


@pytest.mark.parametrize("value, code, how", [
    ("соц. паллиатив", "palliative", "exact"), ("паллиатив", "palliative", "variant"),
    ("палиатив", "palliative", "variant"), ("Соц. Паллиатив", "palliative", "stripped"),
    ("  соц.  паллиатив ", "palliative", "stripped"), ("обычный.", "ordinary", "stripped"),
    ("ОБЫЧНЫЙ", "ordinary", "stripped"), ("съемное", "rented", "stripped"), ("через 6 мес", "followup", "stripped"),
    ("через 6 мес.", "followup", "exact"), ("3", 3, "exact"), (3.0, 3, "cell"), (3, 3, "cell"),
    ("Удовлетворительный", 3, "stripped"),
])
def test_categories_spellings(value, code, how):
    assert one(categories, value, SPELL) == (code, how, False, None)


@pytest.mark.parametrize("value", ["мотивац.", "соц паллиатив", "обычный..", 4.0, True,
                                   datetime.datetime(2020, 1, 1)])
def test_categories_unknown_value(value):
    clean, how, failed, reason = one(categories, value, SPELL)
    assert clean is None and failed and reason == "unknown value"


def test_categories_dtype_empties_and_index():
    s = pd.Series(["обычный", None, " ", "?"], index=list("abcd"))
    r = categories(s, SPELL)
    assert r.clean.dtype == object and r.clean.tolist() == ["ordinary", None, None, None]
    assert r.failed.tolist() == [False, False, False, True]
    assert r.clean.index.equals(s.index)


def test_categories_conflicting_spellings_are_refused():
    with pytest.raises(UserError, match="both"):
        categories(pd.Series(["x"]), {"a": ["Обычный"], "b": ["обычный."]})


def test_unmatched_counts_distinct_raw_values():
    s = pd.Series(["мотивац.", "обычный", "мотивац.", "неуспешно(семья)", None, "мотивац.", "Обычный "])
    u = unmatched(s, SPELL)
    assert u.to_dict() == {"мотивац.": 3, "неуспешно(семья)": 1}
    assert u.name == "count"
    assert unmatched(pd.Series(["обычный"]), SPELL).empty


def test_summary_counts_how_and_reason():
    r = categories(pd.Series(["обычный", "обычный", "x", None]), SPELL)
    assert r.summary.to_dict("records") == [
        {"how": "(empty)", "reason": "", "n": 1}, {"how": "(empty)", "reason": "unknown value", "n": 1},
        {"how": "exact", "reason": "", "n": 2}]


# ----------------------------------------------------------------------------- numbers

@pytest.mark.parametrize("value, clean, how", [
    (6000.5, 6000.5, "cell"), (17, 17.0, "cell"), (-3.25, -3.25, "cell"),
    ("6000.5", 6000.5, "text"), ("6000", 6000.0, "text"), (" -12 ", -12.0, "text"), ("+7.5", 7.5, "text"),
    ("5 271 254,08", 5271254.08, "ru_text"), ("5\u00a0271\u00a0254,08", 5271254.08, "ru_text"),
    ("5\u2009271\u202f254,08", 5271254.08, "ru_text"), ("6000,5", 6000.5, "ru_text"),
    ("-1 000,25", -1000.25, "ru_text"), ("\u22121 000", -1000.0, "ru_text"), ("12 000", 12000.0, "ru_text"),
])
def test_numbers_patterns(value, clean, how):
    assert one(numbers, value) == (clean, how, False, None)


def test_numbers_with_a_decimal_point_locale():
    r = numbers(pd.Series(["5,271,254.08", "5 271 254.08", "6000.5", "6,5"]), decimal=".")
    assert r.clean.tolist()[:3] == [5271254.08, 5271254.08, 6000.5]
    assert r.how.tolist()[:3] == ["grouped_text", "grouped_text", "text"]
    assert r.reason.iloc[3] == "not a number"
    with pytest.raises(UserError):
        numbers(pd.Series(["1"]), decimal=";")


@pytest.mark.parametrize("value", ["пять", "1 23", "12,3,4", "1.2.3", "1 000.5", "5 руб.", "1e5", "٣",
                                   True, datetime.datetime(2020, 1, 1), math.inf, 10 ** 400])
def test_numbers_not_a_number(value):
    clean, how, failed, reason = one(numbers, value)
    assert math.isnan(clean) and failed and reason == "not a number"


def test_numbers_dtype_and_empties():
    r = numbers(pd.Series(["1,5", None, "", " ", np.nan]))
    assert r.clean.dtype == "float64" and not r.failed.any()
    assert r.how.tolist() == ["ru_text", None, None, None, None]


@pytest.mark.parametrize("value, clean", [("3", 3), (3.0, 3), (3, 3), ("2 019", 2019), ("3,0", 3), ("-2", -2)])
def test_integers(value, clean):
    r = integers(pd.Series([value]))
    assert r.clean.dtype == "Int64" and r.clean.iloc[0] == clean and not r.failed[0]


@pytest.mark.parametrize("value, reason", [(3.5, "not a whole number"), ("3,5", "not a whole number"),
                                           ("три", "not a number"), (2.0 ** 60, "not a whole number")])
def test_integers_failures(value, reason):
    r = integers(pd.Series([value, None]))
    assert r.clean.isna().all() and r.failed.tolist() == [True, False] and r.reason.iloc[0] == reason


# ----------------------------------------------------------------------------- identifiers

@pytest.mark.parametrize("value, clean, how", [
    ("СР-00001", "СР-00001", "exact"), ("2016/3 ", "2016/3", "stripped"), (" 2016/3 ", "2016/3", "stripped"),
    ("СР  00001", "СР 00001", "stripped"), ("\u00a0X-1\t", "X-1", "stripped"), ("17.0", "17.0", "exact"),
    (17.0, "17", "number"), (17, "17", "number"), (17.5, "17.5", "number"), (79261234567.0, "79261234567", "number"),
    (2 ** 70, str(2 ** 70), "number"),
])
def test_identifiers(value, clean, how):
    assert one(identifiers, value) == (clean, how, False, None)


@pytest.mark.parametrize("value, reason", [(True, "not an identifier"), (-math.inf, "not an identifier"),
                                           (datetime.datetime(2016, 1, 1), "a date cell, not an identifier")])
def test_identifiers_failures(value, reason):
    assert one(identifiers, value)[2:] == (True, reason)


@pytest.mark.parametrize("value", EMPTIES)
def test_identifiers_empty_is_none_not_failed(value):
    assert one(identifiers, value) == (None, None, False, None)


def test_non_object_series_are_accepted():
    assert numbers(pd.Series([1.5, np.nan])).clean.tolist()[0] == 1.5
    assert dates(pd.Series(pd.to_datetime(["2020-03-12", None]))).how.tolist() == ["cell", None]
    assert identifiers(pd.Series(["a", None], dtype="string")).clean.tolist() == ["a", None]
    assert integers(pd.Series([3, 4], dtype="Int64")).clean.tolist() == [3, 4]


def test_a_million_mixed_dates_in_seconds():
    import time
    rng = np.random.default_rng(7)
    days = pd.Timestamp("1995-01-01") + pd.to_timedelta(rng.integers(0, 11_000, 200_000), "D")
    variants = [days.strftime("%d.%m.%Y"), days.strftime("%Y-%m-%d"), days.strftime("%d.%m.%y"),
                (days.day.astype(str) + " " + np.array(GENITIVE, dtype=object)[days.month - 1] + " "
                 + days.year.astype(str) + " г."),
                ((days - pd.Timestamp("1899-12-30")).days).astype(str)]
    s = pd.Series(np.concatenate([np.asarray(v, dtype=object) for v in variants]))
    start = time.perf_counter()
    r = dates(s)
    seconds = time.perf_counter() - start
    assert not r.failed.any()
    assert (r.clean.to_numpy() == np.tile(days.to_numpy(), 5)).all()
    assert seconds < 5, seconds  # ~0.8 s for 1M on the reference machine; generous for CI


# ----------------------------------------------------------------------------- properties

def _date_formats():
    def words(d, names, suffix=""):
        return f"{d.day} {names[d.month - 1]} {d.year}{suffix}"
    serial = (lambda d: (d - datetime.date(1899, 12, 30)).days)
    return [
        lambda d: d.strftime("%d.%m.%Y"), lambda d: f"{d.day}.{d.month}.{d.year}", lambda d: d.strftime("%d.%m.%y"),
        lambda d: d.strftime("%Y-%m-%d"), lambda d: d.strftime("%Y-%m-%d 00:00:00"),
        lambda d: d.strftime("%Y-%m-%dT12:30:59"), lambda d: d.strftime("%d/%m/%Y"),
        lambda d: words(d, GENITIVE), lambda d: words(d, GENITIVE, " г."), lambda d: words(d, GENITIVE, " года"),
        lambda d: words(d, NOMINATIVE), lambda d: words(d, SHORT, " г."), lambda d: words(d, GENITIVE).upper(),
        lambda d: str(serial(d)), lambda d: serial(d), lambda d: float(serial(d)),
        lambda d: datetime.datetime(d.year, d.month, d.day), lambda d: d, lambda d: pd.Timestamp(d),
    ]


DATE_FORMATS = _date_formats()


@given(st.lists(st.tuples(st.dates(datetime.date(1990, 1, 1), datetime.date(2030, 12, 31)),
                          st.integers(0, len(DATE_FORMATS) - 1), st.sampled_from(["", " ", "  "])),
                min_size=1, max_size=30))
@settings(max_examples=200, deadline=None)
def test_property_any_date_in_any_pattern_reads_back_to_itself(items):
    values = []
    for d, k, pad in items:
        v = DATE_FORMATS[k](d)
        values.append(f"{pad}{v}{pad}" if isinstance(v, str) else v)
    r = dates(pd.Series(values, dtype=object), max_date="2030-12-31")
    assert not r.failed.any(), list(zip(values, r.reason))
    assert r.clean.tolist() == [pd.Timestamp(d) for d, _, _ in items]


def _ru(cents: int, sep: str, grouped: bool) -> str:
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    digits = f"{whole:,}".replace(",", sep) if grouped else str(whole)
    return f"{sign}{digits},{frac:02d}"


@given(st.lists(st.tuples(st.integers(-10 ** 13, 10 ** 13), st.sampled_from([" ", "\u00a0", "\u2009", "\u202f"]),
                          st.booleans()), min_size=1, max_size=30))
@settings(max_examples=200, deadline=None)
def test_property_russian_numbers_round_trip(items):
    r = numbers(pd.Series([_ru(c, sep, g) for c, sep, g in items], dtype=object))
    assert not r.failed.any()
    assert r.clean.tolist() == [c / 100 for c, _, _ in items]
    assert set(r.how) <= {"ru_text"}


RAW = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["да", "Да ", "нет", "+", "1", "0", "обычный",
                                                                  "Обычный.", "паллиатив", " ", "?"]),
                st.floats(allow_nan=True), st.integers(-5, 5), st.booleans(),
                st.datetimes(datetime.datetime(1900, 1, 1), datetime.datetime(2100, 1, 1)))


@given(st.lists(RAW, max_size=40))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_property_codes_are_only_ever_listed_ones(values):
    s = pd.Series(values, dtype=object)
    b = booleans(s, YES, NO)
    assert set(b.clean.dropna().tolist()) <= {True, False}
    c = categories(s, SPELL)
    assert set(c.clean.dropna().tolist()) <= set(SPELL)
    # every present value either reads or fails, never both
    for r in (b, c):
        assert not (r.failed & r.clean.notna().to_numpy()).any()


@given(st.lists(st.tuples(st.booleans(), RAW), max_size=40))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_property_empty_values_never_fail_and_the_index_is_kept(items):
    empties = [None, np.nan, "", "  ", pd.NaT]
    values = [empties[i % len(empties)] if empty else v for i, (empty, v) in enumerate(items)]
    index = pd.Index([f"r{i * 7 % 97}" for i in range(len(values))])
    s = pd.Series(values, index=index, dtype=object, name="col")
    is_empty = np.array([empty for empty, _ in items], dtype=bool)
    for r in (dates(s), birth_months(s), booleans(s, YES, NO), categories(s, SPELL), numbers(s), integers(s),
              identifiers(s)):
        assert not r.failed[is_empty].any()
        assert r.how[is_empty].isna().all()
        for part in (r.clean, r.how, r.reason):
            assert part.index.equals(index) and part.name == "col"
        assert r.failed.shape == (len(values),) and r.failed.dtype == bool
        assert (r.failed == r.reason.notna().to_numpy()).all()


# ----------------------------------------------------------------------------- the synthetic exports

DATE_FIELDS = ("birth_date", "opened", "closed", "date")
DATE_DEFECTS = ("impossible_date", "birth_in_future", "closed_before_opened")


@pytest.fixture(scope="module")
def demo(demo_source):
    """The session's synthetic demo source (tests/conftest.py)."""
    return demo_source


def _date_columns(demo):
    """(org, file, sheet, header, frame) of every raw sheet with its date columns."""
    from evalkit.readers import read_sheet
    from evalkit.synth_exports import STYLES
    for org in sorted(p.name for p in demo.iterdir() if not p.name.startswith("_")):
        books = list((demo / org).glob("*.xlsx"))
        style = STYLES["xlsx" if books else "csv"]
        for table, (name, header, cols) in style.layout.items():
            heads = [cols[f] for f in DATE_FIELDS if f in cols]
            if books:
                raw = read_sheet(books[0], name, header)
                yield org, books[0].name, name, heads, raw.frame
            else:
                raw = read_sheet(demo / org / f"{name}.csv")
                yield org, f"{name}.csv", None, heads, raw.frame


def test_every_synthetic_date_parses_or_is_a_recorded_defect(demo):
    from evalkit.synth import read_defects
    defects = read_defects(demo)[0]
    recorded = defects[defects["kind"].isin(DATE_DEFECTS)]
    seen_failures, columns, hows = 0, 0, set()
    for org, file, sheet, heads, frame in _date_columns(demo):
        for head in heads:
            columns += 1
            r = dates(frame[head])
            here = recorded[(recorded["org"] == org) & (recorded["file"] == file) & (recorded["column"] == head)]
            if sheet is not None:
                here = here[here["sheet"] == sheet]
            failed_lines = set(frame.index[r.failed])
            assert failed_lines <= set(here["line"]), (org, file, head, sorted(failed_lines - set(here["line"])))
            # and the converse: every unreadable date the generator injected is caught
            unreadable = here.loc[here["kind"] != "closed_before_opened", "line"]
            assert set(unreadable) <= failed_lines, (org, file, head)
            present = frame[head].notna().to_numpy()
            assert (r.clean.notna().to_numpy() | r.failed)[present].all()
            seen_failures += len(failed_lines)
            hows |= set(r.how.dropna())
    assert columns == 14  # 7 sheets with dates in each of the two styles
    assert seen_failures >= 10
    assert {"cell", "dmy", "dmy_short", "iso", "words", "serial"} <= hows


# ----------------------------------------------------------------------------- Arrow text and categorical output

#: text as exports hold it: dates in every text pattern, numbers, spellings, identifiers, odd whitespace
TEXT = st.one_of(
    st.none(), st.text(max_size=10),
    st.sampled_from(["да", "Да ", "нет", "+", "1", "0", "обычный", "Обычный.", "паллиатив", " ", "?", "",
                     "12.03.2020", " 5.6.18 ", "2014-10-02", "02/10/2014", "12 марта 2020 г.", "43902",
                     "31.02.2020", "5 271 254,08", "6000.5", "-1,5", "пять", " СР-00017 ", "a\u00a0 b", "a\tb",
                     "2016/3", "c\u2009d", "x  y", "\u3000z"]))


def _same(a: Normalised, b: Normalised) -> None:
    pd.testing.assert_series_equal(a.clean.astype(object).where(a.clean.notna(), None),
                                   b.clean.astype(object).where(b.clean.notna(), None), check_dtype=False)
    assert a.how.tolist() == b.how.tolist()
    assert a.reason.tolist() == b.reason.tolist()
    assert (a.failed == b.failed).all()


@given(st.lists(TEXT, max_size=40))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_property_arrow_text_reads_as_object_text(values):
    obj = pd.Series(values, dtype=object, index=pd.RangeIndex(3, 3 + len(values)), name="c")
    arrow = obj.astype("string[pyarrow]")
    for fn in (lambda v: dates(v, max_date="2030-12-31"), lambda v: birth_months(v, max_date="2030-12-31"),
               numbers, integers, identifiers, lambda v: booleans(v, YES, NO), lambda v: categories(v, SPELL)):
        _same(fn(arrow), fn(obj))
    assert dates(arrow, max_date="2030-12-31").clean.dtype == "datetime64[ns]"


@given(st.lists(TEXT, max_size=40), st.booleans())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_property_categorical_output_holds_the_same_values(values, arrow):
    s = pd.Series(values, dtype=object)
    s = s.astype("string[pyarrow]") if arrow else s
    for fn in (identifiers, lambda v, **k: categories(v, SPELL, **k)):
        plain, cat = fn(s), fn(s, as_category=True)
        assert isinstance(cat.clean.dtype, pd.CategoricalDtype)
        _same(cat, plain)
        categories_ = cat.clean.cat.categories.tolist()
        assert categories_ == sorted(set(plain.clean.dropna()))  # sorted: the codes sort as the text


def test_identifiers_collapse_every_python_whitespace_in_arrow_text():
    ws = [c for c in map(chr, range(0x3001)) if c.isspace()]
    values = pd.Series([f" a{c}{c}b " for c in ws] + ["a b", "ab"], dtype="string[pyarrow]")
    assert identifiers(values).clean.tolist() == ["a b"] * len(ws) + ["a b", "ab"]
    assert identifiers(values).how.tolist() == ["stripped"] * len(ws) + ["exact", "exact"]


@pytest.mark.parametrize("arrow", [False, True])
def test_per_distinct_how_and_reason_spread_to_the_rows(arrow):
    from evalkit import normalise as N

    texts = ["12.03.2020", " 12.03.2020", None, "31.02.2020", "x", "12.03.2020", "", "43902"]
    values = pd.Series(texts, dtype="string[pyarrow]" if arrow else object)
    for r in (N.dates(values), N.identifiers(values), N.numbers(values),
              N.categories(values, {"a": ["x"], "b": ["12.03.2020"]})):
        codes, how, reason = r.distinct
        spread = lambda per: np.append(np.asarray(per, dtype=object), None)[codes]  # noqa: E731
        assert list(spread(how)) == r.how.tolist() and list(spread(reason)) == r.reason.tolist()
        assert (np.append(pd.notna(reason), False)[codes] == r.failed).all()


_DATE_ALPHABET = list("0123456789./- :tTгодаГОД«»мартяМАРТЯё") + ["\u00a0", "\u2009", "\x0b", "\x1c", "\x85", "\u3000",
                                                                     "\t", "\n", "\u0660", "\uff11", "İ", "ß"]


def _all_date_patterns():
    from evalkit import normalise as N

    return [regex for order in N.DATE_ORDERS for _, regex in N._numeric_patterns(order)] + [N._ISO[1], N._WORDS[1]]


@given(st.lists(st.text(_DATE_ALPHABET, max_size=24) | st.sampled_from(
    ["12.03.2020", "1.3.20", "12/03/2020 10:30", "2020-03-12t10:30:59.5", "2020-3-12 00:00:00", "12.03.2020 г.",
     "12.03.20г", "12.03.2020\u00a0года", "12 марта 2020", "«12» мар. 2020 г.", "12марта2020", "43902", "4390"]),
    min_size=1, max_size=40))
@settings(max_examples=300, deadline=None)
def test_property_date_patterns_match_in_pyarrow_as_in_python(texts):
    from evalkit import normalise as N

    text = pd.Series([t.strip() for t in texts], index=np.arange(len(texts)) * 3, dtype=object)
    np.testing.assert_array_equal(N._fullmatch(text, N._SERIAL_TEXT), text.str.fullmatch(N._SERIAL_TEXT).to_numpy())
    for regex in _all_date_patterns():
        want = text.str.extract(f"^{regex}$")
        matched, groups = N._extract(text, regex)
        np.testing.assert_array_equal(matched, want.notna().any(axis=1).to_numpy())
        np.testing.assert_array_equal(N._fullmatch(text, regex), text.str.fullmatch(regex).to_numpy(dtype=bool))
        want = want[matched]
        for name in groups.columns:  # every group that took part in the match, as Python found it
            took_part = want[name].notna().to_numpy()
            assert groups[name].to_numpy()[took_part].tolist() == want[name].to_numpy()[took_part].tolist()


def test_date_patterns_of_text_that_is_not_utf8_are_matched_by_python():
    from evalkit import normalise as N

    text = pd.Series(["12.03.2020", "1\ud800.03.2020"], dtype=object)
    matched, groups = N._extract(text, N._numeric_patterns("dmy")[0][1])
    assert matched.tolist() == [True, False] and groups["y"].tolist() == ["2020"]
    assert N._fullmatch(pd.Series(["43902", "4\ud800"]), N._SERIAL_TEXT).tolist() == [True, False]


@pytest.mark.parametrize("dtype", ["string[pyarrow]", pd.ArrowDtype(__import__("pyarrow").large_string())])
@pytest.mark.parametrize("as_category", [False, True])
def test_identifiers_of_arrow_text_are_those_of_object_text(dtype, as_category):
    values = [" a\u00a0 b", "a b", "a\t\tb", None, "  ", "", "ж-1", "ж-1 ", "b", "a b", "\u3000x\u2009y"]
    obj = pd.Series(values, dtype=object, index=pd.RangeIndex(5, 5 + len(values)), name="c")
    got, want = identifiers(obj.astype(dtype), as_category=as_category), identifiers(obj, as_category=as_category)
    assert got.clean.tolist() == want.clean.tolist() and got.how.tolist() == want.how.tolist()
    assert got.reason.tolist() == want.reason.tolist() and (got.failed == want.failed).all()
    if as_category:
        assert got.clean.cat.categories.tolist() == want.clean.cat.categories.tolist()


@given(st.lists(st.text(list("0123456789 ,.+-\u2212\u00a0\u2009\u202f\u3000\t\x0bа"), max_size=16), min_size=1, max_size=40),
       st.sampled_from([",", "."]))
@settings(max_examples=300, deadline=None)
def test_property_number_patterns_match_in_pyarrow_as_in_python(texts, decimal):
    from evalkit import normalise as N

    text = pd.Series([t.strip() for t in texts], dtype=object)
    thousands = N._THOUSANDS if decimal == "," else "[ ,\u00a0\u2009\u202f]"
    dec = "," if decimal == "," else r"\."
    for regex in (r"[+-]?[0-9]+(?:\.[0-9]+)?",
                  rf"[+-]?(?:[0-9]{{1,3}}(?:{thousands}[0-9]{{3}})+|[0-9]+)(?:{dec}[0-9]+)?"):
        np.testing.assert_array_equal(N._fullmatch(text, regex), text.str.fullmatch(regex).to_numpy(dtype=bool))
    # Arrow text and object text read the same numbers
    assert N.numbers(text.astype("string[pyarrow]"), decimal=decimal).clean.fillna(-1).tolist() == \
        N.numbers(text, decimal=decimal).clean.fillna(-1).tolist()


@given(st.lists(st.tuples(st.integers(0, 9999), st.integers(0, 99), st.integers(0, 99)), min_size=1, max_size=50))
@settings(max_examples=300, deadline=None)
def test_property_calendar_days_are_pandas_reading_of_the_text(numbers):
    from evalkit import normalise as N

    numbers += [(1677, 9, 21), (1677, 9, 22), (2262, 4, 11), (2262, 4, 12), (2000, 2, 29), (1900, 2, 29), (2021, 2, 29),
                (2020, 4, 31), (1, 1, 1), (9999, 12, 31)]
    y, m, d = (np.array(v) for v in zip(*numbers))
    text = pd.Series([f"{dd}.{mm}.{yy:04d}" for yy, mm, dd in numbers])
    want = pd.to_datetime(text, format="%d.%m.%Y", errors="coerce").to_numpy()
    np.testing.assert_array_equal(N._calendar_days(y, m, d).astype("datetime64[ns]"), want)


def test_dates_at_the_edges_of_what_pandas_holds_are_before_or_after_the_range():
    """The first days datetime64[ns] holds (1677-09-21/22) and its last (2262-04-11) are out
    of range on the right side, not taken round through nanoseconds to the other end."""
    n = dates(["22.09.1677", "21.09.1677", "1677-09-22", "11.04.2262", "12.04.2262"],
                        base=("dmy",))
    assert n.reason.tolist()[:3] == ["date before 1990-01-01"] * 3
    assert all(r.startswith("date after") for r in n.reason.tolist()[3:])
