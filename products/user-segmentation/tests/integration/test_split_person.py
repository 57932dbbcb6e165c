"""Splitting a person by removing an edge, through real Spark, Delta and the API in process.

Alice (``ka``) and Bob (``kb``) each browse the web as themselves on D1; a web anonymous id
``wz`` browses anonymously and is identified as both, so the graph wrongly makes them one
person. A steward removes the edge between ``wz`` and ``kb`` through the API; the next identity
and features runs (for the same day) give two persons, each with their own features, and the
edge refused as "removed: ...".
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from importlib.metadata import entry_points
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from lakehouse_core.delta import append, ensure_table, read_table
from lakehouse_core.serving.auth import API_KEY_HEADER
from lakehouse_core.tables import TableSpec
from lakehouse_platform.catalog import Catalog, build_catalog
from user_segmentation.config import SegmentationConfig
from user_segmentation.processing.jobs import run_features, run_identity
from user_segmentation.serving.app import create_app
from user_segmentation.storage.tables import IDENTITY_EDGES, PERSON_FEATURES, PERSON_NODES

pytestmark = pytest.mark.integration

WEB = "web-user-analytics"
D1 = date(2026, 3, 1)
SHARED_NODE = f"{WEB}:pseudonymous_id:wz"
KEYS = {"steward-key": ["identity_steward"], "analyst-key": ["analyst"], "reader-key": ["person_reader"]}
STEWARD = {API_KEY_HEADER: "steward-key"}


def person(key: str) -> str:
    return "p_" + hashlib.sha256(key.encode()).hexdigest()[:24]


ALICE, BOB = person("ka"), person("kb")


def at(hour: int) -> datetime:
    return datetime(D1.year, D1.month, D1.day, hour, tzinfo=UTC)


def page(event_id: str, hour: int, session: str, anonymous: str, subject: str | None) -> dict[str, Any]:
    return {
        "event_id": event_id, "event_type": "page", "event_name": "Home", "event_ts": at(hour),
        "event_date": D1, "session_id": session, "anonymous_id": anonymous,
        "visitor_id": subject or anonymous, "subject_key": subject,
    }  # fmt: skip


def link(subject: str, event_id: str, hour: int) -> dict[str, Any]:
    return {
        "subject_key": subject, "linked_id": "wz", "linked_id_kind": "pseudonymous_id",
        "link_kind": "identify", "event_id": event_id, "linked_at": at(hour), "event_date": D1,
        "source_table": f"{WEB}.silver.events",
    }  # fmt: skip


def write(
    spark: SparkSession, catalog: Catalog, lake_root: str, name: str, rows: list[dict[str, Any]]
) -> None:
    spec: TableSpec = catalog.get(name).spec
    ensure_table(spark, spec, lake_root=lake_root)
    filler = {T.StringType: "other", T.BooleanType: False, T.LongType: 0, T.TimestampType: at(0)}

    def value(row: dict[str, Any], f: T.StructField) -> Any:
        return row.get(f.name, None if f.nullable else filler.get(type(f.dataType)))

    complete = [tuple(value(r, f) for f in spec.schema.fields) for r in rows]
    append(spark.createDataFrame(complete, spec.schema), spec, lake_root=lake_root)


def test_removing_an_edge_splits_the_person_and_recomputes_their_features(
    spark: SparkSession, lake_root: str
) -> None:
    catalog = build_catalog(
        [
            p.load()
            for p in entry_points(group="lakehouse.products")
            if p.name in {WEB, "mobile-user-analytics", "user-segmentation"}
        ],
        lake_root=lake_root,
    )
    write(spark, catalog, lake_root, f"{WEB}.silver.events", [
        page("a1", 9, "sa", "wa", "ka"),
        page("z1", 10, "sz1", "wz", None),
        page("z2", 11, "sz2", "wz", None),
        page("b1", 12, "sb", "wb", "kb"),
        page("b2", 13, "sb", "wb", "kb"),
    ])  # fmt: skip
    write(
        spark,
        catalog,
        lake_root,
        f"{WEB}.silver.identity_links",
        [link("ka", "z1", 10), link("kb", "z2", 11)],
    )
    config = SegmentationConfig(name="user-segmentation", owner="o", team="t", api_keys=KEYS)

    def run() -> tuple[dict[str, str], dict[str, tuple[int, int]]]:
        run_identity(spark, config, catalog, lake_root=lake_root, as_of=D1)
        run_features(spark, config, catalog, lake_root=lake_root, as_of=D1)
        nodes = {
            r["node_id"]: r["person_id"]
            for r in read_table(spark, PERSON_NODES, lake_root=lake_root).collect()
        }
        features = {
            r["person_id"]: (r["frequency_7d"], r["sessions_7d"])
            for r in read_table(spark, PERSON_FEATURES, lake_root=lake_root)
            .where(f"as_of = '{D1}'")
            .collect()
        }
        return nodes, features

    nodes, features = run()
    assert set(nodes.values()) == {ALICE}
    assert features == {ALICE: (5, 4)}

    client = TestClient(create_app(config, lake_root=lake_root))
    body = {"node_id": SHARED_NODE, "subject_key": "kb", "reason": "a shared kiosk"}
    assert (
        client.post("/v1/identity/removals", json=body, headers={API_KEY_HEADER: "analyst-key"}).status_code
        == 403
    )
    assert client.post("/v1/identity/removals", json=body).status_code == 401
    unknown = client.post("/v1/identity/removals", json={**body, "subject_key": "kz"}, headers=STEWARD)
    assert unknown.status_code == 404, unknown.text
    assert (
        client.post("/v1/identity/removals", json={"node_id": SHARED_NODE}, headers=STEWARD).status_code
        == 422
    )
    made = client.post("/v1/identity/removals", json=body, headers=STEWARD)
    assert made.status_code == 202, made.text
    assert made.json()["reason"] == "a shared kiosk"
    listed = client.get("/v1/identity/removals", headers={API_KEY_HEADER: "reader-key"}).json()
    assert [r["removal_id"] for r in listed["items"]] == [made.json()["removal_id"]]
    assert listed["total"] == 1

    nodes, features = run()
    assert nodes == {
        "subject:ka": ALICE,
        SHARED_NODE: ALICE,
        "subject:kb": BOB,
    }
    assert features == {ALICE: (3, 3), BOB: (2, 1)}
    edges = read_table(spark, IDENTITY_EDGES, lake_root=lake_root).collect()
    assert sorted((e["subject_key"], e["accepted"], e["refused_reason"]) for e in edges) == [
        ("ka", True, None),
        ("kb", False, "removed: a shared kiosk"),
    ]
