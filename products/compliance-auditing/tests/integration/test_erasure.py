"""Erasure with proof on a small lake of two products' tables written through Spark and Delta
(change data feed on, one table with deletion vectors): three people, one erased. Afterwards
no readable version, change-feed row, log or checkpoint file or data file holds their key or
ids; everyone else's rows are unchanged row for row; the certificate says 0 and is signed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pyspark.sql import SparkSession

from compliance_auditing.config import DEVELOPMENT_SIGNING_KEY, ComplianceConfig
from compliance_auditing.contracts import ErasureRequestEvent
from compliance_auditing.pipeline import COMPLIANCE_AUDITING
from compliance_auditing.processing.erase import execute_erasures
from compliance_auditing.processing.proof import signature_holds
from compliance_auditing.processing.reapply import reapply_erasures
from compliance_auditing.storage.requests import (
    ClearIds,
    pending_dir,
    read_certificate,
    record_step,
    request_states,
    save_clear_ids,
)
from lakehouse_core.config import ProductConfig, TopicConfig
from lakehouse_core.delta import append, ensure_table
from lakehouse_core.identity import identity_links_table
from lakehouse_core.ingestion.bronze import bronze_table
from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_core.privacy import subject_key_of
from lakehouse_core.tables import Layer, SubjectKind, TableSpec, declare_table
from lakehouse_platform.backup.create import create_backup
from lakehouse_platform.backup.restore import restore_backup
from lakehouse_platform.catalog import build_catalog
from lakehouse_testing.plugin import KafkaFixture

pytestmark = pytest.mark.integration

PLATFORM_KEY = b"test-platform-subject-key"
SHOP_KEY = b"test-shop-pseudonymisation-key"
DAY = date(2026, 3, 2)
AT = datetime(2026, 3, 2, 12, tzinfo=UTC)
PEOPLE = ("alice", "bob", "carol")


def user(name: str) -> str:
    return f"user-{name}-7f3a"


def anon(name: str) -> str:
    return f"anon-{name}-7f3a"


def device(name: str) -> str:
    return f"dev-{name}-7f3a"


def key(name: str) -> str:
    found = subject_key_of(user(name), PLATFORM_KEY)
    assert found is not None
    return found


def visitor(name: str) -> str:
    found = subject_key_of(anon(name), SHOP_KEY)
    assert found is not None
    return found


class ShopEvent(BaseModel):
    """A product's silver events: one keyed visitor id, the subject key once identified."""

    event_id: str
    event_date: date
    subject_key: str | None
    visitor_id: str
    payload: str
    amount: int


class DailyCount(BaseModel):
    """An aggregate: no person's data."""

    day: date
    events: int


SHOP_EVENTS = declare_table(
    "shop",
    "events",
    Layer.SILVER,
    ShopEvent,
    "event_date",
    upstream=(),
    subject_columns={
        "subject_key": SubjectKind.SUBJECT_KEY,
        "visitor_id": SubjectKind.PSEUDONYMOUS_ID,
        "payload": SubjectKind.FREE_TEXT,
    },
)
SHOP_EVENTS = replace(SHOP_EVENTS, properties={"delta.enableDeletionVectors": "true"})
SHOP_LINKS = identity_links_table("shop")
APP_BRONZE = bronze_table("app")
APP_COUNTS = declare_table(
    "app", "daily_counts", Layer.GOLD, DailyCount, "day", upstream=(APP_BRONZE.qualified_name,)
)


@dataclass(frozen=True)
class Declared:
    name: str
    tables: tuple[TableSpec, ...]
    topics: dict[str, TopicConfig] = field(default_factory=dict)
    schema_record: Path | None = None

    def load_config(self) -> ProductConfig:
        return ProductConfig(name=self.name, owner="o", team="t", topics=self.topics)


def shop_rows(batch: int) -> list[tuple[Any, ...]]:
    rows = []
    for name in PEOPLE:
        payload = json.dumps({"userId": user(name), "anonymousId": anon(name), "batch": batch})
        rows.append((f"{name}-{batch}-id", DAY, key(name), visitor(name), payload, 10 * batch))
        rows.append(
            (f"{name}-{batch}-anon", DAY, None, visitor(name), json.dumps({"page": f"/p{batch}"}), batch)
        )
    return rows


def bronze_rows(batch: int) -> list[tuple[Any, ...]]:
    return [
        (
            user(name),
            json.dumps(
                {"userId": user(name), "anonymousId": anon(name), "context": {"device": {"id": device(name)}}}
            ),
            "app.events.v1",
            0,
            10 * batch + i,
            AT,
            AT,
            DAY,
            key(name),
        )
        for i, name in enumerate(PEOPLE)
    ] + [
        # before sign-in: no Kafka key, no subject key; only the payload's anonymousId names them
        (
            None,
            json.dumps({"anonymousId": anon(name), "event": "Viewed"}),
            "app.events.v1",
            0,
            10 * batch + 5 + i,
            AT,
            AT,
            DAY,
            None,
        )
        for i, name in enumerate(PEOPLE)
    ]


def write_lake(spark: SparkSession, lake_root: str) -> None:
    for spec in (SHOP_EVENTS, SHOP_LINKS, APP_BRONZE, APP_COUNTS):
        ensure_table(spark, spec, lake_root=lake_root)
    for batch in (1, 2):
        append(spark.createDataFrame(shop_rows(batch), SHOP_EVENTS.schema), SHOP_EVENTS, lake_root=lake_root)
        append(spark.createDataFrame(bronze_rows(batch), APP_BRONZE.schema), APP_BRONZE, lake_root=lake_root)
        append(spark.createDataFrame([(DAY, 6 * batch)], APP_COUNTS.schema), APP_COUNTS, lake_root=lake_root)
    location = SHOP_EVENTS.location(lake_root)
    spark.sql(f"UPDATE delta.`{location}` SET amount = amount + 1 WHERE event_id LIKE '%-1-id'")
    links = [
        (
            key(name),
            visitor(name),
            "pseudonymous_id",
            "identify",
            f"{name}-1-id",
            AT,
            DAY,
            "shop.silver.events",
        )
        for name in PEOPLE
    ]
    append(spark.createDataFrame(links, SHOP_LINKS.schema), SHOP_LINKS, lake_root=lake_root)


def others(spark: SparkSession, location: str) -> list[tuple[Any, ...]]:
    """The rows that name nobody erased: none of alice's keys or ids in any column."""
    alice = [key("alice"), visitor("alice"), user("alice"), anon("alice"), device("alice")]
    rows = spark.read.format("delta").load(location).collect()
    return sorted((tuple(r) for r in rows if not holds(str(tuple(r)), alice)), key=str)


def holds(text: str, tokens: list[str]) -> list[str]:
    return [t for t in tokens if re.search(rf"(?<![A-Za-z0-9_.@+-]){re.escape(t)}(?![A-Za-z0-9_.@+-])", text)]


def test_an_erased_person_is_gone_from_every_version_feed_log_and_file(
    spark: SparkSession,
    lake_root: str,
    kafka_broker: KafkaFixture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    write_lake(spark, lake_root)
    catalog = build_catalog(
        [
            Declared("shop", (SHOP_EVENTS, SHOP_LINKS)),
            Declared("app", (APP_BRONZE, APP_COUNTS), {"events": TopicConfig(name="app.events.v1")}),
            COMPLIANCE_AUDITING,
        ],
        lake_root=lake_root,
    )
    events_before = others(spark, SHOP_EVENTS.location(lake_root))
    bronze_before = others(spark, APP_BRONZE.location(lake_root))
    counts_versions = DeltaTable(APP_COUNTS.location(lake_root)).version()
    record_step(
        lake_root,
        ErasureRequestEvent(
            request_id="req-1",
            state="pending",
            at=AT,
            requested_at=AT,
            subject_key=key("alice"),
            request_date=DAY,
        ),
    )
    save_clear_ids(lake_root, "req-1", ClearIds(user("alice"), (anon("alice"),), (device("alice"),)))

    backups = tmp_path / "backups"
    monkeypatch.setenv("LAKEHOUSE_BACKUP_ROOT", str(backups))
    backup = create_backup(catalog, backup_root=backups, lake_root=lake_root)
    week, hour = 7 * 86_400_000, 3_600_000
    ensure_topics(
        kafka_broker.bootstrap_servers,
        [
            TopicSpec(
                "app.events.v1", partitions=1, config={"retention.ms": str(week), "segment.ms": str(hour)}
            )
        ],
    )

    run = execute_erasures(
        spark,
        catalog,
        ComplianceConfig(name="c", owner="o", team="t"),
        lake_root=lake_root,
        bootstrap_servers=kafka_broker.bootstrap_servers,
    )

    assert (run.executed, run.completed, run.failed) == (1, 1, 0), request_states(lake_root)
    long_tokens = [key("alice"), visitor("alice")]
    tokens = [*long_tokens, user("alice"), anon("alice"), device("alice"), *(t[:32] for t in long_tokens)]
    for spec in (SHOP_EVENTS, SHOP_LINKS, APP_BRONZE, APP_COUNTS):
        location = spec.location(lake_root)
        files = [p for p in Path(location).rglob("*") if p.is_file()]
        for path in files:
            assert not holds(path.read_bytes().decode("latin-1"), tokens), path
            if path.read_bytes().startswith(b"PAR1"):
                assert not holds(str(pq.read_table(path).to_pylist()), tokens), path
        table = DeltaTable(location)
        versions = [int(h["version"]) for h in table.history()]
        for version in versions:
            rows = spark.read.format("delta").option("versionAsOf", version).load(location).collect()
            assert not holds(str(rows), tokens), (spec.qualified_name, version)
        feed = (
            spark.read.format("delta")
            .option("readChangeFeed", "true")
            .option("startingVersion", min(versions))
            .load(location)
        )
        assert not holds(str(feed.collect()), tokens), spec.qualified_name
    assert others(spark, SHOP_EVENTS.location(lake_root)) == events_before
    assert others(spark, APP_BRONZE.location(lake_root)) == bronze_before
    assert spark.read.format("delta").load(SHOP_EVENTS.location(lake_root)).count() == len(events_before) == 8
    assert len(bronze_before) == 8
    assert DeltaTable(APP_COUNTS.location(lake_root)).version() == counts_versions
    assert DeltaTable(APP_COUNTS.location(lake_root), version=0).version() == 0

    issued = read_certificate(lake_root, "req-1")
    assert issued is not None
    assert signature_holds(issued.certificate, issued.signature, DEVELOPMENT_SIGNING_KEY.encode())
    assert not signature_holds(
        issued.certificate.replace('"found":0', '"found":1'),
        issued.signature,
        DEVELOPMENT_SIGNING_KEY.encode(),
    )
    document = json.loads(issued.certificate)
    by_table = {t["table"]: t for t in document["tables"]}
    assert document["found"] == issued.found == 0
    assert {
        n: by_table[n]["status"]
        for n in (
            "shop.silver.events",
            "shop.silver.identity_links",
            "app.bronze.events",
            "app.gold.daily_counts",
        )
    } == {
        "shop.silver.events": "erased",
        "shop.silver.identity_links": "erased",
        "app.bronze.events": "erased",
        "app.gold.daily_counts": "clean",
    }
    assert by_table["shop.silver.events"]["purge"]["reorganised"] is True
    assert by_table["compliance-auditing.silver.audit_trail"]["status"] == "kept"
    assert all(t["found"] == 0 for t in document["tables"])
    assert by_table["shop.silver.events"]["location"] == SHOP_EVENTS.location(lake_root)
    assert document["linked_ids"] == 1
    kafka = {t["topic"]: t for t in document["kafka"]["topics"]}
    assert document["kafka"]["checked"] is True
    expires = datetime.fromisoformat(kafka["app.events.v1"]["last_raw_copy_expires_by"])
    assert expires == issued.issued_at + timedelta(milliseconds=week + hour)
    assert kafka["app.events.v1"]["retention_ms"] == week
    overall = document["kafka"]["last_raw_copy_expires_by"]
    assert overall is None or datetime.fromisoformat(overall) >= expires
    assert document["clear_ids"] == 3
    assert user("alice") not in issued.certificate
    assert anon("alice") not in issued.certificate
    assert not (pending_dir(lake_root) / "req-1.json").exists()
    assert request_states(lake_root)["req-1"].state == "completed"
    assert document["backups"]["taken_before"] == [backup.backup_id]

    restored_root = str(tmp_path / "restored")
    restore_backup(backup, backup_root=backups, target_root=restored_root)
    restored_events = SHOP_EVENTS.location(restored_root)
    restored_bronze = APP_BRONZE.location(restored_root)
    assert holds(str(spark.read.format("delta").load(restored_bronze).collect()), tokens), (
        "restored as backed up"
    )

    reapplied = reapply_erasures(spark, catalog, lake_root=lake_root, restored_root=restored_root)

    assert reapplied.restores == 1
    assert reapplied.rows_deleted > 0
    for location in (restored_events, restored_bronze, SHOP_LINKS.location(restored_root)):
        assert not holds(str(spark.read.format("delta").load(location).collect()), tokens), location
        files = [p for p in Path(location).rglob("*") if p.is_file() and p.read_bytes().startswith(b"PAR1")]
        assert not any(holds(str(pq.read_table(p).to_pylist()), tokens) for p in files), location
    assert others(spark, restored_events) == events_before
    assert others(spark, restored_bronze) == bronze_before
    assert reapply_erasures(spark, catalog, lake_root=lake_root, restored_root=restored_root).restores == 0
