"""One module per resource: each reads its table through a :class:`ServedTable` (filters pushed
down to the Delta files, partition columns first), aggregates with pyarrow, and caches the
result under the table version."""
