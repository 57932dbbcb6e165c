"""Bronze → silver: parse, check, deduplicate, pseudonymise, enrich and sessionise.

Each bronze micro-batch is processed exactly once by the incremental runner; every write here
is idempotent (insert-if-new on keys, scoped replacement), so a batch replayed after a crash
changes nothing twice. Per batch:

1. parse and check → valid events, quarantine (failed rules, reason);
2. duplicates (a ``messageId`` already stored from another Kafka record) → quarantine, so
   ``bronze = silver + quarantine`` holds exactly;
3. new events inserted into silver events;
4. the touched visitors are re-sessionised over the touched days, with a day of context on
   either side (sessions cross midnight; late events can merge or split sessions), and their
   sessions and the events' ``session_id`` replaced in one MERGE each.
"""

from __future__ import annotations

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
from lakehouse_core.errors import ConfigError
from lakehouse_core.incremental import IncrementalRun, IncrementalSource, run_incrementally
from lakehouse_core.tables import checkpoint_location
from web_user_analytics import PRODUCT
from web_user_analytics.config import WebConfig
from web_user_analytics.processing.sessions import sessionise, summarise_sessions
from web_user_analytics.processing.silver import duplicates_to_quarantine, split_duplicates, to_silver
from web_user_analytics.storage.tables import (
    BRONZE_EVENTS,
    QUARANTINE_EVENTS,
    SILVER_EVENTS,
    SILVER_SESSIONS,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

QUARANTINE_KEYS = ("source_topic", "source_partition", "source_offset")


def _between(column: str, first: date, last: date, alias: str | None = None) -> str:
    name = f"{alias}.`{column}`" if alias else f"`{column}`"
    return f"{name} BETWEEN DATE'{first.isoformat()}' AND DATE'{last.isoformat()}'"


@dataclass(frozen=True)
class SilverStep:
    """The per-batch work, bound to one product configuration and lake."""

    config: WebConfig
    lake_root: str
    pseudonymisation_key: bytes

    def __call__(self, bronze: DataFrame, batch_id: int) -> None:
        batch = to_silver(
            bronze,
            pseudonymisation_key=self.pseudonymisation_key,
            max_quarantine_fraction=self.config.max_quarantine_fraction,
        )
        events = batch.events.persist()
        try:
            self._write(bronze, events, batch.quarantine)
        finally:
            events.unpersist()

    def _write(self, bronze: DataFrame, events: DataFrame, quarantine: DataFrame) -> None:
        spark = events.sparkSession
        days = sorted(r[0] for r in events.select("event_date").distinct().collect())
        if not days:
            merge_insert_new(quarantine, QUARANTINE_EVENTS, lake_root=self.lake_root, keys=QUARANTINE_KEYS)
            return
        window = (days[0] - timedelta(days=1), days[-1] + timedelta(days=1))
        stored = (
            ensure_table(spark, SILVER_EVENTS, lake_root=self.lake_root)
            .toDF()
            .where(_between("event_date", *window))
        )
        new, duplicates = split_duplicates(events, stored)
        merge_insert_new(
            quarantine.unionByName(duplicates_to_quarantine(duplicates, bronze)),
            QUARANTINE_EVENTS,
            lake_root=self.lake_root,
            keys=QUARANTINE_KEYS,
        )
        merge_insert_new(
            new,
            SILVER_EVENTS,
            lake_root=self.lake_root,
            keys=("event_id",),
            target_predicate=_between("event_date", *window, alias="t"),
        )
        self._resessionise(spark, events.select("visitor_id").distinct(), days[0], days[-1])

    def _resessionise(self, spark: SparkSession, visitors: DataFrame, first: date, last: date) -> None:
        scope = (first - timedelta(days=1), last + timedelta(days=1))
        context = (first - timedelta(days=2), scope[1])
        events = (
            read_table(spark, SILVER_EVENTS, lake_root=self.lake_root)
            .where(_between("event_date", *context))
            .join(visitors, "visitor_id", "left_semi")
        )
        with_sessions = sessionise(
            events.drop("session_id"), inactivity_minutes=self.config.sessions.inactivity_minutes
        ).persist()
        try:
            sessions = summarise_sessions(with_sessions).where(_between("session_date", *scope))
            old_sessions = (
                ensure_table(spark, SILVER_SESSIONS, lake_root=self.lake_root)
                .toDF()
                .where(_between("session_date", *scope))
                .join(visitors, "visitor_id", "left_semi")
            )
            replace_rows(
                sessions,
                old_sessions,
                SILVER_SESSIONS,
                lake_root=self.lake_root,
                key="session_id",
                target_predicate=_between("session_date", *context, alias="t"),
            )
            merge_update_columns(
                with_sessions.join(sessions.select("session_id"), "session_id", "left_semi"),
                SILVER_EVENTS,
                lake_root=self.lake_root,
                keys=("event_id",),
                columns=("session_id",),
                target_predicate=_between("event_date", *context, alias="t"),
            )
        finally:
            with_sessions.unpersist()


def pseudonymisation_key(config: WebConfig) -> bytes:
    if config.pseudonymisation_key is None:
        raise ConfigError(
            "WEB_PSEUDONYMISATION_KEY is not set: silver stores user ids only as a keyed hash, "
            "so the key must come from the environment"
        )
    return config.pseudonymisation_key.get_secret_value().encode()


def run_silver(
    spark: SparkSession,
    config: WebConfig,
    *,
    lake_root: str,
    continuous: bool = False,
    trigger_seconds: float = 10.0,
) -> IncrementalRun:
    """Process the bronze records not yet refined; returns how many were read."""
    step = SilverStep(config, lake_root, pseudonymisation_key(config))
    for spec in (BRONZE_EVENTS, QUARANTINE_EVENTS, SILVER_EVENTS, SILVER_SESSIONS):
        ensure_table(spark, spec, lake_root=lake_root)
    source = IncrementalSource(
        location=BRONZE_EVENTS.location(lake_root),
        checkpoint=checkpoint_location(lake_root, PRODUCT, "silver"),
    )
    return run_incrementally(
        spark, source, step, name=f"{PRODUCT}-silver", continuous=continuous, trigger_seconds=trigger_seconds
    )
