"""The tables the API reads."""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse_core.serving.api import served_table
from lakehouse_core.serving.cache import QueryCache
from lakehouse_core.serving.tables import ServedTable
from operational_metrics.storage.tables import (
    GOLD_ANOMALIES,
    GOLD_COST,
    GOLD_FRESHNESS,
    GOLD_INCIDENTS,
    GOLD_RUN_STATS,
    GOLD_SLA_COMPLIANCE,
    SILVER_RUNS,
)

SERVED_SPECS = (
    SILVER_RUNS,
    GOLD_RUN_STATS,
    GOLD_FRESHNESS,
    GOLD_INCIDENTS,
    GOLD_SLA_COMPLIANCE,
    GOLD_COST,
    GOLD_ANOMALIES,
)


@dataclass(frozen=True)
class ServedTables:
    runs: ServedTable
    run_stats: ServedTable
    freshness: ServedTable
    incidents: ServedTable
    sla_compliance: ServedTable
    cost: ServedTable
    anomalies: ServedTable

    @classmethod
    def open(cls, lake_root: str, cache: QueryCache) -> ServedTables:
        return cls(*(served_table(spec, lake_root, cache) for spec in SERVED_SPECS))
