"""Pseudonymisation and minimisation of personal data, as native Spark expressions.

Everything here runs inside the JVM (no Python UDFs), so it costs no serialisation round-trip
per row. Identifiers are pseudonymised with a keyed HMAC: the same id always maps to the same
value (joins and counts still work), but without the key nobody can test a guessed email or
user id against it, which a plain hash would allow.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import SecretStr

from lakehouse_core.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import Column

_SHA256_BLOCK_BYTES = 64

#: Keys of free-form JSON objects (properties, traits) that hold personal data. Matching ignores
#: case, ``_`` and ``-``, so ``firstName``, ``first_name`` and ``FIRST-NAME`` are all caught.
PII_KEYS: tuple[str, ...] = (
    "email",
    "phone",
    "mobile",
    "name",
    "firstName",
    "lastName",
    "fullName",
    "username",
    "address",
    "street",
    "postalCode",
    "zip",
    "birthday",
    "dateOfBirth",
    "dob",
    "ssn",
    "taxId",
    "passport",
    "ip",
    "ipAddress",
    "password",
    "creditCard",
    "cardNumber",
    "iban",
)

#: Keys of :data:`PII_KEYS` that name a person in a person's traits but a company in a
#: ``group`` call's traits (the company's ``name``), so those are kept there.
COMPANY_TRAIT_KEYS: tuple[str, ...] = ("name",)
#: The keys removed from a ``group`` call's traits: every personal key but the company's name.
#: A company's e-mail, phone and address are removed all the same (they are often a person's).
GROUP_PII_KEYS: tuple[str, ...] = tuple(k for k in PII_KEYS if k not in COMPANY_TRAIT_KEYS)


def _normalised_key(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def hmac_sha256(column: Column, key: bytes) -> Column:
    """HMAC-SHA256 of the column's UTF-8 text as lowercase hex, equal to Python's
    ``hmac.new(key, text.encode(), "sha256").hexdigest()``; NULL stays NULL.

    HMAC(K, m) = H((K' ⊕ opad) ‖ H((K' ⊕ ipad) ‖ m)), where K' is the key (hashed first when
    longer than a block) padded with zeros to the 64-byte block.
    """
    from pyspark.sql import functions as F

    if len(key) > _SHA256_BLOCK_BYTES:
        key = hashlib.sha256(key).digest()
    block_key = key.ljust(_SHA256_BLOCK_BYTES, b"\x00")
    inner_pad = bytes(b ^ 0x36 for b in block_key)
    outer_pad = bytes(b ^ 0x5C for b in block_key)
    message = F.encode(column.cast("string"), "UTF-8")
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_pad), message), 256))
    return F.sha2(F.concat(F.lit(outer_pad), inner), 256)


def truncate_ip(column: Column) -> Column:
    """The network of an IP address: IPv4 → ``a.b.c.0`` (/24), IPv6 → its first three groups
    and ``::`` (/48, zeros unpadded, lowercase). Anything that is not an address → NULL."""
    from pyspark.sql import functions as F

    text = F.trim(column.cast("string"))
    octet = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
    ipv4 = rf"^{octet}\.{octet}\.{octet}\.{octet}$"
    ipv4_network = F.concat_ws(".", F.slice(F.split(text, r"\."), 1, 3), F.array(F.lit("0")))

    halves = F.split(text, "::", -1)
    compressed = F.size(halves) == 2

    def groups_of(part: Column) -> Column:
        return F.when(part == "", F.array().cast("array<string>")).otherwise(F.split(part, ":", -1))

    head = groups_of(halves[0])
    tail = groups_of(F.try_element_at(halves, F.lit(2)))
    missing = F.lit(8) - F.size(head) - F.size(tail)
    groups = F.when(
        compressed, F.concat(head, F.array_repeat(F.lit("0"), F.greatest(missing, F.lit(0))), tail)
    ).otherwise(F.split(text, ":", -1))
    well_formed = (
        (F.size(halves) <= 2)
        & (F.size(groups) == 8)
        & (~compressed | (missing >= 1))
        & F.forall(groups, lambda g: g.rlike("^[0-9a-fA-F]{1,4}$"))
    )
    network = F.transform(F.slice(groups, 1, 3), lambda g: F.regexp_replace(F.lower(g), "^0+(?=.)", ""))
    ipv6_network = F.concat(F.array_join(network, ":"), F.lit("::"))
    return (
        F.when(text.rlike(ipv4), ipv4_network)
        .when(text.contains(":") & well_formed, ipv6_network)
        .otherwise(F.lit(None).cast("string"))
    )


def drop_json_keys(json_column: Column, keys: Iterable[str] = PII_KEYS) -> Column:
    """The JSON object text without the top-level ``keys`` (ignoring case, ``_`` and ``-``).

    Values keep their JSON types (numbers stay numbers, nested objects stay objects). Nested
    objects are not searched. Anything that is not a JSON object → NULL: a value that cannot be
    inspected is not passed on.
    """
    from pyspark.sql import functions as F

    dropped = F.array(*[F.lit(k) for k in sorted({_normalised_key(k) for k in keys})])
    parsed = F.from_json(json_column, "map<string,variant>")
    kept = F.map_filter(
        parsed, lambda k, _: ~F.array_contains(dropped, F.regexp_replace(F.lower(k), "[_-]", ""))
    )
    return F.to_json(kept)


def pseudonymisation_key(secret: SecretStr | None, *, variable: str) -> bytes:
    """The HMAC key as bytes; a clear error naming ``variable`` when it is not configured."""
    if secret is None or not secret.get_secret_value():
        raise ConfigError(
            f"{variable} is not set: silver stores identifiers only as a keyed hash, "
            "so the key must come from the environment"
        )
    return secret.get_secret_value().encode()
