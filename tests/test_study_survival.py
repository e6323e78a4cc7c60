"""The survival study (notebooks/30_survival.ipynb) runs through `evalkit run` on the demo in both languages."""

from __future__ import annotations

import re

import pytest

from evalkit import frames, report, survival
from evalkit.dataset import read_dataset


@pytest.fixture(scope="module")
def runs(demo_reports):
    """The session's demo runs (conftest.py: every study, both languages, default parameters —
    publish=True, so small counts are hidden)."""
    return {lang: demo_reports.run("30_survival", lang) for lang in ("ru", "en")}


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_survival_study_records_what_the_package_computes(runs, demo_dataset, lang):
    results = report.read_results(runs[lang])
    tables = read_dataset(demo_dataset)
    tte = frames.time_to_event(tables, origin="closure")
    km = survival.kaplan_meier(tte).summary.set_index("time")
    for h in (6, 12, 36):
        assert results[f"km_{h}m"]["value"] == pytest.approx(km.loc[h, "survival"])
        assert results[f"km_{h}m"]["ci"] == pytest.approx([km.loc[h, "ci_low"], km.loc[h, "ci_high"]])
        assert results[f"bounds_{h}m_worst"]["value"] <= results[f"km_{h}m"]["value"] <= results[f"bounds_{h}m_best"]["value"]
    assert results["children"]["value"] == len(tte)
    by = survival.kaplan_meier(tte, group="prior_removal")
    for h in (6, 12, 36):
        with_ = by.summary[(by.summary["group"] == True) & (by.summary["time"] == h)].iloc[0]  # noqa: E712
        assert results[f"km_{h}m_with_prior_removal"]["value"] == pytest.approx(with_["survival"])
    assert results["logrank_p"]["value"] == pytest.approx(by.logrank.iloc[0]["p"])
    shr = results["shr_removal_prior_removal"]
    assert shr["ci"][0] < shr["value"] < shr["ci"][1]
    hr = results["hr_prior_removal"]
    assert hr["ci"][0] < hr["value"] < hr["ci"][1]


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_survival_page_is_in_the_language(runs, lang):
    html = next(runs[lang].glob("*.html")).read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", " ", html)
    if lang == "ru":
        assert "Простой подсчет и Каплан–Майер рядом" in text and "The simple count and Kaplan" not in text
    else:
        assert "The simple count and Kaplan–Meier side by side" in text and "Простой подсчет" not in text
    assert html.count("data:image/png;base64") >= 4
