"""The orchestrator: ordering, retries, failure isolation, validation and run records."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_core.kafka.consumer import build_consumer, consume_batches
from lakehouse_core.platform_topics import PipelineRunRecord
from lakehouse_platform.orchestrator import (
    JsonLinesRecorder,
    KafkaRunRecorder,
    Pipeline,
    PipelineDefinitionError,
    PipelineRun,
    RunContext,
    Task,
    run_pipeline,
)
from lakehouse_testing.plugin import KafkaFixture

TaskBody = Callable[[RunContext], Mapping[str, Any] | None]


def recording(calls: list[str], outputs: Mapping[str, Any] | None = None) -> TaskBody:
    def run(context: RunContext) -> Mapping[str, Any] | None:
        calls.append(context.task)
        return outputs

    return run


def failing(calls: list[str], times: int) -> TaskBody:
    """Raises on the first ``times`` attempts, then succeeds."""

    def run(context: RunContext) -> Mapping[str, Any] | None:
        calls.append(f"{context.task}#{context.attempt}")
        if context.attempt <= times:
            raise RuntimeError(f"boom {context.attempt}")
        return {"attempt": context.attempt}

    return run


class MemoryRecorder:
    def __init__(self) -> None:
        self.runs: list[PipelineRun] = []

    def record(self, run: PipelineRun) -> None:
        self.runs.append(run)


@pytest.mark.unit
def test_tasks_run_in_dependency_order_with_declaration_order_among_ready_tasks() -> None:
    calls: list[str] = []
    pipeline = Pipeline(
        "web",
        [
            Task("gold", recording(calls), depends_on=("silver", "sessions")),
            Task("sessions", recording(calls), depends_on=("silver",)),
            Task("bronze", recording(calls)),
            Task("silver", recording(calls), depends_on=("bronze",)),
            Task("catalog", recording(calls)),
        ],
    )
    assert pipeline.order == ("bronze", "catalog", "silver", "sessions", "gold")

    run = run_pipeline(pipeline)

    assert calls == ["bronze", "catalog", "silver", "sessions", "gold"]
    assert run.status == "succeeded"
    assert [(t.name, t.status, t.attempts) for t in run.tasks] == [
        ("bronze", "succeeded", 1),
        ("catalog", "succeeded", 1),
        ("silver", "succeeded", 1),
        ("sessions", "succeeded", 1),
        ("gold", "succeeded", 1),
    ]
    assert run.pipeline == "web"
    assert run.started_at <= run.tasks[0].started_at <= run.tasks[-1].finished_at <= run.finished_at


@pytest.mark.unit
def test_outputs_are_recorded_and_handed_to_dependants() -> None:
    seen: dict[str, Mapping[str, Any]] = {}

    def consume(context: RunContext) -> None:
        seen.update(context.upstream_outputs)

    pipeline = Pipeline(
        "p",
        [Task("extract", lambda _: {"rows": 3}), Task("load", consume, depends_on=("extract",))],
    )
    run = run_pipeline(pipeline)

    assert seen == {"extract": {"rows": 3}}
    assert run.task("extract").outputs == {"rows": 3}
    assert run.task("load").outputs == {}


@pytest.mark.unit
def test_a_failing_task_is_retried_with_exponential_backoff_until_it_succeeds() -> None:
    calls: list[str] = []
    waits: list[float] = []
    pipeline = Pipeline("p", [Task("flaky", failing(calls, times=2), retries=3, retry_backoff_seconds=0.5)])

    run = run_pipeline(pipeline, sleep=waits.append)

    assert calls == ["flaky#1", "flaky#2", "flaky#3"]
    assert waits == [0.5, 1.0]
    flaky = run.task("flaky")
    assert (flaky.status, flaky.attempts, flaky.error) == ("succeeded", 3, None)
    assert flaky.outputs == {"attempt": 3}
    assert run.status == "succeeded"


@pytest.mark.unit
def test_a_task_failing_every_attempt_skips_its_dependants_and_independent_tasks_still_run() -> None:
    calls: list[str] = []
    waits: list[float] = []
    pipeline = Pipeline(
        "p",
        [
            Task("extract", failing(calls, times=99), retries=2, retry_backoff_seconds=1.0),
            Task("transform", recording(calls), depends_on=("extract",)),
            Task("publish", recording(calls), depends_on=("transform",)),
            Task("audit", recording(calls)),
        ],
    )

    run = run_pipeline(pipeline, sleep=waits.append)

    assert calls == ["extract#1", "extract#2", "extract#3", "audit"]
    assert waits == [1.0, 2.0]
    assert run.status == "failed"
    extract = run.task("extract")
    assert (extract.status, extract.attempts, extract.error) == ("failed", 3, "RuntimeError: boom 3")
    for name in ("transform", "publish"):
        skipped = run.task(name)
        assert (skipped.status, skipped.attempts, skipped.error) == (
            "skipped",
            0,
            "upstream task(s) failed: extract",
        )
        assert skipped.started_at is None
    assert run.task("audit").status == "succeeded"


@pytest.mark.unit
def test_a_task_downstream_of_two_failures_names_both() -> None:
    def broken(_: RunContext) -> None:
        raise ValueError("no input")

    pipeline = Pipeline(
        "p",
        [
            Task("a", broken, retries=0),
            Task("b", broken, retries=0),
            Task("join", recording([]), depends_on=("a", "b")),
        ],
    )
    run = run_pipeline(pipeline)
    assert run.task("join").error == "upstream task(s) failed: a, b"
    assert run.task("a").error == "ValueError: no input"


@pytest.mark.unit
def test_only_runs_the_selected_tasks() -> None:
    calls: list[str] = []
    pipeline = Pipeline(
        "p",
        [
            Task("a", recording(calls)),
            Task("b", recording(calls), depends_on=("a",)),
            Task("c", recording(calls), depends_on=("b",)),
        ],
    )
    run = run_pipeline(pipeline, only={"c", "b"})
    assert calls == ["b", "c"]
    assert [t.name for t in run.tasks] == ["b", "c"]

    with pytest.raises(PipelineDefinitionError, match="pipeline 'p' has no task\\(s\\) x"):
        run_pipeline(pipeline, only=["x"])


@pytest.mark.unit
def test_unknown_dependencies_are_refused_naming_the_task() -> None:
    with pytest.raises(
        PipelineDefinitionError, match="pipeline 'p': task 'gold' depends on unknown task\\(s\\) silvr"
    ):
        Pipeline("p", [Task("silver", recording([])), Task("gold", recording([]), depends_on=("silvr",))])


@pytest.mark.unit
def test_cycles_are_refused_naming_the_tasks_on_the_cycle() -> None:
    with pytest.raises(PipelineDefinitionError, match="dependency cycle: a -> c -> b -> a"):
        Pipeline(
            "p",
            [
                Task("start", recording([])),
                Task("a", recording([]), depends_on=("start", "c")),
                Task("b", recording([]), depends_on=("a",)),
                Task("c", recording([]), depends_on=("b",)),
            ],
        )
    with pytest.raises(PipelineDefinitionError, match="dependency cycle: self -> self"):
        Pipeline("p", [Task("self", recording([]), depends_on=("self",))])


@pytest.mark.unit
def test_duplicate_names_and_negative_retries_are_refused() -> None:
    with pytest.raises(PipelineDefinitionError, match="task 'a' is defined twice"):
        Pipeline("p", [Task("a", recording([])), Task("a", recording([]))])
    with pytest.raises(PipelineDefinitionError, match="retries must be >= 0, got -1"):
        Task("a", recording([]), retries=-1)


@pytest.mark.unit
def test_a_table_written_by_two_tasks_is_refused_naming_both() -> None:
    from pyspark.sql.types import StringType, StructField, StructType

    from lakehouse_core.tables import Layer, TableSpec

    shared = TableSpec(
        name="members", layer=Layer.GOLD, product="p", schema=StructType([StructField("id", StringType())])
    )
    with pytest.raises(PipelineDefinitionError, match=r"p\.gold\.members by rules, clusters"):
        Pipeline(
            "p",
            [
                Task("rules", recording([]), writes=(shared,)),
                Task("clusters", recording([]), writes=(shared,), depends_on=("rules",)),
            ],
        )


@pytest.mark.unit
def test_the_recorder_receives_the_run() -> None:
    recorder = MemoryRecorder()
    run = run_pipeline(Pipeline("p", [Task("a", recording([]))]), recorder=recorder)
    assert recorder.runs == [run]


@pytest.mark.unit
def test_logs_carry_the_run_id_as_correlation_id(caplog: pytest.LogCaptureFixture) -> None:
    from lakehouse_core.structured_logging import current_correlation_id

    seen: list[str | None] = []

    def body(_: RunContext) -> None:
        seen.append(current_correlation_id())

    with caplog.at_level(logging.INFO, logger="lakehouse_platform.orchestrator"):
        run = run_pipeline(Pipeline("p", [Task("a", body)]))
    assert seen == [run.run_id]
    messages = [(r.getMessage(), getattr(r, "task", None)) for r in caplog.records]
    assert messages == [
        ("pipeline started", None),
        ("task started", "a"),
        ("task succeeded", "a"),
        ("pipeline finished", None),
    ]


@pytest.mark.unit
def test_json_lines_recorder_appends_one_line_per_run(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "pipeline_runs.jsonl"
    recorder = JsonLinesRecorder(path)
    pipeline = Pipeline("p", [Task("a", lambda _: {"rows": 2})])

    first = run_pipeline(pipeline, recorder=recorder)
    second = run_pipeline(pipeline, recorder=recorder)

    lines = path.read_text().splitlines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert [r["run_id"] for r in records] == [first.run_id, second.run_id]
    assert records[0]["status"] == "succeeded"
    assert records[0]["tasks"][0]["name"] == "a"
    assert records[0]["tasks"][0]["outputs"] == {"rows": 2}
    assert records[0]["tasks"][0]["attempts"] == 1
    assert PipelineRun.model_validate_json(lines[0]) == first


def burn_cpu(seconds: float) -> None:
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        sum(range(1000))


@pytest.mark.integration
def test_kafka_run_recorder_publishes_one_record_per_attempt_keyed_by_product(
    kafka_broker: KafkaFixture, unique_topic: str, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    ensure_topics(bootstrap, [TopicSpec(unique_topic, partitions=2)])

    def broken(_: RunContext) -> None:
        burn_cpu(0.05)
        raise OSError("disk full")

    def silver(_: RunContext) -> Mapping[str, Any]:
        burn_cpu(0.05)
        return {"rows_written": {"web.silver.events": 3}}

    pipeline = Pipeline(
        "web-user-analytics",
        [
            Task("bronze", broken, retries=1, retry_backoff_seconds=0),
            Task("silver", silver),
            Task("gold", recording([]), depends_on=("bronze",)),
        ],
    )
    with KafkaRunRecorder(bootstrap, topic=unique_topic, spool_dir=tmp_path / "spool") as recorder:
        run = run_pipeline(pipeline, recorder=recorder)

    consumer = build_consumer(bootstrap, group_id=f"g-{unique_topic}", topics=[unique_topic])
    try:
        messages = [m for batch in consume_batches(consumer, idle_timeout=3) for m in batch]
    finally:
        consumer.close()
    assert {m.key() for m in messages} == {b"web-user-analytics"}
    records = {
        (r.asset, r.attempt): r
        for r in (PipelineRunRecord.model_validate_json(m.value() or b"") for m in messages)
    }
    assert sorted(records) == [("bronze", 1), ("bronze", 2), ("gold", 0), ("silver", 1)]
    assert {r.run_id for r in records.values()} == {run.run_id}
    assert {r.product for r in records.values()} == {"web-user-analytics"}
    for key in [("bronze", 1), ("bronze", 2), ("silver", 1)]:
        assert records[key].cpu_seconds > 0, key
    assert all(r.peak_memory_bytes > 0 for r in records.values())
    first, last = records[("bronze", 1)], records[("bronze", 2)]
    assert (first.status, first.final_attempt, first.error_class) == ("failed", False, "OSError")
    assert (last.status, last.final_attempt, last.error_message) == ("failed", True, "disk full")
    assert (records[("silver", 1)].status, records[("silver", 1)].rows_written) == (
        "succeeded",
        {"web.silver.events": 3},
    )
    assert records[("silver", 1)].error_class is None
    assert records[("gold", 0)].status == "skipped"
    assert records[("gold", 0)].error_message == "upstream task(s) failed: bronze"


class MemoryAttempts(MemoryRecorder):
    def __init__(self) -> None:
        super().__init__()
        self.attempts: list[PipelineRunRecord] = []

    def record_attempt(self, attempt: PipelineRunRecord) -> None:
        self.attempts.append(attempt)


@pytest.mark.unit
def test_each_attempt_is_recorded_as_it_ends_with_usage_and_reported_counts() -> None:
    from lakehouse_core.errors import JobError, SystemicBreakageError

    recorder = MemoryAttempts()

    def silver(context: RunContext) -> Mapping[str, Any]:
        burn_cpu(0.05)
        assert [a.asset for a in recorder.attempts] == ["bronze"], "bronze's record came after silver ran"
        return {
            "partition": "2026-03-02",
            "rows_read": {"web.bronze.events": 120},
            "rows_written": {"web.silver.events": 100, "web.silver.quarantine": 20},
            "delta_versions": {"web.silver.events": 7},
            "rows_quarantined": {"event_time_plausible": 20},
            "batches": 1,
        }

    def refused(_: RunContext) -> None:
        try:
            raise SystemicBreakageError("suite web_events: all rows quarantined", failures={"r": 5}, rows=5)
        except SystemicBreakageError as cause:
            raise JobError("web-user-analytics-gold failed") from cause

    pipeline = Pipeline(
        "web",
        [
            Task("bronze", recording([], {"rows_read": 5, "rows_written": {"t": -1}})),
            Task("silver", silver, depends_on=("bronze",)),
            Task("gold", refused, depends_on=("silver",), retries=3),
        ],
    )
    run = run_pipeline(pipeline, recorder=recorder)

    assert len(recorder.runs) == 1
    assert [(a.asset, a.attempt, a.status) for a in recorder.attempts] == [
        ("bronze", 1, "succeeded"),
        ("silver", 1, "succeeded"),
        ("gold", 1, "failed"),
    ]
    bronze, silver_record, gold = recorder.attempts
    assert (bronze.rows_read, bronze.rows_written) == ({}, {}), "malformed counts are left out"
    assert silver_record.partition == "2026-03-02"
    assert silver_record.rows_read == {"web.bronze.events": 120}
    assert silver_record.rows_written == {"web.silver.events": 100, "web.silver.quarantine": 20}
    assert silver_record.delta_versions == {"web.silver.events": 7}
    assert silver_record.rows_quarantined == {"event_time_plausible": 20}
    assert silver_record.cpu_seconds >= 0.04
    assert silver_record.started_at <= silver_record.finished_at
    assert gold.final_attempt is True
    assert gold.error_class == "lakehouse_core.errors.JobError"
    assert gold.error_message == (
        "web-user-analytics-gold failed (caused by SystemicBreakageError: suite web_events: all rows "
        "quarantined) [data error, not retried]"
    )
    assert run.task("gold").error == f"JobError: {gold.error_message}"
    assert len({a.record_id for a in recorder.attempts}) == 3
    assert {a.run_id for a in recorder.attempts} == {run.run_id}


@pytest.mark.unit
def test_several_recorders_each_receive_the_run() -> None:
    plain, attempts = MemoryRecorder(), MemoryAttempts()
    run = run_pipeline(Pipeline("p", [Task("a", recording([]))]), recorders=[plain, attempts])

    assert plain.runs == attempts.runs == [run]
    assert [a.asset for a in attempts.attempts] == ["a"]


@pytest.mark.unit
def test_a_data_error_is_not_retried_and_the_record_says_why() -> None:
    from lakehouse_core.errors import JobError, SystemicBreakageError

    calls: list[str] = []
    waits: list[float] = []

    def refused(context: RunContext) -> None:
        calls.append(f"{context.task}#{context.attempt}")
        try:
            raise SystemicBreakageError(
                "suite web_events: 1,000 of 1,000 rows quarantined; "
                "event_time_plausible: 1,000 of 1,000 rows",
                failures={"event_time_plausible": 1000},
                rows=1000,
            )
        except SystemicBreakageError as cause:
            raise JobError("web-user-analytics-silver failed") from cause

    pipeline = Pipeline(
        "p",
        [
            Task("silver", refused, retries=3),
            Task("gold", recording(calls), depends_on=("silver",)),
            Task("flaky", failing(calls, times=1), retries=1),
        ],
    )
    run = run_pipeline(pipeline, sleep=waits.append)

    assert calls == ["silver#1", "flaky#1", "flaky#2"]
    assert waits == [1.0]
    silver = run.task("silver")
    assert (silver.status, silver.attempts) == ("failed", 1)
    assert silver.error == (
        "JobError: web-user-analytics-silver failed (caused by SystemicBreakageError: suite web_events: "
        "1,000 of 1,000 rows quarantined; event_time_plausible: 1,000 of 1,000 rows) "
        "[data error, not retried]"
    )
    assert run.task("gold").status == "skipped"
    assert (run.task("flaky").status, run.task("flaky").attempts) == ("succeeded", 2)


class Observer(MemoryRecorder):
    """Hears each attempt start and end, with the task; raises on a start when told to."""

    def __init__(self, *, fail_on_start: bool = False) -> None:
        super().__init__()
        self.fail_on_start = fail_on_start
        self.heard: list[tuple[str, str, int, str]] = []

    def attempt_started(self, task: Task, context: RunContext, started_at: Any) -> None:
        self.heard.append(("start", task.name, context.attempt, ""))
        if self.fail_on_start:
            raise RuntimeError("lineage backend away")

    def attempt_ended(self, task: Task, context: RunContext, record: PipelineRunRecord) -> None:
        self.heard.append(("end", task.name, context.attempt, record.status))


@pytest.mark.unit
def test_observers_hear_every_attempt_start_and_end_and_cannot_fail_a_task(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []
    pipeline = Pipeline(
        "p",
        [
            Task("flaky", failing(calls, times=1), retries=1, retry_backoff_seconds=0),
            Task("broken", failing(calls, times=9), retries=0),
            Task("after", recording(calls), depends_on=("broken",)),
        ],
    )
    observer, failing_observer = Observer(), Observer(fail_on_start=True)

    with caplog.at_level(logging.WARNING, logger="lakehouse_platform.orchestrator"):
        run = run_pipeline(pipeline, recorders=[failing_observer, observer])

    assert [(t.name, t.status) for t in run.tasks] == [
        ("flaky", "succeeded"),
        ("broken", "failed"),
        ("after", "skipped"),
    ]
    assert observer.heard == [
        ("start", "flaky", 1, ""),
        ("end", "flaky", 1, "failed"),
        ("start", "flaky", 2, ""),
        ("end", "flaky", 2, "succeeded"),
        ("start", "broken", 1, ""),
        ("end", "broken", 1, "failed"),
    ], "a skipped task has no attempt to observe"
    assert failing_observer.heard == observer.heard
    warned = [r.getMessage() for r in caplog.records]
    assert warned.count("attempt observer failed at the start of an attempt; the task runs on") == 3


def test_a_configuration_error_is_not_retried_either() -> None:
    from lakehouse_core.errors import ConfigError

    calls: list[str] = []

    def unconfigured(context: RunContext) -> None:
        calls.append(f"{context.task}#{context.attempt}")
        raise ConfigError("WEB_PSEUDONYMISATION_KEY is not set")

    run = run_pipeline(Pipeline("p", [Task("silver", unconfigured, retries=3)]), sleep=lambda _: None)

    assert calls == ["silver#1"]
    assert run.task("silver").error == (
        "ConfigError: WEB_PSEUDONYMISATION_KEY is not set [configuration error, not retried]"
    )
