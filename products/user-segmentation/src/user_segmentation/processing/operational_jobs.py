"""The edges of the operational sources: register the Debezium connector (a command of its
own), land its topics in bronze, apply the changes to silver (current state and history), land
the payments API and refine the payment versions it landed; and read the silver tables back for
the person features.

Each source is optional at run time: the database's topics not on Kafka (no connector
registered, or Connect down), the payments API not configured or not reachable: the run reports it
(:attr:`OperationalRun.missing`) and the features go on from tracking alone. A payments API that
refuses the request (a 4xx: a wrong token, a wrong parameter) fails the run, naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from lakehouse_core.cdc import CdcTable, PostgresCdcSource, run_cdc_apply_together
from lakehouse_core.delta import ensure_table, merge_upsert, table_exists
from lakehouse_core.incremental import IncrementalSource, run_incrementally
from lakehouse_core.ingestion.bronze import BronzeIngestion, run_bronze_ingestion
from lakehouse_core.kafka.admin import list_topics
from lakehouse_core.kafka.connect import ConnectClient
from lakehouse_core.privacy import platform_subject_key
from lakehouse_core.sources.http_api import SourceUnavailableError
from lakehouse_core.sources.landing import HttpSourceLanding, land
from lakehouse_core.tables import checkpoint_location
from user_segmentation import PRODUCT
from user_segmentation.processing.operational import (
    refine_payments,
    with_customer_subject_key,
    with_order_subject_key,
)
from user_segmentation.storage.tables import (
    CUSTOMERS,
    CUSTOMERS_HISTORY,
    OPERATIONAL_CHANGES,
    ORDERS,
    ORDERS_HISTORY,
    PAYMENTS,
    PAYMENTS_BRONZE,
    PAYMENTS_QUARANTINE,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse_core.settings import LakehouseSettings
    from lakehouse_core.tables import TableSpec
    from user_segmentation.config import CdcConfig, OperationalConfig, PaymentsConfig


@dataclass
class OperationalRun:
    bronze_rows: int = 0
    """Change events landed in bronze."""
    applied: int = 0
    """Bronze rows applied to the silver tables."""
    payments_fetched: int = 0
    payments_landed: int = 0
    payments_quarantined: int = 0
    payments: int = 0
    """Payments in silver after the run."""
    missing: dict[str, str] = field(default_factory=dict)
    """Sources not read this run, and why."""


def cdc_source(cdc: CdcConfig, settings: LakehouseSettings) -> PostgresCdcSource:
    """The Debezium connector of ``cdc`` on the local stack's PostgreSQL."""
    return PostgresCdcSource(
        name=cdc.connector,
        host=cdc.host,
        port=cdc.port or settings.postgres_port,
        user=settings.postgres_user,
        database=cdc.database or settings.postgres_database,
        tables=(cdc.customers_table, cdc.orders_table),
        topic_prefix=cdc.topic_prefix,
    )


def register_connector(cdc: CdcConfig, settings: LakehouseSettings, *, timeout: float = 60.0) -> str:
    """Register (or update) the Debezium connector of ``cdc`` on Kafka Connect
    (``LAKEHOUSE_CONNECT_URL``) and wait until it runs; its name. Raises
    :class:`~lakehouse_core.kafka.connect.ConnectError` naming Connect's answer."""
    source = cdc_source(cdc, settings)
    client = ConnectClient(settings.connect_url)
    client.put_connector(source.name, source.connector_config())
    client.await_running(source.name, timeout=timeout)
    return source.name


def cdc_tables(cdc: CdcConfig, *, lake_root: str, key: bytes) -> tuple[CdcTable, CdcTable]:
    """The customers' change application (with their subject key from ``user_id``) and the
    orders' (without a subject key: :func:`_run_cdc` adds the customers' to each batch). Both
    are applied by one stream over ``bronze.operational_changes``, customers first."""
    bronze = OPERATIONAL_CHANGES.location(lake_root)
    checkpoint = checkpoint_location(lake_root, PRODUCT, "silver-operational")

    def table(topic: str, current: TableSpec, history: TableSpec) -> CdcTable:
        return CdcTable(
            topic=topic,
            keys=("id",),
            bronze_location=bronze,
            history_location=history.location(lake_root),
            current_location=current.location(lake_root),
            checkpoint=checkpoint,
        )

    customers = table(cdc.topic(cdc.customers_table), CUSTOMERS, CUSTOMERS_HISTORY)
    orders = table(cdc.topic(cdc.orders_table), ORDERS, ORDERS_HISTORY)
    return replace(customers, derive=with_customer_subject_key(key)), orders


def run_operational(
    spark: SparkSession,
    config: OperationalConfig,
    settings: LakehouseSettings,
    *,
    lake_root: str,
    bootstrap_servers: str,
) -> OperationalRun:
    """One run of every configured operational source (module docstring)."""
    run = OperationalRun()
    key = platform_subject_key(settings)
    if config.cdc.enabled:
        _run_cdc(spark, config.cdc, settings, run, lake_root=lake_root, bootstrap=bootstrap_servers, key=key)
    else:
        run.missing["cdc"] = "operational.cdc.enabled is false"
    payments = config.payments
    if payments is None or not payments.enabled:
        run.missing["payments"] = "operational.payments is not enabled"
        return run
    job = HttpSourceLanding(
        source=payments.source,
        bronze=PAYMENTS_BRONZE,
        quarantine=PAYMENTS_QUARANTINE,
        lake_root=lake_root,
        product=PRODUCT,
        subject_key=key,
    )
    try:
        landed = land(job)
    except SourceUnavailableError as exc:
        run.missing["payments"] = f"not reachable: {exc}"
    else:
        run.payments_fetched, run.payments_landed = landed.fetched, landed.landed
        run.payments_quarantined = landed.quarantined
    if table_exists(spark, PAYMENTS_BRONZE.location(lake_root)):
        _refine_new_payments(spark, payments, lake_root=lake_root)
        run.payments = spark.read.format("delta").load(PAYMENTS.location(lake_root)).count()
    return run


def _refine_new_payments(spark: SparkSession, payments: PaymentsConfig, *, lake_root: str) -> None:
    """The payment versions landed since the last run → ``silver.payments``: each payment's
    newest version in the batch is upserted on its id where it is newer than the stored one, so
    a run touches the payments that changed, and a replayed batch (the job killed before its
    checkpoint) changes nothing."""
    ensure_table(spark, PAYMENTS, lake_root=lake_root)

    def upsert(batch: DataFrame, _batch_id: int) -> None:
        merge_upsert(
            refine_payments(batch, payments),
            PAYMENTS,
            lake_root=lake_root,
            keys=("payment_id",),
            update_condition="s.updated_at > t.updated_at",
        )

    source = IncrementalSource(
        location=PAYMENTS_BRONZE.location(lake_root),
        checkpoint=checkpoint_location(lake_root, PRODUCT, "silver-payments"),
    )
    run_incrementally(spark, source, upsert, name=f"{PRODUCT}-silver-payments")


def _run_cdc(
    spark: SparkSession,
    cdc: CdcConfig,
    settings: LakehouseSettings,
    run: OperationalRun,
    *,
    lake_root: str,
    bootstrap: str,
    key: bytes,
) -> None:
    source = cdc_source(cdc, settings)
    topics = tuple(source.topic(t) for t in source.tables)
    absent = sorted(set(topics) - list_topics(bootstrap))
    if absent:
        run.missing["cdc"] = f"topics not on Kafka yet: {', '.join(absent)} (is the connector running?)"
        return
    run.bronze_rows = run_bronze_ingestion(
        spark,
        BronzeIngestion(
            bootstrap_servers=bootstrap,
            topics=topics,
            table=OPERATIONAL_CHANGES,
            lake_root=lake_root,
            checkpoint=checkpoint_location(lake_root, PRODUCT, "bronze-operational"),
            subject_key=key,
        ),
    )
    customers, orders = cdc_tables(cdc, lake_root=lake_root, key=key)
    history = customers.history_location

    def order_keys(changes: DataFrame) -> DataFrame:
        """The customers' subject keys as they are when the batch is applied."""
        if not table_exists(spark, history):
            from pyspark.sql import functions as F

            return changes.withColumn("subject_key", F.lit(None).cast("string"))
        return with_order_subject_key(spark.read.format("delta").load(history))(changes)

    tables = [customers, replace(orders, derive=order_keys)]
    run.applied = run_cdc_apply_together(spark, tables, checkpoint=customers.checkpoint)


def read_operational(spark: SparkSession, *, lake_root: str) -> dict[str, DataFrame] | None:
    """silver.customers, silver.orders and silver.payments by name; a table not built yet is an
    empty frame with its contract's columns. None when neither customers nor payments are built
    (no operational source ever ran): the features need no join then."""
    specs = (CUSTOMERS, ORDERS, PAYMENTS)
    built = {spec.name: table_exists(spark, spec.location(lake_root)) for spec in specs}
    if not (built[CUSTOMERS.name] or built[PAYMENTS.name]):
        return None
    return {
        spec.name: spark.read.format("delta").load(spec.location(lake_root))
        if built[spec.name]
        else spark.createDataFrame([], spec.schema)
        for spec in specs
    }
