"""The platform's API gateway: every installed product's API mounted under ``/<product>`` in one
process, the catalog under ``/catalog`` and key administration under ``/admin``, behind one set of
API keys with roles, quotas, freshness headers and a column mask (ADR-016)."""
