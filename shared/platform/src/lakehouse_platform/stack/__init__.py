"""Local services started by the project itself (no Docker): a single-node Kafka broker."""
