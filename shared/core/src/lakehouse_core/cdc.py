"""Change data capture from PostgreSQL with Debezium: the connector's configuration, and the pure
transforms that turn its change events (landed in bronze like any topic) into a table's change
history and current state.

Debezium writes one topic per table, ``<topic_prefix>.<schema>.<table>``, keyed by the primary
key: first a snapshot of the existing rows (``op = r``), then every insert, update and delete
(``c``, ``u``, ``d``) read from the write-ahead log through the ``pgoutput`` plug-in, each with
its log position (``source.lsn``). A delete is followed by a tombstone (an empty value) that
compacts the topic; the ``d`` event before it carries the change.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class PostgresCdcSource:
    """One PostgreSQL database captured by one Debezium connector."""

    name: str
    host: str
    port: int
    user: str
    database: str
    tables: tuple[str, ...]
    topic_prefix: str
    password: str = ""

    @property
    def slot_name(self) -> str:
        return "".join(c if c.isalnum() else "_" for c in self.name.lower())

    def topic(self, table: str) -> str:
        """The topic of ``table`` (``schema.table``)."""
        return f"{self.topic_prefix}.{table}"

    def connector_config(self) -> dict[str, str]:
        """Kafka Connect configuration of the Debezium connector: a snapshot of the existing rows
        first, then streaming from the replication slot; its topics created by the worker."""
        return {
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "tasks.max": "1",
            "plugin.name": "pgoutput",
            "database.hostname": self.host,
            "database.port": str(self.port),
            "database.user": self.user,
            "database.password": self.password,
            "database.dbname": self.database,
            "topic.prefix": self.topic_prefix,
            "table.include.list": ",".join(self.tables),
            "slot.name": self.slot_name,
            "publication.name": f"{self.slot_name}_publication",
            "publication.autocreate.mode": "filtered",
            "snapshot.mode": "initial",
            "decimal.handling.mode": "double",
            "time.precision.mode": "adaptive_time_microseconds",
            "tombstones.on.delete": "true",
            "topic.creation.default.replication.factor": "1",
            "topic.creation.default.partitions": "1",
            "topic.creation.default.cleanup.policy": "delete",
        }
