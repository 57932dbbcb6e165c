"""The REST API on real Delta tables written with delta-rs (no Spark), through the ASGI app in
process: what each route answers, and the 4xx a caller can act on."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient

from lakehouse_core.serving.auth import API_KEY_HEADER
from lakehouse_testing.serving import get_ok, write_rows
from user_segmentation.config import SegmentationConfig, SegmentDefinition
from user_segmentation.contracts import PersonFeatures, SegmentDay, SegmentMembership
from user_segmentation.serving.app import create_app
from user_segmentation.storage import tables as specs

pytestmark = pytest.mark.integration

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
P1, P2, P3 = (f"p_{c * 24}" for c in "abc")
ACTIVE = SegmentDefinition(predicate="recency_days <= 7", description="Seen this week.")
BUYERS = SegmentDefinition(predicate="orders_90d >= 1")
KEYS = {"analyst-key": ["analyst"], "reader-key": ["person_reader"]}
READER = {API_KEY_HEADER: "reader-key"}
ANALYST = {API_KEY_HEADER: "analyst-key"}


def config(api_keys: dict[str, list[str]] | None = None) -> SegmentationConfig:
    return SegmentationConfig(
        name="user-segmentation",
        owner="o",
        team="t",
        segments={"active": ACTIVE, "buyers": BUYERS},
        api_keys=api_keys or {},
    )


def features(person: str, day: date, recency: int) -> tuple[object, ...]:
    seen = datetime(2026, 3, 1, 12, tzinfo=UTC)
    return (
        day, person, f"k-{person}", seen, seen, recency, 1, 2, 3, 1, 2, 3, 1, 2, 3, 0, 0.0, ["web"], seen,
        None, None, 0, "FR", "pro", date(2025, 6, 1), 25.5, None,
    )  # fmt: skip


def build_lake(lake_root: str) -> None:
    h = ACTIVE.definition_hash()
    write_rows(
        lake_root,
        specs.SEGMENT_MEMBERSHIPS,
        SegmentMembership,
        ("active", P1, "k1", D1, None, h, ACTIVE.predicate, None),
        ("active", P2, "k2", D1, D2, h, ACTIVE.predicate, "not_matching"),
        ("active", P3, "k3", D2, None, h, ACTIVE.predicate, None),
    )
    write_rows(
        lake_root,
        specs.SEGMENT_SIZES,
        SegmentDay,
        (D1, "active", h, 2, 2, 0),
        (D2, "active", h, 2, 1, 1),
    )
    write_rows(lake_root, specs.PERSON_FEATURES, PersonFeatures, features(P1, D1, 3), features(P1, D2, 0))


def test_segments_members_sizes_and_a_persons_segments_and_features(lake_root: str) -> None:
    build_lake(lake_root)
    client = TestClient(create_app(config(KEYS), lake_root=lake_root))

    listed = get_ok(client, "/v1/segments", ANALYST)
    assert [(s["name"], s["day"], s["members"], s["definition_hash"]) for s in listed] == [
        ("active", "2026-03-02", 2, ACTIVE.definition_hash()),
        ("buyers", None, 0, BUYERS.definition_hash()),
    ]
    on_d1 = get_ok(client, "/v1/segments/active/members", ANALYST, day="2026-03-01", limit=1)
    assert ([m["person_id"] for m in on_d1["items"]], on_d1["total"], on_d1["next_offset"]) == ([P1], 2, 1)
    newest = get_ok(client, "/v1/segments/active/members", ANALYST)
    assert [m["person_id"] for m in newest["items"]] == [P1, P3]
    sizes = get_ok(client, "/v1/segments/active/sizes", ANALYST, start="2026-03-01", end="2026-03-03")
    assert [(s["day"], s["members"], s["entered"], s["exited"]) for s in sizes] == [
        ("2026-03-01", 2, 2, 0),
        ("2026-03-02", 2, 1, 1),
    ]
    spells = get_ok(client, f"/v1/persons/{P2}/segments", READER)
    assert [(s["segment"], s["valid_from"], s["valid_to"], s["exit_reason"]) for s in spells] == [
        ("active", "2026-03-01", "2026-03-02", "not_matching")
    ]
    assert get_ok(client, f"/v1/persons/{P2}/segments", READER, day="2026-03-02") == []
    newest = get_ok(client, f"/v1/persons/{P1}/features", READER)
    assert (newest["as_of"], newest["plan"], newest["payments_90d"]) == ("2026-03-02", "pro", None)
    assert get_ok(client, f"/v1/persons/{P1}/features", READER, day="2026-03-01")["recency_days"] == 3


@pytest.mark.parametrize(
    ("path", "params", "headers", "status", "says"),
    [
        (
            "/v1/segments/nope/members",
            {},
            ANALYST,
            404,
            "no segment 'nope'; the segments are: active, buyers",
        ),
        ("/v1/segments/nope/sizes", {}, ANALYST, 404, "no segment 'nope'"),
        ("/v1/segments/buyers/members", {}, ANALYST, 404, "has no computed day yet"),
        ("/v1/segments/Bad-Name/members", {}, ANALYST, 422, "string_pattern_mismatch"),
        ("/v1/segments/active/sizes", {"start": "2026-03-03", "end": "2026-03-01"}, ANALYST, 400, "before"),
        ("/v1/segments/active/members", {"day": "yesterday"}, ANALYST, 422, "day"),
        (f"/v1/persons/{P1}/features", {}, ANALYST, 403, "person_reader"),
        (f"/v1/persons/{P1}/features", {}, {}, 401, API_KEY_HEADER),
        (f"/v1/persons/{P1}/features", {"day": "2026-03-03"}, READER, 404, "on 2026-03-03"),
        ("/v1/persons/someone/features", {}, READER, 422, "string_pattern_mismatch"),
    ],
)
def test_clear_4xx(
    lake_root: str, path: str, params: dict[str, str], headers: dict[str, str], status: int, says: str
) -> None:
    build_lake(lake_root)
    client = TestClient(create_app(config(KEYS), lake_root=lake_root))

    response = client.get(path, params=params, headers=headers)

    assert response.status_code == status, response.text
    assert says in response.text


def test_without_keys_segments_are_open_and_a_persons_data_is_not(lake_root: str) -> None:
    build_lake(lake_root)
    client = TestClient(create_app(config(), lake_root=lake_root))

    assert client.get("/v1/segments").status_code == 200
    assert client.get(f"/v1/persons/{P1}/features").status_code == 403
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_tables_not_built_yet_are_a_503(lake_root: str) -> None:
    client = TestClient(create_app(config(), lake_root=lake_root))

    assert client.get("/v1/segments").status_code == 503
    assert client.get("/ready").status_code == 503
