# The two commands of the README:
#   make demo   create the environment, generate the demo data, clean it, run every study
#               (Russian and English) and publish reports/index.html
#   make test   create the environment (and Chromium for the browser tests), run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.evalkit-installed

.PHONY: demo test env browser lab bench clean-generated docs

env: $(STAMP)

# (Re)install when pyproject.toml changes; create the venv when it is missing.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/evalkit demo

test: $(STAMP) browser
	$(PY) -m pytest

# The browser tests (tests/test_browser.py) drive Debian's headless Chromium. It is installed
# with apt-get when missing (with a font that has Cyrillic, for readable screenshots): directly
# as root (CI), through sudo otherwise; without either, the tests fail and say how to install it.
BROWSER_PKGS := chromium chromium-driver fonts-dejavu-core
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
		echo "make: no apt-get here; install Chromium and its chromedriver yourself for the browser tests" >&2; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "make: installing $(BROWSER_PKGS) for the browser tests (apt-get)"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BROWSER_PKGS); } \
			|| echo "make: could not install $(BROWSER_PKGS); the browser tests will fail" >&2; \
	elif command -v sudo >/dev/null 2>&1; then \
		echo "make: installing $(BROWSER_PKGS) for the browser tests (sudo apt-get)"; \
		{ sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BROWSER_PKGS); } \
			|| echo "make: could not install $(BROWSER_PKGS); the browser tests will fail" >&2; \
	else \
		echo "make: the browser tests need Chromium: run 'apt-get install $(BROWSER_PKGS)' as root" >&2; \
	fi

lab: $(STAMP)
	$(PY) -m pip install --quiet -e ".[test,lab]"
	$(VENV)/bin/jupyter lab notebooks/

bench: $(STAMP)
	$(PY) benchmarks/run.py

docs: $(STAMP)
	$(VENV)/bin/evalkit dictionary --out docs/data_dictionary.md

clean-generated:
	rm -rf data_clean/* reports/* data_raw/demo
