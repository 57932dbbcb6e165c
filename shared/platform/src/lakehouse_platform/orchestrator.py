"""The task-graph runner every product hands its pipeline to.

A :class:`Pipeline` is a set of named :class:`Task` s with dependencies, checked for unknown
names and cycles when it is built. :func:`run_pipeline` runs the tasks in dependency order,
retries a failing task with exponential backoff, then records it as failed and skips the tasks
that depend on it while independent tasks still run. A
:class:`~lakehouse_core.errors.DataError` (e.g. a batch refused by its quality suite) or
:class:`~lakehouse_core.errors.ConfigError` (e.g. a missing key) is deterministic, so it is
not retried: the task is recorded as failed at once, with the reason.
The outcome is a :class:`PipelineRun`, which a :class:`RunRecorder` stores, e.g. as JSON lines
in a file. Every attempt of a task (and every skipped task) is also described as it ends by a
:class:`~lakehouse_core.platform_topics.PipelineRunRecord`, with the CPU time and peak memory
of the process and the rows, Delta versions and quarantined rows the task reported; recorders
that also implement :class:`AttemptRecorder` receive those, e.g. :class:`KafkaRunRecorder`,
which publishes them to ``platform.pipeline_runs.v1`` (operational-metrics consumes it) through
a :class:`~lakehouse_core.kafka.spool.SpooledPublisher`, and :class:`KafkaAuditRecorder`, which
publishes one ``platform.audit.v1`` write record per table version an attempt committed.
Recorders that implement :class:`AttemptObserver` are also told when each attempt starts, with
the task itself (e.g. :class:`~lakehouse_platform.lineage.LineageEmitter`, which emits the
OpenLineage run events); whatever an observer raises is logged, never the task's failure.
"""

from __future__ import annotations

import hashlib
import logging
import resource
import sys
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, Self, runtime_checkable

import orjson
from pydantic import BaseModel, Field

from lakehouse_core.errors import ConfigError, DataError, LakehouseError
from lakehouse_core.kafka.spool import SpooledPublisher, spool_folder
from lakehouse_core.platform_topics import (
    AUDIT,
    PIPELINE_RUNS,
    PIPELINE_RUNS_TOPIC,
    AuditRecord,
    PipelineRunRecord,
    PlatformTopic,
)
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.structured_logging import correlation_scope
from lakehouse_core.tables import TableSpec

log = logging.getLogger(__name__)

__all__ = [
    "PIPELINE_RUNS_TOPIC",
    "AttemptObserver",
    "AttemptRecorder",
    "JsonLinesRecorder",
    "KafkaAuditRecorder",
    "KafkaRunRecorder",
    "Pipeline",
    "PipelineDefinitionError",
    "PipelineRun",
    "RunContext",
    "RunRecorder",
    "Task",
    "TaskRun",
    "deterministic_error",
    "not_retried",
    "run_attempt",
    "run_pipeline",
    "write_audit_records",
]

#: Output keys a task may return to fill its attempt's record: mappings of table (or, for
#: ``rows_quarantined``, quality rule) to a count or version, and ``partition``, a string.
REPORTED_COUNTS = ("rows_read", "rows_written", "delta_versions", "rows_quarantined")

TaskStatus = Literal["succeeded", "failed", "skipped"]
RunStatus = Literal["succeeded", "failed"]


class PipelineDefinitionError(LakehouseError):
    """A pipeline names an unknown dependency, repeats a task name or has a cycle."""


@dataclass(frozen=True)
class RunContext:
    """What a task sees while it runs: which run and attempt this is, and what its
    upstream tasks returned (by task name)."""

    run_id: str
    pipeline: str
    task: str
    attempt: int
    upstream_outputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    """One step. ``run`` may return outputs (JSON-serialisable) that land in the run record
    and in the context of the tasks depending on it; the keys of :data:`REPORTED_COUNTS` and
    ``partition`` also fill the attempt's pipeline-run record. ``retries`` counts the attempts after the
    first; the n-th retry waits ``retry_backoff_seconds * 2 ** (n - 1)``. A
    :class:`~lakehouse_core.errors.DataError` or :class:`~lakehouse_core.errors.ConfigError`,
    raised or the cause of what was raised, is never retried: the same input would fail the
    same way."""

    name: str
    run: Callable[[RunContext], Mapping[str, Any] | None]
    depends_on: tuple[str, ...] = ()
    retries: int = 2
    retry_backoff_seconds: float = 1.0
    writes: tuple[TableSpec, ...] = ()
    """The tables the task writes. What it reads follows from their declared upstream (the
    catalog's lineage), so the platform derives the asset graph and the datasets of lineage
    events from this alone."""

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise PipelineDefinitionError(f"task {self.name!r}: retries must be >= 0, got {self.retries}")
        if self.retry_backoff_seconds < 0:
            raise PipelineDefinitionError(
                f"task {self.name!r}: retry_backoff_seconds must be >= 0, got {self.retry_backoff_seconds}"
            )


class Pipeline:
    """A named task graph, validated at construction."""

    def __init__(self, name: str, tasks: Iterable[Task]) -> None:
        self.name = name
        self.tasks: dict[str, Task] = {}
        for task in tasks:
            if task.name in self.tasks:
                raise PipelineDefinitionError(f"pipeline {name!r}: task {task.name!r} is defined twice")
            self.tasks[task.name] = task
        for task in self.tasks.values():
            unknown = [d for d in task.depends_on if d not in self.tasks]
            if unknown:
                raise PipelineDefinitionError(
                    f"pipeline {name!r}: task {task.name!r} depends on unknown task(s) {', '.join(unknown)}"
                )
        _check_one_writer(name, self.tasks)
        self.order: tuple[str, ...] = _topological_order(name, self.tasks)


def _check_one_writer(pipeline: str, tasks: Mapping[str, Task]) -> None:
    """Each table is written by one task: the platform makes each writing task the one asset of
    its tables, and two tasks writing a table would race on it within a run."""
    writers: dict[str, list[str]] = {}
    for task in tasks.values():
        for spec in task.writes:
            writers.setdefault(spec.qualified_name, []).append(task.name)
    shared = {table: names for table, names in writers.items() if len(names) > 1}
    if shared:
        listed = "; ".join(f"{table} by {', '.join(names)}" for table, names in sorted(shared.items()))
        raise PipelineDefinitionError(
            f"pipeline {pipeline!r}: a table is written by one task, but {listed}"
            " (write it in one task, or let one task depend on the other's output)"
        )


def _topological_order(pipeline: str, tasks: Mapping[str, Task]) -> tuple[str, ...]:
    """Dependencies first; among tasks that are ready together, declaration order."""
    done: list[str] = []
    remaining = dict(tasks)
    while remaining:
        ready = [n for n, t in remaining.items() if all(d in done for d in t.depends_on)]
        if not ready:
            cycle = _find_cycle(remaining)
            raise PipelineDefinitionError(
                f"pipeline {pipeline!r} has a dependency cycle: {' -> '.join(cycle)}"
            )
        for name in ready:
            done.append(name)
            del remaining[name]
    return tuple(done)


def _find_cycle(tasks: Mapping[str, Task]) -> list[str]:
    """A cycle among ``tasks``, each of which has an unresolved dependency, as a closed path."""
    path: list[str] = []
    current = next(iter(tasks))
    while current not in path:
        path.append(current)
        current = next(d for d in tasks[current].depends_on if d in tasks)
    return [*path[path.index(current) :], current]


class TaskRun(BaseModel):
    name: str
    status: TaskStatus
    attempts: int = Field(description="How many times the task ran; 0 when skipped.")
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = Field(default=None, description="Why the task failed or was skipped.")
    outputs: dict[str, Any] = Field(default_factory=dict)


class PipelineRun(BaseModel):
    run_id: str
    pipeline: str
    started_at: datetime
    finished_at: datetime
    status: RunStatus
    tasks: list[TaskRun]

    def task(self, name: str) -> TaskRun:
        for task_run in self.tasks:
            if task_run.name == name:
                return task_run
        raise KeyError(f"run {self.run_id} of {self.pipeline!r} has no task {name!r}")


class RunRecorder(Protocol):
    def record(self, run: PipelineRun) -> None: ...


@runtime_checkable
class AttemptRecorder(Protocol):
    """A recorder that also receives each attempt's record as the attempt ends."""

    def record_attempt(self, attempt: PipelineRunRecord) -> None: ...


@runtime_checkable
class AttemptObserver(Protocol):
    """A recorder that is told when each attempt starts and ends, with the task itself (its
    ``writes``) and its context: what lineage events need. A skipped task has no attempt, so
    an observer hears nothing of it."""

    def attempt_started(self, task: Task, context: RunContext, started_at: datetime) -> None: ...

    def attempt_ended(self, task: Task, context: RunContext, record: PipelineRunRecord) -> None: ...


def serialise_run(run: PipelineRun) -> bytes:
    return orjson.dumps(run.model_dump(mode="json"))


class JsonLinesRecorder:
    """Appends one JSON line per pipeline run to a file (created with its folder)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def record(self, run: PipelineRun) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as sink:
            sink.write(serialise_run(run) + b"\n")


class _SpooledRecorder:
    """What the recorders of the platform topics share: a
    :class:`~lakehouse_core.kafka.spool.SpooledPublisher` to ``topic`` (the platform topic's
    spec under another name when one is given), so the pipeline never waits for Kafka and
    records spooled while Kafka is down are sent when it is back (or by the next process using
    the same spool folder). Each attempt's records are published as it ends; the whole run is
    not published again at the end."""

    platform_topic: ClassVar[PlatformTopic]

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        spool_dir: Path | None = None,
        topic: str | None = None,
        ack_timeout: float = 10.0,
        close_timeout: float = 5.0,
    ) -> None:
        base = self.platform_topic.spec
        self.topic = topic or base.name
        spec = base if self.topic == base.name else replace(base, name=self.topic)
        self.close_timeout = close_timeout
        self.publisher = SpooledPublisher(
            bootstrap_servers, spec, spool_dir=spool_dir, ack_timeout=ack_timeout
        )

    @classmethod
    def from_settings(cls, settings: LakehouseSettings) -> Self:
        """To :meth:`bootstrap_servers` of ``settings``, spooled under the configured state
        folder."""
        return cls(
            cls.bootstrap_servers(settings),
            spool_dir=spool_folder(settings.state_dir, cls.platform_topic.name),
        )

    @staticmethod
    def bootstrap_servers(settings: LakehouseSettings) -> str:
        """The Kafka this recorder publishes to: the configured one."""
        return settings.kafka_bootstrap_servers

    def record(self, run: PipelineRun) -> None:
        """Nothing more to send: each attempt's records were published as it ended."""

    def close(self) -> int:
        """Send what is pending for up to ``close_timeout`` seconds; returns how many records
        stay spooled for the next process."""
        return self.publisher.close(timeout=self.close_timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class KafkaRunRecorder(_SpooledRecorder):
    """Publishes each attempt's :class:`~lakehouse_core.platform_topics.PipelineRunRecord` to
    ``platform.pipeline_runs.v1``, keyed by product so one product's records stay in order."""

    platform_topic = PIPELINE_RUNS

    def record_attempt(self, attempt: PipelineRunRecord) -> None:
        self.publisher.publish(attempt, key=attempt.product)


def write_audit_records(attempt: PipelineRunRecord) -> list[AuditRecord]:
    """The audit records of the table versions a succeeded attempt committed: one per table of
    its ``delta_versions`` (the newest version the attempt left), action ``write``, by the
    product's service, with the pipeline run's id as correlation id. The record id is derived
    from the run, the table and the version, so the same write is one record however often it
    is sent or recorded."""
    if attempt.status != "succeeded":
        return []
    return [
        AuditRecord(
            record_id=hashlib.sha256(f"{attempt.run_id}/{table}@{version}".encode()).hexdigest()[:32],
            occurred_at=attempt.finished_at,
            service=attempt.product,
            action="write",
            resource_type="table",
            resource=table,
            resource_version=version,
            outcome="succeeded",
            correlation_id=attempt.run_id,
            detail=f"{attempt.asset} attempt {attempt.attempt} committed version {version}"
            + (f" ({attempt.rows_written[table]} rows written)" if table in attempt.rows_written else ""),
        )
        for table, version in sorted(attempt.delta_versions.items())
    ]


class KafkaAuditRecorder(_SpooledRecorder):
    """Publishes the :func:`write_audit_records` of each attempt to ``platform.audit.v1``, keyed
    by table so one table's writes stay in order."""

    platform_topic = AUDIT

    @staticmethod
    def bootstrap_servers(settings: LakehouseSettings) -> str:
        """The audit Kafka when one is configured, else the platform's Kafka: a job's writes
        are always audited."""
        return settings.audit_bootstrap_servers or settings.kafka_bootstrap_servers

    def record_attempt(self, attempt: PipelineRunRecord) -> None:
        for record in write_audit_records(attempt):
            self.publisher.publish(record, key=record.resource)


def _now() -> datetime:
    return datetime.now(tz=UTC)


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _qualified_class(error: BaseException) -> str:
    kind = type(error)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


@dataclass(frozen=True)
class _Usage:
    """CPU seconds (user + system) and peak resident bytes of this process so far."""

    cpu_seconds: float
    peak_memory_bytes: int

    @classmethod
    def now(cls) -> _Usage:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        peak = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024  # Linux: KiB
        return cls(usage.ru_utime + usage.ru_stime, peak)


def _reported_counts(task: str, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The counts (and partition) a task reported in its outputs, fit for its attempt's record;
    what does not fit is named in a warning rather than failing the task."""
    reported: dict[str, Any] = {}
    for name in REPORTED_COUNTS:
        value = outputs.get(name)
        if value is None:
            continue
        if isinstance(value, Mapping) and all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for k, v in value.items()
        ):
            reported[name] = dict(value)
        else:
            log.warning(
                "task output is not a mapping of name to count; left out of the run record",
                extra={"task": task, "output": name},
            )
    partition = outputs.get("partition")
    if isinstance(partition, str):
        reported["partition"] = partition
    return reported


@dataclass(frozen=True)
class _AttemptScope:
    """What every attempt record of one pipeline run shares, and where records go."""

    run_id: str
    product: str
    recorders: Sequence[AttemptRecorder]
    observers: Sequence[AttemptObserver] = ()

    def emit(self, **fields: Any) -> PipelineRunRecord | None:
        if not self.recorders and not self.observers:
            return None
        record = PipelineRunRecord(run_id=self.run_id, product=self.product, **fields)
        for recorder in self.recorders:
            try:
                recorder.record_attempt(record)
            except LakehouseError:
                log.exception(
                    "attempt record not recorded", extra={"task": record.asset, "attempt": record.attempt}
                )
        return record

    def started(self, task: Task, context: RunContext, started_at: datetime) -> None:
        for observer in self.observers:
            try:
                observer.attempt_started(task, context, started_at)
            except Exception:
                log.warning(
                    "attempt observer failed at the start of an attempt; the task runs on",
                    exc_info=True,
                    extra={
                        "task": task.name,
                        "attempt": context.attempt,
                        "observer": type(observer).__name__,
                    },
                )

    def attempt(
        self,
        task: Task,
        context: RunContext,
        *,
        final: bool,
        started: tuple[datetime, _Usage],
        outputs: Mapping[str, Any] | None = None,
        error: BaseException | None = None,
        message: str | None = None,
    ) -> None:
        started_at, before = started
        after = _Usage.now()
        record = self.emit(
            asset=task.name,
            attempt=context.attempt,
            final_attempt=final,
            status="succeeded" if error is None else "failed",
            started_at=started_at,
            finished_at=_now(),
            cpu_seconds=max(0.0, after.cpu_seconds - before.cpu_seconds),
            peak_memory_bytes=after.peak_memory_bytes,
            error_class=None if error is None else _qualified_class(error),
            error_message=message,
            **_reported_counts(task.name, outputs or {}),
        )
        if record is None:
            return
        for observer in self.observers:
            try:
                observer.attempt_ended(task, context, record)
            except Exception:
                log.warning(
                    "attempt observer failed at the end of an attempt; the task's outcome stands",
                    exc_info=True,
                    extra={
                        "task": task.name,
                        "attempt": context.attempt,
                        "observer": type(observer).__name__,
                    },
                )


def deterministic_error(error: BaseException) -> DataError | ConfigError | None:
    """The :class:`DataError` or :class:`ConfigError` that ``error`` is or was raised from (a
    job wraps its cause): wrong data or a missing setting, which a retry meets again."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, DataError | ConfigError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def not_retried(error: DataError | ConfigError) -> str:
    """What a failure's message ends with when ``error`` stopped the retries."""
    kind = "data error" if isinstance(error, DataError) else "configuration error"
    return f"[{kind}, not retried]"


def _run_task(
    task: Task,
    *,
    run_id: str,
    pipeline: str,
    upstream_outputs: Mapping[str, Mapping[str, Any]],
    sleep: Callable[[float], None],
    attempts: _AttemptScope,
) -> TaskRun:
    started_at = _now()
    fields = {"pipeline": pipeline, "task": task.name, "run_id": run_id}
    last_error = ""
    for attempt in range(1, task.retries + 2):
        context = RunContext(run_id, pipeline, task.name, attempt, upstream_outputs)
        log.info("task started", extra={**fields, "attempt": attempt})
        started = (_now(), _Usage.now())
        attempts.started(task, context, started[0])
        try:
            outputs = dict(task.run(context) or {})
        except Exception as error:
            message = str(error)
            deterministic = deterministic_error(error)
            if deterministic is not None and deterministic is not error:
                message = f"{message} (caused by {_describe(deterministic)})"
            if deterministic is not None:
                message = f"{message} {not_retried(deterministic)}"
            last_error = f"{type(error).__name__}: {message}"
            final = attempt > task.retries or deterministic is not None
            attempts.attempt(task, context, final=final, started=started, error=error, message=message)
            if final:
                log.exception("task failed", extra={**fields, "attempt": attempt, "error": last_error})
                return TaskRun(
                    name=task.name,
                    status="failed",
                    attempts=attempt,
                    started_at=started_at,
                    finished_at=_now(),
                    error=last_error,
                )
            delay = task.retry_backoff_seconds * 2 ** (attempt - 1)
            log.warning(
                "task attempt failed, retrying",
                extra={**fields, "attempt": attempt, "error": last_error, "retry_in_seconds": delay},
            )
            sleep(delay)
        else:
            attempts.attempt(task, context, final=True, started=started, outputs=outputs)
            log.info("task succeeded", extra={**fields, "attempt": attempt})
            return TaskRun(
                name=task.name,
                status="succeeded",
                attempts=attempt,
                started_at=started_at,
                finished_at=_now(),
                outputs=outputs,
            )
    raise AssertionError("unreachable: the last attempt returns")  # pragma: no cover


def run_attempt(
    task: Task, context: RunContext, *, recorders: Sequence[RunRecorder], final: bool
) -> dict[str, Any]:
    """One attempt of ``task`` run by another engine that owns the retries (a Dagster op):
    attempt observers hear it start and end and attempt recorders get its record, as in
    :func:`run_pipeline`. ``final`` says whether a failure is the last attempt; a data error
    always is. What the task raises propagates."""
    scope = _AttemptScope(
        context.run_id,
        context.pipeline,
        [r for r in recorders if isinstance(r, AttemptRecorder)],
        [r for r in recorders if isinstance(r, AttemptObserver)],
    )
    started = (_now(), _Usage.now())
    scope.started(task, context, started[0])
    try:
        outputs = dict(task.run(context) or {})
    except Exception as error:
        deterministic = deterministic_error(error)
        scope.attempt(
            task,
            context,
            final=final or deterministic is not None,
            started=started,
            error=error,
            message=str(error),
        )
        raise
    scope.attempt(task, context, final=True, started=started, outputs=outputs)
    return outputs


def _selected(pipeline: Pipeline, only: Collection[str] | None) -> Sequence[str]:
    if only is None:
        return pipeline.order
    unknown = sorted(set(only) - set(pipeline.tasks))
    if unknown:
        raise PipelineDefinitionError(f"pipeline {pipeline.name!r} has no task(s) {', '.join(unknown)}")
    return [name for name in pipeline.order if name in only]


def run_pipeline(
    pipeline: Pipeline,
    *,
    only: Collection[str] | None = None,
    recorder: RunRecorder | None = None,
    recorders: Sequence[RunRecorder] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> PipelineRun:
    """Run the pipeline's tasks in dependency order and return (and record) the run.

    The run goes to ``recorder`` and each of ``recorders`` at the end; those that are also
    :class:`AttemptRecorder` s receive each attempt's record (and a skipped task's) as it ends,
    and :class:`AttemptObserver` s are told when each attempt starts and ends.

    ``only`` runs a subset, e.g. one step again after a fix; its dependencies outside the subset
    are taken as done and the tasks left out do not appear in the record. A task whose upstream
    failed, or was skipped because of a failure, is skipped with the failed task(s) named.
    """
    run_id = uuid.uuid4().hex
    every = [*([recorder] if recorder is not None else []), *recorders]
    attempts = _AttemptScope(
        run_id,
        pipeline.name,
        [r for r in every if isinstance(r, AttemptRecorder)],
        [r for r in every if isinstance(r, AttemptObserver)],
    )
    with correlation_scope(run_id):
        started_at = _now()
        log.info("pipeline started", extra={"pipeline": pipeline.name, "run_id": run_id})
        task_runs: dict[str, TaskRun] = {}
        failed_roots: dict[str, set[str]] = {}
        for name in _selected(pipeline, only):
            task = pipeline.tasks[name]
            roots = set().union(*(failed_roots.get(d, set()) for d in task.depends_on))
            if roots:
                failed_roots[name] = roots
                reason = f"upstream task(s) failed: {', '.join(sorted(roots))}"
                log.warning("task skipped", extra={"pipeline": pipeline.name, "task": name, "reason": reason})
                task_runs[name] = TaskRun(name=name, status="skipped", attempts=0, error=reason)
                skipped_at = _now()
                attempts.emit(
                    asset=name,
                    attempt=0,
                    final_attempt=True,
                    status="skipped",
                    started_at=skipped_at,
                    finished_at=skipped_at,
                    cpu_seconds=0.0,
                    peak_memory_bytes=_Usage.now().peak_memory_bytes,
                    error_message=reason,
                )
                continue
            upstream = {d: task_runs[d].outputs for d in task.depends_on if d in task_runs}
            task_runs[name] = _run_task(
                task,
                run_id=run_id,
                pipeline=pipeline.name,
                upstream_outputs=upstream,
                sleep=sleep,
                attempts=attempts,
            )
            if task_runs[name].status == "failed":
                failed_roots[name] = {name}
        status: RunStatus = "failed" if failed_roots else "succeeded"
        run = PipelineRun(
            run_id=run_id,
            pipeline=pipeline.name,
            started_at=started_at,
            finished_at=_now(),
            status=status,
            tasks=list(task_runs.values()),
        )
        log.info(
            "pipeline finished",
            extra={"pipeline": pipeline.name, "run_id": run_id, "status": status},
        )
        for each in every:
            each.record(run)
        return run
