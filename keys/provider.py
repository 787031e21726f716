"""The key-encryption key (KEK) provider interface.

A provider holds the root KEK versions (a local keyring file, a PKCS#11 HSM or a cloud KMS)
and exposes only wrap and unwrap: root key material never leaves it through this interface.

A wrapped key names the KEK version that wrapped it (``key_id``), so unwrap finds the right
version after rotation. Several processes may share one provider's backend (a keyring file, a
token, a KMS alias): each provider follows the versions other processes add, disable or destroy
(see :meth:`KekProvider.refresh`). A backend that cannot be reached is
:class:`keys.errors.ProviderUnavailableError`, never a decryption error. Key ids are opaque strings chosen by the provider, for example
``"local:3"``; they are stable, never reused, and safe to store and log.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from pseudovault.keys.secrets import SecretBytes

__all__ = ["WrappedKey", "KekProvider", "KeyInfo"]


@dataclass(frozen=True)
class WrappedKey:
    """A key wrapped by a provider: the wrapping KEK's id and the wrapped bytes."""

    key_id: str
    ciphertext: bytes

    def __repr__(self) -> str:  # the wrapped bytes are not secret, but there is no need to print them
        return f"WrappedKey(key_id={self.key_id!r}, <{len(self.ciphertext)} bytes>)"


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about one KEK version: never its material."""

    key_id: str
    status: str  # "enabled" | "disabled" | "destroyed"
    primary: bool
    created_at: str  # ISO 8601, UTC


class KekProvider(abc.ABC):
    """Holds root key-encryption keys; wraps and unwraps other keys under them."""

    #: a short name for the provider kind, e.g. "local", "fake", "kms"
    kind: str = "abstract"

    @property
    @abc.abstractmethod
    def primary_key_id(self) -> str:
        """The id of the KEK version that :meth:`wrap` uses."""

    @abc.abstractmethod
    def wrap(self, key: SecretBytes) -> WrappedKey:
        """Wrap ``key`` under the primary KEK version."""

    @abc.abstractmethod
    def unwrap(self, wrapped: WrappedKey) -> SecretBytes:
        """Unwrap under the version named by ``wrapped.key_id``.

        Raises :class:`keys.errors.KeyNotFoundError` when that version is unknown, disabled or
        destroyed, and :class:`keys.errors.DecryptionError` when the bytes do not unwrap.
        """

    @abc.abstractmethod
    def rotate(self, *, now: datetime | None = None) -> str:
        """Add a new KEK version and make it primary; return its id. Old versions still unwrap."""

    @abc.abstractmethod
    def keys(self) -> list[KeyInfo]:
        """Every version this provider knows of, oldest first."""

    @abc.abstractmethod
    def destroy(self, key_id: str) -> None:
        """Destroy a non-primary version for good. Irreversible."""

    @abc.abstractmethod
    def disable(self, key_id: str) -> None:
        """Stop a non-primary version from unwrapping until :meth:`enable`. Reversible."""

    @abc.abstractmethod
    def enable(self, key_id: str) -> None:
        """Let a disabled version unwrap again."""

    def refresh(self) -> None:
        """Pick up versions another process added, disabled or destroyed, now.

        Every provider also does this by itself: at the latest when :meth:`unwrap` is asked for a
        version it does not know, and within its documented bound otherwise. A provider that asks
        its backend on every call has nothing to do here.
        """

    def close(self) -> None:
        """Release sessions or connections to the backend. Closing twice is harmless."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(primary={self.primary_key_id!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} cannot be pickled")
