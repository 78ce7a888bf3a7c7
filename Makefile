# One command to run the workflow, one to test it; both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Same hash seed for the run that stores notebook outputs and for nbval's re-run.
export PYTHONHASHSEED := 0
# The offline copies of the public data sets, when they sit beside the project.
SHARED_DATASETS := $(abspath ../shared/datasets)
ifneq ($(wildcard $(SHARED_DATASETS)),)
export DATA_CACHE_DIR ?= $(SHARED_DATASETS)
endif

.PHONY: install run test unit nbval notebooks lab lint clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m shared.pipeline --task sentiment

test: $(STAMP)
	$(PY) -m pytest tests
	$(PY) -m pytest --nbval notebooks --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

unit: $(STAMP)
	$(PY) -m pytest tests -m "not e2e"

nbval: $(STAMP)
	$(PY) -m pytest --nbval notebooks --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

notebooks: $(STAMP)
	$(PY) -m shared.pipeline --regenerate-notebooks

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

lint: $(STAMP)
	$(VENV)/bin/ruff check shared tests benchmarks notebooks

clean:
	rm -rf data/sentiment data/spam models/sentiment models/spam reports
