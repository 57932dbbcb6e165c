"""Served tables on real Delta tables written with delta-rs."""

from datetime import date

import pyarrow as pa
import pytest
from deltalake import write_deltalake
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from lakehouse_core.delta_reader import DeltaReader
from lakehouse_core.serving.cache import QueryCache
from lakehouse_core.serving.contracts import arrow_schema
from lakehouse_core.serving.tables import ServedTable, TableNotBuiltError, install_table_errors

pytestmark = pytest.mark.integration


class Visits(BaseModel):
    day: date
    page: str
    views: int


def visits(*rows: tuple[date, str, int]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"day": d, "page": p, "views": v} for d, p, v in rows], schema=arrow_schema(Visits)
    )


def total_views(reader: DeltaReader) -> int:
    return sum(reader.read(columns=["views"]).column("views").to_pylist())


def test_a_new_commit_is_seen_on_the_next_query(lake_root: str) -> None:
    location = f"{lake_root}/gold/visits"
    write_deltalake(location, visits((date(2024, 1, 1), "/", 3)), partition_by=["day"])
    cache = QueryCache()
    table = ServedTable("demo.gold.visits", location, cache)
    scans = []

    def counted(reader: DeltaReader) -> int:
        scans.append(reader.location)
        return total_views(reader)

    assert table.query("total", counted) == 3
    assert table.query("total", counted) == 3
    assert len(scans) == 1

    write_deltalake(location, visits((date(2024, 1, 2), "/a", 4)), mode="append")
    assert table.query("total", counted) == 7
    write_deltalake(location, visits((date(2024, 1, 3), "/b", 10)), mode="overwrite")
    assert table.query("total", counted) == 10
    assert (len(scans), table.version()) == (3, 2)


def test_arrow_schema_round_trips_through_delta(lake_root: str) -> None:
    location = f"{lake_root}/gold/visits"
    write_deltalake(location, visits((date(2024, 1, 1), "/", 3)))
    assert DeltaReader(location).read().schema == arrow_schema(Visits)


def test_a_table_not_built_yet_is_a_503_until_it_exists(lake_root: str) -> None:
    location = f"{lake_root}/gold/visits"
    table = ServedTable("demo.gold.visits", location, QueryCache())
    with pytest.raises(TableNotBuiltError, match=r"demo\.gold\.visits: the pipeline has not produced"):
        table.version()

    app = FastAPI()
    install_table_errors(app)

    @app.get("/total")
    def total() -> int:
        return table.query("total", total_views)

    client = TestClient(app)
    response = client.get("/total")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "60"
    assert response.json() == {
        "detail": "table demo.gold.visits does not exist yet: the pipeline has not produced it. "
        "It appears after the first successful run of the job that writes it."
    }

    write_deltalake(location, visits((date(2024, 1, 1), "/", 5)))
    assert client.get("/total").json() == 5


def test_health_check_reports_the_version(lake_root: str) -> None:
    location = f"{lake_root}/gold/visits"
    table = ServedTable("demo.gold.visits", location, QueryCache())
    check = table.health_check()
    assert check.name == "table:demo.gold.visits"
    with pytest.raises(Exception, match="no Delta table"):
        check.probe()
    write_deltalake(location, visits((date(2024, 1, 1), "/", 5)))
    assert check.probe() == "version 0"
