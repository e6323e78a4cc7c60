"""Longitudinal outcomes: children's ЕФО levels at intake, at closure and after closure.

The seeds assess each child's well-being with the ЕФО (единая форма оценки) in eight
domains — housing, material situation, health, emotional development, education, basic
care, safety, family relationships — on four levels (1 crisis, 2 unsatisfactory,
3 satisfactory, 4 well-off), at intake, at closure and about six months after closure,
and report "children who moved to a satisfactory or well-off level" and "children whose
quality of life rose in at least one domain". This module answers the questions behind
those counts: how far children travelled in each domain, whether the change is more
than chance, who moved between levels, whether the change lasted after support ended,
and what the missing follow-ups do to the answer.

Who is analysed
---------------
The children at home at the closure of their family's complex-support case (the
``home`` of :func:`evalkit.frames.children_at_closure`), one row per child × closed case
(an *episode*; a child supported twice counts twice). ЕФО is taken only from children
living at home, so this is the population the seeds' ЕФО indicators describe. When a
case holds several assessments of one timepoint, the latest wins (as in
:mod:`evalkit.frames`). The *overall score* of an assessment is the mean of its domain
levels; the *overall level* is its lowest domain level (a child is "satisfactory or
well-off" when every domain is at level 3–4, as indicator 000-3.1 counts it).

Methods
-------
*Distance travelled* (:func:`distance_travelled`): per domain and overall, the mean
change between two timepoints among children assessed at both, with a 95% confidence
interval that allows for siblings (cluster-robust variance over families, t with
families − 1 degrees of freedom; Liang & Zeger 1986); the shares improved, unchanged and
worse; the paired Wilcoxon signed-rank test (Wilcoxon 1945; zero differences dropped; level
differences always tie, so scipy's ``method="auto"`` gives the normal approximation with
the tie correction, or exact permutations for 13 pairs or fewer — R's ``wilcox.test(...,
paired = TRUE, exact = FALSE, correct = FALSE)`` beyond that), with Holm's step-down
control of the family-wise error across the domains (Holm 1979; statsmodels
``multipletests``).

*Reliable change.* A domain is a single 4-level rating: its smallest observable change
is one level, and no test–retest study of the ЕФО exists to estimate its measurement
error, so a domain counts as improved (worse) when it moved at least one level up
(down); this is the "at least one level" rule. For the overall score (a mean of eight
levels, nearly continuous) the Jacobson & Truax (1991) reliable change index is used:
a change is reliable when ``|change| > 1.96 · S_diff``, ``S_diff = √2 · SD_start ·
√(1 − r)``, where ``SD_start`` is the standard deviation of the overall score at the
first timepoint and ``r`` its reliability — a test–retest correlation when the user
knows one (``reliability=``), otherwise Cronbach's α of the domains at the first
timepoint (internal consistency, as is common when no test–retest value exists; it
overstates reliability when domains share rater effects, so the threshold is then a
lower bound).

*Level transitions* (:func:`transitions`, :func:`plot_transitions`): cross-tables of the
overall (or one domain's) level between two timepoints, and an alluvial figure across
intake → closure → follow-up.

*The seed indicators* (:func:`seed_indicators`): improved in ≥ 1 domain, moved to a
satisfactory or well-off level, and whether it lasted at follow-up, each with Wilson
intervals (:func:`evalkit.indicators.wilson`) and the same interval widened for siblings
(effective sample size n / design effect, as :mod:`evalkit.indicators` does).

*Models* (:func:`mixed_model`): a linear mixed model of the score over time
(statsmodels ``MixedLM``, REML) with random intercepts for the family and for the child
within the family — R's ``lmer(score ~ timepoint + covariates + (1 | family/child))`` —
and covariates (case type, crisis-centre stay, family risk factors). Likelihood-based
mixed models use every assessment a child has and stay unbiased when follow-ups are
missing at random given what is in the model (the intake scores, the covariates). Random
intercepts do not let the change itself vary between children, so the timepoint effects'
standard errors are too small when it does (see :func:`mixed_model`). The
overall score (a mean of eight levels) is close enough to continuous for a linear model.
For the 4-level overall level (or one domain's level, or every domain's pooled)
:func:`ordinal_model` fits a proportional-odds (cumulative logit) model with errors
clustered by family: a population-averaged model, since statsmodels has no mixed
cumulative-link model (R's ``ordinal::clmm``). Being marginal and fitted to the
assessments there are, its follow-up contrast is biased like a plain mean when the
follow-up is missing at random given the intake level — read it for intake → closure, and
the mixed model or :func:`ipw_change` for the follow-up. A model that does not converge
is reported as such (``.converged``, ``.messages``, :meth:`MixedResult.verdict`), never
silently.

*Attrition* (:func:`attrition`, :func:`ipw_change`): among children seen at home at a
follow-up visit 3–9 months after closure (or assessed then), who has a follow-up ЕФО;
the two groups' baseline side by side with standardised mean differences (Austin 2009);
a logistic model of having a follow-up on the mean intake score and family factors,
with family-clustered errors; and, as a sensitivity analysis, inverse-probability-
weighted means of the change to follow-up (Hájek weights 1/p̂; Robins, Rotnitzky & Zhao
1995; Seaman & White 2013). The weighted intervals treat the weights as known, which is
usually conservative for a weighted mean (Lunceford & Davidian 2004).

What the design cannot show: there is no comparison group, so a change is what happened
to these children, not what support caused; children's levels also change as they grow
and as families' circumstances change on their own (regression to the mean after a
crisis intake among them).

References
----------
Austin, P. C. (2009). Balance diagnostics for comparing the distribution of baseline
covariates between treatment groups in propensity-score matched samples. *Statistics in
Medicine* 28, 3083–3107.
Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scandinavian
Journal of Statistics* 6, 65–70.
Jacobson, N. S. & Truax, P. (1991). Clinical significance: a statistical approach to
defining meaningful change in psychotherapy research. *Journal of Consulting and
Clinical Psychology* 59, 12–19.
Liang, K.-Y. & Zeger, S. L. (1986). Longitudinal data analysis using generalized linear
models. *Biometrika* 73, 13–22.
Lunceford, J. K. & Davidian, M. (2004). Stratification and weighting via the propensity
score in estimation of causal treatment effects. *Statistics in Medicine* 23, 2937–2960.
Robins, J. M., Rotnitzky, A. & Zhao, L. P. (1995). Analysis of semiparametric regression
models for repeated outcomes in the presence of missing data. *JASA* 90, 106–121.
Seaman, S. R. & White, I. R. (2013). Review of inverse probability weighting for dealing
with missing data. *Statistical Methods in Medical Research* 22, 278–295.
Wilcoxon, F. (1945). Individual comparisons by ranking methods. *Biometrics Bulletin*
1, 80–83.

Examples
--------
>>> from evalkit.dataset import read_dataset
>>> from evalkit import longitudinal
>>> wide = longitudinal.wide_frame(read_dataset("demo"))                          # doctest: +SKIP
>>> change = longitudinal.distance_travelled(wide)                                 # doctest: +SKIP
>>> change.summary.query("comparison == 'intake_closure'")[["domain", "mean_change", "ci_low", "ci_high"]]  # doctest: +SKIP
>>> longitudinal.transitions(wide, "intake", "closure").counts                    # doctest: +SKIP
>>> fit = longitudinal.mixed_model(longitudinal.model_frame(wide), ["case_type", "crisis_centre"])  # doctest: +SKIP
>>> fit.timepoint_effects()                                                        # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evalkit import frames, labels
from evalkit.errors import UserError

__all__ = [
    "TIMEPOINTS", "COMPARISONS", "OVERALL", "COVARIATES", "long_frame", "wide_frame", "domains_of",
    "cronbach_alpha", "ChangeResult", "distance_travelled", "TransitionResult", "transitions",
    "IndicatorResult", "seed_indicators", "model_frame", "MixedResult", "mixed_model", "OrdinalResult",
    "ordinal_model", "AttritionResult", "attrition", "IPWResult", "ipw_change",
    "plot_profile", "plot_transitions", "plot_spaghetti", "comparison_label", "format_number",
]

#: the timepoints the study compares, in order (``interim`` assessments are left out by default)
TIMEPOINTS = ("intake", "closure", "followup")
#: the comparisons :func:`distance_travelled` makes by default
COMPARISONS = (("intake", "closure"), ("intake", "followup"), ("closure", "followup"))
#: the row of the overall score (the mean of the domain levels) in the summaries
OVERALL = "overall"
#: covariates the models use by default: case type, crisis-centre stay, family risk factors
COVARIATES = ("case_type", "crisis_centre", "prior_removal", "parent_mental_illness", "parent_substance_use",
              "parent_intellectual_disability", "housing_at_intake")
#: the Jacobson–Truax criterion: a change beyond 1.96 standard errors of a difference
RCI_Z = 1.959963984540054
_KEYS = ["case_id", "child_id"]

_WORDS = {
    "ru": {"overall": "в целом (средний уровень)", "level": "уровень ЕФО", "mean_level": "средний уровень ЕФО",
           "change": "среднее изменение, уровней (95% ДИ)", "not_assessed": "нет оценки",
           "change_ci": "среднее изменение [95% ДИ]", "share_ci": "% [95% ДИ]",
           "share_ci_families": "% [95% ДИ с учетом семей]", "n_result": "детей с результатом",
           "n_assessed": "из них оценено", "all_assessed": "оцененных в срезах",
           "children": "детей", "n": "детей", "mean_change": "среднее изменение",
           "ci_low": "95% ДИ от", "ci_high": "95% ДИ до", "improved": "улучшение", "unchanged": "без изменений",
           "worse": "ухудшение", "share_improved": "% улучшение", "share_unchanged": "% без изменений",
           "share_worse": "% ухудшение", "p_value": "p", "p_holm": "p (Холм)", "domain": "сфера",
           "with": "с мониторинговой оценкой", "without": "без мониторинговой оценки", "smd": "станд. разность",
           "sample": "случайная выборка детей", "mean": "среднее по детям, оцененным во всех срезах", "from": "было", "to": "стало",
           "complete_case": "только оцененные", "ipw": "взвешенная (IPW)", "weighted": "с весами IPW"},
    "en": {"overall": "overall (mean level)", "level": "EFO level", "mean_level": "mean EFO level",
           "change": "mean change, levels (95% CI)", "not_assessed": "not assessed",
           "change_ci": "mean change [95% CI]", "share_ci": "% [95% CI]",
           "share_ci_families": "% [95% CI allowing for families]", "n_result": "children with the result",
           "n_assessed": "assessed", "all_assessed": "assessed at",
           "children": "children", "n": "children", "mean_change": "mean change",
           "ci_low": "95% CI low", "ci_high": "95% CI high", "improved": "improved", "unchanged": "unchanged",
           "worse": "worse", "share_improved": "% improved", "share_unchanged": "% unchanged",
           "share_worse": "% worse", "p_value": "p", "p_holm": "p (Holm)", "domain": "domain",
           "with": "with a follow-up EFO", "without": "without a follow-up EFO", "smd": "std. difference",
           "sample": "a random sample of children", "mean": "mean of the children assessed at every timepoint", "from": "from", "to": "to",
           "complete_case": "assessed only", "ipw": "weighted (IPW)", "weighted": "IPW-weighted"},
}
_TP_SHORT = {"ru": {"intake": "открытие", "interim": "промежуточная", "closure": "закрытие",
                    "followup": "мониторинг"},
             "en": {"intake": "intake", "interim": "interim", "closure": "closure", "followup": "follow-up"}}


def _check_lang(lang: str) -> None:
    if lang not in labels.LANGS:
        raise UserError(f"язык/lang должен быть одним из {labels.LANGS}, а не {lang!r}")


def comparison_label(start: str, end: str, lang: str = "ru") -> str:
    """``"открытие → закрытие"`` / ``"intake → closure"``."""
    _check_lang(lang)
    return f"{_TP_SHORT[lang][start]} → {_TP_SHORT[lang][end]}"


def _domain_label(domain: str, lang: str) -> str:
    return _WORDS[lang]["overall"] if domain == OVERALL else labels.label("domain", domain, lang)


def _level_label(level: int, lang: str) -> str:
    return _WORDS[lang]["not_assessed"] if level == 0 else f"{level} {labels.label('level', int(level), lang)}"


def format_number(x, lang: str = "ru", digits: int = 2) -> str:
    """A number for a report: decimal comma in Russian, a true minus sign; ``—`` when missing.

    >>> format_number(-0.125, "ru"), format_number(0.5, "en", 1)
    ('−0,12', '0.5')
    """
    if x is None or not np.isfinite(x):
        return "—"
    text = f"{x:.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")        # no "−0,00"
    text = text.replace("-", "\u2212")
    return text.replace(".", ",") if lang == "ru" else text


def _ci(est, low, high, lang: str, digits: int = 2) -> str:
    """``0,82 [0,70; 0,94]`` (ru) / ``0.82 [0.70, 0.94]`` (en), with no-break spaces."""
    sep = ";\u00a0" if lang == "ru" else ",\u00a0"     # no-break spaces: the cell never wraps inside
    return (f"{format_number(est, lang, digits)}\u00a0[{format_number(low, lang, digits)}{sep}"
            f"{format_number(high, lang, digits)}]")


def _p(p, lang: str) -> str:
    """``<0,001`` / ``0,027``."""
    if p is None or not np.isfinite(p):
        return "—"
    return ("<" + format_number(0.001, lang, 3)) if p < 0.001 else format_number(p, lang, 3)


# ----------------------------------------------------------------------------- frames

def _population(tables: dict, org=None, years=None) -> pd.DataFrame:
    """Children at home at the closure of a complex case (one row per case × child)."""
    kids = frames.children_at_closure(tables)
    kids = kids[kids["home"].fillna(False).astype(bool)]
    if org not in (None, "", "all"):
        known = sorted(set(tables["cases"]["org"]))
        if org not in known:
            raise UserError(f"нет организации / no organisation {org!r}; есть / known: {', '.join(known)}")
        kids = kids[kids["org"] == org]
    if years:
        kids = kids[kids["closed_year"].isin([int(y) for y in years])]
    kids = kids[["org", "family_id", "case_id", "child_id", "opened", "closed", "closed_year", "closure"]]
    return kids.reset_index(drop=True)


def _with_covariates(df: pd.DataFrame, tables: dict) -> pd.DataFrame:
    fam = tables["families"].set_index("family_id")
    cs = tables["cases"].set_index("case_id")
    ch = tables["children"].set_index("child_id")
    out = df.copy()
    for cols, source, key in ((frames.FAMILY_COVARIATES, fam, "family_id"), (frames.CASE_COVARIATES, cs, "case_id"),
                              (frames.CHILD_COVARIATES, ch, "child_id")):
        for col in cols:
            out[col] = source[col].reindex(out[key]).array
    return out


def _assessments(tables: dict, timepoints, instrument: str) -> pd.DataFrame:
    a = tables["assessments"]
    a = a[(a["instrument"] == instrument) & a["timepoint"].isin(list(timepoints))]
    # the latest assessment of a timepoint wins when a case has several (as in evalkit.frames)
    a = a.sort_values("date", kind="stable").drop_duplicates(_KEYS + ["timepoint", "domain"], keep="last")
    return a[_KEYS + ["timepoint", "domain", "date", "score"]]


def _check_timepoints(timepoints) -> tuple:
    timepoints = tuple(timepoints)
    bad = [t for t in timepoints if t not in labels.codes("timepoint")]
    if bad or len(timepoints) < 2:
        raise UserError(f"срезы / timepoints must be two or more of {labels.codes('timepoint')}, not {timepoints!r}")
    return timepoints


def long_frame(tables: dict, org=None, years=None, timepoints=TIMEPOINTS, instrument: str = "efo") -> pd.DataFrame:
    """One row per child × domain × timepoint: the ЕФО levels of the analysed children.

    Parameters
    ----------
    tables : dict of DataFrame
        The canonical tables.
    org : str, optional
        One organisation (``None`` or ``"all"``: every one).
    years : list of int, optional
        Years the case closed in (default: every year).
    timepoints : sequence of str
        Which assessments to keep (default intake, closure, follow-up).

    Returns
    -------
    DataFrame
        org, family_id, case_id, child_id, opened, closed, closed_year, closure, timepoint,
        domain, date, score, and the covariates of :data:`evalkit.frames.FAMILY_COVARIATES`,
        ``CASE_COVARIATES`` and ``CHILD_COVARIATES``. The children are those at home at the
        closure of a complex case (see the module's docstring).

    Examples
    --------
    >>> from evalkit.dataset import read_dataset
    >>> long = long_frame(read_dataset("demo"))                          # doctest: +SKIP
    >>> long.groupby(["timepoint", "domain"])["score"].mean().unstack()  # doctest: +SKIP
    """
    timepoints = _check_timepoints(timepoints)
    pop = _population(tables, org, years)
    a = _assessments(tables, timepoints, instrument)
    long = pop.merge(a, on=_KEYS)
    order = {t: i for i, t in enumerate(timepoints)}
    dorder = {d: i for i, d in enumerate(labels.codes("domain"))}
    long = long.assign(_t=long["timepoint"].map(order), _d=long["domain"].map(dorder))
    long = long.sort_values(["closed", "case_id", "child_id", "_t", "_d"]).drop(columns=["_t", "_d"])
    return _with_covariates(long.reset_index(drop=True), tables)


def domains_of(wide: pd.DataFrame, timepoints=TIMEPOINTS) -> list[str]:
    """The domains that have a column in a wide frame, in the vocabulary's order."""
    return [d for d in labels.codes("domain") if any(f"{t}_{d}" in wide.columns for t in timepoints)]


def _followup_visits(tables: dict, pop: pd.DataFrame, window) -> pd.DataFrame:
    co = tables["contacts"]
    co = co[co["source"] == "followup_visit"][["child_id", "date", "living_with_family"]]
    m = pop[_KEYS + ["closed"]].merge(co, on="child_id")
    after = (m["date"] - m["closed"]).dt.days / frames.MONTH_DAYS
    m = m[(after >= window[0]) & (after <= window[1])]
    home = m["living_with_family"].fillna(False).astype(bool)
    g = m.assign(_home=home, _away=~home & m["living_with_family"].notna()).groupby(_KEYS)
    return pd.DataFrame({"followup_visit_home": g["_home"].any(), "followup_visit_away": g["_away"].any()})


def wide_frame(tables: dict, org=None, years=None, timepoints=TIMEPOINTS, instrument: str = "efo",
               window=frames.FOLLOWUP_WINDOW_MONTHS) -> pd.DataFrame:
    """One row per child × closed case: the levels at each timepoint, the overall score and level.

    Parameters
    ----------
    tables, org, years, timepoints, instrument
        As :func:`long_frame`.
    window : (float, float)
        Months after closure in which a follow-up visit counts as "the 6-month visit".

    Returns
    -------
    DataFrame
        org, family_id, case_id, child_id, opened, closed, closed_year, closure; for each
        timepoint ``t`` and domain ``d``: ``t_d`` (level 1–4, NaN when not scored), and
        ``t_date``, ``t_n`` (domains scored), ``t_mean`` (overall score: the mean of the
        scored levels), ``t_level`` (overall level: the lowest scored level), ``has_t``;
        ``followup_visit_home`` / ``followup_visit_away`` (seen at home / away at a
        follow-up visit within ``window`` months after closure); ``followup_eligible``
        (assessed at intake, and seen at home at such a visit or assessed at follow-up:
        the children a follow-up ЕФО was due for); and the covariates.

    Examples
    --------
    >>> from evalkit.dataset import read_dataset
    >>> wide = wide_frame(read_dataset("demo"))                                    # doctest: +SKIP
    >>> wide[["intake_level", "closure_level"]].value_counts().sort_index()        # doctest: +SKIP
    """
    timepoints = _check_timepoints(timepoints)
    pop = _population(tables, org, years)
    a = _assessments(tables, timepoints, instrument)
    a = a.merge(pop[_KEYS], on=_KEYS)
    doms = [d for d in labels.codes("domain") if d in set(a["domain"])]
    scores = a.pivot_table(index=_KEYS, columns=["timepoint", "domain"], values="score", aggfunc="first")
    dates = a.groupby(_KEYS + ["timepoint"])["date"].max().unstack("timepoint")
    out = pop.set_index(_KEYS)
    cols = {}
    for t in timepoints:
        block = pd.DataFrame({d: scores[(t, d)] if (t, d) in scores.columns else np.nan for d in doms},
                             index=scores.index).reindex(out.index).astype(float)
        for d in doms:
            cols[f"{t}_{d}"] = block[d]
        cols[f"{t}_date"] = dates[t].reindex(out.index) if t in dates.columns else pd.Series(pd.NaT, index=out.index)
        cols[f"{t}_n"] = block.notna().sum(axis=1).astype("int64")
        cols[f"{t}_mean"] = block.mean(axis=1)
        cols[f"{t}_level"] = block.min(axis=1)
        cols[f"has_{t}"] = cols[f"{t}_n"] > 0
    out = pd.concat([out, pd.DataFrame(cols, index=out.index)], axis=1)
    visits = _followup_visits(tables, pop, window).astype(bool).reindex(out.index, fill_value=False)
    out["followup_visit_home"] = visits["followup_visit_home"].to_numpy(bool)
    out["followup_visit_away"] = visits["followup_visit_away"].to_numpy(bool)
    has_fu = out["has_followup"] if "has_followup" in out else False
    has_in = out["has_intake"] if "has_intake" in out else False
    out["followup_eligible"] = has_in & (out["followup_visit_home"] | has_fu)
    return _with_covariates(out.reset_index(), tables)


def _pairs(wide: pd.DataFrame, start: str, end: str, doms) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    for t in (start, end):
        if f"has_{t}" not in wide.columns:
            raise UserError(f"в таблице нет среза / the frame has no timepoint {t!r}: build it with "
                            f"wide_frame(..., timepoints=...) including it")
    both = wide[wide[f"has_{start}"] & wide[f"has_{end}"]]
    a = both[[f"{start}_{d}" for d in doms]].to_numpy(float)
    b = both[[f"{end}_{d}" for d in doms]].to_numpy(float)
    return both, a, b


# ----------------------------------------------------------------------------- statistics helpers

def _cluster_mean(y: np.ndarray, cluster: np.ndarray, weights: np.ndarray | None = None, conf: float = 0.95):
    """Weighted mean with a cluster-robust (linearisation) standard error and a t interval.

    se² = G/(G−1) · Σ_g (Σ_{i∈g} w_i (y_i − m))² / (Σ w)²; t with G − 1 degrees of freedom
    (G clusters). Unweighted, this is the CR1 error of an intercept-only regression.
    """
    from scipy.stats import t as tdist

    ok = np.isfinite(y)
    y, cluster = y[ok], cluster[ok]
    w = np.ones(len(y)) if weights is None else np.asarray(weights, float)[ok]
    n = len(y)
    if n == 0:
        return np.nan, np.nan, np.nan, np.nan, 0, 0
    m = float(np.sum(w * y) / np.sum(w))
    score = pd.Series(w * (y - m)).groupby(cluster).sum().to_numpy()
    g = len(score)
    if g < 2:
        return m, np.nan, np.nan, np.nan, n, g
    se = float(np.sqrt(g / (g - 1) * np.sum(score ** 2)) / np.sum(w))
    q = float(tdist.ppf(0.5 + conf / 2, g - 1))
    return m, se, m - q * se, m + q * se, n, g


def _wilcoxon(d: np.ndarray) -> tuple[float, float]:
    from scipy.stats import wilcoxon

    d = d[np.isfinite(d)]
    if np.count_nonzero(d) == 0:
        return np.nan, 1.0
    res = wilcoxon(d, zero_method="wilcox", correction=False, method="auto")
    return float(res.statistic), float(res.pvalue)


def cronbach_alpha(items: np.ndarray) -> float:
    """Cronbach's α of the columns of ``items`` (rows with a missing item are left out).

    >>> round(cronbach_alpha(np.array([[1, 2], [2, 3], [3, 3], [4, 4]])), 3)
    0.923
    """
    x = np.asarray(items, float)
    x = x[np.isfinite(x).all(axis=1)]
    k = x.shape[1]
    if k < 2 or len(x) < 3:
        return np.nan
    total = x.sum(axis=1).var(ddof=1)
    if total == 0:
        return np.nan
    return float(k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / total))


def _holm(p: np.ndarray) -> np.ndarray:
    from statsmodels.stats.multitest import multipletests

    out = np.full(len(p), np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


# ----------------------------------------------------------------------------- distance travelled

@dataclass
class ChangeResult:
    """Distance travelled per domain and overall (:func:`distance_travelled`).

    Attributes
    ----------
    summary : DataFrame
        One row per comparison × domain (and an ``overall`` row per comparison):
        comparison (``"intake_closure"``...), start, end, domain, label_ru, label_en, n
        (children assessed at both), families, mean_start, mean_end, mean_change, se,
        ci_low, ci_high, threshold (the reliable-change threshold, in levels), improved,
        unchanged, worse (children), share_improved, share_unchanged, share_worse,
        statistic, p_value (Wilcoxon signed-rank), p_holm (Holm over the domains of the
        comparison; not for the overall row).
    reliability : DataFrame
        Per comparison, the overall score's reliable-change index: reliability, method
        (``"cronbach_alpha"`` or ``"given"``), sd_start, s_diff, threshold.
    conf : float
        Confidence level of the intervals.
    """

    summary: pd.DataFrame
    reliability: pd.DataFrame
    conf: float = 0.95

    def _repr_html_(self) -> str:
        return self.summary._repr_html_()

    def _rows(self, comparison: str) -> pd.DataFrame:
        s = self.summary[self.summary["comparison"] == comparison]
        if s.empty:
            raise UserError(f"нет сравнения / no comparison {comparison!r}; есть / have: "
                            f"{sorted(set(self.summary['comparison']))}")
        return s

    def table(self, comparison: str = "intake_closure", lang: str = "ru") -> pd.DataFrame:
        """The comparison's rows in the report's words (index: the domain's label).

        Columns: children, mean change [95% CI], improved, unchanged, worse (children), the
        three shares (%), p (Holm-adjusted for the domains, unadjusted for the overall row).
        """
        _check_lang(lang)
        w = _WORDS[lang]
        s = self._rows(comparison)
        p = np.where(s["domain"] == OVERALL, s["p_value"], s["p_holm"])
        out = pd.DataFrame({
            w["n"]: s["n"].to_numpy(),
            w["change_ci"]: [_ci(m, lo, hi, lang) for m, lo, hi in zip(s["mean_change"], s["ci_low"], s["ci_high"])],
            w["improved"]: s["improved"].to_numpy(), w["unchanged"]: s["unchanged"].to_numpy(),
            w["worse"]: s["worse"].to_numpy(),
            **{f"% {w[c]}": (100 * s[f"share_{c}"]).round().astype("Int64").to_numpy()
               for c in ("improved", "unchanged", "worse")},
            "p": [_p(v, lang) for v in p]})
        out.index = pd.Index(s[f"label_{lang}"].to_numpy(), name=w["domain"])
        return out

    def suppressed(self, comparison: str = "intake_closure", lang: str = "ru", min_cell: int = 5):
        """:meth:`table` with the cells to hide when published (for :func:`evalkit.privacy.show`).

        The counts improved / unchanged / worse of the domains are a two-way table whose
        row totals (n) are shown: :func:`evalkit.privacy.suppress_table` decides which to
        hide (small counts, and the cells that would give them away); a hidden count hides
        its share, and a hidden n hides the whole row. The overall row is protected the
        same way on its own.
        """
        from evalkit import privacy

        w = _WORDS[lang] if lang in _WORDS else _WORDS["ru"]
        s = self._rows(comparison)
        shown = self.table(comparison, lang)
        mask = pd.DataFrame(False, index=shown.index, columns=shown.columns)
        cats = ["improved", "unchanged", "worse"]
        dom = (s["domain"] != OVERALL).to_numpy()
        for part in (dom, ~dom):
            if not part.any():
                continue
            counts = pd.DataFrame(s.loc[part, cats].to_numpy(np.int64), columns=cats)
            m = privacy.suppress_table(counts, min_cell).mask.to_numpy()[:-1]   # without the row of column totals
            rows = np.flatnonzero(part)
            for k, c in enumerate(cats):
                for col in (w[c], f"% {w[c]}"):
                    mask.iloc[rows, shown.columns.get_loc(col)] = m[:, k]
            for r, hidden in zip(rows, m[:, -1]):
                if hidden:
                    mask.iloc[r, :] = True
        reason = pd.DataFrame(np.where(mask.to_numpy(), "secondary", ""), index=shown.index, columns=shown.columns)
        return privacy.SuppressedFrame(frame=shown, mask=mask, reason=reason.astype(object), min_cell=min_cell)

    def plot(self, lang: str = "ru", comparisons=None, ax=None):
        """Mean change per domain with its confidence interval, one marker per comparison."""
        import matplotlib.pyplot as plt

        _check_lang(lang)
        comps = list(comparisons or dict.fromkeys(self.summary["comparison"]))
        s = self.summary[self.summary["comparison"].isin(comps)]
        doms = list(dict.fromkeys(s["domain"]))
        if ax is None:
            fig, ax = plt.subplots(figsize=(8, 0.45 * len(doms) + 2.0))
        else:
            fig = ax.figure
        y = np.arange(len(doms))[::-1]
        step = 0.8 / max(len(comps), 1)
        colors = ["#00798c", "#edae49", "#d1495b", "#66a182"]
        for k, comp in enumerate(comps):
            c = s[s["comparison"] == comp].set_index("domain").reindex(doms)
            pos = y + 0.4 - step * (k + 0.5)
            ax.errorbar(c["mean_change"], pos, xerr=[c["mean_change"] - c["ci_low"], c["ci_high"] - c["mean_change"]],
                        fmt="o", color=colors[k % 4], capsize=2, ms=5,
                        label=comparison_label(c["start"].dropna().iloc[0], c["end"].dropna().iloc[0], lang))
        ax.axvline(0, color="grey", lw=1, ls="--")
        ax.set_yticks(y)
        ax.set_yticklabels([_domain_label(d, lang) for d in doms])
        ax.set_xlabel(_WORDS[lang]["change"])
        ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(comps))
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        return fig


def distance_travelled(wide: pd.DataFrame, comparisons=COMPARISONS, *, reliability: float | None = None,
                       domain_threshold: int = 1, conf: float = 0.95) -> ChangeResult:
    """Mean change per domain and overall, shares improved / unchanged / worse, Wilcoxon tests.

    Parameters
    ----------
    wide : DataFrame
        :func:`wide_frame`.
    comparisons : sequence of (start, end)
        Pairs of timepoints; each uses the children assessed at both.
    reliability : float, optional
        Test–retest reliability of the overall score for the reliable change index; default
        Cronbach's α of the domains at the comparison's first timepoint.
    domain_threshold : int
        Levels a domain must move to count as improved or worse (default 1).
    conf : float
        Confidence level.

    Returns
    -------
    ChangeResult

    Examples
    --------
    >>> from evalkit.dataset import read_dataset
    >>> ch = distance_travelled(wide_frame(read_dataset("demo")))           # doctest: +SKIP
    >>> ch.table("intake_closure", lang="en")                                 # doctest: +SKIP
    """
    if reliability is not None and not 0 <= reliability < 1:
        raise UserError(f"надежность / reliability must be in [0, 1), not {reliability!r}")
    doms = domains_of(wide)
    if not doms:
        raise UserError("нет ни одной оценки ЕФО / no ЕФО assessment to analyse")
    rows, rel = [], []
    for start, end in comparisons:
        both, a, b = _pairs(wide, start, end, doms)
        fam = both["family_id"].to_numpy()
        comp = f"{start}_{end}"
        block = []
        for j, d in enumerate(doms + [OVERALL]):
            if d == OVERALL:
                ok = np.isfinite(a) & np.isfinite(b)
                cnt = ok.sum(axis=1)
                keep = cnt > 0
                x = np.where(ok, a, 0).sum(axis=1)[keep] / cnt[keep]
                y = np.where(ok, b, 0).sum(axis=1)[keep] / cnt[keep]
                cl = fam[keep]
                r = reliability if reliability is not None else cronbach_alpha(a)
                sd = float(np.std(x, ddof=1)) if len(x) > 1 else np.nan
                s_diff = float(np.sqrt(2) * sd * np.sqrt(1 - r)) if np.isfinite(r) else np.nan
                thr = RCI_Z * s_diff
                method = "given" if reliability is not None else "cronbach_alpha"
                if not np.isfinite(thr):    # α not computable (one domain, < 3 children): any change counts
                    method = "any_change"
                rel.append({"comparison": comp, "reliability": r, "method": method, "sd_start": sd,
                            "s_diff": s_diff, "threshold": thr})
            else:
                ok = np.isfinite(a[:, j]) & np.isfinite(b[:, j])
                x, y, cl = a[ok, j], b[ok, j], fam[ok]
                thr = float(domain_threshold)
            diff = y - x
            m, se, lo, hi, n, g = _cluster_mean(diff, cl, conf=conf)
            if d != OVERALL:        # a domain: moved at least `domain_threshold` levels
                imp, wor = int((diff >= thr - 1e-9).sum()), int((diff <= -thr + 1e-9).sum())
            else:                   # the overall score: beyond the reliable-change threshold (strictly)
                cut = thr if np.isfinite(thr) else 0.0
                imp, wor = int((diff > cut + 1e-9).sum()), int((diff < -cut - 1e-9).sum())
            stat, p = _wilcoxon(diff) if n else (np.nan, np.nan)
            block.append({"comparison": comp, "start": start, "end": end, "domain": d,
                          "label_ru": _domain_label(d, "ru"), "label_en": _domain_label(d, "en"),
                          "n": int(n), "families": int(g), "mean_start": float(np.mean(x)) if n else np.nan,
                          "mean_end": float(np.mean(y)) if n else np.nan, "mean_change": m, "se": se,
                          "ci_low": lo, "ci_high": hi, "threshold": thr, "improved": imp,
                          "unchanged": int(n) - imp - wor, "worse": wor,
                          "share_improved": imp / n if n else np.nan,
                          "share_unchanged": (n - imp - wor) / n if n else np.nan,
                          "share_worse": wor / n if n else np.nan, "statistic": stat, "p_value": p})
        block = pd.DataFrame(block)
        dom = block["domain"] != OVERALL
        block["p_holm"] = np.nan
        block.loc[dom, "p_holm"] = _holm(block.loc[dom, "p_value"].to_numpy(float))
        rows.append(block)
    return ChangeResult(summary=pd.concat(rows, ignore_index=True), reliability=pd.DataFrame(rel), conf=conf)


# ----------------------------------------------------------------------------- transitions

@dataclass
class TransitionResult:
    """A cross-table of levels between two timepoints (:func:`transitions`).

    ``counts``: rows = level at ``start`` (1–4), columns = level at ``end`` (1–4, and 0 =
    not assessed when made with ``missing=True``), every level present even when empty.
    ``domain``: the domain, or ``None`` for the overall level (the lowest domain level).
    """

    counts: pd.DataFrame
    start: str
    end: str
    domain: str | None = None

    @property
    def shares(self) -> pd.DataFrame:
        """Row shares: of the children at a level at ``start``, the share at each level at ``end``."""
        tot = self.counts.sum(axis=1).replace(0, np.nan)
        return self.counts.div(tot, axis=0)

    @property
    def summary(self) -> pd.DataFrame:
        """Long form: from_level, to_level, n, share (of the row)."""
        i, j = np.meshgrid(self.counts.index, self.counts.columns, indexing="ij")
        return pd.DataFrame({"from_level": i.ravel(), "to_level": j.ravel(), "n": self.counts.to_numpy().ravel(),
                             "share": self.shares.to_numpy().ravel()})

    def moved(self) -> dict:
        """Children who moved up, stayed, moved down (the overall level or the domain's)."""
        c = self.counts.reindex(columns=self.counts.index, fill_value=0).to_numpy()
        i, j = np.indices(c.shape)
        return {"up": int(c[j > i].sum()), "same": int(np.trace(c)), "down": int(c[j < i].sum())}

    def table(self, lang: str = "ru") -> pd.DataFrame:
        """The counts with level labels (rows: ``start``, columns: ``end``)."""
        _check_lang(lang)
        out = self.counts.copy()
        out.index = pd.Index([_level_label(v, lang) for v in out.index],
                             name=f"{_TP_SHORT[lang][self.start]} \\ {_TP_SHORT[lang][self.end]}")
        out.columns = pd.Index([_level_label(v, lang) for v in out.columns])
        return out

    def suppressed(self, lang: str = "ru", min_cell: int = 5):
        """:meth:`table` through :func:`evalkit.privacy.suppress_table` (with its totals)."""
        from evalkit import privacy

        return privacy.suppress_table(self.table(lang), min_cell)

    def _repr_html_(self) -> str:
        return self.counts._repr_html_()


def _levels_at(wide: pd.DataFrame, t: str, domain: str | None) -> pd.Series:
    col = f"{t}_level" if domain is None else f"{t}_{domain}"
    if col not in wide.columns:
        raise UserError(f"нет столбца / no column {col!r} in the frame")
    return wide[col]


def transitions(wide: pd.DataFrame, start: str = "intake", end: str = "closure", domain: str | None = None,
                missing: bool = False) -> TransitionResult:
    """Children by level at ``start`` and at ``end`` (those assessed at both).

    Parameters
    ----------
    wide : DataFrame
        :func:`wide_frame`.
    start, end : str
        Timepoints.
    domain : str, optional
        A domain (default: the overall level, the child's lowest domain level).
    missing : bool
        Also count the children assessed at ``start`` but not at ``end``, in a column 0
        ("not assessed") — the table behind :func:`plot_transitions`' later stages.

    Examples
    --------
    >>> from evalkit.dataset import read_dataset
    >>> t = transitions(wide_frame(read_dataset("demo")), "intake", "closure")   # doctest: +SKIP
    >>> t.table("en"), t.moved()                                                 # doctest: +SKIP
    """
    a, b = _levels_at(wide, start, domain), _levels_at(wide, end, domain)
    return TransitionResult(counts=_crosstab(a, b, missing), start=start, end=end, domain=domain)


def _crosstab(a: pd.Series, b: pd.Series, missing: bool) -> pd.DataFrame:
    ok = a.notna() & (b.notna() | missing)
    levels = labels.codes("level")
    columns = levels + ([0] if missing else [])
    a, b = a[ok].astype(int), b[ok].fillna(0).astype(int)
    counts = pd.crosstab(a, b).reindex(index=levels, columns=columns, fill_value=0) if len(a) else \
        pd.DataFrame(0, index=levels, columns=columns)
    counts.index.name, counts.columns.name = a.name, b.name
    return counts.astype("int64")


# ----------------------------------------------------------------------------- the seed indicators

@dataclass
class IndicatorResult:
    """The seeds' ЕФО indicators with Wilson intervals (:func:`seed_indicators`).

    ``summary``: indicator, label_ru, label_en, numerator, denominator, share, ci_low,
    ci_high (Wilson), ci_low_clustered, ci_high_clustered (Wilson at the effective sample
    size n / design effect for siblings).
    """

    summary: pd.DataFrame
    conf: float = 0.95

    def row(self, indicator: str) -> pd.Series:
        return self.summary.set_index("indicator").loc[indicator]

    def table(self, lang: str = "ru") -> pd.DataFrame:
        """Children with the result, children assessed, the share (%) with its Wilson interval and the
        interval allowing for families, indexed by the indicator's label."""
        _check_lang(lang)
        w = _WORDS[lang]
        s = self.summary
        out = pd.DataFrame({
            w["n_result"]: s["numerator"].to_numpy(), w["n_assessed"]: s["denominator"].to_numpy(),
            w["share_ci"]: [_ci(100 * a, 100 * b, 100 * c, lang, 1)
                            for a, b, c in zip(s["share"], s["ci_low"], s["ci_high"])],
            w["share_ci_families"]: [_ci(100 * a, 100 * b, 100 * c, lang, 1) for a, b, c in
                                     zip(s["share"], s["ci_low_clustered"], s["ci_high_clustered"])]})
        out.index = pd.Index(s[f"label_{lang}"].to_numpy())
        return out

    def suppressed(self, lang: str = "ru", min_cell: int = 5):
        """:meth:`table` with the cells to hide when published (for :func:`evalkit.privacy.show`):
        a small numerator, complement or denominator hides the row's share and intervals
        (:func:`evalkit.privacy.suppress_shares`)."""
        from evalkit import privacy

        t = self.table(lang)
        cols = list(t.columns)
        return privacy.suppress_shares(t, cols[0], cols[1], share=cols[2:], min_cell=min_cell)

    def _repr_html_(self) -> str:
        return self.summary._repr_html_()


_INDICATORS = {
    "improved_any": ("Дети, у которых уровень повысился хотя бы в одной сфере (открытие → закрытие)",
                     "Children whose level rose in at least one domain (intake → closure)"),
    "moved_up": ("Дети, перешедшие на удовлетворительный или благополучный уровень (все сферы 3–4 при закрытии, "
                 "при открытии — нет)", "Children who moved to a satisfactory or well-off level (every domain 3–4 "
                 "at closure, not at intake)"),
    "moved_up_of_below": ("То же среди детей, у которых при открытии хотя бы одна сфера ниже удовлетворительной",
                          "The same among children with a domain below satisfactory at intake"),
    "improved_any_followup": ("Дети, у которых уровень на мониторинге выше, чем при открытии, хотя бы в одной сфере",
                              "Children whose level at follow-up is higher than at intake in at least one domain"),
    "improvement_kept": ("Из улучшивших при закрытии: улучшение сохранилось на мониторинге (выше открытия хотя бы "
                         "в одной сфере)", "Of those improved at closure: still improved at follow-up (above intake "
                         "in at least one domain)"),
    "level_kept": ("Из удовлетворительных или благополучных при закрытии: остались на этом уровне на мониторинге",
                   "Of those satisfactory or well-off at closure: still so at follow-up"),
}


def _improved(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ((b > a) & np.isfinite(a) & np.isfinite(b)).any(axis=1)


def seed_indicators(wide: pd.DataFrame, conf: float = 0.95) -> IndicatorResult:
    """The seeds' two ЕФО indicators and whether the result lasted, with Wilson intervals.

    *Improved in ≥ 1 domain*: higher at closure than at intake in at least one domain
    scored both times (seed 002, result 3), among children assessed at intake and closure.
    *Moved to a satisfactory or well-off level*: the overall level (lowest domain) is 3–4
    at closure and was not at intake (seed 000, result 3.1), same denominator; also among
    those below satisfactory at intake. *After support*: improved at follow-up vs intake;
    of those improved at closure and assessed at follow-up, still improved; of those at
    level 3–4 at closure and assessed at follow-up, still at 3–4.

    Examples
    --------
    >>> from evalkit.dataset import read_dataset
    >>> seed_indicators(wide_frame(read_dataset("demo"))).table("en")        # doctest: +SKIP
    """
    from evalkit.indicators import design_effect as _design_effect, wilson

    doms = domains_of(wide)
    alpha = 1 - conf
    rows = []

    def add(key, achieved, fam):
        achieved = np.asarray(achieved, bool)
        x, n = int(achieved.sum()), len(achieved)
        lo, hi = wilson([x], [n], alpha)
        deff = _design_effect(achieved, np.asarray(fam)) if n else np.nan
        clo, chi = wilson([x / deff], [n / deff], alpha) if n and np.isfinite(deff) else ([np.nan], [np.nan])
        rows.append({"indicator": key, "label_ru": _INDICATORS[key][0], "label_en": _INDICATORS[key][1],
                     "numerator": x, "denominator": n, "share": x / n if n else np.nan,
                     "ci_low": lo[0], "ci_high": hi[0], "ci_low_clustered": clo[0], "ci_high_clustered": chi[0]})

    both, a, b = _pairs(wide, "intake", "closure", doms)
    improved = _improved(a, b)
    moved = (both["closure_level"] >= 3).to_numpy() & (both["intake_level"] < 3).to_numpy()
    add("improved_any", improved, both["family_id"])
    add("moved_up", moved, both["family_id"])
    below = (both["intake_level"] < 3).to_numpy()
    add("moved_up_of_below", moved[below], both["family_id"].to_numpy()[below])
    if "has_followup" in wide.columns:
        fu, a2, c2 = _pairs(wide, "intake", "followup", doms)
        add("improved_any_followup", _improved(a2, c2), fu["family_id"])
        three = wide[wide["has_intake"] & wide["has_closure"] & wide["has_followup"]]
        ai, ac, af = (three[[f"{t}_{d}" for d in doms]].to_numpy(float) for t in ("intake", "closure", "followup"))
        was = _improved(ai, ac)
        add("improvement_kept", _improved(ai[was], af[was]), three["family_id"].to_numpy()[was])
        sat = (three["closure_level"] >= 3).to_numpy()
        add("level_kept", (three["followup_level"] >= 3).to_numpy()[sat], three["family_id"].to_numpy()[sat])
    return IndicatorResult(summary=pd.DataFrame(rows), conf=conf)


# ----------------------------------------------------------------------------- models

def model_frame(wide: pd.DataFrame, outcome: str = "mean", timepoints=TIMEPOINTS, covariates=COVARIATES
                ) -> pd.DataFrame:
    """One row per child × timepoint: the score a model describes, and the covariates.

    Parameters
    ----------
    wide : DataFrame
        :func:`wide_frame`.
    outcome : str
        ``"mean"``: the overall score (the mean of the domain levels, for :func:`mixed_model`);
        ``"level"``: the overall level (the lowest domain level, 1–4, for
        :func:`ordinal_model`); or a domain's code: that domain's level.

    Returns
    -------
    DataFrame
        family_id, child_id, case_id, timepoint, score and the covariates; rows without a
        score are left out.
    """
    timepoints = _check_timepoints(timepoints)
    if outcome not in ("mean", "level") and outcome not in labels.codes("domain"):
        raise UserError(f"outcome must be 'mean', 'level' or a domain ({', '.join(labels.codes('domain'))}), "
                        f"not {outcome!r}")
    parts = []
    for t in timepoints:
        col = f"{t}_{outcome}"
        if col not in wide.columns:
            continue
        part = wide[["family_id", "child_id", "case_id"] + [c for c in covariates if c in wide.columns]].copy()
        part.insert(3, "timepoint", t)
        part.insert(4, "score", wide[col].to_numpy(float))
        parts.append(part[part["score"].notna()])
    if not parts:
        raise UserError(f"нет оценок для модели / nothing to model for outcome {outcome!r}")
    out = pd.concat(parts, ignore_index=True)
    out.attrs["outcome"] = outcome
    return out


def _term_label(term: str, lang: str) -> str:
    from evalkit.survival import term_label

    if term.startswith("timepoint[") and term.endswith("]"):
        t = term[len("timepoint["):-1]
        return (f"{labels.label('timepoint', t, 'ru')} (по сравнению с открытием)" if lang == "ru"
                else f"{labels.label('timepoint', t, 'en')} (vs intake)")
    if term == "intake_mean_centred":
        return "средний уровень при открытии − 2" if lang == "ru" else "mean intake level − 2"
    if term.startswith("domain[") and term.endswith("]"):
        return labels.label("domain", term[len("domain["):-1], lang)
    return term_label(term, lang)


def _design(frame: pd.DataFrame, covariates, reference, timepoints=None) -> tuple[pd.DataFrame, list[str]]:
    from evalkit.survival import design

    parts, terms = [], []
    if timepoints is not None:
        tp = pd.DataFrame({f"timepoint[{t}]": (frame["timepoint"] == t).astype(float) for t in timepoints[1:]},
                          index=frame.index)
        parts.append(tp)
        terms += list(tp.columns)
    missing = [c for c in covariates if c not in frame.columns]
    if missing:
        raise UserError(f"в таблице нет столбцов / the frame lacks covariates {missing}")
    if covariates:
        x, t = design(frame, list(covariates), reference)
        parts.append(x[t])
        terms += t
    return (pd.concat(parts, axis=1) if parts else pd.DataFrame(index=frame.index)), terms


@dataclass
class MixedResult:
    """A linear mixed model of ЕФО scores over time (:func:`mixed_model`).

    Attributes
    ----------
    summary : DataFrame
        term, label_ru, label_en, estimate, se, ci_low, ci_high, p_value (fixed effects;
        ``Intercept`` first, then ``timepoint[closure]``, ``timepoint[followup]``, covariates).
    variance : DataFrame
        component (``family``, ``child``, ``residual``), variance, sd.
    converged : bool
        The optimiser reported convergence, without a convergence warning.
    messages : list of str
        Every warning the fit raised, and the optimisers tried.
    method : str
        The optimiser whose fit is reported.
    n_obs, n_children, n_families, dropped : int
        Rows used, children, families, rows left out for a missing covariate.
    """

    summary: pd.DataFrame
    variance: pd.DataFrame
    converged: bool
    messages: list
    method: str
    n_obs: int
    n_children: int
    n_families: int
    dropped: int
    reml: bool = True
    loglik: float = np.nan
    outcome: str = "mean"
    fit: object = field(default=None, repr=False)

    def _repr_html_(self) -> str:
        return self.summary._repr_html_()

    def timepoint_effects(self) -> pd.DataFrame:
        """The fixed effects of the timepoints: the mean change from intake, other things equal."""
        return self.summary[self.summary["term"].str.startswith("timepoint[")].reset_index(drop=True)

    def singular(self, tol: float = 1e-6) -> bool:
        """A variance component at zero (lme4's ``isSingular``)."""
        return bool((self.variance["variance"].iloc[:-1] <= tol).any())

    def verdict(self, lang: str = "ru", publish: bool = False, min_cell: int = 5) -> str:
        """One sentence on whether the fit can be trusted (counts through :func:`evalkit.privacy.count_label`)."""
        from evalkit import privacy

        _check_lang(lang)

        def c(n):
            return privacy.count_label(n, publish=publish, min_cell=min_cell, lang=lang)
        if not self.converged:
            msg = "; ".join(self.messages[-3:])
            return ("**Модель не сошлась**: оценки ниже ненадежны, их нельзя использовать для выводов "
                    f"({msg})." if lang == "ru" else
                    f"**The model did not converge**: the estimates below are unreliable and must not be used ({msg}).")
        if self.singular():
            return ("Модель сошлась, но одна из дисперсий случайных эффектов равна нулю (вырожденная подгонка): "
                    "различия между семьями или между детьми не выделяются на фоне остального разброса."
                    if lang == "ru" else
                    "The model converged, but a random-effect variance is zero (a singular fit): differences "
                    "between families or between children do not stand out from the rest of the variation.")
        fit = "REML" if self.reml else ("ML" if lang == "en" else "МП")
        return (f"Модель сошлась ({fit}, оптимизатор {self.method}); наблюдений {c(self.n_obs)}, детей "
                f"{c(self.n_children)}, семей {c(self.n_families)}; оценок без части факторов (не вошли): "
                f"{c(self.dropped)}." if lang == "ru" else
                f"The model converged ({fit}, optimiser {self.method}); {c(self.n_obs)} observations, "
                f"{c(self.n_children)} children, {c(self.n_families)} families; {c(self.dropped)} assessments left "
                "out for a missing factor.")

    def table(self, lang: str = "ru") -> pd.DataFrame:
        """The fixed effects: estimate [95% CI] (levels) and p, indexed by the term's label."""
        _check_lang(lang)
        s = self.summary
        head = "оценка [95% ДИ], уровней" if lang == "ru" else "estimate [95% CI], levels"
        return pd.DataFrame({head: [_ci(e, lo, hi, lang) for e, lo, hi in zip(s["estimate"], s["ci_low"], s["ci_high"])],
                             "p": [_p(v, lang) for v in s["p_value"]]}, index=pd.Index(s[f"label_{lang}"].to_numpy()))


def mixed_model(frame: pd.DataFrame, covariates=(), *, reference: dict | None = None, reml: bool = True,
                timepoints=TIMEPOINTS, methods=("lbfgs", "bfgs", "powell", "nm"), maxiter: int = 2000,
                conf: float = 0.95) -> MixedResult:
    """Linear mixed model: score ~ timepoint + covariates + (1 | family / child).

    Parameters
    ----------
    frame : DataFrame
        :func:`model_frame` (or any frame with family_id, child_id, timepoint, score and
        the covariates).
    covariates : list of str
        Booleans enter as 0/1, categories as indicators against their most common level
        (or ``reference[column]``), numbers as they are (:func:`evalkit.survival.design`).
    reml : bool
        REML (default, as ``lmer``) or maximum likelihood.
    methods : sequence of str
        Optimisers tried in turn until one converges without a warning.
    maxiter : int
        Iterations allowed to each optimiser.

    Returns
    -------
    MixedResult
        Never raises for a fit that does not converge: ``converged`` is False and
        ``messages`` says why (use :meth:`MixedResult.verdict` in a report).

    Notes
    -----
    statsmodels' ``MixedLM`` with ``groups`` = family, a random intercept per family and a
    variance component for the child (``vc_formula={"child": "0 + C(child)"}``) is the
    model of R's ``lmer(score ~ ... + (1 | family/child), REML = TRUE)``;
    ``tests/test_longitudinal.py`` checks the fixed effects against lme4. Rows with a
    missing covariate are left out (``dropped``).

    The random intercepts let children and families start at different levels, not change
    by different amounts: the standard errors of the timepoint effects assume every child
    changes alike apart from noise. When some families respond to support and others do
    not, those errors are too small (on the synthetic population, whose families respond
    or not, the closure effect's 95% interval misses the true mean change while the paired
    cluster-robust interval of :func:`distance_travelled` covers it). Quote the size of the
    change from :func:`distance_travelled`; read the model for the adjusted comparison and
    for the follow-up under missingness at random.

    Examples
    --------
    >>> from evalkit.dataset import read_dataset
    >>> mf = model_frame(wide_frame(read_dataset("demo")))                       # doctest: +SKIP
    >>> mixed_model(mf, ["case_type", "crisis_centre"]).timepoint_effects()      # doctest: +SKIP
    """
    import statsmodels.formula.api as smf
    from scipy.stats import norm

    need = ["family_id", "child_id", "timepoint", "score"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise UserError(f"в таблице нет столбцов / the frame lacks columns {missing}")
    timepoints = tuple(t for t in _check_timepoints(timepoints) if (frame["timepoint"] == t).any())
    if len(timepoints) < 2 or timepoints[0] != "intake":
        raise UserError("для модели нужны оценки при открытии и хотя бы в одном другом срезе / the model needs "
                        "intake and at least one later timepoint")
    x, terms = _design(frame, covariates, reference, timepoints)
    complete = x.notna().all(axis=1) & frame["score"].notna()
    dropped = int((~complete).sum())
    x = x[complete]
    constant = [t for t in terms if not t.startswith("timepoint[") and x[t].nunique() < 2]
    terms = [t for t in terms if t not in constant]
    safe = {t: f"x{i}" for i, t in enumerate(terms)}
    data = pd.DataFrame({"score": frame.loc[complete, "score"].to_numpy(float),
                         "family": frame.loc[complete, "family_id"].astype(str).to_numpy(),
                         "child": frame.loc[complete, "child_id"].astype(str).to_numpy()})
    for t in terms:
        data[safe[t]] = x[t].to_numpy(float)
    if data.empty:
        raise UserError("нет ни одного наблюдения без пропусков / no complete observation to model")
    formula = "score ~ " + (" + ".join(safe.values()) if safe else "1")
    model = smf.mixedlm(formula, data, groups="family", re_formula="1", vc_formula={"child": "0 + C(child)"})
    messages, best, method = [], None, methods[0]
    for method in methods:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fit = model.fit(reml=reml, method=method, maxiter=maxiter)
            except (np.linalg.LinAlgError, ValueError) as exc:
                messages.append(f"{method}: {exc}")
                continue
        said = [str(w.message).splitlines()[0] for w in caught]
        if best is None or (fit.converged and not best[1]):
            best = (fit, fit.converged and not said, method)
        messages += [f"{method}: {m}" for m in said]
        if fit.converged and not said:
            break
        messages.append(f"{method}: not converged" if not fit.converged else f"{method}: converged with warnings")
    if best is None:
        raise UserError("модель не удалось подогнать / the mixed model could not be fitted: " + "; ".join(messages))
    fit, converged, method = best
    z = norm.ppf(0.5 + conf / 2)
    names = ["Intercept"] + terms
    keys = ["Intercept"] + [safe[t] for t in terms]
    est = fit.fe_params.reindex(keys).to_numpy(float)
    se = fit.bse_fe.reindex(keys).to_numpy(float)
    p = 2 * norm.sf(np.abs(est / se))
    summary = pd.DataFrame({"term": names,
                            "label_ru": ["свободный член (открытие)"] + [_term_label(t, "ru") for t in terms],
                            "label_en": ["intercept (intake)"] + [_term_label(t, "en") for t in terms],
                            "estimate": est, "se": se, "ci_low": est - z * se, "ci_high": est + z * se, "p_value": p})
    vc = float(np.asarray(fit.vcomp).ravel()[0]) if len(np.asarray(fit.vcomp).ravel()) else np.nan
    fam_var = float(np.asarray(fit.cov_re).ravel()[0])
    variance = pd.DataFrame({"component": ["family", "child", "residual"],
                             "variance": [fam_var, vc, float(fit.scale)]})
    variance["sd"] = np.sqrt(variance["variance"].clip(lower=0))
    return MixedResult(summary=summary, variance=variance, converged=bool(converged), messages=messages,
                       method=method, n_obs=len(data), n_children=int(data["child"].nunique()),
                       n_families=int(data["family"].nunique()), dropped=dropped, reml=reml,
                       loglik=float(fit.llf), outcome=frame.attrs.get("outcome", "score"), fit=fit)


@dataclass
class OrdinalResult:
    """A proportional-odds model of the domain levels (:func:`ordinal_model`).

    ``summary``: term, label_ru, label_en, estimate (log odds ratio), se (clustered by
    family), ci_low, ci_high, odds_ratio, or_low, or_high, p_value. ``thresholds``: the
    cut-points. ``converged``, ``n_obs``, ``n_families``, ``dropped``.
    """

    summary: pd.DataFrame
    thresholds: pd.Series
    converged: bool
    n_obs: int
    n_families: int
    dropped: int

    def _repr_html_(self) -> str:
        return self.summary._repr_html_()

    def table(self, lang: str = "ru") -> pd.DataFrame:
        _check_lang(lang)
        s = self.summary[~self.summary["term"].str.startswith("domain[")]
        out = pd.DataFrame({("отношение шансов [95% ДИ]" if lang == "ru" else "odds ratio [95% CI]"):
                            [_ci(e, lo, hi, lang) for e, lo, hi in zip(s["odds_ratio"], s["or_low"], s["or_high"])],
                            "p": [_p(v, lang) for v in s["p_value"]]}, index=pd.Index(s[f"label_{lang}"].to_numpy()))
        return out


def ordinal_model(frame: pd.DataFrame, covariates=(), *, reference: dict | None = None, timepoints=TIMEPOINTS,
                  conf: float = 0.95) -> OrdinalResult:
    """Proportional-odds model of levels: level ~ timepoint (+ domain) + covariates.

    A cumulative-logit model (statsmodels ``OrderedModel``) with errors clustered by family
    (a population-averaged model: a child's and siblings' repeated ratings are allowed for
    in the errors, not by random effects). An odds ratio above 1 for
    ``timepoint[closure]``: the odds of a higher level are that many times higher at
    closure than at intake.

    Parameters
    ----------
    frame : DataFrame
        :func:`model_frame` with ``outcome="level"`` (the overall level) or a domain, or
        :func:`long_frame` (every domain's level, with a term per domain: the change is
        taken to be alike in every domain — slower, one row per domain rating).
    covariates : list of str
        As :func:`mixed_model`.

    Examples
    --------
    >>> from evalkit.dataset import read_dataset
    >>> mf = model_frame(wide_frame(read_dataset("demo")), outcome="level")      # doctest: +SKIP
    >>> ordinal_model(mf, ["case_type"]).table("en")                             # doctest: +SKIP
    """
    long = frame
    from scipy.stats import norm
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    need = ["family_id", "timepoint", "score"]
    missing = [c for c in need if c not in long.columns]
    if missing:
        raise UserError(f"в таблице нет столбцов / the frame lacks columns {missing}")
    timepoints = tuple(t for t in _check_timepoints(timepoints) if (long["timepoint"] == t).any())
    data = long[long["timepoint"].isin(timepoints)]
    x, terms = _design(data, covariates, reference, timepoints)
    doms = ([d for d in labels.codes("domain") if (data["domain"] == d).any()] if "domain" in data.columns
            else [])
    for d in doms[1:]:
        x[f"domain[{d}]"] = (data["domain"] == d).astype(float)
        terms.append(f"domain[{d}]")
    complete = x.notna().all(axis=1)
    dropped = int((~complete).sum())
    x, data = x[complete], data[complete]
    constant = [t for t in terms if x[t].nunique() < 2]
    terms = [t for t in terms if t not in constant]
    levels = sorted(data["score"].unique())
    y = pd.Series(pd.Categorical(data["score"].to_numpy(), categories=levels, ordered=True))
    model = OrderedModel(y, x[terms].reset_index(drop=True), distr="logit")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        # a tight gradient tolerance: BFGS's default stops ~1e-4 short of the optimum (MASS::polr agrees to 1e-7)
        fit = model.fit(method="bfgs", gtol=1e-8, disp=0, maxiter=2000, cov_type="cluster",
                        cov_kwds={"groups": pd.factorize(data["family_id"])[0]})
    z = norm.ppf(0.5 + conf / 2)
    est = fit.params.reindex(terms).to_numpy(float)
    se = fit.bse.reindex(terms).to_numpy(float)
    summary = pd.DataFrame({"term": terms, "label_ru": [_term_label(t, "ru") for t in terms],
                            "label_en": [_term_label(t, "en") for t in terms], "estimate": est, "se": se,
                            "ci_low": est - z * se, "ci_high": est + z * se})
    summary["odds_ratio"] = np.exp(summary["estimate"])
    summary["or_low"], summary["or_high"] = np.exp(summary["ci_low"]), np.exp(summary["ci_high"])
    summary["p_value"] = 2 * norm.sf(np.abs(est / se))
    return OrdinalResult(summary=summary, thresholds=fit.params.drop(terms),
                         converged=bool(fit.mle_retvals.get("converged", False)), n_obs=len(data),
                         n_families=int(data["family_id"].nunique()), dropped=dropped)


# ----------------------------------------------------------------------------- attrition

@dataclass
class AttritionResult:
    """Who has a follow-up ЕФO, and the model of having one (:func:`attrition`).

    Attributes
    ----------
    flow : DataFrame
        step, label_ru, label_en, children: from the children at home at closure to those
        with a follow-up ЕФО.
    baseline : DataFrame
        variable, label_ru, label_en, kind (``"mean"`` or ``"share"``), with_followup,
        without_followup, smd (standardised mean difference), n_with, n_without.
    model : DataFrame
        term, label_ru, label_en, estimate (log odds), se (clustered by family), ci_low,
        ci_high, odds_ratio, or_low, or_high, p_value.
    frame : DataFrame
        The eligible children: case_id, child_id, family_id, has_followup, p_hat, weight
        (1 / p_hat for those with a follow-up; NaN when a covariate is missing).
    converged : bool
        The logistic model converged. False, with ``model`` holding only an empty intercept
        row, when there is no attrition to model: nobody due a follow-up has one (nothing to
        weight), or everybody has (every weight is 1).
    n, responders, dropped : int
        Eligible children in the model, those with a follow-up, left out for a missing covariate.
    """

    flow: pd.DataFrame
    baseline: pd.DataFrame
    model: pd.DataFrame
    frame: pd.DataFrame
    converged: bool
    n: int
    responders: int
    dropped: int

    def _repr_html_(self) -> str:
        return self.model._repr_html_()

    def flow_table(self, lang: str = "ru") -> pd.DataFrame:
        _check_lang(lang)
        out = self.flow[["children"]].copy()
        out.index = pd.Index(self.flow[f"label_{lang}"].to_numpy())
        out.columns = [_WORDS[lang]["children"]]
        return out

    def baseline_table(self, lang: str = "ru") -> pd.DataFrame:
        _check_lang(lang)
        w = _WORDS[lang]
        b = self.baseline
        out = pd.DataFrame({w["with"]: [format_number(v, lang) for v in b["with_followup"]],
                            w["without"]: [format_number(v, lang) for v in b["without_followup"]],
                            w["smd"]: [format_number(v, lang) for v in b["smd"]]})
        out.index = pd.Index(b[f"label_{lang}"].to_numpy())
        return out

    def baseline_suppressed(self, lang: str = "ru", min_cell: int = 5):
        """:meth:`baseline_table` with the cells to hide when published (for :func:`evalkit.privacy.show`).

        A share in a group of n children is a count (share × n): it is hidden when that count
        or its complement is 1 to ``min_cell`` − 1 — and then in both groups, since the
        total of the two is known; a group of fewer than ``min_cell`` children hides its
        whole column.
        """
        from evalkit import privacy

        shown = self.baseline_table(lang)
        b = self.baseline
        mask = np.zeros(shown.shape, bool)
        small = lambda k: (k >= 1) & (k < min_cell)  # noqa: E731
        for i, row in enumerate(b.itertuples()):
            if row.kind != "share":
                continue
            hide = False
            for share, n in ((row.with_followup, row.n_with), (row.without_followup, row.n_without)):
                if np.isfinite(share):
                    k = int(round(share * n))
                    hide |= bool(small(k) or small(n - k))
            if hide:
                mask[i, :] = True
        for j, n in enumerate((b["n_with"].max(), b["n_without"].max())):
            if small(n):
                mask[:, j] = True
                mask[:, 2] = True
        mask = pd.DataFrame(mask, index=shown.index, columns=shown.columns)
        reason = pd.DataFrame(np.where(mask, "primary", ""), index=shown.index, columns=shown.columns).astype(object)
        return privacy.SuppressedFrame(frame=shown, mask=mask, reason=reason, min_cell=min_cell)

    def model_table(self, lang: str = "ru") -> pd.DataFrame:
        _check_lang(lang)
        s = self.model
        out = pd.DataFrame({("отношение шансов [95% ДИ]" if lang == "ru" else "odds ratio [95% CI]"):
                            [_ci(e, lo, hi, lang) for e, lo, hi in zip(s["odds_ratio"], s["or_low"], s["or_high"])],
                            "p": [_p(v, lang) for v in s["p_value"]]}, index=pd.Index(s[f"label_{lang}"].to_numpy()))
        return out


_FLOW = (
    ("home_at_closure", "Дети дома при закрытии случая", "Children at home at case closure"),
    ("intake", "…с оценкой ЕФО при открытии", "…with an intake EFO"),
    ("eligible", "…застанные дома на мониторинговом визите через 3–9 мес. (или оцененные на мониторинге)",
     "…found at home at a follow-up visit 3–9 months after closure (or assessed at follow-up)"),
    ("followup", "…с оценкой ЕФО на мониторинге", "…with a follow-up EFO"),
)


def _smd(a: np.ndarray, b: np.ndarray, binary: bool) -> float:
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not len(a) or not len(b):
        return np.nan
    if binary:
        pa, pb = a.mean(), b.mean()
        s = np.sqrt((pa * (1 - pa) + pb * (1 - pb)) / 2)
    else:
        s = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2) if len(a) > 1 and len(b) > 1 else np.nan
    return float((a.mean() - b.mean()) / s) if s and np.isfinite(s) and s > 0 else 0.0


def attrition(wide: pd.DataFrame, covariates=("parent_substance_use",), *, reference: dict | None = None,
              conf: float = 0.95) -> AttritionResult:
    """Who has a follow-up ЕФО: the flow, the two groups' baseline, a logistic model, IPW weights.

    Parameters
    ----------
    wide : DataFrame
        :func:`wide_frame`.
    covariates : list of str
        Family and case factors of the model beside the mean intake score (always in, as
        ``intake_mean_centred`` = mean intake level − 2).

    Returns
    -------
    AttritionResult

    Notes
    -----
    The eligible children (``followup_eligible``) were assessed at intake and were found at
    home at a follow-up visit 3–9 months after closure, or assessed at follow-up: a
    follow-up ЕФО was due for them. The model, ``logit P(follow-up ЕФО) = a + b · (mean
    intake level − 2) + Σ c_k · factor_k``, is fitted by maximum likelihood (statsmodels
    GLM, binomial) with errors clustered by family. Each child with a follow-up gets the
    weight 1 / p̂, so that the followed-up children stand for every eligible child with the
    same intake scores and factors — valid when the follow-up is missing at random given
    them (Seaman & White 2013).

    Examples
    --------
    >>> from evalkit.dataset import read_dataset
    >>> att = attrition(wide_frame(read_dataset("demo")), ["parent_substance_use", "case_type"])   # doctest: +SKIP
    >>> att.model_table("en")                                                                    # doctest: +SKIP
    """
    import statsmodels.api as sm
    from scipy.stats import norm

    for c in ("followup_eligible", "has_followup", "intake_mean"):
        if c not in wide.columns:
            raise UserError(f"в таблице нет столбца / the frame lacks {c!r}: use wide_frame() with the follow-up")
    flow = [("home_at_closure", len(wide)), ("intake", int(wide["has_intake"].sum())),
            ("eligible", int(wide["followup_eligible"].sum())),
            ("followup", int((wide["followup_eligible"] & wide["has_followup"]).sum()))]
    flow = pd.DataFrame([{"step": k, "label_ru": ru, "label_en": en, "children": n}
                         for (k, n), (_, ru, en) in zip(flow, _FLOW)])
    el = wide[wide["followup_eligible"]].copy()
    el["intake_mean_centred"] = el["intake_mean"] - 2
    y = el["has_followup"].to_numpy(bool)
    # the baseline of the two groups: scores, then the factors as 0/1 (categories against the commonest)
    from evalkit.survival import design

    doms = domains_of(wide)
    rows_b = [("intake_mean", "средний уровень при открытии", "mean level at intake"),
              ("intake_level", "общий уровень при открытии (низшая сфера)", "overall level at intake (lowest domain)"),
              ("closure_mean", "средний уровень при закрытии", "mean level at closure")]
    rows_b += [(f"intake_{d}", f"при открытии: {labels.label('domain', d, 'ru')}",
                f"at intake: {labels.label('domain', d, 'en')}") for d in doms]
    values = [(v, ru, en, el[v].to_numpy(float), False) for v, ru, en in rows_b if v in el.columns]
    factors = [c for c in dict.fromkeys(COVARIATES + tuple(covariates)) if c in el.columns]
    fx, fterms = design(el, factors)
    values += [(t, _term_label(t, "ru"), _term_label(t, "en"), fx[t].to_numpy(float), True) for t in fterms]
    brow = [{"variable": v, "label_ru": ru, "label_en": en, "kind": "share" if binary else "mean",
             "with_followup": float(np.nanmean(x[y])) if np.isfinite(x[y]).any() else np.nan,
             "without_followup": float(np.nanmean(x[~y])) if np.isfinite(x[~y]).any() else np.nan,
             "smd": _smd(x[y], x[~y], binary), "n_with": int(np.isfinite(x[y]).sum()),
             "n_without": int(np.isfinite(x[~y]).sum())} for v, ru, en, x, binary in values]
    baseline = pd.DataFrame(brow)
    # the model
    x, terms = _design(el, ["intake_mean_centred"] + [c for c in covariates if c != "intake_mean_centred"],
                       reference)
    complete = x.notna().all(axis=1).to_numpy()
    n, responders = int(complete.sum()), int(y[complete].sum())
    p_hat = np.full(len(el), np.nan)
    if n == 0 or responders in (0, n) or len(np.unique(el.loc[complete, "family_id"])) < 2:
        # nobody (or everybody) due a follow-up has one: there is no attrition to model; with everybody
        # assessed every weight is 1, with nobody there is nothing to weight
        terms, est, se, converged = [], np.array([np.nan]), np.array([np.nan]), False
        p_hat[complete] = 1.0 if n and responders == n else np.nan
    else:
        terms = [t for t in terms if x.loc[complete, t].nunique() > 1]
        X = sm.add_constant(x.loc[complete, terms].to_numpy(float), has_constant="add")
        groups = pd.factorize(el.loc[complete, "family_id"])[0]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = sm.GLM(y[complete].astype(float), X, family=sm.families.Binomial()).fit(
                cov_type="cluster", cov_kwds={"groups": groups})
        converged = bool(fit.converged) and not any("converge" in str(w.message).lower()
                                                    or "separation" in str(w.message).lower() for w in caught)
        est, se = np.asarray(fit.params, float), np.asarray(fit.bse, float)
        p_hat[complete] = fit.predict(X)
    z = norm.ppf(0.5 + conf / 2)
    names = ["Intercept"] + terms
    model = pd.DataFrame({"term": names, "label_ru": ["свободный член"] + [_term_label(t, "ru") for t in terms],
                          "label_en": ["intercept"] + [_term_label(t, "en") for t in terms], "estimate": est,
                          "se": se, "ci_low": est - z * se, "ci_high": est + z * se})
    model["odds_ratio"] = np.exp(model["estimate"])
    model["or_low"], model["or_high"] = np.exp(model["ci_low"]), np.exp(model["ci_high"])
    model["p_value"] = 2 * norm.sf(np.abs(est / se))
    weight = np.where(y, 1 / p_hat, np.nan)
    frame = pd.DataFrame({"case_id": el["case_id"].to_numpy(), "child_id": el["child_id"].to_numpy(),
                          "family_id": el["family_id"].to_numpy(), "has_followup": y, "p_hat": p_hat,
                          "weight": weight})
    return AttritionResult(flow=flow, baseline=baseline, model=model, frame=frame, converged=converged,
                           n=n, responders=responders, dropped=int((~complete).sum()))


@dataclass
class IPWResult:
    """Complete-case and inverse-probability-weighted mean change to follow-up (:func:`ipw_change`).

    ``summary``: comparison, start, end, domain, label_ru, label_en, n, cc_mean, cc_low,
    cc_high (the followed-up children as they are), ipw_mean, ipw_low, ipw_high (weighted
    to stand for every eligible child), n_weighted (children with a weight).
    """

    summary: pd.DataFrame
    conf: float = 0.95

    def _repr_html_(self) -> str:
        return self.summary._repr_html_()

    def table(self, comparison: str = "intake_followup", lang: str = "ru") -> pd.DataFrame:
        """Children, the mean change of those assessed and the weighted mean, each [95% CI]."""
        _check_lang(lang)
        w = _WORDS[lang]
        s = self.summary[self.summary["comparison"] == comparison]
        ci = "[95% ДИ]" if lang == "ru" else "[95% CI]"
        out = pd.DataFrame({
            w["n"]: s["n"].to_numpy(),
            f"{w['complete_case']} {ci}": [_ci(*v, lang) for v in zip(s["cc_mean"], s["cc_low"], s["cc_high"])],
            f"{w['ipw']} {ci}": [_ci(*v, lang) for v in zip(s["ipw_mean"], s["ipw_low"], s["ipw_high"])]})
        out.index = pd.Index(s[f"label_{lang}"].to_numpy(), name=w["domain"])
        return out


def ipw_change(wide: pd.DataFrame, att: AttritionResult,
               comparisons=(("intake", "followup"), ("closure", "followup")), conf: float = 0.95) -> IPWResult:
    """Mean change to follow-up per domain and overall, as observed and weighted by 1 / P(follow-up).

    The weighted mean is the Hájek estimator Σ w·d / Σ w over the eligible children with a
    follow-up (weights from :func:`attrition`); its interval is cluster-robust over families
    with the weights taken as known.
    """
    doms = domains_of(wide)
    wmap = att.frame.set_index(_KEYS)["weight"]
    rows = []
    for start, end in comparisons:
        el = wide[wide["followup_eligible"]]
        both, a, b = _pairs(el, start, end, doms)
        w = wmap.reindex(pd.MultiIndex.from_frame(both[_KEYS])).to_numpy(float)
        fam = both["family_id"].to_numpy()
        for j, d in enumerate(doms + [OVERALL]):
            if d == OVERALL:
                ok = np.isfinite(a) & np.isfinite(b)
                cnt = ok.sum(axis=1)
                diff = np.where(cnt > 0, np.where(ok, b - a, 0).sum(axis=1) / np.maximum(cnt, 1), np.nan)
            else:
                diff = b[:, j] - a[:, j]
            m, _, lo, hi, n, _ = _cluster_mean(diff, fam, conf=conf)
            okw = np.isfinite(w) & np.isfinite(diff)
            mw, _, low, highw, nw, _ = _cluster_mean(diff[okw], fam[okw], w[okw], conf=conf)
            rows.append({"comparison": f"{start}_{end}", "start": start, "end": end, "domain": d,
                         "label_ru": _domain_label(d, "ru"), "label_en": _domain_label(d, "en"), "n": int(n),
                         "cc_mean": m, "cc_low": lo, "cc_high": hi, "ipw_mean": mw, "ipw_low": low,
                         "ipw_high": highw, "n_weighted": int(nw)})
    return IPWResult(summary=pd.DataFrame(rows), conf=conf)


# ----------------------------------------------------------------------------- figures

_TP_COLORS = {"intake": "#d1495b", "interim": "#8d96a3", "closure": "#00798c", "followup": "#edae49"}
_LEVEL_COLORS = {1: "#c0392b", 2: "#e67e22", 3: "#7fb77e", 4: "#2e8b57", 0: "#d5d8dc"}


def plot_profile(wide: pd.DataFrame, timepoints=TIMEPOINTS, *, kind: str = "star", weights=None, lang: str = "ru",
                 publish: bool = False, min_cell: int = 5):
    """The mean level per domain at each timepoint: an Outcome-Star-like radar or a dumbbell chart.

    Only children assessed at every one of ``timepoints`` are drawn, so the polygons (dots)
    describe the same children; ``weights`` (aligned with ``wide``, e.g. the IPW weights)
    make them stand for a wider group.
    """
    import matplotlib.pyplot as plt

    from evalkit import privacy

    _check_lang(lang)
    if kind not in ("star", "dumbbell"):
        raise UserError(f"kind must be 'star' or 'dumbbell', not {kind!r}")
    doms = domains_of(wide, timepoints)
    keep = np.ones(len(wide), bool)
    for t in timepoints:
        keep &= wide[f"has_{t}"].to_numpy(bool)
    w = np.ones(len(wide)) if weights is None else np.asarray(weights, float)
    keep &= np.isfinite(w)
    sub, w = wide[keep], w[keep]
    means = {}
    for t in timepoints:
        m = []
        for d in doms:
            v = sub[f"{t}_{d}"].to_numpy(float)
            ok = np.isfinite(v)
            m.append(float(np.sum(w[ok] * v[ok]) / np.sum(w[ok])) if ok.any() else np.nan)
        means[t] = np.array(m)
    names = [labels.label("domain", d, lang) for d in doms]
    n_label = privacy.count_label(len(sub), publish=publish, min_cell=min_cell, lang=lang)
    at = ", ".join(_TP_SHORT[lang][t] for t in timepoints)
    title = (f"Средний уровень по сферам: {n_label} детей, оцененных в срезах «{at}»" if lang == "ru" else
             f"Mean level by domain: {n_label} children assessed at {at}")
    if weights is not None:
        title += f" ({_WORDS[lang]['weighted']})"
    if len(sub) == 0:
        fig, ax = plt.subplots(figsize=(7.5, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, title, ha="center", va="center", fontsize=10)
        return fig
    if kind == "star":
        fig = plt.figure(figsize=(7.5, 7.4))
        ax = fig.add_subplot(projection="polar")
        ax.set_theta_offset(np.pi / 2)
        ax.set_theta_direction(-1)
        ang = np.linspace(0, 2 * np.pi, len(doms), endpoint=False)
        closed = np.concatenate([ang, ang[:1]])
        for t in timepoints:
            vals = np.concatenate([means[t], means[t][:1]])
            ax.plot(closed, vals, color=_TP_COLORS.get(t, "grey"), lw=2, label=labels.label("timepoint", t, lang))
            ax.fill(closed, vals, color=_TP_COLORS.get(t, "grey"), alpha=0.08)
        ax.set_xticks(ang)
        ax.set_xticklabels(names, fontsize=9)
        ax.set_ylim(1, 4)
        ax.set_yticks([1, 2, 3, 4])
        ax.set_yticklabels([labels.label("level", v, lang) for v in (1, 2, 3, 4)], fontsize=7, color="grey")
        ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=len(timepoints), fontsize=9)
        ax.set_title(title, fontsize=10, pad=30)
    else:
        fig, ax = plt.subplots(figsize=(8.5, 0.5 * len(doms) + 2.0))
        y = np.arange(len(doms))[::-1]
        lo = np.nanmin(np.vstack(list(means.values())), axis=0)
        hi = np.nanmax(np.vstack(list(means.values())), axis=0)
        ax.hlines(y, lo, hi, color="#cccccc", lw=3, zorder=1)
        for t in timepoints:
            ax.scatter(means[t], y, color=_TP_COLORS.get(t, "grey"), s=60, zorder=2,
                       label=labels.label("timepoint", t, lang))
        ax.set_yticks(y)
        ax.set_yticklabels(names)
        ax.set_xlim(1, 4)
        ax.set_xticks([1, 2, 3, 4])
        ax.set_xticklabels([f"{v}\n{labels.label('level', v, lang)}" for v in (1, 2, 3, 4)], fontsize=8)
        ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(timepoints))
        ax.set_title(title, fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def _band(ax, x0, x1, y0a, y0b, y1a, y1b, color, alpha=0.45):
    """A flow ribbon from [y0a, y0b] at x0 to [y1a, y1b] at x1 (a smooth S-curve)."""
    xs = np.linspace(x0, x1, 40)
    s = (1 - np.cos(np.pi * (xs - x0) / (x1 - x0))) / 2
    ax.fill_between(xs, y0a + (y1a - y0a) * s, y0b + (y1b - y0b) * s, color=color, alpha=alpha, lw=0)


def plot_transitions(wide: pd.DataFrame, stages=TIMEPOINTS, *, domain: str | None = None, lang: str = "ru",
                     publish: bool = False, min_cell: int = 5):
    """Alluvial figure of the levels across ``stages`` (children assessed at the first two).

    Each column is a timepoint, its blocks the children at each level (the overall level,
    or ``domain``'s); ribbons join a child's level at one timepoint to the next. At later
    stages a grey "not assessed" block holds the children without that assessment (the
    follow-up's attrition, in sight). With ``publish=True`` block labels below ``min_cell``
    are ``*``, and the ribbons that the published cross-table of the two stages hides
    (:func:`evalkit.privacy.suppress_table` of ``transitions(..., missing=True)`` among
    these children: small flows and those that would give them away) are not drawn, so
    no width can be measured off the figure.
    """
    import matplotlib.pyplot as plt

    from evalkit import privacy

    _check_lang(lang)
    stages = _check_timepoints(stages)
    lv = pd.DataFrame({t: _levels_at(wide, t, domain) for t in stages})
    lv = lv[lv[stages[0]].notna() & lv[stages[1]].notna()].fillna(0).astype(int)
    n = len(lv)
    if n == 0:
        raise UserError("нет детей с оценками в первых двух срезах / no child assessed at the first two timepoints")
    order = [4, 3, 2, 1, 0]
    gap = 0.02 * n
    fig, ax = plt.subplots(figsize=(9, 5.5))
    width = 0.16
    top = {}
    for k, t in enumerate(stages):
        counts = lv[t].value_counts()
        y = n + gap * 4
        for lev in order:
            c = int(counts.get(lev, 0))
            if c == 0:
                continue
            top[(k, lev)] = y
            ax.add_patch(plt.Rectangle((k - width / 2, y - c), width, c, color=_LEVEL_COLORS[lev], lw=0))
            if c >= 0.035 * n:     # the count inside its block when there is room (all counts are in the tables)
                ax.text(k, y - c / 2, privacy.count_label(c, publish=publish, min_cell=min_cell, lang=lang),
                        va="center", ha="center", fontsize=8, color="white" if lev in (1, 4) else "black")
            y -= c + gap
    present = sorted({lev for (_, lev) in top}, reverse=True)
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=_LEVEL_COLORS[lev]) for lev in present],
              labels=[_level_label(lev, lang) for lev in present], frameon=False, fontsize=8,
              loc="upper left", bbox_to_anchor=(1.0, 1.0))
    for k in range(len(stages) - 1):
        a, b = stages[k], stages[k + 1]
        flows = lv.groupby([a, b]).size()
        hidden = set()
        if publish:     # the flows the published table of these two stages hides (primary and secondary)
            counts = _crosstab(lv[a].replace(0, np.nan), lv[b].replace(0, np.nan), missing=k > 0)
            mask = privacy.suppress_table(counts, min_cell).mask.iloc[:-1, :-1]
            hidden = {(la, lb) for la in mask.index for lb in mask.columns if mask.loc[la, lb]}
        out_y = dict(top)
        in_y = dict(top)
        for la in order:
            for lb in order:
                c = int(flows.get((la, lb), 0))
                if c == 0 or (k, la) not in out_y or (k + 1, lb) not in in_y:
                    continue
                y0, y1 = out_y[(k, la)], in_y[(k + 1, lb)]
                out_y[(k, la)] -= c
                in_y[(k + 1, lb)] -= c
                if (la, lb) in hidden:
                    continue
                _band(ax, k + width / 2, k + 1 - width / 2, y0 - c, y0, y1 - c, y1, _LEVEL_COLORS[la])
    ax.set_xlim(-0.3, len(stages) - 0.7)
    ax.set_ylim(0, n + gap * 5)
    ax.set_xticks(range(len(stages)))
    ax.set_xticklabels([labels.label("timepoint", t, lang) for t in stages])
    ax.set_yticks([])
    ax.spines[["top", "right", "left"]].set_visible(False)
    what = (_WORDS[lang]["level"] + (f": {labels.label('domain', domain, lang)}" if domain else
                                     (" (низшая из сфер)" if lang == "ru" else " (lowest domain)")))
    ax.set_title(f"{what}; {privacy.count_label(n, publish=publish, min_cell=min_cell, lang=lang)} "
                 f"{_WORDS[lang]['children']}", fontsize=10)
    if publish:
        note = ("потоки, скрытые в таблице переходов, не показаны" if lang == "ru" else
                "flows hidden in the transition table are not drawn")
        ax.text(0.0, -0.08, privacy.footnote(min_cell, lang) + "; " + note, transform=ax.transAxes, fontsize=7,
                color="grey")
    fig.tight_layout()
    return fig


def plot_spaghetti(wide: pd.DataFrame, timepoints=TIMEPOINTS, *, sample: int = 40, seed: int = 0, lang: str = "ru",
                   publish: bool = False, min_cell: int = 5):
    """Individual trajectories of the overall score (a random sample) and the mean trajectory.

    The thick line is the mean of the children assessed at every timepoint (the same children
    at each point: a mean over whoever was assessed would mix groups, and the follow-up is
    missing more often after a poor intake).

    Drafts draw each sampled child's scores as they are. With ``publish=True`` a line is
    drawn only for a trajectory shared by at least ``min_cell`` children once the scores are
    rounded to half a level (so no line is one child's), with a little jitter.
    """
    import matplotlib.pyplot as plt

    from evalkit import privacy

    _check_lang(lang)
    timepoints = _check_timepoints(timepoints)
    cols = [f"{t}_mean" for t in timepoints]
    data = wide[cols].to_numpy(float)
    keep = np.isfinite(data[:, 0]) & (np.isfinite(data).sum(axis=1) >= 2)
    data = data[keep]
    rng = np.random.default_rng(seed)
    if publish:
        rounded = np.round(data * 2) / 2
        key = pd.Series([tuple(r) for r in np.where(np.isfinite(rounded), rounded, -1)])
        common = key.map(key.value_counts()).to_numpy() >= min_cell
        pool = np.flatnonzero(common)
        draw = rounded
    else:
        pool = np.arange(len(data))
        draw = data
    pick = rng.choice(pool, size=min(sample, len(pool)), replace=False) if len(pool) else np.array([], int)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    x = np.arange(len(timepoints))
    for i in pick:
        v = draw[i] + (rng.normal(0, 0.04, len(x)) if publish else 0)
        ok = np.isfinite(draw[i])
        ax.plot(x[ok], v[ok], color="#00798c", alpha=0.35, lw=1, marker="o", ms=2.5)
    complete = np.isfinite(data).all(axis=1)
    if complete.any():
        ax.plot(x, data[complete].mean(axis=0), color="black", lw=3, marker="o", label=_WORDS[lang]["mean"]
                + f" ({privacy.count_label(int(complete.sum()), publish=publish, min_cell=min_cell, lang=lang)})")
    ax.plot([], [], color="#00798c", alpha=0.5, label=_WORDS[lang]["sample"]
            + f" ({privacy.count_label(len(pick), publish=publish, min_cell=min_cell, lang=lang)})")
    ax.set_xticks(x)
    ax.set_xticklabels([labels.label("timepoint", t, lang) for t in timepoints])
    ax.set_ylim(0.9, 4.1)
    ax.set_yticks([1, 2, 3, 4])
    ax.set_yticklabels([f"{v} {labels.label('level', v, lang)}" for v in (1, 2, 3, 4)], fontsize=8)
    ax.set_ylabel(_WORDS[lang]["mean_level"])
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.1), ncol=2)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig
