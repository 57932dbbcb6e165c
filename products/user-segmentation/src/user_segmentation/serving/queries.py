"""The queries behind the API, on Arrow tables read through delta-rs (no JVM).

A person is a member of a segment on day ``D`` when a spell has ``valid_from <= D`` and
``valid_to`` null or after ``D`` (``valid_to`` is the exit day, the first day not a member).
"""

from __future__ import annotations

from datetime import date
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from lakehouse_core.delta_reader import DeltaReader
from lakehouse_core.serving.arrow import SortOrder, between, to_models
from lakehouse_core.serving.params import DateRange
from lakehouse_core.serving.tables import ServedTable
from user_segmentation.config import SegmentDefinition
from user_segmentation.contracts import (
    ClusterProfile,
    ModelRun,
    PersonFeatures,
    SegmentDay,
    SegmentMembership,
)
from user_segmentation.serving.models import ClusterModel, ClusterSummary, SegmentMember, SegmentSummary

ModelT = TypeVar("ModelT", bound=BaseModel)


def _with_maps(table: pa.Table, model: type[ModelT], order: SortOrder) -> list[ModelT]:
    """:func:`to_models` for a contract with ``dict`` fields: Arrow maps become dicts."""
    rows = table.sort_by(list(order)).to_pylist(maps_as_pydicts="strict")
    return [model.model_validate(row) for row in rows]


def _held_on(day: date) -> pc.Expression:
    return (pc.field("valid_from") <= day) & (pc.field("valid_to").is_null() | (pc.field("valid_to") > day))


def segments(table: ServedTable, definitions: dict[str, SegmentDefinition]) -> list[SegmentSummary]:
    """Every configured segment with its size on the newest day of ``gold.segment_sizes``."""

    def compute(reader: DeltaReader) -> list[SegmentSummary]:
        rows = reader.read(columns=["day", "segment", "members"]).to_pylist()
        newest: dict[str, tuple[date, int]] = {}
        for row in rows:
            seen = newest.get(row["segment"])
            if seen is None or row["day"] > seen[0]:
                newest[row["segment"]] = (row["day"], row["members"])
        return [
            SegmentSummary(
                name=name,
                description=segment.description,
                predicate=segment.predicate,
                definition_hash=segment.definition_hash(),
                day=newest[name][0] if name in newest else None,
                members=newest[name][1] if name in newest else 0,
            )
            for name, segment in sorted(definitions.items())
        ]

    return table.query(("segments", tuple(sorted((n, s.predicate) for n, s in definitions.items()))), compute)


def members(table: ServedTable, segment: str, day: date) -> list[SegmentMember]:
    """The members of ``segment`` on ``day``, by person_id."""

    def compute(reader: DeltaReader) -> list[SegmentMember]:
        found = reader.read(filter=(pc.field("segment") == segment) & _held_on(day))
        return to_models(found, SegmentMember, [("person_id", "ascending")])

    return table.query(("members", segment, day), compute)


def person_segments(table: ServedTable, person_id: str, day: date | None) -> list[SegmentMembership]:
    """A person's spells (those held on ``day`` when given), newest first."""

    def compute(reader: DeltaReader) -> list[SegmentMembership]:
        condition = pc.field("person_id") == person_id
        if day is not None:
            condition = condition & _held_on(day)
        found = reader.read(filter=condition)
        return to_models(found, SegmentMembership, [("valid_from", "descending"), ("segment", "ascending")])

    return table.query(("person_segments", person_id, day), compute)


def segment_sizes(table: ServedTable, segment: str, dates: DateRange) -> list[SegmentDay]:
    """The segment's size, entries and exits per day of the range, oldest first."""

    def compute(reader: DeltaReader) -> list[SegmentDay]:
        found = reader.read(filter=(pc.field("segment") == segment) & between("day", dates.start, dates.end))
        return to_models(found, SegmentDay, [("day", "ascending")])

    return table.query(("sizes", segment, dates), compute)


def person_features(table: ServedTable, person_id: str, day: date | None) -> PersonFeatures | None:
    """The person's features on ``day`` (default: the newest day computed); None when absent."""

    def compute(reader: DeltaReader) -> PersonFeatures | None:
        condition = pc.field("person_id") == person_id
        if day is not None:
            condition = condition & (pc.field("as_of") == day)
        found = to_models(reader.read(filter=condition), PersonFeatures, [("as_of", "descending")])
        return found[0] if found else None

    return table.query(("features", person_id, day), compute)


def model_runs(table: ServedTable) -> list[ModelRun]:
    """Every model run, newest first."""

    def compute(reader: DeltaReader) -> list[ModelRun]:
        return _with_maps(reader.read(), ModelRun, [("as_of", "descending")])

    return table.query(("model_runs",), compute)


def cluster_model(runs: ServedTable, profiles: ServedTable, version: str | None) -> ClusterModel | None:
    """The clusters of model ``version`` (default: the newest); None when there is no such model."""
    known = model_runs(runs)
    run = next((r for r in known if version in (None, r.model_version)), None)
    if run is None:
        return None

    def compute(reader: DeltaReader) -> list[ClusterProfile]:
        found = reader.read(
            filter=(pc.field("as_of") == run.as_of) & (pc.field("model_version") == run.model_version)
        )
        return _with_maps(found, ClusterProfile, [("cluster_id", "ascending")])

    clusters = profiles.query(("profiles", run.model_version), compute)
    return ClusterModel(
        model_version=run.model_version,
        as_of=run.as_of,
        chosen_k=run.chosen_k,
        silhouette=run.silhouette,
        people=run.people,
        clusters=[
            ClusterSummary(
                cluster_id=c.cluster_id,
                segment=c.segment,
                name=c.name,
                size=c.size,
                share=c.share,
                features=c.feature_profiles(),
            )
            for c in clusters
        ],
    )
