# `make run` and `make test` do all their own set-up: a virtual environment in .venv,
# and for the tests Debian's chromium, a checkov environment and the Lambda zip.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8501
# pytest-xdist workers: the tests mostly wait on their embedded moto server (one per worker),
# so more workers than the machine's 2 cores pay; `make test PYTEST_WORKERS=1` runs in one process.
PYTEST_WORKERS ?= 3
PYTEST_PARALLEL = $(if $(filter-out 0 1,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS),-p no:xdist)
# The fast lane: everything but the browser, Terraform/checkov and the benchmark/reliability runs.
FAST_TESTS := -m "not slow" tests/unit tests/integration tests/cli tests/app

.PHONY: run test test-fast screenshots lint format stack reset bench clean browser

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed: $(VENV)/.runtime requirements-dev.txt
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

## run: start the app on the embedded AWS (or on AWS with ENERGY_BACKEND=aws)
run: $(VENV)/.runtime
	$(VENV)/bin/streamlit run streamlit_app.py --server.port $(PORT) --server.headless true

## stack: run the embedded AWS alone on ENERGY_LOCAL_PORT (default 4566) for the CLI and other apps
stack: $(VENV)/.runtime
	$(PY) -m local_aws

## reset: forget everything the embedded AWS kept (ENERGY_DATA_DIR, default .energy-data/): the next start is empty
reset: $(VENV)/.runtime
	$(PY) -m local_aws --reset

## test: lint, then every test (unit, integration, app, browser, infra, reliability, benchmarks --quick)
test: $(VENV)/.installed browser test-prereqs
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest $(PYTEST_PARALLEL)

## test-fast: lint, then unit, integration, CLI and app tests (no browser, no Terraform; about a minute)
test-fast: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest $(PYTEST_PARALLEL) $(FAST_TESTS)

## screenshots: run the browser journey and keep its screenshots in docs/screenshots (tests write build/screenshots)
screenshots: $(VENV)/.installed browser
	SCREENSHOTS_DIR=docs/screenshots $(PY) -m pytest -p no:xdist tests/e2e

## browser: Debian's chromium for the end-to-end tests (never Playwright's own download)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf build .pytest_cache .ruff_cache

-include mk/*.mk

# Fragments in mk/ add their own prerequisites of `make test` to this target.
test-prereqs:
.PHONY: test-prereqs
