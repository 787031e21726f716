"""The tables of the two stores, as typed declarative models.

Data store (:class:`DataBase`): ``subjects``, ``subject_fields`` (one AES-256-GCM ciphertext per
field), ``tombstones`` (what is left of a shredded subject: its id, when, and a reason code).

Key store (:class:`KeysBase`): ``wrapping_keys`` (one wrapping key per epoch, wrapped by a root
KEK version of the provider), ``subject_keys`` (each subject's data key, wrapped under an epoch's
wrapping key with RFC 5649), ``shred_ledger`` (ids of shredded subjects, replayed after a restore).

Fraud records (vault.records): ``records``, ``record_fields`` (their encrypted free text) and
``record_identifiers`` (32-byte pseudonyms per identifier and lookup-key version) in the data
store; ``lookup_keys`` (versioned, wrapped by the root KEK) and ``record_keys`` (data keys of
records without a subject) in the key store.

The two stores never hold a foreign key to each other: they may live in different databases.
Each has its own ``MetaData`` with a naming convention, so constraint names are stable across
backends and migrations. Every ``__repr__`` shows the primary key only: a repr that printed every
column would put ciphertext and wrapped keys into logs and tracebacks.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
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
    "LedgerReplay",
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
    "RECORD_ID_LENGTH",
    "DOMAIN_LENGTH",
    "Record",
    "RecordField",
    "RecordIdentifier",
    "LookupKey",
    "RecordKey",
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


# --- data store: fraud records --------------------------------------------------------------

RECORD_ID_LENGTH = 36  # a UUID in its canonical text form
DOMAIN_LENGTH = 64
KIND_LENGTH = 80
EXTERNAL_REF_LENGTH = 128


class Record(DataBase):
    """An anti-abuse record (a ban): codes, severity, status and timestamps; never PII.

    ``status`` is stored as active, under_review, revoked or expired; a record past
    ``expires_at`` counts as expired whatever is stored (see vault.records). ``subject_id`` links
    a subject while it exists (set NULL when it is shredded). ``own_key`` is True when the
    record's free text is encrypted under a data key of its own (key store ``record_keys``)
    rather than under the linked subject's.
    """

    __tablename__ = "records"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'under_review', 'revoked', 'expired')", name="status"),
        CheckConstraint("severity IN ('low', 'medium', 'high', 'critical')", name="severity"),
        UniqueConstraint("external_ref"),
        Index("ix_records_created_at", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(RECORD_ID_LENGTH), primary_key=True)
    domain: Mapped[str] = mapped_column(String(DOMAIN_LENGTH))
    category: Mapped[str] = mapped_column(String(REASON_CODE_LENGTH))
    reason_code: Mapped[str] = mapped_column(String(REASON_CODE_LENGTH))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    status_reason_code: Mapped[str | None] = mapped_column(String(REASON_CODE_LENGTH))
    source: Mapped[str] = mapped_column(String(64))
    external_ref: Mapped[str | None] = mapped_column(String(EXTERNAL_REF_LENGTH))
    subject_id: Mapped[str | None] = mapped_column(
        String(SUBJECT_ID_LENGTH), ForeignKey("subjects.id", ondelete="SET NULL"), index=True
    )
    own_key: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    review_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    schema_version: Mapped[int] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"Record(id={self.id!r})"


class RecordField(DataBase):
    """A record's free text (reason, evidence, notes): ``nonce || AES-256-GCM(value) || tag``."""

    __tablename__ = "record_fields"

    record_id: Mapped[str] = mapped_column(
        String(RECORD_ID_LENGTH), ForeignKey("records.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(FIELD_NAME_LENGTH), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    schema_version: Mapped[int] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"RecordField(record_id={self.record_id!r}, name={self.name!r})"


class RecordIdentifier(DataBase):
    """The 32-byte pseudonym of one identifier (``slot``) of a record under one lookup-key version.

    ``kind`` is the identifier kind; ``lookalike`` rows hold the pseudonym of the value's UTS #39
    skeleton (derived under the kind label ``lookalike:<kind>``), a review signal only.
    """

    __tablename__ = "record_identifiers"

    record_id: Mapped[str] = mapped_column(
        String(RECORD_ID_LENGTH), ForeignKey("records.id", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    lookup_version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    lookalike: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    norm_version: Mapped[int] = mapped_column(Integer)
    pseudonym: Mapped[bytes] = mapped_column(LargeBinary, index=True)

    def __repr__(self) -> str:
        return f"RecordIdentifier(record_id={self.record_id!r}, slot={self.slot!r})"


# --- key store: lookup keys and record keys ---------------------------------------------------


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


# --- data store: retention (vault.retention) ------------------------------------------------
#
# Categories and trigger events of subjects and records, the stored expiry of each (retention
# items, which the sweeper works through), separate storage for data kept under another law,
# processing restrictions, legal holds, signed erasure receipts, data-subject requests and the
# log of provisions to third parties. Ids, codes, timestamps and ciphertext only: never PII.

TARGET_KIND_LENGTH = 16
HOLD_REFERENCE_LENGTH = 64
REQUEST_ID_LENGTH = 64
RETENTION_TEXT_LENGTH = 500


class SubjectCategory(DataBase):
    """A data category of a subject: ``field`` is one field name, or ``*`` for every field."""

    __tablename__ = "subject_categories"

    subject_id: Mapped[str] = mapped_column(
        String(SUBJECT_ID_LENGTH), ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(REASON_CODE_LENGTH), primary_key=True)
    field: Mapped[str] = mapped_column(String(FIELD_NAME_LENGTH), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"SubjectCategory(subject_id={self.subject_id!r}, category={self.category!r})"


class RetentionEvent(DataBase):
    """When a trigger event (vault.retention.policies.TRIGGERS) last happened to a subject or a
    record; a period runs from it."""

    __tablename__ = "retention_events"
    __table_args__ = (CheckConstraint("target_kind IN ('subject', 'record')", name="target_kind"),)

    target_kind: Mapped[str] = mapped_column(String(TARGET_KIND_LENGTH), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), primary_key=True)
    event: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"RetentionEvent(target_id={self.target_id!r}, event={self.event!r})"


class RetentionItem(DataBase):
    """The stored expiry of one thing: a subject's category, a record, or a separated item.

    ``due_at`` is NULL while the trigger event has not happened (or the policy is disabled).
    ``stage`` names the policy period the due date comes from (``period``, ``review_interval``,
    ``restricted_period``). ``state``: pending -> claimed (by the sweeper run ``claim``) -> done;
    a review waits in ``review``. See vault.retention.sweeper.
    """

    __tablename__ = "retention_items"
    __table_args__ = (
        CheckConstraint("kind IN ('subject_category', 'record', 'separated')", name="kind"),
        CheckConstraint("state IN ('pending', 'claimed', 'review', 'done')", name="state"),
        UniqueConstraint("kind", "target_id", "category"),
        Index("ix_retention_items_state_due", "state", "due_at", "id"),
        Index("ix_retention_items_target", "target_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(24))
    target_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH))
    category: Mapped[str] = mapped_column(String(REASON_CODE_LENGTH))
    stage: Mapped[str] = mapped_column(String(24))
    trigger_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    action: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(16))
    claim: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    outcome: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"RetentionItem(id={self.id!r})"


class SeparatedItem(DataBase):
    """Separate storage: a subject's data of one category kept under another law after a
    withdrawal, an erasure request or a restrict action, under a data key of its own (key store
    ``record_keys``, keyed by this item's id). ``origin_id`` is the subject it came from."""

    __tablename__ = "separated_items"

    id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), primary_key=True)
    origin_kind: Mapped[str] = mapped_column(String(TARGET_KIND_LENGTH))
    origin_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), index=True)
    category: Mapped[str] = mapped_column(String(REASON_CODE_LENGTH))
    reason_code: Mapped[str] = mapped_column(String(REASON_CODE_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    schema_version: Mapped[int] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"SeparatedItem(id={self.id!r})"


class SeparatedField(DataBase):
    """One field of a separated item: ``nonce || AES-256-GCM(value) || tag`` under its own key."""

    __tablename__ = "separated_fields"

    item_id: Mapped[str] = mapped_column(
        String(SUBJECT_ID_LENGTH), ForeignKey("separated_items.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(FIELD_NAME_LENGTH), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    schema_version: Mapped[int] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"SeparatedField(item_id={self.item_id!r}, name={self.name!r})"


class ProcessingRestriction(DataBase):
    """A subject or record whose data must not be processed (not matched in checks, not exported):
    a restriction request, a pending correction, or a record moved to separate storage. A row
    exists while the restriction is in force; lifting it deletes the row (the audit log keeps the
    history)."""

    __tablename__ = "processing_restrictions"
    __table_args__ = (
        CheckConstraint("target_kind IN ('subject', 'record')", name="target_kind"),
        Index("ix_processing_restrictions_target", "target_kind", "target_id"),
    )

    id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), primary_key=True)
    target_kind: Mapped[str] = mapped_column(String(TARGET_KIND_LENGTH))
    target_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH))
    reason: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(SUBJECT_ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"ProcessingRestriction(id={self.id!r})"


class LegalHold(DataBase):
    """A legal hold on a subject or a record: blocks shredding, deletion and expiry until released
    (or until ``until``, when set). ``reference`` is a case or ticket reference, never PII."""

    __tablename__ = "legal_holds"
    __table_args__ = (
        CheckConstraint("target_kind IN ('subject', 'record')", name="target_kind"),
        Index("ix_legal_holds_target", "target_kind", "target_id"),
    )

    id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), primary_key=True)
    target_kind: Mapped[str] = mapped_column(String(TARGET_KIND_LENGTH))
    target_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH))
    reason_code: Mapped[str] = mapped_column(String(REASON_CODE_LENGTH))
    reference: Mapped[str] = mapped_column(String(HOLD_REFERENCE_LENGTH))
    placed_by: Mapped[str] = mapped_column(String(64))
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    released_by: Mapped[str | None] = mapped_column(String(64))
    release_reason_code: Mapped[str | None] = mapped_column(String(REASON_CODE_LENGTH))

    def __repr__(self) -> str:
        return f"LegalHold(id={self.id!r})"


class ErasureReceiptRow(DataBase):
    """A signed erasure receipt, stored so that the same request gets the same receipt again.
    ``document`` is the receipt file's exact bytes (canonical JSON, vault.retention.receipts)."""

    __tablename__ = "erasure_receipts"
    __table_args__ = (UniqueConstraint("subject_id"),)

    request_id: Mapped[str] = mapped_column(String(REQUEST_ID_LENGTH), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    document: Mapped[str] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"ErasureReceiptRow(request_id={self.request_id!r})"


class RightsRequest(DataBase):
    """A data subject's request (access, correction, restriction, erasure) and its deadline."""

    __tablename__ = "rights_requests"
    __table_args__ = (
        CheckConstraint("kind IN ('access', 'correction', 'restriction', 'erasure')", name="kind"),
        CheckConstraint("state IN ('open', 'completed', 'rejected')", name="state"),
        Index("ix_rights_requests_state_due", "state", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    outcome: Mapped[str | None] = mapped_column(String(REASON_CODE_LENGTH))
    reference: Mapped[str | None] = mapped_column(String(HOLD_REFERENCE_LENGTH))

    def __repr__(self) -> str:
        return f"RightsRequest(id={self.id!r})"


class Provision(DataBase):
    """A provision of a subject's data to a third party: who got which items (field names or
    category codes, a JSON list), for what purpose, under which basis, kept how long."""

    __tablename__ = "provisions"

    id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), index=True)
    recipient: Mapped[str] = mapped_column(String(200))
    items: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(RETENTION_TEXT_LENGTH))
    legal_basis: Mapped[str] = mapped_column(String(RETENTION_TEXT_LENGTH))
    retention: Mapped[str] = mapped_column(String(200))
    provided_at: Mapped[datetime] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"Provision(id={self.id!r})"


class RetentionPolicyState(DataBase):
    """The retention policies the stored due dates were computed under (one row, id = 1)."""

    __tablename__ = "retention_policy_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    fingerprint: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime())
    policies: Mapped[str] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"RetentionPolicyState(id={self.id!r})"


__all__ += [
    "SubjectCategory",
    "RetentionEvent",
    "RetentionItem",
    "SeparatedItem",
    "SeparatedField",
    "ProcessingRestriction",
    "LegalHold",
    "ErasureReceiptRow",
    "RightsRequest",
    "Provision",
    "RetentionPolicyState",
]
