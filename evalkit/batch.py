"""Batches of study runs: a plan names studies and a grid of parameters; every run is an
``evalkit run`` (papermill + the page) scheduled on dask.distributed.

A plan is a YAML file (``evalkit batch plan.yaml``)::

    dataset: demo                 # a name in data_clean/ or a folder; several: a list
    langs: [ru, en]               # default [ru]
    studies:
      10_indicators:
        grid: {org: [all, org_a, org_b], years: [[2022, 2023, 2024]]}
      30_survival:
        grid: {origin: [closure, opening]}
        parameters: {group: prior_removal}
      00_data_quality:            # no grid: one run per dataset and language

Each study expands to datasets × languages × the product of its grid's lists, each run with
the fixed ``parameters`` too (here 3 + 2 + 1 = 6 runs per dataset and language). Every run
has a *fingerprint*: the sha256 of the study notebook's bytes, the dataset's fingerprint
(:func:`evalkit.report.dataset_fingerprint`), the parameters that differ from the notebook's
defaults, the language and evalkit's version. It is written into the run's ``run.json``;
a later batch skips a run whose folder holds the same fingerprint (unless ``force``).

The runs are executed by :func:`evalkit.report.run_study` in dask workers: a
``LocalCluster`` of workers sized to the machine, or the workers of an existing scheduler
(``scheduler="tcp://host:port"``), which must see the project, dataset and reports folders
at the same paths. A failing run does not stop the others; the
catalogue (``reports/index.html``) is published at the end with every successful run.
The local workers are threads of the calling process: every run executes in a kernel process of
its own (papermill), so a worker only waits for its kernel and renders the page, and worker
processes would add interpreters to start without adding isolation the kernels do not already
give (measured in docs/performance.md). Runs are started longest first, by the seconds their
previous run took (runs never run before first), so a long study does not finish alone at the end.

Examples
--------
>>> from evalkit import batch
>>> plan = batch.read_plan("plan.yaml")                     # doctest: +SKIP
>>> [r.label for r in batch.expand(plan)][:2]               # doctest: +SKIP
['10_indicators ru org=all years=[2022, 2023, 2024]', '10_indicators ru org=org_a years=[2022, 2023, 2024]']
>>> result = batch.run_batch(plan, workers=2)               # doctest: +SKIP
>>> result.summary[["run", "status", "seconds"]]            # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import logging
import os
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from evalkit import __version__, paths, report
from evalkit.errors import UserError

__all__ = ["Plan", "PlanStudy", "PlanDataset", "Run", "BatchResult", "PlanError", "BatchFailed", "read_plan",
           "expand", "run_fingerprint", "is_current", "run_batch", "run_one", "default_workers"]

#: the keys a plan may have, and those of one study's entry
PLAN_KEYS = ("dataset", "langs", "notebooks", "timeout", "studies")
STUDY_KEYS = ("grid", "parameters", "langs")
#: local workers at most when --workers is not given (each runs one kernel at a time)
MAX_DEFAULT_WORKERS = 4
log = logging.getLogger("evalkit")


class PlanError(UserError):
    """A mistake in a batch plan: which file, which key, which value (exit code 2)."""

    def __init__(self, plan, key: str, problem: str, value=None):
        self.plan, self.key, self.value = plan, key, value
        shown = f" (value {value!r})" if value is not None else ""
        super().__init__(f"batch plan / план {report._shown(plan)}: {key}: {problem}{shown}")


class BatchFailed(UserError):
    """Some runs of a batch failed (the others ran and were published); exit code 1."""

    exit_code = 1


# -- the plan -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlanDataset:
    """A dataset of the plan: as written, its folder (absolute) and its fingerprint."""

    given: str
    path: Path
    fingerprint: str

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class PlanStudy:
    """One entry of ``studies:``: a study notebook, its grid, its fixed parameters, its languages."""

    study: str
    notebook: Path
    grid: dict
    parameters: dict
    langs: tuple
    defaults: dict
    key: str  # where it is in the plan (``studies.10_indicators`` or ``studies.10_indicators[1]``)


@dataclass(frozen=True)
class Plan:
    """A validated batch plan (:func:`read_plan`)."""

    path: Path
    datasets: tuple
    langs: tuple
    studies: tuple
    notebooks_dir: Path | None = None
    timeout: int | None = None


@dataclass(frozen=True)
class Run:
    """One run of a batch: what :func:`evalkit.report.run_study` is called with, its run folder
    name and the fingerprint of its inputs."""

    study: str
    notebook: str
    dataset: str
    dataset_name: str
    lang: str
    parameters: dict = field(hash=False)
    name: str
    fingerprint: str
    label: str
    notebooks_dir: str


class _PlanLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key written twice is an error (not silently the last)."""


def _mapping_without_duplicates(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} appears twice / ключ повторяется",
                                                        key_node.start_mark)
            seen.add(key)
        except TypeError:  # an unhashable key: the plan's checks name it later
            pass
    return loader.construct_mapping(node, deep)


_PlanLoader.add_constructor("tag:yaml.org,2002:map", _mapping_without_duplicates)


def _plain(value) -> bool:
    """A value papermill can pass: JSON's numbers, text, true/false, null and lists/mappings of them."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _default_value(source: str | None):
    try:
        return report.literal(source) if source is not None else None
    except (ValueError, SyntaxError):
        return None


def _check_value(path, key: str, name: str, value, defaults: dict, in_grid: bool) -> None:
    if not _plain(value):
        raise PlanError(path, key, "a value must be a number, text, true/false, null or a list of them "
                                   "(write dates as text: '2024-01-01')", value)
    if isinstance(_default_value(defaults.get(name)), list) and not isinstance(value, list) and value is not None:
        hint = (f"in a grid each value is itself a list: {name}: [[2022, 2023]]" if in_grid
                else f"write {name}: [2022, 2023]")
        raise PlanError(path, key, f"parameter {name} takes a list (its default is {defaults[name]}); {hint}", value)


def _check_names(path, key: str, study: str, names, defaults: dict) -> None:
    for name in names:
        where = f"{key}.{name}"
        if name == "dataset":
            raise PlanError(path, where, "the dataset is set by the plan's top-level key dataset:", name)
        if name == "lang":
            raise PlanError(path, where, "languages are set by the key langs: (top level or per study)", name)
        if not isinstance(name, str) or name not in defaults:
            raise PlanError(path, where, f"study {study} has no such parameter / нет такого параметра; its parameters: "
                                         f"{', '.join(k for k in defaults if k not in ('dataset', 'lang')) or '(none)'}",
                            name)


def _langs(path, key: str, value) -> tuple:
    langs = [value] if isinstance(value, str) else value
    if not isinstance(langs, list) or not langs:
        raise PlanError(path, key, f"expected a language or a list of them ({', '.join(report.LANGS)})", value)
    for lang in langs:
        if lang not in report.LANGS:
            raise PlanError(path, key, f"unknown language; languages: {', '.join(report.LANGS)}", lang)
    if len(set(langs)) != len(langs):
        raise PlanError(path, key, "a language is listed twice", value)
    return tuple(langs)


def _folder(path: Path, value) -> Path:
    """A folder named in the plan: relative to the plan file's folder."""
    p = Path(str(value)).expanduser()
    return (p if p.is_absolute() else path.parent / p).absolute()


def _dataset(path: Path, key: str, value) -> PlanDataset:
    from evalkit.dataset import read_manifest

    if not isinstance(value, str) or not value.strip():
        raise PlanError(path, key, "expected a dataset name (in data_clean/) or a folder", value)
    folder = _folder(path, value) if ("/" in value or os.sep in value) else paths.data_clean().absolute() / value
    try:
        manifest = read_manifest(folder)
    except UserError:
        raise PlanError(path, key, f"no dataset / нет набора данных at {report._shown(folder)}; "
                                   "run `evalkit clean` first", value) from None
    return PlanDataset(value, folder, report.dataset_fingerprint(manifest))


def _study_entries(path, study_key: str, value) -> list[tuple[str, dict]]:
    if value is None:
        return [(study_key, {})]
    if isinstance(value, dict):
        return [(study_key, value)]
    if isinstance(value, list) and value and all(isinstance(v, dict) or v is None for v in value):
        return [(f"{study_key}[{i}]", v or {}) for i, v in enumerate(value)]
    raise PlanError(path, study_key, "expected a mapping with grid: and parameters: (or nothing, or a list of "
                                     "such mappings)", value)


def read_plan(path: str | Path) -> Plan:
    """Read and check a batch plan; every mistake is a :class:`PlanError` naming the file, the key and the value.

    Checked: the YAML itself (a key written twice too), the top-level keys, every dataset
    (its manifest must exist), the languages, every study (it must be a notebook in
    ``notebooks/`` or the plan's ``notebooks:`` folder), every parameter name of a grid or of
    ``parameters`` against the notebook's ``parameters`` cell
    (:func:`evalkit.report.notebook_parameters`), the values (JSON-like; a list where the
    notebook's default is a list), and that every grid expands to at least one run.
    Relative folders in the plan are relative to the plan file's folder.
    """
    path = Path(path).absolute()
    if not path.is_file():
        raise UserError(f"нет такого плана / no batch plan at {report._shown(path)}")
    try:
        with path.open(encoding="utf-8") as stream:  # the file's name in YAML's messages
            data = yaml.load(stream, Loader=_PlanLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise PlanError(path, "(file)", f"not valid YAML: {' '.join(str(exc).split())}") from None
    except UnicodeDecodeError:
        raise PlanError(path, "(file)", "not a UTF-8 text file") from None
    if not isinstance(data, dict):
        raise PlanError(path, "(file)", "expected a mapping with the keys dataset:, langs: and studies:",
                        type(data).__name__)
    for key in data:
        if key not in PLAN_KEYS:
            raise PlanError(path, str(key), f"unknown key; a plan has {', '.join(PLAN_KEYS)}", key)
    if "dataset" not in data:
        raise PlanError(path, "dataset", "missing: name the dataset (data_clean/<name>) or a dataset folder")
    given = data["dataset"] if isinstance(data["dataset"], list) else [data["dataset"]]
    if not given:
        raise PlanError(path, "dataset", "an empty list: name at least one dataset", [])
    datasets = tuple(_dataset(path, "dataset" if len(given) == 1 else f"dataset[{i}]", d)
                     for i, d in enumerate(given))
    names = [d.name for d in datasets]
    for name in names:
        if names.count(name) > 1:
            raise PlanError(path, "dataset", f"two datasets are named {name}: their runs would write the same "
                                             "run folders (reports/<study>-<lang>-<dataset>)", given)
    langs = _langs(path, "langs", data.get("langs", "ru"))
    notebooks = None
    if data.get("notebooks") is not None:
        notebooks = _folder(path, data["notebooks"])
        if not notebooks.is_dir():
            raise PlanError(path, "notebooks", f"no such folder: {report._shown(notebooks)}", data["notebooks"])
    timeout = data.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1):
        raise PlanError(path, "timeout", "seconds a single cell may run: a whole number, 1 or more", timeout)
    studies = data.get("studies")
    if not isinstance(studies, dict) or not studies:
        raise PlanError(path, "studies", "expected a mapping of studies, e.g. studies: {00_data_quality: }",
                        studies)
    entries = []
    for study_name, value in studies.items():
        study_key = f"studies.{study_name}"
        try:
            nb = report.study_path(str(study_name), notebooks)
        except UserError as exc:
            raise PlanError(path, study_key, str(exc)) from None
        defaults = report.notebook_parameters(nb)
        for key, entry in _study_entries(path, study_key, value):
            for k in entry:
                if k not in STUDY_KEYS:
                    raise PlanError(path, f"{key}.{k}", f"unknown key; a study has {', '.join(STUDY_KEYS)}", k)
            grid, fixed = entry.get("grid") or {}, entry.get("parameters") or {}
            for k, v in (("grid", grid), ("parameters", fixed)):
                if not isinstance(v, dict):
                    raise PlanError(path, f"{key}.{k}", "expected a mapping of parameter names to values", v)
            _check_names(path, f"{key}.grid", nb.stem, grid, defaults)
            _check_names(path, f"{key}.parameters", nb.stem, fixed, defaults)
            for name, values in grid.items():
                where = f"{key}.grid.{name}"
                if name in fixed:
                    raise PlanError(path, where, f"{name} is both in grid: and in parameters:", name)
                if not isinstance(values, list):
                    raise PlanError(path, where, f"a grid lists the values to run: {name}: [{values!r}] "
                                                 "(a single fixed value goes under parameters:)", values)
                if not values:
                    raise PlanError(path, where, "an empty list: the grid expands to no run at all", values)
                seen = []
                for v in values:
                    _check_value(path, where, name, v, defaults, in_grid=True)
                    if v in seen:
                        raise PlanError(path, where, "a value is listed twice (the same run twice)", v)
                    seen.append(v)
            for name, v in fixed.items():
                _check_value(path, f"{key}.parameters.{name}", name, v, defaults, in_grid=False)
            study_langs = _langs(path, f"{key}.langs", entry["langs"]) if "langs" in entry else langs
            entries.append(PlanStudy(nb.stem, nb.absolute(), dict(grid), dict(fixed), study_langs, defaults, key))
    plan = Plan(path, datasets, langs, tuple(entries), notebooks, timeout)
    expand(plan)  # the same run twice (a study listed under two names) is a mistake in the plan
    return plan


# -- the runs -----------------------------------------------------------------------------------

def _file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_fingerprint(notebook_sha256: str, dataset_fingerprint: str, parameters: dict, lang: str,
                    defaults: dict | None = None) -> str:
    """sha256 of a run's inputs: the notebook's bytes (their sha256), the dataset's fingerprint, the
    parameters that differ from the notebook's defaults (as :func:`evalkit.report.run_name` counts
    them), the language and evalkit's version."""
    changed = {k: v for k, v in parameters.items() if not report._is_default(v, (defaults or {}).get(k))}
    payload = {"notebook": notebook_sha256, "dataset": dataset_fingerprint, "parameters": changed,
               "lang": lang, "evalkit": __version__}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _short(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def expand(plan: Plan) -> list[Run]:
    """Every run of a plan, in plan order: per study entry, datasets × languages × the grid's product.

    Raises :class:`PlanError` if the plan expands to nothing or to the same run folder twice.
    """
    runs, seen = [], {}
    shas: dict[Path, str] = {}
    for entry in plan.studies:
        sha = shas.setdefault(entry.notebook, _file_sha256(entry.notebook))
        names = list(entry.grid)
        for ds, lang, combo in itertools.product(plan.datasets, entry.langs,
                                                 itertools.product(*(entry.grid[n] for n in names))):
            grid = dict(zip(names, combo))
            parameters = {**entry.parameters, **grid}
            name = report.run_name(entry.study, lang, ds.path, parameters, entry.defaults)
            label = " ".join([entry.study, lang] + ([ds.name] if len(plan.datasets) > 1 else [])
                             + [f"{k}={_short(v)}" for k, v in grid.items()])
            if name in seen:
                raise PlanError(plan.path, entry.key, f"run {name} ({label}) is also made by {seen[name]}: "
                                                      "the same run twice")
            seen[name] = entry.key
            runs.append(Run(entry.study, str(entry.notebook), str(ds.path), ds.name, lang, parameters, name,
                            run_fingerprint(sha, ds.fingerprint, parameters, lang, entry.defaults), label,
                            str(entry.notebook.parent)))
    if not runs:
        raise PlanError(plan.path, "studies", "the plan expands to no run at all")
    return runs


def is_current(run: Run, reports_dir: str | Path) -> bool:
    """Whether ``reports/<run>/`` holds a successful run of the same inputs (same fingerprint in its run.json)."""
    folder = Path(reports_dir) / run.name
    try:
        info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return info.get("fingerprint") == run.fingerprint and (folder / str(info.get("html", ""))).is_file()


def previous_seconds(run: Run, reports_dir: str | Path) -> float | None:
    """How long the published run of the same name took (its run.json), if there is one."""
    try:
        info = json.loads((Path(reports_dir) / run.name / "run.json").read_text(encoding="utf-8"))
        return float(info["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# -- in a worker ------------------------------------------------------------------------------

def run_one(run: Run, reports_dir: str, home: str, timeout: int | None = None) -> dict:
    """Execute one run (in a dask worker): :func:`evalkit.report.run_study` with the run's fingerprint.

    Never raises for a failing study: the row says ``failed`` and carries the message, so the
    other runs go on. ``home`` becomes ``EVALKIT_HOME`` in the worker, so the project resolves
    as it did where the batch started.
    """
    import platform

    os.environ["EVALKIT_HOME"] = home
    started = time.perf_counter()
    try:
        from distributed import get_worker

        worker = get_worker().address
    except (ImportError, ValueError):  # called outside a worker
        worker = f"{platform.node()}:{os.getpid()}"
    row = {"run": run.name, "status": "ran", "folder": None, "error": None, "worker": worker}
    try:
        folder = report.run_study(run.study, dataset=run.dataset, lang=run.lang, parameters=dict(run.parameters),
                                  reports_dir=reports_dir, notebooks_dir=run.notebooks_dir, timeout=timeout,
                                  fingerprint=run.fingerprint)
        row["folder"] = str(folder)
    except UserError as exc:  # StudyFailed: the partial notebook is in reports/_failed/<run>/
        row.update(status="failed", error=str(exc), folder=str(Path(reports_dir) / "_failed" / run.name))
    except Exception as exc:  # a bug (rendering, I/O): reported with its traceback, the batch goes on
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    row["seconds"] = round(time.perf_counter() - started, 2)
    return row


def _worker_facts(needed: list[str]) -> dict:
    """What a worker sees: evalkit's version and which of the needed paths it lacks. Imports
    papermill and nbconvert too (run_study imports them on first use), so that every run's
    seconds are its own and a worker's environment without them fails here, before any run."""
    import evalkit

    for module in ("papermill", "nbconvert"):
        importlib.import_module(module)
    return {"evalkit": evalkit.__version__, "missing": [p for p in needed if not Path(p).exists()]}


# -- the batch ----------------------------------------------------------------------------------

@dataclass
class BatchResult:
    """What a batch did: one row per run (``summary``), the catalogue it published."""

    rows: list
    index: Path | None
    seconds: float
    where: str = ""

    @property
    def summary(self):
        """One row per run: run, study, lang, dataset, parameters, status (ran / skipped / failed),
        seconds, folder, error, fingerprint, worker."""
        import pandas as pd

        columns = ["run", "study", "lang", "dataset", "parameters", "status", "seconds", "folder", "error",
                   "fingerprint", "worker"]
        return pd.DataFrame([{c: r.get(c) for c in columns} for r in self.rows], columns=columns)

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.rows)

    @property
    def failures(self) -> list[dict]:
        return [r for r in self.rows if r["status"] == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failures


def default_workers() -> int:
    """Local workers when none is asked for: the machine's cores, at most :data:`MAX_DEFAULT_WORKERS`."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


def _connect(scheduler: str | None, workers: int | None, n_runs: int, say):
    """A (client, cluster) pair: a LocalCluster (workers in threads), or a client of an existing scheduler."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="15s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserError(f"cannot reach the dask scheduler / планировщик недоступен at {scheduler}: {exc}") from None
        try:
            client.wait_for_workers(1, timeout=60)
        except TimeoutError:
            client.close()
            raise UserError(f"no dask worker is connected to {scheduler} (waited 60 s); start one with "
                            f"`dask worker {scheduler}`") from None
        say(f"connected to {scheduler}: {len(client.nthreads())} workers")
        return client, None
    n = min(workers or default_workers(), n_runs)
    say(f"starting a local dask cluster: {n} workers")
    # dashboard on a free port (never a fixed 8787 another cluster may hold); workers' logs silenced:
    # what a run did is in its row, and a worker's complaints while the cluster closes are noise
    # threads, not processes: each run's work is in its own kernel process (see the module's docstring)
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=False,
                           dashboard_address=":0", silence_logs=logging.CRITICAL)
    try:
        client = Client(cluster, set_as_default=False)
    except BaseException:
        cluster.close()
        raise
    return client, cluster


def _check_workers(client, needed: list[str]) -> None:
    facts = client.run(_worker_facts, needed)
    for worker, f in facts.items():
        if f["missing"]:
            raise UserError(f"dask worker {worker} does not see {', '.join(f['missing'])}: the workers need the "
                            "project, dataset and reports folders at the same paths (a shared folder)")
        if f["evalkit"] != __version__:
            raise UserError(f"dask worker {worker} runs evalkit {f['evalkit']}, this is {__version__}: "
                            "start the workers from the project's environment")


def _row(spec: Run, **kw) -> dict:
    return {"run": spec.name, "study": spec.study, "lang": spec.lang, "dataset": spec.dataset_name,
            "parameters": dict(spec.parameters), "fingerprint": spec.fingerprint, "seconds": None, "folder": None,
            "error": None, "worker": None, **kw}


def run_batch(plan: Plan | str | Path, *, scheduler: str | None = None, workers: int | None = None,
              force: bool = False, reports_dir: str | Path | None = None, progress=None) -> BatchResult:
    """Run every run of a plan that is not up to date, on dask; publish the catalogue.

    Parameters
    ----------
    plan : Plan or path
        A plan from :func:`read_plan` (a path is read with it).
    scheduler : str, optional
        ``tcp://host:port`` of a running dask scheduler whose workers see this project's
        folders at the same paths; default: a LocalCluster started (and closed) here.
    workers : int, optional
        Workers of the LocalCluster (default :func:`default_workers`; never more
        than the runs to do).
    force : bool
        Run even the runs whose run folder holds the same fingerprint.
    reports_dir : path, optional
        Default ``reports/`` of the project.
    progress : callable, optional
        Called with a message per finished run (``[3/8] 30_survival ru origin=opening: done in 8.1 s``).

    Returns a :class:`BatchResult`; a failed run is a row with its message (the partial
    notebook in ``reports/_failed/<run>/``), never an exception. No cluster is started when
    every run is up to date.
    """
    say = progress or (lambda msg: None)
    if not isinstance(plan, Plan):
        plan = read_plan(plan)
    if scheduler and workers:
        raise UserError("--workers sizes the local cluster; a cluster given by --scheduler has its own workers")
    if workers is not None and workers < 1:
        raise UserError(f"workers must be 1 or more, not {workers}")
    started = time.perf_counter()
    runs = expand(plan)
    reports = (Path(reports_dir) if reports_dir else paths.reports()).absolute()
    reports.mkdir(parents=True, exist_ok=True)
    rows = {run.name: None for run in runs}
    todo = []
    for run in runs:
        if not force and is_current(run, reports):
            rows[run.name] = _row(run, status="skipped", folder=str(reports / run.name))
        else:
            todo.append(run)
    skipped = len(runs) - len(todo)
    say(f"{report._shown(plan.path)}: {len(runs)} runs; {skipped} unchanged since their last run (skipped), "
        f"{len(todo)} to run" if skipped else f"{report._shown(plan.path)}: {len(runs)} runs to run")
    where = ""
    if todo:
        where = _execute(plan, todo, rows, reports, scheduler, workers, say)
    index = report.publish(reports)
    say(f"catalogue: {report._shown(index)}")
    return BatchResult([rows[r.name] for r in runs], index, round(time.perf_counter() - started, 2), where)


def _execute(plan: Plan, todo: list[Run], rows: dict, reports: Path, scheduler, workers, say) -> str:
    home = str(paths.project_root())
    needed = sorted({home, str(reports), *(r.dataset for r in todo), *(r.notebook for r in todo)})
    importlib.import_module("distributed")  # importing it sets its loggers' levels: set ours after that
    dask_log = logging.getLogger("distributed")
    level = dask_log.level
    dask_log.setLevel(logging.ERROR)  # no INFO chatter of the scheduler and nannies in this process
    try:
        return _submit(plan, todo, rows, reports, scheduler, workers, say, home, needed)
    finally:
        dask_log.setLevel(level)


def _submit(plan, todo, rows, reports, scheduler, workers, say, home, needed) -> str:
    from distributed import as_completed

    client, cluster = _connect(scheduler, workers, len(todo), say)
    futures = {}
    try:
        _check_workers(client, needed)
        where = f"{scheduler or 'LocalCluster'} ({len(client.nthreads())} workers)"
        took = {run.name: previous_seconds(run, reports) for run in todo}
        # longest first (never run before: first of all), in submission order and in priority, so
        # an idle worker takes the first one submitted and the scheduler agrees on the rest
        ranked = sorted(todo, key=lambda r: (took[r.name] is not None, -(took[r.name] or 0.0)))
        for rank, run in enumerate(ranked):
            future = client.submit(run_one, run, str(reports), home, plan.timeout, pure=False,
                                   priority=len(ranked) - rank, key=f"evalkit-{run.name}-{uuid.uuid4().hex[:8]}")
            futures[future] = run
        for i, future in enumerate(as_completed(futures, loop=client.loop), 1):
            run = futures[future]
            try:
                row = _row(run, **future.result())
            except Exception as exc:  # the worker died (KilledWorker), the connection broke
                row = _row(run, status="failed", error=f"{type(exc).__name__}: {exc}")
            rows[run.name] = row
            if row["status"] == "ran":
                say(f"[{i}/{len(todo)}] {run.label}: done in {row['seconds']:.1f} s")
            else:
                first = (row["error"] or "").strip().splitlines()
                say(f"[{i}/{len(todo)}] {run.label}: FAILED" + (f" in {row['seconds']:.1f} s" if row["seconds"]
                                                                else "") + (f" — {first[0]}" if first else ""))
        return where
    except BaseException:  # interrupted: nothing more is started
        if futures:
            client.cancel(list(futures), force=True)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
