"""Phase timings of `evalkit clean` on a 1M-child register (generated once into /tmp/reg1m).

Run: `python benchmarks/phases_clean_1m.py [register]` — prints, at each progress message, the
elapsed wall time, the wall and CPU seconds since the previous message, and the RSS. The CPU
seconds are the figure to compare when the machine is shared (wall time then includes
waiting for a core). CPU seconds are this process's plus those the worker processes spent
reading and normalising the sheets (``evalkit.clean.WORKER_CPU``).
"""
import pathlib
import sys
import threading
import time

import psutil


def main(src=pathlib.Path("/tmp/reg1m")):
    import evalkit.synth_exports as se
    se.XLSX_MAX_ROWS = 0
    from evalkit.synth import synthesize
    from evalkit.synth_model import demo_config
    if not (src / "_truth").exists():
        synthesize(src, demo_config(families=410000, orgs=20), truth_mc_families=0)
    import evalkit.clean as C
    from evalkit.dataset import write_dataset
    P = psutil.Process()

    def cpu():  # this process and the worker processes that read the sheets
        t = P.cpu_times()
        return t.user + t.system + C.WORKER_CPU[0]

    t0, c0 = time.perf_counter(), cpu()
    last = [t0, c0]
    peak = [0.0]
    tree_peak = [0.0]  # this process and its descendants (the forkserver and the reading workers)
    done = threading.Event()

    def sample():
        while not done.wait(0.2):
            try:
                rss = P.memory_info().rss + sum(c.memory_info().rss for c in P.children(recursive=True))
            except psutil.Error:
                continue
            tree_peak[0] = max(tree_peak[0], rss / 1e9)

    threading.Thread(target=sample, daemon=True).start()

    def say(m):
        if m.startswith("wrote") or ": reading " in m:
            return
        now, c = time.perf_counter(), cpu()
        rss = P.memory_info().rss / 1e9
        peak[0] = max(peak[0], rss)
        print(f"{now-t0:7.1f}s (+{now-last[0]:6.1f} wall, +{c-last[1]:6.1f} cpu) rss={rss:5.2f}GB {m}", flush=True)
        last[:] = [now, c]

    orgs = sorted(p for p in src.iterdir() if (p / "evalkit.yaml").is_file())
    res = C.clean_sources(orgs, bytes(32), progress=say)
    say("cleaned")
    write_dataset(res, "/tmp/w1m", progress=say)
    say("written")
    done.set()
    print(f"total {time.perf_counter()-t0:.1f} s wall, {cpu()-c0:.1f} s cpu; peak memory of a reading worker "
          f"{C.WORKER_PEAK_RSS[0]/1e9:.2f} GB; of this process and its workers together (sampled every 0.2 s) "
          f"{tree_peak[0]:.2f} GB", flush=True)


if __name__ == "__main__":  # the reading workers import this file: nothing may run on import
    main(*(pathlib.Path(a) for a in sys.argv[1:2]))
