"""Shared fixtures: a small synthetic source generated once per test session."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pandas as pd
import pytest
from hypothesis import settings

from evalkit.synth import read_truth_tables, synthesize
from evalkit.synth_model import demo_config

# Property tests draw the same examples on every run (no flaky CI); run with
# HYPOTHESIS_PROFILE=explore for fresh random examples while developing.
settings.register_profile("fixed", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))

#: small enough to be quick, large enough that every defect kind appears in both styles
DEMO_FAMILIES = 400


@pytest.fixture(scope="session")
def demo_source(tmp_path_factory):
    """A demo-sized synthetic source (two organisations, both export styles)."""
    out = tmp_path_factory.mktemp("synth") / "demo"
    synthesize(out, demo_config(families=DEMO_FAMILIES, seed=2026), truth_mc_families=5_000)
    return out


@pytest.fixture(scope="session")
def demo_dataset(demo_source, tmp_path_factory):
    """The demo source cleaned (with a fixed key) into a dataset folder named ``demo``."""
    from evalkit.clean import clean_sources
    from evalkit.dataset import write_dataset

    result = clean_sources([demo_source / "org_a", demo_source / "org_b"], bytes(range(32)))
    return write_dataset(result, tmp_path_factory.mktemp("clean") / "demo")


@pytest.fixture(scope="session")
def demo_reports(demo_dataset, tmp_path_factory):
    """Every study in notebooks/ run on the demo dataset in Russian and English, then published.

    Run once per session (the study runs are the slow part); the report, notebook and browser
    tests read it and must not change it. ``failures`` holds the StudyFailed of any study
    that did not run (tests/test_report.py fails on them; the others test what was published).
    """
    from evalkit import report

    reports = tmp_path_factory.mktemp("reports")
    runs, failures = report.run_all(demo_dataset, reports_dir=reports, workers=2)  # two at a time, as evalkit demo
    report.publish(reports)

    def run(study: str, lang: str):
        """The run folder of ``study`` in ``lang`` (failing with the studies' errors when it is missing)."""
        folder = reports / f"{study}-{lang}-demo"
        assert folder.is_dir(), "\n".join(str(f) for f in failures)
        return folder
    return SimpleNamespace(path=reports, runs=runs, failures=failures, run=run)


@pytest.fixture(scope="session")
def demo_personal_data(demo_source) -> set:
    """The demo's personal data, as a leak would spell it: names, phones, addresses, exact birth
    dates (the spellings the exports use). A birth date that is also a legitimate date elsewhere
    in the data (a case opened on someone's birthday) cannot tell a leak, so it is left out."""
    personal = {p.stem: pd.read_parquet(p) for p in (demo_source / "_truth" / "personal").glob("*.parquet")}
    needles = set(personal["families"]["parent_name"]) | set(personal["children"]["child_name"])
    needles |= set(personal["families"]["phone"]) | set(personal["families"]["address"])
    needles |= set(personal["staff"]["staff_name"])
    births = personal["children"]["birth_date"]
    legit = set()
    for df in read_truth_tables(demo_source).values():
        for c in df.columns:
            if str(df[c].dtype).startswith("datetime"):
                legit |= set(df[c].dropna().dt.strftime("%Y-%m-%d"))
    exact = births[~births.dt.strftime("%Y-%m-%d").isin(legit)]
    assert len(exact) > 0.5 * len(births)
    needles |= set(exact.dt.strftime("%d.%m.%Y")) | set(exact.dt.strftime("%Y-%m-%d"))
    return {n for n in needles if isinstance(n, str) and n}
