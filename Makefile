# Two commands: `make demo` (set up, build the sandbox, materialize everything, serve the UI on :3000)
# and `make test` (set up, start the real engines, run the whole suite). Both are safe to re-run.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export CARTERA_HOME ?= $(CURDIR)/.cartera
export DAGSTER_HOME ?= $(CARTERA_HOME)/dagster_home
PYTEST_ARGS ?=

.PHONY: setup demo test lint fix services sandbox ui bench-setup lock clean

$(UV):
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON) --extra test
	touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

## setup: the virtualenv from the lock file, and the local Dagster instance
setup: $(VENV)/.synced $(DAGSTER_HOME)/dagster.yaml

## demo: sandbox + simulator + every asset materialized, then the Dagster UI (`dg dev`) on 127.0.0.1:3000
demo: setup
	$(VENV)/bin/cartera demo

## test: style, then the whole suite against SQLite and the real PostgreSQL, MariaDB and Firebird 3
## (the suite includes `dg check defs` and the graph snapshot)
test: setup lint services
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

## lint: ruff's checks and formatting (nothing is rewritten; `make fix` does that)
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fix: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## services: install (apt, as root) and start PostgreSQL, MariaDB and Firebird 3 when missing;
## a server named by CARTERA_TEST_PG_URL / CARTERA_TEST_MYSQL_URL / CARTERA_TEST_FIREBIRD_HOST is used as is
services:
	bash scripts/ensure_services.sh
	bash scripts/ensure_browser.sh

## sandbox: (re)build the embedded demo stores
sandbox: setup
	$(VENV)/bin/cartera sandbox build

## ui: only serve the UI with `dg dev` (after `make demo` once)
ui: setup
	$(VENV)/bin/cartera demo --no-materialize

## bench-setup: also install the benchmark-only peers (dlt, statsforecast)
bench-setup: setup
	$(UV) sync --frozen --python $(PYTHON) --extra test --extra bench

## lock: re-resolve uv.lock after changing pyproject.toml
lock: $(UV)
	$(UV) lock --python $(PYTHON)

clean:
	rm -rf $(VENV) .tools .cartera .pytest_cache

.PHONY: image rehearsal

## image: the base image from Debian packages (debootstrap) and the project image from uv.lock (cached)
image:
	bash scripts/ensure_docker.sh
	bash scripts/build_image.sh

## rehearsal: code server, webserver, daemon and every run as containers of the image, in production mode
rehearsal: setup image
	bash scripts/ensure_services.sh
	CARTERA_REHEARSAL=1 $(VENV)/bin/python -m pytest --timeout 2400 -s \
		cartera_pipelines_tests/deploy/test_rehearsal.py $(PYTEST_ARGS)
