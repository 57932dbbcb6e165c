"""``/catalog``: the catalog as read-only JSON (tables, columns, owners, freshness SLA, lineage)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Security
from fastapi.security import APIKeyHeader

from lakehouse_core.errors import LakehouseError
from lakehouse_core.serving.auth import API_KEY_HEADER, ApiKeys
from lakehouse_core.tables import Layer
from lakehouse_platform.catalog import Catalog, LineageNode

_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="Any API key in force.")

TableName = Annotated[
    str, Path(min_length=1, max_length=200, description="Qualified name, <product>.<layer>.<table>.")
]


def require_key(request: Request, api_key: Annotated[str | None, Security(_api_key)]) -> None:
    """Any key in force (any role); open while no keys are configured (dev only)."""
    keys = request.app.state.api_keys
    if isinstance(keys, ApiKeys) and not keys.configured:
        return
    if not api_key or not isinstance(keys, ApiKeys) or keys.roles_of(api_key) is None:
        raise HTTPException(
            401, f"send an API key in force in {API_KEY_HEADER}", headers={"WWW-Authenticate": API_KEY_HEADER}
        )


def _lineage(node: LineageNode) -> dict[str, Any]:
    return {"name": node.name, "repeated": node.repeated, "children": [_lineage(c) for c in node.children]}


def catalog_router(catalog: Catalog) -> APIRouter:
    router = APIRouter(
        prefix="/catalog",
        tags=["catalog"],
        dependencies=[Depends(require_key)],
        responses={401: {"description": "No API key, or one not in force."}},
    )

    def entry(name: str) -> Any:
        try:
            return catalog.get(name)
        except LakehouseError as exc:
            raise HTTPException(404, str(exc)) from exc

    @router.get("/tables")
    def tables(
        product: Annotated[str | None, Query(max_length=100, description="Only this product's.")] = None,
        layer: Annotated[Layer | None, Query(description="Only this layer's.")] = None,
    ) -> list[dict[str, Any]]:
        """Every catalogued table with its columns, owner, freshness SLA and upstream tables."""
        return [e.to_json() for e in catalog.select(product=product, layer=layer)]

    @router.get("/tables/{name}", responses={404: {"description": "No such table."}})
    def table(name: TableName) -> dict[str, Any]:
        """One table as the catalog knows it."""
        found: dict[str, Any] = entry(name).to_json()
        return found

    @router.get("/tables/{name}/lineage", responses={404: {"description": "No such table."}})
    def lineage(
        name: TableName,
        direction: Annotated[Literal["upstream", "downstream"], Query()] = "upstream",
    ) -> dict[str, Any]:
        """The chain of tables and Kafka topics the table is computed from, or feeds."""
        entry(name)
        return _lineage(catalog.lineage(name, upstream=direction == "upstream"))

    return router
