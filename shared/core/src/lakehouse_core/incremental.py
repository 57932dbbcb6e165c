"""Incremental processing of a Delta table's new data, exactly once per input commit.

A job reads the table as a stream (its new files, or with ``change_feed`` its change data
feed) and hands each micro-batch to a function. The stream's checkpoint records what was
processed only after the function returned, so a job killed mid-batch replays that batch on
restart; batch functions must therefore be idempotent (MERGE on keys, partition overwrite).
``availableNow`` processes what is there and stops; ``continuous`` keeps polling.

A source read by its new files is append-only by design (bronze, landed records): the only
commits that remove its rows are erasure and retention deletes. Those commits are skipped
(``skipChangeCommits``) instead of failing the stream for good, so a person's erasure or a
retention run never stops the products downstream; a row they deleted is not read again, and
what the job derived from it is erased or expired in its own table.

A job that reads a change feed sees deletes as changes to recompute from. A retention run's
deletes are not corrections, only rows outliving their table's purpose: they are committed with
:data:`EXPIRY_METADATA` as the commit's user metadata (:func:`~lakehouse_core.delta.commit_metadata`),
and their delete rows are left out of the feed, so an aggregate downstream keeps counting what
expired in its source until its own retention (an erasure's deletes are not marked, and are
recomputed from).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakehouse_core.errors import DataError, JobError
from lakehouse_core.tables import TableSpec, checkpoint_location

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming.query import StreamingQuery

log = logging.getLogger(__name__)

BatchFunction = Callable[["DataFrame", int], None]
#: The user metadata of a retention run's delete commits.
EXPIRY_METADATA = "lakehouse:retention"


def expiry_versions(location: str) -> list[int]:
    """The versions of the table at ``location`` committed by a retention run (delta-rs reads
    the log's commit infos; no Spark job)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        history = DeltaTable(location).history()
    except TableNotFoundError:
        return []
    return sorted(int(c["version"]) for c in history if c.get("userMetadata") == EXPIRY_METADATA)


def await_query(query: StreamingQuery, name: str) -> None:
    """Block until the query ends; a failed query raises :class:`JobError` naming the job."""
    from pyspark.errors import StreamingQueryException

    try:
        query.awaitTermination()
    except StreamingQueryException as exc:
        raise JobError(f"{name} failed: {exc}") from exc
    failure = query.exception()
    if failure is not None:
        raise JobError(f"{name} failed: {failure}")


@dataclass(frozen=True, kw_only=True)
class IncrementalSource:
    location: str
    checkpoint: str
    change_feed: bool = False
    max_files_per_trigger: int | None = None


@dataclass(frozen=True)
class IncrementalRun:
    batches: int
    input_rows: int


def run_incrementally(
    spark: SparkSession,
    source: IncrementalSource,
    process: BatchFunction,
    *,
    name: str,
    continuous: bool = False,
    trigger_seconds: float = 10.0,
) -> IncrementalRun:
    """Feed the source's unprocessed data to ``process`` batch by batch; block until done
    (or, with ``continuous``, until the query is stopped).

    A :class:`~lakehouse_core.errors.DataError` raised by ``process`` stops the stream and is
    raised as itself (with the stream's failure as its cause), not as the generic
    :class:`JobError`: the orchestrator does not retry a data error, since it would fail again.
    """
    data_errors: list[DataError] = []

    def guarded(batch: DataFrame, batch_id: int) -> None:
        try:
            process(batch, batch_id)
        except DataError as error:
            data_errors.append(error)
            raise

    from pyspark.sql import functions as F

    reader = spark.readStream.format("delta")
    if source.change_feed:
        reader = reader.option("readChangeFeed", "true")
    else:
        reader = reader.option("skipChangeCommits", "true")
    if source.max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", str(source.max_files_per_trigger))
    stream = reader.load(source.location)
    expired = expiry_versions(source.location) if source.change_feed else []
    if expired:
        stream = stream.where(~((F.col("_change_type") == "delete") & F.col("_commit_version").isin(expired)))
    writer = (
        stream.writeStream.foreachBatch(guarded)
        .option("checkpointLocation", source.checkpoint)
        .queryName(name)
    )
    writer = (
        writer.trigger(processingTime=f"{trigger_seconds} seconds")
        if continuous
        else writer.trigger(availableNow=True)
    )
    query = writer.start()
    try:
        await_query(query, name)
    except JobError as failure:
        if data_errors:
            raise data_errors[-1] from failure
        raise
    progress = query.recentProgress
    run = IncrementalRun(
        batches=sum(1 for p in progress if int(p.get("numInputRows", 0)) > 0),
        input_rows=sum(int(p.get("numInputRows", 0)) for p in progress),
    )
    log.info("incremental run finished", extra={"job": name, "batches": run.batches, "rows": run.input_rows})
    return run


def run_on_changes(
    spark: SparkSession,
    process: BatchFunction,
    *,
    product: str,
    job: str,
    changes_of: TableSpec,
    tables: Iterable[TableSpec],
    lake_root: str,
    continuous: bool = False,
    trigger_seconds: float = 10.0,
) -> IncrementalRun:
    """Feed the change data feed of ``changes_of`` to ``process``, with the checkpoint at
    ``<lake>/_checkpoints/<product>/<job>``; ``tables`` (inputs and outputs) are created first
    when missing, so a first run on an empty lake works."""
    from lakehouse_core.delta import ensure_table

    for spec in (changes_of, *tables):
        ensure_table(spark, spec, lake_root=lake_root)
    source = IncrementalSource(
        location=changes_of.location(lake_root),
        checkpoint=checkpoint_location(lake_root, product, job),
        change_feed=True,
    )
    return run_incrementally(
        spark,
        source,
        process,
        name=f"{product}-{job}",
        continuous=continuous,
        trigger_seconds=trigger_seconds,
    )
