"""The truth behind a synthetic source: its clean canonical tables and its true parameters.

``truth_tables`` turns the generator's latent population into the eight canonical tables
exactly as a perfect cleaning of the raw exports would give them, except that the
identifiers are the *raw* keys prefixed by the organisation (``"org_a:СР-00017"``):
cleaning turns that same string into a keyed hash, so a round-trip test hashes these.

``true_parameters`` states what every study should find: hazard ratios, retention after
closure, true mean change per ЕФО domain, the follow-up attrition model. Population
quantities that have no closed form are computed on a large independent draw of the same
model with the same calendar design (so the same selection, e.g. "cases closed before the
cut-off", applies), with their Monte Carlo standard errors.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from evalkit import fake_people
from evalkit.synth_model import (COVARIATES, Latent, SynthConfig, conditional_coefficients, efo_latent,
                                 simulate)

__all__ = ["truth_tables", "personal_data", "true_parameters", "raw_keys"]

FAMILY_FLAGS = ("parent_mental_illness", "parent_intellectual_disability", "parent_substance_use",
                "parent_orphan_background", "prior_removal", "no_registration", "stable_income_at_intake")


def raw_keys(latent: Latent) -> dict[str, pd.Series]:
    """The organisation's own identifiers: family code, child code, case number, staff name."""
    cfg = latent.config
    fam, ch = latent.families, latent.children
    prefix = pd.Series([o.prefix for o in cfg.orgs], dtype=object).iloc[fam["org_i"]].to_numpy()
    family = pd.Series(prefix, index=fam.index) + "-" + fam["number"].astype(str).str.zfill(5)
    year = pd.to_datetime(fam["opened"]).dt.year.astype(str)
    case = year + "/" + fam["number"].astype(str)
    child = family.to_numpy()[ch["fam"].to_numpy()] + "-" + ch["child_no"].astype(str)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 17]))
    staff_needed = fam.groupby("org_i")["case_manager_no"].max()
    pools = {i: fake_people.staff(rng, int(staff_needed.get(i, 1))) for i in range(len(cfg.orgs))}
    manager = _staff_of(fam, pools)
    return {"family": family, "case": case, "child": pd.Series(child, index=ch.index), "manager": manager}


def _staff_of(fam: pd.DataFrame, pools: dict) -> pd.Series:
    """Each family's case manager, by organisation pool and number."""
    out = np.empty(len(fam), dtype=object)
    for i, pool in pools.items():
        mine = fam["org_i"].to_numpy() == i
        out[mine] = pool[fam["case_manager_no"].to_numpy()[mine] - 1]
    return pd.Series(out, index=fam.index)


def _ids(org: np.ndarray, key) -> np.ndarray:
    return (pd.Series(org, dtype=object) + ":" + pd.Series(np.asarray(key), dtype=object)).to_numpy()


def _ts(values) -> np.ndarray:
    return pd.to_datetime(pd.Series(values)).astype("datetime64[ns]").to_numpy()


def truth_tables(latent: Latent) -> dict[str, pd.DataFrame]:
    """The clean canonical tables the raw exports were made from."""
    cfg = latent.config
    fam, ch = latent.families, latent.children
    keys = raw_keys(latent)
    org = fam["org"].to_numpy()
    fam_id = _ids(org, keys["family"])
    case_id = _ids(org, keys["case"])
    child_org = org[ch["fam"].to_numpy()]
    child_id = _ids(child_org, keys["child"])
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 23]))

    families = pd.DataFrame({"family_id": fam_id, "org": org, "region": fam["region"].to_numpy(),
                             "household": fam["household"].to_numpy()})
    for flag in FAMILY_FLAGS[:-1]:
        families[flag] = _recorded(fam[flag].to_numpy(), rng, cfg.flag_missing)
    families["housing_at_intake"] = fam["housing_at_intake"].to_numpy()
    families["stable_income_at_intake"] = _recorded(fam["stable_income_at_intake"].to_numpy(), rng, cfg.flag_missing)
    families["rights_status_at_intake"] = fam["rights_status_at_intake"].to_numpy()

    birth_month = pd.to_datetime(ch["birth_date"]).dt.to_period("M").dt.to_timestamp()
    children = pd.DataFrame({"child_id": child_id, "family_id": fam_id[ch["fam"].to_numpy()],
                             "sex": ch["sex"].to_numpy(), "birth_month": birth_month.astype("datetime64[ns]").to_numpy(),
                             "disability": pd.array(ch["disability"].to_numpy(), dtype="boolean")})

    cases = pd.DataFrame({
        "case_id": case_id, "family_id": fam_id, "org": org, "opened": _ts(fam["opened"]),
        "closed": _ts(fam["closed"]), "support": fam["support"].to_numpy(),
        "case_type": fam["case_type"].to_numpy(), "closure": fam["closure"].to_numpy(),
        "crisis_centre": pd.array(fam["crisis_centre"], dtype="boolean"),
        "case_manager": _ids(org, keys["manager"])})

    a = latent.assessments
    assessments = pd.DataFrame({"child_id": child_id[a["child"].to_numpy()], "case_id": case_id[a["fam"].to_numpy()],
                                "date": _ts(a["date"]), "timepoint": a["timepoint"].to_numpy(),
                                "instrument": "efo", "domain": a["domain"].to_numpy(),
                                "score": a["score"].to_numpy().astype("int64")})
    e = latent.events
    events = pd.DataFrame({"child_id": child_id[e["child"].to_numpy()], "date": _ts(e["date"]),
                           "event": e["event"].to_numpy(), "source": e["source"].to_numpy()})
    c = latent.contacts
    contacts = pd.DataFrame({"child_id": child_id[c["child"].to_numpy()], "date": _ts(c["date"]),
                             "living_with_family": pd.array(c["living_with_family"].to_numpy(), dtype="boolean"),
                             "safe": pd.array(c["safe"], dtype="boolean"), "source": c["source"].to_numpy()})
    s = latent.services
    services = pd.DataFrame({"case_id": case_id[s["fam"].to_numpy()], "date": _ts(s["date"]),
                             "service": s["service"].to_numpy(), "amount_rub": s["amount_rub"].astype(float).to_numpy()})
    costs = latent.costs.copy()
    costs["year"] = costs["year"].astype("int64")
    costs["expenses_rub"] = costs["expenses_rub"].astype(float)
    out = {"families": families, "children": children, "cases": cases, "assessments": assessments,
           "events": events, "contacts": contacts, "services": services, "costs": costs}
    for name, df in out.items():
        for col in df.columns:
            if df[col].dtype == object:
                df[col] = df[col].astype(object).where(df[col].notna(), None)
    return out


def _recorded(values: np.ndarray, rng, missing: float) -> pd.arrays.BooleanArray:
    out = pd.array(values.astype(bool), dtype="boolean")
    out[rng.random(len(values)) < missing] = pd.NA
    return out


def personal_data(latent: Latent) -> dict[str, pd.DataFrame]:
    """The fake personal data the raw exports carry, by raw key (for the no-PII scans)."""
    cfg = latent.config
    fam, ch = latent.families, latent.children
    keys = raw_keys(latent)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 31]))
    roots = fake_people.surname_roots(rng, len(fam))
    mother = fake_people.women(rng, len(fam))
    # the mother's surname is the family's
    mother = (pd.Series(roots).astype(str) + "а " + pd.Series(mother).str.split(" ", n=1).str[1]).to_numpy()
    families = pd.DataFrame({"org": fam["org"].to_numpy(), "family_key": keys["family"].to_numpy(),
                             "parent_name": mother, "phone": fake_people.phones(rng, len(fam)),
                             "address": fake_people.addresses(rng, len(fam))})
    female = ch["sex"].to_numpy() == "female"
    children = pd.DataFrame({"org": fam["org"].to_numpy()[ch["fam"].to_numpy()],
                             "child_key": keys["child"].to_numpy(),
                             "child_name": fake_people.children_names(rng, roots[ch["fam"].to_numpy()], female),
                             "birth_date": pd.to_datetime(ch["birth_date"]).astype("datetime64[ns]").to_numpy()})
    staff = pd.DataFrame({"org": fam["org"].to_numpy(), "staff_name": keys["manager"].to_numpy()}).drop_duplicates()
    return {"families": families, "children": children, "staff": staff.reset_index(drop=True)}


# ----------------------------------------------------------------------------- true parameters

def _share(x: np.ndarray) -> dict:
    x = np.asarray(x, dtype=float)
    p = float(x.mean()) if len(x) else float("nan")
    return {"value": p, "mc_se": float(np.sqrt(p * (1 - p) / len(x))) if len(x) else float("nan"), "n": int(len(x))}


def true_parameters(cfg: SynthConfig, mc_families: int = 200_000) -> dict:
    """What the studies should find, computed from the model (see module docstring)."""
    mc = simulate(replace(cfg, families=mc_families, seed=cfg.seed + 7919))
    fam, ch = mc.families, mc.children
    fi = ch["fam"].to_numpy()
    f = fam.set_index("fam").loc[fi]
    complex_ = (f["support"] == "complex").to_numpy()
    closed_obs = f["closed"].notna().to_numpy()
    dur = ch["duration_months"].to_numpy()
    beta = conditional_coefficients(cfg)

    retention_after_closure = {}
    at_home = complex_ & closed_obs & ch["home_at_closure"].to_numpy()
    t_after = ch["t_sep_after_closure"].to_numpy()
    for m in (6, 12, 36):
        retention_after_closure[str(m)] = _share(~(t_after[at_home] <= dur[at_home] + m))
    retention_from_opening = {}
    t1 = ch["t_sep1"].to_numpy()
    for m in (6, 12, 36):
        retention_from_opening[str(m)] = {
            "all": _share(t1[complex_] > m),
            "prior_removal": _share(t1[complex_ & f["prior_removal"].to_numpy()] > m),
            "no_prior_removal": _share(t1[complex_ & ~f["prior_removal"].to_numpy()] > m),
        }
    # ЕФО: true mean change per domain in the populations the study can observe
    scores = efo_latent(cfg, fam, ch, np.random.default_rng(cfg.seed + 104729))
    domains = list(scores["domains"])
    home6 = at_home & ~(t_after <= dur + 6)
    change = {}
    for j, d in enumerate(domains):
        ic = scores["closure"][at_home, j] - scores["intake"][at_home, j]
        ifu = scores["followup"][home6, j] - scores["intake"][home6, j]
        cfu = scores["followup"][home6, j] - scores["closure"][home6, j]
        change[d] = {
            "intake_to_closure": {"value": float(ic.mean()), "mc_se": float(ic.std() / np.sqrt(len(ic)))},
            "intake_to_followup": {"value": float(ifu.mean()), "mc_se": float(ifu.std() / np.sqrt(len(ifu)))},
            "closure_to_followup": {"value": float(cfu.mean()), "mc_se": float(cfu.std() / np.sqrt(len(cfu)))},
        }
    overall_ic = scores["closure"][at_home].mean(1) - scores["intake"][at_home].mean(1)
    moved_up = (scores["closure"][at_home] >= 3).all(1) & ~(scores["intake"][at_home] >= 3).all(1)
    improved_any = (scores["closure"][at_home] > scores["intake"][at_home]).any(1)

    fam_c = fam[(fam["support"] == "complex") & fam["closed"].notna()]
    return {
        "about": ("True parameters of the synthetic population. Hazard ratios are marginal "
                  "(population-averaged): what a Cox model with family-clustered errors and all "
                  "covariates below estimates, time origin = case opening, complex-support cases, "
                  "children censored at 18 (birth month + 18 years). Quantities with mc_se were "
                  "computed on an independent draw of the same model and calendar design."),
        "mc_families": mc_families,
        "hazard": {
            "time_origin": "case opening", "time_unit": "months of 30.4375 days",
            "covariates": list(COVARIATES),
            "hazard_ratio": {k: float(cfg.hazard_ratios.get(k, 1.0)) for k in COVARIATES},
            "log_hazard_ratio": {k: float(np.log(cfg.hazard_ratios.get(k, 1.0))) for k in COVARIATES},
            "conditional_coefficient": beta,
            "frailty": {"family": "positive stable", "alpha": cfg.frailty_alpha,
                        "kendall_tau": 1 - cfg.frailty_alpha},
            "marginal_baseline": {"family": "Weibull", "cumulative_hazard": "(t / scale) ** shape",
                                  "shape": cfg.hazard_shape, "scale_months": cfg.hazard_scale},
            "no_effect": [k for k in COVARIATES if cfg.hazard_ratios.get(k, 1.0) == 1.0],
            "separation_type": {"default": dict(zip(("removal", "voluntary_placement", "relinquishment"),
                                                    cfg.separation_type)),
                                "parent_substance_use": dict(zip(("removal", "voluntary_placement",
                                                                  "relinquishment"),
                                                                 cfg.separation_type_substance_use))},
        },
        "retention_after_closure": {
            "population": "children of complex-support cases closed by the cut-off, at home at closure",
            "months": retention_after_closure},
        "retention_from_opening": {"population": "children of complex-support cases", "months": retention_from_opening},
        "children_home_at_closure": _share(ch["home_at_closure"].to_numpy()[complex_ & closed_obs]),
        "families_home_at_closure": _share(fam_c["home_all_at_closure"].to_numpy()),
        "efo": {
            "scale": "levels 1 crisis, 2 unsatisfactory, 3 satisfactory, 4 well-off",
            "population_intake_to_closure": "children at home at closure (complex cases closed by the cut-off)",
            "population_followup": "children at home 6 months after closure",
            "mean_change": change,
            "overall_mean_change_intake_to_closure": float(overall_ic.mean()),
            "share_moved_to_satisfactory_or_well_off": float(moved_up.mean()),
            "share_improved_in_any_domain": float(improved_any.mean()),
            "followup_attrition": {
                "model": "logit P(follow-up ЕФО | at home at the 6-month visit) = a + b*(mean intake score - 2) + c*parent_substance_use",
                "a": cfg.efo_followup_logit[0], "b": cfg.efo_followup_logit[1], "c": cfg.efo_followup_logit[2],
                "mechanism": "missing at random given intake scores and substance use"},
        },
        "loss_to_followup": {"lost_by_36_months": cfg.lost_by_36_months,
                             "informative": False,
                             "note": "loss is independent of the separation process (non-informative censoring)"},
    }
