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
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Table, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pseudovault.keys.aead import Aead
from pseudovault.keys.errors import DecryptionError
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.wrap import generate_key
from pseudovault.vault.audit import AuditLog, validate_purpose
from pseudovault.vault.clock import Clock
from pseudovault.vault.crypto.fields import FieldCipher, FieldOwner
from pseudovault.vault.crypto.keystore import KeyHierarchy
from pseudovault.vault.crypto.lookup import DEFAULT_DOMAIN, LookupKeys, lookalike_label, validate_domain
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.identifiers import NormalizedIdentifier, Normalizer
from pseudovault.vault.identifiers.model import parse_kind
from pseudovault.vault.ids import validate_record_id, validate_subject_id
from pseudovault.vault.records.validation import (
    encode_text,
    normalize_identifiers,
    validate_code,
    validate_external_ref,
    validate_limit,
    validate_severity,
    validate_source,
    validate_timestamp,
)
from pseudovault.vault.records.views import (
    LIVE_STATUSES,
    MAX_BATCH,
    SCHEMA_VERSION,
    STATUSES,
    TEXT_FIELDS,
    DuplicateRecordError,
    PreparedRecord,
    RecordPage,
    RecordText,
    RecordView,
    effective_status,
)
from pseudovault.vault.retention.categories import Category, CategoryCatalogue
from pseudovault.vault.retention.policies import CATALOGUE
from pseudovault.vault.retention.restrictions import in_separate_storage, not_in_separate_storage
from pseudovault.vault.store.data_models import Record, RecordField, RecordIdentifier
from pseudovault.vault.store.db import checkpoint_sqlite, session_scope
from pseudovault.vault.subjects import repository as subjects_repository

__all__ = ["RecordService"]


log = logging.getLogger(__name__)


class RecordService:
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

    def __repr__(self) -> str:
        return "RecordService()"

    @property
    def catalogue(self) -> CategoryCatalogue:
        return self._catalogue

    # --- creating -------------------------------------------------------------------------------

    def _expiry(
        self, category: Category, created_at: datetime, expires_at: datetime | None
    ) -> tuple[datetime | None, datetime | None]:
        """(expires_at, review_at) for a record of ``category`` created at ``created_at``."""
        limit = category.expires_at(created_at)
        review_at = category.review_at(created_at) if category.retention is None else None
        if expires_at is None:
            return limit, review_at
        expires_at = validate_timestamp(expires_at, "expires_at")
        if expires_at <= self._clock.now():
            raise InvalidInputError("expires_at", "must be in the future")
        if limit is not None and expires_at > limit:
            raise InvalidInputError(
                "expires_at",
                f"must not be later than the {category.code} retention period "
                f"({category.retention}) allows: {limit.isoformat()}",
            )
        return expires_at, review_at

    def _subject_aead(self, subject_id: str) -> Aead:
        """The subject's AEAD, after checking the subject exists; NotFoundError otherwise."""
        with session_scope(self._engine) as session:
            if not subjects_repository.exists(session, subject_id):
                raise NotFoundError("subject", subject_id)
        return self._keys.data_aead(subject_id)

    def _encrypt(self, aead: Aead, record_id: str, texts: Mapping[str, bytes]) -> tuple[Mapping[str, Any], ...]:
        cipher = FieldCipher(aead, FieldOwner.RECORD, record_id)
        return tuple(
            {
                "record_id": record_id,
                "name": name,
                "ciphertext": cipher.encrypt(name, value, SCHEMA_VERSION),
                "schema_version": SCHEMA_VERSION,
            }
            for name, value in texts.items()
        )

    def _identifier_rows(
        self, record_id: str, domain: str, identifiers: Sequence[NormalizedIdentifier]
    ) -> tuple[Mapping[str, Any], ...]:
        primary = self._lookup.current().primary
        rows: list[Mapping[str, Any]] = []
        for slot, item in enumerate(identifiers):
            rows.append(
                {
                    "record_id": record_id,
                    "slot": slot,
                    "lookup_version": primary.version,
                    "lookalike": False,
                    "kind": item.kind,
                    "norm_version": item.version,
                    "pseudonym": primary.derive(item.kind, domain, item.value, item.version),
                }
            )
            if item.lookalike is not None:
                rows.append(
                    {
                        "record_id": record_id,
                        "slot": slot,
                        "lookup_version": primary.version,
                        "lookalike": True,
                        "kind": item.kind,
                        "norm_version": item.version,
                        "pseudonym": primary.derive(lookalike_label(item.kind), domain, item.lookalike, item.version),
                    }
                )
        return tuple(rows)

    def prepare(
        self,
        identifiers: Sequence[tuple[str, str]],
        *,
        category: str,
        reason_code: str,
        reason: str | None = None,
        severity: str = "high",
        source: str = "manual",
        expires_at: datetime | None = None,
        subject_id: str | None = None,
        evidence: str | None = None,
        notes: str | None = None,
        domain: str = DEFAULT_DOMAIN,
        external_ref: str | None = None,
    ) -> PreparedRecord:
        """Validate, normalize, derive and encrypt one record; nothing is written.

        Raises what :meth:`create` raises for bad input; a linked subject that does not exist is
        NotFoundError("subject", id).
        """
        domain = validate_domain(domain)
        category_entry = self._catalogue.for_record(category)
        reason_code = validate_code(reason_code, "reason_code")
        severity = validate_severity(severity)
        source = validate_source(source)
        external_ref = validate_external_ref(external_ref)
        texts = {
            name: encoded
            for name, encoded in (
                ("reason", encode_text("reason", reason)),
                ("evidence", encode_text("evidence", evidence)),
                ("notes", encode_text("notes", notes)),
            )
            if encoded is not None
        }
        if subject_id is not None:
            subject_id = validate_subject_id(subject_id)
        normalized = normalize_identifiers(self._normalizer, identifiers)
        now = self._clock.now()
        expires, review_at = self._expiry(category_entry, now, expires_at)

        record_id = str(uuid.uuid4())
        own_key: SecretBytes | None = None
        fields: tuple[Mapping[str, Any], ...] = ()
        if subject_id is not None:
            aead = self._subject_aead(subject_id)
            fields = self._encrypt(aead, record_id, texts) if texts else ()
        elif texts:
            own_key = generate_key()
            fields = self._encrypt(Aead(own_key), record_id, texts)
        row = {
            "id": record_id,
            "domain": domain,
            "category": category_entry.code,
            "reason_code": reason_code,
            "severity": severity,
            "status": "active",
            "status_reason_code": None,
            "source": source,
            "external_ref": external_ref,
            "subject_id": subject_id,
            "own_key": own_key is not None,
            "created_at": now,
            "updated_at": now,
            "expires_at": expires,
            "review_at": review_at,
            "schema_version": SCHEMA_VERSION,
        }
        return PreparedRecord(
            record_id=record_id,
            row=row,
            fields=fields,
            identifiers=self._identifier_rows(record_id, domain, normalized),
            own_key=own_key,
        )

    def create(
        self,
        identifiers: Sequence[tuple[str, str]],
        *,
        category: str,
        reason_code: str,
        reason: str | None = None,
        severity: str = "high",
        source: str = "manual",
        expires_at: datetime | None = None,
        subject_id: str | None = None,
        evidence: str | None = None,
        notes: str | None = None,
        domain: str = DEFAULT_DOMAIN,
        external_ref: str | None = None,
    ) -> str:
        """A new record for ``identifiers`` (``(kind, value)`` pairs); returns its id.

        ``create_many([prepare(...)])``: see :meth:`prepare` for the rules, :meth:`create_many`
        for how it is stored.
        """
        prepared = self.prepare(
            identifiers,
            category=category,
            reason_code=reason_code,
            reason=reason,
            severity=severity,
            source=source,
            expires_at=expires_at,
            subject_id=subject_id,
            evidence=evidence,
            notes=notes,
            domain=domain,
            external_ref=external_ref,
        )
        return self.create_many([prepared])[0]

    def create_many(self, prepared: Sequence[PreparedRecord]) -> list[str]:
        """Store prepared records: one key-store transaction (their own keys), then one data-store
        transaction (rows, text, pseudonyms, one audit entry). All or nothing."""
        items = list(prepared)
        if not items:
            return []
        if len(items) > MAX_BATCH:
            raise InvalidInputError("records", f"at most {MAX_BATCH} records per batch")
        if not all(isinstance(p, PreparedRecord) for p in items):
            raise TypeError("create_many takes PreparedRecord objects (see RecordService.prepare)")
        ids = [p.record_id for p in items]
        if len(set(ids)) != len(ids):
            raise InvalidInputError("records", "the same prepared record is given twice")
        refs = [p.external_ref for p in items if p.external_ref is not None]
        if len(set(refs)) != len(refs):
            raise InvalidInputError("external_ref", "the same external_ref is given twice in one batch")

        with_keys = [p for p in items if p.own_key is not None]
        if with_keys:
            with session_scope(self._keys.engine, write=True) as key_session:
                for p in with_keys:
                    self._keys.create_record_key(key_session, p.record_id, p.own_key)
        try:
            with session_scope(self._engine, write=True) as session:
                self._insert(session, items, refs)
                if len(items) == 1:
                    row = items[0].row
                    self._audit.append(
                        "record.create",
                        targets=ids,
                        detail={
                            "category": row["category"],
                            "reason_code": row["reason_code"],
                            "severity": row["severity"],
                            "source": row["source"],
                            "identifiers": sum(1 for i in items[0].identifiers if not i["lookalike"]),
                            "linked": row["subject_id"] is not None,
                        },
                        session=session,
                    )
                else:
                    self._audit.append(
                        "record.create_many",
                        targets=ids,
                        detail={
                            "records": len(items),
                            "identifiers": sum(1 for p in items for i in p.identifiers if not i["lookalike"]),
                        },
                        session=session,
                    )
        except BaseException:
            if with_keys:
                self._undo_keys([p.record_id for p in with_keys])
            raise
        log.info("created %d record(s)", len(items))
        return ids

    def _insert(self, session: Session, items: list[PreparedRecord], refs: list[str]) -> None:
        if refs:
            existing = session.execute(
                select(Record.id, Record.external_ref).where(Record.external_ref.in_(refs)).limit(1)
            ).first()
            if existing is not None:
                raise DuplicateRecordError(existing.id)
        subject_ids = {p.subject_id for p in items if p.subject_id is not None}
        if subject_ids:
            present = subjects_repository.present(session, subject_ids)
            missing = sorted(subject_ids - present)
            if missing:
                raise NotFoundError("subject", missing[0])
        try:
            # Core inserts (executemany), not ORM bulk inserts: the rows are plain, prepared data
            session.execute(insert(cast(Table, Record.__table__)), [dict(p.row) for p in items])
            fields = [dict(f) for p in items for f in p.fields]
            if fields:
                session.execute(insert(cast(Table, RecordField.__table__)), fields)
            session.execute(insert(cast(Table, RecordIdentifier.__table__)), [dict(i) for p in items for i in p.identifiers])
        except IntegrityError:
            # a concurrent writer took an external_ref, or shredded a linked subject, meanwhile
            raise ConflictError("the records changed concurrently (external_ref or linked subject); try again") from None

    def _undo_keys(self, record_ids: list[str]) -> None:
        try:
            with session_scope(self._keys.engine, write=True) as key_session:
                for record_id in record_ids:
                    self._keys.destroy_record_key(key_session, record_id)
        except Exception as exc:  # the original error matters more; this one is logged by class only
            log.error("undoing %d record key(s) of a failed create failed too (%s)", len(record_ids), type(exc).__name__)

    # --- reading --------------------------------------------------------------------------------

    def _views(
        self, session: Session, rows: Sequence[Record], *, include_pseudonyms: bool = False
    ) -> list[RecordView]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        kinds: dict[str, dict[str, set[int]]] = {i: {} for i in ids}
        versions: dict[str, set[int]] = {i: set() for i in ids}
        pseudonyms: dict[str, list[Mapping[str, Any]]] = {i: [] for i in ids}
        columns = [
            RecordIdentifier.record_id,
            RecordIdentifier.slot,
            RecordIdentifier.kind,
            RecordIdentifier.lookalike,
            RecordIdentifier.lookup_version,
            RecordIdentifier.norm_version,
        ]
        if include_pseudonyms:
            columns.append(RecordIdentifier.pseudonym)
        stmt = (
            select(*columns)
            .where(RecordIdentifier.record_id.in_(ids))
            .order_by(
                RecordIdentifier.record_id,
                RecordIdentifier.slot,
                RecordIdentifier.lookalike,
                RecordIdentifier.lookup_version,
            )
        )
        for ident in session.execute(stmt):
            if not ident.lookalike:
                kinds[ident.record_id].setdefault(ident.kind, set()).add(ident.slot)
            versions[ident.record_id].add(ident.lookup_version)
            if include_pseudonyms:
                pseudonyms[ident.record_id].append(
                    {
                        "slot": ident.slot,
                        "kind": ident.kind,
                        "lookalike": bool(ident.lookalike),
                        "lookup_version": ident.lookup_version,
                        "norm_version": ident.norm_version,
                        "pseudonym": bytes(ident.pseudonym).hex(),
                    }
                )
        texts: dict[str, list[str]] = {i: [] for i in ids}
        for record_id, name in session.execute(
            select(RecordField.record_id, RecordField.name).where(RecordField.record_id.in_(ids))
        ):
            texts[record_id].append(name)
        now = self._clock.now()
        return [
            RecordView(
                record_id=r.id,
                domain=r.domain,
                category=r.category,
                reason_code=r.reason_code,
                severity=r.severity,
                status=effective_status(r.status, r.expires_at, now),
                status_reason_code=r.status_reason_code,
                source=r.source,
                external_ref=r.external_ref,
                subject_id=r.subject_id,
                created_at=r.created_at,
                updated_at=r.updated_at,
                expires_at=r.expires_at,
                review_at=r.review_at,
                text_fields=tuple(name for name in TEXT_FIELDS if name in texts[r.id]),
                identifier_kinds={kind: len(slots) for kind, slots in sorted(kinds[r.id].items())},
                lookup_versions=tuple(sorted(versions[r.id])),
                pseudonyms=tuple(pseudonyms[r.id]) if include_pseudonyms else None,
            )
            for r in rows
        ]

    def get(self, record_id: str, *, include_pseudonyms: bool = False) -> RecordView:
        """A record without its text; NotFoundError if there is none."""
        record_id = validate_record_id(record_id)
        with session_scope(self._engine) as session:
            row = session.get(Record, record_id)
            if row is None:
                raise NotFoundError("record", record_id)
            return self._views(session, [row], include_pseudonyms=include_pseudonyms)[0]

    def exists(self, record_id: str) -> bool:
        record_id = validate_record_id(record_id)
        with session_scope(self._engine) as session:
            return session.get(Record, record_id) is not None

    def _text_aead(self, row: Record) -> Aead | None:
        """The AEAD the record's text is under, or None when it has no key any more."""
        try:
            if row.subject_id is not None:
                return self._keys.data_aead(row.subject_id)
            if row.own_key:
                return self._keys.record_aead(row.id)
        except NotFoundError:  # shredded meanwhile: the text is gone with its key
            return None
        return None

    def reveal(self, record_id: str, *, purpose: str) -> RecordText:
        """The record's decrypted text (an audited reveal; ``purpose`` is required)."""
        record_id = validate_record_id(record_id)
        purpose_text = validate_purpose(purpose, required=True)
        with session_scope(self._engine) as session:
            row = session.get(Record, record_id)
            if row is None:
                self._audit.append("record.reveal", targets=[record_id], purpose=purpose_text, outcome="not_found")
                raise NotFoundError("record", record_id)
            if in_separate_storage(session, record_id):  # vault.retention.separate: restricted:read only
                self._audit.append("record.reveal", targets=[record_id], purpose=purpose_text, outcome="conflict")
                raise ConflictError(f"record {record_id} is in separate storage: it is read with the restricted scope")
            ciphertexts = session.execute(
                select(RecordField.name, RecordField.ciphertext, RecordField.schema_version).where(
                    RecordField.record_id == record_id
                )
            ).all()
        aead = self._text_aead(row) if ciphertexts else None
        values: dict[str, str] = {}
        if aead is not None:
            cipher = FieldCipher(aead, FieldOwner.RECORD, record_id)
            try:
                for name, ciphertext, schema_version in ciphertexts:
                    plaintext = cipher.decrypt(name, bytes(ciphertext), schema_version)
                    values[name] = plaintext.decode("utf-8")
            except (DecryptionError, UnicodeDecodeError):
                log.warning("record %s: a text field failed to decrypt", record_id)
                self._audit.append("record.reveal", targets=[record_id], purpose=purpose_text, outcome="error")
                raise DecryptionError() from None
        self._audit.append(
            "record.reveal", targets=[record_id], purpose=purpose_text, detail={"fields": len(values)}
        )
        return RecordText(
            record_id=record_id,
            reason=values.get("reason"),
            evidence=values.get("evidence"),
            notes=values.get("notes"),
            available=bool(values),
        )

    def find(self, kind: str, value: str, *, domain: str = DEFAULT_DOMAIN) -> list[RecordView]:
        """Every record (any status) holding the identifier, under any enabled lookup version.

        Audited with the kind and the number of records found, never the identifier.
        """
        domain = validate_domain(domain)
        kind = parse_kind(kind)
        item = self._normalizer.normalize(kind, value)
        candidates = [p.derive(item.kind, domain, item.value, item.version) for p in self._lookup.current().enabled]
        with session_scope(self._engine) as session:
            record_ids = select(RecordIdentifier.record_id).where(
                RecordIdentifier.pseudonym.in_(candidates), RecordIdentifier.lookalike.is_(False)
            )
            rows = list(
                session.scalars(
                    select(Record)
                    .where(Record.id.in_(record_ids), Record.domain == domain)
                    .order_by(Record.created_at, Record.id)
                )
            )
            views = self._views(session, rows)
        self._audit.append("record.find", targets=[v.record_id for v in views], detail={"kind": kind, "results": len(views)})
        return views

    def list(
        self,
        *,
        status: str | None = None,
        category: str | None = None,
        domain: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> RecordPage:
        """Records by creation time (then id), ``limit`` at a time after the record ``after``.

        ``status`` filters on the effective status (``expired`` includes live records past their
        expiry; ``active`` excludes them).
        """
        limit = validate_limit(limit)
        if status is not None and status not in STATUSES:
            raise InvalidInputError("status", f"must be one of {', '.join(STATUSES)}")
        if category is not None and category not in self._catalogue:
            raise InvalidInputError("category", f"unknown category; one of {', '.join(self._catalogue.codes())}")
        if domain is not None:
            domain = validate_domain(domain)
        now = self._clock.now()
        # records in separate storage (vault.retention.separate) are left out of listings
        stmt = select(Record).where(not_in_separate_storage(Record)).order_by(Record.created_at, Record.id).limit(limit + 1)
        if status in LIVE_STATUSES:
            stmt = stmt.where(Record.status == status, or_(Record.expires_at.is_(None), Record.expires_at > now))
        elif status == "expired":
            stmt = stmt.where(
                or_(
                    Record.status == "expired",
                    and_(Record.status.in_(LIVE_STATUSES), Record.expires_at.is_not(None), Record.expires_at <= now),
                )
            )
        elif status == "revoked":
            stmt = stmt.where(Record.status == "revoked")
        if category is not None:
            stmt = stmt.where(Record.category == category)
        if domain is not None:
            stmt = stmt.where(Record.domain == domain)
        with session_scope(self._engine) as session:
            if after is not None:
                after = validate_record_id(after, "after")
                anchor = session.get(Record, after)
                if anchor is None:
                    raise InvalidInputError("after", "names no record")
                stmt = stmt.where(
                    or_(
                        Record.created_at > anchor.created_at,
                        and_(Record.created_at == anchor.created_at, Record.id > anchor.id),
                    )
                )
            rows = list(session.scalars(stmt))
            more = len(rows) > limit
            rows = rows[:limit]
            views = self._views(session, rows)
        return RecordPage(items=tuple(views), next_after=views[-1].record_id if more and views else None)

    def count_by_status(self) -> dict[str, int]:
        """How many records there are per effective status (every status present, zeros included)."""
        now = self._clock.now()
        counts = dict.fromkeys(STATUSES, 0)
        with session_scope(self._engine) as session:
            expired_live = and_(Record.status.in_(LIVE_STATUSES), Record.expires_at.is_not(None), Record.expires_at <= now)
            for stored, past, count in session.execute(
                select(Record.status, expired_live, func.count()).group_by(Record.status, expired_live)
            ):
                counts["expired" if past else stored] += int(count)
        return counts

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
