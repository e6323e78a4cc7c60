"""evalkit.coxph.fit_cox: against R's survival package (tests/reference/coxph.R), against lifelines
where lifelines is right (untied times), against straightforward loop implementations, and its errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit import coxph, survival
from evalkit.coxph import fit_cox, ph_test
from evalkit.errors import UserError

REF = Path(__file__).resolve().parent / "reference"
COVS = ["x1", "x2", "x3", "x4", "x5"]

#: how each variant of tests/reference/coxph.R was fitted (all with cluster = id, except the last)
VARIANTS = {
    "efron": {},
    "breslow": {"ties": "breslow"},
    "efron_weights": {"weights": "w"},
    "efron_strata": {"strata": "org"},
    "efron_weights_strata": {"weights": "w", "strata": "org"},
    "breslow_weights_strata": {"ties": "breslow", "weights": "w", "strata": "org"},
    "efron_robust_rows": {"robust": True, "cluster": None},
}


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(REF / "coxph_data.csv")


def _fit(d: pd.DataFrame, variant: str, **extra):
    kw = dict(VARIANTS[variant])
    cluster = kw.pop("cluster", "id")
    for key in ("weights", "strata"):
        if key in kw:
            kw[key] = d[kw[key]].to_numpy()
    return fit_cox(d["time"].to_numpy(), d["event"].to_numpy(), d[COVS], cluster=None if cluster is None else
                   d[cluster].to_numpy(), **kw, **extra)


def _rel(got, want) -> float:
    got, want = np.asarray(got, float), np.asarray(want, float)
    return float(np.max(np.abs(got - want) / np.abs(want)))


# ----------------------------------------------------------------------------- against R

def test_reference_data_has_heavy_ties_and_family_clusters(data):
    deaths = data[data["event"] == 1]
    assert deaths["time"].value_counts().max() >= 20 and data["time"].nunique() < 50
    sizes = data["id"].value_counts()
    assert sizes.min() == 1 and sizes.max() == 5


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_matches_r_coxph(data, variant):
    r = pd.read_csv(REF / "coxph_coef.csv")
    r = r[r["variant"] == variant].set_index("term").loc[COVS]
    rf = pd.read_csv(REF / "coxph_fit.csv").set_index("variant").loc[variant]
    fit = _fit(data, variant)
    assert fit.converged and fit.warning is None
    assert _rel(fit.params, r["coef"]) < 1e-8
    assert _rel(fit.se, r["se"]) < 1e-6
    assert _rel(fit.robust_se, r["robust_se"]) < 1e-6
    assert fit.loglik == pytest.approx(rf["loglik"], rel=1e-8)
    assert fit.loglik_null == pytest.approx(rf["loglik_null"], rel=1e-8)
    assert (fit.n, fit.events) == (rf["n"], rf["events"])
    assert np.allclose(fit.robust_se ** 2, np.diag(fit.robust_var)) and np.allclose(fit.se ** 2, np.diag(fit.var))


def test_efron_differs_from_breslow_under_these_ties(data):
    """The comparisons above would not notice a tie method silently ignored."""
    r = pd.read_csv(REF / "coxph_coef.csv").set_index(["variant", "term"])["coef"]
    assert _rel(r["efron"], r["breslow"]) > 1e-2
    assert _rel(_fit(data, "efron").params, _fit(data, "breslow").params) > 1e-2


def test_score_residuals_match_r(data):
    want = pd.read_csv(REF / "coxph_score.csv")[COVS].to_numpy()
    got = _fit(data, "efron_weights_strata", residuals=True).score_residuals
    assert np.max(np.abs(got - want)) < 1e-9


def test_cox_wrapper_with_strata_matches_r(data):
    """survival.cox (the studies' entry point) with strata and family clusters."""
    r = pd.read_csv(REF / "coxph_coef.csv")
    r = r[r["variant"] == "efron_strata"].set_index("term")
    frame = data.assign(event=data["event"].astype(bool))
    res = survival.cox(frame, COVS, cluster="id", strata="org")
    got = res.summary.set_index("term").loc[COVS]
    assert _rel(got["coef"], r.loc[COVS, "coef"]) < 1e-8
    assert _rel(got["se"], r.loc[COVS, "robust_se"]) < 1e-6
    assert res.n == len(data) and res.events == int(data["event"].sum()) and list(res.ph_test["term"]) == COVS


# ----------------------------------------------------------------------------- against lifelines (untied times)

@pytest.fixture(scope="module")
def untied(data):
    rng = np.random.default_rng(7)
    return data.assign(time=data["time"] - rng.uniform(0, 1, len(data)))


@pytest.mark.parametrize("strata", [None, "org"])
def test_matches_lifelines_on_untied_times(untied, strata):
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    df = untied[["time", "event", "id"] + COVS + ([strata] if strata else [])]
    assert df["time"].is_unique
    cph = CoxPHFitter().fit(df, "time", "event", cluster_col="id", strata=[strata] if strata else None,
                            fit_options={"precision": 1e-12})
    fit = fit_cox(df["time"], df["event"], df[COVS], cluster=df["id"], strata=df[strata] if strata else None)
    assert _rel(fit.params, cph.params_[COVS]) < 1e-6
    assert _rel(fit.se, np.sqrt(np.diag(cph.variance_matrix_.loc[COVS, COVS]))) < 1e-6
    assert _rel(fit.robust_se, cph.standard_errors_[COVS]) < 1e-6
    assert fit.loglik == pytest.approx(cph.log_likelihood_, rel=1e-8)
    want = proportional_hazard_test(cph, df, time_transform="rank").summary.loc[COVS]
    got = ph_test(fit, df["time"], df["event"], df[COVS], strata=df[strata] if strata else None).set_index("term")
    assert _rel(got["statistic"], want["test_statistic"]) < 1e-6
    assert _rel(got["p"], want["p"]) < 1e-6


def test_ph_test_matches_lifelines_under_ties_without_clusters(data):
    """With ties the deaths' ranks follow lifelines' order (stratum, time, row); only the
    robust error lifelines puts in the denominator differs, so compare unclustered fits."""
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    df = data[["time", "event", "org"] + COVS]
    cph = CoxPHFitter().fit(df, "time", "event", strata=["org"], fit_options={"precision": 1e-12})
    fit = fit_cox(df["time"], df["event"], df[COVS], strata=df["org"])
    want = proportional_hazard_test(cph, df, time_transform="rank").summary.loc[COVS, "test_statistic"]
    got = ph_test(fit, df["time"], df["event"], df[COVS], strata=df["org"]).set_index("term")["statistic"]
    assert _rel(got, want) < 1e-6


def test_lifelines_robust_error_is_off_under_ties_and_ours_is_not(data):
    """Why this module exists: lifelines' cluster-robust variance is not the Efron one."""
    from lifelines import CoxPHFitter

    r = pd.read_csv(REF / "coxph_coef.csv")
    r = r[r["variant"] == "efron"].set_index("term").loc[COVS]
    cph = CoxPHFitter().fit(data[["time", "event", "id"] + COVS], "time", "event", cluster_col="id",
                            fit_options={"precision": 1e-12})
    assert _rel(cph.standard_errors_[COVS], r["robust_se"]) > 1e-4
    assert _rel(_fit(data, "efron").robust_se, r["robust_se"]) < 1e-9


# ----------------------------------------------------------------------------- loop references (O(n²), tiny n)

def _groups(t, e, s):
    """(risk set, deaths) index arrays per stratum and death time."""
    out = []
    for stratum in np.unique(s):
        for tau in np.unique(t[(s == stratum) & e]):
            risk = np.flatnonzero((s == stratum) & (t >= tau))
            dead = np.flatnonzero((s == stratum) & (t == tau) & e)
            out.append((risk, dead))
    return out


def loop_efron(t, e, X, w, s, beta, ties="efron"):
    """Log partial likelihood, score and information (Efron 1977; R's weighted convention:
    each of the d steps weighted by the deaths' mean weight), by explicit loops."""
    r = np.exp(X @ beta)
    p = X.shape[1]
    ll, u, imat = 0.0, np.zeros(p), np.zeros((p, p))
    for risk, dead in _groups(t, e, s):
        d = len(dead)
        meanwt = w[dead].sum() / d
        for i in dead:
            ll += w[i] * X[i] @ beta
            u += w[i] * X[i]
        for l in range(d):
            frac = l / d if ties == "efron" else 0.0
            s0 = sum(w[j] * r[j] for j in risk) - frac * sum(w[j] * r[j] for j in dead)
            s1 = sum(w[j] * r[j] * X[j] for j in risk) - frac * sum(w[j] * r[j] * X[j] for j in dead)
            s2 = sum(w[j] * r[j] * np.outer(X[j], X[j]) for j in risk) \
                - frac * sum(w[j] * r[j] * np.outer(X[j], X[j]) for j in dead)
            ll -= meanwt * np.log(s0)
            u -= meanwt * s1 / s0
            imat += meanwt * (s2 / s0 - np.outer(s1, s1) / s0 ** 2)
    return ll, u, imat


def loop_score_residuals(t, e, X, w, s, beta, ties="efron"):
    """R's coxscore2, as written there: for each death time, every subject at risk."""
    r = np.exp(X @ beta)
    resid = np.zeros_like(X)
    for risk, dead in _groups(t, e, s):
        d = len(dead)
        meanwt = w[dead].sum() / d
        steps = range(d) if ties == "efron" else [0]
        nsteps = d if ties == "efron" else 1
        for l in steps:
            frac = l / d if ties == "efron" else 0.0
            den = (w[risk] * r[risk]).sum() - frac * (w[dead] * r[dead]).sum()
            mean = ((w[risk] * r[risk]) @ X[risk] - frac * (w[dead] * r[dead]) @ X[dead]) / den
            hazard = meanwt / den * (d / nsteps)
            for k in risk:
                if k in dead:
                    resid[k] += (X[k] - mean) / nsteps
                    resid[k] -= (X[k] - mean) * r[k] * hazard * (1 - frac)
                else:
                    resid[k] -= (X[k] - mean) * r[k] * hazard
    return resid


@st.composite
def small_data(draw, min_n=2, max_n=25):
    """Tiny data sets with heavy ties (times 0..5), optional weights and strata."""
    n = draw(st.integers(min_n, max_n))
    p = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    t = rng.integers(0, 6, n).astype(float)
    e = rng.random(n) < draw(st.sampled_from([0.3, 0.7, 1.0]))
    e[rng.integers(n)] = True
    X = np.round(rng.normal(size=(n, p)), 2)
    X[:, 0] = np.where(rng.random(n) < 0.5, 0.0, 1.0) if draw(st.booleans()) else X[:, 0]
    w = np.round(rng.uniform(0.3, 3, n), 2) if draw(st.booleans()) else np.ones(n)
    s = rng.integers(0, draw(st.integers(1, 3)), n)
    beta = np.round(rng.uniform(-1, 1, p), 3)
    ties = draw(st.sampled_from(["efron", "breslow"]))
    return t, e, X, w, s, beta, ties


@settings(max_examples=60)
@given(small_data())
def test_likelihood_score_information_match_loops(case):
    t, e, X, w, s, beta, ties = case
    risk = coxph._Risk(t, e, X, w, s, ties)
    got = risk.evaluate(beta)
    # the module centres X; the likelihood, score, information and residuals do not depend on it
    ll, u, imat = loop_efron(t, e, X, w, s, beta, ties)
    assert got["loglik"] == pytest.approx(ll, rel=1e-10, abs=1e-10)
    assert np.allclose(got["score"], u, rtol=1e-9, atol=1e-10)
    assert np.allclose(got["information"], imat, rtol=1e-9, atol=1e-10)
    resid = np.empty_like(X)
    resid[risk.order] = risk.score_residuals(got).T
    assert np.allclose(resid, loop_score_residuals(t, e, X, w, s, beta, ties), rtol=1e-9, atol=1e-10)
    # the weighted score residuals add up to the score at any β
    assert np.allclose((resid * w[:, None]).sum(axis=0), u, rtol=1e-9, atol=1e-10)


@settings(max_examples=60)
@given(small_data(min_n=12, max_n=40))
def test_score_residuals_sum_to_zero_at_the_estimate(case):
    t, e, X, w, s, _, ties = case
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fit = fit_cox(t, e, X, weights=w, strata=s, ties=ties, robust=True, residuals=True)
    except UserError:
        return                                   # a constant or collinear column in a tiny draw
    if fit.warning:
        return                                   # separation: no finite estimate
    total = (fit.score_residuals * w[:, None]).sum(axis=0)
    scale = np.abs(fit.score_residuals * w[:, None]).sum(axis=0)
    assert np.all(np.abs(total) <= 1e-8 * scale + 1e-12)
    # the log-likelihood at the estimate is the loop's, and the estimate is a maximum
    ll = loop_efron(t, e, X, w, s, fit.params, ties)[0]
    assert fit.loglik == pytest.approx(ll, rel=1e-10, abs=1e-10)
    for delta in np.eye(X.shape[1]) * 1e-3:
        assert loop_efron(t, e, X, w, s, fit.params + delta, ties)[0] < ll
        assert loop_efron(t, e, X, w, s, fit.params - delta, ties)[0] < ll
    # the per-observation sandwich is V (Σ w²UU') V
    Z = fit.score_residuals * w[:, None]
    assert np.allclose(fit.robust_var, fit.var @ Z.T @ Z @ fit.var, rtol=1e-9, atol=1e-14)


@settings(max_examples=30)
@given(small_data(min_n=15, max_n=40), st.integers(0, 2 ** 32 - 1))
def test_row_order_and_cluster_labels_do_not_matter(case, seed):
    t, e, X, w, s, _, ties = case
    cluster = np.arange(len(t)) // 3
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            a = fit_cox(t, e, X, weights=w, strata=s, ties=ties, cluster=cluster)
            perm = np.random.default_rng(seed).permutation(len(t))
            b = fit_cox(t[perm], e[perm], X[perm], weights=w[perm], strata=s[perm] + 10, ties=ties,
                        cluster=np.array([f"family {c}" for c in cluster[perm]]))
    except UserError:
        return
    if a.warning:
        return
    assert np.allclose(a.params, b.params, rtol=1e-7, atol=1e-9)
    assert np.allclose(a.robust_se, b.robust_se, rtol=1e-6, atol=1e-9)


# ----------------------------------------------------------------------------- errors and warnings

@pytest.mark.parametrize("change, message", [
    (lambda t, e, X: (np.r_[t[:-1], -1.0], e, X), "negative time"),
    (lambda t, e, X: (np.r_[t[:-1], np.inf], e, X), "missing or infinite"),
    (lambda t, e, X: (np.r_[t[:-1], np.nan], e, X), "missing or infinite"),
    (lambda t, e, X: (t, e, np.where(np.arange(len(t))[:, None] == 3, np.nan, X)), "covariate 'x1'"),
    (lambda t, e, X: (t, e, np.c_[X, np.ones(len(t))]), "single value"),
    (lambda t, e, X: (t, e, np.c_[X, 2 * X[:, 0] + 1]), "collinear"),
    (lambda t, e, X: (t, np.zeros(len(t), bool), X), "no events"),
    (lambda t, e, X: (t, np.where(np.arange(len(t)) == 0, 2, e), X), "0/1"),
    (lambda t, e, X: (t[:-1], e, X), "values, not"),
])
def test_user_errors_are_bilingual(change, message):
    rng = np.random.default_rng(3)
    t, e, X = rng.integers(1, 10, 40).astype(float), rng.random(40) < 0.6, rng.normal(size=(40, 2))
    t, e, X = change(t, e, X)
    with pytest.raises(UserError, match=message) as info:
        fit_cox(t, e, X)
    assert " / " in str(info.value) and any("а" <= ch <= "я" for ch in str(info.value).lower())


def test_other_argument_errors():
    rng = np.random.default_rng(3)
    t, e, X = rng.integers(1, 10, 40).astype(float), rng.random(40) < 0.6, rng.normal(size=(40, 2))
    with pytest.raises(UserError, match="weights must be finite and positive"):
        fit_cox(t, e, X, weights=np.r_[np.ones(39), 0.0])
    with pytest.raises(UserError, match="cluster has missing values"):
        fit_cox(t, e, X, cluster=np.r_[np.arange(39), np.nan])
    with pytest.raises(UserError, match="ties must be"):
        fit_cox(t, e, X, ties="exact")
    with pytest.raises(UserError, match=r"covariates \['x2'\] do not vary within the risk sets"):
        fit_cox(t, e, np.c_[X, np.arange(40) % 2], names=["x0", "x1", "x2"], strata=np.arange(40) % 2)


def test_non_convergence_is_reported_not_silent():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 2))
    t = np.ceil(rng.exponential(np.exp(-X @ [1.0, -1.0])) * 10)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        fit = fit_cox(t, np.ones(300, bool), X, max_iter=1)
    assert not fit.converged and "did not converge" in fit.warning and fit.iterations == 1
    good = fit_cox(t, np.ones(300, bool), X)
    assert good.converged and good.warning is None and 2 <= good.iterations <= 10


def test_separation_is_flagged():
    """Everyone with x = 1 separates before anyone with x = 0: the estimate is infinite."""
    x = np.r_[np.ones(10), np.zeros(10)]
    t = np.r_[np.arange(1, 11), np.arange(11, 21)].astype(float)
    with pytest.warns(RuntimeWarning, match="infinite"):
        fit = fit_cox(t, np.ones(20, bool), x)
    assert "infinite" in fit.warning


def test_summary_uses_the_robust_error_when_clustered(data):
    fit = _fit(data, "efron")
    s = fit.summary
    assert list(s.columns) == ["term", "coef", "se", "robust_se", "hr", "hr_low", "hr_high", "z", "p"]
    assert np.allclose(s["z"], fit.params / fit.robust_se)
    assert np.allclose(np.log(s["hr_high"]) - np.log(s["hr_low"]), 2 * 1.959963984540054 * fit.robust_se)
    plain = fit_cox(data["time"], data["event"], data[COVS])
    assert plain.robust_se is None and s["robust_se"].notna().all() and plain.summary["robust_se"].isna().all()
    assert np.allclose(plain.summary["z"], plain.params / plain.se)
    assert np.allclose(plain.params, fit.params) and np.allclose(plain.se, fit.se)


def test_step_halving_reaches_the_maximum(monkeypatch):
    """Heavy-tailed covariates make the first Newton steps overshoot; halving must still end
    at lifelines' estimate (lifelines' coefficients are right under ties)."""
    from lifelines import CoxPHFitter

    rng = np.random.default_rng(0)
    X = rng.standard_cauchy((200, 2))
    t = np.ceil(rng.exponential(np.exp(-np.clip(X @ [1.0, 0.5], -30, 30))) * 5)
    e = rng.random(200) < 0.8
    calls = []
    evaluate = coxph._Risk.evaluate
    monkeypatch.setattr(coxph._Risk, "evaluate", lambda self, beta: calls.append(1) or evaluate(self, beta))
    fit = fit_cox(t, e, X)
    assert len(calls) > fit.iterations + 1                       # some steps were halved
    assert fit.converged and fit.warning is None
    df = pd.DataFrame({"time": t, "event": e.astype(int), "x1": X[:, 0], "x2": X[:, 1]})
    cph = CoxPHFitter().fit(df, "time", "event", fit_options={"precision": 1e-12})
    assert _rel(fit.params, cph.params_[["x1", "x2"]]) < 1e-6
    assert _rel(fit.se, np.sqrt(np.diag(cph.variance_matrix_))) < 1e-6
