"""National identification numbers (normalization version 1).

1. Shared rules (``text.prepare``), at most 40 characters; then NFKC (so full-width letters and
   digits typed through an IME read as ASCII), every decimal digit to ASCII, and the separators
   space, ``-`` (and the Unicode hyphens and dashes), ``.`` and ``/`` removed.
2. Exactly 13 digits: a Korean resident registration number (RRN, 주민등록번호) or foreigner
   registration number, ``YYMMDD-GNNNNNN``; with or without the hyphen it is stored as the 13
   digits. ``G`` gives the century (1, 2, 5, 6: 1900s; 3, 4, 7, 8: 2000s; 9, 0: 1800s) and
   ``YYMMDD`` must be a real date in it. The check digit is **not** verified: numbers issued since
   October 2020 no longer carry one. (A future birth date is not refused: there is no clock here.)
3. Written like an RRN (six digits, a dash, digits) with other than 13 digits: refused as a
   mistyped RRN rather than taken for another scheme's number.
4. Anything else: an opaque number from another scheme, upper-cased, 5-32 characters of A-Z and
   0-9 once separators are gone; other letters (Hangul, Cyrillic, ...) are refused.

No lookalike: these are typed as digits and capitals, whose skeletons only add noise (0 -> O).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from pseudovault.vault.identifiers.errors import InvalidIdentifierError
from pseudovault.vault.identifiers.text import fold_digits, prepare

__all__ = ["MAX_LENGTH", "normalize_national_id"]

MAX_LENGTH = 40

_DASHES = "\\-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_SEPARATORS = re.compile(f"[ ./{_DASHES}]")
#: six digits, a dash, more digits: written as an RRN, whatever the count
_RRN_SHAPED = re.compile(f"[0-9]{{6}} ?[{_DASHES}] ?[0-9]+")
_RRN = re.compile(r"[0-9]{13}")
_OPAQUE = re.compile(r"[A-Z0-9]{5,32}")
_CENTURY = {
    "1": 1900,
    "2": 1900,
    "5": 1900,
    "6": 1900,
    "3": 2000,
    "4": 2000,
    "7": 2000,
    "8": 2000,
    "9": 1800,
    "0": 1800,
}


def normalize_national_id(raw: object, kind: str = "national_id") -> str:
    """Return the normal form of ``raw`` (module docstring)."""
    text = prepare(kind, raw, MAX_LENGTH)
    folded = fold_digits(unicodedata.normalize("NFKC", text))
    compact = _SEPARATORS.sub("", folded)
    if _RRN.fullmatch(compact):
        _check_rrn(kind, compact)
        return compact
    if _RRN_SHAPED.fullmatch(folded):
        raise InvalidIdentifierError(
            kind,
            "invalid_rrn_length",
            "national_id identifier is written as a resident registration number but does not have 13 digits",
        )
    compact = compact.upper() if compact.isascii() else compact
    if not _OPAQUE.fullmatch(compact):
        raise InvalidIdentifierError(
            kind,
            "invalid_national_id",
            "national_id identifier must be a 13-digit resident registration number or 5-32 letters A-Z and digits",
        )
    return compact


def _check_rrn(kind: str, digits: str) -> None:
    year = _CENTURY[digits[6]] + int(digits[0:2])
    try:
        date(year, int(digits[2:4]), int(digits[4:6]))
    except ValueError:
        raise InvalidIdentifierError(
            kind,
            "invalid_rrn_date",
            "national_id identifier is a resident registration number whose birth date does not exist",
        ) from None
