"""The event-collection kit: what only event products (tracking SDKs → collector → Kafka →
bronze → silver → gold → REST) share. The Segment contract and its collector, Segment parsing,
sessionisation, the refinement of tracked events, traffic generation, and
:class:`~lakehouse_events.product.EventProduct`, the declaration such a product hands the
platform. It builds on :mod:`lakehouse_core` and :mod:`lakehouse_platform`; neither imports it.
"""
