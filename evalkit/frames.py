"""Analysis frames: the canonical tables reshaped for one kind of question.

The clean tables are normalised (one fact in one place); a study wants them joined and
reduced to one row per unit of analysis. Every frame here is built from the canonical
tables only — never from raw data — and returns a plain DataFrame with documented
columns, so the studies and their tests share one definition of, say, "the child was at
home at closure".

Definitions used throughout
---------------------------
- **Case closed in year Y**: a *complex-support* case whose ``closed`` date falls in Y
  (one-off help and redirections are not cases a family "leaves" with a result).
- **Supported in year Y**: a complex case open at some moment of Y
  (``opened <= 31 Dec Y`` and ``closed`` empty or ``>= 1 Jan Y``).
- **Children of a case**: the children of the case's family, except those born after
  the case closed.
- **At home at closure**: the child's ``closure_report`` contact dated within
  ``CLOSURE_WINDOW_DAYS`` of the closure says the child lives with the family. **Safely**
  adds that the same contact does not record the child as unsafe (``safe`` is often left
  empty; an empty ``safe`` is read as "no concern recorded"). No such contact: unknown.
- **ЕФО change**: scores of the same domain at the case's ``intake`` and ``closure``
  (or ``followup``) assessments; *improved* = higher in at least one domain.

Examples
--------
>>> from evalkit.dataset import read_dataset
>>> from evalkit import frames
>>> tables = read_dataset("demo")                                  # doctest: +SKIP
>>> kids = frames.children_at_closure(tables)                      # doctest: +SKIP
>>> kids.groupby("closed_year")["home_safe"].mean()                # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "CLOSURE_WINDOW_DAYS",
    "FOLLOWUP_WINDOW_MONTHS",
    "MONTH_DAYS",
    "data_cutoff",
    "complex_cases",
    "families_supported",
    "children_at_closure",
    "families_at_closure",
    "followup_at",
]

#: a closure report counts as "at closure" when dated this close to the case's closure
CLOSURE_WINDOW_DAYS = 31
#: the "6-month follow-up" is the contact nearest to 6 months inside this window
FOLLOWUP_WINDOW_MONTHS = (3.0, 9.0)
#: average month length (days) used for every month count in evalkit
MONTH_DAYS = 30.4375

_DATE_COLUMNS = {"cases": ("opened", "closed"), "contacts": ("date",), "events": ("date",),
                 "assessments": ("date",), "services": ("date",)}


def data_cutoff(tables: dict[str, pd.DataFrame]) -> pd.Timestamp:
    """The last date anything was recorded in the dataset (the data's cut-off).

    Open cases and children still followed are censored here. The latest date among case
    openings/closures, contacts, events, assessments and services.
    """
    latest = [tables[t][c].max() for t, cols in _DATE_COLUMNS.items() if t in tables for c in cols
              if len(tables[t])]
    latest = [d for d in latest if pd.notna(d)]
    if not latest:
        raise ValueError("the dataset has no dates at all")
    return pd.Timestamp(max(latest))


def complex_cases(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Complex-support cases with ``opened_year`` and ``closed_year`` (NA while open)."""
    c = tables["cases"]
    c = c[c["support"] == "complex"].copy()
    c["opened_year"] = c["opened"].dt.year.astype("Int64")
    c["closed_year"] = c["closed"].dt.year.astype("Int64")
    return c.reset_index(drop=True)


def families_supported(tables: dict[str, pd.DataFrame], years) -> pd.DataFrame:
    """One row per organisation × family × year for each family on complex support in the year.

    Columns: ``org, family_id, year, closed_in_year, success_in_year`` (the family's complex
    case closed in the year / closed successfully in the year).
    """
    c = complex_cases(tables)
    rows = []
    for y in years:
        start, end = pd.Timestamp(int(y), 1, 1), pd.Timestamp(int(y), 12, 31)
        open_in_y = (c["opened"] <= end) & (c["closed"].isna() | (c["closed"] >= start))
        sub = c[open_in_y]
        closed_y = (sub["closed_year"] == y).fillna(False).to_numpy(bool)
        rows.append(pd.DataFrame({
            "org": sub["org"].to_numpy(), "family_id": sub["family_id"].to_numpy(), "year": int(y),
            "closed_in_year": closed_y,
            "success_in_year": closed_y & (sub["closure"] == "success").to_numpy(bool)}))
    if not rows:
        return pd.DataFrame(columns=["org", "family_id", "year", "closed_in_year", "success_in_year"])
    out = pd.concat(rows, ignore_index=True)
    # a family with two complex cases in a year counts once (it closed if either closed)
    return (out.groupby(["org", "family_id", "year"], as_index=False, sort=True)
            .agg(closed_in_year=("closed_in_year", "any"), success_in_year=("success_in_year", "any")))


def _efo_latest(a: pd.DataFrame, timepoint: str, key: np.ndarray, domain: np.ndarray) -> pd.DataFrame:
    """Scores of one timepoint, the latest assessment per (case, child, domain), by integer key."""
    sel = (a["timepoint"] == timepoint).to_numpy()
    d = pd.DataFrame({"key": key[sel], "domain": domain[sel], "date": a["date"].to_numpy()[sel],
                      "score": a["score"].to_numpy()[sel]})
    d = d.sort_values("date", kind="stable").drop_duplicates(["key", "domain"], keep="last")
    return d[["key", "domain", "score"]]


def _efo_changes(tables, laters=("closure", "followup")) -> dict[str, pd.DataFrame]:
    """Per case × child, for each of ``laters``: assessed at intake and then, improved in ≥1
    domain, all ≥ 3 then.

    Works on integer codes (one factorisation of each identifier column for every timepoint),
    so a million children's ЕФО rows take seconds, not minutes.
    """
    cols = ["case_id", "child_id", "assessed", "improved", "all_satisfactory_before", "all_satisfactory_after"]
    a = tables["assessments"]
    a = a[(a["instrument"] == "efo") & a["timepoint"].isin(["intake", *laters])]
    if a.empty:
        return {later: pd.DataFrame(columns=cols) for later in laters}
    case_code, cases = pd.factorize(a["case_id"])
    child_code, children = pd.factorize(a["child_id"])
    domain, _ = pd.factorize(a["domain"])
    key = case_code.astype(np.int64) * len(children) + child_code
    before = _efo_latest(a, "intake", key, domain)
    changes = {}
    for later in laters:
        after = _efo_latest(a, later, key, domain)
        both = before.merge(after, on=["key", "domain"], suffixes=("_before", "_after"))
        if both.empty:
            changes[later] = pd.DataFrame(columns=cols)
            continue
        g = both.assign(up=both["score_after"] > both["score_before"]).groupby("key", sort=True)
        out = pd.DataFrame({"improved": g["up"].any(), "all_satisfactory_before": g["score_before"].min() >= 3,
                            "all_satisfactory_after": g["score_after"].min() >= 3})
        k = out.index.to_numpy()
        out.insert(0, "child_id", children[k % len(children)])
        out.insert(0, "case_id", cases[k // len(children)])
        out["assessed"] = True
        changes[later] = out.reset_index(drop=True)[cols]
    return changes


def _closure_contacts(tables, kids: pd.DataFrame) -> pd.DataFrame:
    co = tables["contacts"]
    co = co[co["source"] == "closure_report"][["child_id", "date", "living_with_family", "safe"]]
    m = kids[["case_id", "child_id", "closed"]].merge(co, on="child_id")
    m = m[(m["date"] - m["closed"]).abs() <= pd.Timedelta(days=CLOSURE_WINDOW_DAYS)]
    m = m.sort_values("date").drop_duplicates(["case_id", "child_id"], keep="last")
    return m[["case_id", "child_id", "living_with_family", "safe"]]


def children_at_closure(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per child × closed complex case: where the child was at closure, ЕФО change.

    Columns
    -------
    org, family_id, case_id, child_id, opened, closed, closed_year, closure
    home : boolean (NA = no closure report)
        living with the family at closure
    home_safe : boolean (NA = no closure report)
        living with the family and not recorded as unsafe
    efo_assessed : bool
        ЕФО at intake and at closure, at least one domain scored both times
    efo_improved : bool
        higher at closure than at intake in at least one domain
    efo_moved_up : bool
        at closure every domain satisfactory or well-off (≥ 3), at intake not
    followup_assessed, followup_improved : bool
        the same comparison intake → follow-up ЕФО
    """
    cases = complex_cases(tables)
    cases = cases[cases["closed"].notna()]
    ch = tables["children"][["child_id", "family_id", "birth_month"]]
    kids = cases[["org", "family_id", "case_id", "opened", "closed", "closed_year", "closure"]].merge(
        ch, on="family_id")
    kids = kids[~(kids["birth_month"] > kids["closed"])].drop(columns="birth_month")
    at = _closure_contacts(tables, kids)
    kids = kids.merge(at, on=["case_id", "child_id"], how="left")
    kids["home"] = kids["living_with_family"].astype("boolean")
    unsafe = (kids["safe"].astype("boolean") == False).fillna(False).astype(bool)  # noqa: E712
    kids["home_safe"] = (kids["home"] & ~unsafe).astype("boolean")
    kids.loc[kids["home"].isna(), "home_safe"] = pd.NA
    kids = kids.drop(columns=["living_with_family", "safe"])
    changes = _efo_changes(tables)
    for later, prefix in (("closure", "efo"), ("followup", "followup")):
        chg = changes[later].rename(columns={
            "assessed": f"{prefix}_assessed", "improved": f"{prefix}_improved",
            "all_satisfactory_before": f"_{prefix}_before", "all_satisfactory_after": f"_{prefix}_after"})
        kids = kids.merge(chg, on=["case_id", "child_id"], how="left")
        for col in (f"{prefix}_assessed", f"{prefix}_improved", f"_{prefix}_before", f"_{prefix}_after"):
            kids[col] = kids[col].astype("boolean").fillna(False).astype(bool)
    kids["efo_moved_up"] = kids["_efo_after"] & ~kids["_efo_before"]
    kids = kids.drop(columns=[c for c in kids.columns if c.startswith("_")])
    return kids.sort_values(["closed", "case_id", "child_id"]).reset_index(drop=True)


def followup_at(tables: dict[str, pd.DataFrame], kids: pd.DataFrame, months: float = 6.0,
                window: tuple[float, float] = FOLLOWUP_WINDOW_MONTHS) -> pd.DataFrame:
    """Per case × child: the contact nearest to ``months`` after closure inside ``window``.

    Columns: ``case_id, child_id, followup_date, followup_home`` (rows only for children
    with such a contact). Closure reports are not follow-ups.
    """
    co = tables["contacts"]
    co = co[co["source"] != "closure_report"][["child_id", "date", "living_with_family"]]
    m = kids[["case_id", "child_id", "closed"]].merge(co, on="child_id")
    m["after"] = (m["date"] - m["closed"]).dt.days / MONTH_DAYS
    m = m[(m["after"] >= window[0]) & (m["after"] <= window[1])]
    m["dist"] = (m["after"] - months).abs()
    m = m.sort_values(["dist", "date"]).drop_duplicates(["case_id", "child_id"], keep="first")
    return m.rename(columns={"date": "followup_date", "living_with_family": "followup_home"})[
        ["case_id", "child_id", "followup_date", "followup_home"]].reset_index(drop=True)


def families_at_closure(tables: dict[str, pd.DataFrame], kids: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per closed complex case (a family leaving support), from :func:`children_at_closure`.

    Columns: ``org, family_id, case_id, closed, closed_year, closure, children,
    home_safe`` (every child safely at home; NA when any child's status is unknown and
    none is known to be away), ``home_known`` (status known for every child),
    ``efo_any`` (some child with ЕФО at intake and closure), ``followup_any`` and
    ``followup_improved`` (some child with a follow-up ЕФО / improved at follow-up),
    ``followup6_seen`` and ``followup6_home`` (a contact near 6 months after closure; every
    child seen then at home).
    """
    if kids is None:
        kids = children_at_closure(tables)
    f6 = followup_at(tables, kids)
    k = kids.merge(f6, on=["case_id", "child_id"], how="left")
    k["_away"] = (k["home_safe"] == False).fillna(False).astype(bool)  # noqa: E712
    k["_known"] = k["home_safe"].notna()
    g = k.groupby("case_id", sort=False)
    away = g["_away"].any()
    known = g["_known"].all()
    fam = g.agg(org=("org", "first"), family_id=("family_id", "first"), closed=("closed", "first"),
                closed_year=("closed_year", "first"), closure=("closure", "first"),
                children=("child_id", "size"), efo_any=("efo_assessed", "any"),
                followup_any=("followup_assessed", "any"), followup_improved=("followup_improved", "any"))
    home = pd.array(np.where(away.to_numpy(), False, np.where(known.to_numpy(), True, None)), dtype="boolean")
    fam["home_safe"] = home
    fam["home_known"] = known | away
    seen = k[k["followup_home"].notna()].astype({"followup_home": bool}).groupby("case_id")["followup_home"]
    fam["followup6_seen"] = fam.index.isin(seen.size().index)
    fam["followup6_home"] = seen.all().reindex(fam.index, fill_value=False).astype(bool)
    return fam.reset_index()


# ----------------------------------------------------------------------------- time to event

#: covariates joined to the time-to-event frame: family risk factors and case characteristics
FAMILY_COVARIATES = ("household", "parent_mental_illness", "parent_intellectual_disability",
                     "parent_substance_use", "parent_orphan_background", "prior_removal", "no_registration",
                     "housing_at_intake", "stable_income_at_intake", "rights_status_at_intake")
CASE_COVARIATES = ("case_type", "crisis_centre")
CHILD_COVARIATES = ("sex", "disability")
ADULT_YEARS = 18


def _first_after(df: pd.DataFrame, origin: pd.Series, strict: bool) -> pd.Series:
    """Per child: the first ``date`` after the child's origin (``strict``: after, else on or after)."""
    d = df.assign(_origin=df["child_id"].map(origin))
    d = d[(d["date"] > d["_origin"]) if strict else (d["date"] >= d["_origin"])]
    return d.groupby("child_id")["date"].min()


def time_to_event(tables: dict[str, pd.DataFrame], origin: str = "closure", events=None, cutoff=None,
                  interval_rule: str = "midpoint") -> pd.DataFrame:
    """One row per child: time from ``origin`` to the first separation, or to censoring.

    Parameters
    ----------
    tables : dict of DataFrame
        The canonical tables.
    origin : {"closure", "opening"}
        ``"closure"``: children at home at the closure of their family's first closed
        complex case, from the closure date ("how many are still at home 6, 12, 36 months
        after we closed the case?"). ``"opening"``: every child of a complex case, from the
        case's opening (the family's first complex case).
    events : sequence of str, optional
        Which events count as a separation; default :data:`evalkit.labels.SEPARATION_EVENTS`
        (removal, voluntary placement, relinquishment).
    cutoff : date, optional
        The data cut-off (default :func:`data_cutoff`).
    interval_rule : {"midpoint", "right"}
        The single ``time`` used for an event known only to lie between two contacts
        (``lower < upper``) by methods that need one (Kaplan–Meier, Cox): the midpoint of
        the interval, or the date the child was first seen away. Interval methods use
        ``lower`` and ``upper`` directly.

    Returns
    -------
    DataFrame
        child_id, family_id, case_id, org, origin_date, cohort (year of the origin),
        time (months), event (bool), event_type (the separation's kind; ``"unknown"`` when
        only a contact saw the child away), exact (the event date is recorded),
        lower, upper (months: the event lies in (lower, upper]; ``upper`` = inf when
        censored; equal for exact events), last_seen_home (months), censor_reason
        (``"event"``, ``"adult"`` — turned 18, ``"cutoff"`` — still in support at the
        cut-off, ``"lost"`` — no contact since ``last_seen_home``), and the covariates
        :data:`FAMILY_COVARIATES`, :data:`CASE_COVARIATES` and :data:`CHILD_COVARIATES`.

    Notes
    -----
    How a child is observed. During support the case worker sees the family, so an open
    case observes its children up to the cut-off; after closure only contacts (follow-up
    visits, volunteers, parents, informal news) say where the child is. The child is
    *known at home* up to the latest of: a contact that saw the child at home, the
    closure (when the closure report saw the child at home), the cut-off (case still
    open). A separation is *exact* when the events table records it with a date;
    otherwise, when a contact first finds the child away, it lies between the last
    contact that saw the child at home and that contact (interval-censored). Children are
    censored at 18 (first day of the birth month + 18 years) when the birth month is
    known. ``died`` and ``moved_away`` end observation (no contact after them counts).
    """
    from evalkit.labels import SEPARATION_EVENTS

    if origin not in ("closure", "opening"):
        raise ValueError(f"origin must be 'closure' or 'opening', not {origin!r}")
    if interval_rule not in ("midpoint", "right"):
        raise ValueError(f"interval_rule must be 'midpoint' or 'right', not {interval_rule!r}")
    events = tuple(events) if events is not None else SEPARATION_EVENTS
    cutoff = pd.Timestamp(cutoff) if cutoff is not None else data_cutoff(tables)
    cases = complex_cases(tables)
    if origin == "closure":
        kids = children_at_closure(tables)
        kids = kids[kids["home"].fillna(False).astype(bool)]
        kids = kids.sort_values("closed").drop_duplicates("child_id", keep="first")
        base = kids[["child_id", "family_id", "case_id", "org"]].assign(origin_date=kids["closed"].to_numpy(),
                                                                       open_case=False)
    else:
        first = cases.sort_values("opened").drop_duplicates("family_id", keep="first")
        ch = tables["children"][["child_id", "family_id", "birth_month"]]
        base = first[["family_id", "case_id", "org", "opened", "closed"]].merge(ch, on="family_id")
        base = base[~(base["birth_month"] > base["opened"])]
        base = base.assign(origin_date=base["opened"], open_case=base["closed"].isna())
        base = base[["child_id", "family_id", "case_id", "org", "origin_date", "open_case", "closed"]]
    base = base.drop_duplicates("child_id").reset_index(drop=True)
    origin_of = base.set_index("child_id")["origin_date"]
    strict = origin == "closure"

    ev = tables["events"]
    ev = ev[ev["child_id"].isin(origin_of.index)]
    sep = ev[ev["event"].isin(list(events))]
    sep = sep.assign(_origin=sep["child_id"].map(origin_of))
    sep = sep[(sep["date"] > sep["_origin"]) if strict else (sep["date"] >= sep["_origin"])]
    sep = sep.sort_values(["date", "event"]).drop_duplicates("child_id", keep="first").set_index("child_id")
    ends = ev[ev["event"].isin(["died", "moved_away"])]
    end_obs = _first_after(ends, origin_of, strict=False)

    co = tables["contacts"]
    co = co[co["child_id"].isin(origin_of.index)]
    away = co[co["living_with_family"] == False]  # noqa: E712
    first_away = _first_after(away, origin_of, strict)
    home = co[co["living_with_family"] == True]  # noqa: E712
    home = home.assign(_origin=home["child_id"].map(origin_of))
    home = home[home["date"] >= home["_origin"]]

    b = base.set_index("child_id")
    ch = tables["children"].set_index("child_id")
    adult = (ch["birth_month"] + pd.DateOffset(years=ADULT_YEARS)).reindex(b.index)
    exact_date = sep["date"].reindex(b.index)
    seen_away = first_away.reindex(b.index)
    # an exact date after the child was already seen away is not the first separation: use the contacts
    exact_ok = exact_date.notna() & ~(exact_date > seen_away)
    event_date = exact_date.where(exact_ok)
    found = seen_away.where(~exact_ok)
    # the last time the child was known at home, before the separation when there is one
    limit = event_date.fillna(found)
    hh = home.assign(_limit=home["child_id"].map(limit))
    hh = hh[hh["_limit"].isna() | (hh["date"] < hh["_limit"])]
    last_home = hh.groupby("child_id")["date"].max().reindex(b.index)
    last_home = pd.concat([last_home, b["origin_date"]], axis=1).max(axis=1)
    if origin == "opening":
        still_open = b["open_case"].to_numpy(bool) & limit.isna().to_numpy()
        last_home = last_home.where(~still_open, cutoff)
        closed_home = b["closed"].notna() & (limit.isna() | (b["closed"] < limit))
        closure_seen = pd.concat([last_home, b["closed"].where(closed_home)], axis=1).max(axis=1)
        last_home = closure_seen
    last_home = last_home.where(end_obs.reindex(b.index).isna() | (last_home <= end_obs.reindex(b.index)),
                                end_obs.reindex(b.index))
    last_home = last_home.clip(upper=cutoff)

    def months(d):
        return (d - b["origin_date"]).dt.days.to_numpy(float) / MONTH_DAYS

    is_exact = event_date.notna().to_numpy()
    is_interval = found.notna().to_numpy()
    event = is_exact | is_interval
    lower = np.where(is_exact, months(event_date), months(last_home))
    upper = np.where(is_exact, months(event_date), np.where(is_interval, months(found), np.inf))
    adult_m = months(adult)
    # turning 18 ends the risk: an event after it is not a child's separation
    after_adult = event & (lower >= adult_m)
    event &= ~after_adult
    upper = np.where(after_adult, np.inf, upper)
    lower = np.where(after_adult, adult_m, lower)
    censor_at = np.minimum(np.where(event, np.nan, lower), np.where(np.isnan(adult_m), np.inf, adult_m))
    mid = np.where(interval_rule == "midpoint", (lower + upper) / 2, upper)
    time = np.where(is_exact & event, lower, np.where(event, mid, censor_at))
    reason = np.where(event, "event", np.where(~np.isnan(adult_m) & (adult_m <= lower) & ~event, "adult",
                                               np.where(last_home.to_numpy() >= cutoff, "cutoff", "lost")))
    etype = np.where(is_exact & event, sep["event"].reindex(b.index).to_numpy(object),
                     np.where(event, "unknown", ""))
    out = pd.DataFrame({
        "child_id": b.index.to_numpy(), "family_id": b["family_id"].to_numpy(), "case_id": b["case_id"].to_numpy(),
        "org": b["org"].to_numpy(), "origin_date": b["origin_date"].to_numpy(),
        "cohort": b["origin_date"].dt.year.to_numpy(), "time": np.maximum(time, 0.0), "event": event,
        "event_type": etype, "exact": is_exact & event, "lower": np.maximum(np.where(event, lower, censor_at), 0.0),
        "upper": np.where(event, upper, np.inf), "last_seen_home": np.maximum(months(last_home), 0.0),
        "censor_reason": reason})
    fam = tables["families"].set_index("family_id")
    for col in FAMILY_COVARIATES:
        out[col] = fam[col].reindex(out["family_id"]).reset_index(drop=True)
    cs = tables["cases"].set_index("case_id")
    for col in CASE_COVARIATES:
        out[col] = cs[col].reindex(out["case_id"]).reset_index(drop=True)
    for col in CHILD_COVARIATES:
        out[col] = ch[col].reindex(out["child_id"]).reset_index(drop=True)
    return out.sort_values(["origin_date", "child_id"]).reset_index(drop=True)
