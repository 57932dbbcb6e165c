"""Records of the platform topics (``platform.*``) from bronze, as their consumers refine them:
parsed with a schema whose fields are all nullable, checked rule by rule, and re-sends found by
``record_id``. Every rejected record becomes a
:class:`~lakehouse_core.ingestion.quarantine.QuarantineEntry` row naming the rules it failed and
why, so ``bronze = silver + quarantine`` holds exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lakehouse_core.contracts import conform
from lakehouse_core.ingestion.deduplication import (
    DUPLICATE_OF_OFFSET,
    DUPLICATE_OF_PARTITION,
    split_duplicates,
)
from lakehouse_core.ingestion.quarantine import QuarantineEntry

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.types import StructType

#: The column of :func:`check_records`' passing rows that holds the parsed record.
PARSED = "_r"
#: The rule a re-sent record fails (:func:`split_resent`).
DUPLICATE_RULE = "unique_record_id"

#: (rule, failed, message) of one rule, on the parsed record.
Check = tuple[str, "Column", "Column"]


def check_records(
    bronze: DataFrame,
    schema: StructType,
    checks: Callable[[Column], list[Check]],
    *,
    suite: str,
    subject_field: str | None = None,
) -> tuple[DataFrame, DataFrame]:
    """(passed, quarantined) of bronze rows: ``passed`` are the bronze rows whose value is a JSON
    object passing every rule of ``checks``, with the record parsed by ``schema`` in column
    :data:`PARSED`; ``quarantined`` are QuarantineEntry rows for the others, keyed by the
    record's ``record_id`` and carrying its ``subject_field`` (if the record has one) as their
    subject key. Fields the schema does not know are ignored (a newer publisher stays readable).
    """
    from pyspark.sql import functions as F

    is_object = F.json_object_keys(F.col("value")).isNotNull()
    r = F.col(PARSED)
    rules = checks(r)
    failed = F.when(~is_object, F.array(F.lit("valid_json_object"))).otherwise(
        F.array_compact(F.array(*(F.when(bad, F.lit(rule)) for rule, bad, _ in rules)))
    )
    reasons = F.when(~is_object, F.lit("the record is not a JSON object")).otherwise(
        F.concat_ws(
            "; ", *(F.when(bad, F.concat(F.lit(f"{rule}: "), message)) for rule, bad, message in rules)
        )
    )
    checked = (
        bronze.withColumn(PARSED, F.from_json(F.col("value"), schema))
        .withColumn("_failed", failed)
        .withColumn("_reason", reasons)
    )
    subject = F.when(is_object, r[subject_field]) if subject_field else F.lit(None).cast("string")
    quarantined = checked.filter(F.size("_failed") > 0).select(
        F.col("topic").alias("source_topic"),
        F.col("partition").alias("source_partition"),
        F.col("offset").alias("source_offset"),
        F.when(is_object, r["record_id"]).alias("event_id"),
        F.col("value").alias("raw_value"),
        F.col("_failed").alias("failed_rules"),
        F.concat(F.lit(f"{suite}: "), F.col("_reason")).alias("reason"),
        F.current_timestamp().alias("quarantined_at"),
        subject.alias("subject_key"),
    )
    passed = checked.filter(F.size("_failed") == 0).drop("_failed", "_reason")
    return passed, conform(quarantined, QuarantineEntry)


def split_resent(
    records: DataFrame, stored: DataFrame, *, suite: str, subject_column: str | None = None
) -> tuple[DataFrame, DataFrame]:
    """(new records, quarantine rows for re-sent records) of a batch's ``records`` against the
    ``stored`` silver rows, both with ``record_id``, ``source_partition`` and ``source_offset``;
    ``records`` also carry ``_raw_value`` and ``_topic`` (the bronze value and topic), which the
    new records lose. A record whose id is stored from another Kafka record is a re-send
    (:data:`DUPLICATE_RULE`); one replayed from the same Kafka record (after a crash) is in
    neither. The quarantine rows take their subject key from ``subject_column``, if given."""
    from pyspark.sql import functions as F

    new, duplicates = split_duplicates(
        records.withColumnRenamed("record_id", "event_id"),
        stored.select(F.col("record_id").alias("event_id"), "source_partition", "source_offset"),
    )
    reason = F.format_string(
        "%s: failed %s: record_id %s was already stored from partition %d, offset %d (a re-sent record)",
        F.lit(suite),
        F.lit(DUPLICATE_RULE),
        F.col("event_id"),
        F.col(DUPLICATE_OF_PARTITION),
        F.col(DUPLICATE_OF_OFFSET),
    )
    subject = F.col(subject_column) if subject_column else F.lit(None).cast("string")
    resent = duplicates.select(
        F.col("_topic").alias("source_topic"),
        "source_partition",
        "source_offset",
        "event_id",
        F.col("_raw_value").alias("raw_value"),
        F.array(F.lit(DUPLICATE_RULE)).alias("failed_rules"),
        reason.alias("reason"),
        F.current_timestamp().alias("quarantined_at"),
        subject.alias("subject_key"),
    )
    return new.withColumnRenamed("event_id", "record_id").drop("_raw_value", "_topic"), conform(
        resent, QuarantineEntry
    )
