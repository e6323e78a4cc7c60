"""The generator's truth is true: checked against closed forms and independent draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.synth_model import (SynthConfig, conditional_coefficients, demo_config, positive_stable,
                                 simulate)
from evalkit.synth_truth import true_parameters, truth_tables


@pytest.mark.parametrize("alpha", [0.5, 0.7, 0.9])
def test_positive_stable_frailty_has_the_stated_laplace_transform(alpha):
    """E[exp(-sZ)] = exp(-s**alpha) (Hougaard 2000, ch. 7) — the property the HR truth rests on."""
    z = positive_stable(np.random.default_rng(42), alpha, 400_000)
    for s in (0.1, 0.5, 1.0, 3.0):
        mc = np.exp(-s * z)
        assert mc.mean() == pytest.approx(np.exp(-s ** alpha), abs=4 * mc.std() / np.sqrt(len(z)) + 1e-4)


def test_conditional_coefficients_are_marginal_over_alpha():
    cfg = SynthConfig(frailty_alpha=0.5)
    beta = conditional_coefficients(cfg)
    assert beta["prior_removal"] == pytest.approx(np.log(2.0) / 0.5)
    assert beta["parent_orphan_background"] == 0.0


def test_marginal_survival_from_opening_is_the_stated_weibull():
    """With no covariate effects, the marginal survival is exp(-(t/scale)**shape) whatever the frailty."""
    cfg = SynthConfig(families=40_000, seed=3, hazard_ratios={}, return_home=0.0)
    lat = simulate(cfg)
    t1 = lat.children["t_sep1"].to_numpy()
    for t in (6, 12, 36, 120):
        expect = np.exp(-(t / cfg.hazard_scale) ** cfg.hazard_shape)
        got = (t1 > t).mean()
        # children are clustered in families: allow for the design effect (~2.5 children, tau 0.3)
        se = np.sqrt(expect * (1 - expect) / len(t1) * 2.5)
        assert got == pytest.approx(expect, abs=4 * se)


def test_siblings_share_fate():
    lat = simulate(SynthConfig(families=20_000, seed=4))
    ch = lat.children
    sep = ch["t_sep1"] < 24
    fam_any_other = ch.assign(sep=sep).groupby("fam")["sep"].transform(lambda s: (s.sum() - s) > 0)
    multi = ch.groupby("fam")["fam"].transform("size") > 1
    p_with = sep[multi & fam_any_other].mean()
    p_without = sep[multi & ~fam_any_other].mean()
    assert p_with > 2 * p_without


def test_retention_truth_matches_an_independent_sample():
    """The Monte Carlo truth agrees with the latent times of another large draw."""
    cfg = demo_config(families=30_000, seed=11)
    truth = true_parameters(cfg, mc_families=30_000)
    lat = simulate(cfg)
    ch, fam = lat.children, lat.families.set_index("fam")
    f = fam.loc[ch["fam"].to_numpy()]
    keep = ((f["support"] == "complex") & f["closed"].notna()).to_numpy() & ch["home_at_closure"].to_numpy()
    t_after = ch["t_sep_after_closure"].to_numpy()[keep]
    dur = ch["duration_months"].to_numpy()[keep]
    for m in ("6", "12", "36"):
        tr = truth["retention_after_closure"]["months"][m]
        got = (~(t_after <= dur + int(m))).mean()
        se = np.sqrt(tr["value"] * (1 - tr["value"]) / keep.sum() * 2.5) + tr["mc_se"]
        assert got == pytest.approx(tr["value"], abs=4 * se)


def test_efo_truth_follows_the_configured_gains():
    cfg = demo_config(families=20_000, seed=5)
    change = true_parameters(cfg, mc_families=20_000)["efo"]["mean_change"]
    ic = {d: v["intake_to_closure"]["value"] for d, v in change.items()}
    assert all(v > 0.1 for v in ic.values())
    # the domain with the largest latent gain improves more than the one with the smallest
    gains = cfg.efo_gain_at_closure
    assert ic[max(gains, key=gains.get)] > ic[min(gains, key=gains.get)]
    # follow-up keeps most, not all, of the gain
    for d, v in change.items():
        assert v["closure_to_followup"]["value"] < 0.05


def test_observed_events_never_contradict_latent_history():
    lat = simulate(demo_config(families=3_000, seed=9))
    t = truth_tables(lat)
    ev, ch = t["events"], t["children"]
    sep = ev[ev["event"].isin(["removal", "voluntary_placement", "relinquishment"])]
    born = ch.set_index("child_id")["birth_month"]
    assert (sep["date"].to_numpy() >= born.loc[sep["child_id"]].to_numpy()).all()
    # a child seen away from home at a contact has a separation before it in the latent history
    co = t["contacts"]
    away = co[~co["living_with_family"].astype(bool)]
    first_sep = pd.to_datetime(lat.children["date_sep1"]).set_axis(t["children"]["child_id"])
    assert (away["date"].to_numpy() >= first_sep.loc[away["child_id"]].to_numpy()).all()
    cutoff = pd.Timestamp(lat.config.cutoff)
    for name in ("events", "contacts", "assessments", "services"):
        assert (t[name]["date"] <= cutoff).all(), name
