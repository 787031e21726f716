"""Signing keys of the key hierarchy: Ed25519 keys whose seeds the root KEK wraps.

::

    root KEK version (provider)  --provider.wrap-->  Ed25519 seed (32 bytes)   (key store: signing_keys)
    Ed25519 key of a purpose     --sign-->           audit checkpoints (vault.audit), erasure receipts

A row of ``signing_keys`` holds the seed as the provider wrapped it, the id of the root KEK
version that did (``kek_id``), the raw public key, a purpose (``audit``) and a status. The oldest
enabled key of a purpose signs; a key is created the first time its purpose needs one (and for
``audit`` when the vault is created). Two processes creating one at the same moment each insert a
key, and both then sign with the oldest: the other stays enabled but unused.

Verification never trusts the stored public key: :meth:`SigningKeys.verify` unwraps the seed
through the provider and checks the signature with the public key derived from it, so whoever can
write to the key store but cannot use the root KEK can neither add a key of their own nor swap a
public key. Key ids are :func:`keys.signing.public_key_id` (``ed25519:<16 hex digits>``).

:meth:`vault.crypto.keystore.KeyHierarchy.rewrap` moves the seeds to the provider's primary root version
with every other root-wrapped key; the seed does not change, so signatures stay valid. Unwrapped
keys stay in memory for the life of the object: they are few, and are never shredded.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from pseudovault.keys.errors import DecryptionError, KeyNotFoundError
from pseudovault.keys.provider import KekProvider, WrappedKey
from pseudovault.keys.signing import SigningKey, verify_signature
from pseudovault.vault.clock import Clock
from pseudovault.vault.store.db import session_scope
from pseudovault.vault.store.key_models import SigningKeyRow
from pseudovault.vault.views import View

__all__ = ["AUDIT_PURPOSE", "PURPOSES", "SigningKeyInfo", "SigningKeys", "PurposeSigner"]

log = logging.getLogger(__name__)

AUDIT_PURPOSE = "audit"
#: the purposes a signing key may serve; erasure receipts will add theirs
PURPOSES = frozenset({AUDIT_PURPOSE})

_ENABLED = "enabled"


@dataclass(frozen=True)
class SigningKeyInfo(View):
    """What may be shown about a signing key: its id, public key and where it is wrapped."""

    key_id: str
    purpose: str
    kek_id: str
    status: str
    public_key: str  # hex of the raw 32-byte Ed25519 public key
    created_at: datetime


class PurposeSigner:
    """Signs with the signing key of one purpose and verifies against any key of the store."""

    def __init__(self, keys: SigningKeys, purpose: str) -> None:
        self._keys = keys
        self._purpose = purpose

    def key_id(self) -> str:
        """The id of the key that signs for this purpose now (created on first need)."""
        return self._keys.current(self._purpose).key_id

    def sign(self, key_id: str, message: bytes) -> bytes:
        """The 64-byte signature of ``message`` by key ``key_id`` (DecryptionError if it does not unwrap)."""
        key = self._keys.get(key_id)
        if key is None:
            raise DecryptionError()
        return key.sign(message)

    def verify(self, key_id: str, message: bytes, signature: bytes) -> bool:
        return self._keys.verify(key_id, message, signature)

    def __repr__(self) -> str:
        return f"PurposeSigner({self._purpose!r})"


class SigningKeys:
    """The Ed25519 signing keys in the key store, their seeds wrapped by the provider's root KEK."""

    def __init__(self, provider: KekProvider, keys_engine: Engine, clock: Clock) -> None:
        if not isinstance(provider, KekProvider):
            raise TypeError("provider must be a KekProvider")
        self._provider = provider
        self._engine = keys_engine
        self._clock = clock
        self._lock = threading.Lock()
        self._unwrapped: dict[str, SigningKey] = {}
        self._current: dict[str, str] = {}  # purpose -> key id

    def __repr__(self) -> str:
        return f"SigningKeys(provider={self._provider!r})"

    def signer(self, purpose: str) -> PurposeSigner:
        _check_purpose(purpose)
        return PurposeSigner(self, purpose)

    # --- keys of a purpose ----------------------------------------------------------------

    def _oldest_enabled(self, purpose: str) -> SigningKeyRow | None:
        with session_scope(self._engine) as session:
            return session.scalars(
                select(SigningKeyRow)
                .where(SigningKeyRow.purpose == purpose, SigningKeyRow.status == _ENABLED)
                .order_by(SigningKeyRow.created_at, SigningKeyRow.key_id)
                .limit(1)
            ).first()

    def ensure(self, purpose: str = AUDIT_PURPOSE) -> str:
        """The id of the key that signs for ``purpose``, creating one if there is none."""
        _check_purpose(purpose)
        row = self._oldest_enabled(purpose)
        if row is not None:
            return row.key_id
        key = SigningKey.generate()
        wrapped = self._provider.wrap(key.seed())
        with session_scope(self._engine, write=True) as session:
            # on SQLite the write lock is held from here: a concurrent creator is seen now
            existing = session.scalar(
                select(func.count())
                .select_from(SigningKeyRow)
                .where(SigningKeyRow.purpose == purpose, SigningKeyRow.status == _ENABLED)
            )
            if not existing:
                session.add(
                    SigningKeyRow(
                        key_id=key.key_id,
                        purpose=purpose,
                        kek_id=wrapped.key_id,
                        wrapped=wrapped.ciphertext,
                        public_key=key.public_key_bytes(),
                        status=_ENABLED,
                        created_at=self._clock.now(),
                    )
                )
                log.info("created %s signing key %s", purpose, key.key_id)
        row = self._oldest_enabled(purpose)
        assert row is not None
        return row.key_id

    def current(self, purpose: str) -> SigningKey:
        """The unwrapped key that signs for ``purpose`` (created on first need)."""
        _check_purpose(purpose)
        with self._lock:
            key_id = self._current.get(purpose)
        if key_id is None:
            key_id = self.ensure(purpose)
            with self._lock:
                self._current[purpose] = key_id
        key = self.get(key_id)
        if key is None:  # the row vanished or no longer unwraps to its id
            with self._lock:
                self._current.pop(purpose, None)
            raise DecryptionError()
        return key

    def get(self, key_id: str) -> SigningKey | None:
        """The unwrapped key ``key_id``, or None when there is no such key or its seed does not
        unwrap to a key with that id."""
        with self._lock:
            cached = self._unwrapped.get(key_id)
        if cached is not None:
            return cached
        with session_scope(self._engine) as session:
            row = session.get(SigningKeyRow, key_id)
            if row is None or row.wrapped is None:
                return None
            kek_id, wrapped = row.kek_id, row.wrapped
        try:
            key = SigningKey(self._provider.unwrap(WrappedKey(kek_id, wrapped)))
        except (DecryptionError, KeyNotFoundError, ValueError):
            log.warning("signing key %s does not unwrap", key_id)
            return None
        if key.key_id != key_id:
            log.warning("signing key %s unwraps to a different key", key_id)
            return None
        with self._lock:
            self._unwrapped[key_id] = key
        return key

    def verify(self, key_id: str, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is the signature of ``message`` by key ``key_id`` of this store."""
        key = self.get(key_id)
        if key is None:
            return False
        return verify_signature(key.public_key_bytes(), message, signature)

    def list(self) -> list[SigningKeyInfo]:
        with session_scope(self._engine) as session:
            rows = session.scalars(select(SigningKeyRow).order_by(SigningKeyRow.created_at, SigningKeyRow.key_id)).all()
        return [
            SigningKeyInfo(
                key_id=r.key_id,
                purpose=r.purpose,
                kek_id=r.kek_id,
                status=r.status,
                public_key=bytes(r.public_key).hex(),
                created_at=r.created_at,
            )
            for r in rows
        ]


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown signing key purpose {purpose!r}")
