"""Bronze → silver → gold against a floor job, how time grows with data, and what an
incremental run saves.

- Floor: on the same warm session, a job that reads the same bronze rows, parses them with the
  contract schema (``from_json`` with the Segment message schema) and appends them to one Delta
  table. Silver + gold of a full run is reported as a multiple of it.
- Scaling: ``BENCH_SCALES`` (default 1x, 10x and 40x), where 1x is one generated day of
  ``BENCH_BASE_SIZE`` visitors or devices (default a twentieth of the product's default size) and
  kx is k such days (a daily pipeline grows by days). Each scale gets its own topic and lake;
  bronze, silver and gold are timed separately on one warm Spark session, with the Spark jobs
  and Delta commits each layer ran. Growth is the largest scale's silver + gold time over the
  one before it.
- Full vs incremental: after the largest run, 1 % more events arrive (the next day's first
  traffic); the incremental run's silver + gold time is compared with the full run's.

Usage: ``python tests/performance/bench_refinement.py [web-user-analytics|mobile-user-analytics]``.
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
from harness import (
    PRODUCTS,
    BenchProduct,
    measured,
    produce_generated_days,
    spark_pid,
    warm_up,
    work_dir,
    write_result,
)

from lakehouse_core.delta import read_table
from lakehouse_core.ingestion.bronze import run_bronze_ingestion
from lakehouse_core.kafka.admin import ensure_topics
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.spark import build_spark_session
from lakehouse_events.product import bronze_job, run_gold, run_silver, topic_specs
from lakehouse_events.segment_parsing import MESSAGE_SCHEMA
from lakehouse_testing.plugin import running_broker

FIRST_DAY = date(2026, 3, 2)
SCALES = tuple(int(s) for s in os.environ.get("BENCH_SCALES", "1,10,40").split(","))
INCREMENT = 0.01


@dataclass
class SparkWork:
    """Spark jobs and Delta commits a block ran."""

    jobs: int = 0
    commits: int = 0


def _next_job_id(spark: Any) -> int:
    """The id the JVM's scheduler gives the next job: jobs started so far, on every thread."""
    return int(spark.sparkContext._jsc.sc().dagScheduler().numTotalJobs())


def _commits(lake_root: str) -> int:
    """Delta commits of every table under ``lake_root`` (its log's JSON files)."""
    return sum(1 for _ in Path(lake_root).glob("**/_delta_log/*.json"))


@contextmanager
def spark_work(spark: Any, lake_root: str) -> Iterator[SparkWork]:
    work = SparkWork()
    jobs, commits = _next_job_id(spark), _commits(lake_root)
    yield work
    work.jobs = _next_job_id(spark) - jobs
    work.commits = _commits(lake_root) - commits


def refine(spark: Any, bench: BenchProduct, config: Any, bootstrap: str, lake_root: str) -> dict[str, Any]:
    """Bronze, silver and gold once each, timed, with the Spark JVM's CPU share, the Spark jobs
    and the Delta commits of each."""
    processes = {"spark": spark_pid(spark)}
    job = bronze_job(bench.product, config, bootstrap_servers=bootstrap, lake_root=lake_root)
    with measured(processes) as bronze, spark_work(spark, lake_root) as bronze_work:
        rows = run_bronze_ingestion(spark, job)
    with measured(processes) as silver, spark_work(spark, lake_root) as silver_work:
        silver_run = run_silver(bench.product, spark, config, lake_root=lake_root)
    with measured(processes) as gold, spark_work(spark, lake_root) as gold_work:
        gold_run = run_gold(bench.product, spark, config, lake_root=lake_root)
    return {
        "bronze_rows": rows,
        "bronze_seconds": bronze.seconds,
        "silver_input_rows": silver_run.input_rows,
        "silver_seconds": silver.seconds,
        "gold_input_rows": gold_run.input_rows,
        "gold_seconds": gold.seconds,
        "silver_and_gold_seconds": silver.seconds + gold.seconds,
        "spark_jobs": {"bronze": bronze_work.jobs, "silver": silver_work.jobs, "gold": gold_work.jobs},
        "delta_commits": {
            "bronze": bronze_work.commits,
            "silver": silver_work.commits,
            "gold": gold_work.commits,
        },
        "spark_cpu_share": {
            "bronze": bronze.cpu_share["spark"],
            "silver": silver.cpu_share["spark"],
            "gold": gold.cpu_share["spark"],
        },
    }


def floor(spark: Any, bench: BenchProduct, config: Any, lake_root: str) -> dict[str, Any]:
    """The floor job on the lake's bronze rows: read them, parse them with the contract schema
    and append them to one Delta table."""
    from pyspark.sql import functions as F

    bronze_spec = bench.product.build_refinement(config).bronze
    target = str(Path(lake_root) / "floor" / "parsed")
    with measured({"spark": spark_pid(spark)}) as timing, spark_work(spark, lake_root) as work:
        (
            read_table(spark, bronze_spec, lake_root=lake_root)
            .select("topic", "partition", "offset", F.from_json("value", MESSAGE_SCHEMA).alias("message"))
            .write.format("delta")
            .mode("append")
            .save(target)
        )
    return {"seconds": timing.seconds, "spark_jobs": work.jobs, "spark_cpu_share": timing.cpu_share["spark"]}


def main(bench: BenchProduct) -> None:
    base = int(os.environ.get("BENCH_BASE_SIZE", str(bench.product.default_size // 20)))
    work = work_dir(f"refinement-{bench.name}")
    scaling: dict[str, Any] = {}
    sizes: dict[str, int] = {}
    event_bytes: list[int] = []
    largest = f"{SCALES[-1]}x"
    with running_broker(work / "kafka") as broker:
        bootstrap = broker.config.bootstrap_servers
        os.environ.update(bench.environment(bootstrap=bootstrap, work=work))
        spark = build_spark_session(f"bench-refinement-{bench.name}", settings=LakehouseSettings())
        warm_up(spark, bench, bench.product.load_config(), bootstrap=bootstrap, work=work)
        for scale in SCALES:
            os.environ[f"{bench.env_prefix}TOPICS__EVENTS__NAME"] = f"bench.events.{scale}x"
            config = bench.product.load_config()
            ensure_topics(bootstrap, topic_specs(config.topics))
            days = [FIRST_DAY + timedelta(days=d) for d in range(scale)]
            messages = produce_generated_days(
                bench, bootstrap=bootstrap, topic=config.topics["events"].name, days=days, size=base, seed=7
            )
            sizes[f"{scale}x"] = len(messages)
            event_bytes.extend(len(orjson.dumps(m)) for m in messages[:2000])
            lake_root = str(work / f"lake-{scale}x")
            scaling[f"{scale}x"] = refine(spark, bench, config, bootstrap, lake_root)

        full = scaling[largest]
        lake_root = str(work / f"lake-{largest}")
        floor_run = floor(spark, bench, config, lake_root)
        next_day = FIRST_DAY + timedelta(days=SCALES[-1])
        increment = produce_generated_days(
            bench,
            bootstrap=bootstrap,
            topic=config.topics["events"].name,
            days=[next_day],
            size=max(1, round(base * SCALES[-1] * INCREMENT)),
            seed=101,
        )
        incremental = refine(spark, bench, config, bootstrap, lake_root)
        spark.stop()

    one = scaling[f"{SCALES[0]}x"]["silver_and_gold_seconds"]
    figures: dict[str, Any] = {
        "scaling": scaling,
        "silver_and_gold_time_relative_to_1x": {
            name: run["silver_and_gold_seconds"] / one for name, run in scaling.items()
        },
        "floor": {
            "events": sizes[largest],
            "floor": floor_run,
            "silver_and_gold_seconds": full["silver_and_gold_seconds"],
            "silver_and_gold_to_floor_ratio": full["silver_and_gold_seconds"] / floor_run["seconds"],
        },
        "full_vs_incremental": {
            "full_events": sizes[largest],
            "new_events": len(increment),
            "full": full,
            "incremental": incremental,
            "incremental_to_full_ratio": incremental["silver_and_gold_seconds"]
            / full["silver_and_gold_seconds"],
        },
    }
    if len(SCALES) >= 2:
        smaller, larger = f"{SCALES[-2]}x", largest
        figures["growth"] = {
            "from": smaller,
            "to": larger,
            "data_factor": sizes[larger] / sizes[smaller],
            "time_factor": scaling[larger]["silver_and_gold_seconds"]
            / scaling[smaller]["silver_and_gold_seconds"],
        }
    write_result(
        f"refinement_{bench.name}",
        figures,
        data={
            "product": bench.name,
            "base_size": base,
            "events_per_scale": sizes,
            "mean_event_bytes": round(statistics.fmean(event_bytes)),
            "how_data_grows": "kx = k consecutive generated days of the base size",
            "spark": "local mode, one session for all runs, shuffle partitions from LakehouseSettings",
        },
    )


if __name__ == "__main__":
    main(PRODUCTS[sys.argv[1] if len(sys.argv) > 1 else "web-user-analytics"])
