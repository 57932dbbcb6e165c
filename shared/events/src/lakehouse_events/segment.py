"""The Segment HTTP Tracking API wire format: the contract of what tracking SDKs send.

Web and mobile SDKs (Segment, RudderStack and compatible) post these messages; the collector
validates them with these models and forwards a normalised envelope to Kafka. Unknown fields
are kept (``extra="allow"``): SDKs add fields over time and nothing a client sent is lost.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MessageType = Literal["track", "page", "screen", "identify", "alias", "group"]
MESSAGE_TYPES: tuple[MessageType, ...] = ("track", "page", "screen", "identify", "alias", "group")

#: The spec's limits: one message and one batch request, in bytes.
MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def _iso_8601_only(value: object) -> object:
    """The spec's timestamps are ISO-8601 strings. A number is refused rather than guessed at:
    pydantic would read it as seconds or milliseconds by its size, Spark always as seconds."""
    if value is not None and not isinstance(value, (str, datetime)):
        raise ValueError(f"must be an ISO-8601 date-time string, got {type(value).__name__} {value!r}")
    return value


def _id_as_string(value: object) -> object:
    """Several SDKs send ids as JSON numbers; the spec's own collectors store them as strings,
    and so does this contract (``4711`` → ``"4711"``). Other types (floats, booleans, objects)
    are refused with their type, since any text made of them would be a guess."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"must be a string or an integer, got {type(value).__name__} {value!r}")
    return value


def control_character(text: str) -> str | None:
    """The first control character (Unicode category ``Cc``: U+0000-U+001F, U+007F-U+009F) in
    ``text`` as ``U+XXXX at position N``, or None. Such a character in an event name shows a
    broken producer and breaks every report that prints names."""
    for position, character in enumerate(text):
        if unicodedata.category(character) == "Cc":
            return f"U+{ord(character):04X} at position {position}"
    return None


def _no_control_characters(value: object) -> object:
    if isinstance(value, str) and (found := control_character(value)) is not None:
        raise ValueError(f"must not contain control characters ({found})")
    return value


class PageContext(_Open):
    path: str | None = None
    referrer: str | None = None
    search: str | None = None
    title: str | None = None
    url: str | None = None


class Campaign(_Open):
    name: str | None = None
    source: str | None = None
    medium: str | None = None
    term: str | None = None
    content: str | None = None


class AppContext(_Open):
    name: str | None = None
    version: str | None = None
    build: str | None = None
    namespace: str | None = None


class DeviceContext(_Open):
    id: str | None = None
    advertising_id: str | None = Field(default=None, alias="advertisingId")
    manufacturer: str | None = None
    model: str | None = None
    name: str | None = None
    type: str | None = None


class OsContext(_Open):
    name: str | None = None
    version: str | None = None


class NetworkContext(_Open):
    bluetooth: bool | None = None
    carrier: str | None = None
    cellular: bool | None = None
    wifi: bool | None = None


class ScreenContext(_Open):
    width: int | None = None
    height: int | None = None
    density: float | None = None


class LocationContext(_Open):
    city: str | None = None
    country: str | None = None
    region: str | None = None


class ConsentContext(_Open):
    """Segment Consent Management's stamp on every event: the person's choice per consent
    category at the time of the event (``{"Analytics": true, "Advertising": false}``)."""

    category_preferences: dict[str, Any] | None = Field(default=None, alias="categoryPreferences")


class Context(_Open):
    ip: str | None = None
    locale: str | None = None
    timezone: str | None = None
    user_agent: str | None = Field(default=None, alias="userAgent")
    page: PageContext | None = None
    campaign: Campaign | None = None
    app: AppContext | None = None
    device: DeviceContext | None = None
    os: OsContext | None = None
    network: NetworkContext | None = None
    screen: ScreenContext | None = None
    location: LocationContext | None = None
    traits: dict[str, Any] | None = None
    consent: ConsentContext | None = None


class SegmentMessage(_Open):
    """One call: ``track``, ``page``, ``screen``, ``identify``, ``alias`` or ``group``."""

    type: MessageType
    message_id: str | None = Field(default=None, alias="messageId", max_length=200)
    anonymous_id: str | None = Field(default=None, alias="anonymousId", max_length=200)
    user_id: str | None = Field(default=None, alias="userId", max_length=200)
    timestamp: datetime | None = None
    original_timestamp: datetime | None = Field(default=None, alias="originalTimestamp")
    sent_at: datetime | None = Field(default=None, alias="sentAt")
    event: str | None = None
    name: str | None = None
    category: str | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: Context | None = None
    integrations: dict[str, Any] | None = None
    group_id: str | None = Field(default=None, alias="groupId")
    previous_id: str | None = Field(default=None, alias="previousId")

    _timestamps_are_strings = field_validator("timestamp", "original_timestamp", "sent_at", mode="before")(
        _iso_8601_only
    )
    _ids_are_strings = field_validator("anonymous_id", "user_id", "group_id", "previous_id", mode="before")(
        _id_as_string
    )
    _names_are_printable = field_validator("event", "name", mode="after")(_no_control_characters)

    @model_validator(mode="after")
    def _required_fields(self) -> SegmentMessage:
        if not (self.user_id or self.anonymous_id):
            raise ValueError("either userId or anonymousId is required")
        if self.type == "track" and not self.event:
            raise ValueError("track calls require an event name")
        if self.type == "alias" and not self.previous_id:
            raise ValueError("alias calls require previousId")
        if self.type == "group" and not self.group_id:
            raise ValueError("group calls require groupId")
        return self


IMPORT_FIELD = "_import"
"""The top-level field that marks a message as imported history (see :class:`ImportMarker`)."""


class ImportMarker(_Open):
    """Written by a product's ``import`` command into each historical message it puts on the
    events topic. Bronze stores the message as it is, so the marker reaches silver with it."""

    source: str | None = Field(default=None, description="The file or topic the message came from.")
    imported_at: datetime | None = Field(default=None, alias="importedAt")


class CollectedMessage(SegmentMessage):
    """What the collector writes to Kafka: the message as sent, plus the collector's facts.

    The batch's ``sentAt`` and ``context`` are folded into each message (the message's own
    values win), ``context.ip`` falls back to the request's client address, a missing
    ``messageId`` is generated, ``writeKey`` is dropped, and ``receivedAt`` is the collector's
    clock. The Kafka key is ``userId``, else ``anonymousId``. Imported history has the same
    shape, with an :class:`ImportMarker` in ``_import``.
    """

    message_id: str = Field(alias="messageId", max_length=200)
    received_at: datetime = Field(alias="receivedAt")
    imported: ImportMarker | None = Field(default=None, alias="_import")


SECONDS_PER_DAY = 86_400


class EventTimeWindow(BaseModel):
    """How far an event's (skew-corrected) time may lie from its ``receivedAt`` and still be
    believed; each product's ``event_time:`` configuration.

    A live SDK sends within minutes, or within days from an app that was offline, so an event
    much older than its receipt is a broken device clock. Imported history is old by nature:
    a message carrying the import marker may be up to ``imported_max_days_before_received``
    days older than its ``receivedAt`` instead (which the import keeps from the file when it
    has one, else sets to the moment of the import). The bound after ``receivedAt`` is the
    same for both: nothing can have happened after it was received.
    """

    model_config = ConfigDict(frozen=True)

    max_days_before_received: int = Field(default=400, ge=0)
    max_seconds_after_received: int = Field(default=SECONDS_PER_DAY, ge=0)
    imported_max_days_before_received: int = Field(
        default=3650, ge=0, description="For imported history only (messages with the import marker)."
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def corrected_timestamp(message: SegmentMessage, received_at: datetime) -> datetime:
    """When the event happened, on the server's clock.

    Devices' clocks drift, so Segment corrects by the skew seen at send time:
    ``receivedAt - (sentAt - originalTimestamp)``. A message without ``sentAt`` keeps its own
    ``timestamp`` (or ``originalTimestamp``); one without any time takes ``receivedAt``.
    """
    device_time = message.original_timestamp or message.timestamp
    if message.sent_at is not None and device_time is not None:
        return received_at - (_aware(message.sent_at) - _aware(device_time))
    if device_time is not None:
        return _aware(device_time)
    return received_at
