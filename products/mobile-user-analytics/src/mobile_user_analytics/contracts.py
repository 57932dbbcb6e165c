"""The schemas of mobile-user-analytics, each written once.

Wire format: :class:`lakehouse_events.segment.SegmentMessage` with the spec's mobile context
(``context.app``, ``.device``, ``.os``, ``.network``, ``.screen``, ``.locale``, ``.timezone``).
Here: the silver and gold tables. Spark schemas, API models and docs derive from these models.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

#: The spec's lifecycle events, and the crash event the SDKs' crash reporters send.
LIFECYCLE_EVENTS = {
    "Application Installed": "installed",
    "Application Opened": "opened",
    "Application Backgrounded": "backgrounded",
    "Application Updated": "updated",
    "Application Crashed": "crashed",
}


class MobileEvent(BaseModel):
    """Silver: one validated, deduplicated, pseudonymised tracking call from an app."""

    event_id: str = Field(description="The SDK's messageId; unique across the table.")
    event_type: str = Field(description="track, screen, identify, alias, group or page.")
    event_name: str | None = Field(description="Track event name or screen name.")
    device_key: str = Field(description="Keyed HMAC of context.device.id, else of the anonymous id.")
    user_key: str | None = Field(
        description="Keyed HMAC of the user id with this product's key, when the app knows the user."
    )
    event_ts: datetime = Field(description="When it happened, clock-skew corrected (UTC).")
    received_at: datetime
    event_date: date = Field(description="UTC date of event_ts (late batches land on their own day).")
    session_id: str | None = Field(description="App session of the event (all but identify/alias/group).")
    lifecycle: str | None = Field(description="installed, opened, backgrounded, updated or crashed.")
    screen_name: str | None = Field(description="The screen shown, for screen calls.")
    app_name: str | None
    app_version: str | None
    app_build: str | None
    previous_app_version: str | None = Field(description="From Application Updated's properties.")
    platform: str = Field(description="ios, android or other (from context.os.name).")
    os_version: str | None
    device_manufacturer: str | None
    device_model: str | None
    device_type: str | None
    network_wifi: bool | None
    network_carrier: str | None
    screen_width: int | None
    screen_height: int | None
    locale: str | None
    timezone: str | None
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
    subject_key: str | None = Field(
        default=None,
        description="The person: HMAC of the user id with the platform key (LAKEHOUSE_SUBJECT_KEY); "
        "null when the app does not know the user.",
    )


class ScreenView(BaseModel):
    """Silver: one screen view with the screens before and after it in the same session."""

    event_id: str
    session_id: str
    device_key: str
    event_date: date
    viewed_at: datetime
    screen_name: str
    previous_screen: str | None = Field(description="The session's previous screen; null at entry.")
    next_screen: str | None = Field(description="The session's next screen; null at exit.")
    seconds_on_screen: float | None = Field(description="Until the next event of the session.")
    app_version: str | None
    platform: str


class AppSession(BaseModel):
    """Silver: a period of use. It ends after 30 minutes without events or in background."""

    session_id: str
    device_key: str
    user_key: str | None
    session_date: date = Field(description="UTC date the session started; the partition column.")
    started_at: datetime
    ended_at: datetime
    duration_seconds: float = Field(description="ended_at - started_at.")
    events: int
    screen_views: int
    app_version: str | None = Field(description="App version at the session's start.")
    platform: str
    os_version: str | None
    crashed: bool = Field(description="An Application Crashed event happened in the session.")
    subject_key: str | None = Field(
        default=None,
        exclude=True,
        description="The subject key of the session's first known user (as user_key); null when none. "
        "Not in API answers.",
    )


class ActiveUsers(BaseModel):
    """Gold: devices active on a day and in the 7 and 30 days ending that day, per platform."""

    date: date
    platform: str = Field(description="ios, android, other, or 'all'.")
    dau: int
    wau: int
    mau: int
    stickiness: float = Field(description="dau / mau; 0.0 when mau is 0.")


class SessionStats(BaseModel):
    """Gold: sessions per day by platform and app version ('all' rows hold the totals)."""

    date: date
    platform: str
    app_version: str
    sessions: int
    devices: int
    sessions_per_device: float
    avg_session_seconds: float
    median_session_seconds: float


class ScreenStats(BaseModel):
    """Gold: one screen on one day."""

    date: date
    screen_name: str
    views: int
    devices: int
    avg_seconds_on_screen: float | None
    entries: int = Field(description="Views that were the first screen of their session.")
    exits: int = Field(description="Views that were the last screen of their session.")


class ScreenTransition(BaseModel):
    """Gold: how often users went from one screen to the next on one day."""

    date: date
    from_screen: str
    to_screen: str
    transitions: int


class InstallCohort(BaseModel):
    """Gold: devices that installed on a day, and how many came back on day 1, 7 and 30."""

    install_date: date
    platform: str
    installs: int
    retained_d1: int
    retained_d7: int
    retained_d30: int
    retention_d1: float
    retention_d7: float
    retention_d30: float


class VersionAdoption(BaseModel):
    """Gold: active devices per app version on one day, and their share of the platform."""

    date: date
    platform: str
    app_version: str
    devices: int
    share: float


class OsAdoption(BaseModel):
    """Gold: active devices per OS version on one day, and their share of the platform."""

    date: date
    platform: str
    os_version: str
    devices: int
    share: float


class CrashFree(BaseModel):
    """Gold: crash-free sessions and devices per app version on one day."""

    date: date
    platform: str
    app_version: str
    sessions: int
    crashed_sessions: int
    crash_free_sessions: float
    devices: int
    crashed_devices: int
    crash_free_devices: float


class DeviceDay(BaseModel):
    """Gold (internal): one device's events and sessions of one day; the device dimension is
    aggregated from these rows, so a batch reads only the affected days of silver."""

    device_key: str
    date: date
    events: int = Field(description="Events with event_date = date, every type included.")
    sessions: int = Field(description="Sessions that started that day.")
    crashes: int = Field(description="Application Crashed events that day.")
    installs: int = Field(description="Application Installed events that day.")
    first_event_at: datetime | None = Field(description="Earliest event_ts that day; null without events.")
    last_event_at: datetime | None = Field(description="Latest event_ts that day; null without events.")
    platform: str | None = Field(description="Of the day's latest event (by event_ts, then event_id).")
    device_manufacturer: str | None = Field(
        description="The latest non-null value of the day's events (so are the columns below)."
    )
    device_model: str | None
    os_version: str | None
    app_version: str | None


class DeviceDimension(BaseModel):
    """Gold: one row per pseudonymous device."""

    device_key: str
    platform: str
    device_manufacturer: str | None
    device_model: str | None
    os_version: str | None = Field(description="Latest seen.")
    app_version: str | None = Field(description="Latest seen.")
    first_seen: datetime
    last_seen: datetime
    install_date: date | None = Field(description="Date of Application Installed, when seen.")
    sessions: int
    events: int
    crashes: int
