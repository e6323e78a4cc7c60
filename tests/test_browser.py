"""The published reports in a real browser: Debian's headless Chromium, driven by selenium.

The demo's reports (the session fixture ``demo_reports``: every study in Russian and
English, published) are served from 127.0.0.1 and opened from the catalogue: no console
errors, every figure loads, the page is in the language asked for, nothing is fetched from
anywhere but the page's own folder. Full-page screenshots go to tests/artifacts/browser/.

Chromium is a requirement, not an option: `make test` installs it (apt-get install
chromium chromium-driver), and without it these tests fail saying so.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

#: Debian's packages; elsewhere point these variables at a Chromium and its matching chromedriver
CHROMIUM = Path(os.environ.get("EVALKIT_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("EVALKIT_CHROMEDRIVER", "/usr/bin/chromedriver"))
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "browser"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1024")
CYRILLIC = re.compile("[А-Яа-яЁё]")

_STATE = """
const imgs = [...document.images];
return {
  lang: document.documentElement.lang,
  images: imgs.length,
  broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => (i.getAttribute('src') || '').slice(0, 60)),
  headings: [...document.querySelectorAll('h1, h2, h3')].map(h => h.innerText.trim()),
  text: document.body.innerText,
  resources: performance.getEntriesByType('resource').map(r => r.name),
};
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request lines in the test output
        pass


@pytest.fixture(scope="module")
def served(demo_reports):
    """The demo's reports folder over http://127.0.0.1:<free port>/."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(demo_reports.path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Headless Chromium through chromedriver, its console log readable (goog:loggingPrefs).

    Session-scoped so that, asked for first, it fails before the demo's studies are run."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        pytest.fail(f"the browser tests need Debian's Chromium and chromedriver ({', '.join(missing)} missing): "
                    "install them with `sudo apt-get install chromium chromium-driver` "
                    "(`make test` does it when run as root or with sudo)", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def _screenshot(driver, name: str) -> Path:
    """The whole page, not just the window (Chrome DevTools' captureBeyondViewport)."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 30_000), "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot",
                                  {"format": "png", "captureBeyondViewport": True, "clip": clip})
    path = ARTIFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def _visit(driver, url: str, name: str) -> dict:
    """Open a page, wait for it and its images, and say what the browser saw."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return document.readyState === 'complete' && [...document.images].every(i => i.complete)"))
    state = driver.execute_script(_STATE)
    state["errors"] = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    state["screenshot"] = _screenshot(driver, name)
    return state


def _problems(state: dict, base: str, lang: str) -> list[str]:
    """Everything wrong with a page, in words (empty when it is fine)."""
    out = []
    if state["errors"]:
        out.append(f"console errors: {state['errors']}")
    if state["broken"]:
        out.append(f"images that did not load: {state['broken']}")
    if state["lang"] != lang:
        out.append(f"<html lang> is {state['lang']!r}, not {lang!r}")
    foreign = [r for r in state["resources"] if not r.startswith((base, "data:"))]
    if foreign:
        out.append(f"fetched from elsewhere: {foreign}")
    return out


def test_the_catalogue_opens_cleanly_in_chromium(browser, served, demo_reports):
    state = _visit(browser, served + "index.html", "index")
    assert not _problems(state, served, "ru"), _problems(state, served, "ru")
    assert state["headings"][0] == "Отчёты evalkit"
    assert "Строк прочитано" in state["text"] and "Rows read" not in state["text"]
    assert state["screenshot"].stat().st_size > 10_000


def test_every_study_page_opens_cleanly_in_chromium_in_its_language(browser, served, demo_reports):
    catalogue = json.loads((demo_reports.path / "catalogue.json").read_text(encoding="utf-8"))
    lang_of = {served + r["href"]: r["lang"] for r in catalogue["runs"]}
    browser.get(served + "index.html")
    links = browser.execute_script("return [...document.querySelectorAll('article.run h3 a')].map(a => a.href)")
    assert sorted(links) == sorted(lang_of) and len(links) >= 2, (links, sorted(lang_of))
    problems = {}
    for url in links:
        lang, name = lang_of[url], url.rsplit("/", 2)[-2]
        state = _visit(browser, url, name)
        found = _problems(state, served, lang)
        if state["images"] == 0:
            found.append("no figures")
        cyrillic = [h for h in state["headings"] if CYRILLIC.search(h)]
        if lang == "ru":
            if not cyrillic or "Содержание" not in state["text"] or "Как получен этот отчёт" not in state["text"]:
                found.append(f"not Russian: headings {state['headings'][:5]}")
        elif cyrillic or "Contents" not in state["text"] or "How this report was made" not in state["text"]:
            found.append(f"not English: Cyrillic headings {cyrillic[:5]}")
        if name.startswith("00_data_quality") and state["images"] < 2:
            found.append(f"{state['images']} figures, expected the conservation and completeness plots")
        if found:
            problems[name] = found
    assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)
