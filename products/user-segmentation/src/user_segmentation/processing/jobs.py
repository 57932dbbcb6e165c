"""The edges of the product's processing: read (other products' tables through the catalog,
this product's own), call the pure transforms, write, publish.

- :func:`run_identity`: every identity link of web and mobile → ``silver.identity_edges`` (with
  the over-merge guard's verdict and the stewards' removals) and ``silver.person_nodes`` (the
  persons, rewritten whole). The graph is recomputed from all links up to ``as_of`` on each run
  (a full read: components can merge or split anywhere);
- :func:`run_features`: ``gold.person_features`` for each UTC day after the last one computed,
  up to ``as_of`` (partition overwrite, so a re-run of a day replaces it), and the newest day
  computed before again when the last identity run moved a node to another person; the
  customer and payment columns come from this product's silver operational tables
  (:mod:`user_segmentation.processing.operational_jobs`), null where there are none;
- :func:`run_segments`: the feature days not folded into memberships yet → spells in
  ``gold.segment_memberships``, sizes in ``gold.segment_sizes``, and every entry and exit
  published to ``segments.membership.v1`` before the tables are written (at least once: a run
  that fails after publishing re-sends the same ``change_id`` values).
- :func:`run_clusters`: for each feature day after the newest model run, a k-means model
  (``gold.model_runs``), its clusters' profiles (``gold.cluster_profiles``) and the memberships of
  its clusters (``cluster-<id>`` in ``gold.segment_memberships``), published like the rule
  segments' ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from typing import TYPE_CHECKING

from lakehouse_core.delta import ensure_table, merge_upsert, overwrite_partitions, read_table, table_history
from lakehouse_core.errors import DataError
from lakehouse_core.kafka.producer import EventProducer, OutgoingMessage
from lakehouse_platform.catalog import Catalog, CatalogError
from user_segmentation.config import SegmentationConfig
from user_segmentation.contracts import ClusterProfile, MembershipChange, ModelRun
from user_segmentation.processing.clusters import (
    candidate_ks,
    cluster_name,
    cluster_predicate,
    cluster_segment,
    clustering_frame,
    feature_profiles,
    fit_scaler,
    is_cluster_segment,
    match_ids,
    model_version,
    standardised,
    train,
)
from user_segmentation.processing.features import attribute, normalised_events, person_features
from user_segmentation.processing.identity import (
    apply_removals,
    edge_nodes,
    event_nodes,
    guard_over_merge,
    link_edges,
    person_nodes,
)
from user_segmentation.processing.operational import person_operational
from user_segmentation.processing.operational_jobs import read_operational
from user_segmentation.processing.segments import (
    change_key,
    daily_members,
    days_between,
    fold_spells,
    membership_changes,
    membership_spells,
    segment_days,
    validate_segments,
)
from user_segmentation.storage.tables import (
    CLUSTER_PROFILES,
    IDENTITY_EDGE_REMOVALS,
    IDENTITY_EDGES,
    MODEL_RUNS,
    PERSON_FEATURES,
    PERSON_NODES,
    SEGMENT_MEMBERSHIPS,
    SEGMENT_SIZES,
    SOURCES,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse_core.tables import TableSpec
    from user_segmentation.config import ClusteringConfig

Publisher = Callable[[list[OutgoingMessage]], None]


@dataclass(frozen=True)
class Inputs:
    """Other products' tables found through the catalog, and those that are not there yet."""

    frames: dict[str, DataFrame] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def read_inputs(spark: SparkSession, catalog: Catalog, names: list[str]) -> Inputs:
    """The tables ``names`` at their catalog locations; a table not installed or not built yet
    is reported in ``missing`` with the reason (the run goes on without it)."""
    from lakehouse_core.delta import table_exists

    inputs = Inputs()
    for name in names:
        try:
            location = catalog.get(name).location
        except CatalogError as exc:
            inputs.missing[name] = str(exc)
            continue
        if not table_exists(spark, location):
            inputs.missing[name] = f"not built yet (no Delta table at {location})"
            continue
        frame = spark.read.format("delta").load(location)
        inputs.frames[name] = frame
        inputs.rows[name] = frame.count()
    return inputs


@dataclass(frozen=True)
class IdentityRun:
    edges: int
    refused_edges: int
    nodes: int
    persons: int
    moved_nodes: int
    """Nodes whose person_id differs from the previous graph's (a split, a merge)."""
    inputs: Inputs


def run_identity(
    spark: SparkSession, config: SegmentationConfig, catalog: Catalog, *, lake_root: str, as_of: date
) -> IdentityRun:
    """Rebuild the identity graph from every identity link and event id of web and mobile up to
    the end of ``as_of``: a run for a past day sees the graph as it was then. Every removal in
    ``silver.identity_edge_removals`` refuses the edges it names, whatever day it was made."""
    from pyspark.sql import functions as F

    inputs = read_inputs(spark, catalog, [n for s in SOURCES for n in (s.identity_links, s.events)])
    until = {name: frame.where(F.col("event_date") <= F.lit(as_of)) for name, frame in inputs.frames.items()}
    for spec in (IDENTITY_EDGES, PERSON_NODES, IDENTITY_EDGE_REMOVALS):
        ensure_table(spark, spec, lake_root=lake_root)
    link_frames = [
        link_edges(until[s.identity_links], product=s.product) for s in SOURCES if s.identity_links in until
    ]
    empty_edges = read_table(spark, IDENTITY_EDGES, lake_root=lake_root).limit(0)
    guarded = (
        guard_over_merge(reduce(lambda a, b: a.unionByName(b), link_frames), config.identity.merge_limits)
        if link_frames
        else empty_edges
    )
    removals = read_table(spark, IDENTITY_EDGE_REMOVALS, lake_root=lake_root)
    edges = apply_removals(guarded, removals).localCheckpoint()
    stored = read_table(spark, IDENTITY_EDGES, lake_root=lake_root).select("event_date")
    days = sorted(r[0] for r in stored.union(edges.select("event_date")).distinct().collect())
    overwrite_partitions(edges, IDENTITY_EDGES, lake_root=lake_root, partitions=days)

    nodes = [edge_nodes(edges)] + [event_nodes(until[s.events], s) for s in SOURCES if s.events in until]
    persons = person_nodes(nodes, edges).localCheckpoint()
    previous = read_table(spark, PERSON_NODES, lake_root=lake_root)
    moved = moved_nodes(previous, persons)
    persons.select(*PERSON_NODES.schema.fieldNames()).write.format("delta").mode("overwrite").save(
        PERSON_NODES.location(lake_root)
    )
    edge_counts = edges.agg(F.count(F.lit(1)), F.count(F.when(~F.col("accepted"), True))).first()
    node_counts = persons.agg(F.count(F.lit(1)), F.countDistinct("person_id")).first()
    return IdentityRun(
        edges=int(edge_counts[0]) if edge_counts else 0,
        refused_edges=int(edge_counts[1]) if edge_counts else 0,
        nodes=int(node_counts[0]) if node_counts else 0,
        persons=int(node_counts[1]) if node_counts else 0,
        moved_nodes=moved,
        inputs=inputs,
    )


def moved_nodes(previous: DataFrame, current: DataFrame) -> int:
    """Nodes in both graphs whose person_id differs (counted before ``previous`` is overwritten)."""
    from pyspark.sql import functions as F

    before = previous.select("node_id", F.col("person_id").alias("before"))
    return before.join(current, "node_id").where(F.col("before") != F.col("person_id")).count()


def graph_moved_since_last_write(spark: SparkSession, *, lake_root: str) -> int:
    """Nodes whose person differs between the newest version of ``silver.person_nodes`` and the
    one before it (0 when there is no earlier version): what the last identity run changed."""
    history = table_history(spark, PERSON_NODES, lake_root=lake_root, limit=1)
    newest = int(history[0]["version"]) if history else 0
    if newest == 0:
        return 0
    previous = read_table(spark, PERSON_NODES, lake_root=lake_root, version=newest - 1)
    return moved_nodes(previous, read_table(spark, PERSON_NODES, lake_root=lake_root))


@dataclass(frozen=True)
class FeaturesRun:
    days: list[date]
    rows: int
    inputs: Inputs
    recomputed: date | None = None
    """A day computed before and computed again, because the graph had changed since."""


def last_day(spark: SparkSession, spec: TableSpec, column: str, *, lake_root: str) -> date | None:
    """The newest ``column`` value in the table; None when it is empty."""
    from pyspark.sql import functions as F

    found = read_table(spark, spec, lake_root=lake_root).agg(F.max(column)).first()
    return found[0] if found else None


def run_features(
    spark: SparkSession,
    config: SegmentationConfig,
    catalog: Catalog,
    *,
    lake_root: str,
    as_of: date,
    first_day: date | None = None,
) -> FeaturesRun:
    """Compute the features of every day after the newest computed one through ``as_of``; on an
    empty table from ``first_day`` (default ``as_of``). An earlier day is not redone, except the
    newest one when the last identity run moved any node to another person (a split or a merge):
    that whole day is computed again through the new graph, so its rows name the persons as
    they are now."""
    ensure_table(spark, PERSON_FEATURES, lake_root=lake_root)
    ensure_table(spark, PERSON_NODES, lake_root=lake_root)
    newest = last_day(spark, PERSON_FEATURES, "as_of", lake_root=lake_root)
    start = newest + timedelta(days=1) if newest else (first_day or as_of)
    recomputed = newest if newest and graph_moved_since_last_write(spark, lake_root=lake_root) else None
    days = ([recomputed] if recomputed else []) + days_between(start, as_of)
    inputs = read_inputs(spark, catalog, [s.events for s in SOURCES])
    if not days:
        return FeaturesRun([], 0, inputs)
    events = [
        normalised_events(
            inputs.frames[s.events],
            s,
            order_event=config.features.order_event,
            funnel=config.features.funnel,
        )
        for s in SOURCES
        if s.events in inputs.frames
    ]
    nodes = read_table(spark, PERSON_NODES, lake_root=lake_root)
    if events:
        attributed = attribute(reduce(lambda a, b: a.unionByName(b), events), nodes).localCheckpoint()
        operational = read_operational(spark, lake_root=lake_root)

        def day_features(day: date) -> DataFrame:
            attributes = (
                None
                if operational is None
                else person_operational(
                    nodes,
                    operational["customers"],
                    operational["orders"],
                    operational["payments"],
                    as_of=day,
                    paid_order_statuses=config.operational.paid_order_statuses,
                )
            )
            return person_features(attributed, as_of=day, operational=attributes)

        features = reduce(lambda a, b: a.unionByName(b), [day_features(d) for d in days])
    else:
        features = read_table(spark, PERSON_FEATURES, lake_root=lake_root).limit(0)
    features = features.localCheckpoint()
    overwrite_partitions(features, PERSON_FEATURES, lake_root=lake_root, partitions=days)
    return FeaturesRun(days, features.count(), inputs, recomputed)


@dataclass(frozen=True)
class SegmentsRun:
    days: list[date]
    entered: int
    exited: int
    published: int


def kafka_publisher(bootstrap_servers: str) -> Publisher:
    def publish(messages: list[OutgoingMessage]) -> None:
        with EventProducer(bootstrap_servers) as producer:
            producer.send_all(messages)

    return publish


def change_messages(changes: DataFrame, topic: str) -> list[OutgoingMessage]:
    """One message per change, its JSON (the :class:`MembershipChange` contract) keyed by person."""
    ordered = changes.orderBy("day", "segment", "change", "person_id").collect()
    messages = []
    for row in ordered:
        record = MembershipChange.model_validate(row.asDict())
        messages.append(
            OutgoingMessage(topic, record.model_dump_json().encode(), key=change_key(record.person_id))
        )
    return messages


def store_spells(
    spells: DataFrame, changes: DataFrame, *, topic: str, publish: Publisher, lake_root: str
) -> tuple[int, int]:
    """Publish the entries and exits ``changes`` holds, then upsert ``spells`` into the
    membership history (publishing first: a run that fails after it re-sends the same
    ``change_id`` values); how many entered and exited."""
    messages = change_messages(changes, topic)
    if messages:
        publish(messages)
    merge_upsert(
        spells,
        SEGMENT_MEMBERSHIPS,
        lake_root=lake_root,
        keys=["segment", "person_id", "definition_hash", "valid_from"],
    )
    entered = sum(1 for m in messages if json.loads(m.value)["change"] == "entered")
    return entered, len(messages) - entered


def run_segments(
    spark: SparkSession,
    config: SegmentationConfig,
    *,
    lake_root: str,
    topic: str,
    publish: Publisher,
) -> SegmentsRun:
    """Fold the feature days after the newest segment day into memberships, publish the entries
    and exits, then write the spells and the sizes. The predicates are validated first: a bad
    one fails the run (:class:`ConfigError`) before anything is read or written."""
    from pyspark.sql import functions as F

    validate_segments(spark, config.segments)
    for spec in (PERSON_FEATURES, SEGMENT_MEMBERSHIPS, SEGMENT_SIZES):
        ensure_table(spark, spec, lake_root=lake_root)
    done = last_day(spark, SEGMENT_SIZES, "day", lake_root=lake_root)
    features = read_table(spark, PERSON_FEATURES, lake_root=lake_root)
    if done:
        features = features.where(F.col("as_of") > F.lit(done))
    days = sorted(r[0] for r in features.select("as_of").distinct().collect())
    if not days:
        return SegmentsRun([], 0, 0, 0)
    expected = days_between(days[0], days[-1])
    if days != expected or (done and days[0] != done + timedelta(days=1)):
        gaps = sorted(set(expected) - set(days))
        raise DataError(
            f"the feature days to fold into memberships are not consecutive after {done}: "
            f"{days[0]}..{days[-1]} lacks {gaps or [done + timedelta(days=1) if done else days[0]]}; "
            "recompute the missing days of gold.person_features first"
        )
    start, end = days[0], days[-1]
    members = daily_members(features, config.segments).localCheckpoint()
    open_spells = read_table(spark, SEGMENT_MEMBERSHIPS, lake_root=lake_root).where(
        F.col("valid_to").isNull() & ~is_cluster_segment()
    )
    spells = membership_spells(members, open_spells, config.segments, start=start, end=end).localCheckpoint()
    changes = membership_changes(spells, start=start, end=end).localCheckpoint()
    entered, exited = store_spells(spells, changes, topic=topic, publish=publish, lake_root=lake_root)
    sizes = segment_days(members, changes, config.segments, days)
    overwrite_partitions(sizes, SEGMENT_SIZES, lake_root=lake_root, partitions=days)
    return SegmentsRun(days, entered, exited, entered + exited)


@dataclass(frozen=True)
class ClustersRun:
    models: dict[date, str] = field(default_factory=dict)
    """The model version trained for each day."""
    chosen_k: dict[date, int] = field(default_factory=dict)
    skipped: dict[date, str] = field(default_factory=dict)
    """Days with no model, and why (too few distinct people)."""
    entered: int = 0
    exited: int = 0


def stored_model_runs(spark: SparkSession, *, lake_root: str) -> list[ModelRun]:
    """Every recorded model run, oldest first."""
    rows = read_table(spark, MODEL_RUNS, lake_root=lake_root).collect()
    return sorted((ModelRun.model_validate(r.asDict(recursive=True)) for r in rows), key=lambda r: r.as_of)


def run_clusters(
    spark: SparkSession,
    config: SegmentationConfig,
    *,
    lake_root: str,
    topic: str,
    publish: Publisher,
) -> ClustersRun:
    """Train one model per feature day after the newest model run, oldest first, each matched to
    the one before; nothing when ``clustering`` is not configured."""
    from pyspark.sql import functions as F

    clustering = config.clustering
    if clustering is None:
        return ClustersRun()
    for spec in (PERSON_FEATURES, SEGMENT_MEMBERSHIPS, MODEL_RUNS, CLUSTER_PROFILES):
        ensure_table(spark, spec, lake_root=lake_root)
    runs = stored_model_runs(spark, lake_root=lake_root)
    features = read_table(spark, PERSON_FEATURES, lake_root=lake_root)
    if runs:
        features = features.where(F.col("as_of") > F.lit(runs[-1].as_of))
    result = ClustersRun()
    changes = {"entered": 0, "exited": 0}
    for (day,) in sorted(features.select("as_of").distinct().collect()):
        trained = train_day(features.where(F.col("as_of") == F.lit(day)), clustering, day=day, runs=runs)
        if isinstance(trained, str):
            result.skipped[day] = trained
            continue
        run, profiles, members = trained
        for change, count in fold_cluster_day(
            spark, run, members, runs, lake_root=lake_root, topic=topic, publish=publish
        ).items():
            changes[change] += count
        overwrite_partitions(
            spark.createDataFrame([p.model_dump() for p in profiles], CLUSTER_PROFILES.schema),
            CLUSTER_PROFILES,
            lake_root=lake_root,
            partitions=[day],
        )
        overwrite_partitions(
            spark.createDataFrame([run.model_dump()], MODEL_RUNS.schema),
            MODEL_RUNS,
            lake_root=lake_root,
            partitions=[day],
        )
        runs.append(run)
        result.models[day] = run.model_version
        result.chosen_k[day] = run.chosen_k
    return ClustersRun(result.models, result.chosen_k, result.skipped, changes["entered"], changes["exited"])


def train_day(
    features: DataFrame, clustering: ClusteringConfig, *, day: date, runs: list[ModelRun]
) -> tuple[ModelRun, list[ClusterProfile], DataFrame] | str:
    """The model of one day's features with ids matched to the newest of ``runs``, its profiles
    and its members (``daily_members``' columns); or why no model could be trained."""
    import numpy as np
    from pyspark.sql import functions as F

    names = clustering.features
    frame = clustering_frame(features, names).localCheckpoint()
    distinct = frame.select(*names).distinct().count()
    ks = candidate_ks(clustering, distinct)
    if not ks:
        return f"{distinct} distinct feature vectors: too few for k >= {clustering.k_min}"
    scaler = fit_scaler(frame, names)
    vectors = standardised(frame, names, scaler).localCheckpoint()
    trained = train(vectors, ks, seed=clustering.seed, max_iter=clustering.max_iter)
    if trained is None:
        return f"every k of {ks} left a cluster empty"
    assigned = trained.assignments.localCheckpoint()
    stats = {
        int(r["prediction"]): r
        for r in assigned.groupBy("prediction")
        .agg(F.count(F.lit(1)).alias("size"), *[F.mean(n).alias(n) for n in names])
        .collect()
    }
    raw = scaler.unstandardise(trained.centroids)
    sizes = [int(stats[i]["size"]) for i in range(trained.k)]
    previous = runs[-1] if runs and runs[-1].features == names else None
    used = [cluster_id for r in runs for cluster_id in r.centroids]
    ids = match_ids(
        raw, previous.centroids if previous else {}, scaler, sizes=sizes, next_id=max(used, default=0) + 1
    )
    version = model_version(
        clustering, day, trained.k, {ids[i]: list(map(float, raw[i])) for i in range(trained.k)}
    )
    people = sum(sizes)
    profiles = []
    for i in range(trained.k):
        features_of = feature_profiles(names, [float(stats[i][n]) for n in names], scaler)
        profiles.append(
            ClusterProfile(
                as_of=day,
                model_version=version,
                cluster_id=ids[i],
                segment=cluster_segment(ids[i]),
                name=cluster_name(features_of),
                size=sizes[i],
                share=sizes[i] / people,
                feature_means={p.feature: p.mean for p in features_of},
                population_means={p.feature: p.population_mean for p in features_of},
                z_scores={p.feature: p.z_score for p in features_of},
            )
        )
    run = ModelRun(
        model_version=version,
        as_of=day,
        trained_at=datetime.now(tz=UTC),
        features=list(names),
        seed=clustering.seed,
        max_iter=clustering.max_iter,
        k_min=clustering.k_min,
        k_max=clustering.k_max,
        silhouettes=trained.silhouettes,
        chosen_k=trained.k,
        silhouette=trained.silhouettes[trained.k],
        people=people,
        feature_means=scaler.means,
        feature_stddevs=scaler.stddevs,
        centroids={
            ids[i]: [float(v) for v in np.asarray(raw[i])]
            for i in sorted(range(trained.k), key=ids.__getitem__)
        },
        previous_model_version=previous.model_version if previous else None,
    )
    labels = assigned.sparkSession.createDataFrame(
        [
            (i, cluster_segment(ids[i]), cluster_predicate(version, ids[i], profiles[i].name))
            for i in range(trained.k)
        ],
        "prediction int, segment string, predicate string",
    )
    members = assigned.join(labels, "prediction").select(
        F.lit(day).alias("day"),
        "segment",
        "person_id",
        "subject_key",
        F.lit(version).alias("definition_hash"),
        "predicate",
    )
    return run, profiles, members


def fold_cluster_day(
    spark: SparkSession,
    run: ModelRun,
    members: DataFrame,
    runs: list[ModelRun],
    *,
    lake_root: str,
    topic: str,
    publish: Publisher,
) -> dict[str, int]:
    """Fold one model's members into the cluster spells, publish the entries and exits, write.

    A spell records the model version that admitted the person and continues, across retrains,
    while the person stays in the same cluster id on consecutive model days. An open spell ends
    on the day after the previous model's day: ``not_matching`` when its cluster is in the new
    model, ``definition_changed`` when the cluster id was retired."""
    from pyspark.sql import functions as F

    open_spells = (
        read_table(spark, SEGMENT_MEMBERSHIPS, lake_root=lake_root)
        .where(F.col("valid_to").isNull() & is_cluster_segment())
        .localCheckpoint()
    )
    previous_day = runs[-1].as_of if runs else None
    start = previous_day + timedelta(days=1) if previous_day else run.as_of
    if start == run.as_of:
        held = open_spells.select(
            "segment",
            "person_id",
            F.col("definition_hash").alias("open_hash"),
            F.col("predicate").alias("open_predicate"),
        )
        members = members.join(held, ["segment", "person_id"], "left").select(
            "day",
            "segment",
            "person_id",
            "subject_key",
            F.coalesce("open_hash", "definition_hash").alias("definition_hash"),
            F.coalesce("open_predicate", "predicate").alias("predicate"),
        )
    hashes: dict[str, set[str]] = {cluster_segment(i): {run.model_version} for i in run.centroids}
    for row in open_spells.select("segment", "definition_hash").distinct().collect():
        if row["segment"] in hashes:
            hashes[row["segment"]].add(row["definition_hash"])
    spells = fold_spells(members, open_spells, hashes, start=start, end=run.as_of).localCheckpoint()
    changes = membership_changes(spells, start=start, end=run.as_of).localCheckpoint()
    entered, exited = store_spells(spells, changes, topic=topic, publish=publish, lake_root=lake_root)
    return {"entered": entered, "exited": exited}
