"""The bronze table an API source writes with delta-rs is an ordinary Delta table for Spark:
Spark reads it and writes to it with the core's helpers, and delta-rs lands after Spark's commit."""

import pytest
from pyspark.sql import SparkSession

from lakehouse_core.delta import ensure_table, merge_insert_new, read_table
from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.sources.http_api import ApiAuth, HttpApiSource, Pagination, RetryPolicy
from lakehouse_core.sources.landing import (
    HttpSourceLanding,
    api_bronze_table,
    api_quarantine_table,
    land,
)
from lakehouse_testing.payments_api import TOKEN, PaymentsState, payments_api

pytestmark = pytest.mark.integration


def test_spark_reads_and_merges_into_the_bronze_that_delta_rs_writes(
    spark: SparkSession, lake_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYMENTS_API_TOKEN", TOKEN)
    state = PaymentsState()
    state.add(30)
    bronze = api_bronze_table("shop", "payments")
    with payments_api(state) as base_url:
        landing = HttpSourceLanding(
            source=HttpApiSource(
                name="payments",
                base_url=base_url,
                path="/v1/payments",
                pagination=Pagination.CURSOR,
                page_size=10,
                auth=ApiAuth(env="PAYMENTS_API_TOKEN"),
                retry=RetryPolicy(backoff_seconds=0.01),
            ),
            bronze=bronze,
            quarantine=api_quarantine_table("shop", "payments"),
            lake_root=lake_root,
            product="shop",
            subject_key=b"test-subject-key",
        )
        land(landing)

        ensure_table(spark, bronze, lake_root=lake_root)
        rows = read_table(spark, bronze, lake_root=lake_root)
        assert rows.count() == 30
        keys = ["source", "record_id", "updated_at"]
        merge_insert_new(rows.limit(5), bronze, lake_root=lake_root, keys=keys)

        state.update("pay_00001", status="refunded")
        assert land(landing).landed == 1
    assert read_arrow(bronze.location(lake_root)).num_rows == 31
