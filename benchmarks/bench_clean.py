"""`evalkit clean` on a synthetic register vs the floor of reading the same files with
pyarrow and writing them as parquet (target: within 3x, issue "Cleaning").

The register is generated once (not timed); both measurements run in fresh processes.
"""

from __future__ import annotations

import tempfile


def _clean(src: str, out: str, workers_peak: str) -> str:
    # the sources are cleaned in worker processes (not children of the probe, so not in its
    # peak): their largest peak is written to a file beside
    return ("import pathlib\nimport evalkit.clean as C\nfrom evalkit.dataset import write_dataset\n"
            f"src = sorted(p for p in pathlib.Path({src!r}).iterdir() if (p / 'evalkit.yaml').is_file())\n"
            f"write_dataset(C.clean_sources(src, bytes(32)), {out!r})\n"
            f"pathlib.Path({workers_peak!r}).write_text(str(C.WORKER_PEAK_RSS[0] / 2**20))\n")


def _floor(src: str, out: str) -> str:
    return ("import pathlib, yaml\nimport pyarrow.csv as pv, pyarrow.parquet as pq\n"
            f"out = pathlib.Path({out!r}); out.mkdir(parents=True, exist_ok=True)\n"
            f"for org in sorted(p for p in pathlib.Path({src!r}).iterdir() if (p / 'evalkit.yaml').is_file()):\n"
            "    m = yaml.safe_load((org / 'evalkit.yaml').read_text(encoding='utf-8'))\n"
            "    enc = m['defaults'].get('encoding', 'utf-8'); sep = m['defaults'].get('delimiter', ',')\n"
            "    for f in sorted(org.glob('*.csv')):\n"
            "        t = pv.read_csv(f, read_options=pv.ReadOptions(encoding=enc),\n"
            "                        parse_options=pv.ParseOptions(delimiter=sep, newlines_in_values=True),\n"
            "                        convert_options=pv.ConvertOptions(strings_can_be_null=True))\n"
            "        pq.write_table(t, out / f'{org.name}_{f.stem}.parquet', compression='zstd')\n")


def run(args, measure):
    import statistics

    families, orgs = (410_000, 20) if args.full else (41_000, 4)
    repeat = max(1, getattr(args, "repeat", 1))
    given = getattr(args, "register", None)
    label = f"register ({families:,} families, {orgs} orgs, all CSV)" if given is None else f"register {given}"
    with tempfile.TemporaryDirectory() as tmp:
        src = f"{tmp}/src" if given is None else str(given)
        if given is None:
            measure("import evalkit.synth_exports as se\nse.XLSX_MAX_ROWS = 0\n"
                    "from evalkit.synth import synthesize\nfrom evalkit.synth_model import demo_config\n"
                    f"synthesize({src!r}, demo_config(families={families}, orgs={orgs}), truth_mc_families=0)\n")
        floors, cleans = [], []
        for i in range(repeat):  # alternately, so that a slower spell of the machine falls on both
            floors.append(measure(_floor(src, f"{tmp}/floor{i}")))
            cleans.append(measure(_clean(src, f"{tmp}/clean{i}", f"{tmp}/workers_peak")))
            worker_mb = float(open(f"{tmp}/workers_peak").read())
            if repeat > 1:
                print(f"  run {i + 1}/{repeat}: clean {cleans[-1]['seconds']:.2f} s, floor {floors[-1]['seconds']:.2f} s, "
                      f"ratio {cleans[-1]['seconds'] / floors[-1]['seconds']:.2f}x", flush=True)
    got = {"seconds": statistics.median(c["seconds"] for c in cleans),
           "peak_rss_mb": max(c["peak_rss_mb"] for c in cleans)}
    floor = statistics.median(f["seconds"] for f in floors)
    print(f"  clean: this process {got['peak_rss_mb']:.0f} MB at its peak, each of the 2 worker processes "
          f"at most {worker_mb:.0f} MB (together at most {got['peak_rss_mb'] + 2 * worker_mb:.0f} MB)", flush=True)
    yield {"case": label + (f", median of {repeat}" if repeat > 1 else ""), "seconds": got["seconds"],
           "peak_rss_mb": got["peak_rss_mb"], "worker_peak_rss_mb": worker_mb, "floor_seconds": floor,
           "ratio": got["seconds"] / floor, "runs": [{"clean_seconds": c["seconds"], "floor_seconds": f["seconds"]}
                                                     for c, f in zip(cleans, floors)]}
