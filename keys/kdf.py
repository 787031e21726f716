"""Passphrase-based key derivation for the local keyring: Argon2id (RFC 9106).

``derive_sealing_key(passphrase, salt, params)`` is Argon2id, version 0x13, over the
passphrase's bytes and a random salt, giving a 32-byte key::

    sealing_key = Argon2id(P = passphrase bytes, S = salt (16 bytes), t = time_cost,
                           m = memory_cost (KiB), p = parallelism, v = 0x13, T = 32)

A passphrase is normalized to Unicode NFC and encoded as UTF-8, so the same passphrase typed on
systems that compose characters differently derives the same key. This holds for a ``str`` and
for a :class:`~keys.secrets.SecretBytes` that holds UTF-8 text alike; only bytes that are not
UTF-8 (a binary secret) are used exactly as given.

:class:`Argon2Params` accepts what Argon2 itself accepts (``memory_cost >= 8 * parallelism``),
so tests can use tiny costs; its defaults (t=3, m=64 MiB, p=4, RFC 9106's second recommended
option) are for production. Upper bounds keep a tampered keyring file from making ``open`` run
for hours or exhaust memory.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from argon2.exceptions import HashingError
from argon2.low_level import ARGON2_VERSION, Type, hash_secret_raw

from pseudovault.keys.secrets import SecretBytes

__all__ = [
    "Argon2Params",
    "SALT_SIZE",
    "SEALING_KEY_SIZE",
    "derive_sealing_key",
    "passphrase_bytes",
]

SALT_SIZE = 16
SEALING_KEY_SIZE = 32

MAX_TIME_COST = 100
MAX_MEMORY_COST = 4 * 1024 * 1024  # KiB, i.e. 4 GiB
MAX_PARALLELISM = 64


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"Argon2Params.{name} must be an int")
    if not low <= value <= high:
        raise ValueError(f"Argon2Params.{name} must be between {low} and {high}, got {value}")


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost parameters. ``memory_cost`` is in KiB."""

    time_cost: int = 3
    memory_cost: int = 65536
    parallelism: int = 4

    def __post_init__(self) -> None:
        _check_int("time_cost", self.time_cost, 1, MAX_TIME_COST)
        _check_int("parallelism", self.parallelism, 1, MAX_PARALLELISM)
        _check_int("memory_cost", self.memory_cost, 8 * self.parallelism, MAX_MEMORY_COST)


def passphrase_bytes(passphrase: str | SecretBytes) -> SecretBytes:
    """The bytes a passphrase stands for: NFC-normalized UTF-8 text, or non-UTF-8 bytes as given.

    An empty passphrase is refused (``ValueError``); the error never quotes the passphrase.
    """
    if isinstance(passphrase, SecretBytes):
        try:
            text = passphrase.reveal().decode("utf-8")
        except UnicodeDecodeError:  # a binary secret, not text: nothing to normalize
            secret = passphrase
        else:
            secret = SecretBytes(unicodedata.normalize("NFC", text).encode("utf-8"))
    elif isinstance(passphrase, str):
        try:
            secret = SecretBytes(unicodedata.normalize("NFC", passphrase).encode("utf-8"))
        except UnicodeEncodeError:  # lone surrogates; the codec's message would quote them
            raise ValueError("the passphrase is not valid Unicode text") from None
    else:
        raise TypeError(f"a passphrase is str or SecretBytes, not {type(passphrase).__name__}")
    if len(secret) == 0:
        raise ValueError("the passphrase is empty")
    return secret


def derive_sealing_key(passphrase: SecretBytes, salt: bytes, params: Argon2Params) -> SecretBytes:
    """Argon2id(passphrase, salt, params) -> 32-byte key. ``ValueError`` if Argon2 refuses."""
    if not isinstance(passphrase, SecretBytes):
        raise TypeError("the passphrase must be SecretBytes; see passphrase_bytes()")
    if not isinstance(salt, bytes) or len(salt) != SALT_SIZE:
        raise ValueError(f"the salt must be {SALT_SIZE} bytes")
    if not isinstance(params, Argon2Params):
        raise TypeError("params must be Argon2Params")
    try:
        raw = hash_secret_raw(
            secret=passphrase.reveal(),
            salt=salt,
            time_cost=params.time_cost,
            memory_cost=params.memory_cost,
            parallelism=params.parallelism,
            hash_len=SEALING_KEY_SIZE,
            type=Type.ID,
            version=ARGON2_VERSION,
        )
    except HashingError as exc:  # e.g. memory allocation failed; the message holds no secret
        raise ValueError(f"argon2id derivation failed: {exc}") from None
    return SecretBytes(raw)
