"""Ingestion shared by every product: Kafka → bronze, and the quarantine table's shape."""
