"""The schemas of web-user-analytics, each written once.

Wire format: :class:`lakehouse_events.segment.SegmentMessage` (what the SDKs send). Here: the
silver and gold tables. Spark schemas (``spark_schema``), API response models and the docs'
table descriptions derive from these models.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class WebEvent(BaseModel):
    """Silver: one validated, deduplicated, pseudonymised and enriched tracking call."""

    event_id: str = Field(description="The SDK's messageId; unique across the table.")
    event_type: str = Field(description="track, page, screen, identify, alias or group.")
    event_name: str | None = Field(description="Track event name or page name.")
    visitor_id: str = Field(description="Keyed HMAC of the user id, else of the anonymous id.")
    event_ts: datetime = Field(description="When it happened, clock-skew corrected (UTC).")
    received_at: datetime
    event_date: date = Field(description="UTC date of event_ts; the partition column.")
    session_id: str | None = Field(description="Session the event belongs to (page/track).")
    page_url: str | None
    page_host: str | None
    page_path: str | None
    page_query: str | None
    page_title: str | None
    referrer_host: str | None
    referrer_class: str = Field(description="direct, internal, search, social, email, or other.")
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_term: str | None
    utm_content: str | None
    browser: str | None
    os: str | None
    device_type: str = Field(description="desktop, mobile, tablet, bot or other.")
    is_bot: bool
    ip_truncated: str | None = Field(description="IPv4 /24 or IPv6 /48 network, never the full address.")
    country: str | None
    properties_json: str | None = Field(description="Event properties as JSON, PII keys removed.")
    traits_json: str | None = Field(
        description="Traits as JSON, PII keys removed (a group call's company name is kept)."
    )
    previous_id: str | None = Field(description="Alias calls: keyed HMAC of previousId (the earlier id).")
    group_id: str | None = Field(description="Group calls: keyed HMAC of groupId (the account).")
    imported: bool = Field(description="Loaded by the import command (history), not by the collector.")
    source_partition: int = Field(description="Kafka partition of the bronze record (lineage).")
    source_offset: int = Field(description="Kafka offset of the bronze record (lineage).")
    anonymous_id: str | None = Field(
        default=None, description="Keyed HMAC of the anonymous id (this product's key), when sent."
    )
    subject_key: str | None = Field(
        default=None,
        description="The person: HMAC of the user id with the platform key (LAKEHOUSE_SUBJECT_KEY); "
        "null when anonymous.",
    )


class WebSession(BaseModel):
    """Silver: a visit. It ends after 30 minutes without events, or when a new campaign starts."""

    session_id: str
    visitor_id: str
    session_date: date = Field(description="UTC date the session started; the partition column.")
    started_at: datetime
    ended_at: datetime
    duration_seconds: float = Field(description="ended_at - started_at.")
    events: int
    page_views: int
    landing_path: str | None
    exit_path: str | None
    is_bounce: bool = Field(description="Exactly one page view and no other interaction.")
    source: str = Field(description="utm_source, else referrer host, else '(direct)'.")
    medium: str = Field(description="utm_medium, else the referrer class, else '(none)'.")
    campaign: str = Field(description="utm_campaign, else '(not set)'.")
    referrer_host: str | None
    device_type: str
    browser: str | None
    os: str | None
    country: str | None
    subject_key: str | None = Field(
        default=None,
        exclude=True,
        description="The visitor's subject key (platform key); null for an anonymous visitor. "
        "Not in API answers.",
    )


class DailyTraffic(BaseModel):
    """Gold: traffic per day, by device type and country ('all' rows hold the totals)."""

    date: date
    device_type: str
    country: str
    visitors: int
    sessions: int
    page_views: int
    bounce_rate: float
    avg_session_duration_seconds: float


class PageStats(BaseModel):
    """Gold: one page path on one day."""

    date: date
    page_path: str
    views: int
    unique_visitors: int
    entrances: int
    exits: int
    avg_time_on_page_seconds: float | None


class Acquisition(BaseModel):
    """Gold: sessions by traffic source on one day."""

    date: date
    source: str
    medium: str
    campaign: str
    referrer_host: str
    sessions: int
    visitors: int
    page_views: int
    bounce_rate: float


class FunnelStep(BaseModel):
    """Gold: how many sessions reached each step of a configured funnel on one day."""

    date: date
    funnel: str
    step_index: int
    step_name: str
    sessions: int
    conversion_from_start: float
    conversion_from_previous: float


class RetentionCohort(BaseModel):
    """Gold: visitors first seen in a week, and how many came back N weeks later."""

    cohort_week: date = Field(description="Monday of the week of the visitor's first session.")
    week_offset: int
    cohort_size: int
    retained_visitors: int
    retention_rate: float


class VisitorDay(BaseModel):
    """Gold (internal): one visitor's non-bot activity on one day; the user dimension is summed
    from these rows, so a batch reads only the affected days of silver."""

    visitor_id: str
    date: date
    events: int = Field(description="Non-bot events with event_date = date, of every type.")
    page_views: int
    first_event_at: datetime | None = Field(description="Earliest event_ts that day; null without events.")
    last_event_at: datetime | None = Field(description="Latest event_ts that day; null without events.")
    sessions: int = Field(description="Non-bot sessions that started that day.")
    first_session_started_at: datetime | None = Field(
        description="The day's first session (by started_at, then session_id); null without sessions."
    )
    first_session_id: str | None
    first_source: str | None
    first_medium: str | None
    first_campaign: str | None
    subject_key: str | None = Field(
        default=None, description="The visitor's subject key (platform key); null for an anonymous visitor."
    )


class UserDimension(BaseModel):
    """Gold: one row per pseudonymous visitor."""

    visitor_id: str
    first_seen: datetime
    last_seen: datetime
    sessions: int
    events: int
    page_views: int
    first_source: str
    first_medium: str
    first_campaign: str
    subject_key: str | None = Field(
        default=None, description="The visitor's subject key (platform key); null for an anonymous visitor."
    )
