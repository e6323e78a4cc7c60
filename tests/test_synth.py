"""The synthetic source: determinism, the defect record, personal data, scaling, the CLI."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit import labels
from evalkit.synth import read_defects, read_truth, read_truth_tables, synthesize
from evalkit.synth_exports import STYLES
from evalkit.synth_model import demo_config, simulate

ORG_STYLE = {"org_a": "xlsx", "org_b": "csv"}


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _read_sheet(source: Path, org: str, file: str, sheet) -> pd.DataFrame:
    """A raw sheet exactly as a spreadsheet shows it: row i of the frame is line i + 1."""
    path = source / org / file
    if path.suffix == ".xlsx":
        return pd.read_excel(path, sheet_name=sheet, header=None, engine="calamine", dtype=object)
    enc = "cp1251" if ORG_STYLE[org] == "csv" else "utf-8-sig"
    return pd.read_csv(path, sep=";", header=None, dtype=str, keep_default_na=False, encoding=enc)


def _cell_text(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if hasattr(v, "year") and not isinstance(v, str):
        return str(pd.Timestamp(v).date())
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def test_same_seed_gives_byte_identical_files(tmp_path):
    cfg = demo_config(families=60, seed=7)
    synthesize(tmp_path / "a", cfg, truth_mc_families=1_000)
    synthesize(tmp_path / "b", cfg, truth_mc_families=1_000)
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert a == b
    assert any(k.endswith(".xlsx") for k in a) and any(k.endswith(".csv") for k in a)


def test_another_seed_gives_other_data(tmp_path):
    synthesize(tmp_path / "a", demo_config(families=60, seed=7), truth_mc_families=0)
    synthesize(tmp_path / "b", demo_config(families=60, seed=8), truth_mc_families=0)
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    raw = [k for k in a if not k.startswith("_truth") and not k.endswith("evalkit.yaml")]
    assert all(a[k] != b.get(k) for k in raw)


def test_both_export_styles_are_written(demo_source):
    xlsx = list((demo_source / "org_a").glob("*.xlsx"))
    assert len(xlsx) == 1
    sheets = pd.ExcelFile(xlsx[0], engine="calamine").sheet_names
    assert sheets == [STYLES["xlsx"].layout[t][0] for t in STYLES["xlsx"].layout]
    csvs = sorted(p.name for p in (demo_source / "org_b").glob("*.csv"))
    assert csvs == sorted(f"{STYLES['csv'].layout[t][0]}.csv" for t in STYLES["csv"].layout)
    # cp1251, semicolons, decimal commas with space thousands separators
    text = (demo_source / "org_b" / "Расходы.csv").read_bytes().decode("cp1251")
    header, first = text.splitlines()[:2]
    assert header == "Организация;Проект;Год;Затраты"
    assert first.split(";")[-1].replace(" ", "").replace(",", "").isdigit()
    assert "," in first.split(";")[-1] and " " in first.split(";")[-1]
    with pytest.raises(UnicodeDecodeError):
        (demo_source / "org_b" / "Семьи.csv").read_bytes().decode("utf-8")


def test_every_defect_is_where_the_record_says(demo_source):
    defects = read_defects(demo_source)[0]
    cache = {}
    checked = 0
    for (org, file, sheet), group in defects.groupby(["org", "file", "sheet"], dropna=False):
        key = (org, file, sheet)
        sheet_name = None if pd.isna(sheet) else sheet
        cache[key] = raw = _read_sheet(demo_source, org, file, sheet_name)
        table = group["table"].iloc[0]
        header_line = STYLES[ORG_STYLE[org]].layout[table][1]
        if file.endswith(".csv"):
            header_line = 1
        header = [_cell_text(v) for v in raw.iloc[header_line - 1]]
        for rec in group.itertuples():
            row = raw.iloc[rec.line - 1]
            if rec.kind in ("exact_duplicate", "conflicting_duplicate"):
                twin = raw.iloc[int(rec.duplicate_of_line) - 1]
                same = [_cell_text(a) == _cell_text(b) for a, b in zip(row, twin)]
                assert all(same) == (rec.kind == "exact_duplicate"), (org, rec.line, rec.kind)
                checked += 1
                continue
            got = _cell_text(row.iloc[header.index(rec.column)])
            want = "" if pd.isna(rec.raw_value) else str(rec.raw_value)
            assert got == want, (org, file, sheet, rec.line, rec.column, rec.kind)
            checked += 1
    assert checked == len(defects)


@pytest.mark.parametrize("org", ["org_a", "org_b"])
def test_every_kind_of_mess_appears_in_both_styles(demo_source, org):
    defects = read_defects(demo_source)[0]
    kinds = set(defects.loc[defects["org"] == org, "kind"])
    expected = {"date_variant", "yes_no_variant", "whitespace_case", "category_typo", "whitespace_id",
                "exact_duplicate", "conflicting_duplicate", "impossible_date", "closed_before_opened",
                "missing_family_id", "unknown_family_id", "missing_child_id", "birth_in_future",
                "score_out_of_range"}
    if org == "org_a":
        expected.add("amount_as_text")
    assert expected <= kinds
    d = defects[defects["org"] == org]
    assert set(d["expected"]) == {"recover", "merge", "quarantine"}
    # date variants cover the formats the issue names
    variants = d.loc[d["kind"] == "date_variant", "raw_value"].astype(str)
    assert variants.str.fullmatch(r"\d{4}-\d{2}-\d{2}").any()          # 2020-03-12
    assert variants.str.fullmatch(r"\d{5}").any()                      # Excel serial
    assert variants.str.contains(r"\d{1,2} (?:января|февраля|марта|апреля|мая|июня|июля|августа|"
                                 r"сентября|октября|ноября|декабря) \d{4}").any()  # 12 марта 2020


def test_raw_row_counts_add_up(demo_source):
    """Rows in every raw sheet = truth rows (grouped for wide ЕФО) + duplicates pasted in."""
    truth = read_truth_tables(demo_source)
    defects = read_defects(demo_source)[0]
    for org, style_name in ORG_STYLE.items():
        style = STYLES[style_name]
        for table, (name, header_line, cols) in style.layout.items():
            t = truth[table]
            if table == "costs":
                n_truth = int((t["org"] == org).sum())
            elif "child_id" in t:
                n_truth = int(t["child_id"].str.startswith(org + ":").sum())
            elif "case_id" in t:
                n_truth = int(t["case_id"].str.startswith(org + ":").sum())
            else:
                n_truth = int(t["family_id"].str.startswith(org + ":").sum())
            if table == "assessments" and style_name == "xlsx":
                n_truth //= len(labels.codes("domain"))
            d = defects[(defects["org"] == org) & (defects["table"] == table)]
            pasted = int((d["kind"] == "exact_duplicate").sum()) + int((d["kind"] == "conflicting_duplicate").sum()) // 2
            file = f"{org}_выгрузка.xlsx" if style_name == "xlsx" else f"{name}.csv"
            raw = _read_sheet(demo_source, org, file, name if style_name == "xlsx" else None)
            data_rows = len(raw) - (header_line if style_name == "xlsx" else 1)
            assert data_rows == n_truth + pasted, (org, table)


def test_expected_lost_includes_every_quarantined_row_and_what_hangs_on_it(demo_source):
    truth = read_truth_tables(demo_source)
    defects, lost = read_defects(demo_source)
    lost_set = set(zip(lost["table"], lost["truth_row"]))
    q = defects[defects["expected"] == "quarantine"]
    for rec in q.itertuples():
        for r in str(rec.truth_rows).split(","):
            assert (rec.table, int(r)) in lost_set
    # a child whose row is quarantined takes its contacts, events and assessments along
    lost_children = set(truth["children"].loc[lost.loc[lost["table"] == "children", "truth_row"], "child_id"])
    assert lost_children
    for table in ("contacts", "events", "assessments"):
        rows = truth[table].index[truth[table]["child_id"].isin(lost_children)]
        assert {(table, int(r)) for r in rows} <= lost_set
    # nothing recoverable is listed as lost unless something else broke it
    recover_only = defects[defects["expected"] != "quarantine"]
    assert len(recover_only) > 10 * len(q)
    assert len(lost) < 0.1 * sum(len(t) for t in truth.values())


def test_raw_exports_carry_personal_data_and_truth_tables_do_not(demo_source):
    personal = {p.stem: pd.read_parquet(p) for p in (demo_source / "_truth" / "personal").glob("*.parquet")}
    names = set(personal["families"]["parent_name"]) | set(personal["children"]["child_name"])
    phones = set(personal["families"]["phone"])
    births = {d.strftime("%d.%m.%Y") for d in personal["children"]["birth_date"]}
    raw_b = "\n".join(p.read_bytes().decode("cp1251") for p in (demo_source / "org_b").glob("*.csv"))
    assert sum(n in raw_b for n in list(names)[:200]) > 50
    assert any(p in raw_b for p in phones)
    assert any(b in raw_b for b in births)
    truth_text = "\n".join(df.astype(str).to_csv() for df in read_truth_tables(demo_source).values())
    assert not any(n in truth_text for n in names)
    assert not any(p in truth_text for p in phones)
    # birth dates only as months in the truth
    bm = read_truth_tables(demo_source)["children"]["birth_month"]
    assert (bm.dt.day == 1).all()


def test_truth_json_states_the_parameters(demo_source):
    doc = read_truth(demo_source)
    truth = doc["truth"]
    hr = truth["hazard"]["hazard_ratio"]
    assert hr["prior_removal"] == pytest.approx(2.0) and hr["parent_mental_illness"] == pytest.approx(1.9)
    assert truth["hazard"]["no_effect"] == ["parent_orphan_background", "disability"]
    months = truth["retention_after_closure"]["months"]
    assert months["6"]["value"] > months["12"]["value"] > months["36"]["value"] > 0.7
    for d in labels.codes("domain"):
        assert d in truth["efo"]["mean_change"]
    assert doc["rows"]["children"] == len(read_truth_tables(demo_source)["children"])


def test_size_scales_with_families():
    small = simulate(demo_config(families=100, seed=1))
    big = simulate(demo_config(families=2_000, seed=1, orgs=5))
    assert len(small.families) == 100 and len(big.families) == 2_000
    assert set(big.families["org"]) == {"org_a", "org_b", "org_003", "org_004", "org_005"}
    assert 2.3 < len(big.children) / 2_000 < 2.6


def test_synth_refuses_to_overwrite_real_raw_data(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "export.xlsx").write_bytes(b"not ours")
    proc = subprocess.run([sys.executable, "-m", "evalkit", "synth", "--out", str(real), "--families", "20",
                           "--truth-mc", "0", "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "refusing to overwrite" in proc.stderr and "Traceback" not in proc.stderr
    assert (real / "export.xlsx").read_bytes() == b"not ours"


def test_synth_cli_writes_a_source(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "evalkit", "synth", "--out", str(out), "--families", "30",
                           "--truth-mc", "500"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "30 families" in proc.stdout
    assert "simulating" in proc.stderr  # progress goes to stderr
    doc = json.loads((out / "_truth" / "truth.json").read_text(encoding="utf-8"))
    assert doc["config"]["families"] == 30


def test_bad_option_is_a_clear_error():
    proc = subprocess.run([sys.executable, "-m", "evalkit", "synth", "--families", "-5"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "--families" in proc.stderr and "Traceback" not in proc.stderr
