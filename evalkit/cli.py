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
      dictionary  write the data dictionary of the canonical tables
      calibrate   compare the synthetic population with the seeds' figures
      demo        everything the demo needs, end to end
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


@cli.command()
@click.option("--families", type=click.IntRange(min=1), default=400, show_default=True)
@click.option("--seed", type=int, default=2026, show_default=True)
@click.option("--quiet", is_flag=True)
def demo(families, seed, quiet):
    """The whole demo: synthesise the raw exports (later steps: clean, studies, publish)."""
    from evalkit.synth import synthesize
    from evalkit.synth_model import demo_config

    say = _progress(quiet)
    say("step 1/1: evalkit synth → data_raw/demo")
    summary = synthesize(paths.demo_source(), demo_config(families=families, seed=seed), progress=say)
    click.echo(f"demo ready: {summary['out']} ({summary['families']:,} families, {summary['children']:,} children)")


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
