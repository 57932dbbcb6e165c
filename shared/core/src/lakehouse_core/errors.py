"""One error base for the platform, with precise subclasses a caller can act on.

Every error carries a message that names what failed (a table, a key, a topic) and is raised
``from`` the underlying library exception so the cause stays in the traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class LakehouseError(Exception):
    """Base class of every error raised by the platform's own code."""


class ConfigError(LakehouseError):
    """Configuration is missing or invalid; the message names the offending key and file."""


class MissingArtefactsError(LakehouseError):
    """JVM artefacts (Spark, Delta or Kafka jars) are not installed; run ``make setup``."""


class TableError(LakehouseError):
    """A Delta table operation failed."""

    def __init__(self, message: str, *, table: str) -> None:
        super().__init__(f"{table}: {message}")
        self.table = table


class TableNotFoundError(TableError):
    """The Delta table does not exist at its location."""


class SchemaMismatchError(TableError):
    """Data does not fit the table's schema."""


class KafkaError(LakehouseError):
    """A Kafka operation failed."""


class DeliveryError(KafkaError):
    """The broker did not acknowledge one or more messages."""

    def __init__(self, message: str, *, failed: int, total: int) -> None:
        super().__init__(message)
        self.failed = failed
        self.total = total


class JobError(LakehouseError):
    """A pipeline job failed; the message names the job and the cause."""


class DataError(LakehouseError):
    """The input data is wrong: running again on the same input fails the same way.

    Retrying cannot help (the orchestrator records such a task as failed at its first attempt);
    fix the producer, the data or the rules, then run again. Any other error may be transient
    (a broker or disk outage) and is retried.
    """


class QualityError(DataError):
    """A data-quality expectation with the ``fail`` action was violated, or a suite rejected
    too large a share of a batch.

    ``failures`` maps each rule that caught rows to how many, out of ``rows`` checked.
    """

    def __init__(self, message: str, *, failures: Mapping[str, int] | None = None, rows: int = 0) -> None:
        super().__init__(message)
        self.failures = dict(failures or {})
        self.rows = rows


class SystemicBreakageError(QualityError):
    """More than a suite's ``max_quarantine_fraction`` of a batch failed its ``drop`` rules:
    a broken producer or rule, not a few bad rows.

    ``rejected`` holds the rows the suite sent to quarantine (the runner's quarantine output,
    with the failed rule names), so the caller can still store them before stopping.
    """

    def __init__(
        self,
        message: str,
        *,
        failures: Mapping[str, int],
        rows: int,
        rejected: DataFrame | None = None,
    ) -> None:
        super().__init__(message, failures=failures, rows=rows)
        self.rejected = rejected
