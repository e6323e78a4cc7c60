"""``evalkit synth``: write a synthetic source — messy raw exports plus the truth behind them.

Layout of what it writes (``out`` is ``data_raw/demo`` by default)::

    out/<org>/...                 the organisation's raw export (xlsx workbook or CSV set)
    out/_truth/truth.json         configuration and true parameters (tests read it; notebooks never)
    out/_truth/tables/*.parquet   the clean canonical tables the exports were made from
    out/_truth/personal/*.parquet the fake personal data in the exports (for no-PII scans)
    out/_truth/defects.parquet    every injected defect: where, what, expected outcome (+ .csv when small)
    out/_truth/expected_lost.parquet  truth rows a correct cleaning cannot deliver

The same configuration and seed give byte-identical files.

Examples
--------
>>> import tempfile, pathlib
>>> from evalkit.synth import synthesize
>>> from evalkit.synth_model import demo_config
>>> out = pathlib.Path(tempfile.mkdtemp()) / "demo"
>>> summary = synthesize(out, demo_config(families=40), truth_mc_families=2_000)
>>> sorted(p.name for p in out.iterdir())
['_truth', 'org_a', 'org_b']
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit import __version__
from evalkit.errors import UserError
from evalkit.paths import truth_dir
from evalkit.synth_exports import write_exports
from evalkit.synth_model import SynthConfig, simulate
from evalkit.synth_truth import personal_data, true_parameters, truth_tables

__all__ = ["synthesize", "read_truth", "read_truth_tables", "read_defects", "write_reported_example"]

log = logging.getLogger("evalkit")

#: defects.csv (a copy of defects.parquet to open in a spreadsheet) is written up to this size
CSV_COPY_MAX_ROWS = 200_000


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.bool_,)):
        return bool(o)
    raise TypeError(type(o))


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    df.to_parquet(path, index=False, engine="pyarrow", compression="zstd")


def synthesize(out: Path, config: SynthConfig, truth_mc_families: int = 200_000,
               progress=None) -> dict:
    """Generate the population, its truth and its messy exports into ``out``.

    ``out`` is replaced only if it is missing or a previous synthetic source (it holds
    ``_truth/truth.json``): real raw data is never overwritten. Writing happens in a
    sibling temporary folder that is renamed at the end, so an interrupted run leaves the
    previous source intact.
    """
    out = Path(out)
    if out.exists() and not (truth_dir(out) / "truth.json").is_file():
        if any(out.iterdir()):
            raise UserError(f"{out} exists and is not a synthetic source made by `evalkit synth`; "
                            "refusing to overwrite raw data / папка содержит не синтетические данные, "
                            "перезапись запрещена")
    say = progress or (lambda msg: log.info(msg))
    t0 = time.perf_counter()
    tmp = out.with_name(out.name + ".synth-tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        say(f"simulating {config.families:,} families")
        latent = simulate(config)
        say(f"{len(latent.children):,} children; building the truth tables")
        truth = truth_tables(latent)
        personal = personal_data(latent)
        say("writing the raw exports with injected defects")
        defects, lost = write_exports(latent, truth, personal, tmp, config.seed)
        tdir = truth_dir(tmp)
        (tdir / "tables").mkdir(parents=True)
        (tdir / "personal").mkdir()
        for name, df in truth.items():
            _write_parquet(df, tdir / "tables" / f"{name}.parquet")
        for name, df in personal.items():
            _write_parquet(df, tdir / "personal" / f"{name}.parquet")
        _write_parquet(defects, tdir / "defects.parquet")
        _write_parquet(lost, tdir / "expected_lost.parquet")
        if len(defects) <= CSV_COPY_MAX_ROWS:  # a copy to open in a spreadsheet
            defects.to_csv(tdir / "defects.csv", index=False, encoding="utf-8-sig")
        say(f"computing the true parameters on {truth_mc_families:,} Monte Carlo families")
        params = true_parameters(config, truth_mc_families) if truth_mc_families else {}
        doc = {"evalkit_version": __version__, "config": config.to_dict(), "truth": params,
               "rows": {k: int(len(v)) for k, v in truth.items()},
               "defects": defects.groupby(["kind", "expected"]).size().rename("n").reset_index()
               .to_dict(orient="records") if len(defects) else []}
        (tdir / "truth.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1, default=_json_default),
                                         encoding="utf-8")
        (tdir / "README.md").write_text(
            "# _truth\n\nThe generator's truth for this synthetic source. Tests read it; notebooks and "
            "`evalkit clean` never do. See evalkit/synth.py.\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    seconds = time.perf_counter() - t0
    summary = {"out": str(out), "families": int(len(latent.families)), "children": int(len(latent.children)),
               "rows": doc["rows"], "defects": int(len(defects)), "seconds": round(seconds, 2)}
    say(f"done in {seconds:.1f} s: {summary['families']:,} families, {summary['children']:,} children, "
        f"{summary['defects']:,} injected defects")
    return summary


def read_truth(source: Path) -> dict:
    """The truth.json of a synthetic source (for tests and benchmarks, never for notebooks)."""
    path = truth_dir(Path(source)) / "truth.json"
    if not path.is_file():
        raise UserError(f"{source} has no synthetic truth ({path} is missing); run `evalkit synth` first")
    return json.loads(path.read_text(encoding="utf-8"))


def read_truth_tables(source: Path) -> dict[str, pd.DataFrame]:
    """The clean canonical tables a synthetic source was generated from."""
    folder = truth_dir(Path(source)) / "tables"
    return {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}


def read_defects(source: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The injected defects and the truth rows a correct cleaning cannot deliver."""
    folder = truth_dir(Path(source))
    return pd.read_parquet(folder / "defects.parquet"), pd.read_parquet(folder / "expected_lost.parquet")


def write_reported_example(source: Path, path: Path | None = None) -> Path:
    """The demo organisations' "annual report": the figures they printed, with the seeds' kinds of slip.

    Computed from the generator's clean tables (what the organisations' own records say), in the
    format of :func:`evalkit.indicators.reconcile`, then three slips are made, each of a kind the
    seeds contain: a percentage that its own numerator and denominator cannot give (seed 000 printed
    47.5% for 17/36), a numerator one family too high (a count made by hand), and a cost per family
    that is not expenses / families (seed 003 printed 479,202.19 for 5,271,254.08 / 11). The
    ``10_indicators`` study run by ``evalkit demo`` reconciles the cleaned data against this file;
    it is the demo's stand-in for a real report, written beside the raw exports
    (``data_raw/demo/reported.yaml``).
    """
    import yaml

    from evalkit import indicators

    source = Path(source)
    tables = read_truth_tables(source)
    table = indicators.compute(tables)
    s = table.summary[(table.summary["org"] == indicators.ALL_ORGS) & ~table.summary["dq"]
                      & (table.summary["denominator"] > 0)]
    years = sorted(s["year"].unique())
    reported: dict = {"org": indicators.ALL_ORGS, "indicators": {}}
    for ind in ("002-1a", "002-1b", "000-1"):
        rows = s[s["indicator"] == ind].sort_values("year")
        unit = indicators.indicator(ind).unit
        cells = {}
        for i, r in enumerate(rows.itertuples()):
            num = int(r.numerator)
            if ind == "002-1a" and i == len(rows) - 1:
                num += 1                                                    # a count made by hand
            cells[int(r.year)] = indicators.format_count_of(num, int(r.denominator), unit, "ru")
        if ind == "000-1" and len(rows):
            r = rows.iloc[0]
            # a percentage its own numerator and denominator cannot give
            cells[int(r["year"])] = {"numerator": int(r["numerator"]), "denominator": int(r["denominator"]),
                                     "percent": round(float(100 * r["share"]) + 0.3, 1)}
        reported["indicators"][ind] = cells
    costs = indicators.cost_per_result(table, tables["costs"])
    last = costs[(costs["org"] == indicators.ALL_ORGS) & (costs["year"] == years[-1])] if years else costs.iloc[:0]
    if len(last) and last.iloc[0]["families"] > 0:
        c = last.iloc[0]
        reported["costs"] = {"per_family": {int(c["year"]): {
            "value": round(float(c["per_family"]) - 2.73, 2), "expenses": round(float(c["expenses"]), 2),
            "results": int(c["families"])}}}
    path = Path(path) if path else source / "reported.yaml"
    text = ("# The demo organisations' annual report as printed (synthetic), with three deliberate slips;\n"
            "# `evalkit run 10_indicators -p reported=<this file>` reconciles the data against it.\n"
            + yaml.safe_dump(reported, allow_unicode=True, sort_keys=False))
    path.write_text(text, encoding="utf-8")
    return path
