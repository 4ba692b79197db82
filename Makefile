# Conversa — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SQLITE_TEST_URL := sqlite:///$(CURDIR)/var/test.sqlite3
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test install install-test services chromium lint format test-sqlite test-postgres clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## run: install, migrate, load the demo (once) and serve on http://127.0.0.1:8000
run: install
	@mkdir -p var
	$(BIN)/conversa migrate --noinput -v 0
	$(BIN)/conversa demo
	$(BIN)/conversa serve

## test: lint, then the whole suite on SQLite and again on PostgreSQL + Redis
test: install-test services chromium lint
	@mkdir -p var
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite:
	@echo "== tests on SQLite (in-memory channel layer)"
	DATABASE_URL=$(SQLITE_TEST_URL) REDIS_URL= CONVERSA_LOGS=var/test-artifacts/sqlite $(BIN)/pytest

test-postgres:
	@echo "== tests on PostgreSQL + Redis"
	DATABASE_URL=$(PG_TEST_URL) REDIS_URL=$(REDIS_TEST_URL) CONVERSA_LOGS=var/test-artifacts/postgres $(BIN)/pytest

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

services:
	@scripts/services.sh

chromium:
	@scripts/chromium.sh

clean:
	rm -rf var .pytest_cache
