"""Survival of "the child remains in the family": Kaplan–Meier, naive shares and their bounds,
cohort tracking, Cox regression with family clusters.

The frame is :func:`evalkit.frames.time_to_event` (one row per child: ``time`` in months,
``event``, ``lower``/``upper`` for interval-censored separations, ``family_id``,
covariates). Kaplan–Meier curves come from lifelines; the Cox fit from :mod:`evalkit.coxph` (exact Efron
ties and clustered errors, fast at a million children); interval-censored methods are in
:mod:`evalkit.interval`, competing risks in :mod:`evalkit.competing`.

Why not just count? The share "still at home among the families we could reach" leaves
out every family we lost contact with, and counts a child separated after the last visit
as at home. Kaplan–Meier uses each child for exactly as long as the child was observed
(right censoring), so children followed for two years and children followed for two
months both contribute what they show. It still assumes that losing contact has nothing
to do with the risk of separation (non-informative censoring); the best/worst-case bounds
(:func:`loss_bounds`) show how far the answer could move if that were false.

Confidence intervals of Kaplan–Meier curves are lifelines' exponential Greenwood
intervals (R: ``survfit(..., conf.type = "log-log")``). Siblings share fate; the Cox
model's errors are robust (sandwich) errors clustered by family (Lin & Wei 1989), as R's
``coxph(..., cluster = family)``.

Examples
--------
>>> from evalkit.dataset import read_dataset
>>> from evalkit import frames, survival
>>> tte = frames.time_to_event(read_dataset("demo"), origin="closure")         # doctest: +SKIP
>>> km = survival.kaplan_meier(tte)                                              # doctest: +SKIP
>>> km.summary[["time", "survival", "ci_low", "ci_high"]]                        # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evalkit import labels
from evalkit.errors import UserError
from evalkit.frames import MONTH_DAYS

__all__ = ["HORIZONS", "KMResult", "kaplan_meier", "rmst", "naive_vs_km", "loss_bounds", "cohort_table",
           "observation_summary", "plot_naive_vs_km", "format_cohort_table",
           "CoxResult", "cox", "design", "term_label"]

#: months after the origin the mission asks about
HORIZONS = (6, 12, 36)
_Z = 1.959963984540054

_WORDS = {
    "ru": {"months": "месяцев от начала отсчета", "survival": "доля детей, остающихся в семье",
           "all": "все дети", "at_risk": "под наблюдением", "events": "разлучений", "censored": "выбыло",
           "hr": "отношение рисков (95% ДИ)", "closure": "месяцев после закрытия случая",
           "opening": "месяцев после открытия случая"},
    "en": {"months": "months since the origin", "survival": "share of children still in the family",
           "all": "all children", "at_risk": "at risk", "events": "separations", "censored": "censored",
           "hr": "hazard ratio (95% CI)", "closure": "months after case closure",
           "opening": "months after case opening"},
}


def _check_frame(frame: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(f"в таблице нет столбцов / the frame lacks columns {missing}")
    if len(frame) == 0:
        raise UserError("нет ни одного ребенка для анализа / no children to analyse")


# ----------------------------------------------------------------------------- Kaplan–Meier

@dataclass
class KMResult:
    """Kaplan–Meier curves overall or by group.

    Attributes
    ----------
    fitters : dict
        lifelines ``KaplanMeierFitter`` per group (key ``"all"`` without groups).
    summary : DataFrame
        group, time, survival, ci_low, ci_high, at_risk (at the requested times).
    medians : DataFrame
        group, n, events, median, median_low, median_high (NaN when the curve never
        reaches one half: "not reached").
    rmst : DataFrame
        group, tau, rmst, se, ci_low, ci_high — restricted mean months in the family
        up to ``tau``; with groups also ``difference`` rows against the first group.
    logrank : DataFrame or None
        statistic, df, p of the log-rank test across groups.
    """

    fitters: dict
    summary: pd.DataFrame
    medians: pd.DataFrame
    rmst: pd.DataFrame
    logrank: pd.DataFrame | None = None
    origin: str = "closure"
    group_labels: dict = field(default_factory=dict)
    title: str = ""

    def at_risk_table(self, times=(0, 6, 12, 24, 36, 48)) -> pd.DataFrame:
        """Numbers at risk, separations and censored children up to each time, per group."""
        rows = []
        for g, kmf in self.fitters.items():
            table = kmf.event_table
            for t in times:
                upto = table[table.index <= t]
                rows.append({"group": g, "time": t,
                             "at_risk": int((kmf.durations >= t).sum()) if t > 0 else int(len(kmf.durations)),
                             "events": int(upto["observed"].sum()), "censored": int(upto["censored"].sum())})
        return pd.DataFrame(rows)

    def plot(self, lang: str = "ru", at_risk: bool = True, horizon: float | None = 60, ax=None,
             publish: bool = False, min_cell: int = 5):
        """The curves with their 95% bands and, under the plot, the at-risk table.

        With ``publish=True`` each curve stops where fewer than ``min_cell`` children
        remain at risk (a step there would single out a child), and counts of 1 to
        ``min_cell - 1`` in the at-risk table are shown as ``*``.
        """
        import matplotlib.pyplot as plt
        from lifelines.plotting import add_at_risk_counts

        w = _WORDS[lang]
        if ax is None:
            fig, ax = plt.subplots(figsize=(8, 5.2))
        else:
            fig = ax.figure
        for g, kmf in self.fitters.items():
            label = self.group_labels.get(g, g)
            if publish:
                at = kmf.event_table["at_risk"]
                enough = at[at >= min_cell]
                stop = float(enough.index.max()) if len(enough) else 0.0
                sf = kmf.survival_function_[kmf.survival_function_.index <= stop]
                ci = kmf.confidence_interval_survival_function_
                ci = ci[ci.index <= stop]
                ax.step(sf.index, sf.iloc[:, 0], where="post", label=label)
                ax.fill_between(ci.index, ci.iloc[:, 0], ci.iloc[:, 1], step="post", alpha=0.2,
                                color=ax.lines[-1].get_color())
            else:
                kmf.plot_survival_function(ax=ax, ci_show=True, label=label)
        ax.legend(frameon=False, title=self.title or None, loc="lower left")
        ax.set_xlabel(w.get(self.origin, w["months"]))
        ax.set_ylabel(w["survival"])
        ax.set_ylim(0, 1.02)
        if horizon:
            ax.set_xlim(0, horizon)
        for h in HORIZONS:
            ax.axvline(h, color="grey", lw=0.5, ls=":")
        ax.spines[["top", "right"]].set_visible(False)
        if at_risk:
            # yearly ticks: six-digit counts at 0, 6 and 12 months would overlap (6 months is in the summary table)
            ticks = [t for t in (0, 12, 24, 36, 48, 60) if not horizon or t <= horizon]
            ax.set_xticks(ticks)
            add_at_risk_counts(*self.fitters.values(), ax=ax, rows_to_show=["At risk", "Events", "Censored"],
                               labels=[self.group_labels.get(g, g) for g in self.fitters], xticks=ticks)
            _translate_at_risk(ax, lang)
            if publish:
                _suppress_at_risk(ax, min_cell)
        fig.tight_layout()
        return fig


def _translate_at_risk(ax, lang: str) -> None:
    """lifelines labels its at-risk rows in English; use the report's words."""
    if lang == "en":
        return
    w = _WORDS[lang]
    names = {"At risk": w["at_risk"], "Events": w["events"], "Censored": w["censored"]}
    for other in ax.figure.axes:
        if other is ax:
            continue
        texts = [t.get_text() for t in other.get_xticklabels()]
        if not any(texts):
            continue
        new = []
        for text in texts:
            for en, local in names.items():
                text = text.replace(en, local)
            new.append(text)
        other.set_xticks(other.get_xticks())
        other.set_xticklabels(new)


def _suppress_at_risk(ax, min_cell: int) -> None:
    """Replace counts 1..min_cell-1 in lifelines' at-risk table (tick labels of the extra axes) by ``*``."""
    import re

    def hide(m):
        return "*" if 1 <= int(m.group(0)) < min_cell else m.group(0)
    for other in ax.figure.axes:
        if other is ax:
            continue
        ticks = other.get_xticks()
        texts = [t.get_text() for t in other.get_xticklabels()]
        if texts and any(texts):
            other.set_xticks(ticks)
            other.set_xticklabels([re.sub(r"(?<![\w.])\d+(?![\w.])", hide, t) for t in texts])


def _km_fit(durations, events, label):
    from lifelines import KaplanMeierFitter

    return KaplanMeierFitter(alpha=0.05).fit(durations, events, label=str(label))


def _at(kmf, t: float) -> tuple[float, float, float]:
    s = float(kmf.survival_function_at_times(t).iloc[0])
    ci = kmf.confidence_interval_survival_function_
    upto = ci[ci.index <= t]
    lo, hi = (float(upto.iloc[-1, 0]), float(upto.iloc[-1, 1])) if len(upto) else (1.0, 1.0)
    return s, lo, hi


def kaplan_meier(frame: pd.DataFrame, group: str | None = None, times=HORIZONS, tau: float = 36.0,
                 duration: str = "time", event: str = "event", origin: str = "closure",
                 lang: str = "ru") -> KMResult:
    """Kaplan–Meier estimate of the share of children still in their family.

    Parameters
    ----------
    frame : DataFrame
        :func:`evalkit.frames.time_to_event`.
    group : str, optional
        A column to compare (e.g. ``"prior_removal"``); rows where it is missing are left
        out of the comparison (and counted in ``medians``' n of no group).
    times : sequence of float
        Months at which to report survival with its 95% CI.
    tau : float
        Horizon of the restricted mean survival time.
    """
    from lifelines.statistics import multivariate_logrank_test
    from lifelines.utils import median_survival_times

    _check_frame(frame, [duration, event] + ([group] if group else []))
    data = frame if group is None else frame[frame[group].notna()]
    if group is None:
        parts = {"all": data}
        group_labels = {"all": _WORDS[lang]["all"]}
    else:
        parts = {g: d for g, d in data.groupby(group, sort=True)}
        group_labels = {g: _short_level(group, g, lang) for g in parts}
    fitters, rows, med, rows_rmst = {}, [], [], []
    for g, d in parts.items():
        kmf = _km_fit(d[duration].to_numpy(float), d[event].to_numpy(bool), group_labels[g])
        fitters[g] = kmf
        for t in times:
            s, lo, hi = _at(kmf, t)
            rows.append({"group": g, "time": t, "survival": s, "ci_low": lo, "ci_high": hi,
                         "at_risk": int((d[duration] >= t).sum())})
        ci = median_survival_times(kmf.confidence_interval_)
        med.append({"group": g, "n": len(d), "events": int(d[event].sum()),
                    "median": _finite(kmf.median_survival_time_),
                    "median_low": _finite(ci.iloc[0, 0]), "median_high": _finite(ci.iloc[0, 1])})
        value, se = rmst(kmf, tau)
        rows_rmst.append({"group": g, "tau": tau, "rmst": float(value), "se": se,
                   "ci_low": float(value) - _Z * se, "ci_high": float(value) + _Z * se})
    rmst_table = pd.DataFrame(rows_rmst)
    logrank = None
    if group is not None and len(parts) > 1:
        ref = rmst_table.iloc[0]
        diffs = []
        for _, r in rmst_table.iloc[1:].iterrows():
            diff, se = r["rmst"] - ref["rmst"], float(np.hypot(r["se"], ref["se"]))
            from scipy.stats import norm
            diffs.append({"group": f"{r['group']} − {ref['group']}", "tau": tau, "rmst": diff, "se": se,
                          "ci_low": diff - _Z * se, "ci_high": diff + _Z * se,
                          "p": float(2 * norm.sf(abs(diff / se))) if se > 0 else np.nan})
        rmst_table = pd.concat([rmst_table, pd.DataFrame(diffs)], ignore_index=True)
        lr = multivariate_logrank_test(data[duration], data[group].astype(str), data[event].astype(bool))
        logrank = pd.DataFrame([{"statistic": float(lr.test_statistic), "df": int(lr.degrees_of_freedom),
                                 "p": float(lr.p_value)}])
    return KMResult(fitters=fitters, summary=pd.DataFrame(rows), medians=pd.DataFrame(med), rmst=rmst_table,
                    logrank=logrank, origin=origin, group_labels=group_labels,
                    title=labels.field_label(group, lang) if group and group in labels.FIELDS else (group or ""))


def rmst(kmf, tau: float) -> tuple[float, float]:
    """Restricted mean survival time up to ``tau`` under a Kaplan–Meier curve, and its
    standard error: Var = Σ_{t_i ≤ τ} A_i² d_i / (n_i (n_i − d_i)), A_i = ∫_{t_i}^{τ} S(u) du
    (Klein & Moeschberger 2003, §4.5; what R's ``print(survfit(...), rmean = tau)`` reports).
    """
    table = kmf.event_table
    times = table.index.to_numpy(float)
    d = table["observed"].to_numpy(float)
    n = table["at_risk"].to_numpy(float)
    s = np.cumprod(np.where(n > 0, 1 - d / np.where(n > 0, n, 1), 1.0))
    keep = (times <= tau) & (d > 0)
    t_ev, s_ev, d_ev, n_ev = times[keep], s[keep], d[keep], n[keep]
    # S is a step function: 1 before the first event time, s_ev[k] on [t_ev[k], t_ev[k+1])
    knots = np.concatenate([[0.0], t_ev, [tau]])
    levels = np.concatenate([[1.0], s_ev])
    pieces = levels * np.diff(knots)
    total = float(pieces.sum())
    # A_i: the area from t_i to tau = the pieces from index i+1 on
    tail = np.cumsum(pieces[::-1])[::-1]
    area_after = tail[1:] if len(tail) > 1 else np.array([])
    ok = n_ev > d_ev
    var = float(np.sum(area_after[ok] ** 2 * d_ev[ok] / (n_ev[ok] * (n_ev[ok] - d_ev[ok]))))
    return total, float(np.sqrt(var))


def _finite(x) -> float:
    x = float(x)
    return x if np.isfinite(x) else np.nan


# ----------------------------------------------------------------------------- naive shares and bounds

def _eligible(frame: pd.DataFrame, h: float, cutoff) -> pd.DataFrame:
    """Children whose origin lies at least ``h`` months before the cut-off."""
    cutoff = pd.Timestamp(cutoff)
    reach = frame["origin_date"] + pd.to_timedelta(h * MONTH_DAYS, unit="D")
    return frame[reach <= cutoff]


def naive_vs_km(frame: pd.DataFrame, cutoff, times=HORIZONS) -> pd.DataFrame:
    """The methodist's count beside Kaplan–Meier, per horizon.

    *Naive*: among children whose origin is at least ``h`` months old and whose status at
    ``h`` is known (seen at home at ``h`` or later, or seen separated by ``h``), the share
    at home — "still at home among those we could reach". *Kaplan–Meier*: every child,
    each for as long as observed. Columns: horizon, eligible, reached, naive, naive_low,
    naive_high (Wilson), km, km_low, km_high, best, worst (see :func:`loss_bounds`).
    """
    from evalkit.indicators import wilson

    _check_frame(frame, ["time", "event", "upper", "last_seen_home", "origin_date"])
    km = kaplan_meier(frame, times=times)
    bounds = loss_bounds(frame, cutoff, times).set_index("horizon")
    rows = []
    for h in times:
        e = _eligible(frame, h, cutoff)
        away_by_h = e["event"].to_numpy(bool) & (e["upper"].to_numpy(float) <= h)
        home_at_h = (e["last_seen_home"].to_numpy(float) >= h) & ~away_by_h
        reached = int((away_by_h | home_at_h).sum())
        home = int(home_at_h.sum())
        lo, hi = wilson([home], [reached])
        s = km.summary[km.summary["time"] == h].iloc[0]
        rows.append({"horizon": h, "eligible": len(e), "reached": reached, "at_home": home,
                     "naive": home / reached if reached else np.nan, "naive_low": lo[0], "naive_high": hi[0],
                     "km": s["survival"], "km_low": s["ci_low"], "km_high": s["ci_high"],
                     "best": bounds.loc[h, "best"], "worst": bounds.loc[h, "worst"]})
    return pd.DataFrame(rows)


def loss_bounds(frame: pd.DataFrame, cutoff, times=HORIZONS) -> pd.DataFrame:
    """Best and worst case for loss to follow-up at each horizon (Manski-style bounds).

    Among children whose origin is at least ``h`` months old: *best* — every child lost
    to follow-up before ``h`` stayed at home; *worst* — every such child was separated
    when contact was lost. Children who turned 18 before ``h`` count as at home (they left
    the risk set as adults). The truth lies between the two whatever the reason for the
    loss; Kaplan–Meier lies between them when loss is unrelated to separation.
    Columns: horizon, eligible, separated, lost, best, worst.
    """
    rows = []
    for h in times:
        e = _eligible(frame, h, cutoff)
        sep = e["event"].to_numpy(bool) & (e["time"].to_numpy(float) <= h)
        lost = ~e["event"].to_numpy(bool) & (e["time"].to_numpy(float) < h) & (e["censor_reason"] != "adult").to_numpy()
        n = len(e)
        rows.append({"horizon": h, "eligible": n, "separated": int(sep.sum()), "lost": int(lost.sum()),
                     "best": 1 - sep.sum() / n if n else np.nan,
                     "worst": 1 - (sep.sum() + lost.sum()) / n if n else np.nan})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- cohort tracking

def cohort_table(frame: pd.DataFrame, cutoff, months=(6, 12, 24, 36), by: str = "cohort",
                 publish: bool = False, min_cell: int = 5) -> pd.DataFrame:
    """Chapin Hall-style tracking: rows = cohorts (year of closure or opening), columns =
    months since, cells = cumulative share separated (1 − Kaplan–Meier within the cohort).

    A cell is ``NaN`` when not every member of the cohort could yet be followed that long
    (the cohort's last origin + months is after the cut-off): the multi-year view then
    never mixes complete and partial follow-up. The returned frame has ``n`` (children in
    the cohort) as its first column; ``.attrs["partial"]`` lists the cells left out and
    ``.attrs["partial_values"]`` holds their provisional values.

    With ``publish=True`` a cell whose separations by that month number 1..min_cell-1 is
    hidden (``.attrs["hidden"]``; shown as NaN): share × n would give the count away. A
    cohort of 1..min_cell-1 children is hidden whole.
    """
    _check_frame(frame, ["time", "event", "origin_date", by])
    cutoff = pd.Timestamp(cutoff)
    out, partial, provisional, hidden = [], [], {}, []
    for cohort, d in frame.groupby(by, sort=True):
        kmf = _km_fit(d["time"].to_numpy(float), d["event"].to_numpy(bool), cohort)
        row = {by: cohort, "n": len(d)}
        last = d["origin_date"].max()
        small_cohort = publish and 1 <= len(d) < min_cell
        for m in months:
            value = 1 - float(kmf.survival_function_at_times(m).iloc[0])
            events = int((d["event"].to_numpy(bool) & (d["time"].to_numpy(float) <= m)).sum())
            if publish and (small_cohort or 1 <= events < min_cell):
                row[m] = np.nan
                hidden.append((cohort, m))
            elif last + pd.to_timedelta(m * MONTH_DAYS, unit="D") <= cutoff:
                row[m] = value
            else:
                row[m] = np.nan
                partial.append((cohort, m))
                provisional[(cohort, m)] = value
        out.append(row)
    table = pd.DataFrame(out).set_index(by)
    if publish:
        table["n"] = [("*" if 1 <= n < min_cell else n) for n in table["n"]]
    table.attrs["partial"] = partial
    table.attrs["partial_values"] = provisional
    table.attrs["hidden"] = hidden
    return table


# ----------------------------------------------------------------------------- Cox regression

def _short_level(column: str, level, lang: str) -> str:
    """A group's label under its column's title: да/нет for yes/no factors, the vocabulary label otherwise."""
    return labels.value_label(column, level, lang)


def _level_label(column: str, level, lang: str) -> str:
    if isinstance(level, (bool, np.bool_)):
        return f"{labels.field_label(column, lang)}: {labels.value_label(column, level, lang)}"
    return labels.value_label(column, level, lang)


def term_label(term: str, lang: str = "ru") -> str:
    """A model term (``prior_removal``, ``housing_at_intake[none]``) in the report's words."""
    if "[" in term and term.endswith("]"):
        col, level = term[:-1].split("[", 1)
        return f"{labels.field_label(col, lang)}: {_level_label(col, level, lang)}"
    try:
        return labels.field_label(term, lang)
    except Exception:  # noqa: BLE001
        return term


def design(frame: pd.DataFrame, covariates, reference: dict | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Numeric design columns: booleans as 0/1, categories as indicators against a reference
    level (default: the most common). Returns the design frame and the term names;
    rows with a missing covariate get NaN."""
    reference = reference or {}
    cols, terms = {}, []
    for c in covariates:
        s = frame[c]
        if pd.api.types.is_bool_dtype(s) or str(s.dtype) == "boolean":
            cols[c] = s.astype("Float64").astype(float)
            terms.append(c)
        elif pd.api.types.is_numeric_dtype(s):
            cols[c] = s.astype(float)
            terms.append(c)
        else:
            levels = s.dropna().value_counts()
            if len(levels) < 2:
                continue
            ref = reference.get(c, levels.index[0])
            for lev in sorted(levels.index.drop(ref), key=str):
                name = f"{c}[{lev}]"
                cols[name] = np.where(s.isna(), np.nan, (s == lev).astype(float))
                terms.append(name)
    return pd.DataFrame(cols, index=frame.index), terms


@dataclass
class CoxResult:
    """A Cox proportional-hazards fit with family-clustered robust errors.

    ``summary``: term, label_ru, label_en, coef, se (robust), hr, hr_low, hr_high, p.
    ``ph_test``: term, statistic, p (Grambsch–Therneau test on rank time, lifelines).
    ``n``, ``events``, ``dropped`` (rows with a missing covariate, left out).
    """

    fitter: object
    summary: pd.DataFrame
    ph_test: pd.DataFrame
    n: int
    events: int
    dropped: int
    strata: list | None = None

    def ph_verdict(self, lang: str = "ru", alpha: float = 0.05) -> str:
        bad = self.ph_test[self.ph_test["p"] < alpha]
        if bad.empty:
            return ("Проверка пропорциональности рисков не нашла нарушений (все p ≥ 0,05): отношения рисков "
                    "можно читать как постоянные во времени." if lang == "ru" else
                    "The proportional-hazards check found no violation (every p ≥ 0.05): the hazard ratios can "
                    "be read as constant over time.")
        names = ", ".join(term_label(t, lang) for t in bad["term"])
        return (f"Для части факторов риск меняется со временем ({names}; p < 0,05): их отношение рисков — "
                "среднее за период наблюдения; стоит посмотреть на кривые по группам или стратифицировать."
                if lang == "ru" else
                f"For some factors the hazard ratio changes over time ({names}; p < 0.05): their hazard ratio is an "
                "average over follow-up; look at the curves by group or stratify.")

    def plot(self, lang: str = "ru", ax=None):
        """Forest plot of the hazard ratios with 95% CIs on a log scale."""
        import matplotlib.pyplot as plt

        s = self.summary.iloc[::-1]
        if ax is None:
            fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(s) + 1.2))
        else:
            fig = ax.figure
        y = np.arange(len(s))
        ax.errorbar(s["hr"], y, xerr=[s["hr"] - s["hr_low"], s["hr_high"] - s["hr"]], fmt="o", color="black",
                    ecolor="grey", capsize=3)
        ax.axvline(1, color="grey", lw=1, ls="--")
        ax.set_xscale("log")
        ax.set_yticks(y)
        ax.set_yticklabels(s[f"label_{lang}"])
        ax.set_xlabel(_WORDS[lang]["hr"])
        lo, hi = float(np.nanmin(s["hr_low"])), float(np.nanmax(s["hr_high"]))
        ticks = [t for t in (0.1, 0.25, 0.5, 1, 2, 4, 8, 16) if lo / 1.5 <= t <= hi * 1.5] or [1]
        ax.set_xticks(ticks)
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}".replace(".", ",") if lang == "ru"
                                                       else f"{v:g}"))
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        return fig


def cox(frame: pd.DataFrame, covariates, *, cluster: str | None = "family_id", strata=None,
        duration: str = "time", event: str = "event", reference: dict | None = None) -> CoxResult:
    """Cox proportional hazards (Efron ties) with robust errors clustered by family.

    Parameters
    ----------
    frame : DataFrame
        :func:`evalkit.frames.time_to_event`.
    covariates : list of str
        Columns of ``frame``; booleans enter as 0/1, categories as indicators against the
        most common level (or ``reference[column]``).
    cluster : str or None
        Cluster column for the sandwich errors (default: the family).
    strata : str or list of str, optional
        Stratify the baseline hazard (e.g. by organisation).

    The fit is :func:`evalkit.coxph.fit_cox` (R's ``coxph`` to about 1e-12, including the
    clustered errors under tied times, and about a second at a million children); ``fitter``
    is its :class:`~evalkit.coxph.CoxFit`. ``ph_test`` is :func:`evalkit.coxph.ph_test`, the
    Grambsch–Therneau test on rank time as lifelines' ``proportional_hazard_test`` computes it.
    Rows with a missing covariate are dropped (counted in ``dropped``); covariates left with a
    single value are left out.
    """
    from evalkit.coxph import fit_cox, ph_test

    covariates = list(covariates)
    strata = [strata] if isinstance(strata, str) else (list(strata) if strata else None)
    need = [duration, event] + covariates + ([cluster] if cluster else []) + (strata or [])
    _check_frame(frame, need)
    x, terms = design(frame, covariates, reference)
    if not terms:
        raise UserError("нет ни одного фактора с двумя и более значениями / no covariate has two or more values")
    data = pd.concat([frame[[duration, event] + ([cluster] if cluster else []) + (strata or [])], x], axis=1)
    complete = data[terms].notna().all(axis=1)
    dropped = int((~complete).sum())
    data = data[complete].copy()
    data[event] = data[event].astype(int)
    constant = [t for t in terms if data[t].nunique() < 2]
    terms = [t for t in terms if t not in constant]
    data = data.drop(columns=constant)
    if not terms:
        raise UserError("нет ни одного фактора с двумя и более значениями / no covariate has two or more values")
    # strata codes in the sorted order of the strata's values (the PH test ranks deaths in it)
    strata_codes = (data.groupby(strata, sort=True, dropna=False).ngroup().to_numpy() if strata else None)
    time_, event_, x_ = data[duration].to_numpy(float), data[event].to_numpy(), data[terms].to_numpy(float)
    fit = fit_cox(time_, event_, x_, cluster=data[cluster].to_numpy() if cluster else None, strata=strata_codes,
                  names=terms)
    s = fit.summary                     # interval and p from the robust error when clustered
    summary = pd.DataFrame({
        "term": terms, "label_ru": [term_label(t, "ru") for t in terms],
        "label_en": [term_label(t, "en") for t in terms], "coef": s["coef"].to_numpy(),
        "se": (s["robust_se"] if cluster else s["se"]).to_numpy(), "hr": s["hr"].to_numpy(),
        "hr_low": s["hr_low"].to_numpy(), "hr_high": s["hr_high"].to_numpy(), "p": s["p"].to_numpy()})
    try:
        ph = ph_test(fit, time_, event_, x_, strata=strata_codes)
        ph = ph[["term", "statistic", "p"]]
    except Exception as exc:  # noqa: BLE001 - the test is a diagnostic; the fit stands without it
        ph = pd.DataFrame({"term": [], "statistic": [], "p": []})
        ph.attrs["error"] = str(exc)
    return CoxResult(fitter=fit, summary=summary, ph_test=ph, n=len(data), events=int(data[event].sum()),
                     dropped=dropped, strata=strata)


# ----------------------------------------------------------------------------- report helpers

_REASONS = {"ru": {"event": "разлучение с семьей", "lost": "контакт потерян (последний раз дома)",
                   "cutoff": "наблюдается до даты выгрузки", "adult": "исполнилось 18 лет"},
            "en": {"event": "separated from the family", "lost": "contact lost (last seen at home)",
                   "cutoff": "observed up to the data cut-off", "adult": "turned 18"}}


def observation_summary(frame: pd.DataFrame, lang: str = "ru") -> pd.DataFrame:
    """How each child's observation ended: children, share, median months observed — and how
    separations are known (exact date recorded, or only between two contacts)."""
    w = _REASONS[lang]
    g = frame.groupby("censor_reason")
    out = pd.DataFrame({"children": g.size(), "median_months": g["time"].median()})
    out = out.reindex([r for r in ("event", "lost", "cutoff", "adult") if r in out.index])
    out["share"] = out["children"] / out["children"].sum()
    out.index = [w[r] for r in out.index]
    cols = {"ru": ("детей", "доля", "медиана месяцев наблюдения"),
            "en": ("children", "share", "median months observed")}[lang]
    out = out[["children", "share", "median_months"]].round({"share": 3, "median_months": 1})
    out.columns = list(cols)
    ev = frame[frame["event"]]
    out.attrs["exact"] = int(ev["exact"].sum())
    out.attrs["interval"] = int((~ev["exact"]).sum())
    return out


def plot_naive_vs_km(table: pd.DataFrame, lang: str = "ru"):
    """Per horizon: the naive share among children reached, Kaplan–Meier with its CI, and the
    best/worst-case range for loss to follow-up."""
    import matplotlib.pyplot as plt

    words = {"ru": ("наивная доля (среди тех, с кем есть контакт)", "Каплан–Майер (95% ДИ)",
                    "от худшего до лучшего случая для потерянных", "месяцев", "доля детей в семье"),
             "en": ("naive share (among those reached)", "Kaplan–Meier (95% CI)",
                    "worst to best case for those lost", "months", "share of children at home")}[lang]
    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(len(table))
    ax.vlines(x, table["worst"], table["best"], color="#cccccc", lw=14, label=words[2])
    ax.errorbar(x - 0.08, table["naive"], yerr=[table["naive"] - table["naive_low"], table["naive_high"] - table["naive"]],
                fmt="s", color="#d1495b", capsize=3, label=words[0])
    ax.errorbar(x + 0.08, table["km"], yerr=[table["km"] - table["km_low"], table["km_high"] - table["km"]],
                fmt="o", color="#00798c", capsize=3, label=words[1])
    ax.set_xticks(x)
    ax.set_xticklabels([f"{h:g} {words[3]}" for h in table["horizon"]])
    ax.set_ylabel(words[4])
    ax.set_ylim(max(0, float(table["worst"].min()) - 0.05), 1.0)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.legend(frameon=False, fontsize=8, loc="lower left")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def format_cohort_table(table: pd.DataFrame, lang: str = "ru") -> pd.DataFrame:
    """:func:`cohort_table` as a report shows it: percentages, ``·`` where the cohort cannot yet
    be followed that long, ``*`` where a small count is hidden."""
    hidden = set(table.attrs.get("hidden", []))
    partial = set(table.attrs.get("partial", []))
    months = [c for c in table.columns if c != "n"]
    out = pd.DataFrame(index=table.index)
    out["n"] = table["n"]
    for m in months:
        cells = []
        for cohort, v in table[m].items():
            if (cohort, m) in hidden:
                cells.append("*")
            elif (cohort, m) in partial or pd.isna(v):
                cells.append("·")
            else:
                text = f"{100 * v:.0f}%"
                cells.append(text)
        out[f"{m:g}" + (" мес." if lang == "ru" else " mo")] = cells
    return out
