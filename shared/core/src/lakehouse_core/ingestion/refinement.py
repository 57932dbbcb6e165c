"""Bronze → silver for event products: the shared job; products plug in their transforms.

Each bronze micro-batch is processed exactly once by the incremental runner, and every write is
idempotent (insert-if-new on keys, scoped replacement), so a batch replayed after a crash
changes nothing twice. Per batch:

1. the product's ``to_silver`` parses and checks → valid events, quarantine (rules, reason);
2. duplicates (an event id already stored from another Kafka record) → quarantine, so
   ``bronze = silver + quarantine`` holds exactly;
3. new events are inserted into the silver events table;
4. the touched actors (visitors, devices) are re-sessionised over the touched days, with
   context days either side (sessions cross midnight; late events merge or split sessions),
   and their sessions and the events' ``session_id`` are replaced in one MERGE each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from lakehouse_core.delta import (
    ensure_table,
    merge_insert_new,
    merge_update_columns,
    read_table,
    replace_rows,
)
from lakehouse_core.incremental import IncrementalRun, IncrementalSource, run_incrementally
from lakehouse_core.ingestion.deduplication import duplicates_to_quarantine, split_duplicates
from lakehouse_core.tables import TableSpec, checkpoint_location

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

QUARANTINE_KEYS = ("source_topic", "source_partition", "source_offset")


@dataclass(frozen=True)
class SilverBatch:
    """One bronze batch, refined: valid events and the rows that go to quarantine."""

    events: DataFrame
    quarantine: DataFrame


@dataclass(frozen=True, kw_only=True)
class DerivedTable:
    """A silver table derived from the sessionised events (e.g. screen views with the screens
    before and after), rewritten for the touched actors and days together with the sessions."""

    spec: TableSpec
    derive: Callable[[DataFrame], DataFrame]
    key: str
    date_column: str


@dataclass(frozen=True, kw_only=True)
class Refinement:
    """What a product plugs into the shared job.

    ``events`` must have ``event_id``, ``event_date``, ``session_id``, ``source_partition``,
    ``source_offset`` and the ``actor`` column; ``sessions`` must have ``session_id``,
    ``session_date`` and the ``actor`` column.
    """

    product: str
    suite: str
    bronze: TableSpec
    quarantine: TableSpec
    events: TableSpec
    sessions: TableSpec
    actor: str
    to_silver: Callable[[DataFrame], SilverBatch]
    sessionise: Callable[[DataFrame], DataFrame]
    summarise_sessions: Callable[[DataFrame], DataFrame]
    derived: tuple[DerivedTable, ...] = ()
    context_days: int = 1


def _between(column: str, first: date, last: date, alias: str | None = None) -> str:
    name = f"{alias}.`{column}`" if alias else f"`{column}`"
    return f"{name} BETWEEN DATE'{first.isoformat()}' AND DATE'{last.isoformat()}'"


@dataclass(frozen=True)
class RefinementStep:
    refinement: Refinement
    lake_root: str

    def __call__(self, bronze: DataFrame, batch_id: int) -> None:
        """Cached, the batch is read from bronze once (and counted once in the run's progress)."""
        bronze = bronze.persist()
        batch = self.refinement.to_silver(bronze)
        events = batch.events.persist()
        try:
            self._write(bronze, events, batch.quarantine)
        finally:
            events.unpersist()
            bronze.unpersist()

    def _write(self, bronze: DataFrame, events: DataFrame, quarantine: DataFrame) -> None:
        r = self.refinement
        spark = events.sparkSession
        days = sorted(row[0] for row in events.select("event_date").distinct().collect())
        if not days:
            merge_insert_new(quarantine, r.quarantine, lake_root=self.lake_root, keys=QUARANTINE_KEYS)
            return
        window = (days[0] - timedelta(days=1), days[-1] + timedelta(days=1))
        stored = (
            ensure_table(spark, r.events, lake_root=self.lake_root)
            .toDF()
            .where(_between("event_date", *window))
        )
        new, duplicates = split_duplicates(events, stored)
        merge_insert_new(
            quarantine.unionByName(duplicates_to_quarantine(duplicates, bronze, suite=r.suite)),
            r.quarantine,
            lake_root=self.lake_root,
            keys=QUARANTINE_KEYS,
        )
        merge_insert_new(
            new,
            r.events,
            lake_root=self.lake_root,
            keys=("event_id",),
            target_predicate=_between("event_date", *window, alias="t"),
        )
        self._resessionise(spark, events.select(r.actor).distinct(), days[0], days[-1])

    def _resessionise(self, spark: SparkSession, actors: DataFrame, first: date, last: date) -> None:
        r = self.refinement
        margin = timedelta(days=r.context_days)
        scope = (first - margin, last + margin)
        context = (first - 2 * margin, scope[1])
        events = (
            read_table(spark, r.events, lake_root=self.lake_root)
            .where(_between("event_date", *context))
            .join(actors, r.actor, "left_semi")
        )
        with_sessions = r.sessionise(events.drop("session_id")).persist()
        try:
            sessions = r.summarise_sessions(with_sessions).where(_between("session_date", *scope))
            old_sessions = (
                ensure_table(spark, r.sessions, lake_root=self.lake_root)
                .toDF()
                .where(_between("session_date", *scope))
                .join(actors, r.actor, "left_semi")
            )
            replace_rows(
                sessions,
                old_sessions,
                r.sessions,
                lake_root=self.lake_root,
                key="session_id",
                target_predicate=_between("session_date", *context, alias="t"),
            )
            merge_update_columns(
                with_sessions.join(sessions.select("session_id"), "session_id", "left_semi"),
                r.events,
                lake_root=self.lake_root,
                keys=("event_id",),
                columns=("session_id",),
                target_predicate=_between("event_date", *context, alias="t"),
            )
            for derived in r.derived:
                replace_rows(
                    derived.derive(with_sessions).where(_between(derived.date_column, *scope)),
                    ensure_table(spark, derived.spec, lake_root=self.lake_root)
                    .toDF()
                    .where(_between(derived.date_column, *scope))
                    .join(actors, r.actor, "left_semi"),
                    derived.spec,
                    lake_root=self.lake_root,
                    key=derived.key,
                    target_predicate=_between(derived.date_column, *context, alias="t"),
                )
        finally:
            with_sessions.unpersist()


def run_refinement(
    spark: SparkSession,
    refinement: Refinement,
    *,
    lake_root: str,
    continuous: bool = False,
    trigger_seconds: float = 10.0,
) -> IncrementalRun:
    """Refine the bronze records not yet processed; returns how many were read."""
    derived = tuple(d.spec for d in refinement.derived)
    for spec in (refinement.bronze, refinement.quarantine, refinement.events, refinement.sessions, *derived):
        ensure_table(spark, spec, lake_root=lake_root)
    source = IncrementalSource(
        location=refinement.bronze.location(lake_root),
        checkpoint=checkpoint_location(lake_root, refinement.product, "silver"),
    )
    return run_incrementally(
        spark,
        source,
        RefinementStep(refinement, lake_root),
        name=f"{refinement.product}-silver",
        continuous=continuous,
        trigger_seconds=trigger_seconds,
    )
