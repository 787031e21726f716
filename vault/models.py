"""The tables of the two stores, as typed declarative models.

Data store (:class:`DataBase`): ``subjects``, ``subject_fields`` (one AES-256-GCM ciphertext per
field), ``tombstones`` (what is left of a shredded subject: its id, when, and a reason code).

Key store (:class:`KeysBase`): ``wrapping_keys`` (one wrapping key per epoch, wrapped by a root
KEK version of the provider), ``subject_keys`` (each subject's data key, wrapped under an epoch's
wrapping key with RFC 5649), ``shred_ledger`` (ids of shredded subjects, replayed after a restore).

The two stores never hold a foreign key to each other: they may live in different databases.
Each has its own ``MetaData`` with a naming convention, so constraint names are stable across
backends and migrations. Every ``__repr__`` shows the primary key only: a repr that printed every
column would put ciphertext and wrapped keys into logs and tracebacks.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "NAMING_CONVENTION",
    "SUBJECT_ID_LENGTH",
    "FIELD_NAME_LENGTH",
    "REASON_CODE_LENGTH",
    "UtcDateTime",
    "DataBase",
    "KeysBase",
    "Subject",
    "SubjectField",
    "Tombstone",
    "EpochStatus",
    "WrappingKey",
    "SubjectKey",
    "ShredLedgerEntry",
    "AUDIT_PURPOSE_LENGTH",
    "AuditEntry",
    "AuditHead",
    "AuditCheckpoint",
    "ApiKey",
    "SigningKeyRow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SUBJECT_ID_LENGTH = 36  # a UUID in its canonical text form
FIELD_NAME_LENGTH = 64
REASON_CODE_LENGTH = 40
AUDIT_PURPOSE_LENGTH = 200
KEK_ID_LENGTH = 255


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores ``timestamp with time zone``; SQLite, which has no time zones, stores the
    UTC wall time. Naive datetimes are refused on the way in, and every value comes back aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class DataBase(DeclarativeBase):
    """Models of the data store."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class KeysBase(DeclarativeBase):
    """Models of the key store."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# --- data store ---------------------------------------------------------------------------


class Subject(DataBase):
    __tablename__ = "subjects"

    id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    schema_version: Mapped[int] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"Subject(id={self.id!r})"


class SubjectField(DataBase):
    """One field of a subject: ``ciphertext`` is ``nonce || AES-256-GCM(value) || tag``."""

    __tablename__ = "subject_fields"

    subject_id: Mapped[str] = mapped_column(
        String(SUBJECT_ID_LENGTH), ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(FIELD_NAME_LENGTH), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    schema_version: Mapped[int] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"SubjectField(subject_id={self.subject_id!r}, name={self.name!r})"


class Tombstone(DataBase):
    """A shredded subject: its id, when, and a reason code. Never free text, never PII."""

    __tablename__ = "tombstones"

    subject_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), primary_key=True)
    shredded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reason_code: Mapped[str] = mapped_column(String(REASON_CODE_LENGTH))

    def __repr__(self) -> str:
        return f"Tombstone(subject_id={self.subject_id!r})"


# --- key store ----------------------------------------------------------------------------


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


# --- data store: audit log ------------------------------------------------------------------


class AuditEntry(DataBase):
    """One privileged action. ``entry_hash`` = SHA-256 over the previous entry's hash and this
    entry's canonical encoding (see vault.audit). Ids, codes and counts only: never PII."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    targets: Mapped[str] = mapped_column(Text)  # canonical JSON list of ids
    purpose: Mapped[str | None] = mapped_column(String(AUDIT_PURPOSE_LENGTH))
    outcome: Mapped[str] = mapped_column(String(32))
    client: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON object of codes and counts
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"AuditEntry(seq={self.seq!r})"


class AuditHead(DataBase):
    """The chain's head (last seq and hash) and anchor (where verification starts after pruning).

    One row (id = 1). Appends lock it, so entries get gap-free sequence numbers in hash order.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    anchor_seq: Mapped[int] = mapped_column(Integer)
    anchor_hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"AuditHead(id={self.id!r})"


class AuditCheckpoint(DataBase):
    """An Ed25519 signature over the chain's head at ``seq`` (see vault.audit)."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entry_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary)

    def __repr__(self) -> str:
        return f"AuditCheckpoint(seq={self.seq!r})"


# --- data store: API keys -------------------------------------------------------------------


class ApiKey(DataBase):
    """An API key: only the SHA-256 of its secret part is stored; the token is shown once.

    ``scopes`` is a space-separated list of scope names.
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary)
    scopes: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"ApiKey(id={self.id!r})"


# --- key store: signing keys ----------------------------------------------------------------


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
