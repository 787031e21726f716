"""IP addresses (normalization version 1).

1. Shared rules (``text.prepare``), at most 64 characters; parsed by the standard ``ipaddress``
   module, which takes canonical decimal dotted IPv4 only (``192.168.001.001``, ``0x7f.1`` and
   ``127.1`` are refused: leading zeros are octal in some parsers and decimal in others).
2. IPv4: its canonical dotted form.
3. IPv4-mapped IPv6 (``::ffff:192.0.2.1``) is that IPv4 address.
4. Other IPv6: reduced to its network of ``ipv6_prefix`` bits (default /64, the usual allocation
   to one subscriber, who can pick any address in it), written compressed with the prefix
   length: ``2001:db8:1:2::/64``.
5. Refused: zone ids (``fe80::1%eth0``), networks (``10.0.0.0/8``), anything else that does not
   parse. The one exception is an IPv6 network of exactly ``ipv6_prefix`` bits with no host bits
   set: that is this normalizer's own output, accepted back so normalization is idempotent.

No lookalike. Private, loopback and other non-global addresses are accepted: whether they are
worth matching is the caller's policy, not a matter of normal form.
"""

from __future__ import annotations

import ipaddress
import re

from pseudovault.vault.identifiers.errors import InvalidIdentifierError
from pseudovault.vault.identifiers.text import prepare

__all__ = ["MAX_LENGTH", "normalize_ip"]

MAX_LENGTH = 64

_LEADING_ZERO = re.compile(r"(?:^|\.)0\d")
_DOTTED = re.compile(r"[0-9.]+")


def normalize_ip(raw: object, ipv6_prefix: int, kind: str = "ip") -> str:
    """Return the normal form of ``raw`` (module docstring)."""
    text = prepare(kind, raw, MAX_LENGTH)
    if "%" in text:
        raise InvalidIdentifierError(kind, "ip_zone_id", "ip identifier must not carry a zone id")
    if "/" in text:
        return _network(kind, text, ipv6_prefix)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        if _DOTTED.fullmatch(text) and _LEADING_ZERO.search(text):
            raise InvalidIdentifierError(
                kind, "ipv4_leading_zero", "ip identifier has an IPv4 part with a leading zero, which is ambiguous"
            ) from None
        raise InvalidIdentifierError(kind, "invalid_ip", "ip identifier is not an IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(address), ipv6_prefix), strict=False))


def _network(kind: str, text: str, ipv6_prefix: int) -> str:
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        network = None
    if (
        isinstance(network, ipaddress.IPv6Network)
        and network.prefixlen == ipv6_prefix
        and network.network_address.ipv4_mapped is None
    ):
        return str(network)
    raise InvalidIdentifierError(
        kind,
        "ip_network",
        f"ip identifier must be one address, not a network (only an IPv6 /{ipv6_prefix} network is accepted)",
    )
