"""Known answers through real Spark, Delta and Kafka: hand-built silver tables of web and mobile,
written at their catalog locations in a temp lake, yield exactly the expected persons, features,
memberships (with entry and exit days) and membership records on the broker.

The people (days D1..D4; the first run computes D1..D2 and sees only the silver rows of those
days, the second D3..D4 with all of them):

- Alice (``ka``), web only: a page on D1 (identify ties her anonymous id ``wa``), an order of
  30 on D2, a page on D4.
- Bob (``kb``), web and iOS: a web page on D1 as himself; on iOS a screen on D1 before signing
  in on device ``db`` on D2, screens on D2 and D4.
- Carol (``kc``), anonymous then identified: a web page on D1 as ``wc`` only; on D3 she
  identifies on ``wc`` and orders 12.5.
- A shared Android device ``dx``: ``k1`` signs in on D1, ``k2`` on D2 (a screen too), ``k3`` on
  D3 (a screen too). The limit is two subject keys per device in 30 days, so ``k3``'s link is
  refused: ``k1`` and ``k2`` are one person, ``k3`` another.

Segments: ``active_today`` (recency_days = 0), ``buyers`` (orders_90d >= 1), ``multi_platform``
(size(platforms_90d) >= 2).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import entry_points
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from lakehouse_core.config import TopicConfig
from lakehouse_core.delta import append, ensure_table, read_table
from lakehouse_core.kafka.admin import topic_record_count
from lakehouse_core.kafka.consumer import build_consumer, consume_batches
from lakehouse_core.tables import SubjectKind, TableSpec
from lakehouse_platform.catalog import Catalog, build_catalog
from lakehouse_platform.orchestrator import run_pipeline
from lakehouse_testing.plugin import KafkaFixture
from user_segmentation.config import IdentityConfig, MergeLimit, SegmentationConfig, SegmentDefinition
from user_segmentation.pipeline import build_pipeline
from user_segmentation.storage.tables import (
    IDENTITY_EDGES,
    PERSON_FEATURES,
    PERSON_NODES,
    SEGMENT_MEMBERSHIPS,
)

pytestmark = pytest.mark.integration

WEB, MOBILE = "web-user-analytics", "mobile-user-analytics"
D1, D2, D3, D4 = (date(2026, 3, 1) + timedelta(days=n) for n in range(4))


def person(key: str) -> str:
    return "p_" + hashlib.sha256(key.encode()).hexdigest()[:24]


ALICE, BOB, CAROL, SHARED, K3 = (person(k) for k in ("ka", "kb", "kc", "k1", "k3"))
CAROL_ANONYMOUS = person(f"{WEB}:pseudonymous_id:wc")


EXPECTED_SPELLS = {
    ("active_today", ALICE, D1, D3, "not_matching"),
    ("active_today", ALICE, D4, None, None),
    ("active_today", BOB, D1, D3, "not_matching"),
    ("active_today", BOB, D4, None, None),
    ("active_today", CAROL_ANONYMOUS, D1, D2, "not_matching"),
    ("active_today", CAROL, D3, D4, "not_matching"),
    ("active_today", SHARED, D1, D3, "not_matching"),
    ("active_today", K3, D3, D4, "not_matching"),
    ("buyers", ALICE, D2, None, None),
    ("buyers", CAROL, D3, None, None),
    ("multi_platform", BOB, D1, None, None),
}


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def web_event(
    event_id: str, kind: str, name: str | None, ts: datetime, session: str | None, anonymous: str,
    subject: str | None, revenue: float | None = None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "event_id": event_id, "event_type": kind, "event_name": name, "event_ts": ts, "event_date": ts.date(),
        "session_id": session, "anonymous_id": anonymous, "visitor_id": subject or anonymous,
        "subject_key": subject, "properties_json": json.dumps({"revenue": revenue}) if revenue else None,
    }  # fmt: skip


def app_event(
    event_id: str,
    kind: str,
    ts: datetime,
    session: str | None,
    device: str,
    subject: str | None,
    platform: str,
) -> dict[str, Any]:
    return {
        "event_id": event_id, "event_type": kind, "event_name": "Home" if kind == "screen" else None,
        "event_ts": ts, "event_date": ts.date(), "session_id": session, "device_key": device,
        "user_key": subject, "subject_key": subject, "platform": platform,
    }  # fmt: skip


def link(
    product: str, subject: str, linked: str, kind: SubjectKind, event_id: str, ts: datetime
) -> dict[str, Any]:
    return {
        "subject_key": subject, "linked_id": linked, "linked_id_kind": kind.value,
        "link_kind": "identify" if product == WEB else "sign_in", "event_id": event_id, "linked_at": ts,
        "event_date": ts.date(), "source_table": f"{product}.silver.events",
    }  # fmt: skip


def _filler(field: T.StructField) -> Any:
    if field.nullable:
        return None
    return {T.StringType: "other", T.BooleanType: False, T.LongType: 0, T.TimestampType: at(D1, 0)}.get(
        type(field.dataType)
    )


def write(
    spark: SparkSession, catalog: Catalog, lake_root: str, name: str, rows: list[dict[str, Any]]
) -> None:
    """Rows (the columns the test cares about) appended to the catalogued table ``name``; every
    other column null, or a filler where the contract requires a value."""
    spec: TableSpec = catalog.get(name).spec
    ensure_table(spark, spec, lake_root=lake_root)
    complete = [tuple(r.get(f.name, _filler(f)) for f in spec.schema.fields) for r in rows]
    append(spark.createDataFrame(complete, spec.schema), spec, lake_root=lake_root)


def first_stage() -> dict[str, list[dict[str, Any]]]:
    return {
        f"{WEB}.silver.events": [
            web_event("w1", "page", "Home", at(D1, 10), "sa1", "wa", "ka"),
            web_event("w2", "identify", None, at(D1, 10, 1), None, "wa", "ka"),
            web_event("w3", "track", "Order Completed", at(D2, 11), "sa2", "wa", "ka", revenue=30.0),
            web_event("w4", "page", "Home", at(D1, 12), "sb1", "wb", "kb"),
            web_event("w5", "page", "Home", at(D1, 9), "sc1", "wc", None),
        ],
        f"{WEB}.silver.identity_links": [
            link(WEB, "ka", "wa", SubjectKind.PSEUDONYMOUS_ID, "w2", at(D1, 10, 1))
        ],
        f"{MOBILE}.silver.events": [
            app_event("m1", "screen", at(D1, 20), "sm1", "db", None, "ios"),
            app_event("m2", "identify", at(D2, 8), None, "db", "kb", "ios"),
            app_event("m3", "screen", at(D2, 8, 1), "sm2", "db", "kb", "ios"),
            app_event("m4", "identify", at(D1, 7), None, "dx", "k1", "android"),
            app_event("m5", "identify", at(D2, 7), None, "dx", "k2", "android"),
            app_event("m7", "screen", at(D2, 7, 1), "sx1", "dx", "k2", "android"),
        ],
        f"{MOBILE}.silver.identity_links": [
            link(MOBILE, "kb", "db", SubjectKind.DEVICE_ID, "m2", at(D2, 8)),
            link(MOBILE, "k1", "dx", SubjectKind.DEVICE_ID, "m4", at(D1, 7)),
            link(MOBILE, "k2", "dx", SubjectKind.DEVICE_ID, "m5", at(D2, 7)),
        ],
    }


def second_stage() -> dict[str, list[dict[str, Any]]]:
    return {
        f"{WEB}.silver.events": [
            web_event("w6", "identify", None, at(D3, 9), None, "wc", "kc"),
            web_event("w7", "track", "Order Completed", at(D3, 9, 5), "sc2", "wc", "kc", revenue=12.5),
            web_event("w8", "page", "Home", at(D4, 10), "sa3", "wa", "ka"),
        ],
        f"{WEB}.silver.identity_links": [link(WEB, "kc", "wc", SubjectKind.PSEUDONYMOUS_ID, "w6", at(D3, 9))],
        f"{MOBILE}.silver.events": [
            app_event("m6", "identify", at(D3, 7), None, "dx", "k3", "android"),
            app_event("m8", "screen", at(D3, 7, 1), "sx2", "dx", "k3", "android"),
            app_event("m9", "screen", at(D4, 9), "sm3", "db", "kb", "ios"),
        ],
        f"{MOBILE}.silver.identity_links": [link(MOBILE, "k3", "dx", SubjectKind.DEVICE_ID, "m6", at(D3, 7))],
    }


def config(topic: str) -> SegmentationConfig:
    return SegmentationConfig(
        name="user-segmentation",
        owner="o",
        team="t",
        topics={"membership": TopicConfig(name=topic, partitions=1)},
        identity=IdentityConfig(
            merge_limits={SubjectKind.DEVICE_ID: MergeLimit(max_subjects=2, window_days=30)}
        ),
        segments={
            "active_today": SegmentDefinition(predicate="recency_days = 0"),
            "buyers": SegmentDefinition(predicate="orders_90d >= 1"),
            "multi_platform": SegmentDefinition(predicate="size(platforms_90d) >= 2"),
        },
    )


def the_catalog(lake_root: str) -> Catalog:
    wanted = {WEB, MOBILE, "user-segmentation"}
    return build_catalog(
        [p.load() for p in entry_points(group="lakehouse.products") if p.name in wanted], lake_root=lake_root
    )


def test_hand_built_people_yield_the_known_persons_features_and_memberships(
    spark: SparkSession, kafka_broker: KafkaFixture, lake_root: str, unique_topic: str
) -> None:
    catalog = the_catalog(lake_root)
    day = {"as_of": D2}

    def pipeline_run() -> None:
        pipeline = build_pipeline(
            config(unique_topic),
            spark=lambda: spark,
            bootstrap_servers=kafka_broker.bootstrap_servers,
            lake_root=lake_root,
            catalog=lambda: catalog,
            as_of=lambda: day["as_of"],
            first_day=D1,
        )
        run = run_pipeline(pipeline)
        assert run.status == "succeeded", [(t.name, t.error) for t in run.tasks]

    first, second = first_stage(), second_stage()
    for name, rows in first.items():
        write(spark, catalog, lake_root, name, rows + second[name])
    pipeline_run()
    day["as_of"] = D4
    pipeline_run()

    edges = read_table(spark, IDENTITY_EDGES, lake_root=lake_root).collect()
    assert sorted((e["event_id"], e["accepted"], e["refused_reason"]) for e in edges) == [
        ("m2", True, None),
        ("m4", True, None),
        ("m5", True, None),
        ("m6", False, "device_id linked to 3 subject keys within 30 days (limit 2)"),
        ("w2", True, None),
        ("w6", True, None),
    ]
    nodes = {
        r["node_id"]: r["person_id"] for r in read_table(spark, PERSON_NODES, lake_root=lake_root).collect()
    }
    assert nodes == {
        "subject:ka": ALICE,
        f"{WEB}:pseudonymous_id:wa": ALICE,
        "subject:kb": BOB,
        f"{MOBILE}:device_id:db": BOB,
        "subject:kc": CAROL,
        f"{WEB}:pseudonymous_id:wc": CAROL,
        "subject:k1": SHARED,
        "subject:k2": SHARED,
        f"{MOBILE}:device_id:dx": SHARED,
        "subject:k3": K3,
    }

    features = {
        (r["person_id"], r["as_of"]): (
            r["recency_days"], r["frequency_7d"], r["sessions_7d"], r["orders_90d"], r["monetary_90d"],
            r["platforms_90d"],
        )
        for r in read_table(spark, PERSON_FEATURES, lake_root=lake_root).collect()
    }  # fmt: skip
    assert features == {
        (ALICE, D1): (0, 1, 1, 0, 0.0, ["web"]),
        (ALICE, D2): (0, 2, 2, 1, 30.0, ["web"]),
        (ALICE, D3): (1, 2, 2, 1, 30.0, ["web"]),
        (ALICE, D4): (0, 3, 3, 1, 30.0, ["web"]),
        (BOB, D1): (0, 2, 2, 0, 0.0, ["ios", "web"]),
        (BOB, D2): (0, 3, 3, 0, 0.0, ["ios", "web"]),
        (BOB, D3): (1, 3, 3, 0, 0.0, ["ios", "web"]),
        (BOB, D4): (0, 4, 4, 0, 0.0, ["ios", "web"]),
        (CAROL_ANONYMOUS, D1): (0, 1, 1, 0, 0.0, ["web"]),
        # D2 computed again by the second run: its graph moved wc from an anonymous person to Carol.
        (CAROL, D2): (1, 1, 1, 0, 0.0, ["web"]),
        (CAROL, D3): (0, 2, 2, 1, 12.5, ["web"]),
        (CAROL, D4): (1, 2, 2, 1, 12.5, ["web"]),
        (SHARED, D1): (0, 0, 0, 0, 0.0, ["android"]),
        (SHARED, D2): (0, 1, 1, 0, 0.0, ["android"]),
        (SHARED, D3): (1, 1, 1, 0, 0.0, ["android"]),
        (SHARED, D4): (2, 1, 1, 0, 0.0, ["android"]),
        (K3, D3): (0, 1, 1, 0, 0.0, ["android"]),
        (K3, D4): (1, 1, 1, 0, 0.0, ["android"]),
    }

    spells = {
        (r["segment"], r["person_id"], r["valid_from"], r["valid_to"], r["exit_reason"])
        for r in read_table(spark, SEGMENT_MEMBERSHIPS, lake_root=lake_root).collect()
    }
    assert spells == EXPECTED_SPELLS

    assert topic_record_count(kafka_broker.bootstrap_servers, unique_topic) == 17
    consumer = build_consumer(
        kafka_broker.bootstrap_servers, group_id=f"{unique_topic}-check", topics=[unique_topic]
    )
    try:
        records = [
            json.loads(m.value())
            for batch in consume_batches(consumer, idle_timeout=1.0)
            for m in batch
            if m.value() is not None
        ]
    finally:
        consumer.close()
    published = {(r["segment"], r["person_id"], r["change"], r["day"]) for r in records}
    expected = {(segment, p, "entered", str(start)) for segment, p, start, _, _ in spells} | {
        (segment, p, "exited", str(end)) for segment, p, _, end, _ in spells if end is not None
    }
    assert published == expected
    assert len(records) == 17
