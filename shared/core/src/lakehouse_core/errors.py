"""One error base for the platform, with precise subclasses a caller can act on.

Every error carries a message that names what failed (a table, a key, a topic) and is raised
``from`` the underlying library exception so the cause stays in the traceback.
"""

from __future__ import annotations


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


class QualityError(LakehouseError):
    """A data-quality expectation with the ``fail`` action was violated."""
