"""``lakehouse gateway`` and ``lakehouse admin keys|roles``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lakehouse_core.config import require_outside_dev
from lakehouse_core.errors import LakehouseError
from lakehouse_core.serving.audit import SpooledAudit
from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.catalog import ServedProduct, discover_products, load_catalog
from lakehouse_platform.gateway.admin import KeyAdmin, audit_publisher
from lakehouse_platform.gateway.config import SERVICE, load_gateway_config
from lakehouse_platform.gateway.keys import IssuedKey, KeyStore, utc_now

admin_app = typer.Typer(help="API keys and roles of the gateway; every change audited.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list, revoke and rotate API keys.", no_args_is_help=True)
admin_app.add_typer(keys_app, name="keys")

console = Console()
errors = Console(stderr=True)


@contextmanager
def key_admin() -> Iterator[KeyAdmin]:
    """The key admin of the configured store; the audit records are sent (or left spooled, said
    so) before the command ends."""
    settings, config = LakehouseSettings(), load_gateway_config()
    publish = audit_publisher(settings)
    try:
        yield KeyAdmin(KeyStore(config.store_path(settings)), config, publish)
    except LakehouseError as exc:
        errors.print(f"[red]{escape(str(exc))}[/]", soft_wrap=True)
        raise typer.Exit(1) from exc
    finally:
        spooled = publish.close(timeout=10.0)
        if spooled:
            errors.print(f"{spooled} audit records spooled; they are sent when Kafka answers", soft_wrap=True)


def _print_issued(issued: IssuedKey) -> None:
    record = issued.record
    console.print(
        f"key {record.key_id} for {escape(record.owner)} ({', '.join(sorted(record.roles))}), "
        f"expires {record.expires_at:%Y-%m-%d}. Shown once, keep it now:",
        soft_wrap=True,
    )
    print(issued.secret)


@keys_app.command("create")
def keys_create(
    owner: Annotated[str, typer.Option(help="Who the key is for.")],
    role: Annotated[list[str], typer.Option("--role", help="A role of the key (repeat for more).")],
    days: Annotated[
        int | None, typer.Option(min=1, help="Days valid (default: key_validity_days of gateway.yaml).")
    ] = None,
    per_minute: Annotated[
        int | None,
        typer.Option(min=1, help="Requests per minute (default: requests_per_minute of gateway.yaml)."),
    ] = None,
    per_day: Annotated[
        int | None,
        typer.Option(min=1, help="Requests per UTC day (default: requests_per_day of gateway.yaml)."),
    ] = None,
) -> None:
    """Make a key and print it once; only its SHA-256 digest is stored."""
    with key_admin() as admin:
        _print_issued(
            admin.create(owner=owner, roles=role, valid_days=days, per_minute=per_minute, per_day=per_day)
        )


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every key (never its secret): owner, roles, dates, state, quotas."""
    with key_admin() as admin:
        now = utc_now()
        records = [r.public(now) for r in admin.store.records()]
    if as_json:
        print(json.dumps(records))
        return
    table = Table(title=f"{len(records)} keys", title_justify="left")
    for column in ("key_id", "owner", "roles", "created_at", "expires_at", "state", "per minute", "per day"):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(
            r["key_id"],
            escape(r["owner"]),
            ", ".join(r["roles"]),
            r["created_at"][:19],
            r["expires_at"][:19],
            r["state"],
            str(r["requests_per_minute"] or "-"),
            str(r["requests_per_day"] or "-"),
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (keys list).")]) -> None:
    """Refuse the key from now on (a running gateway sees it at its next request)."""
    with key_admin() as admin:
        admin.revoke(key_id)
    console.print(f"revoked {key_id}")


@keys_app.command("rotate")
def keys_rotate(key_id: Annotated[str, typer.Argument(help="The key's id (keys list).")]) -> None:
    """Revoke the key and print a new one with the same owner, roles and quota."""
    with key_admin() as admin:
        _print_issued(admin.rotate(key_id))


@admin_app.command("roles")
def roles() -> None:
    """Every role a key may hold, with what it reads."""
    table = Table(title="roles", title_justify="left")
    table.add_column("role", no_wrap=True)
    table.add_column("reads", overflow="fold")
    for name, about in load_gateway_config().roles.items():
        table.add_row(name, escape(about))
    console.print(table)


def gateway(
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default: port of gateway.yaml, 8600).")
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Address (default: host of gateway.yaml, 127.0.0.1).")
    ] = None,
) -> None:
    """Serve every installed product's API under /<product>, the catalog under /catalog, keys
    under /admin, one OpenAPI document at /openapi.json (/docs shows it)."""
    import uvicorn

    from lakehouse_platform.gateway.app import create_gateway
    from lakehouse_platform.ports import Binding, taken_ports

    settings, config = LakehouseSettings(), load_gateway_config()
    bind_host, bind_port = host or config.host, port or config.port
    store = KeyStore(config.store_path(settings))
    try:
        require_outside_dev(
            store.configured,
            what="lakehouse gateway: no API keys",
            variable=f"keys with `lakehouse admin keys create` (store {store.path})",
            environment=settings.environment,
        )
        catalog = load_catalog(lake_root=settings.lake_root)
        products = [p for p in discover_products() if isinstance(p, ServedProduct)]
        for problem in taken_ports([Binding("gateway", bind_host, bind_port, "LAKEHOUSE_GATEWAY_PORT")]):
            raise LakehouseError(problem)
        app = create_gateway(
            products,
            settings=settings,
            catalog=catalog,
            store=store,
            admin=KeyAdmin(store, config, audit_publisher(settings)),
            config=config,
            read_audit=SpooledAudit(settings, key=SERVICE) if settings.audit_bootstrap_servers else None,
        )
    except LakehouseError as exc:
        errors.print(f"[red]{escape(str(exc))}[/]", soft_wrap=True)
        raise typer.Exit(1) from exc
    console.print(f"gateway at http://{bind_host}:{bind_port}/docs: {', '.join(p.name for p in products)}")
    uvicorn.run(app, host=bind_host, port=bind_port)
