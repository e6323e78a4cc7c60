"""Run the benchmarks: `python benchmarks/run.py [--only NAME] [--full]` (or `make bench`).

Every benchmark measures its subject and a *floor* in the same run on the same machine,
and reports the ratio, so figures from different machines and days can be compared.
Each measurement runs in a fresh subprocess that reports its own wall time and peak
resident memory (``getrusage``), so one measurement's memory never hides another's.
Results are printed and written to ``benchmarks/results/latest.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_PROBE = r"""
import json, resource, sys, time
t0 = time.perf_counter()
exec(compile(sys.argv[1], "<benchmark>", "exec"))
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork and exec, so a probe started by a
# benchmark that holds a big register would report the benchmark's size, not its own
_hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
_peak = int(_hwm[0].split()[1]) / 1024 if _hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": time.perf_counter() - t0, "peak_rss_mb": _peak}))
"""


def measure(code: str) -> dict:
    """Run ``code`` in a fresh Python; return its wall seconds and peak RSS in MB."""
    proc = subprocess.run([sys.executable, "-c", _PROBE, code], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark code failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", help="run only these benchmarks (e.g. synth)")
    ap.add_argument("--full", action="store_true", help="national size (about a million children)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="measure subject and floor this many times, alternately, and report medians "
                         "(benchmarks that support it: clean)")
    ap.add_argument("--register", type=Path, default=None,
                    help="clean: an existing synthetic register (a folder of sources, e.g. /tmp/reg1m of "
                         "phases_clean_1m.py) instead of generating one; the label names it")
    args = ap.parse_args(argv)
    names = sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))
    if args.only:
        names = [n for n in names if n in args.only]
    sys.path.insert(0, str(HERE))
    results = []
    for name in names:
        mod = importlib.import_module(f"bench_{name}")
        print(f"== {name}", flush=True)
        for row in mod.run(args, measure):
            row["benchmark"] = name
            results.append(row)
            kernel = f"  kernel {row['kernel_peak_rss_mb']:>6.0f} MB" if row.get("kernel_peak_rss_mb") else ""
            print("   {case:<42} {seconds:>9.2f} s  floor {floor_seconds:>8.2f} s  ratio {ratio:>6.2f}x  "
                  "peak {peak_rss_mb:>8.0f} MB".format(**row) + kernel, flush=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps({
        "when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": platform.platform(),
        "python": platform.python_version(), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
