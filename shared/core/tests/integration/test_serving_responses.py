"""Responses kept per table version, the in-memory table snapshot, and several worker processes
on one port: against real Delta tables written with delta-rs and, for the workers, real HTTP."""

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import write_deltalake
from fastapi import Depends
from fastapi.testclient import TestClient
from pyspark.sql.types import LongType, StructField, StructType

from lakehouse_core.delta_reader import DeltaReader
from lakehouse_core.platform_topics import AuditRecord
from lakehouse_core.serving.api import create_table_api, served_table
from lakehouse_core.serving.audit import install_read_audit
from lakehouse_core.serving.auth import API_KEY_HEADER, require_role
from lakehouse_core.serving.cache import QueryCache
from lakehouse_core.serving.tables import recording_reads
from lakehouse_core.tables import Layer, TableSpec
from lakehouse_testing.plugin import free_port

pytestmark = pytest.mark.integration

VISITS = TableSpec(
    name="visits",
    layer=Layer.GOLD,
    product="demo",
    schema=StructType([StructField("views", LongType(), nullable=False)]),
)


def views(*values: int) -> pa.Table:
    return pa.table({"views": pa.array(values, pa.int64())})


def test_a_repeated_request_is_answered_from_memory_until_the_table_changes(lake_root: str) -> None:
    cache = QueryCache()
    app = create_table_api(
        service="demo-api",
        version="1.0.0",
        description="Demo.",
        served=[VISITS],
        lake_root=lake_root,
        api_keys={"k": ["analyst"], "other": ["user_reader"]},
        cache=cache,
        keep_responses=True,
    )
    records: list[AuditRecord] = []
    install_read_audit(app, service="demo-api", publish=records.append)
    visits = served_table(VISITS, lake_root, cache)
    calls: list[str] = []

    @app.get("/total", dependencies=[Depends(require_role("analyst"))])
    def get_total() -> int:
        calls.append("total")
        return visits.query("total", lambda reader: sum(reader.read().column("views").to_pylist()))

    location = VISITS.location(lake_root)
    write_deltalake(location, views(3, 4))
    client = TestClient(app)
    analyst = {API_KEY_HEADER: "k"}
    first, second = client.get("/total", headers=analyst), client.get("/total", headers=analyst)
    assert (first.json(), second.json(), len(calls)) == (7, 7, 1)
    assert first.headers["X-Correlation-ID"] != second.headers["X-Correlation-ID"]
    assert (cache.hits, cache.misses) == (1, 1)
    with recording_reads() as reads:
        client.get("/total", headers=analyst)
    assert [(r.name, r.version) for r in reads] == [("demo.gold.visits", 0)]

    assert client.get("/total", headers={API_KEY_HEADER: "unknown"}).status_code == 401
    assert client.get("/total", headers={API_KEY_HEADER: "other"}).status_code == 403
    assert client.get("/total").status_code == 401
    assert [(r.outcome, r.status_code) for r in records] == [
        ("succeeded", 200),
        ("succeeded", 200),
        ("succeeded", 200),
        ("denied", 401),
        ("denied", 403),
        ("denied", 401),
    ]
    metrics = client.get("/metrics").text
    assert 'lakehouse_http_requests_total{method="GET",route="/total",status="200"} 3.0' in metrics

    write_deltalake(location, views(5), mode="append")
    assert client.get("/total", headers=analyst).json() == 12
    assert len(calls) == 2


def test_reader_filters_its_snapshot_like_a_scan_of_the_files_and_sees_a_commit_at_once(
    lake_root: str,
) -> None:
    location = VISITS.location(lake_root)
    write_deltalake(location, views(1, 2, 3))
    in_memory, scanned = DeltaReader(location), DeltaReader(location, snapshot_max_bytes=0)
    small = pc.field("views") <= 2
    for reader in (in_memory, scanned):
        assert reader.read(columns=["views"], filter=small).column("views").to_pylist() == [1, 2]
    write_deltalake(location, views(0), mode="append")
    for reader in (in_memory, scanned):
        assert reader.version() == 1
        assert sorted(reader.read(filter=small).column("views").to_pylist()) == [0, 1, 2]


WORKERS_SCRIPT = textwrap.dedent(
    """
    import sys
    from lakehouse_core.http_server import serve
    from lakehouse_core.service import create_service_app

    serve(lambda: create_service_app(service="demo", version="1"), host="127.0.0.1",
          port=int(sys.argv[1]), workers=2)
    """
)


def test_two_workers_serve_one_port_and_metrics_count_both() -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", WORKERS_SCRIPT, str(port)])
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the workers did not start"
                time.sleep(0.1)
        workers = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        assert len(workers) == 2
        for _ in range(20):
            httpx.get(f"{url}/health", timeout=5)
        answered = set()
        for _ in range(20):
            metrics = httpx.get(f"{url}/metrics", timeout=5).text
            answered |= {
                line.split('worker="')[1].split('"')[0] for line in metrics.splitlines() if 'worker="' in line
            }
            assert 'lakehouse_http_requests_total{method="GET",route="/health",status="200"} 21.0' in metrics
        assert answered <= set(workers)
    finally:
        server.terminate()
        assert server.wait(timeout=20) == 0
