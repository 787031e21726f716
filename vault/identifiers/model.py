"""Identifier kinds, their normalization versions, and the normalized value object.

A kind is one of the built-in names in ``BUILTIN_KINDS`` or ``custom:<name>`` with ``<name>``
matching ``^[a-z][a-z0-9_]{0,31}$``. Kind names are case-sensitive: ``Email`` is not a kind.

``NORMALIZATION_VERSIONS`` holds the current version of every built-in kind and, under the key
``"custom"``, the one version all custom kinds share. A version changes whenever the normal form of
some accepted value changes, because the version is part of the pseudonym's HMAC input: values of
different versions never match, so stored pseudonyms are re-derived when a version moves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from pseudovault.vault.identifiers.errors import InvalidIdentifierError

__all__ = [
    "BUILTIN_KINDS",
    "CUSTOM_PREFIX",
    "NORMALIZATION_VERSIONS",
    "SKELETON_KINDS",
    "NormalizedIdentifier",
    "parse_kind",
    "version_of",
]

BUILTIN_KINDS: Final = (
    "email",
    "phone",
    "ip",
    "device_id",
    "card_fingerprint",
    "national_id",
    "account_id",
)
CUSTOM_PREFIX: Final = "custom:"

NORMALIZATION_VERSIONS = MappingProxyType({**{kind: 1 for kind in BUILTIN_KINDS}, "custom": 1})

#: kinds whose values people choose and type, so a look-alike is worth a review; custom kinds too
SKELETON_KINDS: Final = frozenset({"email", "account_id"})

_CUSTOM_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_SAFE_LABEL = re.compile(r"[a-z][a-z0-9_]{0,31}(?::[a-z0-9_]{0,32})?")


def _label(kind: object) -> str:
    """A kind name fit to print in an error: the name itself if it looks like one, else ``kind``."""
    if isinstance(kind, str) and _SAFE_LABEL.fullmatch(kind):
        return kind
    return "kind"


def parse_kind(kind: object) -> str:
    """Return ``kind`` if it names a kind; ``InvalidIdentifierError`` otherwise."""
    if isinstance(kind, str):
        if kind in NORMALIZATION_VERSIONS and kind != "custom":
            return kind
        if kind.startswith(CUSTOM_PREFIX):
            if _CUSTOM_NAME.fullmatch(kind[len(CUSTOM_PREFIX) :]):
                return kind
            raise InvalidIdentifierError(
                _label(kind),
                "invalid_kind_name",
                "a custom identifier kind must be 'custom:<name>' with a name of 1-32 characters "
                "from a-z, 0-9 and '_', starting with a letter",
            )
    label = _label(kind)
    named = f"'{label}' " if label != "kind" else ""
    raise InvalidIdentifierError(
        label,
        "unknown_kind",
        f"identifier kind {named}is unknown; expected one of {', '.join(BUILTIN_KINDS)} or custom:<name>",
    )


def version_of(kind: str) -> int:
    """The current normalization version of a (valid) kind."""
    return NORMALIZATION_VERSIONS["custom" if kind.startswith(CUSTOM_PREFIX) else kind]


@dataclass(frozen=True, slots=True, repr=False)
class NormalizedIdentifier:
    """An identifier in its normal form, ready to be turned into a pseudonym.

    ``value`` and ``lookalike`` are personal data: ``repr``/``str`` show the kind, the version and
    the value's length only. ``lookalike`` is the UTS #39 skeleton of the value when that differs
    from the value (only for emails, account ids and custom kinds), else ``None``; it is a signal
    for review, never an identity.
    """

    kind: str
    value: str
    version: int
    lookalike: str | None = None

    def __post_init__(self) -> None:
        parse_kind(self.kind)
        if not isinstance(self.value, str) or not self.value:
            raise ValueError("NormalizedIdentifier.value must be a non-empty str")
        if not isinstance(self.version, int) or isinstance(self.version, bool) or self.version < 1:
            raise ValueError("NormalizedIdentifier.version must be a positive int")
        if self.lookalike is not None and (not isinstance(self.lookalike, str) or self.lookalike == self.value):
            raise ValueError("NormalizedIdentifier.lookalike must be None or a str other than the value")

    @property
    def skeleton(self) -> str | None:
        """The confusability key: ``lookalike`` if set, else ``value``; ``None`` for kinds without one.

        Two identifiers of the same kind look alike when their skeletons are equal.
        """
        if self.kind in SKELETON_KINDS or self.kind.startswith(CUSTOM_PREFIX):
            return self.lookalike if self.lookalike is not None else self.value
        return None

    @classmethod
    def _from_normalizer(cls, kind: str, value: str, version: int, lookalike: str | None) -> NormalizedIdentifier:
        """The normalizer's own values, which hold what ``__post_init__`` checks by construction
        (a parsed kind, its current version, a non-empty value, a distinct look-alike): built
        without checking them again, on every check's path. Anything else uses the class."""
        item = _new(cls)
        _set_kind(item, kind)
        _set_value(item, value)
        _set_version(item, version)
        _set_lookalike(item, lookalike)
        return item

    def __repr__(self) -> str:
        return f"NormalizedIdentifier(kind={self.kind!r}, version={self.version}, length={len(self.value)})"

    __str__ = __repr__


_new = object.__new__
# the slots' own setters: a frozen dataclass refuses setattr, and these are what it would use
_set_kind = NormalizedIdentifier.__dict__["kind"].__set__
_set_value = NormalizedIdentifier.__dict__["value"].__set__
_set_version = NormalizedIdentifier.__dict__["version"].__set__
_set_lookalike = NormalizedIdentifier.__dict__["lookalike"].__set__
