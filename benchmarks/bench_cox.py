"""Cox regression with family-clustered robust errors: `evalkit.coxph.fit_cox` vs the floor of
R's *unclustered* `coxph` on the same data in the same run (target: ratio ≤ 1.0 at 1M children).

Synthetic children in families of 1–5 (a shared family frailty), 5 covariates (two binary,
a continuous score, a count, a family-level score), about 40% censored, times in whole days
(heavy ties). The data are written once as CSV (not timed); each measurement reads it in a
fresh process and times the fit alone (the median of 3 fits for the floor and for fit_cox),
so reading a CSV in R or in Python never counts. Peak memory is the whole process's.

At 100k children the run also times the references that are quadratic in n — R's
`coxph(cluster=)` and lifelines' `cluster_col` (about a minute each); at 1M (``--full``) they
are skipped (more than 9 minutes each). Each row also records how far fit_cox's coefficients
and errors are from R's on the same data.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
from pathlib import Path

import numpy as np

COVS = ["x1", "x2", "x3", "x4", "x5"]
REPEATS = 3

_R = r"""
args <- commandArgs(TRUE)
suppressMessages(library(survival))
d <- read.csv(args[1], colClasses = c("integer", "numeric", "integer", rep("numeric", 5)))
clustered <- args[3] == "cluster"
reps <- as.integer(args[4])
secs <- numeric(reps)
for (i in seq_len(reps)) {
  secs[i] <- system.time(fit <- if (clustered)
    coxph(Surv(time, event) ~ x1 + x2 + x3 + x4 + x5, data = d, ties = "efron", cluster = family)
  else coxph(Surv(time, event) ~ x1 + x2 + x3 + x4 + x5, data = d, ties = "efron"))[["elapsed"]]
}
se <- sqrt(diag(if (clustered) fit$naive.var else fit$var))
robust <- if (clustered) sqrt(diag(fit$var)) else rep(NA, length(se))
writeLines(sprintf('{"seconds": [%s], "coef": [%s], "se": [%s], "robust_se": [%s]}',
                   paste(secs, collapse = ","), paste(sprintf("%.17g", coef(fit)), collapse = ","),
                   paste(sprintf("%.17g", se), collapse = ","),
                   paste(ifelse(is.na(robust), "null", sprintf("%.17g", robust)), collapse = ",")), args[2])
"""


def make_children(n: int, path: Path, seed: int = 2026) -> None:
    """``n`` children in families of 1–5, written as CSV (family,time,event,x1..x5)."""
    import pyarrow as pa
    import pyarrow.csv as pv

    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 2, 3, 4, 5], size=n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), n) + 1]
    family = np.repeat(np.arange(len(sizes)), sizes)[:n]
    nf = len(sizes)
    frailty, fam_x = rng.normal(0, 0.5, nf)[family], np.round(rng.normal(size=nf), 3)[family]
    X = np.column_stack([rng.random(n) < 0.35, rng.random(n) < 0.2, np.round(rng.normal(size=n), 3),
                         rng.poisson(1.2, n), fam_x]).astype(float)
    lp = X @ np.array([0.7, 0.5, -0.3, 0.15, 0.25]) + frailty
    event_days = rng.exponential(900 * np.exp(-lp))
    # uniform censoring on (0, c), c chosen so that 40% are censored: P(U c < T) = E min(T/c, 1)
    lo, hi = 1.0, 1e7
    for _ in range(60):
        c = (lo + hi) / 2
        lo, hi = (c, hi) if np.minimum(event_days / c, 1).mean() > 0.4 else (lo, c)
    censor_days = rng.uniform(0, c, n)
    days = np.ceil(np.minimum(event_days, censor_days))
    event = (event_days <= censor_days).astype(np.int32)
    table = pa.table({"family": family.astype(np.int32), "time": days, "event": event,
                      **{c: X[:, j] for j, c in enumerate(COVS)}})
    pv.write_csv(table, str(path))


def _fit_cox_code(csv: str, out: str) -> str:
    return ("import json, statistics, time\nimport pandas as pd\nfrom evalkit.coxph import fit_cox\n"
            f"d = pd.read_csv({csv!r}, engine='pyarrow')\n"
            "t, e, x, fam = d['time'].to_numpy(float), d['event'].to_numpy(), d[['x1','x2','x3','x4','x5']].to_numpy(float), d['family'].to_numpy()\n"
            "secs = []\n"
            f"for _ in range({REPEATS}):\n"
            "    start = time.perf_counter(); fit = fit_cox(t, e, x, cluster=fam); secs.append(time.perf_counter() - start)\n"
            f"json.dump({{'seconds': secs, 'coef': fit.params.tolist(), 'se': fit.se.tolist(),\n"
            "           'robust_se': fit.robust_se.tolist(), 'iterations': fit.iterations}, "
            f"open({out!r}, 'w'))\n")


def _lifelines_code(csv: str, out: str) -> str:
    return ("import json, time\nimport pandas as pd\nfrom lifelines import CoxPHFitter\n"
            f"d = pd.read_csv({csv!r}, engine='pyarrow')\n"
            "start = time.perf_counter()\n"
            "cph = CoxPHFitter().fit(d, 'time', 'event', cluster_col='family')\n"
            "secs = time.perf_counter() - start\n"
            "cols = ['x1','x2','x3','x4','x5']\n"
            "json.dump({'seconds': [secs], 'coef': cph.params_[cols].tolist(), 'se': None,\n"
            f"           'robust_se': cph.standard_errors_[cols].tolist()}}, open({out!r}, 'w'))\n")


def _r_code(script: str, csv: str, out: str, clustered: bool, reps: int) -> str:
    """Rscript in a child of the measured process; the child's peak memory is recorded."""
    return ("import json, resource, subprocess\n"
            f"subprocess.run(['Rscript', {script!r}, {csv!r}, {out!r}, {'cluster' if clustered else 'plain'!r}, "
            f"'{reps}'], check=True)\n"
            f"r = json.load(open({out!r}))\n"
            "r['child_peak_rss_mb'] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
            f"json.dump(r, open({out!r}, 'w'))\n")


def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def run(args, measure):
    sizes = [100_000, 1_000_000] if args.full else [100_000]
    if shutil.which("Rscript") is None:
        raise RuntimeError("bench_cox needs Rscript with the survival package (the floor is R's coxph)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        script = tmp / "coxph.R"
        script.write_text(_R)
        for n in sizes:
            csv, label = tmp / f"children_{n}.csv", f"{n:,} children"
            make_children(n, csv)
            results = {}

            def timed(name, code):
                out = tmp / f"{name}_{n}.json"
                m = measure(code(str(out)))
                r = json.loads(out.read_text())
                r["fit_seconds"] = statistics.median(r["seconds"])
                r["wall"] = m["seconds"]
                r["peak"] = r.get("child_peak_rss_mb", m["peak_rss_mb"])
                results[name] = r

            timed("r_plain", lambda out: _r_code(str(script), str(csv), out, False, REPEATS))
            timed("fit_cox", lambda out: _fit_cox_code(str(csv), out))
            if n <= 100_000:
                timed("r_cluster", lambda out: _r_code(str(script), str(csv), out, True, 1))
                timed("lifelines", lambda out: _lifelines_code(str(csv), out))
            floor = results["r_plain"]["fit_seconds"]
            ours = results["fit_cox"]
            names = {"r_plain": "R coxph, no cluster (floor)", "fit_cox": "fit_cox, clustered",
                     "r_cluster": "R coxph(cluster=)", "lifelines": "lifelines cluster_col"}
            for key, r in results.items():
                row = {"case": f"{names[key]}, {label}", "seconds": r["fit_seconds"], "floor_seconds": floor,
                       "ratio": r["fit_seconds"] / floor, "peak_rss_mb": r["peak"], "process_seconds": r["wall"],
                       "fit_seconds_each": r["seconds"], "n": n}
                if key == "fit_cox":
                    # coefficients and model errors against R's fit of the same data
                    row["max_rel_diff_coef_vs_r"] = _rel(ours["coef"], results["r_plain"]["coef"])
                    row["max_rel_diff_se_vs_r"] = _rel(ours["se"], results["r_plain"]["se"])
                    row["iterations"] = ours["iterations"]
                    if "r_cluster" in results:
                        row["max_rel_diff_robust_se_vs_r"] = _rel(ours["robust_se"], results["r_cluster"]["robust_se"])
                if key == "lifelines":
                    row["max_rel_diff_robust_se_vs_r"] = _rel(r["robust_se"], results["r_cluster"]["robust_se"])
                yield row
                diffs = {k[len("max_rel_diff_"):]: v for k, v in row.items() if k.startswith("max_rel_diff_")}
                if diffs:
                    print("      max relative difference: " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()),
                          flush=True)
