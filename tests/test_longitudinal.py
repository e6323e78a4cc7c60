"""Longitudinal outcomes (evalkit.longitudinal): against R (lme4, MASS, stats, sandwich), by hand, against the
synthetic truth.

The reference frames ``tests/reference/longitudinal_data.csv`` (one row per child × timepoint: the overall
score and level, covariates as 0/1) and ``longitudinal_pairs.csv`` (one row per child: the domain levels at
intake and closure) are written by :func:`make_reference_data` from a synthetic population through
evalkit's own frames; R's results on them by ``tests/reference/longitudinal.R``. Both are committed, so these
tests need no R. With ``Rscript`` on the PATH and ``EVALKIT_R_REFERENCE=1`` one more test reruns the R
script and checks the committed results are still what R says.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit import longitudinal as L
from evalkit import privacy
from evalkit.errors import UserError

from builders import Builder

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / "tests" / "reference"
REF_COVARIATES = ["case_type_motivational", "case_type_palliative", "crisis_centre", "prior_removal",
                  "parent_mental_illness", "parent_substance_use"]


def make_reference_data(seed: int = 2027, families: int = 700) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The R reference frames, from a synthetic population (``demo_config(families, seed)``).

    ``data``: one row per child × timepoint with an ЕФО (children at home at closure), the overall
    score (``score``, mean of the levels) and level (``level``, lowest domain), and the covariates as
    0/1 columns; rows with a missing covariate are left out, so R and Python fit the same rows.
    ``pairs``: one row per child assessed at intake and closure, the eight domain levels at both.
    Identifiers are renumbered (``F1``, ``C1``...). Run ``python tests/test_longitudinal.py`` to rewrite them.
    """
    from evalkit.survival import design
    from evalkit.synth_model import demo_config, simulate
    from evalkit.synth_truth import truth_tables

    wide = L.wide_frame(truth_tables(simulate(demo_config(families=families, seed=seed))))
    fam = {f: f"F{i + 1}" for i, f in enumerate(pd.unique(wide["family_id"]))}
    kid = {c: f"C{i + 1}" for i, c in enumerate(pd.unique(wide["child_id"]))}
    covs = ["case_type", "crisis_centre", "prior_removal", "parent_mental_illness", "parent_substance_use"]
    mf = L.model_frame(wide, covariates=covs)
    mf["level"] = L.model_frame(wide, outcome="level", covariates=[])["score"].to_numpy()
    x, terms = design(mf, covs, {"case_type": "ordinary"})
    x.columns = [t.replace("[", "_").replace("]", "") for t in terms]
    data = pd.concat([pd.DataFrame({"family_id": mf["family_id"].map(fam), "child_id": mf["child_id"].map(kid),
                                    "timepoint": mf["timepoint"], "score": mf["score"].round(6),
                                    "level": mf["level"].astype(int)}), x[REF_COVARIATES].astype("Int64")], axis=1)
    data = data.dropna().reset_index(drop=True)
    doms = L.domains_of(wide)
    both = wide[wide["has_intake"] & wide["has_closure"]]
    pairs = pd.concat([pd.DataFrame({"family_id": both["family_id"].map(fam), "child_id": both["child_id"].map(kid)}),
                       both[[f"{t}_{d}" for t in ("intake", "closure") for d in doms]].astype("Int64")], axis=1)
    return data, pairs.reset_index(drop=True)


@pytest.fixture(scope="module")
def ref_data() -> pd.DataFrame:
    return pd.read_csv(REF / "longitudinal_data.csv")


@pytest.fixture(scope="module")
def ref_pairs() -> pd.DataFrame:
    p = pd.read_csv(REF / "longitudinal_pairs.csv")
    return p.assign(has_intake=True, has_closure=True)


# ----------------------------------------------------------------------------- against R (tests/reference/longitudinal.R)

@pytest.mark.parametrize("reml", [True, False])
def test_mixed_model_matches_lme4(ref_data, reml):
    method = "REML" if reml else "ML"
    r = pd.read_csv(REF / "longitudinal_fixef.csv")
    r = r[r["method"] == method].set_index("term")
    fit = L.mixed_model(ref_data, REF_COVARIATES, reml=reml)
    assert fit.converged and not fit.messages, fit.messages
    got = fit.summary.set_index("term")
    assert list(got.index) == list(r.index)
    for term in r.index:
        assert got.loc[term, "estimate"] == pytest.approx(r.loc[term, "estimate"], rel=1e-3, abs=1e-6), term
        assert got.loc[term, "se"] == pytest.approx(r.loc[term, "se"], rel=1e-2), term
    vc = pd.read_csv(REF / "longitudinal_varcomp.csv")
    vc = vc[vc["method"] == method].set_index("component")["variance"]
    mine = fit.variance.set_index("component")["variance"]
    for comp in ("family", "child", "residual"):
        assert mine[comp] == pytest.approx(vc[comp], rel=1e-2), comp
    info = pd.read_csv(REF / "longitudinal_fit.csv").set_index("method").loc[method]
    assert (fit.n_obs, fit.n_children, fit.n_families) == (info["nobs"], info["children"], info["families"])
    assert fit.loglik == pytest.approx(info["loglik"], abs=1e-3)
    assert not fit.singular() and not info["singular"]


def test_proportional_odds_matches_mass_polr(ref_data):
    r = pd.read_csv(REF / "longitudinal_polr.csv").set_index("term")
    frame = ref_data.drop(columns="score").rename(columns={"level": "score"})
    got = L.ordinal_model(frame, REF_COVARIATES).summary.set_index("term")
    for term in r.index:
        assert got.loc[term, "estimate"] == pytest.approx(r.loc[term, "estimate"], rel=1e-4, abs=1e-6), term


def test_wilcoxon_holm_and_clustered_mean_change_match_r(ref_pairs):
    r = pd.read_csv(REF / "longitudinal_wilcoxon.csv").set_index("domain")
    got = L.distance_travelled(ref_pairs, comparisons=[("intake", "closure")]).summary.set_index("domain")
    for d in r.index:
        assert got.loc[d, "n"] == r.loc[d, "n"]
        assert got.loc[d, "p_value"] == pytest.approx(r.loc[d, "p_value"], rel=1e-6, abs=0), d
        assert got.loc[d, "p_holm"] == pytest.approx(r.loc[d, "p_holm"], rel=1e-6, abs=0), d
        assert got.loc[d, "mean_change"] == pytest.approx(r.loc[d, "mean_change"], rel=1e-12)
        assert got.loc[d, "se"] == pytest.approx(r.loc[d, "se_cluster"], rel=1e-8), d
        assert got.loc[d, "ci_low"] == pytest.approx(r.loc[d, "ci_low"], rel=1e-8), d


@pytest.mark.skipif(not (shutil.which("Rscript") and os.environ.get("EVALKIT_R_REFERENCE") == "1"),
                    reason="needs Rscript (lme4, MASS, sandwich) and EVALKIT_R_REFERENCE=1")
def test_r_reference_results_are_current(tmp_path):
    proc = subprocess.run(["Rscript", str(REF / "longitudinal.R"), str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for name in ("longitudinal_fixef.csv", "longitudinal_varcomp.csv", "longitudinal_fit.csv",
                 "longitudinal_polr.csv", "longitudinal_wilcoxon.csv"):
        fresh, stored = pd.read_csv(tmp_path / name), pd.read_csv(REF / name)
        pd.testing.assert_frame_equal(fresh, stored, check_exact=False, rtol=1e-6, atol=1e-12, obj=name)


# ----------------------------------------------------------------------------- by hand

@pytest.fixture(scope="module")
def hand_tables():
    """Three children at home at closure, two domains (housing, safety), one child removed before closure.

    ====  ======  ==================  ==================  ==================  ==========================
    kid   family  intake (hous, saf)  closure             follow-up           follow-up visit (3–9 mo.)
    ====  ======  ==================  ==================  ==================  ==========================
    a     F1      1, 2 (level 1)      3, 3 (level 3)      3, 2 (level 2)      at home, 6 months
    b     F1      2, 2 (level 2)      2, 3 (level 2)      —                   none
    c     F2      3, 3 (level 3)      2, 3 (level 2)      3, 4 (level 3)      at home, 6 months
    d     F3      1, 1                — (away)            —                   —
    ====  ======  ==================  ==================  ==================  ==========================
    """
    b = Builder()
    for f in ("F1", "F2", "F3"):
        b.family(f, "o", parent_substance_use=f == "F2")
    for kid, f in (("a", "F1"), ("b", "F1"), ("c", "F2"), ("d", "F3")):
        b.child(kid, f)
    b.case("K1", "F1", "o", "2020-01-01", "2021-01-01")
    b.case("K2", "F2", "o", "2020-03-01", "2021-03-01", case_type="motivational")
    b.case("K3", "F3", "o", "2020-03-01", "2021-03-01", closure="unsuccessful_org")
    for kid, case, closed in (("a", "K1", "2021-01-01"), ("b", "K1", "2021-01-01"), ("c", "K2", "2021-03-01")):
        b.contact(kid, closed, True)
    b.contact("d", "2021-03-01", False)
    b.contact("a", "2021-07-01", True, source="followup_visit")
    b.contact("c", "2021-09-01", True, source="followup_visit")
    b.contact("b", "2021-07-01", True, source="parent")          # not a follow-up visit
    scores = {"a": ((1, 2), (3, 3), (3, 2)), "b": ((2, 2), (2, 3), None), "c": ((3, 3), (2, 3), (3, 4)),
              "d": ((1, 1), None, None)}
    dates = {"a": ("2020-01-10", "2020-12-20", "2021-07-01"), "b": ("2020-01-10", "2020-12-20", None),
             "c": ("2020-03-10", "2021-02-20", "2021-09-01"), "d": ("2020-03-10", None, None)}
    for kid, triple in scores.items():
        case = {"a": "K1", "b": "K1", "c": "K2", "d": "K3"}[kid]
        for tp, s, date in zip(("intake", "closure", "followup"), triple, dates[kid]):
            if s is not None:
                b.efo(kid, case, date, tp, {"housing": s[0], "safety": s[1]})
    return b.tables()


@pytest.fixture(scope="module")
def hand(hand_tables):
    return L.wide_frame(hand_tables).set_index("child_id")


def test_wide_frame_by_hand(hand):
    assert sorted(hand.index) == ["a", "b", "c"]                       # d was not at home at closure
    assert hand.loc["a", ["intake_housing", "intake_safety", "closure_housing", "followup_safety"]].tolist() == \
        [1, 2, 3, 2]
    assert hand.loc["a", "intake_mean"] == 1.5 and hand.loc["a", "intake_level"] == 1
    assert hand.loc["c", "closure_level"] == 2 and hand.loc["c", "followup_mean"] == 3.5
    assert not hand.loc["b", "has_followup"] and np.isnan(hand.loc["b", "followup_housing"])
    assert hand["followup_visit_home"].to_dict() == {"a": True, "b": False, "c": True}
    assert hand["followup_eligible"].to_dict() == {"a": True, "b": False, "c": True}
    assert bool(hand.loc["c", "parent_substance_use"]) and hand.loc["c", "case_type"] == "motivational"
    assert L.domains_of(hand) == ["housing", "safety"]


def test_long_frame_by_hand(hand_tables):
    long = L.long_frame(hand_tables)
    assert len(long) == 2 * (3 + 3 + 2)                                 # a, b, c × 2 domains; d left out
    assert long.groupby("timepoint")["child_id"].nunique().to_dict() == {"closure": 3, "followup": 2, "intake": 3}
    a = long[long["child_id"] == "a"]
    assert a["timepoint"].tolist() == ["intake"] * 2 + ["closure"] * 2 + ["followup"] * 2
    assert a["score"].tolist() == [1, 2, 3, 3, 3, 2] and a["domain"].tolist()[:2] == ["housing", "safety"]
    assert L.long_frame(hand_tables, org="o").shape == long.shape
    assert L.long_frame(hand_tables, years=[2020]).empty
    with pytest.raises(UserError, match="no organisation"):
        L.long_frame(hand_tables, org="nowhere")


def test_transition_matrices_by_hand(hand):
    t = L.transitions(hand.reset_index(), "intake", "closure")
    expected = np.zeros((4, 4), int)
    expected[0, 2] = expected[1, 1] = expected[2, 1] = 1                # a 1→3, b 2→2, c 3→2
    np.testing.assert_array_equal(t.counts.to_numpy(), expected)
    assert t.moved() == {"up": 1, "same": 1, "down": 1}
    assert t.shares.loc[1, 3] == 1.0 and np.isnan(t.shares.loc[4, 4])
    later = L.transitions(hand.reset_index(), "closure", "followup")
    expected = np.zeros((4, 4), int)
    expected[2, 1] = expected[1, 2] = 1                                 # a 3→2, c 2→3 (b has no follow-up)
    np.testing.assert_array_equal(later.counts.to_numpy(), expected)
    housing = L.transitions(hand.reset_index(), "intake", "closure", domain="housing")
    assert housing.counts.loc[1, 3] == housing.counts.loc[2, 2] == housing.counts.loc[3, 2] == 1
    assert housing.counts.to_numpy().sum() == 3
    table = t.table("ru")
    assert table.index[0] == "1 кризисный" and table.columns[2] == "3 удовлетворительный"
    assert t.summary.query("from_level == 1 and to_level == 3")["n"].item() == 1


def test_distance_travelled_by_hand(hand):
    ch = L.distance_travelled(hand.reset_index(), comparisons=[("intake", "closure")], reliability=0.8)
    s = ch.summary.set_index("domain")
    # housing: a +2, b 0, c −1; safety: a +1, b +1, c 0; overall: a +1.5, b +0.5, c −0.5
    assert s.loc["housing", "mean_change"] == pytest.approx(1 / 3)
    assert s.loc["housing", ["improved", "unchanged", "worse"]].tolist() == [1, 1, 1]
    assert s.loc["safety", "mean_change"] == pytest.approx(2 / 3)
    assert s.loc["safety", ["improved", "unchanged", "worse"]].tolist() == [2, 1, 0]
    assert s.loc["overall", "mean_change"] == pytest.approx(0.5)
    # cluster-robust: F1 = {a, b}, F2 = {c}; housing scores F1 (2 − 1/3) + (0 − 1/3) = 4/3, F2 −4/3
    assert s.loc["housing", "se"] == pytest.approx(np.sqrt(2 * (16 / 9 + 16 / 9)) / 3)
    assert s.loc["housing", "families"] == 2
    # the overall reliable-change threshold: 1.96 · √2 · SD(1.5, 2, 3) · √(1 − 0.8)
    sd = np.std([1.5, 2.0, 3.0], ddof=1)
    assert s.loc["overall", "threshold"] == pytest.approx(L.RCI_Z * np.sqrt(2) * sd * np.sqrt(0.2))
    # a (+1.5) is above it (1.35), b and c are not
    assert s.loc["overall", ["improved", "unchanged", "worse"]].tolist() == [1, 2, 0]
    assert s.loc["housing", "threshold"] == 1.0
    assert np.isnan(s.loc["overall", "p_holm"]) and s.loc["safety", "p_holm"] >= s.loc["safety", "p_value"]


def test_seed_indicators_by_hand(hand):
    s = L.seed_indicators(hand.reset_index()).summary.set_index("indicator")
    got = {k: (s.loc[k, "numerator"], s.loc[k, "denominator"]) for k in s.index}
    assert got == {"improved_any": (2, 3), "moved_up": (1, 3), "moved_up_of_below": (1, 2),
                   "improved_any_followup": (2, 2), "improvement_kept": (1, 1), "level_kept": (0, 1)}
    from evalkit.indicators import wilson
    lo, hi = wilson([2], [3])
    assert (s.loc["improved_any", "ci_low"], s.loc["improved_any", "ci_high"]) == (lo[0], hi[0])


def test_attrition_by_hand_when_there_is_nothing_to_model(hand):
    w = hand.reset_index()
    att = L.attrition(w)
    assert att.flow["children"].tolist() == [3, 3, 2, 2]          # at home, intake, due (a, c), assessed (a, c)
    assert (att.n, att.responders, att.converged) == (2, 2, False)  # everybody due was assessed: weights 1
    assert att.frame.set_index("child_id")["weight"].to_dict() == {"a": 1.0, "c": 1.0}
    ipw = L.ipw_change(w, att).summary.set_index(["comparison", "domain"])
    row = ipw.loc[("intake_followup", "housing")]                   # a 1→3, c 3→3
    assert row["cc_mean"] == row["ipw_mean"] == 1.0
    none = L.attrition(w.assign(has_followup=False))
    assert (none.responders, none.converged) == (0, False) and none.frame["weight"].isna().all()
    base = att.baseline.set_index("variable")
    assert base.loc["intake_mean", "with_followup"] == pytest.approx((1.5 + 3.0) / 2)
    assert np.isnan(base.loc["intake_mean", "without_followup"])


def test_the_cluster_robust_mean_is_statsmodels_cr1():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    g = rng.integers(0, 40, 200)
    y = rng.normal(size=200) + rng.normal(size=40)[g]
    m, se, lo, hi, n, k = L._cluster_mean(y, g)
    ols = sm.OLS(y, np.ones(200)).fit(cov_type="cluster", cov_kwds={"groups": g, "use_correction": True})
    assert m == pytest.approx(ols.params[0]) and se == pytest.approx(ols.bse[0], rel=1e-10)
    assert k == len(np.unique(g))


def test_cronbach_alpha_by_hand():
    x = np.array([[1, 2], [2, 3], [3, 3], [4, 4.0]])
    item_var = x.var(axis=0, ddof=1).sum()
    assert L.cronbach_alpha(x) == pytest.approx(2 * (1 - item_var / x.sum(axis=1).var(ddof=1)))


# ----------------------------------------------------------------------------- privacy and reporting

def test_published_change_table_hides_small_counts_and_what_gives_them_away(hand):
    ch = L.distance_travelled(hand.reset_index(), comparisons=[("intake", "closure")])
    shown = privacy.show(ch.suppressed("intake_closure", "en", 5), publish=True, min_cell=5, lang="en")
    # every count is 1–3 and every n is 3: all hidden
    assert (shown.iloc[:, 0] == privacy.MARK).all() and (shown["improved"] == privacy.MARK).all()
    assert shown.attrs["footnote"]
    draft = privacy.show(ch.suppressed("intake_closure", "en", 5), publish=False, min_cell=5, lang="en")
    assert draft.loc["housing", "improved"] == 1


def test_suppressed_change_table_keeps_large_counts():
    n = 60
    wide = pd.DataFrame({"family_id": [f"F{i}" for i in range(n)], "child_id": [f"C{i}" for i in range(n)],
                         "case_id": [f"K{i}" for i in range(n)], "has_intake": True, "has_closure": True,
                         "intake_housing": 2.0, "closure_housing": [3.0] * 40 + [2.0] * 17 + [1.0] * 3,
                         "intake_safety": 2.0, "closure_safety": [3.0] * 30 + [2.0] * 30})
    ch = L.distance_travelled(wide, comparisons=[("intake", "closure")], reliability=0.9)
    out = privacy.show(ch.suppressed("intake_closure", "en", 5), publish=True, min_cell=5, lang="en")
    assert out.loc["housing", "worse"] == privacy.MARK and out.loc["housing", "% worse"] == privacy.MARK
    # a hidden 3 in its row must not be recoverable from n − improved − unchanged
    assert privacy.MARK in (out.loc["housing", "improved"], out.loc["housing", "unchanged"])
    assert out.loc["safety", "improved"] == 30 and out.loc["safety", "children"] == 60


def test_results_speak_both_languages(hand):
    w = hand.reset_index()
    ch = L.distance_travelled(w, comparisons=[("intake", "closure")])
    assert ch.table("intake_closure", "ru").index[0] == "жильё"
    assert ch.table("intake_closure", "en").index[-1] == "overall (mean level)"
    assert L.seed_indicators(w).table("en").index[0].startswith("Children whose level rose")
    assert L.comparison_label("intake", "followup", "ru") == "открытие → мониторинг"


def test_figures_draw(hand):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = hand.reset_index()
    for fig in (L.plot_profile(w, kind="star", lang="en"), L.plot_profile(w, ("intake", "closure"), kind="dumbbell"),
                L.plot_transitions(w, publish=True), L.plot_spaghetti(w, lang="en"),
                L.plot_spaghetti(w, publish=True),
                L.distance_travelled(w, comparisons=[("intake", "closure")]).plot("en")):
        assert fig.axes
        plt.close(fig)


# ----------------------------------------------------------------------------- models: convergence and errors

def test_a_model_that_does_not_converge_says_so(ref_data):
    fit = L.mixed_model(ref_data, REF_COVARIATES, methods=("lbfgs",), maxiter=1)
    assert not fit.converged and fit.messages
    assert "did not converge" in fit.verdict("en") and "не сошлась" in fit.verdict("ru")


def test_user_errors(hand):
    w = hand.reset_index()
    with pytest.raises(UserError, match="reliability"):
        L.distance_travelled(w, reliability=1.5)
    with pytest.raises(UserError, match="no timepoint 'interim'"):
        L.distance_travelled(w, comparisons=[("intake", "interim")])
    with pytest.raises(UserError, match="outcome"):
        L.model_frame(w, outcome="happiness")
    with pytest.raises(UserError, match="lacks"):
        L.mixed_model(pd.DataFrame({"score": [1.0]}))
    with pytest.raises(UserError, match="timepoints"):
        L.long_frame({}, timepoints=("intake",))


# ----------------------------------------------------------------------------- against the synthetic truth

@pytest.fixture(scope="module")
def large():
    """5,000 synthetic families (≈ 12,000 children; ≈ 6,000 at home at the closure of a complex case) as
    canonical tables, and the generator's true parameters from a 20,000-family Monte Carlo draw.

    These are the tables ``read_truth_tables`` reads back and the truth ``truth.json`` holds:
    ``synthesize`` writes exactly ``truth_tables(simulate(cfg))`` and ``true_parameters(cfg, M)``; they are
    built here in memory, without the raw exports (which take most of ``synthesize``'s time).
    """
    from evalkit.synth_model import demo_config, simulate
    from evalkit.synth_truth import true_parameters, truth_tables

    cfg = demo_config(families=5_000, seed=11)
    return truth_tables(simulate(cfg)), true_parameters(cfg, mc_families=20_000)["efo"]


@pytest.fixture(scope="module")
def large_wide(large):
    return L.wide_frame(large[0])


def _covers(row, true, mc_se, lo="ci_low", hi="ci_high", est="mean_change"):
    """The truth inside the interval, widened for the truth's own Monte Carlo error."""
    half = (row[hi] - row[lo]) / 2
    return abs(row[est] - true) <= np.hypot(half, 1.96 * mc_se)


def test_mean_change_per_domain_covers_the_truth(large, large_wide):
    _, truth = large
    s = L.distance_travelled(large_wide, comparisons=[("intake", "closure")]).summary.set_index("domain")
    missed = [d for d, v in truth["mean_change"].items()
              if not _covers(s.loc[d], v["intake_to_closure"]["value"], v["intake_to_closure"]["mc_se"])]
    # eight domains at 95%, strongly correlated through the family's response to support: one miss by chance
    assert len(missed) <= 1, missed
    overall = s.loc["overall"]
    assert overall["ci_low"] <= truth["overall_mean_change_intake_to_closure"] <= overall["ci_high"]
    assert overall["n"] > 4_000 and (s["p_holm"].dropna() < 1e-6).all()


def test_the_generators_attrition_is_detected_and_weighting_covers_the_truth(large, large_wide):
    _, truth = large
    att = L.attrition(large_wide, ["parent_substance_use"])
    m = att.model.set_index("term")
    gen = truth["followup_attrition"]
    b, c = m.loc["intake_mean_centred"], m.loc["parent_substance_use"]
    assert b["estimate"] > 0 and b["p_value"] < 1e-6 and abs(b["estimate"] - gen["b"]) < 3 * b["se"]
    assert c["estimate"] < 0 and c["p_value"] < 1e-6 and abs(c["estimate"] - gen["c"]) < 3 * c["se"]
    assert att.converged and att.n > 3_000
    assert att.baseline.set_index("variable").loc["intake_mean", "smd"] > 0.2     # the followed-up started higher
    ipw = L.ipw_change(large_wide, att).summary.set_index(["comparison", "domain"])
    for comp in ("intake_followup", "closure_followup"):
        key = comp.replace("_", "_to_", 1)
        missed = [d for d, v in truth["mean_change"].items()
                  if not _covers(ipw.loc[(comp, d)], v[key]["value"], v[key]["mc_se"], "ipw_low", "ipw_high",
                                 "ipw_mean")]
        assert len(missed) <= 1, (comp, missed)


def test_seed_indicators_cover_the_truth(large, large_wide):
    _, truth = large
    s = L.seed_indicators(large_wide).summary.set_index("indicator")
    for key, true in (("improved_any", truth["share_improved_in_any_domain"]),
                      ("moved_up", truth["share_moved_to_satisfactory_or_well_off"])):
        assert s.loc[key, "ci_low_clustered"] <= true <= s.loc[key, "ci_high_clustered"], (key, s.loc[key, "share"])


if __name__ == "__main__":  # rewrite the reference frames (then run tests/reference/longitudinal.R)
    data, pairs = make_reference_data()
    data.to_csv(REF / "longitudinal_data.csv", index=False)
    pairs.to_csv(REF / "longitudinal_pairs.csv", index=False)
    print(f"{len(data)} rows, {data['child_id'].nunique()} children; {len(pairs)} pairs")
