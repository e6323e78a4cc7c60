"""Phase timings of `evalkit clean` on a 1M-child register (generated once into /tmp/reg1m).

Run: `python benchmarks/phases_clean_1m.py` — prints elapsed time and RSS at each progress message.
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
t0 = time.perf_counter()
def say(m): print(f"{time.perf_counter()-t0:7.1f}s rss={P.memory_info().rss/1e9:5.2f}GB {m}", flush=True)
orgs = sorted(p for p in src.iterdir() if (p / "evalkit.yaml").is_file())
res = C.clean_sources(orgs, bytes(32), progress=say)
say("cleaned")
write_dataset(res, "/tmp/w1m", progress=say)
say("written")
