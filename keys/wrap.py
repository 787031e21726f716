"""Wrapping keys under keys: AES key wrap with padding (RFC 5649).

Key wrap is deterministic and has no nonce, so there is no limit on how many keys one
key-encryption key may wrap (unlike random-nonce GCM). Every failure to unwrap raises
:class:`keys.errors.DecryptionError`.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap_with_padding,
    aes_key_wrap_with_padding,
)

from pseudovault.keys.errors import DecryptionError
from pseudovault.keys.secrets import SecretBytes

__all__ = ["wrap_key", "unwrap_key", "generate_key", "DATA_KEY_SIZE"]

DATA_KEY_SIZE = 32
_KEK_SIZES = (16, 24, 32)


def generate_key(size: int = DATA_KEY_SIZE) -> SecretBytes:
    """A fresh random key from the operating system's CSPRNG."""
    if size not in _KEK_SIZES:
        raise ValueError(f"key size must be one of {_KEK_SIZES}, got {size}")
    return SecretBytes(os.urandom(size))


def _check_kek(kek: SecretBytes) -> None:
    if not isinstance(kek, SecretBytes):
        raise TypeError("key-encryption key must be SecretBytes")
    if len(kek) not in _KEK_SIZES:
        raise ValueError(f"key-encryption key must be 16, 24 or 32 bytes, got {len(kek)}")


def wrap_key(kek: SecretBytes, key: SecretBytes) -> bytes:
    """Wrap ``key`` under ``kek`` (RFC 5649)."""
    _check_kek(kek)
    if not isinstance(key, SecretBytes):
        raise TypeError("the key to wrap must be SecretBytes")
    if len(key) == 0:
        raise ValueError("cannot wrap an empty key")
    return aes_key_wrap_with_padding(kek.reveal(), key.reveal())


def unwrap_key(kek: SecretBytes, wrapped: bytes) -> SecretBytes:
    """Unwrap a key wrapped by :func:`wrap_key`. Any failure is one opaque error."""
    _check_kek(kek)
    if not isinstance(wrapped, (bytes, bytearray, memoryview)) or len(wrapped) < 16:
        raise DecryptionError()
    try:
        return SecretBytes(aes_key_unwrap_with_padding(kek.reveal(), bytes(wrapped)))
    except (InvalidUnwrap, ValueError, TypeError):
        raise DecryptionError() from None
