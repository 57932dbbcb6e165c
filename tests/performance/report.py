"""Render ``REPORT.md`` from the JSON results: one table per question, conditions stated.

Run on its own (``python tests/performance/report.py``) to re-render without measuring.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).parent
RESULTS = HERE / "results"
REPORT = HERE / "REPORT.md"
PRODUCTS = ("web-user-analytics", "mobile-user-analytics")


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return orjson.loads(path.read_bytes()) if path.exists() else None


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def n(value: float) -> str:
    """A figure with as many digits as it deserves."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def shares(cpu: dict[str, float]) -> str:
    """CPU shares as cores busy per process: ``broker 0.48, collector 0.32``."""
    return ", ".join(f"{name} {share:.2f}" for name, share in cpu.items())


def machine_line(result: dict[str, Any]) -> str:
    m = result["machine"]
    return (
        f"{m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Python {m['python']}, {m['java']}; "
        f"measured {result['measured_at']}, "
        f"1-minute load average {m.get('load_average_1m_at_start', '?')} when it started"
    )


def raw_section(raw: dict[str, Any]) -> list[str]:
    rows = []
    for key, figures in raw.items():
        if not key.startswith("event_"):
            continue
        rows.append(
            [
                f"{key.split('_')[1]} B",
                figures["records"],
                n(figures["kafka_producer_perf_tool"]["events_per_second"]),
                n(figures["bare_confluent_producer"]["events_per_second"]),
                n(figures["kafka_consumer_perf_tool"]["events_per_second"]),
                n(figures["bare_confluent_consumer"]["events_per_second"]),
            ]
        )
    return [
        "## Raw ceilings",
        "",
        f"{raw['data']['pinning']}; {raw['data']['partitions']} partitions; producer settings "
        f"`{raw['data']['producer_settings']}`. {machine_line(raw)}.",
        "",
        table(
            [
                "event size",
                "records",
                "Kafka ProducerPerformance ev/s",
                "bare confluent-kafka producer ev/s",
                "Kafka ConsumerPerformance ev/s",
                "bare confluent-kafka consumer ev/s",
            ],
            rows,
        ),
        "",
        f"Sequential disk write (1 MiB blocks, fsync'd, {raw['data']['disk_write_mib']} MiB): "
        f"**{n(raw['sequential_disk_write_mib_per_second'])} MiB/s**.",
        "",
    ]


def ingestion_section(results: dict[str, dict[str, Any]]) -> list[str]:
    header = ["", *results]
    c = {p: r["collector"] for p, r in results.items()}
    b = {p: r["kafka_to_bronze"] for p, r in results.items()}
    f = {p: r["bronze_freshness_continuous"] for p, r in results.items()}
    d = {p: r["data"] for p, r in results.items()}
    rows = [
        ["events (mean size)", *(f"{d[p]['events']:,} ({d[p]['mean_event_bytes']} B)" for p in results)],
        ["collector ev/s, acknowledged by Kafka", *(n(c[p]["events_per_second"]) for p in results)],
        ["bare producer ev/s, same events", *(n(c[p]["raw_producer_events_per_second"]) for p in results)],
        ["**collector ÷ bare producer**", *(f"**{n(c[p]['ratio_to_raw_producer'])}**" for p in results)],
        [
            "collector request p50 / p99 ms (100 events)",
            *(
                f"{n(c[p]['request_latency']['p50_ms'])} / {n(c[p]['request_latency']['p99_ms'])}"
                for p in results
            ),
        ],
        ["CPU share under collector load (cores)", *(shares(c[p]["cpu_share"]) for p in results)],
        ["Kafka → bronze rows/s", *(n(b[p]["rows_per_second"]) for p in results)],
        ["bare consumer rows/s, same topic", *(n(b[p]["raw_consumer_rows_per_second"]) for p in results)],
        ["**bronze ÷ bare consumer**", *(f"**{n(b[p]['ratio_to_raw_consumer'])}**" for p in results)],
        ["CPU share during bronze (cores)", *(shares(b[p]["cpu_share"]) for p in results)],
        [
            "freshness p50 / p99 s (continuous)",
            *(f"{n(f[p]['p50_seconds'])} / {n(f[p]['p99_seconds'])}" for p in results),
        ],
        [
            "**freshness in trigger intervals** p50 / p99",
            *(
                f"**{n(f[p]['p50_in_trigger_intervals'])} / {n(f[p]['p99_in_trigger_intervals'])}** "
                f"(trigger {f[p]['trigger_seconds']} s, {f[p]['events_per_second_offered']} ev/s offered)"
                for p in results
            ),
        ],
    ]
    first = next(iter(results.values()))
    return [
        "## Ingestion: collector and Kafka → bronze",
        "",
        f"{first['data']['pinning']}. Collector: batches of {first['data']['collector_batch_events']} "
        f"events, gzip, {first['data']['collector_client_threads']} client threads. {machine_line(first)}.",
        "",
        table(header, rows),
        "",
    ]


def refinement_section(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["## Bronze → silver → gold", ""]
    for product, result in results.items():
        scaling, relative = result["scaling"], result["silver_and_gold_time_relative_to_1x"]
        events = result["data"]["events_per_scale"]
        lines += [
            f"**{product}** ({result['data']['how_data_grows']}, base size {result['data']['base_size']}, "
            f"mean event {result['data']['mean_event_bytes']} B). {machine_line(result)}.",
            "",
            table(
                ["data", "events", "bronze s", "silver s", "gold s", "silver + gold ÷ 1x"],
                [
                    [
                        scale,
                        f"{events[scale]:,}",
                        n(run["bronze_seconds"]),
                        n(run["silver_seconds"]),
                        n(run["gold_seconds"]),
                        n(relative[scale]),
                    ]
                    for scale, run in scaling.items()
                ],
            ),
            "",
        ]
        inc = result["full_vs_incremental"]
        lines += [
            f"Incremental run after {inc['new_events']:,} new events (1 % of {inc['full_events']:,}): "
            f"silver + gold {n(inc['incremental']['silver_and_gold_seconds'])} s against "
            f"{n(inc['full']['silver_and_gold_seconds'])} s for the full run: "
            f"**ratio {n(inc['incremental_to_full_ratio'])}**.",
            "",
        ]
    return lines


def serving_section(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["## Serving: API (delta-rs) and Spark SQL", ""]
    for product, result in results.items():
        api, spark = result["api"], result["spark_sql"]
        rows = []
        for key, figures in api.items():
            kind, concurrency = key.rsplit("_concurrency_", 1)
            rows.append(
                [
                    f"API, {kind}",
                    concurrency,
                    n(figures["p50_ms"]),
                    n(figures["p99_ms"]),
                    n(figures["requests_per_second"]),
                    shares(figures["cpu_share"]),
                ]
            )
        for key, figures in spark.items():
            concurrency = key.rsplit("_", 1)[1]
            latency = [n(figures["p50_ms"]), n(figures["p99_ms"])]
            rows.append(["Spark SQL", concurrency, *latency, "", shares({"spark": figures["spark"]})])
        ratio = result["spark_sql_to_api_p50_ratio"]
        lines += [
            f"**{product}**: {result['data']['events']:,} events over {result['data']['days']} days. "
            f"Range query `{result['data']['range_query']['api']}`; cached = the product's example "
            f"queries repeated, uncached = a distinct date range per request. The API runs as its own "
            f"process on core 1, the load client on core 0. {machine_line(result)}.",
            "",
            table(["path", "concurrency", "p50 ms", "p99 ms", "requests/s", "CPU share (cores)"], rows),
            "",
            "Spark SQL p50 ÷ uncached API p50: "
            + ", ".join(f"**{n(v)}** at {k.replace('_', ' ')}" for k, v in ratio.items())
            + ".",
            "",
        ]
    return lines


def gateway_section(result: dict[str, Any]) -> list[str]:
    lines = ["## Gateway: a product's API through `lakehouse gateway` and alone", ""]
    paths = {
        "alone": result["direct"],
        "gateway, user_reader key": result["gateway_user_reader_key"],
        "gateway, analyst key (masked)": result["gateway_analyst_key_masked"],
    }
    rows = []
    for path, figures in paths.items():
        for key, run in figures.items():
            kind, concurrency = key.rsplit("_concurrency_", 1)
            rows.append(
                [path, kind, concurrency, n(run["p50_ms"]), n(run["p99_ms"]), n(run["requests_per_second"])]
            )
    data = result["data"]
    lines += [
        f"**{data['product']}** `{data['route']}` over {data['rows']:,} gold rows; the product's API and "
        f"the gateway (every installed product mounted) each run as their own process on core 1, the "
        f"load client on core 0. {machine_line(result)}.",
        "",
        table(["path", "kind", "concurrency", "p50 ms", "p99 ms", "requests/s"], rows),
        "",
    ]
    return lines


def write_report() -> Path:
    sections = [
        "# Performance report",
        "",
        "Written by `make bench` (tests/performance/run_benchmarks.py) from the JSON files in "
        "`tests/performance/results/`. Every figure comes from one run on the machine named "
        "with it; rerun `make bench` to measure yours.",
        "",
    ]
    raw = load("raw_ceilings")
    if raw:
        sections += raw_section(raw)
    for name, render in (
        ("ingestion", ingestion_section),
        ("refinement", refinement_section),
        ("serving", serving_section),
    ):
        found = {p: r for p in PRODUCTS if (r := load(f"{name}_{p}"))}
        if found:
            sections += render(found)
    gateway = load("gateway")
    if gateway:
        sections += gateway_section(gateway)
    REPORT.write_text("\n".join(sections))
    return REPORT


if __name__ == "__main__":
    print(write_report())
