# The targets every event product's Makefile shares. A product's Makefile sets PRODUCT,
# ENV_PREFIX and SIZE (visitors or devices of a generated day), then includes this file.
# The environment wins over the development defaults below.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/../..)
BIN := $(ROOT)/.venv/bin
CLI := $(BIN)/$(PRODUCT)
SEED ?=  # unset: the next seed not yet sent for that day (a re-run sends new events)

$(ENV_PREFIX)_COLLECTOR__WRITE_KEYS ?= ["local-development-write-key"]
$(ENV_PREFIX)_PSEUDONYMISATION_KEY ?= local-development-pseudonymisation-key
export $(ENV_PREFIX)_COLLECTOR__WRITE_KEYS $(ENV_PREFIX)_PSEUDONYMISATION_KEY

.PHONY: help setup run collector ingest api pipeline generate reconcile compact test

help:  ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-11s %s\n", $$1, $$2}'

setup:  ## Install the monorepo's environment (Python and JVM)
	$(MAKE) -C $(ROOT) setup

run: setup  ## Stack up, a generated day through the collector, the pipeline, then the API
	$(MAKE) -C $(ROOT) stack-up
	$(CLI) demo --size $(SIZE) $(if $(SEED),--seed $(SEED))

collector:  ## Serve the collector (Segment HTTP API) on the configured port
	$(CLI) collector

ingest:  ## Stream Kafka → bronze continuously (Ctrl-C to stop)
	$(CLI) ingest

api:  ## Serve the REST API over gold
	$(CLI) api

pipeline:  ## Run topics → bronze → silver → gold once, incrementally
	$(CLI) pipeline

generate:  ## Send a generated day to a running collector (DAY=YYYY-MM-DD)
	$(CLI) generate --size $(SIZE) $(if $(SEED),--seed $(SEED)) $(if $(DAY),--day $(DAY))

reconcile:  ## Check that Kafka = bronze = silver + quarantine
	$(CLI) reconcile

compact:  ## Bin-pack bronze and silver small files (Delta OPTIMIZE); safe while jobs write
	$(CLI) compact

test:  ## This product's tests
	cd $(ROOT) && $(BIN)/pytest products/$(PRODUCT)/tests
