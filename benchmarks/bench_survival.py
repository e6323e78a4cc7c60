"""The survival study's steps at 10k and 100k children (1M with ``--full``), each against a floor
measured in the same run.

Data: the synthetic generator's canonical tables (``simulate`` + ``truth_tables``, written once as
parquet, not timed) and, from them, the time-to-event frame (origin = case opening, written once).
Each measurement runs in a fresh process that reads its inputs and then does one step:

- ``frame``: ``frames.time_to_event`` — floor: reading the tables it needs;
- ``km``: ``survival.kaplan_meier`` by prior removal (curves, CIs, medians, RMST, log-rank) —
  floor: a bare lifelines ``KaplanMeierFitter`` on the same times;
- ``cox``: ``survival.cox`` with 8 covariates, family-clustered errors and the PH test —
  floor: a bare lifelines ``KaplanMeierFitter`` too (the Cox engine's own floor, R's
  unclustered ``coxph``, is ``bench_cox.py``'s);
- ``naive``: ``survival.naive_vs_km`` + ``cohort_table`` — floor: the bare KM.

Reading the inputs and importing lifelines and evalkit are in every measurement, floor included,
so the ratio is the step's cost over a bare KM fit (or a bare read).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

COVARIATES = ["prior_removal", "parent_mental_illness", "parent_substance_use", "parent_intellectual_disability",
              "no_registration", "housing_at_intake", "case_type", "crisis_centre"]

# every measurement imports the same modules, so the ratio is the step's cost, not import time
_IMPORTS = """
import lifelines
from lifelines import KaplanMeierFitter
from evalkit import frames, survival
"""
_READ_TABLES = _IMPORTS + """
import pandas as pd
from pathlib import Path
folder = Path({folder!r})
tables = {{n: pd.read_parquet(folder / f"{{n}}.parquet") for n in
          ("families", "children", "cases", "contacts", "events", "assessments", "services")}}
"""
_READ_FRAME = _IMPORTS + """
import pandas as pd
tte = pd.read_parquet({frame!r})
cutoff = pd.Timestamp({cutoff!r})
"""
_BARE_KM = """
KaplanMeierFitter().fit(tte["time"].to_numpy(float), tte["event"].to_numpy(bool))
"""


def _prepare(families: int, folder: Path) -> tuple[Path, str, int]:
    from evalkit import frames
    from evalkit.synth_model import demo_config, simulate
    from evalkit.synth_truth import truth_tables

    cfg = demo_config(families=families, seed=2026, orgs=max(2, families // 20_000))
    tables = truth_tables(simulate(cfg))
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_parquet(folder / f"{name}.parquet")
    tte = frames.time_to_event(tables, origin="opening")
    frame = folder / "tte.parquet"
    tte.to_parquet(frame)
    return frame, str(frames.data_cutoff(tables)), len(tte)


def run(args, measure):
    # about 10k, 100k (and 1M) children of complex-support cases
    sizes = [5_700, 57_000] + ([570_000] if args.full else [])
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_survival_"))
    try:
        for families in sizes:
            folder = tmp / str(families)
            frame, cutoff, children = _prepare(families, folder)
            read_tables = _READ_TABLES.format(folder=str(folder))
            read_frame = _READ_FRAME.format(frame=str(frame), cutoff=cutoff)
            floor_tables = measure(read_tables)
            floor_km = measure(read_frame + _BARE_KM)
            cases = {
                "frame": (read_tables + "from evalkit import frames\nframes.time_to_event(tables, origin='opening')",
                          floor_tables),
                "km": (read_frame + "from evalkit import survival\nsurvival.kaplan_meier(tte, group='prior_removal')",
                       floor_km),
                "cox": (read_frame + f"from evalkit import survival\nsurvival.cox(tte, {COVARIATES!r})", floor_km),
                "naive": (read_frame + "from evalkit import survival\nsurvival.naive_vs_km(tte, cutoff)\n"
                          "survival.cohort_table(tte, cutoff)", floor_km),
            }
            for case, (code, floor) in cases.items():
                m = measure(code)
                rows.append({"case": f"{case}, {children:,} children", "seconds": m["seconds"],
                             "floor_seconds": floor["seconds"], "ratio": m["seconds"] / floor["seconds"],
                             "peak_rss_mb": m["peak_rss_mb"], "children": children})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows
