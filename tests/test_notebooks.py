"""The study notebooks run on the demo dataset through `evalkit run`'s machinery (papermill on
evalkit's kernel, in Russian and English) and record their headline numbers.

The runs come from the session fixture ``demo_reports`` (conftest.py): every study in
notebooks/ in both languages, executed once and shared with tests/test_report.py and
tests/test_browser.py.
"""

from __future__ import annotations

import json

import pytest

from evalkit import quality, report


def _executed(run_dir, study):
    nb = json.loads((run_dir / f"{study}.ipynb").read_text(encoding="utf-8"))
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_data_quality_notebook_runs_on_the_demo(demo_reports, lang):
    run = demo_reports.run("00_data_quality", lang)
    outputs = _executed(run, "00_data_quality")
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "balanced" in html and "False" not in html.split("balanced", 1)[1][:2000]
    assert json.loads((run / "run.json").read_text(encoding="utf-8"))["parameters"]["lang"] == lang


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_data_quality_records_its_headline_numbers(demo_reports, demo_dataset, lang):
    results = report.read_results(demo_reports.run("00_data_quality", lang))
    cons = quality.conservation(demo_dataset)
    assert {k: results[k]["value"] for k in ("rows_read", "rows_kept", "rows_merged", "rows_quarantined")} == {
        "rows_read": int(cons["read"].sum()), "rows_kept": int(cons["kept"].sum()),
        "rows_merged": int(cons["merged"].sum()), "rows_quarantined": int(cons["quarantined"].sum())}
    assert results["rows_read"]["value"] == (results["rows_kept"]["value"] + results["rows_merged"]["value"]
                                             + results["rows_quarantined"]["value"])
    assert results["all_balanced"]["value"] is True
    assert all(e.get("label_ru") and e.get("label_en") for e in results.values())

