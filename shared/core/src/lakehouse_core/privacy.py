"""Pseudonymisation and minimisation of personal data, as native Spark expressions.

Everything here runs inside the JVM (no Python UDFs), so it costs no serialisation round-trip
per row. Identifiers are pseudonymised with a keyed HMAC: the same id always maps to the same
value (joins and counts still work), but without the key nobody can test a guessed email or
user id against it, which a plain hash would allow.

Products pseudonymise their own ids (anonymous and device ids) with their own keys. A person's
user id has one more pseudonym, the same in every product: the **subject key**
(:func:`subject_key`, keyed with the platform's ``LAKEHOUSE_SUBJECT_KEY``), in every table that
holds their data, so erasure and segmentation find them everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import SecretStr

from lakehouse_core.config import require_outside_dev
from lakehouse_core.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import Column

    from lakehouse_core.settings import LakehouseSettings

_SHA256_BLOCK_BYTES = 64

#: The environment variable of the platform's subject key.
SUBJECT_KEY_VARIABLE = "LAKEHOUSE_SUBJECT_KEY"
#: The subject key in dev when :data:`SUBJECT_KEY_VARIABLE` is not set. Everyone knows it, so
#: staging and prod refuse to run without a key of their own.
DEVELOPMENT_SUBJECT_KEY = "local-development-subject-key"
#: The column that holds a person's subject key, in every table with a person's data.
SUBJECT_KEY_COLUMN = "subject_key"
#: Where a Segment message names its user: the subject key is the HMAC of this.
USER_ID_PATH = "$.userId"

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

    inner_pad, outer_pad = _pads(key)
    message = F.encode(column.cast("string"), "UTF-8")
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_pad), message), 256))
    return F.sha2(F.concat(F.lit(outer_pad), inner), 256)


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > _SHA256_BLOCK_BYTES:
        key = hashlib.sha256(key).digest()
    block_key = key.ljust(_SHA256_BLOCK_BYTES, b"\x00")
    return bytes(b ^ 0x36 for b in block_key), bytes(b ^ 0x5C for b in block_key)


def subject_key_sql(expression: str, key: bytes) -> str:
    """:func:`subject_key` of a SQL expression, as SQL text (for conditions that must be
    strings, e.g. a MERGE's): the HMAC-SHA256 of the trimmed text, NULL for none or blank."""
    inner_pad, outer_pad = _pads(key)
    present = f"nullif(trim(CAST({expression} AS STRING)), '')"
    inner = f"unhex(sha2(concat(X'{inner_pad.hex()}', encode({present}, 'UTF-8')), 256))"
    return f"sha2(concat(X'{outer_pad.hex()}', {inner}), 256)"


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


def platform_subject_key(settings: LakehouseSettings | None = None) -> bytes:
    """The platform's subject key from ``LAKEHOUSE_SUBJECT_KEY``; in dev, when unset,
    :data:`DEVELOPMENT_SUBJECT_KEY` with a warning; in staging and prod a :class:`ConfigError`
    naming the variable."""
    from lakehouse_core.settings import LakehouseSettings

    settings = settings or LakehouseSettings()
    secret = settings.subject_key
    configured = secret is not None and bool(secret.get_secret_value())
    require_outside_dev(
        configured,
        what="no platform subject key (every subject_key would be keyed with the public development key)",
        variable=SUBJECT_KEY_VARIABLE,
        environment=settings.environment,
    )
    return pseudonymisation_key(
        secret if configured else SecretStr(DEVELOPMENT_SUBJECT_KEY), variable=SUBJECT_KEY_VARIABLE
    )


def subject_key(user_id: Column, key: bytes) -> Column:
    """A person's subject key: HMAC-SHA256 of the user id (spaces trimmed) with the platform
    key. NULL when there is no user id (NULL, empty or only spaces). Equal to
    :func:`subject_key_of` on the same id, so a key computed outside Spark (an erasure request's)
    finds the rows."""
    from pyspark.sql import functions as F

    present = F.nullif(F.trim(user_id.cast("string")), F.lit(""))
    return hmac_sha256(present, key)


def subject_key_of_json(payload: Column, key: bytes) -> Column:
    """The subject key of the ``userId`` in a raw JSON payload (bronze's ``value``, quarantine's
    ``raw_value``); NULL when the payload has none or is not JSON."""
    from pyspark.sql import functions as F

    return subject_key(F.get_json_object(payload, USER_ID_PATH), key)


def subject_key_of(user_id: str | None, key: bytes) -> str | None:
    """:func:`subject_key` in Python, for one id (an erasure request's, a test's)."""
    present = (user_id or "").strip(" ")
    return hmac.new(key, present.encode(), "sha256").hexdigest() if present else None
