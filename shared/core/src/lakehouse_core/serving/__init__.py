"""Building blocks for the REST APIs that serve gold tables, shared by every product.

- :mod:`~lakehouse_core.serving.tables`: :class:`ServedTable` (a table read through delta-rs,
  its results cached per table version) and the rule that a table the pipeline has not
  produced yet answers 503.
- :mod:`~lakehouse_core.serving.cache`: :class:`QueryCache`, LRU keyed by table version and
  bounded by the estimated bytes of its results.
- :mod:`~lakehouse_core.serving.params`: the date range and pagination query parameters and the
  page response model.
- :mod:`~lakehouse_core.serving.auth`: API keys with roles (``X-API-Key``).
- :mod:`~lakehouse_core.serving.arrow`: pyarrow filters, sums, weighted means and rows to
  response models, for the queries behind the routes.
- :mod:`~lakehouse_core.serving.contracts`: Arrow schemas and API response models derived from a
  product's pydantic contracts.
"""
