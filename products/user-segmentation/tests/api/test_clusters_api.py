"""The clustering routes on real Delta tables written with delta-rs (no Spark): a model's
profiles (the newest, or a given version) and the model runs, paginated, with the silhouette of
every k tried."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient

from lakehouse_core.serving.auth import API_KEY_HEADER
from lakehouse_testing.serving import get_ok, write_rows
from user_segmentation.config import SegmentationConfig
from user_segmentation.contracts import ClusterProfile, ModelRun, SegmentMembership
from user_segmentation.serving.app import create_app
from user_segmentation.storage import tables as specs

pytestmark = pytest.mark.integration

D1, D2 = date(2026, 3, 1), date(2026, 3, 2)
V1, V2 = "a" * 16, "b" * 16
FEATURES = ["frequency_30d", "mobile_90d"]
ANALYST = {API_KEY_HEADER: "analyst-key"}
P1, P2 = (f"p_{c * 24}" for c in "ab")


def config() -> SegmentationConfig:
    return SegmentationConfig(
        name="user-segmentation",
        owner="o",
        team="t",
        api_keys={"analyst-key": ["analyst"], "r": ["person_reader"]},
    )


def run(version: str, day: date, previous: str | None) -> tuple[object, ...]:
    return (
        version, day, datetime(2026, 3, 3, tzinfo=UTC), FEATURES, 7, 30, 2, 4,
        {2: 0.61, 3: 0.74, 4: 0.52}, 3, 0.74, 30, [10.0, 0.4], [8.0, 0.5],
        {1: [20.0, 1.0], 2: [9.0, 0.0], 3: [1.0, 0.0]}, previous,
    )  # fmt: skip


def profile(
    version: str, day: date, cluster: int, name: str, size: int, z: tuple[float, float]
) -> tuple[object, ...]:
    means = {"frequency_30d": 10.0 + 8.0 * z[0], "mobile_90d": 0.4 + 0.5 * z[1]}
    population = {"frequency_30d": 10.0, "mobile_90d": 0.4}
    zscores = dict(zip(FEATURES, z, strict=True))
    return (day, version, cluster, f"cluster-{cluster}", name, size, size / 30, means, population, zscores)


def build_lake(lake_root: str) -> None:
    write_rows(lake_root, specs.MODEL_RUNS, ModelRun, run(V1, D1, None), run(V2, D2, V1))
    write_rows(
        lake_root,
        specs.CLUSTER_PROFILES,
        ClusterProfile,
        profile(V1, D1, 1, "mobile-first, high frequency", 10, (1.25, 1.2)),
        profile(V1, D1, 2, "rarely on mobile", 12, (-0.1, -0.8)),
        profile(V2, D2, 2, "rarely on mobile", 11, (-0.1, -0.8)),
        profile(V2, D2, 1, "mobile-first, high frequency", 9, (1.25, 1.3)),
        profile(V2, D2, 3, "low frequency", 10, (-1.1, -0.8)),
    )
    write_rows(
        lake_root,
        specs.SEGMENT_MEMBERSHIPS,
        SegmentMembership,
        ("cluster-1", P1, "k1", D1, None, V1, "k-means model a: cluster 1", None),
        ("cluster-1", P2, "k2", D1, D2, V1, "k-means model a: cluster 1", "not_matching"),
        ("cluster-3", P2, "k2", D2, None, V2, "k-means model b: cluster 3", None),
    )


def test_clusters_of_the_newest_or_a_given_model_and_the_model_runs(lake_root: str) -> None:
    build_lake(lake_root)
    client = TestClient(create_app(config(), lake_root=lake_root))

    newest = get_ok(client, "/v1/clusters", ANALYST)
    assert (newest["model_version"], newest["as_of"], newest["chosen_k"]) == (V2, "2026-03-02", 3)
    assert [(c["cluster_id"], c["segment"], c["name"], c["size"]) for c in newest["clusters"]] == [
        (1, "cluster-1", "mobile-first, high frequency", 9),
        (2, "cluster-2", "rarely on mobile", 11),
        (3, "cluster-3", "low frequency", 10),
    ]
    assert [f["feature"] for f in newest["clusters"][0]["features"]] == ["mobile_90d", "frequency_30d"]
    assert newest["clusters"][0]["features"][0] == {
        "feature": "mobile_90d", "mean": 0.4 + 0.5 * 1.3, "population_mean": 0.4, "z_score": 1.3,
    }  # fmt: skip
    older = get_ok(client, "/v1/clusters", ANALYST, model_version=V1)
    assert [c["size"] for c in older["clusters"]] == [10, 12]

    on_newest_day = get_ok(client, "/v1/clusters/1/members", ANALYST)
    assert [(m["person_id"], m["definition_hash"]) for m in on_newest_day["items"]] == [(P1, V1)]
    on_d1 = get_ok(client, "/v1/clusters/1/members", ANALYST, day="2026-03-01")
    assert [m["person_id"] for m in on_d1["items"]] == [P1, P2]
    assert [m["person_id"] for m in get_ok(client, "/v1/clusters/3/members", ANALYST)["items"]] == [P2]

    runs = get_ok(client, "/v1/model-runs", ANALYST, limit=1)
    assert (runs["total"], runs["next_offset"]) == (2, 1)
    first = runs["items"][0]
    assert (first["model_version"], first["previous_model_version"]) == (V2, V1)
    assert first["silhouettes"] == {"2": 0.61, "3": 0.74, "4": 0.52}
    assert first["centroids"]["1"] == [20.0, 1.0]
    assert get_ok(client, "/v1/model-runs", ANALYST, offset=1)["items"][0]["model_version"] == V1


@pytest.mark.parametrize(
    ("params", "headers", "status", "says"),
    [
        ({"model_version": "c" * 16}, ANALYST, 404, "no model version 'cccccccccccccccc'"),
        ({"model_version": "nope"}, ANALYST, 422, "string_pattern_mismatch"),
        ({}, {API_KEY_HEADER: "r"}, 403, "analyst"),
        ({}, {}, 401, API_KEY_HEADER),
    ],
)
def test_clusters_clear_4xx(
    lake_root: str, params: dict[str, str], headers: dict[str, str], status: int, says: str
) -> None:
    build_lake(lake_root)
    client = TestClient(create_app(config(), lake_root=lake_root))

    response = client.get("/v1/clusters", params=params, headers=headers)

    assert response.status_code == status, response.text
    assert says in response.text


def test_before_any_model_clusters_are_a_404_and_unbuilt_tables_a_503(lake_root: str) -> None:
    client = TestClient(create_app(config(), lake_root=lake_root))
    assert client.get("/v1/model-runs", headers=ANALYST).status_code == 503

    write_rows(lake_root, specs.MODEL_RUNS, ModelRun)
    response = client.get("/v1/clusters", headers=ANALYST)
    assert response.status_code == 404
    assert "no k-means model trained yet" in response.text
