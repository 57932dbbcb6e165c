"""Duplicates of an event already stored: found per batch, kept in quarantine with a reason.

Tracking SDKs retry, so the same ``messageId`` can arrive in several Kafka records. An event is
identified by its id and located by its bronze record (partition, offset); a record that is
merely replayed (same id, same location) after a crash is neither new nor a duplicate.
Duplicates go to quarantine under :data:`DUPLICATE_RULE`, so that
``bronze = silver + quarantine`` holds exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakehouse_core.contracts import conform
from lakehouse_core.ingestion.quarantine import QuarantinedRecord

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

DUPLICATE_RULE = "unique_message_id"
DUPLICATE_OF_PARTITION = "duplicate_of_partition"
DUPLICATE_OF_OFFSET = "duplicate_of_offset"
_LOCATION = ["source_partition", "source_offset"]


def split_duplicates(batch_events: DataFrame, stored_events: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(new, duplicates) of a batch of silver events against the events already stored.

    ``stored_events`` should be the whole events table, every day: an SDK retry can carry a
    corrected timestamp that moves the copy to another day than the original. Only the narrow
    identity columns of the stored events whose id occurs in the batch are read, so the cost
    follows the batch, not the history.

    An event is identified by ``event_id`` and located by its bronze record
    (``source_partition``, ``source_offset``). A batch row whose id *and* location are stored
    is a replay of a record already processed and appears in neither output. Otherwise the row
    is a duplicate when its id is stored (from another record) or when a row of the batch with
    the same id has a lower (partition, offset); the duplicates carry the location of the
    record they repeat in :data:`DUPLICATE_OF_PARTITION` and :data:`DUPLICATE_OF_OFFSET`.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    identity = ["event_id", *_LOCATION]
    stored = stored_events.select(*identity).join(
        batch_events.select("event_id").distinct(), "event_id", "left_semi"
    )
    first_stored = stored.groupBy("event_id").agg(F.min(F.struct(*_LOCATION)).alias("_first_stored"))
    by_location = Window.partitionBy("event_id").orderBy(*_LOCATION)
    candidates = (
        batch_events.dropDuplicates(identity)
        .join(stored, identity, "left_anti")
        .withColumn("_rank", F.row_number().over(by_location))
        .withColumn("_first_in_batch", F.first(F.struct(*_LOCATION)).over(by_location))
        .join(first_stored, "event_id", "left")
    )
    is_duplicate = F.col("_first_stored").isNotNull() | (F.col("_rank") > 1)
    original = F.coalesce(F.col("_first_stored"), F.col("_first_in_batch"))
    new = candidates.filter(~is_duplicate).select(*batch_events.columns)
    duplicates = candidates.filter(is_duplicate).select(
        *batch_events.columns,
        original["source_partition"].alias(DUPLICATE_OF_PARTITION),
        original["source_offset"].alias(DUPLICATE_OF_OFFSET),
    )
    return new, duplicates


def duplicates_to_quarantine(duplicates: DataFrame, bronze: DataFrame, *, suite: str) -> DataFrame:
    """Quarantine rows (rule :data:`DUPLICATE_RULE`) for the duplicates of
    :func:`split_duplicates`, with the raw payload taken back from ``bronze``."""
    from pyspark.sql import functions as F

    records = bronze.select(
        F.col("topic").alias("source_topic"),
        F.col("partition").alias("source_partition"),
        F.col("offset").alias("source_offset"),
        F.get_json_object(F.col("value"), "$.messageId").alias("event_id"),
        F.col("value").alias("raw_value"),
    )
    reason = F.format_string(
        "%s: failed %s: messageId %s was already seen at partition %d, offset %d",
        F.lit(suite),
        F.lit(DUPLICATE_RULE),
        F.col("event_id"),
        F.col(DUPLICATE_OF_PARTITION),
        F.col(DUPLICATE_OF_OFFSET),
    )
    return conform(
        duplicates.select("event_id", *_LOCATION, DUPLICATE_OF_PARTITION, DUPLICATE_OF_OFFSET)
        .join(records, ["event_id", *_LOCATION])
        .withColumn("failed_rules", F.array(F.lit(DUPLICATE_RULE)))
        .withColumn("reason", reason)
        .withColumn("quarantined_at", F.current_timestamp()),
        QuarantinedRecord,
    )
