"""OpenLineage run events of task attempts: datasets from the catalog, facets from the attempt's
record, START/COMPLETE/FAIL from the runner, and a broken transport never failing a task."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI, Request
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.serde import Serde
from pydantic import BaseModel, Field

from lakehouse_core.contracts import spark_schema
from lakehouse_core.platform_topics import PipelineRunRecord
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.tables import ConfiguredTopic, Layer, TableSpec
from lakehouse_platform.catalog import build_catalog
from lakehouse_platform.lineage import (
    LineageNaming,
    attempt_run_id,
    kafka_namespace,
    lineage_from_settings,
    read_events,
    run_event,
    table_dataset_name,
)
from lakehouse_platform.orchestrator import Pipeline, RunContext, Task, run_pipeline
from lakehouse_testing.declarations import RECORDED_AT as AT
from lakehouse_testing.declarations import ToyDeclaration as Declaration
from lakehouse_testing.declarations import attempt_record
from lakehouse_testing.plugin import KafkaFixture, serve_in_thread

LAKE = "/lake"
BOOTSTRAP = "broker-1:9092,broker-2:9092"
RUN_ID = uuid.uuid4().hex


class Visit(BaseModel):
    """A visit."""

    visitor_id: str = Field(description="Keyed HMAC of the user id.")
    pages: int


def table(layer: Layer, name: str, *upstream: str | ConfiguredTopic) -> TableSpec:
    return TableSpec(
        name=name, layer=layer, product="shop", schema=spark_schema(Visit), contract=Visit, upstream=upstream
    )


BRONZE = table(Layer.BRONZE, "events", ConfiguredTopic("events"))
VISITS = table(Layer.SILVER, "visits", "shop.bronze.events")
PAGES = table(Layer.SILVER, "pages", "shop.silver.visits")
QUARANTINE = table(Layer.QUARANTINE, "rejected", "shop.bronze.events")
DAILY = table(Layer.GOLD, "daily", "shop.silver.visits")
SHOP = Declaration("shop", (BRONZE, VISITS, PAGES, QUARANTINE, DAILY))
NAMING = LineageNaming(build_catalog([SHOP], lake_root=LAKE), LAKE, BOOTSTRAP)

SILVER = Task("silver", lambda _: None, writes=(VISITS, PAGES, QUARANTINE))
BRONZE_TASK = Task("bronze", lambda _: None, writes=(BRONZE,))


def context(task: str = "silver", attempt: int = 1) -> RunContext:
    return RunContext(RUN_ID, "shop", task, attempt)


def record(status: str = "succeeded", **fields: Any) -> PipelineRunRecord:
    return attempt_record(status, **{"run_id": RUN_ID, **fields})


def wire(event: RunEvent) -> dict[str, Any]:
    return Serde.to_dict(event)


def named(datasets: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in datasets]


@pytest.mark.unit
def test_start_names_the_job_the_run_and_the_datasets_from_the_catalog() -> None:
    event = wire(run_event(RunState.START, task=SILVER, context=context(), naming=NAMING, at=AT))

    assert event["eventType"] == "START"
    assert (event["job"]["namespace"], event["job"]["name"]) == ("shop", "silver")
    assert event["job"]["facets"]["jobType"]["jobType"] == "TASK"
    assert event["run"]["runId"] == attempt_run_id(RUN_ID, "silver", 1)
    assert event["run"]["facets"]["parent"]["run"]["runId"] == str(uuid.UUID(RUN_ID))
    parent_job = event["run"]["facets"]["parent"]["job"]
    assert (parent_job["namespace"], parent_job["name"]) == ("shop", "shop")
    assert event["run"]["facets"]["lakehouse_attempt"]["attempt"] == 1
    assert named(event["inputs"]) == [("file", "/lake/bronze/shop/events")], "own outputs are no input"
    assert named(event["outputs"]) == [
        ("file", "/lake/silver/shop/visits"),
        ("file", "/lake/silver/shop/pages"),
        ("file", "/lake/quarantine/shop/rejected"),
    ]
    visits = event["outputs"][0]
    assert [(f["name"], f["type"], f.get("description")) for f in visits["facets"]["schema"]["fields"]] == [
        ("visitor_id", "string", "Keyed HMAC of the user id."),
        ("pages", "bigint", None),
    ]
    assert visits["facets"]["symlinks"]["identifiers"] == [
        {"namespace": "lakehouse", "name": "shop.silver.visits", "type": "TABLE"}
    ]
    assert "dataQualityMetrics" not in visits["facets"], "no counts before the attempt ran"
    assert visits.get("outputFacets", {}) == {}


@pytest.mark.unit
def test_complete_carries_rows_read_written_and_quarantined() -> None:
    done = record(
        rows_read={"shop.bronze.events": 12},
        rows_written={"shop.silver.visits": 10, "shop.quarantine.rejected": 2},
        delta_versions={"shop.silver.visits": 4},
        rows_quarantined={"valid_json": 1, "unique_message_id": 1},
    )
    event = wire(
        run_event(RunState.COMPLETE, task=SILVER, context=context(), naming=NAMING, at=AT, record=done)
    )

    assert event["eventType"] == "COMPLETE"
    [bronze] = event["inputs"]
    assert bronze["inputFacets"]["dataQualityMetrics"]["rowCount"] == 12
    assert bronze["inputFacets"]["inputStatistics"]["rowCount"] == 12
    visits, pages, rejected = event["outputs"]
    assert visits["facets"]["dataQualityMetrics"]["rowCount"] == 10
    assert visits["outputFacets"]["outputStatistics"]["rowCount"] == 10
    assert "dataQualityMetrics" not in pages["facets"], "a table the attempt did not write has no count"
    assert rejected["facets"]["dataQualityMetrics"]["rowCount"] == 2
    assert rejected["facets"]["lakehouse_quarantine"]["rowsByRule"] == {
        "valid_json": 1,
        "unique_message_id": 1,
    }
    assert "errorMessage" not in event["run"]["facets"]


@pytest.mark.unit
def test_fail_names_the_error_and_shares_the_run_id_of_its_start_only() -> None:
    failed = record("failed", error_class="lakehouse_core.errors.JobError", error_message="boom")
    start = run_event(RunState.START, task=SILVER, context=context(), naming=NAMING, at=AT)
    fail = wire(run_event(RunState.FAIL, task=SILVER, context=context(), naming=NAMING, at=AT, record=failed))
    retry = run_event(RunState.START, task=SILVER, context=context(attempt=2), naming=NAMING, at=AT)

    assert fail["eventType"] == "FAIL"
    assert fail["run"]["facets"]["errorMessage"]["message"] == "lakehouse_core.errors.JobError: boom"
    assert fail["run"]["facets"]["errorMessage"]["programmingLanguage"] == "python"
    assert fail["run"]["runId"] == start.run.runId != retry.run.runId


@pytest.mark.unit
def test_a_topic_input_is_named_by_its_broker_and_a_lake_in_a_bucket_by_the_bucket() -> None:
    event = wire(run_event(RunState.START, task=BRONZE_TASK, context=context("bronze"), naming=NAMING, at=AT))

    assert named(event["inputs"]) == [("kafka://broker-1:9092", "shop.events.v1")]
    assert kafka_namespace("PLAINTEXT://127.0.0.1:9092") == "kafka://127.0.0.1:9092"
    assert table_dataset_name("s3://lake/silver/shop/visits") == ("s3://lake", "silver/shop/visits")
    assert table_dataset_name("abfss://c@acct.dfs.core.windows.net/silver/v") == (
        "abfss://c@acct.dfs.core.windows.net",
        "/silver/v",
    )
    assert table_dataset_name("file:///lake/silver/v") == ("file", "/lake/silver/v")


def parse(line: Mapping[str, Any]) -> RunEvent:
    """An event as written, read back into the OpenLineage client's model (whose validators
    check the event time and the run id)."""
    return RunEvent(
        eventType=RunState(line["eventType"]),
        eventTime=line["eventTime"],
        run=Run(runId=line["run"]["runId"]),
        job=Job(namespace=line["job"]["namespace"], name=line["job"]["name"]),
        inputs=[InputDataset(namespace=d["namespace"], name=d["name"]) for d in line["inputs"]],
        outputs=[OutputDataset(namespace=d["namespace"], name=d["name"]) for d in line["outputs"]],
        producer=line["producer"],
    )


@pytest.mark.unit
def test_a_pipeline_run_writes_start_and_complete_or_fail_of_every_attempt_as_json_lines(
    tmp_path: Path,
) -> None:
    settings = LakehouseSettings(lake_root=LAKE, state_dir=tmp_path, kafka_bootstrap_servers=BOOTSTRAP)
    lineage = lineage_from_settings(settings, catalog=NAMING.catalog)
    assert lineage is not None

    def flaky(ctx: RunContext) -> Mapping[str, Any]:
        if ctx.attempt == 1:
            raise RuntimeError("lost the executor")
        return {"rows_written": {"shop.bronze.events": 3}, "delta_versions": {"shop.bronze.events": 0}}

    pipeline = Pipeline(
        "shop",
        [
            Task("bronze", flaky, retries=1, retry_backoff_seconds=0, writes=(BRONZE,)),
            Task("silver", lambda _: None, depends_on=("bronze",), writes=(VISITS, QUARANTINE)),
            Task("gold", lambda _: 1 / 0, depends_on=("silver",), retries=0, writes=(DAILY,)),
        ],
    )
    with lineage:
        run = run_pipeline(pipeline, recorders=[lineage])

    assert settings.lineage_file == tmp_path / "lineage" / "events.jsonl"
    lines = read_events(settings.lineage_file)
    events = [parse(line) for line in lines]
    assert [(e.job.name, e.eventType.value) for e in events] == [
        ("bronze", "START"),
        ("bronze", "FAIL"),
        ("bronze", "START"),
        ("bronze", "COMPLETE"),
        ("silver", "START"),
        ("silver", "COMPLETE"),
        ("gold", "START"),
        ("gold", "FAIL"),
    ]
    assert events[0].run.runId == events[1].run.runId != events[2].run.runId == events[3].run.runId
    assert {line["run"]["facets"]["parent"]["run"]["runId"] for line in lines} == {str(uuid.UUID(run.run_id))}
    assert lines[3]["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 3
    assert named(lines[4]["inputs"]) == [("file", "/lake/bronze/shop/events")]
    assert "ZeroDivisionError" in lines[7]["run"]["facets"]["errorMessage"]["message"]


@pytest.mark.unit
def test_a_lineage_transport_that_cannot_write_never_fails_a_task(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a-folder"
    blocked.mkdir()
    settings = LakehouseSettings(lake_root=LAKE, state_dir=tmp_path, lineage_file=blocked)
    lineage = lineage_from_settings(settings, catalog=NAMING.catalog)
    assert lineage is not None

    with caplog.at_level(logging.WARNING, logger="lakehouse_platform.lineage"):
        run = run_pipeline(
            Pipeline("shop", [Task("bronze", lambda _: {"records": 1}, writes=(BRONZE,))]),
            recorders=[lineage],
        )

    assert run.status == "succeeded"
    assert run.task("bronze").outputs == {"records": 1}
    assert [r.getMessage() for r in caplog.records].count(
        "lineage event not emitted; the pipeline goes on"
    ) == 2


@pytest.mark.unit
def test_lineage_can_be_switched_off() -> None:
    assert lineage_from_settings(LakehouseSettings(lineage_transport="none")) is None


def toy_run(lineage: Any) -> None:
    with lineage:
        run = run_pipeline(
            Pipeline("shop", [Task("bronze", lambda _: {"records": 1}, writes=(BRONZE,))]),
            recorders=[lineage],
        )
    assert run.status == "succeeded"


def lineage_api(received: list[dict[str, Any]]) -> FastAPI:
    """An OpenLineage API that keeps what it is sent."""
    api = FastAPI()

    @api.post("/api/v1/lineage", status_code=201)
    async def lineage(request: Request) -> None:
        received.append(await request.json())

    return api


@pytest.mark.integration
def test_the_http_transport_posts_each_event_to_the_openlineage_api(tmp_path: Path) -> None:
    received: list[dict[str, Any]] = []
    api = lineage_api(received)

    with serve_in_thread(api) as url:
        settings = LakehouseSettings(
            lake_root=LAKE, state_dir=tmp_path, lineage_transport="http", lineage_url=url
        )
        toy_run(lineage_from_settings(settings, catalog=NAMING.catalog))

    assert [(e["job"]["name"], e["eventType"]) for e in received] == [
        ("bronze", "START"),
        ("bronze", "COMPLETE"),
    ]
    assert parse(received[0]).run.runId == received[1]["run"]["runId"]


@pytest.mark.unit
def test_the_http_transport_needs_a_url() -> None:
    assert lineage_from_settings(LakehouseSettings(lineage_transport="http"), catalog=NAMING.catalog) is None


@pytest.mark.integration
def test_the_kafka_transport_publishes_each_event_keyed_by_its_run(
    kafka_broker: KafkaFixture, tmp_path: Path, unique_topic: str
) -> None:
    from lakehouse_core.kafka.consumer import build_consumer, consume_batches

    settings = LakehouseSettings(
        lake_root=LAKE,
        state_dir=tmp_path,
        kafka_bootstrap_servers=kafka_broker.bootstrap_servers,
        lineage_transport="kafka",
        lineage_topic=unique_topic,
    )
    toy_run(lineage_from_settings(settings, catalog=NAMING.catalog))

    consumer = build_consumer(
        kafka_broker.bootstrap_servers, group_id=f"g-{unique_topic}", topics=[unique_topic]
    )
    try:
        messages = [m for batch in consume_batches(consumer, idle_timeout=3) for m in batch]
    finally:
        consumer.close()
    events = [parse(orjson.loads(m.value() or b"")) for m in messages]
    assert [(e.job.name, e.eventType.value) for e in events] == [("bronze", "START"), ("bronze", "COMPLETE")]
    assert {m.key() for m in messages} == {events[0].run.runId.encode()}
