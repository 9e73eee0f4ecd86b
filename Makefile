# rutrans: the two commands a fresh clone needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt
HOST ?= 127.0.0.1
PORT ?= 8000

TURN_MODEL := var/models/smart-turn-v3.2-cpu.onnx

.PHONY: install system-deps run run-scaled test lint lint-js migrate worker turn-model protocol

# The browser UI's checkers (ESLint, Prettier, TypeScript over JSDoc), exactly as locked.
NODE_BIN := node_modules/.bin
PRETTIER_FILES := static/js tests/js scripts eslint.config.js jsconfig.json package.json .prettierrc.json

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, pinned, so no resolver swaps in another build; then the project with the
# worker (NeMo) and test extras, every version pinned by the constraints file.
$(VENV)/.installed: $(BIN)/python pyproject.toml $(CONSTRAINTS)
	$(BIN)/pip install -q -c $(CONSTRAINTS) torch
	$(BIN)/pip install -q -c $(CONSTRAINTS) -e ".[worker,test]"
	touch $@

$(NODE_BIN)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed

system-deps:
	scripts/install-system-deps.sh

# The end-of-turn model (Smart Turn v3.2, BSD-2, Daily): only its ONNX file, taken from the
# pipecat-ai wheel on PyPI (pip download --no-deps), checked by SHA-256; offline afterwards.
$(TURN_MODEL): | $(VENV)/.installed
	$(BIN)/python -m translation.audio.turn $@

turn-model: $(TURN_MODEL)

migrate: install
	$(BIN)/python manage.py migrate --noinput

# The translator, embedded: one process on http://$(HOST):$(PORT) (SQLite, in-process worker).
run: install
	HOST=$(HOST) PORT=$(PORT) scripts/run-local.sh

# The web tier scaled out on this machine: WEB_REPLICAS Daphne processes behind HAProxy on
# $(PORT), WORKERS Celery workers, on the local Redis and PostgreSQL (the database is created
# if missing). SIGHUP to it drains and restarts the web processes one by one (a deploy).
WEB_REPLICAS ?= 2
WORKERS ?= 1
SCALED_REDIS_URL ?= redis://127.0.0.1:6379/0
SCALED_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/rutrans
run-scaled: install
	REDIS_URL=$${REDIS_URL:-$(SCALED_REDIS_URL)} DATABASE_URL=$${DATABASE_URL:-$(SCALED_DATABASE_URL)} \
	  $(BIN)/python -m rutrans_site.scaled --replicas $(WEB_REPLICAS) --workers $(WORKERS) \
	  --host $(HOST) --port $(PORT)

# A Celery GPU worker for the real stack (needs REDIS_URL and DATABASE_URL): one process per
# GPU; WORKER_CONCURRENCY task threads feed its one batcher thread (workers/batcher.py).
worker: install
	$(BIN)/celery -A rutrans_site worker -Q gpu,captions --pool threads --loglevel INFO

# Left to right: system-deps brings node and npm before lint's `npm ci`.
test: install system-deps $(TURN_MODEL) lint
	node --test tests/js/
	$(BIN)/python -m pytest

# Style and types: ruff (lint + format) and mypy (Django and DRF plugins; see pyproject.toml);
# the JavaScript: ESLint, Prettier and tsc (// @ts-check files, JSDoc types; jsconfig.json).
lint: install lint-js
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# The wire protocol's generated files: the JSON Schema from the pydantic models, the browser's
# types from the schema (tests check both are current).
protocol: install $(NODE_BIN)/.installed
	$(BIN)/python manage.py protocol_schema
	node scripts/protocol-types.mjs

lint-js: $(NODE_BIN)/.installed
	$(NODE_BIN)/eslint .
	$(NODE_BIN)/prettier --check $(PRETTIER_FILES)
	$(NODE_BIN)/tsc -p jsconfig.json
