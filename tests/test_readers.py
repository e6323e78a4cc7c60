"""evalkit.readers: real workbooks and text files written in tmp_path, read back cell for cell."""

from __future__ import annotations

import datetime
import re

import numpy as np
import openpyxl
import pandas as pd
import pytest

from evalkit.errors import DataError
from evalkit.readers import RawSheet, detect_delimiter, detect_encoding, list_sheets, read_sheet

#: text that must never reach a user's error message
TRACEBACKISH = re.compile(r"Traceback|Error tokenizing|C error|Exception|File \"|line \d+, in |\w+Error:")


def write_xlsx(path, sheets: dict[str, dict[str, object]]):
    """A workbook from {sheet: {cell ref: value}}; datetime values become date cells."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, cells in sheets.items():
        ws = wb.create_sheet(name)
        for ref, value in cells.items():
            ws[ref] = value
            if isinstance(value, (datetime.date, datetime.datetime)):
                ws[ref].number_format = "DD.MM.YYYY"
    wb.save(path)
    return path


def write_rows(path, sheet: str, rows: list[list], start: str = "A1"):
    """A one-sheet workbook whose rows start at ``start``."""
    col0 = ord(start[0]) - 65
    row0 = int(start[1:])
    cells = {}
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if v is not None:
                cells[f"{chr(65 + col0 + j)}{row0 + i}"] = v
    return write_xlsx(path, {sheet: cells})


def error_of(fn, *args, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert not TRACEBACKISH.search(msg), msg
    assert " / " in msg  # Russian / English
    return info.value


@pytest.fixture
def journal(tmp_path):
    """Like the synthetic "Журнал договоров": a title, a blank row, the header on line 3."""
    return write_rows(tmp_path / "org.xlsx", "Журнал договоров", [
        ["БФ «Семья рядом». Журнал регистрации договоров"],
        [],
        [" № договора ", "Дата открытия случая", "Дата закрытия", "Сумма", "Кризисный центр"],
        ["2016/1", datetime.datetime(2016, 1, 1), 42396, "5 271 254,08", True],
        ["17", datetime.datetime(2016, 1, 2, 10, 30), "12 марта 2016", 17.0, None],
        [],
        ["2016/3 ", datetime.date(2016, 1, 3), None, 6000.5, False],
    ])


# ----------------------------------------------------------------------------- workbooks

def test_xlsx_header_on_line_3_below_a_title_and_a_blank_row(journal):
    raw = read_sheet(journal, "Журнал договоров", header_line=3)
    assert isinstance(raw, RawSheet)
    assert (raw.sheet, raw.header_line, raw.encoding, raw.delimiter) == ("Журнал договоров", 3, None, None)
    assert list(raw.frame.columns) == ["№ договора", "Дата открытия случая", "Дата закрытия", "Сумма",
                                       "Кризисный центр"]
    assert list(raw.frame.index) == [4, 5, 7]
    assert raw.frame.index.name == "line"
    assert raw.blank_lines == [6]
    assert raw.frame.loc[4, "№ договора"] == "2016/1"
    assert raw.frame.loc[7, "№ договора"] == "2016/3 "  # raw: not stripped


def test_xlsx_cell_types_are_kept(journal):
    f = read_sheet(journal, "Журнал договоров", header_line=3).frame
    assert all(dt == object for dt in f.dtypes)
    opened = f["Дата открытия случая"]
    # a midnight date cell comes back from calamine as datetime.date: it must be a datetime
    assert [type(v) for v in opened] == [datetime.datetime] * 3
    assert opened.tolist() == [datetime.datetime(2016, 1, 1), datetime.datetime(2016, 1, 2, 10, 30),
                               datetime.datetime(2016, 1, 3)]
    assert f.loc[4, "Дата закрытия"] == 42396.0 and isinstance(f.loc[4, "Дата закрытия"], float)
    assert f.loc[5, "Дата закрытия"] == "12 марта 2016"
    assert f.loc[7, "Дата закрытия"] is None
    assert f.loc[4, "Сумма"] == "5 271 254,08"  # a number typed as text stays text
    assert f.loc[5, "Сумма"] == 17.0 and isinstance(f.loc[5, "Сумма"], float)
    assert f.loc[5, "№ договора"] == "17"
    assert f.loc[4, "Кризисный центр"] is True and f.loc[7, "Кризисный центр"] is False
    assert f.loc[5, "Кризисный центр"] is None


def test_xlsx_sheet_starting_below_and_right_of_a1_keeps_lines_and_letters(tmp_path):
    path = write_rows(tmp_path / "b.xlsx", "S", [["Код", "Дата"], ["a", datetime.datetime(2020, 3, 12)],
                                                 ["b", None]], start="C4")
    raw = read_sheet(path, "S", header_line=4)
    assert list(raw.frame.columns) == ["Код", "Дата"]
    assert list(raw.frame.index) == [5, 6]
    stray = write_rows(tmp_path / "c.xlsx", "S", [["Код", "Дата"], ["a", None, "лишнее"]], start="C4")
    err = error_of(read_sheet, stray, "S", header_line=4)  # data under an unnamed column E
    assert "column E (5) has no header on line 4" in str(err) and "first on line 5" in str(err)
    assert err.column == "E (5)" and err.row == 4


def test_xlsx_default_sheet_is_the_first_and_list_sheets(tmp_path):
    path = write_xlsx(tmp_path / "w.xlsx", {"Семьи": {"A1": "Код", "A2": "x"}, "Дети": {"A1": "Код ребёнка"}})
    assert list_sheets(path) == ["Семьи", "Дети"]
    assert read_sheet(path).sheet == "Семьи"
    raw = read_sheet(path, "Дети")
    assert list(raw.frame.columns) == ["Код ребёнка"] and raw.frame.empty


def test_xlsx_trailing_blank_rows_and_unnamed_empty_columns_are_dropped(tmp_path):
    path = write_xlsx(tmp_path / "t.xlsx", {"S": {"A1": "a", "C1": "c", "A2": 1, "C2": "x", "B9": "  "}})
    raw = read_sheet(path, "S")
    assert list(raw.frame.columns) == ["a", "c"]
    assert list(raw.frame.index) == [2]
    assert raw.blank_lines == []


def test_xlsx_header_cells_of_other_types_become_text(tmp_path):
    path = write_xlsx(tmp_path / "h.xlsx", {"S": {"A1": 2019, "B1": "  Сумма  ", "A2": 1, "B2": 2}})
    assert list(read_sheet(path).frame.columns) == ["2019", "Сумма"]


# ----------------------------------------------------------------------------- text files

def test_csv_cp1251_semicolon_decimal_commas(tmp_path):
    path = tmp_path / "Услуги.csv"
    path.write_bytes("Код случая;Дата услуги;Сумма\r\n2016/1;01.05.2016;5 271 254,08\r\n2016/2;;\r\n"
                     .encode("cp1251"))
    raw = read_sheet(path)
    assert (raw.encoding, raw.delimiter, raw.sheet, raw.header_line) == ("cp1251", ";", None, 1)
    assert raw.frame.to_dict("index") == {
        2: {"Код случая": "2016/1", "Дата услуги": "01.05.2016", "Сумма": "5 271 254,08"},
        3: {"Код случая": "2016/2", "Дата услуги": None, "Сумма": None}}


def test_csv_utf8_comma_all_values_are_text(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("id,score,flag\n007,3.0,TRUE\n8,NA,\n", encoding="utf-8")
    raw = read_sheet(path)
    assert (raw.encoding, raw.delimiter) == ("utf-8", ",")
    assert raw.frame.loc[2].tolist() == ["007", "3.0", "TRUE"]
    assert raw.frame.loc[3].tolist() == ["8", "NA", None]  # "NA" is text, not missing


def test_csv_utf8_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffКод,Дата\r\nСР-1,2016-01-01 00:00:00\r\n".encode("utf-8"))
    raw = read_sheet(path)
    assert raw.encoding == "utf-8-sig"
    assert list(raw.frame.columns) == ["Код", "Дата"]  # no BOM left in the first header


def test_csv_quoted_fields_with_delimiters_and_newlines_keep_record_start_lines(tmp_path):
    path = tmp_path / "q.csv"
    path.write_bytes('Код;Адрес;Дата\r\n1;"ул. Ленина; д. 1\r\nкв. 2";12.03.2020\r\n2;"""Ромашка""";13.03.2020\r\n'
                     '3;"a\r\nb\r\nc";14.03.2020\r\n4;x;15.03.2020\r\n'.encode("cp1251"))
    raw = read_sheet(path)
    assert raw.delimiter == ";"
    assert list(raw.frame.index) == [2, 4, 5, 8]
    assert raw.frame.loc[2, "Адрес"] == "ул. Ленина; д. 1\r\nкв. 2"
    assert raw.frame.loc[4, "Адрес"] == '"Ромашка"'
    assert raw.frame.loc[8, "Дата"] == "15.03.2020"


def test_csv_stray_quote_inside_a_field_falls_back_and_keeps_lines(tmp_path):
    path = tmp_path / "stray.csv"
    path.write_text('a;b\r\n5" screen;2\r\n"x\r\ny";3\r\nz;4\r\n', encoding="utf-8")
    raw = read_sheet(path)
    assert list(raw.frame.index) == [2, 3, 5]
    assert raw.frame["a"].tolist() == ['5" screen', "x\r\ny", "z"]


def test_csv_title_lines_above_the_header_and_blank_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("Отчёт за 2020 год\r\n\r\nКод;Дата\r\n1;a\r\n\r\n;\r\n2;b\r\n\r\n;\r\n", encoding="utf-8")
    raw = read_sheet(path, header_line=3)
    assert list(raw.frame.index) == [4, 7]
    assert raw.blank_lines == [5, 6]  # blank lines after the last record are not listed


def test_csv_lone_cr_line_ends(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes(b"a;b\r1;2\r3;4")
    assert list(read_sheet(path).frame.index) == [2, 3]


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"])
def test_delimiter_detection(tmp_path, delimiter):
    path = tmp_path / "d.txt"
    rows = [["Код", "Сумма, руб.", "Дата"], ["1", "5 000,50", "12.03.2020"], ["2", "7", "13.03.2020"]]
    q = (lambda v: f'"{v}"' if delimiter in v else v)
    path.write_text("\n".join(delimiter.join(q(v) for v in r) for r in rows) + "\n", encoding="utf-8")
    raw = read_sheet(path)
    assert raw.delimiter == delimiter
    assert list(raw.frame.columns) == rows[0]
    assert raw.frame.loc[2, "Сумма, руб."] == "5 000,50"


def test_delimiter_detection_prefers_the_consistent_candidate():
    # the header splits into 2 by both "," and ";", but only ";" splits the data the same way
    assert detect_delimiter(["Сумма, руб.;Дата", "5,0;12.03.2020", "7;13.03.2020"]) == ";"
    # "," splits this header into more fields, but not the data: the consistent ";" wins
    assert detect_delimiter(["Код;Сумма, руб., всего", "1;5 000", "", "2;7"]) == ";"
    assert detect_delimiter(["a,b;c", "1,2;3"]) == ";"  # 2 fields each, a tie: the order of DELIMITERS
    assert detect_delimiter(["a|b|c;d", "1|2|3;4"]) == "|"
    assert detect_delimiter(["one column", "x"]) == ","


def test_given_encoding_and_delimiter_are_used(tmp_path):
    path = tmp_path / "g.csv"
    path.write_bytes("Код|Имя\r\n1|Ёлка\r\n".encode("cp1251"))
    raw = read_sheet(path, encoding="cp1251", delimiter="|")
    assert (raw.encoding, raw.delimiter) == ("cp1251", "|")
    assert raw.frame.loc[2, "Имя"] == "Ёлка"
    assert read_sheet(path, encoding="windows-1251", delimiter="pipe").delimiter == "|"


def test_detect_encoding_rules():
    assert detect_encoding(b"\xef\xbb\xbfa") == "utf-8-sig"
    assert detect_encoding("Код".encode("utf-8")) == "utf-8"
    assert detect_encoding("Код;Дата рождения\r\n".encode("cp1251")) == "cp1251"
    with pytest.raises(DataError):
        detect_encoding("café;crème\r\n".encode("latin-1"))  # decodes as cp1251 to "cafй": not Russian
    with pytest.raises(DataError):
        detect_encoding("Код".encode("cp1251") + b"\x01")  # a control character


def test_a_workbook_saved_as_csv_is_read_as_a_workbook(tmp_path):
    path = write_xlsx(tmp_path / "real.xlsx", {"S": {"A1": "Код", "A2": "x"}})
    disguised = path.rename(tmp_path / "export.csv")
    assert read_sheet(disguised).frame["Код"].tolist() == ["x"]


# ----------------------------------------------------------------------------- errors

def test_error_missing_file(tmp_path):
    err = error_of(read_sheet, tmp_path / "нет.xlsx")
    assert "нет.xlsx" in str(err) and "file not found" in str(err)
    assert err.file.endswith("нет.xlsx")
    error_of(list_sheets, tmp_path / "нет.csv")


def test_error_unknown_sheet_lists_the_sheets(journal):
    err = error_of(read_sheet, journal, "Журнал")
    msg = str(err)
    assert "'Журнал'" in msg and "'Журнал договоров'" in msg and "org.xlsx" in msg
    assert err.sheet == "Журнал"


def test_error_header_line_beyond_the_end(journal, tmp_path):
    err = error_of(read_sheet, journal, "Журнал договоров", header_line=50)
    assert "header line 50" in str(err) and "sheet Журнал договоров" in str(err) and "row 50" in str(err)
    assert "org.xlsx" in str(err) and "it has 7 lines" in str(err)
    path = tmp_path / "short.csv"
    path.write_text("a;b\n1;2\n", encoding="utf-8")
    err = error_of(read_sheet, path, header_line=3)
    assert "short.csv" in str(err) and "2 lines" in str(err) and "row 3" in str(err)
    assert "short.csv" in str(error_of(read_sheet, path, header_line=0))


def test_error_empty_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert "empty.csv" in str(error_of(read_sheet, empty))
    blank = tmp_path / "blank.csv"
    blank.write_bytes(b"\r\n  \r\n")
    assert "is empty" in str(error_of(read_sheet, blank)) and "blank.csv" in str(error_of(read_sheet, blank))
    book = write_xlsx(tmp_path / "e.xlsx", {"Пусто": {}, "S": {"A1": "a"}})
    err = error_of(read_sheet, book, "Пусто")
    assert "sheet Пусто" in str(err) and "e.xlsx" in str(err)


def test_error_empty_header_line(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text(";;\n1;2;3\n", encoding="utf-8")
    err = error_of(read_sheet, path)
    assert "header line 1 is empty" in str(err) and "h.csv" in str(err) and "row 1" in str(err)


def test_error_duplicate_header_names_xlsx(tmp_path):
    path = write_rows(tmp_path / "dup.xlsx", "S", [["Код", "Дата", "Сумма", "Дата "], [1, 2, 3, 4]])
    err = error_of(read_sheet, path, "S")
    msg = str(err)
    assert "'Дата': B (2), D (4)" in msg and "dup.xlsx" in msg and "sheet S" in msg and "row 1" in msg


def test_error_duplicate_header_names_csv(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("Код;Дата;Дата\n1;2;3\n", encoding="utf-8")
    msg = str(error_of(read_sheet, path))
    assert "'Дата': 2 (B), 3 (C)" in msg and "dup.csv" in msg


def test_error_empty_header_cell_above_data(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("Код;;Сумма\n1;;3\n2;x;4\n", encoding="utf-8")
    err = error_of(read_sheet, path)
    assert "column 2 (B) has no header" in str(err) and "line 3" in str(err) and "e.csv" in str(err)
    book = write_rows(tmp_path / "e.xlsx", "Лист1", [["Код", None, "Сумма"], [1, "x", 3]])
    err = error_of(read_sheet, book)
    assert "column B (2) has no header" in str(err) and "sheet Лист1" in str(err) and "e.xlsx" in str(err)
    assert "column 'B (2)'" in str(err) and "first on line 2" in str(err)


def test_error_undecodable_text_names_the_byte(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("name;city\nJosé;Málaga\n".encode("latin-1"))
    err = error_of(read_sheet, path)
    msg = str(err)
    assert "cannot tell the encoding" in msg and "не удалось определить кодировку" in msg
    assert "offset 13" in msg and "0xE9" in msg and "encoding:" in msg and "latin.csv" in msg
    assert read_sheet(path, encoding="latin-1").frame.loc[2, "city"] == "Málaga"


def test_error_given_encoding_that_does_not_decode(tmp_path):
    path = tmp_path / "u.csv"
    path.write_bytes("Код\n".encode("cp1251"))
    err = error_of(read_sheet, path, encoding="utf-8")
    assert "does not decode as utf-8" in str(err) and "offset 0" in str(err) and "u.csv" in str(err)
    err = error_of(read_sheet, path, encoding="klingon")
    assert "unknown encoding" in str(err) and "u.csv" in str(err)


def test_error_row_with_more_fields_than_the_header(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text('a;b\n1;"x\ny"\n2;3;4\n', encoding="utf-8")
    err = error_of(read_sheet, path)
    assert "row 4" in str(err) and "more fields (3)" in str(err) and "wide.csv" in str(err)


def test_error_a_sheet_for_a_text_file_and_a_damaged_workbook(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("a\n1\n", encoding="utf-8")
    err = error_of(read_sheet, path, "Лист1")
    assert "no sheets" in str(err) and "a.csv" in str(err) and "sheet Лист1" in str(err)
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert "bad.xlsx" in str(error_of(read_sheet, bad))


def test_header_inside_a_quoted_field_is_an_error(tmp_path):
    path = tmp_path / "inq.csv"
    path.write_text('"title a\nb end"\nКод\n1\n', encoding="utf-8")
    err = error_of(read_sheet, path, header_line=2)
    assert "inside a quoted field that starts on line 1" in str(err) and "inq.csv" in str(err)


# ----------------------------------------------------------------------------- the synthetic exports

@pytest.fixture(scope="module")
def demo(demo_source):
    """The session's synthetic demo source (tests/conftest.py)."""
    return demo_source


def test_reads_every_sheet_of_the_synthetic_exports_with_exact_lines(demo):
    from evalkit.synth import read_defects
    from evalkit.synth_exports import STYLES
    defects = read_defects(demo)[0]
    book = next((demo / "org_a").glob("*.xlsx"))
    for table, (name, header, cols) in STYLES["xlsx"].layout.items():
        raw = read_sheet(book, name, header)
        assert set(cols.values()) <= set(raw.frame.columns), table
        d = defects[(defects["org"] == "org_a") & (defects["sheet"] == name) & defects["raw_value"].notna()
                    & defects["column"].notna()]
        for line, column, value in d[["line", "column", "raw_value"]].itertuples(index=False):
            cell = raw.frame.loc[line, column]  # the defect is exactly where the record says
            shown = str(cell.date()) if isinstance(cell, datetime.datetime) else \
                str(int(cell)) if isinstance(cell, float) and cell.is_integer() else str(cell)
            assert shown == value, (table, line, column)
    for table, (name, header, cols) in STYLES["csv"].layout.items():
        raw = read_sheet(demo / "org_b" / f"{name}.csv")
        assert (raw.encoding, raw.delimiter) == ("cp1251", ";")
        assert set(cols.values()) <= set(raw.frame.columns)
        d = defects[(defects["org"] == "org_b") & (defects["file"] == f"{name}.csv") & defects["raw_value"].notna()
                    & defects["column"].notna()]
        got = [raw.frame.loc[line, column] for line, column in d[["line", "column"]].itertuples(index=False)]
        assert got == d["raw_value"].tolist(), table
        assert np.all(np.diff(raw.frame.index) >= 1)
        assert raw.frame.index[-1] == len(pd.read_csv(demo / "org_b" / f"{name}.csv", sep=";", encoding="cp1251",
                                                      dtype=str)) + 1


# ----------------------------------------------------------------------------- the Arrow path (arrow=True)

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

#: cells mixing what exports hold: text, blanks, whitespace-only, quotes, delimiters, line breaks
_CELLS = st.sampled_from(["", " ", "  ", "\u00a0", "a", "Ж", " b ", "12,5", "a;b", 'x"y', "c\nd", "e\r\nf",
                          "2020-03-12", "NA", "\t", "ё"])


def _csv_text(rows: list[list[str]], delimiter: str) -> str:
    out = []
    for row in rows:
        cells = []
        for c in row:
            quote = any(ch in c for ch in (delimiter, '"', "\n", "\r")) or (c == "" and len(row) == 1)
            cells.append('"' + c.replace('"', '""') + '"' if quote else c)
        out.append(delimiter.join(cells))
    return "\r\n".join(out) + "\r\n"


def _as_object(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), None)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 4), st.lists(st.lists(_CELLS, min_size=4, max_size=4), max_size=8),
       st.sampled_from([";", ",", "\t"]), st.sampled_from(["utf-8", "utf-8-sig", "cp1251"]),
       st.booleans())
def test_property_arrow_path_reads_the_same_cells_as_pandas(tmp_path_factory, width, rows, delimiter, encoding,
                                                            blank_lines):
    header = [f"Поле {i}" for i in range(width)]
    body = [r[:width] for r in rows]
    text = _csv_text([header] + body, delimiter)
    if blank_lines and body:  # an empty line between records, which pandas and pyarrow treat differently
        text = text.replace("\r\n", "\r\n\r\n", 1)
    path = tmp_path_factory.mktemp("arrow") / "t.csv"
    path.write_bytes(text.encode(encoding))
    try:
        want = read_sheet(path, delimiter=delimiter, encoding=encoding)
    except DataError as e:
        with pytest.raises(DataError) as got:
            read_sheet(path, delimiter=delimiter, encoding=encoding, arrow=True)
        assert str(got.value) == str(e)
        return
    got = read_sheet(path, delimiter=delimiter, encoding=encoding, arrow=True)
    assert all(str(t) == "string" for t in got.frame.dtypes)
    pd.testing.assert_frame_equal(_as_object(got.frame), want.frame)
    assert got.blank_lines == want.blank_lines


def test_arrow_path_leaves_stray_quotes_to_pandas(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text('a,b\n5" screen,x\n"ok",y\n', encoding="utf-8")
    got = read_sheet(p, arrow=True)
    assert got.frame["a"].tolist() == ['5" screen', "ok"]
    assert str(got.frame["a"].dtype) == "string"


def test_arrow_path_short_rows_are_padded_as_pandas_does(tmp_path):
    p = tmp_path / "short.csv"
    p.write_text("a;b;c\n1;2\n3;4;5\n", encoding="utf-8")
    want, got = read_sheet(p), read_sheet(p, arrow=True)
    pd.testing.assert_frame_equal(_as_object(got.frame), want.frame)


def test_arrow_whitespace_is_pythons():
    import pyarrow as pa
    import pyarrow.compute as pc

    chars = [chr(i) for i in range(0x3001)] + ["\ufeff", "\u180e", "\u200b"]
    arrow = pc.utf8_is_space(pa.array(chars)).to_pylist()
    assert [c for c, a in zip(chars, arrow) if a != c.isspace()] == []
    stripped = pc.utf8_trim_whitespace(pa.array([f"{c}x{c}" for c in chars])).to_pylist()
    assert [c for c, s in zip(chars, stripped) if s != f"{c}x{c}".strip()] == []


def _python_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_utf8_validation_agrees_with_pythons_codec():
    from evalkit.readers import _valid_utf8

    cases = [b"", b"abc", "Код;Дата\r\n".encode(), "\U0010ffff".encode(), b"\xf4\x90\x80\x80", b"\xed\xa0\x80",
             b"\xed\x9f\xbf", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xc2", b"\xff", b"a\x00b", "ё".encode() + b"\xd1",
             "€".encode("cp1251"), "Привет".encode("cp1251")]
    cases += [bytes([a, b]) for a in range(0x80, 0x100, 7) for b in range(0x80, 0x100, 5)]
    cases += [bytes([0xe0 | (a & 0x0f), b, 0x80]) for a in range(16) for b in range(0x80, 0xc0, 3)]
    cases += [bytes([0xf0 | (a & 0x07), b, 0x80, 0x80]) for a in range(8) for b in range(0x80, 0xc0, 3)]
    assert [c for c in cases if _valid_utf8(c) != _python_utf8(c)] == []


@pytest.mark.parametrize("ends", [b"\r\n", b"\n", b"\r", b"mixed"])
def test_line_starts_by_kind_of_line_end(ends):
    from evalkit.readers import _breaks, _line_starts

    lines = [b"a;b", b"1;2", b"", b"3;4", b"5;6"]
    if ends == b"mixed":
        data = b"a;b\r\n1;2\n\r3;4\r5;6\r\n"
    else:
        data = ends.join(lines) + ends
    b = np.frombuffer(data, dtype=np.uint8)
    want = np.concatenate([[0], _breaks(b) + 1])
    np.testing.assert_array_equal(_line_starts(data), want[want < len(data)])
    assert len(_line_starts(data)) == 5


@pytest.mark.parametrize("chunk", [1, 3, 7, 1 << 20])
@pytest.mark.parametrize("encoding", ["cp1251", "utf-8", "utf-8-sig", "utf-16", "koi8-r"])
def test_transcoding_by_chunks_is_decoding_the_whole_file(monkeypatch, chunk, encoding):
    from evalkit import readers

    monkeypatch.setattr(readers, "_CHUNK", chunk)
    text = "\ufeffКод;Дата\r\n1;«12» марта\n\ufeff2;ё\r"
    data = text.encode(encoding, errors="replace")
    want = readers._decode(data, encoding, "f.csv").encode("utf-8")
    assert readers._transcode((data[i:i + chunk] for i in range(0, len(data), chunk)), encoding) == want
    bad = data + b"\xff\xfe\xff" if encoding.startswith("utf-8") else None
    if bad is not None:
        assert readers._transcode([bad], encoding) is None
    assert readers._transcode([b" \r\n", b"\t"], "cp1251") is None and readers._transcode([], "cp1251") is None


@pytest.mark.parametrize("content", [b"", b" \r\n", "Код;Дата\r\n1;«2»\r\n".encode("cp1251"), b"a;b\r\n\x98;1\r\n"])
@pytest.mark.parametrize("encoding", ["cp1251", "koi8-r", "no-such-codec"])
def test_a_text_file_read_by_chunks_reads_as_read_whole(tmp_path, monkeypatch, content, encoding):
    from evalkit import readers

    path = tmp_path / "t.csv"
    path.write_bytes(content)

    def read(chunked: bool):
        if not chunked:
            monkeypatch.setattr(readers, "_transcoded_file", lambda path, encoding: None)
        try:
            raw = read_sheet(path, encoding=encoding, arrow=True)
            return raw.frame.astype(object).to_dict("list"), raw.encoding
        except DataError as e:
            return str(e)
        finally:
            monkeypatch.undo()

    assert read(True) == read(False)


@pytest.mark.parametrize("chunk", [1, 2, 5, 1 << 20])
def test_byte_scans_by_chunks(monkeypatch, chunk):
    from evalkit import readers

    monkeypatch.setattr(readers, "_CHUNK", chunk)
    data = b'a;"b\r\nc"\r\n1;2\n\r3;"4"\r'
    b = np.frombuffer(data, dtype=np.uint8)
    np.testing.assert_array_equal(readers._where_byte(b, 34), np.flatnonzero(b == 34))
    starts = readers._line_starts(data)
    want = np.concatenate([[0], readers._breaks(b) + 1])
    np.testing.assert_array_equal(starts, want[want < len(data)])


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf", "\ufeffКод;Дата\r\n1;2\r\n".encode(), b"\xef\xbb\xbfa;b\r\n\xff;1\r\n",
                                     "\ufeff\ufeffa;b\n1;2\n".encode(), "Код;Дата\r\n1;2\r\n".encode()])
@pytest.mark.parametrize("encoding", [None, "utf-8", "utf-8-sig", "cp1251", "no-such-codec"])
def test_a_utf8_file_read_past_its_bom_reads_as_read_whole(tmp_path, monkeypatch, content, encoding):
    from evalkit import readers

    path = tmp_path / "t.csv"
    path.write_bytes(content)

    def read(past_bom: bool):
        if not past_bom:
            monkeypatch.setattr(readers, "_utf8_bom_file", lambda path, encoding: (None, encoding))
        try:
            raw = read_sheet(path, encoding=encoding, arrow=True)
            return raw.frame.astype(object).to_dict("list"), raw.encoding, raw.delimiter
        except DataError as e:
            return str(e)
        finally:
            monkeypatch.undo()

    assert read(True) == read(False)
