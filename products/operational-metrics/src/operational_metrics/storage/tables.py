"""Every table of operational-metrics, declared once: name, layer, schema, partitioning, and
what the platform's catalog shows (retention, freshness SLA, upstream tables and topics)."""

from __future__ import annotations

from functools import partial

from lakehouse_core.ingestion.bronze import bronze_table
from lakehouse_core.ingestion.quarantine import quarantine_table
from lakehouse_core.tables import Layer, declare_table
from operational_metrics import PRODUCT
from operational_metrics.contracts import (
    Anomaly,
    AssetCost,
    Incident,
    RunAttempt,
    RunStats,
    SlaCompliance,
    TableFreshness,
)

#: Bronze of ``topics.pipeline_runs`` (``platform.pipeline_runs.v1``).
BRONZE_RUNS = bronze_table(PRODUCT, "pipeline_runs")
QUARANTINE_RUNS = quarantine_table(PRODUCT, "pipeline_runs")

_table = partial(declare_table, PRODUCT)

SILVER_RUNS = _table("runs", Layer.SILVER, RunAttempt, "run_date", upstream=(BRONZE_RUNS.qualified_name,))
GOLD_RUN_STATS = _table("run_stats", Layer.GOLD, RunStats, "date", upstream=(SILVER_RUNS.qualified_name,))
GOLD_FRESHNESS = _table(
    "freshness", Layer.GOLD, TableFreshness, "check_date", upstream=(SILVER_RUNS.qualified_name,)
)
"""Besides silver runs (which versions a backfill wrote), it reads every catalogued table's Delta
history; those reads are not upstreams, so the lineage graph has no cycle through this table."""

GOLD_INCIDENTS = _table(
    "incidents",
    Layer.GOLD,
    Incident,
    "opened_date",
    upstream=(SILVER_RUNS.qualified_name, GOLD_FRESHNESS.qualified_name),
)
GOLD_SLA_COMPLIANCE = _table(
    "sla_compliance", Layer.GOLD, SlaCompliance, "month", upstream=(GOLD_FRESHNESS.qualified_name,)
)
GOLD_COST = _table("cost", Layer.GOLD, AssetCost, "date", upstream=(SILVER_RUNS.qualified_name,))
"""Besides silver runs it reads the Delta history of the tables the attempts wrote (bytes added)."""

GOLD_ANOMALIES = _table(
    "anomalies",
    Layer.GOLD,
    Anomaly,
    "run_date",
    upstream=(SILVER_RUNS.qualified_name, GOLD_INCIDENTS.qualified_name),
)

TABLES = (
    BRONZE_RUNS,
    QUARANTINE_RUNS,
    SILVER_RUNS,
    GOLD_RUN_STATS,
    GOLD_FRESHNESS,
    GOLD_INCIDENTS,
    GOLD_SLA_COMPLIANCE,
    GOLD_COST,
    GOLD_ANOMALIES,
)
GOLD_TABLES = (GOLD_RUN_STATS, GOLD_FRESHNESS, GOLD_INCIDENTS, GOLD_SLA_COMPLIANCE, GOLD_COST, GOLD_ANOMALIES)
