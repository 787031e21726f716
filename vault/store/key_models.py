"""The tables of the key store (:class:`vault.store.base.KeysBase`): wrapped keys and their history.

``wrapping_keys`` (one wrapping key per epoch, wrapped by a root KEK version of the provider),
``subject_keys`` (each subject's data key, wrapped under an epoch's wrapping key with RFC 5649),
``shred_ledger`` (ids of shredded subjects, replayed after a restore) and ``ledger_replay`` (how far
the external shred ledger was replayed), ``signing_keys`` (Ed25519 seeds wrapped by the root KEK),
``lookup_keys`` (versioned keys pseudonyms are derived under, wrapped by the root KEK) and
``record_keys`` (data keys of records without a subject and of separately stored items).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from pseudovault.vault.store.base import (
    KEK_ID_LENGTH,
    RECORD_ID_LENGTH,
    SUBJECT_ID_LENGTH,
    KeysBase,
    UtcDateTime,
)

__all__ = [
    "EpochStatus",
    "WrappingKey",
    "SubjectKey",
    "ShredLedgerEntry",
    "LedgerReplay",
    "SigningKeyRow",
    "LookupKey",
    "RecordKey",
]

class EpochStatus(str, enum.Enum):
    ENABLED = "enabled"  # wraps (if current) and unwraps data keys
    DESTROYED = "destroyed"  # wrapped bytes deleted for good; the row keeps the history


class WrappingKey(KeysBase):
    """The wrapping key of one epoch, wrapped by the root KEK version ``kek_id``.

    ``wrapped`` is NULL exactly when the epoch is destroyed; epoch numbers are never reused.
    """

    __tablename__ = "wrapping_keys"
    __table_args__ = (
        CheckConstraint("status IN ('enabled', 'destroyed')", name="status"),
        CheckConstraint(
            "(status = 'enabled' AND wrapped IS NOT NULL AND destroyed_at IS NULL)"
            " OR (status = 'destroyed' AND wrapped IS NULL AND destroyed_at IS NOT NULL)",
            name="wrapped_iff_enabled",
        ),
    )

    epoch: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kek_id: Mapped[str] = mapped_column(String(KEK_ID_LENGTH))
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    destroyed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"WrappingKey(epoch={self.epoch!r})"


class SubjectKey(KeysBase):
    """A subject's data key, wrapped (RFC 5649) under the wrapping key of ``epoch``."""

    __tablename__ = "subject_keys"

    subject_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, ForeignKey("wrapping_keys.epoch"), index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"SubjectKey(subject_id={self.subject_id!r})"


class ShredLedgerEntry(KeysBase):
    """A shredded subject's id: replayed after a restore so that it stays shredded."""

    __tablename__ = "shred_ledger"

    subject_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), primary_key=True)
    shredded_at: Mapped[datetime] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"ShredLedgerEntry(subject_id={self.subject_id!r})"


class LedgerReplay(KeysBase):
    """How far the shred ledger kept outside the stores (vault.crypto.ledger) has been replayed into this
    key store. It travels with the key store: a key store restored from a backup carries the
    position of its time, so the next open replays every shred made since."""

    __tablename__ = "ledger_replay"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger())
    replayed_at: Mapped[datetime] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"LedgerReplay(source={self.source!r}, position={self.position})"


class SigningKeyRow(KeysBase):
    """An Ed25519 signing key (audit checkpoints, erasure receipts): its 32-byte seed wrapped
    (RFC 5649) by root KEK version ``kek_id``; the public key in the clear."""

    __tablename__ = "signing_keys"
    __table_args__ = (CheckConstraint("status IN ('enabled', 'retired', 'destroyed')", name="status"),)

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    kek_id: Mapped[str] = mapped_column(String(KEK_ID_LENGTH))
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"SigningKeyRow(key_id={self.key_id!r})"


class LookupKey(KeysBase):
    """One version of the lookup key (pseudonyms), wrapped by root KEK version ``kek_id``.

    ``wrapped`` is NULL exactly when the version is destroyed. One enabled version is primary.
    """

    __tablename__ = "lookup_keys"
    __table_args__ = (
        CheckConstraint("status IN ('enabled', 'disabled', 'destroyed')", name="status"),
        CheckConstraint(
            "(status IN ('enabled', 'disabled') AND wrapped IS NOT NULL AND destroyed_at IS NULL)"
            " OR (status = 'destroyed' AND wrapped IS NULL AND destroyed_at IS NOT NULL)",
            name="wrapped_iff_not_destroyed",
        ),
        CheckConstraint("status = 'enabled' OR NOT is_primary", name="primary_is_enabled"),
    )

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kek_id: Mapped[str] = mapped_column(String(KEK_ID_LENGTH))
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    is_primary: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    destroyed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"LookupKey(version={self.version!r})"


class RecordKey(KeysBase):
    """The data key of a record without a subject, wrapped (RFC 5649) under ``epoch``'s wrapping key."""

    __tablename__ = "record_keys"

    record_id: Mapped[str] = mapped_column(String(RECORD_ID_LENGTH), primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, ForeignKey("wrapping_keys.epoch"), index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"RecordKey(record_id={self.record_id!r})"
