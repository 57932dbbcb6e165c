"""The Segment-compatible HTTP collector shared by every product that receives tracking events."""

from lakehouse_events.collector.app import CollectorConfig, create_collector_app, product_collector_app

__all__ = ["CollectorConfig", "create_collector_app", "product_collector_app"]
