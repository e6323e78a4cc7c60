"""Competing risks: how children leave their family, when one way of leaving rules out the others.

A child supported by the programme may be separated from the family in different ways —
removal by the authorities, voluntary placement in an institution, relinquishment — and
the first of them to happen is the one observed: a child who was removed cannot later be
"voluntarily placed" first. Treating the other causes as censoring (one Kaplan–Meier per
cause) then overstates every cause, because it describes a world in which the competing
causes could not happen. Two tools answer the two questions the survival study asks:

* :func:`cumulative_incidence` — *how many children* leave the family in each way by a given
  time: the Aalen–Johansen estimator of the cumulative incidence function (CIF) of each
  cause (Aalen & Johansen 1978). The CIFs of all causes and the probability of no event
  (Kaplan–Meier of "any cause") add up to 1 at every time.
* :func:`fine_gray` — *what is associated with* one way of leaving: the Fine–Gray
  proportional subdistribution hazards model (Fine & Gray 1999), whose hazard ratios act
  directly on that cause's CIF.

The data are one row per child: a duration column (whole months or days; ties are fine)
and an event column holding ``0`` for a child still in the family at the end of
follow-up (censored) and a cause code (string or integer) otherwise, e.g. the
``event`` vocabulary of :mod:`evalkit.labels` (``removal``, ``voluntary_placement``,
``relinquishment``).

Aalen–Johansen, and why lifelines' ``AalenJohansenFitter`` is not wrapped
------------------------------------------------------------------------
lifelines' fitter computes the right point estimate, but it cannot be made to agree
with R on the data this project has:

1. It refuses tied event times of different causes and *jitters* them at random
   (``jitter_level``/``seed``). The CIF needs no jitter — the Aalen–Johansen increment
   ``S(t-)·d_k(t)/n(t)`` handles ties exactly — and jittering does harm with times in
   whole months: an event moved to ``6 + 1e-4`` is no longer counted "by month 6", and
   events moved past censorings of the same month change the numbers at risk (R, like
   every textbook, counts censorings at ``t`` as still at risk at ``t``). On
   ``tests/reference/competing_data.csv`` (whole months) the jittered lifelines CIF of
   removal, read at whole months, differs from R's ``survfit`` by up to 0.013–0.019
   depending on the seed, and its standard errors by 20–25%.
2. Its causes must be integers.
3. Its variance is the Greenwood-type delta-method variance of Collett / SAS
   ``PROC LIFETEST``, while R's ``survfit`` for multi-state data reports only the
   infinitesimal-jackknife (IJ) variance (``"multi-state survfit supports only a robust
   variance"``); the two agree asymptotically, not numerically. The IJ variance is
   also the one that extends to clusters: ``cluster=`` (siblings) sums each child's
   influence within the family before squaring, as ``survfit(..., cluster = family)`` is
   documented to. (survival 3.5-3 silently ignores ``cluster =`` for multi-state curves;
   the tests compare with R's per-child influence, ``influence = TRUE``, summed by family.)

So the estimator is computed here directly, vectorised with numpy: the event table
(numbers at risk, events of each cause at every distinct time), ``S(t)`` = Kaplan–Meier of
any event, ``F_k(t) = Σ_{s≤t} S(s-)·d_k(s)/n(s)``, and the influence of every child on
every ``F_k(t)`` in closed form — the derivative of the estimate in the child's case
weight, which is what R computes. The squared influences are summed (within families when
clustered) through cumulative sums over the time grid, without forming the children ×
times matrix, so the cost is O(n log n) even with times in days; the standard errors are
R's ``std.err`` (to ~1e-13 on the test data). Confidence intervals are on the log scale
by default, with the upper limit capped at 1 (R's ``conf.type = "log"``; ``"log-log"``
and ``"plain"`` are available). lifelines is used in the tests as an independent check of
the point estimate on untied data, and of the sum-to-one property (its Kaplan–Meier).

Fine–Gray, as R's ``survival::finegray`` builds it
--------------------------------------------------
The subdistribution hazard of cause 1 keeps a child who left the family for a *competing*
reason in the risk set after leaving, with a weight that decays as the censoring
distribution would have removed the child: at an event time ``t`` such a child (event at
``T_i < t``) has weight ``w_i(t) = G(t-)/G(T_i-)``, where ``G`` is the Kaplan–Meier
estimate of the censoring distribution (events before censorings at tied times). Every
other child is at risk with weight 1 until its own time. The coefficients solve the
weighted Cox score equation (Fine & Gray 1999, §2–3; the counting-process form with
time-dependent IPCW weights is Geskus 2011). R's ``survival::finegray()`` writes this as
data: each competing-event child becomes several ``(fgstart, fgstop]`` rows with weights
``fgwt``, one per interval between censoring times that contains an event of interest,
and ``coxph(Surv(fgstart, fgstop, fgstatus) ~ x, weights = fgwt, cluster = id)`` fits it
(vignette "Multi-state models and competing risks", Therneau, Crowson & Atkinson).
:func:`finegray_data` reproduces those rows exactly (the tests compare them with R's).

Which library fits the weighted Cox model? None of the installed Python ones reproduces R:
statsmodels' ``PHReg`` has ``entry`` and ``groups`` but no case weights; lifelines'
``CoxTimeVaryingFitter`` has weights but ``robust=True`` raises ``NotImplementedError``;
lifelines' ``CoxPHFitter`` (``entry_col``, ``weights_col``, ``cluster_col``) fits Efron
ties only, and its sandwich variance ignores late entry (its score residuals put every
row at risk from time 0) and tied times: on the ``finegray`` rows of the test data its
coefficients agree with R's to 2e-7, its clustered robust errors are 30–40% too large.
:func:`fine_gray`
therefore fits the model itself, by Newton–Raphson on the weighted partial likelihood
with Breslow (default, as ``cmprsk::crr``) or Efron ties — R ``agfit4``'s formulas, with
R's treatment of weights in tied sets — and the robust (sandwich) covariance from the
weighted score residuals summed within clusters (R ``agscore3``; Lin & Wei 1989). It does
not expand the data: because every competing-event child's weight is ``G(t-)`` times a
constant, all risk-set sums are cumulative sums over the event times, so the fit costs
O(n log n) whatever the number of censoring times. The tests check the fit against R's
``coxph`` on ``finegray`` rows (coefficients to 1e-6, robust errors to 1e-4 relative)
and against lifelines' ``CoxPHFitter`` fitted on :func:`finegray_data` rows (Efron
coefficients).

``cmprsk::crr`` gives slightly different coefficients (relative differences up to ~1e-3
on monthly data) because its censoring Kaplan–Meier counts children with an event at a
censoring time as still at risk of censoring at that time; without ties between events
and censorings the two are the same estimator. ``convention="crr"`` uses crr's ``G`` and
then reproduces its coefficients (to ~1e-8 on the test data). crr's standard errors also
include the variability of ``Ĝ`` (Fine & Gray 1999, §3), which the robust errors of the
weighted Cox model (and of R's ``coxph``) leave out; on the test data they differ by
less than 0.1%.

Standard errors are robust errors clustered by ``cluster`` (siblings share fate), or by
child when ``cluster`` is None (a competing-event child contributes several weighted
intervals, so the child is the smallest independent unit, as ``coxph(..., cluster =
id)``). Hazard-ratio intervals and p-values use the robust errors.

References
----------
Aalen O.O., Johansen S. (1978). An empirical transition matrix for non-homogeneous Markov
chains based on censored observations. *Scandinavian Journal of Statistics* 5, 141–150.
Fine J.P., Gray R.J. (1999). A proportional hazards model for the subdistribution of a
competing risk. *JASA* 94, 496–509.
Geskus R.B. (2011). Cause-specific cumulative incidence estimation and the Fine and Gray
model under both left truncation and right censoring. *Biometrics* 67, 39–49.
Therneau T., Crowson C., Atkinson E. Multi-state models and competing risks. Vignette
"compete" of the R package survival.
Beyersmann J., Allignol A., Schumacher M. (2012). *Competing Risks and Multistate Models
with R*. Springer.
Lin D.Y., Wei L.J. (1989). The robust inference for the Cox proportional hazards model.
*JASA* 84, 1074–1078.

Examples
--------
>>> import pandas as pd
>>> from evalkit import competing
>>> d = pd.DataFrame({"months": [2, 3, 3, 5, 6, 8, 9, 12],
...                   "event": ["removal", 0, "relinquishment", "removal", 0, "voluntary_placement", 0, 0]})
>>> ci = competing.cumulative_incidence(d, "months", "event", times=(6, 12))
>>> ci.summary[["cause", "time", "cif"]].round(3)
                 cause  time    cif
0              removal     6  0.275
1              removal    12  0.275
2  voluntary_placement     6  0.000
3  voluntary_placement    12  0.200
4       relinquishment     6  0.125
5       relinquishment    12  0.125
>>> fig = ci.plot(lang="en")                                  # doctest: +SKIP
>>> fg = competing.fine_gray(frame, "months", "event", "removal", ["prior_removal", "score"],
...                          cluster="family_id")                # doctest: +SKIP
>>> fg.summary[["covariate", "hr", "hr_low", "hr_high", "p"]]    # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from evalkit import labels
from evalkit.errors import UserError

__all__ = ["CumulativeIncidence", "cumulative_incidence", "FineGrayResult", "fine_gray", "finegray_data",
           "censoring_survival", "cause_label"]

#: the group label of curves computed over every child
ALL = "all"
_CONF_TYPES = ("log", "log-log", "plain")

_WORDS = {
    "ru": {"time": "время от начала наблюдения", "cif": "накопленная доля детей",
           "all": "все дети", "event_free": "в семье, событий нет", "covariate": "фактор",
           "shr": "ОР субраспределения", "ci": "95% ДИ", "p": "p", "cause": "причина"},
    "en": {"time": "time since the start of follow-up", "cif": "cumulative incidence",
           "all": "all children", "event_free": "in the family, no event", "covariate": "covariate",
           "shr": "subdistribution HR", "ci": "95% CI", "p": "p", "cause": "cause"},
}


# ----------------------------------------------------------------------------- checking the input

def _columns(data, needed) -> None:
    if not isinstance(data, pd.DataFrame):
        raise UserError("данные должны быть таблицей pandas / data must be a pandas DataFrame")
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise UserError(f"в таблице нет столбцов / the data lack the columns {missing}; "
                        f"есть / present: {list(data.columns)}")
    if len(data) == 0:
        raise UserError("нет ни одного ребёнка для анализа / no children to analyse")


def _durations(data: pd.DataFrame, duration: str) -> np.ndarray:
    s = data[duration]
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        raise UserError(f"длительность должна быть числом / the duration {duration!r} must be numeric, "
                        f"not {s.dtype}")
    t = s.to_numpy(dtype=float)
    bad = ~np.isfinite(t)
    if bad.any():
        raise UserError(f"в столбце {duration!r} {int(bad.sum())} пропущенных или бесконечных длительностей / "
                        f"{int(bad.sum())} missing or infinite durations in {duration!r} "
                        f"(first at row {data.index[np.argmax(bad)]!r})")
    if (t < 0).any():
        i = int(np.argmax(t < 0))
        raise UserError(f"отрицательная длительность / negative duration {t[i]:g} in {duration!r} "
                        f"at row {data.index[i]!r}: the event cannot precede the start of follow-up")
    return t


def _is_censored(s: pd.Series) -> np.ndarray:
    """0 (a number, or the text "0" as read from a CSV) marks a child with no event."""
    if pd.api.types.is_bool_dtype(s):
        return ~s.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(s):
        return (s == 0).to_numpy()
    return np.array([(isinstance(v, str) and v.strip() == "0")
                     or (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and v == 0)
                     for v in s], dtype=bool)


def _event_codes(data: pd.DataFrame, event: str) -> tuple[np.ndarray, list]:
    """The event column as an object array (None = censored) and the causes present, ordered."""
    s = data[event]
    if s.isna().any():
        i = int(np.argmax(s.isna().to_numpy()))
        raise UserError(f"в столбце {event!r} {int(s.isna().sum())} пропусков: 0 означает «событий нет» / "
                        f"{int(s.isna().sum())} missing values in {event!r} (first at row {data.index[i]!r}); "
                        "use 0 for a child with no event (censored)")
    censored = _is_censored(s)
    codes = s.to_numpy(dtype=object).copy()
    codes[censored] = None
    present = list(pd.unique(codes[~censored]))
    return codes, _order_causes(present)


def _order_causes(causes) -> list:
    vocab = labels.codes("event")
    known = [c for c in vocab if c in causes]
    rest = [c for c in causes if c not in vocab]
    try:
        rest = sorted(rest)                        # 2 before 10
    except TypeError:
        rest = sorted(rest, key=str)               # mixed types
    return known + rest


def _check_cause(cause, present) -> None:
    if cause is None or (not isinstance(cause, str) and not np.isscalar(cause)):
        raise UserError(f"причина должна быть кодом события / the cause must be one event code, not {cause!r}")
    if cause in (0, "0"):
        raise UserError("0 означает цензурирование, а не причину / 0 marks censoring, not a cause")
    if cause not in present:
        raise UserError(f"нет такой причины в данных / unknown cause {cause!r}; "
                        f"в данных есть / the data have: {present}")


def cause_label(code, lang: str = "ru", names: dict | None = None) -> str:
    """How a cause reads in a legend: ``names[code]``, else the ``event`` vocabulary, else the code.

    >>> cause_label("relinquishment"), cause_label("relinquishment", "en"), cause_label(3, names={3: "other"})
    ('отказ от ребёнка', 'relinquishment', 'other')
    """
    if names and code in names:
        return str(names[code])
    try:
        return labels.label("event", code, lang)
    except KeyError:
        return str(code)


# ----------------------------------------------------------------------------- Aalen–Johansen

def _confint(p, se, alpha: float, conf_type: str):
    """R's ``survfit_confint`` (``logse = FALSE``, upper limit capped at 1)."""
    z = stats.norm.ppf(1 - alpha / 2)
    p, se = np.asarray(p, float), np.asarray(se, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            return np.maximum(p - z * se, 0), np.minimum(p + z * se, 1)
        rel = np.where(se == 0, 0.0, se / p)
        if conf_type == "log":
            pp = np.where(p == 0, np.nan, p)
            return pp * np.exp(-z * rel), np.minimum(pp * np.exp(z * rel), 1)
        pp = np.where((p == 0) | (p == 1), np.nan, p)
        half = z * rel / np.log(pp)
        return np.exp(-np.exp(np.log(-np.log(pp)) - half)), np.exp(-np.exp(np.log(-np.log(pp)) + half))


def _sum_by(values: np.ndarray, order, starts) -> np.ndarray:
    """Rows of ``values`` summed within clusters (``order`` sorts rows by cluster, ``starts`` from it)."""
    if order is None:
        return values
    return np.add.reduceat(values[order], starts, axis=0)


def _cluster_index(cluster_values):
    if cluster_values is None:
        return None, None
    codes = pd.factorize(pd.Series(cluster_values), sort=False)[0]
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
    return order, starts


def _ij_variance(pos: np.ndarray, cl: np.ndarray, coef: np.ndarray, b: np.ndarray, F: np.ndarray,
                 q: np.ndarray, o: np.ndarray, hit: np.ndarray) -> np.ndarray:
    """Σ_c U_cj² for every time j, without forming the n × J influence matrix.

    Child i (cluster ``cl``, leaving the risk set at time index ``pos``) has influence
    ``U_ij = F_j·coef_i + b_i`` once ``j > pos_i``, ``q_j + hit_i·o_j`` at ``j = pos_i`` and
    ``q_j`` before. Summed within a cluster, ``U_cj = F_j·α_c + β_c + M_c·q_j + d_c·o_j`` with
    α, β the sums of coef, b over members already gone, M the members still at risk and d the
    members with ``hit`` leaving at j. The squares are expanded into six cluster aggregates
    (Σα², Σβ², ΣM², Σαβ, ΣαM, ΣβM) that change only when a member leaves, so they are
    cumulative sums over the time grid; clusters with a hit at j get a correction term.
    """
    J = len(F)
    key = cl * J + pos
    ukey, g = np.unique(key, return_inverse=True)      # (cluster, time) groups, sorted by cluster then time
    gc, gp = ukey // J, ukey % J
    cnt = np.bincount(g).astype(float)
    A = np.bincount(g, weights=coef)
    B = np.bincount(g, weights=b)
    d = np.bincount(g, weights=hit.astype(float), minlength=len(ukey))
    size = np.bincount(cl).astype(float)
    frame = pd.DataFrame({"c": gc, "A": A, "B": B, "n": cnt})
    cum = frame.groupby("c", sort=False)[["A", "B", "n"]].cumsum().to_numpy()
    a_new, b_new = cum[:, 0], cum[:, 1]
    a_old, b_old = a_new - A, b_new - B
    m_old = size[gc] - (cum[:, 2] - cnt)
    m_new = m_old - cnt

    def agg(new, old, initial=0.0):                    # an aggregate at every j (members gone before j)
        return initial + np.cumsum(np.bincount(gp + 1, weights=new - old, minlength=J + 1))[:J]

    saa, sbb, sab = agg(a_new ** 2, a_old ** 2), agg(b_new ** 2, b_old ** 2), agg(a_new * b_new, a_old * b_old)
    smm = agg(m_new ** 2, m_old ** 2, initial=float((size ** 2).sum()))
    sam, sbm = agg(a_new * m_new, a_old * m_old), agg(b_new * m_new, b_old * m_old)
    var = F ** 2 * saa + sbb + q ** 2 * smm + 2 * F * sab + 2 * F * q * sam + 2 * q * sbm
    hit_g = d > 0
    lin = F[gp] * a_old + b_old + m_old * q[gp]
    var += np.bincount(gp[hit_g], weights=(2 * lin * d * o[gp] + (d * o[gp]) ** 2)[hit_g], minlength=J)
    return np.sqrt(np.maximum(var, 0.0))


def _aalen_johansen(time: np.ndarray, cause: np.ndarray, m: int, cluster=None):
    """The Aalen–Johansen estimate and its infinitesimal-jackknife standard errors.

    ``cause`` is 0 for censored and 1..m for the causes. Returns the distinct times, the
    numbers at risk, S (J), F (J × m) and their standard errors.
    """
    tau, pos = np.unique(time, return_inverse=True)
    J = len(tau)
    counts = np.bincount(pos * (m + 1) + cause, minlength=J * (m + 1)).reshape(J, m + 1).astype(float)
    n_risk = counts.sum(axis=1)[::-1].cumsum()[::-1]
    d_k = counts[:, 1:]
    lam_k = d_k / n_risk[:, None]
    lam = lam_k.sum(axis=1)
    surv = np.cumprod(1 - lam)
    s_prev = np.r_[1.0, surv[:-1]]
    phi = s_prev[:, None] * lam_k                      # the CIF increments
    cif = np.cumsum(phi, axis=0)

    # Influence of child i (leaving at time index p) on F_k(t_j), the derivative of the
    # estimate in the child's case weight, as R's survfit computes it:
    #   U = [j > p](F_kj - F_kp)(C_p - δ a) + q_k,min(j,p) + δ_k [p <= j] S(t_p-)/n_p
    # with C_j = Σ_{l<=j} λ_l / (n_l (1-λ_l)), q_k = cumsum(φ_k C_{l-1}) - cumsum(φ_k / n),
    # a = 1/(n_p(1-λ_p)); and on S(t_j): U = S_j [(C_p - δ a)[j > p] + C_j [j <= p] - δ a [p = j]].
    # Terms with λ = 1 (everyone left has the event, necessarily at the last time) never enter
    # a needed term and are set to 0.
    ok = lam < 1
    ratio = np.divide(lam, n_risk * (1 - lam), out=np.zeros(J), where=ok)
    C = np.cumsum(ratio)
    q = np.cumsum(phi * np.r_[0.0, C[:-1]][:, None], axis=0) - np.cumsum(phi / n_risk[:, None], axis=0)
    a_t = np.divide(1.0, n_risk * (1 - lam), out=np.zeros(J), where=ok)
    delta = cause > 0
    coef = C[pos] - np.where(delta, a_t[pos], 0.0)
    own = s_prev / n_risk
    cl = (np.arange(len(time)) if cluster is None
          else pd.factorize(pd.Series(cluster), sort=False)[0])
    se = np.column_stack([
        _ij_variance(pos, cl, coef, -cif[pos, k] * coef + q[pos, k] + np.where(cause == k + 1, own[pos], 0.0),
                     cif[:, k], q[:, k], own, cause == k + 1)
        for k in range(m)])
    se_surv = surv * _ij_variance(pos, cl, coef, np.zeros(len(time)), np.ones(J), C, -a_t, delta)
    return tau, n_risk, surv, cif, se_surv, se


def _step_at(times: np.ndarray, values: np.ndarray, t: float, last: float):
    """A right-continuous step function at ``t``: 0 before the first time, NaN after the last follow-up."""
    if t > last:
        return np.full(values.shape[1:], np.nan)
    i = np.searchsorted(times, t, side="right") - 1
    return values[i] if i >= 0 else np.zeros(values.shape[1:])


@dataclass
class CumulativeIncidence:
    """Aalen–Johansen cumulative incidence curves of each cause, overall or by group.

    Attributes
    ----------
    curves : DataFrame
        group, cause, time, n_risk, cif, se, ci_low, ci_high — at every distinct observed time
        (R's ``survfit``). ``ci_low``/``ci_high`` are NaN where the CIF is still 0.
    summary : DataFrame
        group, cause, time, cif, se, ci_low, ci_high at the requested ``times`` (NaN beyond the
        longest follow-up of the group).
    event_free : DataFrame
        group, time, n_risk, prob, se, ci_low, ci_high: the probability of no event yet
        (Kaplan–Meier of any cause); with the CIFs it sums to 1 at every time.
    causes : list
        The causes reported, in order.
    """

    curves: pd.DataFrame
    summary: pd.DataFrame
    event_free: pd.DataFrame
    causes: list
    groups: list
    alpha: float = 0.05
    conf_type: str = "log"
    by: str | None = None

    def _group_title(self, group, lang: str) -> str:
        if group == ALL and self.by is None:
            return _WORDS[lang]["all"]
        try:
            name = labels.field_label(self.by, lang)
        except KeyError:
            name = self.by
        return f"{name}: {group}"

    def plot(self, lang: str = "ru", labels: dict | None = None, kind: str = "stacked", ci: bool = True):
        """The CIF curves of every cause.

        Parameters
        ----------
        lang : {"ru", "en"}
        labels : dict, optional
            Legend labels by cause code; by default the ``event`` vocabulary of
            :mod:`evalkit.labels`, or the code itself.
        kind : {"stacked", "side"}
            ``"stacked"``: one panel per group, the CIFs stacked (the top edge is the share of
            children who left the family by any route). ``"side"``: one panel per cause, the
            groups side by side as curves with confidence bands (``ci``).

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt

        if lang not in _WORDS:
            raise UserError(f"язык / lang must be one of {list(_WORDS)}, not {lang!r}")
        if kind not in ("stacked", "side"):
            raise UserError(f"вид графика / kind must be 'stacked' or 'side', not {kind!r}")
        w = _WORDS[lang]
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        panels = self.groups if kind == "stacked" else self.causes
        fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels) + 1.0, 4.0), sharey=True,
                                 squeeze=False)
        for ax, panel in zip(axes[0], panels):
            if kind == "stacked":
                c = self.curves[self.curves["group"] == panel]
                bottom = None
                for i, cause in enumerate(self.causes):
                    cc = c[c["cause"] == cause]
                    t = np.r_[0.0, cc["time"].to_numpy()]
                    y = np.r_[0.0, cc["cif"].to_numpy()]
                    base = np.zeros_like(y) if bottom is None else bottom
                    ax.fill_between(t, base, base + y, step="post", color=colours[i % len(colours)], alpha=0.8,
                                    label=cause_label(cause, lang, labels))
                    bottom = base + y
                ax.set_title(self._group_title(panel, lang))
            else:
                c = self.curves[self.curves["cause"] == panel]
                for i, group in enumerate(self.groups):
                    cc = c[c["group"] == group]
                    t = np.r_[0.0, cc["time"].to_numpy()]
                    colour = colours[i % len(colours)]
                    ax.step(t, np.r_[0.0, cc["cif"].to_numpy()], where="post", color=colour,
                            label=self._group_title(group, lang))
                    if ci:
                        ax.fill_between(t, np.r_[0.0, cc["ci_low"].fillna(0).to_numpy()],
                                        np.r_[0.0, cc["ci_high"].fillna(0).to_numpy()], step="post",
                                        color=colour, alpha=0.2, lw=0)
                ax.set_title(cause_label(panel, lang, labels))
            ax.set_xlabel(w["time"])
            ax.set_ylim(bottom=0)
            ax.spines[["top", "right"]].set_visible(False)
        axes[0][0].set_ylabel(w["cif"])
        if kind == "stacked":
            handles, names = axes[0][0].get_legend_handles_labels()
            fig.legend(handles, names, loc="lower center", ncol=len(names), frameon=False, fontsize="small")
            fig.tight_layout(rect=(0, 0.08, 1, 1))
        else:
            axes[0][-1].legend(frameon=False, fontsize="small", loc="upper left")
            fig.tight_layout()
        return fig


def cumulative_incidence(data: pd.DataFrame, duration: str, event: str, *, causes=None, group: str | None = None,
                         times=(6, 12, 36), alpha: float = 0.05, cluster: str | None = None,
                         conf_type: str = "log") -> CumulativeIncidence:
    """Aalen–Johansen cumulative incidence of each cause of leaving the family.

    Parameters
    ----------
    data : DataFrame
        One row per child.
    duration : str
        Column of follow-up times (≥ 0; whole months or days, ties allowed).
    event : str
        Column with ``0`` for a child with no event (censored) and the cause code otherwise.
    causes : list, optional
        The causes to report, in this order (default: every cause in the data, the
        ``event`` vocabulary's order first). Causes not listed still compete: they are
        events, never censoring.
    group : str, optional
        Estimate separately for each value of this column.
    times : sequence of float
        Times for :attr:`CumulativeIncidence.summary`.
    alpha : float
        1 − confidence level of the intervals.
    cluster : str, optional
        Cluster column (the family): standard errors allow for siblings sharing fate (R:
        ``survfit(..., cluster = family)``). Default: children independent.
    conf_type : {"log", "log-log", "plain"}
        Scale of the confidence intervals (R's ``conf.type``; R's default ``"log"``).

    Returns
    -------
    CumulativeIncidence

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"t": [1, 2, 2, 3, 4], "e": [1, 2, 0, 1, 0]})
    >>> ci = cumulative_incidence(d, "t", "e", times=[2, 4])
    >>> ci.summary[["cause", "time", "cif"]]
       cause  time  cif
    0      1     2  0.2
    1      1     4  0.5
    2      2     2  0.2
    3      2     4  0.2
    >>> ci.event_free["prob"].round(2).tolist()
    [0.8, 0.6, 0.3, 0.3]
    """
    needed = [duration, event] + ([group] if group else []) + ([cluster] if cluster else [])
    _columns(data, needed)
    if conf_type not in _CONF_TYPES:
        raise UserError(f"conf_type должен быть одним из / must be one of {_CONF_TYPES}, not {conf_type!r}")
    if not 0 < alpha < 1:
        raise UserError(f"alpha должна быть между 0 и 1 / alpha must lie between 0 and 1, not {alpha!r}")
    t = _durations(data, duration)
    codes, present = _event_codes(data, event)
    if not present:
        raise UserError(f"в столбце {event!r} нет ни одного события / no events in {event!r}: every child is censored")
    if causes is None:
        causes = present
    else:
        causes = [causes] if isinstance(causes, str) or np.isscalar(causes) else list(causes)
        for c in causes:
            _check_cause(c, present)
    index = {c: i + 1 for i, c in enumerate(present)}
    cause_num = np.array([0 if c is None else index[c] for c in codes], dtype=np.int64)
    for col in (group, cluster):
        if col and data[col].isna().any():
            raise UserError(f"в столбце {col!r} есть пропуски / the column {col!r} has missing values")
    if group:
        gvals = data[group].to_numpy()
        groups = list(pd.unique(gvals))
        try:
            groups = sorted(groups)
        except TypeError:
            pass
    else:
        gvals, groups = None, [ALL]
    cl = data[cluster].to_numpy() if cluster else None
    wanted = [index[c] - 1 for c in causes]

    curves, summary, free = [], [], []
    for g in groups:
        sel = np.ones(len(t), bool) if gvals is None else (gvals == g)
        tau, n_risk, surv, cif, se_s, se = _aalen_johansen(t[sel], cause_num[sel], len(present),
                                                             None if cl is None else cl[sel])
        for c, k in zip(causes, wanted):
            lo, hi = _confint(cif[:, k], se[:, k], alpha, conf_type)
            curves.append(pd.DataFrame({"group": g, "cause": c, "time": tau, "n_risk": n_risk.astype(int),
                                        "cif": cif[:, k], "se": se[:, k], "ci_low": lo, "ci_high": hi}))
            for time in times:
                v = _step_at(tau, np.column_stack([cif[:, k], se[:, k]]), time, tau[-1])
                lo1, hi1 = _confint(v[:1], v[1:], alpha, conf_type)
                summary.append({"group": g, "cause": c, "time": time, "cif": v[0], "se": v[1],
                                "ci_low": lo1[0], "ci_high": hi1[0]})
        lo, hi = _confint(surv, se_s, alpha, conf_type)
        free.append(pd.DataFrame({"group": g, "time": tau, "n_risk": n_risk.astype(int), "prob": surv, "se": se_s,
                                  "ci_low": lo, "ci_high": hi}))
    return CumulativeIncidence(
        curves=pd.concat(curves, ignore_index=True),
        summary=pd.DataFrame(summary, columns=["group", "cause", "time", "cif", "se", "ci_low", "ci_high"]),
        event_free=pd.concat(free, ignore_index=True), causes=list(causes), groups=groups, alpha=alpha, by=group,
        conf_type=conf_type)


# ----------------------------------------------------------------------------- Fine–Gray

_CONVENTIONS = ("finegray", "crr")


def censoring_survival(time, censored, convention: str = "finegray") -> tuple[np.ndarray, np.ndarray]:
    """Kaplan–Meier of the censoring distribution, ``G``, at the times someone is censored.

    ``convention="finegray"`` (R's ``survival::finegray``): at a time with both events and
    censorings the events come first, so a child with an event at ``t`` is not at risk of
    being censored at ``t``. ``"crr"`` (``cmprsk::crr``): every child still followed at
    ``t`` is at risk of censoring at ``t``.

    >>> censoring_survival([1, 2, 2, 3, 4], [False, False, True, False, True])
    (array([2., 4.]), array([0.66666667, 0.        ]))
    >>> censoring_survival([1, 2, 2, 3, 4], [False, False, True, False, True], convention="crr")
    (array([2., 4.]), array([0.75, 0.  ]))
    """
    if convention not in _CONVENTIONS:
        raise UserError(f"convention должна быть одной из / must be one of {_CONVENTIONS}, not {convention!r}")
    time = np.asarray(time, float)
    censored = np.asarray(censored, bool)
    tau, pos = np.unique(time, return_inverse=True)
    n_at = np.bincount(pos, minlength=len(tau))[::-1].cumsum()[::-1].astype(float)
    c = np.bincount(pos, weights=censored.astype(float), minlength=len(tau))
    if convention == "finegray":
        n_at = n_at - np.bincount(pos, weights=(~censored).astype(float), minlength=len(tau))
    keep = c > 0
    return tau[keep], np.cumprod(1 - c[keep] / n_at[keep])


def _g_minus(ctimes: np.ndarray, g: np.ndarray, t) -> np.ndarray:
    """G(t-): the censoring survival just before ``t``."""
    i = np.searchsorted(ctimes, t, side="left")
    if len(g) == 0:
        return np.ones(np.shape(i))
    return np.where(i > 0, g[np.maximum(i - 1, 0)], 1.0)


def finegray_data(data: pd.DataFrame, duration: str, event: str, cause, *, prefix: str = "fg",
                  convention: str = "finegray") -> pd.DataFrame:
    """The Fine–Gray counting-process data, row for row as R's ``survival::finegray()``.

    Children with the event of interest, censored children and children with a competing
    event keep one row ``(fgstart, fgstop]`` with weight 1; a competing-event child's row
    runs to the next censoring time, and the child gets one more row for every later
    interval between censoring times that contains an event of interest, weighted
    ``G(start)/G(T_i-)`` (IPCW; ``G`` from :func:`censoring_survival`). ``fgstatus`` is 1
    for the event of interest. The other columns of ``data`` are repeated; ``fg_row`` is
    the position of the original row. :func:`fine_gray` fits the same model without
    building these rows; use them to fit other models or to see the construction.
    ``convention`` is passed to :func:`censoring_survival`.

    Examples
    --------
    >>> d = pd.DataFrame({"t": [1, 2, 3, 4, 5], "e": [2, 0, 1, 0, 1]})
    >>> finegray_data(d, "t", "e", 1)[["fg_row", "fgstart", "fgstop", "fgstatus", "fgwt"]]
       fg_row  fgstart  fgstop  fgstatus   fgwt
    0       0      0.0     2.0         0  1.000
    1       0      2.0     4.0         0  0.750
    2       0      4.0     5.0         0  0.375
    3       1      0.0     2.0         0  1.000
    4       2      0.0     3.0         1  1.000
    5       3      0.0     4.0         0  1.000
    6       4      0.0     5.0         1  1.000
    """
    _columns(data, [duration, event])
    t = _durations(data, duration)
    codes, present = _event_codes(data, event)
    _check_cause(cause, present)
    censored = np.array([c is None for c in codes])
    target = np.array([c is not None and c == cause for c in codes])
    competing = ~censored & ~target
    ctimes, g = censoring_survival(t, censored, convention)
    zero = 0.0 if t.min() > 0 else 2 * t.min() - 1
    ct2 = np.r_[ctimes, t.max()]
    cp2 = np.r_[1.0, g]
    # interval j is (ct2[j-1], ct2[j]]; keep the intervals that contain an event of interest
    kept = np.unique(np.searchsorted(ct2, np.unique(t[target]), side="left"))
    kept = kept[kept > 0]
    j0 = np.searchsorted(ct2, t, side="left")          # the interval each child's time falls in
    stop = np.where(competing, ct2[np.minimum(j0, len(ct2) - 1)], t)
    n_extra = np.where(competing, len(kept) - np.searchsorted(kept, j0, side="right"), 0)
    rows = np.repeat(np.arange(len(t)), 1 + n_extra)
    first = np.r_[0, np.cumsum(1 + n_extra)[:-1]]
    rank = np.arange(len(rows)) - np.repeat(first, 1 + n_extra)   # 0 = the original row
    is_extra = rank > 0
    j = np.zeros(len(rows), dtype=np.int64)
    if is_extra.any():
        start_k = np.searchsorted(kept, j0, side="right")
        j[is_extra] = kept[(np.repeat(start_k, 1 + n_extra) + rank - 1)[is_extra]]
    out = data.iloc[rows].reset_index(drop=True)
    out["fg_row"] = rows
    out[f"{prefix}start"] = np.where(is_extra, ct2[np.maximum(j - 1, 0)], zero)
    out[f"{prefix}stop"] = np.where(is_extra, ct2[j], stop[rows])
    out[f"{prefix}status"] = (target[rows] & ~is_extra).astype(int)
    out[f"{prefix}wt"] = np.where(is_extra, cp2[j] / cp2[np.minimum(j0[rows], len(cp2) - 1)], 1.0)
    return out


def _binned(pos: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Column sums of ``values`` (n × q) by ``pos`` (0..size-1)."""
    out = np.empty((size, values.shape[1]))
    for c in range(values.shape[1]):
        out[:, c] = np.bincount(pos, weights=values[:, c], minlength=size)
    return out


class _FGModel:
    """The weighted partial likelihood of the Fine–Gray model, with R's Breslow/Efron formulas.

    Children are at risk with weight 1 at event times ``t_k <= T_i``; a competing-event child
    also at ``t_k > T_i`` with weight ``g_k * h_i`` (``g_k = G(t_k-)``, ``h_i = 1/G(T_i-)``).
    """

    def __init__(self, t, target, competing, ctimes, g, x, ties):
        self.x, self.ties = x, ties
        self.n, self.p = x.shape
        self.tk = np.unique(t[target])
        self.K = len(self.tk)
        self.pos = np.searchsorted(self.tk, t, side="right")      # at risk (weight 1) for k < pos
        self.target, self.competing = target, competing
        self.gk = _g_minus(ctimes, g, self.tk)
        self.h = np.where(competing, 1.0 / _g_minus(ctimes, g, t), 0.0)
        self.kdeath = self.pos[target] - 1
        self.D = np.bincount(self.kdeath, minlength=self.K).astype(float)
        iu = np.triu_indices(self.p)
        self._iu = iu
        self._xx = x[:, iu[0]] * x[:, iu[1]]
        if ties == "efron":
            order = np.argsort(self.kdeath, kind="stable")
            kk = self.kdeath[order]
            first = np.searchsorted(kk, np.arange(self.K))
            self.kk = kk
            self.frac = (np.arange(len(kk)) - first[kk]) / self.D[kk]

    def _full(self, flat: np.ndarray) -> np.ndarray:
        """(K × p(p+1)/2) upper triangles -> (K × p × p)."""
        out = np.zeros((flat.shape[0], self.p, self.p))
        out[:, self._iu[0], self._iu[1]] = flat
        out[:, self._iu[1], self._iu[0]] = flat
        return out

    def sums(self, beta):
        eta = self.x @ beta
        e = np.exp(eta)
        f = np.column_stack([e, e[:, None] * self.x, e[:, None] * self._xx])
        b = _binned(self.pos, f, self.K + 1)
        at_risk = b[::-1].cumsum(axis=0)[::-1][1:]                 # Σ_{pos > k}
        bc = _binned(self.pos, f * self.h[:, None], self.K + 1)
        extended = bc.cumsum(axis=0)[:-1]                           # Σ_{competing, pos <= k} h f
        s = at_risk + self.gk[:, None] * extended
        dead = _binned(self.kdeath, f[self.target], self.K)
        return eta, e, s, dead

    def evaluate(self, beta):
        """log partial likelihood, score, information, and what the residuals need."""
        p = self.p
        eta, e, s, dead = self.sums(beta)
        s0, s1, s2 = s[:, 0], s[:, 1:1 + p], self._full(s[:, 1 + p:])
        xd = self.x[self.target].sum(axis=0)
        if self.ties == "breslow":
            xbar = s1 / s0[:, None]
            ll = eta[self.target].sum() - (self.D * np.log(s0)).sum()
            score = xd - (self.D[:, None] * xbar).sum(axis=0)
            info = (self.D[:, None, None] * (s2 / s0[:, None, None] - xbar[:, :, None] * xbar[:, None, :])).sum(0)
            haz = self.D / s0
            aux = {"haz": haz, "xhaz": xbar * haz[:, None], "xbar": xbar}
        else:
            kk, frac = self.kk, self.frac
            e0, e1, e2 = dead[:, 0], dead[:, 1:1 + p], self._full(dead[:, 1 + p:])
            d2 = s0[kk] - frac * e0[kk]
            a = (s1[kk] - frac[:, None] * e1[kk]) / d2[:, None]
            ll = eta[self.target].sum() - np.log(d2).sum()
            score = xd - a.sum(axis=0)
            info = ((s2[kk] - frac[:, None, None] * e2[kk]) / d2[:, None, None]
                    - a[:, :, None] * a[:, None, :]).sum(axis=0)
            per_k = lambda v: _binned(kk, v.reshape(len(kk), -1), self.K)  # noqa: E731
            aux = {"haz": per_k(1 / d2)[:, 0], "xhaz": per_k(a / d2[:, None]),
                   "mh1": per_k(frac / d2)[:, 0], "mh2": per_k(a * (frac / d2)[:, None]), "mh3": per_k(a) / self.D[:, None]}
        return ll, score, info, e, aux

    def score_residuals(self, e, aux) -> np.ndarray:
        """Each child's weighted score residual, summed over the child's intervals (R ``agscore3``)."""
        x, pos = self.x, self.pos
        haz, xhaz = aux["haz"], aux["xhaz"]
        cum_h = np.r_[0.0, np.cumsum(haz)]                          # Σ_{k < pos}
        cum_xh = np.vstack([np.zeros(self.p), np.cumsum(xhaz, axis=0)])
        g_h = np.r_[np.cumsum((self.gk * haz)[::-1])[::-1], 0.0]    # Σ_{k >= pos} g_k haz_k
        g_xh = np.vstack([np.cumsum((self.gk[:, None] * xhaz)[::-1], axis=0)[::-1], np.zeros(self.p)])
        u = -e[:, None] * (x * cum_h[pos][:, None] - cum_xh[pos])
        u -= (e * self.h)[:, None] * (x * g_h[pos][:, None] - g_xh[pos])
        i, k = np.flatnonzero(self.target), self.kdeath
        if self.ties == "breslow":
            u[i] += x[i] - aux["xbar"][k]
        else:
            u[i] += (x[i] - aux["mh3"][k]) + e[i][:, None] * (x[i] * aux["mh1"][k][:, None] - aux["mh2"][k])
        return u


@dataclass
class FineGrayResult:
    """A Fine–Gray subdistribution hazards fit for one cause.

    Attributes
    ----------
    summary : DataFrame
        covariate, coef, se (model-based), robust_se (sandwich, by ``cluster`` or by child),
        hr, hr_low, hr_high, z, p — intervals and p-values from the robust errors.
    params : Series
        The coefficients (log subdistribution hazard ratios), by covariate.
    cov : DataFrame
        The robust covariance matrix of the coefficients.
    """

    summary: pd.DataFrame
    params: pd.Series
    cov: pd.DataFrame
    cause: object
    ties: str
    cluster: str | None
    n: int
    n_events: int
    n_competing: int
    n_censored: int
    n_clusters: int
    loglik: float
    iterations: int
    alpha: float = 0.05
    naive_cov: pd.DataFrame = field(default=None, repr=False)

    def table(self, lang: str = "ru") -> pd.DataFrame:
        """The summary as a report shows it: labelled covariates, HR (95% CI), p."""
        if lang not in _WORDS:
            raise UserError(f"язык / lang must be one of {list(_WORDS)}, not {lang!r}")
        w = _WORDS[lang]
        dec = "," if lang == "ru" else "."

        def num(v):
            return f"{v:.2f}".replace(".", dec)

        def name(c):
            try:
                return labels.field_label(c, lang)
            except KeyError:
                return c

        s = self.summary
        return pd.DataFrame({
            w["covariate"]: [name(c) for c in s["covariate"]],
            f'{w["shr"]} ({w["ci"]})': [f"{num(h)} ({num(lo)}–{num(hi)})"
                                        for h, lo, hi in zip(s["hr"], s["hr_low"], s["hr_high"])],
            w["p"]: [("<0,001" if lang == "ru" else "<0.001") if p < 0.001 else f"{p:.3f}".replace(".", dec)
                     for p in s["p"]],
        })


def fine_gray(data: pd.DataFrame, duration: str, event: str, cause, covariates, *, cluster: str | None = None,
              ties: str = "breslow", alpha: float = 0.05, convention: str = "finegray", max_iter: int = 50,
              tol: float = 1e-10) -> FineGrayResult:
    """Fine–Gray proportional subdistribution hazards regression for one cause.

    The model of R's ``finegray()`` + ``coxph(Surv(fgstart, fgstop, fgstatus) ~ ..., weights =
    fgwt, cluster = ...)``: a weighted Cox model in which children who left the family for a
    competing reason stay at risk with inverse-probability-of-censoring weights (see the
    module notes for the construction and why it is fitted here rather than by lifelines).

    Parameters
    ----------
    data : DataFrame
        One row per child.
    duration, event : str
        As :func:`cumulative_incidence` (``0`` = censored, a cause code otherwise).
    cause
        The cause of interest (e.g. ``"removal"``); every other cause competes.
    covariates : list of str
        Numeric or boolean columns, without missing values (make indicators of categories
        first, e.g. with ``pandas.get_dummies``).
    cluster : str, optional
        Cluster column (the family) for the robust errors; default: the child.
    ties : {"breslow", "efron"}
        Handling of tied event times (``cmprsk::crr`` uses Breslow; R's ``coxph`` Efron).
    alpha : float
        1 − confidence level of the hazard-ratio intervals.
    convention : {"finegray", "crr"}
        How the censoring distribution treats events and censorings at the same time:
        R ``survival::finegray``'s way (default) or ``cmprsk::crr``'s (see
        :func:`censoring_survival`). They differ only when such ties exist.
    max_iter, tol : int, float
        Newton–Raphson limits (the fit stops when no coefficient moves by more than ``tol``).

    Returns
    -------
    FineGrayResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> d = pd.DataFrame({"t": rng.integers(1, 30, 200), "x": rng.normal(size=200),
    ...                   "e": rng.choice([0, "removal", "relinquishment"], 200)})
    >>> fg = fine_gray(d, "t", "e", "removal", ["x"])
    >>> list(fg.summary.columns)
    ['covariate', 'coef', 'se', 'robust_se', 'hr', 'hr_low', 'hr_high', 'z', 'p']
    """
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    if not covariates:
        raise UserError("нужен хотя бы один фактор / give at least one covariate")
    if ties not in ("breslow", "efron"):
        raise UserError(f"ties должен быть 'breslow' или 'efron' / ties must be 'breslow' or 'efron', not {ties!r}")
    if not 0 < alpha < 1:
        raise UserError(f"alpha должна быть между 0 и 1 / alpha must lie between 0 and 1, not {alpha!r}")
    _columns(data, [duration, event] + covariates + ([cluster] if cluster else []))
    t = _durations(data, duration)
    codes, present = _event_codes(data, event)
    _check_cause(cause, present)
    cols = []
    for c in covariates:
        s = data[c]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            raise UserError(f"фактор {c!r} не числовой ({s.dtype}): закодируйте категории индикаторами / "
                            f"covariate {c!r} is not numeric ({s.dtype}); code categories as indicators "
                            "(e.g. pandas.get_dummies)")
        v = s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        if np.isnan(v).any():
            raise UserError(f"в факторе {c!r} {int(np.isnan(v).sum())} пропусков / {int(np.isnan(v).sum())} missing "
                            f"values in covariate {c!r}: drop or impute those rows first")
        if np.ptp(v) == 0:
            raise UserError(f"фактор {c!r} не меняется / covariate {c!r} is constant")
        cols.append(v)
    if cluster and data[cluster].isna().any():
        raise UserError(f"в столбце {cluster!r} есть пропуски / the cluster column {cluster!r} has missing values")
    x = np.column_stack(cols)
    x = x - x.mean(axis=0)                      # centring changes nothing but the numerics (as R's coxph)
    censored = np.array([c is None for c in codes])
    target = np.array([c is not None and c == cause for c in codes])
    competing = ~censored & ~target
    ctimes, g = censoring_survival(t, censored, convention)
    model = _FGModel(t, target, competing, ctimes, g, x, ties)

    beta = np.zeros(x.shape[1])
    ll, score, info, e, aux = model.evaluate(beta)
    converged = False
    for it in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            raise UserError("модель не оценивается: факторы линейно зависимы / the model cannot be fitted: "
                            "the covariates are collinear") from None
        for _ in range(30):                     # step halving, as R's coxph does when the likelihood drops
            new = beta + step
            ll_new, score_new, info_new, e_new, aux_new = model.evaluate(new)
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * abs(ll):
                break
            step = step / 2
        beta, ll, score, info, e, aux = new, ll_new, score_new, info_new, e_new, aux_new
        if np.max(np.abs(step)) < tol:
            converged = True
            break
    if not converged:
        warnings.warn(f"Fine–Gray: no convergence in {max_iter} iterations (last step {np.max(np.abs(step)):.2g})",
                      RuntimeWarning, stacklevel=2)
    naive = np.linalg.inv(info)
    u = model.score_residuals(e, aux)
    order, starts = _cluster_index(data[cluster].to_numpy() if cluster else None)
    uc = _sum_by(u, order, starts)
    robust = naive @ (uc.T @ uc) @ naive
    se, rse = np.sqrt(np.diag(naive)), np.sqrt(np.diag(robust))
    z = stats.norm.ppf(1 - alpha / 2)
    summary = pd.DataFrame({"covariate": covariates, "coef": beta, "se": se, "robust_se": rse,
                            "hr": np.exp(beta), "hr_low": np.exp(beta - z * rse), "hr_high": np.exp(beta + z * rse),
                            "z": beta / rse, "p": 2 * stats.norm.sf(np.abs(beta / rse))})
    return FineGrayResult(
        summary=summary, params=pd.Series(beta, index=covariates, name="coef"),
        cov=pd.DataFrame(robust, index=covariates, columns=covariates), cause=cause, ties=ties, cluster=cluster,
        n=len(t), n_events=int(target.sum()), n_competing=int(competing.sum()), n_censored=int(censored.sum()),
        n_clusters=len(uc), loglik=float(ll), iterations=it, alpha=alpha,
        naive_cov=pd.DataFrame(naive, index=covariates, columns=covariates))
