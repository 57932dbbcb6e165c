"""The orchestrator: ordering, retries, failure isolation, validation and run records."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_core.kafka.consumer import build_consumer, consume_batches
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


@pytest.mark.integration
def test_kafka_run_recorder_publishes_the_run_keyed_by_pipeline(
    kafka_broker: KafkaFixture, unique_topic: str
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    ensure_topics(bootstrap, [TopicSpec(unique_topic, partitions=2)])

    def broken(_: RunContext) -> None:
        raise OSError("disk full")

    pipeline = Pipeline("web-user-analytics", [Task("a", broken, retries=0), Task("b", recording([]))])
    with KafkaRunRecorder(bootstrap, topic=unique_topic) as recorder:
        run = run_pipeline(pipeline, recorder=recorder)

    consumer = build_consumer(bootstrap, group_id=f"g-{unique_topic}", topics=[unique_topic])
    try:
        messages = [m for batch in consume_batches(consumer, idle_timeout=3) for m in batch]
    finally:
        consumer.close()
    assert len(messages) == 1
    assert messages[0].key() == b"web-user-analytics"
    received = PipelineRun.model_validate_json(messages[0].value())
    assert received == run
    assert received.status == "failed"
    assert received.task("a").error == "OSError: disk full"


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
