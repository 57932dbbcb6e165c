"""The catalog: one place that knows every table of every product.

Built when it is asked for, from the products' own declarations (their :class:`TableSpec` values
and configuration), found through the ``lakehouse.products`` entry points: the platform never
imports a product, and there is no second copy to keep in sync. Each entry has the table's
qualified name (``<product>.<layer>.<table>``), contract and schema version (with the recorded
history), location, partitioning, owner, description, subject columns, retention, freshness SLA,
columns, and upstream tables or Kafka topics (lineage, across products).

:func:`register_tables` makes every built table queryable by name in a Spark session
(``web_user_analytics_gold.daily_traffic``: one database per product and layer).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lakehouse_core.errors import LakehouseError
from lakehouse_core.tables import KAFKA_UPSTREAM, ConfiguredTopic, Freshness, Layer, Retention, SubjectKind
from lakehouse_platform.schema_history import SchemaVersion, read_record

if TYPE_CHECKING:
    from pathlib import Path

    import dagster as dg
    from fastapi import FastAPI
    from pyspark.sql import SparkSession

    from lakehouse_core.settings import LakehouseSettings
    from lakehouse_core.tables import TableSpec
    from lakehouse_platform.orchestrator import Pipeline

ENTRY_POINT_GROUP = "lakehouse.products"


class CatalogError(LakehouseError):
    """The catalog cannot be built from the declarations, or a name is not in it."""


class DeclaredConfig(Protocol):
    """What the catalog reads of every product's configuration (a
    :class:`~lakehouse_core.config.ProductConfig` is one); ``schedule`` and ``topics`` are read
    when the configuration has them."""

    @property
    def owner(self) -> str: ...
    @property
    def team(self) -> str: ...


class ProductDeclaration(Protocol):
    """What the catalog reads from a product's declaration (an ``EventProduct`` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def tables(self) -> tuple[TableSpec, ...]: ...
    @property
    def load_config(self) -> Callable[[], DeclaredConfig]: ...
    @property
    def schema_record(self) -> Path | None: ...


@dataclass(frozen=True)
class QuarantineRules:
    """The quality rules of ``table`` whose refused rows land in ``quarantine`` (rule → what it
    refuses, as a quarantine row's ``failed_rules`` names them): Dagster asset checks on
    ``table``, each counting the rows a run quarantined under its rule."""

    table: TableSpec
    quarantine: TableSpec
    rules: Mapping[str, str]


@dataclass(frozen=True)
class ProductAssets:
    """What a product hands the platform to run its tables: the pipeline whose tasks write them
    (each task that writes tables becomes one asset of those tables), the quality rules to
    check, and jobs of its own besides the one running its assets (a partitioned backfill)."""

    pipeline: Pipeline
    quality: tuple[QuarantineRules, ...] = ()
    jobs: tuple[dg.JobDefinition, ...] = ()


@runtime_checkable
class RunnableProduct(ProductDeclaration, Protocol):
    """A product declaration the platform can run: it builds its assets from the product's
    pipeline, so it needs to know nothing else of the product (an ``EventProduct`` is one)."""

    def product_assets(self, settings: LakehouseSettings, catalog: Catalog) -> ProductAssets:
        """The product's pipeline and checks with the lake, Kafka and Spark of ``settings``;
        ``catalog`` holds every product's tables (what a job of its own reports against)."""
        ...


@runtime_checkable
class ServedProduct(ProductDeclaration, Protocol):
    """A product declaration with a REST API: the gateway mounts the app it builds, the same app
    the product's own ``api`` command serves alone."""

    def serving_app(self, settings: LakehouseSettings) -> FastAPI:
        """The product's API over the lake of ``settings``, from the product's configuration."""
        ...


@runtime_checkable
class CollectingProduct(ProductDeclaration, Protocol):
    """A product declaration that receives events over HTTP: the app its ``collector`` command
    serves (an ``EventProduct``'s Segment-compatible collector)."""

    def collector_app(self, settings: LakehouseSettings) -> FastAPI:
        """The product's collector in front of the Kafka of ``settings``, from the product's
        configuration; built, not started (its lifespan checks the topics)."""
        ...


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    description: str
    subject: SubjectKind | None


@dataclass(frozen=True)
class CatalogEntry:
    """One table as the catalog knows it; ``upstream`` holds qualified names and ``kafka:<topic>``."""

    spec: TableSpec
    owner: str
    location: str
    upstream: tuple[str, ...]
    columns: tuple[Column, ...]
    history: tuple[SchemaVersion, ...] = ()

    @property
    def qualified_name(self) -> str:
        return self.spec.qualified_name

    @property
    def product(self) -> str:
        return self.spec.product

    @property
    def layer(self) -> Layer:
        return self.spec.layer

    @property
    def sql_name(self) -> str:
        return sql_name(self.spec)

    @property
    def contract(self) -> str:
        model = self.spec.contract
        return f"{model.__module__}.{model.__qualname__}" if model else ""

    def to_json(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "name": self.qualified_name,
            "product": spec.product,
            "layer": spec.layer.value,
            "table": spec.name,
            "sql_name": self.sql_name,
            "description": spec.description.strip(),
            "owner": self.owner,
            "contract": self.contract,
            "schema_version": spec.schema_version,
            "schema_history": [{"version": v.label, "columns": len(v.fields)} for v in self.history],
            "location": self.location,
            "partition_by": list(spec.partition_by),
            "subject_columns": {c: k.value for c, k in spec.subject_columns.items()},
            "retention": _retention(spec.retention),
            "freshness": _freshness(spec.freshness),
            "upstream": list(self.upstream),
            "columns": [
                {
                    "name": c.name,
                    "type": c.type,
                    "nullable": c.nullable,
                    "description": c.description,
                    "subject": c.subject.value if c.subject else None,
                }
                for c in self.columns
            ],
        }


def _retention(retention: Retention | None) -> dict[str, Any] | None:
    return {"days": retention.days, "date_column": retention.date_column} if retention else None


def _freshness(freshness: Freshness | None) -> dict[str, int] | None:
    if freshness is None:
        return None
    return {"warn_minutes": freshness.warn_minutes, "breach_minutes": freshness.breach_minutes}


def sql_name(spec: TableSpec) -> str:
    """The table's name in Spark SQL: database ``<product>_<layer>`` (dashes as underscores)."""
    return f"{spec.product.replace('-', '_')}_{spec.layer.value}.{spec.name}"


@dataclass(frozen=True)
class LineageNode:
    name: str
    children: tuple[LineageNode, ...] = ()
    repeated: bool = False
    """The node's own chain is shown once, where it first appears in the tree; here it is cut."""


@dataclass(frozen=True)
class Catalog:
    entries: Mapping[str, CatalogEntry]
    downstream: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, name: str) -> CatalogEntry:
        entry = self.entries.get(name)
        if entry is None:
            close = [n for n in self.entries if name.rsplit(".", 1)[-1] == n.rsplit(".", 1)[-1]]
            hint = f"; did you mean {', '.join(close)}?" if close else "; `lakehouse catalog list` shows them"
            raise CatalogError(f"no table {name!r} in the catalog{hint}")
        return entry

    def select(self, *, product: str | None = None, layer: Layer | None = None) -> list[CatalogEntry]:
        return [
            e
            for e in self.entries.values()
            if (product is None or e.product == product) and (layer is None or e.layer == layer)
        ]

    def kafka_topics(self, *, product: str | None = None) -> list[str]:
        """The Kafka topics the tables (of ``product``, or of every product) read from, sorted."""
        return sorted(
            {
                name.removeprefix(KAFKA_UPSTREAM)
                for entry in self.select(product=product)
                for name in entry.upstream
                if name.startswith(KAFKA_UPSTREAM)
            }
        )

    def _known(self, name: str) -> None:
        if not name.startswith(KAFKA_UPSTREAM) or name not in self.downstream:
            self.get(name)

    def lineage(self, name: str, *, upstream: bool = True) -> LineageNode:
        """The chain from ``name`` to its sources (``upstream``) or to every table it feeds."""
        self._known(name)

        expanded: set[str] = set()

        def follow(current: str, path: frozenset[str]) -> LineageNode:
            if current.startswith(KAFKA_UPSTREAM) and upstream:
                return LineageNode(current)
            nexts = self.entries[current].upstream if upstream else self.downstream.get(current, ())
            if nexts and (current in path or current in expanded):
                return LineageNode(current, repeated=True)
            expanded.add(current)
            return LineageNode(current, tuple(follow(n, path | {current}) for n in nexts))

        return follow(name, frozenset())


def build_catalog(products: Iterable[ProductDeclaration], *, lake_root: str) -> Catalog:
    """The catalog of ``products``' tables; refuses duplicate names and upstreams it cannot find."""
    entries: dict[str, CatalogEntry] = {}
    for product in products:
        try:
            config = product.load_config()
        except LakehouseError as exc:
            raise CatalogError(f"{product.name}: its configuration does not load: {exc}") from exc
        owner = f"{config.owner} ({config.team})" if getattr(config, "team", "") else str(config.owner)
        history = read_record(product.schema_record) if product.schema_record else {}
        for spec in product.tables:
            name = spec.qualified_name
            if spec.product != product.name:
                raise CatalogError(f"{product.name} declares {name}, a table of another product")
            if name in entries:
                raise CatalogError(f"{name} is declared twice")
            entries[name] = CatalogEntry(
                spec=spec,
                owner=owner,
                location=spec.location(lake_root),
                upstream=tuple(_resolve(u, config, table=name) for u in spec.upstream),
                columns=_columns(spec),
                history=history.get(name, ()),
            )
    downstream: dict[str, list[str]] = {}
    for entry in entries.values():
        for source in entry.upstream:
            if not source.startswith(KAFKA_UPSTREAM) and source not in entries:
                raise CatalogError(f"{entry.qualified_name}: upstream {source!r} is not a catalogued table")
            downstream.setdefault(source, []).append(entry.qualified_name)
    return Catalog(entries, {k: tuple(v) for k, v in downstream.items()})


def _resolve(upstream: str | ConfiguredTopic, config: Any, *, table: str) -> str:
    if isinstance(upstream, str):
        return upstream
    topics = getattr(config, "topics", {})
    if upstream.key not in topics:
        raise CatalogError(
            f"{table}: upstream topic 'topics.{upstream.key}' is not in the product's configuration "
            f"(it has: {', '.join(sorted(topics)) or 'no topics'})"
        )
    return f"{KAFKA_UPSTREAM}{topics[upstream.key].name}"


def _columns(spec: TableSpec) -> tuple[Column, ...]:
    described: dict[str, str] = {}
    if spec.contract is not None:
        for attribute, info in spec.contract.model_fields.items():
            described[info.alias or attribute] = (info.description or "").strip()
    return tuple(
        Column(
            f.name,
            f.dataType.simpleString(),
            f.nullable,
            described.get(f.name, ""),
            spec.subject_columns.get(f.name),
        )
        for f in spec.schema.fields
    )


def discover_products() -> list[ProductDeclaration]:
    """The products installed in this environment, from the ``lakehouse.products`` entry points."""
    found: list[ProductDeclaration] = []
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        try:
            found.append(point.load())
        except Exception as exc:
            raise CatalogError(f"entry point {point.name} = {point.value} does not load: {exc}") from exc
    return found


def load_catalog(*, lake_root: str) -> Catalog:
    return build_catalog(discover_products(), lake_root=lake_root)


@dataclass(frozen=True)
class Registration:
    """What :func:`register_tables` made queryable (qualified name → SQL name), and what not, why."""

    registered: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def register_tables(spark: SparkSession, catalog: Catalog) -> Registration:
    """Register every built table of ``catalog`` in ``spark``'s session catalog under its
    :func:`sql_name` (an external table over its Delta location); tables not built yet are skipped."""
    from lakehouse_core.delta import table_exists

    result = Registration()
    for entry in catalog.entries.values():
        if not table_exists(spark, entry.location):
            result.skipped[entry.qualified_name] = f"not built yet (no Delta table at {entry.location})"
            continue
        database, table = entry.sql_name.split(".")
        location = entry.location.replace("\\", "\\\\").replace("'", "\\'")
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        spark.sql(f"DROP TABLE IF EXISTS `{database}`.`{table}`")
        spark.sql(f"CREATE TABLE `{database}`.`{table}` USING DELTA LOCATION '{location}'")
        result.registered[entry.qualified_name] = entry.sql_name
    return result


def product_catalog(product: ProductDeclaration, *, lake_root: str) -> Catalog | None:
    """The catalog that resolves ``product``'s lineage: its own tables when their upstream stays
    within the product, else every installed product's; None (logged) when neither builds."""
    try:
        return build_catalog([product], lake_root=lake_root)
    except CatalogError:
        pass
    try:
        return load_catalog(lake_root=lake_root)
    except CatalogError:
        logging.getLogger(__name__).warning(
            "catalog does not build; lineage inputs come from the declarations", exc_info=True
        )
        return None
