"""A cleaned dataset on disk: ``data_clean/<dataset>/``.

::

    data_clean/<dataset>/           a symlink to the current version (swapped atomically)
        families.parquet ... costs.parquet     the eight canonical tables
        cleaning_log.parquet        every value cleaning changed (file, sheet, row, column, raw, clean, rule)
        quarantine.parquet          every raw row that could not be used, with all its reasons
        quarantine.xlsx             the same, one sheet per table, to open and fix the source from
        conservation.parquet        rows read / kept / merged / quarantined per raw sheet
        manifest.json               rows, columns and sha256 per table; source fingerprints;
                                    evalkit version; key id; time of cleaning
    data_clean/.versions/<dataset>@<time>/     the versions the symlink points at

Writing is atomic: a new version is written completely into its own folder and only
then does the ``<dataset>`` link switch to it (``os.replace`` of a symlink is atomic on
POSIX), so a failure or a kill mid-way leaves the previous dataset untouched.

The same inputs and key give byte-identical parquet files (each source's rows sorted by
key, the sources in the order of their codes; no timestamps inside the files); only
``manifest.json`` records the time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit import __version__, paths
from evalkit.errors import UserError

# pandas, pyarrow and the schemas (pandera) are imported where they are used: `evalkit run`
# reads manifests through this module and should not pay a second of imports for it
if TYPE_CHECKING:
    import pandas as pd

__all__ = ["write_dataset", "read_dataset", "read_manifest", "dataset_path", "EXTRA_TABLES"]

EXTRA_TABLES = ("cleaning_log", "quarantine", "conservation")
_FAULT = "EVALKIT_FAULT_AFTER"  # tests only: simulate a kill after writing this table


def dataset_path(dataset: str | Path) -> Path:
    """A dataset name ("demo") lives in data_clean/; anything with a slash is a path."""
    d = str(dataset)
    return Path(d) if ("/" in d or os.sep in d) else paths.data_clean() / d


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


#: rows per table sheet in quarantine.xlsx; beyond it the sheet says so and
#: quarantine.csv (which Excel opens too) holds every row
XLSX_MAX_ROWS = 5_000


#: pseudonym columns: nearly every value distinct, so parquet's dictionary encoding (hashing
#: every value, then falling back to plain pages) is work for nothing (-6% of the writing at
#: 1M, files 0.4% larger)
_PLAIN_COLUMNS = {"family_id", "child_id", "case_id"}


#: columns written without min/max statistics: nothing selects rows by a pseudonym's range
#: (hashes), by the raw or clean text of a log line or by a quarantined row's reasons and
#: cells, and computing them over millions of texts was a sixth of the writing at 1M
_NO_STATISTICS = {"cleaning_log": {"raw_value", "clean_value"}, "quarantine": {"reasons", "raw"}}


def _write_table(table, path: Path, name: str = "") -> None:
    """An Arrow table (``pa.Table.from_pandas(frame, preserve_index=False)`` of a frame) as
    parquet; ``name`` (the table's) picks the columns without statistics."""
    import pyarrow.parquet as pq

    no_stats = _PLAIN_COLUMNS | _NO_STATISTICS.get(name, set())
    pq.write_table(table, path, compression="zstd",
                   write_statistics=[c for c in table.column_names if c not in no_stats],
                   use_dictionary=[c for c in table.column_names if c not in _PLAIN_COLUMNS])


def _quarantine_xlsx(quarantine: pd.DataFrame, folder: Path) -> None:
    """One sheet per table, the raw values spelled out as columns, Russian headers.

    Written by XlsxWriter row by row (``constant_memory``). When a table has more than
    ``XLSX_MAX_ROWS`` quarantined rows, its sheet holds the first ones and says where the
    rest are, and the whole quarantine is also written as ``quarantine.csv`` (UTF-8 with
    a byte-order mark, which Excel needs to read Cyrillic; pyarrow's CSV writer).
    """
    import xlsxwriter

    capped = [t for t, n in quarantine["table"].value_counts().items() if n > XLSX_MAX_ROWS]
    wb = xlsxwriter.Workbook(str(folder / "quarantine.xlsx"), {"constant_memory": True})
    bold = wb.add_format({"bold": True})
    lines = ["Строки выгрузки, которые не удалось использовать, и все причины. Исправьте их в исходном файле "
             "(файл, лист и строка указаны) и запустите evalkit clean снова.",
             "Rows of the export that could not be used, with every reason. Fix them in the source file "
             "(file, sheet and row are given) and run evalkit clean again.",
             f"Всего строк / rows in total: {len(quarantine)}"]
    if capped:
        lines.append(f"В листах {capped} показаны первые {XLSX_MAX_ROWS} строк; все строки — в quarantine.csv / "
                     f"sheets {capped} show the first {XLSX_MAX_ROWS} rows; every row is in quarantine.csv")
    ws = wb.add_worksheet("Читать")
    for i, line in enumerate(lines):
        ws.write_string(i, 0, line)
    for table, g in quarantine.groupby("table", sort=False):
        g = g.head(XLSX_MAX_ROWS)
        raw = [json.loads(r) for r in g["raw"]]
        raw_cols = list(dict.fromkeys(c for r in raw for c in r))
        ws = wb.add_worksheet(table[:31])
        ws.set_column("E:E", 80)
        ws.freeze_panes(1, 0)
        ws.write_row(0, 0, ["источник", "файл", "лист", "строка", "причины", *raw_cols], bold)
        # each cell by its type (write_row's dispatch per cell was a fifth of the work); a
        # missing value is no cell, as write_row leaves it
        text, other = ws.write_string, ws.write
        for i, ((src, file, sheet, row, reasons), cells) in enumerate(zip(
                g[["source", "file", "sheet", "row", "reasons"]].itertuples(index=False, name=None), raw), 1):
            for j, v in enumerate((src, file, sheet, int(row), reasons, *map(cells.get, raw_cols))):
                if type(v) is str:
                    text(i, j, v)
                elif v is not None:
                    other(i, j, v)
    wb.close()
    if capped:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        with open(folder / "quarantine.csv", "wb") as f:
            f.write("\ufeff".encode("utf-8"))
            pcsv.write_csv(pa.Table.from_pandas(quarantine, preserve_index=False), f)


def write_dataset(result, dataset: str | Path, progress=None) -> Path:
    """Write a :class:`~evalkit.clean.CleanResult` as a dataset, atomically; returns its path."""
    from evalkit import schemas

    say = progress or (lambda msg: None)
    link = dataset_path(dataset)
    if link.exists() and not link.is_symlink() and not (link / "manifest.json").is_file():
        if any(link.iterdir()):
            raise UserError(f"{link} exists and is not an evalkit dataset; choose another --out / "
                            "папка существует и не является набором данных evalkit")
    versions = link.parent / ".versions"
    versions.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    target = versions / f"{link.name}@{stamp}-{os.getpid()}"
    staging = versions / f".{target.name}.partial"
    staging.mkdir()
    try:
        manifest = {"dataset": link.name, "evalkit_version": __version__,
                    "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "key_id": result.key_id,
                    "sources": result.sources, "tables": {}, "extra": {},
                    "conservation": result.conservation.to_dict(orient="records"),
                    "ignored_columns": result.ignored_columns}
        # quarantine.xlsx (XlsxWriter, Python) is written in a thread while the parquet files are
        # encoded and compressed, two at a time (pyarrow, C++, without the GIL): both cores work
        from concurrent.futures import ThreadPoolExecutor

        import pyarrow as pa

        def arrow(name: str):
            if hasattr(result, "arrow") and name not in ("quarantine", "conservation"):
                return result.arrow(name)  # a CleanResult holds the Arrow tables (and log) it made
            df = getattr(result, {"cleaning_log": "log"}.get(name, name)) if name in EXTRA_TABLES \
                else result.tables[name]
            return pa.Table.from_pandas(df, preserve_index=False)

        def write(name: str, table) -> dict:
            p = staging / f"{name}.parquet"
            _write_table(table, p, name)
            if name in schemas.TABLES:
                say(f"wrote {name}: {table.num_rows:,} rows")
                if os.environ.get(_FAULT) == name:
                    os._exit(137)  # what a kill -9 does: no cleanup, no exception handlers
            return {"rows": table.num_rows, "columns": table.column_names, "sha256": _sha256(p)}

        names = list(schemas.TABLES) + ["cleaning_log", "quarantine", "conservation"]
        with ThreadPoolExecutor(1) as side, ThreadPoolExecutor(2) as pool:
            workbook = side.submit(_quarantine_xlsx, result.quarantine, staging)
            # the largest first, so that the two threads end together (the manifest keeps the canonical order)
            tables = {name: arrow(name) for name in names}
            largest_first = sorted(names, key=lambda n: -tables[n].nbytes)
            # (popped: each table is held by its job only, and freed once written)
            jobs = {name: pool.submit(write, name, tables.pop(name)) for name in largest_first}
            for name in names:
                written = jobs[name].result()
                if name in schemas.TABLES:
                    manifest["tables"][name] = written
                else:
                    manifest["extra"][name] = {"rows": written["rows"], "sha256": written["sha256"]}
            workbook.result()
        (staging / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        staging.rename(target)
        # switch the link atomically; an old real directory (not a link) is moved aside first
        if link.exists() and not link.is_symlink():
            old = versions / f"{link.name}@legacy-{stamp}"
            link.rename(old)
        tmp_link = link.parent / f".{link.name}.link-{os.getpid()}"
        if tmp_link.is_symlink():
            tmp_link.unlink()
        os.symlink(os.path.relpath(target, link.parent), tmp_link)
        previous = link.resolve() if link.is_symlink() else None
        os.replace(tmp_link, link)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if previous and previous != target.resolve() and previous.parent == versions.resolve():
        shutil.rmtree(previous, ignore_errors=True)
    for stale in versions.glob(f".{link.name}@*.partial"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    return link


def read_manifest(dataset: str | Path) -> dict:
    path = dataset_path(dataset) / "manifest.json"
    if not path.is_file():
        raise UserError(f"нет набора данных / no dataset at {dataset_path(dataset)}; run `evalkit clean` first")
    return json.loads(path.read_text(encoding="utf-8"))


def read_dataset(dataset: str | Path, tables=None) -> dict[str, pd.DataFrame]:
    """The canonical tables (and, if asked, cleaning_log / quarantine / conservation) of a dataset."""
    import pandas as pd

    manifest = read_manifest(dataset)
    folder = dataset_path(dataset)
    names = list(tables) if tables else list(manifest["tables"])  # the canonical tables, as written
    return {n: pd.read_parquet(folder / f"{n}.parquet") for n in names}
