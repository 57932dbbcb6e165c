"""Person features, as transforms: both products' silver events → one event stream per person
(through the identity graph) → the features of every person as of a UTC day (docs/METRICS.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

from lakehouse_core.contracts import conform
from user_segmentation.contracts import PersonFeatures
from user_segmentation.processing.identity import product_node, subject_node
from user_segmentation.processing.operational import OPERATIONAL_FEATURES
from user_segmentation.storage.tables import Source

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

#: Event types that are something a person did (identify, alias and group calls are not).
ACTIVITY_TYPES = ("track", "page", "screen")
WINDOWS = (7, 30, 90)
LAST_SEEN_PLATFORMS = ("web", "ios", "android")


def normalised_events(
    events: DataFrame, source: Source, *, order_event: str, funnel: Sequence[str] = ()
) -> DataFrame:
    """A product's silver events → (node_id, event_ts, event_date, platform, session_key,
    is_activity, is_order, revenue, funnel_step); events with neither a subject key nor a product
    id have no node and are left out (docs/METRICS.md)."""
    from pyspark.sql import functions as F

    platform = F.lit("web") if source.platform_column is None else F.col(source.platform_column)
    is_order = (F.col("event_type") == "track") & (F.col("event_name") == order_event)
    revenue = F.get_json_object(F.col("properties_json"), "$.revenue").cast("double")
    with_node = events.withColumn("node_id", _node_id(source))
    return with_node.select(
        "node_id",
        "event_ts",
        "event_date",
        platform.alias("platform"),
        F.when(F.col("session_id").isNotNull(), F.concat_ws(":", F.lit(source.product), "session_id")).alias(
            "session_key"
        ),
        F.col("event_type").isin(list(ACTIVITY_TYPES)).alias("is_activity"),
        is_order.alias("is_order"),
        F.when(is_order, F.coalesce(revenue, F.lit(0.0))).alias("revenue"),
        funnel_step(funnel).alias("funnel_step"),
    ).where(F.col("node_id").isNotNull())


def funnel_step(funnel: Sequence[str]) -> Column:
    """The 1-based position of a track event's name in ``funnel``; 0 for any other event."""
    from pyspark.sql import functions as F

    step: Column = F.lit(0)
    for position, name in reversed(list(enumerate(funnel, start=1))):
        step = F.when((F.col("event_type") == "track") & (F.col("event_name") == name), position).otherwise(
            step
        )
    return step.cast("int")


def _node_id(source: Source) -> Column:
    from pyspark.sql import functions as F

    return F.when(F.col("subject_key").isNotNull(), subject_node(F.col("subject_key"))).otherwise(
        product_node(source.product, source.anonymous_kind.value, F.col(source.anonymous_column))
    )


def attribute(events: DataFrame, nodes: DataFrame) -> DataFrame:
    """Normalised events with their person (``person_id``, ``person_subject_key``)."""
    return events.join(nodes.select("node_id", "person_id", "person_subject_key"), "node_id")


def person_features(events: DataFrame, *, as_of: date, operational: DataFrame | None = None) -> DataFrame:
    """Attributed events → :class:`PersonFeatures` as of the end of ``as_of`` (pure); events
    after ``as_of`` are not counted. ``operational`` (:func:`~user_segmentation.processing.
    operational.person_operational`'s rows) gives the customer and payment columns; a person
    without a row there, or every person when it is None, has them null."""
    from pyspark.sql import functions as F

    day = F.lit(as_of)
    counted = events.where(F.col("event_date") <= day)

    def within(days: int) -> Column:
        return F.col("event_date") >= F.lit(as_of - timedelta(days=days - 1))

    measures: list[Column] = [
        F.min("event_ts").alias("first_seen_at"),
        F.max("event_ts").alias("last_seen_at"),
        F.max("event_date").alias("last_date"),
    ]
    for days in WINDOWS:
        measures += [
            F.count(F.when(within(days) & F.col("is_activity"), True)).alias(f"frequency_{days}d"),
            F.countDistinct(F.when(within(days), F.col("session_key"))).alias(f"sessions_{days}d"),
            F.countDistinct(F.when(within(days), F.col("event_date"))).alias(f"active_days_{days}d"),
        ]
    measures += [
        F.count(F.when(within(90) & F.col("is_order"), True)).alias("orders_90d"),
        F.coalesce(F.sum(F.when(within(90), F.col("revenue"))), F.lit(0.0)).alias("monetary_90d"),
        F.array_sort(F.collect_set(F.when(within(90), F.col("platform")))).alias("platforms_90d"),
        F.coalesce(F.max(F.when(within(90), F.col("funnel_step"))), F.lit(0)).alias("funnel_stage_90d"),
        *[
            F.max(F.when(F.col("platform") == p, F.col("event_ts"))).alias(f"last_seen_{p}")
            for p in LAST_SEEN_PLATFORMS
        ],
    ]
    features = (
        counted.groupBy("person_id", F.col("person_subject_key").alias("subject_key"))
        .agg(*measures)
        .withColumn("as_of", day)
        .withColumn("recency_days", F.datediff(day, F.col("last_date")))
    )
    if operational is None:
        features = features.select("*", *[F.lit(None).alias(name) for name in OPERATIONAL_FEATURES])
    else:
        features = features.join(operational.select("person_id", *OPERATIONAL_FEATURES), "person_id", "left")
    return conform(features, PersonFeatures)
