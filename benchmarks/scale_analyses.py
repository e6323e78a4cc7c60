"""Time the analysis steps on a national-size synthetic register (the generator's canonical tables):
`python benchmarks/scale_analyses.py 410000` (≈ 1 million children; 41000 ≈ 100k). Prints each step's seconds
and the peak memory so far, then the Cox hazard ratios (true: docs/synthetic.md)."""
import resource, sys, time
t0 = time.perf_counter()
def say(msg):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"[{time.perf_counter() - t0:7.1f} s, peak {rss:5.2f} GB] {msg}", flush=True)
from evalkit.synth_model import demo_config, simulate
from evalkit.synth_truth import truth_tables
from evalkit import frames, indicators, survival
fams = int(sys.argv[1])
tables = truth_tables(simulate(demo_config(families=fams, seed=2026, orgs=20)))
say(f"tables: {len(tables['children']):,} children, {len(tables['assessments']):,} ЕФО rows")
tic = time.perf_counter(); kids = frames.children_at_closure(tables); say(f"children_at_closure {time.perf_counter()-tic:.1f} s ({len(kids):,})")
tic = time.perf_counter(); fam = frames.families_at_closure(tables, kids); say(f"families_at_closure {time.perf_counter()-tic:.1f} s")
tic = time.perf_counter(); table = indicators.compute(tables); say(f"indicators.compute {time.perf_counter()-tic:.1f} s")
tic = time.perf_counter(); reg = table.registry(); say(f"registry {time.perf_counter()-tic:.1f} s")
tic = time.perf_counter(); d = indicators.support_duration(tables); say(f"support_duration {time.perf_counter()-tic:.1f} s")
for origin in ("closure", "opening"):
    tic = time.perf_counter(); tte = frames.time_to_event(tables, origin=origin); say(f"time_to_event({origin}) {time.perf_counter()-tic:.1f} s ({len(tte):,})")
tic = time.perf_counter(); km = survival.kaplan_meier(tte, group="prior_removal"); say(f"kaplan_meier by group {time.perf_counter()-tic:.1f} s")
tic = time.perf_counter(); from lifelines import KaplanMeierFitter; KaplanMeierFitter().fit(tte.time, tte.event); say(f"bare lifelines KM {time.perf_counter()-tic:.2f} s")
cut = frames.data_cutoff(tables)
tic = time.perf_counter(); survival.naive_vs_km(tte, cut); survival.cohort_table(tte, cut); say(f"naive + cohorts {time.perf_counter()-tic:.1f} s")
tic = time.perf_counter(); c = survival.cox(tte, ["prior_removal","parent_mental_illness","parent_substance_use","parent_intellectual_disability","no_registration","housing_at_intake","case_type","crisis_centre"]); say(f"cox (8 covariates, clustered, PH test) {time.perf_counter()-tic:.1f} s")
print(c.summary[["term","hr","hr_low","hr_high"]].round(3).to_string())
