"""Response models of aggregated views, derived from the gold contracts field by field.

Daily unique visitors cannot be added up into distinct visitors over a longer period (someone
who visits on three days is one visitor, but three daily visitors). Aggregates over several days
therefore report ``visitor_days``: the sum of the daily unique visitor counts.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from lakehouse_core.serving.contracts import derived_model
from web_user_analytics.contracts import Acquisition, DailyTraffic, FunnelStep, PageStats

VISITOR_DAYS = (
    "Daily unique visitors summed over the days aggregated (a visitor seen on 3 days counts 3); "
    "not distinct visitors, which cannot be summed from daily counts."
)

TrafficPeriod = derived_model(
    "TrafficPeriod",
    DailyTraffic,
    rename={"date": "period_start", "visitors": "visitor_days"},
    descriptions={
        "period_start": "Monday of the week, or the 1st of the month; only days inside the requested "
        "range are aggregated.",
        "visitor_days": VISITOR_DAYS,
        "bounce_rate": "Bounce rate of the period: daily rates weighted by sessions.",
        "avg_session_duration_seconds": "Daily averages weighted by sessions.",
    },
    doc="Traffic per week or month, by device type and country ('all' rows hold the totals).",
)

PageSummary = derived_model(
    "PageSummary",
    PageStats,
    exclude=("date",),
    rename={"unique_visitors": "visitor_days"},
    descriptions={
        "visitor_days": VISITOR_DAYS,
        "avg_time_on_page_seconds": "Daily averages weighted by views - exits, the views they cover "
        "(days without a value are left out); null when no day has one.",
    },
    doc="One page path over the requested range.",
)

AcquisitionGroup = derived_model(
    "AcquisitionGroup",
    Acquisition,
    exclude=("date", "source", "medium", "campaign", "referrer_host"),
    rename={"visitors": "visitor_days"},
    leading={"group": (str, "The value of the group_by column (a source, medium, campaign or host).")},
    descriptions={"visitor_days": VISITOR_DAYS, "bounce_rate": "Daily rates weighted by sessions."},
    doc="Sessions of one traffic source (or medium, campaign, referrer host) over the range.",
)

_FunnelStepTotal = derived_model(
    "FunnelStepTotal",
    FunnelStep,
    exclude=("date", "funnel"),
    descriptions={
        "sessions": "Sessions that reached the step, summed over the range.",
        "conversion_from_start": "sessions / sessions of step 0 (0 when step 0 has none).",
        "conversion_from_previous": "sessions / sessions of the previous step (0 when it has none; "
        "step 0 compares with itself).",
    },
    doc="One funnel step over the requested range.",
)


class FunnelStepTotal(_FunnelStepTotal):  # type: ignore[valid-type,misc]
    alternatives: list[str] = Field(description="Event names or page paths, any of which reaches the step.")


class FunnelReport(BaseModel):
    funnel: str
    start: date
    end: date
    window_minutes: int | None = Field(
        description="Later steps count only this long after the session first reached step 1; null: "
        "anywhere later in the session."
    )
    steps: list[FunnelStepTotal] = Field(description="Every configured step, in order.")
