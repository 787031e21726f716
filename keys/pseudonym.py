"""Keyed pseudonyms: HMAC-SHA256 under per-kind, per-domain keys derived from a lookup key.

A pseudonym is never a plain or salted hash (anyone could recompute those from a guessed
identifier) and is never truncated: it is the full 32-byte HMAC-SHA256 output. The
normalization version is part of the HMAC input, so a change of normalization rules yields new
pseudonyms instead of silently colliding with old ones.

Byte layout. ``lp(x)`` is ``len(x)`` as 4 bytes big-endian followed by ``x``, so no two field
sequences encode alike::

    kind_key  = HKDF-SHA256(ikm  = lookup key (>= 32 bytes),
                            salt = HKDF_SALT,
                            info = b"pseudovault/pseudonym/v1" || lp(utf8(kind)) || lp(utf8(domain)),
                            length = 32)
    message   = lp(uint32_be(norm_version)) || lp(utf8(normalized))
    pseudonym = HMAC-SHA256(kind_key, message)                           (32 bytes)

``normalized`` is taken as given: normalizing identifiers (and versioning those rules) belongs
to the caller. Errors never quote it.

:class:`Pseudonymizer` is on the hot path of every check: it caches one keyed HMAC context of
``cryptography`` per (kind, domain), so a derive is ``copy(); update(message); finalize()``
(about 0.6 us, half of what a copy of a stdlib ``hmac`` object takes), and the message's
version prefix per normalization version. The cache is bounded (:data:`MAX_CACHED_KEYS`); past
the bound, keys are derived per call, correct but slower.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from typing import NoReturn

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pseudovault.keys.secrets import SecretBytes

__all__ = [
    "HKDF_SALT",
    "INFO_PREFIX",
    "PSEUDONYM_SIZE",
    "Pseudonymizer",
    "derive_kind_key",
    "hmac_sha256",
]

HKDF_SALT = b"pseudovault/pseudonym/hkdf-salt/v1"
INFO_PREFIX = b"pseudovault/pseudonym/v1"
PSEUDONYM_SIZE = 32
KIND_KEY_SIZE = 32
MIN_LOOKUP_KEY_SIZE = 32
MAX_CACHED_KEYS = 4096
_MAX_UINT32 = 2**32 - 1


def hmac_sha256(key: SecretBytes, message: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104), the full 32 bytes."""
    if not isinstance(key, SecretBytes):
        raise TypeError("the HMAC key must be SecretBytes")
    if not isinstance(message, (bytes, bytearray, memoryview)):
        raise TypeError("the HMAC message must be bytes")
    return hmac.new(key.reveal(), message, hashlib.sha256).digest()


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _utf8(name: str, value: object) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be str, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} is empty")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates; the codec's message would quote the value
        raise ValueError(f"{name} is not valid Unicode text") from None


def derive_kind_key(lookup_key: SecretBytes, *, kind: str, domain: str) -> SecretBytes:
    """The HMAC key for one identifier kind in one pseudonymization domain (HKDF-SHA256)."""
    if not isinstance(lookup_key, SecretBytes):
        raise TypeError("the lookup key must be SecretBytes")
    if len(lookup_key) < MIN_LOOKUP_KEY_SIZE:
        raise ValueError(f"the lookup key must be at least {MIN_LOOKUP_KEY_SIZE} bytes, got {len(lookup_key)}")
    info = INFO_PREFIX + _lp(_utf8("kind", kind)) + _lp(_utf8("domain", domain))
    hkdf = HKDF(algorithm=SHA256(), length=KIND_KEY_SIZE, salt=HKDF_SALT, info=info)
    return SecretBytes(hkdf.derive(lookup_key.reveal()))


def _version_prefix(norm_version: int) -> bytes:
    """``lp(uint32_be(norm_version))``: the message's first field."""
    if not isinstance(norm_version, int) or isinstance(norm_version, bool):
        raise TypeError("norm_version must be an int")
    if not 0 <= norm_version <= _MAX_UINT32:
        raise ValueError("norm_version must fit in 32 bits unsigned")
    return _lp(norm_version.to_bytes(4, "big"))


#: the version prefixes of the first normalization versions, made once (a check needs one per
#: identifier); other versions are made per call
_VERSION_PREFIXES = {version: _version_prefix(version) for version in range(64)}


def _message(normalized: str, norm_version: int) -> bytes:
    prefix = _VERSION_PREFIXES.get(norm_version) if type(norm_version) is int else None
    if prefix is None:
        prefix = _version_prefix(norm_version)
    return prefix + _lp(_utf8("normalized value", normalized))


class Pseudonymizer:
    """Derives pseudonyms under one version of the lookup key. Thread-safe."""

    __slots__ = ("_lookup_key", "_version", "_macs", "_lock")

    def __init__(self, lookup_key: SecretBytes, version: int) -> None:
        if not isinstance(lookup_key, SecretBytes):
            raise TypeError("the lookup key must be SecretBytes")
        if len(lookup_key) < MIN_LOOKUP_KEY_SIZE:
            raise ValueError(f"the lookup key must be at least {MIN_LOOKUP_KEY_SIZE} bytes, got {len(lookup_key)}")
        if not isinstance(version, int) or isinstance(version, bool):
            raise TypeError("version must be an int")
        if version < 1:
            raise ValueError("version must be >= 1")
        self._lookup_key = lookup_key
        self._version = version
        self._macs: dict[tuple[str, str], HMAC] = {}
        self._lock = threading.Lock()

    @property
    def version(self) -> int:
        """The lookup key version these pseudonyms are derived under."""
        return self._version

    def _mac(self, kind: str, domain: str) -> HMAC:
        """The keyed HMAC context for (kind, domain): never updated, only copied."""
        mac = self._macs.get((kind, domain))
        if mac is not None:
            return mac
        key = derive_kind_key(self._lookup_key, kind=kind, domain=domain)  # validates kind, domain
        mac = HMAC(key.reveal(), SHA256())
        with self._lock:
            if len(self._macs) < MAX_CACHED_KEYS:
                mac = self._macs.setdefault((kind, domain), mac)
        return mac

    def derive(self, kind: str, domain: str, normalized: str, norm_version: int) -> bytes:
        """The 32-byte pseudonym of ``normalized`` (already normalized by rules ``norm_version``)."""
        message = _message(normalized, norm_version)
        h = self._mac(kind, domain).copy()
        h.update(message)
        return h.finalize()

    def __repr__(self) -> str:
        return f"Pseudonymizer(version={self._version}, <redacted key>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("Pseudonymizer cannot be pickled")
