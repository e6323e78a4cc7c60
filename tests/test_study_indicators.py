"""The annual indicators study (notebooks/10_indicators.ipynb) runs through `evalkit run` on the demo."""

from __future__ import annotations

import json
import re

import pytest

from evalkit import indicators, report
from evalkit.dataset import read_dataset


@pytest.fixture(scope="module")
def reported(tmp_path_factory, demo_dataset):
    """What an organisation 'reported': the true 002-1a figures, one wrong numerator, one slipped percent."""
    table = indicators.compute(read_dataset(demo_dataset))
    s = table.summary[(table.summary["org"] == "all") & (table.summary["indicator"] == "002-1a")]
    lines = ["org: all", "indicators:", "  002-1a:"]
    for i, r in enumerate(s.itertuples()):
        num = r.numerator + (1 if i == 0 else 0)                     # the first year: one family too many
        lines.append(f"    {r.year}: '{indicators.format_count_of(num, r.denominator, 'family')}'")
    r = s.iloc[-1]
    # an internal slip: 40% printed for 1 of 3
    lines += ["  002-C:", f"    {int(r['year'])}: {{numerator: 1, denominator: 3, percent: 40}}"]
    path = tmp_path_factory.mktemp("reported") / "reported.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(demo_dataset, demo_reports, reported, tmp_path_factory):
    """Russian: a run of its own with a reported-figures file to reconcile; English: the session's demo run
    (default parameters, publish=True)."""
    ru = report.run_study("10_indicators", dataset=demo_dataset, lang="ru",
                          reports_dir=tmp_path_factory.mktemp("reports"), parameters={"reported": str(reported)})
    en = demo_reports.run("10_indicators", "en")
    return {"ru": ru, "en": en}


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_indicators_study_records_what_the_package_computes(runs, demo_dataset, lang):
    results = report.read_results(runs[lang])
    table = indicators.compute(read_dataset(demo_dataset))
    s = table.summary[table.summary["org"] == "all"]
    latest = s[s["indicator"] == "002-1b"].sort_values("year").iloc[-1]
    assert results["children_home_at_closure"]["value"] == pytest.approx(latest["share"])
    assert results["children_home_at_closure"]["ci"] == pytest.approx([latest["ci_low"], latest["ci_high"]])
    assert results["children_home_at_closure"]["n"] == latest["denominator"]
    assert results["median_support_months"]["value"] > 0
    assert results["dq_cells"]["value"] == int(s["dq"].sum())
    if lang == "ru":
        # the reconciliation found the wrong numerator (and its percent) and the internal slip
        assert results["reconciliation_mismatches"]["value"] >= 2
    else:
        assert "reconciliation_mismatches" not in results


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_indicators_page_is_in_the_language_and_hides_small_cells(runs, demo_dataset, lang):
    html = next(runs[lang].glob("*.html")).read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", " ", html)
    if lang == "ru":
        assert "Таблица для реестра" in text and "The registry table" not in text
        assert re.search(r"\d+ (семей|семьи|семья) из \d+ \(\d+%\)", text)
    else:
        assert "The registry table" in text and "Таблица для реестра" not in text
        assert re.search(r"\d+ of \d+ families \(\d+%\)", text)
    # publish=True: no registry cell with a numerator or complement of 1..4 reaches the page
    table = indicators.compute(read_dataset(demo_dataset))
    s = table.summary
    small = s[(s["numerator"].between(1, 4)) | ((s["denominator"] - s["numerator"]).between(1, 4))]
    assert len(small) > 0
    for r in small.itertuples():
        cell = indicators.format_count_of(r.numerator, r.denominator, r.unit, lang)
        assert cell not in text, cell
    if lang == "ru":
        assert "internal slip" in text and "mismatch" in text


def test_indicators_study_run_metadata(runs):
    info = json.loads((runs["ru"] / "run.json").read_text(encoding="utf-8"))
    assert info["parameters"]["reported"].endswith("reported.yaml")
    assert info["lang"] == "ru" and info["study"] == "10_indicators"


def test_catalogue_shows_shares_as_percentages(demo_reports):
    results = report.read_results(demo_reports.run("10_indicators", "ru"))
    value = results["children_home_at_closure"]["value"]
    page = (demo_reports.path / "index.html").read_text(encoding="utf-8")
    assert f"{100 * value:.1f}%".replace(".", ",") in page
    assert "share" not in re.sub(r"<[^>]+>", " ", page).split()
