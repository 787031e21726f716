"""Ed25519 signatures (RFC 8032) for audit checkpoints and erasure receipts.

A :class:`SigningKey` is a 32-byte Ed25519 private seed. The seed leaves the object only through
:meth:`SigningKey.seed`, as :class:`~keys.secrets.SecretBytes`, to be wrapped by the root KEK.
Public keys are the raw 32-byte encoding; signatures are 64 bytes. A key id names a public key
without revealing anything secret::

    key_id = "ed25519:" || hex(SHA-256(public key)[:8])

:func:`verify_signature` answers ``False`` for every failure (bad signature, malformed key or
signature, wrong types) and never raises.
"""

from __future__ import annotations

import hashlib
from typing import NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pseudovault.keys.secrets import SecretBytes

__all__ = [
    "PUBLIC_KEY_SIZE",
    "SEED_SIZE",
    "SIGNATURE_SIZE",
    "SigningKey",
    "public_key_id",
    "verify_signature",
]

SEED_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
_BYTES = (bytes, bytearray, memoryview)


def public_key_id(public_key: bytes) -> str:
    """The id of a raw 32-byte Ed25519 public key."""
    if not isinstance(public_key, _BYTES) or len(public_key) != PUBLIC_KEY_SIZE:
        raise ValueError(f"an Ed25519 public key is {PUBLIC_KEY_SIZE} bytes")
    return "ed25519:" + hashlib.sha256(bytes(public_key)).digest()[:8].hex()


class SigningKey:
    """An Ed25519 private key. Redacted repr; cannot be pickled."""

    __slots__ = ("_private", "_public", "_key_id")

    def __init__(self, seed: SecretBytes) -> None:
        if not isinstance(seed, SecretBytes):
            raise TypeError("the Ed25519 seed must be SecretBytes")
        if len(seed) != SEED_SIZE:
            raise ValueError(f"the Ed25519 seed must be {SEED_SIZE} bytes, got {len(seed)}")
        self._private = Ed25519PrivateKey.from_private_bytes(seed.reveal())
        self._public = self._private.public_key().public_bytes_raw()
        self._key_id = public_key_id(self._public)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(SecretBytes(Ed25519PrivateKey.generate().private_bytes_raw()))

    @classmethod
    def from_seed(cls, seed: SecretBytes) -> SigningKey:
        return cls(seed)

    def seed(self) -> SecretBytes:
        """The 32-byte private seed, for wrapping under the root KEK."""
        return SecretBytes(self._private.private_bytes_raw())

    def sign(self, message: bytes) -> bytes:
        if not isinstance(message, _BYTES):
            raise TypeError("the message to sign must be bytes")
        return self._private.sign(bytes(message))

    def public_key_bytes(self) -> bytes:
        return self._public

    @property
    def key_id(self) -> str:
        return self._key_id

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self._key_id!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("SigningKey cannot be pickled")


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True if ``signature`` is ``public_key``'s Ed25519 signature of ``message``; never raises."""
    if not (isinstance(public_key, _BYTES) and isinstance(message, _BYTES) and isinstance(signature, _BYTES)):
        return False
    if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(bytes(public_key)).verify(bytes(signature), bytes(message))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
