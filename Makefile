# Huiyuan: `make run` (sandbox service with demo data and the scheduler), `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
export FLASK_APP := wsgi

.PHONY: run test lint format venv migrate bench clean test-console

## What runs (make run installs only this), then what tests, lints and benches need.
$(BIN)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==24.3.1
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(BIN)/.installed: $(BIN)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

## The service on a bare machine: embedded PostgreSQL (data in instance/pg), embedded Redis,
## built-in WeChat sandbox, demo data, the API and the scheduler process, in one command.
run: $(BIN)/.runtime
	SANDBOX=1 $(BIN)/flask sandbox run

## The tests: lint, then the suite, once, on PostgreSQL (TEST_PG_URL when it answers, else an
## embedded server of the run's own) and Redis (TEST_REDIS_URL).
test: venv lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Only the console's browser tests (need /usr/bin/chromium; with CI set they fail without it).
test-console: venv
	$(BIN)/python -m pytest tests/console $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check app jobs tests bench wsgi.py
	$(BIN)/ruff format --check app jobs tests bench wsgi.py

format: venv
	$(BIN)/ruff check --fix app jobs tests bench wsgi.py
	$(BIN)/ruff format app jobs tests bench wsgi.py

migrate: $(BIN)/.runtime
	SANDBOX=1 $(BIN)/flask db upgrade

clean:
	rm -rf $(VENV) instance .pytest_cache

