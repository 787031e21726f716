"""Identifier normalization for rejoin-ban checks: what counts as "the same person's identifier".

A signup flow hands over a new account's identifiers; ``Normalizer.normalize(kind, raw)`` returns
a ``NormalizedIdentifier`` whose ``value`` (with ``kind`` and ``version``) is what the vault then
turns into a keyed HMAC pseudonym elsewhere. Nothing here stores, logs or keys anything.

Kinds and their version-1 rules (each module's docstring has the details):

- ``email`` (``emails``): email-validator syntax, IDNA A-label domain, case-folded local part,
  provider rules only where configured (default: Gmail dots and +tags, googlemail.com alias).
- ``phone`` (``phones``): phonenumbers, possible and valid, stored as E.164.
- ``ip`` (``ips``): IPv4 as is; IPv4-mapped IPv6 as IPv4; other IPv6 as its /64 (configurable).
- ``device_id``, ``account_id``, ``card_fingerprint``, ``custom:<name>`` (``tokens``): opaque
  tokens; UUIDs and hex lower-cased; card numbers refused.
- ``national_id`` (``national_ids``): Korean RRN as 13 digits with its date checked; others as
  upper-case alphanumerics.

Every kind first passes the shared rules in ``text`` (str only, NFC, surrounding whitespace
stripped, length limit, no control/invisible/unassigned characters). Bad input of any kind raises
``InvalidIdentifierError``, whose message names the kind and the reason, never the value.

``lookalike`` is the UTS #39 confusable skeleton (``confusables``; data: Unicode confusables.txt
13.0.0, shipped as ``confusable_prototypes.txt``) for emails, account ids and custom kinds, set
when it differs from the value. It feeds "review" signals only.
"""

from __future__ import annotations

from pseudovault.vault.identifiers.config import DEFAULT_EMAIL_RULES, EmailProviderRule, NormalizerConfig
from pseudovault.vault.identifiers.confusables import CONFUSABLES_UNICODE_VERSION, skeleton
from pseudovault.vault.identifiers.errors import InvalidIdentifierError
from pseudovault.vault.identifiers.model import BUILTIN_KINDS, NORMALIZATION_VERSIONS, NormalizedIdentifier
from pseudovault.vault.identifiers.normalizer import Normalizer

__all__ = [
    "BUILTIN_KINDS",
    "CONFUSABLES_UNICODE_VERSION",
    "DEFAULT_EMAIL_RULES",
    "NORMALIZATION_VERSIONS",
    "EmailProviderRule",
    "InvalidIdentifierError",
    "NormalizedIdentifier",
    "Normalizer",
    "NormalizerConfig",
    "skeleton",
]
