"""Can these data be trusted? The data-quality views of a cleaned dataset.

What the ``00_data_quality`` notebook shows a methodist first: row conservation per raw
sheet, why rows were quarantined, what the cleaning repaired, how complete each field is
by year, and how many children were seen after their case closed. Every function reads a
dataset folder (``data_clean/<dataset>``) and returns a tidy DataFrame; none reads raw
data, so nothing personal can reach a report from here.

Examples
--------
>>> from evalkit import quality
>>> quality.conservation("demo").columns.tolist()            # doctest: +SKIP
['source', 'table', 'file', 'sheet', 'read', 'kept', 'merged', 'quarantined', 'balanced']
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from evalkit import labels
from evalkit.dataset import dataset_path, read_dataset

__all__ = ["conservation", "quarantine_reasons", "repairs", "completeness", "followup_coverage", "reason_kind"]

_QUOTED = re.compile(r"'[^']*'|\([^)]*\)|\[[^\]]*\]|\b\d[\d.,/-]*\b")


def _extra(dataset, name: str) -> pd.DataFrame:
    return pd.read_parquet(dataset_path(dataset) / f"{name}.parquet")


def conservation(dataset) -> pd.DataFrame:
    """Rows read, kept, merged and quarantined per raw sheet; ``balanced`` checks they add up."""
    c = _extra(dataset, "conservation")
    c["balanced"] = c["read"] == c["kept"] + c["merged"] + c["quarantined"]
    return c


def reason_kind(reason: str) -> str:
    """A reason without its particulars (values, rows, codes), so reasons can be counted."""
    return re.sub(r"\s+", " ", _QUOTED.sub("…", reason)).strip(" :")


def quarantine_reasons(dataset) -> pd.DataFrame:
    """How many raw rows were quarantined for each kind of reason, per table."""
    q = _extra(dataset, "quarantine")
    if q.empty:
        return pd.DataFrame(columns=["table", "reason", "rows"])
    r = q.assign(reason=q["reasons"].str.split("; ")).explode("reason")
    r["reason"] = r["reason"].map(reason_kind)
    out = r.groupby(["table", "reason"]).size().rename("rows").reset_index()
    return out.sort_values(["rows", "table"], ascending=[False, True]).reset_index(drop=True)


def repairs(dataset) -> pd.DataFrame:
    """What the cleaning repaired, by rule (e.g. ``opened:words`` — a date written in words)."""
    log = _extra(dataset, "cleaning_log")
    if log.empty:
        return pd.DataFrame(columns=["rule", "what", "values"])
    out = log.groupby("rule").size().rename("values").reset_index()
    out["what"] = out["rule"].str.split(":").str[1]
    return out.sort_values("values", ascending=False).reset_index(drop=True)[["rule", "what", "values"]]


_YEAR_OF = {"families": None, "children": None, "cases": "opened", "assessments": "date", "events": "date",
            "contacts": "date", "services": "date", "costs": "year"}


def completeness(dataset, tables=("families", "children", "cases")) -> pd.DataFrame:
    """Share of non-missing values per field, by year of case opening (families and children
    take the year their case opened). Columns: table, field, year, n, filled, share."""
    t = read_dataset(dataset, list(set(tables) | {"cases", "children"}))
    first_open = t["cases"].groupby("family_id")["opened"].min().dt.year
    rows = []
    for name in tables:
        df = t[name]
        if name == "families":
            year = df["family_id"].map(first_open)
        elif name == "children":
            year = df["family_id"].map(first_open)
        else:
            year = df[_YEAR_OF[name]].dt.year
        for col in df.columns:
            if col.endswith("_id") or col == "org":
                continue
            g = pd.DataFrame({"year": year, "filled": df[col].notna()}).dropna(subset=["year"])
            agg = g.groupby("year")["filled"].agg(["size", "sum"]).reset_index()
            for _, r in agg.iterrows():
                rows.append({"table": name, "field": col, "year": int(r["year"]), "n": int(r["size"]),
                             "filled": int(r["sum"]), "share": r["sum"] / r["size"] if r["size"] else np.nan})
    return pd.DataFrame(rows, columns=["table", "field", "year", "n", "filled", "share"])


def followup_coverage(dataset, horizons=(6, 12, 36)) -> pd.DataFrame:
    """Of the children of complex-support cases closed early enough to be followed for
    ``h`` months, how many were seen (any contact) at least ``h`` months after closure.
    Columns: horizon_months, eligible, seen, share."""
    t = read_dataset(dataset, ["cases", "children", "contacts"])
    cases = t["cases"][(t["cases"]["support"] == "complex") & t["cases"]["closed"].notna()]
    last_close = cases.groupby("family_id")["closed"].max()
    ch = t["children"][["child_id", "family_id"]].assign(closed=lambda d: d["family_id"].map(last_close)).dropna()
    co = t["contacts"].merge(ch[["child_id", "closed"]], on="child_id")
    co["months"] = (co["date"] - co["closed"]).dt.days / 30.4375
    latest = co.groupby("child_id")["months"].max()
    data_end = t["contacts"]["date"].max()
    rows = []
    for h in horizons:
        eligible = ch[ch["closed"] + pd.to_timedelta(h * 30.4375, "D") <= data_end]
        seen = latest.reindex(eligible["child_id"]).fillna(-1) >= h
        rows.append({"horizon_months": h, "eligible": int(len(eligible)), "seen": int(seen.sum()),
                     "share": float(seen.mean()) if len(eligible) else np.nan})
    return pd.DataFrame(rows)


def field_labels(df: pd.DataFrame, lang: str = "ru") -> pd.DataFrame:
    """Replace field and table names by their report labels."""
    out = df.copy()
    if "field" in out:
        out["field"] = out["field"].map(lambda f: labels.FIELDS.get(f, (f, f))[0 if lang == "ru" else 1])
    return out


# ----------------------------------------------------------------------------- figures

_WORDS = {
    "ru": {"kept": "оставлено", "merged": "объединено (дубликаты)", "quarantined": "в карантине",
           "rows": "строк", "table": "таблица", "year": "год открытия случая", "field": "поле",
           "share": "заполнено", "completeness": "Заполненность полей по годам"},
    "en": {"kept": "kept", "merged": "merged (duplicates)", "quarantined": "quarantined", "rows": "rows",
           "table": "table", "year": "year the case opened", "field": "field", "share": "filled",
           "completeness": "Completeness of fields by year"},
}


def plot_conservation(cons: pd.DataFrame, lang: str = "ru"):
    """Stacked bars per table: raw rows kept, merged and quarantined."""
    import matplotlib.pyplot as plt

    w = _WORDS[lang]
    s = cons.groupby("table", sort=False)[["kept", "merged", "quarantined"]].sum()
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(s) + 1.2))
    left = np.zeros(len(s))
    for col, colour in (("kept", "#4c9f70"), ("merged", "#9db4c0"), ("quarantined", "#d1495b")):
        ax.barh(s.index, s[col], left=left, color=colour, label=w[col])
        left += s[col].to_numpy()
    ax.invert_yaxis()
    ax.set_xlabel(w["rows"])
    ax.legend(loc="lower right", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def plot_completeness(comp: pd.DataFrame, lang: str = "ru"):
    """Heatmap: field x year, share filled (only fields that are not always filled)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    w = _WORDS[lang]
    incomplete = comp.groupby("field")["share"].transform("min") < 1
    data = field_labels(comp[incomplete], lang)
    if data.empty:
        fig, ax = plt.subplots(figsize=(6, 1))
        ax.axis("off")
        ax.text(0, 0.5, "—")
        return fig
    pivot = data.pivot_table(index="field", columns="year", values="share")
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * pivot.shape[1], 0.4 * pivot.shape[0] + 1.5))
    sns.heatmap(pivot, vmin=0.5, vmax=1, cmap="RdYlGn", annot=True, fmt=".0%", cbar=False, ax=ax)
    ax.set_xlabel(w["year"])
    ax.set_ylabel("")
    ax.set_title(w["completeness"])
    fig.tight_layout()
    return fig
