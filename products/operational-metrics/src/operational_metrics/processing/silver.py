"""Bronze run records → silver run attempts (pure): parsed with the
:class:`~lakehouse_core.platform_topics.PipelineRunRecord` contract, checked, and split into
valid attempts and quarantine rows, each quarantine row with the rules it failed and why.

A record whose ``record_id`` is already stored (from another Kafka record) is a re-send: it goes
to quarantine under
:data:`~lakehouse_core.ingestion.platform_records.DUPLICATE_RULE`, so a record counts once and
``bronze = silver + quarantine`` holds exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import types as T

from lakehouse_core.contracts import conform
from lakehouse_core.ingestion.platform_records import PARSED, check_records
from lakehouse_core.ingestion.platform_records import split_resent as split_records_resent
from operational_metrics.contracts import RunAttempt

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

SUITE = "pipeline_run_record"
STATUSES = ("succeeded", "failed", "skipped")

_COUNT_MAP = T.MapType(T.StringType(), T.LongType())
#: The record as parsed: every field nullable, so a missing or mistyped field is a null that a
#: rule names, not a parse failure of the whole record.
RECORD_SCHEMA = T.StructType(
    [
        T.StructField("record_id", T.StringType()),
        T.StructField("product", T.StringType()),
        T.StructField("asset", T.StringType()),
        T.StructField("run_id", T.StringType()),
        T.StructField("partition", T.StringType()),
        T.StructField("attempt", T.LongType()),
        T.StructField("final_attempt", T.BooleanType()),
        T.StructField("status", T.StringType()),
        T.StructField("started_at", T.TimestampType()),
        T.StructField("finished_at", T.TimestampType()),
        T.StructField("rows_read", _COUNT_MAP),
        T.StructField("rows_written", _COUNT_MAP),
        T.StructField("delta_versions", _COUNT_MAP),
        T.StructField("rows_quarantined", _COUNT_MAP),
        T.StructField("cpu_seconds", T.DoubleType()),
        T.StructField("peak_memory_bytes", T.LongType()),
        T.StructField("error_class", T.StringType()),
        T.StructField("error_message", T.StringType()),
    ]
)
REQUIRED = (
    "record_id",
    "product",
    "asset",
    "run_id",
    "attempt",
    "final_attempt",
    "status",
    "started_at",
    "finished_at",
    "cpu_seconds",
    "peak_memory_bytes",
)
COUNT_MAPS = ("rows_read", "rows_written", "delta_versions", "rows_quarantined")
_DAY = r"\d{4}-\d{2}-\d{2}"


def partition_end(partition: Column) -> Column:
    """The last day a partition names: ``D`` for a day, ``D2`` for a range ``D1..D2``; null for
    anything else (an unpartitioned, incremental run)."""
    from pyspark.sql import functions as F

    last = F.when(partition.rlike(f"^{_DAY}$"), partition).when(
        partition.rlike(f"^{_DAY}\\.\\.{_DAY}$"), F.substring_index(partition, "..", -1)
    )
    return F.to_date(last, "yyyy-MM-dd")


def _total(counts: Column) -> Column:
    from pyspark.sql import functions as F

    return F.aggregate(F.map_values(counts), F.lit(0).cast("long"), lambda total, n: total + n)


def _checks(r: Column) -> list[tuple[str, Column, Column]]:
    """(rule, failed, message) per rule, on the parsed record ``r``."""
    from pyspark.sql import functions as F

    missing = F.array_compact(F.array(*(F.when(r[c].isNull(), F.lit(c)) for c in REQUIRED)))
    negative = F.array_compact(
        F.array(
            *(F.when(r[c] < 0, F.lit(c)) for c in ("attempt", "cpu_seconds", "peak_memory_bytes")),
            *(
                F.when(F.exists(F.map_values(r[c]), lambda n: n.isNull() | (n < 0)), F.lit(c))
                for c in COUNT_MAPS
            ),
        )
    )
    return [
        (
            "required_fields",
            F.size(missing) > 0,
            F.concat(F.lit("missing or not of its type: "), F.array_join(missing, ", ")),
        ),
        (
            "known_status",
            r["status"].isNotNull() & ~r["status"].isin(*STATUSES),
            F.format_string("status %s is not one of %s", r["status"], F.lit(", ".join(STATUSES))),
        ),
        (
            "non_negative",
            F.size(negative) > 0,
            F.concat(F.lit("negative or null: "), F.array_join(negative, ", ")),
        ),
        (
            "finished_after_started",
            r["finished_at"] < r["started_at"],
            F.format_string("finished_at %s is before started_at %s", r["finished_at"], r["started_at"]),
        ),
    ]


def parse_runs(bronze: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(attempts, quarantined) of bronze rows of ``platform.pipeline_runs.v1``: attempts as
    :class:`RunAttempt` plus ``_raw_value`` and ``_topic``; quarantined as
    :class:`~lakehouse_core.ingestion.quarantine.QuarantineEntry` rows. Fields the contract does
    not know are ignored (a newer publisher stays readable)."""
    from pyspark.sql import functions as F

    passed, quarantined = check_records(bronze, RECORD_SCHEMA, _checks, suite=SUITE)
    r = F.col(PARSED)
    counts = {
        c: F.transform_values(
            F.coalesce(r[c], F.create_map().cast(_COUNT_MAP)),
            lambda _, n: F.coalesce(n, F.lit(0).cast("long")),
        )
        for c in COUNT_MAPS
    }
    valid = passed.select(
        *(r[c].alias(c) for c in ("record_id", "product", "asset", "run_id", "partition")),
        partition_end(r["partition"]).alias("partition_end"),
        r["attempt"].alias("attempt"),
        r["final_attempt"].alias("final_attempt"),
        r["status"].alias("status"),
        r["started_at"].alias("started_at"),
        r["finished_at"].alias("finished_at"),
        F.to_date(r["started_at"]).alias("run_date"),
        (r["finished_at"].cast("double") - r["started_at"].cast("double")).alias("duration_seconds"),
        _total(counts["rows_read"]).alias("rows_read"),
        _total(counts["rows_written"]).alias("rows_written"),
        _total(counts["rows_quarantined"]).alias("rows_quarantined"),
        counts["rows_read"].alias("rows_read_by_table"),
        counts["rows_written"].alias("rows_written_by_table"),
        counts["delta_versions"].alias("delta_versions"),
        counts["rows_quarantined"].alias("rows_quarantined_by_rule"),
        r["cpu_seconds"].alias("cpu_seconds"),
        r["peak_memory_bytes"].alias("peak_memory_bytes"),
        r["error_class"].alias("error_class"),
        r["error_message"].alias("error_message"),
        F.col("partition").alias("source_partition"),
        F.col("offset").alias("source_offset"),
        F.col("value").alias("_raw_value"),
        F.col("topic").alias("_topic"),
    )
    return valid, quarantined


def split_resent(attempts: DataFrame, stored: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(new attempts as :class:`RunAttempt`, quarantine rows for re-sent records) of a batch's
    ``attempts`` (from :func:`parse_runs`) against the ``stored`` silver attempts
    (:func:`~lakehouse_core.ingestion.platform_records.split_resent`)."""
    new, resent = split_records_resent(attempts, stored, suite=SUITE)
    return conform(new, RunAttempt), resent
