"""operational-metrics: every product's pipeline runs and every catalogued table's freshness
against its SLA, from ``platform.pipeline_runs.v1`` and the tables' Delta history, served over
REST and as Prometheus gauges."""

PRODUCT = "operational-metrics"
