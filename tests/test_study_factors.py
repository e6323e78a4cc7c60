"""The factor study (notebooks/40_factors.ipynb) runs through `evalkit run` on the demo in both
languages, published (small counts hidden), and records its headline numbers: in Russian for
families (the seed's table), in English for children (GEE with family clusters)."""

from __future__ import annotations

import html
import re

import pytest

from evalkit import factors, report
from evalkit.dataset import read_dataset

IMPUTATIONS = 5  # fewer completed data sets than the study's default: the check itself is tested elsewhere
UNIT = {"ru": "family", "en": "child"}


@pytest.fixture(scope="module")
def runs(demo_dataset, demo_reports, tmp_path_factory):
    """Russian: the session's demo run (conftest.py; default parameters: families, publish=True);
    English: a run of its own for children."""
    ru = demo_reports.run("40_factors", "ru")
    en = report.run_study("40_factors", dataset=demo_dataset, lang="en", reports_dir=tmp_path_factory.mktemp("reports"),
                          parameters={"imputations": IMPUTATIONS, "unit": UNIT["en"]})
    return {"ru": ru, "en": en}


@pytest.fixture(scope="module")
def expected(demo_dataset):
    tables = read_dataset(demo_dataset)
    out = {}
    for lang, unit in UNIT.items():
        fr = factors.frame(tables, unit=unit)
        out[lang] = {"frame": fr, "desc": factors.describe(fr), "logit": factors.logistic(fr),
                     "cox": factors.hazard_ratios(factors.time_frame(tables, fr), factors.DEFAULT_FACTORS)}
    return out


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_factor_study_records_what_the_package_computes(runs, expected, lang):
    results = report.read_results(runs[lang])
    desc, logit, cox = expected[lang]["desc"], expected[lang]["logit"], expected[lang]["cox"]
    hidden = desc.hidden_levels()
    assert results["units"]["value"] == desc.total["n"]
    for term in ("prior_removal", "parent_mental_illness"):
        for level, tag in ((True, "yes"), (False, "no")):
            row = desc.summary[(desc.summary["factor"] == term) & (desc.summary["level"] == level)].iloc[0]
            name = f"share_{term}_{tag}"
            if (term, level) in hidden:
                assert name not in results
                continue
            assert results[name]["value"] == pytest.approx(row["share"])
            assert results[name]["ci"] == pytest.approx([row["ci_low"], row["ci_high"]])
            assert results[name]["n"] == row["n"]
        o = logit.summary.set_index("term").loc[term]
        assert results[f"or_{term}"]["value"] == pytest.approx(o["or"], rel=1e-6)
        assert results[f"or_{term}"]["ci"] == pytest.approx([o["or_low"], o["or_high"]], rel=1e-6)
        h = cox.summary.set_index("term").loc[term]
        assert results[f"hr_{term}"]["value"] == pytest.approx(h["hr"], rel=1e-6)
        assert results[f"hr_{term}"]["ci"] == pytest.approx([h["hr_low"], h["hr_high"]], rel=1e-6)
    # the seed's two factors are both on the page's headline list, with their shares
    assert {"share_prior_removal_yes", "share_parent_mental_illness_yes"} <= set(results)
    assert results["logistic_method"]["value"] == logit.method
    assert all(e.get("label_ru") and e.get("label_en") for e in results.values())


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_factor_page_is_in_the_language_and_hides_small_counts(runs, expected, lang):
    page = next(runs[lang].glob("*.html")).read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    if lang == "ru":
        assert "Доля не сохранивших ребенка по категориям" in text and "Association is not cause" not in text
        assert "Связь — не причина" in text
    else:
        assert "The share who did not keep the child, by category" in text and "Связь — не причина" not in text
        assert "Association is not cause" in text
    assert page.count("data:image/png;base64") >= 2  # the shares and the forest plot
    if UNIT[lang] == "child":
        assert "exchangeable correlation" in text
    else:
        assert "модель GEE для детей не нужна" in text
    # published: the demo's small cells (a handful of single fathers) are hidden, and said to be
    summary = expected[lang]["desc"].summary
    small = summary[(summary["n"] > 0) & (summary["n"] < 5)]
    assert "*" in text and ("hidden" in text if lang == "en" else "скрыто" in text)
    father = summary[(summary["factor"] == "household") & (summary["level"] == "single_father")].iloc[0]
    if 0 < father["events"] < 5:
        label = "одинокий отец" if lang == "ru" else "single father"
        row = re.search(rf"<th[^>]*>{label}</th>(.*?)</tr>", page, re.S)
        assert row is not None
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
        assert cells[1].strip() == "*", cells
    assert len(small) == 0 or "*" in text
