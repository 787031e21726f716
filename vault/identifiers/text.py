"""Rules every identifier kind shares: type, Unicode form, surrounding space, length, characters.

``prepare`` is applied first to every value:

1. it must be a ``str``;
2. a value longer than ``4 * limit + 64`` code points is refused before any other work (so a huge
   input costs nothing);
3. Unicode NFC;
4. surrounding whitespace is stripped: the ASCII spaces ``\\t \\n \\v \\f \\r``, every space separator
   (category Zs) and U+2028/U+2029. Other characters Python calls whitespace (U+001C..U+001F,
   U+0085) are control characters and are rejected, not stripped;
5. empty is rejected, and so is anything longer than the kind's ``limit`` (code points, after 3-4);
6. characters: control (Cc, so NUL too), format (Cf: zero-width space/joiners, bidi controls, soft
   hyphen, ...), surrogate (Cs), private use (Co) and unassigned (Cn) code points are rejected, as
   are U+2028/U+2029 inside the value and every other Default_Ignorable_Code_Point (Hangul fillers,
   variation selectors, combining grapheme joiner, Mongolian variation selectors): they are
   invisible, so they would make two identifiers that look the same different.

"Unassigned" is judged by the Unicode version of the running Python (``unicodedata``); rejecting
such code points keeps every accepted value's normal form stable when Python's Unicode data is
upgraded (NFC and case folding are stable for assigned characters only).
"""

from __future__ import annotations

import re
import unicodedata

from pseudovault.vault.identifiers.errors import InvalidIdentifierError

__all__ = [
    "HEX_ONLY",
    "SPACE_SEPARATORS",
    "collapse_inner_space",
    "fold_digits",
    "plain_token",
    "prepare",
    "reject_inner_space",
]

#: every code point of general category Zs (stable since Unicode 6.3; checked by a test)
SPACE_SEPARATORS = (
    "\u0020\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
)
_STRIP = "\t\n\v\f\r\u2028\u2029" + SPACE_SEPARATORS

#: Default_Ignorable_Code_Point characters that are not Cf or Cn (DerivedCoreProperties.txt)
_IGNORABLE_RANGES = (
    (0x034F, 0x034F),  # COMBINING GRAPHEME JOINER
    (0x115F, 0x1160),  # HANGUL CHOSEONG / JUNGSEONG FILLER
    (0x17B4, 0x17B5),  # KHMER VOWEL INHERENT AQ / AA
    (0x180B, 0x180D),  # MONGOLIAN FREE VARIATION SELECTOR ONE..THREE
    (0x180F, 0x180F),  # MONGOLIAN FREE VARIATION SELECTOR FOUR
    (0x3164, 0x3164),  # HANGUL FILLER
    (0xFE00, 0xFE0F),  # VARIATION SELECTOR-1..16
    (0xFFA0, 0xFFA0),  # HALFWIDTH HANGUL FILLER
    (0xE0100, 0xE01EF),  # VARIATION SELECTOR-17..256
)
_IGNORABLE = frozenset(cp for lo, hi in _IGNORABLE_RANGES for cp in range(lo, hi + 1))

_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_INNER_SPACE = re.compile(f"[{SPACE_SEPARATORS}]+")
HEX_ONLY = re.compile(r"[0-9a-fA-F]+")
#: visible ASCII only (U+0021 to U+007E): text the shared rules leave as it is (its NFC is itself,
#: nothing to strip, no control character) and that has no whitespace at all
_VISIBLE_ASCII = re.compile(r"[!-~]+")

_CATEGORY_REASONS = {
    "Cc": ("control_character", "contains a control character"),
    "Cf": ("invisible_character", "contains an invisible formatting character"),
    "Cs": ("surrogate_character", "contains a surrogate code point"),
    "Co": ("private_use_character", "contains a private-use character"),
    "Cn": ("unassigned_character", "contains an unassigned code point"),
    "Zl": ("control_character", "contains a line separator"),
    "Zp": ("control_character", "contains a paragraph separator"),
}


_JOINERS = frozenset("\u200c\u200d")


def prepare(kind: str, raw: object, limit: int, *, joiners: bool = False) -> str:
    """Check and tidy ``raw`` by the shared rules (module docstring); return the NFC text.
    ``joiners``: let the zero-width (non-)joiner through (the kind checks where they stand)."""
    if not isinstance(raw, str):
        raise InvalidIdentifierError(kind, "not_a_string", f"{kind} identifier must be a string")
    if len(raw) > 4 * limit + 64:
        raise InvalidIdentifierError(kind, "too_long", f"{kind} identifier is longer than {limit} characters")
    text = unicodedata.normalize("NFC", raw).strip(_STRIP)
    if not text:
        raise InvalidIdentifierError(kind, "empty", f"{kind} identifier is empty")
    if len(text) > limit:
        raise InvalidIdentifierError(kind, "too_long", f"{kind} identifier is longer than {limit} characters")
    if text.isascii():
        if _ASCII_CONTROL.search(text):
            raise InvalidIdentifierError(kind, "control_character", f"{kind} identifier contains a control character")
        return text
    for char in text:
        if joiners and char in _JOINERS:
            continue
        category = unicodedata.category(char)
        found = _CATEGORY_REASONS.get(category)
        if found is not None:
            code, words = found
            raise InvalidIdentifierError(kind, code, f"{kind} identifier {words}")
        if ord(char) in _IGNORABLE:
            raise InvalidIdentifierError(
                kind, "invisible_character", f"{kind} identifier contains an invisible (default-ignorable) character"
            )
    return text


def plain_token(raw: object, limit: int) -> str | None:
    """``raw`` itself when it is 1 to ``limit`` characters of visible ASCII, the everyday token: what
    :func:`prepare` and then :func:`reject_inner_space` give for it, without their work (on the
    check path of every device id). None for anything else, which takes them. A property test
    holds the two to the same answers."""
    if type(raw) is str and len(raw) <= limit and _VISIBLE_ASCII.fullmatch(raw):
        return raw
    return None


def reject_inner_space(kind: str, text: str) -> None:
    """Refuse a value with whitespace inside it (the kinds whose values are single tokens)."""
    if _INNER_SPACE.search(text):
        raise InvalidIdentifierError(kind, "whitespace", f"{kind} identifier must not contain whitespace")


def collapse_inner_space(text: str) -> str:
    """Replace each run of space separators inside ``text`` by one U+0020."""
    return _INNER_SPACE.sub(" ", text)


def fold_digits(text: str) -> str:
    """Replace every decimal digit (any script, category Nd) by its ASCII digit."""
    if text.isascii():
        return text
    return "".join(str(d) if (d := unicodedata.decimal(c, None)) is not None else c for c in text)
