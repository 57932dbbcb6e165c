"""Bronze → silver for event products: the shared job; products plug in their transforms.

Each bronze micro-batch is processed exactly once by the incremental runner, and every write is
idempotent (insert-if-new on keys, scoped replacement), so a batch replayed after a crash
changes nothing twice. Per batch:

1. the product's ``to_silver`` parses and checks → valid events, quarantine (rules, reason);
2. duplicates (an event id already stored from another Kafka record, on any day) → quarantine,
   so ``bronze = silver + quarantine`` holds exactly; the quarantine rows at the batch's bronze
   records are replaced by the batch's, so a record that passes on a later run leaves it;
3. new events are inserted into the silver events table, and the identity links they make
   (identify, alias, sign-in) into the links table, if the product has one; the quarantine,
   events and links writes touch different tables and none reads another's (the new events
   are held as a local checkpoint first), so they run at the same time
   (:func:`~lakehouse_core.delta.write_all`);
4. the touched actors (visitors, devices) are re-sessionised on the batch's days with
   ``context_days`` either side, reading events ``2 * context_days`` either side (sessions
   cross midnight; late events merge or split sessions), and their sessions and the events'
   ``session_id`` are replaced in one MERGE each, run together with the derived tables'
   replacements. Only those dates are read and rewritten: a batch with one event 300 days
   late touches that day's neighbourhood, not 300 days.

A batch that fails its suite systemically (:class:`~lakehouse_core.errors.SystemicBreakageError`)
is not committed; see :meth:`RefinementStep.__call__`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import TYPE_CHECKING

from lakehouse_core.contracts import conform
from lakehouse_core.delta import (
    Write,
    ensure_table,
    merge_insert_new,
    merge_update_columns,
    read_table,
    replace_rows,
    with_conflict_retry,
    write_all,
)
from lakehouse_core.errors import LakehouseError, SystemicBreakageError
from lakehouse_core.identity import LINK_KEYS, LinkRule, identity_links
from lakehouse_core.incremental import IncrementalRun, IncrementalSource, run_incrementally
from lakehouse_core.ingestion.deduplication import duplicates_to_quarantine, split_duplicates
from lakehouse_core.ingestion.quarantine import QuarantinedRecord, with_subject_key
from lakehouse_core.privacy import platform_subject_key
from lakehouse_core.quality.runner import FAILED_RULES, QUARANTINE_REASON
from lakehouse_core.tables import TableSpec, checkpoint_location

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

QUARANTINE_KEYS = ("source_topic", "source_partition", "source_offset")
#: The rule under which the records of a systemically failed batch that passed every rule are
#: held in quarantine until the batch is refined again.
HELD_RULE = "held_with_refused_batch"


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
class RefinementSteps:
    """A product's part of the shared job: its transforms, without its tables (those come from
    the product's declaration, :meth:`EventProduct.build_refinement
    <lakehouse_events.product.EventProduct.build_refinement>`).

    ``to_silver``'s events must have ``event_id``, ``event_date``, ``session_id``,
    ``source_partition``, ``source_offset`` and the ``actor`` column; ``summarise_sessions``'
    sessions must have ``session_id``, ``session_date`` and the ``actor`` column.
    """

    suite: str
    actor: str
    to_silver: Callable[[DataFrame], SilverBatch]
    sessionise: Callable[[DataFrame], DataFrame]
    summarise_sessions: Callable[[DataFrame], DataFrame]
    derived: tuple[DerivedTable, ...] = ()
    context_days: int = 1
    link_rules: tuple[LinkRule, ...] = ()
    """The events that tie a product id to a subject key (:func:`lakehouse_core.identity.identity_links`);
    a product with rules declares an ``identity_links`` table, one without declares none."""
    platform_key: bytes = field(default_factory=platform_subject_key, repr=False)
    """The platform key of the quarantine rows' ``subject_key``; by default from ``LAKEHOUSE_SUBJECT_KEY``."""


class RefinementError(LakehouseError):
    """A product's refinement steps do not fit the tables its declaration names."""


@dataclass(frozen=True, kw_only=True)
class Refinement:
    """What the shared job runs: a product's steps with the tables of its declaration."""

    product: str
    bronze: TableSpec
    quarantine: TableSpec
    events: TableSpec
    sessions: TableSpec
    identity_links: TableSpec | None = None
    steps: RefinementSteps

    def __post_init__(self) -> None:
        if self.steps.link_rules and self.identity_links is None:
            raise RefinementError(
                f"{self.product}: its refinement derives identity links ({len(self.steps.link_rules)} "
                "link rules) but the product declares no identity_links table to store them in"
            )
        if self.identity_links is not None and not self.steps.link_rules:
            raise RefinementError(
                f"{self.product}: it declares {self.identity_links.qualified_name} but its refinement "
                "has no link rules, so nothing would ever be written to it"
            )

    @property
    def tables(self) -> tuple[TableSpec, ...]:
        """Every table the job reads or writes: bronze, quarantine, silver events, sessions, the
        derived tables and the identity links."""
        links = (self.identity_links,) if self.identity_links is not None else ()
        derived = tuple(d.spec for d in self.steps.derived)
        return (self.bronze, self.quarantine, self.events, self.sessions, *derived, *links)

    def links_of(self, events: DataFrame) -> DataFrame:
        """The identity links ``events`` make, with the silver events table as their source."""
        return identity_links(events, self.steps.link_rules, source_table=self.events.qualified_name)


def dates_around(days: Iterable[date], margin: int) -> set[date]:
    """Each day with ``margin`` days either side."""
    return {day + timedelta(days=k) for day in days for k in range(-margin, margin + 1)}


def _dates_in(column: str, dates: Collection[date], alias: str | None = None) -> str:
    name = f"{alias}.`{column}`" if alias else f"`{column}`"
    listed = ", ".join(f"DATE'{d.isoformat()}'" for d in sorted(dates))
    return f"{name} IN ({listed})"


@dataclass(frozen=True)
class RefinementStep:
    """The batch function of the refinement stream."""

    refinement: Refinement
    lake_root: str

    def __call__(self, bronze: DataFrame, batch_id: int) -> None:
        """Refine one bronze batch. The batch, its events and its quarantine rows are each
        computed once and held as local checkpoints: read from bronze once (and counted once in
        the run's progress), and every later step plans over a few stored rows instead of the
        whole parse-and-validate lineage (planning, not the rows, is most of a small batch's
        cost). A checkpoint lost with its executor fails the batch, which the next run refines
        again.

        A systemic failure of the suite stores quarantine rows for *every* record of the batch
        (the rejected ones with their rules, the others under :data:`HELD_RULE`), writes nothing
        to silver and raises, so the batch is **not committed**: the stream stops there, and
        the next run refines the same batch again. It is left to be retried rather than
        committed because the usual cause is a wrong rule or producer: once that is fixed, the
        run refines the batch properly and the records that now pass leave quarantine (the
        batch's quarantine rows are replaced, not added to). Meanwhile nothing is lost,
        ``bronze = silver + quarantine`` holds, and a run that fails again writes no row twice.
        """
        bronze = bronze.localCheckpoint()
        try:
            batch = self.refinement.steps.to_silver(bronze)
        except SystemicBreakageError as error:
            self._store_quarantine(bronze, self._refused(bronze, error))
            raise
        self._write(bronze, batch.events.localCheckpoint(), batch.quarantine)

    def _write(self, bronze: DataFrame, events: DataFrame, quarantine: DataFrame) -> None:
        r = self.refinement
        spark = events.sparkSession
        stored = ensure_table(spark, r.events, lake_root=self.lake_root).toDF()
        new, duplicates = split_duplicates(events, stored)
        quarantine = quarantine.unionByName(
            duplicates_to_quarantine(duplicates, bronze, suite=r.steps.suite)
        ).localCheckpoint()
        days = sorted(row[0] for row in events.select("event_date").distinct().collect())
        if not days:
            self._store_quarantine(bronze, quarantine)
            return
        # Held before any write: once the events are stored, ``new`` (lazy) no longer holds them.
        new = new.localCheckpoint()
        in_batch_days = _dates_in("event_date", days, alias="t")
        writes: list[Write] = [
            partial(self._store_quarantine, bronze, quarantine),
            partial(
                merge_insert_new,
                new,
                r.events,
                lake_root=self.lake_root,
                keys=("event_id",),
                target_predicate=in_batch_days,
            ),
        ]
        if r.identity_links is not None:
            writes.append(
                partial(
                    merge_insert_new,
                    r.links_of(new),
                    r.identity_links,
                    lake_root=self.lake_root,
                    keys=LINK_KEYS,
                    target_predicate=in_batch_days,
                )
            )
        write_all(writes)
        self._resessionise(spark, events.select(r.steps.actor).distinct(), days)

    def _refused(self, bronze: DataFrame, error: SystemicBreakageError) -> DataFrame:
        """Quarantine rows for every record of a batch refused as a whole."""
        from pyspark.sql import functions as F

        r = self.refinement
        refused = (
            f"the whole batch was refused ({error.rows:,} rows; "
            + "; ".join(f"{rule}: {count:,}" for rule, count in error.failures.items())
            + ") and is refined again on the next run"
        )
        records = _bronze_records(bronze)
        rejected = error.rejected
        needed = {"topic", "partition", "offset", FAILED_RULES, QUARANTINE_REASON}
        if rejected is not None and needed <= set(rejected.columns):
            failed = rejected.select(
                F.col("topic").alias("source_topic"),
                F.col("partition").alias("source_partition"),
                F.col("offset").alias("source_offset"),
                F.col(FAILED_RULES).alias("failed_rules"),
                F.col(QUARANTINE_REASON).alias("_reason"),
            )
            records = records.join(failed, list(QUARANTINE_KEYS), "left")
        else:
            records = records.withColumn("failed_rules", F.lit(None).cast("array<string>")).withColumn(
                "_reason", F.lit(None).cast("string")
            )
        held = F.lit(f"{r.steps.suite}: {HELD_RULE}: passed the rules, but {refused}")
        return conform(
            records.withColumn("failed_rules", F.coalesce("failed_rules", F.array(F.lit(HELD_RULE))))
            .withColumn(
                "reason",
                F.when(F.col("_reason").isNull(), held).otherwise(F.concat("_reason", F.lit(f"; {refused}"))),
            )
            .withColumn("quarantined_at", F.current_timestamp()),
            QuarantinedRecord,
        )

    def _store_quarantine(self, bronze: DataFrame, rows: DataFrame) -> None:
        """Make the quarantine rows at the batch's bronze records be ``rows`` (with the subject key
        of their raw payload), in one MERGE: new ones inserted, those already there untouched
        unless their rules, reason or subject key changed (a replayed batch writes nothing
        twice), and those of records that no longer fail deleted."""
        from pyspark.sql import functions as F

        r = self.refinement
        keys = list(QUARANTINE_KEYS)
        table = ensure_table(bronze.sparkSession, r.quarantine, lake_root=self.lake_root)
        columns = r.quarantine.schema.fieldNames()
        stale = (
            table.toDF()
            .select(*keys)
            .join(_bronze_records(bronze).select(*keys), keys, "left_semi")
            .join(rows.select(*keys), keys, "left_anti")
        )
        source = (
            with_subject_key(rows, key=r.steps.platform_key)
            .select(*columns)
            .withColumn("_stale", F.lit(False))
            .unionByName(
                stale.select(*[F.col(c) if c in keys else F.lit(None).alias(c) for c in columns]).withColumn(
                    "_stale", F.lit(True)
                )
            )
        )
        on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
        changed = " OR ".join(f"NOT (t.{c} <=> s.{c})" for c in ("failed_rules", "reason", "subject_key"))
        values: dict[str, str | Column] = {c: f"s.`{c}`" for c in columns}

        def run() -> None:
            (
                table.alias("t")
                .merge(source.alias("s"), on)
                .whenMatchedDelete(condition="s._stale")
                .whenMatchedUpdate(condition=changed, set=values)
                .whenNotMatchedInsert(condition="NOT s._stale", values=values)
                .execute()
            )

        with_conflict_retry(run, table=r.quarantine.qualified_name)

    def _resessionise(self, spark: SparkSession, actors: DataFrame, days: Collection[date]) -> None:
        """Rewrite the actors' sessions starting within ``context_days`` of a batch day, from
        their events within ``2 * context_days``: a session starting at either edge of the scope
        is rebuilt with the events before it (it may continue one from the day before) and
        after it (it may run past midnight)."""
        r, steps = self.refinement, self.refinement.steps
        scope = dates_around(days, steps.context_days)
        context = dates_around(days, 2 * steps.context_days)
        events = (
            read_table(spark, r.events, lake_root=self.lake_root)
            .where(_dates_in("event_date", context))
            .join(actors, steps.actor, "left_semi")
        )
        with_sessions = steps.sessionise(events.drop("session_id")).localCheckpoint()
        sessions = steps.summarise_sessions(with_sessions).where(_dates_in("session_date", scope))
        old_sessions = (
            ensure_table(spark, r.sessions, lake_root=self.lake_root)
            .toDF()
            .where(_dates_in("session_date", scope))
            .join(actors, steps.actor, "left_semi")
        )
        writes: list[Write] = [
            partial(
                replace_rows,
                sessions,
                old_sessions,
                r.sessions,
                lake_root=self.lake_root,
                key="session_id",
                target_predicate=_dates_in("session_date", context, alias="t"),
            ),
            partial(
                merge_update_columns,
                with_sessions.join(sessions.select("session_id"), "session_id", "left_semi"),
                r.events,
                lake_root=self.lake_root,
                keys=("event_id",),
                columns=("session_id",),
                target_predicate=_dates_in("event_date", context, alias="t"),
            ),
        ]
        for derived in steps.derived:
            writes.append(
                partial(
                    replace_rows,
                    derived.derive(with_sessions).where(_dates_in(derived.date_column, scope)),
                    ensure_table(spark, derived.spec, lake_root=self.lake_root)
                    .toDF()
                    .where(_dates_in(derived.date_column, scope))
                    .join(actors, steps.actor, "left_semi"),
                    derived.spec,
                    lake_root=self.lake_root,
                    key=derived.key,
                    target_predicate=_dates_in(derived.date_column, context, alias="t"),
                )
            )
        write_all(writes)


def _bronze_records(bronze: DataFrame) -> DataFrame:
    """Bronze rows as the located, raw part of a quarantine row."""
    from pyspark.sql import functions as F

    return bronze.select(
        F.col("topic").alias("source_topic"),
        F.col("partition").alias("source_partition"),
        F.col("offset").alias("source_offset"),
        F.get_json_object(F.col("value"), "$.messageId").alias("event_id"),
        F.col("value").alias("raw_value"),
    )


def run_refinement(
    spark: SparkSession,
    refinement: Refinement,
    *,
    lake_root: str,
    continuous: bool = False,
    trigger_seconds: float = 10.0,
) -> IncrementalRun:
    """Refine the bronze records not yet processed; returns how many were read.

    A batch refused by its suite raises its
    :class:`~lakehouse_core.errors.SystemicBreakageError` (a data error: running again fails
    the same way until the data or the rules change), after storing its quarantine rows."""
    for spec in refinement.tables:
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
