"""Checks of a record's input: codes, severity, source, external reference, text, timestamps, limits
and identifiers. Every refusal is :class:`vault.errors.InvalidInputError` naming the field, never
quoting the value."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.identifiers import InvalidIdentifierError, NormalizedIdentifier, Normalizer
from pseudovault.vault.ids import validate_reason_code
from pseudovault.vault.records.views import MAX_IDENTIFIERS, MAX_LIST_LIMIT, MAX_TEXT_BYTES, SEVERITIES

__all__ = [
    "encode_text",
    "identifier_pairs",
    "normalize_identifiers",
    "validate_code",
    "validate_external_ref",
    "validate_limit",
    "validate_severity",
    "validate_source",
    "validate_timestamp",
]


_SOURCE = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")


_EXTERNAL_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/#+-]{0,127}")


def validate_severity(value: object) -> str:
    if not isinstance(value, str) or value not in SEVERITIES:
        raise InvalidInputError("severity", f"must be one of {', '.join(SEVERITIES)}")
    return value


def validate_source(value: object) -> str:
    if not isinstance(value, str) or _SOURCE.fullmatch(value) is None:
        raise InvalidInputError("source", "must match [a-z][a-z0-9_.:-]{0,63}")
    return value


def validate_external_ref(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or _EXTERNAL_REF.fullmatch(value) is None:
        raise InvalidInputError("external_ref", "must match [A-Za-z0-9][A-Za-z0-9_.:/#+-]{0,127}")
    return value


def validate_code(value: object, field: str) -> str:
    try:
        return validate_reason_code(value)
    except InvalidInputError:
        raise InvalidInputError(field, "must match [a-z][a-z0-9_]{0,39}") from None


def encode_text(name: str, value: object) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(name, "must be a string")
    if not value.strip():
        raise InvalidInputError(name, "must not be empty")
    if len(value) > MAX_TEXT_BYTES:
        raise InvalidInputError(name, f"must be at most {MAX_TEXT_BYTES} bytes of UTF-8")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(name, "must be valid Unicode text") from None
    if len(encoded) > MAX_TEXT_BYTES:
        raise InvalidInputError(name, f"must be at most {MAX_TEXT_BYTES} bytes of UTF-8")
    return encoded


def validate_timestamp(value: object, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidInputError(field, "must be a timestamp")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(field, "must be timezone-aware (e.g. 2027-01-01T00:00:00+00:00)")
    return value


def validate_limit(limit: object) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidInputError("limit", f"must be an integer from 1 to {MAX_LIST_LIMIT}")
    return limit


def identifier_pairs(identifiers: object) -> list[tuple[str, str]]:
    if isinstance(identifiers, (str, bytes)) or not isinstance(identifiers, Sequence):
        raise InvalidInputError("identifiers", "must be a list of (kind, value) pairs")
    if not identifiers:
        raise InvalidInputError("identifiers", "at least one identifier is required")
    if len(identifiers) > MAX_IDENTIFIERS:
        raise InvalidInputError("identifiers", f"at most {MAX_IDENTIFIERS} identifiers")
    pairs = []
    for item in identifiers:
        if isinstance(item, list):
            item = tuple(item)
        pairs.append(item)
    return pairs


def normalize_identifiers(normalizer: Normalizer, identifiers: object) -> list[NormalizedIdentifier]:
    """Validated, normalized and de-duplicated identifiers (in their first-seen order)."""
    if type(identifiers) is list and len(identifiers) == 1 and type(identifiers[0]) is tuple and len(identifiers[0]) == 2:
        # a signup's single (kind, value) pair (a device check, say): what the general path below
        # does for it, without building the pairs again or looking for duplicates
        try:
            return [normalizer.normalize(*identifiers[0])]
        except InvalidIdentifierError as error:
            raise error.with_index(0) from None
    normalized = normalizer.normalize_many(identifier_pairs(identifiers))
    if len(normalized) == 1:  # a signup's single identifier (a device check, say): nothing to merge
        return normalized
    seen: set[tuple[str, str]] = set()
    unique = []
    for item in normalized:
        key = (item.kind, item.value)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique
