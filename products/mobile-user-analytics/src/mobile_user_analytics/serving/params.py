"""The product's own query parameters (the shared ones live in ``lakehouse_core.serving.params``).

Gold tables hold two kinds of dimension value: a real one (``ios``, ``2.3.0``) and, in the
tables that store totals, ``all``. A ``*Total`` parameter selects rows by value, ``all`` being
the total; a ``*Filter`` parameter narrows the rows and leaves every value in when absent (or
``all``, for platforms).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query

Platform = Literal["ios", "android", "all"]
ALL = "all"

PlatformTotal = Annotated[
    Platform, Query(description="ios, android, or 'all' for the total over every platform.")
]
PlatformFilter = Annotated[
    Platform,
    Query(description="ios or android; 'all' keeps every platform, each row labelled with its own."),
]
AppVersionTotal = Annotated[
    str,
    Query(
        min_length=1, max_length=64, description="An app version, or 'all' for the total over every version."
    ),
]
AppVersionFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="Only this app version; default: every version."),
]
