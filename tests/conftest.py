"""Shared fixtures: a small synthetic source generated once per test session."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from evalkit.synth import synthesize
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
