"""Phone numbers (normalization version 1).

1. Shared rules (``text.prepare``), at most 64 characters.
2. Only digits (any script's decimal digits: full-width and Arabic-Indic digits are read as
   digits), ``+`` (or full-width U+FF0B), spaces, and the separators ``- . / ( )`` with their full-width and dash
   variants. Letters are refused: no vanity numbers (``1-800-FLOWERS``), no ``ext.``, no ``tel:``
   URIs, and no trailing words, which phonenumbers would otherwise read as digits. Nor, so, any
   extension (``x123``, ``#``, ``;ext=``): dropping one would let everyone behind a switchboard
   share an identifier.
3. ``phonenumbers.parse`` with the configured default region (for numbers written without
   ``+<country code>``); the number must be possible and valid for its region.
4. Stored as E.164: under region KR, ``010-1234-5678``, ``+82 10-1234-5678``, ``+821012345678`` and
   ``01012345678`` are all ``+821012345678``.

Validity follows the phonenumbers metadata installed; a newer release may accept a number range
an older one refused (never change the E.164 form of a number both accept). No lookalike.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from pseudovault.vault.identifiers.errors import InvalidIdentifierError
from pseudovault.vault.identifiers.text import SPACE_SEPARATORS, fold_digits, prepare

__all__ = ["MAX_LENGTH", "normalize_phone"]

MAX_LENGTH = 64

_SEPARATORS = "-./()\uff0d\uff0e\uff0f\uff08\uff09\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc"
_ALLOWED = re.compile(f"[0-9+\uff0b{re.escape(_SEPARATORS)}{SPACE_SEPARATORS}]+")

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "its country code is missing or unknown",
    NumberParseException.NOT_A_NUMBER: "it is not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "it is too short",
    NumberParseException.TOO_SHORT_NSN: "it is too short",
    NumberParseException.TOO_LONG: "it is too long",
}


def normalize_phone(raw: object, region: str, kind: str = "phone") -> str:
    """Return the E.164 form of ``raw`` (module docstring)."""
    text = prepare(kind, raw, MAX_LENGTH)
    folded = fold_digits(text)
    if not _ALLOWED.fullmatch(folded):
        raise InvalidIdentifierError(
            kind, "invalid_characters", "phone identifier may hold only digits, '+', spaces and - . / ( ) separators"
        )
    try:
        number = phonenumbers.parse(folded, region)
    except NumberParseException as error:
        why = _PARSE_REASONS.get(error.error_type, "it cannot be read as a phone number")
        raise InvalidIdentifierError(
            kind, "unparseable_phone", f"phone identifier is not a phone number: {why}"
        ) from None
    # a valid number is a possible one (validity matches the region's patterns, each within the
    # region's possible lengths; a property test holds the two together), so the possible-length
    # check runs only to say why an invalid number is refused
    if not phonenumbers.is_valid_number(number):
        if not phonenumbers.is_possible_number(number):
            raise InvalidIdentifierError(
                kind, "impossible_phone", "phone identifier has an impossible length for its region"
            )
        raise InvalidIdentifierError(kind, "invalid_phone", "phone identifier is not a valid number in its region")
    e164: str = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return e164
