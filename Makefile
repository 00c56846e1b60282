# Developer entry points. `make run` for the embedded demo (SQLite, eager tasks),
# `make test` for the suite on its own throwaway PostgreSQL and Redis.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# The port `make run` serves on: `make run PORT=8001` or `PORT=8001 make run`.
PORT ?= 8000
VENV_STAMP := $(VENV)/.installed
ASSETS_STAMP := node_modules/.installed

.PHONY: help venv assets system-packages run test lint clean

help:
	@echo "make run     demo portal on http://127.0.0.1:$(PORT) (SQLite, demo users; PORT=...)"
	@echo "make test    installs the Debian packages it needs, then the test suite with its own"
	@echo "             PostgreSQL and Redis  (PYTEST_ARGS='-k ...')"
	@echo "make lint    ruff check"
	@echo "make venv | assets | clean"

venv: $(VENV_STAMP)
$(VENV_STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# Debian's postgresql, redis-server, chromium and fonts for `make test`: installs the missing ones
# (as root, or through passwordless sudo); does nothing when all are there.
system-packages:
	scripts/install-system-packages

assets: $(ASSETS_STAMP)
$(ASSETS_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: export DJANGO_DEBUG = 1
run: export PORT := $(PORT)
run: venv assets
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py sync_techniques
	$(PY) manage.py load_demo
	$(PY) manage.py load_doi_demo
	$(PY) manage.py load_logbook_demo
	$(PY) manage.py load_shipping_demo
	@echo "Serving the portal on http://127.0.0.1:$(PORT)/ (Ctrl-C to stop)"
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

# The whole suite on PostgreSQL and Redis, then again on SQLite with eager tasks (the embedded
# default of `make run`) but for the tests that need a worker, a browser or PostgreSQL itself.
SQLITE_TEST_DB := $(CURDIR)/var/test-sqlite.sqlite3
test: system-packages venv assets
	scripts/with-test-services $(VENV)/bin/pytest $(PYTEST_ARGS)
	mkdir -p var
	DATABASE_URL=sqlite:///$(SQLITE_TEST_DB) CELERY_BROKER_URL= $(VENV)/bin/pytest -p no:cacheprovider \
		-m "not worker and not browser and not postgresql" \
		--ignore=catalogue/tests/test_embedded_setup.py $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

# Keeps var/ (the demo database and data of `make run`).
clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache test-artifacts var/staticfiles
	find . -name __pycache__ -type d -not -path './.git/*' -prune -exec rm -rf {} +

# The benchmarks (docs/benchmarks.md) on a throwaway PostgreSQL and Redis; results in var/.
SCALE ?= small
REPEAT ?= 5
.PHONY: bench
bench: venv
	mkdir -p var
	scripts/with-test-services bash -c '$(PY) manage.py migrate -v0 && \
		$(PY) manage.py generate_catalogue --scale $(SCALE) && \
		$(PY) manage.py benchmark --repeat $(REPEAT) --json var/benchmark-$(SCALE).json'
