"""The project's house rules: two-command setup, dependencies in step, generated data ignored."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _req(spec: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_req(s) for s in pyproject["dependencies"]}
    for extra in pyproject["optional-dependencies"].values():
        wanted |= {_req(s) for s in extra}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = {_req(s) for s in env["dependencies"] if isinstance(s, str)} - {("pip", "")}
    python = [s for s in env["dependencies"] if isinstance(s, str) and _req(s)[0] == "python"]
    listed = {r for r in listed if r[0] != "python"}
    assert listed == wanted
    assert python == [f"python{pyproject['requires-python']}"]


def test_makefile_has_the_two_commands_and_creates_the_environment():
    make = subprocess.run(["make", "-n", "-B", "test", "demo"], cwd=ROOT, capture_output=True, text=True)
    assert make.returncode == 0, make.stderr
    out = make.stdout
    assert "-m venv" in out and "pip install" in out
    assert "pytest" in out and "evalkit demo" in out


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head = readme[:1500]
    assert "make demo" in head and "make test" in head
    assert "Быстрый старт" in readme


@pytest.mark.parametrize("path", ["data_clean/some_dataset/families.parquet", "data_clean/demo", "reports/x/study.html",
                                  "data_raw/demo/org_a/export.xlsx", "data_raw/real_org/export.csv"])
def test_generated_and_raw_data_are_git_ignored(path):
    proc = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
    assert proc.returncode == 0, f"{path} is not ignored"


def test_notebooks_are_committed_without_outputs():
    import json
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in cells if c["cell_type"] == "code"), nb


def test_nothing_tracked_in_git_looks_like_personal_data():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    phone = re.compile(r"\+7[ (-]?\d{3}[) -]?\d{3}-?\d{2}-?\d{2}")
    for f in files:
        p = ROOT / f
        if p.suffix in {".py", ".md", ".yml", ".yaml", ".toml", ".ipynb", ".csv", ".txt"} and p.is_file():
            assert not phone.search(p.read_text(encoding="utf-8", errors="ignore")), f
