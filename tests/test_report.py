"""evalkit.report: record, run, render, publish; `evalkit run` / `evalkit publish`.

The demo's studies are run once per session (the ``demo_reports`` fixture in conftest.py);
the tests of failures and of the kernel use tiny notebooks of their own.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import numpy as np
import pytest

from evalkit import report
from evalkit.cli import main
from evalkit.dataset import read_manifest
from evalkit.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


# -- helpers ------------------------------------------------------------------------------------

def _study(folder: Path, name: str, *cells: str, params: str = 'dataset = "demo"\nlang = "ru"\nsize = 1') -> Path:
    """A tiny study notebook: a parameters cell, then code cells ('# ...' first lines are markdown)."""
    nb = nbformat.v4.new_notebook()
    first = nbformat.v4.new_code_cell(params)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [first]
    for src in cells:
        tag = re.match(r"<!-- (lang-\w+) -->\n", src)
        cell = nbformat.v4.new_markdown_cell(src[tag.end():]) if tag else nbformat.v4.new_code_cell(src)
        if tag:
            cell.metadata["tags"] = [tag.group(1)]
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.metadata["evalkit"] = {"title_ru": "Проба", "title_en": "Probe"}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


class _Links(HTMLParser):
    """Every URL-bearing attribute of a page, with its tag."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "data", "srcset", "poster", "action") and value is not None:
                self.urls.append((tag, name, value))
            if name == "id" and value:
                self.ids.add(value)


def _links(page: str) -> _Links:
    parser = _Links()
    parser.feed(page)
    return parser


def _run_dirs(reports: Path) -> list[Path]:
    return sorted(p for p in reports.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _run(demo_reports, study: str, lang: str) -> Path:
    return demo_reports.path / f"{study}-{lang}-demo"


# -- record ---------------------------------------------------------------------------------------

def test_record_interactively_keeps_values_in_memory_and_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.delenv(report.RESULTS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(report, "_recorded", {})
    assert report.record("families", np.int64(26), label_ru="Семей", n=np.int32(32)) == 26
    assert type(report.record("share", np.float64(0.8125), ci=(np.float64(0.64), 0.91))) is float
    assert report.record("nothing", float("nan")) is None
    assert report.record("ok", np.bool_(True)) is True
    got = report.recorded()
    assert got["families"] == {"value": 26, "label_ru": "Семей", "n": 32}
    assert got["share"]["ci"] == [0.64, 0.91]
    assert list(tmp_path.iterdir()) == []


def test_record_under_a_run_rewrites_results_json_and_a_repeated_name_replaces(monkeypatch, tmp_path):
    results = tmp_path / "results.json"
    monkeypatch.setenv(report.RESULTS_ENV, str(results))
    monkeypatch.setattr(report, "_recorded", {})
    report.record("a", 1, label_en="A")
    assert json.loads(results.read_text(encoding="utf-8")) == {"a": {"value": 1, "label_en": "A"}}
    report.record("b", "text", unit="%")
    report.record("a", 2.5, label_ru="А")
    data = json.loads(results.read_text(encoding="utf-8"))
    assert list(data) == ["a", "b"] and data["a"] == {"value": 2.5, "label_ru": "А"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]  # no temporary files left


@pytest.mark.parametrize("call, error", [
    (lambda: report.record("x", [1, 2]), TypeError),
    (lambda: report.record("x", np.array([1, 2])), TypeError),
    (lambda: report.record("x", 1, ci=(1, 2, 3)), ValueError),
    (lambda: report.record("x", 1, n=2.5), TypeError),
    (lambda: report.record("not a name", 1), ValueError),
])
def test_record_refuses_what_is_not_a_headline_number(monkeypatch, call, error):
    monkeypatch.delenv(report.RESULTS_ENV, raising=False)
    with pytest.raises(error):
        call()


# -- parameters, names, fingerprints ----------------------------------------------------------------

def test_parameters_are_read_like_papermills_cli():
    got = report.parse_parameters(["n=10", "share=0.5", "flag=true", "years=[2019, 2020]", "org=org_a",
                                   "answer=no", "empty=", "nothing=null", "day=2020-01-01", "eq=a=b"])
    assert got == {"n": 10, "share": 0.5, "flag": True, "years": [2019, 2020], "org": "org_a", "answer": "no",
                   "empty": "", "nothing": None, "day": "2020-01-01", "eq": "a=b"}
    with pytest.raises(UserError, match="name=value"):
        report.parse_parameters(["min_cell"])


def test_run_names_tell_languages_datasets_and_parameters_apart():
    defaults = {"dataset": '"demo"', "lang": '"ru"', "min_cell": "5", "years": "[]"}
    ru = report.run_name("00_data_quality", "ru", "demo", {}, defaults)
    assert ru == "00_data_quality-ru-demo"
    assert report.run_name("00_data_quality", "en", "demo", {}, defaults) == "00_data_quality-en-demo"
    assert report.run_name("00_data_quality", "ru", "/data/clean/org a", {}, defaults) == "00_data_quality-ru-org_a"
    assert report.run_name("00_data_quality", "ru", "demo", {"min_cell": 5, "years": []}, defaults) == ru
    a = report.run_name("00_data_quality", "ru", "demo", {"min_cell": 10}, defaults)
    b = report.run_name("00_data_quality", "ru", "demo", {"min_cell": 11}, defaults)
    assert a.startswith(ru + "-") and len(a) == len(ru) + 9 and a != b


def test_the_dataset_fingerprint_changes_with_any_table(demo_dataset):
    manifest = read_manifest(demo_dataset)
    fp = report.dataset_fingerprint(manifest)
    assert re.fullmatch(r"[0-9a-f]{64}", fp) and report.dataset_fingerprint(json.loads(json.dumps(manifest))) == fp
    manifest["tables"]["children"]["sha256"] = "0" * 64
    assert report.dataset_fingerprint(manifest) != fp


# -- user errors: caught before any kernel starts ----------------------------------------------------

@pytest.fixture
def no_kernel(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was started")
    monkeypatch.setattr(report, "_execute", refuse)


def test_an_unknown_study_lists_the_studies(tmp_path, no_kernel, demo_dataset):
    with pytest.raises(UserError, match="00_data_quality") as err:
        report.run_study("01_nope", dataset=demo_dataset, reports_dir=tmp_path)
    assert "no study '01_nope'" in str(err.value)
    assert report.study_path("data_quality") == ROOT / "notebooks" / "00_data_quality.ipynb"


def test_an_unknown_parameter_names_the_allowed_ones(tmp_path, no_kernel, demo_dataset):
    with pytest.raises(UserError, match="no parameter 'min_cel'.*dataset, lang, publish, min_cell"):
        report.run_study("00_data_quality", dataset=demo_dataset, parameters={"min_cel": 3}, reports_dir=tmp_path)
    with pytest.raises(UserError, match="--lang"):
        report.run_study("00_data_quality", dataset=demo_dataset, parameters={"lang": "en"}, reports_dir=tmp_path)
    with pytest.raises(UserError, match="lang must be one of ru, en"):
        report.run_study("00_data_quality", dataset=demo_dataset, lang="de", reports_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_dataset_is_a_user_error_before_any_kernel_starts(tmp_path, no_kernel):
    with pytest.raises(UserError, match="no dataset"):
        report.run_study("00_data_quality", dataset=tmp_path / "nothing_here", reports_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_the_cli_turns_user_errors_into_one_message_and_exit_code_2(tmp_path, capsys, no_kernel, demo_dataset):
    assert main(["run", "01_nope", "--reports", str(tmp_path)]) == 2
    assert main(["run", "00_data_quality", "--dataset", str(demo_dataset), "-p", "bogus=1",
                 "--reports", str(tmp_path)]) == 2
    assert main(["run", "00_data_quality", "-p", "bogus", "--reports", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "evalkit: error: нет такого исследования / no study '01_nope'" in err
    assert "no parameter 'bogus'" in err and "expected name=value" in err
    assert "Traceback" not in err


# -- the kernel: always evalkit's own interpreter ------------------------------------------------------

def _decoy_kernels(tmp_path: Path, monkeypatch) -> None:
    """A python3 (and an evalkit) kernel spec pointing at an interpreter that does not exist,
    where Jupyter looks first: JUPYTER_PATH and the user's data dir."""
    for where in ("jupyter_path", "data_dir"):
        for name in ("python3", "evalkit"):
            spec = tmp_path / where / "kernels" / name
            spec.mkdir(parents=True)
            (spec / "kernel.json").write_text(json.dumps({
                "argv": ["/nonexistent/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "decoy", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter_path"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data_dir"))


def test_a_study_runs_on_evalkits_interpreter_whatever_kernel_specs_the_user_has(tmp_path, monkeypatch,
                                                                                   demo_dataset):
    import papermill as pm

    monkeypatch.delenv(report.RESULTS_ENV, raising=False)
    notebooks = tmp_path / "notebooks"
    nb = _study(notebooks, "90_probe",
                "<!-- lang-ru -->\n# Проба\n\n## Раздел",
                "<!-- lang-en -->\n# Probe\n\n## Section",
                "import os, sys, warnings\nfrom evalkit import report\n"
                "report.record('executable', sys.executable)\n"
                "report.record('results_file', os.environ['EVALKIT_RESULTS'])\n"
                "report.record('cwd', os.getcwd())\n"
                "report.record('size', size, label_ru='Размер', label_en='Size', ci=(0, 2 * size), n=3)\n"
                "print('a noisy warning', file=sys.stderr)\nwarnings.warn('another noisy warning')\n"
                "print('shown to the reader')")
    _decoy_kernels(tmp_path, monkeypatch)
    here = Path.cwd()
    with pytest.raises(FileNotFoundError, match="nonexistent"):  # the decoy works: plain papermill takes it
        pm.execute_notebook(str(nb), str(tmp_path / "plain.ipynb"), progress_bar=False, start_timeout=20)

    run = report.run_study("90_probe", dataset=demo_dataset, lang="en", parameters={"size": 4},
                           reports_dir=tmp_path / "reports", notebooks_dir=notebooks)
    results = report.read_results(run)
    assert results["executable"]["value"] == sys.executable
    assert results["results_file"]["value"].endswith("results.json")
    assert results["cwd"]["value"] == str(notebooks) and Path.cwd() == here  # the kernel's folder, not ours
    assert results["size"] == {"value": 4, "label_ru": "Размер", "label_en": "Size", "ci": [0, 8], "n": 3}
    assert report.RESULTS_ENV not in os.environ  # set for the kernel only
    assert run.name == report.run_name("90_probe", "en", "demo", {"size": 4}, {"size": "1"})
    assert sorted(p.name for p in run.iterdir()) == ["90_probe.html", "90_probe.ipynb", "results.json", "run.json"]
    page = (run / "90_probe.html").read_text(encoding="utf-8")
    assert "shown to the reader" in page and "noisy warning" not in page
    assert "Probe" in page and "Проба" not in page and "report.record" not in page
    assert '<html lang="en">' in page


def test_a_failing_study_exits_1_names_the_cell_keeps_the_notebook_and_publishes_nothing(
        tmp_path, monkeypatch, capsys, demo_dataset):
    monkeypatch.delenv(report.RESULTS_ENV, raising=False)
    notebooks, reports = tmp_path / "notebooks", tmp_path / "reports"
    good = ("from evalkit import report\nreport.record('answer', 42)",
            "<!-- lang-ru -->\n# Проба",
            "x = 1")
    _study(notebooks, "91_fragile", *good)
    args = ["run", "91_fragile", "--dataset", str(demo_dataset), "--reports", str(reports),
            "--notebooks", str(notebooks), "--quiet"]
    assert main(args) == 0
    published = reports / "91_fragile-ru-demo"
    assert report.read_results(published)["answer"]["value"] == 42
    capsys.readouterr()

    _study(notebooks, "91_fragile", good[0].replace("42", "43"), good[1], "total = 0\nshare = 1 / total")
    assert main(args) == 1
    err = capsys.readouterr().err
    failed = reports / "_failed" / "91_fragile-ru-demo"
    assert "study 91_fragile failed" in err
    assert "in cell 4: total = 0" in err  # numbered as in the notebook, papermill's injected cell not counted
    assert "ZeroDivisionError: division by zero" in err
    assert str(failed / "91_fragile.ipynb") in err and "nothing was published" in err
    assert "Traceback" not in err
    kept = nbformat.read(failed / "91_fragile.ipynb", as_version=4)
    errors = [o for c in kept.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == ["ZeroDivisionError"]
    text = (failed / "error.txt").read_text(encoding="utf-8")
    assert "ZeroDivisionError" in text and "1 / total" in text
    # the published run is the previous one, untouched; the catalogue does not list the failure
    assert report.read_results(published)["answer"]["value"] == 42
    assert not (published / "kernel.log").exists()
    assert [p.name for p in (reports / ".staging").iterdir()] == []
    report.publish(reports)
    catalogue = json.loads((reports / "catalogue.json").read_text(encoding="utf-8"))
    assert [r["run"] for r in catalogue["runs"]] == ["91_fragile-ru-demo"]
    assert "_failed" not in (reports / "index.html").read_text(encoding="utf-8")


# -- the demo's reports ----------------------------------------------------------------------------

def test_every_study_runs_on_the_demo_in_both_languages(demo_reports):
    assert not demo_reports.failures, "\n\n".join(str(f) for f in demo_reports.failures)
    want = [f"{s}-{lang}-demo" for s in report.studies() for lang in report.LANGS]
    assert {p.name for p in _run_dirs(demo_reports.path)} == set(want)
    assert [p.name for p in demo_reports.runs] == want  # two at a time, returned in the studies' order


def test_each_run_folder_holds_the_page_the_notebook_the_results_and_the_provenance(demo_reports, demo_dataset):
    fingerprint = report.dataset_fingerprint(read_manifest(demo_dataset))
    for run in _run_dirs(demo_reports.path):
        info = json.loads((run / "run.json").read_text(encoding="utf-8"))
        study = info["study"]
        assert sorted(p.name for p in run.iterdir()) == sorted(
            [f"{study}.html", f"{study}.ipynb", "results.json", "run.json"])
        assert info["run"] == run.name and info["lang"] in run.name
        assert info["parameters"]["lang"] == info["lang"]
        assert info["dataset"]["fingerprint"] == fingerprint and info["dataset"]["name"] == "demo"
        assert info["versions"]["evalkit"] and info["versions"]["pandas"] and info["versions"]["python"]
        assert info["started_utc"] <= info["finished_utc"] and info["seconds"] >= 0
        assert isinstance(report.read_results(run), dict)


def test_pages_are_self_contained_and_fetch_nothing_from_the_network(demo_reports):
    for page_path in sorted(demo_reports.path.rglob("*.html")):
        page = page_path.read_text(encoding="utf-8")
        links = _links(page)
        for tag, attr, url in links.urls:
            if tag == "a" and attr == "href":
                continue  # a plain hyperlink in the narrative is the reader's choice to follow
            assert url.startswith(("data:", "#")), (page_path.name, tag, attr, url[:80])
        assert not re.search(r"<script[^>]+src=", page), page_path.name
        assert not re.search(r"@import|url\(\s*['\"]?(?!data:)", page), page_path.name
        assert "require.min.js" not in page and "MathJax.js" not in page and "mermaid" not in page.lower()


def test_a_page_has_one_language_no_code_a_toc_and_the_provenance(demo_reports):
    ru = (_run(demo_reports, "00_data_quality", "ru") / "00_data_quality.html").read_text(encoding="utf-8")
    en = (_run(demo_reports, "00_data_quality", "en") / "00_data_quality.html").read_text(encoding="utf-8")
    assert '<html lang="ru">' in ru and '<html lang="en">' in en
    assert "Сохранность строк" in ru and "Row conservation" not in ru
    assert "Row conservation" in en and "Сохранность строк" not in en
    for page in (ru, en):
        assert "from evalkit import quality" not in page and "report.record" not in page  # code hidden
        assert "injected-parameters" not in page and "min_cell = 5" not in page  # parameters cells removed
        assert len(re.findall(r'<img alt="[^"]+" src="data:image/png;base64,', page)) >= 2
        links = _links(page)
        toc = re.search(r'<nav[^>]*id="evalkit-toc".*?</nav>', page, re.S).group(0)
        anchors = re.findall(r"href='#([^']+)'", toc)
        assert len(anchors) >= 6
        from urllib.parse import unquote
        assert all(unquote(html.unescape(a)) in {unquote(i) for i in links.ids} for a in anchors), anchors
        assert page.index('id="evalkit-toc"') < page.index("<h1") < page.index('id="provenance"')
    assert "Как получен этот отчёт" in ru and "Отпечаток данных" in ru and "Параметры" in ru
    assert "How this report was made" in en and "Data fingerprint" in en
    info = json.loads((_run(demo_reports, "00_data_quality", "ru") / "run.json").read_text(encoding="utf-8"))
    assert info["dataset"]["fingerprint_short"] in ru and f"pandas\u00a0{info['versions']['pandas']}" in ru
    assert "'ru'" in ru and "(по умолчанию)" in ru  # the parameters, given and default


def test_show_code_keeps_the_code(demo_reports):
    run = _run(demo_reports, "00_data_quality", "en")
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    page = report.render_html(run / "00_data_quality.ipynb", info, lang="en", show_code=True)
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "cons = quality.conservation(dataset)" in text and "report.record(" in text
    assert "Row conservation" in text and "Сохранность строк" not in text and "min_cell = 5" not in text


def test_the_catalogue_lists_every_run_with_its_headline_numbers(demo_reports):
    index = (demo_reports.path / "index.html").read_text(encoding="utf-8")
    catalogue = json.loads((demo_reports.path / "catalogue.json").read_text(encoding="utf-8"))
    assert "<html lang='ru'>" in index and "Отчёты evalkit" in index
    assert {r["run"] for r in catalogue["runs"]} == {p.name for p in _run_dirs(demo_reports.path)}
    hrefs = [url for tag, attr, url in _links(index).urls if tag == "a"]
    assert sorted(hrefs) == sorted(r["href"] for r in catalogue["runs"])
    for href in hrefs:
        assert not href.startswith(("/", "http")) and (demo_reports.path / href).is_file(), href
    dq = next(r for r in catalogue["runs"] if r["run"] == "00_data_quality-ru-demo")
    assert dq["title"]["ru"] == "Качество данных" and dq["dataset"]["fingerprint_short"] in index
    assert dq["results"]["all_balanced"]["value"] is True
    assert "Строк прочитано" in index and "Все листы сходятся" in index
    rows = dq["results"]["rows_read"]["value"]
    assert f"{rows:,}".replace(",", "\u202f") in index  # Russian digit grouping


def test_the_catalogue_in_english_and_with_no_runs(demo_reports, tmp_path):
    copy = tmp_path / "reports"
    shutil.copytree(demo_reports.path, copy)
    index = report.publish(copy, lang="en").read_text(encoding="utf-8")
    assert "<html lang='en'>" in index and "Rows read" in index and "Data quality" in index
    assert "Строк прочитано" not in index
    empty = report.publish(tmp_path / "empty").read_text(encoding="utf-8")
    assert "Запусков пока нет" in empty
    assert json.loads((tmp_path / "empty" / "catalogue.json").read_text(encoding="utf-8"))["runs"] == []


def test_a_rerun_replaces_the_run_of_the_same_name(demo_reports, demo_dataset, tmp_path, monkeypatch):
    """The executed notebook is swapped in whole; no kernel needed to check the swap."""
    reports = tmp_path / "reports"
    shutil.copytree(demo_reports.path, reports)

    def fake_execute(notebook, out, parameters, results, timeout, cell_progress=None):
        shutil.copy(reports / "00_data_quality-ru-demo" / "00_data_quality.ipynb", out)
        results.write_text(json.dumps({"rows_read": {"value": -1}}), encoding="utf-8")

    monkeypatch.setattr(report, "_execute", fake_execute)
    run = report.run_study("00_data_quality", dataset=demo_dataset, reports_dir=reports)
    assert report.read_results(run) == {"rows_read": {"value": -1}}
    assert sorted(p.name for p in (reports / ".staging").iterdir()) == []


_EMBEDDED = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+|\"image/(?:png|jpeg)\": \"[A-Za-z0-9+/=\\n]*\""
                       r"|<style[^>]*>.*?</style>", re.S)


def test_published_reports_hold_no_personal_data(demo_reports, demo_personal_data):
    texts = []
    for f in sorted(demo_reports.path.rglob("*")):
        if f.is_file() and f.suffix in {".html", ".json", ".ipynb", ".txt"}:
            # embedded figures (base64) and the template's CSS are left out: not data, and long to scan
            texts.append(html.unescape(_EMBEDDED.sub("", f.read_text(encoding="utf-8"))))
    assert len(texts) >= 5
    blob = "\n".join(texts)
    found = [n for n in demo_personal_data if n in blob]
    assert not found, found[:5]


# -- the kernel: started early, warmed with the notebook's imports, always stopped ----------------

def test_notebook_imports_lists_what_a_notebook_imports_before_it_does_anything_else(tmp_path):
    nb = _study(tmp_path, "92_imports", '"""A study."""\nimport pandas as pd, json\nfrom evalkit import report, labels',
                "from .relative import x\nfrom collections import *\nyears: list = [2022, 2023]",
                "import os\nos.environ['OMP_NUM_THREADS'] = '1'\nimport numpy")
    # numpy comes after the notebook sets its threads: importing it first would change the run
    assert report.notebook_imports(nb) == ["pandas", "json", "evalkit", "evalkit.report", "evalkit.labels",
                                           "collections", "os"]
    stops = _study(tmp_path, "93_imports", "import sys\nsys.path.insert(0, 'lib')\nimport mine")
    assert report.notebook_imports(stops) == ["sys"]
    magic = _study(tmp_path, "94_imports", "%matplotlib inline", "import numpy")
    assert report.notebook_imports(magic) == []
    # the studies' own imports are all found (the parameters cell comes first)
    assert "evalkit.indicators" in report.notebook_imports(ROOT / "notebooks" / "10_indicators.ipynb")


def _kernels_of_this_process() -> list:
    import psutil

    return [p for p in psutil.Process().children(recursive=True)
            if any("ipykernel" in part for part in p.cmdline())]


def test_the_warm_up_binds_no_name_and_leaves_import_errors_to_the_cell(tmp_path, demo_dataset, monkeypatch):
    monkeypatch.delenv(report.RESULTS_ENV, raising=False)
    notebooks, reports = tmp_path / "notebooks", tmp_path / "reports"
    _study(notebooks, "93_warm",
           "from evalkit import report\n"
           "report.record('bound', int(any(n in globals() for n in ('json', 'statistics', '_evalkit_warm_up'))))",
           "import json, statistics")
    run = report.run_study("93_warm", dataset=demo_dataset, reports_dir=reports, notebooks_dir=notebooks)
    assert report.read_results(run)["bound"]["value"] == 0  # imported by the warm-up, yet not defined
    _study(notebooks, "94_missing", "x = 1", "import evalkit_no_such_module")
    with pytest.raises(report.StudyFailed) as failed:
        report.run_study("94_missing", dataset=demo_dataset, reports_dir=reports, notebooks_dir=notebooks)
    assert "ModuleNotFoundError" in str(failed.value) and "in cell 3" in str(failed.value)
    assert _kernels_of_this_process() == []


@pytest.mark.parametrize("cell, timeout, says", [
    ("import os\nos._exit(3)", None, "kernel died"),
    ("import time\ntime.sleep(120)", 3, "timed out"),
])
def test_a_dead_or_stuck_kernel_fails_the_study_and_no_kernel_is_left_running(
        tmp_path, demo_dataset, monkeypatch, cell, timeout, says):
    monkeypatch.delenv(report.RESULTS_ENV, raising=False)
    notebooks, reports = tmp_path / "notebooks", tmp_path / "reports"
    _study(notebooks, "95_stuck", "x = 1", cell)
    with pytest.raises(report.StudyFailed) as failed:
        report.run_study("95_stuck", dataset=demo_dataset, reports_dir=reports, notebooks_dir=notebooks,
                         timeout=timeout)
    assert says in str(failed.value).lower() and "in cell 3: " in str(failed.value)  # the cell that hung or died
    assert (reports / "_failed" / "95_stuck-ru-demo" / "95_stuck.ipynb").is_file()
    assert not (reports / "95_stuck-ru-demo").exists()
    assert _kernels_of_this_process() == []


def test_a_long_run_says_which_cell_is_starting(tmp_path, demo_dataset, monkeypatch):
    monkeypatch.delenv(report.RESULTS_ENV, raising=False)
    notebooks = tmp_path / "notebooks"
    _study(notebooks, "96_long", "<!-- lang-ru -->\n# Проба", "import time\ntime.sleep(0.1)", "x = 1")

    def cells_said(after: float) -> list[str]:
        said: list[str] = []
        monkeypatch.setattr(report, "CELL_PROGRESS_AFTER", after)
        report.run_study("96_long", dataset=demo_dataset, reports_dir=tmp_path / "reports", notebooks_dir=notebooks,
                         progress=said.append)
        return [m for m in said if ": cell " in m]

    assert cells_said(3600) == []  # a quick run: no cell messages
    # numbered as in the notebook: the markdown cell counts, papermill's injected one does not
    assert cells_said(0) == ['96_long (ru): cell 1/4: dataset = "demo"', "96_long (ru): cell 3/4: import time",
                             "96_long (ru): cell 4/4: x = 1"]
