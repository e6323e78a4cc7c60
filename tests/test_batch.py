"""evalkit.batch and `evalkit batch`: plans, their expansion, and real batches on dask.

The batches run on real 2-worker LocalClusters (no mock): one started by ``run_batch`` itself,
one started here and reached by its address as `--scheduler` would. The runs are the demo's
``00_data_quality`` (ru, en) and ``10_indicators`` for each organisation (ru), on the session's
``demo_dataset``, into temporary reports folders.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import nbformat
import psutil
import pytest

from evalkit import batch, report
from evalkit.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _plan(folder: Path, text: str, name: str = "plan.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _dask_processes() -> set[int]:
    """This process's children that are dask workers (or kernels they started)."""
    out = set()
    for child in psutil.Process().children(recursive=True):
        try:
            cmd = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "spawn_main" in cmd or "distributed" in cmd or "ipykernel_launcher" in cmd:
            out.add(child.pid)
    return out


def _small_plan(folder: Path, dataset: Path) -> Path:
    return _plan(folder, f"""\
        dataset: {dataset}
        langs: [ru, en]
        studies:
          00_data_quality:
          10_indicators:
            grid: {{org: [org_a, org_b]}}
            langs: ru
        """)


# -- the plan -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, key, value, words", [
    ("dataset: {ds}\nstudies:\n  99_nothing:\n", "studies.99_nothing", None, "no study"),
    ("dataset: {ds}\nstudies:\n  30_survival:\n    grid: {{origni: [closure]}}\n",
     "studies.30_survival.grid.origni", "origni", "its parameters: org, origin"),
    ("dataset: {ds}\nstudies:\n  30_survival:\n    parameters: {{colour: red}}\n",
     "studies.30_survival.parameters.colour", "colour", "no such parameter"),
    ("dataset: no_such_dataset\nstudies:\n  00_data_quality:\n", "dataset", "no_such_dataset", "no dataset"),
    ("dataset: {ds}\nstudies:\n  10_indicators:\n    grid: {{org: []}}\n",
     "studies.10_indicators.grid.org", [], "expands to no run"),
    ("dataset: {ds}\nstudies:\n  10_indicators:\n    grid: {{org: org_a}}\n",
     "studies.10_indicators.grid.org", "org_a", "a grid lists the values"),
    ("dataset: {ds}\nstudies:\n  10_indicators:\n    grid: {{years: [2022, 2023]}}\n",
     "studies.10_indicators.grid.years", 2022, "takes a list"),
    ("dataset: {ds}\nlangs: [ru, fr]\nstudies:\n  00_data_quality:\n", "langs", "fr", "unknown language"),
    ("dataset: {ds}\nstudies: {{}}\n", "studies", {}, "expected a mapping of studies"),
    ("dataset: {ds}\nstudy:\n  00_data_quality:\n", "study", "study", "unknown key"),
    ("dataset: {ds}\nstudies:\n  00_data_quality:\n    grid: {{lang: [en]}}\n",
     "studies.00_data_quality.grid.lang", "lang", "langs:"),
    ("dataset: {ds}\nstudies:\n  00_data_quality:\n  data_quality:\n", "studies.data_quality", None,
     "the same run twice"),
    ("dataset: {ds}\nstudies:\n  00_data_quality:\n  00_data_quality:\n", "(file)", None, "appears twice"),
])
def test_plan_mistakes_name_the_file_the_key_and_the_value(tmp_path, demo_dataset, text, key, value, words):
    path = _plan(tmp_path, text.format(ds=demo_dataset), name="my_plan.yaml")
    with pytest.raises(batch.PlanError) as info:
        batch.read_plan(path)
    err = info.value
    assert err.key == key and err.value == value
    message = str(err)
    assert "my_plan.yaml" in message and key in message and words in message
    if value is not None:
        assert repr(value) in message


def test_a_plan_mistake_exits_2_before_any_cluster_starts(tmp_path, demo_dataset, capsys):
    path = _plan(tmp_path, f"dataset: {demo_dataset}\nstudies:\n  30_survival:\n    grid: {{origni: [closure]}}\n")
    before = _dask_processes()
    assert main(["batch", str(path), "--reports", str(tmp_path / "reports")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "plan.yaml" in err and "origni" in err and "Traceback" not in err
    assert _dask_processes() == before and not (tmp_path / "reports").exists()
    assert main(["batch", str(tmp_path / "missing.yaml")]) == 2
    assert main(["batch", str(path), "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"]) == 2


def test_a_grid_expands_to_datasets_x_languages_x_its_product(tmp_path, demo_dataset):
    other = tmp_path / "other"
    shutil.copytree(demo_dataset, other)
    path = _plan(tmp_path, f"""\
        dataset: [{demo_dataset}, ./other]         # a relative folder is relative to the plan
        langs: [ru, en]
        studies:
          10_indicators:
            grid: {{org: [all, org_a, org_b], years: [[2022, 2023, 2024]]}}
          30_survival:
            grid: {{origin: [closure, opening]}}
            parameters: {{group: prior_removal}}
          data_quality:
            langs: en
        """)
    plan = batch.read_plan(path)
    runs = batch.expand(plan)
    # 2 datasets × (2 langs × 3 orgs × 1 years + 2 langs × 2 origins + 1 lang) = 2 × 11
    assert len(runs) == 22
    assert sum(r.study == "10_indicators" for r in runs) == 12
    assert sum(r.study == "30_survival" for r in runs) == 8
    assert [r.lang for r in runs if r.study == "00_data_quality"] == ["en", "en"]
    assert len({r.name for r in runs}) == 22
    # the two datasets are byte-identical copies: same inputs, so 11 fingerprints, in 22 run folders
    assert len({r.fingerprint for r in runs}) == 11
    first = runs[0]
    assert first.parameters == {"org": "all", "years": [2022, 2023, 2024]}
    assert first.label == "10_indicators ru demo org=all years=[2022, 2023, 2024]"
    survival = next(r for r in runs if r.study == "30_survival")
    assert survival.parameters == {"group": "prior_removal", "origin": "closure"}
    assert {r.dataset_name for r in runs} == {"demo", "other"}
    assert Path(runs[-1].dataset) == other.absolute()


def test_the_fingerprint_follows_notebook_data_parameters_and_language(tmp_path, demo_dataset):
    nb = ROOT / "notebooks" / "10_indicators.ipynb"
    defaults = report.notebook_parameters(nb)
    sha = batch._file_sha256(nb)
    data = report.dataset_fingerprint(json.loads((demo_dataset / "manifest.json").read_text()))
    base = batch.run_fingerprint(sha, data, {"org": "org_a"}, "ru", defaults)
    assert base == batch.run_fingerprint(sha, data, {"org": "org_a", "min_cell": 5}, "ru", defaults)  # a default
    changed = [batch.run_fingerprint(sha, data, {"org": "org_b"}, "ru", defaults),
               batch.run_fingerprint(sha, data, {"org": "org_a"}, "en", defaults),
               batch.run_fingerprint("0" * 64, data, {"org": "org_a"}, "ru", defaults),
               batch.run_fingerprint(sha, "1" * 64, {"org": "org_a"}, "ru", defaults)]
    assert base not in changed and len(set(changed)) == 4


# -- real batches ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def first_batch(demo_dataset, tmp_path_factory):
    """The small plan run once by run_batch on the 2-worker LocalCluster it starts itself."""
    folder = tmp_path_factory.mktemp("batch")
    plan = _small_plan(folder, demo_dataset)
    before = _dask_processes()
    messages: list[str] = []
    result = batch.run_batch(plan, workers=2, reports_dir=folder / "reports", progress=messages.append)
    return plan, folder / "reports", result, messages, _dask_processes() - before


@pytest.fixture(scope="module")
def cluster():
    """A 2-worker LocalCluster of our own, reached by its address (as --scheduler would)."""
    from distributed import LocalCluster

    before = _dask_processes()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0", silence_logs=50) as c:
        yield c.scheduler_address
    assert _dask_processes() - before == set(), "dask worker processes left behind"


def test_a_batch_runs_every_run_on_a_2_worker_local_cluster_and_publishes_them(first_batch):
    plan, reports, result, messages, left = first_batch
    summary = result.summary
    assert result.ok and list(summary["status"]) == ["ran"] * 4, summary[["run", "status", "error"]]
    assert list(summary["run"]) == ["00_data_quality-ru-demo", "00_data_quality-en-demo",
                                    report.run_name("10_indicators", "ru", "demo", {"org": "org_a"}),
                                    report.run_name("10_indicators", "ru", "demo", {"org": "org_b"})]
    assert summary["worker"].nunique() == 2  # both workers took runs
    assert (summary["seconds"] > 0).all()
    for run, row in zip(batch.expand(batch.read_plan(plan)), result.rows):
        info = json.loads((reports / run.name / "run.json").read_text())
        assert info["fingerprint"] == run.fingerprint and (reports / run.name / info["html"]).is_file()
        assert row["folder"] == str(reports / run.name)
    catalogue = json.loads((reports / "catalogue.json").read_text())
    assert sorted(r["run"] for r in catalogue["runs"]) == sorted(summary["run"])
    assert (reports / "index.html").is_file()
    assert sum(bool(re.match(r"\[\d/4\] .*: done in \d+\.\d s$", m)) for m in messages) == 4
    assert left == set(), "dask worker processes left behind"


def test_a_second_batch_skips_every_unchanged_run_without_starting_a_cluster(first_batch):
    plan, reports, _, _, _ = first_batch
    before = {p.name: p.stat().st_mtime_ns for p in reports.glob("*/run.json")}
    messages: list[str] = []
    again = batch.run_batch(plan, reports_dir=reports, progress=messages.append)
    assert list(again.summary["status"]) == ["skipped"] * 4
    assert {p.name: p.stat().st_mtime_ns for p in reports.glob("*/run.json")} == before
    assert not any("cluster" in m for m in messages)
    assert len(json.loads((reports / "catalogue.json").read_text())["runs"]) == 4


def test_force_reruns_them_on_an_existing_cluster_and_the_dry_run_says_what_would_run(
        first_batch, cluster, capsys):
    plan, reports, _, _, _ = first_batch
    assert main(["batch", str(plan), "--reports", str(reports), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("skip (unchanged)") == 4 and "4 runs: 0 to run, 4 unchanged" in out
    started = {p.parent.name: json.loads(p.read_text())["started_utc"] for p in reports.glob("*/run.json")}
    runs = {p.parent.name: p.parent.stat().st_ino for p in reports.glob("*/run.json")}
    result = batch.run_batch(plan, scheduler=cluster, force=True, reports_dir=reports)
    assert list(result.summary["status"]) == ["ran"] * 4
    assert {p.parent.name: p.parent.stat().st_ino for p in reports.glob("*/run.json")}.keys() == runs.keys()
    assert all(runs[name] != (reports / name).stat().st_ino for name in runs)  # new run folders
    assert all(json.loads((reports / n / "run.json").read_text())["started_utc"] >= started[n] for n in started)


def _probe_notebook(folder: Path) -> Path:
    """A tiny study: records its size; size 2 raises."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('dataset = "demo"\nlang = "ru"\nsize = 1')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "from evalkit import report\nreport.record('size', size)\nif size == 2:\n    1 / 0")]
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.metadata["evalkit"] = {"title_ru": "Проба", "title_en": "Probe"}
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "01_probe.ipynb")
    return folder


def test_a_failing_run_does_not_stop_the_others_and_the_cli_reports_it_and_exits_1(
        tmp_path, demo_dataset, cluster, capsys):
    _probe_notebook(tmp_path / "nb")
    plan = _plan(tmp_path, f"""\
        dataset: {demo_dataset}
        notebooks: nb
        studies:
          01_probe:
            grid: {{size: [1, 2, 3]}}
        """)
    reports = tmp_path / "reports"
    code = main(["batch", str(plan), "--scheduler", cluster, "--reports", str(reports)])
    captured = capsys.readouterr()
    assert code == 1
    failed = report.run_name("01_probe", "ru", "demo", {"size": 2})
    assert f"run {failed} failed" in captured.err and "ZeroDivisionError" in captured.err
    assert "1 of 3 runs failed" in captured.err and "Traceback" not in captured.err
    assert "2 ran, 0 unchanged (skipped), 1 failed" in captured.out
    assert (reports / "_failed" / failed / "error.txt").is_file() and not (reports / failed).exists()
    catalogue = json.loads((reports / "catalogue.json").read_text())
    assert sorted(r["results"]["size"]["value"] for r in catalogue["runs"]) == [1, 3]
    # the failed run is not skipped next time; the two good ones are
    result = batch.run_batch(plan, scheduler=cluster, reports_dir=reports)
    assert list(result.summary["status"]) == ["skipped", "failed", "skipped"]
    assert "ZeroDivisionError" in result.failures[0]["error"]



def test_runs_start_longest_first_by_their_previous_seconds_and_new_runs_before_all(tmp_path, demo_dataset):
    plan = _plan(tmp_path, f"""\
        dataset: {demo_dataset}
        studies:
          10_indicators:
            grid: {{org: [all, org_a, org_b]}}
        """)
    runs = batch.expand(batch.read_plan(plan))
    reports = tmp_path / "reports"
    for run, seconds in zip(runs, (1.0, 9.0)):  # the third run has never run
        (reports / run.name).mkdir(parents=True)
        (reports / run.name / "run.json").write_text(json.dumps({"seconds": seconds}), encoding="utf-8")
    assert [batch.previous_seconds(r, reports) for r in runs] == [1.0, 9.0, None]
    messages: list[str] = []
    result = batch.run_batch(plan, workers=1, force=True, reports_dir=reports, progress=messages.append)
    assert result.ok
    done = [m.split("] ", 1)[1].split(":")[0] for m in messages if ": done in " in m]
    assert done == [runs[2].label, runs[1].label, runs[0].label]  # one worker: finished in the order started


def test_ctrl_c_stops_a_batch_with_exit_130_and_leaves_no_kernel(tmp_path, demo_dataset):
    import signal
    import subprocess
    import sys
    import time

    plan = _plan(tmp_path, f"""\
        dataset: {demo_dataset}
        langs: [ru, en]
        studies:
          20_longitudinal:
          40_factors:
        """)
    proc = subprocess.Popen([sys.executable, "-m", "evalkit.cli", "batch", str(plan), "--reports",
                             str(tmp_path / "reports")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    kernels: list = []
    deadline = time.time() + 60
    while not kernels and time.time() < deadline:  # interrupt once two runs are under way
        time.sleep(0.2)
        kernels = [c for c in psutil.Process(proc.pid).children(recursive=True)
                   if "ipykernel_launcher" in " ".join(c.cmdline())]
    assert kernels, "no run started"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "interrupted" in out and "Traceback" not in out
    def alive():
        return [k for k in kernels if k.is_running() and k.status() != psutil.STATUS_ZOMBIE]
    deadline = time.time() + 15  # a kernel whose parent is gone notices within a second or so
    while alive() and time.time() < deadline:
        time.sleep(0.2)
    assert not alive()
