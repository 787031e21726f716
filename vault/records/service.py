"""Fraud records: anti-abuse records (bans) keyed by the pseudonyms of their identifiers.

A record holds codes, never PII in the clear: a retention ``category`` (vault.retention.categories; records
may use ``unauthorized_registration``, ``fraudulent_transaction``, ``bad_usage_rejoin`` and
``rejoin_restriction``), a ``reason_code``, a ``severity`` (low, medium, high, critical), a
``status``, a ``source``, an optional ``external_ref`` (unique; for idempotent imports; it is
stored in the clear, so it must be an id, never personal data), timestamps, the pseudonymisation
``domain``, an optional link to a subject, and the pseudonyms of its identifiers. Its free text
(``reason``, ``evidence``, ``notes``) is encrypted.

Identifiers
    Each ``(kind, value)`` is normalized (vault.identifiers) and stored as its 32-byte HMAC
    pseudonym under the primary lookup-key version (vault.crypto.lookup) in ``record_identifiers``, one
    *slot* per distinct identifier. An identifier with a look-alike skeleton also gets the
    pseudonym of the skeleton under the kind label ``lookalike:<kind>``, flagged ``lookalike``
    (a review signal, never an identity). Invalid input raises
    :class:`vault.identifiers.InvalidIdentifierError` naming the kind; nothing is hashed raw.

Status and expiry
    Stored statuses are ``active``, ``under_review``, ``revoked`` and ``expired`` (the last one
    for a retention sweeper to set). A record whose ``expires_at`` has passed *is* expired
    whatever is stored: views show ``expired`` and checks never match it. ``expires_at`` defaults
    to ``created_at`` plus the category's retention period and may not go beyond it;
    ``rejoin_restriction`` has no end date and a ``review_at`` (created_at + its review interval)
    instead. ``active`` <-> ``under_review`` may change back and forth; ``revoked`` is final.

Encryption
    Each text field is :class:`keys.aead.Aead` output under the linked subject's data key or,
    without a subject, under the record's own data key (key store ``record_keys``, wrapped by
    the current epoch like a subject's), with the associated data of :mod:`vault.crypto.fields`
    (label ``pseudovault/record``, the record id, the field name, the schema version).

Shredding
    When a linked subject is shredded (vault.subjects) the record keeps its codes, status and
    pseudonyms, its ``subject_id`` becomes NULL and its text fields (under the destroyed key) are
    deleted: the ban survives, nothing links it back. :meth:`RecordService.reveal` then answers
    a :class:`RecordText` with every field ``None`` and ``available = False`` (the record exists;
    its text does not). :meth:`RecordService.shred_text` does the same on purpose for one record
    (for a record with its own key: the key is destroyed).

Audit
    create, update, status changes, revoke, reveal, find and shred_text append an audit entry
    with ids, codes and counts: never an identifier, a pseudonym or free text.

Bulk insertion
    :meth:`RecordService.prepare` validates, normalizes, derives and encrypts one record without
    writing anything; :meth:`RecordService.create_many` stores prepared records in one
    transaction per store (key store first, then data store; a failed data-store write deletes
    the record keys it had added). :meth:`RecordService.create` is ``create_many([prepare(...)])``.

Errors: bad input is :class:`vault.errors.InvalidInputError` (``field`` and ``reason``, no value
echoed) and nothing is written; an unknown record is :class:`vault.errors.NotFoundError`; a
duplicate ``external_ref`` is :class:`DuplicateRecordError` (a ConflictError naming the existing
record); an impossible status change is :class:`vault.errors.ConflictError`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, Engine, delete, func, select, update
from sqlalchemy.orm import Session

from pseudovault.keys.aead import Aead
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.wrap import generate_key
from pseudovault.vault.audit import AuditLog
from pseudovault.vault.clock import Clock
from pseudovault.vault.crypto.fields import FieldCipher, FieldOwner
from pseudovault.vault.crypto.keystore import KeyHierarchy
from pseudovault.vault.crypto.lookup import LookupKeys
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.identifiers import Normalizer
from pseudovault.vault.ids import validate_record_id
from pseudovault.vault.records.creating import RecordCreation
from pseudovault.vault.records.reading import RecordReading
from pseudovault.vault.records.validation import (
    encode_text,
    validate_code,
    validate_severity,
    validate_timestamp,
)
from pseudovault.vault.records.views import (
    LIVE_STATUSES,
    SCHEMA_VERSION,
    RecordView,
    effective_status,
)
from pseudovault.vault.retention.categories import CategoryCatalogue
from pseudovault.vault.retention.policy_file import CATALOGUE
from pseudovault.vault.store.data_models import Record, RecordField
from pseudovault.vault.store.db import checkpoint_sqlite, session_scope

__all__ = ["ExpiryHook", "RecordService"]


log = logging.getLogger(__name__)


class ExpiryHook(Protocol):
    """What follows a record's new expiry in its update's unit of work (vault.retention)."""

    def record_expiry_changed(self, session: Session, record_id: str, now: datetime) -> None:
        """The record's ``expires_at`` was set (flushed, not committed) ``now``."""


class RecordService(RecordCreation, RecordReading):
    """Create, read, reveal, find, list, review, revoke and update fraud records."""

    def __init__(
        self,
        data_engine: Engine,
        keys: KeyHierarchy,
        lookup: LookupKeys,
        normalizer: Normalizer,
        clock: Clock,
        audit: AuditLog,
        catalogue: CategoryCatalogue = CATALOGUE,
    ) -> None:
        self._engine = data_engine
        self._keys = keys
        self._lookup = lookup
        self._normalizer = normalizer
        self._clock = clock
        self._audit = audit
        self._catalogue = catalogue
        #: what follows a record's new expiry in its update's unit of work (vault.retention: the
        #: record's retention item is due at its expiry), if anything
        self.on_expiry_changed: ExpiryHook | None = None

    def __repr__(self) -> str:
        return "RecordService()"

    @property
    def catalogue(self) -> CategoryCatalogue:
        return self._catalogue

    # --- changing -------------------------------------------------------------------------------

    @staticmethod
    def _locked(session: Session, record_id: str) -> Record:
        row = session.get(Record, record_id, with_for_update=True, populate_existing=True)
        if row is None:
            raise NotFoundError("record", record_id)
        return row

    def set_status(self, record_id: str, status: str, *, reason_code: str) -> RecordView:
        """Move a record between ``active`` and ``under_review``. Revoked records stay revoked;
        expired ones cannot change (ConflictError)."""
        record_id = validate_record_id(record_id)
        if status not in LIVE_STATUSES:
            raise InvalidInputError("status", "must be active or under_review (use revoke to revoke)")
        reason_code = validate_code(reason_code, "reason_code")
        action = "record.set_status"
        try:
            with session_scope(self._engine, write=True) as session:
                row = self._locked(session, record_id)
                current = effective_status(row.status, row.expires_at, self._clock.now())
                if current == "revoked":
                    raise ConflictError(f"record {record_id} is revoked: revocation is final")
                if current == "expired":
                    raise ConflictError(f"record {record_id} has expired")
                row.status = status
                row.status_reason_code = reason_code
                row.updated_at = self._clock.now()
                self._audit.append(
                    action,
                    targets=[record_id],
                    detail={"from": current, "to": status, "reason": reason_code},
                    session=session,
                )
        except NotFoundError:
            self._audit.append(action, targets=[record_id], outcome="not_found")
            raise
        except ConflictError:
            self._audit.append(action, targets=[record_id], outcome="conflict")
            raise
        log.info("record %s: status %s (%s)", record_id, status, reason_code)
        return self.get(record_id)

    def revoke(self, record_id: str, *, reason_code: str) -> RecordView:
        """Revoke a record for good: it never matches again. Revoking twice is harmless."""
        record_id = validate_record_id(record_id)
        reason_code = validate_code(reason_code, "reason_code")
        try:
            with session_scope(self._engine, write=True) as session:
                row = self._locked(session, record_id)
                already = row.status == "revoked"
                if not already:
                    row.status = "revoked"
                    row.status_reason_code = reason_code
                    row.updated_at = self._clock.now()
                self._audit.append(
                    "record.revoke",
                    targets=[record_id],
                    detail={"reason": reason_code, "already": already},
                    session=session,
                )
        except NotFoundError:
            self._audit.append("record.revoke", targets=[record_id], outcome="not_found")
            raise
        log.info("record %s revoked (%s)", record_id, reason_code)
        return self.get(record_id)

    def update(
        self,
        record_id: str,
        *,
        severity: str | None = None,
        expires_at: datetime | None = None,
        notes: str | None = None,
    ) -> RecordView:
        """Change the severity, bring the expiry forward or back (within the category's period),
        or replace the notes (encrypted). ``None`` leaves a value as it is. Revoked and expired
        records cannot change (ConflictError)."""
        record_id = validate_record_id(record_id)
        if severity is not None:
            severity = validate_severity(severity)
        encoded_notes = encode_text("notes", notes)
        if expires_at is not None:
            expires_at = validate_timestamp(expires_at, "expires_at")
        if severity is None and expires_at is None and encoded_notes is None:
            raise InvalidInputError("update", "nothing to change")
        with session_scope(self._engine) as session:
            current = session.get(Record, record_id)
            if current is None:
                self._audit.append("record.update", targets=[record_id], outcome="not_found")
                raise NotFoundError("record", record_id)
        if expires_at is not None:
            category = self._catalogue.for_record(current.category)
            expires_at, _review = self._expiry(category, current.created_at, expires_at)
        new_key: SecretBytes | None = None
        ciphertext: bytes | None = None
        if encoded_notes is not None:
            aead = self._text_aead(current)
            if aead is None:
                if current.subject_id is not None:
                    raise ConflictError(f"record {record_id}: its subject is being shredded")
                new_key = generate_key()
                aead = Aead(new_key)
            ciphertext = FieldCipher(aead, FieldOwner.RECORD, record_id).encrypt("notes", encoded_notes, SCHEMA_VERSION)
        if new_key is not None:
            with session_scope(self._keys.engine, write=True) as key_session:
                self._keys.create_record_key(key_session, record_id, new_key)
        try:
            with session_scope(self._engine, write=True) as session:
                row = self._locked(session, record_id)
                state = effective_status(row.status, row.expires_at, self._clock.now())
                if state in ("revoked", "expired"):
                    raise ConflictError(f"record {record_id} is {state}: it can no longer change")
                if row.subject_id != current.subject_id or (new_key is None and row.own_key != current.own_key):
                    raise ConflictError(f"record {record_id} changed concurrently; try again")
                if severity is not None:
                    row.severity = severity
                if expires_at is not None:
                    row.expires_at = expires_at
                    if self.on_expiry_changed is not None:
                        session.flush()
                        self.on_expiry_changed.record_expiry_changed(session, record_id, self._clock.now())
                if ciphertext is not None:
                    session.execute(
                        delete(RecordField).where(RecordField.record_id == record_id, RecordField.name == "notes")
                    )
                    session.add(
                        RecordField(record_id=record_id, name="notes", ciphertext=ciphertext, schema_version=SCHEMA_VERSION)
                    )
                    if new_key is not None:
                        row.own_key = True
                row.updated_at = self._clock.now()
                self._audit.append(
                    "record.update",
                    targets=[record_id],
                    detail={
                        "severity": severity is not None,
                        "expires_at": expires_at is not None,
                        "notes": ciphertext is not None,
                    },
                    session=session,
                )
        except BaseException as exc:
            if new_key is not None:
                self._undo_keys([record_id])
            if isinstance(exc, ConflictError):
                self._audit.append("record.update", targets=[record_id], outcome="conflict")
            raise
        log.info("record %s updated", record_id)
        return self.get(record_id)

    def shred_text(self, record_id: str, *, reason_code: str = "request") -> bool:
        """Destroy the record's text for good (its own key, if it has one, then the ciphertext);
        the record, its codes and its pseudonyms stay. Returns whether there was text."""
        record_id = validate_record_id(record_id)
        reason_code = validate_code(reason_code, "reason_code")
        with session_scope(self._engine) as session:
            if session.get(Record, record_id) is None:
                self._audit.append("record.shred_text", targets=[record_id], outcome="not_found")
                raise NotFoundError("record", record_id)
        with session_scope(self._keys.engine, write=True) as key_session:
            had_key = self._keys.destroy_record_key(key_session, record_id)
        with session_scope(self._engine, write=True) as session:
            result = cast(
                CursorResult[Any], session.execute(delete(RecordField).where(RecordField.record_id == record_id))
            )
            session.execute(update(Record).where(Record.id == record_id).values(own_key=False))
            deleted = result.rowcount
            self._audit.append(
                "record.shred_text",
                targets=[record_id],
                detail={"reason": reason_code, "fields": deleted, "own_key": had_key},
                session=session,
            )
        checkpoint_sqlite(self._keys.engine)
        checkpoint_sqlite(self._engine)
        return bool(deleted or had_key)

    def count(self) -> int:
        with session_scope(self._engine) as session:
            return int(session.scalar(select(func.count()).select_from(Record)) or 0)
