"""Response models of aggregated views, derived from the gold contracts field by field.

Daily distinct devices cannot be added up into distinct devices over a longer period (a device
used on three days is one device, but three daily devices). Aggregates over several days
therefore report ``device_days``: the sum of the daily distinct device counts.
"""

from __future__ import annotations

from lakehouse_core.serving.contracts import derived_model
from mobile_user_analytics.contracts import ScreenStats, ScreenTransition

DEVICE_DAYS = (
    "Daily distinct devices summed over the days aggregated (a device seen on 3 days counts 3); "
    "not distinct devices, which cannot be summed from daily counts."
)

ScreenSummary = derived_model(
    "ScreenSummary",
    ScreenStats,
    exclude=("date",),
    rename={"devices": "device_days"},
    descriptions={
        "views": "Views summed over the range.",
        "device_days": DEVICE_DAYS,
        "avg_seconds_on_screen": "Daily averages weighted by views (days without a value are left "
        "out); null when no day has one.",
        "entries": "Views that were the first screen of their session, summed over the range.",
        "exits": "Views that were the last screen of their session, summed over the range.",
    },
    doc="One screen over the requested range.",
)

ScreenTransitionTotal = derived_model(
    "ScreenTransitionTotal",
    ScreenTransition,
    exclude=("date",),
    descriptions={"transitions": "Transitions from from_screen to to_screen, summed over the range."},
    doc="One screen-to-screen step over the requested range.",
)
