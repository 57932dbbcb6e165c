"""Bronze → silver for mobile events: this product's steps of the shared refinement job (parsing
in :mod:`.silver`, app sessions and screen views in :mod:`.sessions`); the tables are the ones
:data:`mobile_user_analytics.pipeline.MOBILE` declares."""

from __future__ import annotations

from functools import partial

from lakehouse_core.privacy import platform_subject_key, pseudonymisation_key
from lakehouse_events.refinement import DerivedTable, RefinementSteps
from mobile_user_analytics.config import MobileConfig
from mobile_user_analytics.processing.sessions import screen_views, sessionise, summarise_sessions
from mobile_user_analytics.processing.silver import LINK_RULES, SUITE_NAME, to_silver
from mobile_user_analytics.storage.tables import SILVER_SCREEN_VIEWS


def mobile_refinement(config: MobileConfig) -> RefinementSteps:
    key = pseudonymisation_key(config.pseudonymisation_key, variable="MOBILE_PSEUDONYMISATION_KEY")
    platform_key = platform_subject_key()
    return RefinementSteps(
        suite=SUITE_NAME,
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
        link_rules=LINK_RULES,
        derived=(
            DerivedTable(
                spec=SILVER_SCREEN_VIEWS, derive=screen_views, key="event_id", date_column="event_date"
            ),
        ),
    )
