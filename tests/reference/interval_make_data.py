"""Write tests/reference/interval_data.csv, the interval-censored reference data.

Run from the repository root: ``.venv/bin/python tests/reference/interval_make_data.py``,
then ``Rscript tests/reference/interval.R`` for R's results. The data are
:func:`evalkit.interval.simulate` with its defaults: 800 families, 1,981 children, marginal
hazard ratios 0.6 (x1, family-level) and 1.5 (x2, child-level), a positive stable family
frailty (index 0.7), visits at about 6, 12 and 36 months, informal contacts, 5% exact dates.
"""

from pathlib import Path

from evalkit.interval import simulate

if __name__ == "__main__":
    out = Path(__file__).with_name("interval_data.csv")
    simulate(n_families=800, seed=2026).to_csv(out, index=False)
    print(out)
