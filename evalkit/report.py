"""Reports: run a study notebook, render it as one self-contained page, record its headline
numbers, publish the catalogue of every run.

A study is a notebook ``notebooks/NN_name.ipynb`` with a cell tagged ``parameters``,
narrative cells tagged ``lang-ru`` / ``lang-en`` and :func:`record` calls for its headline
numbers. :func:`run_study` (``evalkit run``) executes it with papermill and renders it with
nbconvert; :func:`publish` (``evalkit publish``) writes the catalogue. The layout::

    reports/
        index.html              the catalogue: every successful run (Russian by default)
        catalogue.json          the same, machine-readable
        <run>/                  one successful run, <run> = <study>-<lang>-<dataset>[-<hash of -p>]
            <study>.html        the page: one language, figures embedded, code hidden, provenance
            <study>.ipynb       the executed notebook
            results.json        the headline numbers the notebook recorded (:func:`record`)
            run.json            study, title, language, parameters, dataset fingerprint,
                                versions, start and end times
        _failed/<run>/          the last failure of that run: partial notebook + error.txt
        .staging/               runs in progress

A run is staged in ``.staging/`` and moved to ``reports/<run>/`` only when the notebook ran
and the page rendered, replacing the previous run of that name; a failed run goes to
``_failed/<run>/`` and the published one is left as it was. Nothing here computes a
statistic: the notebook does, the report layer only carries the numbers.

The kernel is always the interpreter evalkit itself runs on (``sys.executable``), from a
kernel spec built in memory: no ``python3`` kernel spec of the user's, no ``JUPYTER_PATH``,
nothing installed anywhere is consulted.

Examples
--------
>>> from evalkit import report
>>> report.record("families", 26, label_ru="Семей", label_en="Families")   # interactively: kept in memory
26
>>> report.run_study("00_data_quality", dataset="demo", lang="en")         # doctest: +SKIP
PosixPath('.../reports/00_data_quality-en-demo')
"""

from __future__ import annotations

import ast
import glob
import hashlib
import html
import json
import logging
import math
import numbers
import os
import platform
import re
import shutil
import sys
import threading
import time
from importlib import metadata
from pathlib import Path
from urllib.parse import quote

from evalkit import __version__, paths
from evalkit.dataset import dataset_path, read_manifest
from evalkit.errors import UserError

__all__ = ["record", "recorded", "read_results", "studies", "study_path", "notebook_parameters",
           "parse_parameters", "run_name", "dataset_fingerprint", "kernel_spec", "run_study", "run_all",
           "render_html", "read_runs", "publish", "versions", "StudyFailed", "LANGS", "RESULTS_ENV"]

#: the environment variable that tells :func:`record` where results.json is (set by run_study)
RESULTS_ENV = "EVALKIT_RESULTS"
LANGS = ("ru", "en")
KERNEL_NAME = "evalkit"
TEMPLATES = Path(__file__).resolve().parent / "templates"
_STUDY = re.compile(r"^\d{2}_\w+$", re.ASCII)
_RESERVED = {"dataset": "--dataset", "lang": "--lang"}
_LIBRARIES = ("numpy", "pandas", "pyarrow", "pandera", "scipy", "statsmodels", "lifelines", "matplotlib",
              "seaborn", "papermill", "nbconvert", "ipykernel")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
log = logging.getLogger("evalkit")


class StudyFailed(UserError):
    """A study notebook raised: which study, which cell, which error, where the partial notebook is.

    Exit code 1 in the CLI (2 is for a user's input mistake caught before anything ran).
    """

    exit_code = 1

    def __init__(self, study: str, *, cell=None, source_line=None, ename="", evalue="", notebook=None,
                 traceback=""):
        self.study, self.cell, self.source_line = study, cell, source_line
        self.ename, self.evalue, self.notebook, self.traceback = ename, evalue, notebook, traceback
        where = f" in cell {cell}" if cell else ""
        code = f": {source_line}" if source_line else ""
        error = f"\n  {ename}: {evalue}" if evalue else f"\n  {ename}" if ename else ""
        kept = (f"\n  partial notebook kept / частично выполненный блокнот: {_shown(notebook)} "
                f"(error.txt beside it); nothing was published") if notebook else ""
        super().__init__(f"study {study} failed / исследование не выполнено{where}{code}{error}{kept}")


# -- record: a study's headline numbers ----------------------------------------------------

_recorded: dict[str, dict[str, dict]] = {}  # results.json path ("" interactively) -> name -> entry


def _scalar(value, what: str):
    """A JSON-safe number, string, bool or None (numpy and pandas scalars converted)."""
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, TypeError):
            raise TypeError(f"record(): {what} must be a single value, not {type(value).__name__}") from None
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    raise TypeError(f"record(): {what} must be a number, a string or a bool, not {type(value).__name__}")


def _write_json(path: Path, data) -> None:
    """Write JSON atomically: a temporary file beside it, then ``os.replace``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, allow_nan=False), encoding="utf-8")
    os.replace(tmp, path)


def record(name: str, value, *, label_ru: str | None = None, label_en: str | None = None,
           ci: tuple | None = None, n: int | None = None, unit: str | None = None):
    """Record one of a study's headline numbers; returns ``value`` (converted to plain Python).

    Under ``evalkit run`` (the ``EVALKIT_RESULTS`` environment variable names the run's
    ``results.json``) each call rewrites that file atomically; run interactively it keeps
    the value in memory only (see :func:`recorded`). Recording a name again replaces it.

    Parameters
    ----------
    name : str
        Identifier of the number (``rows_read``); tests and the catalogue look it up by it.
    value : number, str or bool
        numpy / pandas scalars are converted; NaN and NA become ``None``.
    label_ru, label_en : str, optional
        What the number is, for the catalogue in each language.
    ci : (low, high), optional
        Confidence interval.
    n : int, optional
        The denominator or sample size behind the number.
    unit : str, optional
        ``"%"``, ``"руб."``, ...

    Examples
    --------
    >>> record("share_home_12m", 0.81, label_ru="Дома через 12 мес.", label_en="At home at 12 months",
    ...        ci=(0.66, 0.90), n=32)
    0.81
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"record(): name must be an identifier such as 'rows_read', not {name!r}")
    entry = {"value": _scalar(value, "value")}
    for key, text in (("label_ru", label_ru), ("label_en", label_en), ("unit", unit)):
        if text is not None:
            entry[key] = str(text)
    if ci is not None:
        if isinstance(ci, (str, bytes)) or len(ci) != 2:
            raise ValueError(f"record(): ci must be a (low, high) pair, not {ci!r}")
        entry["ci"] = [_scalar(ci[0], "ci"), _scalar(ci[1], "ci")]
    if n is not None:
        n = _scalar(n, "n")
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"record(): n must be a whole number, not {n!r}")
        entry["n"] = n
    target = os.environ.get(RESULTS_ENV, "")
    store = _recorded.setdefault(target, {})
    store[name] = entry
    if target:
        _write_json(Path(target), store)
    return entry["value"]


def recorded() -> dict[str, dict]:
    """What :func:`record` holds in this process for the current results file (a copy)."""
    return {k: dict(v) for k, v in _recorded.get(os.environ.get(RESULTS_ENV, ""), {}).items()}


def read_results(run_dir: str | Path) -> dict[str, dict]:
    """The headline numbers of a run: ``{name: {"value": ..., "label_ru": ..., ...}}`` ({} if none)."""
    path = Path(run_dir) / "results.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


# -- studies and their parameters ----------------------------------------------------------

def studies(notebooks_dir: str | Path | None = None) -> list[str]:
    """The studies in ``notebooks/``: every ``NN_name.ipynb``, sorted."""
    folder = Path(notebooks_dir) if notebooks_dir else paths.notebooks()
    return sorted(p.stem for p in folder.glob("*.ipynb") if _STUDY.match(p.stem))


def study_path(study: str, notebooks_dir: str | Path | None = None) -> Path:
    """The notebook of a study, by its full name (``00_data_quality``) or without the number."""
    folder = Path(notebooks_dir) if notebooks_dir else paths.notebooks()
    names = studies(folder)
    stem = Path(study).name.removesuffix(".ipynb")
    if stem not in names:
        short = [s for s in names if s.split("_", 1)[1] == stem]
        if len(short) != 1:
            raise UserError(f"нет такого исследования / no study {study!r} in {_shown(folder)}; "
                            f"studies: {', '.join(names) or '(none)'}")
        stem = short[0]
    return folder / f"{stem}.ipynb"


def notebook_parameters(notebook: str | Path) -> dict[str, str]:
    """The names and default values (as source text) of a notebook's ``parameters`` cell."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    cell = next((c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return {}
    from papermill.translators import PythonTranslator

    return {p.name: p.default for p in PythonTranslator.inspect(cell)}


def _yaml_value(raw: str):
    """A ``-p`` value as papermill's CLI reads it: YAML scalars and lists; anything else stays text."""
    import yaml

    if not raw.strip():
        return raw
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
    if isinstance(value, bool) and raw.strip().lower() not in ("true", "false"):
        return raw  # YAML 1.1 reads yes/no/on/off as booleans; a user writing "no" means the text
    if raw.strip() == "None":
        return None
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return raw  # dates and such: papermill passes them as text
    return value


def parse_parameters(pairs) -> dict:
    """``["years=[2019, 2020]", "min_cell=10"]`` → ``{"years": [2019, 2020], "min_cell": 10}``.

    Values are YAML: ints, floats, ``true``/``false``, lists, ``null``; anything else is a string.
    """
    out = {}
    for pair in pairs or ():
        name, sep, raw = str(pair).partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise UserError(f"-p {pair!r}: expected name=value, e.g. -p min_cell=10")
        out[name] = _yaml_value(raw)
    return out


def _check_parameters(study: str, given: dict, allowed: dict) -> None:
    for name in given:
        if name in _RESERVED:
            raise UserError(f"-p {name}=...: use {_RESERVED[name]} instead")
        if name not in allowed:
            raise UserError(f"study {study} has no parameter {name!r} / нет такого параметра; "
                            f"its parameters: {', '.join(allowed) or '(none)'}")


# CPython 3.11 raises "SystemError: AST constructor recursion depth mismatch" when two threads
# build Python AST objects at once (python/cpython#106905); studies run in threads (run_all,
# evalkit batch), so evalkit's own parsing takes turns
_AST_LOCK = threading.Lock()


def parse_python(source: str, mode: str = "exec") -> ast.AST:
    """``ast.parse``, one thread at a time (see ``_AST_LOCK``)."""
    with _AST_LOCK:
        return ast.parse(source, mode=mode)


def literal(source: str):
    """``ast.literal_eval`` of a text, one thread at a time (see ``_AST_LOCK``)."""
    return ast.literal_eval(parse_python(source.lstrip(" \t"), mode="eval"))


def _is_default(value, default_source: str | None) -> bool:
    if default_source is None:
        return False
    try:
        default = literal(default_source)
    except (ValueError, SyntaxError):
        return False
    return type(default) is type(value) and default == value


def run_name(study: str, lang: str, dataset, parameters: dict | None = None,
             defaults: dict | None = None) -> str:
    """``<study>-<lang>-<dataset name>``, plus a short hash of the ``-p`` values that differ
    from the notebook's defaults, so different parameters never overwrite each other's run."""
    ds = re.sub(r"[^\w.-]+", "_", Path(str(dataset)).name) or "dataset"
    name = f"{study}-{lang}-{ds}"
    changed = {k: v for k, v in (parameters or {}).items() if not _is_default(v, (defaults or {}).get(k))}
    if changed:
        digest = hashlib.sha256(json.dumps(changed, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        name += "-" + digest[:8]
    return name


def dataset_fingerprint(manifest: dict) -> str:
    """sha256 over the sha256 of every table in a dataset's manifest (shown shortened to 12)."""
    lines = [f"{section}/{name}:{info['sha256']}" for section in ("tables", "extra")
             for name, info in sorted(manifest.get(section, {}).items())]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def versions() -> dict[str, str]:
    """evalkit, Python and the libraries a study's numbers depend on."""
    out = {"evalkit": __version__, "python": platform.python_version()}
    for lib in _LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            pass
    return out


# -- the kernel ------------------------------------------------------------------------------

def kernel_spec(env: dict | None = None):
    """The kernel evalkit runs studies on: this very interpreter, ``sys.executable``.

    Built in memory and handed to papermill through its kernel manager, so no kernel spec
    on disk — a user's stale ``python3`` spec, one in ``JUPYTER_PATH`` — is ever looked up.
    """
    from jupyter_client.kernelspec import KernelSpec

    env = {"MPLBACKEND": "module://matplotlib_inline.backend_inline",  # figures inline even if the shell says Agg
           "PYDEVD_DISABLE_FILE_VALIDATION": "1", **(env or {})}
    return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                      display_name=f"evalkit (Python {platform.python_version()})", language="python",
                      env=env, resource_dir=str(Path(sys.prefix)), metadata={})


def _kernel_manager_class(env: dict, cwd: Path, log=None):
    """An AsyncKernelManager whose only kernel spec is :func:`kernel_spec` (nbclient owns and stops it).

    The kernel starts in ``cwd`` (this process never changes its own folder, as papermill's
    ``cwd=`` would). ``log``, an open binary file, receives the kernel process's own stdout and
    stderr (its start-up warnings, a crash of a C library), which would otherwise land in the
    terminal.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    spec = kernel_spec(env)

    class _OneSpec(KernelSpecManager):
        def find_kernel_specs(self):
            return {KERNEL_NAME: spec.resource_dir}

        def get_kernel_spec(self, kernel_name):
            if kernel_name != KERNEL_NAME:
                raise NoSuchKernel(kernel_name)
            return spec

    class EvalkitKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self):
            return _OneSpec(parent=self)

        def client(self, **kw):  # remembered, so the channels papermill leaves open can be closed
            kc = super().client(**kw)
            self.evalkit_clients = [*getattr(self, "evalkit_clients", []), kc]
            return kc

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw["cwd"] = str(cwd)
            if log is not None:
                kw.setdefault("stdout", log)
                kw.setdefault("stderr", log)
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    return EvalkitKernelManager


def _is_setting(node: ast.stmt) -> bool:
    """A statement that cannot change what an import does: a docstring, or a plain name set to
    a literal (a parameters cell)."""
    if isinstance(node, ast.Expr):
        return isinstance(node.value, ast.Constant)
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if not all(isinstance(t, ast.Name) for t in targets) or node.value is None:
            return False
        try:
            ast.literal_eval(node.value)
        except (ValueError, TypeError):  # not a literal ({[1]}: a set of a list is not one either)
            return False
        return True
    return False


def notebook_imports(notebook: str | Path) -> list[str]:
    """The modules a notebook imports before it does anything else, in order.

    Code cells are read in order until the first statement that is neither an import nor a
    setting (:func:`_is_setting`) — ``os.environ[...] = ...``, ``sys.path.insert(...)``, any
    call — because from there on an import may depend on what the notebook did (threads set
    for numpy, a folder added to the path), and importing it earlier would change the run.
    ``from a.b import c`` gives ``a.b`` and ``a.b.c`` (``c`` may be a submodule); relative
    imports are left out. A cell that is not plain Python (magics) stops the reading too.

    Examples
    --------
    >>> from evalkit import paths, report
    >>> report.notebook_imports(paths.notebooks() / "00_data_quality.ipynb")
    ['evalkit', 'evalkit.quality', 'evalkit.dataset', 'evalkit.dataset.read_manifest']
    """
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    names: list[str] = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = parse_python("".join(cell.get("source", "")))
        except SyntaxError:
            break
        for node in tree.body:
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0 and node.module:
                    names += [node.module] + [f"{node.module}.{a.name}" for a in node.names if a.name != "*"]
            elif not _is_setting(node):
                return list(dict.fromkeys(names))
    return list(dict.fromkeys(names))


# Run silently in a new kernel before papermill connects: the notebook's imports, which bind no
# name in the notebook's namespace (a notebook that forgets an import still fails) and whose
# failures are left for the notebook's own cell to report.
_WARM_UP = """def _evalkit_warm_up(names):
    import importlib
    for name in names:
        try:
            importlib.import_module(name)
        except BaseException:
            pass
_evalkit_warm_up({names!r})
del _evalkit_warm_up
"""


def _engine():
    """papermill's nbclient engine, saving the notebook once, when it stops, instead of after
    every cell (papermill's ``request_save_on_cell_execute``: about half a second a study).

    papermill itself writes the output notebook when a run ends or a cell raises; when the
    kernel dies, nothing would be written, so this engine writes it then, with the running
    cell marked as the one that failed (``metadata.papermill.exception``).

    ``cell_progress(number, total, first_line)`` is called as each code cell starts (numbered
    as in notebooks/, papermill's injected cell not counted).
    """
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.iorw import write_ipynb

    class EvalkitEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, save_on_failure=None, cell_progress=None,
                                     **kwargs):
            if cell_progress is not None:
                cells = nb_man.nb.cells
                shown = [i for i, c in enumerate(cells)
                         if "injected-parameters" not in c.metadata.get("tags", [])]
                number = {i: k + 1 for k, i in enumerate(shown)}
                total = len(shown)
                cell_start = nb_man.cell_start

                def announce(cell, cell_index=None, **kw):
                    if cell.cell_type == "code" and cell_index in number:
                        first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
                        cell_progress(number[cell_index], total, first[:80])
                    return cell_start(cell, cell_index, **kw)

                nb_man.cell_start = announce
            try:
                return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
            except BaseException:
                if save_on_failure:  # the cell that was running: the last one started
                    started = [c for c in nb_man.nb.cells if c.metadata.get("papermill", {}).get("start_time")]
                    if started and not any(c.metadata.papermill.get("exception") for c in started):
                        started[-1].metadata.papermill.update(exception=True, status=nb_man.FAILED)
                    write_ipynb(nb_man.nb, save_on_failure)
                raise

    papermill_engines.register(ENGINE_NAME, EvalkitEngine)
    return ENGINE_NAME


ENGINE_NAME = "evalkit"


def _execute(notebook: Path, out: Path, parameters: dict, results: Path, timeout: int | None,
             cell_progress=None) -> None:
    """:func:`_execute_here` in an empty context, on an event loop of its own, closed afterwards.

    jupyter_core's ``run_sync`` (which papermill's nbclient uses) keeps "this thread's event loop"
    in a context variable; dask hands its worker threads a copy of the submitting context, so
    two studies running side by side (``evalkit batch``, ``run_all``) would otherwise drive one
    loop from two threads ("This event loop is already running").
    """
    import asyncio
    import contextvars

    def on_own_loop():
        from jupyter_core.utils import ensure_event_loop

        try:
            asyncio.get_running_loop()
            own = None  # called from a running loop (a notebook): jupyter_core runs ours on a thread
        except RuntimeError:
            own = ensure_event_loop()  # a new loop: the context is empty
        try:
            _execute_here(notebook, out, parameters, results, timeout, cell_progress)
        finally:
            if own is not None:
                own.close()
                asyncio.set_event_loop(None)

    contextvars.Context().run(on_own_loop)


def _execute_here(notebook: Path, out: Path, parameters: dict, results: Path, timeout: int | None,
                  cell_progress=None) -> None:
    """papermill on the evalkit kernel, started in the notebook's folder as Jupyter would; the
    kernel's own output goes to ``kernel.log`` beside ``out``.

    The kernel is started here, before papermill and nbconvert are imported, and begins
    importing what the notebook imports (:func:`notebook_imports`) at once: on a machine with
    two cores the kernel's start-up and this process's imports overlap instead of adding up
    (see docs/performance.md). papermill then runs the notebook on that kernel, and the kernel
    is stopped whatever happens.
    """
    from jupyter_client import BlockingKernelClient
    from jupyter_core.utils import run_sync

    # EVALKIT_HOME: a dataset name resolves in the kernel exactly as it did here
    env = {RESULTS_ENV: str(results), "EVALKIT_HOME": str(paths.project_root())}
    with open(out.parent / "kernel.log", "ab") as log:
        km = _kernel_manager_class(env, notebook.parent, log)(kernel_name=KERNEL_NAME)
        run_sync(km.start_kernel)()
        warm = BlockingKernelClient()
        try:
            warm.load_connection_info(km.get_connection_info())
            warm.start_channels()
            warm.execute(_WARM_UP.format(names=notebook_imports(notebook)), silent=True, store_history=False,
                         allow_stdin=False)
            import nbconvert.exporters.html  # noqa: F401  (for render_html, while the kernel imports)
            import papermill as pm

            pm.execute_notebook(str(notebook), str(out), parameters=parameters, kernel_name=KERNEL_NAME,
                                engine_name=_engine(), km=km, save_on_failure=str(out), cell_progress=cell_progress,
                                progress_bar=False,
                                execution_timeout=timeout, request_save_on_cell_execute=False)
        finally:
            # nbclient leaves a kernel it does not own running, and its client's channels open
            for kc in [warm, *getattr(km, "evalkit_clients", [])]:
                kc.stop_channels()
            if km.has_kernel:
                run_sync(km.shutdown_kernel)(now=True)


# -- running a study -------------------------------------------------------------------------

def _shown(path) -> str:
    """A path relative to the current folder when it is below it (shorter in messages)."""
    if path is None:
        return ""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _titles(nb_path: Path) -> dict[str, str]:
    """A study's title per language: ``metadata.evalkit.title_<lang>``, else the first ``#`` heading
    of its ``lang-<lang>`` narrative, else the notebook's name."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    meta = nb.get("metadata", {}).get("evalkit", {})
    titles = {}
    for lang in LANGS:
        heading = next((line[2:].strip() for c in nb.get("cells", []) if c.get("cell_type") == "markdown"
                        and f"lang-{lang}" in c.get("metadata", {}).get("tags", [])
                        for line in "".join(c.get("source", "")).splitlines() if line.startswith("# ")), None)
        titles[lang] = meta.get(f"title_{lang}") or heading or nb_path.stem
    return titles


def _failure(study: str, exc: BaseException, notebook: Path) -> StudyFailed:
    """A :class:`StudyFailed` naming the failing cell (numbered as in notebooks/, injected cells not counted)."""
    from papermill.exceptions import PapermillExecutionError

    cells = []
    if notebook.is_file():
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    cells = [c for c in cells if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])]
    index = getattr(exc, "cell_index", None)
    if index is None:  # not a cell error output (a timeout, a dead kernel): papermill marked the cell
        index = next((i for i, c in enumerate(cells) if c.get("metadata", {}).get("papermill", {}).get("exception")),
                     None)
    cell = line = None
    if index is not None and index < len(cells):
        injected = sum("injected-parameters" in c.get("metadata", {}).get("tags", []) for c in cells[:index])
        cell = index - injected + 1
        source = "".join(cells[index].get("source", ""))
        line = next((s.strip() for s in source.splitlines() if s.strip()), "")[:100] or None
    if isinstance(exc, PapermillExecutionError):
        ename, evalue, tb = exc.ename, _ANSI.sub("", str(exc.evalue))[:500], "\n".join(exc.traceback or [])
    else:
        import traceback

        ename, evalue = type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        tb = "".join(traceback.format_exception(exc))
    return StudyFailed(study, cell=cell, source_line=line, ename=ename, evalue=evalue,
                       notebook=notebook, traceback=_ANSI.sub("", tb))


def _stage(reports: Path, run: str) -> Path:
    staging = reports / ".staging" / f"{run}@{os.getpid()}-{time.time_ns()}"
    staging.mkdir(parents=True)
    return staging


def _keep_failed(reports: Path, run: str, staging: Path, text: str) -> Path:
    """Move a failed run to ``_failed/<run>/`` (replacing an older failure) with its error.txt."""
    dest = reports / "_failed" / run
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(dest)
    (dest / "error.txt").write_text(text, encoding="utf-8")
    return dest


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _promote(reports: Path, run: str, staging: Path) -> Path:
    """Put a finished run in place: the old run is renamed away, the new one renamed in, the old removed."""
    target = reports / run
    old = None
    if target.exists():
        old = staging.parent / f"{run}@old-{os.getpid()}-{time.time_ns()}"
        target.rename(old)
    staging.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(reports / "_failed" / run, ignore_errors=True)  # a success supersedes the last failure
    for stale in (reports / ".staging").glob(f"{glob.escape(run)}@*"):  # left by killed runs
        pid = stale.name.rsplit("@", 1)[1].split("-")[0]
        if not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(stale, ignore_errors=True)
    return target


def _dataset_argument(dataset) -> str:
    """What the notebook's ``dataset`` parameter gets: a name as is, a path made absolute."""
    d = str(dataset)
    return str(dataset_path(d).absolute()) if ("/" in d or os.sep in d) else d


#: a study's cells are announced once it has run this long (a quick run stays two lines)
CELL_PROGRESS_AFTER = 10.0


def _cell_progress(study: str, lang: str, say):
    """``say`` which cell is starting, once the run has taken :data:`CELL_PROGRESS_AFTER` seconds."""
    started = time.perf_counter()

    def cell_progress(number: int, total: int, first_line: str) -> None:
        if time.perf_counter() - started >= CELL_PROGRESS_AFTER:
            say(f"{study} ({lang}): cell {number}/{total}: {first_line}")
    return cell_progress


def run_study(study: str, *, dataset="demo", lang: str = "ru", parameters: dict | None = None,
              reports_dir: str | Path | None = None, notebooks_dir: str | Path | None = None,
              show_code: bool = False, timeout: int | None = None, progress=None,
              fingerprint: str | None = None) -> Path:
    """Execute a study notebook on a dataset and publish its page; returns the run folder.

    Everything the user could have mistyped is checked before a kernel starts (study,
    language, parameter names, dataset) and raises :class:`~evalkit.errors.UserError`. A
    notebook that raises gives :class:`StudyFailed`; its partial notebook is kept in
    ``reports/_failed/<run>/`` and nothing is published.

    Parameters
    ----------
    study : str
        ``00_data_quality`` (or ``data_quality``), a notebook in ``notebooks_dir``.
    dataset : str or Path
        A dataset name in ``data_clean/`` or a dataset folder.
    lang : {"ru", "en"}
        Language of the narrative and labels.
    parameters : dict, optional
        Values for the notebook's other parameters (see :func:`parse_parameters`).
    reports_dir, notebooks_dir : Path, optional
        Default ``reports/`` and ``notebooks/`` of the project.
    show_code : bool
        Keep the code cells in the page.
    timeout : int, optional
        Seconds a single cell may run (default: no limit).
    progress : callable, optional
        Called with a message at each step.
    fingerprint : str, optional
        Recorded as ``fingerprint`` in run.json (``evalkit batch`` passes the run's inputs'
        fingerprint, by which a later batch skips an unchanged run; see :mod:`evalkit.batch`).
    """
    say = progress or (lambda msg: None)
    if lang not in LANGS:
        raise UserError(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")
    nb_path = study_path(study, notebooks_dir)
    study = nb_path.stem
    extra = dict(parameters or {})
    defaults = notebook_parameters(nb_path)
    _check_parameters(study, extra, defaults)
    manifest = read_manifest(dataset)  # no dataset: a UserError before any kernel starts
    params = {k: v for k, v in (("dataset", _dataset_argument(dataset)), ("lang", lang)) if k in defaults}
    params.update(extra)
    run = run_name(study, lang, dataset, extra, defaults)
    reports = Path(reports_dir) if reports_dir else paths.reports()
    data_fingerprint = dataset_fingerprint(manifest)
    info = {"run": run, "study": study, "title": _titles(nb_path), "lang": lang, "parameters": params,
            "defaults": defaults, "show_code": show_code, "html": f"{study}.html", "notebook": f"{study}.ipynb",
            "dataset": {"name": Path(str(dataset)).name, "path": str(dataset_path(dataset).absolute()),
                        "fingerprint": data_fingerprint, "fingerprint_short": data_fingerprint[:12],
                        "created_utc": manifest.get("created_utc"), "evalkit_version": manifest.get("evalkit_version"),
                        "rows": {t: i.get("rows") for t, i in manifest.get("tables", {}).items()}},
            "versions": versions(), "kernel": sys.executable}
    if fingerprint is not None:
        info["fingerprint"] = str(fingerprint)
    staging = _stage(reports, run)
    executed, results = staging / info["notebook"], staging / "results.json"
    started = time.time()
    info["started_utc"] = _iso(started)
    say(f"{study} ({lang}): running on {dataset} → {_shown(reports / run)}")
    try:
        _write_json(results, {})
        _execute(nb_path, executed, params, results, timeout, _cell_progress(study, lang, say))
    except Exception as exc:
        kept = _keep_failed(reports, run, staging, "")
        _write_json(kept / "run.json", {**info, "failed_utc": _iso(time.time())})
        failed = _failure(study, exc, kept / info["notebook"])
        (kept / "error.txt").write_text(f"{failed}\n\n{failed.traceback}\n", encoding="utf-8")
        raise failed from None
    except BaseException:  # interrupted: keep what ran, publish nothing
        _keep_failed(reports, run, staging, "interrupted / прервано\n")
        raise
    try:
        finished = time.time()
        info.update(finished_utc=_iso(finished), seconds=round(finished - started, 1))
        say(f"{study} ({lang}): executed in {finished - started:.1f} s; rendering the page")
        page = render_html(executed, info, lang=lang, show_code=show_code)
        (staging / info["html"]).write_text(page, encoding="utf-8")
        _write_json(staging / "run.json", info)
        (staging / "kernel.log").unlink(missing_ok=True)  # kept only with a failed run
    except BaseException as exc:  # a rendering bug: nothing published, the executed notebook kept
        _keep_failed(reports, run, staging, f"rendering failed: {type(exc).__name__}: {exc}\n")
        raise
    target = _promote(reports, run, staging)
    say(f"{study} ({lang}): wrote {_shown(target / info['html'])}")
    return target


def run_all(dataset="demo", *, langs=LANGS, reports_dir=None, notebooks_dir=None, show_code: bool = False,
            progress=None, parameters: dict | None = None, workers: int = 1) -> tuple[list[Path], list[StudyFailed]]:
    """Every study in ``notebooks/`` in every language; returns the runs made and the failures.

    ``parameters`` maps a study to extra parameters for its runs (``{"10_indicators":
    {"reported": "..."}}``). A failing study does not stop the others (the demo publishes what
    did run). With ``workers`` > 1, that many runs go at once (threads here, each run's work in
    its own kernel process; for plans, grids and clusters see :mod:`evalkit.batch`). The runs
    and failures come back in the order of the studies and languages either way.
    """
    from concurrent.futures import ThreadPoolExecutor

    parameters = parameters or {}
    todo = [(study, lang) for study in studies(notebooks_dir) for lang in langs]

    def one(item):
        study, lang = item
        try:
            return run_study(study, dataset=dataset, lang=lang, reports_dir=reports_dir, notebooks_dir=notebooks_dir,
                             show_code=show_code, progress=progress, parameters=parameters.get(study))
        except StudyFailed as exc:
            return exc

    if workers > 1 and len(todo) > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="evalkit-run") as pool:
            outcomes = list(pool.map(one, todo))
    else:
        outcomes = [one(item) for item in todo]
    return ([o for o in outcomes if not isinstance(o, StudyFailed)],
            [o for o in outcomes if isinstance(o, StudyFailed)])


# -- the page ----------------------------------------------------------------------------------

_WORDS = {
    "ru": {"contents": "Содержание", "provenance": "Как получен этот отчёт", "study": "Исследование",
           "run": "Запуск", "started": "Время запуска", "duration": "Длительность", "seconds": "с",
           "parameters": "Параметры", "parameter": "Параметр", "value": "Значение", "default": "по умолчанию",
           "dataset": "Набор данных", "fingerprint": "Отпечаток данных", "cleaned": "Очищен",
           "evalkit_at_cleaning": "evalkit при очистке", "versions": "Версии", "library": "Библиотека",
           "version": "Версия", "rows": "Строк в таблицах", "catalogue": "Отчёты evalkit",
           "published": "Опубликовано", "runs": "запусков", "lang": "Язык", "date": "Дата",
           "result": "Показатель", "ci": "ДИ", "none_yet": "Запусков пока нет: выполните "
           "<code>evalkit run &lt;исследование&gt;</code> или <code>make demo</code>, затем "
           "<code>evalkit publish</code>.", "no_results": "показатели не записаны", "open": "Открыть отчёт",
           "yes": "да", "no": "нет", "ru": "русский", "en": "английский", "figure": "Рисунок"},
    "en": {"contents": "Contents", "provenance": "How this report was made", "study": "Study",
           "run": "Run", "started": "Run at", "duration": "Duration", "seconds": "s",
           "parameters": "Parameters", "parameter": "Parameter", "value": "Value", "default": "default",
           "dataset": "Dataset", "fingerprint": "Data fingerprint", "cleaned": "Cleaned",
           "evalkit_at_cleaning": "evalkit at cleaning", "versions": "Versions", "library": "Library",
           "version": "Version", "rows": "Rows in the tables", "catalogue": "evalkit reports",
           "published": "Published", "runs": "runs", "lang": "Language", "date": "Date",
           "result": "Result", "ci": "CI", "none_yet": "No runs yet: run <code>evalkit run &lt;study&gt;</code> "
           "or <code>make demo</code>, then <code>evalkit publish</code>.", "no_results": "no numbers recorded",
           "open": "Open the report", "yes": "yes", "no": "no", "ru": "Russian", "en": "English", "figure": "Figure"},
}

_esc = html.escape


def _when(iso: str | None) -> str:
    """``2026-11-22T21:45:07Z`` → ``2026-11-22 21:45 UTC``."""
    return f"{iso[:16].replace('T', ' ')} UTC" if iso else ""


def _rows(pairs) -> str:
    return "".join(f"<tr><th>{_esc(str(k))}</th><td>{v}</td></tr>" for k, v in pairs)


def _provenance_html(info: dict, lang: str) -> str:
    """The provenance block: study, time, parameters, dataset fingerprint, versions."""
    w = _WORDS[lang]
    params = []
    for name, default in info.get("defaults", {}).items():
        if name in info["parameters"]:
            params.append((name, f"<code>{_esc(repr(info['parameters'][name]))}</code>"))
        else:
            params.append((name, f"<code>{_esc(default)}</code> <span class='evalkit-default'>({w['default']})</span>"))
    params += [(k, f"<code>{_esc(repr(v))}</code>") for k, v in info["parameters"].items()
               if k not in info.get("defaults", {})]
    ds = info["dataset"]
    rows = ", ".join(f"{t} {n:,}".replace(",", "\u202f" if lang == "ru" else ",")
                     for t, n in ds.get("rows", {}).items() if n is not None)
    dataset = [(w["dataset"], f"{_esc(ds['name'])}"),
               (w["fingerprint"], f"<code title='sha256 {ds['fingerprint']}'>{ds['fingerprint_short']}</code>"),
               (w["cleaned"], _esc(_when(ds.get("created_utc")))),
               (w["evalkit_at_cleaning"], _esc(str(ds.get("evalkit_version") or "")))]
    if rows:
        dataset.append((w["rows"], _esc(rows)))
    seconds = info.get("seconds")
    run = [(w["study"], f"{_esc(info['title'][lang])} (<code>{_esc(info['study'])}.ipynb</code>)"),
           (w["run"], f"<code>{_esc(info['run'])}</code>"),
           (w["started"], _esc(_when(info.get("started_utc")))),
           (w["duration"], f"{seconds:.1f} {w['seconds']}".replace(".", "," if lang == "ru" else ".")
            if seconds is not None else "")]
    vers = " · ".join(f"{_esc(k)}\u00a0{_esc(v)}" for k, v in info["versions"].items())
    return (f"<section class='evalkit-provenance' id='provenance'>\n<h2 id='provenance-heading'>{w['provenance']}</h2>\n"
            f"<table>{_rows(run)}</table>\n"
            f"<h3 id='provenance-parameters'>{w['parameters']}</h3>\n<table>{_rows(params)}</table>\n"
            f"<h3 id='provenance-dataset'>{w['dataset']}</h3>\n<table>{_rows(dataset)}</table>\n"
            f"<h3 id='provenance-versions'>{w['versions']}</h3>\n<p class='evalkit-versions'>{vers}</p>\n</section>\n")


def _for_page(nb, lang: str, show_code: bool, title: str):
    """What a reader sees: no stderr or warnings, no papermill error banners, no empty code cells."""
    nb.metadata["title"] = title
    cells = []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "papermill-error-cell-tag" in tags:
            continue
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
            if not show_code and not cell.outputs:
                continue
        cells.append(cell)
    nb.cells = cells
    return nb


_HEADING = re.compile(r"<h([1-3])\b[^>]*\bid=[\"']([^\"']+)[\"'][^>]*>(.*?)</h\1>", re.S)


def _toc(page: str) -> str:
    items = []
    for level, anchor, inner in _HEADING.findall(page):
        text = html.unescape(re.sub(r"<[^>]+>", "", inner)).replace("¶", "").strip()
        if text:
            items.append(f"<li class='evalkit-toc-h{level}'><a href='#{_esc(anchor, quote=True)}'>{_esc(text)}</a></li>")
    return "<ol>\n" + "\n".join(items) + "\n</ol>"


def render_html(notebook: str | Path, info: dict, *, lang: str = "ru", show_code: bool = False) -> str:
    """One self-contained HTML page from an executed study notebook.

    Only ``lang``'s narrative (cells tagged ``lang-<other>`` removed), the ``parameters``
    and ``injected-parameters`` cells removed (the provenance block lists the values),
    code hidden unless ``show_code``, figures embedded as data URIs, a table of contents
    and the provenance block; nothing is fetched from the network.
    """
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    nb = _for_page(nbformat.read(str(notebook), as_version=4), lang, show_code,
                   info.get("title", {}).get(lang) or Path(notebook).stem)
    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {f"lang-{other}" for other in LANGS if other != lang} | {
        "parameters", "injected-parameters"}
    exporter = HTMLExporter(config=config, template_name="report", extra_template_basedirs=[str(TEMPLATES)],
                            exclude_input=not show_code, exclude_input_prompt=True, exclude_output_prompt=True,
                            embed_images=True, language_code=lang, theme="light")
    resources = {"evalkit": {"version": __version__, "toc_title": _WORDS[lang]["contents"],
                             "figure_alt": _WORDS[lang]["figure"],
                             "provenance_html": _provenance_html(info, lang)}}
    page, _ = exporter.from_notebook_node(nb, resources=resources)
    return page.replace("<!--evalkit:toc-->", _toc(page), 1)


# -- the catalogue -----------------------------------------------------------------------------

def read_runs(reports_dir: str | Path | None = None) -> list[dict]:
    """Every successful run under ``reports/``: its run.json plus ``results`` and ``href``.

    Failed runs (``_failed/``) and runs in progress (``.staging/``) are never listed.
    """
    reports = Path(reports_dir) if reports_dir else paths.reports()
    runs = []
    for folder in sorted(reports.iterdir()) if reports.is_dir() else ():
        meta = folder / "run.json"
        if folder.name.startswith((".", "_")) or not meta.is_file():
            continue
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
        except ValueError:
            log.warning("skipped %s: its run.json is not readable", folder)
            continue
        if not (folder / info.get("html", "")).is_file():
            continue
        info["results"] = read_results(folder)
        info["href"] = f"{quote(folder.name)}/{quote(info['html'])}"
        runs.append(info)
    order = {lang: i for i, lang in enumerate(LANGS)}
    return sorted(runs, key=lambda r: (r["study"], order.get(r["lang"], 9), r["dataset"]["name"], r["run"]))


def _number(v, lang: str) -> str:
    if isinstance(v, bool):
        return _WORDS[lang]["yes" if v else "no"]
    if isinstance(v, int):
        return f"{v:,}".replace(",", "\u202f" if lang == "ru" else ",")
    if isinstance(v, float):
        text = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"
        return text.replace(",", "\u202f").replace(".", ",") if lang == "ru" else text
    return "—" if v is None else str(v)


def _percent(v, lang: str) -> str:
    """A share (unit ``"share"``) as a percentage with one decimal: ``70,7%`` / ``70.7%``."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return _number(v, lang)
    text = f"{100 * v:.1f}%"
    return text.replace(".", ",") if lang == "ru" else text


def _result_row(name: str, entry: dict, lang: str, columns: tuple) -> str:
    label = entry.get(f"label_{lang}") or entry.get("label_ru") or entry.get("label_en") or name
    share = entry.get("unit") == "share"
    fmt = _percent if share else _number
    value = fmt(entry.get("value"), lang) + (f"\u00a0{entry['unit']}" if entry.get("unit") and not share else "")
    cells = {"ci": f"{fmt(entry['ci'][0], lang)}–{fmt(entry['ci'][1], lang)}" if entry.get("ci") else "",
             "n": _number(entry["n"], lang) if entry.get("n") is not None else ""}
    return (f"<tr data-result='{_esc(name, quote=True)}'><th>{_esc(label)}</th><td>{_esc(value)}</td>"
            + "".join(f"<td>{_esc(cells[c])}</td>" for c in columns) + "</tr>")


def _results_table(results: dict, lang: str) -> str:
    """Label, value, and the CI and n columns only when some number has them."""
    w = _WORDS[lang]
    if not results:
        return f"<p class='muted'>{w['no_results']}</p>"
    columns = tuple(c for c in ("ci", "n") if any(e.get(c) is not None for e in results.values()))
    head = "".join(f"<th>{w['ci'] if c == 'ci' else 'n'}</th>" for c in columns)
    return (f"<table class='results'><thead><tr><th>{w['result']}</th><th>{w['value']}</th>{head}</tr></thead>"
            "<tbody>" + "".join(_result_row(k, e, lang, columns) for k, e in results.items()) + "</tbody></table>")


def _run_html(run: dict, lang: str) -> str:
    w = _WORDS[lang]
    extra = {k: v for k, v in run["parameters"].items() if k not in _RESERVED}
    params = ", ".join(f"{k}={v!r}" for k, v in extra.items()) or "—"
    ds = run["dataset"]
    facts = [(w["date"], _esc(_when(run.get("started_utc")))), (w["lang"], w.get(run["lang"], run["lang"])),
             (w["dataset"], f"{_esc(ds['name'])} · <code title='sha256 {ds['fingerprint']}'>"
                            f"{ds['fingerprint_short']}</code>"),
             (w["parameters"], f"<code>{_esc(params)}</code>" if extra else "—")]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    table = _results_table(run.get("results") or {}, lang)
    title = run["title"].get(lang) or run["study"]
    return (f"<article class='run' id='{_esc(run['run'], quote=True)}'>\n"
            f"<h3><a href='{_esc(run['href'], quote=True)}'>{_esc(title)} — {w.get(run['lang'], run['lang'])}, "
            f"{_esc(ds['name'])}</a></h3>\n<dl>{dl}</dl>\n{table}\n</article>\n")


_CATALOGUE_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1f2328;
       margin: 0; background: #fff; line-height: 1.45; }
main { max-width: 64rem; margin: 0 auto; padding: 1.5rem; }
h1 { margin-bottom: 0.2rem; } .muted, header p { color: #59636e; }
section.study { margin-top: 2rem; } section.study h2 small { color: #59636e; font-weight: normal; font-size: 0.9rem; }
article.run { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.6rem 1rem; margin: 0.8rem 0; }
article.run h3 { margin: 0.2rem 0 0.5rem; font-size: 1.05rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.1rem 1rem; margin: 0 0 0.6rem; }
dt { color: #59636e; } dd { margin: 0; }
table.results { border-collapse: collapse; } table.results th, table.results td { text-align: left;
  padding: 0.15rem 1rem 0.15rem 0; border-bottom: 1px solid #eaeef2; font-weight: normal; }
table.results thead th { color: #59636e; font-size: 0.9rem; } table.results td { font-variant-numeric: tabular-nums; }
"""


def _catalogue_html(runs: list[dict], lang: str) -> str:
    w = _WORDS[lang]
    body = []
    for study in dict.fromkeys(r["study"] for r in runs):
        group = [r for r in runs if r["study"] == study]
        title = group[0]["title"].get(lang) or study
        body.append(f"<section class='study' id='{_esc(study, quote=True)}'>\n<h2>{_esc(title)} <small>{_esc(study)}"
                    f"</small></h2>\n" + "".join(_run_html(r, lang) for r in group) + "</section>\n")
    if not runs:
        body.append(f"<p class='empty'>{w['none_yet']}</p>")
    now = _when(_iso(time.time()))
    return (f"<!DOCTYPE html>\n<html lang='{lang}'>\n<head>\n<meta charset='utf-8'>\n"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
            f"<meta name='generator' content='evalkit {__version__}'>\n<link rel='icon' href='data:,'>\n"
            f"<title>{w['catalogue']}</title>\n"
            f"<style>{_CATALOGUE_CSS}</style>\n</head>\n<body>\n<main>\n<header><h1>{w['catalogue']}</h1>\n"
            f"<p>{w['published']}: {now}; {w['runs']}: {len(runs)}</p></header>\n" + "".join(body)
            + "</main>\n</body>\n</html>\n")


def publish(reports_dir: str | Path | None = None, lang: str = "ru") -> Path:
    """Write ``reports/index.html`` (the catalogue, in ``lang``) and ``reports/catalogue.json``.

    One entry per successful run, grouped by study: title, date, language, parameters,
    dataset fingerprint, the headline numbers from results.json and a relative link to the
    page. Returns the path of index.html.
    """
    if lang not in LANGS:
        raise UserError(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")
    reports = Path(reports_dir) if reports_dir else paths.reports()
    reports.mkdir(parents=True, exist_ok=True)
    runs = read_runs(reports)
    index = reports / "index.html"
    tmp = reports / f".index.html.{os.getpid()}.tmp"
    tmp.write_text(_catalogue_html(runs, lang), encoding="utf-8")
    os.replace(tmp, index)
    keep = ("run", "study", "title", "lang", "href", "parameters", "dataset", "started_utc", "finished_utc",
            "seconds", "versions", "results")
    _write_json(reports / "catalogue.json", {"generated_utc": _iso(time.time()), "lang": lang,
                                             "runs": [{k: r.get(k) for k in keep} for r in runs]})
    return index
