"""The shared core of the data platform: connectors, configuration, observability and quality.

Import from the concept's module (``lakehouse_core.delta``, ``lakehouse_core.kafka.producer``,
``lakehouse_core.quality``...); this package namespace deliberately re-exports nothing.
"""
