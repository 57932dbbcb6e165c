"""JVM-free appends of a table's contract rows through delta-rs: how a service (an API that
records requests, removals, certificates) writes a Delta table without a Spark session. Appends
never conflict with each other or with Spark jobs reading the table."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from lakehouse_core.errors import TableError
from lakehouse_core.tables import TableSpec


def append_models(spec: TableSpec, rows: Sequence[BaseModel], *, lake_root: str) -> None:
    """Append ``rows`` (instances of ``spec``'s contract) to ``spec``'s table under ``lake_root``
    as one commit, creating the table, partitioned as ``spec`` says and with its change data
    feed on, when it does not exist."""
    import pyarrow as pa
    from deltalake import write_deltalake

    from lakehouse_core.serving.contracts import arrow_schema

    if spec.contract is None:
        raise TableError("append_models needs a table declared from a contract", table=spec.qualified_name)
    table = pa.Table.from_pylist([row.model_dump() for row in rows], schema=arrow_schema(spec.contract))
    write_deltalake(
        spec.location(lake_root),
        table,
        mode="append",
        partition_by=list(spec.partition_by) or None,
        configuration={"delta.enableChangeDataFeed": "true"},
    )
