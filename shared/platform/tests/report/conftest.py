"""The small lake the report tests share: two rows in every silver and gold table of every
installed product (real Delta tables written with delta-rs), plus a second version of web's
silver events, a quarantined web event, pipeline runs and audit records of API requests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.catalog import (
    Catalog,
    CatalogEntry,
    ProductDeclaration,
    build_catalog,
    discover_products,
)
from lakehouse_testing.lake import AT, contract_rows, write_lake, write_rows

WEB = "web-user-analytics"
EVENTS = f"{WEB}.silver.events"
QUARANTINE = f"{WEB}.quarantine.events"
RUNS = "operational-metrics.silver.runs"
AUDIT_TRAIL = "compliance-auditing.silver.audit_trail"

#: Web's last runs: silver failed after a retry, gold was skipped (``at``: seconds after AT).
RUN_ROWS: list[dict[str, Any]] = [
    {"asset": "silver", "run_id": "r1", "attempt": 1, "final_attempt": True, "status": "succeeded", "at": 0},
    {"asset": "silver", "run_id": "r2", "attempt": 1, "final_attempt": False, "status": "failed", "at": 60},
    {"asset": "silver", "run_id": "r2", "attempt": 2, "final_attempt": True, "status": "failed", "at": 90},
    {"asset": "gold", "run_id": "r2", "attempt": 0, "final_attempt": True, "status": "skipped", "at": 95},
]
#: Requests audited: key-a three reads of web (one denied), key-b one; a pipeline's write (no
#: request); one refusal by the gateway itself.
AUDIT_ROWS: list[dict[str, Any]] = [
    {"service": WEB, "api_key_id": "key-a", "action": "read", "outcome": "succeeded", "status_code": 200},
    {"service": WEB, "api_key_id": "key-a", "action": "read", "outcome": "succeeded", "status_code": 200},
    {"service": WEB, "api_key_id": "key-a", "action": "read", "outcome": "denied", "status_code": 403},
    {"service": WEB, "api_key_id": "key-b", "action": "read", "outcome": "succeeded", "status_code": 200},
    {"service": WEB, "api_key_id": None, "action": "write", "outcome": "succeeded", "status_code": None},
    {"service": "gateway", "api_key_id": "key-c", "action": "read", "outcome": "denied", "status_code": 401},
]


@dataclass(frozen=True)
class ReportLake:
    catalog: Catalog
    settings: LakehouseSettings
    products: list[ProductDeclaration]


def replace_rows(entry: CatalogEntry, changes: Iterable[Mapping[str, Any]]) -> None:
    """Overwrite ``entry``'s table with contract rows changed as ``changes`` say, one row each."""
    changed = list(changes)
    template = contract_rows(entry, range(len(changed)))
    rows = [{**row, **change} for row, change in zip(template.to_pylist(), changed, strict=True)]
    write_deltalake(
        entry.location,
        pa.Table.from_pylist(rows, schema=template.schema),
        mode="overwrite",
        partition_by=list(entry.spec.partition_by) or None,
    )


@pytest.fixture(scope="package")
def report_lake(tmp_path_factory: pytest.TempPathFactory) -> ReportLake:
    base = tmp_path_factory.mktemp("report")
    settings = LakehouseSettings(lake_root=str(base / "lake"), state_dir=base / "state")
    products = discover_products()
    catalog = build_catalog(products, lake_root=settings.lake_root)
    write_lake(catalog)
    write_rows(catalog.get(EVENTS), range(2, 5))
    quarantined = contract_rows(catalog.get(QUARANTINE), range(1))
    write_deltalake(
        catalog.get(QUARANTINE).location,
        quarantined.set_column(
            quarantined.schema.get_field_index("failed_rules"),
            "failed_rules",
            pa.array([["has_message_id", "known_type"]], pa.list_(pa.string())),
        ),
    )
    replace_rows(
        catalog.get(RUNS),
        (
            {
                **{k: v for k, v in run.items() if k != "at"},
                "product": WEB,
                "started_at": AT + timedelta(seconds=run["at"]),
                "finished_at": AT + timedelta(seconds=run["at"] + 4),
                "error_message": "boom" if run["status"] == "failed" else None,
            }
            for run in RUN_ROWS
        ),
    )
    replace_rows(
        catalog.get(AUDIT_TRAIL),
        ({**row, "occurred_at": AT + timedelta(minutes=i)} for i, row in enumerate(AUDIT_ROWS)),
    )
    return ReportLake(catalog, settings, products)
