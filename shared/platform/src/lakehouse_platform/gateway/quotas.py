"""Requests per key per minute and per UTC day, counted in fixed windows under one lock: a burst
of concurrent requests is admitted exactly up to the limit, the rest refused with the seconds
until the window that ran out ends."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from lakehouse_platform.gateway.keys import Quota

MINUTE = 60.0
DAY = 86400.0


@dataclass
class _Window:
    start: float
    count: int = 0


class QuotaCounter:
    """Counts of this process (a gateway restart starts them afresh)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, float], _Window] = {}

    def admit(self, key_id: str, quota: Quota, now: datetime) -> int | None:
        """Count one request of ``key_id`` at ``now``; None when admitted, else the seconds to
        wait (the request is not counted)."""
        instant = now.timestamp()
        day_start = datetime(now.year, now.month, now.day, tzinfo=UTC).timestamp()
        limits = [
            (MINUTE, instant - instant % MINUTE, quota.per_minute),
            (DAY, day_start, quota.per_day),
        ]
        with self._lock:
            windows = []
            for length, start, limit in limits:
                if limit is None:
                    continue
                window = self._windows.get((key_id, length))
                if window is None or window.start != start:
                    window = self._windows[(key_id, length)] = _Window(start)
                if window.count >= limit:
                    return max(1, math.ceil(start + length - instant))
                windows.append(window)
            for window in windows:
                window.count += 1
        return None
