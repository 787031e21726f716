"""Email addresses (normalization version 1).

1. Shared rules (``text.prepare``), at most 254 characters.
2. Syntax by email-validator, no DNS: internationalized (SMTPUTF8) local parts allowed; quoted
   local parts, domain literals (``user@[192.0.2.1]``), display names, dotless domains and
   special-use domains (``.test``, ``.localhost``, ...) rejected; local part at most 64 characters.
3. Domain: UTS #46 mapped (so case-folded) and IDNA-encoded: ``user@bücher.example``,
   ``USER@BÜCHER.EXAMPLE`` and ``user@xn--bcher-kva.example`` are one identifier.
4. Local part: **case-folded** (v1 choice): ``NFC(casefold(NFD(local)))``. RFC 5321 lets a server
   treat case as significant, but the providers that matter do not, and an abuser re-registering
   with ``John@`` instead of ``john@`` is the case to catch. The cost is that the rare mailbox whose
   server does tell ``John`` from ``john`` shares an identifier with its lower-case twin; and full
   case folding makes ``ß`` and ``ss`` one.
5. Provider rules, only for the domains they were written for: with the default configuration,
   Gmail's local parts lose every ``.`` and any ``+tag``, and ``googlemail.com`` becomes
   ``gmail.com``; for domains listed in ``strip_plus_tags_domains`` a ``+tag`` is dropped. No other
   domain is touched: ``a.b+x@example.com`` and ``ab@example.com`` stay two identifiers.
6. The result ``<local>@<A-label domain>`` is validated again (it must be its own normal form)
   whenever that is not evident: for a non-ASCII local part, and wherever a provider rule applied.
   An ASCII local part no rule touched is only lower-cased (``casefold`` is ``lower`` on ASCII),
   which keeps a valid dot-atom valid at the same length, so it is not validated twice (the
   second validation was most of the cost of an email). A local part left empty by a rule
   (``+tag@gmail.com``) is rejected.

Lookalike: the case-insensitive skeleton (``confusables.lookalike_key``) of the local part, ``@``,
the same of the domain's Unicode form.

Zero-width (non-)joiners (U+200C, U+200D) are invisible and refused everywhere but in the domain,
where IDNA2008 allows them in context (CONTEXTJ: after a virama, or between letters of a joining
script such as Persian ``می‌خواهم``): a domain holding one is IDNA-encoded first (which checks the
context and refuses it elsewhere), and the address is validated with its A-label domain.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import idna
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from pseudovault.vault.identifiers.config import EmailProviderRule, NormalizerConfig
from pseudovault.vault.identifiers.confusables import lookalike_key
from pseudovault.vault.identifiers.errors import InvalidIdentifierError
from pseudovault.vault.identifiers.text import prepare

__all__ = ["MAX_LENGTH", "EmailNormalizer"]

MAX_LENGTH = 254

_OPTIONS: dict[str, Any] = dict(
    check_deliverability=False,
    allow_smtputf8=True,
    allow_quoted_local=False,
    allow_domain_literal=False,
    allow_display_name=False,
    allow_empty_local=False,
    globally_deliverable=True,
    test_environment=False,
    strict=True,
)


def _reason(error: EmailNotValidError) -> tuple[str, str]:
    """Classify email-validator's message (which quotes characters) into words of our own."""
    message = str(error)
    if "too long" in message or "so many characters" in message:
        return "too_long", "email identifier is too long"
    if "must have an @-sign" in message:
        return "invalid_email", "email identifier has no @-sign"
    if any(k in message for k in ("after the @-sign", "end with", "top-level", "should have a period", "Punycode")):
        return "invalid_email_domain", "email identifier: the part after the @-sign is not a valid domain name"
    if any(k in message for k in ("before the @-sign", "Quot", "start with")):
        return "invalid_email_local_part", "email identifier: the part before the @-sign is not valid"
    return "invalid_email", "email identifier is not a valid email address"


_ZWNJ, _ZWJ = "\u200c", "\u200d"


def _joined_a_labels(text: str) -> str | None:
    """``text`` with its A-label domain decoded, when that domain holds a zero-width (non-)joiner;
    else None."""
    local, at, domain = text.rpartition("@")
    if not at or "xn--" not in domain.lower():
        return None
    try:
        decoded = idna.decode(domain)
    except (idna.IDNAError, UnicodeError):
        return None
    return f"{local}@{decoded}" if _ZWNJ in decoded or _ZWJ in decoded else None


def _validate_joined(kind: str, text: str) -> tuple[str, str]:
    """Local part and A-label domain of an address whose domain holds a zero-width (non-)joiner:
    the domain is IDNA2008-encoded, which checks each joiner's context (email-validator refuses
    every joiner, even where IDNA allows it); the rest of the address is validated with the joiners
    left out of the domain. Refused when a joiner is in the local part or out of context."""
    local, at, domain = text.rpartition("@")
    refused = InvalidIdentifierError(
        kind, "invisible_character", "email identifier contains a zero-width joiner where its script does not need one"
    )
    if not at or _ZWNJ in local or _ZWJ in local:
        raise refused
    try:
        ascii_domain = idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise refused from None
    valid_local, _stand_in = _validate(kind, f"{local}@{domain.replace(_ZWNJ, '').replace(_ZWJ, '')}")
    if len(valid_local) + 1 + len(ascii_domain) > MAX_LENGTH:
        raise InvalidIdentifierError(kind, "too_long", "email identifier is too long")
    return valid_local, ascii_domain


#: the everyday address, the one a fast path can take: a dot-atom local part of letters, digits and
#: ``_ + -``, and a domain of at least two LDH labels (no label beginning or ending with ``-``,
#: none with ``--`` in its third and fourth place: that is punycode's or reserved), whose last is
#: letters only. Anything else goes through email-validator.
_PLAIN = re.compile(
    r"([A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*)@"
    r"((?:(?!..--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)
_SPECIAL_USE = frozenset(SPECIAL_USE_DOMAIN_NAMES)
_LOCAL_MAX = 64
_DOMAIN_MAX = 253


def _validate_plain(text: str) -> tuple[str, str] | None:
    """What email-validator answers for an everyday ASCII address, without it (its validation of
    one is most of an email's cost, on the hot path of every signup): the local part as given and
    the domain lower-cased. None when ``text`` is not such an address; a differential property test
    holds the two to the same answers."""
    match = _PLAIN.fullmatch(text)
    if match is None:
        return None
    local, domain = match.group(1), match.group(2).lower()
    if len(local) > _LOCAL_MAX or len(domain) > _DOMAIN_MAX or len(text) > MAX_LENGTH:
        return None
    if _special_use(domain):
        return None
    return local, domain


def _special_use(domain: str) -> bool:
    """Whether ``domain`` is a special-use name or under one: one of its label-boundary
    suffixes (the domain itself, then each tail after a dot) is in the list."""
    if domain in _SPECIAL_USE:
        return True
    dot = domain.find(".")
    while dot != -1:
        if domain[dot + 1 :] in _SPECIAL_USE:
            return True
        dot = domain.find(".", dot + 1)
    return False


def _validate(kind: str, text: str) -> tuple[str, str]:
    plain = _validate_plain(text)
    if plain is not None:
        return plain
    try:
        result = validate_email(text, **_OPTIONS)
    except EmailNotValidError as error:
        code, words = _reason(error)
        raise InvalidIdentifierError(kind, code, words) from None
    return result.local_part, result.ascii_domain


class EmailNormalizer:
    """Email normalization under one configuration (module docstring)."""

    def __init__(self, config: NormalizerConfig) -> None:
        self._rules: dict[str, EmailProviderRule] = {d: rule for rule in config.email_rules for d in rule.domains}
        self._strip_tags = frozenset(config.strip_plus_tags_domains)

    def normalize(self, raw: object, kind: str = "email") -> tuple[str, str | None]:
        """Return (value, lookalike or None)."""
        text = prepare(kind, raw, MAX_LENGTH, joiners=True)
        joined = _ZWNJ in text or _ZWJ in text
        if joined:
            local, domain = _validate_joined(kind, text)
        else:
            try:
                local, domain = _validate(kind, text)
            except InvalidIdentifierError:
                # an A-label domain that decodes to one with a joiner (this normalizer's own output)
                unicode_text = _joined_a_labels(text)
                if unicode_text is None:
                    raise
                joined = True
                local, domain = _validate_joined(kind, unicode_text)
        # an ASCII local part that no rule touches is only lower-cased: a dot-atom stays one, with
        # the same length, so the result is valid and its own normal form without validating again
        # (a joined domain was checked by IDNA itself, which email-validator would refuse again)
        revalidate = not local.isascii() and not joined
        local = local.lower() if local.isascii() else unicodedata.normalize("NFC", unicodedata.normalize("NFD", local).casefold())
        rule = self._rules.get(domain)
        if rule is not None:
            revalidate = True
            domain = rule.domains[0]
            if rule.strip_plus_tags:
                local = local.split("+", 1)[0]
            if rule.ignore_dots:
                local = local.replace(".", "")
        elif domain in self._strip_tags:
            revalidate = True
            local = local.split("+", 1)[0]
        if not local:
            raise InvalidIdentifierError(
                kind,
                "invalid_email_local_part",
                "email identifier: nothing is left before the @-sign once the provider's +tag and dots are removed",
            )
        value = f"{local}@{domain}"
        if revalidate and _validate(kind, value) != (local, domain):
            raise InvalidIdentifierError(kind, "invalid_email", "email identifier has no stable normal form")
        unicode_domain = idna.decode(domain) if "xn--" in domain else domain
        look = f"{lookalike_key(local)}@{lookalike_key(unicode_domain)}"
        return value, (look if look != value else None)
