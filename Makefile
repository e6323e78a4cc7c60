# The two commands of the README:
#   make demo   create the environment, generate the demo data and run the demo pipeline
#   make test   create the environment and run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.evalkit-installed

.PHONY: demo test env lab bench clean-generated docs

env: $(STAMP)

# (Re)install when pyproject.toml changes; create the venv when it is missing.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/evalkit demo

test: $(STAMP)
	$(PY) -m pytest

lab: $(STAMP)
	$(PY) -m pip install --quiet -e ".[test,lab]"
	$(VENV)/bin/jupyter lab notebooks/

bench: $(STAMP)
	$(PY) benchmarks/run.py

docs: $(STAMP)
	$(VENV)/bin/evalkit dictionary --out docs/data_dictionary.md

clean-generated:
	rm -rf data_clean/* reports/* data_raw/demo
