# The two commands of the README. Each creates .venv from the pinned constraints when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL ?= WARNING

.PHONY: demo test lint format bench clean browser alertmanager

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

## demo: the main job on the embedded default (SQLite store, Prefect's ephemeral API)
demo: $(STAMP)
	OPSBINDER_HOME=$${OPSBINDER_HOME:-$(CURDIR)/.demo} $(BIN)/opsbinder demo

## browser: Debian's Chromium for the browser tests (Playwright drives it; never `playwright install`)
browser:
	@test -x /usr/bin/chromium || { apt-get update && apt-get install -y chromium; }

## alertmanager: Debian's Prometheus Alertmanager, which the webhook receiver's test routes through
alertmanager:
	@test -x /usr/bin/prometheus-alertmanager || { apt-get update && apt-get install -y prometheus-alertmanager; }

## test: the whole suite, SQLite and PostgreSQL (CI=true fails instead of skipping PostgreSQL)
test: $(STAMP) browser alertmanager
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .demo .pytest_cache
