"""Opaque tokens: device ids, account ids, card fingerprints, custom kinds (version 1 each).

All start with the shared rules (``text.prepare``: NFC, surrounding whitespace stripped; control,
invisible, unassigned characters refused). Then, per kind:

``device_id`` (at most 128 characters, no inner whitespace)
    A UUID, in any of the forms ``8-4-4-4-12`` hex, 32 hex digits, ``{...}`` or ``urn:uuid:...``,
    in either case, becomes its canonical lowercase hyphenated form (IDFA/IDFV arrive upper case,
    Android advertising ids lower case). Other all-hex values are lower-cased (hex case carries no
    information). Anything else is kept as given, case included. The nil and the max UUID, and
    all-zero hex, are refused: they are what platforms report when the real id is withheld (iOS
    with ad tracking limited), so thousands of devices share them.
``account_id`` (at most 128 characters, no inner whitespace)
    Case-preserving: an id in the calling service's own namespace, where ``Alice`` and ``alice``
    may well be two accounts. Lookalike: computed (user-chosen names are the classic spoof).
``card_fingerprint`` (8-128 characters, no inner whitespace)
    An opaque token from a payment processor, never card digits. Refused: anything holding 13-19
    digits (alone or grouped by spaces or hyphens, not run into letters) that pass the Luhn check,
    which is a card number and must never be submitted, not even to be hashed; and any value that
    is only digits (with spaces or hyphens) up to 19 long: a BIN, last four, or a mistyped card
    number. Digits inside a hex token are not read as a card number (a random 64-hex fingerprint
    would otherwise be refused now and then). All-hex values are lower-cased, others kept.
``custom:<name>`` (at most 256 characters)
    Kept as given, case included; runs of inner spaces become one U+0020. Lookalike: computed.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import NoReturn

from pseudovault.vault.identifiers.errors import InvalidIdentifierError
from pseudovault.vault.identifiers.text import (
    HEX_ONLY,
    collapse_inner_space,
    fold_digits,
    plain_token,
    prepare,
    reject_inner_space,
)

__all__ = [
    "luhn_valid",
    "normalize_account_id",
    "normalize_card_fingerprint",
    "normalize_custom",
    "normalize_device_id",
]

DEVICE_ID_MAX = 128
ACCOUNT_ID_MAX = 128
CARD_FINGERPRINT_MIN = 8
CARD_FINGERPRINT_MAX = 128
CUSTOM_MAX = 256

_UUID = re.compile(
    r"(?:urn:uuid:)?(\{)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})(?(1)\})",
    re.IGNORECASE,
)
_PLACEHOLDER_UUIDS = frozenset({uuid.UUID(int=0), uuid.UUID(int=(1 << 128) - 1)})
#: 13-19 digits, optionally grouped by single spaces or hyphens, not touching a letter or digit
_PAN_LIKE = re.compile(r"(?<![0-9A-Za-z])[0-9](?:[ \-]?[0-9]){12,18}(?![0-9A-Za-z])")
_CARD_DIGITS = re.compile(r"[0-9][0-9 \-]*")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check over a string of ASCII digits."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if position % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def normalize_device_id(raw: object, kind: str = "device_id") -> str:
    text = plain_token(raw, DEVICE_ID_MAX)
    if text is None:
        text = prepare(kind, raw, DEVICE_ID_MAX)
        reject_inner_space(kind, text)
    if match := _UUID.fullmatch(text):
        value = uuid.UUID(match.group(2))
        if value in _PLACEHOLDER_UUIDS:
            raise InvalidIdentifierError(
                kind,
                "placeholder_device_id",
                "device_id identifier is the nil or max UUID, a placeholder shared by many devices",
            )
        return str(value)
    if HEX_ONLY.fullmatch(text):
        if text.strip("0") == "":
            raise InvalidIdentifierError(
                kind, "placeholder_device_id", "device_id identifier is all zeros, a placeholder shared by many devices"
            )
        return text.lower()
    return text


def normalize_account_id(raw: object, kind: str = "account_id") -> str:
    text = plain_token(raw, ACCOUNT_ID_MAX)
    if text is None:
        text = prepare(kind, raw, ACCOUNT_ID_MAX)
        reject_inner_space(kind, text)
    return text


def normalize_card_fingerprint(raw: object, kind: str = "card_fingerprint") -> str:
    text = prepare(kind, raw, CARD_FINGERPRINT_MAX)
    probe = fold_digits(unicodedata.normalize("NFKC", text))
    for group in _PAN_LIKE.findall(probe):
        if luhn_valid(re.sub(r"[ \-]", "", group)):
            _raw_card_number(kind)
    if _CARD_DIGITS.fullmatch(probe) and len(re.sub(r"[ \-]", "", probe)) <= 19:
        raise InvalidIdentifierError(
            kind,
            "card_digits",
            "card_fingerprint identifier is card digits (a BIN, last four or card number), "
            "not a processor's fingerprint token",
        )
    reject_inner_space(kind, text)
    if len(text) < CARD_FINGERPRINT_MIN:
        raise InvalidIdentifierError(
            kind, "too_short", f"card_fingerprint identifier is shorter than {CARD_FINGERPRINT_MIN} characters"
        )
    return text.lower() if HEX_ONLY.fullmatch(text) else text


def _raw_card_number(kind: str) -> NoReturn:
    raise InvalidIdentifierError(
        kind,
        "raw_card_number",
        "card_fingerprint identifier looks like a card number; raw card numbers must not be submitted, "
        "send the payment processor's card fingerprint instead",
    )


def normalize_custom(raw: object, kind: str) -> str:
    return collapse_inner_space(prepare(kind, raw, CUSTOM_MAX))
