"""Bronze → silver for web events: this product's steps of the shared refinement job (parsing
and enrichment in :mod:`.silver`, visits in :mod:`.sessions`); the tables are the ones
:data:`web_user_analytics.pipeline.WEB` declares."""

from __future__ import annotations

from functools import partial

from lakehouse_core.privacy import platform_subject_key, pseudonymisation_key
from lakehouse_events.refinement import RefinementSteps
from web_user_analytics.config import WebConfig
from web_user_analytics.processing.sessions import sessionise, summarise_sessions
from web_user_analytics.processing.silver import LINK_RULES, SUITE_NAME, to_silver


def web_refinement(config: WebConfig) -> RefinementSteps:
    key = pseudonymisation_key(config.pseudonymisation_key, variable="WEB_PSEUDONYMISATION_KEY")
    platform_key = platform_subject_key()
    return RefinementSteps(
        suite=SUITE_NAME,
        actor="visitor_id",
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
    )
