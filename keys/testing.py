"""An in-memory KEK provider for tests: the same contract as every real provider.

It holds its root key versions in process memory only. It is importable from the installed
package so that the test suites of the project and of its users can share it, but nothing in the
project selects it outside tests.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pseudovault.keys.errors import KeyNotFoundError
from pseudovault.keys.keyset import Keyset, KeyStatus
from pseudovault.keys.provider import KekProvider, KeyInfo, WrappedKey
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.wrap import generate_key, unwrap_key, wrap_key

__all__ = ["FakeKmsProvider"]

_PREFIX = "fake:"
_KEY_ID = re.compile(r"fake:([1-9][0-9]{0,17})")  # ASCII digits, no leading zero: one spelling per id


class FakeKmsProvider(KekProvider):
    """Root KEK versions in memory; wraps with RFC 5649 like the local keyring."""

    kind = "fake"

    def __init__(self, *, now: datetime | None = None) -> None:
        self._keyset = Keyset.new(generate_key(), now or datetime.now(UTC))

    def _version(self, key_id: str) -> int:
        match = _KEY_ID.fullmatch(key_id) if isinstance(key_id, str) else None
        if match is None:
            raise KeyNotFoundError(str(key_id))
        return int(match.group(1))

    @property
    def primary_key_id(self) -> str:
        return f"{_PREFIX}{self._keyset.primary}"

    def wrap(self, key: SecretBytes) -> WrappedKey:
        primary = self._keyset.primary_version
        assert primary.material is not None
        return WrappedKey(self.primary_key_id, wrap_key(primary.material, key))

    def unwrap(self, wrapped: WrappedKey) -> SecretBytes:
        try:
            version = self._keyset.get(self._version(wrapped.key_id))
        except KeyNotFoundError:
            raise KeyNotFoundError(wrapped.key_id) from None  # the id asked for, not the bare version
        assert version.material is not None
        return unwrap_key(version.material, wrapped.ciphertext)

    def rotate(self, *, now: datetime | None = None) -> str:
        self._keyset = self._keyset.add(generate_key(), now or datetime.now(UTC))
        return self.primary_key_id

    def keys(self) -> list[KeyInfo]:
        return [
            KeyInfo(
                key_id=f"{_PREFIX}{v.version}",
                status=v.status.value,
                primary=v.version == self._keyset.primary,
                created_at=v.created_at.isoformat(),
            )
            for v in self._keyset.versions
        ]

    def _set_status(self, key_id: str, status: KeyStatus) -> None:
        try:
            self._keyset = self._keyset.with_status(self._version(key_id), status)
        except KeyNotFoundError:
            raise KeyNotFoundError(key_id) from None

    def destroy(self, key_id: str) -> None:
        self._set_status(key_id, KeyStatus.DESTROYED)

    def disable(self, key_id: str) -> None:
        self._set_status(key_id, KeyStatus.DISABLED)

    def enable(self, key_id: str) -> None:
        self._set_status(key_id, KeyStatus.ENABLED)
