"""The column mask: a key without the role ``user_reader`` never receives a pseudonymous id.

The catalog knows which columns identify a person (a column's ``subject``: every kind but free
text); a JSON answer of a product to such a key loses every field of those names, at any depth.
"""

from __future__ import annotations

from typing import Any

from lakehouse_core.serving.audit import SUBJECT_PARAMETERS
from lakehouse_core.tables import Layer, SubjectKind
from lakehouse_platform.catalog import Catalog

SERVED_LAYERS = (Layer.SILVER, Layer.GOLD)


def subject_fields(catalog: Catalog) -> frozenset[str]:
    """The names of the identifying subject columns of served tables (silver and gold), and the
    path parameters that name a person."""
    columns = {
        c.name
        for entry in catalog.entries.values()
        if entry.layer in SERVED_LAYERS
        for c in entry.columns
        if c.subject is not None and c.subject is not SubjectKind.FREE_TEXT
    }
    return frozenset(columns | set(SUBJECT_PARAMETERS))


def masked(value: Any, fields: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: masked(v, fields) for k, v in value.items() if k not in fields}
    if isinstance(value, list):
        return [masked(v, fields) for v in value]
    return value
