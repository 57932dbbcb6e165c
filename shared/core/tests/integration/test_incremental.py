"""Incremental jobs over a real Delta table: a data error in a batch surfaces as itself, a
delete in the source (erasure, retention) does not stop the job, and a change feed leaves out a
retention run's deletes."""

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakehouse_core.errors import JobError, QualityError
from lakehouse_core.incremental import IncrementalSource, run_incrementally

pytestmark = pytest.mark.integration


def _source(spark: SparkSession, lake_root: str) -> IncrementalSource:
    location = f"{lake_root}/silver/demo/rows"
    spark.createDataFrame([(1,), (2,)], "n int").write.format("delta").save(location)
    return IncrementalSource(location=location, checkpoint=f"{lake_root}/_checkpoints/demo/job")


def test_a_data_error_in_a_batch_is_raised_as_itself(spark: SparkSession, lake_root: str) -> None:
    def refuse(batch: DataFrame, batch_id: int) -> None:
        raise QualityError("demo: every row failed rule 'n_is_even'", failures={"n_is_even": 2}, rows=2)

    with pytest.raises(QualityError, match="n_is_even") as raised:
        run_incrementally(spark, _source(spark, lake_root), refuse, name="demo-job")
    assert raised.value.failures == {"n_is_even": 2}
    assert isinstance(raised.value.__cause__, JobError)


def test_any_other_failure_stays_a_job_error(spark: SparkSession, lake_root: str) -> None:
    def crash(batch: DataFrame, batch_id: int) -> None:
        raise OSError("disk full")

    with pytest.raises(JobError, match="demo-job failed"):
        run_incrementally(spark, _source(spark, lake_root), crash, name="demo-job")


def test_rows_deleted_from_the_source_do_not_stop_the_job_or_come_back(
    spark: SparkSession, lake_root: str
) -> None:
    from delta.tables import DeltaTable

    source = _source(spark, lake_root)
    seen: list[int] = []

    def collect(batch: DataFrame, batch_id: int) -> None:
        seen.extend(r.n for r in batch.collect())

    run_incrementally(spark, source, collect, name="demo-job")
    DeltaTable.forPath(spark, source.location).delete("n = 1")
    spark.createDataFrame([(3,)], "n int").write.format("delta").mode("append").save(source.location)

    second = run_incrementally(spark, source, collect, name="demo-job")

    assert sorted(seen) == [1, 2, 3]
    assert second.input_rows == 1


def test_a_change_feed_leaves_out_a_retention_runs_deletes_but_not_other_deletes(
    spark: SparkSession, lake_root: str
) -> None:
    from delta.tables import DeltaTable

    from lakehouse_core.delta import commit_metadata
    from lakehouse_core.incremental import EXPIRY_METADATA

    location = f"{lake_root}/silver/demo/feed"
    spark.createDataFrame([(n,) for n in range(1, 7)], "n int").write.format("delta").option(
        "delta.enableChangeDataFeed", "true"
    ).save(location)
    source = IncrementalSource(
        location=location, checkpoint=f"{lake_root}/_checkpoints/demo/feed", change_feed=True
    )
    seen: list[tuple[int, str]] = []

    def collect(batch: DataFrame, _: int) -> None:
        seen.extend((r["n"], r["_change_type"]) for r in batch.collect())

    run_incrementally(spark, source, collect, name="demo-feed")
    table = DeltaTable.forPath(spark, location)
    with commit_metadata(spark, EXPIRY_METADATA):
        table.delete("n <= 2")
    table.delete("n = 5")
    spark.createDataFrame([(7,)], "n int").write.format("delta").mode("append").save(location)
    seen.clear()

    run_incrementally(spark, source, collect, name="demo-feed")

    assert sorted(seen) == [(5, "delete"), (7, "insert")]
    assert spark.conf.get("spark.databricks.delta.commitInfo.userMetadata", None) is None
