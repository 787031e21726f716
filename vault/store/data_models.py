"""The tables of the data store (:class:`vault.store.base.DataBase`): ids, codes, timestamps, pseudonyms
and ciphertext, never PII in the clear.

Why one module of this size: it is the data store's schema, one declarative model per table,
read in one place beside the migrations that build it.

Subjects (vault.subjects): ``subjects``, ``subject_fields`` (one AES-256-GCM ciphertext per field),
``tombstones`` (what is left of a shredded subject: its id, when, and a reason code). The audit log
(vault.audit): ``audit_entries``, ``audit_head``, ``audit_checkpoints``. API keys (vault.apikeys):
``api_keys``, and the web console's sessions, ``console_sessions``. Fraud records (vault.records): ``records``, ``record_fields`` (their encrypted free
text) and ``record_identifiers`` (32-byte pseudonyms per identifier and lookup-key version).
Retention (vault.retention): categories and trigger events of subjects and records, the stored
expiry of each (retention items), separate storage, processing restrictions, legal holds, signed
erasure receipts, data-subject requests, the log of provisions to third parties, and the policies
in force.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from pseudovault.vault.store.base import (
    AUDIT_PURPOSE_LENGTH,
    DOMAIN_LENGTH,
    EXTERNAL_REF_LENGTH,
    FIELD_NAME_LENGTH,
    HOLD_REFERENCE_LENGTH,
    KIND_LENGTH,
    REASON_CODE_LENGTH,
    RECORD_ID_LENGTH,
    REQUEST_ID_LENGTH,
    RETENTION_TEXT_LENGTH,
    SUBJECT_ID_LENGTH,
    TARGET_KIND_LENGTH,
    DataBase,
    UtcDateTime,
)

__all__ = [
    "Subject",
    "SubjectField",
    "Tombstone",
    "AuditEntry",
    "AuditHead",
    "AuditCheckpoint",
    "ApiKey",
    "ConsoleSession",
    "Record",
    "RecordField",
    "RecordIdentifier",
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
    "Consent",
    "Notification",
    "WebhookDelivery",
    "RetentionPolicyState",
    "IdempotencyRecord",
]

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
    #: when the current value was stored (None: before migration 0009; the subject's collection)
    collected_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

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
    head_signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    head_key_id: Mapped[str | None] = mapped_column(String(64))
    head_signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

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


class ApiKey(DataBase):
    """An API key: only the SHA-256 of its secret part is stored; the token is shown once.

    ``scopes`` is a space-separated list of scope names. After a rotation, the hash of the token
    it replaced is kept until ``previous_valid_until`` (the grace period).
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary)
    scopes: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    previous_secret_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"ApiKey(id={self.id!r})"


class ConsoleSession(DataBase):
    """A web console session: the SHA-256 of its random id (the cookie holds the id, the store
    never does), the API key it stands for, and when it began and was last used."""

    __tablename__ = "console_sessions"

    id_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"ConsoleSession(key_id={self.key_id!r})"


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
    """A data subject's request (access, correction, restriction, erasure, consent withdrawal),
    who made it (the subject, a guardian, an agent) and its deadline."""

    __tablename__ = "rights_requests"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('access', 'correction', 'restriction', 'erasure', 'consent_withdrawal')", name="kind"
        ),
        CheckConstraint("state IN ('open', 'completed', 'rejected')", name="state"),
        CheckConstraint("requester IN ('self', 'guardian', 'agent')", name="requester"),
        Index("ix_rights_requests_state_due", "state", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    outcome: Mapped[str | None] = mapped_column(String(REASON_CODE_LENGTH))
    reference: Mapped[str | None] = mapped_column(String(HOLD_REFERENCE_LENGTH))
    requester: Mapped[str] = mapped_column(String(16), server_default="self")

    def __repr__(self) -> str:
        return f"RightsRequest(id={self.id!r})"


class Notification(DataBase):
    """A recipient of a subject's data to tell of its correction or erasure, and whether and how it
    was told (vault.retention.notifications). Ids, codes and the recipient's name only."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("cause IN ('correction', 'erasure')", name="cause"),
        CheckConstraint("state IN ('pending', 'notified', 'failed')", name="state"),
        Index("ix_notifications_state_created", "state", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), index=True)
    recipient: Mapped[str] = mapped_column(String(200))
    items: Mapped[str] = mapped_column(Text)
    cause: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(HOLD_REFERENCE_LENGTH))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    means: Mapped[str | None] = mapped_column(String(REASON_CODE_LENGTH))

    def __repr__(self) -> str:
        return f"Notification(id={self.id!r}, state={self.state!r})"


class WebhookDelivery(DataBase):
    """An event to deliver to the webhook endpoint (vault.retention.webhooks): its JSON payload
    (ids and codes only), and how its delivery went."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'delivered', 'failed')", name="state"),
        Index("ix_webhook_deliveries_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), primary_key=True)
    event: Mapped[str] = mapped_column(String(REASON_CODE_LENGTH))
    subject_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_status: Mapped[int | None] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"WebhookDelivery(id={self.id!r}, state={self.state!r})"


class Consent(DataBase):
    """A subject's consent to one purpose (a code), under one version of the consent text, from
    when it was given until it was withdrawn. Codes and times only: no text, no PII."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_subject_purpose", "subject_id", "purpose"),)

    id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH))
    purpose: Mapped[str] = mapped_column(String(REASON_CODE_LENGTH))
    text_version: Mapped[str] = mapped_column(String(HOLD_REFERENCE_LENGTH))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"Consent(id={self.id!r}, purpose={self.purpose!r})"


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


class IdempotencyRecord(DataBase):
    """What a create made under an idempotency key (vault.idempotency): kept for a day."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)

    def __repr__(self) -> str:
        return f"IdempotencyRecord(scope={self.scope!r})"
