"""The product's Prometheus gauges, computed from the served tables at each scrape (cached per
table version): per-table freshness age and SLA state, failures per product and asset, open
incidents, and recent anomalies per product and asset. The alert rules in
``infrastructure/monitoring/alerts`` are written on these names."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from lakehouse_core.errors import TableNotFoundError
from operational_metrics.contracts import Incident
from operational_metrics.serving.queries import (
    freshness_now,
    incident_products,
    open_incidents,
    recent_anomalies,
    recent_final_attempts,
)
from operational_metrics.serving.tables import ServedTables

NAMESPACE = "operational_metrics"
STATES = ("ok", "warn", "breach", "missing")
INCIDENT_KINDS = ("asset_failing", "sla_breach")
#: The failure gauge counts the tasks that failed in this window before the scrape.
FAILURE_WINDOW = timedelta(hours=24)
#: The last-run gauge looks at the tasks of this many UTC days up to today.
LAST_RUN_WINDOW_DAYS = 7
#: The anomaly gauge counts the anomalies of runs started in this window before the scrape; an
#: asset with an anomaly in the last :data:`LAST_RUN_WINDOW_DAYS` days is exported (0 outside it),
#: so an alert on it resolves rather than vanishing.
ANOMALY_WINDOW = timedelta(hours=24)


class OpsCollector(Collector):
    """Every gauge of the product, read from the served tables when Prometheus scrapes."""

    def __init__(self, tables: ServedTables, clock: Callable[[], datetime]) -> None:
        self.tables = tables
        self.clock = clock

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from self._families()

    def _families(self) -> tuple[GaugeMetricFamily, ...]:
        table_labels = ["table", "product", "layer"]
        asset_labels = ["product", "asset"]
        return (
            GaugeMetricFamily(
                f"{NAMESPACE}_table_freshness_age_seconds",
                "Seconds since the table's newest data (as of the scrape).",
                labels=table_labels,
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_table_freshness_state",
                "1 for the table's current SLA state (ok, warn, breach, missing), 0 for the others.",
                labels=[*table_labels, "state"],
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_table_freshness_sla_seconds",
                "The table's freshness SLA: seconds to a warning and to a breach.",
                labels=[*table_labels, "level"],
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_asset_failures_24h",
                "Tasks of the asset whose final attempt failed in the 24 hours before the scrape.",
                labels=asset_labels,
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_asset_last_run_failed",
                f"1 when the asset's latest task (of the last {LAST_RUN_WINDOW_DAYS} days) failed, else 0.",
                labels=asset_labels,
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_open_incidents",
                "Incidents not closed yet, per product (with a stored incident) and kind.",
                labels=["product", "kind"],
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_incident_open_seconds",
                "Seconds since each open incident was opened (as of the scrape); subject is the "
                "asset or the table.",
                labels=["product", "kind", "subject", "incident_id"],
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_asset_anomalies_24h",
                "Anomalies (any metric) of the asset's runs started in the 24 hours before the scrape.",
                labels=asset_labels,
            ),
        )

    def collect(self) -> Iterator[GaugeMetricFamily]:
        age, state, sla, failures, last_failed, open_count, open_age, anomaly_count = self._families()
        now = self.clock()
        try:
            rows = freshness_now(self.tables.freshness, now)
        except TableNotFoundError:
            rows = []
        for row in rows:
            labels = [row.table_name, row.product, row.layer]
            if row.age_seconds is not None:
                age.add_metric(labels, row.age_seconds)
            for each in STATES:
                state.add_metric([*labels, each], 1.0 if row.state == each else 0.0)
            sla.add_metric([*labels, "warn"], row.warn_minutes * 60.0)
            sla.add_metric([*labels, "breach"], row.breach_minutes * 60.0)
        try:
            recent = recent_final_attempts(self.tables.runs, now.date(), days=LAST_RUN_WINDOW_DAYS)
        except TableNotFoundError:
            recent = []
        since = now - FAILURE_WINDOW
        failed = Counter(
            (a.product, a.asset) for a in recent if a.status == "failed" and since <= a.finished_at <= now
        )
        latest: dict[tuple[str, str], tuple[datetime, str]] = {}
        for a in recent:
            key = (a.product, a.asset)
            if key not in latest or a.started_at > latest[key][0]:
                latest[key] = (a.started_at, a.status)
        for key, (_, status) in sorted(latest.items()):
            failures.add_metric(list(key), float(failed.get(key, 0)))
            last_failed.add_metric(list(key), 1.0 if status == "failed" else 0.0)
        self._incidents(open_count, open_age, now)
        self._anomalies(anomaly_count, now)
        yield from (age, state, sla, failures, last_failed, open_count, open_age, anomaly_count)

    def _anomalies(self, count: GaugeMetricFamily, now: datetime) -> None:
        try:
            recent = recent_anomalies(self.tables.anomalies, now.date(), days=LAST_RUN_WINDOW_DAYS)
        except TableNotFoundError:
            return
        since = now - ANOMALY_WINDOW
        per_asset = Counter((a.product, a.asset) for a in recent if since <= a.started_at <= now)
        for key in sorted({(a.product, a.asset) for a in recent}):
            count.add_metric(list(key), float(per_asset.get(key, 0)))

    def _incidents(self, count: GaugeMetricFamily, age: GaugeMetricFamily, now: datetime) -> None:
        try:
            products = incident_products(self.tables.incidents)
            found: list[Incident] = open_incidents(self.tables.incidents)
        except TableNotFoundError:
            return
        per_kind: Counter[tuple[str, str]] = Counter((i.product, i.kind) for i in found)
        for product in products:
            for kind in INCIDENT_KINDS:
                count.add_metric([product, kind], float(per_kind.get((product, kind), 0)))
        for each in sorted(found, key=lambda i: i.incident_id):
            subject = each.asset or each.table_name or ""
            age.add_metric(
                [each.product, each.kind, subject, each.incident_id], (now - each.opened_at).total_seconds()
            )
