"""The data dictionary (evalkit.dictionary) and the committed docs/data_dictionary.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evalkit import labels, schemas
from evalkit.dictionary import HEADER, render_dictionary, write_dictionary

DOC = Path(__file__).resolve().parent.parent / "docs" / "data_dictionary.md"


@pytest.fixture(scope="module")
def en() -> str:
    return render_dictionary("en")


@pytest.fixture(scope="module")
def ru() -> str:
    return render_dictionary("ru")


def test_committed_dictionary_is_up_to_date(en):
    committed = DOC.read_text(encoding="utf-8")
    assert committed == en, (
        "docs/data_dictionary.md is stale: regenerate it with `evalkit dictionary` (make docs)")


def test_header_says_generated(en):
    first = en.splitlines()[0]
    assert first == HEADER
    assert "evalkit dictionary" in first and "Do not edit by hand" in first


def _section(text: str, table: str) -> str:
    match = re.search(rf"^## `{table}`\n(.*?)(?=^## )", text, flags=re.S | re.M)
    assert match, f"no section for {table}"
    return match.group(1)


def _rows(section: str) -> dict[str, list[str]]:
    """column name -> its cells, from the section's Markdown table."""
    rows = {}
    for line in section.splitlines():
        m = re.match(r"^\| `(\w+)` \| (.*) \|$", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in m.group(2).split(" | ")]
    return rows


@pytest.mark.parametrize("table", list(schemas.TABLES))
def test_every_column_is_described(en, table):
    rows = _rows(_section(en, table))
    s = schemas.schema(table)
    assert list(rows) == list(s.columns)
    for name, col in s.columns.items():
        dtype, required, allowed, label, checks = rows[name]
        assert required == ("no" if col.nullable else "yes"), name
        assert label == labels.field_label(name, "en")
        assert ("unique" in checks) == bool(col.unique)


def test_one_row_per_and_keys(en):
    assert "One row per family" in _section(en, "families")
    assert "One row per child" in _section(en, "children")
    assert "Key: `case_id`." in _section(en, "cases")
    assert "Unique together: `child_id`, `date`, `event`." in _section(en, "events")
    assert "No key" in _section(en, "services")


def test_types_and_checks(en):
    cases = _rows(_section(en, "cases"))
    assert cases["opened"][:2] == ["date", "yes"]
    assert cases["closed"][:2] == ["date", "no"]
    assert cases["crisis_centre"][0] == "boolean"
    assert _rows(_section(en, "assessments"))["score"][0] == "integer"
    costs = _rows(_section(en, "costs"))
    assert costs["year"][4] == "1990 ≤ value ≤ 2100"
    assert costs["expenses_rub"][4] == "≥ 0"
    assert "first_of_month" in _rows(_section(en, "children"))["birth_month"][4]
    for check in ("closed_after_opened", "ongoing_iff_open"):
        assert f"- `{check}`:" in _section(en, "cases")


def test_every_vocabulary_code_appears_with_its_label(en):
    for vocab, terms in labels.VOCABULARIES.items():
        for term in terms:
            assert f"`{term.code}` {term.en}" in en, (vocab, term.code)


def test_contact_sources_are_restricted(en):
    allowed = _rows(_section(en, "contacts"))["source"][2]
    for code in labels.CONTACT_SOURCES:
        assert f"`{code}`" in allowed
    assert "`official`" not in allowed
    assert "`official`" in _rows(_section(en, "events"))["source"][2]


def test_cross_table_rules_are_listed(en):
    tail = en.split("## Cross-table rules", 1)[1]
    for rule, (table, column, _) in schemas.CROSS_TABLE_RULES.items():
        assert f"| `{rule}` | `{table}` | `{column}` |" in tail


def test_table_rules_are_listed(en):
    intro = en.split("## `families`", 1)[0]
    for rule in schemas.TABLE_RULES:
        assert f"`{rule}`" in intro


def test_russian_labels(ru, en):
    assert ru != en
    assert "| label (ru) |" in ru
    for terms in labels.VOCABULARIES.values():
        for term in terms:
            assert f"`{term.code}` {term.ru}" in ru
    for table in schemas.TABLES:
        for name, cells in _rows(_section(ru, table)).items():
            assert cells[3] == labels.field_label(name, "ru")
    assert "родительские права при открытии случая" in ru
    assert "single mother" not in ru


def test_unknown_language_is_refused():
    with pytest.raises(ValueError):
        render_dictionary("de")


def test_write_dictionary(tmp_path):
    path = write_dictionary(tmp_path / "sub" / "dict.md", lang="ru")
    assert path.read_text(encoding="utf-8") == render_dictionary("ru")
    assert b"\r\n" not in path.read_bytes()
