"""A scripted history of pipeline runs with known answers, through the real Kafka, Spark, Delta
and the API.

Two products, ``shop-web`` and ``shop-app``, ran at the same time:

- shop-web run ``w1``: bronze read 100 records (30 s); silver failed (10 s), was retried and
  succeeded (20 s, 90 rows written, 10 quarantined); the publisher re-sent that last record.
- shop-web run ``w2``: silver failed (12 s) with no retry left; run ``w3``'s silver then
  succeeded (10 s).
- shop-app run ``a1``: gold (40 s, 50 rows read, 5 written); a backfill of 2026-01-01..2026-01-05
  (60 s) wrote the only version of ``shop-app.gold.history``; ``export`` was skipped.
- one record on the topic is not JSON.

The tables exist (written just before) with SLAs chosen so that, checked 30 minutes later, one is
ok, one warns, one breaches, the backfilled one breaches (its data is from January), one is missing.

So w2 opens an incident on shop-web's silver that w3 closes 88 s later, and both breaching tables
open one that stays open; each table has one check that day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from deltalake import write_deltalake
from pydantic import BaseModel
from pyspark.sql import SparkSession

from lakehouse_core.config import ProductConfig
from lakehouse_core.contracts import spark_schema
from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.kafka.producer import EventProducer, OutgoingMessage
from lakehouse_core.platform_topics import PipelineRunRecord
from lakehouse_core.tables import Freshness, Layer, TableSpec
from lakehouse_platform.catalog import build_catalog
from lakehouse_platform.orchestrator import KafkaRunRecorder, run_pipeline
from lakehouse_testing.plugin import KafkaFixture, serve_in_thread
from operational_metrics.config import load_ops_config
from operational_metrics.pipeline import build_pipeline
from operational_metrics.serving.app import create_app
from operational_metrics.storage.tables import GOLD_ANOMALIES, QUARANTINE_RUNS, SILVER_RUNS

pytestmark = pytest.mark.e2e


class Row(BaseModel):
    id: int


def table(product: str, layer: Layer, name: str, warn: int, breach: int) -> TableSpec:
    return TableSpec(
        name=name,
        layer=layer,
        product=product,
        schema=spark_schema(Row),
        freshness=Freshness(warn_minutes=warn, breach_minutes=breach),
    )


WEB_SILVER = table("shop-web", Layer.SILVER, "events", 10, 20)
WEB_GOLD = table("shop-web", Layer.GOLD, "daily", 60, 120)
APP_GOLD = table("shop-app", Layer.GOLD, "daily", 20, 60)
APP_HISTORY = table("shop-app", Layer.GOLD, "history", 60, 120)
APP_NEVER = table("shop-app", Layer.GOLD, "never", 60, 120)


@dataclass(frozen=True)
class Declared:
    name: str
    tables: tuple[TableSpec, ...]
    schema_record: Path | None = None
    load_config: Callable[[], ProductConfig] = field(
        default=lambda: ProductConfig(name="x", owner="o", team="t")
    )


PRODUCTS = [
    Declared("shop-web", (WEB_SILVER, WEB_GOLD)),
    Declared("shop-app", (APP_GOLD, APP_HISTORY, APP_NEVER)),
]


def start_time() -> datetime:
    """Ten minutes ago, moved back so the five minutes of scripted runs fall on one UTC day."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    return start if (start + timedelta(minutes=5)).date() == start.date() else start - timedelta(minutes=10)


def attempt(
    record_id: str,
    product: str,
    run_id: str,
    asset: str,
    start: datetime,
    offset: int,
    seconds: int,
    **kw: Any,
) -> PipelineRunRecord:
    began = start + timedelta(seconds=offset)
    fields: dict[str, Any] = {"attempt": 1, "final_attempt": True, "status": "succeeded", **kw}
    return PipelineRunRecord(
        record_id=record_id,
        product=product,
        asset=asset,
        run_id=run_id,
        started_at=began,
        finished_at=began + timedelta(seconds=seconds),
        cpu_seconds=1.0,
        peak_memory_bytes=1_000_000,
        **fields,
    )


def history(start: datetime) -> list[PipelineRunRecord]:
    web, app = "shop-web", "shop-app"
    silver_ok = attempt(
        "w1-silver-2",
        web,
        "w1",
        "silver",
        start,
        50,
        20,
        attempt=2,
        rows_read={"shop-web.bronze.events": 100},
        rows_written={WEB_SILVER.qualified_name: 90},
        rows_quarantined={"unique_message_id": 10},
        delta_versions={WEB_SILVER.qualified_name: 0},
    )
    return [
        attempt(
            "w1-bronze",
            web,
            "w1",
            "bronze",
            start,
            0,
            30,
            rows_read={"kafka:web": 100},
            rows_written={"shop-web.bronze.events": 100},
        ),
        attempt(
            "w1-silver-1",
            web,
            "w1",
            "silver",
            start,
            35,
            10,
            status="failed",
            final_attempt=False,
            error_class="builtins.OSError",
            error_message="disk full",
        ),
        attempt(
            "a1-gold",
            app,
            "a1",
            "gold",
            start,
            40,
            40,
            rows_read={"shop-app.silver.sessions": 50},
            rows_written={APP_GOLD.qualified_name: 5},
            delta_versions={APP_GOLD.qualified_name: 0},
        ),
        silver_ok,
        attempt(
            "a1-backfill",
            app,
            "a1",
            "backfill",
            start,
            90,
            60,
            partition="2026-01-01..2026-01-05",
            delta_versions={APP_HISTORY.qualified_name: 0},
        ),
        attempt(
            "a1-export",
            app,
            "a1",
            "export",
            start,
            150,
            0,
            attempt=0,
            status="skipped",
            error_message="upstream task(s) failed: gold",
        ),
        attempt(
            "w2-silver",
            web,
            "w2",
            "silver",
            start,
            200,
            12,
            status="failed",
            error_class="builtins.OSError",
            error_message="disk full",
        ),
        attempt("w3-silver", web, "w3", "silver", start, 290, 10),
        silver_ok,
    ]


def write_tables(lake: str) -> None:
    for spec in (WEB_SILVER, WEB_GOLD, APP_GOLD, APP_HISTORY):
        write_deltalake(spec.location(lake), pa.table({"id": [1]}))


def data_bytes(spec: TableSpec, lake: str) -> int:
    """The bytes of the table's data files on disk: its one commit (version 0) added them all."""
    return sum(f.stat().st_size for f in Path(spec.location(lake)).glob("**/*.parquet"))


def rows(location: str) -> list[dict[str, Any]]:
    return read_arrow(location).to_pylist()  # type: ignore[no-any-return]


STAT_COLUMNS = (
    "runs",
    "successes",
    "failures",
    "attempts",
    "failed_attempts",
    "retries",
    "skipped",
    "duration_p50_seconds",
    "duration_p95_seconds",
    "duration_max_seconds",
    "rows_read",
    "rows_written",
    "rows_quarantined",
    "quarantine_rate",
)


def test_known_run_history_through_kafka_spark_delta_and_the_api(
    kafka_broker: KafkaFixture,
    spark: SparkSession,
    lake_root: str,
    unique_topic: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPS_TOPICS__PIPELINE_RUNS__NAME", unique_topic)
    config = load_ops_config()
    bootstrap = kafka_broker.bootstrap_servers
    start = start_time()
    day = start.date().isoformat()
    write_tables(lake_root)
    with KafkaRunRecorder(bootstrap, spool_dir=tmp_path / "spool", topic=unique_topic) as recorder:
        for record in history(start):
            recorder.record_attempt(record)
    with EventProducer(bootstrap) as producer:
        producer.send_all([OutgoingMessage(unique_topic, b"{not json")])
    checked_at = datetime.now(UTC) + timedelta(minutes=30)

    pipeline = build_pipeline(
        config,
        spark=lambda: spark,
        bootstrap_servers=bootstrap,
        lake_root=lake_root,
        catalog=lambda: build_catalog(PRODUCTS, lake_root=lake_root),
        clock=lambda: checked_at,
    )
    result = run_pipeline(pipeline)
    assert result.status == "succeeded", [t.error for t in result.tasks]
    assert result.task("bronze").outputs["records"] == 10

    assert len(rows(SILVER_RUNS.location(lake_root))) == 8
    quarantined = sorted(tuple(q["failed_rules"]) for q in rows(QUARANTINE_RUNS.location(lake_root)))
    assert quarantined == [("unique_record_id",), ("valid_json_object",)]
    assert (result.task("cost").status, result.task("anomalies").status) == ("succeeded", "succeeded")
    assert rows(GOLD_ANOMALIES.location(lake_root)) == []

    with serve_in_thread(create_app(config, lake_root=lake_root, clock=lambda: checked_at)) as api:
        stats = httpx.get(f"{api}/v1/run-stats", params={"start": day, "end": day}).json()
        by_asset = {(s["product"], s["asset"]): tuple(s[c] for c in STAT_COLUMNS) for s in stats["items"]}
        assert by_asset == {
            ("shop-app", "backfill"): (1, 1, 0, 1, 0, 0, 0, 60.0, 60.0, 60.0, 0, 0, 0, None),
            ("shop-app", "export"): (0, 0, 0, 0, 0, 0, 1, None, None, None, 0, 0, 0, None),
            ("shop-app", "gold"): (1, 1, 0, 1, 0, 0, 0, 40.0, 40.0, 40.0, 50, 5, 0, 0.0),
            ("shop-web", "bronze"): (1, 1, 0, 1, 0, 0, 0, 30.0, 30.0, 30.0, 100, 100, 0, 0.0),
            ("shop-web", "silver"): (3, 2, 1, 4, 2, 1, 0, 11.0, pytest.approx(18.8), 20.0, 100, 90, 10, 0.1),
        }

        freshness = httpx.get(f"{api}/v1/freshness").json()
        states = {f["table_name"]: (f["state"], f["data_time_source"]) for f in freshness}
        assert states == {
            "shop-web.silver.events": ("breach", "commit"),
            "shop-web.gold.daily": ("ok", "commit"),
            "shop-app.gold.daily": ("warn", "commit"),
            "shop-app.gold.history": ("breach", "partition"),
            "shop-app.gold.never": ("missing", "none"),
        }
        history_row = next(f for f in freshness if f["table_name"] == "shop-app.gold.history")
        assert history_row["newest_data_at"].startswith("2026-01-06T00:00:00")

        # Every attempt measured 1 CPU second and 1 MB at peak, whoever ran beside it; the bytes
        # are those of the files the one version each names added (delta-rs commits record no
        # byte count), and bronze named none.
        cost = httpx.get(f"{api}/v1/cost", params={"start": day, "end": day}).json()["items"]
        by_cost = {
            (c["product"], c["asset"]): (c["attempts"], c["cpu_seconds"], c["bytes_written"]) for c in cost
        }
        assert by_cost == {
            ("shop-app", "backfill"): (1, 1.0, data_bytes(APP_HISTORY, lake_root)),
            ("shop-app", "gold"): (1, 1.0, data_bytes(APP_GOLD, lake_root)),
            ("shop-web", "bronze"): (1, 1.0, 0),
            ("shop-web", "silver"): (4, 4.0, data_bytes(WEB_SILVER, lake_root)),
        }
        assert data_bytes(WEB_SILVER, lake_root) > 0
        web_silver = next(c for c in cost if (c["product"], c["asset"]) == ("shop-web", "silver"))
        assert web_silver["cpu_cost"] == pytest.approx(4.0 / 3600 * config.cost.core_hour)
        assert web_silver["cost_per_1000_rows"] == pytest.approx(web_silver["cost"] / 90 * 1000)

        failed = httpx.get(
            f"{api}/v1/runs", params={"start": day, "end": day, "product": "shop-web", "status": "failed"}
        ).json()
        assert [r["record_id"] for r in failed["items"]] == ["w2-silver", "w1-silver-1"]
        page = httpx.get(f"{api}/v1/runs", params={"start": day, "end": day, "limit": 2}).json()
        assert (page["total"], page["next_offset"], len(page["items"])) == (8, 2, 2)

        run = httpx.get(f"{api}/v1/runs/w1").json()
        assert (run["product"], run["status"]) == ("shop-web", "succeeded")
        assert [a["record_id"] for a in run["attempts"]] == ["w1-bronze", "w1-silver-1", "w1-silver-2"]
        assert httpx.get(f"{api}/v1/runs/w2").json()["status"] == "failed"
        assert httpx.get(f"{api}/v1/runs/nope").status_code == 404

        metrics = httpx.get(f"{api}/metrics").text
        assert (
            'operational_metrics_table_freshness_state{layer="gold",product="shop-app",state="breach",'
            'table="shop-app.gold.history"} 1.0'
        ) in metrics
        assert 'operational_metrics_asset_failures_24h{asset="silver",product="shop-web"} 1.0' in metrics
        assert 'operational_metrics_asset_last_run_failed{asset="silver",product="shop-web"} 0.0' in metrics
        assert 'operational_metrics_asset_last_run_failed{asset="gold",product="shop-app"} 0.0' in metrics
        assert httpx.get(f"{api}/ready").status_code == 200
        breach_from = {
            f["table_name"]: datetime.fromisoformat(f["newest_data_at"])
            + timedelta(minutes=f["breach_minutes"])
            for f in freshness
            if f["state"] == "breach"
        }
        found = httpx.get(f"{api}/v1/incidents", params={"start": day, "end": day}).json()["items"]
        by_subject = {(i["kind"], i["asset"] or i["table_name"]): i for i in found}
        assert set(by_subject) == {
            ("asset_failing", "silver"),
            ("sla_breach", "shop-web.silver.events"),
            ("sla_breach", "shop-app.gold.history"),
        }
        silver = by_subject[("asset_failing", "silver")]
        assert (silver["product"], silver["run_id"], silver["status"]) == ("shop-web", "w2", "closed")
        assert datetime.fromisoformat(silver["opened_at"]) == start + timedelta(seconds=212)
        assert (silver["time_to_detect_seconds"], silver["time_to_recover_seconds"]) == (0.0, 88.0)
        assert silver["detail"] == "builtins.OSError: disk full"
        for name, began in breach_from.items():
            breach = by_subject[("sla_breach", name)]
            assert (breach["status"], breach["occurrences"]) == ("open", 1)
            assert datetime.fromisoformat(breach["started_at"]) == began
            assert breach["time_to_detect_seconds"] == pytest.approx((checked_at - began).total_seconds())
        web = next(s for s in httpx.get(f"{api}/v1/incidents/summary").json() if s["product"] == "shop-web")
        assert (web["incidents"], web["open_incidents"], web["mean_time_to_recover_seconds"]) == (2, 1, 88.0)

        compliance = httpx.get(f"{api}/v1/sla-compliance", params={"start": day, "end": day}).json()["items"]
        shares = {c["table_name"]: (c["checks"], c["compliance"], c["warn_share"]) for c in compliance}
        assert shares == {
            "shop-web.silver.events": (1, 0.0, 0.0),
            "shop-web.gold.daily": (1, 1.0, 0.0),
            "shop-app.gold.daily": (1, 1.0, 1.0),
            "shop-app.gold.history": (1, 0.0, 0.0),
            "shop-app.gold.never": (1, None, None),
        }
        metrics = httpx.get(f"{api}/metrics").text
        assert 'operational_metrics_open_incidents{kind="sla_breach",product="shop-app"} 1.0' in metrics
        assert 'operational_metrics_open_incidents{kind="sla_breach",product="shop-web"} 1.0' in metrics
        assert 'operational_metrics_open_incidents{kind="asset_failing",product="shop-web"} 0.0' in metrics
