"""The shell of an API that serves a product's tables, before the product adds its routers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from fastapi import FastAPI

from lakehouse_core.config import require_outside_dev
from lakehouse_core.health import delta_table_check
from lakehouse_core.service import create_service_app
from lakehouse_core.serving.audit import install_read_audit
from lakehouse_core.serving.auth import install_api_keys
from lakehouse_core.serving.cache import QueryCache
from lakehouse_core.serving.tables import ServedTable, install_table_errors
from lakehouse_core.tables import TableSpec


def served_table(spec: TableSpec, lake_root: str, cache: QueryCache) -> ServedTable:
    """``spec``'s table under ``lake_root``, named by its qualified name in messages."""
    return ServedTable(spec.qualified_name, spec.location(lake_root), cache)


def create_table_api(
    *,
    service: str,
    version: str,
    description: str,
    served: Sequence[TableSpec],
    lake_root: str,
    api_keys: Mapping[str, Iterable[str]],
    cache: QueryCache,
    api_keys_variable: str = "",
) -> FastAPI:
    """:func:`~lakehouse_core.service.create_service_app` whose ``/ready`` checks that every table
    of ``served`` can be opened, with ``api_keys`` installed for
    :func:`~lakehouse_core.serving.auth.require_role`, 503 for tables not built yet, and ``cache``
    on ``app.state.query_cache``, and a ``read`` audit record per request that reads data when
    ``LAKEHOUSE_AUDIT_BOOTSTRAP_SERVERS`` is set (:mod:`lakehouse_core.serving.audit`).

    Without API keys the routes declared ``open_when_no_keys`` are open to anyone, so in
    ``staging`` and ``prod`` the service refuses to start (:class:`~lakehouse_core.errors.ConfigError`
    naming ``api_keys_variable``, by default ``<FIRST WORD OF SERVICE>_API_KEYS``, e.g.
    ``WEB_API_KEYS``); in ``dev`` it logs a warning."""
    variable = api_keys_variable or f"{service.split('-', maxsplit=1)[0].upper()}_API_KEYS"
    require_outside_dev(
        bool(api_keys),
        what=f"{service}: no API keys are configured, so its analytics routes are open to anyone",
        variable=f"{variable} (a JSON object of key to roles)",
    )
    readiness = [delta_table_check(spec.qualified_name, spec.location(lake_root)) for spec in served]
    app = create_service_app(service=service, version=version, checks=readiness, description=description)
    app.state.query_cache = cache
    install_api_keys(app, api_keys)
    install_table_errors(app)
    install_read_audit(app, service=service)
    return app
