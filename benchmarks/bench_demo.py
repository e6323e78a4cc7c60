"""The demo end to end (`evalkit demo`, what `make demo` runs once the environment exists), and
the wall time and peak memory of each of its steps.

Everything runs in a temporary project (``EVALKIT_HOME``: its own ``data_raw/``,
``data_clean/``, ``reports/``; the project's ``notebooks/`` linked in) with a temporary key, so
the project's own demo is neither read nor touched.

- ``demo end to end``: ``evalkit demo --quiet`` in a fresh process (synth → clean → 5 studies ×
  2 languages → publish) against the floor: the same work without the notebook machinery — the
  synthetic exports, cleaning and writing the dataset in one process, then each study's code
  cells as a plain script (one fresh process per study and language), as
  ``bench_batch._plain_script`` builds them. The ratio is what kernels, pages, the catalogue
  and the demo's reconciliation example cost on top of the analyses.
- ``step: ...``: each step alone in a fresh process, after the previous ones: its wall time,
  the peak memory of its own process (VmHWM) and, for a study, of its kernel (the largest
  child it waited for; Linux counts a child's memory from its fork, so this is only reported
  where the parent is small). No floor: the ratio column is the step's share of the sum of
  the steps.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from bench_batch import _plain_script

ROOT = Path(__file__).resolve().parent.parent

_CHILDREN = """
import json as _json, resource as _resource
with open({path!r}, "w") as _f:
    _json.dump({{"children_peak_mb": _resource.getrusage(_resource.RUSAGE_CHILDREN).ru_maxrss / 1024}}, _f)
"""


def _project(tmp: Path) -> dict:
    """A temporary evalkit project: the environment a measured process runs with."""
    (tmp / "home").mkdir()
    (tmp / "home" / "notebooks").symlink_to(ROOT / "notebooks")
    (tmp / "home" / "pyproject.toml").write_text("", encoding="utf-8")
    return {"EVALKIT_HOME": str(tmp / "home"), "EVALKIT_KEY_FILE": str(tmp / "key")}


def _measured(measure, env: dict, code: str, tmp: Path, name: str) -> dict:
    """``measure(code)`` with ``env`` set, plus the peak memory of the largest child it reaped."""
    probe = tmp / f"children_{name}.json"
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        result = measure(code + "\n" + _CHILDREN.format(path=str(probe)))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    import json

    return {**result, **json.loads(probe.read_text())}


def run(args, measure):
    from evalkit import report

    tmp = Path(tempfile.mkdtemp(prefix="bench_demo_"))
    try:
        env = _project(tmp)
        home = Path(env["EVALKIT_HOME"])
        # (a) the whole demo in one command, against the same work without notebooks
        whole = _measured(measure, env, "from evalkit.cli import main\nassert main(['demo', '--quiet']) == 0",
                          tmp, "demo")
        studies = report.studies(ROOT / "notebooks")
        floor_prep = _measured(measure, env, (
            "from evalkit import paths\nfrom evalkit.clean import clean_sources\n"
            "from evalkit.dataset import write_dataset\nfrom evalkit.pseudonymise import load_key\n"
            "from evalkit.synth import synthesize, write_reported_example\n"
            "from evalkit.synth_model import demo_config\n"
            "src = paths.demo_source()\nsynthesize(src, demo_config())\n"
            "orgs = sorted(p for p in src.iterdir() if (p / 'evalkit.yaml').is_file())\n"
            "write_dataset(clean_sources(orgs, load_key()), 'demo')\nwrite_reported_example(src)\n"), tmp, "prep")
        floor_seconds, scripts = floor_prep["seconds"], []
        reported = str(home / "data_raw" / "demo" / "reported.yaml")
        agg = "import os\nos.environ['MPLBACKEND'] = 'Agg'\n"
        for study in studies:
            defaults = report.notebook_parameters(ROOT / "notebooks" / f"{study}.ipynb")
            for lang in report.LANGS:
                params = {k: v for k, v in (("dataset", "demo"), ("lang", lang)) if k in defaults}
                if study == "10_indicators":
                    params["reported"] = reported
                code = agg + f"import os\nos.chdir({str(ROOT / 'notebooks')!r})\n" + \
                    _plain_script(ROOT / "notebooks" / f"{study}.ipynb", params)
                r = _measured(measure, env, code, tmp, f"script_{study}_{lang}")
                scripts.append(r)
                floor_seconds += r["seconds"]
        yield {"case": "demo end to end (evalkit demo)", "seconds": whole["seconds"],
               "floor_seconds": floor_seconds, "ratio": whole["seconds"] / floor_seconds,
               "peak_rss_mb": whole["peak_rss_mb"], "floor_peak_rss_mb": max([floor_prep["peak_rss_mb"]] + [s["peak_rss_mb"] for s in scripts])}

        # (b) each step alone, in the order `evalkit demo` takes them
        steps = [("synth", "from evalkit.cli import main\nassert main(['synth', '--quiet']) == 0"),
                 ("clean", "from evalkit import paths\nfrom evalkit.cli import main\n"
                           "src = paths.demo_source()\n"
                           "orgs = [str(p) for p in sorted(src.iterdir()) if (p / 'evalkit.yaml').is_file()]\n"
                           "assert main(['clean', *orgs, '--out', 'demo', '--quiet']) == 0")]
        for study in studies:
            for lang in report.LANGS:
                extra = ", '-p', 'reported=" + reported + "'" if study == "10_indicators" else ""
                steps.append((f"run {study} {lang}", "from evalkit.cli import main\n"
                              f"assert main(['run', {study!r}, '--lang', {lang!r}, '--quiet'{extra}]) == 0"))
        steps.append(("publish", "from evalkit.cli import main\nassert main(['publish']) == 0"))
        shutil.rmtree(home / "reports", ignore_errors=True)
        rows = []
        for name, code in steps:
            rows.append((name, _measured(measure, env, code, tmp, name.replace(" ", "_"))))
            if name == "synth":  # what `evalkit demo` writes after cleaning, for 10_indicators (not timed)
                _measured(measure, env, "from evalkit import paths\nfrom evalkit.synth import write_reported_example\n"
                          "write_reported_example(paths.demo_source())", tmp, "reported")
        total = sum(r["seconds"] for _, r in rows)
        for name, r in rows:
            row = {"case": f"step: {name}", "seconds": r["seconds"], "floor_seconds": total,
                   "ratio": r["seconds"] / total, "peak_rss_mb": r["peak_rss_mb"]}
            if name.startswith("run "):  # a run's one child is its kernel
                row["kernel_peak_rss_mb"] = r["children_peak_mb"]
            yield row
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
