"""OpenLineage run events for every task attempt of every product's pipeline.

A :class:`LineageEmitter` is an :class:`~lakehouse_platform.orchestrator.AttemptObserver`: the
runner tells it when an attempt starts (a ``START`` event) and ends (``COMPLETE`` or ``FAIL``),
so every product that runs its pipeline with it gets lineage without writing any.

- **Job**: namespace the product, name the task (``web-user-analytics`` / ``silver``).
- **Run**: one OpenLineage run per attempt, its id derived from the pipeline run id, the task
  and the attempt (the same id on START and on COMPLETE/FAIL); the ``parent`` facet names the
  pipeline run (job ``<product>`` / ``<product>``, run id = the pipeline run id as a UUID), and
  ``lakehouse_attempt`` the attempt number. A failed attempt carries ``errorMessage``.
- **Outputs**: the task's ``writes``. **Inputs**: the catalog's resolved upstream of those
  tables, without the task's own outputs (silver's sessions are built from silver's events, so
  silver reads bronze only).
- **Dataset names** follow the OpenLineage naming spec for where the data is: a table is its
  Delta location (a local lake: namespace ``file``, name the absolute path; an object store:
  namespace ``<scheme>://<bucket>``, name the key), with a ``symlinks`` facet giving its catalog
  name (namespace ``lakehouse``, type ``TABLE``); a topic is namespace
  ``kafka://<host>:<port>`` (the first bootstrap server), name the topic.
- **Facets**: ``schema`` (the contract's columns) on every table; on COMPLETE, outputs carry
  ``dataQualityMetrics`` and ``outputStatistics`` with the rows the task wrote (for the
  quarantine table, the rows quarantined, with ``lakehouse_quarantine`` counting them by rule),
  and inputs ``dataQualityMetrics`` and ``inputStatistics`` with the rows read.

Transports (:func:`lineage_from_settings`): a JSON-lines file (default), Kafka through a
:class:`~lakehouse_core.kafka.spool.SpooledPublisher` (never waits, loses nothing while Kafka is
down) or an OpenLineage HTTP API. Lineage never fails the data path: an event that cannot be
built or sent is logged as a warning and the task goes on.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated.base import DatasetFacet, RunFacet
from openlineage.client.generated.data_quality_metrics_dataset import DataQualityMetricsDatasetFacet
from openlineage.client.generated.data_quality_metrics_input_dataset import (
    DataQualityMetricsInputDatasetFacet,
)
from openlineage.client.generated.error_message_run import ErrorMessageRunFacet
from openlineage.client.generated.input_statistics_input_dataset import InputStatisticsInputDatasetFacet
from openlineage.client.generated.job_type_job import JobTypeJobFacet
from openlineage.client.generated.output_statistics_output_dataset import (
    OutputStatisticsOutputDatasetFacet,
)
from openlineage.client.generated.parent_run import Job as ParentJob
from openlineage.client.generated.parent_run import ParentRunFacet
from openlineage.client.generated.parent_run import Run as ParentRun
from openlineage.client.generated.schema_dataset import SchemaDatasetFacet, SchemaDatasetFacetFields
from openlineage.client.generated.symlinks_dataset import Identifier, SymlinksDatasetFacet
from openlineage.client.serde import Serde
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import HttpConfig, HttpTransport
from openlineage.client.transport.transport import Transport
from pydantic import RootModel

from lakehouse_core.errors import ConfigError
from lakehouse_core.kafka.admin import TopicSpec
from lakehouse_core.kafka.spool import SpooledPublisher, spool_folder
from lakehouse_core.platform_topics import PipelineRunRecord
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.tables import KAFKA_UPSTREAM, Layer, TableSpec, join_location
from lakehouse_platform.catalog import Catalog, CatalogError, load_catalog
from lakehouse_platform.orchestrator import PipelineRun, RunContext, Task

log = logging.getLogger(__name__)

#: The namespace of a table's catalog name in its ``symlinks`` facet.
CATALOG_NAMESPACE = "lakehouse"

_RUN_NAMESPACE = uuid.UUID("5d1c2a3e-8f0b-4c57-9a51-6c1f0e7b2d44")


def _producer() -> str:
    try:
        return f"urn:lakehouse-platform:{version('lakehouse-platform')}"
    except PackageNotFoundError:  # pragma: no cover - the platform is always installed
        return "urn:lakehouse-platform"


PRODUCER = _producer()


@attr.define
class QuarantineDatasetFacet(DatasetFacet):
    """Rows the attempt sent to the quarantine table, by quality rule."""

    rowsByRule: dict[str, int] = attr.field(factory=dict)  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return "urn:lakehouse-platform:facets:QuarantineDatasetFacet"


@attr.define
class AttemptRunFacet(RunFacet):
    """Which attempt of the task this run is (1 for the first), and whether it was the last."""

    attempt: int
    finalAttempt: bool | None = attr.field(default=None)  # noqa: N815

    _additional_skip_redact: ClassVar[list[str]] = ["attempt", "finalAttempt"]

    @staticmethod
    def _get_schema() -> str:
        return "urn:lakehouse-platform:facets:AttemptRunFacet"


def table_dataset_name(location: str) -> tuple[str, str]:
    """A table's OpenLineage (namespace, name) from its storage location, per the naming spec:
    ``file`` and the absolute path for a local lake, ``<scheme>://<authority>`` and the path
    (without the leading slash for buckets) for an object store."""
    parsed = urlparse(location)
    if parsed.scheme in ("", "file") or len(parsed.scheme) == 1:  # a path (a Windows drive letter too)
        path = parsed.path if parsed.scheme == "file" else location
        return "file", str(Path(path).absolute())
    if parsed.scheme in ("s3", "s3a", "s3n", "gs", "gcs"):
        return f"{parsed.scheme}://{parsed.netloc}", parsed.path.lstrip("/")
    return f"{parsed.scheme}://{parsed.netloc}", parsed.path


def kafka_namespace(bootstrap_servers: str) -> str:
    """``kafka://<host>:<port>`` of the first bootstrap server (the naming spec's namespace)."""
    first = bootstrap_servers.split(",", maxsplit=1)[0].strip()
    return f"kafka://{first.removeprefix('PLAINTEXT://')}"


@dataclass(frozen=True)
class _Table:
    qualified_name: str
    location: str
    columns: tuple[tuple[str, str, str], ...]
    layer: Layer | None


@dataclass(frozen=True)
class LineageNaming:
    """Resolves what a task reads and writes to datasets: through the catalog where it knows
    the table, else from the table's declaration (or, for a name only, the lake's layout)."""

    catalog: Catalog | None
    lake_root: str
    kafka_bootstrap_servers: str

    def table(self, name: str, spec: TableSpec | None = None) -> _Table:
        entry = self.catalog.entries.get(name) if self.catalog is not None else None
        if entry is not None:
            columns = tuple((c.name, c.type, c.description) for c in entry.columns)
            return _Table(name, entry.location, columns, entry.layer)
        if spec is not None:
            columns = tuple((f.name, f.dataType.simpleString(), "") for f in spec.schema.fields)
            return _Table(name, spec.location(self.lake_root), columns, spec.layer)
        product, layer, table = name.split(".", 2)
        return _Table(name, join_location(self.lake_root, layer, product, table), (), None)

    def inputs_of(self, task: Task) -> tuple[str, ...]:
        """The upstream of the task's tables (qualified names, ``kafka:<topic>``), in order, once,
        without the task's own outputs."""
        own = {spec.qualified_name for spec in task.writes}
        found: dict[str, None] = {}
        for spec in task.writes:
            entry = self.catalog.entries.get(spec.qualified_name) if self.catalog is not None else None
            upstream: Iterable[object] = entry.upstream if entry is not None else spec.upstream
            for source in upstream:
                if isinstance(source, str) and source not in own:
                    found.setdefault(source)
        return tuple(found)


def _schema(table: _Table) -> SchemaDatasetFacet:
    return SchemaDatasetFacet(
        fields=[
            SchemaDatasetFacetFields(name=n, type=t, description=d or None, ordinal_position=i)
            for i, (n, t, d) in enumerate(table.columns, start=1)
        ],
        producer=PRODUCER,
    )


def _table_facets(table: _Table) -> dict[str, DatasetFacet]:
    facets: dict[str, DatasetFacet] = {
        "symlinks": SymlinksDatasetFacet(
            identifiers=[Identifier(namespace=CATALOG_NAMESPACE, name=table.qualified_name, type="TABLE")],
            producer=PRODUCER,
        )
    }
    if table.columns:
        facets["schema"] = _schema(table)
    return facets


def _input(source: str, naming: LineageNaming, record: PipelineRunRecord | None) -> InputDataset:
    facets: dict[str, DatasetFacet]
    if source.startswith(KAFKA_UPSTREAM):
        namespace, name = kafka_namespace(naming.kafka_bootstrap_servers), source.removeprefix(KAFKA_UPSTREAM)
        facets = {}
    else:
        table = naming.table(source)
        namespace, name = table_dataset_name(table.location)
        facets = _table_facets(table)
    read = record.rows_read.get(source) if record is not None else None
    input_facets: dict[str, Any] = {}
    if read is not None:
        input_facets = {
            "dataQualityMetrics": DataQualityMetricsInputDatasetFacet(
                columnMetrics={}, rowCount=read, producer=PRODUCER
            ),
            "inputStatistics": InputStatisticsInputDatasetFacet(rowCount=read, producer=PRODUCER),
        }
    return InputDataset(namespace=namespace, name=name, facets=facets, inputFacets=input_facets)


def _output(spec: TableSpec, naming: LineageNaming, record: PipelineRunRecord | None) -> OutputDataset:
    table = naming.table(spec.qualified_name, spec)
    namespace, name = table_dataset_name(table.location)
    facets = _table_facets(table)
    output_facets: dict[str, Any] = {}
    written = record.rows_written.get(spec.qualified_name) if record is not None else None
    if record is not None and spec.layer is Layer.QUARANTINE and record.rows_quarantined:
        facets["lakehouse_quarantine"] = QuarantineDatasetFacet(
            rowsByRule=dict(record.rows_quarantined), producer=PRODUCER
        )
        if written is None:
            written = sum(record.rows_quarantined.values())
    if written is not None:
        facets["dataQualityMetrics"] = DataQualityMetricsDatasetFacet(
            columnMetrics={}, rowCount=written, producer=PRODUCER
        )
        output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(
            rowCount=written, producer=PRODUCER
        )
    return OutputDataset(namespace=namespace, name=name, facets=facets, outputFacets=output_facets)


def attempt_run_id(pipeline_run_id: str, task: str, attempt: int) -> str:
    """The OpenLineage run id of one attempt: the same on its START and its COMPLETE/FAIL."""
    return str(uuid.uuid5(_RUN_NAMESPACE, f"{pipeline_run_id}/{task}/{attempt}"))


def _pipeline_uuid(run_id: str) -> str:
    try:
        return str(uuid.UUID(run_id))
    except ValueError:
        return str(uuid.uuid5(_RUN_NAMESPACE, run_id))


def run_event(
    state: RunState,
    *,
    task: Task,
    context: RunContext,
    naming: LineageNaming,
    at: datetime,
    record: PipelineRunRecord | None = None,
) -> RunEvent:
    """The OpenLineage event of one attempt of ``task``: START without ``record``, COMPLETE or
    FAIL with the attempt's record (its counts fill the datasets' statistics)."""
    run_facets: dict[str, RunFacet] = {
        "parent": ParentRunFacet(
            run=ParentRun(runId=_pipeline_uuid(context.run_id)),
            job=ParentJob(namespace=context.pipeline, name=context.pipeline),
            producer=PRODUCER,
        ),
        "lakehouse_attempt": AttemptRunFacet(
            attempt=context.attempt,
            finalAttempt=record.final_attempt if record is not None else None,
            producer=PRODUCER,
        ),
    }
    if record is not None and record.status == "failed":
        message = record.error_message or "the attempt failed"
        if record.error_class:
            message = f"{record.error_class}: {message}"
        run_facets["errorMessage"] = ErrorMessageRunFacet(
            message=message, programmingLanguage="python", producer=PRODUCER
        )
    return RunEvent(
        eventType=state,
        eventTime=at.astimezone(UTC).isoformat(),
        run=Run(runId=attempt_run_id(context.run_id, task.name, context.attempt), facets=run_facets),
        job=Job(
            namespace=context.pipeline,
            name=task.name,
            facets={
                "jobType": JobTypeJobFacet(
                    processingType="BATCH", integration="LAKEHOUSE", jobType="TASK", producer=PRODUCER
                )
            },
        ),
        inputs=[_input(source, naming, record) for source in naming.inputs_of(task)],
        outputs=[_output(spec, naming, record) for spec in task.writes],
        producer=PRODUCER,
    )


class _Event(RootModel[dict[str, Any]]):
    """An OpenLineage event as the spooled publisher takes it (a pydantic model)."""


class SpooledKafkaTransport(Transport):
    """OpenLineage events to a Kafka topic through a
    :class:`~lakehouse_core.kafka.spool.SpooledPublisher`, keyed by run id so one run's events
    stay in order."""

    kind = "lakehouse-spooled-kafka"

    def __init__(self, bootstrap_servers: str, topic: str, *, spool_dir: Path) -> None:
        self.publisher = SpooledPublisher(
            bootstrap_servers, TopicSpec(topic, partitions=3), spool_dir=spool_dir
        )

    def emit(self, event: Any) -> None:
        key = event.run.runId if isinstance(event, RunEvent) else None
        self.publisher.publish(_Event(Serde.to_dict(event)), key=key)

    def close(self, timeout: float = -1) -> bool:
        return self.publisher.close(timeout=5.0 if timeout < 0 else timeout) == 0


class LineageEmitter:
    """Emits an OpenLineage START when an attempt starts and COMPLETE or FAIL when it ends, to
    ``transport``. Pass it to :func:`~lakehouse_platform.orchestrator.run_pipeline` among the
    ``recorders``. Nothing it does can fail a task: what goes wrong is logged as a warning."""

    def __init__(self, transport: Transport, naming: LineageNaming) -> None:
        self.transport = transport
        self.naming = naming

    def _emit(self, state: RunState, task: Task, context: RunContext, **fields: Any) -> None:
        try:
            self.transport.emit(run_event(state, task=task, context=context, naming=self.naming, **fields))
        except Exception:
            log.warning(
                "lineage event not emitted; the pipeline goes on",
                exc_info=True,
                extra={"task": task.name, "attempt": context.attempt, "event": state.value},
            )

    def attempt_started(self, task: Task, context: RunContext, started_at: datetime) -> None:
        self._emit(RunState.START, task, context, at=started_at)

    def attempt_ended(self, task: Task, context: RunContext, record: PipelineRunRecord) -> None:
        state = RunState.COMPLETE if record.status == "succeeded" else RunState.FAIL
        self._emit(state, task, context, at=record.finished_at, record=record)

    def record(self, run: PipelineRun) -> None:
        """Nothing more to emit: each attempt's events went out as it started and ended."""

    def close(self) -> None:
        try:
            self.transport.close(timeout=5.0)
        except Exception:
            log.warning("lineage transport did not close cleanly", exc_info=True)

    def __enter__(self) -> LineageEmitter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def lineage_transport(settings: LakehouseSettings) -> Transport | None:
    """The transport ``settings`` configure (``lineage_transport``); None for ``none``."""
    match settings.lineage_transport:
        case "none":
            return None
        case "file":
            settings.lineage_file.parent.mkdir(parents=True, exist_ok=True)
            return FileTransport(FileConfig(log_file_path=str(settings.lineage_file), append=True))
        case "kafka":
            return SpooledKafkaTransport(
                settings.kafka_bootstrap_servers,
                settings.lineage_topic,
                spool_dir=spool_folder(settings.state_dir, settings.lineage_topic),
            )
        case "http":
            if not settings.lineage_url:
                raise ConfigError(
                    "lineage_transport is http but no lineage_url is set: set LAKEHOUSE_LINEAGE_URL "
                    "to the OpenLineage API's base URL (e.g. http://localhost:5000 for Marquez)"
                )
            retry = {"total": 2, "backoff_factor": 0.3, "status_forcelist": [500, 502, 503, 504]}
            return HttpTransport(HttpConfig(url=settings.lineage_url, timeout=5.0, retry=retry))
    raise ConfigError(f"unknown lineage transport {settings.lineage_transport!r}")  # pragma: no cover


def lineage_from_settings(
    settings: LakehouseSettings, *, catalog: Catalog | None = None
) -> LineageEmitter | None:
    """The emitter ``settings`` configure, resolving datasets through ``catalog`` (default: the
    catalog of every installed product); None when lineage is off or cannot be set up, which is
    logged: lineage never stops a pipeline."""
    try:
        transport = lineage_transport(settings)
    except Exception:
        log.warning("lineage transport cannot be set up; the pipeline runs without lineage", exc_info=True)
        return None
    if transport is None:
        return None
    if catalog is None:
        try:
            catalog = load_catalog(lake_root=settings.lake_root)
        except CatalogError:
            log.warning("catalog does not load; lineage inputs come from the declarations", exc_info=True)
    return LineageEmitter(
        transport, LineageNaming(catalog, settings.lake_root, settings.kafka_bootstrap_servers)
    )


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events a file transport wrote, oldest first (one JSON object a line)."""
    import orjson

    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
