"""The edges of the product's processing: read (other products' tables through the catalog,
this product's own), call the pure transforms, write, publish.

- :func:`run_identity`: every identity link of web and mobile → ``silver.identity_edges`` (with
  the over-merge guard's verdict) and ``silver.person_nodes`` (the persons, rewritten whole). The
  graph is recomputed from all links up to ``as_of`` on each run (a full read: components can
  merge or split anywhere);
- :func:`run_features`: ``gold.person_features`` for each UTC day after the last one computed,
  up to ``as_of`` (partition overwrite, so a re-run of a day replaces it);
- :func:`run_segments`: the feature days not folded into memberships yet → spells in
  ``gold.segment_memberships``, sizes in ``gold.segment_sizes``, and every entry and exit
  published to ``segments.membership.v1`` before the tables are written (at least once: a run
  that fails after publishing re-sends the same ``change_id`` values).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import reduce
from typing import TYPE_CHECKING

from lakehouse_core.delta import ensure_table, merge_upsert, overwrite_partitions, read_table
from lakehouse_core.errors import DataError
from lakehouse_core.kafka.producer import EventProducer, OutgoingMessage
from lakehouse_platform.catalog import Catalog, CatalogError
from user_segmentation.config import SegmentationConfig
from user_segmentation.contracts import MembershipChange
from user_segmentation.processing.features import attribute, normalised_events, person_features
from user_segmentation.processing.identity import (
    edge_nodes,
    event_nodes,
    guard_over_merge,
    link_edges,
    person_nodes,
)
from user_segmentation.processing.segments import (
    change_key,
    daily_members,
    days_between,
    membership_changes,
    membership_spells,
    segment_days,
    validate_segments,
)
from user_segmentation.storage.tables import (
    IDENTITY_EDGES,
    PERSON_FEATURES,
    PERSON_NODES,
    SEGMENT_MEMBERSHIPS,
    SEGMENT_SIZES,
    SOURCES,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse_core.tables import TableSpec

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
    inputs: Inputs


def run_identity(
    spark: SparkSession, config: SegmentationConfig, catalog: Catalog, *, lake_root: str, as_of: date
) -> IdentityRun:
    """Rebuild the identity graph from every identity link and event id of web and mobile up to
    the end of ``as_of``: a run for a past day sees the graph as it was then."""
    from pyspark.sql import functions as F

    inputs = read_inputs(spark, catalog, [n for s in SOURCES for n in (s.identity_links, s.events)])
    until = {name: frame.where(F.col("event_date") <= F.lit(as_of)) for name, frame in inputs.frames.items()}
    for spec in (IDENTITY_EDGES, PERSON_NODES):
        ensure_table(spark, spec, lake_root=lake_root)
    link_frames = [
        link_edges(until[s.identity_links], product=s.product) for s in SOURCES if s.identity_links in until
    ]
    empty_edges = read_table(spark, IDENTITY_EDGES, lake_root=lake_root).limit(0)
    edges = (
        guard_over_merge(reduce(lambda a, b: a.unionByName(b), link_frames), config.identity.merge_limits)
        if link_frames
        else empty_edges
    ).localCheckpoint()
    stored = read_table(spark, IDENTITY_EDGES, lake_root=lake_root).select("event_date")
    days = sorted(r[0] for r in stored.union(edges.select("event_date")).distinct().collect())
    overwrite_partitions(edges, IDENTITY_EDGES, lake_root=lake_root, partitions=days)

    nodes = [edge_nodes(edges)] + [event_nodes(until[s.events], s) for s in SOURCES if s.events in until]
    persons = person_nodes(nodes, edges).localCheckpoint()
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
        inputs=inputs,
    )


@dataclass(frozen=True)
class FeaturesRun:
    days: list[date]
    rows: int
    inputs: Inputs


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
    empty table from ``first_day`` (default ``as_of``). A day already computed is not redone."""
    ensure_table(spark, PERSON_FEATURES, lake_root=lake_root)
    ensure_table(spark, PERSON_NODES, lake_root=lake_root)
    newest = last_day(spark, PERSON_FEATURES, "as_of", lake_root=lake_root)
    start = newest + timedelta(days=1) if newest else (first_day or as_of)
    days = days_between(start, as_of)
    inputs = read_inputs(spark, catalog, [s.events for s in SOURCES])
    if not days:
        return FeaturesRun([], 0, inputs)
    events = [
        normalised_events(inputs.frames[s.events], s, order_event=config.features.order_event)
        for s in SOURCES
        if s.events in inputs.frames
    ]
    nodes = read_table(spark, PERSON_NODES, lake_root=lake_root)
    if events:
        attributed = attribute(reduce(lambda a, b: a.unionByName(b), events), nodes).localCheckpoint()
        features = reduce(lambda a, b: a.unionByName(b), [person_features(attributed, as_of=d) for d in days])
    else:
        features = read_table(spark, PERSON_FEATURES, lake_root=lake_root).limit(0)
    features = features.localCheckpoint()
    overwrite_partitions(features, PERSON_FEATURES, lake_root=lake_root, partitions=days)
    return FeaturesRun(days, features.count(), inputs)


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
        F.col("valid_to").isNull()
    )
    spells = membership_spells(members, open_spells, config.segments, start=start, end=end).localCheckpoint()
    changes = membership_changes(spells, start=start, end=end).localCheckpoint()
    messages = change_messages(changes, topic)
    if messages:
        publish(messages)
    merge_upsert(
        spells,
        SEGMENT_MEMBERSHIPS,
        lake_root=lake_root,
        keys=["segment", "person_id", "definition_hash", "valid_from"],
    )
    sizes = segment_days(members, changes, config.segments, days)
    overwrite_partitions(sizes, SEGMENT_SIZES, lake_root=lake_root, partitions=days)
    entered = sum(1 for m in messages if json.loads(m.value)["change"] == "entered")
    return SegmentsRun(days, entered, len(messages) - entered, len(messages))
