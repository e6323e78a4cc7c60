"""The longitudinal study (notebooks/20_longitudinal.ipynb) runs through `evalkit run` on the demo in both
languages, published (small counts hidden), and records what the package computes."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from evalkit import longitudinal, privacy, report
from evalkit.dataset import read_dataset


@pytest.fixture(scope="module")
def runs(demo_reports):
    """The session's demo runs (conftest.py: every study, both languages, default parameters —
    publish=True, so small counts are hidden)."""
    return {lang: demo_reports.run("20_longitudinal", lang) for lang in ("ru", "en")}


@pytest.fixture(scope="module")
def wide(demo_dataset):
    return longitudinal.wide_frame(read_dataset(demo_dataset))


@pytest.fixture(scope="module")
def expected(wide):
    """What the package computes on the demo with the notebook's defaults."""
    covariates = ["case_type", "crisis_centre", "prior_removal", "parent_mental_illness", "parent_substance_use",
                  "parent_intellectual_disability", "housing_at_intake"]
    return {"seeds": longitudinal.seed_indicators(wide).summary.set_index("indicator"),
            "change": longitudinal.distance_travelled(wide, comparisons=[("intake", "closure")]).summary
            .set_index("domain"),
            "mixed": longitudinal.mixed_model(longitudinal.model_frame(wide, covariates=covariates), covariates)}


class _Tables(HTMLParser):
    """Every <table> of a page as a list of rows of cell texts (header cells included)."""

    def __init__(self):
        super().__init__()
        self.tables, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _page(run_dir):
    return next(run_dir.glob("*.html")).read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_longitudinal_study_records_what_the_package_computes(runs, wide, expected, lang):
    results = report.read_results(runs[lang])
    seeds, change = expected["seeds"], expected["change"]
    for name, key in (("share_improved_any", "improved_any"), ("share_moved_up", "moved_up")):
        assert results[name]["value"] == pytest.approx(seeds.loc[key, "share"])
        assert results[name]["ci"] == pytest.approx([seeds.loc[key, "ci_low"], seeds.loc[key, "ci_high"]])
        assert results[name]["n"] == seeds.loc[key, "denominator"]
    for domain in longitudinal.domains_of(wide) + [longitudinal.OVERALL]:
        got = results[f"mean_change_{domain}"]
        assert got["value"] == pytest.approx(change.loc[domain, "mean_change"])
        assert got["ci"] == pytest.approx([change.loc[domain, "ci_low"], change.loc[domain, "ci_high"]])
    effects = expected["mixed"].timepoint_effects().set_index("term")
    for t in ("closure", "followup"):
        got = results[f"mixed_{t}"]
        assert got["value"] == pytest.approx(effects.loc[f"timepoint[{t}]", "estimate"], rel=1e-6)
        assert got["ci"] == pytest.approx([effects.loc[f"timepoint[{t}]", "ci_low"],
                                           effects.loc[f"timepoint[{t}]", "ci_high"]], rel=1e-6)
    assert results["mixed_converged"]["value"] is True
    assert results["children"]["value"] == len(wide)
    assert all(e.get("label_ru") and e.get("label_en") for e in results.values())


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_published_page_hides_small_counts_as_privacy_does(runs, wide, lang):
    page = _page(runs[lang])
    parser = _Tables()
    parser.feed(page)
    assessed = wide[wide["has_intake"] & wide["has_closure"]]
    sup = longitudinal.transitions(assessed, "intake", "closure").suppressed(lang, 5)
    assert (sup.reason.to_numpy() == "primary").any()            # the demo has small cells to hide
    expected = sup.display(lang)
    corner = expected.index.name
    table = next(t for t in parser.tables if any(corner in cell for row in t for cell in row))
    body = [row for row in table if row and row[0] in {str(i) for i in expected.index}]
    assert len(body) == len(expected)
    for row, (_, want) in zip(body, expected.iterrows()):
        assert row[1:] == [str(v) for v in want.tolist()]
    assert privacy.footnote(5, lang) in page


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_longitudinal_page_is_in_the_language(runs, lang):
    page = _page(runs[lang])
    text = re.sub(r"<[^>]+>", " ", page)
    headings = re.findall(r"<h[1-3][^>]*>(.*?)</h[1-3]>", page, re.S)
    if lang == "ru":
        assert "Переходы между уровнями" in text and "Moving between levels" not in text
    else:
        assert "Moving between levels" in text and "Переходы между уровнями" not in text
        assert not [h for h in headings if re.search(r"[А-Яа-яЁё]", re.sub(r"<[^>]+>", "", h))]
    assert page.count("data:image/png;base64") >= 6
