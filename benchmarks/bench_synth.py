"""`evalkit synth`: time and peak memory, demo size and register size.

Floor: writing the same canonical rows as CSV with pandas (the unavoidable I/O of
producing text exports of that size), measured in the same run on the generated truth.
"""

from __future__ import annotations

import tempfile


def _synth(out: str, families: int, orgs: int) -> str:
    return (f"from evalkit.synth import synthesize\nfrom evalkit.synth_model import demo_config\n"
            f"synthesize({out!r}, demo_config(families={families}, orgs={orgs}), truth_mc_families=0)\n")


def _floor(out: str) -> str:
    return ("import pandas as pd, pathlib\n"
            f"src = pathlib.Path({out!r}) / '_truth' / 'tables'\n"
            "dst = src.parent / 'floor'\ndst.mkdir(exist_ok=True)\n"
            "for p in sorted(src.glob('*.parquet')):\n"
            "    pd.read_parquet(p).to_csv(dst / (p.stem + '.csv'), sep=';', index=False)\n")


def run(args, measure):
    cases = [("demo (400 families, 2 orgs)", 400, 2)]
    cases.append(("register (410,000 families ≈ 1M children, 20 orgs)", 410_000, 20) if args.full
                 else ("register (41,000 families ≈ 100k children, 4 orgs)", 41_000, 4))
    for label, families, orgs in cases:
        with tempfile.TemporaryDirectory() as tmp:
            out = f"{tmp}/src"
            got = measure(_synth(out, families, orgs))
            floor = measure(_floor(out))
        yield {"case": label, "seconds": got["seconds"], "peak_rss_mb": got["peak_rss_mb"],
               "floor_seconds": floor["seconds"], "ratio": got["seconds"] / floor["seconds"]}
