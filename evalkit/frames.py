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


def _efo_wide(tables: dict[str, pd.DataFrame], timepoints) -> pd.DataFrame:
    a = tables["assessments"]
    a = a[(a["instrument"] == "efo") & a["timepoint"].isin(list(timepoints))]
    # the latest assessment of a timepoint wins when a case has several
    a = a.sort_values("date").drop_duplicates(["case_id", "child_id", "timepoint", "domain"], keep="last")
    return a.pivot_table(index=["case_id", "child_id", "domain"], columns="timepoint", values="score",
                         aggfunc="first")


def _efo_change(tables, later: str) -> pd.DataFrame:
    """Per case × child: assessed at intake and ``later``, improved in ≥1 domain, all ≥ 3 then."""
    wide = _efo_wide(tables, ("intake", later))
    cols = ["case_id", "child_id", "assessed", "improved", "all_satisfactory_before", "all_satisfactory_after"]
    if wide.empty or "intake" not in wide or later not in wide:
        return pd.DataFrame(columns=cols)
    both = wide.dropna(subset=["intake", later])
    keys = ["case_id", "child_id"]
    out = pd.DataFrame({
        "improved": (both[later] > both["intake"]).groupby(level=keys).any(),
        "all_satisfactory_before": both["intake"].groupby(level=keys).min() >= 3,
        "all_satisfactory_after": both[later].groupby(level=keys).min() >= 3,
    })
    out["assessed"] = True
    return out.reset_index()[cols]


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
    for later, prefix in (("closure", "efo"), ("followup", "followup")):
        chg = _efo_change(tables, later).rename(columns={
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
