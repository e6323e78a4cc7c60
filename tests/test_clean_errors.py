"""A catalogue of bad input: each gives one clear message (file, sheet, row, column where they
apply), exit code 2 and no traceback — or, for bad rows, a quarantine with the reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook

MAPPING = """\
source: tiny
defaults:
  dates: [dmy]
tables:
  families:
    file: families.csv
    fields:
      family_id: Семья
      household: Состав
      prior_removal: Отобрание
    personal: [ФИО]
  children:
    file: children.csv
    fields:
      child_id: Ребёнок
      family_id: Семья
      birth_month: Д.р.
values:
  yes_no:
    "true": [да]
    "false": [нет]
  household:
    single_mother: [одинокая мать]
    two_parents: [полная]
"""
FAMILIES = "Семья;ФИО;Состав;Отобрание\nF1;Иванова Анна;одинокая мать;да\nF2;Петрова Вера;полная;нет\n"
CHILDREN = "Ребёнок;Семья;Д.р.\nC1;F1;03.04.2015\nC2;F2;05.06.2018\n"


def make_source(tmp_path: Path, mapping=MAPPING, families=FAMILIES, children=CHILDREN, enc="cp1251") -> Path:
    src = tmp_path / "src"
    src.mkdir(parents=True, exist_ok=True)
    (src / "evalkit.yaml").write_text(mapping, encoding="utf-8")
    if families is not None:
        (src / "families.csv").write_bytes(families.encode(enc) if isinstance(families, str) else families)
    if children is not None:
        (src / "children.csv").write_bytes(children.encode(enc) if isinstance(children, str) else children)
    return src


def run(*args, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {"EVALKIT_KEY_FILE": str(tmp_path / "key"), "EVALKIT_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "evalkit", *map(str, args)], capture_output=True, text=True,
                          env=env)


def expect_error(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    for n in needles:
        assert n in proc.stderr, (n, proc.stderr)


def test_a_good_tiny_source_cleans(tmp_path):
    src = make_source(tmp_path)
    proc = run("clean", src, "--out", tmp_path / "ds", "--quiet", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "ds" / "children.parquet").exists()


def _cp1251_mapping(t: Path) -> Path:
    src = make_source(t)
    (src / "evalkit.yaml").write_bytes(MAPPING.encode("cp1251"))
    return src


CASES = {
    "source folder missing": (lambda t: t / "nope", ["source not found", "nope"]),
    "no evalkit.yaml": (lambda t: (make_source(t) / "evalkit.yaml").unlink() or t / "src", ["no evalkit.yaml"]),
    "yaml syntax error": (lambda t: make_source(t, mapping="source: tiny\ntables: [a, b\n"),
                          ["YAML syntax error", "line"]),
    "unknown top-level key": (lambda t: make_source(t, mapping=MAPPING + "colour: red\n"), ["unknown keys", "colour"]),
    "unknown table": (lambda t: make_source(t, mapping=MAPPING.replace("  children:", "  kids:")),
                      ["tables.kids", "unknown table"]),
    "unknown field": (lambda t: make_source(t, mapping=MAPPING.replace("prior_removal:", "prior_removals:")),
                      ["prior_removals", "unknown field"]),
    "required field not mapped": (lambda t: make_source(t, mapping=MAPPING.replace("      family_id: Семья\n      birth_month", "      birth_month")),
                                  ["required fields are not mapped", "family_id"]),
    "unknown code in values": (lambda t: make_source(t, mapping=MAPPING.replace("two_parents:", "two_parent:")),
                               ["values.household.two_parent", "two_parents"]),
    "unknown vocabulary in values": (lambda t: make_source(t, mapping=MAPPING + "  colours:\n    red: [красный]\n"),
                                     ["values.colours", "unknown vocabulary"]),
    "source code with a colon": (lambda t: make_source(t, mapping=MAPPING.replace("source: tiny", "source: a:b")),
                                 ["source", "colon"]),
    "unknown date pattern": (lambda t: make_source(t, mapping=MAPPING.replace("dates: [dmy]", "dates: [ddmmyy]")),
                             ["ddmmyy", "unknown pattern"]),
    "bad header_line": (lambda t: make_source(t, mapping=MAPPING.replace("    file: children.csv", "    file: children.csv\n    header_line: 0")),
                        ["header_line"]),
    "mapped file missing": (lambda t: make_source(t, children=None), ["children.csv"]),
    "mapped column absent": (lambda t: make_source(t, children=CHILDREN.replace("Д.р.", "Дата")),
                             ["birth_month", "Д.р.", "Дата", "children.csv"]),
    "unreadable encoding": (lambda t: make_source(t, families=b"\x00\x01\xff\xfe\x00garbage\x9f\x9f\n" * 3),
                            ["families.csv", "encoding"]),
    "unmapped category": (lambda t: make_source(t, families=FAMILIES.replace("полная", "полная семьяя")),
                          ["полная семьяя", "values: household", "Состав", "families.csv", "first row 3"]),
    "unmapped yes/no": (lambda t: make_source(t, families=FAMILIES.replace(";нет\n", ";может быть\n")),
                        ["может быть", "yes_no", "Отобрание"]),
    "empty file": (lambda t: make_source(t, children=""), ["children.csv"]),
    "duplicate headers": (lambda t: make_source(t, children="Ребёнок;Семья;Д.р.;Семья\nC1;F1;03.04.2015;F1\n"),
                          ["children.csv", "Семья"]),
    "header line beyond the end": (lambda t: make_source(t, mapping=MAPPING.replace("    file: children.csv", "    file: children.csv\n    header_line: 40")),
                                   ["children.csv", "40"]),
    "a mapping not in UTF-8": (lambda t: _cp1251_mapping(t), ["UTF-8"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_one_clear_message(tmp_path, name):
    build, needles = CASES[name]
    src = build(tmp_path)
    expect_error(run("clean", src, "--out", tmp_path / "ds", "--quiet", tmp_path=tmp_path), *needles)
    assert not (tmp_path / "ds").exists()


def test_two_sources_with_the_same_code(tmp_path):
    a = make_source(tmp_path / "a")
    b = make_source(tmp_path / "b")
    expect_error(run("clean", a, b, "--out", tmp_path / "ds", tmp_path=tmp_path), "used by two sources")


def test_out_over_a_folder_that_is_not_a_dataset(tmp_path):
    src = make_source(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me")
    expect_error(run("clean", src, "--out", tmp_path / "notes", "--quiet", tmp_path=tmp_path), "not an evalkit dataset")
    assert (tmp_path / "notes" / "mine.txt").read_text() == "keep me"


def test_unknown_sheet_lists_the_sheets(tmp_path):
    src = make_source(tmp_path, mapping=MAPPING.replace("file: families.csv", "file: book.xlsx\n    sheet: Семьи"))
    wb = Workbook()
    wb.active.title = "Families"
    wb.save(src / "book.xlsx")
    expect_error(run("clean", src, "--out", tmp_path / "ds", "--quiet", tmp_path=tmp_path), "Семьи", "Families", "book.xlsx")


def test_a_broken_key_file(tmp_path):
    src = make_source(tmp_path)
    (tmp_path / "key").write_text("not hex at all")
    expect_error(run("clean", src, "--out", tmp_path / "ds", "--quiet", tmp_path=tmp_path), "key")


def test_all_mapping_gaps_are_listed_at_once(tmp_path):
    src = make_source(tmp_path, families=FAMILIES.replace("полная", "полн.").replace(";нет\n", ";?!\n"))
    proc = run("check", src, tmp_path=tmp_path)
    expect_error(proc, "полн.", "?!")


# --- bad rows: quarantined with their reason, the run goes on -------------------------------

ROW_CASES = {
    "impossible date": (CHILDREN.replace("03.04.2015", "31.02.2015"), "no such date"),
    "date in the future": (CHILDREN.replace("03.04.2015", "03.04.2031"), "after"),
    "child of an unknown family": (CHILDREN.replace("C1;F1", "C1;F9"), "family"),
    "missing child id": (CHILDREN.replace("C1;F1", ";F1"), "required value missing"),
    "conflicting duplicate": (CHILDREN + "C1;F1;04.05.2015\n", "conflicting duplicate"),
}


@pytest.mark.parametrize("name", list(ROW_CASES))
def test_bad_rows_are_quarantined_with_their_reason(tmp_path, name):
    import pandas as pd

    children, reason = ROW_CASES[name]
    src = make_source(tmp_path, children=children)
    proc = run("clean", src, "--out", tmp_path / "ds", "--quiet", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    q = pd.read_parquet(tmp_path / "ds" / "quarantine.parquet")
    assert (q["file"] == "children.csv").any()
    assert q.loc[q["file"] == "children.csv", "reasons"].str.contains(reason, case=False).any(), q["reasons"].tolist()
    assert (q["row"] == 2).any()  # the first data row, as a spreadsheet numbers it


def test_mapping_gaps_read_in_worker_processes_give_the_same_message(tmp_path, monkeypatch):
    import evalkit.clean as C
    from evalkit.errors import UserError

    src = make_source(tmp_path, families=FAMILIES.replace("полная", "полн.").replace(";нет\n", ";?!\n"),
                      children=CHILDREN.replace("C1;F1", "C1;F9"))
    messages = []
    for min_bytes in (C.PARALLEL_BYTES, 0):  # the single-process path, then the workers
        monkeypatch.setattr(C, "PARALLEL_BYTES", min_bytes)
        with pytest.raises(UserError) as err:
            C.clean_sources([src], bytes(32))
        messages.append(str(err.value))
    assert messages[0] == messages[1] and "полн." in messages[0] and "?!" in messages[0]
