"""mobile-user-analytics as an event product: its own jobs, API and generator, handed to the
platform's task graph (topics → bronze → silver → gold) and command line."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from lakehouse_events.product import EventProduct, SparkProvider, event_pipeline
from mobile_user_analytics import PRODUCT
from mobile_user_analytics.config import SOURCE_CONFIG_DIR, MobileConfig, load_mobile_config
from mobile_user_analytics.ingestion.generator import generate_day
from mobile_user_analytics.processing.gold_job import GOLD_INPUTS_AND_OUTPUTS, GoldStep
from mobile_user_analytics.processing.silver_job import mobile_refinement
from mobile_user_analytics.serving.app import create_app
from mobile_user_analytics.storage.tables import (
    BRONZE_EVENTS,
    QUARANTINE_EVENTS,
    SILVER_EVENTS,
    SILVER_IDENTITY_LINKS,
    SILVER_SESSIONS,
)

if TYPE_CHECKING:
    from lakehouse_platform.orchestrator import Pipeline


def _example_queries(day: date) -> list[str]:
    month_start = day - timedelta(days=29)
    return [
        f"/v1/active-users?start={month_start}&end={day}",
        f"/v1/crash-free?start={day}&end={day}",
        f"/v1/screens/top?start={day}&end={day}",
    ]


MOBILE = EventProduct(
    name=PRODUCT,
    description="app events to active users, sessions, screen flows, installs, adoption and crashes.",
    load_config=load_mobile_config,
    bronze=BRONZE_EVENTS,
    quarantine=QUARANTINE_EVENTS,
    events=SILVER_EVENTS,
    sessions=SILVER_SESSIONS,
    identity_links=SILVER_IDENTITY_LINKS,
    refinement=mobile_refinement,
    gold_step=lambda config, lake: GoldStep(lake),
    gold_tables=GOLD_INPUTS_AND_OUTPUTS,
    create_api=lambda config, lake: create_app(config, lake_root=lake),
    generate=lambda day, size, seed: generate_day(day, devices=size, seed=seed),
    example_queries=_example_queries,
    default_size=1500,
    schema_record=SOURCE_CONFIG_DIR / "schemas.json",
)


def build_pipeline(
    config: MobileConfig, *, spark: SparkProvider, bootstrap_servers: str, lake_root: str
) -> Pipeline:
    return event_pipeline(
        MOBILE, config, spark=spark, bootstrap_servers=bootstrap_servers, lake_root=lake_root
    )
