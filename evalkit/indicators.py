"""The annual indicators: the practice's social results per reporting year, as the seeds define them.

Every indicator is defined once, in :data:`INDICATORS`: its id (the seed's own
numbering), Russian and English names, the unit (family or child), what counts in the
numerator and in the denominator, and the reporting-period rule. :func:`compute` turns
the canonical tables into one row per indicator × organisation × year with numerator,
denominator, share and Wilson 95% confidence interval (and, for indicators counted in
children, an interval widened for siblings sharing fate), a completeness figure and a
data-quality verdict. The registry form the seeds print ("26 семей из 32 (81%)"), the
reconciliation with what an organisation reported, the cost of a social result, the
benchmark against official statistics and the length of support build on that table.

How the units are defined (which child was "at home at closure", which case "closed in
the year") is in :mod:`evalkit.frames`.

Unknown outcomes. For the indicators whose denominator is *every* family or child whose
case closed (002-1a, 002-1b, 002-3, as the seeds count them) a unit whose outcome is not
recorded counts in the denominator and not in the numerator — the conservative reading —
and the indicator is shown as **DQ** (not as a number) when fewer than ``min_complete``
(default 80%) of the units have a recorded outcome. For the indicators the seeds compute
among families *that could be assessed* (000-2, 000-3.1, 000-3.2, the 6-month follow-up)
the denominator is the assessed units, and completeness is the share of the eligible
units that were assessed: a low share means the figure describes a selected few, and it
is gated the same way.

Confidence intervals. Wilson score intervals (Wilson 1927; recommended by Brown, Cai &
DasGupta 2001 for small samples) computed with statsmodels. Children of one family share
fate, so for the child-level indicators the binomial interval is too narrow; the
``ci_low_clustered`` / ``ci_high_clustered`` columns give the Wilson interval at the
effective sample size n / deff, with the design effect of the ratio estimator of a
proportion over family clusters (Kish 1965; the effective-sample-size approach of Korn &
Graubard 1998, with Wilson intervals as in Dean & Pagano 2015).

Examples
--------
>>> from evalkit.dataset import read_dataset
>>> from evalkit import indicators
>>> table = indicators.compute(read_dataset("demo"), years=[2019, 2020, 2021])   # doctest: +SKIP
>>> table.summary.columns[:8].tolist()                                           # doctest: +SKIP
['indicator', 'org', 'year', 'unit', 'numerator', 'denominator', 'share', 'ci_low']
>>> table.registry(lang="ru").loc["002-1a"]                                      # doctest: +SKIP
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from evalkit import frames
from evalkit.errors import UserError

__all__ = [
    "Indicator", "INDICATORS", "indicator", "IndicatorTable", "compute", "default_years", "wilson", "design_effect",
    "format_share", "format_count_of", "format_money", "plural_ru",
    "reconcile", "read_reported", "cost_per_result", "official_benchmark", "read_official_rates",
    "support_duration", "duration_sentence", "plot_trends", "ALL_ORGS",
    "hidden_cells", "detail_table", "cost_table", "render_definitions",
]

#: the organisation label of rows pooled over every organisation
ALL_ORGS = "all"
_REFERENCE = Path(__file__).parent / "reference"


# ----------------------------------------------------------------------------- formatting

def plural_ru(n: int, one: str, few: str, many: str) -> str:
    """The Russian noun form for ``n``: 1 семья, 2 семьи, 5 семей, 21 семья, 11 семей.

    >>> [plural_ru(n, "семья", "семьи", "семей") for n in (1, 2, 5, 11, 21, 22, 112)]
    ['семья', 'семьи', 'семей', 'семей', 'семья', 'семьи', 'семей']
    """
    n = abs(int(n))
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


_UNIT_WORDS = {
    "family": {"ru": ("семья", "семьи", "семей"), "en": ("family", "families")},
    "child": {"ru": ("ребенок", "ребенка", "детей"), "en": ("child", "children")},
}


def format_share(share: float, lang: str = "ru", decimals: int = 0, rounding: str = "floor") -> str:
    """A share as a percentage the way the seeds print it: ``81%``, ``68,5%`` (ru), ``68.5%`` (en).

    ``rounding="floor"`` (default) truncates, as the seeds' registry tables do (35/72 =
    48.6% is printed 48%): a reported result is never rounded up. ``"half_up"`` rounds.

    >>> format_share(61 / 89, decimals=1), format_share(35 / 72), format_share(35 / 72, rounding="half_up")
    ('68,5%', '48%', '49%')
    """
    if share is None or not np.isfinite(share):
        return "—"
    scale = 10 ** decimals
    # a tiny epsilon keeps 0.29 * 100 = 28.999999999999996 from truncating to 28
    raw = share * 100 * scale
    value = (math.floor(raw + 1e-9) if rounding == "floor" else math.floor(raw + 0.5 + 1e-9)) / scale
    text = f"{value:.{decimals}f}"
    return (text.replace(".", ",") if lang == "ru" else text) + "%"


def format_count_of(numerator: int, denominator: int, unit: str, lang: str = "ru", decimals: int = 0,
                    rounding: str = "floor") -> str:
    """The registry cell: ``26 семей из 32 (81%)`` / ``26 of 32 families (81%)``.

    >>> format_count_of(31, 37, "family"), format_count_of(61, 81, "child", "en")
    ('31 семья из 37 (83%)', '61 of 81 children (75%)')
    """
    share = numerator / denominator if denominator else float("nan")
    pct = format_share(share, lang, decimals, rounding)
    if lang == "ru":
        word = plural_ru(numerator, *_UNIT_WORDS[unit]["ru"])
        return f"{numerator} {word} из {denominator} ({pct})"
    one, many = _UNIT_WORDS[unit]["en"]
    return f"{numerator} of {denominator} {one if denominator == 1 else many} ({pct})"


def format_money(value: float, lang: str = "ru") -> str:
    """Roubles with kopecks: ``479 204,92`` (ru, narrow no-break space) / ``479,204.92`` (en)."""
    if value is None or not np.isfinite(value):
        return "—"
    text = f"{value:,.2f}"
    if lang == "ru":
        return text.replace(",", "\u202f").replace(".", ",")
    return text


# ----------------------------------------------------------------------------- confidence intervals

def wilson(numerator, denominator, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (statsmodels' ``proportion_confint(method="wilson")``), vectorised;
    NaN where the denominator is 0."""
    from statsmodels.stats.proportion import proportion_confint

    x = np.asarray(numerator, dtype=float)
    n = np.asarray(denominator, dtype=float)
    ok = n > 0
    low, high = np.full(x.shape, np.nan), np.full(x.shape, np.nan)
    if ok.any():
        lo, hi = proportion_confint(x[ok], n[ok], alpha=alpha, method="wilson")
        low[ok], high[ok] = lo, hi
    return low, high


def design_effect(achieved: np.ndarray, cluster: np.ndarray) -> float:
    """Design effect of a proportion over clusters (ratio estimator, with-replacement variance).

    deff = Var_cluster(p) / Var_srs(p); 1 when there is only one cluster or p is 0 or 1.
    """
    n = len(achieved)
    if n == 0:
        return float("nan")
    y = pd.Series(achieved.astype(float)).groupby(cluster).sum()
    m = pd.Series(np.ones(n)).groupby(cluster).sum()
    k = len(m)
    p = y.sum() / n
    if k < 2 or p in (0.0, 1.0):
        return 1.0
    var_cluster = k / (k - 1) * float(((y - p * m) ** 2).sum()) / n ** 2
    var_srs = p * (1 - p) / n
    return max(var_cluster / var_srs, 1.0)


# ----------------------------------------------------------------------------- the indicators

@dataclass(frozen=True)
class Indicator:
    """One indicator, defined once.

    ``units(context, years)`` returns one row per unit (family or child) and reporting
    year that is *eligible* for the indicator, with columns ``org, year, unit_id,
    cluster`` (the family), ``known`` (the outcome is recorded) and ``achieved``.
    ``denominator`` says who is counted below the line: ``"all"`` eligible units (unknown
    outcomes count as not achieved) or only the ``"known"`` ones.
    """

    id: str
    name_ru: str
    name_en: str
    unit: str
    numerator_ru: str
    numerator_en: str
    denominator_ru: str
    denominator_en: str
    period_ru: str
    period_en: str
    seed: str
    units: Callable
    denominator: str = "all"
    #: what completeness measures (shown with a DQ verdict)
    inputs_ru: str = ""
    inputs_en: str = ""

    def name(self, lang: str = "ru") -> str:
        return self.name_ru if lang == "ru" else self.name_en


class _Context:
    """Frames shared by the indicators of one computation (built once, on demand)."""

    def __init__(self, tables: dict[str, pd.DataFrame], cutoff: pd.Timestamp):
        self.tables, self.cutoff = tables, cutoff
        self._kids = self._fams = None
        self._supported: dict = {}

    @property
    def kids(self) -> pd.DataFrame:
        if self._kids is None:
            self._kids = frames.children_at_closure(self.tables)
        return self._kids

    @property
    def fams(self) -> pd.DataFrame:
        if self._fams is None:
            self._fams = frames.families_at_closure(self.tables, self.kids)
        return self._fams

    def supported(self, years) -> pd.DataFrame:
        key = tuple(int(y) for y in years)
        if key not in self._supported:
            self._supported[key] = frames.families_supported(self.tables, years)
        return self._supported[key]


def _units(df: pd.DataFrame, year: str, unit_id: str, known, achieved) -> pd.DataFrame:
    return pd.DataFrame({
        "org": df["org"].to_numpy(), "year": df[year].astype("int64").to_numpy(),
        "unit_id": df[unit_id].to_numpy(), "cluster": df["family_id"].to_numpy(),
        "known": np.asarray(known, dtype=bool), "achieved": np.asarray(achieved, dtype=bool)})


def _closed_in(df: pd.DataFrame, years) -> pd.DataFrame:
    return df[df["closed_year"].isin(list(years))]


def _u_families_home(ctx: _Context, years) -> pd.DataFrame:
    f = _closed_in(ctx.fams, years)
    return _units(f, "closed_year", "case_id", f["home_known"], f["home_safe"].fillna(False))


def _u_children_home(ctx: _Context, years) -> pd.DataFrame:
    k = _closed_in(ctx.kids, years)
    return _units(k, "closed_year", "child_id", k["home_safe"].notna(), k["home_safe"].fillna(False))


def _u_rights_restored(ctx: _Context, years) -> pd.DataFrame:
    t = ctx.tables
    sup = ctx.supported(years)
    fam = t["families"].set_index("family_id")["rights_status_at_intake"]
    ev = t["events"].merge(t["children"][["child_id", "family_id"]], on="child_id")
    limited_ev = ev[ev["event"].isin(["rights_restricted", "rights_deprived"])].groupby("family_id")["date"].min()
    restored = ev[ev["event"] == "rights_restored"][["family_id", "date"]]
    end = pd.to_datetime(sup["year"].astype(str) + "-12-31")
    at_intake = sup["family_id"].map(fam).isin(["restricted", "deprived"]).to_numpy()
    by_event = (sup["family_id"].map(limited_ev) <= end).fillna(False).to_numpy(bool)
    sup = sup[at_intake | by_event]
    keys = set(zip(restored["family_id"], restored["date"].dt.year))
    achieved = [(f, y) in keys for f, y in zip(sup["family_id"], sup["year"])]
    return _units(sup.assign(unit=sup["family_id"]), "year", "unit", np.ones(len(sup), bool), achieved)


def _u_children_improved(ctx: _Context, years) -> pd.DataFrame:
    k = _closed_in(ctx.kids, years)
    # outcome known: both assessments exist, or the child was not at home at closure (no
    # closure ЕФО is taken then, and the child is counted as not improved)
    known = k["efo_assessed"].to_numpy() | (k["home_safe"] == False).fillna(False).to_numpy(bool)  # noqa: E712
    return _units(k, "closed_year", "child_id", known, k["efo_improved"])


def _u_families_stabilised(ctx: _Context, years) -> pd.DataFrame:
    s = ctx.supported(years)
    return _units(s.assign(unit=s["family_id"]), "year", "unit", np.ones(len(s), bool), s["success_in_year"])


def _u_families_closed(ctx: _Context, years) -> pd.DataFrame:
    s = ctx.supported(years)
    return _units(s.assign(unit=s["family_id"]), "year", "unit", np.ones(len(s), bool), s["closed_in_year"])


def _u_families_kept_assessed(ctx: _Context, years) -> pd.DataFrame:
    f = _closed_in(ctx.fams, years)
    return _units(f, "closed_year", "case_id", f["efo_any"] & f["home_known"], f["home_safe"].fillna(False))


def _u_children_moved_up(ctx: _Context, years) -> pd.DataFrame:
    k = _closed_in(ctx.kids, years)
    k = k[k["home_safe"].fillna(False).astype(bool)]
    return _units(k, "closed_year", "child_id", k["efo_assessed"], k["efo_moved_up"])


def _followup_eligible(ctx: _Context, years) -> pd.DataFrame:
    f = _closed_in(ctx.fams, years)
    late_enough = f["closed"] + pd.Timedelta(days=frames.FOLLOWUP_WINDOW_MONTHS[1] * frames.MONTH_DAYS) <= ctx.cutoff
    return f[f["home_safe"].fillna(False).astype(bool) & late_enough.to_numpy()]


def _u_families_improved_followup(ctx: _Context, years) -> pd.DataFrame:
    f = _followup_eligible(ctx, years)
    return _units(f, "closed_year", "case_id", f["followup_any"], f["followup_improved"])


def _u_families_home_6m(ctx: _Context, years) -> pd.DataFrame:
    f = _followup_eligible(ctx, years)
    return _units(f, "closed_year", "case_id", f["followup6_seen"], f["followup6_home"])


_CLOSED_RU, _CLOSED_EN = "случай закрыт в отчетном году", "case closed in the reporting year"
_SUPPORTED_RU, _SUPPORTED_EN = ("семья на комплексном сопровождении в отчетном году",
                                "family on complex support at some time in the reporting year")

#: Every indicator of ``shared/domain.md``, in the order reports show them.
INDICATORS: tuple[Indicator, ...] = (
    Indicator("002-1a", "Кровные семьи, в которых ребенок (дети) живет в безопасности",
              "Birth families where the child (children) live safely",
              "family", "все дети семьи живут в семье в безопасности на момент закрытия случая",
              "every child of the family lives safely with the family at closure",
              "семьи, случаи которых завершены в отчетном году", "families whose case closed in the reporting year",
              _CLOSED_RU, _CLOSED_EN, "002, social result 1", _u_families_home,
              inputs_ru="отчет о закрытии с отметкой о каждом ребенке", inputs_en="a closure report on every child"),
    Indicator("002-1b", "Дети, которые живут в кровной семье в безопасности",
              "Children who live safely in their birth family",
              "child", "ребенок живет в семье в безопасности на момент закрытия случая",
              "the child lives safely with the family at closure",
              "дети, работа с которыми завершена в отчетном году", "children whose support ended in the reporting year",
              _CLOSED_RU, _CLOSED_EN, "002, social result 1", _u_children_home,
              inputs_ru="отчет о закрытии с отметкой о ребенке", inputs_en="a closure report on the child"),
    Indicator("002-2", "Семьи, восстановленные в родительских правах (ограничение отменено)",
              "Families with parental rights restored (restriction lifted)",
              "family", "решение о восстановлении в правах / отмене ограничения в отчетном году",
              "a court decision restoring the rights / lifting the restriction in the reporting year",
              "сопровождаемые в году семьи, ограниченные или лишенные родительских прав",
              "families supported in the year whose parental rights were restricted or deprived",
              _SUPPORTED_RU, _SUPPORTED_EN, "002, social result 2", _u_rights_restored),
    Indicator("002-3", "Дети, у которых повысилось качество жизни в одной и более областях",
              "Children whose quality of life rose in at least one domain",
              "child", "уровень ЕФО при закрытии выше, чем при открытии, хотя бы в одной области",
              "the ЕФО level at closure is higher than at intake in at least one domain",
              "дети, случаи которых завершены в отчетном году", "children whose case closed in the reporting year",
              _CLOSED_RU, _CLOSED_EN, "002, social result 3", _u_children_improved,
              inputs_ru="ЕФО при открытии и закрытии (или ребенок не в семье при закрытии)",
              inputs_en="ЕФО at intake and closure (or the child not at home at closure)"),
    Indicator("000-1", "Семьи, в которых стабилизировалась трудная жизненная ситуация",
              "Families whose difficult situation stabilised",
              "family", "случай закрыт успешно в отчетном году", "the case closed successfully in the reporting year",
              "семьи на комплексном сопровождении в отчетном году", "families on complex support in the reporting year",
              _SUPPORTED_RU, _SUPPORTED_EN, "000, result 1", _u_families_stabilised),
    Indicator("000-2", "Семьи, сохранившие детей (среди оцененных по ЕФО)",
              "Families that kept their children (of those assessed with ЕФО)",
              "family", "все дети семьи живут в семье в безопасности на момент закрытия случая",
              "every child of the family lives safely with the family at closure",
              "семьи с оценкой ЕФО, случаи которых завершены в отчетном году",
              "families assessed with ЕФО whose case closed in the reporting year",
              _CLOSED_RU, _CLOSED_EN, "000, result 2", _u_families_kept_assessed, denominator="known",
              inputs_ru="оценка ЕФО и отчет о закрытии", inputs_en="an ЕФО assessment and a closure report"),
    Indicator("000-3.1", "Дети, перешедшие на удовлетворительный или благополучный уровень",
              "Children who moved to a satisfactory or well-off level",
              "child", "при закрытии все области ЕФО на уровне 3–4, при открытии — нет",
              "at closure every ЕФО domain at level 3–4, at intake not",
              "дети в семье при закрытии, оцененные при открытии и закрытии",
              "children at home at closure assessed at intake and at closure",
              _CLOSED_RU, _CLOSED_EN, "000, result 3.1", _u_children_moved_up, denominator="known",
              inputs_ru="ЕФО при открытии и закрытии", inputs_en="ЕФО at intake and closure"),
    Indicator("000-3.2", "Семьи, в которых благополучие ребенка улучшилось (по мониторингу)",
              "Families where the child's well-being improved (at follow-up)",
              "family", "уровень ЕФО на мониторинге выше, чем при открытии, хотя бы в одной области",
              "the ЕФО level at follow-up is higher than at intake in at least one domain",
              "семьи с мониторингом ЕФО после закрытия", "families with a follow-up ЕФО after closure",
              _CLOSED_RU, _CLOSED_EN, "000, result 3.2", _u_families_improved_followup, denominator="known",
              inputs_ru="ЕФО на мониторинге после закрытия", inputs_en="a follow-up ЕФО after closure"),
    Indicator("000-S6", "Семьи, в которых дети живут дома через 6 месяцев после закрытия",
              "Families whose children still live at home 6 months after closure",
              "family", "на контакте около 6 месяцев после закрытия все дети живут в семье",
              "at the contact about 6 months after closure every child lives with the family",
              "семьи с детьми дома при закрытии, с которыми был контакт через 3–9 месяцев",
              "families with the children at home at closure reached 3–9 months after closure",
              _CLOSED_RU, _CLOSED_EN, "000, sustainability", _u_families_home_6m, denominator="known",
              inputs_ru="контакт через 3–9 месяцев после закрытия", inputs_en="a contact 3–9 months after closure"),
    Indicator("002-C", "Семьи, сопровождение которых завершено в году",
              "Families whose support ended in the year",
              "family", "случай закрыт в отчетном году", "the case closed in the reporting year",
              "семьи на комплексном сопровождении в отчетном году", "families on complex support in the reporting year",
              _SUPPORTED_RU, _SUPPORTED_EN, "002, sample description", _u_families_closed),
)

_BY_ID = {i.id: i for i in INDICATORS}


def indicator(indicator_id: str) -> Indicator:
    """The definition of one indicator by id (a clear error listing the ids otherwise)."""
    try:
        return _BY_ID[indicator_id]
    except KeyError:
        raise UserError(f"нет показателя / no indicator {indicator_id!r}; есть / known: {', '.join(_BY_ID)}") from None


# ----------------------------------------------------------------------------- computing

_SUMMARY_COLUMNS = ["indicator", "org", "year", "unit", "numerator", "denominator", "share", "ci_low", "ci_high",
                    "deff", "ci_low_clustered", "ci_high_clustered", "eligible", "known", "completeness",
                    "dq", "dq_reason_ru", "dq_reason_en"]


@dataclass
class IndicatorTable:
    """The indicators of one dataset: ``summary`` has one row per indicator × org × year.

    Columns of ``summary``: indicator, org (``"all"`` pools every organisation), year,
    unit, numerator, denominator, share, ci_low, ci_high (Wilson 95%), deff, the clustered
    interval (child indicators), eligible (units the rule selects), known (units with a
    recorded outcome), completeness (known / eligible), dq (True: too incomplete to show),
    dq_reason_ru / dq_reason_en.
    """

    summary: pd.DataFrame
    min_complete: float
    cutoff: pd.Timestamp

    def registry(self, lang: str = "ru", org: str = ALL_ORGS, decimals: int = 0, ids=None,
                 rounding: str = "floor", mask=None) -> pd.DataFrame:
        """The registry form: rows = indicators, columns = years, cells "26 семей из 32 (81%)".

        ``mask`` (optional, aligned with ``summary``): True where a published report must
        hide the cell (see :mod:`evalkit.privacy`); such cells read ``*``.
        """
        s = self.summary
        if mask is not None:
            s = s.assign(_hidden=np.asarray(mask, dtype=bool))
        s = s[s["org"] == org]
        if ids is not None:
            s = s[s["indicator"].isin(list(ids))]
        cells = {}
        for _, r in s.iterrows():
            if r.get("_hidden", False):
                text = "*"
            elif r["dq"]:
                text = "DQ"
            elif r["denominator"] == 0:
                text = "—"
            else:
                text = format_count_of(int(r["numerator"]), int(r["denominator"]), r["unit"], lang, decimals,
                                       rounding)
            cells[(r["indicator"], int(r["year"]))] = text
        if not cells:
            return pd.DataFrame()
        out = pd.Series(cells).unstack()
        order = [i.id for i in INDICATORS if i.id in out.index]
        out = out.loc[order]
        out.index = pd.Index(order, name="indicator")
        out.insert(0, "name", [indicator(i).name(lang) for i in order])
        out.columns.name = None
        return out

    def dq_notes(self, lang: str = "ru") -> pd.DataFrame:
        """Why each DQ cell is not shown."""
        s = self.summary[self.summary["dq"]]
        col = "dq_reason_ru" if lang == "ru" else "dq_reason_en"
        return s[["indicator", "org", "year", col]].rename(columns={col: "reason"}).reset_index(drop=True)


def default_years(tables: dict[str, pd.DataFrame], cutoff: pd.Timestamp, last: int = 3) -> list[int]:
    """The last ``last`` complete reporting years with closures, as the seeds report three years.

    A year is complete when the data's cut-off is in its last month (data exported in
    mid-December still count the year).
    """
    closed = tables["cases"]["closed"].dropna()
    if closed.empty:
        return []
    end = int(cutoff.year) if cutoff.month == 12 else int(cutoff.year) - 1
    first = int(closed.dt.year.min())
    return list(range(max(first, end - last + 1), end + 1))


def _aggregate(units: pd.DataFrame, ind: Indicator, year: int, org: str) -> dict:
    eligible = len(units)
    known = int(units["known"].sum())
    base = units[units["known"]] if ind.denominator == "known" else units
    achieved = base["achieved"].to_numpy(bool) & base["known"].to_numpy(bool)
    num, den = int(achieved.sum()), int(len(base))
    deff = design_effect(achieved, base["cluster"].to_numpy()) if ind.unit == "child" and den else np.nan
    return {"indicator": ind.id, "org": org, "year": year, "unit": ind.unit, "numerator": num,
            "denominator": den, "eligible": eligible, "known": known,
            "completeness": known / eligible if eligible else np.nan, "deff": deff}


def compute(tables: dict[str, pd.DataFrame], years=None, orgs=None, ids=None, min_complete: float = 0.8,
            cutoff=None) -> IndicatorTable:
    """Compute the indicators per reporting year and organisation (and pooled, ``org="all"``).

    Parameters
    ----------
    tables : dict of DataFrame
        The canonical tables (:func:`evalkit.dataset.read_dataset`).
    years : list of int, optional
        Reporting years; default the last three complete years (:func:`default_years`).
    orgs : list of str, optional
        Organisations to report separately (default: every organisation in the data).
        The pooled row ``"all"`` always covers every organisation in the data.
    ids : list of str, optional
        Indicator ids (default: all of :data:`INDICATORS`).
    min_complete : float
        Below this completeness an indicator is shown as DQ.
    cutoff : date, optional
        The data cut-off (default: :func:`evalkit.frames.data_cutoff`).

    Returns
    -------
    IndicatorTable
    """
    if not 0 <= min_complete <= 1:
        raise UserError(f"min_complete должен быть от 0 до 1 / must be between 0 and 1, got {min_complete}")
    cutoff = pd.Timestamp(cutoff) if cutoff is not None else frames.data_cutoff(tables)
    years = [int(y) for y in (years if years is not None else default_years(tables, cutoff))]
    data_orgs = sorted(set(tables["cases"]["org"]))
    if orgs is None:
        orgs = data_orgs
    unknown = [o for o in orgs if o not in data_orgs and o != ALL_ORGS]
    if unknown:
        raise UserError(f"нет организации / no organisation {unknown} in the data; есть / known: {data_orgs}")
    defs = [indicator(i) for i in ids] if ids is not None else list(INDICATORS)
    ctx = _Context(tables, cutoff)
    rows = []
    for ind in defs:
        units = ind.units(ctx, years)
        for y in years:
            uy = units[units["year"] == y]
            pooled = uy.drop_duplicates("unit_id")
            rows.append(_aggregate(pooled, ind, y, ALL_ORGS))
            for org in orgs:
                if org != ALL_ORGS:
                    rows.append(_aggregate(uy[uy["org"] == org], ind, y, org))
    s = pd.DataFrame(rows)
    s["share"] = np.where(s["denominator"] > 0, s["numerator"] / s["denominator"].where(s["denominator"] > 0), np.nan)
    s["ci_low"], s["ci_high"] = wilson(s["numerator"], s["denominator"])
    n_eff = s["denominator"] / s["deff"]
    s["ci_low_clustered"], s["ci_high_clustered"] = wilson(s["share"] * n_eff, n_eff)
    s["dq"] = (s["completeness"] < min_complete).fillna(False)
    reason_ru, reason_en = [], []
    for r in s.itertuples():
        ind = _BY_ID[r.indicator]
        if r.dq:
            pct = format_share(r.completeness, "ru", 0, "half_up")
            reason_ru.append(f"{ind.inputs_ru or 'исходные данные'} есть для {r.known} из {r.eligible} ({pct}); "
                             f"порог {format_share(min_complete, 'ru', 0, 'half_up')}")
            reason_en.append(f"{ind.inputs_en or 'inputs'} recorded for {r.known} of {r.eligible} "
                             f"({format_share(r.completeness, 'en', 0, 'half_up')}); threshold "
                             f"{format_share(min_complete, 'en', 0, 'half_up')}")
        else:
            reason_ru.append("")
            reason_en.append("")
    s["dq_reason_ru"], s["dq_reason_en"] = reason_ru, reason_en
    return IndicatorTable(summary=s[_SUMMARY_COLUMNS].reset_index(drop=True), min_complete=min_complete,
                          cutoff=cutoff)


# ----------------------------------------------------------------------------- publishing

def hidden_cells(table: IndicatorTable, min_cell: int = 5) -> np.ndarray:
    """Which rows of ``table.summary`` a published report must hide (small-cell suppression).

    The rule of :func:`evalkit.privacy.suppress_shares`: a numerator or its complement of
    1..min_cell-1 (or such a denominator) hides the cell, and within each indicator and
    year the organisations' rows and the pooled ``"all"`` row get secondary suppression so
    a hidden count cannot be recovered by subtraction. True = hide the row's figures.
    """
    from evalkit import privacy

    s = table.summary
    frame = s[["indicator", "year", "org", "numerator", "denominator", "share"]].reset_index(drop=True)
    res = privacy.suppress_shares(frame, "numerator", "denominator", share=["share"], min_cell=min_cell,
                                  group_total=("org", ALL_ORGS), by=["indicator", "year"])
    return res.mask[["numerator", "denominator"]].any(axis=1).to_numpy()


_DETAIL = {"ru": {"indicator": "показатель", "name": "название", "org": "организация", "year": "год",
                  "numerator": "числитель", "denominator": "знаменатель", "share": "доля",
                  "ci": "95% ДИ", "ci_clustered": "95% ДИ с учетом семей", "completeness": "полнота данных",
                  "all": "все"},
           "en": {"indicator": "indicator", "name": "name", "org": "organisation", "year": "year",
                  "numerator": "numerator", "denominator": "denominator", "share": "share",
                  "ci": "95% CI", "ci_clustered": "95% CI allowing for siblings", "completeness": "completeness",
                  "all": "all"}}


def _pct(x, lang: str, decimals: int = 1) -> str:
    return format_share(x, lang, decimals, "half_up") if x is not None and np.isfinite(x) else "—"


def detail_table(table: IndicatorTable, lang: str = "ru", publish: bool = False, min_cell: int = 5,
                 org: str | None = None, ids=None) -> pd.DataFrame:
    """The indicators with numerator, denominator, share and 95% intervals, labelled in ``lang``.

    With ``publish=True`` small cells are hidden (:func:`hidden_cells`); DQ rows show "DQ".
    """
    from evalkit import privacy

    w = _DETAIL[lang]
    s = table.summary.copy()
    hide = hidden_cells(table, min_cell) if publish else np.zeros(len(s), bool)
    keep = np.ones(len(s), bool)
    if org is not None:
        keep &= (s["org"] == org).to_numpy()
    if ids is not None:
        keep &= s["indicator"].isin(list(ids)).to_numpy()
    s, hide = s[keep], hide[keep]
    out = pd.DataFrame({
        w["indicator"]: s["indicator"].to_numpy(),
        w["name"]: [indicator(i).name(lang) for i in s["indicator"]],
        w["org"]: s["org"].replace({ALL_ORGS: w["all"]}).to_numpy(),
        w["year"]: s["year"].to_numpy(),
        w["numerator"]: s["numerator"].to_numpy().astype(object),
        w["denominator"]: s["denominator"].to_numpy().astype(object),
        w["share"]: [_pct(x, lang) for x in s["share"]],
        w["ci"]: [f"{_pct(lo, lang)} – {_pct(hi, lang)}" for lo, hi in zip(s["ci_low"], s["ci_high"])],
        w["ci_clustered"]: [f"{_pct(lo, lang)} – {_pct(hi, lang)}" if np.isfinite(lo) else ""
                            for lo, hi in zip(s["ci_low_clustered"], s["ci_high_clustered"])],
        w["completeness"]: [_pct(x, lang, 0) for x in s["completeness"]],
    })
    figures = [w["numerator"], w["denominator"], w["share"], w["ci"], w["ci_clustered"]]
    dq = s["dq"].to_numpy(bool)
    for col in figures[2:]:
        out.loc[dq, col] = "DQ"
    for col in figures:
        out.loc[hide, col] = privacy.MARK
    out.attrs["footnote"] = privacy.footnote(min_cell, lang) if hide.any() else ""
    return out


def cost_table(table: IndicatorTable, costs: pd.DataFrame, lang: str = "ru", publish: bool = False,
               min_cell: int = 5) -> pd.DataFrame:
    """:func:`cost_per_result` formatted for a report; with ``publish`` a cost per result is
    hidden with its count when the count is 1..min_cell-1 (expenses / cost gives the count)."""
    from evalkit import privacy

    c = cost_per_result(table, costs)
    words = {"ru": ("организация", "год", "расходы, руб.", "проектов", "семей с результатом",
                    "детей с результатом", "на семью, руб.", "на ребенка, руб.", "все"),
             "en": ("organisation", "year", "expenses, RUB", "projects", "families achieving", "children achieving",
                    "per family, RUB", "per child, RUB", "all")}[lang]
    hide_f = publish & c["families"].between(1, min_cell - 1).to_numpy()
    hide_c = publish & c["children"].between(1, min_cell - 1).to_numpy()
    out = pd.DataFrame({
        words[0]: c["org"].replace({ALL_ORGS: words[8]}).to_numpy(), words[1]: c["year"].to_numpy(),
        words[2]: [format_money(x, lang) for x in c["expenses"]], words[3]: c["projects"].to_numpy(),
        words[4]: np.where(hide_f, privacy.MARK, c["families"].astype(object)),
        words[5]: np.where(hide_c, privacy.MARK, c["children"].astype(object)),
        words[6]: np.where(hide_f, privacy.MARK, [format_money(x, lang) for x in c["per_family"]]),
        words[7]: np.where(hide_c, privacy.MARK, [format_money(x, lang) for x in c["per_child"]]),
    })
    out.attrs["footnote"] = privacy.footnote(min_cell, lang) if (hide_f | hide_c).any() else ""
    return out


# ----------------------------------------------------------------------------- reconciliation

_CELL = re.compile(r"^\s*(?P<num>\d[\d\s\u00a0\u202f]*)\s*(?P<word>[^\d(]*?)\s*(?:из|of)\s*"
                   r"(?P<den>\d[\d\s\u00a0\u202f]*)\s*[^\d(]*\(\s*(?P<pct>\d+(?:[.,]\d+)?)\s*%\s*\)\s*$")


def _number(text) -> float:
    return float(re.sub(r"[\s\u00a0\u202f]", "", str(text)).replace(",", "."))


def _parse_reported(value) -> dict:
    """A reported cell: a registry string, a number (a count or a cost), or a mapping."""
    if isinstance(value, dict):
        out = {k: value[k] for k in ("numerator", "denominator", "percent", "value") if k in value}
        out["percent_text"] = str(value["percent"]) if "percent" in value else None
        return out
    if isinstance(value, (int, float)):
        return {"value": float(value)}
    m = _CELL.match(str(value))
    if not m:
        try:
            return {"value": _number(value)}
        except ValueError:
            raise UserError(f"не разобрать значение / cannot read the reported value {value!r}: expected e.g. "
                            "'26 семей из 32 (81%)', '26 of 32 families (81%)', a number, or "
                            "{numerator: 26, denominator: 32, percent: 81}") from None
    return {"numerator": int(_number(m["num"])), "denominator": int(_number(m["den"])),
            "percent": _number(m["pct"]), "percent_text": m["pct"]}


def _decimals(text: str | None) -> int:
    if not text:
        return 0
    text = str(text).replace(",", ".")
    return len(text.split(".", 1)[1]) if "." in text else 0


def _percent_consistent(percent: float, numerator: int, denominator: int, decimals: int) -> bool:
    """Is a printed percentage what its own numerator/denominator give at the printed precision?

    Truncation and rounding are both accepted: |printed − exact| < one unit of the last digit.
    """
    exact = 100 * numerator / denominator
    return abs(percent - exact) < 10 ** -decimals - 1e-9


def read_reported(path) -> dict:
    """Read a YAML of reported figures (see :func:`reconcile` for the format)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"нет файла / no such file: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: не YAML / not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: ожидается словарь / expected a mapping with 'indicators:' and/or 'costs:'")
    return data


def reconcile(table: IndicatorTable, reported, costs: pd.DataFrame | None = None, lang: str = "ru") -> pd.DataFrame:
    """Recompute what an organisation reported and flag every mismatch with both values.

    ``reported`` is a dict (or a YAML path, :func:`read_reported`)::

        org: all                      # optional: which organisation the report is about
        indicators:
          002-1a: {2019: "26 семей из 32 (81%)", 2020: "19 семей из 31 (61%)"}
          000-1:  {2019: {numerator: 17, denominator: 36, percent: 47.5}}
          002-2:  {2019: 2}           # a bare number: the numerator
        costs:                        # cost of a social result, RUB (see cost_per_result)
          per_family: {2021: 479202.19}
          per_child:  {2021: 439269.87}

    Two kinds of finding: ``internal`` — the printed percentage does not follow from the
    printed numerator and denominator (the seed's 47.5% for 17/36); ``recomputed`` — the
    figure differs from what the case rows give. Returns one row per reported figure:
    indicator, year, org, field, reported, recomputed, status (``ok`` / ``mismatch`` /
    ``internal slip`` / ``not computed``), note.
    """
    if isinstance(reported, (str, Path)):
        reported = read_reported(reported)
    org = str(reported.get("org", ALL_ORGS))
    s = table.summary.set_index(["indicator", "org", "year"])
    rows = []

    def add(ind, year, field, rep, rec, status, note_ru, note_en):
        rows.append({"indicator": ind, "year": year, "org": org, "field": field, "reported": rep,
                     "recomputed": rec, "status": status, "note": note_ru if lang == "ru" else note_en})

    for ind_id, by_year in (reported.get("indicators") or {}).items():
        indicator(str(ind_id))
        for year, value in (by_year or {}).items():
            year = int(year)
            rep = _parse_reported(value)
            if "value" in rep and "numerator" not in rep:
                rep["numerator"] = int(rep.pop("value"))
            key = (str(ind_id), org, year)
            if key not in s.index:
                add(str(ind_id), year, "numerator", rep.get("numerator"), None, "not computed",
                    "нет в пересчете (год или организация вне данных)", "not in the recomputation (year or org outside the data)")
                continue
            rec = s.loc[key]
            if {"numerator", "denominator", "percent"} <= rep.keys():
                d = _decimals(rep.get("percent_text"))
                if rep["denominator"] and not _percent_consistent(rep["percent"], rep["numerator"], rep["denominator"], d):
                    exact = 100 * rep["numerator"] / rep["denominator"]
                    add(str(ind_id), year, "percent", rep["percent"], round(exact, 2), "internal slip",
                        f"напечатано {rep['percent']}%, а {rep['numerator']}/{rep['denominator']} = {exact:.2f}%",
                        f"printed {rep['percent']}%, but {rep['numerator']}/{rep['denominator']} = {exact:.2f}%")
            for field in ("numerator", "denominator"):
                if field in rep:
                    ok = int(rep[field]) == int(rec[field])
                    add(str(ind_id), year, field, int(rep[field]), int(rec[field]), "ok" if ok else "mismatch",
                        "" if ok else "пересчет по строкам случаев дает другое число",
                        "" if ok else "the case rows give another number")
            if "percent" in rep and rec["denominator"]:
                d = _decimals(rep.get("percent_text"))
                ok = abs(rep["percent"] - 100 * rec["share"]) < 10 ** -d - 1e-9
                add(str(ind_id), year, "percent", rep["percent"], round(100 * float(rec["share"]), 2),
                    "ok" if ok else "mismatch", "" if ok else "доля по пересчету другая",
                    "" if ok else "the recomputed share differs")
    rep_costs = reported.get("costs") or {}
    if rep_costs:
        if costs is None:
            raise UserError("для сверки стоимости нужна таблица costs / reconciling costs needs the costs table")
        cpr = cost_per_result(table, costs).set_index(["org", "year"])
        for field, by_year in rep_costs.items():
            if field not in ("per_family", "per_child"):
                raise UserError(f"costs: ожидается per_family или per_child / expected per_family or per_child, got {field!r}")
            for year, value in (by_year or {}).items():
                year = int(year)
                rep_value = _parse_reported(value)["value"] if not isinstance(value, dict) else float(value["value"])
                if (org, year) not in cpr.index or not np.isfinite(cpr.loc[(org, year), field]):
                    add("cost", year, field, rep_value, None, "not computed",
                        "нет расходов или результатов за год", "no expenses or results that year")
                    continue
                rec_value = round(float(cpr.loc[(org, year), field]), 2)
                ok = abs(rep_value - rec_value) < 0.005 + 1e-9
                add("cost", year, field, rep_value, rec_value, "ok" if ok else "mismatch",
                    "" if ok else f"расходы / результат = {format_money(rec_value, 'ru')}",
                    "" if ok else f"expenses / results = {format_money(rec_value, 'en')}")
            if isinstance(by_year, dict):
                for year, value in by_year.items():
                    if isinstance(value, dict) and {"expenses", "results", "value"} <= value.keys():
                        exact = float(value["expenses"]) / float(value["results"])
                        if abs(exact - float(value["value"])) >= 0.005:
                            add("cost", int(year), field, float(value["value"]), round(exact, 2), "internal slip",
                                f"{format_money(value['expenses'], 'ru')} / {value['results']} = {format_money(exact, 'ru')}",
                                f"{format_money(value['expenses'], 'en')} / {value['results']} = {format_money(exact, 'en')}")
    return pd.DataFrame(rows, columns=["indicator", "year", "org", "field", "reported", "recomputed", "status", "note"])


# ----------------------------------------------------------------------------- cost of a social result

def cost_per_result(table: IndicatorTable, costs: pd.DataFrame) -> pd.DataFrame:
    """Expenses divided by the families (002-1a) and children (002-1b) achieving the result.

    One row per organisation (and ``"all"``) × year with expenses (the sum over the
    organisation's projects that year), projects, families, children, per_family,
    per_child (NaN where nothing was achieved or no expenses are recorded).
    """
    s = table.summary
    res = s[s["indicator"].isin(["002-1a", "002-1b"])].pivot_table(
        index=["org", "year"], columns="indicator", values="numerator", aggfunc="first")
    exp = costs.groupby(["org", "year"]).agg(expenses=("expenses_rub", "sum"), projects=("project", "nunique"))
    pooled = costs.groupby("year").agg(expenses=("expenses_rub", "sum"), projects=("project", "nunique"))
    pooled.index = pd.MultiIndex.from_product([[ALL_ORGS], pooled.index], names=["org", "year"])
    exp = pd.concat([exp, pooled])
    out = res.join(exp, how="left").reset_index()
    out = out.rename(columns={"002-1a": "families", "002-1b": "children"})
    for col, unit in (("per_family", "families"), ("per_child", "children")):
        out[col] = np.where(out[unit] > 0, out["expenses"] / out[unit].where(out[unit] > 0), np.nan)
    out["projects"] = out["projects"].fillna(0).astype(int)
    return out[["org", "year", "expenses", "projects", "families", "children", "per_family", "per_child"]]


# ----------------------------------------------------------------------------- official benchmark

def read_official_rates(path=None) -> pd.DataFrame:
    """The official benchmark: restorations of parental rights per 100 deprivations and
    restrictions (form РИК-103), by region and year.

    The shipped table (``evalkit/reference/rik103.csv``) holds the figures the seeds quote
    (Moscow, Moscow region, 2019–2021); pass ``path`` to a CSV with the same columns
    (region, year, restorations_per_100, source) to extend it.
    """
    path = Path(path) if path else _REFERENCE / "rik103.csv"
    if not path.is_file():
        raise UserError(f"нет файла / no such file: {path}")
    ref = pd.read_csv(path, comment="#")
    need = {"region", "year", "restorations_per_100"}
    if not need <= set(ref.columns):
        raise UserError(f"{path}: нужны столбцы / needs columns {sorted(need)}, found {list(ref.columns)}")
    return ref


def official_benchmark(table: IndicatorTable, reference: pd.DataFrame | None = None, org: str = ALL_ORGS) -> pd.DataFrame:
    """The practice's restorations per 100 families with restricted or deprived rights
    (indicator 002-2 × 100) beside the official rate per region and year.

    The two are not the same quantity: the official rate divides a year's restorations by
    a year's new deprivations and restrictions in a whole region; the practice's divides
    by the families it supported with restricted rights. The comparison is a benchmark
    for orientation, as the seed uses it, not a test.
    """
    ref = read_official_rates() if reference is None else reference
    s = table.summary
    s = s[(s["indicator"] == "002-2") & (s["org"] == org)]
    practice = pd.DataFrame({"year": s["year"].to_numpy(), "restored": s["numerator"].to_numpy(),
                             "families_limited": s["denominator"].to_numpy(),
                             "practice_per_100": 100 * s["share"].to_numpy()})
    wide = ref.pivot_table(index="year", columns="region", values="restorations_per_100", aggfunc="first")
    return practice.merge(wide.reset_index(), on="year", how="left")


# ----------------------------------------------------------------------------- support duration

def support_duration(tables: dict[str, pd.DataFrame], cutoff=None, by_org: bool = True) -> pd.DataFrame:
    """Length of complex support (months): Kaplan–Meier median with open cases censored at
    the cut-off, beside the naive mean and median over closed cases.

    Columns: org, cases, closed, open, km_median, km_median_low, km_median_high (95% CI of
    the median, lifelines), naive_mean_closed, naive_median_closed. Open cases are the
    longest-running ones; leaving them out (the naive mean) understates how long support
    lasts, the more so the more cases are open.
    """
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    cutoff = pd.Timestamp(cutoff) if cutoff is not None else frames.data_cutoff(tables)
    c = frames.complex_cases(tables)
    end = c["closed"].fillna(cutoff)
    c = c.assign(months=(end - c["opened"]).dt.days / frames.MONTH_DAYS, done=c["closed"].notna())
    groups = [(ALL_ORGS, c)] + ([(o, g) for o, g in c.groupby("org")] if by_org else [])
    rows = []
    for org, g in groups:
        row = {"org": org, "cases": len(g), "closed": int(g["done"].sum()), "open": int((~g["done"]).sum()),
               "km_median": np.nan, "km_median_low": np.nan, "km_median_high": np.nan,
               "naive_mean_closed": g.loc[g["done"], "months"].mean(),
               "naive_median_closed": g.loc[g["done"], "months"].median()}
        if len(g) and g["done"].any():
            km = KaplanMeierFitter().fit(g["months"].clip(lower=0), g["done"])
            row["km_median"] = float(km.median_survival_time_)
            ci = median_survival_times(km.confidence_interval_)
            row["km_median_low"], row["km_median_high"] = (float(v) for v in ci.iloc[0])
        rows.append(row)
    return pd.DataFrame(rows)


def duration_sentence(duration: pd.DataFrame, lang: str = "ru") -> str:
    """One sentence on why the Kaplan–Meier median and the naive figures over closed cases differ."""
    r = duration[duration["org"] == ALL_ORGS].iloc[0]

    def m(x):
        return f"{x:.1f}".replace(".", ",") if lang == "ru" else f"{x:.1f}"
    if lang == "ru":
        return (f"Из {r['cases']} случаев комплексного сопровождения {r['open']} еще открыты. Медиана длительности "
                f"по Каплану–Майеру, учитывающая открытые случаи, — {m(r['km_median'])} мес. "
                f"(95% ДИ {m(r['km_median_low'])}–{m(r['km_median_high'])}); медиана только по закрытым случаям — "
                f"{m(r['naive_median_closed'])} мес., среднее по закрытым — {m(r['naive_mean_closed'])} мес. "
                "Расчет только по закрытым случаям не видит самые долгие, еще открытые случаи и поэтому "
                "занижает длительность тем сильнее, чем больше открытых случаев; среднее к тому же тянут вверх "
                "немногие очень долгие случаи, поэтому сравнивать стоит медианы.")
    return (f"Of {r['cases']} complex-support cases, {r['open']} are still open. The Kaplan–Meier median length, "
            f"which counts the open cases, is {m(r['km_median'])} months (95% CI {m(r['km_median_low'])}–"
            f"{m(r['km_median_high'])}); the median over closed cases alone is {m(r['naive_median_closed'])} months "
            f"and their mean {m(r['naive_mean_closed'])} months. Closed cases alone miss the longest, still open "
            "ones, so they understate the length the more cases are open; the mean is also pulled up by a few "
            "very long cases, so compare the medians.")


# ----------------------------------------------------------------------------- figures

_PLOT_WORDS = {"ru": {"year": "отчетный год", "share": "доля", "all": "все организации"},
               "en": {"year": "reporting year", "share": "share", "all": "all organisations"}}


def plot_trends(table: IndicatorTable, ids=("002-1a", "002-1b", "002-3"), lang: str = "ru", by_org: bool = True,
                clustered: bool = True):
    """Indicator trends: share per year with its 95% band, a line per organisation.

    DQ cells are left out (a gap in the line). For child indicators the band is the
    clustered interval when ``clustered``.
    """
    import matplotlib.pyplot as plt

    w = _PLOT_WORDS[lang]
    s = table.summary[table.summary["indicator"].isin(list(ids)) & ~table.summary["dq"]]
    ids = [i for i in ids if i in set(s["indicator"])]
    fig, axes = plt.subplots(1, max(len(ids), 1), figsize=(4.2 * max(len(ids), 1), 3.6), squeeze=False,
                             sharey=True)
    for ax, ind_id in zip(axes[0], ids):
        d = s[s["indicator"] == ind_id]
        orgs = [ALL_ORGS] + (sorted(o for o in set(d["org"]) if o != ALL_ORGS) if by_org else [])
        for org in orgs:
            g = d[d["org"] == org].sort_values("year")
            lo, hi = ("ci_low_clustered", "ci_high_clustered") if clustered and indicator(ind_id).unit == "child" \
                else ("ci_low", "ci_high")
            line, = ax.plot(g["year"], g["share"], marker="o", lw=2.4 if org == ALL_ORGS else 1.2,
                            label=w["all"] if org == ALL_ORGS else org, color="black" if org == ALL_ORGS else None)
            ax.fill_between(g["year"], g[lo], g[hi], alpha=0.12 if org == ALL_ORGS else 0.06,
                            color=line.get_color())
        ax.set_title(f"{ind_id}\n{_wrap(indicator(ind_id).name(lang))}", fontsize=9)
        ax.set_xlabel(w["year"])
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.spines[["top", "right"]].set_visible(False)
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0][0].set_ylabel(w["share"])
    if ids:
        axes[0][-1].legend(frameon=False, fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def _wrap(text: str, width: int = 42) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


# ----------------------------------------------------------------------------- documentation

def render_definitions() -> str:
    """``docs/indicators.md``: every indicator's definition, generated from :data:`INDICATORS`.

    Regenerate with ``python -c "from evalkit.indicators import render_definitions as r;
    open('docs/indicators.md', 'w', encoding='utf-8').write(r())"``; a test keeps it current.
    """
    out = ["<!-- Generated by evalkit.indicators.render_definitions() from evalkit/indicators.py. "
           "Do not edit by hand. -->", "",
           "# The annual indicators", "",
           "Every indicator of the seeds (see `shared/domain.md`), defined once in `evalkit/indicators.py` and "
           "computed from the canonical tables by `evalkit.indicators.compute` — per reporting year, per "
           "organisation and pooled (`org = \"all\"`), as numerator, denominator, share and Wilson 95% interval "
           "(for child-level indicators also an interval at the effective sample size that allows for siblings). "
           "The unit definitions (\"closed in the year\", \"at home at closure\", ЕФО change) are in "
           "`evalkit/frames.py`.", "",
           "**Denominator rule.** *all*: every eligible unit; one whose outcome is not recorded counts as not "
           "achieving the result (the conservative reading of the seeds' \"of all cases closed\"). *known*: only "
           "the units with the information (the seeds' \"of those assessed\"). Either way, **completeness** = "
           "units with the information / eligible units, and below `min_complete` (default 80%) the indicator is "
           "shown as **DQ** with the reason instead of a number.", "",
           "**Registry form.** Cells read `26 семей из 32 (81%)` / `26 of 32 families (81%)`; percentages are "
           "truncated (the seeds' own practice: 35/72 = 48.6% is printed 48%), with `decimals` a parameter.", ""]
    for ind in INDICATORS:
        out += [f"## {ind.id} — {ind.name_en}", "", f"*{ind.name_ru}*", "",
                "| | English | Русский |", "|---|---|---|",
                f"| unit | {ind.unit} | {'семья' if ind.unit == 'family' else 'ребенок'} |",
                f"| numerator | {ind.numerator_en} | {ind.numerator_ru} |",
                f"| denominator | {ind.denominator_en} | {ind.denominator_ru} |",
                f"| reporting period | {ind.period_en} | {ind.period_ru} |",
                f"| denominator rule | {ind.denominator} | |",
                f"| completeness measures | {ind.inputs_en or 'always complete'} | {ind.inputs_ru or '—'} |",
                f"| source | {ind.seed} | |", ""]
    out += ["## Reconciliation, cost, benchmark", "",
            "- `reconcile(table, reported)` checks a YAML of reported figures: an *internal slip* is a printed "
            "percentage its own numerator and denominator cannot give at the printed precision (the seed's 47.5% "
            "for 17/36); a *mismatch* is a figure the case rows do not give.",
            "- `cost_per_result(table, costs)`: the organisation's expenses of the year (all its projects) / "
            "families (002-1a) and children (002-1b) achieving the result.",
            "- `official_benchmark(table)`: 002-2 per 100 beside form РИК-103's restorations per 100 deprivations "
            "and restrictions (`evalkit/reference/rik103.csv`, extendable).",
            "- `support_duration(tables)`: Kaplan–Meier median length of complex support with open cases "
            "censored at the cut-off, beside the naive figures over closed cases.", ""]
    return "\n".join(out)
