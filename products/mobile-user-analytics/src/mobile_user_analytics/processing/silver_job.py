"""Bronze → silver for mobile events: the shared refinement job with this product's transforms
(parsing in :mod:`.silver`, app sessions and screen views in :mod:`.sessions`)."""

from __future__ import annotations

from functools import partial

from lakehouse_core.identity import identity_links
from lakehouse_core.privacy import platform_subject_key, pseudonymisation_key
from lakehouse_events.refinement import DerivedTable, LinkTable, Refinement
from mobile_user_analytics import PRODUCT
from mobile_user_analytics.config import MobileConfig
from mobile_user_analytics.processing.sessions import screen_views, sessionise, summarise_sessions
from mobile_user_analytics.processing.silver import LINK_RULES, SUITE_NAME, to_silver
from mobile_user_analytics.storage.tables import (
    BRONZE_EVENTS,
    QUARANTINE_EVENTS,
    SILVER_EVENTS,
    SILVER_IDENTITY_LINKS,
    SILVER_SCREEN_VIEWS,
    SILVER_SESSIONS,
)


def mobile_refinement(config: MobileConfig) -> Refinement:
    key = pseudonymisation_key(config.pseudonymisation_key, variable="MOBILE_PSEUDONYMISATION_KEY")
    platform_key = platform_subject_key()
    return Refinement(
        product=PRODUCT,
        suite=SUITE_NAME,
        bronze=BRONZE_EVENTS,
        quarantine=QUARANTINE_EVENTS,
        events=SILVER_EVENTS,
        sessions=SILVER_SESSIONS,
        actor="device_key",
        to_silver=partial(
            to_silver,
            pseudonymisation_key=key,
            platform_key=platform_key,
            max_quarantine_fraction=config.max_quarantine_fraction,
            event_time=config.event_time,
        ),
        sessionise=partial(sessionise, inactivity_minutes=config.sessions.inactivity_minutes),
        summarise_sessions=summarise_sessions,
        platform_key=platform_key,
        identity_links=LinkTable(
            spec=SILVER_IDENTITY_LINKS,
            derive=partial(identity_links, rules=LINK_RULES, source_table=SILVER_EVENTS.qualified_name),
        ),
        derived=(
            DerivedTable(
                spec=SILVER_SCREEN_VIEWS, derive=screen_views, key="event_id", date_column="event_date"
            ),
        ),
    )
