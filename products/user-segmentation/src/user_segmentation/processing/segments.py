"""Rule segments, as transforms: predicates validated against the features schema, the members
of each segment on each day, and those days folded into membership spells (valid_from, valid_to)
with the entries and exits they make and each day's segment sizes.

A spell is a run of consecutive as_of days on which the person matched the segment's predicate,
under one definition (its hash). A run that reaches the last processed day stays open
(``valid_to`` null) and is extended by the next run when the person still matches on its first
day; otherwise it is closed on that day.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, timedelta
from functools import reduce
from typing import TYPE_CHECKING

from lakehouse_core.contracts import conform, spark_schema
from lakehouse_core.errors import ConfigError
from user_segmentation.config import SegmentDefinition
from user_segmentation.contracts import MembershipChange, PersonFeatures, SegmentDay, SegmentMembership

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession


def validate_segments(spark: SparkSession, segments: Mapping[str, SegmentDefinition]) -> None:
    """Refuse a predicate that does not parse, names a column the features do not have, or is
    not boolean, with a :class:`ConfigError` naming the segment, its predicate and the reason
    (all bad segments at once). Spark's own parser and analyser judge, on an empty frame of the
    features schema, so no data is read."""
    from pyspark.errors import AnalysisException, ParseException
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType

    empty = spark.createDataFrame([], spark_schema(PersonFeatures))
    problems = []
    for name, segment in segments.items():
        try:
            field = empty.select(F.expr(segment.predicate).alias("matches")).schema["matches"]
        except ParseException as exc:
            problems.append(f"segment '{name}': {segment.predicate!r} does not parse: {_first_line(exc)}")
            continue
        except AnalysisException as exc:
            problems.append(
                f"segment '{name}': {segment.predicate!r} is not valid over the features: {_first_line(exc)}"
            )
            continue
        if not isinstance(field.dataType, BooleanType):
            problems.append(
                f"segment '{name}': {segment.predicate!r} is {field.dataType.simpleString()}, not a boolean"
            )
    if problems:
        columns = ", ".join(PersonFeatures.model_fields)
        raise ConfigError("; ".join(problems) + f" (the features' columns: {columns})")


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "getMessage", lambda: str(exc))())
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def daily_members(features: DataFrame, segments: Mapping[str, SegmentDefinition]) -> DataFrame:
    """Features (any number of as_of days) → (day, segment, person_id, subject_key,
    definition_hash, predicate): who matched which segment on which day. A null predicate result
    is not a match."""
    from pyspark.sql import functions as F

    def members(name: str, segment: SegmentDefinition) -> DataFrame:
        return features.where(F.coalesce(F.expr(segment.predicate), F.lit(False))).select(
            F.col("as_of").alias("day"),
            F.lit(name).alias("segment"),
            "person_id",
            "subject_key",
            F.lit(segment.definition_hash()).alias("definition_hash"),
            F.lit(segment.predicate).alias("predicate"),
        )

    if not segments:
        return features.sparkSession.createDataFrame(
            [],
            "day date, segment string, person_id string, subject_key string, "
            "definition_hash string, predicate string",
        )
    return reduce(lambda a, b: a.unionByName(b), [members(n, s) for n, s in segments.items()])


def membership_spells(
    members: DataFrame,
    open_spells: DataFrame,
    segments: Mapping[str, SegmentDefinition],
    *,
    start: date,
    end: date,
) -> DataFrame:
    """:func:`fold_spells` for rule segments: a segment's current definition is its predicate's hash."""
    current = {name: (s.definition_hash(),) for name, s in segments.items()}
    return fold_spells(members, open_spells, current, start=start, end=end)


def fold_spells(
    members: DataFrame,
    open_spells: DataFrame,
    current: Mapping[str, Collection[str]],
    *,
    start: date,
    end: date,
) -> DataFrame:
    """The :class:`SegmentMembership` rows that change when the days ``start..end`` (every day
    present in the features, consecutive) are added: spells opened on those days, spells closed
    on them, and open spells extended through ``end`` (unchanged, so rewriting them is a no-op).

    ``open_spells`` are the spells open before ``start`` (``valid_to`` null). One continues when
    the person matches the same definition on ``start``; else it is closed on ``start`` with
    ``not_matching`` when its definition hash is among ``current``'s for its segment, else
    ``definition_changed`` (the definition changed, or the segment is gone). A spell of this run
    closes on the first day after its last matching day, when that is not after ``end``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    keys = ["segment", "person_id", "definition_hash"]
    ordered = Window.partitionBy(*keys).orderBy("day")
    islands = (
        members.withColumn("island", F.date_sub(F.col("day"), F.row_number().over(ordered).cast("int")))
        .groupBy(*keys, "island")
        .agg(
            F.min("day").alias("first_day"),
            F.max("day").alias("last_day"),
            F.min_by("subject_key", "day").alias("subject_key"),
            F.first("predicate").alias("predicate"),
        )
    )
    previous = open_spells.select(
        *keys,
        F.col("valid_from").alias("open_from"),
        F.col("subject_key").alias("open_subject_key"),
        F.col("predicate").alias("open_predicate"),
    )
    # Only the island starting on ``start`` can continue an open spell.
    continuing = previous.withColumn("first_day", F.lit(start))
    attached = islands.join(continuing, [*keys, "first_day"], "left")
    closing = F.when(F.col("last_day") < F.lit(end), F.date_add(F.col("last_day"), 1))
    run_spells = attached.select(
        *keys,
        F.coalesce("open_subject_key", "subject_key").alias("subject_key"),
        F.coalesce("open_from", "first_day").alias("valid_from"),
        closing.alias("valid_to"),
        F.coalesce("open_predicate", "predicate").alias("predicate"),
        F.when(closing.isNotNull(), F.lit("not_matching")).alias("exit_reason"),
    )
    continued = attached.where(F.col("open_from").isNotNull()).select(*keys)
    is_current = _is_current(current)
    ended = previous.join(continued, keys, "left_anti").select(
        *keys,
        F.col("open_subject_key").alias("subject_key"),
        F.col("open_from").alias("valid_from"),
        F.lit(start).alias("valid_to"),
        F.col("open_predicate").alias("predicate"),
        F.when(is_current, F.lit("not_matching")).otherwise(F.lit("definition_changed")).alias("exit_reason"),
    )
    return conform(run_spells.unionByName(ended), SegmentMembership)


def _is_current(current: Mapping[str, Collection[str]]) -> Column:
    from pyspark.sql import functions as F

    if not current:
        return F.lit(False)
    pairs = [
        (F.col("segment") == name) & F.col("definition_hash").isin(list(hashes))
        for name, hashes in current.items()
    ]
    return reduce(lambda a, b: a | b, pairs)


def membership_changes(spells: DataFrame, *, start: date, end: date) -> DataFrame:
    """The :class:`MembershipChange` records of ``spells`` (from :func:`membership_spells`):
    an entry for each spell that began within ``start..end``, an exit for each that ended then."""
    from pyspark.sql import functions as F

    def changes(change: str, day: Column, within: Column) -> DataFrame:
        return spells.where(within).select(
            "segment",
            "person_id",
            "subject_key",
            F.lit(change).alias("change"),
            day.alias("day"),
            "valid_from",
            "definition_hash",
            (F.col("exit_reason") if change == "exited" else F.lit(None).cast("string")).alias("reason"),
        )

    entered = changes("entered", F.col("valid_from"), F.col("valid_from").between(F.lit(start), F.lit(end)))
    exited = changes(
        "exited",
        F.col("valid_to"),
        F.col("valid_to").isNotNull() & F.col("valid_to").between(F.lit(start), F.lit(end)),
    )
    both = entered.unionByName(exited)
    change_id = F.substring(
        F.sha2(
            F.concat_ws(
                "|", "segment", "person_id", "change", F.col("day").cast("string"), "definition_hash"
            ),
            256,
        ),
        1,
        32,
    )
    return conform(both.withColumn("change_id", change_id), MembershipChange)


def segment_days(
    members: DataFrame,
    changes: DataFrame,
    segments: Mapping[str, SegmentDefinition],
    days: Sequence[date],
) -> DataFrame:
    """:class:`SegmentDay` rows: every configured segment on every day of ``days``, with its
    members that day and the entries and exits of the day (zeros when none)."""
    from pyspark.sql import functions as F

    spark = members.sparkSession
    grid = spark.createDataFrame(
        [(d, name, s.definition_hash()) for d in days for name, s in segments.items()],
        "day date, segment string, definition_hash string",
    )
    sizes = members.groupBy("day", "segment").agg(F.count(F.lit(1)).alias("members"))
    moves = changes.groupBy("day", "segment").agg(
        F.count(F.when(F.col("change") == "entered", True)).alias("entered"),
        F.count(F.when(F.col("change") == "exited", True)).alias("exited"),
    )
    joined = grid.join(sizes, ["day", "segment"], "left").join(moves, ["day", "segment"], "left")
    return conform(joined.fillna(0, subset=["members", "entered", "exited"]), SegmentDay)


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def change_key(person_id: str) -> bytes:
    """The Kafka key of a person's changes: their person_id, so one person's changes keep order."""
    return person_id.encode()
