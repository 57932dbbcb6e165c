"""web-user-analytics as an event product: its own jobs, API and generator, handed to the
platform's task graph (topics → bronze → silver → gold) and command line."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from lakehouse_events.product import EventProduct, SparkProvider, event_pipeline
from web_user_analytics import PRODUCT
from web_user_analytics.config import SOURCE_CONFIG_DIR, WebConfig, load_web_config
from web_user_analytics.ingestion.generator import generate_day
from web_user_analytics.processing.gold_job import GOLD_INPUTS_AND_OUTPUTS, GoldStep
from web_user_analytics.processing.silver_job import web_refinement
from web_user_analytics.serving.app import create_app
from web_user_analytics.storage.tables import (
    BRONZE_EVENTS,
    QUARANTINE_EVENTS,
    SILVER_EVENTS,
    SILVER_IDENTITY_LINKS,
    SILVER_SESSIONS,
)

if TYPE_CHECKING:
    from lakehouse_platform.orchestrator import Pipeline


def _example_queries(day: date) -> list[str]:
    return [
        f"/v1/traffic?start={day}&end={day}",
        f"/v1/pages/top?start={day}&end={day}",
        f"/v1/funnels/signup?start={day}&end={day}",
    ]


WEB = EventProduct(
    name=PRODUCT,
    description="web traffic to sessions, traffic, pages, acquisition, funnels and retention.",
    load_config=load_web_config,
    bronze=BRONZE_EVENTS,
    quarantine=QUARANTINE_EVENTS,
    events=SILVER_EVENTS,
    sessions=SILVER_SESSIONS,
    identity_links=SILVER_IDENTITY_LINKS,
    refinement=web_refinement,
    gold_step=GoldStep,
    gold_tables=GOLD_INPUTS_AND_OUTPUTS,
    create_api=lambda config, lake: create_app(config, lake_root=lake),
    generate=lambda day, size, seed: generate_day(day, visitors=size, seed=seed),
    example_queries=_example_queries,
    schema_record=SOURCE_CONFIG_DIR / "schemas.json",
)


def build_pipeline(
    config: WebConfig, *, spark: SparkProvider, bootstrap_servers: str, lake_root: str
) -> Pipeline:
    return event_pipeline(WEB, config, spark=spark, bootstrap_servers=bootstrap_servers, lake_root=lake_root)
