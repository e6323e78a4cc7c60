"""Hand-built canonical datasets for tests whose expected values are worked out by hand.

``Builder`` collects rows table by table and returns the eight canonical tables with the
schema's dtypes; ``tables(validate=True)`` also runs the schemas so a fixture can never
drift from the data contract.
"""

from __future__ import annotations

import pandas as pd

from evalkit import schemas

_DEFAULTS = {
    "families": {"region": None, "household": "single_mother"},
    "children": {"sex": None, "birth_month": pd.Timestamp("2015-01-01"), "disability": None},
    "cases": {"support": "complex", "case_type": "ordinary", "crisis_centre": None, "case_manager": None,
              "closed": None},
    "contacts": {"safe": None},
    "events": {"source": "case_record"},
    "assessments": {"instrument": "efo"},
}


class Builder:
    """Accumulate canonical rows: ``b.family("f1", org="a")``, ``b.child("c1", "f1")``, ..."""

    def __init__(self):
        self.rows: dict[str, list[dict]] = {name: [] for name in schemas.TABLES}

    def add(self, table: str, **values) -> None:
        row = dict(_DEFAULTS.get(table, {}))
        row.update(values)
        self.rows[table].append(row)

    def family(self, family_id: str, org: str, **values) -> None:
        self.add("families", family_id=family_id, org=org, **values)

    def child(self, child_id: str, family_id: str, **values) -> None:
        self.add("children", child_id=child_id, family_id=family_id, **values)

    def case(self, case_id: str, family_id: str, org: str, opened: str, closed: str | None = None,
             closure: str | None = None, **values) -> None:
        closure = closure or ("ongoing" if closed is None else "success")
        self.add("cases", case_id=case_id, family_id=family_id, org=org, opened=pd.Timestamp(opened),
                 closed=pd.Timestamp(closed) if closed else pd.NaT, closure=closure, **values)

    def contact(self, child_id: str, date: str, home: bool, source: str = "closure_report", **values) -> None:
        self.add("contacts", child_id=child_id, date=pd.Timestamp(date), living_with_family=home, source=source,
                 **values)

    def efo(self, child_id: str, case_id: str, date: str, timepoint: str, scores: dict[str, int]) -> None:
        for domain, score in scores.items():
            self.add("assessments", child_id=child_id, case_id=case_id, date=pd.Timestamp(date),
                     timepoint=timepoint, domain=domain, score=score)

    def event(self, child_id: str, date: str, event: str, **values) -> None:
        self.add("events", child_id=child_id, date=pd.Timestamp(date), event=event, **values)

    def cost(self, org: str, year: int, expenses: float, project: str = "проект") -> None:
        self.add("costs", org=org, project=project, year=year, expenses_rub=expenses)

    def tables(self, validate: bool = True) -> dict[str, pd.DataFrame]:
        out = {}
        for name, rows in self.rows.items():
            empty = schemas.empty_table(name)
            df = pd.DataFrame(rows, columns=empty.columns) if rows else empty
            for col in empty.columns:
                dtype = empty[col].dtype
                if str(dtype).startswith("datetime64"):
                    df[col] = pd.to_datetime(df[col]).astype(dtype)
                elif str(dtype) == "boolean":
                    df[col] = pd.array(df[col].tolist(), dtype="boolean")
                elif dtype == object:
                    df[col] = df[col].astype(object).where(df[col].notna(), None)
                else:
                    df[col] = df[col].astype(dtype)
            out[name] = df.reset_index(drop=True)
        if validate:
            problems = schemas.validate_dataset(out)
            assert problems.empty, problems.to_string()
        return out
