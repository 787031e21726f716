"""IP addresses (normalization version 1).

1. Shared rules (``text.prepare``), at most 64 characters; parsed by the standard ``ipaddress``
   module, which takes canonical decimal dotted IPv4 only (``192.168.001.001``, ``0x7f.1`` and
   ``127.1`` are refused: leading zeros are octal in some parsers and decimal in others).
2. IPv4: its canonical dotted form.
3. IPv6 addresses that carry an IPv4 address are that IPv4 address: IPv4-mapped
   (``::ffff:192.0.2.1``), IPv4-translated (SIIT, RFC 7915: ``::ffff:0:192.0.2.1``), and NAT64
   (RFC 6052) under the well-known prefix ``64:ff9b::/96`` or one of the operator's own NAT64
   prefixes (``nat64_prefixes``: /32, /40, /48, /56, /64 or /96, the IPv4 address placed around
   the reserved octet as RFC 6052 section 2.2 says). Reducing those to a /64 instead would make one
   ban block every IPv4 client behind the same translator. (A ban stored from such an address
   before this rule holds the translator's /64, which no check derives any more: it matches
   nothing; ban the IPv4 address instead.)
4. The deprecated IPv4-compatible form (``::192.0.2.1``, anything in ``::/96`` but ``::`` and
   ``::1``) is refused: it names no address anyone uses, and as a /64 it would be ``::/64``.
5. Other IPv6: reduced to its network of ``ipv6_prefix`` bits (default /64, the usual allocation
   to one subscriber, who can pick any address in it), written compressed with the prefix
   length: ``2001:db8:1:2::/64``.
6. Refused: zone ids (``fe80::1%eth0``), networks (``10.0.0.0/8``), anything else that does not
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

__all__ = ["MAX_LENGTH", "NAT64_LENGTHS", "WELL_KNOWN_NAT64", "nat64_network", "normalize_ip"]

MAX_LENGTH = 64

#: RFC 6052's prefix lengths
NAT64_LENGTHS = (32, 40, 48, 56, 64, 96)
WELL_KNOWN_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT, RFC 7915
_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated IPv4-compatible (RFC 4291 2.5.5.1)
_COMPATIBLE_KEPT = frozenset({ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")})

_LEADING_ZERO = re.compile(r"(?:^|\.)0\d")
_DOTTED = re.compile(r"[0-9.]+")


def nat64_network(text: str) -> ipaddress.IPv6Network:
    """An operator's NAT64 prefix, checked: an IPv6 network of an RFC 6052 length, no host bits
    (ValueError otherwise: a configuration mistake)."""
    network = ipaddress.ip_network(text, strict=True)
    if not isinstance(network, ipaddress.IPv6Network) or network.prefixlen not in NAT64_LENGTHS:
        raise ValueError(f"a NAT64 prefix is an IPv6 network of length {', '.join(map(str, NAT64_LENGTHS))}")
    return network


def _embedded_ipv4(address: ipaddress.IPv6Address, length: int) -> ipaddress.IPv4Address | None:
    """The IPv4 address RFC 6052 embeds after a prefix of ``length`` bits (bits 64-71, the ``u``
    octet, are skipped and must be zero), or None when the ``u`` octet is not zero."""
    bits = int(address)
    if length < 96 and (bits >> 56) & 0xFF:
        return None
    if length == 96:
        return ipaddress.IPv4Address(bits & 0xFFFFFFFF)
    # the 32 IPv4 bits, in order, around the u octet (bits 64..71 counted from the left)
    high = 64 - length  # IPv4 bits before the u octet
    before = (bits >> 64) & ((1 << high) - 1) if high else 0
    after_bits = 32 - high
    after = (bits >> (56 - after_bits)) & ((1 << after_bits) - 1)
    return ipaddress.IPv4Address((before << after_bits) | after)


def normalize_ip(
    raw: object, ipv6_prefix: int, kind: str = "ip", nat64: tuple[ipaddress.IPv6Network, ...] = ()
) -> str:
    """Return the normal form of ``raw`` (module docstring); ``nat64``: the operator's own NAT64
    prefixes, besides the well-known one."""
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
    if address in _TRANSLATED:
        return str(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    for prefix in (WELL_KNOWN_NAT64, *nat64):
        if address in prefix:
            embedded = _embedded_ipv4(address, prefix.prefixlen)
            if embedded is not None:
                return str(embedded)
    if address in _COMPATIBLE and address not in _COMPATIBLE_KEPT:
        raise InvalidIdentifierError(
            kind, "ipv4_compatible", "ip identifier is a deprecated IPv4-compatible IPv6 address: send the IPv4 address"
        )
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
