"""Two writers on one Delta table: nothing is lost, duplicated or corrupted, and a lost commit
race is retried rather than failing the job.

Delta's optimistic concurrency decides who conflicts with whom: a blind append (the bronze
stream) never conflicts with OPTIMIZE, while a MERGE that read files which a concurrent commit
removed (OPTIMIZE) or added to (another MERGE) loses and must retry on a fresh snapshot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse_core.delta import Compaction, append, compact, merge_insert_new, read_table, table_history
from lakehouse_core.delta_reader import open_table, read_arrow
from lakehouse_core.ingestion.bronze import bronze_table, product_bronze, start_bronze_stream
from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_core.kafka.producer import EventProducer, OutgoingMessage
from lakehouse_core.tables import Layer, TableSpec
from lakehouse_testing.plugin import KafkaFixture

pytestmark = [pytest.mark.fault, pytest.mark.integration]

CONFLICT_LOG = "delta write conflict, retrying"

SCHEMA = T.StructType(
    [
        T.StructField("day", T.StringType(), False),
        T.StructField("page", T.StringType(), False),
        T.StructField("views", T.LongType(), False),
    ]
)
PAGES = TableSpec(name="pages", layer=Layer.SILVER, product="fault", schema=SCHEMA, partition_by=("day",))
DAY = "2026-03-02"
IN_DAY = f"t.day = '{DAY}'"


def conflict_retries(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "lakehouse_core.delta" and r.getMessage() == CONFLICT_LOG]


def held_until_released(frame: DataFrame, gate: Path) -> DataFrame:
    """``frame`` with ``page`` passed through a UDF that, the first time it runs, marks
    ``gate/entered`` and blocks until ``gate/released`` exists; later runs pass straight on.

    A MERGE with this source has started its transaction (its snapshot is fixed) when the
    UDF blocks, so whatever commits meanwhile is a concurrent commit it must reconcile with.
    """
    entered, released = gate / "entered", gate / "released"

    def hold(value: str) -> str:
        import time

        if not released.exists():
            entered.touch()
            deadline = time.monotonic() + 120
            while not released.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        return value

    # One row, one partition: a single blocked task leaves the other core to the winner.
    return frame.coalesce(1).withColumn("page", F.udf(hold, T.StringType(), useArrow=False)("page"))


def wait_for(path: Path, *, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def rows(spark: SparkSession, lake_root: str) -> list[tuple[str, str, int]]:
    return sorted((r.day, r.page, r.views) for r in read_table(spark, PAGES, lake_root=lake_root).collect())


def rows_in_delta_rs(lake_root: str) -> list[tuple[str, str, int]]:
    table = read_arrow(PAGES.location(lake_root))
    return sorted(
        zip(table["day"].to_pylist(), table["page"].to_pylist(), table["views"].to_pylist(), strict=True)
    )


def _compact_the_day(spark: SparkSession, lake_root: str) -> None:
    done = compact(spark, PAGES, lake_root=lake_root, where=f"day = '{DAY}'")
    assert done.files_removed == 3


def _insert_another_page(spark: SparkSession, lake_root: str) -> None:
    frame = spark.createDataFrame([(DAY, "/winner", 7)], SCHEMA)
    merge_insert_new(frame, PAGES, lake_root=lake_root, keys=["day", "page"], target_predicate=IN_DAY)


@pytest.mark.parametrize(
    ("winner", "winning_operation"),
    [(_compact_the_day, "OPTIMIZE"), (_insert_another_page, "MERGE")],
    ids=["compaction-rewrites-the-partition-a-merge-read", "merge-adds-to-the-partition-a-merge-read"],
)
def test_a_merge_that_loses_the_commit_race_is_retried_and_succeeds(
    spark: SparkSession,
    lake_root: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    winner: Callable[[SparkSession, str], None],
    winning_operation: str,
) -> None:
    """A MERGE (insert-if-new) is held mid-transaction while another writer commits to the
    partition it read: Delta raises ``ConcurrentAppendException`` at its commit every time (for
    OPTIMIZE too: it added files where the MERGE read), and ``with_conflict_retry`` reruns the
    MERGE on the new snapshot, so both writes land, once."""
    caplog.set_level(logging.WARNING, logger="lakehouse_core.delta")
    existing = [(DAY, f"/p{i}", i) for i in range(3)]
    for row in existing:  # three small files: something for OPTIMIZE to bin-pack
        append(spark.createDataFrame([row], SCHEMA), PAGES, lake_root=lake_root)
    loser_source = held_until_released(spark.createDataFrame([(DAY, "/loser", 1)], SCHEMA), tmp_path)

    with ThreadPoolExecutor(1) as pool:
        loser = pool.submit(
            merge_insert_new,
            loser_source,
            PAGES,
            lake_root=lake_root,
            keys=["day", "page"],
            target_predicate=IN_DAY,
        )
        wait_for(tmp_path / "entered")
        try:
            winner(spark, lake_root)
        finally:
            (tmp_path / "released").touch()
        loser.result(timeout=300)

    retries = conflict_retries(caplog)
    assert [(r.attempt, r.error) for r in retries] == [(1, "ConcurrentAppendException")]  # type: ignore[attr-defined]
    operations = [h["operation"] for h in table_history(spark, PAGES, lake_root=lake_root, limit=2)]
    assert operations == ["MERGE", winning_operation]
    expected = sorted(
        [*existing, (DAY, "/loser", 1), *([(DAY, "/winner", 7)] if winning_operation == "MERGE" else [])]
    )
    assert rows(spark, lake_root) == expected
    assert rows_in_delta_rs(lake_root) == expected


def ready_to_compact(location: str, *, sent: int) -> bool | None:
    """Whether the table at ``location`` can be compacted between two micro-batches: its newest
    commit is the stream's and it holds at least two files (on one file per partition OPTIMIZE
    has nothing to do and commits nothing). ``None`` when it is not and every one of the
    ``sent`` records is already in it, so nothing will change until more are sent."""
    if not (Path(location) / "_delta_log").is_dir():
        return False
    table = open_table(location)
    if table.history(limit=1)[0]["operation"] == "STREAMING UPDATE" and len(table.file_uris()) >= 2:
        return True
    return None if table.to_pyarrow_dataset().count_rows() == sent else False


def test_compaction_runs_again_and_again_while_the_bronze_stream_appends(
    spark: SparkSession,
    kafka_broker: KafkaFixture,
    lake_root: str,
    unique_topic: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The Kafka → bronze stream keeps committing micro-batches while OPTIMIZE rewrites the
    same table between them: every produced record is in bronze exactly once (no offset twice),
    and both Spark and delta-rs read the result. A blind append cannot conflict with OPTIMIZE,
    so neither writer needs a retry."""
    caplog.set_level(logging.WARNING, logger="lakehouse_core.delta")
    bootstrap = kafka_broker.bootstrap_servers
    ensure_topics(bootstrap, [TopicSpec(unique_topic, partitions=3)])
    bronze = bronze_table("fault")
    job = product_bronze(
        "fault", topic=unique_topic, table=bronze, bootstrap_servers=bootstrap, lake_root=lake_root
    )
    per_wave, rounds = 60, 3
    produced: set[int] = set()
    compactions: list[Compaction] = []

    def send_wave(producer: EventProducer) -> None:
        numbers = range(len(produced), len(produced) + per_wave)
        producer.send_all(
            OutgoingMessage(unique_topic, orjson.dumps({"n": n}), key=str(n).encode()) for n in numbers
        )
        produced.update(numbers)

    def wait_until_ready_to_compact(producer: EventProducer, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while (ready := ready_to_compact(bronze.location(lake_root), sent=len(produced))) is not True:
            assert time.monotonic() < deadline, f"the bronze stream gave nothing to compact in {timeout_s} s"
            if ready is None:
                send_wave(producer)
            time.sleep(0.1)

    query = start_bronze_stream(spark, job, continuous=True, trigger_seconds=0.5)
    try:
        with EventProducer(bootstrap) as producer:
            send_wave(producer)
            for _ in range(rounds):
                wait_until_ready_to_compact(producer)
                send_wave(producer)  # its micro-batch overlaps the compaction
                compactions.append(compact(spark, bronze, lake_root=lake_root))
        query.processAllAvailable()
        compactions.append(compact(spark, bronze, lake_root=lake_root))
        assert query.exception() is None
    finally:
        query.stop()

    frame = read_table(spark, bronze, lake_root=lake_root)
    assert frame.count() == len(produced)
    assert frame.select("partition", "offset").distinct().count() == len(produced)
    arrow = read_arrow(bronze.location(lake_root), columns=["value", "partition", "offset"])
    assert sorted(orjson.loads(v)["n"] for v in arrow["value"].to_pylist()) == sorted(produced)
    assert len(set(zip(arrow["partition"].to_pylist(), arrow["offset"].to_pylist(), strict=True))) == len(
        produced
    )

    history = sorted(table_history(spark, bronze, lake_root=lake_root), key=lambda h: h["version"])
    kinds = [h["operation"] for h in history]
    first_optimize, last_optimize = kinds.index("OPTIMIZE"), len(kinds) - 1 - kinds[::-1].index("OPTIMIZE")
    assert "STREAMING UPDATE" in kinds[first_optimize:last_optimize], kinds  # the writers interleaved
    assert sum(c.files_removed for c in compactions) > sum(c.files_added for c in compactions) > 0
    assert conflict_retries(caplog) == []
