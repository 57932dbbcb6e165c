import hashlib
import ipaddress
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from lakehouse_events.generation import (
    PUBLIC_IPV4_FIRST_OCTETS,
    iso_millis,
    public_ip,
    seeded_uuid,
    unit_hash,
    weighted_choice,
)

pytestmark = pytest.mark.unit


def test_seeded_uuid_is_a_version_4_uuid_from_128_bits_of_the_generator() -> None:
    bits = random.Random(1).getrandbits(128)

    drawn = seeded_uuid(random.Random(1))

    assert drawn == str(uuid.UUID(int=bits, version=4))
    assert uuid.UUID(drawn).version == 4
    assert drawn == drawn.lower()
    assert seeded_uuid(random.Random(2)) != drawn


def test_weighted_choice_never_picks_a_zero_weight_and_follows_the_weights() -> None:
    rng = random.Random(5)
    assert {weighted_choice(rng, {"a": 0, "b": 1.0, "c": 0}) for _ in range(50)} == {"b"}

    picks = [weighted_choice(rng, {"often": 9, "rarely": 1}) for _ in range(2000)]

    assert 1650 < picks.count("often") < 1950


@pytest.mark.parametrize("weights", [{}, {"a": 0}, {"a": 0.0, "b": 0.0}])
def test_weighted_choice_refuses_weights_without_a_positive_one(weights: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="at least one positive weight"):
        weighted_choice(random.Random(0), weights)


def test_public_ip_gives_routable_ipv4_or_documentation_ipv6() -> None:
    rng = random.Random(9)
    v4 = [ipaddress.ip_address(public_ip(rng, ipv6_share=0.0)) for _ in range(300)]
    assert all(a.version == 4 and int(str(a).split(".")[0]) in PUBLIC_IPV4_FIRST_OCTETS for a in v4)
    assert all(not (a.is_private or a.is_loopback or a.is_reserved) for a in v4)

    v6 = [ipaddress.ip_address(public_ip(rng, ipv6_share=1.0)) for _ in range(50)]
    assert all(a in ipaddress.ip_network("2001:db8::/32") for a in v6)
    assert public_ip(random.Random(3)) == public_ip(random.Random(3))


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2024, 5, 1, 13, 4, 5, 678901, tzinfo=UTC), "2024-05-01T13:04:05.678Z"),
        (datetime(2024, 5, 1, 0, 0, tzinfo=UTC), "2024-05-01T00:00:00.000Z"),
        (datetime(2024, 5, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))), "2024-04-30T23:30:00.000Z"),
        (datetime(2024, 12, 31, 23, 59, 59, 999999), "2024-12-31T23:59:59.999Z"),
    ],
)
def test_iso_millis_writes_utc_with_milliseconds_and_z(moment: datetime, expected: str) -> None:
    assert iso_millis(moment) == expected


def test_unit_hash_is_the_blake2b_of_the_joined_parts_scaled_to_the_unit_interval() -> None:
    digest = hashlib.blake2b(b"device-7:2024-05-01:3", digest_size=8).digest()

    assert unit_hash("device-7", "2024-05-01", 3) == int.from_bytes(digest, "big") / 2**64
    assert unit_hash("device-7", "2024-05-01", 3) != unit_hash("device-7", "2024-05-01", 4)
    values = [unit_hash("k", n) for n in range(2000)]
    assert all(0.0 <= v < 1.0 for v in values)
    assert 0.45 < sum(values) / len(values) < 0.55
