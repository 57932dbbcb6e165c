"""Sources other than Kafka, landed in bronze by the shared core.

- :mod:`~lakehouse_core.sources.http_api`: a paginated REST API, described as data
  (:class:`~lakehouse_core.sources.http_api.HttpApiSource`), read page by page with retries.
- :mod:`~lakehouse_core.sources.landing`: its records landed in bronze once per record id and
  update time, invalid ones in quarantine, with a high-water mark for incremental runs.
"""
