# Huiyuan: `make run` (sandbox service with demo data and the scheduler), `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
export FLASK_APP := wsgi

.PHONY: run test test-postgres test-sqlite lint format venv migrate bench clean test-console

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==24.3.1
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

## The service on a bare machine: SQLite, embedded Redis, built-in WeChat sandbox, demo data,
## the API and the scheduler process, in one command.
run: venv
	SANDBOX=1 $(BIN)/flask sandbox run

## The tests: lint, then the suite on PostgreSQL and Redis, then again on SQLite.
test: venv lint test-postgres test-sqlite

test-postgres: venv
	TEST_DB=postgres $(BIN)/python -m pytest $(PYTEST_ARGS)

test-sqlite: venv
	TEST_DB=sqlite $(BIN)/python -m pytest -m "not postgres" $(PYTEST_ARGS)

## Only the console's browser tests (need /usr/bin/chromium; with CI set they fail without it).
test-console: venv
	TEST_DB=sqlite $(BIN)/python -m pytest tests/console $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check app jobs tests bench wsgi.py
	$(BIN)/ruff format --check app jobs tests bench wsgi.py

format: venv
	$(BIN)/ruff check --fix app jobs tests bench wsgi.py
	$(BIN)/ruff format app jobs tests bench wsgi.py

migrate: venv
	SANDBOX=1 $(BIN)/flask db upgrade

clean:
	rm -rf $(VENV) instance .pytest_cache

## Regenerate the initial migration from the models (only before it has landed anywhere).
migration-initial: venv
	rm -f migrations/versions/*.py instance/migrate.sqlite3
	mkdir -p instance
	SANDBOX=1 DATABASE_URL=sqlite:///$(CURDIR)/instance/migrate.sqlite3 $(BIN)/flask db upgrade
	SANDBOX=1 DATABASE_URL=sqlite:///$(CURDIR)/instance/migrate.sqlite3 $(BIN)/flask db migrate -m "$(or $(MSG),initial schema)"
	rm -f instance/migrate.sqlite3
