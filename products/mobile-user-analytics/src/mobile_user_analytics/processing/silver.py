"""Bronze → silver mobile events: parse, validate (bad rows to quarantine), pseudonymise.

:func:`to_silver` is one batch's pure transform, apart from the quality runner's counting pass
(which is what lets it refuse a batch that is mostly broken). Deduplication against what silver
already holds, sessions and screen views happen in the shared job
(:mod:`lakehouse_events.refinement`), because they need the stored tables.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from lakehouse_core.identity import LinkKind, LinkRule
from lakehouse_core.privacy import SUBJECT_KEY_COLUMN, drop_json_keys, hmac_sha256, subject_key
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
from mobile_user_analytics.contracts import LIFECYCLE_EVENTS, MobileEvent

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

SUITE_NAME = "mobile_events"
#: The calls that tie an id of this product to a subject key: an identify call from the app is
#: the user signing in on the device; an alias call names an earlier id.
LINK_RULES = (
    LinkRule("identify", "device_key", SubjectKind.DEVICE_ID, LinkKind.SIGN_IN),
    LinkRule("alias", "previous_id", SubjectKind.PSEUDONYMOUS_ID, LinkKind.ALIAS),
)
#: Lower-cased ``context.os.name`` → platform; any other OS is ``other``.
PLATFORMS = {"ios": "ios", "ipados": "ios", "android": "android"}
OTHER_PLATFORM = "other"


def to_silver(
    bronze: DataFrame,
    *,
    pseudonymisation_key: bytes,
    platform_key: bytes,
    max_quarantine_fraction: float,
    event_time: EventTimeWindow | None = None,
) -> SilverBatch:
    """Bronze rows → silver :class:`MobileEvent` rows and quarantine rows (see
    :func:`~lakehouse_events.segment_parsing.refine_segment_batch`). The product's ids are keyed
    with ``pseudonymisation_key``; the ``subject_key`` with the platform's ``platform_key``."""
    return refine_segment_batch(
        bronze,
        suite=SUITE_NAME,
        max_quarantine_fraction=max_quarantine_fraction,
        to_events=partial(_mobile_events, key=pseudonymisation_key, platform_key=platform_key),
        model=MobileEvent,
        event_time=event_time,
    )


def _present(text: Column) -> Column:
    from pyspark.sql import functions as F

    return F.nullif(F.trim(text), F.lit(""))


def _lookup(mapping: dict[str, str], key: Column) -> Column:
    from pyspark.sql import functions as F

    return F.try_element_at(F.create_map(*[F.lit(x) for pair in mapping.items() for x in pair]), key)


def platform(os_name: Column) -> Column:
    """``ios`` for iOS and iPadOS, ``android`` for Android, ``other`` for anything else."""
    from pyspark.sql import functions as F

    return F.coalesce(_lookup(PLATFORMS, F.lower(F.trim(os_name))), F.lit(OTHER_PLATFORM))


def _mobile_events(valid: DataFrame, key: bytes, platform_key: bytes) -> DataFrame:
    """The device is the app install: ``context.device.id`` when the SDK sends one, else the
    SDK's anonymous id, else the user id (the core rules guarantee one of the last two)."""
    from pyspark.sql import functions as F

    message = F.col(MESSAGE)
    context = message["context"]
    device = context["device"]
    app = context["app"]
    event_type = message["type"]
    is_track = event_type == "track"
    is_screen = event_type == "screen"
    lifecycle = F.when(is_track, _lookup(LIFECYCLE_EVENTS, message["event"]))
    user = _present(message["userId"])
    return valid.select(
        message["messageId"].alias("event_id"),
        event_type.alias("event_type"),
        F.when(is_track, message["event"]).when(is_screen, message["name"]).alias("event_name"),
        hmac_sha256(F.coalesce(_present(device["id"]), _present(message["anonymousId"]), user), key).alias(
            "device_key"
        ),
        hmac_sha256(user, key).alias("user_key"),
        F.col(EVENT_TS).alias("event_ts"),
        message["receivedAt"].alias("received_at"),
        F.to_date(F.col(EVENT_TS)).alias("event_date"),
        F.lit(None).cast("string").alias("session_id"),
        lifecycle.alias("lifecycle"),
        F.when(is_screen, message["name"]).alias("screen_name"),
        app["name"].alias("app_name"),
        app["version"].alias("app_version"),
        app["build"].alias("app_build"),
        F.when(
            lifecycle == LIFECYCLE_EVENTS["Application Updated"],
            F.get_json_object(message["properties"], "$.previous_version"),
        ).alias("previous_app_version"),
        platform(context["os"]["name"]).alias("platform"),
        context["os"]["version"].alias("os_version"),
        device["manufacturer"].alias("device_manufacturer"),
        device["model"].alias("device_model"),
        device["type"].alias("device_type"),
        context["network"]["wifi"].alias("network_wifi"),
        context["network"]["carrier"].alias("network_carrier"),
        context["screen"]["width"].alias("screen_width"),
        context["screen"]["height"].alias("screen_height"),
        context["locale"].alias("locale"),
        context["timezone"].alias("timezone"),
        context["location"]["country"].alias("country"),
        drop_json_keys(message["properties"]).alias("properties_json"),
        kept_traits(message).alias("traits_json"),
        hmac_sha256(_present(message["previousId"]), key).alias("previous_id"),
        hmac_sha256(_present(message["groupId"]), key).alias("group_id"),
        is_imported(message).alias("imported"),
        F.col("partition").alias("source_partition"),
        F.col("offset").alias("source_offset"),
        subject_key(message["userId"], platform_key).alias(SUBJECT_KEY_COLUMN),
    )
