"""Recompute an event product's gold for a range of days from silver (``<product> backfill``).

The gold job is incremental: it recomputes what the change feed of silver sessions says
changed. A backfill feeds the same gold step (:attr:`EventProduct.gold_step`) the silver
sessions of the chosen days instead, shaped as the change feed's inserts, a chunk of days per
batch. The step recomputes what those sessions affect, as it would for a change feed naming
them: the days themselves, the neighbouring days its tables need (a session running past
midnight, a page's exit), and the touched visitors' or devices' dimension rows and cohorts.
Every write is idempotent, so a backfill over a healthy gold leaves the same rows.

The change feed's checkpoint is not read or moved: the next incremental run processes exactly
what it would have without the backfill. A day of the range without silver sessions gives the
step nothing to recompute, so its gold is left as it is; the run names those days. The range,
its checks and the progress bar are the platform's (:mod:`lakehouse_platform.backfill`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from rich.console import Console

from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.tables import Layer, TableSpec
from lakehouse_platform.backfill import (
    DEFAULT_CHUNK_DAYS,
    TASK,
    BackfillRangeError,
    DayRange,
    Progressed,
    day_progress,
)
from lakehouse_platform.catalog import product_catalog
from lakehouse_platform.orchestrator import (
    JsonLinesRecorder,
    Pipeline,
    PipelineRun,
    RunContext,
    RunRecorder,
    Task,
    run_pipeline,
)
from lakehouse_platform.run_reporting import platform_recorders
from lakehouse_platform.task_reports import versions_before, written_since

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse_events.product import ConfigT, EventProduct


def session_changes(
    spark: SparkSession, sessions: TableSpec, first: date, last: date, *, lake_root: str
) -> DataFrame:
    """The silver sessions of ``first`` to ``last`` as the change feed would show them
    inserted: the table's columns and ``_change_type`` = ``insert``."""
    from pyspark.sql import functions as F

    from lakehouse_core.delta import read_table

    return (
        read_table(spark, sessions, lake_root=lake_root)
        .where(F.col("session_date").between(F.lit(first), F.lit(last)))
        .withColumn("_change_type", F.lit("insert"))
    )


@dataclass(frozen=True)
class BackfillRun:
    batches: int
    sessions_read: int
    days_without_sessions: tuple[date, ...]


def backfill_gold(
    product: EventProduct[ConfigT],
    spark: SparkSession,
    config: ConfigT,
    *,
    days: DayRange,
    lake_root: str,
    chunk_days: int = DEFAULT_CHUNK_DAYS,
    progressed: Progressed | None = None,
) -> BackfillRun:
    """Feed the product's gold step the silver sessions of ``days``, ``chunk_days`` at a time."""
    from lakehouse_core.delta import ensure_table

    if chunk_days < 1:
        raise BackfillRangeError(f"chunk_days must be at least 1, got {chunk_days}")
    for spec in (product.sessions, *product.gold_tables):
        ensure_table(spark, spec, lake_root=lake_root)
    step = product.gold_step(config, lake_root)
    batches = sessions_read = done = 0
    empty: list[date] = []
    if progressed is not None:
        progressed(0)
    for first, last in days.chunks(chunk_days):
        changes = session_changes(spark, product.sessions, first, last, lake_root=lake_root).persist()
        try:
            per_day = {row[0]: int(row[1]) for row in changes.groupBy("session_date").count().collect()}
            chunk = [first + timedelta(days=i) for i in range((last - first).days + 1)]
            empty.extend(d for d in chunk if d not in per_day)
            if per_day:
                step(changes, batches)
                batches += 1
                sessions_read += sum(per_day.values())
        finally:
            changes.unpersist()
        done += len(chunk)
        if progressed is not None:
            progressed(done)
    return BackfillRun(batches, sessions_read, tuple(empty))


def gold_writes(product: EventProduct[ConfigT]) -> tuple[TableSpec, ...]:
    return tuple(spec for spec in product.tables if spec.layer is Layer.GOLD)


def backfill_pipeline(
    product: EventProduct[ConfigT],
    config: ConfigT,
    *,
    spark: Callable[[], SparkSession],
    lake_root: str,
    days: DayRange,
    chunk_days: int = DEFAULT_CHUNK_DAYS,
    progressed: Progressed | None = None,
) -> Pipeline:
    """One task, ``backfill``, writing the product's gold; its record's ``partition`` is the
    range (``D1..D2``)."""
    writes = gold_writes(product)

    def backfill(_: RunContext) -> Mapping[str, Any]:
        session = spark()
        before = versions_before(session, writes, lake_root=lake_root)
        run = backfill_gold(
            product,
            session,
            config,
            days=days,
            lake_root=lake_root,
            chunk_days=chunk_days,
            progressed=progressed,
        )
        written = written_since(session, writes, before, lake_root=lake_root)
        return {
            "partition": days.partition,
            "days": days.days,
            "batches": run.batches,
            "sessions_read": run.sessions_read,
            "days_without_sessions": [d.isoformat() for d in run.days_without_sessions],
            "rows_read": {product.sessions.qualified_name: run.sessions_read},
            **written.outputs(),
        }

    return Pipeline(product.name, [Task(TASK, backfill, writes=writes)])


def run_backfill(
    product: EventProduct[ConfigT],
    config: ConfigT,
    settings: LakehouseSettings,
    *,
    spark: Callable[[], SparkSession],
    days: DayRange,
    chunk_days: int = DEFAULT_CHUNK_DAYS,
    console: Console | None = None,
    recorders: Sequence[RunRecorder] | None = None,
) -> PipelineRun:
    """The backfill as a pipeline run with a progress bar, recorded where ``<product>
    pipeline`` records (its JSON lines, the platform topics, lineage) unless ``recorders`` are
    given."""
    with day_progress(console) as bar:
        shown = bar.add_task(f"{product.name} gold {days.partition}", total=days.days)
        pipeline = backfill_pipeline(
            product,
            config,
            spark=spark,
            lake_root=settings.lake_root,
            days=days,
            chunk_days=chunk_days,
            progressed=lambda done: bar.update(shown, completed=done),
        )
        if recorders is not None:
            return run_pipeline(pipeline, recorders=recorders)
        local = JsonLinesRecorder(settings.state_dir / "pipeline_runs" / f"{product.name}.jsonl")
        catalog = product_catalog(product, lake_root=settings.lake_root)
        with platform_recorders(settings, catalog=catalog) as reporting:
            return run_pipeline(pipeline, recorders=[local, *reporting])
