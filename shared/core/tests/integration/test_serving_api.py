"""The serving API shell on a real Delta table written with delta-rs."""

import pyarrow as pa
import pytest
from deltalake import write_deltalake
from fastapi import Depends
from fastapi.testclient import TestClient
from pyspark.sql.types import LongType, StructField, StructType

from lakehouse_core.delta_reader import DeltaReader
from lakehouse_core.serving.api import create_table_api, served_table
from lakehouse_core.serving.auth import API_KEY_HEADER, require_role
from lakehouse_core.serving.cache import QueryCache
from lakehouse_core.tables import Layer, TableSpec

pytestmark = pytest.mark.integration

VISITS = TableSpec(
    name="visits",
    layer=Layer.GOLD,
    product="demo",
    schema=StructType([StructField("views", LongType(), nullable=False)]),
)


def test_shell_serves_tables_with_readiness_keys_cache_and_503(lake_root: str) -> None:
    cache = QueryCache()
    app = create_table_api(
        service="demo-api",
        version="1.0.0",
        description="Demo.",
        served=[VISITS],
        lake_root=lake_root,
        api_keys={"k": ["analyst"]},
        cache=cache,
    )
    visits = served_table(VISITS, lake_root, cache)

    def total(reader: DeltaReader) -> int:
        return sum(reader.read().column("views").to_pylist())

    @app.get("/total", dependencies=[Depends(require_role("analyst"))])
    def get_total() -> int:
        return visits.query("total", total)

    client = TestClient(app)
    assert (visits.name, visits.location) == ("demo.gold.visits", VISITS.location(lake_root))
    assert app.state.query_cache is cache
    assert app.description == "Demo."
    assert client.get("/total").status_code == 401
    missing = client.get("/total", headers={API_KEY_HEADER: "k"})
    assert (missing.status_code, missing.headers["Retry-After"]) == (503, "60")
    assert missing.json()["detail"].startswith("table demo.gold.visits does not exist yet")
    ready = client.get("/ready")
    assert (ready.status_code, [check["name"] for check in ready.json()["checks"]]) == (
        503,
        ["table:demo.gold.visits"],
    )

    write_deltalake(VISITS.location(lake_root), pa.table({"views": pa.array([3, 4], pa.int64())}))
    assert client.get("/ready").status_code == 200
    assert client.get("/total", headers={API_KEY_HEADER: "k"}).json() == 7
    assert (cache.hits, cache.misses) == (0, 1)
