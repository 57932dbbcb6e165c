"""k-means segments on planted groups, end to end through the pipeline's ``segments`` task on real
Delta tables:
three behaviours with distinct feature means → k = 3 chosen by silhouette, clusters that recover
the groups (adjusted Rand index), names from the features, and a retrain on one more day (the
same people with slight changes, rows shuffled, a few newcomers) that keeps every group's id and
membership spell; training the first day again gives the same model version."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from pyspark.sql import SparkSession
from scipy.special import comb

from lakehouse_core.config import TopicConfig
from lakehouse_core.contracts import spark_schema
from lakehouse_core.delta import ensure_table, overwrite_partitions, read_table
from lakehouse_core.kafka.producer import OutgoingMessage
from lakehouse_platform.orchestrator import run_pipeline
from user_segmentation.config import ClusteringConfig, SegmentationConfig
from user_segmentation.contracts import ModelRun, PersonFeatures
from user_segmentation.pipeline import build_pipeline
from user_segmentation.processing.jobs import train_day
from user_segmentation.storage.tables import (
    CLUSTER_PROFILES,
    MODEL_RUNS,
    PERSON_FEATURES,
    SEGMENT_MEMBERSHIPS,
)

pytestmark = pytest.mark.integration

D1, D2 = date(2026, 3, 1), date(2026, 3, 2)
PER_GROUP = 80
#: The planted behaviours: (frequency_30d, monetary_90d, recency_days, platform) around which
#: each group's people are drawn.
GROUPS = {
    "mobile_regulars": (20.0, 20.0, 1.0, "ios"),
    "web_spenders": (14.0, 500.0, 3.0, "web"),
    "lapsed": (1.0, 0.0, 60.0, "web"),
}
CLUSTERING = ClusteringConfig(
    features=["frequency_30d", "monetary_90d", "recency_days", "mobile_90d"],
    k_min=2,
    k_max=4,
    seed=11,
    max_iter=10,
)


def adjusted_rand_index(truth: Sequence[str], found: Sequence[str]) -> float:
    """Hubert and Arabie's adjusted Rand index of two labellings of the same items."""
    pairs = Counter(zip(truth, found, strict=True))
    index = sum(comb(n, 2) for n in pairs.values())
    rows = sum(comb(n, 2) for n in Counter(truth).values())
    columns = sum(comb(n, 2) for n in Counter(found).values())
    expected = rows * columns / comb(len(truth), 2)
    return float((index - expected) / ((rows + columns) / 2 - expected))


def person(group: str, n: int, day: date, rng: random.Random) -> dict[str, object]:
    frequency, monetary, recency, platform = GROUPS[group]
    seen = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return {
        **{name: 0 if f.is_required() else f.default for name, f in PersonFeatures.model_fields.items()},
        "as_of": day,
        "person_id": f"p_{group}_{n:03d}",
        "subject_key": f"k-{group}-{n}",
        "first_seen_at": seen - timedelta(days=90),
        "last_seen_at": seen,
        "recency_days": max(0, round(rng.gauss(recency, 1.5))),
        "frequency_30d": max(0, round(rng.gauss(frequency, 2.0))),
        "monetary_90d": max(0.0, rng.gauss(monetary, 30.0)),
        "platforms_90d": [platform],
    }


def planted_day(day: date, seed: int, newcomers: int = 0) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows = [person(g, n, day, rng) for g in GROUPS for n in range(PER_GROUP + newcomers)]
    rng.shuffle(rows)
    return rows


def group_of(person_id: str) -> str:
    return person_id[2:].rsplit("_", 1)[0]


def write_days(spark: SparkSession, lake_root: str, rows: list[dict[str, object]]) -> None:
    frame = spark.createDataFrame(rows, spark_schema(PersonFeatures))
    overwrite_partitions(frame, PERSON_FEATURES, lake_root=lake_root)


def members_on(spark: SparkSession, lake_root: str, day: date) -> dict[str, str]:
    spells = read_table(spark, SEGMENT_MEMBERSHIPS, lake_root=lake_root).collect()
    return {
        s["person_id"]: s["segment"]
        for s in spells
        if s["valid_from"] <= day and (s["valid_to"] is None or s["valid_to"] > day)
    }


def test_planted_groups_are_recovered_named_and_keep_their_ids_on_a_retrain(
    spark: SparkSession, lake_root: str
) -> None:
    config = SegmentationConfig(
        name="user-segmentation",
        owner="o",
        team="t",
        topics={"membership": TopicConfig(name="segments.membership.v1", partitions=1)},
        clustering=CLUSTERING,
    )
    sent: list[OutgoingMessage] = []
    ensure_table(spark, PERSON_FEATURES, lake_root=lake_root)
    write_days(spark, lake_root, planted_day(D1, seed=1) + planted_day(D2, seed=2, newcomers=2))

    pipeline = build_pipeline(
        config, spark=lambda: spark, bootstrap_servers="unused:9092", lake_root=lake_root, publish=sent.extend
    )
    run = run_pipeline(pipeline, only=["segments"])

    (task,) = run.tasks
    assert task.status == "succeeded", task.error
    assert task.outputs["chosen_k"] == {D1.isoformat(): 3, D2.isoformat(): 3}
    on_d1 = members_on(spark, lake_root, D1)
    assert len(on_d1) == 3 * PER_GROUP
    people = sorted(on_d1)
    ari = adjusted_rand_index([group_of(p) for p in people], [on_d1[p] for p in people])
    print(f"adjusted Rand index against the planted groups: {ari:.3f}")
    assert ari >= 0.9
    cluster_of = {
        g: Counter(s for p, s in on_d1.items() if group_of(p) == g).most_common(1)[0][0] for g in GROUPS
    }
    assert len(set(cluster_of.values())) == 3
    profiles = read_table(spark, CLUSTER_PROFILES, lake_root=lake_root).collect()
    names = {(r["as_of"], r["segment"]): r["name"] for r in profiles}
    assert names[D1, cluster_of["mobile_regulars"]] == "mobile-first, high frequency"
    assert names[D1, cluster_of["lapsed"]].startswith("lapsed")
    assert names[D2, cluster_of["mobile_regulars"]] == "mobile-first, high frequency"

    on_d2 = members_on(spark, lake_root, D2)
    assert {p: s for p, s in on_d2.items() if p in on_d1} == on_d1
    assert all(on_d2[p] == cluster_of[group_of(p)] for p in on_d2 if p not in on_d1)
    assert (task.outputs["entered"], task.outputs["exited"]) == (len(sent), 0) == (3 * PER_GROUP + 3 * 2, 0)
    open_spells = [
        s
        for s in read_table(spark, SEGMENT_MEMBERSHIPS, lake_root=lake_root).collect()
        if s["person_id"] in on_d1
    ]
    assert {(s["valid_from"], s["valid_to"]) for s in open_spells} == {(D1, None)}

    runs = sorted(
        (
            ModelRun.model_validate(r.asDict(recursive=True))
            for r in read_table(spark, MODEL_RUNS, lake_root=lake_root).collect()
        ),
        key=lambda r: r.as_of,
    )
    assert [r.as_of for r in runs] == [D1, D2]
    assert sorted(runs[0].silhouettes) == [2, 3, 4]
    assert max(runs[0].silhouettes, key=runs[0].silhouettes.__getitem__) == 3
    assert runs[1].previous_model_version == runs[0].model_version
    assert sorted(runs[1].centroids) == sorted(runs[0].centroids) == [1, 2, 3]
    assert {s["definition_hash"] for s in open_spells} == {runs[0].model_version}

    features_d1 = read_table(spark, PERSON_FEATURES, lake_root=lake_root).where(f"as_of = '{D1}'")
    retrained = train_day(features_d1, CLUSTERING, day=D1, runs=[])
    assert not isinstance(retrained, str)
    assert retrained[0].model_version == runs[0].model_version, (
        "the same features and seed give the same model"
    )
