"""Cleaning the synthetic exports: round trip to the truth, row conservation, no personal
data, determinism, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from evalkit import schemas
from evalkit.clean import clean_sources
from evalkit.dataset import read_dataset, read_manifest, write_dataset
from evalkit.mapping import ID_FIELDS
from evalkit.pseudonymise import pseudonyms
from evalkit.synth import read_defects, read_truth_tables

KEY = bytes(range(32))
ORGS = ("org_a", "org_b")


@pytest.fixture(scope="module")
def cleaned(demo_source):
    return clean_sources([demo_source / o for o in ORGS], KEY)


def _hash_truth(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col, prefix in ID_FIELDS.items():
        if col in df:
            parts = df[col].str.split(":", n=1)
            src, raw = parts.str[0], parts.str[1]
            out = pd.Series(None, index=df.index, dtype=object)
            for s in src.dropna().unique():
                m = (src == s).to_numpy()
                out[m] = pseudonyms(raw[m], s, KEY, prefix).to_numpy()
            df[col] = out
    return df


def test_round_trip_recovers_the_truth_except_what_the_generator_broke(demo_source, cleaned):
    truth = read_truth_tables(demo_source)
    _, lost = read_defects(demo_source)
    for table in schemas.TABLES:
        gone = lost.loc[lost["table"] == table, "truth_row"].to_numpy()
        raw = truth[table].drop(index=gone)
        keys = schemas.KEYS[table] or list(raw.columns)
        # a dataset is its sources' tables one after the other, each sorted by its keys: the
        # source is the first key's (an identifier is "source:raw" in the truth; costs: the org)
        first = raw[keys[0]].astype(str)
        source = first.str.split(":", n=1).str[0] if keys[0] in ID_FIELDS else first
        expect = _hash_truth(raw).assign(_source=source.to_numpy())
        expect = expect.sort_values(["_source", *keys], kind="stable").reset_index(drop=True)
        got = cleaned.tables[table]
        pd.testing.assert_frame_equal(got, expect[list(got.columns)], check_dtype=True, obj=table)


def test_quarantine_holds_exactly_the_rows_the_generator_broke_and_what_hangs_on_them(demo_source, cleaned):
    defects, _ = read_defects(demo_source)
    q = cleaned.quarantine
    direct = defects[defects["expected"] == "quarantine"]
    want = set(zip(direct["org"], direct["file"], direct["sheet"].fillna("-"), direct["line"]))
    got = set(zip(q["source"], q["file"], q["sheet"].fillna("-"), q["row"]))
    assert want <= got
    # everything else in the quarantine is there because something it points at is gone
    cascade = q[[k not in want for k in zip(q["source"], q["file"], q["sheet"].fillna("-"), q["row"])]]
    assert len(cascade)
    assert cascade["reasons"].str.contains("not found|another family", case=False).all(), \
        cascade["reasons"].head().tolist()
    assert (q["reasons"].str.len() > 0).all()


def test_exact_duplicates_are_merged_and_logged(demo_source, cleaned):
    defects, _ = read_defects(demo_source)
    dup = defects[defects["kind"] == "exact_duplicate"]
    merged = cleaned.log[cleaned.log["rule"] == "duplicate:merged"]
    want = set(zip(dup["org"], dup["file"], dup["sheet"].fillna("-"), dup["line"]))
    got = set(zip(merged["source"], merged["file"], merged["sheet"].fillna("-"), merged["row"]))
    assert want == got


def test_every_repair_is_in_the_cleaning_log(demo_source, cleaned):
    defects, _ = read_defects(demo_source)
    rec = defects[defects["expected"] == "recover"]
    log = cleaned.log
    logged = set(zip(log["source"], log["file"], log["sheet"].fillna("-"), log["row"], log["column"]))
    missing = [r for r in rec.itertuples()
               if (r.org, r.file, "-" if pd.isna(r.sheet) else r.sheet, r.line, r.column) not in logged]
    assert not missing, missing[:5]


def test_rows_are_conserved_in_every_sheet(demo_source, cleaned):
    c = cleaned.conservation
    assert (c["read"] == c["kept"] + c["merged"] + c["quarantined"]).all()
    assert len(c) == 2 * len(schemas.TABLES)
    # and "read" is every data line of the raw file
    defects, _ = read_defects(demo_source)
    b = c[(c["source"] == "org_b") & (c["table"] == "contacts")].iloc[0]
    lines = (demo_source / "org_b" / "Контакты.csv").read_bytes().decode("cp1251").splitlines()
    assert b["read"] == len(lines) - 1


def test_clean_dataset_holds_no_personal_data(demo_personal_data, tmp_path, cleaned):
    path = write_dataset(cleaned, tmp_path / "ds")
    needles = demo_personal_data           # names, phones, addresses, exact birth dates (conftest.py)
    texts = []
    for f in sorted(Path(path).resolve().iterdir()):
        if f.suffix == ".parquet":
            df = pd.read_parquet(f)
            texts.append(df.astype(str).to_csv())
        elif f.suffix == ".xlsx":
            for df in pd.read_excel(f, sheet_name=None, engine="calamine").values():
                texts.append(df.astype(str).to_csv())
        else:
            texts.append(f.read_text(encoding="utf-8"))
    blob = "\n".join(texts)
    found = [n for n in needles if n and n in blob]
    assert not found, found[:5]


def test_same_inputs_and_key_give_byte_identical_parquet(demo_source, tmp_path):
    a = write_dataset(clean_sources([demo_source / o for o in ORGS], KEY), tmp_path / "a")
    b = write_dataset(clean_sources([demo_source / o for o in ORGS], KEY), tmp_path / "b")
    for f in sorted(Path(a).resolve().glob("*.parquet")):
        assert f.read_bytes() == (Path(b).resolve() / f.name).read_bytes(), f.name
    other = write_dataset(clean_sources([demo_source / o for o in ORGS], bytes(32)), tmp_path / "c")
    assert (Path(other) / "children.parquet").read_bytes() != (Path(a) / "children.parquet").read_bytes()


def test_parquet_statistics_are_kept_except_for_pseudonyms_and_free_texts(tmp_path, cleaned):
    import pyarrow.parquet as pq

    path = Path(write_dataset(cleaned, tmp_path / "st"))
    skipped = {"family_id", "child_id", "case_id", "raw_value", "clean_value", "reasons", "raw"}
    seen = set()
    for f in sorted(path.glob("*.parquet")):
        meta = pq.ParquetFile(f).metadata
        if not meta.num_rows:
            continue
        for i in range(meta.num_columns):
            column = meta.row_group(0).column(i)
            seen.add(column.path_in_schema)
            assert column.is_stats_set == (column.path_in_schema not in skipped), (f.name, column.path_in_schema)
    assert skipped <= seen and {"date", "score", "instrument", "rule", "file"} <= seen


def test_manifest_fingerprints_tables_and_sources(demo_source, tmp_path, cleaned):
    path = write_dataset(cleaned, tmp_path / "m")
    man = read_manifest(path)
    for name, info in man["tables"].items():
        assert info["sha256"] == hashlib.sha256((Path(path) / f"{name}.parquet").read_bytes()).hexdigest()
        assert info["rows"] == len(read_dataset(path, [name])[name])
    files = {f["file"] for s in man["sources"] for f in s["files"]}
    assert "Дети.csv" in files and "org_a_выгрузка.xlsx" in files
    assert man["key_id"] and man["key_id"] not in KEY.hex()


def test_a_kill_while_writing_leaves_the_previous_dataset_untouched(demo_source, tmp_path):
    env = dict(os.environ, EVALKIT_KEY_FILE=str(tmp_path / "key"), EVALKIT_HOME=str(tmp_path))
    args = [sys.executable, "-m", "evalkit", "clean", str(demo_source / "org_a"), str(demo_source / "org_b"),
            "--out", str(tmp_path / "ds"), "--quiet"]
    first = subprocess.run(args, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in (tmp_path / "ds").resolve().iterdir()}
    crash = subprocess.run(args, env=dict(env, EVALKIT_FAULT_AFTER="children"), capture_output=True, text=True)
    assert crash.returncode == 137
    after = {p.name: p.read_bytes() for p in (tmp_path / "ds").resolve().iterdir()}
    assert before == after
    again = subprocess.run(args, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert not list((tmp_path / ".versions").glob("*.partial"))
    assert len([p for p in (tmp_path / ".versions").iterdir()]) == 1  # old versions are removed


def test_arrow_tables_are_what_pyarrow_makes_of_the_frames(demo_source):
    import pyarrow as pa

    res = clean_sources([demo_source / o for o in ORGS], KEY)
    for name in list(res.tables) + ["cleaning_log"]:
        got = res.arrow(name)  # before any frame is read: the Arrow table cleaning made
        df = res.log if name == "cleaning_log" else res.tables[name]
        want = pa.Table.from_pandas(df, preserve_index=False)
        assert got.schema.equals(want.schema, check_metadata=True), name
        assert got.equals(want), name
        # a frame read (and so perhaps changed in place) is converted again: the same table
        again = res.arrow(name)
        assert again.equals(want) and again.schema.equals(want.schema, check_metadata=True), name
    res.tables["families"]["region"] = "somewhere"  # a change in place is written
    assert set(res.arrow("families").column("region").to_pylist()) == {"somewhere"}
    res.tables["cases"] = res.tables["cases"].head(2)  # and a frame put in place of a table
    assert res.arrow("cases").num_rows == 2 and "cases" in repr(res)
    from evalkit.clean import CleanResult
    head = res.tables["children"].head(3)
    edited = CleanResult(tables={**res.tables, "children": head}, log=res.log, quarantine=res.quarantine,
                         conservation=res.conservation, sources=[], key_id="")
    assert edited.arrow("children").equals(pa.Table.from_pandas(head, preserve_index=False))
    no_text = pd.CategoricalDtype(pd.Index([], dtype=object))
    empty = pd.DataFrame({"a": pd.Series([], dtype=object), "x": pd.Series([], dtype=float)})
    cat = pd.Categorical.from_codes(np.zeros(0, dtype=np.int8), dtype=no_text)
    assert _from_codes(empty, {"a": cat}).equals(pa.Table.from_pandas(empty, preserve_index=False))
    nones = pd.DataFrame({"a": np.array([None, None], dtype=object), "x": [1.0, 2.0]})
    cat = pd.Categorical.from_codes(np.array([-1, -1], dtype=np.int8), dtype=no_text)
    got = _from_codes(nones, {"a": cat})
    want = pa.Table.from_pandas(nones, preserve_index=False)
    assert got.equals(want) and got.schema.equals(want.schema, check_metadata=True)


def _from_codes(frame: pd.DataFrame, coded: dict):
    """The Arrow table cleaning makes of a frame whose text columns are the Categoricals in ``coded``."""
    import pyarrow as pa

    schema, arrays = C._coded_arrays(frame, coded)
    return pa.Table.from_arrays([C._decoded(a) for a in arrays], schema=schema)


def test_a_dataset_is_its_sources_cleaned_apart_one_after_the_other(demo_source, cleaned):
    """Each source is cleaned on its own; a table of the dataset is the sources' tables
    (each sorted by its keys) one after the other in the order of the sources' codes,
    as pandas would concatenate them, and so are the log and conservation; the
    quarantine is the sources' quarantines sorted by source, file, sheet and row."""
    import pyarrow as pa

    apart = [clean_sources([demo_source / o], KEY) for o in ORGS]
    assert [r.sources[0]["source"] for r in apart] == sorted(r.sources[0]["source"] for r in apart)
    for name in schemas.TABLES:
        keys = schemas.KEYS.get(name) or list(schemas.empty_table(name).columns)
        for r in apart:  # each source's table is sorted by its keys
            t = r.tables[name]
            assert t.equals(t.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)), name
        want = pd.concat([r.tables[name] for r in apart], ignore_index=True)
        pd.testing.assert_frame_equal(cleaned.tables[name], want)
        arrow = pa.Table.from_pandas(want, preserve_index=False)
        assert cleaned.arrow(name).schema.equals(arrow.schema, check_metadata=True), name
    pd.testing.assert_frame_equal(cleaned.log, pd.concat([r.log for r in apart], ignore_index=True))
    pd.testing.assert_frame_equal(cleaned.conservation, pd.concat([r.conservation for r in apart],
                                                                  ignore_index=True))
    want = pd.concat([r.quarantine for r in apart], ignore_index=True).sort_values(
        ["source", "file", "sheet", "row"], kind="stable", na_position="first").reset_index(drop=True)
    pd.testing.assert_frame_equal(cleaned.quarantine, want)


def test_the_order_sources_are_named_in_changes_no_byte(demo_source, tmp_path):
    a = write_dataset(clean_sources([demo_source / o for o in ORGS], KEY), tmp_path / "a")
    b = write_dataset(clean_sources([demo_source / o for o in reversed(ORGS)], KEY), tmp_path / "b")
    files = sorted(p.name for p in Path(a).resolve().iterdir() if p.suffix in (".parquet", ".csv"))
    assert "children.parquet" in files and "cleaning_log.parquet" in files
    for f in files:
        assert (Path(a) / f).read_bytes() == (Path(b) / f).read_bytes(), f
    ma, mb = read_manifest(a), read_manifest(b)
    assert ma["sources"] == mb["sources"] and ma["conservation"] == mb["conservation"]


def test_reading_in_worker_processes_gives_the_same_result(demo_source, cleaned, monkeypatch, tmp_path):
    import tempfile

    monkeypatch.setattr(C, "PARALLEL_BYTES", 0)  # the demo is small: force the worker processes
    monkeypatch.delenv("EVALKIT_CLEAN_WORKERS", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the workers' files go
    cpu = C.WORKER_CPU[0]
    parallel = clean_sources([demo_source / o for o in ORGS], KEY)
    assert C.WORKER_CPU[0] > cpu  # the tables were read in the workers
    assert not list(tmp_path.glob("evalkit-*"))  # their files are mapped and gone
    for name, df in cleaned.tables.items():
        pd.testing.assert_frame_equal(parallel.tables[name], df)
    for got, want in ((parallel.log, cleaned.log), (parallel.quarantine, cleaned.quarantine),
                      (parallel.conservation, cleaned.conservation)):
        pd.testing.assert_frame_equal(got, want)
    assert (parallel.sources, parallel.ignored_columns) == (cleaned.sources, cleaned.ignored_columns)


def test_workers_do_not_rerun_a_script_without_the_main_guard_nor_import_another_evalkit(demo_source, tmp_path):
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"  # no `if __name__ == "__main__":`, as users write scripts
    script.write_text(
        "import evalkit.clean as C\n"
        "C.PARALLEL_BYTES = 0\n"
        f"r = C.clean_sources([{str(demo_source / 'org_a')!r}, {str(demo_source / 'org_b')!r}], bytes(32))\n"
        "print('cleaned', C.WORKER_CPU[0] > 0, len(r.tables['children']))\n", encoding="utf-8")
    from pathlib import Path

    env = {**__import__("os").environ, "EVALKIT_CLEAN_WORKERS": "2",
           "PYTHONPATH": str(Path(C.__file__).resolve().parents[1])}  # this evalkit, wherever it is
    shadow = tmp_path / "elsewhere" / "evalkit"  # another evalkit in the current folder must not be imported
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("", encoding="utf-8")
    (shadow / "clean.py").write_text("# the wrong evalkit: no workers here\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env,
                          cwd=shadow.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("cleaned")]
    assert len(lines) == 1 and lines[0].startswith("cleaned True"), proc.stdout


def test_workers_keep_freed_memory_and_the_callers_environment_is_left_as_it_was(tmp_path):
    # a fresh process: the forkserver takes the environment of the moment it starts
    script = tmp_path / "env.py"
    script.write_text(
        "import multiprocessing, os\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "import evalkit.clean as C\n"
        "if __name__ == '__main__':\n"
        "    os.environ['MIMALLOC_PURGE_DELAY'] = '25'  # the user's own setting wins\n"
        "    before = dict(os.environ)\n"
        "    with C._worker_environment():\n"
        "        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('forkserver'))\n"
        "        got = [pool.submit(os.getenv, k).result() for k in sorted(C.WORKER_ALLOCATOR_ENV)]\n"
        "    pool.shutdown()\n"
        "    print(dict(os.environ) == before, got)\n",
        encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(C.__file__).resolve().parents[1])}
    for k in C.WORKER_ALLOCATOR_ENV:
        env.pop(k, None)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(C.WORKER_ALLOCATOR_ENV) == ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MIMALLOC_PURGE_DELAY"]
    assert proc.stdout.strip() == f"True {[str(1 << 30), str(1 << 40), '25']}", proc.stdout


def test_quarantine_xlsx_opens_with_a_sheet_per_table(demo_source, tmp_path, cleaned):
    path = write_dataset(cleaned, tmp_path / "x")
    book = pd.read_excel(Path(path) / "quarantine.xlsx", sheet_name=None, engine="calamine")
    assert "Читать" in book
    tables = set(cleaned.quarantine["table"])
    assert tables <= set(book)
    children = book["children"]
    assert {"файл", "лист", "строка", "причины"} <= set(children.columns)
    assert len(children) == (cleaned.quarantine["table"] == "children").sum()
    first = cleaned.quarantine[cleaned.quarantine["table"] == "children"].iloc[0]
    assert children["строка"].iloc[0] == first["row"] and children["причины"].iloc[0] == first["reasons"]
    for column, value in json.loads(first["raw"]).items():  # the raw cells, spelled out as columns
        assert str(children[column].iloc[0]) == value


def test_a_long_quarantine_is_capped_in_the_workbook_and_whole_in_a_csv(demo_source, tmp_path, cleaned, monkeypatch):
    from evalkit import dataset

    monkeypatch.setattr(dataset, "XLSX_MAX_ROWS", 3)
    path = Path(write_dataset(cleaned, tmp_path / "x"))
    book = pd.read_excel(path / "quarantine.xlsx", sheet_name=None, engine="calamine", header=None)
    q = cleaned.quarantine
    for table, n in q["table"].value_counts().items():
        assert len(book[table]) - 1 == min(n, 3), table  # a header and at most 3 rows
    readme = " ".join(book["Читать"][0].astype(str))
    assert "quarantine.csv" in readme and f"{len(q)}" in readme
    assert (path / "quarantine.csv").read_bytes()[:3] == b"\xef\xbb\xbf"  # a byte-order mark: Excel reads Cyrillic
    back = pd.read_csv(path / "quarantine.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    want = q.astype({"row": str}).fillna("")
    pd.testing.assert_frame_equal(back, want, check_dtype=False)


# ----------------------------------------------------------------------------- the fast paths agree with pandas

import hmac  # noqa: E402

import numpy as np  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from evalkit import clean as C  # noqa: E402
from evalkit.pseudonymise import HEX_DIGITS, Pseudonymiser  # noqa: E402


@pytest.mark.parametrize("key", [KEY, bytes(16), bytes(range(64)), bytes(range(100))])
def test_pseudonymiser_is_the_hmac_of_source_and_raw(key):
    raws = ["СР-00017", "17", " ", "a:b", "ё" * 50]
    want = [f"f_{hmac.new(key, f'org_a:{r}'.encode(), 'sha256').hexdigest()[:HEX_DIGITS]}" for r in raws]
    p = Pseudonymiser(key)
    assert p.pseudonyms(raws, "org_a", "f") == want
    assert p.pseudonyms(raws, "org_a", "f") == want  # from the cache
    assert pseudonyms(pd.Series(raws), "org_a", key, "f").tolist() == want


_VALS = st.sampled_from(["b", "a", "ж", "A", None, "aa"])
_DAYS = st.sampled_from([pd.Timestamp("2020-01-02"), pd.Timestamp("2019-05-06"), pd.NaT])


def _frame(rows):
    df = pd.DataFrame(rows, columns=["t", "d", "n", "f", "o"]).astype({"n": "Int64", "f": "float64"})
    df["d"] = pd.to_datetime(df["d"]).astype("datetime64[ns]")
    df["t"] = pd.Categorical(df["t"].to_numpy(dtype=object))  # categories sorted, as cleaning builds them
    return df


_ROWS = st.lists(st.tuples(_VALS, _DAYS, st.sampled_from([1, 2, None]), st.sampled_from([0.5, -1.0, np.nan]),
                           _VALS), max_size=25)


@given(_ROWS)
@settings(max_examples=150, deadline=None)
def test_property_sorted_is_pandas_stable_sort(rows):
    df = _frame(rows)
    keys = ["t", "d", "n", "f", "o"]
    want = df.astype({"t": object}).sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)
    got = C._sorted(df, keys)
    pd.testing.assert_frame_equal(got.astype({"t": object}), want)
    # without the text key: sorted by the keys' ranks in mixed radix (numpy), not by pyarrow
    for keys in (["t", "d", "n", "f"], ["f", "t"], ["d"], ["n", "d"]):
        want = df.astype({"t": object}).sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)
        pd.testing.assert_frame_equal(C._sorted(df, keys).astype({"t": object}), want)


def test_sorted_with_negative_zero_and_booleans():
    df = pd.DataFrame({"f": [0.0, -0.0, 1.0, np.nan, -0.0], "b": pd.array([True, None, False, True, False],
                                                                           dtype="boolean")})
    for keys in (["f"], ["b"], ["b", "f"]):
        want = df.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)
        pd.testing.assert_frame_equal(C._sorted(df, keys), want)


def test_sorted_union_positions():
    arrays = [["f_b", "f_a"], [], ["f_c", "f_a", "ж"], ["f_b"]]
    union, positions = C._sorted_union_positions(arrays)
    assert union.equals(C._sorted_union(arrays)) and list(union) == ["f_a", "f_b", "f_c", "ж"]
    for a, p in zip(arrays, positions):
        assert list(p) == list(union.get_indexer(pd.Index(a, dtype=object)))
    empty, none = C._sorted_union_positions([[], []])
    assert len(empty) == 0 and [len(p) for p in none] == [0, 0]


_CELLS = st.one_of(st.none(), st.sampled_from(["b", " a ", "ж", "", "17", "1.5"]), st.integers(-3, 3),
                   st.floats(allow_nan=True, allow_infinity=False, width=32), st.booleans(),
                   st.sampled_from([pd.Timestamp("2020-01-02"), pd.Timestamp("2019-05-06 13:45"), pd.NaT]))


@given(st.lists(st.tuples(st.one_of(st.none(), st.text(max_size=6)), st.one_of(st.none(), st.integers(-5, 5)),
                          st.one_of(st.none(), st.sampled_from(['"', "\\", "\n", "ж", "\x01", "a b"]))), max_size=8))
@settings(max_examples=150, deadline=None)
def test_property_raw_cells_json_is_json_dumps_of_the_present_cells(rows):
    """The quarantine's raw cells (built column by column) are ``json.dumps`` of each row's
    present cells, as it always was; quotes, backslashes, control characters included."""
    block = pd.DataFrame(rows, columns=["№ семьи", 'a"b', "c"]).astype(object)
    want = [json.dumps({c: C._text(v) for c, v in zip(block.columns, r) if C._text(v) is not None},
                       ensure_ascii=False) for r in block.itertuples(index=False, name=None)]
    assert C._raw_json(block) == want
    assert C._raw_json(block[[]]) == ["{}"] * len(block)


@given(st.lists(_CELLS, max_size=15), st.sampled_from(["object", "category", "string", "datetime", "float", "Int64"]))
@settings(max_examples=200, deadline=None)
def test_property_arrow_texts_are_the_texts_of_the_log(cells, kind):
    """The log's texts made by Arrow are ``_texts`` (what the log always held), for every
    kind of column a normaliser returns or a reader gives."""
    import pyarrow as pa

    if kind == "string":
        values = pd.Series([c if c is None else str(c) for c in cells], dtype="string[pyarrow]")
    elif kind == "category":
        values = pd.Series([c if c is None else str(c) for c in cells], dtype="category")
    elif kind == "datetime":
        values = pd.Series([c if isinstance(c, pd.Timestamp) else pd.NaT for c in cells], dtype="datetime64[ns]")
    elif kind == "float":
        values = pd.Series([float(c) if isinstance(c, (int, float)) and not isinstance(c, bool) else None
                            for c in cells], dtype="float64")
    elif kind == "Int64":
        values = pd.Series([c if isinstance(c, int) and not isinstance(c, bool) else None for c in cells],
                           dtype="Int64")
    else:
        values = pd.Series(cells, dtype=object)
    want = pa.array(C._texts(values), type=pa.string())
    assert C._arrow_texts(values).equals(want)


@given(_ROWS)
@settings(max_examples=150, deadline=None)
def test_property_group_ids_are_pandas_duplicates(rows):
    df = _frame(rows)
    for cols in (["t"], ["t", "d"], ["t", "d", "n", "f", "o"], ["o", "f"]):
        ids = pd.Series(C._group_ids(df, cols))
        want = df.astype({"t": object}).duplicated(cols, keep=False).to_numpy()
        assert (ids.duplicated(keep=False).to_numpy() == want).all(), cols


def test_concat_by_codes_is_pandas_concat():
    dtype = pd.CategoricalDtype(pd.Index(["a", "b", "c"], dtype=object))
    parts = [pd.DataFrame({"t": pd.Categorical.from_codes(c, dtype=dtype), "x": x}, index=i)
             for c, x, i in (([0, -1], [1.0, 2.0], [5, 7]), ([2], [3.0], [5]))]
    for keep in (False, True):
        pd.testing.assert_frame_equal(C._concat(parts, keep_index=keep), pd.concat(parts, ignore_index=not keep))
    reordered = [parts[0], parts[1][["x", "t"]]]  # the same columns in another order: aligned by name
    for keep in (False, True):
        pd.testing.assert_frame_equal(C._concat(reordered, keep_index=keep),
                                      pd.concat(reordered, ignore_index=not keep))


_PART_ROWS = st.lists(st.tuples(st.sampled_from(["k1", "k2", "ж", None]), _VALS, st.sampled_from([1.5, 2.5, None]),
                                st.integers(0, 2)), max_size=12)


@given(st.lists(_PART_ROWS, min_size=1, max_size=4))
@settings(max_examples=150, deadline=None)
def test_property_concatenated_tables_are_what_pyarrow_makes_of_pandas_concat(parts_rows):
    """Sources' tables put together as chunks are pyarrow's table of pandas' concatenation
    of their frames: the same values, schema and pandas metadata, a column with nothing
    in it in some source (Arrow's null type) included."""
    import pyarrow as pa

    frames = [pd.DataFrame(rows, columns=["k", "t", "x", "n"]).astype({"k": object, "t": object, "x": "float64",
                                                                       "n": "int64"}) for rows in parts_rows]
    want = pa.Table.from_pandas(pd.concat(frames, ignore_index=True), preserve_index=False)
    got = C._concatenated([pa.Table.from_pandas(f, preserve_index=False) for f in frames])
    assert got.equals(want)
    assert got.schema.equals(want.schema, check_metadata=True)
    pd.testing.assert_frame_equal(got.to_pandas(), pd.concat(frames, ignore_index=True))


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device that is always full)")
def test_a_full_disk_for_the_workers_files_gives_a_clear_message(demo_source, tmp_path):
    """A worker's tables go to temporary files; a full disk (here a real "no space left"
    from /dev/full) gives a message naming the folder and what to do, not a traceback."""
    from evalkit.errors import UserError
    from evalkit.mapping import load_mapping

    part = C._clean_source(load_mapping(demo_source / "org_a"), KEY)
    folder = tmp_path / "tmp"
    folder.mkdir()
    for name in ("families", "children"):  # (whichever the worker writes first)
        (folder / f"{hashlib.sha256(b'org_a').hexdigest()[:16]}.{name}.arrow").symlink_to("/dev/full")
    with pytest.raises(UserError) as err:
        C._to_files(part, folder)
    assert str(folder) in str(err.value) and "TMPDIR" in str(err.value) and "нет места" in str(err.value)


def test_a_temporary_folder_that_cannot_be_made_gives_a_clear_message(demo_source, tmp_path, monkeypatch):
    import tempfile

    from evalkit.errors import UserError

    monkeypatch.setattr(C, "PARALLEL_BYTES", 0)  # the demo is small: force the worker processes
    monkeypatch.setenv("EVALKIT_CLEAN_WORKERS", "2")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no such folder"))
    with pytest.raises(UserError) as err:
        clean_sources([demo_source / o for o in ORGS], KEY)
    assert "no such folder" in str(err.value) and "TMPDIR" in str(err.value)


def test_a_killed_worker_gives_a_clear_message_and_no_dataset(demo_source, tmp_path, monkeypatch):
    from evalkit.errors import UserError

    monkeypatch.setattr(C, "PARALLEL_BYTES", 0)
    monkeypatch.setenv("EVALKIT_CLEAN_WORKERS", "2")
    monkeypatch.setenv("EVALKIT_FAULT_CLEAN_SOURCE", "org_b")
    with pytest.raises(UserError) as err:
        clean_sources([demo_source / o for o in ORGS], KEY)
    msg = str(err.value)
    assert "out of memory?" in msg and "EVALKIT_CLEAN_WORKERS=1" in msg and "org_b" in msg
    monkeypatch.delenv("EVALKIT_FAULT_CLEAN_SOURCE")
    assert len(clean_sources([demo_source / o for o in ORGS], KEY).tables["children"]) > 0  # workers start again


def _level_per_row(values, spellings):
    """How ``_normalise_field`` read a level column before it worked per distinct value: per row."""
    from evalkit import normalise

    n = normalise.categories(values, spellings)
    digits = n.failed.copy()
    if digits.any():
        failed_values = values[digits].astype(object).astype(str).str.strip()
        digits[digits] = failed_values.str.fullmatch(r"-?\d+(\.0)?").fillna(False).to_numpy(dtype=bool)
    if digits.any():
        i = normalise.integers(values[digits])
        n.clean = n.clean.astype(object)
        n.clean[digits] = i.clean.astype(object).to_numpy()
        n.how = n.how.astype(object)
        n.how[digits] = "number"
        n.failed = n.failed & ~digits
        n.reason[digits] = None
    return n


_LEVELS = st.sampled_from(["1", "2", " 2 ", "угроза", "Угроза", "7", "-3", "3.0", "3.5", "x", "", None, "12345678901234567890",
                           4.0, 2, "0"])


@given(st.lists(_LEVELS, max_size=30), st.booleans())
@settings(max_examples=200, deadline=None)
def test_property_levels_per_distinct_value_are_the_per_row_reading(values, arrow):
    from types import SimpleNamespace

    spellings = {1: ["угроза"], 2: ["2", "риск"], 3: ["норма"]}
    raw = pd.Series(values, dtype=object, index=pd.RangeIndex(2, 2 + len(values)), name="Уровень")
    if arrow:
        raw = raw.map(lambda v: v if v is None else str(v)).astype("string[pyarrow]")
    mapping = SimpleNamespace(values={"level": spellings})
    got, usual = C._normalise_field("level", "score", raw, None, mapping, C._Problems(), "ctx")
    want = _level_per_row(raw, spellings)
    assert usual == {"exact"}
    assert got.clean.dtype == want.clean.dtype
    assert [None if v is pd.NA else v for v in got.clean] == [None if v is pd.NA else v for v in want.clean]
    assert got.how.tolist() == want.how.tolist() and got.reason.tolist() == want.reason.tolist()
    assert (got.failed == want.failed).all()
    if got.distinct is not None:  # what the distinct values say is what the rows say
        codes, how_d, reason_d = got.distinct
        assert np.append(how_d, None)[codes].tolist() == got.how.tolist()
        assert np.append(reason_d, None)[codes].tolist() == got.reason.tolist()
    pd.testing.assert_extension_array_equal(
        pd.array(C._clean_dtype("level", got.clean, None if got.distinct is None else got.distinct[0])),
        pd.array(want.clean.to_numpy(dtype=object), dtype="Int64"))


def test_pseudonymiser_reads_lists_arrays_and_indexes_alike():
    raws = ["СР-00017", "17", "a:b"]
    want = [f"k_{hmac.new(KEY, f'org_b:{r}'.encode(), 'sha256').hexdigest()[:HEX_DIGITS]}" for r in raws]
    for listed in (raws, pd.Index(raws), np.array(raws, dtype=object), pd.Categorical(raws).categories[[1, 0, 2]]):
        p = Pseudonymiser(KEY)
        assert sorted(p.pseudonyms(listed, "org_b", "k")) == sorted(want)
        assert p.pseudonyms(listed, "org_b", "k") == p.pseudonyms(list(listed), "org_b", "k")  # (from the cache)
    numbers = [f"k_{hmac.new(KEY, f'org_b:{r}'.encode(), 'sha256').hexdigest()[:HEX_DIGITS]}" for r in (17, 18)]
    assert Pseudonymiser(KEY).pseudonyms(np.array([17, 18]), "org_b", "k") == numbers
    assert Pseudonymiser(KEY).pseudonyms(pd.Index([17, 18]), "org_b", "k") == numbers


def test_ctrl_c_stops_the_cleaning_workers_with_exit_130(demo_source, tmp_path):
    import signal
    import time

    import psutil

    script = tmp_path / "clean_in_workers.py"  # the demo is small: force the workers
    script.write_text(
        "import sys, time\nimport evalkit.clean as C\nfrom evalkit.cli import main\n"
        "C.PARALLEL_BYTES = 0\n"
        "if __name__ == '__main__':\n"
        "    sys.exit(main(sys.argv[1:]))\n", encoding="utf-8")
    (tmp_path / "tmp").mkdir()
    env = dict(os.environ, EVALKIT_CLEAN_WORKERS="2", EVALKIT_HOME=str(tmp_path), EVALKIT_KEY_FILE=str(tmp_path / "k"),
               TMPDIR=str(tmp_path / "tmp"))
    proc = subprocess.Popen([sys.executable, str(script), "clean", *(str(demo_source / o) for o in ORGS),
                             "--out", str(tmp_path / "ds")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    workers: list = []
    deadline = time.time() + 60
    # interrupted once the forkserver and both workers are up, while the pool may still be in
    # ProcessPoolExecutor.submit (an interrupt there once made the pool's shutdown raise over it).
    # (Before the workers exist, multiprocessing's forkserver can print a worker's failed start.)
    while len(workers) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
        workers = psutil.Process(proc.pid).children(recursive=True)
    assert len(workers) >= 3, "the workers did not start"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "interrupted" in out and "Traceback" not in out
    assert not (tmp_path / "ds").exists()  # nothing written
    assert not list((tmp_path / "tmp").glob("evalkit-*"))  # nor left in the temporary folder
    deadline = time.time() + 15
    while any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)


def test_a_join_that_fails_can_be_asked_for_again_and_loses_nothing(demo_source, cleaned, monkeypatch):
    want = cleaned.tables["children"]
    res = clean_sources([demo_source / o for o in ORGS], KEY)
    concatenated = C._concatenated
    calls = []

    def failing_once(tables):
        calls.append(len(tables))
        if len(calls) == 1:
            raise MemoryError("simulated")
        return concatenated(tables)

    monkeypatch.setattr(C, "_concatenated", failing_once)
    with pytest.raises(MemoryError):
        res.tables["children"]
    pd.testing.assert_frame_equal(res.tables["children"], want)
    assert len(calls) == 2
