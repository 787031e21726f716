"""AES-256-GCM with associated data.

Byte layout of a ciphertext produced by :meth:`Aead.encrypt`::

    nonce (12 bytes, random) || GCM ciphertext (len(plaintext) bytes) || tag (16 bytes)

Every failure to decrypt raises :class:`keys.errors.DecryptionError` and nothing else.

Nonces are 96 random bits from the operating system's CSPRNG (``os.urandom``), drawn
:data:`NONCE_BATCH` at a time into a process-wide pool and handed out once each: one system call
per 256 encryptions instead of one per encryption (as OpenSSL's and BoringSSL's user-space
generators also buffer the kernel's randomness). Taking a nonce is one ``list.pop``, which is
atomic, so two threads never get the same one; a forked child empties the pool it inherited
(``os.register_at_fork``) before it runs anything else, so parent and child never hand out the
same bytes.
"""

from __future__ import annotations

import os
from typing import NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pseudovault.keys.errors import DecryptionError
from pseudovault.keys.secrets import SecretBytes

__all__ = ["Aead", "KEY_SIZE", "NONCE_SIZE", "TAG_SIZE", "OVERHEAD", "NONCE_BATCH", "random_nonce"]

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
OVERHEAD = NONCE_SIZE + TAG_SIZE
#: nonces drawn from the OS per refill of a thread's buffer
NONCE_BATCH = 256


_pool: list[bytes] = []  # nonces drawn and not yet handed out; list.pop is atomic, so no lock


def _after_fork_in_child() -> None:
    _pool.clear()  # the parent hands these out: the child must not


os.register_at_fork(after_in_child=_after_fork_in_child)


def random_nonce() -> bytes:
    """:data:`NONCE_SIZE` fresh random bytes, never handed out before in this process or any
    process it forked."""
    try:
        return _pool.pop()
    except IndexError:
        block = os.urandom(NONCE_SIZE * NONCE_BATCH)
        fresh = [block[i : i + NONCE_SIZE] for i in range(0, len(block), NONCE_SIZE)]
        mine = fresh.pop()
        _pool.extend(fresh)
        return mine


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
        try:
            nonce = _pool.pop()  # random_nonce(), inlined on the hot path
        except IndexError:
            nonce = random_nonce()
        return nonce + self._aesgcm.encrypt(nonce, plaintext, associated_data)

    def decrypt(self, ciphertext: bytes, associated_data: bytes) -> bytes:
        # bytes, bytearray and memoryview are read as they are; anything else (a str, None, an
        # int) fails inside AESGCM with a TypeError, and a ciphertext shorter than OVERHEAD
        # leaves a nonce AESGCM refuses (ValueError) or no whole tag (InvalidTag): each comes
        # out as the one opaque error
        try:
            return self._aesgcm.decrypt(ciphertext[:NONCE_SIZE], ciphertext[NONCE_SIZE:], associated_data)
        except (InvalidTag, ValueError, TypeError, OverflowError):
            raise DecryptionError() from None

    def __repr__(self) -> str:
        return "Aead(<redacted key>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("Aead cannot be pickled")
