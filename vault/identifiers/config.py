"""Configuration of a ``Normalizer``; checked when built, so a bad one fails at start-up.

A configuration is part of what an identifier's normal form means: changing ``default_region``,
``ipv6_prefix`` or an email rule changes the values some inputs normalize to, exactly as a version
bump would, so stored pseudonyms must be re-derived. Keep one configuration per deployment.

Mistakes here are the operator's, not a data subject's: they raise ``ValueError``/``TypeError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from pseudovault.vault.identifiers.ips import nat64_network

__all__ = ["DEFAULT_EMAIL_RULES", "EmailProviderRule", "NormalizerConfig", "canonical_email_domain"]


def canonical_email_domain(domain: object) -> str:
    """The form email normalization compares domains in: lowercase IDNA A-labels (``xn--...``)."""
    if not isinstance(domain, str) or not domain:
        raise TypeError("an email domain must be a non-empty str")
    try:
        ascii_domain: str = validate_email(
            "x@" + domain, check_deliverability=False, allow_smtputf8=True, allow_quoted_local=False
        ).ascii_domain
    except EmailNotValidError:
        raise ValueError("not a valid email domain name") from None
    return ascii_domain


def _domains(values: object, what: str) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise TypeError(f"{what} must be a tuple of domain names")
    domains = tuple(canonical_email_domain(d) for d in values)
    if len(set(domains)) != len(domains):
        raise ValueError(f"{what} names a domain twice")
    return domains


@dataclass(frozen=True)
class EmailProviderRule:
    """How one mail provider reads local parts; applies to its own domains only.

    ``domains[0]`` is the canonical domain; the others are aliases normalized to it (for Gmail,
    ``googlemail.com`` is ``gmail.com``). ``ignore_dots`` drops every ``.`` of the local part;
    ``strip_plus_tags`` drops a ``+`` and everything after it. Domains are stored as lowercase
    A-labels whatever form they were given in.
    """

    domains: tuple[str, ...]
    ignore_dots: bool = False
    strip_plus_tags: bool = False

    def __post_init__(self) -> None:
        domains = _domains(self.domains, "EmailProviderRule.domains")
        if not domains:
            raise ValueError("EmailProviderRule.domains must name at least one domain")
        if not isinstance(self.ignore_dots, bool) or not isinstance(self.strip_plus_tags, bool):
            raise TypeError("EmailProviderRule.ignore_dots and strip_plus_tags must be bool")
        object.__setattr__(self, "domains", domains)


GMAIL = EmailProviderRule(domains=("gmail.com", "googlemail.com"), ignore_dots=True, strip_plus_tags=True)
DEFAULT_EMAIL_RULES: tuple[EmailProviderRule, ...] = (GMAIL,)


@dataclass(frozen=True)
class NormalizerConfig:
    """``default_region``: phonenumbers region for numbers written without ``+<country code>``.
    ``ipv6_prefix``: IPv6 addresses are reduced to their network of this length (16-128).
    ``email_rules``: provider rules (default: Gmail only). ``strip_plus_tags_domains``: further
    domains whose local parts lose a ``+tag``, and nothing else; none by default.
    ``nat64_prefixes``: the operator's own NAT64 prefixes (RFC 6052 lengths), whose addresses are
    taken as the IPv4 address they carry, like those of the well-known ``64:ff9b::/96``.
    """

    default_region: str = "KR"
    ipv6_prefix: int = 64
    email_rules: tuple[EmailProviderRule, ...] = DEFAULT_EMAIL_RULES
    strip_plus_tags_domains: tuple[str, ...] = field(default=())
    nat64_prefixes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.default_region, str) or self.default_region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("NormalizerConfig.default_region must be a region code phonenumbers supports, e.g. 'KR'")
        if not isinstance(self.ipv6_prefix, int) or isinstance(self.ipv6_prefix, bool):
            raise TypeError("NormalizerConfig.ipv6_prefix must be an int")
        if not 16 <= self.ipv6_prefix <= 128:
            raise ValueError("NormalizerConfig.ipv6_prefix must be between 16 and 128")
        if isinstance(self.email_rules, EmailProviderRule) or not isinstance(self.email_rules, Iterable):
            raise TypeError("NormalizerConfig.email_rules must be a tuple of EmailProviderRule")
        rules = tuple(self.email_rules)
        if not all(isinstance(rule, EmailProviderRule) for rule in rules):
            raise TypeError("NormalizerConfig.email_rules must be a tuple of EmailProviderRule")
        ruled = [d for rule in rules for d in rule.domains]
        if len(set(ruled)) != len(ruled):
            raise ValueError("NormalizerConfig.email_rules: a domain appears in two rules")
        tagged = _domains(self.strip_plus_tags_domains, "NormalizerConfig.strip_plus_tags_domains")
        if set(tagged) & set(ruled):
            raise ValueError("NormalizerConfig.strip_plus_tags_domains names a domain that already has a rule")
        if isinstance(self.nat64_prefixes, str) or not isinstance(self.nat64_prefixes, Iterable):
            raise TypeError("NormalizerConfig.nat64_prefixes must be a tuple of IPv6 networks")
        try:
            prefixes = tuple(str(nat64_network(p)) for p in self.nat64_prefixes)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"NormalizerConfig.nat64_prefixes: {exc}") from None
        object.__setattr__(self, "nat64_prefixes", prefixes)
        object.__setattr__(self, "email_rules", rules)
        object.__setattr__(self, "strip_plus_tags_domains", tagged)
