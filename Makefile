# tocsin's one task runner. `make help` lists the targets.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist workers. Three on the 2-core machine: many tests wait on servers, brokers
# and browsers, so two workers left the cores idle. The whole suite, 2026-12-03, same
# machine: -n 2 9 min 32 s, -n 3 6 min 32 s, -n 4 5 min 41 s (all passing); three keeps
# timing-sensitive tests further from starving than four.
TEST_WORKERS ?= 3

.DEFAULT_GOAL := help
.PHONY: help server test lint format services bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

server: $(STAMP) ## install (first time) and run the server on 127.0.0.1:8000 with SQLite
	$(BIN)/tocsin server $(ARGS)

test: $(STAMP) services ## lint, type-check and run the whole test suite against real services
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(ARGS)

lint: $(STAMP) ## ruff + mypy only
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy

format: $(STAMP) ## rewrite files with ruff's formatter and safe fixes
	$(BIN)/ruff check --fix src tests bench examples
	$(BIN)/ruff format src tests bench examples

services: ## start PostgreSQL, Redis and RabbitMQ if one is down; install Chromium if missing
	@bash scripts/ensure-services.sh
	@bash scripts/ensure-chromium.sh

bench: $(STAMP) services ## run every benchmark in bench/ (several minutes; prints the figures)
	$(BIN)/python bench/pings.py
	$(BIN)/python bench/alert_latency.py
	$(BIN)/python bench/healthz.py
	$(BIN)/python bench/tasks.py

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
