"""The errors the key layer raises.

Runtime failures to open protected data are one opaque :class:`DecryptionError`: a wrong key,
a bad tag, truncated input and mismatched associated data are indistinguishable to the caller
(and so to an attacker). A caller's mistake (wrong key length, wrong type) is a ``ValueError`` or
``TypeError`` raised where the mistake is made.
"""

from __future__ import annotations

__all__ = ["DecryptionError", "KeyNotFoundError", "KeyringError", "KeysError", "ProviderUnavailableError"]


class KeysError(Exception):
    """Base class of every error of the key layer."""


class DecryptionError(KeysError):
    """Protected data could not be opened. Deliberately says nothing more."""

    def __init__(self) -> None:
        super().__init__("decryption failed")


class KeyNotFoundError(KeysError):
    """No usable key with the requested id: unknown, disabled or destroyed."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"no usable key with id {key_id!r}")
        self.key_id = key_id


class KeyringError(KeysError):
    """A keyring file could not be opened or written. The message names the file."""


class ProviderUnavailableError(KeysError):
    """The root KEK provider (an HSM, a KMS) cannot be reached or refused the session now.

    A passing condition, not a fault of the data: callers answer "try again later". The message
    names the provider kind and the failure's class, never a key, a PIN or a credential.
    """

