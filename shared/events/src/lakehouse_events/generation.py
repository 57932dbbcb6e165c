"""Building blocks for seeded, reproducible test traffic.

Every product's traffic generator draws its ids, addresses and choices from seeded
:class:`random.Random` instances, so the same seed always gives the same messages. Where a
fact must be known without replaying history (was this device active on that day?),
:func:`unit_hash` gives a stable uniform number for any tuple of parts.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")

#: First octets of publicly routed IPv4 blocks (no private, loopback or reserved ranges).
PUBLIC_IPV4_FIRST_OCTETS = (23, 31, 45, 62, 77, 81, 91, 109, 151, 176, 185, 188, 203, 212)


def seeded_uuid(rng: random.Random) -> str:
    """A random (version 4) UUID drawn from ``rng``, lower-case as ``str(uuid)`` writes it."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def weighted_choice(rng: random.Random, weights: Mapping[T, float]) -> T:
    """One key of ``weights``, drawn with probability proportional to its weight."""
    if not weights or sum(weights.values()) <= 0:
        raise ValueError("weighted_choice needs at least one positive weight")
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def public_ip(rng: random.Random, *, ipv6_share: float = 0.12) -> str:
    """A client address: IPv6 in the documentation prefix ``2001:db8::/32`` with probability
    ``ipv6_share``, else IPv4 in one of :data:`PUBLIC_IPV4_FIRST_OCTETS`' blocks."""
    if rng.random() < ipv6_share:
        groups = [0x2001, 0x0DB8, *(rng.getrandbits(16) for _ in range(6))]
        return ":".join(f"{g:x}" for g in groups)
    first = rng.choice(PUBLIC_IPV4_FIRST_OCTETS)
    return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def iso_millis(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``, as tracking SDKs write timestamps.

    A naive ``moment`` is taken as UTC.
    """
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def unit_hash(*parts: object) -> float:
    """A number in ``[0, 1)`` that depends only on ``parts`` (their ``str``), stable across runs
    and Python versions (BLAKE2b, unlike the salted built-in ``hash``)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
