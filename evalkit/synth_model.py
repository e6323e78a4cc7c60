"""The generative model behind ``evalkit synth``: a synthetic population with a known truth.

Families with the seeds' risk factors, their children, one support episode each, and what
happens to the children: separations from the family driven by a proportional-hazards
model with a **positive-stable shared family frailty** (siblings share fate), returns
home, rights events, irregular contacts after closure with loss to follow-up, ЕФО domain
scores, services and project costs.

Why a positive-stable frailty (Hougaard 1986; Hougaard, *Analysis of Multivariate
Survival Data*, 2000, ch. 7): with conditional hazard ``Z * exp(beta'x) * h0(t)`` and
``E[exp(-s Z)] = exp(-s**alpha)``, the *marginal* hazards are still proportional, with
coefficients ``alpha * beta`` and a Weibull baseline of shape ``alpha * k``. A Cox model
with family-clustered errors estimates exactly those marginal hazard ratios, so the truth
the tests check is a number, not an approximation. The configuration is stated in
marginal terms (what a study estimates); the generator converts.

Time is measured in months of 30.4375 days from the opening of the case. Everything is
vectorised with numpy so a million children take seconds.

Examples
--------
>>> from evalkit.synth_model import SynthConfig, simulate
>>> latent = simulate(SynthConfig(families=50, seed=1))
>>> len(latent.families)
50
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

__all__ = ["MONTH_DAYS", "OrgSpec", "SynthConfig", "Latent", "simulate", "demo_config"]

MONTH_DAYS = 30.4375
_DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class OrgSpec:
    """One synthetic organisation and its export habits.

    ``style`` is ``"xlsx"`` (one workbook, Russian headers, several sheets) or ``"csv"``
    (a cp1251, semicolon-separated, decimal-comma CSV set with other headers).
    """

    code: str
    name: str
    region: str
    style: str
    prefix: str
    project: str
    weight: float = 1.0
    crisis_centre_if_homeless: float = 0.6
    crisis_centre_otherwise: float = 0.08


DEMO_ORGS = (
    OrgSpec("org_a", "БФ «Семья рядом» (синтетический)", "Москва", "xlsx", "СР",
            "Помощь семьям в трудной жизненной ситуации", weight=0.6,
            crisis_centre_if_homeless=0.55, crisis_centre_otherwise=0.05),
    OrgSpec("org_b", "Кризисный центр «Наш дом» (синтетический)", "Московская область", "csv",
            "НД", "Кризисный центр для мам с детьми", weight=0.4,
            crisis_centre_if_homeless=0.9, crisis_centre_otherwise=0.35),
)


@dataclass(frozen=True)
class SynthConfig:
    """Every parameter of the generative model. Defaults are calibrated to the seeds
    (see ``docs/calibration.md``); hazard ratios are *marginal* (what Cox estimates)."""

    families: int = 400
    seed: int = 2026
    orgs: tuple[OrgSpec, ...] = DEMO_ORGS
    open_from: str = "2016-01-01"
    open_to: str = "2023-12-31"
    cutoff: str = "2024-12-31"
    # --- family composition (seed 002: 63 of 100 single mothers, 2 single fathers)
    household: dict = field(default_factory=lambda: {
        "single_mother": 0.63, "single_father": 0.02, "two_parents": 0.30, "other": 0.05})
    prevalence: dict = field(default_factory=lambda: {
        "parent_mental_illness": 0.18, "parent_intellectual_disability": 0.12,
        "parent_substance_use": 0.25, "parent_orphan_background": 0.15,
        "prior_removal": 0.22, "no_registration": 0.15, "stable_income_at_intake": 0.45})
    #: share of each family flag left unrecorded (missing) in the data
    flag_missing: float = 0.03
    housing: dict = field(default_factory=lambda: {
        "own": 0.30, "rented": 0.35, "relatives": 0.20, "none": 0.15})
    rights_status: dict = field(default_factory=lambda: {
        "none": 0.85, "restricted": 0.10, "deprived": 0.05})
    #: children per family 1..6 (mean 2.46; seed 002: 242 children in 100 families)
    children_per_family: tuple = (0.25, 0.35, 0.20, 0.12, 0.05, 0.03)
    disability: float = 0.08
    # --- support episodes
    support: dict = field(default_factory=lambda: {"complex": 0.72, "one_off": 0.18, "redirected": 0.10})
    case_type: dict = field(default_factory=lambda: {"ordinary": 0.65, "motivational": 0.25, "palliative": 0.10})
    #: mean support length in months by case type (gamma, shape ``duration_shape``)
    duration_months: dict = field(default_factory=lambda: {"ordinary": 15.5, "motivational": 22.0, "palliative": 32.0})
    duration_shape: float = 2.5
    families_per_case_manager: int = 15
    # --- separation hazard (months since opening), marginal Weibull H(t) = (t / scale)^shape
    hazard_shape: float = 0.50
    hazard_scale: float = 1500.0
    frailty_alpha: float = 0.7
    #: marginal hazard ratios (exp of the coefficients a Cox model estimates)
    hazard_ratios: dict = field(default_factory=lambda: {
        "prior_removal": 2.0, "parent_mental_illness": 1.9, "parent_substance_use": 1.6,
        "parent_intellectual_disability": 1.3, "no_registration": 1.2, "housing_none": 1.4,
        "case_type_motivational": 1.3, "case_type_palliative": 1.5, "crisis_centre": 0.75,
        "parent_orphan_background": 1.0, "disability": 1.0})
    #: kind of separation: (removal, voluntary_placement, relinquishment)
    separation_type: tuple = (0.55, 0.30, 0.15)
    separation_type_substance_use: tuple = (0.75, 0.18, 0.07)
    return_home: float = 0.2
    return_after_months: float = 4.0
    # --- after closure: contacts and loss to follow-up
    lost_by_36_months: float = 0.35
    followup_months: tuple = (6.0, 12.0, 36.0)
    followup_sources: tuple = ("followup_visit", "volunteer", "followup_visit")
    followup_attempt_success: float = 0.85
    followup_jitter_months: float = 0.75
    informal_contacts_per_year: float = 1.2
    contact_horizon_months: float = 60.0
    #: share of separations after closure whose date a contact learns
    separation_date_learned: float = 0.5
    # --- ЕФО scores: latent scale, thresholds 0, 1, 2 between levels 1..4
    efo_intake_mean: dict = field(default_factory=lambda: {
        "housing": 0.5, "material": 0.3, "health": 1.0, "emotional_development": 0.7,
        "education": 0.9, "basic_care": 0.8, "safety": 0.6, "relationships": 0.6})
    efo_gain_at_closure: dict = field(default_factory=lambda: {
        "housing": 1.0, "material": 0.7, "health": 0.4, "emotional_development": 0.6,
        "education": 0.5, "basic_care": 0.9, "safety": 1.0, "relationships": 0.7})
    efo_followup_keeps: float = 0.85
    #: share of families whose situation responds to support; responders gain gain/share,
    #: the others nothing, so the mean gain per domain is ``efo_gain_at_closure``
    efo_responders: float = 0.65
    #: raters re-rate a domain only when it moved: small occasion noise
    efo_sd: dict = field(default_factory=lambda: {"family": 0.5, "child": 0.4, "child_domain": 0.3, "occasion": 0.1})
    efo_assessed: dict = field(default_factory=lambda: {"intake": 0.9, "interim": 0.5, "closure": 0.85})
    #: follow-up ЕФО given a 6-month visit: logit p = a + b*(intake mean score - 2) + c*substance_use
    efo_followup_logit: tuple = (1.0, 1.2, -0.8)
    # --- services and costs
    services_per_month: float = 0.6
    material_help_rub: float = 6000.0
    cost_per_family_rub: float = 120000.0
    cost_fixed_rub: float = 1500000.0

    def __post_init__(self) -> None:
        if self.families < 1:
            raise ValueError(f"families must be at least 1, not {self.families}")
        if not 0 < self.frailty_alpha <= 1:
            raise ValueError("frailty_alpha must be in (0, 1]")
        if not self.orgs:
            raise ValueError("at least one organisation is needed")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["orgs"] = [asdict(o) for o in self.orgs]
        return d


def demo_config(families: int = 400, seed: int = 2026, orgs: int = 2) -> SynthConfig:
    """The demo's configuration; more than two organisations alternate the two export styles."""
    specs = list(DEMO_ORGS)
    for i in range(len(specs), orgs):
        base = DEMO_ORGS[i % 2]
        specs.append(replace(base, code=f"org_{i + 1:03d}", name=f"Организация {i + 1} (синтетическая)",
                             prefix=f"О{i + 1}", weight=1.0))
    if orgs < len(specs):
        specs = specs[:orgs]
    if orgs > 2:  # a register: organisations of equal size
        specs = [replace(s, weight=1.0) for s in specs]
    return SynthConfig(families=families, seed=seed, orgs=tuple(specs))


@dataclass
class Latent:
    """Everything the generator knows, including what no data set would record."""

    config: SynthConfig
    families: pd.DataFrame   # one row per family (and its single case)
    children: pd.DataFrame   # one row per child, with latent separation times
    contacts: pd.DataFrame
    events: pd.DataFrame
    assessments: pd.DataFrame
    services: pd.DataFrame
    costs: pd.DataFrame


# ----------------------------------------------------------------------------- helpers

def _rngs(seed: int, names: list[str]) -> dict[str, np.random.Generator]:
    """Independent streams per component, so changing one part never shifts another."""
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {n: np.random.default_rng(s) for n, s in zip(names, children)}


def _choice(rng, probs: dict, n: int) -> np.ndarray:
    keys = list(probs)
    p = np.array([probs[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


def positive_stable(rng, alpha: float, n: int) -> np.ndarray:
    """Draw Z with Laplace transform exp(-s**alpha) (Kanter 1975; Chambers, Mallows & Stuck 1976)."""
    if alpha == 1:
        return np.ones(n)
    u = rng.uniform(0, np.pi, n)
    e = rng.exponential(1.0, n)
    return (np.sin(alpha * u) / np.sin(u) ** (1 / alpha)) * (np.sin((1 - alpha) * u) / e) ** ((1 - alpha) / alpha)


def _days(months) -> np.ndarray:
    return np.asarray(months, dtype=float) * MONTH_DAYS


def _add_days(dates: np.ndarray, days) -> np.ndarray:
    """dates (datetime64[D]) + whole days (floored); inf/NaN give NaT."""
    days = np.asarray(days, dtype=float)
    out = np.full(days.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    ok = np.isfinite(days)
    out[ok] = np.asarray(dates, dtype="datetime64[D]")[ok] + np.floor(days[ok]).astype("int64") * _DAY
    return out


COVARIATES = ("prior_removal", "parent_mental_illness", "parent_substance_use",
              "parent_intellectual_disability", "no_registration", "housing_none",
              "case_type_motivational", "case_type_palliative", "crisis_centre",
              "parent_orphan_background", "disability")


def design_matrix(families: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """The covariates of the hazard model, one row per child (true values, 0/1)."""
    f = families.set_index("fam").loc[children["fam"].to_numpy()]
    return pd.DataFrame({
        "prior_removal": f["prior_removal"].to_numpy(),
        "parent_mental_illness": f["parent_mental_illness"].to_numpy(),
        "parent_substance_use": f["parent_substance_use"].to_numpy(),
        "parent_intellectual_disability": f["parent_intellectual_disability"].to_numpy(),
        "no_registration": f["no_registration"].to_numpy(),
        "housing_none": (f["housing_at_intake"] == "none").to_numpy(),
        "case_type_motivational": (f["case_type"] == "motivational").to_numpy(),
        "case_type_palliative": (f["case_type"] == "palliative").to_numpy(),
        "crisis_centre": f["crisis_centre"].fillna(False).to_numpy(dtype=bool),
        "parent_orphan_background": f["parent_orphan_background"].to_numpy(),
        "disability": children["disability"].to_numpy(),
    }, index=children.index).astype(float)


def conditional_coefficients(cfg: SynthConfig) -> dict[str, float]:
    """beta of the conditional (frailty) model = log(marginal HR) / alpha."""
    return {k: float(np.log(cfg.hazard_ratios.get(k, 1.0)) / cfg.frailty_alpha) for k in COVARIATES}


# ----------------------------------------------------------------------------- families

def _families(cfg: SynthConfig, rng: np.random.Generator) -> pd.DataFrame:
    n = cfg.families
    org_w = np.array([o.weight for o in cfg.orgs], dtype=float)
    org_i = rng.choice(len(cfg.orgs), size=n, p=org_w / org_w.sum())
    start = np.datetime64(cfg.open_from, "D")
    span = (np.datetime64(cfg.open_to, "D") - start).astype(int)
    opened = start + rng.integers(0, span + 1, n) * _DAY
    fam = pd.DataFrame({"org_i": org_i, "opened": opened})
    fam["org"] = np.array([o.code for o in cfg.orgs], dtype=object)[org_i]
    fam["region"] = np.array([o.region for o in cfg.orgs], dtype=object)[org_i]
    fam["household"] = _choice(rng, cfg.household, n)
    for flag, p in cfg.prevalence.items():
        fam[flag] = rng.random(n) < p
    fam["housing_at_intake"] = _choice(rng, cfg.housing, n)
    # rights at intake: more often restricted after a prior removal
    rights = _choice(rng, cfg.rights_status, n)
    bump = fam["prior_removal"].to_numpy() & (rng.random(n) < 0.15)
    rights[bump & (rights == "none")] = "restricted"
    fam["rights_status_at_intake"] = rights
    # the episode of support
    fam["support"] = _choice(rng, cfg.support, n)
    complex_ = fam["support"].to_numpy() == "complex"
    case_type = _choice(rng, cfg.case_type, n)
    case_type[~complex_] = None
    fam["case_type"] = case_type
    mean = np.array([cfg.duration_months.get(t, 1.0) if t else 1.0 for t in case_type])
    months = rng.gamma(cfg.duration_shape, mean / cfg.duration_shape)
    months[fam["support"].to_numpy() == "one_off"] = rng.uniform(0, 1, (fam["support"] == "one_off").sum())
    months[fam["support"].to_numpy() == "redirected"] = rng.uniform(0, 2, (fam["support"] == "redirected").sum())
    fam["duration_months"] = months
    fam["closed_latent"] = _add_days(opened, _days(months))
    hi = np.array([o.crisis_centre_if_homeless for o in cfg.orgs])[org_i]
    lo = np.array([o.crisis_centre_otherwise for o in cfg.orgs])[org_i]
    p_cc = np.where(fam["housing_at_intake"] == "none", hi, lo)
    cc = pd.array(rng.random(n) < p_cc, dtype="boolean")
    cc[~complex_] = pd.NA
    fam["crisis_centre"] = cc
    fam["frailty"] = positive_stable(rng, cfg.frailty_alpha, n)
    # numbering inside each organisation in order of opening: the raw family code
    fam = fam.sort_values(["org_i", "opened"], kind="stable").reset_index(drop=True)
    fam["fam"] = np.arange(n)
    fam["number"] = fam.groupby("org_i").cumcount() + 1
    # case managers: a pool per organisation, at most ``families_per_case_manager`` open cases each
    pool = np.maximum(2, np.ceil(fam.groupby("org_i")["fam"].transform("size") / (cfg.families_per_case_manager * 6)))
    fam["case_manager_no"] = (rng.random(n) * pool).astype(int) + 1
    return fam


# ----------------------------------------------------------------------------- children

def _children(cfg: SynthConfig, fam: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    p = np.asarray(cfg.children_per_family, dtype=float)
    k = rng.choice(np.arange(1, len(p) + 1), size=len(fam), p=p / p.sum())
    fam_idx = np.repeat(fam["fam"].to_numpy(), k)
    ch = pd.DataFrame({"fam": fam_idx})
    ch["child_no"] = ch.groupby("fam").cumcount() + 1
    n = len(ch)
    opened = fam["opened"].to_numpy()[fam_idx]
    # ages at intake: many under 3 (seed 000's ЕФО sample), the rest up to 17
    band = rng.choice(3, size=n, p=[0.4, 0.35, 0.25])
    lo = np.array([0.0, 3.0, 10.0])[band]
    hi = np.array([3.0, 10.0, 17.5])[band]
    age_days = np.floor(rng.uniform(lo, hi) * 365.25).astype("int64")
    ch["birth_date"] = opened.astype("datetime64[D]") - age_days * _DAY
    ch["sex"] = np.where(rng.random(n) < 0.5, "female", "male").astype(object)
    ch["disability"] = rng.random(n) < cfg.disability
    return ch


def _separations(cfg: SynthConfig, fam: pd.DataFrame, ch: pd.DataFrame, rng: np.random.Generator) -> None:
    """Latent separation times (months since opening): first, return home, second."""
    beta = conditional_coefficients(cfg)
    x = design_matrix(fam, ch)
    lp = x.to_numpy() @ np.array([beta[c] for c in x.columns])
    z = fam["frailty"].to_numpy()[ch["fam"].to_numpy()]
    k = cfg.hazard_shape / cfg.frailty_alpha  # conditional Weibull shape
    scale = cfg.hazard_scale
    rate = z * np.exp(lp)

    def cumhaz(t):
        return (np.asarray(t) / scale) ** k

    def inverse(h):
        return scale * np.asarray(h) ** (1 / k)

    n = len(ch)
    t1 = inverse(rng.exponential(1.0, n) / rate)
    dur = fam["duration_months"].to_numpy()[ch["fam"].to_numpy()]
    returned = (t1 < dur) & (rng.random(n) < cfg.return_home)
    r = t1 + rng.gamma(2.0, cfg.return_after_months / 2.0, n)
    returned &= r < dur  # returns are worked on during support only
    # a second separation after the return continues the same cumulative hazard
    t2 = inverse(cumhaz(np.where(returned, r, 0.0)) + rng.exponential(1.0, n) / rate)
    ch["t_sep1"] = t1
    ch["t_return"] = np.where(returned, r, np.nan)
    ch["t_sep2"] = np.where(returned, t2, np.nan)
    su = fam["parent_substance_use"].to_numpy()[ch["fam"].to_numpy()]
    kinds = np.array(["removal", "voluntary_placement", "relinquishment"], dtype=object)
    for col in ("type_sep1", "type_sep2"):
        u = rng.random(n)
        cum_a = np.cumsum(cfg.separation_type)
        cum_b = np.cumsum(cfg.separation_type_substance_use)
        cum = np.where(su[:, None], cum_b[None, :], cum_a[None, :])
        ch[col] = kinds[np.minimum((u[:, None] > cum).sum(axis=1), 2)]
    ch["duration_months"] = dur
    # at home at closure: never separated by then, or returned and not separated again
    ch["home_at_closure"] = (t1 > dur) | (returned & (t2 > dur))
    # the first separation after closure, in months since opening
    ch["t_sep_after_closure"] = np.where(t1 > dur, t1, np.where(returned & (t2 > dur), t2, np.nan))
    ch["type_sep_after_closure"] = np.where(t1 > dur, ch["type_sep1"], ch["type_sep2"])


# ----------------------------------------------------------------------------- observation

def simulate(cfg: SynthConfig) -> Latent:
    """Draw a population and everything observed about it up to the data cut-off."""
    r = _rngs(cfg.seed, ["families", "children", "hazard", "closure", "contacts", "events",
                         "efo", "services", "costs", "rights"])
    fam = _families(cfg, r["families"])
    ch = _children(cfg, fam, r["children"])
    _separations(cfg, fam, ch, r["hazard"])
    cutoff = np.datetime64(cfg.cutoff, "D")
    fi = ch["fam"].to_numpy()
    opened_c = fam["opened"].to_numpy().astype("datetime64[D]")[fi]
    ch["adult_date"] = (pd.to_datetime(ch["birth_date"]).dt.to_period("M").dt.to_timestamp()
                        + pd.DateOffset(years=18)).to_numpy().astype("datetime64[D]")
    for t, d in (("t_sep1", "date_sep1"), ("t_return", "date_return"), ("t_sep2", "date_sep2"),
                 ("t_sep_after_closure", "date_sep_after_closure")):
        dd = _add_days(opened_c, _days(ch[t].to_numpy()))
        # a separation that would happen after the 18th birthday does not happen
        if t != "t_return":
            dd[dd >= ch["adult_date"].to_numpy()] = np.datetime64("NaT")
        ch[d] = dd
    # a return after a separation that did not happen (adult) is void
    ch.loc[ch["date_sep1"].isna(), ["date_return", "date_sep2"]] = pd.NaT

    # closure outcome (complex cases), by whether every child is at home at closure
    closed = fam["closed_latent"].to_numpy().astype("datetime64[D]")
    observed_closed = closed <= cutoff
    home_all = ch.groupby("fam")["home_at_closure"].all().reindex(fam["fam"]).to_numpy()
    rng = r["closure"]
    u = rng.random(len(fam))
    closure = np.where(home_all,
                       np.select([u < 0.78, u < 0.93], ["success", "unsuccessful_family"], "unsuccessful_org"),
                       np.select([u < 0.15, u < 0.55], ["success", "unsuccessful_family"], "unsuccessful_org"))
    closure = closure.astype(object)
    closure[fam["support"].to_numpy() == "one_off"] = "success"
    closure[fam["support"].to_numpy() == "redirected"] = "redirected"
    closure[~observed_closed] = "ongoing"
    fam["closure"] = closure
    fam["closed"] = np.where(observed_closed, closed, np.datetime64("NaT")).astype("datetime64[D]")
    fam["home_all_at_closure"] = home_all
    # lost to follow-up, months after closure (families)
    lam = -np.log(1 - cfg.lost_by_36_months) / 36.0
    fam["lost_after_months"] = r["contacts"].exponential(1 / lam, len(fam))

    contacts = _contacts(cfg, fam, ch, r["contacts"])
    events = _events(cfg, fam, ch, contacts, r["events"], r["rights"])
    assessments = _assessments(cfg, fam, ch, contacts, r["efo"])
    services = _services(cfg, fam, r["services"])
    costs = _costs(cfg, fam, r["costs"])
    return Latent(cfg, fam, ch, contacts, events, assessments, services, costs)


def _contacts(cfg, fam, ch, rng) -> pd.DataFrame:
    cutoff = np.datetime64(cfg.cutoff, "D")
    f = fam[(fam["support"] == "complex") & fam["closed"].notna()]
    parts = []
    # scheduled follow-ups, family-level visits
    for m, src in zip(cfg.followup_months, cfg.followup_sources):
        t = m + rng.normal(0, cfg.followup_jitter_months, len(f))
        ok = (t < f["lost_after_months"].to_numpy()) & (rng.random(len(f)) < cfg.followup_attempt_success)
        date = _add_days(f["closed"].to_numpy().astype("datetime64[D]"), _days(np.maximum(t, 1.0)))
        parts.append(pd.DataFrame({"fam": f["fam"].to_numpy()[ok], "date": date[ok], "source": src,
                                   "scheduled": m}))
    # informal news: a Poisson process until the family is lost (or the horizon)
    until = np.minimum(f["lost_after_months"].to_numpy(), cfg.contact_horizon_months)
    counts = rng.poisson(cfg.informal_contacts_per_year / 12.0 * until)
    fam_rep = np.repeat(f["fam"].to_numpy(), counts)
    t = rng.uniform(0, 1, counts.sum()) * np.repeat(until, counts)
    date = _add_days(np.repeat(f["closed"].to_numpy().astype("datetime64[D]"), counts), _days(np.maximum(t, 0.5)))
    src = np.array(["parent", "informal", "volunteer"], dtype=object)[rng.choice(3, counts.sum(), p=[0.4, 0.4, 0.2])]
    parts.append(pd.DataFrame({"fam": fam_rep, "date": date, "source": src, "scheduled": np.nan}))
    visits = pd.concat(parts, ignore_index=True)
    visits = visits[visits["date"] <= cutoff]
    # closure reports
    closure = pd.DataFrame({"fam": f["fam"].to_numpy(), "date": f["closed"].to_numpy(),
                            "source": "closure_report", "scheduled": 0.0})
    visits = pd.concat([closure, visits], ignore_index=True)
    # every child of the family is observed at a visit, until the child turns 18
    c = ch[["fam", "child_no", "date_sep1", "date_return", "date_sep2", "adult_date"]]
    obs = visits.merge(c.reset_index().rename(columns={"index": "child"}), on="fam")
    obs = obs[obs["date"] < obs["adult_date"]]
    d = obs["date"].to_numpy()
    s1, rt, s2 = (obs[k].to_numpy() for k in ("date_sep1", "date_return", "date_sep2"))
    away = (s1 <= d) & ~(rt <= d) | (s2 <= d)
    obs["living_with_family"] = ~away
    safe = pd.array(np.where(rng.random(len(obs)) < 0.7, True, pd.NA), dtype="boolean")
    safe[away] = pd.NA
    obs["safe"] = safe
    obs = obs.drop_duplicates(["child", "date", "source"]).sort_values(["child", "date", "source"])
    return obs[["child", "fam", "date", "source", "scheduled", "living_with_family", "safe"]].reset_index(drop=True)


def _events(cfg, fam, ch, contacts, rng, rng_rights) -> pd.DataFrame:
    cutoff = np.datetime64(cfg.cutoff, "D")
    complex_ = (fam["support"] == "complex").to_numpy()[ch["fam"].to_numpy()]
    closed = fam["closed"].to_numpy().astype("datetime64[D]")[ch["fam"].to_numpy()]
    end_support = np.where(np.isnat(closed), cutoff, closed)
    idx = ch.index.to_numpy()
    parts = []

    def known(date_col, kind_col, event=None):
        d = ch[date_col].to_numpy().astype("datetime64[D]")
        ok = complex_ & ~np.isnat(d) & (d <= end_support) & (d <= cutoff)
        ev = np.full(ok.sum(), event, dtype=object) if event else ch[kind_col].to_numpy()[ok]
        src = np.where((ev == "removal") & (rng.random(ok.sum()) < 0.3), "official", "case_record")
        parts.append(pd.DataFrame({"child": idx[ok], "date": d[ok], "event": ev, "source": src}))
        return ok

    known("date_sep1", "type_sep1")
    known("date_return", None, "return_home")
    known("date_sep2", "type_sep2")
    # rights restricted some months after a removal during support
    d1 = ch["date_sep1"].to_numpy().astype("datetime64[D]")
    rem = complex_ & (ch["type_sep1"].to_numpy() == "removal") & ~np.isnat(d1) & (rng.random(len(ch)) < 0.35)
    dr = _add_days(d1, np.full(len(ch), 60.0))
    rem &= (dr <= end_support) & (dr <= cutoff) & ~(ch["date_return"].to_numpy() <= dr)
    parts.append(pd.DataFrame({"child": idx[rem], "date": dr[rem], "event": "rights_restricted",
                               "source": "official"}))
    # rights restored during support for some families whose rights were limited at intake
    f = fam[(fam["support"] == "complex") & (fam["rights_status_at_intake"] != "none")]
    p = np.where(f["rights_status_at_intake"] == "restricted", 0.3, 0.15)
    lucky = rng_rights.random(len(f)) < p
    f = f[lucky]
    end = np.where(f["closed"].isna(), cutoff, f["closed"].to_numpy().astype("datetime64[D]"))
    span = (end - f["opened"].to_numpy().astype("datetime64[D]")).astype(int)
    date = f["opened"].to_numpy().astype("datetime64[D]") + (rng_rights.random(len(f)) * span).astype(int) * _DAY
    rr = pd.DataFrame({"fam": f["fam"].to_numpy(), "date": date})
    rr = rr.merge(ch[["fam"]].reset_index().rename(columns={"index": "child"}), on="fam")
    parts.append(pd.DataFrame({"child": rr["child"], "date": rr["date"], "event": "rights_restored",
                               "source": "official"}))
    # separations after closure: known when a contact finds the child away; the date sometimes
    da = ch["date_sep_after_closure"].to_numpy().astype("datetime64[D]")
    post = pd.DataFrame({"child": idx, "date_sep": da, "kind": ch["type_sep_after_closure"].to_numpy()})
    post = post[complex_ & ~np.isnat(closed) & ~np.isnat(da) & (da > closed)]
    away = contacts[~contacts["living_with_family"] & (contacts["source"] != "closure_report")]
    first_away = away.groupby("child", as_index=False).agg(found=("date", "min"), found_by=("source", "first"))
    post = post.merge(first_away, on="child")
    post = post[post["found"] >= post["date_sep"]]
    learn = rng.random(len(post)) < cfg.separation_date_learned
    post = post[learn]
    parts.append(pd.DataFrame({"child": post["child"], "date": post["date_sep"], "event": post["kind"],
                               "source": post["found_by"]}))
    # families that moved away (part of the loss to follow-up)
    f = fam[(fam["support"] == "complex") & fam["closed"].notna()]
    lost_d = _add_days(f["closed"].to_numpy().astype("datetime64[D]"), _days(f["lost_after_months"].to_numpy()))
    moved = (lost_d <= cutoff) & (rng.random(len(f)) < 0.3)
    mv = pd.DataFrame({"fam": f["fam"].to_numpy()[moved], "date": lost_d[moved]})
    mv = mv.merge(ch[["fam", "adult_date"]].reset_index().rename(columns={"index": "child"}), on="fam")
    mv = mv[mv["date"] < mv["adult_date"]]
    parts.append(pd.DataFrame({"child": mv["child"], "date": mv["date"], "event": "moved_away",
                               "source": "informal"}))
    ev = pd.concat(parts, ignore_index=True)
    ev["date"] = pd.to_datetime(ev["date"]).astype("datetime64[ns]")
    ev = ev.drop_duplicates(["child", "date", "event"]).sort_values(["child", "date", "event"])
    return ev.reset_index(drop=True)


def _levels(y: np.ndarray) -> np.ndarray:
    return (np.digitize(y, [0.0, 1.0, 2.0]) + 1).astype("int64")


def efo_latent(cfg: SynthConfig, fam: pd.DataFrame, ch: pd.DataFrame, rng) -> dict[str, np.ndarray]:
    """Latent ЕФО scores for every child x domain at the four timepoints (no missingness)."""
    domains = list(cfg.efo_intake_mean)
    n, d = len(ch), len(domains)
    fi = ch["fam"].to_numpy()
    sd = cfg.efo_sd
    u_f = rng.normal(0, sd["family"], len(fam))[fi][:, None]
    v_c = rng.normal(0, sd["child"], n)[:, None]
    w = rng.normal(0, sd["child_domain"], (n, d))
    base = np.array([cfg.efo_intake_mean[k] for k in domains])[None, :] + u_f + v_c + w
    f = fam.set_index("fam").loc[fi]
    shift = np.zeros((n, d))
    col = {k: i for i, k in enumerate(domains)}
    shift[:, col["housing"]] -= 0.8 * (f["housing_at_intake"] == "none").to_numpy()
    shift[:, col["material"]] += 0.5 * f["stable_income_at_intake"].to_numpy()
    shift[:, col["health"]] -= 0.3 * f["parent_mental_illness"].to_numpy()
    shift[:, col["safety"]] -= 0.5 * f["parent_substance_use"].to_numpy() + 0.3 * f["prior_removal"].to_numpy()
    base = base + shift
    responds = rng.random(len(fam))[fi] < cfg.efo_responders
    gain = np.array([cfg.efo_gain_at_closure[k] for k in domains])[None, :] * (responds / cfg.efo_responders)[:, None]
    occ = lambda: rng.normal(0, sd["occasion"], (n, d))  # noqa: E731
    return {
        "intake": _levels(base + occ()),
        "interim": _levels(base + 0.5 * gain + occ()),
        "closure": _levels(base + gain + occ()),
        "followup": _levels(base + cfg.efo_followup_keeps * gain + occ()),
        "domains": np.array(domains, dtype=object),
    }


def _assessments(cfg, fam, ch, contacts, rng) -> pd.DataFrame:
    cutoff = np.datetime64(cfg.cutoff, "D")
    scores = efo_latent(cfg, fam, ch, rng)
    domains = scores["domains"]
    fi = ch["fam"].to_numpy()
    f = fam.set_index("fam").loc[fi]
    complex_ = (f["support"] == "complex").to_numpy()
    opened = f["opened"].to_numpy().astype("datetime64[D]")
    closed = f["closed"].to_numpy().astype("datetime64[D]")
    dur = f["duration_months"].to_numpy()
    s1, rt, s2 = (ch[k].to_numpy().astype("datetime64[D]") for k in ("date_sep1", "date_return", "date_sep2"))

    def at_home(d):
        return ~(((s1 <= d) & ~(rt <= d)) | (s2 <= d))

    n = len(ch)
    plan = []
    d_in = opened + rng.integers(0, 31, n) * _DAY
    plan.append(("intake", d_in, complex_ & (d_in <= cutoff) & (rng.random(n) < cfg.efo_assessed["intake"])
                 & at_home(d_in)))
    d_mid = _add_days(opened, _days(dur / 2))
    plan.append(("interim", d_mid, complex_ & (dur > 12) & (d_mid <= cutoff) & at_home(d_mid)
                 & (rng.random(n) < cfg.efo_assessed["interim"])))
    d_cl = closed - rng.integers(0, 15, n) * _DAY
    plan.append(("closure", d_cl, complex_ & ~np.isnat(closed) & ch["home_at_closure"].to_numpy()
                 & at_home(d_cl) & (rng.random(n) < cfg.efo_assessed["closure"])))
    # follow-up ЕФО at the 6-month visit; missing more often after a poor intake (MAR)
    six = contacts[(contacts["scheduled"] == cfg.followup_months[0]) & contacts["living_with_family"]]
    six = six.drop_duplicates("child").set_index("child")["date"]
    d_fu = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    d_fu[six.index.to_numpy()] = six.to_numpy().astype("datetime64[D]")
    a, b, c = cfg.efo_followup_logit
    intake_mean = scores["intake"].mean(axis=1)
    logit = a + b * (intake_mean - 2) + c * f["parent_substance_use"].to_numpy()
    p_fu = 1 / (1 + np.exp(-logit))
    plan.append(("followup", d_fu, ~np.isnat(d_fu) & (rng.random(n) < p_fu)))
    parts = []
    child_idx = ch.index.to_numpy()
    for tp, date, ok in plan:
        k = int(ok.sum())
        parts.append(pd.DataFrame({
            "child": np.repeat(child_idx[ok], len(domains)),
            "fam": np.repeat(fi[ok], len(domains)),
            "date": np.repeat(date[ok], len(domains)),
            "timepoint": tp,
            "domain": np.tile(domains, k),
            "score": scores[tp][ok].ravel(),
        }))
    return pd.concat(parts, ignore_index=True)


SERVICE_MIX = {
    "case_work": 0.22, "legal": 0.12, "material": 0.18, "practical": 0.08, "employment": 0.05,
    "social_network": 0.05, "child_psych": 0.08, "parenting": 0.08, "parent_psych": 0.08,
    "medical": 0.05, "return_assistance": 0.01,
}


def _services(cfg, fam, rng) -> pd.DataFrame:
    cutoff = np.datetime64(cfg.cutoff, "D")
    opened = fam["opened"].to_numpy().astype("datetime64[D]")
    closed = fam["closed"].to_numpy().astype("datetime64[D]")
    end = np.where(np.isnat(closed), cutoff, closed)
    span = np.maximum((end - opened).astype(int), 0)
    complex_ = (fam["support"] == "complex").to_numpy()
    counts = np.where(complex_, rng.poisson(cfg.services_per_month * span / MONTH_DAYS), 1)
    counts[opened > cutoff] = 0
    fi = np.repeat(np.arange(len(fam)), counts)
    date = opened[fi] + (rng.random(len(fi)) * (span[fi] + 1)).astype(int) * _DAY
    kind = _choice(rng, SERVICE_MIX, len(fi))
    # one-off help is material or legal
    one_off = ~complex_[fi]
    kind[one_off] = np.where(rng.random(one_off.sum()) < 0.6, "material", "legal")
    amount = np.where(kind == "material", np.round(rng.lognormal(np.log(cfg.material_help_rub), 0.6, len(fi)), 2),
                      np.nan)
    sv = pd.DataFrame({"fam": fam["fam"].to_numpy()[fi], "date": date, "service": kind, "amount_rub": amount})
    # crisis-centre stays as a service at the start of support
    cc = fam[fam["crisis_centre"].fillna(False).to_numpy(dtype=bool)]
    sv = pd.concat([sv, pd.DataFrame({"fam": cc["fam"].to_numpy(),
                                      "date": cc["opened"].to_numpy().astype("datetime64[D]")
                                      + rng.integers(0, 11, len(cc)) * _DAY,
                                      "service": "crisis_housing", "amount_rub": np.nan})], ignore_index=True)
    sv = sv[sv["date"] <= np.minimum(end[sv["fam"].to_numpy()], cutoff)]
    return sv.sort_values(["fam", "date", "service"], kind="stable").reset_index(drop=True)


def _costs(cfg, fam, rng) -> pd.DataFrame:
    cutoff = np.datetime64(cfg.cutoff, "D")
    y0 = int(str(np.datetime64(cfg.open_from, "Y")))
    y1 = int(str(np.datetime64(cfg.cutoff, "Y")))
    rows = []
    opened_y = fam["opened"].to_numpy().astype("datetime64[Y]").astype(int) + 1970
    end = fam["closed"].to_numpy().astype("datetime64[D]")
    end_y = np.where(np.isnat(end), cutoff, end).astype("datetime64[Y]").astype(int) + 1970
    for i, org in enumerate(cfg.orgs):
        mine = fam["org_i"].to_numpy() == i
        for year in range(y0, y1 + 1):
            served = int((mine & (opened_y <= year) & (end_y >= year)).sum())
            expenses = cfg.cost_fixed_rub + cfg.cost_per_family_rub * served
            expenses *= rng.uniform(0.9, 1.1)
            rows.append((org.code, org.project, year, round(expenses, 2)))
    return pd.DataFrame(rows, columns=["org", "project", "year", "expenses_rub"])
