"""Factor study: which family characteristics go with losing the child.

The seed study at a crisis centre (003, «Теплый дом») showed "the share of women who did
not keep the child among categories of clients" and named two factors: the mother's prior
experience of an official removal and her mental illness. This module rebuilds that table
from the canonical tables and asks whether it holds up: with confidence intervals, with
tests corrected for looking at many factors at once, after adjusting for the other factors,
and with a plain account of what a sample of a few dozen families can and cannot carry.

The analysis frame (:func:`frame`) has one row per unit — a family (its first complex
case closed in the chosen years) or a child of such a family — with ``adverse`` (True: the
unit had the outcome; NA: not known), ``status`` (why unknown) and the factors. Outcomes:

``"closure"``
    *did not keep the child at closure*: some child of the family (the child) was not
    living with the family according to the closure report
    (:func:`evalkit.frames.children_at_closure`); no closure report: unknown.
``"after_closure"``
    *separated within ``months`` after closure*, among children at home at closure
    (:func:`evalkit.frames.time_to_event`, origin closure; a separation known only to lie
    between two contacts is placed at their midpoint, as in the survival study); unknown
    when contact was lost earlier, the child turned 18, or the months have not yet passed
    at the data cut-off.
``"during_support"``
    *any separation during support*, between the opening and the closure of the case
    (:func:`evalkit.frames.time_to_event`, origin opening).

A family is adverse when any of its children is; known when some child is adverse or
every child's outcome is known.

Methods
-------
- Shares with Wilson intervals (:func:`describe`; Wilson 1927, Brown, Cai & DasGupta 2001).
- Unadjusted association (:func:`associations`): risk ratio with the Miettinen–Nurminen
  score interval, risk difference with Newcombe's hybrid score interval (Fagerland, Lydersen
  & Laake 2015 recommend both for small samples); Fisher's exact test, or Pearson's χ² when
  every expected count is at least 5 (Cochran 1954); for a factor of more than two
  categories the Fisher–Freeman–Halton exact test. Multiplicity across factors: Holm (1979)
  for the family-wise error, Benjamini & Hochberg (1995) for the false discovery rate.
- Logistic regression (:func:`logistic`): maximum likelihood (statsmodels GLM; = R ``glm``),
  or Firth's penalised likelihood (Firth 1993; Heinze & Schemper 2002) with profile
  penalised-likelihood intervals and penalised likelihood-ratio tests (= R ``logistf``),
  chosen automatically when the data separate or events per variable are below 10
  (Peduzzi et al. 1996; van Smeden et al. 2016 on why EPV alone is not enough).
  Separation is detected by linear programming (Konis 2007; R ``detectseparation``).
- GEE with family clusters for children (:func:`gee`; Liang & Zeger 1986): statsmodels GEE,
  exchangeable or independence working correlation, robust (sandwich) errors, moment
  estimators as R ``geepack::geeglm`` (Halekoh, Højsgaard & Yan 2006).
- Adjusted hazard ratios (:func:`hazard_ratios`): :func:`evalkit.survival.cox` — Cox with
  family-clustered errors, the survival study's model.
- The interaction prior removal × mental illness (:func:`interaction`): the four groups'
  shares and the ratio of odds ratios / hazard ratios.
- Missing covariates (:func:`missing_covariates`) and complete cases against multiple
  imputation by chained equations (:func:`imputation_check`; statsmodels ``MICEData``,
  predictive mean matching; Rubin's rules, Rubin 1987; White, Royston & Wood 2011).

Publishing. Every table method takes ``publish`` and ``min_cell``: counts of 1 to
``min_cell − 1`` are hidden by :mod:`evalkit.privacy`'s rules within each factor (its
categories add up to a known total), and a comparison or p-value that would reveal a hidden
count is hidden with it. The "not recorded" category gets the primary rule only (see
:meth:`Descriptive.table`). Adjusted model estimates are shown: they do not give counts back.

Association is not cause: every estimate here describes the families that were supported,
not what would have happened to them otherwise (see the study's narrative).

Examples
--------
>>> from evalkit.dataset import read_dataset
>>> from evalkit import factors
>>> tables = read_dataset("demo")                                          # doctest: +SKIP
>>> fr = factors.frame(tables, outcome="closure", unit="family")           # doctest: +SKIP
>>> factors.describe(fr).summary[["factor", "level", "n", "events", "share"]]   # doctest: +SKIP
>>> factors.logistic(fr).summary[["term", "or", "or_low", "or_high", "p"]]       # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import gammaln

from evalkit import frames, labels, privacy
from evalkit.errors import UserError
from evalkit.frames import CASE_COVARIATES, CHILD_COVARIATES, FAMILY_COVARIATES, MONTH_DAYS
from evalkit.firth import SeparationCheck, detect_separation, firth  # noqa: F401 (re-exported)
from evalkit.indicators import wilson
from evalkit.survival import cox as _cox
from evalkit.survival import design, term_label

__all__ = [
    "OUTCOMES", "UNITS", "DEFAULT_FACTORS", "REFERENCE", "MISSING",
    "frame", "outcome_label", "outcome_summary", "missing_covariates", "missing_table",
    "Descriptive", "describe", "Associations", "associations", "exact_rx2", "holm", "benjamini_hochberg",
    "SeparationCheck", "detect_separation", "firth", "LogisticResult", "logistic", "GEEResult", "gee",
    "time_frame", "hazard_ratios", "hazard_table", "InteractionResult", "interaction",
    "ImputationResult", "imputation_check", "forest",
]

OUTCOMES = ("closure", "after_closure", "during_support")
UNITS = ("family", "child")
#: the factors the seeds name (003, 002), in the order reports show them
DEFAULT_FACTORS = ("prior_removal", "parent_mental_illness", "parent_intellectual_disability",
                   "parent_substance_use", "no_registration", "household", "housing_at_intake", "case_type",
                   "crisis_centre")
#: reference category of each categorical factor (the most common level when it is absent)
REFERENCE = {"household": "two_parents", "housing_at_intake": "own", "case_type": "ordinary",
             "rights_status_at_intake": "none", "sex": "female"}
#: the level of a factor that was not recorded
MISSING = "(missing)"
_Z = stats.norm.ppf(0.975)
#: events per variable below which estimates are unreliable (Peduzzi et al. 1996)
EPV_MIN = 10

_W = {
    "ru": {"yes": "да", "no": "нет", "missing": "не указано", "factor": "фактор", "level": "категория",
           "n": "всего", "events": "не сохранили ребенка", "share": "доля, %", "ci": "95% ДИ, %",
           "or": "отношение шансов", "hr": "отношение рисков", "rr": "отношение рисков (RR)",
           "rd": "разница долей, п.п.", "p": "p", "reference": "с чем сравнивается", "test": "критерий",
           "p_holm": "p (Холм)", "p_bh": "p (Б–Х)",
           "flag": "значимо после поправки", "vs": "против", "all": "все", "effect": "отношение (95% ДИ, лог. шкала)",
           "logit": "логистическая регрессия: ОШ", "cox": "модель Кокса: ОР", "gee": "GEE (дети в семьях): ОШ",
           "fisher": "точный Фишера", "chi2": "χ² Пирсона", "ffh": "точный Фишера–Фримана–Холтона",
           "cc": "полные случаи", "mi": "множественная импутация", "fmi": "доля потерянной информации",
           "missing_n": "не указано", "missing_share": "доля, %", "units": "единиц", "adverse": "исход",
           "method_mle": "максимальное правдоподобие", "method_firth": "штрафное правдоподобие Фёрта",
           "not_estimable": "не оценивается (разделение)", "none": "—", "group": "группа"},
    "en": {"yes": "yes", "no": "no", "missing": "not recorded", "factor": "factor", "level": "category",
           "n": "all", "events": "did not keep the child", "share": "share, %", "ci": "95% CI, %",
           "or": "odds ratio", "hr": "hazard ratio", "rr": "risk ratio (RR)", "rd": "risk difference, pp",
           "reference": "compared with",
           "p": "p", "test": "test", "p_holm": "p (Holm)", "p_bh": "p (B–H)", "flag": "significant after correction",
           "vs": "vs", "all": "all", "effect": "ratio (95% CI, log scale)",
           "logit": "logistic regression: OR", "cox": "Cox model: HR", "gee": "GEE (children in families): OR",
           "fisher": "Fisher's exact", "chi2": "Pearson's χ²", "ffh": "Fisher–Freeman–Halton exact",
           "cc": "complete cases", "mi": "multiple imputation", "fmi": "fraction of missing information",
           "missing_n": "not recorded", "missing_share": "share, %", "units": "units", "adverse": "outcome",
           "method_mle": "maximum likelihood", "method_firth": "Firth's penalised likelihood",
           "not_estimable": "not estimable (separation)", "none": "—", "group": "group"},
}
_OUTCOME_WORDS = {
    "closure": ("ребенок не живет в семье на момент закрытия случая",
                "the child is not living with the family at case closure"),
    "after_closure": ("разлучение с ребенком в течение {m} мес. после закрытия случая",
                      "separation within {m} months after case closure"),
    "during_support": ("разлучение с ребенком во время сопровождения", "separation during support"),
}
_STATUS_WORDS = {
    "ru": {"known": "исход известен", "no_report": "нет отчета при закрытии", "lost": "контакт потерян раньше срока",
           "adult": "ребенку исполнилось 18 раньше срока", "not_due": "срок еще не прошел к дате выгрузки"},
    "en": {"known": "outcome known", "no_report": "no closure report", "lost": "contact lost before the horizon",
           "adult": "child turned 18 before the horizon", "not_due": "horizon not yet reached at the cut-off"},
}


# ----------------------------------------------------------------------------- checks and words

def _check_lang(lang: str) -> None:
    if lang not in labels.LANGS:
        raise UserError(f"язык/lang должен быть одним из {labels.LANGS}, а не {lang!r}")


def _check_choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise UserError(f"{name} должен быть одним из / must be one of {list(allowed)}, not {value!r}")


def _num(x, lang: str, digits: int = 2) -> str:
    if x is None or not np.isfinite(x):
        return "∞" if x is not None and np.isinf(x) and x > 0 else "—"
    text = f"{x:.{digits}f}"
    return text.replace(".", ",").replace("-", "−") if lang == "ru" else text


def _p(p, lang: str) -> str:
    if p is None or not np.isfinite(p):
        return "—"
    text = "<0.001" if p < 0.001 else f"{p:.3f}"
    return text.replace(".", ",") if lang == "ru" else text


def _pct(x, lang: str) -> str:
    return _num(100 * x, lang, 1) if x is not None and np.isfinite(x) else "—"


def outcome_label(outcome: str, lang: str = "ru", months: float = 12) -> str:
    """The outcome in the report's words, e.g. ``"separation within 12 months after case closure"``."""
    _check_choice("outcome", outcome, OUTCOMES)
    _check_lang(lang)
    text = _OUTCOME_WORDS[outcome][0 if lang == "ru" else 1]
    return text.format(m=f"{months:g}")


def _level_text(factor: str, level, lang: str) -> str:
    w = _W[lang]
    if isinstance(level, str) and level == MISSING:
        return w["missing"]
    return labels.value_label(factor, level, lang)


def _factor_text(factor: str, lang: str) -> str:
    try:
        return labels.field_label(factor, lang)
    except KeyError:
        return factor


def _term_text(term: str, lang: str) -> str:
    """A model term in words; booleans read as the factor's name, categories as "factor: level"."""
    if "_x_" in term:
        a, b = term.split("_x_", 1)
        return f"{_factor_text(a, lang)} × {_factor_text(b, lang)}"
    if "[" in term and term.endswith("]"):
        col, level = term[:-1].split("[", 1)
        return f"{_factor_text(col, lang)}: {_level_text(col, level, lang)}"
    return term_label(term, lang)


# ----------------------------------------------------------------------------- the analysis frame

_ALLOWED = {"family": tuple(FAMILY_COVARIATES) + tuple(CASE_COVARIATES),
            "child": tuple(FAMILY_COVARIATES) + tuple(CASE_COVARIATES) + tuple(CHILD_COVARIATES)}


def _check_factors(factors, unit: str) -> list[str]:
    if isinstance(factors, str):
        factors = [factors]
    factors = list(dict.fromkeys(factors))
    if not factors:
        raise UserError("не выбран ни один фактор / no factor chosen")
    bad = [f for f in factors if f not in _ALLOWED[unit]]
    if bad:
        child_only = [f for f in bad if f in CHILD_COVARIATES]
        hint = (f"; {child_only} — характеристики ребенка, нужен unit='child' / child characteristics need "
                "unit='child'" if child_only else "")
        raise UserError(f"неизвестные факторы / unknown factors {bad}; возможные / allowed: "
                        f"{list(_ALLOWED[unit])}{hint}")
    return factors


def _attach(df: pd.DataFrame, tables: dict[str, pd.DataFrame], factors) -> pd.DataFrame:
    """Join the factors to child rows (family, case and child characteristics)."""
    fam = tables["families"].set_index("family_id")
    cases = tables["cases"].set_index("case_id")
    kids = tables["children"].set_index("child_id")
    out = df.copy()
    for f in factors:
        source, key = ((fam, "family_id") if f in FAMILY_COVARIATES else
                       (cases, "case_id") if f in CASE_COVARIATES else (kids, "child_id"))
        out[f] = source[f].reindex(out[key]).to_numpy()
        if str(source[f].dtype) == "boolean":
            out[f] = out[f].astype("boolean")
    return out


def _children_closure(tables, years) -> pd.DataFrame:
    kids = frames.children_at_closure(tables)
    if years is not None:
        kids = kids[kids["closed_year"].isin(years)]
    first = (kids[["family_id", "case_id", "closed"]].drop_duplicates()
             .sort_values(["closed", "case_id"]).drop_duplicates("family_id"))
    kids = kids[kids["case_id"].isin(first["case_id"])]
    adverse = (~kids["home"].astype("boolean")).astype("boolean")
    return pd.DataFrame({"child_id": kids["child_id"].to_numpy(), "family_id": kids["family_id"].to_numpy(),
                         "case_id": kids["case_id"].to_numpy(), "org": kids["org"].to_numpy(),
                         "year": kids["closed_year"].astype("int64").to_numpy(), "adverse": adverse.to_numpy(),
                         "status": np.where(adverse.isna().to_numpy(), "no_report", "known")})


def _children_after(tables, years, months: float) -> pd.DataFrame:
    tte = frames.time_to_event(tables, origin="closure")
    if years is not None:
        tte = tte[tte["cohort"].isin(years)]
    cutoff = frames.data_cutoff(tables)
    ev, t = tte["event"].to_numpy(bool), tte["time"].to_numpy(float)
    yes = ev & (t <= months)
    known = ev | (t >= months)
    due = (tte["origin_date"] + pd.to_timedelta(months * MONTH_DAYS, unit="D") <= cutoff).to_numpy()
    status = np.where(known, "known", np.where(~due, "not_due",
                                               np.where(tte["censor_reason"].to_numpy() == "adult", "adult", "lost")))
    adverse = pd.array(np.where(known, yes, False), dtype="boolean")
    adverse[~known] = pd.NA
    return pd.DataFrame({"child_id": tte["child_id"].to_numpy(), "family_id": tte["family_id"].to_numpy(),
                         "case_id": tte["case_id"].to_numpy(), "org": tte["org"].to_numpy(),
                         "year": tte["cohort"].astype("int64").to_numpy(), "adverse": adverse, "status": status})


def _children_during(tables, years) -> pd.DataFrame:
    tte = frames.time_to_event(tables, origin="opening")
    cases = frames.complex_cases(tables).set_index("case_id")
    closed = cases["closed"].reindex(tte["case_id"]).to_numpy()
    tte = tte.assign(_closed=closed)
    tte = tte[tte["_closed"].notna()]
    year = tte["_closed"].dt.year
    if years is not None:
        keep = year.isin(years)
        tte, year = tte[keep], year[keep]
    duration = (tte["_closed"] - tte["origin_date"]).dt.days.to_numpy(float) / MONTH_DAYS
    adverse = tte["event"].to_numpy(bool) & (tte["time"].to_numpy(float) <= duration + 1e-9)
    return pd.DataFrame({"child_id": tte["child_id"].to_numpy(), "family_id": tte["family_id"].to_numpy(),
                         "case_id": tte["case_id"].to_numpy(), "org": tte["org"].to_numpy(),
                         "year": year.astype("int64").to_numpy(), "adverse": pd.array(adverse, dtype="boolean"),
                         "status": "known"})


def _to_families(kids: pd.DataFrame) -> pd.DataFrame:
    """One row per family: adverse if any child is, known if some child is adverse or all are known."""
    k = kids.assign(_yes=(kids["adverse"] == True).fillna(False).astype(bool),  # noqa: E712
                    _known=kids["adverse"].notna())
    g = k.groupby("family_id", sort=False)
    out = g.agg(case_id=("case_id", "first"), org=("org", "first"), year=("year", "first"),
                children=("child_id", "size"), _yes=("_yes", "any"), _all=("_known", "all"))
    unknown_status = k[~k["_known"]].groupby("family_id")["status"].agg(lambda s: s.value_counts().index[0])
    adverse = pd.array(np.where(out["_yes"], True, np.where(out["_all"], False, None)), dtype="boolean")
    out["adverse"] = adverse
    known = out["_yes"] | out["_all"]
    out["status"] = np.where(known, "known", unknown_status.reindex(out.index).fillna("lost").to_numpy())
    out = out.drop(columns=["_yes", "_all"]).reset_index()
    out.insert(0, "unit_id", out["family_id"])
    return out


def frame(tables: dict[str, pd.DataFrame], outcome: str = "closure", unit: str = "family",
          factors=DEFAULT_FACTORS, months: float = 12, org: str = "all", years=None) -> pd.DataFrame:
    """The analysis frame: one row per family (or child) with the outcome and the factors.

    Parameters
    ----------
    tables : dict of DataFrame
        The canonical tables (:func:`evalkit.dataset.read_dataset`).
    outcome : {"closure", "after_closure", "during_support"}
        What counts as losing the child (see the module docstring).
    unit : {"family", "child"}
        One row per family (its first complex case closed in ``years``) or per child of it.
    factors : sequence of str
        Columns of ``families`` and ``cases`` (and, for children, ``children``), e.g.
        ``prior_removal``, ``household``, ``crisis_centre``, ``disability``.
    months : float
        The horizon of ``"after_closure"``.
    org : str
        ``"all"`` or one organisation's code.
    years : sequence of int, optional
        Years of case closure to include (default: every year).

    Returns
    -------
    DataFrame
        ``unit_id, family_id, case_id, org, year`` (of closure), ``adverse`` (boolean, NA
        when unknown), ``status`` (``known``, ``no_report``, ``lost``, ``adult``, ``not_due``),
        ``children`` (family unit) and the factors. ``.attrs`` hold outcome, unit, months,
        factors.

    Examples
    --------
    >>> fr = frame(read_dataset("demo"), outcome="after_closure", months=12)  # doctest: +SKIP
    >>> fr["adverse"].mean()                                                   # doctest: +SKIP
    """
    _check_choice("outcome", outcome, OUTCOMES)
    _check_choice("unit", unit, UNITS)
    factors = _check_factors(factors, unit)
    if not (isinstance(months, (int, float)) and months > 0):
        raise UserError(f"months должно быть положительным числом / must be a positive number, not {months!r}")
    if years is not None:
        years = [int(y) for y in ([years] if isinstance(years, (int, np.integer)) else years)] or None
    if outcome == "closure":
        kids = _children_closure(tables, years)
    elif outcome == "after_closure":
        kids = _children_after(tables, years, float(months))
    else:
        kids = _children_during(tables, years)
    if org != "all":
        known_orgs = sorted(tables["cases"]["org"].dropna().unique())
        if org not in known_orgs:
            raise UserError(f"нет организации / no organisation {org!r}; есть / have {known_orgs}")
        kids = kids[kids["org"] == org]
    if unit == "family":
        out = _to_families(kids)
    else:
        out = kids.reset_index(drop=True)
        out.insert(0, "unit_id", out["child_id"])
    out = _attach(out, tables, factors)
    out = out.sort_values(["year", "unit_id"]).reset_index(drop=True)
    out.attrs.update(outcome=outcome, unit=unit, months=float(months), factors=list(factors))
    return out


def _factors_of(fr: pd.DataFrame, factors) -> list[str]:
    if factors is None:
        factors = fr.attrs.get("factors") or [c for c in DEFAULT_FACTORS if c in fr.columns]
    factors = [factors] if isinstance(factors, str) else list(factors)
    missing = [f for f in factors if f not in fr.columns]
    if missing:
        raise UserError(f"в таблице нет факторов / the frame lacks factors {missing}")
    return factors


def _known(fr: pd.DataFrame) -> pd.DataFrame:
    if "adverse" not in fr.columns:
        raise UserError("в таблице нет исхода / the frame has no 'adverse' column: build it with factors.frame")
    d = fr[fr["adverse"].notna()].copy()
    d["adverse"] = d["adverse"].astype(bool)
    return d


def outcome_summary(fr: pd.DataFrame, lang: str = "ru") -> pd.DataFrame:
    """How many units were eligible, how many have a known outcome (and why the rest do not),
    how many had the outcome. Columns: status (in words), units."""
    _check_lang(lang)
    w = _STATUS_WORDS[lang]
    counts = fr["status"].value_counts()
    order = [s for s in ("known", "no_report", "lost", "adult", "not_due") if s in counts.index]
    out = pd.DataFrame({"units": [int(counts[s]) for s in order]}, index=[w[s] for s in order])
    out.index.name = _W[lang]["group"]
    out.columns = [_W[lang]["units"]]
    return out


def missing_covariates(fr: pd.DataFrame, factors=None) -> pd.DataFrame:
    """Per factor (the index): units with a known outcome (``units``), those where the factor
    was not recorded (``missing``) and their ``share``. ``.attrs["complete"]``: units with
    every factor recorded (the complete cases of the models)."""
    factors = _factors_of(fr, factors)
    d = _known(fr)
    miss = np.array([int(d[f].isna().sum()) for f in factors], dtype=np.int64)
    out = pd.DataFrame({"missing": miss, "units": np.full(len(factors), len(d), dtype=np.int64),
                        "share": miss / len(d) if len(d) else np.nan}, index=pd.Index(factors, name="factor"))
    out.attrs["complete"] = int(d[factors].notna().all(axis=1).sum()) if len(d) else 0
    out.attrs["units"] = len(d)
    return out


def missing_table(fr: pd.DataFrame, factors=None, lang: str = "ru", publish: bool = False,
                  min_cell: int = privacy.MIN_CELL) -> pd.DataFrame:
    """:func:`missing_covariates` as a report shows it: the share in percent; when ``publish``, a
    count of 1 to ``min_cell − 1`` (and its share) is hidden. The rows are different factors,
    not parts of one total, so no secondary suppression is needed; the same counts are the
    "not recorded" rows of :meth:`Descriptive.table`, hidden by the same rule."""
    _check_lang(lang)
    m = missing_covariates(fr, factors)
    w = _W[lang]
    small = publish & (m["missing"] >= 1) & (m["missing"] < min_cell)
    out = pd.DataFrame({w["missing_n"]: [privacy.MARK if h else int(v) for v, h in zip(m["missing"], small)],
                        w["n"]: m["units"].tolist(),
                        w["missing_share"]: [privacy.MARK if h else _pct(v, lang) for v, h in zip(m["share"], small)]},
                       index=pd.Index([_factor_text(f, lang) for f in m.index], name=w["factor"]))
    out.attrs.update(footnote=privacy.footnote(min_cell, lang) if small.any() else "", complete=m.attrs["complete"],
                     units=m.attrs["units"])
    return out


# ----------------------------------------------------------------------------- descriptive table

def _is_bool(s: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(s) or str(s.dtype) == "boolean"


def _tally(d: pd.DataFrame, factor: str, y: np.ndarray) -> tuple[list, np.ndarray, np.ndarray]:
    """A factor's categories (yes before no; vocabulary order; :data:`MISSING` last when some
    value is not recorded), with the units and the adverse outcomes in each."""
    s = d[factor]
    isna = s.isna().to_numpy()
    vals = s.to_numpy(dtype=object, na_value=None)
    present = set(vals[~isna].tolist())
    if _is_bool(s):
        levels = [v for v in (True, False) if v in present]
    else:
        vocab = labels.FIELD_VOCABULARY.get(factor)
        order = labels.codes(vocab) if vocab else []
        levels = [c for c in order if c in present] + sorted((c for c in present if c not in order), key=str)
    masks = [(vals == lev) & ~isna for lev in levels]
    if isna.any():
        levels.append(MISSING)
        masks.append(isna)
    n = np.array([m.sum() for m in masks], dtype=np.int64)
    ev = np.array([(m & y).sum() for m in masks], dtype=np.int64)
    return levels, n, ev


@dataclass
class Descriptive:
    """The seed's table: per factor and category, units, adverse outcomes, share and Wilson CI.

    Attributes
    ----------
    summary : DataFrame
        factor, level (True/False, a code, or :data:`MISSING`), label_ru, label_en (the
        factor), level_ru, level_en, n, events, share, ci_low, ci_high.
    total : dict
        n, events, share, ci_low, ci_high over every unit with a known outcome.
    """

    summary: pd.DataFrame
    total: dict
    outcome: str = "closure"
    unit: str = "family"
    months: float = 12
    alpha: float = 0.05

    def _block(self, factor: str, publish: bool, min_cell: int, lang: str) -> pd.DataFrame:
        """One factor's rows as published. The recorded categories partition the units whose
        factor is recorded: small counts are hidden within the factor, totals taken as known
        (primary and secondary suppression, :func:`evalkit.privacy.show`). The "not recorded"
        row gets the primary rule only: whether a family's record lacks a field is not
        something a reader can know about a family, so it cannot single one out."""
        s = self.summary[self.summary["factor"] == factor]
        is_missing = np.array([isinstance(v, str) and v == MISSING for v in s["level"]], dtype=bool)
        cols = ["n", "events", "share", "ci_low", "ci_high"]
        rec = pd.DataFrame({c: s[c].to_numpy()[~is_missing] for c in cols},
                           index=s[f"level_{lang}"].to_numpy()[~is_missing])
        shown = privacy.show(rec, publish=publish, min_cell=min_cell, counts=["n", "events"],
                             shares={("share", "ci_low", "ci_high"): ("events", "n")}, lang=lang)
        footnote = shown.attrs.get("footnote", "") if publish else ""
        if is_missing.any():
            m = s[is_missing].iloc[0]
            row = {c: m[c] for c in cols}
            if publish:
                small = lambda k: 1 <= k < min_cell  # noqa: E731
                if small(m["n"]):
                    row = dict.fromkeys(cols, privacy.MARK)
                elif small(m["events"]) or small(m["n"] - m["events"]):
                    row.update(dict.fromkeys(["events", "share", "ci_low", "ci_high"], privacy.MARK))
                if privacy.MARK in row.values():
                    footnote = footnote or privacy.footnote(min_cell, lang)
            extra = pd.DataFrame([row], index=[m[f"level_{lang}"]])
            shown = pd.concat([shown.astype(object), extra.astype(object)])
        shown.attrs["footnote"] = footnote
        return shown

    def hidden_levels(self, min_cell: int = privacy.MIN_CELL) -> set:
        """(factor, level) pairs whose share is hidden when published."""
        out = set()
        for f in dict.fromkeys(self.summary["factor"]):
            shown = self._block(f, True, min_cell, "en")
            levels = self.summary.loc[self.summary["factor"] == f, "level"].tolist()
            for lev, v in zip(levels, shown["share"].tolist()):
                if isinstance(v, str) and v == privacy.MARK:
                    out.add((f, lev))
        return out

    def table(self, lang: str = "ru", publish: bool = False, min_cell: int = privacy.MIN_CELL) -> pd.DataFrame:
        """The table as a report shows it: factor and category as the index, the share and its
        interval in percent; small counts hidden (``*``) when ``publish``."""
        _check_lang(lang)
        w = _W[lang]
        parts, footnote = [], ""
        for f in dict.fromkeys(self.summary["factor"]):
            shown = self._block(f, publish, min_cell, lang)
            footnote = footnote or shown.attrs.get("footnote", "")
            ci = [privacy.MARK if privacy.MARK in (lo, hi) else f"{_pct(lo, lang)}–{_pct(hi, lang)}"
                  for lo, hi in zip(shown["ci_low"], shown["ci_high"])]
            parts.append(pd.DataFrame({
                w["n"]: shown["n"].tolist(), w["events"]: shown["events"].tolist(),
                w["share"]: [v if isinstance(v, str) else _pct(v, lang) for v in shown["share"]], w["ci"]: ci},
                index=pd.MultiIndex.from_arrays([[_factor_text(f, lang)] * len(shown), list(shown.index)],
                                                names=[w["factor"], w["level"]])))
        out = pd.concat(parts) if parts else pd.DataFrame()
        out.attrs["footnote"] = footnote
        return out

    def plot(self, lang: str = "ru", publish: bool = False, min_cell: int = privacy.MIN_CELL, ax=None):
        """Shares with their Wilson intervals, one line per category, grouped by factor; the
        label gives "events / n". When ``publish``, a hidden share is not drawn and its
        counts read ``*``."""
        import matplotlib.pyplot as plt

        _check_lang(lang)
        rows = []
        for f in dict.fromkeys(self.summary["factor"]):
            s = self.summary[self.summary["factor"] == f]
            shown = self._block(f, publish, min_cell, lang)
            rows.append(("header", _factor_text(f, lang), None))
            for (_, r), (_, v) in zip(s.iterrows(), shown.iterrows()):
                hidden = isinstance(v["share"], str)
                ev = privacy.MARK if isinstance(v["events"], str) else privacy.count_label(
                    int(r["events"]), publish=publish, min_cell=min_cell, lang=lang)
                n = privacy.MARK if isinstance(v["n"], str) else privacy.count_label(
                    int(r["n"]), publish=publish, min_cell=min_cell, lang=lang)
                rows.append(("row", f"{r[f'level_{lang}']}  ({ev} / {n})", None if hidden else r))
        if ax is None:
            fig, ax = plt.subplots(figsize=(8.5, 0.3 * len(rows) + 1.3))
        else:
            fig = ax.figure
        y = np.arange(len(rows))[::-1]
        ticks, names = [], []
        for yi, (kind, text, r) in zip(y, rows):
            if kind == "header":
                ax.text(0.0, yi, text, fontweight="bold", va="center", ha="left",
                        transform=ax.get_yaxis_transform())
                continue
            ticks.append(yi)
            names.append(text)
            if r is not None and r["n"] > 0:
                ax.errorbar(r["share"], yi, xerr=[[r["share"] - r["ci_low"]], [r["ci_high"] - r["share"]]],
                            fmt="o", color="#00798c", ecolor="#7fb8c2", capsize=3)
        if np.isfinite(self.total.get("share", np.nan)):
            ax.axvline(self.total["share"], color="grey", ls="--", lw=1)
        ax.set_yticks(ticks)
        ax.set_yticklabels(names, fontsize=8)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.set_xlabel(f"{outcome_label(self.outcome, lang, self.months)}: "
                      f"{'доля и 95% ДИ' if lang == 'ru' else 'share and 95% CI'}", fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(axis="y", length=0)
        fig.tight_layout()
        return fig


def describe(fr: pd.DataFrame, factors=None, alpha: float = 0.05) -> Descriptive:
    """The share of units with the adverse outcome in each category of each factor.

    Units whose outcome is unknown are left out (see :func:`outcome_summary`); a factor
    not recorded for some units gets a category :data:`MISSING`, so each factor's rows add
    up to the total.

    Examples
    --------
    >>> d = describe(frame(read_dataset("demo")))                                # doctest: +SKIP
    >>> d.summary.query("factor == 'prior_removal'")[["level", "n", "events", "share"]]   # doctest: +SKIP
    """
    factors = _factors_of(fr, factors)
    d = _known(fr)
    y = d["adverse"].to_numpy(bool)
    rows = []
    for f in factors:
        for lev, n_, e_ in zip(*_tally(d, f, y)):
            rows.append({"factor": f, "level": lev, "label_ru": _factor_text(f, "ru"),
                         "label_en": _factor_text(f, "en"), "level_ru": _level_text(f, lev, "ru"),
                         "level_en": _level_text(f, lev, "en"), "n": int(n_), "events": int(e_)})
    summary = pd.DataFrame(rows, columns=["factor", "level", "label_ru", "label_en", "level_ru", "level_en",
                                          "n", "events"])
    n, e = summary["n"].to_numpy(float), summary["events"].to_numpy(float)
    summary["share"] = np.where(n > 0, e / np.where(n > 0, n, 1), np.nan)
    summary["ci_low"], summary["ci_high"] = wilson(e, n, alpha)
    lo, hi = wilson([y.sum()], [len(y)], alpha)
    total = {"n": int(len(y)), "events": int(y.sum()), "share": float(y.mean()) if len(y) else np.nan,
             "ci_low": float(lo[0]), "ci_high": float(hi[0])}
    return Descriptive(summary=summary, total=total, outcome=fr.attrs.get("outcome", "closure"),
                       unit=fr.attrs.get("unit", "family"), months=fr.attrs.get("months", 12), alpha=alpha)


# ----------------------------------------------------------------------------- unadjusted association

def exact_rx2(events, n, max_tables: int = 2_000_000, seed: int = 20260501) -> float:
    """Two-sided exact p of independence in an r × 2 table (Fisher–Freeman–Halton).

    ``events[i]`` of ``n[i]`` units in row i had the outcome. Every table with the same
    margins is enumerated; the p-value sums the (multivariate hypergeometric)
    probabilities of tables no more probable than the observed one (relative tolerance
    1e-7, as R's ``fisher.test``). For r = 2 it is Fisher's exact test. When more than
    ``max_tables`` tables exist, a Monte Carlo p-value (20,000 tables, fixed seed) is
    returned instead.

    >>> round(exact_rx2([3, 1], [10, 10]), 6)     # = scipy.stats.fisher_exact([[3, 7], [1, 9]])
    0.582043
    """
    e = np.asarray(events, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    keep = n > 0
    e, n = e[keep], n[keep]
    r, K, N = len(n), int(e.sum()), int(n.sum())
    if r < 2 or K in (0, N):
        return 1.0
    size = np.prod([min(int(ni), K) + 1 for ni in n[:-1]], dtype=float)
    if size > max_tables:
        table = np.column_stack([e, n - e])
        res = stats.fisher_exact(table, method=stats.MonteCarloMethod(
            n_resamples=20_000, rng=np.random.default_rng(seed)))
        return float(res.pvalue)
    after = np.concatenate([np.cumsum(n[::-1])[::-1][1:], [0]])  # capacity of the rows after i
    parts = np.zeros((1, 0), dtype=np.int64)
    for i in range(r - 1):
        s = parts.sum(axis=1)
        lo = np.maximum(0, K - s - after[i])
        hi = np.minimum(n[i], K - s)
        count = np.maximum(hi - lo + 1, 0)
        base = np.repeat(parts, count, axis=0)
        offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        parts = np.column_stack([base, np.repeat(lo, count) + offsets])
    last = K - parts.sum(axis=1)
    parts = np.column_stack([parts, last])
    ok = (last >= 0) & (last <= n[-1])
    parts = parts[ok]

    def logp(k):
        return (gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)).sum(axis=-1)

    lp = logp(parts) - (gammaln(N + 1) - gammaln(K + 1) - gammaln(N - K + 1))
    obs = logp(e) - (gammaln(N + 1) - gammaln(K + 1) - gammaln(N - K + 1))
    p = np.exp(lp)
    return float(min(1.0, p[p <= np.exp(obs) * (1 + 1e-7)].sum()))


def holm(p) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979): the family-wise error rate.

    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def benjamini_hochberg(p) -> np.ndarray:
    """Benjamini–Hochberg step-up adjusted p-values (1995): the false discovery rate.

    >>> benjamini_hochberg([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")[::-1]
    adj = np.minimum.accumulate(np.minimum(1.0, m / np.arange(m, 0, -1) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def _factor_test(events: np.ndarray, n: np.ndarray) -> tuple[str, float, int, float]:
    """(test, statistic, df, p) for an r × 2 table: χ² when every expected count ≥ 5, else exact."""
    keep = n > 0
    events, n = events[keep], n[keep]
    if len(n) < 2:
        return "", np.nan, 0, np.nan
    table = np.column_stack([events, n - events]).astype(float)
    if table.sum(axis=0).min() == 0:
        return "fisher" if len(n) == 2 else "ffh", np.nan, len(n) - 1, 1.0
    expected = np.outer(table.sum(1), table.sum(0)) / table.sum()
    if expected.min() >= 5:
        chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
        return "chi2", float(chi2), int(dof), float(p)
    if len(n) == 2:
        return "fisher", np.nan, 1, float(stats.fisher_exact(table.astype(int)).pvalue)
    return "ffh", np.nan, len(n) - 1, exact_rx2(events, n)


def _reference(s: pd.Series, factor: str, reference: dict | None = None):
    present = s.dropna().value_counts()
    if len(present) == 0:
        return None
    if _is_bool(s):
        return False
    want = (reference or REFERENCE).get(factor)
    return want if want in present.index else present.index[0]


def _references(fr: pd.DataFrame, factors, reference: dict | None = None) -> dict:
    out = {}
    for f in factors:
        s = fr[f]
        if not _is_bool(s) and s.notna().any():
            out[f] = _reference(s, f, reference)
    return out


@dataclass
class Associations:
    """Unadjusted comparisons of each category with its factor's reference, and one test per factor.

    Attributes
    ----------
    summary : DataFrame
        One row per category against the reference: factor, level, reference, label_ru,
        label_en, events_1, n_1, events_0, n_0, risk_1, risk_0, rr, rr_low, rr_high, rd,
        rd_low, rd_high, test, p.
    tests : DataFrame
        One row per factor: factor, label_ru, label_en, test (``fisher``, ``chi2``,
        ``ffh``), statistic, df, p, p_holm, p_bh, flagged_holm, flagged_bh (p < alpha after
        the correction).
    descriptive : Descriptive
        The counts behind them (used to hide the same cells when published).
    """

    summary: pd.DataFrame
    tests: pd.DataFrame
    descriptive: Descriptive
    alpha: float = 0.05

    def table(self, lang: str = "ru", publish: bool = False, min_cell: int = privacy.MIN_CELL) -> pd.DataFrame:
        """The comparisons in the report's words; when ``publish``, a comparison involving a
        hidden cell of the descriptive table is hidden too (RR and RD would reveal it)."""
        _check_lang(lang)
        w = _W[lang]
        hidden = self.descriptive.hidden_levels(min_cell) if publish else set()
        rows = []
        for _, r in self.summary.iterrows():
            hide = (r["factor"], r["level"]) in hidden or (r["factor"], r["reference"]) in hidden
            m = privacy.MARK
            rows.append({w["factor"]: _factor_text(r["factor"], lang),
                         w["level"]: _level_text(r["factor"], r["level"], lang),
                         w["reference"]: _level_text(r["factor"], r["reference"], lang),
                         w["rr"]: m if hide else f"{_num(r['rr'], lang)} ({_num(r['rr_low'], lang)}–"
                                                 f"{_num(r['rr_high'], lang)})",
                         w["rd"]: m if hide else f"{_num(100 * r['rd'], lang, 1)} ({_num(100 * r['rd_low'], lang, 1)}–"
                                                 f"{_num(100 * r['rd_high'], lang, 1)})",
                         w["test"]: w.get(r["test"], r["test"]), w["p"]: m if hide else _p(r["p"], lang)})
        out = pd.DataFrame(rows).set_index([w["factor"], w["level"]]) if rows else pd.DataFrame()
        out.attrs["footnote"] = privacy.footnote(min_cell, lang) if hidden else ""
        return out

    def test_table(self, lang: str = "ru", publish: bool = False, min_cell: int = privacy.MIN_CELL) -> pd.DataFrame:
        """One line per factor: the test, its p, and p after Holm's and Benjamini–Hochberg's corrections.
        When ``publish``, the p of a factor with a hidden category is shown only as flagged or not."""
        _check_lang(lang)
        w = _W[lang]
        hidden = {f for f, _ in self.descriptive.hidden_levels(min_cell)} if publish else set()
        rows = []
        for _, r in self.tests.iterrows():
            hide = r["factor"] in hidden
            m = privacy.MARK
            rows.append({w["factor"]: r[f"label_{lang}"], w["test"]: w.get(r["test"], r["test"]) or "—",
                         w["p"]: m if hide else _p(r["p"], lang), w["p_holm"]: m if hide else _p(r["p_holm"], lang),
                         w["p_bh"]: m if hide else _p(r["p_bh"], lang),
                         w["flag"]: ", ".join(x for x, on in (("Holm" if lang == "en" else "Холм", r["flagged_holm"]),
                                                              ("B–H" if lang == "en" else "Б–Х", r["flagged_bh"]))
                                              if on) or w["none"]})
        out = pd.DataFrame(rows).set_index(w["factor"]) if rows else pd.DataFrame()
        out.attrs["footnote"] = privacy.footnote(min_cell, lang) if hidden else ""
        return out


def associations(fr: pd.DataFrame, factors=None, alpha: float = 0.05, reference: dict | None = None) -> Associations:
    """Risk ratios and risk differences with score intervals, an exact or χ² test per factor,
    Holm and Benjamini–Hochberg corrections across factors.

    Parameters
    ----------
    fr : DataFrame
        :func:`frame`.
    factors : list of str, optional
        Default: the frame's factors.
    alpha : float
        Level of the intervals (1 − alpha) and of the flags after correction.
    reference : dict, optional
        Reference category per categorical factor (default :data:`REFERENCE`, else the
        most common); for a yes/no factor the reference is "no".

    Notes
    -----
    Missing values of a factor are left out of its comparisons (they are a row of the
    descriptive table). The test of a factor: Pearson's χ² (no continuity correction)
    when every expected count of its table is at least 5, otherwise Fisher's exact test
    (two categories) or the Fisher–Freeman–Halton exact test (:func:`exact_rx2`). Units of
    a child-level frame are treated as independent here; siblings share fate, so for
    children these tests are too optimistic — use :func:`gee` for children.
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    factors = _factors_of(fr, factors)
    desc = describe(fr, factors, alpha)
    table = desc.summary
    rows, tests = [], []
    for f in factors:
        t = table[(table["factor"] == f) & ~table["level"].isin([MISSING])]
        levels = t["level"].tolist()
        n, ev = t["n"].to_numpy(np.int64), t["events"].to_numpy(np.int64)
        if levels and all(isinstance(v, (bool, np.bool_)) for v in levels):
            ref = False if False in levels else None
        elif levels:
            want = (reference or REFERENCE).get(f)
            ref = want if want in levels else levels[int(np.argmax(n))]
        else:
            ref = None
        test, stat, dof, p = _factor_test(ev, n)
        tests.append({"factor": f, "label_ru": _factor_text(f, "ru"), "label_en": _factor_text(f, "en"),
                      "test": test, "statistic": stat, "df": dof, "p": p})
        if ref is None:
            continue
        i0 = levels.index(ref)
        for i, lv in enumerate(levels):
            if i == i0:
                continue
            a, n1, c, n0 = int(ev[i]), int(n[i]), int(ev[i0]), int(n[i0])
            r1, r0 = a / n1, c / n0
            with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
                warnings.simplefilter("ignore")
                rr_lo, rr_hi = confint_proportions_2indep(a, n1, c, n0, method="score", compare="ratio",
                                                          alpha=alpha)
                rd_lo, rd_hi = confint_proportions_2indep(a, n1, c, n0, method="newcomb", compare="diff",
                                                          alpha=alpha)
                rr = r1 / r0 if r0 > 0 else (np.inf if r1 > 0 else np.nan)
            t2, p2 = (test, p) if len(levels) == 2 else _factor_test(np.array([a, c]), np.array([n1, n0]))[::3]
            rows.append({"factor": f, "level": lv, "reference": ref, "label_ru": _term_text(_term(f, lv), "ru"),
                         "label_en": _term_text(_term(f, lv), "en"), "events_1": a, "n_1": n1, "events_0": c,
                         "n_0": n0, "risk_1": r1, "risk_0": r0, "rr": rr, "rr_low": float(rr_lo),
                         "rr_high": float(rr_hi), "rd": r1 - r0, "rd_low": float(rd_lo), "rd_high": float(rd_hi),
                         "test": t2, "p": p2})
    tests = pd.DataFrame(tests)
    ok = tests["p"].notna().to_numpy()
    for col, how in (("p_holm", holm), ("p_bh", benjamini_hochberg)):
        tests[col] = np.nan
        if ok.any():
            tests.loc[ok, col] = how(tests.loc[ok, "p"].to_numpy(float))
    tests["flagged_holm"] = (tests["p_holm"] < alpha).fillna(False).astype(bool)
    tests["flagged_bh"] = (tests["p_bh"] < alpha).fillna(False).astype(bool)
    cols = ["factor", "level", "reference", "label_ru", "label_en", "events_1", "n_1", "events_0", "n_0", "risk_1",
            "risk_0", "rr", "rr_low", "rr_high", "rd", "rd_low", "rd_high", "test", "p"]
    return Associations(summary=pd.DataFrame(rows, columns=cols), tests=tests, descriptive=desc, alpha=alpha)


def _term(factor: str, level) -> str:
    return factor if isinstance(level, (bool, np.bool_)) else f"{factor}[{level}]"


# ----------------------------------------------------------------------------- logistic regression

def _matrix(fr: pd.DataFrame, factors, reference: dict | None):
    """Known outcomes, complete covariates: (X with intercept, y, terms, dropped, constant, rows)."""
    d = _known(fr)
    ref = _references(d, factors, reference)
    x, terms = design(d, factors, ref)
    complete = x[terms].notna().all(axis=1).to_numpy() if terms else np.ones(len(d), dtype=bool)
    dropped = int((~complete).sum())
    x = x[complete]
    constant = [t for t in terms if x[t].nunique() < 2]
    terms = [t for t in terms if t not in constant]
    X = np.column_stack([np.ones(len(x))] + [x[t].to_numpy(float) for t in terms])
    y = d.loc[complete, "adverse"].to_numpy(float)
    return X, y, terms, dropped, constant, d[complete]


@dataclass
class LogisticResult:
    """A logistic regression of the adverse outcome on the factors.

    Attributes
    ----------
    summary : DataFrame
        term, label_ru, label_en, coef, se, or, or_low, or_high, p, ci (``"profile"`` for
        Firth, ``"wald"`` otherwise); the intercept is left out.
    method : {"mle", "firth"}
    n, events : int
        Units in the model and those with the adverse outcome.
    dropped : int
        Units left out for a missing factor (complete-case analysis).
    constant : list
        Terms left out because every unit in the model has the same value.
    epv : float
        Events per variable: the rarer outcome's count over the number of terms.
    separation : SeparationCheck
    """

    summary: pd.DataFrame
    method: str
    n: int
    events: int
    dropped: int
    constant: list
    epv: float
    separation: SeparationCheck
    reason: str = ""
    alpha: float = 0.05
    intercept: float = np.nan

    def table(self, lang: str = "ru") -> pd.DataFrame:
        """Odds ratios with their intervals and p-values in the report's words."""
        _check_lang(lang)
        w = _W[lang]
        sep = set(self.separation.terms) if self.method == "mle" else set()
        rows = [{w["factor"]: r[f"label_{lang}"],
                 w["or"]: w["not_estimable"] if r["term"] in sep else _num(r["or"], lang),
                 w["ci"].replace(", %", ""): "" if r["term"] in sep else
                 f"{_num(r['or_low'], lang)}–{_num(r['or_high'], lang)}",
                 w["p"]: "" if r["term"] in sep else _p(r["p"], lang)} for _, r in self.summary.iterrows()]
        return pd.DataFrame(rows).set_index(w["factor"])

    def notes(self, lang: str = "ru", publish: bool = False, min_cell: int = privacy.MIN_CELL) -> list[str]:
        """Plain sentences on what limits these estimates: method, EPV, separation, dropped units
        (a count of 1 to ``min_cell − 1`` shown as ``*`` when ``publish``)."""
        _check_lang(lang)
        dropped = privacy.count_label(self.dropped, publish=publish, min_cell=min_cell, lang=lang)
        k = len(self.summary)
        out = []
        method = _W[lang]["method_firth" if self.method == "firth" else "method_mle"]
        why = {"separation": ("в данных есть разделение", "the data are separated"),
               "epv": (f"событий на переменную меньше {EPV_MIN}", f"fewer than {EPV_MIN} events per variable"),
               "asked": ("так задано", "as requested")}.get(self.reason, ("", ""))
        why = why[0 if lang == "ru" else 1]
        out.append(f"Метод: {method}" + (f" ({why})." if why else ".") if lang == "ru" else
                   f"Method: {method}" + (f" ({why})." if why else "."))
        if np.isfinite(self.epv) and self.epv < EPV_MIN:
            out.append(f"Событий на одну переменную модели: {_num(self.epv, lang, 1)} (меньше {EPV_MIN}; "
                       f"{k} переменных). Оценки неустойчивы, интервалы широки; при обычном методе отношения шансов "
                       "были бы завышены — поэтому применен метод Фёрта." if lang == "ru" else
                       f"Events per model variable: {_num(self.epv, lang, 1)} (below {EPV_MIN}; {k} variables). "
                       "Estimates are unstable and intervals wide; ordinary maximum likelihood would overstate the "
                       "odds ratios — hence Firth's method.")
        if self.separation.detected:
            names = ", ".join(_term_text(t, lang) for t in self.separation.terms) or "—"
            out.append(f"Обнаружено разделение: по фактору(ам) «{names}» исход в одной из групп одинаков у всех, "
                       "поэтому обычная оценка уходит в бесконечность; штрафная оценка Фёрта конечна, но опирается "
                       "на очень мало данных." if lang == "ru" else
                       f"Separation detected: for {names} the outcome is the same for everyone in one group, so the "
                       "ordinary estimate runs off to infinity; Firth's penalised estimate is finite but rests on "
                       "very few data.")
        if self.dropped:
            out.append(f"Не вошли в модель из-за пропуска в факторах: {dropped} (анализ полных случаев; "
                       "см. сравнение с множественной импутацией)." if lang == "ru" else
                       f"Left out of the model for a missing factor: {dropped} (complete-case analysis; see "
                       "the comparison with multiple imputation).")
        if self.constant:
            names = ", ".join(_term_text(t, lang) for t in self.constant)
            out.append(f"Без вариации в модели (не оцениваются): {names}." if lang == "ru" else
                       f"No variation in the model (not estimated): {names}.")
        return out


def _summary_from(terms, coef, se, low, high, p, ci: str) -> pd.DataFrame:
    with np.errstate(over="ignore"):
        return pd.DataFrame({
            "term": terms, "label_ru": [_term_text(t, "ru") for t in terms],
            "label_en": [_term_text(t, "en") for t in terms], "coef": coef, "se": se, "or": np.exp(coef),
            "or_low": np.exp(low), "or_high": np.exp(high), "p": p, "ci": ci})


def logistic(fr: pd.DataFrame, factors=None, method: str = "auto", alpha: float = 0.05,
             reference: dict | None = None) -> LogisticResult:
    """Logistic regression of the adverse outcome on every factor at once (odds ratios).

    Parameters
    ----------
    fr : DataFrame
        :func:`frame`; units with an unknown outcome or a missing factor are left out.
    factors : list of str, optional
    method : {"auto", "mle", "firth"}
        ``"mle"``: maximum likelihood (statsmodels GLM, Wald intervals; = R ``glm``).
        ``"firth"``: :func:`firth`. ``"auto"``: Firth when :func:`detect_separation` finds
        separation or events per variable are below 10, maximum likelihood otherwise.
    alpha : float
    reference : dict, optional
        Reference category per categorical factor (default :data:`REFERENCE`).

    Notes
    -----
    Units are treated as independent: for children of the same family use :func:`gee`.
    """
    _check_choice("method", method, ("auto", "mle", "firth"))
    factors = _factors_of(fr, factors)
    X, y, terms, dropped, constant, _ = _matrix(fr, factors, reference)
    if len(y) == 0 or y.min() == y.max():
        raise UserError("исход одинаков у всех (или нет данных) — модель не строится / the outcome is the same for "
                        "every unit (or there are none): no model can be fitted")
    if not terms:
        raise UserError("ни один фактор не меняется / no factor varies among the units")
    sep = detect_separation(X, y, ["Intercept"] + terms)
    events = int(min(y.sum(), len(y) - y.sum()))
    epv = events / len(terms)
    reason = "asked"
    if method == "auto":
        method, reason = (("firth", "separation") if sep.detected else
                          ("firth", "epv") if epv < EPV_MIN else ("mle", ""))
    if method == "firth":
        f = firth(X, y, ["Intercept"] + terms, alpha=alpha)
        body = f.iloc[1:]
        summary = _summary_from(terms, body["coef"].to_numpy(), body["se"].to_numpy(), body["ci_low"].to_numpy(),
                                body["ci_high"].to_numpy(), body["p"].to_numpy(), "profile")
        intercept = float(f["coef"].iloc[0])
    else:
        import statsmodels.api as sm

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-12, maxiter=200)
        coef, se = np.asarray(res.params)[1:], np.asarray(res.bse)[1:]
        z = stats.norm.ppf(1 - alpha / 2)
        summary = _summary_from(terms, coef, se, coef - z * se, coef + z * se,
                                2 * stats.norm.sf(np.abs(coef / se)), "wald")
        intercept = float(np.asarray(res.params)[0])
    return LogisticResult(summary=summary, method=method, n=len(y), events=int(y.sum()), dropped=dropped,
                          constant=constant, epv=epv, separation=sep, reason=reason if method == "firth" else "",
                          alpha=alpha, intercept=intercept)


# ----------------------------------------------------------------------------- GEE

@dataclass
class GEEResult:
    """A marginal logistic model for children with family clusters (odds ratios, robust errors).

    ``summary``: term, label_ru, label_en, coef, se (robust), or, or_low, or_high, p.
    ``corstr``: the working correlation; ``correlation``: its estimate (exchangeable);
    ``clusters``: families; ``n``: children in the model; ``separation``: as in
    :class:`LogisticResult`; ``excluded``: terms not estimated because every child of the
    category had the same outcome (their children are left out of the fit, their
    coefficient is NaN — the limit the other coefficients tend to under separation).
    """

    summary: pd.DataFrame
    corstr: str
    correlation: float
    clusters: int
    n: int
    events: int
    dropped: int
    separation: SeparationCheck
    excluded: list = field(default_factory=list)

    def table(self, lang: str = "ru") -> pd.DataFrame:
        _check_lang(lang)
        w = _W[lang]
        sep = set(self.excluded) | {t for t in self.separation.terms if t in set(
            self.summary.loc[~np.isfinite(self.summary["coef"]) | (self.summary["coef"].abs() > 15), "term"])}
        rows = [{w["factor"]: r[f"label_{lang}"],
                 w["or"]: w["not_estimable"] if r["term"] in sep else _num(r["or"], lang),
                 w["ci"].replace(", %", ""): "" if r["term"] in sep else
                 f"{_num(r['or_low'], lang)}–{_num(r['or_high'], lang)}",
                 w["p"]: "" if r["term"] in sep else _p(r["p"], lang)} for _, r in self.summary.iterrows()]
        return pd.DataFrame(rows).set_index(w["factor"])


def gee(fr: pd.DataFrame, factors=None, corstr: str = "exchangeable", alpha: float = 0.05,
        reference: dict | None = None) -> GEEResult:
    """GEE logistic regression of a child-level frame with families as clusters.

    statsmodels ``GEE`` (Binomial, logit link) with robust sandwich errors; the
    exchangeable correlation and the dispersion by moments without degrees-of-freedom
    correction, as R's ``geepack::geeglm(..., corstr = "exchangeable")``; converged to
    1e-10 (geepack's default stops at 1e-4).

    Parameters
    ----------
    fr : DataFrame
        :func:`frame` with ``unit="child"``.
    corstr : {"exchangeable", "independence"}
    """
    import statsmodels.api as sm

    _check_choice("corstr", corstr, ("exchangeable", "independence"))
    if fr.attrs.get("unit", "child") != "child" or "child_id" not in fr.columns:
        raise UserError("GEE нужен для детей: постройте frame(..., unit='child') / GEE is for children: build "
                        "frame(..., unit='child')")
    factors = _factors_of(fr, factors)
    X, y, terms, dropped, _, rows = _matrix(fr, factors, reference)
    if len(y) == 0 or y.min() == y.max() or not terms:
        raise UserError("исход одинаков у всех или ни один фактор не меняется / the outcome or every factor is "
                        "constant: no model can be fitted")
    names = ["Intercept"] + terms
    sep = detect_separation(X, y, names)
    # a category whose units all share one outcome (quasi-separation by an indicator) drives its
    # coefficient to infinity; the other coefficients' limit is the fit without those units
    excluded, keep = [], np.ones(len(y), dtype=bool)
    for t in sep.terms:
        col = X[:, names.index(t)]
        on = (col == 1) & keep
        if np.isin(col, (0.0, 1.0)).all() and on.any() and np.unique(y[on]).size == 1:
            excluded.append(t)
            keep &= ~on
    if excluded:
        cols = [k for k, nm in enumerate(names) if nm not in excluded]
        X, y, rows = X[keep][:, cols], y[keep], rows[keep]
        names = [names[k] for k in cols]
        varies = [k for k in range(X.shape[1]) if k == 0 or np.unique(X[:, k]).size > 1]
        X, names = X[:, varies], [names[k] for k in varies]
    groups = pd.factorize(rows["family_id"])[0]
    cs = sm.cov_struct.Exchangeable() if corstr == "exchangeable" else sm.cov_struct.Independence()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.GEE(y, X, groups=groups, family=sm.families.Binomial(), cov_struct=cs).fit(
            maxiter=200, ctol=1e-10, ddof_scale=0)
    fitted = pd.DataFrame({"coef": np.asarray(res.params)[1:], "se": np.asarray(res.bse)[1:]}, index=names[1:])
    fitted = fitted.reindex(terms)  # terms not estimated: NaN
    coef, se = fitted["coef"].to_numpy(), fitted["se"].to_numpy()
    z = stats.norm.ppf(1 - alpha / 2)
    summary = _summary_from(terms, coef, se, coef - z * se, coef + z * se, 2 * stats.norm.sf(np.abs(coef / se)),
                            "wald").drop(columns="ci")
    corr = float(cs.dep_params) if corstr == "exchangeable" else 0.0
    return GEEResult(summary=summary, corstr=corstr, correlation=corr, clusters=int(groups.max() + 1), n=len(y),
                     events=int(y.sum()), dropped=dropped, separation=sep, excluded=excluded)


# ----------------------------------------------------------------------------- Cox

def time_frame(tables: dict[str, pd.DataFrame], fr: pd.DataFrame | None = None, origin: str | None = None):
    """The survival study's time-to-event frame for the factor study's families.

    ``origin`` defaults to the outcome's: from case closure for ``"after_closure"``, from
    case opening otherwise. With ``fr``, only the frame's families are kept (the same
    families as the descriptive table and the logistic model, every child of theirs
    followed as long as observed).
    """
    outcome = fr.attrs.get("outcome", "closure") if fr is not None else "closure"
    origin = origin or ("closure" if outcome == "after_closure" else "opening")
    tte = frames.time_to_event(tables, origin=origin)
    if fr is not None:
        tte = tte[tte["family_id"].isin(set(fr["family_id"]))].reset_index(drop=True)
    tte.attrs["origin"] = origin
    return tte


def hazard_table(cox, lang: str = "ru") -> pd.DataFrame:
    """A :class:`evalkit.survival.CoxResult` as the factor study shows it: hazard ratios with
    their intervals and p-values in the report's words."""
    _check_lang(lang)
    w = _W[lang]
    rows = [{w["factor"]: _term_text(r["term"], lang), w["hr"]: _num(r["hr"], lang),
             w["ci"].replace(", %", ""): f"{_num(r['hr_low'], lang)}–{_num(r['hr_high'], lang)}",
             w["p"]: _p(r["p"], lang)} for _, r in cox.summary.iterrows()]
    return pd.DataFrame(rows).set_index(w["factor"])


def hazard_ratios(tte: pd.DataFrame, factors, reference: dict | None = None):
    """Adjusted hazard ratios of separation: :func:`evalkit.survival.cox` (Efron ties, errors
    clustered by family) with the factor study's reference categories.

    Returns the survival study's :class:`evalkit.survival.CoxResult` (``summary``: term,
    label_ru, label_en, coef, se, hr, hr_low, hr_high, p; ``ph_test``; ``n``, ``events``,
    ``dropped``).
    """
    factors = [factors] if isinstance(factors, str) else list(factors)
    return _cox(tte, factors, reference=_references(tte, factors, reference))


# ----------------------------------------------------------------------------- interaction

@dataclass
class InteractionResult:
    """Two factors together: the four groups' shares and the interaction in the models.

    ``cells``: group (neither / only a / only b / both), label_ru, label_en, n, events,
    share, ci_low, ci_high. ``summary``: model (``logistic``, ``cox``), estimate (ratio of
    odds ratios / of hazard ratios: > 1 means the two together are worse than their
    separate effects multiplied), ci_low, ci_high, p. ``logistic`` and ``cox``: the fits.
    """

    a: str
    b: str
    cells: pd.DataFrame
    summary: pd.DataFrame
    logistic: LogisticResult
    cox: object = None

    def cell_table(self, lang: str = "ru", publish: bool = False, min_cell: int = privacy.MIN_CELL) -> pd.DataFrame:
        _check_lang(lang)
        w = _W[lang]
        block = pd.DataFrame({"n": self.cells["n"].to_numpy(), "events": self.cells["events"].to_numpy(),
                              "share": self.cells["share"].to_numpy(), "ci_low": self.cells["ci_low"].to_numpy(),
                              "ci_high": self.cells["ci_high"].to_numpy()},
                             index=self.cells[f"label_{lang}"].to_numpy())
        shown = privacy.show(block, publish=publish, min_cell=min_cell, counts=["n", "events"],
                             shares={("share", "ci_low", "ci_high"): ("events", "n")}, lang=lang)
        out = pd.DataFrame({
            w["n"]: shown["n"].tolist(), w["events"]: shown["events"].tolist(),
            w["share"]: [v if isinstance(v, str) else _pct(v, lang) for v in shown["share"]],
            w["ci"]: [privacy.MARK if privacy.MARK in (lo, hi) else f"{_pct(lo, lang)}–{_pct(hi, lang)}"
                      for lo, hi in zip(shown["ci_low"], shown["ci_high"])]}, index=shown.index)
        out.index.name = w["group"]
        out.attrs["footnote"] = shown.attrs.get("footnote", "")
        return out

    def table(self, lang: str = "ru") -> pd.DataFrame:
        _check_lang(lang)
        w = _W[lang]
        name = {"logistic": w["logit"], "cox": w["cox"]}
        rows = [{"": name[r["model"]], w["effect"].split(" (")[0]: _num(r["estimate"], lang),
                 w["ci"].replace(", %", ""): f"{_num(r['ci_low'], lang)}–{_num(r['ci_high'], lang)}",
                 w["p"]: _p(r["p"], lang)} for _, r in self.summary.iterrows()]
        return pd.DataFrame(rows).set_index("")


def interaction(fr: pd.DataFrame, a: str = "prior_removal", b: str = "parent_mental_illness", factors=None,
                method: str = "auto", tte: pd.DataFrame | None = None, alpha: float = 0.05) -> InteractionResult:
    """The interaction of two yes/no factors, adjusted for the other factors.

    The four groups (neither, only ``a``, only ``b``, both) with their shares and Wilson
    intervals; a logistic model (:func:`logistic`, same ``method``) and, given ``tte``
    (:func:`time_frame`), a Cox model (:func:`hazard_ratios`), each with the other
    factors, both main effects and their product. The product's ratio says whether the
    two together go with more (> 1) or less (< 1) risk than their separate associations
    multiplied. Samples of a few dozen families rarely have the power to see one.
    """
    factors = _factors_of(fr, factors)
    for f in (a, b):
        if f not in fr.columns or not _is_bool(fr[f]):
            raise UserError(f"для взаимодействия нужен фактор да/нет / the interaction needs a yes/no factor: {f!r}")
    prod = f"{a}_x_{b}"
    d = _known(fr)
    both = d[[a, b]].notna().all(axis=1)
    da, db = d.loc[both, a].astype(bool), d.loc[both, b].astype(bool)
    y = d.loc[both, "adverse"].to_numpy(bool)
    groups = [("neither", ~da & ~db), ("only_a", da & ~db), ("only_b", ~da & db), ("both", da & db)]
    cells = []
    for key, m in groups:
        m = m.to_numpy(bool)
        la = {"neither": ("нет ни одного", "neither"), "only_a": (f"только: {_factor_text(a, 'ru')}",
                                                                   f"only: {_factor_text(a, 'en')}"),
              "only_b": (f"только: {_factor_text(b, 'ru')}", f"only: {_factor_text(b, 'en')}"),
              "both": ("оба фактора", "both")}[key]
        cells.append({"group": key, "label_ru": la[0], "label_en": la[1], "n": int(m.sum()),
                      "events": int((y & m).sum())})
    cells = pd.DataFrame(cells)
    n, e = cells["n"].to_numpy(float), cells["events"].to_numpy(float)
    cells["share"] = np.where(n > 0, e / np.where(n > 0, n, 1), np.nan)
    cells["ci_low"], cells["ci_high"] = wilson(e, n, alpha)
    others = [f for f in factors if f not in (a, b)]
    fr2 = fr.copy()
    fr2[prod] = (fr2[a].astype("boolean") & fr2[b].astype("boolean"))
    fit = logistic(fr2, others + [a, b, prod], method=method, alpha=alpha)
    rows = []
    r = fit.summary[fit.summary["term"] == prod]
    if len(r):
        r = r.iloc[0]
        rows.append({"model": "logistic", "estimate": r["or"], "ci_low": r["or_low"], "ci_high": r["or_high"],
                     "p": r["p"]})
    cx = None
    if tte is not None:
        t2 = tte.copy()
        t2[prod] = (t2[a].astype("boolean") & t2[b].astype("boolean"))
        cx = hazard_ratios(t2, [f for f in others if f in t2.columns] + [a, b, prod])
        r = cx.summary[cx.summary["term"] == prod]
        if len(r):
            r = r.iloc[0]
            rows.append({"model": "cox", "estimate": r["hr"], "ci_low": r["hr_low"], "ci_high": r["hr_high"],
                         "p": r["p"]})
    return InteractionResult(a=a, b=b, cells=cells, summary=pd.DataFrame(rows), logistic=fit, cox=cx)


# ----------------------------------------------------------------------------- multiple imputation

@dataclass
class ImputationResult:
    """Complete cases against multiple imputation, term by term.

    ``summary``: term, label_ru, label_en, or_cc, cc_low, cc_high (the complete-case model
    as fitted by :func:`logistic`), or_mi, mi_low, mi_high (pooled by Rubin's rules; Wald
    intervals on the t distribution), fmi (fraction of missing information).
    ``imputations``: how many; ``n_complete``, ``n``: units in the complete-case model and
    with a known outcome.
    """

    summary: pd.DataFrame
    imputations: int
    n_complete: int
    n: int
    method: str

    def table(self, lang: str = "ru") -> pd.DataFrame:
        _check_lang(lang)
        w = _W[lang]
        rows = [{w["factor"]: r[f"label_{lang}"],
                 f"{w['or']}: {w['cc']}": f"{_num(r['or_cc'], lang)} ({_num(r['cc_low'], lang)}–"
                                          f"{_num(r['cc_high'], lang)})",
                 f"{w['or']}: {w['mi']}": f"{_num(r['or_mi'], lang)} ({_num(r['mi_low'], lang)}–"
                                          f"{_num(r['mi_high'], lang)})",
                 w["fmi"]: _num(r["fmi"], lang)} for _, r in self.summary.iterrows()]
        return pd.DataFrame(rows).set_index(w["factor"])


def _mice_data(data: pd.DataFrame, seed: int):
    """statsmodels' ``MICEData`` with its default imputation models (every variable on all the
    others, a linear model with predictive mean matching), the design matrices built with
    numpy instead of a formula per update (the same numbers, many times faster)."""
    from statsmodels.imputation.mice import MICEData

    class _MICEData(MICEData):
        def _matrices(self, vname):
            others = [c for c in self.data.columns if c != vname]
            exog = np.column_stack([np.ones(len(self.data))] + [self.data[c].to_numpy(float) for c in others])
            return self.data[vname].to_numpy(float), exog

        def get_split_data(self, vname):
            endog, exog = self._matrices(vname)
            ixo, ixm = self.ix_obs[vname], self.ix_miss[vname]
            return endog[ixo].copy(), exog[ixo].copy(), exog[ixm].copy(), {}, {}

        def get_fitting_data(self, vname):
            endog, exog = self._matrices(vname)
            ix = self.ix_obs[vname]
            return endog[ix].copy(), exog[ix].copy(), {}, {}

    return _MICEData(data, rng=np.random.default_rng(seed))


def imputation_check(fr: pd.DataFrame, factors=None, method: str = "auto", imputations: int = 10,
                     burn_in: int = 10, skip: int = 3, seed: int = 20260501, alpha: float = 0.05,
                     reference: dict | None = None, complete_case: LogisticResult | None = None) -> ImputationResult:
    """Refit the logistic model on multiply imputed factors and compare with complete cases.

    ``complete_case``: the :func:`logistic` fit of the same frame and factors, if already
    made (it is reused, and its method is the imputed fits' method).

    Imputation by chained equations with statsmodels ``MICEData`` (a linear model per
    factor with predictive mean matching, so every imputed value is one actually
    observed; the outcome is in every imputation model, Moons et al. 2006): ``burn_in``
    cycles, then one completed data set every ``skip`` cycles. A categorical factor is
    imputed as one coded column (predictive mean matching draws a real category). For a
    child-level frame the family's characteristics are imputed once per family (with the
    family's outcome and size), so siblings never disagree, and the children's own
    characteristics then given the family's. Each
    completed data set is fitted with the complete-case model's method (Firth with Wald
    errors, or maximum likelihood); estimates are pooled by Rubin's rules (Rubin 1987),
    degrees of freedom after Barnard & Rubin (1999). Assumes the factors are missing at
    random given the other factors and the outcome.
    """
    import statsmodels.api as sm

    if not isinstance(imputations, (int, np.integer)) or imputations < 2:
        raise UserError(f"imputations: нужно не меньше 2 / at least 2 completed data sets, not {imputations!r}")
    factors = _factors_of(fr, factors)
    cc = complete_case or logistic(fr, factors, method=method, alpha=alpha, reference=reference)
    d = _known(fr)
    n = len(d)
    base = cc.summary[["term", "label_ru", "label_en"]].copy()
    base["or_cc"], base["cc_low"], base["cc_high"] = cc.summary["or"], cc.summary["or_low"], cc.summary["or_high"]
    if not d[factors].isna().any().any():
        for a, b_ in (("or_mi", "or_cc"), ("mi_low", "cc_low"), ("mi_high", "cc_high")):
            base[a] = base[b_]
        base["fmi"] = 0.0
        return ImputationResult(summary=base, imputations=0, n_complete=cc.n, n=n, method=cc.method)
    ref = _references(d, factors, reference)
    unit = fr.attrs.get("unit", "family") if "family_id" in d.columns else "family"
    by_family = unit == "child"
    fam_level = [f for f in factors if not (by_family and f in CHILD_COVARIATES)]
    child_level = [f for f in factors if f not in fam_level]
    codes = {f: sorted(d[f].dropna().unique(), key=str) for f in factors if not _is_bool(d[f])}

    def code(table: pd.DataFrame, cols) -> pd.DataFrame:
        out = pd.DataFrame(index=table.index)
        for f in cols:
            out[f] = (table[f].astype("Float64").astype(float) if f not in codes else
                      table[f].map({c: float(i) for i, c in enumerate(codes[f])}).astype(float))
        return out

    def decode(table: pd.DataFrame, cols) -> pd.DataFrame:
        return pd.DataFrame({f: (table[f].round().astype(bool) if f not in codes else
                                 table[f].round().astype(int).map(dict(enumerate(codes[f])))) for f in cols},
                            index=table.index)

    # children of a family share its characteristics: impute those once per family (with the
    # family's outcome: some child separated), then the children's own, given the family's
    if by_family:
        g = d.groupby("family_id", sort=False)
        fam = code(g[fam_level].first(), fam_level)
        fam["adverse"] = g["adverse"].any().astype(float)
        fam["children"] = g.size().astype(float)
    else:
        fam = code(d, fam_level)
        fam["adverse"] = d["adverse"].astype(float)
    fam = fam.reset_index(drop=True)
    rows_of = pd.factorize(d["family_id"])[0] if by_family else np.arange(len(d))
    need_child = bool(child_level) and d[child_level].isna().any().any()
    y = d["adverse"].to_numpy(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imp = _mice_data(fam, seed)
        imp.update_all(burn_in)
        fits = []
        for k in range(imputations):
            imp.update_all(skip)
            full = decode(imp.data, fam_level).iloc[rows_of].set_axis(d.index)
            if child_level:
                kid = code(d, child_level)
                if need_child:
                    kid = pd.concat([kid, code(full, fam_level)], axis=1).assign(adverse=y).reset_index(drop=True)
                    second = _mice_data(kid, seed + 1 + k)
                    second.update_all(burn_in)
                    kid = second.data.set_axis(d.index)
                full = pd.concat([full, decode(kid, child_level)], axis=1)
            x, terms = design(full, factors, ref)
            keep = [t for t in cc.summary["term"] if t in terms]
            X = np.column_stack([np.ones(len(x))] + [x[t].to_numpy(float) for t in keep])
            if cc.method == "firth":
                f_ = firth(X, y, ["Intercept"] + keep, profile=False)
                coef, se = f_["coef"].to_numpy()[1:], f_["se"].to_numpy()[1:]
            else:
                res = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-10, maxiter=200)
                coef, se = np.asarray(res.params)[1:], np.asarray(res.bse)[1:]
            fits.append(pd.DataFrame({"term": keep, "coef": coef, "var": se ** 2}))
    allfits = pd.concat(fits)
    m = imputations
    g = allfits.groupby("term", sort=False)
    qbar, wbar, bvar = g["coef"].mean(), g["var"].mean(), g["coef"].var(ddof=1)
    total = wbar + (1 + 1 / m) * bvar
    lam = ((1 + 1 / m) * bvar / total).clip(lower=1e-12)
    nu_old = (m - 1) / lam ** 2
    dof_com = max(cc.n - len(cc.summary) - 1, 1)
    nu_obs = (dof_com + 1) / (dof_com + 3) * dof_com * (1 - lam)
    nu = 1 / (1 / nu_old + 1 / nu_obs)
    tq = stats.t.ppf(1 - alpha / 2, nu)
    se = np.sqrt(total)
    base = base.set_index("term")
    base["or_mi"] = np.exp(qbar)
    base["mi_low"], base["mi_high"] = np.exp(qbar - tq * se), np.exp(qbar + tq * se)
    r = (1 + 1 / m) * bvar / wbar
    base["fmi"] = (r + 2 / (nu + 3)) / (r + 1)
    return ImputationResult(summary=base.reset_index(), imputations=m, n_complete=cc.n, n=n, method=cc.method)


# ----------------------------------------------------------------------------- forest plot

def forest(logit: LogisticResult, cox=None, gee_fit: GEEResult | None = None, lang: str = "ru"):
    """Every adjusted effect in one plot: odds ratios (logistic, and GEE for children) and
    hazard ratios (Cox) with 95% intervals on a log scale, one line per term.

    A term whose estimate is not finite (separation under maximum likelihood) is left out
    of its model's markers.
    """
    import matplotlib.pyplot as plt

    _check_lang(lang)
    w = _W[lang]
    terms = list(logit.summary["term"])
    series = [(w["logit"], logit.summary.set_index("term")[["or", "or_low", "or_high"]], "o", "#00798c")]
    if gee_fit is not None:
        g = gee_fit.summary.set_index("term")[["or", "or_low", "or_high"]]
        g = g.drop(index=[t for t in gee_fit.excluded if t in g.index])
        series.append((w["gee"], g, "s", "#edae49"))
    if cox is not None:
        c = cox.summary.set_index("term")[["hr", "hr_low", "hr_high"]]
        c.columns = ["or", "or_low", "or_high"]
        series.append((w["cox"], c, "D", "#d1495b"))
        terms += [t for t in c.index if t not in terms]
    sep = set(logit.separation.terms) if logit.method == "mle" else set()
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(terms) + 1.8))
    y = np.arange(len(terms))[::-1]
    k = len(series)
    lo_lim, hi_lim = 1 / 30, 30.0
    for i, (name, s, marker, colour) in enumerate(series):
        off = (k - 1) / 2 * 0.22 - i * 0.22
        ys, est, lo, hi = [], [], [], []
        for yi, t in zip(y, terms):
            if t not in s.index or (i == 0 and t in sep):
                continue
            r = s.loc[t]
            if not np.all(np.isfinite([r["or"], r["or_low"], r["or_high"]])) or not lo_lim <= r["or"] <= hi_lim:
                continue
            ys.append(yi + off)
            est.append(r["or"])
            lo.append(max(r["or_low"], lo_lim))
            hi.append(min(r["or_high"], hi_lim))
            for end, lim, mk in ((r["or_low"], lo_lim, "<"), (r["or_high"], hi_lim, ">")):
                if (end < lim) if mk == "<" else (end > lim):  # the interval runs off the plot
                    ax.plot([lim], [yi + off], marker=mk, color=colour, ms=5)
        if ys:
            est, lo, hi = np.array(est), np.array(lo), np.array(hi)
            ax.errorbar(est, ys, xerr=[est - lo, hi - est], fmt=marker, color=colour, ecolor=colour, capsize=2,
                        ms=5, lw=1, label=name)
    ax.axvline(1, color="grey", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xlim(lo_lim / 1.15, hi_lim * 1.15)
    ax.set_ylim(-0.7, len(terms) - 0.3)
    ax.set_yticks(y)
    ax.set_yticklabels([_term_text(t, lang) for t in terms], fontsize=8)
    ax.set_xlabel(w["effect"])
    ax.set_xticks([0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20])
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}".replace(".", ",") if lang == "ru"
                                                   else f"{v:g}"))
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.legend(frameon=False, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(series))
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig
