"""Phase timings of `evalkit clean` on a 1M-child register (generated once into /tmp/reg1m).

Run: `python benchmarks/phases_clean_1m.py` — prints, at each progress message, the elapsed
wall time, the wall and CPU seconds since the previous message, and the RSS. The CPU
seconds are the figure to compare when the machine is shared (wall time then includes
waiting for a core).
"""
import time, pathlib, psutil
import evalkit.synth_exports as se
se.XLSX_MAX_ROWS = 0
from evalkit.synth import synthesize
from evalkit.synth_model import demo_config
src = pathlib.Path("/tmp/reg1m")
if not (src / "_truth").exists():
    synthesize(src, demo_config(families=410000, orgs=20), truth_mc_families=0)
import evalkit.clean as C
from evalkit.dataset import write_dataset
P = psutil.Process()
t0, c0 = time.perf_counter(), time.process_time()
last = [t0, c0]
def say(m):
    if m.startswith("wrote") or ": reading " in m:
        return
    now, cpu = time.perf_counter(), time.process_time()
    print(f"{now-t0:7.1f}s (+{now-last[0]:6.1f} wall, +{cpu-last[1]:6.1f} cpu) rss={P.memory_info().rss/1e9:5.2f}GB {m}",
          flush=True)
    last[:] = [now, cpu]
orgs = sorted(p for p in src.iterdir() if (p / "evalkit.yaml").is_file())
res = C.clean_sources(orgs, bytes(32), progress=say)
say("cleaned")
write_dataset(res, "/tmp/w1m", progress=say)
say("written")
