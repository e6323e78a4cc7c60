"""Interval-censored survival (evalkit.interval): against R, known truth, lifelines and by hand.

The reference frame ``tests/reference/interval_data.csv`` (1,981 children in 800 families,
irregular contacts, a family frailty) is written by ``tests/reference/interval_make_data.py``
and R's results on it by ``tests/reference/interval.R`` (survival's ``survfit`` Turnbull
estimate, a plainly coded self-consistency EM run to convergence, the cloglog ``glm`` and
``geepack::geeglm``); both are committed, so these tests need no R. With ``Rscript`` on the
PATH and ``EVALKIT_R_REFERENCE=1`` one more test reruns the R script and checks the
committed results are still what R says.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalkit import interval
from evalkit.errors import DataError, UserError

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / "tests" / "reference"
COVARIATES = ["x1", "x2"]


@pytest.fixture(scope="module")
def ref_data() -> pd.DataFrame:
    return pd.read_csv(REF / "interval_data.csv")          # "inf" reads as np.inf


@pytest.fixture(scope="module")
def curves(ref_data):
    """Turnbull fits on the reference data: overall and by x1 (no bootstrap)."""
    return {"all": interval.turnbull(ref_data, "lower", "upper", n_boot=0),
            "x1": interval.turnbull(ref_data, "lower", "upper", group="x1", n_boot=0)}


@pytest.fixture(scope="module")
def ref_periods(ref_data) -> pd.DataFrame:
    return interval.person_periods(ref_data, "lower", "upper", period=6, horizon=36, covariates=COVARIATES,
                                   cluster="family_id")


def _by_group(fits) -> dict:
    out = {}
    for fit in fits.values():
        for g, iv in fit.intervals.groupby("group"):
            out[str(g)] = (iv, fit.fit[fit.fit["group"] == g].iloc[0])
    return out


# ----------------------------------------------------------------------------- Turnbull against R

def test_turnbull_npmle_matches_r_em_run_to_convergence(curves):
    r = pd.read_csv(REF / "interval_npmle.csv", dtype={"group": str})
    mine = _by_group(curves)
    assert set(mine) == set(r["group"]) == {"all", "0", "1"}
    for g, (iv, fit) in mine.items():
        rg = r[r["group"] == g]
        # the same Turnbull intervals, (L, R] convention: ours lists those with mass
        support = rg[rg["mass"] > 1e-6]
        assert fit["turnbull_intervals"] == len(rg)
        merged = rg.merge(iv, on=["left", "right"], how="left", suffixes=("_r", ""))
        merged["mass"] = merged["mass"].fillna(0.0)
        found = merged["point"].notna()
        assert (merged.loc[found, "point"].astype(bool) == merged.loc[found, "point_r"]).all()
        assert set(map(tuple, support[["left", "right"]].to_numpy())) <= set(map(tuple, iv[["left", "right"]].to_numpy()))
        # survival at every Turnbull interval's end, and every mass, to well inside 1e-4
        assert np.max(np.abs(np.cumsum(merged["mass"]) - np.cumsum(merged["mass_r"]))) < 1e-6, g
        assert np.max(np.abs(merged["mass"] - merged["mass_r"])) < 1e-6, g
        assert fit["loglik"] == pytest.approx(rg["loglik"].iloc[0], abs=1e-7)
        assert fit["converged"] and abs(fit["kkt"]) < 1e-6
        assert rg["kkt"].iloc[0] < 1e-6                    # R's EM did converge


def test_turnbull_matches_survfit_at_6_12_36_months(curves):
    r = pd.read_csv(REF / "interval_turnbull_times.csv", dtype={"group": str})
    mine = pd.concat([curves["all"].summary, curves["x1"].summary])
    mine["group"] = mine["group"].astype(str)
    m = r.merge(mine, on=["group", "time"], suffixes=("_r", ""))
    assert len(m) == 9
    overall = m[m["group"] == "all"]
    assert np.max(np.abs(overall["survival"] - overall["survival_r"])) < 1e-4
    # survfit stops when its curve moves < 5e-5 between iterations, short of the NPMLE;
    # by x1 that leaves it up to 3e-4 away (see interval_npmle.csv for the converged NPMLE)
    assert np.max(np.abs(m["survival"] - m["survival_r"])) < 5e-4


def test_turnbull_intervals_are_survfits(ref_data):
    """survfit puts each Turnbull interval's drop at its midpoint: it must use the same intervals.

    survfit also tries the gap between an exact time and the next right end (e.g. (0.25, 0.75]
    after an exact 0.25); every observation covering such a gap covers the exact point too, so
    the NPMLE puts no mass there (survfit's unconverged EM leaves up to 1e-5).
    """
    r = pd.read_csv(REF / "interval_turnbull_curve.csv", dtype={"group": str})
    for g, sub in (("all", ref_data), ("0", ref_data[ref_data["x1"] == 0]), ("1", ref_data[ref_data["x1"] == 1])):
        q, p, *_ = interval._turnbull_grid(sub["lower"].to_numpy(), sub["upper"].to_numpy())
        mids = set(((q + p) / 2)[np.isfinite(p)])
        rg = r[(r["group"] == g) & np.isfinite(r["time"])]
        drop = -np.diff(np.concatenate([[1.0], rg["survival"].to_numpy()]))
        assert mids <= set(rg["time"]), g
        assert set(rg["time"][drop > 1e-4]) <= mids, g
        assert len(mids) > 70


# ----------------------------------------------------------------------------- person-periods, GLM, GEE against R

def test_person_periods_match_r(ref_periods):
    r = pd.read_csv(REF / "interval_person_periods.csv")
    counts = ref_periods.groupby("period")["event"].agg(["size", "sum"]).reset_index()
    np.testing.assert_array_equal(counts["period"], r["period"])
    np.testing.assert_array_equal(counts["size"], r["at_risk"])
    np.testing.assert_array_equal(counts["sum"], r["events"])


def test_cloglog_glm_matches_r(ref_periods):
    r = pd.read_csv(REF / "interval_glm.csv")
    fit = interval.discrete_time_model(ref_periods, COVARIATES, method="glm")
    c = fit.coefficients
    assert fit.converged and fit.cov_type == "model"
    assert r["term"].tolist() == [f"factor(period){k}" for k in fit.baseline["period"]] + COVARIATES
    np.testing.assert_allclose(c["coef"], r["coef"], rtol=1e-6)
    np.testing.assert_allclose(c["se"], r["se"], rtol=1e-6)
    s = fit.summary.set_index("term")
    assert s.loc["x1", "hr"] == pytest.approx(np.exp(r["coef"].iloc[-2]), rel=1e-6)
    coef, se = r["coef"].iloc[-2], r["se"].iloc[-2]
    assert s.loc["x1", "ci_low"] == pytest.approx(np.exp(coef - 1.959964 * se), rel=1e-6)
    assert s.loc["x1", "ci_high"] == pytest.approx(np.exp(coef + 1.959964 * se), rel=1e-6)
    assert s.loc["x1", "p"] == pytest.approx(2 * stats.norm.sf(abs(coef / se)), rel=1e-6)
    # the period's separation probability at covariates 0 (inverse cloglog)
    np.testing.assert_allclose(fit.baseline["hazard"], 1 - np.exp(-np.exp(r["coef"].iloc[:-2])), rtol=1e-6)


@pytest.mark.parametrize("corstr", ["independence", "exchangeable"])
def test_gee_matches_geepack(ref_periods, corstr):
    r = pd.read_csv(REF / "interval_gee.csv")
    r = r[r["corstr"] == corstr]
    fit = interval.discrete_time_model(ref_periods, COVARIATES, cluster="family_id", method="gee", corstr=corstr)
    assert fit.converged and fit.cov_type == "robust" and fit.n_clusters == ref_periods["family_id"].nunique()
    np.testing.assert_allclose(fit.coefficients["coef"], r["coef"], rtol=1e-6)
    np.testing.assert_allclose(fit.coefficients["se"], r["se"], rtol=1e-4)
    if corstr == "exchangeable":
        assert fit.dep_params == pytest.approx(r["alpha"].iloc[0], rel=1e-6)


def test_glm_cluster_errors_are_the_gee_sandwich_with_small_sample_factor(ref_periods):
    r = pd.read_csv(REF / "interval_gee.csv")
    r = r[r["corstr"] == "independence"]
    fit = interval.discrete_time_model(ref_periods, COVARIATES, cluster="family_id", method="glm")
    g, n, k = ref_periods["family_id"].nunique(), len(ref_periods), len(r)
    factor = np.sqrt(g / (g - 1) * (n - 1) / (n - k))
    assert fit.cov_type == "cluster"
    # statsmodels' GLM sandwich uses the observed information, geepack the expected one:
    # equal up to the difference between the two for the (non-canonical) cloglog link
    np.testing.assert_allclose(fit.coefficients["se"], r["se"] * factor, rtol=1e-2)
    naive = interval.discrete_time_model(ref_periods, COVARIATES, method="glm").summary.set_index("term")
    assert fit.summary.set_index("term").loc["x1", "se"] > 1.15 * naive.loc["x1", "se"]   # x1 is per family


# ----------------------------------------------------------------------------- by hand

def test_turnbull_by_hand_three_intervals():
    """(0,2], (0,2], (1,3], (2,inf), (3,inf): Turnbull intervals (1,2], (2,3], (3,inf).

    The likelihood is p1^2 (p1+p2) (p2+p3) p3. At p2 = 0 it is p1^3 p3^2, maximal at
    p1 = 3/5, p3 = 2/5; the optimality condition of Gentleman & Geyer (1994) holds:
    d1 = (2/p1 + 1/p1)/5 = 1, d3 = (1/p3 + 1/p3)/5 = 1 and d2 = (1/p1 + 1/p3)/5 = 5/6 < 1,
    so p2 = 0. S(t) = 1 up to 1, 2/5 from 2 to 3, and not determined beyond 3.
    """
    d = pd.DataFrame({"L": [0, 0, 1, 2, 3], "R": [2, 2, 3, np.inf, np.inf]})
    fit = interval.turnbull(d, "L", "R", times=[0.5, 1.5, 2.5, 3.5], n_boot=0)
    assert fit.fit["turnbull_intervals"].iloc[0] == 3
    iv = fit.intervals
    assert iv[["left", "right"]].to_numpy().tolist() == [[1, 2], [3, np.inf]]
    np.testing.assert_allclose(iv["mass"], [3 / 5, 2 / 5], atol=1e-9)
    assert fit.fit["loglik"].iloc[0] == pytest.approx(np.log((3 / 5) ** 3 * (2 / 5) ** 2), abs=1e-9)
    s = fit.summary
    np.testing.assert_allclose(s["survival"], [1, 0.4, 0.4, 0.4], atol=1e-9)   # R: drop at midpoint 1.5
    np.testing.assert_allclose(s["survival_min"], [1, 0.4, 0.4, 0], atol=1e-9)
    np.testing.assert_allclose(s["survival_max"], [1, 1, 0.4, 0.4], atol=1e-9)
    assert s["determined"].tolist() == [True, False, True, False]
    np.testing.assert_allclose(fit.curves["survival"], [1, 1, 0.4, 0.4], atol=1e-9)
    assert fit.curves["time"].tolist() == [0, 1, 2, 3]


def test_turnbull_by_hand_symmetric():
    """(0,2], (1,3], (2,4], (3,inf): intervals (1,2], (2,3], (3,4]; likelihood p1 (p1+p2) (p2+p3) p3.

    By symmetry p1 = p3 = a, p2 = 1 - 2a, likelihood a^2 (1-a)^2: a = 1/2, p2 = 0.
    """
    d = pd.DataFrame({"L": [0, 1, 2, 3], "R": [2, 3, 4, np.inf]})
    fit = interval.turnbull(d, "L", "R", times=[2, 3], n_boot=0)
    np.testing.assert_allclose(fit.intervals["mass"], [0.5, 0.5], atol=1e-9)
    assert fit.intervals[["left", "right"]].to_numpy().tolist() == [[1, 2], [3, 4]]
    np.testing.assert_allclose(fit.summary["survival"], [0.5, 0.5], atol=1e-9)


def test_intervals_are_open_on_the_left_as_in_r():
    """Seen away at 2 and seen at home at 2: (0, 2] and (2, inf) share no time, so S(2) = 1/2.

    With closed intervals [0, 2], [2, inf] (lifelines' convention) all the mass goes to the
    point 2. An exact time at 2 belongs to (0, 2] but not to (2, inf).
    """
    fit = interval.turnbull(pd.DataFrame({"L": [0, 2], "R": [2, np.inf]}), "L", "R", times=[2], n_boot=0)
    assert fit.summary["survival"].iloc[0] == pytest.approx(0.5)
    assert fit.summary["determined"].iloc[0]
    exact = interval.turnbull(pd.DataFrame({"L": [0, 2, 2], "R": [2, 2, np.inf]}), "L", "R", times=[1.9, 2], n_boot=0)
    # (0,2] and [2,2] both cover the point 2; (2,inf) does not: masses 2/3 at 2, 1/3 beyond
    np.testing.assert_allclose(exact.intervals["mass"], [2 / 3, 1 / 3], atol=1e-9)
    assert exact.intervals["point"].tolist() == [True, False]
    np.testing.assert_allclose(exact.summary["survival"], [1.0, 1 / 3], atol=1e-9)


# ----------------------------------------------------------------------------- against lifelines and known truth

def test_turnbull_is_kaplan_meier_for_exact_and_narrow_times():
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(5)
    t = np.round(rng.exponential(20, 400), 1)
    c = rng.uniform(5, 40, 400)
    km = KaplanMeierFitter().fit(np.minimum(t, c), t <= c)
    grid = np.arange(0, 40, 0.05)
    expected = km.survival_function_at_times(grid).to_numpy()
    exact = pd.DataFrame({"L": np.minimum(t, c), "R": np.where(t <= c, t, np.inf)})
    fit = interval.turnbull(exact, "L", "R", n_boot=0, times=grid)
    np.testing.assert_allclose(fit.summary["survival"], expected, atol=1e-8)
    narrow = exact.assign(L=np.where(t <= c, np.maximum(t - 0.02, 0), c))
    fit = interval.turnbull(narrow, "L", "R", n_boot=0, times=grid)
    close = np.abs(fit.summary["survival"].to_numpy() - expected)
    assert close.max() < 0.03                               # within the 0.02-month intervals only
    outside = fit.summary["determined"].to_numpy()
    assert close[outside].max() < 1e-8


def _true_s0(data, t):
    b = data.attrs["true_baseline"]
    return np.exp(-(np.asarray(t, dtype=float) / b["scale"]) ** b["shape"])


@pytest.fixture(scope="module")
def large():
    """~7,500 children in 3,000 families: irregular contacts, positive stable frailty, known marginal HRs."""
    return interval.simulate(n_families=3000, seed=7)


def test_interval_ph_covers_the_true_hazard_ratio(large):
    truth = large.attrs["true_log_hr"]
    fit = interval.interval_ph(large, "lower", "upper", COVARIATES, cluster="family_id")
    assert fit.converged and fit.cov_type == "cluster"
    s = fit.summary.set_index("term")
    for term in COVARIATES:
        lo, hi = np.log(s.loc[term, "ci_low"]), np.log(s.loc[term, "ci_high"])
        assert lo < truth[term] < hi, (term, lo, hi, truth[term])
        assert abs(s.loc[term, "coef"] - truth[term]) < 0.15
    # the baseline: survival at 36 months at x = 0 against the true marginal curve
    b = fit.baseline
    s36 = np.exp(-np.sum(b["hazard"] * np.clip(36 - b["start"], 0, b["end"] - b["start"])))
    assert s36 == pytest.approx(_true_s0(large, 36), abs=0.03)


def test_discrete_time_model_covers_the_true_hazard_ratio(large):
    truth = large.attrs["true_log_hr"]
    pp = interval.person_periods(large, "lower", "upper", period=6, horizon=36, covariates=COVARIATES,
                                 cluster="family_id")
    fit = interval.discrete_time_model(pp, COVARIATES, cluster="family_id", method="glm")
    s = fit.summary.set_index("term")
    for term in COVARIATES:
        assert np.log(s.loc[term, "ci_low"]) < truth[term] < np.log(s.loc[term, "ci_high"]), term


def test_turnbull_follows_the_true_curve(large):
    fit = interval.turnbull(large[large["x1"] == 0], "lower", "upper", n_boot=0, times=[6, 12, 24, 36])
    x2 = large.loc[large["x1"] == 0, "x2"].to_numpy()
    s0 = _true_s0(large, fit.summary["time"].to_numpy())
    truth = np.mean([s0 ** np.exp(large.attrs["true_log_hr"]["x2"] * v) for v in x2], axis=0)
    np.testing.assert_allclose(fit.summary["survival"], truth, atol=0.02)


@pytest.mark.parametrize("cluster", ["family_id", None])
def test_the_bootstrap_fits_each_resample_of_rows(large, cluster):
    """The bootstrap fits a resample as weighted distinct (L, R] pairs, starting from the whole
    sample's fit; the same resamples built as copies of the rows (the textbook way) and fitted
    from scratch give the same intervals, to the fits' tolerance (1e-8 on the curve)."""
    data = large.iloc[:1500]
    times, n_boot = (6, 12, 36), 20
    fit = interval.turnbull(data, "lower", "upper", times=times, cluster=cluster, n_boot=n_boot, seed=11)
    lo, hi = data["lower"].to_numpy(float), data["upper"].to_numpy(float)
    codes = pd.factorize(data[cluster])[0] if cluster else np.arange(len(data))
    members = [np.flatnonzero(codes == c) for c in range(codes.max() + 1)]
    rng = np.random.default_rng(11)
    draws = []
    for _ in range(n_boot):
        rows = np.concatenate([members[c] for c in rng.integers(0, len(members), len(members))])
        q, p, point, mass, *_ = interval._fit_curve(lo[rows], hi[rows], 1e-8)
        draws.append(interval._read_survival(q, p, point, mass, times)[0])
    draws = np.array(draws)
    np.testing.assert_allclose(fit.summary["ci_low"], np.nanquantile(draws, 0.025, axis=0), rtol=0, atol=1e-7)
    np.testing.assert_allclose(fit.summary["ci_high"], np.nanquantile(draws, 0.975, axis=0), rtol=0, atol=1e-7)


def test_interval_ph_is_the_grouped_glm_when_intervals_follow_the_periods():
    """Contacts every 6 months, none missed: the interval likelihood is the person-period one."""
    rng = np.random.default_rng(5)
    n = 1500
    x = rng.binomial(1, 0.5, n).astype(float)
    t = rng.weibull(0.9, n) * 60 * np.exp(-0.4 * x / 0.9)
    last_visit = rng.choice([6, 12, 18, 24], n)
    lower = np.minimum(np.floor(t / 6) * 6, last_visit)
    d = pd.DataFrame({"fam": rng.integers(0, 600, n), "x": x, "L": lower,
                      "R": np.where(t <= last_visit, lower + 6, np.inf)})
    ph = interval.interval_ph(d, "L", "R", ["x"], breaks=[0, 6, 12, 18])
    pp = interval.person_periods(d, "L", "R", period=6, covariates=["x"], cluster="fam")
    strict = interval.person_periods(d, "L", "R", period=6, covariates=["x"], cluster="fam", align="strict")
    pd.testing.assert_frame_equal(pp, strict, check_like=True)
    glm = interval.discrete_time_model(pp, ["x"], method="glm")
    assert ph.summary["coef"].iloc[0] == pytest.approx(glm.summary["coef"].iloc[0], rel=1e-6)
    # cloglog intercept of period k = log(hazard_k * 6)
    np.testing.assert_allclose(np.log(ph.baseline["hazard"] * 6), glm.baseline["coef"], rtol=1e-6)
    # observed (interval_ph) and expected (IRLS) information: close, not equal
    assert ph.summary["se"].iloc[0] == pytest.approx(glm.summary["se"].iloc[0], rel=1e-3)
    # family-clustered: the same sandwich (observed-information bread, scores summed per family);
    # statsmodels adds (N-1)/(N-K) over the person-period rows to the G/(G-1) both use
    ph_c = interval.interval_ph(d, "L", "R", ["x"], breaks=[0, 6, 12, 18], cluster="fam")
    glm_c = interval.discrete_time_model(pp, ["x"], cluster="fam", method="glm")
    n, k = len(pp), 5
    assert ph_c.cov_type == "cluster" and ph_c.n_clusters == d["fam"].nunique()
    assert ph_c.summary["se"].iloc[0] * np.sqrt((n - 1) / (n - k)) == pytest.approx(glm_c.summary["se"].iloc[0],
                                                                                   rel=1e-5)


def test_interval_ph_with_exact_times_is_the_exponential_model_by_hand():
    """Exact times and right-censoring only: the (piecewise) exponential MLE has a closed form.

    One piece, binary x: hazard d0/T0 (events / time at risk) at x = 0, hazard ratio
    (d1/T1) / (d0/T0), model-based variance of the log ratio 1/d0 + 1/d1. Two pieces, no
    covariates: each piece's hazard is its events over its time at risk.
    """
    rng = np.random.default_rng(11)
    n = 600
    x = rng.binomial(1, 0.5, n).astype(float)
    t = rng.exponential(20 / np.exp(0.5 * x))
    c = rng.uniform(5, 40, n)
    d = pd.DataFrame({"x": x, "L": np.minimum(t, c), "R": np.where(t <= c, t, np.inf)})
    time, event = np.minimum(t, c), t <= c
    d0, d1 = event[x == 0].sum(), event[x == 1].sum()
    t0, t1 = time[x == 0].sum(), time[x == 1].sum()
    fit = interval.interval_ph(d, "L", "R", ["x"], breaks=[0])
    assert fit.summary["coef"].iloc[0] == pytest.approx(np.log((d1 / t1) / (d0 / t0)), rel=1e-7)
    assert fit.summary["se"].iloc[0] == pytest.approx(np.sqrt(1 / d0 + 1 / d1), rel=1e-5)
    assert fit.baseline["hazard"].iloc[0] == pytest.approx(d0 / t0, rel=1e-7)
    two = interval.interval_ph(d, "L", "R", [], breaks=[0, 10])
    early = np.minimum(time, 10).sum()
    np.testing.assert_allclose(two.baseline["hazard"], [(event & (time <= 10)).sum() / early,
                                                        (event & (time > 10)).sum() / (time.sum() - early)], rtol=1e-7)


def test_interval_ph_clusters_widen_the_family_level_effect(ref_data):
    model = interval.interval_ph(ref_data, "lower", "upper", COVARIATES).summary.set_index("term")
    robust = interval.interval_ph(ref_data, "lower", "upper", COVARIATES, cluster="family_id").summary.set_index("term")
    assert robust.loc["x1", "coef"] == pytest.approx(model.loc["x1", "coef"])
    assert robust.loc["x1", "se"] > 1.15 * model.loc["x1", "se"]      # x1 is the same for siblings


def test_pava_fallback_matches_scipy(ref_data, curves, monkeypatch):
    from scipy import optimize

    rng = np.random.default_rng(0)
    y, w = rng.normal(size=200).cumsum() * 0.1 + rng.normal(size=200), rng.uniform(0.1, 3, 200)
    if hasattr(optimize, "isotonic_regression"):
        np.testing.assert_allclose(interval._pava(y, w), optimize.isotonic_regression(y, weights=w).x, atol=1e-12)
        monkeypatch.delattr(optimize, "isotonic_regression")
    fit = interval.turnbull(ref_data, "lower", "upper", n_boot=0)       # EM-ICM on the fallback
    np.testing.assert_allclose(fit.summary["survival"], curves["all"].summary["survival"], atol=1e-8)


# ----------------------------------------------------------------------------- bootstrap, person-periods rules

def test_family_bootstrap_widens_for_siblings_who_share_fate():
    """Four identical copies of each child in a family: the family bootstrap sees n, the
    child bootstrap 4n, so its interval is about half as wide."""
    rng = np.random.default_rng(3)
    n = 250
    t = rng.exponential(30, n)
    visits = np.array([6.0, 12.0, 36.0])
    seen = visits[None, :] >= t[:, None]
    lower = np.where(seen, 0, visits[None, :]).max(axis=1)
    upper = np.where(seen, visits[None, :], np.inf).min(axis=1)
    d = pd.DataFrame({"fam": np.repeat(np.arange(n), 4), "L": np.repeat(lower, 4), "R": np.repeat(upper, 4)})
    fam = interval.turnbull(d, "L", "R", cluster="fam", n_boot=150, seed=1, times=[12])
    kid = interval.turnbull(d, "L", "R", n_boot=150, seed=1, times=[12])
    width = lambda f: float(f.summary["ci_high"].iloc[0] - f.summary["ci_low"].iloc[0])   # noqa: E731
    assert 1.6 < width(fam) / width(kid) < 2.5
    s = fam.summary.iloc[0]
    assert s["ci_low"] < s["survival"] < s["ci_high"]
    again = interval.turnbull(d, "L", "R", cluster="fam", n_boot=150, seed=1, times=[12])
    pd.testing.assert_frame_equal(fam.summary, again.summary)
    assert interval.turnbull(d, "L", "R", n_boot=0, times=[12]).summary["ci_low"].isna().all()


def test_person_periods_rules():
    d = pd.DataFrame({"L": [5.5, 11.8, 12.0, 2.0, 20.0, 0.0], "R": [12.4, np.inf, 36.0, np.inf, 60.0, 1.0],
                      "fam": [1, 1, 2, 3, 4, 5], "x": [0, 1, 0, 1, 0, 1]})
    pp = interval.person_periods(d, "L", "R", period=(0, 6, 12, 36), covariates=["x"], cluster="fam")
    per_child = pp.groupby("row").agg(n=("period", "size"), events=("event", "sum"), last=("period_end", "max"))
    assert per_child["n"].to_dict() == {0: 2, 1: 2, 2: 3, 4: 3, 5: 1}   # child 3 (L = 2 -> 0) has no period
    assert per_child["events"].to_dict() == {0: 1, 1: 0, 2: 1, 4: 0, 5: 1}   # 60 > 36 + 12: censored at 36
    assert pp.attrs["breaks"] == [0, 6, 12, 36]
    assert (pp.loc[pp["row"] == 1, "x"] == 1).all() and set(pp.columns) >= {"fam", "x", "period_start"}
    strict = interval.person_periods(d, "L", "R", period=(0, 6, 12, 36), align="strict")
    assert strict.groupby("row")["period"].size().to_dict() == {0: 3, 1: 1, 2: 3, 4: 3, 5: 1}
    horizon = interval.person_periods(d, "L", "R", period=6, horizon=12)
    assert horizon["period_end"].max() == 12
    assert horizon.loc[horizon["row"] == 2, "event"].sum() == 0   # seen away at 36 > horizon


# ----------------------------------------------------------------------------- mistakes and failures

@pytest.mark.parametrize("change, column, row, words", [
    (lambda d: d.assign(upper=d["upper"].where(d.index != 7, 1.0)), "upper", 7, "upper < lower"),
    (lambda d: d.assign(lower=d["lower"].where(d.index != 3, -2.0)), "lower", 3, "negative time"),
    (lambda d: d.assign(upper=d["upper"].where(d.index != 5, np.nan)), "upper", 5, "np.inf"),
    (lambda d: d.assign(lower=d["lower"].where(d.index != 9, np.inf)), "lower", 9, "infinite"),
    (lambda d: d.assign(lower=d["lower"].astype(object).where(d.index != 2, "soon")), "lower", 2, "not a number"),
])
def test_bad_intervals_name_the_row_and_column(ref_data, change, column, row, words):
    bad = change(ref_data.head(20).assign(lower=lambda d: d["lower"].clip(lower=2)))
    bad.index = bad.index + 100                             # errors name the row's label, not its position
    row += 100
    for call in (lambda: interval.turnbull(bad, "lower", "upper", n_boot=0),
                 lambda: interval.person_periods(bad, "lower", "upper"),
                 lambda: interval.interval_ph(bad, "lower", "upper", ["x1"])):
        with pytest.raises(DataError, match=words) as err:
            call()
        assert err.value.row == row and err.value.column == column
        assert f"строка/row {row}" in str(err.value) and repr(column) in str(err.value)


def test_missing_columns_and_bad_options_are_user_errors(ref_data, ref_periods):
    with pytest.raises(UserError, match="no column 'upper_months'") as err:
        interval.turnbull(ref_data, "lower", "upper_months")
    assert err.value.column == "upper_months"
    with pytest.raises(UserError, match="no column 'x3'"):
        interval.interval_ph(ref_data, "lower", "upper", ["x1", "x3"])
    with pytest.raises(UserError, match="no column 'sex'"):
        interval.person_periods(ref_data, "lower", "upper", covariates=["sex"])
    with pytest.raises(UserError, match="GEE needs the cluster"):
        interval.discrete_time_model(interval.person_periods(ref_data, "lower", "upper", horizon=36,
                                                             covariates=COVARIATES), COVARIATES, method="gee")
    with pytest.raises(UserError, match=r"no events .* periods \(42, 48\]"):
        interval.discrete_time_model(interval.person_periods(ref_data, "lower", "upper", period=6,
                                                             covariates=COVARIATES), COVARIATES, method="glm")
    with pytest.raises(UserError, match="period breaks must start at 0"):
        interval.person_periods(ref_data, "lower", "upper", period=(6, 12))
    with pytest.raises(UserError, match="collinear"):
        interval.interval_ph(ref_data.assign(x3=ref_data["x1"]), "lower", "upper", ["x1", "x3"])
    with pytest.raises(UserError, match="no separation can fall"):
        interval.interval_ph(ref_data, "lower", "upper", ["x1"], breaks=[0, 6, 12, 100])
    with pytest.raises(UserError, match="expected 'gee' or 'glm'"):
        interval.discrete_time_model(ref_periods, COVARIATES, method="periods")


def test_non_convergence_is_reported(ref_data, ref_periods):
    with pytest.warns(interval.ConvergenceWarning, match="did not converge"):
        fit = interval.discrete_time_model(ref_periods, COVARIATES, method="glm", maxiter=1)
    assert not fit.converged and "did not converge" in fit.notes[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert interval.discrete_time_model(ref_periods, COVARIATES, method="glm").converged
    with pytest.warns(interval.ConvergenceWarning, match="Turnbull EM did not converge"):
        fit = interval.turnbull(ref_data, "lower", "upper", n_boot=0, max_iter=2)
    assert not fit.fit["converged"].iloc[0] and fit.fit["kkt"].iloc[0] > 1e-3
    with pytest.warns(interval.ConvergenceWarning, match="interval PH fit did not converge"):
        ph = interval.interval_ph(ref_data, "lower", "upper", COVARIATES, maxiter=0)
    assert not ph.converged and ph.notes


@pytest.mark.parametrize("lang, word", [("ru", "Месяцы"), ("en", "Months")])
def test_plot(curves, lang, word):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = curves["x1"].plot(lang=lang)
    ax = fig.axes[0]
    assert word in ax.get_xlabel() and len(ax.get_lines()) >= 2
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["x1 = 0", "x1 = 1"]
    plt.close(fig)
    small = interval.turnbull(pd.DataFrame({"L": [0, 0, 1, 2, 3], "R": [2, 2, 3, np.inf, np.inf],
                                            "fam": [1, 1, 2, 3, 3]}), "L", "R", cluster="fam", n_boot=20, alpha=0.1)
    fig = small.plot(lang=lang)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[-1] == {"ru": "90% ДИ (бутстреп по семьям)", "en": "90% CI (family bootstrap)"}[lang]
    plt.close(fig)


# ----------------------------------------------------------------------------- regenerate R's results

@pytest.mark.skipif(not (shutil.which("Rscript") and os.environ.get("EVALKIT_R_REFERENCE") == "1"),
                    reason="needs Rscript (survival, geepack) and EVALKIT_R_REFERENCE=1")
def test_r_reference_results_are_current(tmp_path):
    proc = subprocess.run(["Rscript", str(REF / "interval.R"), str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    for name in ("interval_turnbull_times.csv", "interval_turnbull_curve.csv", "interval_npmle.csv",
                 "interval_person_periods.csv", "interval_glm.csv", "interval_gee.csv"):
        fresh, stored = pd.read_csv(tmp_path / name), pd.read_csv(REF / name)
        pd.testing.assert_frame_equal(fresh, stored, check_exact=False, rtol=1e-8, atol=1e-12, obj=name)
