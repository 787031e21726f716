"""AES-256-GCM with associated data.

Byte layout of a ciphertext produced by :meth:`Aead.encrypt`::

    nonce (12 bytes, random) || GCM ciphertext (len(plaintext) bytes) || tag (16 bytes)

Every failure to decrypt raises :class:`keys.errors.DecryptionError` and nothing else.
"""

from __future__ import annotations

import os
from typing import NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pseudovault.keys.errors import DecryptionError
from pseudovault.keys.secrets import SecretBytes

__all__ = ["Aead", "KEY_SIZE", "NONCE_SIZE", "TAG_SIZE", "OVERHEAD"]

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
OVERHEAD = NONCE_SIZE + TAG_SIZE


class Aead:
    """AES-256-GCM under one key. The key is checked at construction."""

    __slots__ = ("_aesgcm",)

    def __init__(self, key: SecretBytes) -> None:
        if not isinstance(key, SecretBytes):
            raise TypeError("Aead key must be SecretBytes")
        if len(key) != KEY_SIZE:
            raise ValueError(f"Aead key must be {KEY_SIZE} bytes, got {len(key)}")
        self._aesgcm = AESGCM(key.reveal())

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        return nonce + self._aesgcm.encrypt(nonce, plaintext, associated_data)

    def decrypt(self, ciphertext: bytes, associated_data: bytes) -> bytes:
        if type(ciphertext) is not bytes:
            if not isinstance(ciphertext, (bytearray, memoryview)):
                raise DecryptionError()
            ciphertext = bytes(ciphertext)
        if len(ciphertext) < OVERHEAD:
            raise DecryptionError()
        try:
            return self._aesgcm.decrypt(ciphertext[:NONCE_SIZE], ciphertext[NONCE_SIZE:], associated_data)
        except (InvalidTag, ValueError, TypeError, OverflowError):
            raise DecryptionError() from None

    def __repr__(self) -> str:
        return "Aead(<redacted key>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("Aead cannot be pickled")
