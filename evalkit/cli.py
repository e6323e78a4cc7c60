"""The ``evalkit`` command line.

A user's mistake (a missing file, a bad option, raw data in the way) ends with one readable
message on stderr and exit code 2 — never a traceback. Anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click

from evalkit import __version__, paths
from evalkit.errors import UserError

log = logging.getLogger("evalkit")


def _progress(quiet: bool):
    start = time.perf_counter()

    def say(msg: str) -> None:
        if not quiet:
            click.echo(f"[{time.perf_counter() - start:6.1f} s] {msg}", err=True)
    return say


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="evalkit")
def cli() -> None:
    """evalkit: evaluate programmes that keep children in their birth families.

    \b
    Commands in the order of the data flow:
      synth       make a synthetic source with known truth (the demo)
      check       what cleaning a source would do (nothing written)
      clean       raw exports -> canonical, pseudonymised tables in data_clean/
      dictionary  write the data dictionary of the canonical tables
      calibrate   compare the synthetic population with the seeds' figures
      run         execute a study notebook into reports/<run>/ (HTML, results.json)
      batch       run a plan of studies x parameters on dask (local or a cluster)
      publish     write reports/index.html, the catalogue of every run
      demo        everything the demo needs, end to end

    \b
    Exit codes: 0 done; 1 a study (or a run of a batch) failed while running (the
    partial notebook is kept in reports/_failed/); 2 a mistake in the command or the input.
    """


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder to write (default: data_raw/demo). Replaced only if it is a previous synthetic source.")
@click.option("--families", type=click.IntRange(min=1), default=400, show_default=True,
              help="Number of families; about 2.45 children each (410,000 families ≈ 1 million children).")
@click.option("--orgs", type=click.IntRange(min=1), default=2, show_default=True,
              help="Number of organisations; they alternate the xlsx and CSV export styles.")
@click.option("--seed", type=int, default=2026, show_default=True, help="Random seed; the same seed gives identical files.")
@click.option("--truth-mc", type=click.IntRange(min=0), default=200_000, show_default=True,
              help="Families in the Monte Carlo draw that computes the true parameters (0 to skip).")
@click.option("--quiet", is_flag=True, help="No progress messages.")
def synth(out, families, orgs, seed, truth_mc, quiet):
    """Generate a synthetic population, its messy raw exports and its truth."""
    from evalkit.synth import synthesize
    from evalkit.synth_model import demo_config

    out = out or paths.demo_source()
    summary = synthesize(out, demo_config(families=families, seed=seed, orgs=orgs),
                         truth_mc_families=truth_mc, progress=_progress(quiet))
    click.echo(f"wrote {summary['out']}: {summary['families']:,} families, {summary['children']:,} children, "
               f"{summary['defects']:,} injected defects in {summary['seconds']:.1f} s")


def _report(result) -> None:
    """What a cleaning did, for a person: per table, then the quarantine reasons."""
    s = result.summary
    click.echo("таблица / table            прочитано/read  оставлено/kept  объединено/merged  карантин/quarantined")
    for table, r in s.iterrows():
        click.echo(f"{table:<26} {r['read']:>14,} {r['kept']:>15,} {r['merged']:>18,} {r['quarantined']:>20,}")
    q = result.quarantine
    if len(q):
        from evalkit.quality import reason_kind

        reasons = q["reasons"].str.split("; ").explode().map(reason_kind)
        click.echo(f"\nпричины карантина / quarantine reasons ({len(q):,} rows):")
        for reason, n in reasons.value_counts().head(15).items():
            click.echo(f"  {n:>7,}  {reason}")
    if result.ignored_columns:
        cols = sorted({f"{c['file']}{'/' + c['sheet'] if c['sheet'] else ''}: {c['column']}" for c in result.ignored_columns})
        click.echo("\nне сопоставлены и не прочитаны / columns not mapped (not read): " + "; ".join(cols[:20]))


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--key-file", type=click.Path(path_type=Path), default=None,
              help="Pseudonymisation key (default: ~/.config/evalkit/pseudonymisation.key, created on first use).")
@click.option("--quiet", is_flag=True)
def check(sources, key_file, quiet):
    """What cleaning SOURCES would do: rows kept, merged, quarantined and why. Writes nothing."""
    from evalkit.clean import clean_sources
    from evalkit.pseudonymise import load_key

    result = clean_sources(list(sources), load_key(key_file, create=False) if key_file else bytes(32),
                           progress=_progress(quiet))
    _report(result)


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "dataset", required=True, help="Dataset name (data_clean/<name>) or a folder path.")
@click.option("--key-file", type=click.Path(path_type=Path), default=None,
              help="Pseudonymisation key (default: ~/.config/evalkit/pseudonymisation.key, created on first use).")
@click.option("--quiet", is_flag=True)
def clean(sources, dataset, key_file, quiet):
    """Clean SOURCES (folders with evalkit.yaml) into one dataset of canonical tables."""
    from evalkit.clean import clean_sources
    from evalkit.dataset import write_dataset
    from evalkit.pseudonymise import load_key

    say = _progress(quiet)
    result = clean_sources(list(sources), load_key(key_file), progress=say)
    path = write_dataset(result, dataset, progress=say)
    _report(result)
    click.echo(f"\nwrote {path} (quarantine to fix at the source: {path / 'quarantine.xlsx'})")


@cli.command()
@click.option("--lang", type=click.Choice(["en", "ru"]), default="en", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="File to write (default: print to stdout).")
def dictionary(lang, out):
    """The data dictionary of the canonical tables, generated from the schemas."""
    from evalkit.dictionary import render_dictionary, write_dictionary

    if out:
        click.echo(f"wrote {write_dictionary(out, lang)}")
    else:
        click.echo(render_dictionary(lang))


@cli.command()
@click.option("--families", type=click.IntRange(min=100), default=None, help="Size of the large sample.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="File to write (default: print to stdout).")
def calibrate(families, out):
    """Targets from the seeds vs the generated population (docs/calibration.md)."""
    from evalkit.calibration import DOC_FAMILIES, render_calibration

    text = render_calibration(families or DOC_FAMILIES)
    if out:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")
    else:
        click.echo(text)


def _reports_option(f):
    return click.option("--reports", "reports_dir", type=click.Path(path_type=Path), default=None,
                        help="Reports folder (default: reports/ of the project).")(f)


@cli.command("run")
@click.argument("study")
@click.option("-p", "--parameter", "parameters", multiple=True, metavar="NAME=VALUE",
              help="A notebook parameter, read as YAML: -p min_cell=10 -p 'years=[2019, 2020]'. Repeatable.")
@click.option("--dataset", default="demo", show_default=True, help="Dataset name (data_clean/<name>) or a folder path.")
@click.option("--lang", type=click.Choice(["ru", "en"]), default="ru", show_default=True,
              help="Language of the report.")
@_reports_option
@click.option("--notebooks", "notebooks_dir", type=click.Path(path_type=Path), default=None,
              help="Folder of the study notebooks (default: notebooks/ of the project).")
@click.option("--show-code", is_flag=True, help="Keep the code in the page (hidden by default).")
@click.option("--quiet", is_flag=True, help="No progress messages.")
def run_command(study, parameters, dataset, lang, reports_dir, notebooks_dir, show_code, quiet):
    """Run the STUDY notebook (such as 00_data_quality) and render its page into reports/<run>/.

    \b
    A failing study exits with code 1; its partial notebook and error.txt are kept in
    reports/_failed/<run>/ and nothing is published. Run `evalkit publish` afterwards to
    update reports/index.html.
    """
    from evalkit import report

    folder = report.run_study(study, dataset=dataset, lang=lang, parameters=report.parse_parameters(parameters),
                              reports_dir=reports_dir, notebooks_dir=notebooks_dir, show_code=show_code,
                              progress=_progress(quiet))
    click.echo(f"wrote {folder / (report.study_path(study, notebooks_dir).stem + '.html')}")


@cli.command("batch")
@click.argument("plan", type=click.Path(path_type=Path))
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="A running dask scheduler whose workers share the project folder "
                   "(default: a local cluster sized to this machine).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Workers of the local cluster: runs at a time (default: the cores, at most 4).")
@click.option("--force", is_flag=True, help="Run even the runs whose inputs and parameters are unchanged.")
@_reports_option
@click.option("--dry-run", is_flag=True, help="List the runs and which would be skipped; run nothing.")
@click.option("--quiet", is_flag=True, help="No progress messages.")
def batch_command(plan, scheduler, workers, force, reports_dir, dry_run, quiet):
    """Run the studies × parameters of PLAN (a YAML file) on dask, then publish the catalogue.

    \b
    Each run is an `evalkit run` (papermill + the page) in a dask worker. A run whose
    reports/<run>/run.json records the same fingerprint (notebook, dataset, parameters,
    language, evalkit version) is skipped unless --force. A failing run does not stop the
    others: every failure is printed at the end and the exit code is 1. A mistake in the
    plan exits with 2 before any cluster starts. Plan format: docs/reports.md.
    """
    from evalkit import batch, report

    if scheduler and workers:
        raise UserError("--workers sizes the local cluster; a cluster given by --scheduler has its own workers")
    spec = batch.read_plan(plan)
    runs = batch.expand(spec)
    if dry_run:
        reports = reports_dir or paths.reports()
        current = {r.name for r in runs if not force and batch.is_current(r, reports)}
        for r in runs:
            what = "skip (unchanged)" if r.name in current else "run"
            click.echo(f"{what:<17} {r.label:<48} -> {report._shown(Path(reports) / r.name)}")
        click.echo(f"{len(runs)} runs: {len(runs) - len(current)} to run, {len(current)} unchanged (skipped)")
        return
    result = batch.run_batch(spec, scheduler=scheduler, workers=workers, force=force, reports_dir=reports_dir,
                             progress=_progress(quiet))
    for row in result.failures:
        click.echo(f"evalkit: run {row['run']} failed / запуск не выполнен:\n  {row['error'].strip()}", err=True)
    click.echo(f"batch: {result.count('ran')} ran, {result.count('skipped')} unchanged (skipped), "
               f"{result.count('failed')} failed in {result.seconds:.1f} s; wrote {report._shown(result.index)}")
    if result.failures:
        raise batch.BatchFailed(f"{len(result.failures)} of {len(result.rows)} runs failed / запусков не выполнено: "
                                + ", ".join(r["run"] for r in result.failures)
                                + "; partial notebooks in reports/_failed/ (error.txt beside each)")


@cli.command()
@_reports_option
@click.option("--lang", type=click.Choice(["ru", "en"]), default="ru", show_default=True,
              help="Language of the catalogue page.")
def publish(reports_dir, lang):
    """Write reports/index.html: every successful run with its date, parameters and headline numbers."""
    from evalkit import report

    index = report.publish(reports_dir, lang=lang)
    click.echo(f"wrote {index} ({len(report.read_runs(index.parent))} runs)")


@cli.command()
@click.option("--families", type=click.IntRange(min=1), default=400, show_default=True)
@click.option("--seed", type=int, default=2026, show_default=True)
@_reports_option
@click.option("--quiet", is_flag=True)
def demo(families, seed, reports_dir, quiet):
    """The whole demo: synthesise the raw exports, clean them into data_clean/demo, run every
    study in Russian and English, publish reports/index.html."""
    from evalkit import report
    from evalkit.synth import synthesize, write_reported_example
    from evalkit.synth_model import demo_config

    from evalkit.clean import clean_sources
    from evalkit.dataset import write_dataset
    from evalkit.pseudonymise import load_key

    say = _progress(quiet)
    say("step 1/4: evalkit synth → data_raw/demo")
    src = paths.demo_source()
    summary = synthesize(src, demo_config(families=families, seed=seed), progress=say)
    say("step 2/4: evalkit clean data_raw/demo/org_a data_raw/demo/org_b --out demo")
    orgs = sorted(p for p in src.iterdir() if (p / "evalkit.yaml").is_file())
    result = clean_sources(orgs, load_key(), progress=say)
    path = write_dataset(result, "demo", progress=say)
    _report(result)
    names = report.studies()
    say(f"step 3/4: evalkit run, {len(names)} studies ({', '.join(names)}) in {' and '.join(report.LANGS)}")
    # the organisations' printed figures (synthetic, with the seeds' kinds of slip) for 10_indicators to reconcile
    reported = write_reported_example(src)
    from evalkit.batch import default_workers

    _, failed = report.run_all("demo", reports_dir=reports_dir, progress=say, workers=min(default_workers(), 2),
                               parameters={"10_indicators": {"reported": str(reported)}})
    for exc in failed:
        click.echo(f"evalkit: {exc}", err=True)
    say("step 4/4: evalkit publish")
    index = report.publish(reports_dir)
    click.echo(f"demo ready: {summary['out']} ({summary['families']:,} families, {summary['children']:,} children) "
               f"→ {path} → {index}")
    if failed:
        raise report.StudyFailed(", ".join(sorted({exc.study for exc in failed}))) from None


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the CLI and turns a user's mistake into exit code 2 with one message."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        cli.main(args=argv, prog_name="evalkit", standalone_mode=False)
    except UserError as exc:
        click.echo(f"evalkit: error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("evalkit: interrupted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2
    except KeyboardInterrupt:
        click.echo("evalkit: interrupted", err=True)
        return 130
    return 0


def run() -> None:
    """Console-script entry point (``evalkit``)."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
