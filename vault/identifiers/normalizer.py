"""``Normalizer``: one entry point over every identifier kind.

Pure: no storage, no keys, no clock, no network (email domains are not looked up). The per-kind
rules live in ``emails``, ``phones``, ``ips``, ``national_ids`` and ``tokens``; the rules every
kind shares in ``text``; look-alike skeletons in ``confusables``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pseudovault.vault.identifiers.config import NormalizerConfig
from pseudovault.vault.identifiers.confusables import load_prototypes, lookalike_key
from pseudovault.vault.identifiers.emails import EmailNormalizer
from pseudovault.vault.identifiers.errors import InvalidIdentifierError
from pseudovault.vault.identifiers.ips import nat64_network, normalize_ip
from pseudovault.vault.identifiers.model import CUSTOM_PREFIX, NormalizedIdentifier, parse_kind, version_of
from pseudovault.vault.identifiers.national_ids import normalize_national_id
from pseudovault.vault.identifiers.phones import normalize_phone
from pseudovault.vault.identifiers.tokens import (
    normalize_account_id,
    normalize_card_fingerprint,
    normalize_custom,
    normalize_device_id,
)

__all__ = ["Normalizer"]

#: values the rules of this module make are valid ones: built without checking them again
_make = NormalizedIdentifier._from_normalizer


class Normalizer:
    """Turns ``(kind, raw)`` into a ``NormalizedIdentifier`` or raises ``InvalidIdentifierError``.

    Thread-safe and cheap to share: it holds only its (immutable) configuration.
    """

    def __init__(self, config: NormalizerConfig | None = None) -> None:
        if config is None:
            config = NormalizerConfig()
        if not isinstance(config, NormalizerConfig):
            raise TypeError("Normalizer needs a NormalizerConfig")
        load_prototypes()  # a damaged data file fails here, not on the first signup
        self._config = config
        self._email = EmailNormalizer(config)
        region, prefix = config.default_region, config.ipv6_prefix
        nat64 = tuple(nat64_network(p) for p in config.nat64_prefixes)
        self._plain: dict[str, Callable[[object], str]] = {
            "phone": lambda raw: normalize_phone(raw, region),
            "ip": lambda raw: normalize_ip(raw, prefix, nat64=nat64),
            "device_id": normalize_device_id,
            "card_fingerprint": normalize_card_fingerprint,
            "national_id": normalize_national_id,
        }
        #: the kinds without a look-alike: (their rules, their version), found by the kind as
        #: given (a built-in kind's name is its parsed form: nothing to parse on a check's path)
        self._plain_kinds = {kind: (rule, version_of(kind)) for kind, rule in self._plain.items()}

    @property
    def config(self) -> NormalizerConfig:
        return self._config

    @staticmethod
    def parse_kind(kind: str) -> str:
        """``kind`` if it is a built-in kind or ``custom:<name>``; ``InvalidIdentifierError`` otherwise."""
        return parse_kind(kind)

    def normalize(self, kind: str, raw: str) -> NormalizedIdentifier:
        plain = self._plain_kinds.get(kind) if type(kind) is str else None
        if plain is not None:
            rule, version = plain
            return _make(kind, rule(raw), version, None)
        kind = parse_kind(kind)
        version = version_of(kind)
        if kind == "email":
            value, lookalike = self._email.normalize(raw)
            return _make(kind, value, version, lookalike if lookalike != value else None)
        if kind == "account_id" or kind.startswith(CUSTOM_PREFIX):
            value = normalize_account_id(raw) if kind == "account_id" else normalize_custom(raw, kind)
            look = lookalike_key(value)
            return _make(kind, value, version, look if look != value else None)
        return _make(kind, self._plain[kind](raw), version, None)

    def normalize_many(self, items: Iterable[tuple[str, str]]) -> list[NormalizedIdentifier]:
        """Normalize every ``(kind, raw)`` pair, in order; the first invalid one raises, naming its index."""
        results: list[NormalizedIdentifier] = []
        for index, item in enumerate(items):
            if not isinstance(item, tuple) or len(item) != 2:
                raise InvalidIdentifierError(
                    "kind", "invalid_item", "each identifier must be a (kind, value) pair", index=index
                )
            try:
                results.append(self.normalize(*item))
            except InvalidIdentifierError as error:
                raise error.with_index(index) from None
        return results

    def __repr__(self) -> str:
        c = self._config
        return (
            f"Normalizer(default_region={c.default_region!r}, ipv6_prefix={c.ipv6_prefix}, "
            f"email_rules={len(c.email_rules)}, strip_plus_tags_domains={len(c.strip_plus_tags_domains)})"
        )
