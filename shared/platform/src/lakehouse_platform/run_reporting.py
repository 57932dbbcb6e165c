"""Where every run of every product reports, whichever engine runs it.

The in-process runner (``<product> pipeline``) and the Dagster ops report the same things: each
attempt's record to ``platform.pipeline_runs.v1``, each table version written to
``platform.audit.v1`` (both spooled to disk while Kafka is down), each attempt's OpenLineage
events to the configured lineage transport, and attempt counts and durations to the Prometheus
Pushgateway when ``LAKEHOUSE_PUSHGATEWAY_URL`` is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from lakehouse_core.metrics import MetricsSettings, PipelineRunMetrics
from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.catalog import Catalog
from lakehouse_platform.orchestrator import KafkaAuditRecorder, KafkaRunRecorder, RunRecorder


@contextmanager
def platform_recorders(
    settings: LakehouseSettings, *, catalog: Catalog | None
) -> Iterator[list[RunRecorder]]:
    """The recorders of the platform topics and the lineage emitter, closed (spools flushed
    as far as Kafka takes them) on leaving. The OpenLineage client is imported here, not with
    the module, so a command line that runs no pipeline starts without it."""
    from lakehouse_platform.lineage import lineage_from_settings

    lineage = lineage_from_settings(settings, catalog=catalog)
    pushgateway = MetricsSettings().pushgateway_url
    metrics = [PipelineRunMetrics(pushgateway_url=pushgateway)] if pushgateway else []
    with (
        KafkaRunRecorder.from_settings(settings) as published,
        KafkaAuditRecorder.from_settings(settings) as audit,
    ):
        try:
            yield [published, audit, *([lineage] if lineage is not None else []), *metrics]
        finally:
            if lineage is not None:
                lineage.close()
