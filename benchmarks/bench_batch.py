"""`evalkit run` and `evalkit batch` against floors measured in the same run.

Data: a fresh demo dataset (400 families, seed 2026, the demo's two organisations), synthesised
and cleaned with a fixed key into a temporary folder before anything is timed — the project's
own ``data_clean/demo`` is neither read nor touched, so the figures do not depend on it.

- ``run``: a study (Russian) by :func:`evalkit.report.run_study` — the papermill kernel, the
  inline figures, the HTML page, run.json — against the floor: the same notebook's code cells
  (its parameters cell, then ``dataset`` and ``lang`` as papermill would inject them, then
  every other code cell) concatenated and executed as a plain Python script in the notebook's
  folder. Three cases: ``10_indicators`` on the demo (the quickest study on the smallest data:
  the fixed cost of a kernel run weighs most), then ``10_indicators`` and ``30_survival`` on
  a regional register of 10,000 families (100,000 with ``--full``) from the same generator.
  Target (issue "Scale-out and performance"): ratio ≤ 1.3. Median of ``REPEATS`` of each,
  measured alternately; the kernel's peak memory is reported beside the caller's.
- ``batch``: 8 runs (``00_data_quality`` ru/en, ``10_indicators`` for all / org_a / org_b in
  ru/en) by :func:`evalkit.batch.run_batch` on a 2-worker LocalCluster (start and close
  included) against the floor: the same 8 :func:`evalkit.report.run_study` calls one after
  another in one process. Target: ratio (batch / sequential) ≤ 1 / 1.6 = 0.625, a 1.6× speed-up.

Each measurement is a fresh process (``measure``); peak memory is that process's own (for the
batch: the client process; the workers and every kernel are other processes). The machine has
2 cores: the load average before and after each case is printed and stored with the figures,
and for the batch case the CPU seconds of every process involved (client, workers, kernels),
which other jobs on the machine do not change.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 3
STUDY = "10_indicators"


def _dataset(folder: Path, families: int = 400, name: str = "demo") -> Path:
    from evalkit.clean import clean_sources
    from evalkit.dataset import write_dataset
    from evalkit.synth import synthesize
    from evalkit.synth_model import demo_config

    raw = folder / f"raw_{name}"
    synthesize(raw, demo_config(families=families, seed=2026), truth_mc_families=0)
    result = clean_sources([raw / "org_a", raw / "org_b"], bytes(range(32)))
    return write_dataset(result, folder / "clean" / name)


# what the kernel does with a cell's outputs and a script does not: every displayed object formatted
# into its mime bundle (HTML of the tables, markdown), every open figure rendered as a PNG
_OUTPUTS = """
import io
import IPython.display
import matplotlib.pyplot as plt
from IPython.core.formatters import DisplayFormatter
_formatter = DisplayFormatter()
def _display(*objs, **kw):
    for obj in objs:
        _formatter.format(obj)
IPython.display.display = _display
def _flush():
    for num in plt.get_fignums():
        plt.figure(num).savefig(io.BytesIO(), format="png", bbox_inches="tight")
    plt.close("all")
"""


def _plain_script(notebook: Path, parameters: dict, outputs: bool = False) -> str:
    """The notebook as papermill would run it, as one script: parameters, injected values, the rest.

    With ``outputs``, the script also formats what it displays and renders its figures after each
    cell, as the kernel does (a cell's last expression is not displayed, though)."""
    cells = [c for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    params = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    injected = "".join(f"{k} = {v!r}\n" for k, v in parameters.items())
    flush = "\n_flush()" if outputs else ""
    body = ([_OUTPUTS] if outputs else []) + ["".join(params["source"]), injected] + [
        "".join(c["source"]) + flush for c in cells if c is not params]
    return "\n\n".join(body) + "\n"


_CPU = """
import json as _json, resource as _resource
_self, _children = _resource.getrusage(_resource.RUSAGE_SELF), _resource.getrusage(_resource.RUSAGE_CHILDREN)
with open({path!r}, "w") as _f:
    _json.dump({{"self": _self.ru_utime + _self.ru_stime, "children": _children.ru_utime + _children.ru_stime,
                "children_peak_mb": _children.ru_maxrss / 1024}}, _f)
"""


def _with_cpu(measure, code: str, path: Path) -> dict:
    """``measure(code)`` plus the CPU seconds of the process and of every process it started and
    waited for (workers, kernels): the work done, whatever the other jobs on the machine."""
    result = measure(code + "\n" + _CPU.format(path=str(path)))
    cpu = json.loads(path.read_text())
    return {**result, "cpu_seconds": cpu["self"] + cpu["children"], "children_peak_mb": cpu["children_peak_mb"]}


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _median(runs: list[dict]) -> dict:
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}


def _run_case(measure, tmp: Path, notebook: Path, label: str, dataset: Path):
    """``evalkit run`` of ``notebook`` on ``dataset`` against its code as a plain script."""
    load = _load()
    study = notebook.stem
    reports = tmp / f"reports_run_{dataset.name}"
    study_code = (f"from evalkit import report\nreport.run_study({study!r}, dataset={str(dataset)!r}, lang='ru', "
                  f"reports_dir={str(reports)!r})")
    agg = "import os\nos.environ['MPLBACKEND'] = 'Agg'\n"  # a script shows no figures
    params = {"dataset": str(dataset), "lang": "ru"}
    agg += f"os.chdir({str(notebook.parent)!r})\n"  # the kernel's folder: the notebook's
    script, script_outputs = agg + _plain_script(notebook, params), agg + _plain_script(notebook, params, True)
    studies, floors, outputs = [], [], []
    for i in range(REPEATS):
        floors.append(measure(script))
        outputs.append(measure(script_outputs))
        studies.append(_with_cpu(measure, study_code, tmp / f"cpu_run_{i}.json"))
    m, f, o = _median(studies), _median(floors), _median(outputs)
    kernel_peak = max(r["children_peak_mb"] for r in studies)
    secs = lambda runs: [round(r["seconds"], 2) for r in runs]  # noqa: E731
    print(f"   ({label}; load average 1/5/15 min before: {load}, after: {_load()}; medians of {REPEATS}: study "
          f"{secs(studies)}, script {secs(floors)}, script rendering its outputs {secs(outputs)}; "
          f"kernel peak {kernel_peak:.0f} MB)", flush=True)
    yield {"case": f"run: {study} ({label}) vs plain script", "seconds": m["seconds"],
           "floor_seconds": f["seconds"], "ratio": m["seconds"] / f["seconds"], "peak_rss_mb": m["peak_rss_mb"],
           "kernel_peak_rss_mb": kernel_peak, "floor_peak_rss_mb": f["peak_rss_mb"], "target": "<= 1.3",
           "load_before": load, "load_after": _load()}
    yield {"case": "run: same vs script rendering its outputs", "seconds": m["seconds"],
           "floor_seconds": o["seconds"], "ratio": m["seconds"] / o["seconds"], "peak_rss_mb": m["peak_rss_mb"],
           "floor_peak_rss_mb": o["peak_rss_mb"], "target": "(explains the first)", "load_before": load,
           "load_after": _load()}


def run(args, measure):
    tmp = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    try:
        dataset = _dataset(tmp)

        # (a) one study through evalkit run vs its code as a plain script, on the demo's size and
        # on a regional register (the fixed cost of a kernel run is the same; the work grows)
        families = 100_000 if args.full else 10_000
        bigger = _dataset(tmp, families, f"f{families}")
        for study, label, data in ((STUDY, "demo", dataset), (STUDY, f"{families:,} families", bigger),
                                   ("30_survival", f"{families:,} families", bigger)):
            yield from _run_case(measure, tmp, ROOT / "notebooks" / f"{study}.ipynb", label, data)

        # (b) 8 runs on a 2-worker LocalCluster vs the same 8 runs one after another
        plan = tmp / "plan.yaml"
        plan.write_text(textwrap.dedent(f"""\
            dataset: {dataset}
            langs: [ru, en]
            studies:
              00_data_quality:
              {STUDY}:
                grid: {{org: [all, org_a, org_b]}}
            """), encoding="utf-8")
        load = _load()
        sequential = _with_cpu(measure, textwrap.dedent(f"""\
            from evalkit import batch, report
            runs = batch.expand(batch.read_plan({str(plan)!r}))
            assert len(runs) == 8
            for r in runs:
                report.run_study(r.study, dataset=r.dataset, lang=r.lang, parameters=dict(r.parameters),
                                 reports_dir={str(tmp / 'reports_seq')!r}, fingerprint=r.fingerprint)
            report.publish({str(tmp / 'reports_seq')!r})
            """), tmp / "cpu_seq.json")
        parallel = _with_cpu(measure, textwrap.dedent(f"""\
            from evalkit import batch
            result = batch.run_batch({str(plan)!r}, workers=2, force=True, reports_dir={str(tmp / 'reports_batch')!r})
            assert list(result.summary["status"]) == ["ran"] * 8, result.summary
            """), tmp / "cpu_batch.json")
        print(f"   (load average 1/5/15 min before: {load}, after: {_load()}; CPU seconds, every process: "
              f"sequential {sequential['cpu_seconds']:.1f}, batch {parallel['cpu_seconds']:.1f})", flush=True)
        yield {"case": "batch: 8 runs, 2-worker LocalCluster vs sequential", "seconds": parallel["seconds"],
               "floor_seconds": sequential["seconds"], "ratio": parallel["seconds"] / sequential["seconds"],
               "speedup": sequential["seconds"] / parallel["seconds"], "peak_rss_mb": parallel["peak_rss_mb"],
               "floor_peak_rss_mb": sequential["peak_rss_mb"], "target": "<= 0.625", "load_before": load,
               "load_after": _load(), "cpu_seconds": parallel["cpu_seconds"],
               "floor_cpu_seconds": sequential["cpu_seconds"]}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
