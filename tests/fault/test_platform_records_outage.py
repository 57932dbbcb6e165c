"""The broker stopped while a pipeline runs and an API serves reads, then started again.

While Kafka is down the pipeline finishes and the API answers: their run and audit records go
to the local spools. Once it is back, the spools drain (the pipeline's by the next publisher on
its folder, as the next process would; the API's by its own publisher, which kept running) and
every record produced during the outage is on ``platform.pipeline_runs.v1`` or
``platform.audit.v1``. Every record is also sent a second time (a copy of the spool sent by
another publisher, as after an acknowledgement lost); counted once by its ``record_id``, the
consumer sees exactly what was produced.

The test starts a broker of its own: stopping the session's shared one would hurt other tests.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends

from lakehouse_core.kafka.admin import ensure_topics
from lakehouse_core.kafka.spool import SEGMENT_SUFFIX, SpooledPublisher, spool_folder
from lakehouse_core.platform_topics import (
    AUDIT,
    PIPELINE_RUNS,
    PLATFORM_TOPICS,
    AuditRecord,
    PipelineRunRecord,
    PlatformTopic,
)
from lakehouse_core.serving.api import create_table_api
from lakehouse_core.serving.audit import SpooledAudit
from lakehouse_core.serving.auth import API_KEY_HEADER, require_role
from lakehouse_core.serving.cache import QueryCache
from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.catalog import build_catalog
from lakehouse_platform.orchestrator import (
    KafkaRunRecorder,
    Pipeline,
    PipelineRun,
    RunContext,
    Task,
    run_pipeline,
)
from lakehouse_platform.run_reporting import platform_recorders
from lakehouse_platform.stack.kafka_broker import LocalKafkaBroker
from lakehouse_testing.plugin import serve_in_thread
from tests.fault.conftest import kafka_values

pytestmark = pytest.mark.fault

SERVICE = "outage-api"
READER_KEY = "k-outage-reader"
#: The Delta versions the toy pipeline's last task reports: one audit write record each.
VERSIONS = {"toy.silver.visits": 4, "toy.gold.daily_visits": 9}
#: (asset, attempt, status, final_attempt) of every attempt the toy pipeline makes.
ATTEMPTS = {
    ("extract", 1, "succeeded", True),
    ("flaky", 1, "failed", False),
    ("flaky", 2, "succeeded", True),
    ("load", 1, "succeeded", True),
}
#: (visitor asked for, API key presented) of each data read; the one without a key is denied.
READS = [("v-1", READER_KEY), ("v-2", READER_KEY), ("v-3", READER_KEY), ("v-4", None)]
DID_NOT_HANG = 45.0


def toy_pipeline() -> Pipeline:
    """Three tasks, no Spark: ``flaky`` fails its first attempt and is retried, ``load``
    reports the :data:`VERSIONS` it committed."""

    def extract(context: RunContext) -> Mapping[str, Any]:
        return {"rows_read": {"kafka:toy.events": 5}}

    def flaky(context: RunContext) -> Mapping[str, Any]:
        if context.attempt == 1:
            raise TimeoutError("the source did not answer in time")
        return {"rows_written": {"toy.silver.visits": 5}}

    def load(context: RunContext) -> Mapping[str, Any]:
        return {"rows_written": {"toy.gold.daily_visits": 2}, "delta_versions": dict(VERSIONS)}

    return Pipeline(
        "toy-outage",
        [
            Task("extract", extract),
            Task("flaky", flaky, depends_on=("extract",), retries=2, retry_backoff_seconds=0.0),
            Task("load", load, depends_on=("flaky",)),
        ],
    )


def run_while_down(settings: LakehouseSettings) -> tuple[PipelineRun, int]:
    """The toy pipeline with the platform's recorders; the run and how many attempt records
    were still spooled when it ended."""
    with platform_recorders(settings, catalog=build_catalog([], lake_root=settings.lake_root)) as recorders:
        run = run_pipeline(toy_pipeline(), recorders=recorders)
        [runs] = [r for r in recorders if isinstance(r, KafkaRunRecorder)]
        return run, runs.publisher.pending()


def records_on(bootstrap_servers: str, topic: PlatformTopic) -> list[Any]:
    """Every record on ``topic``, duplicates included, validated against its contract."""
    return [topic.contract.model_validate_json(v) for v in kafka_values(bootstrap_servers, topic.name)]


def once_each(records: list[Any]) -> list[Any]:
    """What a consumer that deduplicates by ``record_id`` keeps: one record per id."""
    return list({r.record_id: r for r in records}.values())


def drain(bootstrap_servers: str, topic: PlatformTopic, folder: Path) -> int:
    """Send what ``folder`` holds through a new publisher (what the next process does); returns
    how many records stayed spooled."""
    with SpooledPublisher(
        bootstrap_servers, topic.spec, spool_dir=folder, ack_timeout=5.0, max_backoff=1.0
    ) as publisher:
        publisher.flush(timeout=60)
        return publisher.pending()


def test_run_and_audit_records_made_while_the_broker_is_down_all_arrive_and_count_once_by_id(
    own_broker: LocalKafkaBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap = own_broker.config.bootstrap_servers
    ensure_topics(bootstrap, [t.spec for t in PLATFORM_TOPICS.values()], timeout=30)
    state = tmp_path / "state"
    monkeypatch.setenv("LAKEHOUSE_AUDIT_BOOTSTRAP_SERVERS", bootstrap)
    monkeypatch.setenv("LAKEHOUSE_STATE_DIR", str(state))
    settings = LakehouseSettings(
        kafka_bootstrap_servers=bootstrap, lake_root=str(tmp_path / "lake"), state_dir=state
    )
    app = create_table_api(
        service=SERVICE,
        version="1",
        description="Reads while Kafka is down.",
        served=[],
        lake_root=settings.lake_root,
        api_keys={READER_KEY: ["user_reader"]},
        cache=QueryCache(),
    )

    @app.get("/v1/visitors/{visitor_id}", dependencies=[Depends(require_role("user_reader"))])
    def visitor(visitor_id: str) -> dict[str, str]:
        return {"visitor_id": visitor_id}

    audit = app.state.read_audit
    assert isinstance(audit, SpooledAudit)
    own_broker.stop()

    try:
        with serve_in_thread(app) as url, ThreadPoolExecutor(max_workers=1) as background:
            pipeline = background.submit(run_while_down, settings)
            with httpx.Client(base_url=url, timeout=DID_NOT_HANG) as http:
                statuses = [
                    http.get(
                        f"/v1/visitors/{visitor_id}", headers={API_KEY_HEADER: key} if key else {}
                    ).status_code
                    for visitor_id, key in READS
                ]
                assert http.get("/health").status_code == 200
            run, attempts_spooled = pipeline.result(timeout=DID_NOT_HANG)
            assert statuses == [200, 200, 200, 401]
            assert run.status == "succeeded", run
            assert run.task("flaky").attempts == 2
            assert attempts_spooled == len(ATTEMPTS), "attempt records left the process with Kafka down"

            replay = tmp_path / "replay"
            for topic in (PIPELINE_RUNS, AUDIT):
                copy = replay / topic.name
                copy.mkdir(parents=True)
                for segment in spool_folder(state, topic.name).glob(f"*{SEGMENT_SUFFIX}"):
                    shutil.copy(segment, copy / segment.name)

            own_broker.start(timeout=120)
            assert drain(bootstrap, PIPELINE_RUNS, spool_folder(state, PIPELINE_RUNS.name)) == 0
            assert drain(bootstrap, AUDIT, spool_folder(state, AUDIT.name)) == 0
            assert audit.flush(timeout=60), "the API's audit records were not sent after the restart"
            for topic in (PIPELINE_RUNS, AUDIT):
                assert drain(bootstrap, topic, replay / topic.name) == 0
    finally:
        audit.close(timeout=1.0)

    sent_runs: list[PipelineRunRecord] = [
        r for r in records_on(bootstrap, PIPELINE_RUNS) if r.run_id == run.run_id
    ]
    sent_audit: list[AuditRecord] = records_on(bootstrap, AUDIT)
    runs = once_each(sent_runs)
    writes = [r for r in once_each(sent_audit) if r.action == "write"]
    reads = [r for r in once_each(sent_audit) if r.action == "read"]

    assert len(sent_runs) >= 2 * len(runs), "the run records were not re-sent"
    assert len(sent_audit) >= 2 * (len(writes) + len(reads)), "the audit records were not re-sent"
    assert sorted((r.asset, r.attempt, r.status, r.final_attempt) for r in runs) == sorted(ATTEMPTS)
    assert sorted((r.resource, r.resource_version, r.correlation_id) for r in writes) == sorted(
        (table, version, run.run_id) for table, version in VERSIONS.items()
    )
    assert sorted((r.service, r.subject_key, r.outcome) for r in reads) == sorted(
        (SERVICE, visitor_id, "succeeded" if key else "denied") for visitor_id, key in READS
    )
    for topic in (PIPELINE_RUNS, AUDIT):
        left = [s for s in spool_folder(state, topic.name).glob(f"*{SEGMENT_SUFFIX}") if s.stat().st_size]
        assert left == [], f"{topic.name}: records still spooled"
