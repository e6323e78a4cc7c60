"""Row conservation on many generated messy inputs (Hypothesis): whatever the mess, every
raw row is kept, merged or quarantined — never silently dropped — and every quarantined
row says why."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit import schemas
from evalkit.clean import clean_sources

MAPPING = """\
source: prop
defaults: {dates: [dmy]}
tables:
  families:
    file: families.csv
    fields: {family_id: Семья, household: Состав, prior_removal: Отобрание}
  children:
    file: children.csv
    fields: {child_id: Ребёнок, family_id: Семья, birth_month: Д.р., sex: Пол}
  contacts:
    file: contacts.csv
    fields: {child_id: Ребёнок, date: Дата, living_with_family: Дома, source: Источник}
values:
  yes_no: {"true": [да], "false": [нет]}
  household: {single_mother: [одинокая мать], two_parents: [полная]}
  sex: {female: [ж], male: [м]}
  source: {followup_visit: [визит], parent: [мама]}
"""

ids = st.sampled_from(["F1", "F2", "F3", " F1 ", "", "F9"])
kids = st.sampled_from(["C1", "C2", "C3", "C4", "", " C2"])
dates = st.sampled_from(["03.04.2015", "2016-05-06", "12 марта 2017", "31.02.2016", "", "01.01.2031", "43902",
                         "5.6.18", "abc"])
yes_no = st.sampled_from(["да", "нет", "Да ", "", "НЕТ"])
family_rows = st.lists(st.tuples(ids, st.sampled_from(["одинокая мать", "полная", " Полная", ""]), yes_no),
                       max_size=8)
child_rows = st.lists(st.tuples(kids, ids, dates, st.sampled_from(["ж", "м", "", "Ж"])), max_size=10)
contact_rows = st.lists(st.tuples(kids, dates, yes_no, st.sampled_from(["визит", "мама", " Мама"])), max_size=12)


def _csv(header, rows, dup):
    lines = [";".join(header)] + [";".join(r) for r in rows]
    if dup and len(lines) > 1:
        lines.append(lines[1])  # a row pasted twice
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family_rows, child_rows, contact_rows, st.booleans())
def test_every_raw_row_is_kept_merged_or_quarantined(fams, kids_, contacts, dup):
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp)
        (src / "evalkit.yaml").write_text(MAPPING, encoding="utf-8")
        files = {"families.csv": _csv(["Семья", "Состав", "Отобрание"], fams, dup),
                 "children.csv": _csv(["Ребёнок", "Семья", "Д.р.", "Пол"], kids_, dup),
                 "contacts.csv": _csv(["Ребёнок", "Дата", "Дома", "Источник"], contacts, dup)}
        for name, text in files.items():
            (src / name).write_text(text, encoding="cp1251")
        result = clean_sources([src], bytes(32))
        cons = result.conservation.set_index("file")
        for name, text in files.items():
            # a line with every cell empty is not a record (spreadsheets export such lines)
            data_lines = sum(1 for line in text.splitlines()[1:] if line.replace(";", "").strip())
            row = cons.loc[name]
            assert row["read"] == data_lines
            assert row["read"] == row["kept"] + row["merged"] + row["quarantined"]
        q = result.quarantine
        assert (q["reasons"].str.len() > 0).all()
        assert not q.duplicated(["file", "row"]).any()
        # what is kept satisfies the contract, references included
        assert schemas.validate_dataset({k: v for k, v in result.tables.items()}).empty
        # kept rows + quarantined rows + merged rows account for each raw line exactly once
        merged = result.log[result.log["rule"] == "duplicate:merged"]
        for name in files:
            lines_q = set(q.loc[q["file"] == name, "row"])
            lines_m = set(merged.loc[merged["file"] == name, "row"])
            assert not (lines_q & lines_m)
