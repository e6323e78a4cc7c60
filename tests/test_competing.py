"""Competing risks (evalkit.competing): against R's survival and cmprsk, lifelines, known truth, by hand.

The reference frame ``tests/reference/competing_data.csv`` is written by
:func:`make_reference_data` (numpy, fixed seed) and R's results on it by
``tests/reference/competing.R``; both are committed, so these tests need no R. With
``Rscript`` on the PATH and ``EVALKIT_R_REFERENCE=1`` one more test reruns the R script and
checks the committed results are still what R says.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit import competing
from evalkit.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / "tests" / "reference"
CAUSES = ("removal", "voluntary_placement", "relinquishment")


def make_reference_data(seed: int = 20240611, n_families: int = 1200) -> pd.DataFrame:
    """~3,000 children in 1,200 families; three competing causes; whole months (many ties).

    x1 is a family-level binary covariate (like a prior removal), x2 a child-level score;
    a shared gamma frailty (variance 0.5) makes siblings' fates correlated. Cause-specific
    hazards are exponential; censoring is administrative (uniform 6–60 months) or loss to
    follow-up; times are rounded up to whole months, so events tie with each other and
    with censorings. Event codes are the ``event`` vocabulary, ``"0"`` for censored.
    """
    rng = np.random.default_rng(seed)
    size = 1 + rng.poisson(1.5, n_families)
    family = np.repeat(np.arange(1, n_families + 1), size)
    n = len(family)
    x1 = rng.binomial(1, 0.3, n_families)[family - 1]
    x2 = np.round(rng.normal(0.0, 1.0, n), 3)
    frailty = rng.gamma(2.0, 0.5, n_families)[family - 1]
    rates = np.column_stack([0.006 * np.exp(0.7 * x1 + 0.3 * x2),
                             0.004 * np.exp(-0.4 * x1 + 0.2 * x2),
                             0.002 * np.exp(0.5 * x2)]) * frailty[:, None]
    total = rates.sum(axis=1)
    t_event = rng.exponential(1.0 / total)
    u = rng.random(n)
    cause = (u[:, None] > np.cumsum(rates / total[:, None], axis=1)).sum(axis=1)
    t_censor = np.minimum(rng.uniform(6.0, 60.0, n), rng.exponential(100.0, n))
    time = np.ceil(np.minimum(t_event, t_censor)).astype(int)
    event = np.where(t_event <= t_censor, np.asarray(CAUSES, dtype=object)[cause], "0")
    return pd.DataFrame({"child": np.arange(1, n + 1), "family": family, "x1": x1, "x2": x2,
                         "time": time, "event": event})


def read_reference_data() -> pd.DataFrame:
    return pd.read_csv(REF / "competing_data.csv", dtype={"event": str})


@pytest.fixture(scope="module")
def ref_data():
    return read_reference_data()


def test_the_stored_reference_data_are_what_the_generator_makes(ref_data):
    made = make_reference_data()
    pd.testing.assert_frame_equal(made.astype({"event": str}), ref_data, check_dtype=False)
    assert len(made) > 2900 and made["family"].nunique() == 1200
    assert set(made["event"]) == {"0", *CAUSES}
    # ties: whole months, events of different causes and censorings in the same month
    per_month = made.groupby("time")["event"].nunique()
    assert (per_month >= 3).sum() > 20


# ----------------------------------------------------------------------------- against R: Aalen–Johansen

def _compare_curves(got_curves, got_free, r, group, tol_p=1e-9, tol_se=1e-7):
    """Every state (each cause and the event-free state) at every time R reports."""
    for state, rr in r.groupby("state"):
        rr = rr.set_index("time")
        if state == "event_free":
            g = got_free[got_free["group"] == group].set_index("time").rename(columns={"prob": "cif"})
        else:
            g = got_curves[(got_curves["group"] == group) & (got_curves["cause"] == state)].set_index("time")
        assert list(g.index) == list(rr.index), state
        np.testing.assert_allclose(g["cif"], rr["p"], rtol=0, atol=tol_p, err_msg=state)
        np.testing.assert_allclose(g["se"], rr["se"], rtol=tol_se, atol=1e-12, err_msg=state)
        np.testing.assert_allclose(g["ci_low"], rr["lower"], rtol=1e-7, atol=1e-12, err_msg=state)
        np.testing.assert_allclose(g["ci_high"], rr["upper"], rtol=1e-7, atol=1e-12, err_msg=state)


def test_cumulative_incidence_matches_r_survfit(ref_data):
    r = pd.read_csv(REF / "competing_cif.csv")
    ci = competing.cumulative_incidence(ref_data, "time", "event")
    assert ci.causes == list(CAUSES)
    _compare_curves(ci.curves, ci.event_free, r[r["fit"] == "all"], "all")


def test_cumulative_incidence_by_group_matches_r(ref_data):
    r = pd.read_csv(REF / "competing_cif.csv")
    ci = competing.cumulative_incidence(ref_data, "time", "event", group="x1")
    assert ci.groups == [0, 1]
    for g in (0, 1):
        _compare_curves(ci.curves, ci.event_free, r[r["fit"] == str(g)], g)


def test_family_clustered_standard_errors_match_r_influence(ref_data):
    r = pd.read_csv(REF / "competing_cif.csv")
    ci = competing.cumulative_incidence(ref_data, "time", "event", cluster="family")
    _compare_curves(ci.curves, ci.event_free, r[r["fit"] == "all_family"], "all")
    plain = competing.cumulative_incidence(ref_data, "time", "event")
    # siblings share fate: clustering changes the errors, not the estimate
    assert not np.allclose(ci.curves["se"], plain.curves["se"], rtol=1e-3)
    np.testing.assert_array_equal(ci.curves["cif"], plain.curves["cif"])


def test_summary_at_requested_times_matches_r_summary(ref_data):
    r = pd.read_csv(REF / "competing_cif_times.csv")
    s = competing.cumulative_incidence(ref_data, "time", "event", times=(6, 12, 36)).summary
    m = s.merge(r, on=["cause", "time"], validate="one_to_one")
    assert len(m) == 9
    np.testing.assert_allclose(m["cif_x"], m["cif_y"], atol=1e-9, rtol=0)
    np.testing.assert_allclose(m["se_x"], m["se_y"], rtol=1e-7)
    np.testing.assert_allclose(m["ci_low"], m["lower"], rtol=1e-7)
    np.testing.assert_allclose(m["ci_high"], m["upper"], rtol=1e-7)


# ----------------------------------------------------------------------------- against R: Fine–Gray

def test_finegray_rows_match_r_finegray(ref_data):
    r = pd.read_csv(REF / "competing_fg_rows.csv")
    for cause, rr in r.groupby("cause"):
        rows = competing.finegray_data(ref_data, "time", "event", cause)
        got = rows.groupby(["fgstart", "fgstop", "fgstatus"])["fgwt"].agg(rows="size", weight="sum").reset_index()
        m = got.merge(rr, on=["fgstart", "fgstop", "fgstatus"], how="outer", validate="one_to_one")
        assert len(m) == len(rr) == len(got), cause
        np.testing.assert_array_equal(m["rows_x"], m["rows_y"])
        np.testing.assert_allclose(m["weight_x"], m["weight_y"], rtol=1e-12)
        assert len(rows) == rr["rows"].sum()
        # every child keeps exactly one row with weight 1 starting at 0; extra rows are competing events
        first = rows.drop_duplicates("fg_row")
        assert len(first) == len(ref_data) and (first["fgwt"] == 1).all() and (first["fgstart"] == 0).all()
        extra = rows[rows.duplicated("fg_row")]
        assert not extra["event"].isin(["0", cause]).any() and (extra["fgwt"] <= 1).all()


R_FG = pd.read_csv(REF / "competing_finegray.csv")


@pytest.mark.parametrize("cause,ties,cluster", sorted(set(zip(R_FG["cause"], R_FG["ties"], R_FG["cluster"]))))
def test_fine_gray_matches_r_finegray_coxph(ref_data, cause, ties, cluster):
    r = R_FG[(R_FG["cause"] == cause) & (R_FG["ties"] == ties) & (R_FG["cluster"] == cluster)].set_index("term")
    fit = competing.fine_gray(ref_data, "time", "event", cause, ["x1", "x2"], ties=ties,
                              cluster="family" if cluster == "family" else None)
    s = fit.summary.set_index("covariate").loc[r.index]
    np.testing.assert_allclose(s["coef"], r["coef"], rtol=1e-6)
    np.testing.assert_allclose(s["se"], r["se"], rtol=1e-6)
    np.testing.assert_allclose(s["robust_se"], r["robust_se"], rtol=1e-4)
    assert fit.loglik == pytest.approx(r["loglik"].iloc[0], rel=1e-9)
    assert fit.n_clusters == (ref_data["family"].nunique() if cluster == "family" else len(ref_data))
    np.testing.assert_allclose(fit.params.to_numpy(), s["coef"].to_numpy())
    np.testing.assert_allclose(s["hr_low"], np.exp(s["coef"] - 1.959963984540054 * s["robust_se"]), rtol=1e-12)


def test_fine_gray_and_cmprsk_crr(ref_data):
    r = pd.read_csv(REF / "competing_crr.csv")
    for cause, rr in r.groupby("cause"):
        rr = rr.set_index("term")
        # crr's censoring distribution treats children with an event at a censoring time as at
        # risk of censoring; with that convention the estimator is crr's
        crr_like = competing.fine_gray(ref_data, "time", "event", cause, ["x1", "x2"], convention="crr")
        np.testing.assert_allclose(crr_like.params[rr.index], rr["coef"], rtol=1e-4)
        # with R finegray's (events first) the coefficients move a little, because months tie
        fg = competing.fine_gray(ref_data, "time", "event", cause, ["x1", "x2"])
        rel = (fg.params[rr.index] / rr["coef"] - 1).abs()
        assert (rel < 2e-3).all() and (rel > 1e-5).any()
        # crr's variance includes the estimation of G; the weighted Cox robust errors leave it out
        np.testing.assert_allclose(fg.summary.set_index("covariate").loc[rr.index, "robust_se"], rr["se"], rtol=5e-3)


# ----------------------------------------------------------------------------- against lifelines

def test_fine_gray_efron_agrees_with_lifelines_on_the_finegray_rows(ref_data):
    from lifelines import CoxPHFitter

    d = ref_data[ref_data["family"] <= 500]
    rows = competing.finegray_data(d, "time", "event", "removal")
    cph = CoxPHFitter().fit(rows[["fgstart", "fgstop", "fgstatus", "fgwt", "x1", "x2"]], "fgstop", "fgstatus",
                            entry_col="fgstart", weights_col="fgwt", robust=True, fit_options={"precision": 1e-10})
    fit = competing.fine_gray(d, "time", "event", "removal", ["x1", "x2"], ties="efron")
    np.testing.assert_allclose(fit.params[["x1", "x2"]], cph.params_[["x1", "x2"]], rtol=1e-6)


def _constant_hazards(n: int, seed: int, hazards=(0.02, 0.01, 0.005)) -> pd.DataFrame:
    """Continuous times (no ties), constant cause-specific hazards, uniform censoring."""
    rng = np.random.default_rng(seed)
    total = sum(hazards)
    t = rng.exponential(1 / total, n)
    cause = 1 + rng.choice(len(hazards), n, p=np.asarray(hazards) / total)
    c = rng.uniform(12, 60, n)
    return pd.DataFrame({"time": np.minimum(t, c), "event": np.where(t <= c, cause, 0)})


def test_point_estimate_agrees_with_lifelines_aalen_johansen_without_ties():
    from lifelines import AalenJohansenFitter

    d = _constant_hazards(400, seed=7)
    assert d["time"].is_unique
    ci = competing.cumulative_incidence(d, "time", "event")
    for cause in (1, 2, 3):
        ajf = AalenJohansenFitter(calculate_variance=False).fit(d["time"], d["event"], event_of_interest=cause)
        theirs = ajf.cumulative_density_.iloc[:, 0]
        mine = ci.curves[ci.curves["cause"] == cause].set_index("time")["cif"]
        np.testing.assert_allclose(mine.to_numpy(), theirs.reindex(mine.index).to_numpy(), atol=1e-12)


def test_cifs_and_kaplan_meier_survival_sum_to_one(ref_data):
    from lifelines import KaplanMeierFitter

    for group in (None, "x1"):
        ci = competing.cumulative_incidence(ref_data, "time", "event", group=group)
        total = ci.curves.groupby(["group", "time"])["cif"].sum()
        for g, frame in ([("all", ref_data)] if group is None else list(ref_data.groupby(group))):
            km = KaplanMeierFitter().fit(frame["time"], frame["event"] != "0").survival_function_.iloc[:, 0]
            times = total.loc[g].index
            np.testing.assert_allclose(total.loc[g].to_numpy() + km.reindex(times).to_numpy(), 1.0, atol=1e-10)
            free = ci.event_free[ci.event_free["group"] == g].set_index("time")["prob"]
            np.testing.assert_allclose(free.to_numpy(), km.reindex(times).to_numpy(), atol=1e-12)
    # reporting a subset of causes does not turn the others into censoring
    only = competing.cumulative_incidence(ref_data, "time", "event", causes=["removal"])
    full = competing.cumulative_incidence(ref_data, "time", "event")
    np.testing.assert_array_equal(only.curves["cif"], full.curves[full.curves["cause"] == "removal"]["cif"])


# ----------------------------------------------------------------------------- known truth

def fine_gray_1999_design(n: int, seed: int, beta1=(0.5, -0.5), beta2=(-0.5, 0.5), p: float = 0.4):
    """Fine & Gray (1999, §5): the subdistribution of cause 1 is proportional hazards with β1.

    F1(t | z) = 1 − [1 − p(1 − e^(−t))]^exp(z'β1); cause 2 otherwise, with an exponential time
    of rate exp(z'β2). z = (binary, normal); censoring uniform on (0, 3).
    """
    rng = np.random.default_rng(seed)
    z = np.column_stack([rng.binomial(1, 0.5, n), rng.normal(size=n)])
    e1 = np.exp(z @ np.asarray(beta1))
    u = rng.random(n)
    first = u < 1 - (1 - p) ** e1
    t = np.empty(n)
    t[first] = -np.log(1 - (1 - (1 - u[first]) ** (1 / e1[first])) / p)
    t[~first] = rng.exponential(1 / np.exp(z[~first] @ np.asarray(beta2)))
    c = rng.uniform(0, 3, n)
    return pd.DataFrame({"time": np.minimum(t, c), "event": np.where(t <= c, np.where(first, 1, 2), 0),
                         "z1": z[:, 0], "z2": z[:, 1]})


def test_fine_gray_recovers_the_true_subdistribution_hazard_ratios():
    # (300 replications of this design with n = 2,000: mean estimates 0.499 / −0.499, 95% CI
    # coverage 94.7% / 94.0%; one fixed sample here)
    d = fine_gray_1999_design(4000, seed=2024)
    fit = competing.fine_gray(d, "time", "event", 1, ["z1", "z2"]).summary.set_index("covariate")
    for z, beta in (("z1", 0.5), ("z2", -0.5)):
        assert fit.loc[z, "hr_low"] < np.exp(beta) < fit.loc[z, "hr_high"], fit
        assert fit.loc[z, "hr_high"] / fit.loc[z, "hr_low"] < 1.5      # an informative interval
    # the test has power: treating the competing cause as censoring (a cause-specific Cox
    # model) estimates a different quantity, and its intervals miss β1
    naive = competing.fine_gray(d.assign(event=d["event"].where(d["event"] == 1, 0)), "time", "event", 1,
                                ["z1", "z2"]).summary.set_index("covariate")
    for z, beta in (("z1", 0.5), ("z2", -0.5)):
        assert not naive.loc[z, "hr_low"] < np.exp(beta) < naive.loc[z, "hr_high"]


def test_cumulative_incidence_recovers_the_true_cif():
    hazards = (0.02, 0.01, 0.005)
    d = _constant_hazards(3000, seed=11, hazards=hazards)
    s = competing.cumulative_incidence(d, "time", "event", times=(6, 12, 36), alpha=0.01).summary
    total = sum(hazards)
    for _, row in s.iterrows():
        truth = hazards[row["cause"] - 1] / total * (1 - np.exp(-total * row["time"]))
        assert row["ci_low"] < truth < row["ci_high"], row
        assert row["ci_high"] - row["ci_low"] < 0.06


# ----------------------------------------------------------------------------- by hand

def test_aalen_johansen_by_hand():
    # t: 1 (cause a), 2 (cause b), 2 (censored), 3 (cause a), 4 (censored)
    # t=1: n=5, F_a = 1/5, S = 4/5; t=2: n=4, F_b = 4/5·1/4 = 1/5, S = 3/5 (the censoring at 2
    # is still at risk at 2); t=3: n=2, F_a = 1/5 + 3/5·1/2 = 1/2, S = 3/10
    d = pd.DataFrame({"t": [1, 2, 2, 3, 4], "e": ["a", "b", 0, "a", 0]})
    ci = competing.cumulative_incidence(d, "t", "e", times=(0.5, 2, 3.5, 4, 5))
    s = ci.summary.set_index(["cause", "time"])["cif"]
    assert s[("a", 0.5)] == 0 and s[("a", 2)] == pytest.approx(0.2) and s[("a", 3.5)] == pytest.approx(0.5)
    assert s[("b", 4)] == pytest.approx(0.2) and np.isnan(s[("a", 5)])      # beyond the follow-up
    assert ci.event_free["prob"].tolist() == pytest.approx([0.8, 0.6, 0.3, 0.3])
    assert ci.curves[ci.curves["cause"] == "a"]["n_risk"].tolist() == [5, 4, 2, 1]


def test_standard_errors_are_the_infinitesimal_jackknife_by_finite_differences():
    """The IJ standard error is the root sum of squares of each child's (or each family's)
    derivative of the estimate in its case weight; here by central differences of a weighted
    Aalen–Johansen written out longhand, with ties and a last time at which everyone has
    the event (S drops to 0)."""
    rng = np.random.default_rng(5)
    n = 40
    t = rng.integers(1, 9, n).astype(float)
    c = rng.integers(0, 3, n)
    c[t == t.max()] = 1
    fam = rng.integers(0, 15, n)

    def weighted_aj(w):
        rows = []
        s = 1.0
        f = np.zeros(2)
        for u in np.unique(t):
            at_risk = w[t >= u].sum()
            d = np.array([w[(t == u) & (c == k)].sum() for k in (1, 2)])
            f = f + s * d / at_risk
            s = s * (1 - d.sum() / at_risk)
            rows.append([s, *f])
        return np.array(rows)

    eps = 1e-6
    unit = np.eye(n)
    infl = np.array([(weighted_aj(1 + eps * unit[i]) - weighted_aj(1 - eps * unit[i])) / (2 * eps) for i in range(n)])
    d = pd.DataFrame({"t": t, "e": c, "fam": fam})
    for cluster, u in ((None, infl), ("fam", np.array([infl[fam == f].sum(axis=0) for f in np.unique(fam)]))):
        ci = competing.cumulative_incidence(d, "t", "e", cluster=cluster)
        expected = np.sqrt((u ** 2).sum(axis=0))
        assert ci.event_free["prob"].iloc[-1] == 0
        np.testing.assert_allclose(ci.event_free["se"], expected[:, 0], atol=1e-8)
        for k in (1, 2):
            np.testing.assert_allclose(ci.curves[ci.curves["cause"] == k]["se"], expected[:, k], atol=1e-8)


def test_fine_gray_weights_by_hand():
    # censoring KM with events first: at t=2 three are at risk of censoring (the event at 2
    # comes first), one is censored: G = 2/3; at t=4 G = 0. The competing event at 1 stays at
    # risk at t=3 with weight G(3-)/G(1-) = 2/3.
    d = pd.DataFrame({"t": [1, 2, 2, 3, 4], "e": [2, 1, 0, 1, 0]})
    times, g = competing.censoring_survival(d["t"], d["e"] == 0)
    assert times.tolist() == [2, 4] and g.tolist() == pytest.approx([2 / 3, 0])
    rows = competing.finegray_data(d, "t", "e", 1)
    extra = rows[rows["fg_row"] == 0]
    assert extra[["fgstart", "fgstop"]].values.tolist() == [[0, 2], [2, 4]]
    assert extra["fgwt"].tolist() == pytest.approx([1, 2 / 3])


def test_docstring_examples_run():
    import doctest

    result = doctest.testmod(competing, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 5 and result.failed == 0


# ----------------------------------------------------------------------------- plots

@pytest.mark.parametrize("kind", ["stacked", "side"])
def test_plot_returns_a_figure_with_vocabulary_labels(ref_data, kind):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def words(fig):
        legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
        return ({ax.title.get_text() for ax in fig.axes}, {t.get_text() for lg in legends for t in lg.get_texts()})

    ci = competing.cumulative_incidence(ref_data, "time", "event", group="x1")
    fig = ci.plot(kind=kind)
    titles, legend = words(fig)
    if kind == "stacked":
        assert len(fig.axes) == 2 and titles == {"x1: 0", "x1: 1"}
        assert {"отобрание (изъятие) ребёнка", "отказ от ребёнка"} <= legend
    else:
        assert len(fig.axes) == 3 and "отобрание (изъятие) ребёнка" in titles and legend == {"x1: 0", "x1: 1"}
    titles, legend = words(ci.plot(lang="en", labels={"removal": "removed"}, kind=kind))
    assert {"removed", "relinquishment"} <= titles | legend
    plt.close("all")


# ----------------------------------------------------------------------------- the user's mistakes

def test_an_unknown_cause_is_a_user_error(ref_data):
    with pytest.raises(UserError, match="unknown cause 'adoption'"):
        competing.fine_gray(ref_data, "time", "event", "adoption", ["x1"])
    with pytest.raises(UserError, match="unknown cause 'adoption'.*removal"):
        competing.cumulative_incidence(ref_data, "time", "event", causes=["removal", "adoption"])
    with pytest.raises(UserError, match="censoring"):
        competing.fine_gray(ref_data, "time", "event", "0", ["x1"])


def test_a_missing_covariate_column_is_a_user_error(ref_data):
    with pytest.raises(UserError, match=r"lack the columns \['income'\]"):
        competing.fine_gray(ref_data, "time", "event", "removal", ["x1", "income"])
    with pytest.raises(UserError, match=r"lack the columns \['famliy'\]"):
        competing.fine_gray(ref_data, "time", "event", "removal", ["x1"], cluster="famliy")


def test_negative_durations_are_a_user_error(ref_data):
    bad = ref_data.copy()
    bad.loc[5, "time"] = -3
    with pytest.raises(UserError, match="negative duration -3 .* row 5"):
        competing.cumulative_incidence(bad, "time", "event")
    with pytest.raises(UserError, match="negative duration"):
        competing.fine_gray(bad, "time", "event", "removal", ["x1"])


def test_other_mistakes_are_user_errors(ref_data):
    with pytest.raises(UserError, match="missing values in 'event'"):
        competing.cumulative_incidence(ref_data.assign(event=ref_data["event"].where(ref_data.index != 3)),
                                       "time", "event")
    with pytest.raises(UserError, match="not numeric"):
        competing.fine_gray(ref_data.assign(x3=np.where(ref_data["x1"] == 1, "yes", "no")), "time", "event",
                            "removal", ["x3"])
    with pytest.raises(UserError, match="missing values in covariate 'x2'"):
        competing.fine_gray(ref_data.assign(x2=ref_data["x2"].where(ref_data.index != 0)), "time", "event",
                            "removal", ["x2"])
    with pytest.raises(UserError, match="constant"):
        competing.fine_gray(ref_data.assign(k=1.0), "time", "event", "removal", ["k"])
    with pytest.raises(UserError, match="no events"):
        competing.cumulative_incidence(ref_data.assign(event="0"), "time", "event")
    with pytest.raises(UserError, match="ties must be"):
        competing.fine_gray(ref_data, "time", "event", "removal", ["x1"], ties="exact")
    with pytest.raises(UserError, match="must be numeric"):
        competing.cumulative_incidence(ref_data.assign(time=ref_data["time"].astype(str)), "time", "event")


# ----------------------------------------------------------------------------- regenerate R's results

@pytest.mark.skipif(not (shutil.which("Rscript") and os.environ.get("EVALKIT_R_REFERENCE") == "1"),
                    reason="needs Rscript (survival, cmprsk) and EVALKIT_R_REFERENCE=1")
def test_r_reference_results_are_current(tmp_path):
    proc = subprocess.run(["Rscript", str(REF / "competing.R"), str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for name in ("competing_cif.csv", "competing_cif_times.csv", "competing_finegray.csv", "competing_crr.csv",
                 "competing_fg_rows.csv"):
        fresh, stored = pd.read_csv(tmp_path / name), pd.read_csv(REF / name)
        pd.testing.assert_frame_equal(fresh, stored, check_exact=False, rtol=1e-10, atol=1e-14, obj=name)
