# Tandem: `make run` starts everything with a demo organisation; `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PACKAGES := contracts/pyproject.toml runtime/pyproject.toml services/goals/pyproject.toml services/checkins/pyproject.toml services/reviews/pyproject.toml services/projections/pyproject.toml bench/pyproject.toml
PYTEST := $(PY) -m pytest

.PHONY: help install run lint test bench chaos test-fast test-integration test-e2e kafka-up kafka-down schemas schemas-check schemas-release clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): requirements/constraints.txt requirements/dev.txt requirements/build.txt $(PACKAGES)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	PIP_CONSTRAINT=$(CURDIR)/requirements/build.txt $(PY) -m pip install --quiet -r requirements/dev.txt
	touch $(STAMP)

install: $(STAMP) ## create .venv with every package editable

run: $(STAMP) ## start Kafka, the services and a demo organisation; Ctrl-C stops everything
	bash deploy/local/run.sh

lint: $(STAMP) ## static checks: ruff over the code and tests, mypy over contracts, runtime and the services
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: $(STAMP) ## lint, then the whole suite: unit, then integration and e2e on a real Kafka (and PostgreSQL where installed)
	$(MAKE) lint
	bash deploy/local/kafka.sh resolve
	$(PYTEST) tests

test-fast: $(STAMP) ## unit tests only: in memory, seconds
	$(PYTEST) tests/unit

test-integration: $(STAMP) ## integration tests: real Kafka, SQLite and PostgreSQL
	$(PYTEST) tests/integration

test-e2e: $(STAMP) ## the services as processes over HTTP
	$(PYTEST) tests/e2e

kafka-up: $(STAMP) ## start the local Kafka broker (var/kafka)
	bash deploy/local/kafka.sh start

kafka-down: ## stop the local Kafka broker
	bash deploy/local/kafka.sh stop

schemas: $(STAMP) ## write the JSON Schemas of every event into contracts
	$(VENV)/bin/tandem-contracts write

schemas-check: $(STAMP) ## fail if the committed JSON Schemas differ from the models or break a released one
	$(VENV)/bin/tandem-contracts check

schemas-release: $(STAMP) ## freeze the current schemas as released (after publishing them)
	$(VENV)/bin/tandem-contracts release

clean: ## remove local state (var/), keep the virtualenv and the Kafka jars
	bash deploy/local/kafka.sh stop
	rm -rf var

SIZE ?= moderate
bench: $(STAMP) ## measure the suite against raw Kafka and a naive peer (SIZE=large for 100k employees)
	bash deploy/local/kafka.sh resolve
	$(VENV)/bin/tandem-bench --size $(SIZE)

chaos: $(STAMP) ## the fault matrix: a few hundred employees' story while each service and the broker is killed once; checks every guarantee
	bash deploy/local/kafka.sh resolve
	$(VENV)/bin/tandem-chaos
