"""Pytest plugin of the platform: real Spark, a real Kafka broker, a temporary lake."""
