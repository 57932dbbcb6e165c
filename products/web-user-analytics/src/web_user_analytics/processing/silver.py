"""Bronze → silver events: parse, validate (bad rows to quarantine), pseudonymise, enrich,
and split off duplicates.

:func:`to_silver` is one batch's pure transform, apart from the quality runner's counting pass
(which is what lets it refuse a batch that is mostly broken). Deduplication against what silver
already holds is a separate step, :func:`split_duplicates`, because it needs the stored table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakehouse_core.contracts import conform
from lakehouse_core.ingestion.quarantine import QuarantinedRecord
from lakehouse_core.ingestion.segment_parsing import (
    EVENT_TS,
    MESSAGE,
    describe_failures,
    message_expectations,
    parse_messages,
)
from lakehouse_core.privacy import drop_json_keys, hmac_sha256, truncate_ip
from lakehouse_core.quality.runner import FAILED_RULES, ExpectationSuite, apply_suite
from web_user_analytics.contracts import WebEvent
from web_user_analytics.processing import enrichment

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

SUITE_NAME = "web_events"
DUPLICATE_RULE = "unique_message_id"
DUPLICATE_OF_PARTITION = "duplicate_of_partition"
DUPLICATE_OF_OFFSET = "duplicate_of_offset"
_LOCATION = ["source_partition", "source_offset"]
#: ``context.campaign`` field → silver ``utm_*`` suffix.
_UTM_FIELDS = (
    ("source", "source"),
    ("medium", "medium"),
    ("name", "campaign"),
    ("term", "term"),
    ("content", "content"),
)


@dataclass(frozen=True)
class SilverBatch:
    events: DataFrame
    quarantine: DataFrame


def to_silver(
    bronze: DataFrame, *, pseudonymisation_key: bytes, max_quarantine_fraction: float
) -> SilverBatch:
    """Bronze rows → silver :class:`WebEvent` rows and :class:`QuarantinedRecord` rows.

    Raises :class:`~lakehouse_core.errors.QualityError` when more than
    ``max_quarantine_fraction`` of the rows fail validation: that is a broken producer, not
    bad rows, and should stop the pipeline rather than fill the quarantine.
    """
    suite = ExpectationSuite(
        name=SUITE_NAME,
        expectations=message_expectations(),
        max_quarantine_fraction=max_quarantine_fraction,
    )
    outcome = apply_suite(parse_messages(bronze), suite)
    return SilverBatch(
        events=conform(_web_events(outcome.valid, pseudonymisation_key), WebEvent),
        quarantine=_quarantined(outcome.quarantine),
    )


def _properties_field(message: Column, name: str) -> Column:
    """Segment's page calls repeat page facts in ``properties``; used when context lacks them."""
    from pyspark.sql import functions as F

    return F.get_json_object(message["properties"], f"$.{name}")


def _web_events(valid: DataFrame, key: bytes) -> DataFrame:
    from pyspark.sql import functions as F

    message = F.col(MESSAGE)
    context = message["context"]
    page = context["page"]
    campaign = context["campaign"]
    user_agent = context["userAgent"]
    url = F.coalesce(page["url"], _properties_field(message, "url"))
    referrer = F.coalesce(page["referrer"], _properties_field(message, "referrer"))
    clear_visitor = F.coalesce(
        F.nullif(F.trim(message["userId"]), F.lit("")), F.nullif(F.trim(message["anonymousId"]), F.lit(""))
    )
    event_type = message["type"]
    return (
        valid.select(
            message["messageId"].alias("event_id"),
            event_type.alias("event_type"),
            F.when(event_type == "track", message["event"])
            .when(event_type.isin("page", "screen"), message["name"])
            .alias("event_name"),
            hmac_sha256(clear_visitor, key).alias("visitor_id"),
            F.col(EVENT_TS).alias("event_ts"),
            message["receivedAt"].alias("received_at"),
            F.to_date(F.col(EVENT_TS)).alias("event_date"),
            F.lit(None).cast("string").alias("session_id"),
            url.alias("page_url"),
            enrichment.host(url).alias("page_host"),
            enrichment.page_path(url, F.coalesce(page["path"], _properties_field(message, "path"))).alias(
                "page_path"
            ),
            enrichment.url_part(url, "QUERY").alias("page_query"),
            F.coalesce(page["title"], _properties_field(message, "title")).alias("page_title"),
            referrer.alias("_referrer"),
            enrichment.host(referrer).alias("referrer_host"),
            *[enrichment.utm(campaign[field], url, name).alias(f"utm_{name}") for field, name in _UTM_FIELDS],
            enrichment.browser(user_agent).alias("browser"),
            enrichment.operating_system(user_agent).alias("os"),
            enrichment.device_type(user_agent).alias("device_type"),
            enrichment.is_bot(user_agent).alias("is_bot"),
            truncate_ip(context["ip"]).alias("ip_truncated"),
            context["location"]["country"].alias("country"),
            drop_json_keys(message["properties"]).alias("properties_json"),
            drop_json_keys(F.coalesce(message["traits"], context["traits"])).alias("traits_json"),
            F.col("partition").alias("source_partition"),
            F.col("offset").alias("source_offset"),
        )
        .withColumn(
            "referrer_class",
            enrichment.referrer_class(
                F.col("_referrer"), F.col("referrer_host"), F.col("page_host"), F.col("utm_medium")
            ),
        )
        .drop("_referrer")
    )


def _quarantined(rejected: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    return conform(
        rejected.select(
            F.col("topic").alias("source_topic"),
            F.col("partition").alias("source_partition"),
            F.col("offset").alias("source_offset"),
            F.col(MESSAGE)["messageId"].alias("event_id"),
            F.col("value").alias("raw_value"),
            F.col(FAILED_RULES).alias("failed_rules"),
            F.concat(F.lit(f"{SUITE_NAME}: "), describe_failures(F.col(FAILED_RULES))).alias("reason"),
            F.current_timestamp().alias("quarantined_at"),
        ),
        QuarantinedRecord,
    )


def split_duplicates(batch_events: DataFrame, stored_events: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(new, duplicates) of a batch of silver events against the events already stored.

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
    stored = stored_events.select(*identity)
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


def duplicates_to_quarantine(duplicates: DataFrame, bronze: DataFrame) -> DataFrame:
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
        F.lit(SUITE_NAME),
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
