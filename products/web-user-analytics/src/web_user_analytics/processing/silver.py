"""Bronze → silver web events: parse, validate (bad rows to quarantine), pseudonymise, enrich.

:func:`to_silver` is one batch's pure transform, apart from the quality runner's counting pass
(which is what lets it refuse a batch that is mostly broken). Deduplication against what silver
already holds, and sessionisation, happen in the shared job
(:mod:`lakehouse_events.refinement`), because they need the stored tables.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from lakehouse_core.identity import LinkKind, LinkRule
from lakehouse_core.privacy import SUBJECT_KEY_COLUMN, drop_json_keys, hmac_sha256, subject_key, truncate_ip
from lakehouse_core.tables import SubjectKind
from lakehouse_events.refinement import SilverBatch
from lakehouse_events.segment import EventTimeWindow
from lakehouse_events.segment_parsing import (
    EVENT_TS,
    MESSAGE,
    is_imported,
    kept_traits,
    refine_segment_batch,
)
from web_user_analytics.contracts import WebEvent
from web_user_analytics.processing import enrichment

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

SUITE_NAME = "web_events"
#: The calls that tie an id of this product to a subject key: an identify call's anonymous id,
#: an alias call's earlier id.
LINK_RULES = (
    LinkRule("identify", "anonymous_id", SubjectKind.PSEUDONYMOUS_ID, LinkKind.IDENTIFY),
    LinkRule("alias", "previous_id", SubjectKind.PSEUDONYMOUS_ID, LinkKind.ALIAS),
)
#: ``context.campaign`` field → silver ``utm_*`` suffix.
_UTM_FIELDS = (
    ("source", "source"),
    ("medium", "medium"),
    ("name", "campaign"),
    ("term", "term"),
    ("content", "content"),
)


def to_silver(
    bronze: DataFrame,
    *,
    pseudonymisation_key: bytes,
    platform_key: bytes,
    max_quarantine_fraction: float,
    event_time: EventTimeWindow | None = None,
) -> SilverBatch:
    """Bronze rows → silver :class:`WebEvent` rows and quarantine rows (see
    :func:`~lakehouse_events.segment_parsing.refine_segment_batch`). The product's ids are keyed
    with ``pseudonymisation_key``; the ``subject_key`` with the platform's ``platform_key``."""
    return refine_segment_batch(
        bronze,
        suite=SUITE_NAME,
        max_quarantine_fraction=max_quarantine_fraction,
        to_events=partial(_web_events, key=pseudonymisation_key, platform_key=platform_key),
        model=WebEvent,
        event_time=event_time,
    )


def _present(text: Column) -> Column:
    from pyspark.sql import functions as F

    return F.nullif(F.trim(text), F.lit(""))


def _properties_field(message: Column, name: str) -> Column:
    """Segment's page calls repeat page facts in ``properties``; used when context lacks them."""
    from pyspark.sql import functions as F

    return F.get_json_object(message["properties"], f"$.{name}")


def _web_events(valid: DataFrame, key: bytes, platform_key: bytes) -> DataFrame:
    from pyspark.sql import functions as F

    message = F.col(MESSAGE)
    context = message["context"]
    page = context["page"]
    campaign = context["campaign"]
    user_agent = context["userAgent"]
    url = F.coalesce(page["url"], _properties_field(message, "url"))
    referrer = F.coalesce(page["referrer"], _properties_field(message, "referrer"))
    clear_visitor = F.coalesce(_present(message["userId"]), _present(message["anonymousId"]))
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
            kept_traits(message).alias("traits_json"),
            hmac_sha256(_present(message["previousId"]), key).alias("previous_id"),
            hmac_sha256(_present(message["groupId"]), key).alias("group_id"),
            is_imported(message).alias("imported"),
            F.col("partition").alias("source_partition"),
            F.col("offset").alias("source_offset"),
            hmac_sha256(_present(message["anonymousId"]), key).alias("anonymous_id"),
            subject_key(message["userId"], platform_key).alias(SUBJECT_KEY_COLUMN),
        )
        .withColumn(
            "referrer_class",
            enrichment.referrer_class(
                F.col("_referrer"), F.col("referrer_host"), F.col("page_host"), F.col("utm_medium")
            ),
        )
        .drop("_referrer")
    )
