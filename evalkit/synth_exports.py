"""Messy raw exports of a synthetic population, as two kinds of organisation produce them.

Style ``xlsx``: one workbook, Russian headers, a sheet per table, dates as Excel date
cells, the contract journal with a title above its header, ЕФО wide (one column per
domain). Style ``csv``: a set of cp1251, semicolon-separated files with decimal commas,
space thousands separators, other Russian headers and spellings, ЕФО long (one row per
domain, levels in words). Both carry personal data as real exports do (fake ФИО, phones,
addresses, exact birth dates).

Then the mess real exports have is injected, and every injected defect is recorded with
where it is (file, sheet, line as a spreadsheet shows it, column), what it was and what a
correct cleaning must do with it (``recover``, ``merge`` or ``quarantine``). The truth
rows that a correct cleaning cannot deliver (the quarantined ones and everything that
hangs on them) are listed too, so a round-trip test knows exactly what to expect.
"""

from __future__ import annotations

import datetime
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit import labels
from evalkit.synth_model import Latent, OrgSpec

__all__ = ["STYLES", "write_exports", "RU_MONTHS_GENITIVE", "EXCEL_EPOCH", "XLSX_MAX_ROWS"]

EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
RU_MONTHS_GENITIVE = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
                      "сентября", "октября", "ноября", "декабря")
#: above this many rows in one sheet an xlsx-style organisation writes UTF-8 CSV instead
#: (openpyxl writes ~1,500 rows/s of this shape; see measured-anchors.md)
XLSX_MAX_ROWS = 50_000
FIXED_TIME = (2020, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Style:
    """How one kind of organisation writes its exports."""

    name: str
    #: canonical table -> (sheet or file stem, header line (1-based), {canonical field: raw header})
    layout: dict
    #: vocabulary -> {code: raw spelling}
    spell: dict
    true_false: tuple
    #: recoverable variants
    yes_variants: tuple
    no_variants: tuple
    typos: dict
    #: spreadsheet dates: "excel" cells or a strftime pattern
    date_format: str
    date_variants: tuple


_SHARED_FAMILY = ("parent_mental_illness", "parent_intellectual_disability", "parent_substance_use",
                  "parent_orphan_background", "prior_removal", "no_registration")

STYLES: dict[str, Style] = {
    "xlsx": Style(
        name="xlsx",
        layout={
            "families": ("Семьи", 1, {
                "family_key": "№ семьи", "parent_name": "ФИО матери (законного представителя)",
                "phone": "Телефон", "address": "Адрес", "region": "Регион", "household": "Состав семьи",
                "parent_mental_illness": "Психиатрический диагноз", "parent_intellectual_disability": "Сниженный интеллект",
                "parent_substance_use": "ПАВ", "parent_orphan_background": "Выпускник интерната/д/д",
                "prior_removal": "Опыт официального отобрания", "no_registration": "Без регистрации / иностранец",
                "housing_at_intake": "Жильё", "stable_income_at_intake": "Стабильный доход",
                "rights_status_at_intake": "Родительские права"}),
            "children": ("Дети", 1, {
                "family_key": "№ семьи", "child_key": "№ ребёнка", "child_name": "ФИО ребёнка", "sex": "Пол",
                "birth_date": "Дата рождения", "disability": "ОВЗ"}),
            "cases": ("Журнал договоров", 3, {
                "case_key": "№ договора", "family_key": "№ семьи", "opened": "Дата открытия случая",
                "closed": "Дата закрытия", "support": "Вид помощи", "case_type": "Тип случая",
                "closure": "Итог", "crisis_centre": "Кризисный центр", "case_manager": "Куратор"}),
            "assessments": ("ЕФО", 1, {
                "child_key": "№ ребёнка", "case_key": "№ договора", "date": "Дата оценки", "timepoint": "Срез"}),
            "events": ("События", 1, {
                "child_key": "№ ребёнка", "date": "Дата события", "event": "Событие", "source": "Источник"}),
            "contacts": ("Мониторинг", 1, {
                "child_key": "№ ребёнка", "date": "Дата контакта", "living_with_family": "Ребёнок в семье",
                "safe": "Безопасность", "source": "Источник сведений"}),
            "services": ("Услуги", 1, {
                "case_key": "№ договора", "date": "Дата", "service": "Услуга", "amount_rub": "Сумма, руб."}),
            "costs": ("Расходы", 1, {"project": "Проект", "year": "Год", "expenses_rub": "Расходы, руб."}),
        },
        spell={
            "household": {"single_mother": "одинокая мать", "single_father": "одинокий отец",
                          "two_parents": "полная семья", "other": "другое"},
            "housing": {"own": "собственное", "rented": "съёмное", "relatives": "у родственников", "none": "нет жилья"},
            "rights_status": {"none": "не ограничены", "restricted": "ограничены", "deprived": "лишены"},
            "sex": {"female": "ж", "male": "м"},
            "support": {"complex": "комплексное сопровождение", "one_off": "разовая помощь",
                        "redirected": "перенаправление"},
            "case_type": {"ordinary": "обычный", "motivational": "мотивационный", "palliative": "соц. паллиатив"},
            "closure": {"success": "успешно", "unsuccessful_family": "неуспешно (семья)",
                        "unsuccessful_org": "неуспешно (организация)", "redirected": "перенаправлен",
                        "ongoing": "в работе"},
            "timepoint": {"intake": "первичная", "interim": "промежуточная", "closure": "итоговая",
                          "followup": "мониторинг"},
            "domain": {"housing": "Жильё", "material": "Материальное положение", "health": "Здоровье",
                       "emotional_development": "Эмоциональное развитие", "education": "Образование",
                       "basic_care": "Базовый уход", "safety": "Безопасность", "relationships": "Отношения в семье"},
            "event": {"removal": "отобрание", "voluntary_placement": "помещение по заявлению",
                      "relinquishment": "отказ", "return_home": "возвращение в семью",
                      "rights_restricted": "ограничение в правах", "rights_deprived": "лишение прав",
                      "rights_restored": "восстановление в правах", "died": "смерть", "moved_away": "переезд"},
            "source": {"case_record": "куратор", "closure_report": "отчёт о закрытии",
                       "followup_visit": "мониторинговый визит", "volunteer": "волонтёр", "parent": "родитель",
                       "informal": "неформально", "official": "опека"},
            "service": {"case_work": "работа со случаем", "legal": "социально-правовая помощь",
                        "employment": "помощь в трудоустройстве", "material": "материальная помощь",
                        "practical": "практическая помощь", "crisis_housing": "проживание в кризисном центре",
                        "social_network": "активизация окружения", "child_psych": "психолог для детей",
                        "parenting": "детско-родительские отношения", "parent_psych": "психолог для родителя",
                        "medical": "медицинская помощь", "return_assistance": "содействие возвращению ребёнка"},
        },
        true_false=("да", "нет"),
        yes_variants=("Да", "ДА", "+", "1", "да "),
        no_variants=("Нет", "НЕТ", "-", "0", " нет"),
        typos={"household": {"single_mother": "одинокя мать", "two_parents": "полная  семья"},
               "housing": {"rented": "сьёмное", "none": "нет  жилья"},
               "case_type": {"palliative": "соц. палиатив", "motivational": "мотивац."},
               "closure": {"success": "успешно.", "unsuccessful_family": "неуспешно(семья)"},
               "event": {"removal": "отобрание ", "relinquishment": "отказ от ребёнка"}},
        date_format="excel",
        date_variants=("dmy", "iso", "words", "serial"),
    ),
    "csv": Style(
        name="csv",
        layout={
            "families": ("Семьи", 1, {
                "family_key": "Код семьи", "parent_name": "Мать (ФИО)", "phone": "Контактный телефон",
                "address": "Адрес проживания", "region": "Район", "household": "Тип семьи",
                "parent_mental_illness": "Психическое заболевание", "parent_intellectual_disability": "Интеллектуальные нарушения",
                "parent_substance_use": "Алкоголь/наркотики", "parent_orphan_background": "Сирота в прошлом",
                "prior_removal": "Ранее отбирали детей", "no_registration": "Нет регистрации",
                "housing_at_intake": "Жилищные условия", "stable_income_at_intake": "Доход стабильный",
                "rights_status_at_intake": "Статус прав"}),
            "children": ("Дети", 1, {
                "family_key": "Код семьи", "child_key": "Код ребенка", "child_name": "Фамилия Имя ребенка",
                "sex": "Пол", "birth_date": "Д.р.", "disability": "Инвалидность"}),
            "cases": ("Случаи", 1, {
                "case_key": "Код случая", "family_key": "Код семьи", "opened": "Открыт", "closed": "Закрыт",
                "support": "Форма помощи", "case_type": "Тип", "closure": "Результат",
                "crisis_centre": "Проживание в КЦ", "case_manager": "Специалист"}),
            "assessments": ("ЕФО", 1, {
                "child_key": "Код ребенка", "case_key": "Код случая", "date": "Дата", "timepoint": "Этап",
                "domain": "Сфера", "score": "Уровень"}),
            "events": ("События", 1, {
                "child_key": "Код ребенка", "date": "Дата события", "event": "Что произошло",
                "source": "Откуда известно"}),
            "contacts": ("Контакты", 1, {
                "child_key": "Код ребенка", "date": "Дата", "living_with_family": "Проживает с семьей",
                "safe": "Безопасно", "source": "Вид контакта"}),
            "services": ("Услуги", 1, {
                "case_key": "Код случая", "date": "Дата услуги", "service": "Направление помощи",
                "amount_rub": "Сумма"}),
            "costs": ("Расходы", 1, {"org_name": "Организация", "project": "Проект", "year": "Год",
                                     "expenses_rub": "Затраты"}),
        },
        spell={
            "household": {"single_mother": "мать-одиночка", "single_father": "отец-одиночка",
                          "two_parents": "полная", "other": "иное"},
            "housing": {"own": "своё жильё", "rented": "аренда", "relatives": "проживает у родственников",
                        "none": "без жилья"},
            "rights_status": {"none": "нет ограничений", "restricted": "ограничение", "deprived": "лишение"},
            "sex": {"female": "Ж", "male": "М"},
            "support": {"complex": "сопровождение", "one_off": "разовая", "redirected": "перенаправлена"},
            "case_type": {"ordinary": "обычный", "motivational": "мотивационный", "palliative": "паллиатив"},
            "closure": {"success": "успешно", "unsuccessful_family": "досрочно по инициативе семьи",
                        "unsuccessful_org": "досрочно по инициативе организации", "redirected": "перенаправлен",
                        "ongoing": "продолжается"},
            "timepoint": {"intake": "вход", "interim": "промежуточная", "closure": "выход",
                          "followup": "через 6 мес."},
            "domain": {"housing": "жилье", "material": "материальное", "health": "здоровье",
                       "emotional_development": "эмоц. развитие", "education": "образование",
                       "basic_care": "базовый уход", "safety": "безопасность", "relationships": "отношения"},
            "level": {1: "кризисный", 2: "неудовлетворительный", 3: "удовлетворительный", 4: "благополучный"},
            "event": {"removal": "изъятие", "voluntary_placement": "помещение в учреждение по заявлению",
                      "relinquishment": "отказ от ребенка", "return_home": "вернулся в семью",
                      "rights_restricted": "ограничение прав", "rights_deprived": "лишение прав",
                      "rights_restored": "восстановление прав", "died": "смерть", "moved_away": "переезд семьи"},
            "source": {"case_record": "куратор", "closure_report": "закрытие случая",
                       "followup_visit": "мониторинг", "volunteer": "волонтер", "parent": "мама",
                       "informal": "знакомые", "official": "органы опеки"},
            "service": {"case_work": "Работа со случаем", "legal": "Юридическая помощь",
                        "employment": "Трудоустройство", "material": "Материальная помощь",
                        "practical": "Практическая помощь", "crisis_housing": "Проживание в КЦ",
                        "social_network": "Работа с окружением", "child_psych": "Психолог (ребенок)",
                        "parenting": "Родительская школа", "parent_psych": "Психолог (родитель)",
                        "medical": "Медицина", "return_assistance": "Возврат ребенка"},
        },
        true_false=("+", "-"),
        yes_variants=("да", "Да", "1", "+ "),
        no_variants=("нет", "Нет", "0", " -"),
        typos={"household": {"single_mother": "мать одиночка", "two_parents": "Полная"},
               "housing": {"rented": "арендa", "none": "без  жилья"},
               "case_type": {"palliative": "палиатив"},
               "closure": {"success": "Успешно", "unsuccessful_family": "досрочно по инициативе  семьи"},
               "event": {"removal": "изьятие", "relinquishment": "отказ"}},
        date_format="%d.%m.%Y",
        date_variants=("iso", "words_g", "dmy_short", "serial"),
    ),
}

_VOCAB_OF = {"household": "household", "housing_at_intake": "housing", "rights_status_at_intake": "rights_status",
             "sex": "sex", "support": "support", "case_type": "case_type", "closure": "closure",
             "timepoint": "timepoint", "event": "event", "source": "source", "service": "service",
             "domain": "domain"}
_BOOLS = set(_SHARED_FAMILY) | {"stable_income_at_intake", "disability", "crisis_centre",
                                  "living_with_family", "safe"}
_DATES = {"birth_date", "opened", "closed", "date"}

#: rates of the recoverable mess (share of cells) and of rows broken beyond repair
RATES = {"date_variant": 0.08, "yes_no_variant": 0.10, "whitespace_case": 0.05, "category_typo": 0.03,
         "amount_as_text": 0.05, "exact_duplicate": 0.01, "quarantine": 0.002}


# ----------------------------------------------------------------------------- formatting

def format_dates(dates: pd.Series, how: str) -> pd.Series:
    """Dates as text in one of the patterns real exports use (vectorised)."""
    d = pd.to_datetime(dates)
    if how == "dmy":
        out = d.dt.strftime("%d.%m.%Y")
    elif how == "dmy_short":
        out = d.dt.strftime("%d.%m.%y")
    elif how == "iso":
        out = d.dt.strftime("%Y-%m-%d")
    elif how in ("words", "words_g"):
        month = pd.Series(np.array(RU_MONTHS_GENITIVE, dtype=object)[d.dt.month.fillna(1).astype(int) - 1],
                          index=d.index)
        out = d.dt.day.astype("Int64").astype(str) + " " + month + " " + d.dt.year.astype("Int64").astype(str)
        if how == "words_g":
            out = out + " г."
    elif how == "serial":
        days = (d.to_numpy().astype("datetime64[D]") - EXCEL_EPOCH).astype("int64")
        out = pd.Series(days.astype(str), index=d.index)
    else:
        out = d.dt.strftime(how)
    return out.where(d.notna(), None)


def format_amounts_ru(x: pd.Series) -> pd.Series:
    """5271254.08 -> '5 271 254,08' (space thousands, decimal comma)."""
    s = x.map(lambda v: f"{v:,.2f}" if pd.notna(v) else None)
    return s.str.replace(",", " ", regex=False).str.replace(".", ",", regex=False)


# ----------------------------------------------------------------------------- raw tables

def _org_of_rows(latent: Latent) -> dict[str, np.ndarray]:
    """The organisation (index) of every truth row, from the latent population (truth
    tables are built row for row from it), so no identifier string is ever parsed."""
    fam_org = latent.families["org_i"].to_numpy()
    child_org = fam_org[latent.children["fam"].to_numpy()]
    return {"families": fam_org, "cases": fam_org, "children": child_org,
            "assessments": fam_org[latent.assessments["fam"].to_numpy()],
            "events": child_org[latent.events["child"].to_numpy()],
            "contacts": child_org[latent.contacts["child"].to_numpy()],
            "services": fam_org[latent.services["fam"].to_numpy()]}


def _org_tables(truth: dict, personal: dict, org: OrgSpec, org_i: int, org_of: dict) -> dict[str, pd.DataFrame]:
    """The org's truth rows in raw-key form, with personal data joined back, plus ``_tr`` (truth row)."""
    code = org.code
    strip = len(code) + 1

    def mine(table):
        df = truth[table]
        if table == "costs":
            df = df[df["org"] == code].copy()
        else:
            df = df[org_of[table] == org_i].copy()
        df["_tr"] = df.index
        return df

    fam = mine("families")
    fam["family_key"] = fam["family_id"].str[strip:]
    pf = personal["families"]
    pf = pf[pf["org"] == code].set_index("family_key")
    fam = fam.join(pf[["parent_name", "phone", "address"]], on="family_key")

    ch = mine("children")
    ch["family_key"] = ch["family_id"].str[strip:]
    ch["child_key"] = ch["child_id"].str[strip:]
    pc = personal["children"]
    pc = pc[pc["org"] == code].set_index("child_key")
    ch = ch.join(pc[["child_name", "birth_date"]], on="child_key")

    cs = mine("cases")
    cs["case_key"] = cs["case_id"].str[strip:]
    cs["family_key"] = cs["family_id"].str[strip:]
    cs["case_manager"] = cs["case_manager"].str[strip:]

    def by_child(table):
        df = mine(table)
        df["child_key"] = df["child_id"].str[strip:]
        return df

    asm = by_child("assessments")
    asm["case_key"] = asm["case_id"].str[strip:]
    ev = by_child("events")
    co = by_child("contacts")
    sv = mine("services")
    sv["case_key"] = sv["case_id"].str[strip:]
    cost = mine("costs")
    cost["org_name"] = org.name
    return {"families": fam, "children": ch, "cases": cs, "assessments": asm, "events": ev,
            "contacts": co, "services": sv, "costs": cost}


class _Sheet:
    """One raw sheet/file being built: string or typed cells, truth rows, defects."""

    def __init__(self, table: str, name: str, header_line: int, columns: dict, df: pd.DataFrame,
                 truth_rows: list):
        self.table, self.name, self.header_line, self.columns = table, name, header_line, columns
        self.df = df.reset_index(drop=True)
        self.df["_rid"] = np.arange(len(self.df))
        self.df["_order"] = np.arange(len(self.df), dtype=float)
        self.truth_rows = list(truth_rows)  # per _rid: list of truth row indices
        self._chunks: list[pd.DataFrame] = []

    def record(self, rids, column, kind, raw, original, expected, duplicate_of=None) -> None:
        rids = np.atleast_1d(rids).astype("int64")
        n = len(rids)
        self._chunks.append(pd.DataFrame({
            "rid": rids, "column": column, "kind": kind,
            "raw_value": _texts(raw, n), "original_value": _texts(original, n), "expected": expected,
            "duplicate_of_rid": np.full(n, -1, dtype="int64") if duplicate_of is None
            else np.atleast_1d(duplicate_of).astype("int64")}))

    @property
    def defects(self) -> pd.DataFrame:
        if not self._chunks:
            return pd.DataFrame(columns=["rid", "column", "kind", "raw_value", "original_value", "expected",
                                         "duplicate_of_rid"])
        if len(self._chunks) > 1:
            self._chunks = [pd.concat(self._chunks, ignore_index=True)]
        return self._chunks[0]

    def rids_with(self, expected: str | None = None) -> np.ndarray:
        d = self.defects
        return (d["rid"] if expected is None else d.loc[d["expected"] == expected, "rid"]).to_numpy()


def _texts(values, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, None, dtype=object)
    return np.array([_s(v) for v in np.atleast_1d(np.asarray(values, dtype=object))], dtype=object)


def _s(v) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, (pd.Timestamp, np.datetime64, datetime.date)):
        return str(pd.Timestamp(v).date())
    return str(v)


def _build_raw(style: Style, tables: dict[str, pd.DataFrame]) -> dict[str, _Sheet]:
    sheets = {}
    for table, (name, header, cols) in style.layout.items():
        df = tables[table]
        if table == "assessments" and style.name == "xlsx":
            # wide: one row per child x case x date x timepoint, a column per domain
            keys = ["child_key", "case_key", "date", "timepoint"]
            df = df.sort_values(keys + ["domain"], kind="stable")
            grp = df.groupby(keys, sort=False)
            wide = df.pivot_table(index=keys, columns="domain", values="score", aggfunc="first", sort=False)
            trs = grp["_tr"].apply(list)
            wide = wide.reindex(trs.index).reset_index()
            truth_rows = list(trs.to_numpy())
            cols = dict(cols)
            for d in labels.codes("domain"):
                if d in wide:
                    cols[d] = style.spell["domain"][d]
            out = wide
        else:
            out = df
            truth_rows = [[t] for t in df["_tr"].to_numpy()]
        raw = pd.DataFrame(index=out.index)
        for field, head in cols.items():
            v = out[field] if field in out else pd.Series(None, index=out.index, dtype=object)
            raw[field] = _spell(style, table, field, v)
        sheets[table] = _Sheet(table, name, header, cols, raw, truth_rows)
    return sheets


def _spell(style: Style, table: str, field: str, v: pd.Series) -> pd.Series:
    """Canonical values -> this style's base spelling (typed cells for xlsx where natural)."""
    if field in _VOCAB_OF and table != "assessments" or field in ("timepoint", "domain"):
        vocab = _VOCAB_OF[field]
        return v.map(style.spell[vocab]).astype(object).where(v.notna(), None)
    if field == "score":
        return v.map(style.spell["level"]).astype(object) if "level" in style.spell else v
    if field in labels.codes("domain"):  # wide ЕФО cells
        return v.astype("Int64").astype(object).where(v.notna(), None)
    if field in _BOOLS:
        t, f = style.true_false
        return pd.Series(np.where(v.isna(), None, np.where(v.fillna(False).astype(bool), t, f)),
                         index=v.index, dtype=object)
    if field in _DATES:
        if style.date_format == "excel":
            return pd.Series(pd.DatetimeIndex(pd.to_datetime(v)).to_pydatetime(), index=v.index, dtype=object).where(v.notna(), None)
        return format_dates(v, style.date_format)
    if field in ("amount_rub", "expenses_rub"):
        return format_amounts_ru(v) if style.name == "csv" else v.astype(object).where(v.notna(), None)
    if field == "year":
        return v.astype("int64").astype(object)
    return v.astype(object).where(v.notna(), None)


# ----------------------------------------------------------------------------- the mess

def _pick(rng, n: int, rate: float, minimum: int = 0) -> np.ndarray:
    k = min(n, max(minimum, rng.binomial(n, rate)) if n else 0)
    return np.sort(rng.choice(n, size=k, replace=False)) if k else np.array([], dtype=int)


def _inject_recoverable(style: Style, sheets: dict[str, _Sheet], rng) -> None:
    """Mess a correct cleaning repairs; rows already broken beyond repair are left alone."""
    for table, sh in sheets.items():
        df = sh.df
        broken = df["_rid"].isin(sh.rids_with()).to_numpy()
        for field, head in sh.columns.items():
            col = df[field]
            present = np.flatnonzero(col.notna().to_numpy() & ~broken)
            if field in _DATES and len(present):
                idx = present[_pick(rng, len(present), RATES["date_variant"])]
                if len(idx):
                    kinds = rng.choice(style.date_variants, size=len(idx))
                    orig = _as_dates(col.iloc[idx], style)
                    new = col.iloc[idx].astype(object).copy()
                    for k in np.unique(kinds):
                        m = kinds == k
                        vals = format_dates(pd.Series(orig.to_numpy()[m]), k)
                        if k == "serial" and style.name == "xlsx":
                            vals = vals.astype(int)  # a number cell, as when a column loses its date format
                        new.iloc[np.flatnonzero(m)] = vals.to_numpy()
                    df.loc[idx, field] = new.to_numpy()
                    sh.record(df["_rid"].to_numpy()[idx], head, "date_variant", new.to_numpy(),
                              orig.dt.strftime("%Y-%m-%d").to_numpy(), "recover")
            elif field in _BOOLS and len(present):
                idx = present[_pick(rng, len(present), RATES["yes_no_variant"])]
                if len(idx):
                    is_true = col.iloc[idx].to_numpy() == style.true_false[0]
                    new = np.where(is_true, rng.choice(style.yes_variants, len(idx)),
                                   rng.choice(style.no_variants, len(idx))).astype(object)
                    sh.record(df["_rid"].to_numpy()[idx], head, "yes_no_variant", new, col.iloc[idx].to_numpy(), "recover")
                    df.loc[idx, field] = new
            elif (field in _VOCAB_OF or field == "score" and style.name == "csv") and len(present):
                vocab = _VOCAB_OF.get(field, "level")
                if field == "domain":
                    continue
                idx = present[_pick(rng, len(present), RATES["whitespace_case"])]
                if len(idx):
                    old = col.iloc[idx].astype(str).to_numpy()
                    how = rng.integers(0, 3, len(idx))
                    new = np.where(how == 0, np.char.add(np.char.add(" ", old.astype(str)), "  "),
                                   np.where(how == 1, np.char.upper(old.astype(str)),
                                            np.char.capitalize(old.astype(str)))).astype(object)
                    changed = new != old
                    sh.record(df["_rid"].to_numpy()[idx][changed], head, "whitespace_case", new[changed],
                              old[changed], "recover")
                    df.loc[idx[changed], field] = new[changed]
                typos = style.typos.get(vocab, {})
                if typos:
                    spelled = {style.spell[vocab][c]: t for c, t in typos.items()}
                    cand = np.flatnonzero(col.isin(list(spelled)).to_numpy())
                    idx = cand[_pick(rng, len(cand), RATES["category_typo"])]
                    if len(idx):
                        old = df.loc[idx, field].to_numpy()
                        new = np.array([spelled[o] for o in old], dtype=object)
                        sh.record(df["_rid"].to_numpy()[idx], head, "category_typo", new, old, "recover")
                        df.loc[idx, field] = new
            elif field == "amount_rub" and style.name == "xlsx" and len(present):
                idx = present[_pick(rng, len(present), RATES["amount_as_text"])]
                if len(idx):
                    old = col.iloc[idx].astype(float)
                    new = format_amounts_ru(old).to_numpy()
                    sh.record(df["_rid"].to_numpy()[idx], head, "amount_as_text", new, old.to_numpy(), "recover")
                    df.loc[idx, field] = new
        # stray spaces around identifiers (recoverable)
        for field in ("family_key", "child_key", "case_key"):
            if field in sh.columns:
                present = np.flatnonzero(df[field].notna().to_numpy() & ~broken)
                idx = present[_pick(rng, len(present), RATES["whitespace_case"] / 2)]
                if len(idx):
                    old = df.loc[idx, field].to_numpy()
                    new = np.array([f" {o} " if i % 2 else f"{o} " for i, o in enumerate(old)], dtype=object)
                    sh.record(df["_rid"].to_numpy()[idx], sh.columns[field], "whitespace_id", new, old, "recover")
                    df.loc[idx, field] = new


def _as_dates(values: pd.Series, style: Style) -> pd.Series:
    """The style's base date cells (datetime objects or base-format text) as Timestamps."""
    v = pd.Series(values.to_numpy(), dtype=object)
    if style.date_format == "excel":
        return pd.to_datetime(v)
    return pd.to_datetime(v, format=style.date_format)


def _inject_unusable(style: Style, sheets: dict[str, _Sheet], rng) -> None:
    """Rows broken beyond repair: a correct cleaning quarantines each of them."""
    rate = RATES["quarantine"]

    def victims(sh, field=None, minimum=1):
        df = sh.df
        ok = np.ones(len(df), dtype=bool)
        ok &= ~df["_rid"].isin(sh.rids_with("quarantine")).to_numpy()
        if field is not None:
            ok &= df[field].notna().to_numpy()
        cand = np.flatnonzero(ok)
        return cand[_pick(rng, len(cand), rate, minimum)] if len(cand) else cand

    def breaks(sh, field, kind, values):
        idx = victims(sh, field)
        if not len(idx):
            return
        df = sh.df
        old = df.loc[idx, field].to_numpy()
        new = np.asarray(values(len(idx), old), dtype=object)
        sh.record(df["_rid"].to_numpy()[idx], sh.columns[field], kind, new, old, "quarantine")
        df.loc[idx, field] = new

    def impossible_date(n, old):
        days = rng.choice(["31.02", "30.02", "32.01", "00.05"], n)
        years = _as_dates(pd.Series(old), style).dt.year.astype(str).to_numpy()
        return np.char.add(np.char.add(days.astype(str), "."), years.astype(str))

    def far_year(n, old):
        return format_dates(_as_dates(pd.Series(old), style) + pd.DateOffset(years=182), "dmy").to_numpy()

    breaks(sheets["cases"], "opened", "impossible_date", impossible_date)
    breaks(sheets["events"], "date", "impossible_date", far_year)
    breaks(sheets["contacts"], "date", "impossible_date", impossible_date)
    breaks(sheets["assessments"], "date", "impossible_date", impossible_date)
    breaks(sheets["children"], "birth_date", "birth_in_future",
           lambda n, old: format_dates(pd.Series(pd.Timestamp("2031-06-15") + pd.to_timedelta(rng.integers(0, 900, n), "D")),
                                       "dmy").to_numpy())
    breaks(sheets["children"], "family_key", "missing_family_id", lambda n, old: np.full(n, None))
    breaks(sheets["children"], "family_key", "unknown_family_id", lambda n, old: np.array([o[:-1] for o in old], dtype=object))
    breaks(sheets["contacts"], "child_key", "missing_child_id", lambda n, old: np.full(n, None))
    breaks(sheets["events"], "child_key", "missing_child_id", lambda n, old: np.full(n, None))
    # closed before opened
    sh = sheets["cases"]
    idx = victims(sh, "closed")
    if len(idx):
        opened = _as_dates(sh.df.loc[idx, "opened"], style)
        new = opened - pd.to_timedelta(rng.integers(30, 400, len(idx)), "D")
        new = pd.Series(pd.DatetimeIndex(new).to_pydatetime(), dtype=object) if style.date_format == "excel" else \
            format_dates(new, style.date_format)
        sh.record(sh.df["_rid"].to_numpy()[idx], sh.columns["closed"], "closed_before_opened", new.to_numpy(),
                  sh.df.loc[idx, "closed"].to_numpy(), "quarantine")
        sh.df.loc[idx, "closed"] = new.to_numpy()
    # ЕФО score out of range
    sh = sheets["assessments"]
    field = "score" if "score" in sh.columns else "housing"
    if style.name == "csv":
        breaks(sh, "score", "score_out_of_range", lambda n, old: rng.choice(["5", "0", "7"], n))
    else:
        breaks(sh, field, "score_out_of_range", lambda n, old: rng.choice([5, 0, 7], n))
    # conflicting duplicates: the same key twice with different content
    for table, field in (("families", "household"), ("children", "sex")):
        sh = sheets[table]
        idx = victims(sh, field)
        if not len(idx):
            continue
        copies = sh.df.loc[idx].copy()
        vocab = _VOCAB_OF[field]
        other = {v: [w for w in style.spell[vocab].values() if w != v][0] for v in style.spell[vocab].values()}
        copies[field] = copies[field].map(lambda v: other.get(str(v).strip(), style.spell[vocab][labels.codes(vocab)[0]]))
        _append_copies(sh, idx, copies, "conflicting_duplicate", sh.columns[field], "quarantine")


def _inject_duplicates(sheets: dict[str, _Sheet], rng) -> None:
    """Rows pasted twice, verbatim: a correct cleaning merges them (and logs it)."""
    for table in ("families", "children", "cases", "events", "contacts"):
        sh = sheets[table]
        quarantined = sh.df["_rid"].isin(sh.rids_with("quarantine")).to_numpy()
        cand = np.flatnonzero(~quarantined)
        idx = cand[_pick(rng, len(cand), RATES["exact_duplicate"], 1)] if len(cand) else cand
        if len(idx):
            _append_copies(sh, idx, sh.df.loc[idx].copy(), "exact_duplicate", None, "merge")


def _append_copies(sh: _Sheet, idx, copies: pd.DataFrame, kind: str, column, expected: str) -> None:
    start = len(sh.truth_rows)
    orig_rids = sh.df.loc[idx, "_rid"].to_numpy()
    copies["_rid"] = np.arange(start, start + len(copies))
    copies["_order"] = sh.df.loc[idx, "_order"].to_numpy() + 0.5  # pasted right below the original
    sh.truth_rows.extend(sh.truth_rows[r] for r in orig_rids)
    sh.df = pd.concat([sh.df, copies], ignore_index=True)
    sh.record(copies["_rid"].to_numpy(), column, kind, None, None, expected, duplicate_of=orig_rids)
    if expected == "quarantine":  # both rows of a conflict are quarantined
        sh.record(orig_rids, column, kind, None, None, expected, duplicate_of=copies["_rid"].to_numpy())


# ----------------------------------------------------------------------------- writing

def _finalise(sh: _Sheet) -> pd.DataFrame:
    sh.df = sh.df.sort_values("_order", kind="stable").reset_index(drop=True)
    sh.df["_line"] = np.arange(len(sh.df)) + sh.header_line + 1
    return sh.df


def _write_xlsx(path: Path, sheets: dict[str, _Sheet], org: OrgSpec) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    wb = Workbook(write_only=True)
    for table, sh in sheets.items():
        ws = wb.create_sheet(sh.name)
        for _ in range(sh.header_line - 1):
            ws.append([f"{org.name}. Журнал регистрации договоров" if _ == 0 else None])
        ws.append(list(sh.columns.values()))
        fields = list(sh.columns)
        for row in sh.df[fields].itertuples(index=False, name=None):
            cells = []
            for v in row:
                if hasattr(v, "year") and not isinstance(v, str):
                    c = WriteOnlyCell(ws, value=v)
                    c.number_format = "DD.MM.YYYY"
                    cells.append(c)
                elif v is None or (isinstance(v, float) and np.isnan(v)):
                    cells.append(None)
                else:
                    cells.append(v.item() if isinstance(v, np.generic) else v)
            ws.append(cells)
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(_deterministic_zip(buf.getvalue()))


def _deterministic_zip(data: bytes) -> bytes:
    """Same content -> same bytes: fixed zip timestamps and document properties."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)",
                                 rb"\g<1>2020-01-01T00:00:00Z\g<3>", content)
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, content)
    return out.getvalue()


def _write_csv(path: Path, sh: _Sheet, encoding: str, sep: str) -> None:
    df = sh.df[list(sh.columns)].rename(columns=sh.columns)
    with open(path, "w", encoding=encoding, newline="") as fh:
        df.to_csv(fh, sep=sep, index=False, lineterminator="\r\n")


def write_exports(latent: Latent, truth: dict, personal: dict, out: Path, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write every organisation's raw exports under ``out/<org>/``.

    Returns ``(defects, expected_lost)``: every injected defect with its location and the
    expected cleaning outcome, and every truth row a correct cleaning cannot deliver.
    """
    defects, lost = [], []
    cfg = latent.config
    org_of = _org_of_rows(latent)
    for i, org in enumerate(cfg.orgs):
        rng = np.random.default_rng(np.random.SeedSequence([seed, 101, i]))
        style = STYLES[org.style]
        tables = _org_tables(truth, personal, org, i, org_of)
        sheets = _build_raw(style, tables)
        _inject_unusable(style, sheets, rng)
        _inject_recoverable(style, sheets, rng)
        _inject_duplicates(sheets, rng)
        folder = Path(out) / org.code
        folder.mkdir(parents=True, exist_ok=True)
        for sh in sheets.values():
            _finalise(sh)
        too_big = style.name == "xlsx" and max(len(s.df) for s in sheets.values()) > XLSX_MAX_ROWS
        files = {}
        if style.name == "xlsx" and not too_big:
            name = f"{org.code}_выгрузка.xlsx"
            _write_xlsx(folder / name, sheets, org)
            files = {t: (name, sh.name) for t, sh in sheets.items()}
        else:
            enc, sep = ("cp1251", ";") if style.name == "csv" else ("utf-8-sig", ",")
            for t, sh in sheets.items():
                name = f"{sh.name}.csv"
                if style.name != "csv":  # a big workbook exported sheet by sheet
                    sh.header_line, sh.df["_line"] = 1, np.arange(len(sh.df)) + 2
                _write_csv(folder / name, sh, enc, sep)
                files[t] = (name, None)
        _write_mapping(folder, org, style, csv_fallback=style.name == "xlsx" and too_big)
        for t, sh in sheets.items():
            d = sh.defects
            if not len(d):
                continue
            line_of = pd.Series(sh.df["_line"].to_numpy(), index=sh.df["_rid"].to_numpy())
            truth_rows = pd.Series([",".join(map(str, r)) for r in sh.truth_rows])
            dup = d["duplicate_of_rid"].to_numpy()
            defects.append(pd.DataFrame({
                "org": org.code, "table": t, "file": files[t][0], "sheet": files[t][1],
                "line": line_of.loc[d["rid"].to_numpy()].to_numpy(), "column": d["column"].to_numpy(),
                "kind": d["kind"].to_numpy(), "raw_value": d["raw_value"].to_numpy(),
                "original_value": d["original_value"].to_numpy(), "expected": d["expected"].to_numpy(),
                "duplicate_of_line": pd.array(np.where(dup >= 0, line_of.reindex(dup).to_numpy(), np.nan),
                                              dtype="Int64"),
                "truth_rows": truth_rows.loc[d["rid"].to_numpy()].to_numpy()}))
        lost.append(_expected_lost(truth, sheets, org))
    d = pd.concat(defects, ignore_index=True)
    d = d.sort_values(["org", "table", "line", "kind", "column"], kind="stable", na_position="first").reset_index(drop=True)
    lost_df = pd.concat(lost, ignore_index=True).drop_duplicates().sort_values(["table", "truth_row"]).reset_index(drop=True)
    return d, lost_df


def _write_mapping(folder: Path, org: OrgSpec, style: Style, csv_fallback: bool) -> None:
    """The source's evalkit.yaml, from the hand-written template of its export style."""
    from importlib.resources import files

    import yaml

    text = (files("evalkit") / "templates" / f"mapping_{style.name}.yaml").read_text(encoding="utf-8")
    text = text.replace("__ORG__", org.code)
    text = re.sub(r"^name: .*$", f"name: {org.name}", text, count=1, flags=re.M)
    if csv_fallback:  # the workbook's sheets written as UTF-8 CSV files (too big for xlsx)
        doc = yaml.safe_load(text)
        doc["defaults"] = {"encoding": "utf-8-sig", "delimiter": ",", "dates": ["iso"]}
        for t in doc["tables"].values():
            t["file"] = f"{t.pop('sheet')}.csv"
            t.pop("header_line", None)
        text = ("# Generated by evalkit synth: organisation-style A exported sheet by sheet as CSV.\n"
                + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    (folder / "evalkit.yaml").write_text(text, encoding="utf-8")


def _expected_lost(truth: dict, sheets: dict[str, _Sheet], org: OrgSpec) -> pd.DataFrame:
    """Truth rows a correct cleaning cannot deliver: quarantined rows and what hangs on them."""
    direct: dict[str, set] = {t: set() for t in truth}
    for t, sh in sheets.items():
        for rid in np.unique(sh.rids_with("quarantine")):
            direct[t].update(sh.truth_rows[rid])
    fam = truth["families"]
    lost_fam = set(fam.loc[sorted(direct["families"]), "family_id"])
    ch = truth["children"]
    lost_child = set(ch.loc[sorted(direct["children"]), "child_id"]) | set(ch.loc[ch["family_id"].isin(lost_fam), "child_id"])
    cs = truth["cases"]
    lost_case = set(cs.loc[sorted(direct["cases"]), "case_id"]) | set(cs.loc[cs["family_id"].isin(lost_fam), "case_id"])
    rows = []

    def add(table, mask):
        for r in truth[table].index[mask]:
            rows.append((org.code, table, int(r)))

    for t in truth:
        for r in direct[t]:
            rows.append((org.code, t, int(r)))
    add("children", ch["child_id"].isin(lost_child).to_numpy())
    add("cases", cs["case_id"].isin(lost_case).to_numpy())
    a = truth["assessments"]
    add("assessments", (a["child_id"].isin(lost_child) | a["case_id"].isin(lost_case)).to_numpy())
    for t in ("events", "contacts"):
        add(t, truth[t]["child_id"].isin(lost_child).to_numpy())
    add("services", truth["services"]["case_id"].isin(lost_case).to_numpy())
    return pd.DataFrame(rows, columns=["org", "table", "truth_row"])
