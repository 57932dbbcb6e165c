"""Bronze → silver → gold: how time grows with data, and what an incremental run saves.

- Scaling: 1x, 2x and 4x data, where 1x is one generated day at a quarter of the product's
  default size and kx is k such days (a daily pipeline grows by days). Each scale gets its own
  topic and lake; bronze, silver and gold are timed separately on one warm Spark session.
- Full vs incremental: after the 4x run, 1 % more events arrive (the next day's first
  traffic); the incremental run's silver + gold time is compared with the full run's.

Usage: ``python tests/performance/bench_refinement.py [web-user-analytics|mobile-user-analytics]``.
"""

from __future__ import annotations

import os
import statistics
import sys
from datetime import date, timedelta
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

from lakehouse_core.ingestion.bronze import run_bronze_ingestion
from lakehouse_core.kafka.admin import ensure_topics
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.spark import build_spark_session
from lakehouse_events.product import bronze_job, run_gold, run_silver, topic_specs
from lakehouse_testing.plugin import running_broker

FIRST_DAY = date(2026, 3, 2)
SCALES = (1, 2, 4)
INCREMENT = 0.01


def refine(spark: Any, bench: BenchProduct, config: Any, bootstrap: str, lake_root: str) -> dict[str, Any]:
    """Bronze, silver and gold once each, timed, with the Spark JVM's CPU share."""
    processes = {"spark": spark_pid(spark)}
    job = bronze_job(bench.product, config, bootstrap_servers=bootstrap, lake_root=lake_root)
    with measured(processes) as bronze:
        rows = run_bronze_ingestion(spark, job)
    with measured(processes) as silver:
        silver_run = run_silver(bench.product, spark, config, lake_root=lake_root)
    with measured(processes) as gold:
        gold_run = run_gold(bench.product, spark, config, lake_root=lake_root)
    return {
        "bronze_rows": rows,
        "bronze_seconds": bronze.seconds,
        "silver_input_rows": silver_run.input_rows,
        "silver_seconds": silver.seconds,
        "gold_input_rows": gold_run.input_rows,
        "gold_seconds": gold.seconds,
        "silver_and_gold_seconds": silver.seconds + gold.seconds,
        "spark_cpu_share": {
            "bronze": bronze.cpu_share["spark"],
            "silver": silver.cpu_share["spark"],
            "gold": gold.cpu_share["spark"],
        },
    }


def main(bench: BenchProduct) -> None:
    base = int(os.environ.get("BENCH_BASE_SIZE", str(bench.product.default_size // 4)))
    work = work_dir(f"refinement-{bench.name}")
    scaling: dict[str, Any] = {}
    sizes: dict[str, int] = {}
    event_bytes: list[int] = []
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

        full = scaling[f"{SCALES[-1]}x"]
        next_day = FIRST_DAY + timedelta(days=SCALES[-1])
        increment = produce_generated_days(
            bench,
            bootstrap=bootstrap,
            topic=config.topics["events"].name,
            days=[next_day],
            size=max(1, round(base * SCALES[-1] * INCREMENT)),
            seed=101,
        )
        incremental = refine(spark, bench, config, bootstrap, str(work / f"lake-{SCALES[-1]}x"))
        spark.stop()

    one = scaling["1x"]["silver_and_gold_seconds"]
    write_result(
        f"refinement_{bench.name}",
        {
            "scaling": scaling,
            "silver_and_gold_time_relative_to_1x": {
                name: run["silver_and_gold_seconds"] / one for name, run in scaling.items()
            },
            "full_vs_incremental": {
                "full_events": sizes[f"{SCALES[-1]}x"],
                "new_events": len(increment),
                "full": full,
                "incremental": incremental,
                "incremental_to_full_ratio": incremental["silver_and_gold_seconds"]
                / full["silver_and_gold_seconds"],
            },
        },
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
