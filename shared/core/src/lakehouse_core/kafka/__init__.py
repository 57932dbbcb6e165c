"""Kafka connectors: producer, consumer helpers, admin, and the Spark Kafka source options."""
