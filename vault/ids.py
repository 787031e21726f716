"""Ids and codes: what every package validates, in one place, one regex each.

- Subject and record ids are UUIDs in their canonical lower-case form (the brace, URN and
  hyphen-less spellings are refused, so one id has one spelling).
- A code (reason codes, categories, hold reasons, purposes' codes) is ``[a-z][a-z0-9_]{0,39}``:
  a code, never free text, so it can carry no PII.
- A field name is ``[a-z][a-z0-9_]{0,63}``.

Every refusal is :class:`vault.errors.InvalidInputError` naming the field, never the value.
"""

from __future__ import annotations

import re
import uuid

from pseudovault.vault.errors import InvalidInputError

__all__ = [
    "CODE",
    "CODE_PATTERN",
    "FIELD_NAME",
    "validate_code",
    "validate_field_name",
    "validate_reason_code",
    "validate_record_id",
    "validate_subject_id",
    "validate_uuid",
]

CODE_PATTERN = "[a-z][a-z0-9_]{0,39}"
CODE = re.compile(CODE_PATTERN)
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def validate_uuid(value: object, field: str) -> str:
    """The canonical (lower-case) form of a UUID, or InvalidInputError naming ``field``."""
    if not isinstance(value, str) or len(value) != 36:
        raise InvalidInputError(field, "must be a UUID")
    try:
        canonical = str(uuid.UUID(value))
    except ValueError:
        raise InvalidInputError(field, "must be a UUID") from None
    if canonical != value.lower():  # refuses the brace, URN and hyphen-less forms
        raise InvalidInputError(field, "must be a UUID")
    return canonical


def validate_subject_id(value: object, field: str = "subject_id") -> str:
    """The canonical (lower-case) form of a subject id, or InvalidInputError."""
    return validate_uuid(value, field)


def validate_record_id(value: object, field: str = "record_id") -> str:
    """The canonical (lower-case) form of a record id (a UUID), or InvalidInputError."""
    return validate_uuid(value, field)


def validate_code(value: object, field: str) -> str:
    if not isinstance(value, str) or CODE.fullmatch(value) is None:
        raise InvalidInputError(field, f"must match {CODE_PATTERN}")
    return value


def validate_reason_code(value: object) -> str:
    return validate_code(value, "reason_code")


def validate_field_name(name: object, field: str = "fields") -> str:
    if not isinstance(name, str) or FIELD_NAME.fullmatch(name) is None:
        raise InvalidInputError(field, "field names must match [a-z][a-z0-9_]{0,63}")
    return name
