"""Creating fraud records: validation, normalization, pseudonyms, encryption, and the bulk insert of
prepared records in one transaction per store (see :mod:`vault.records.service`)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pseudovault.keys.aead import Aead
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.wrap import generate_key
from pseudovault.vault import idempotency as idempotency_keys
from pseudovault.vault.crypto.fields import FieldCipher, FieldOwner
from pseudovault.vault.crypto.lookup import DEFAULT_DOMAIN, lookalike_label, validate_domain
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.idempotency import IdempotencyClaim
from pseudovault.vault.identifiers import NormalizedIdentifier
from pseudovault.vault.ids import validate_subject_id
from pseudovault.vault.records.state import RecordServiceState
from pseudovault.vault.records.validation import (
    encode_text,
    normalize_identifiers,
    validate_code,
    validate_external_ref,
    validate_severity,
    validate_source,
    validate_timestamp,
)
from pseudovault.vault.records.views import (
    MAX_BATCH,
    SCHEMA_VERSION,
    DuplicateRecordError,
    PreparedRecord,
)
from pseudovault.vault.retention.categories import Category
from pseudovault.vault.store.data_models import Record, RecordField, RecordIdentifier
from pseudovault.vault.store.db import insert_rows, session_scope
from pseudovault.vault.subjects import repository as subjects_repository

__all__ = ["RecordCreation"]

log = logging.getLogger(__name__)


class RecordCreation(RecordServiceState):
    """Creating records: one (:meth:`create`) or many prepared ones (:meth:`create_many`); a mixin of
    :class:`vault.records.service.RecordService`, over its state."""

    # --- creating -------------------------------------------------------------------------------

    def _expiry(
        self, category: Category, created_at: datetime, expires_at: datetime | None
    ) -> tuple[datetime | None, datetime | None]:
        """(expires_at, review_at) for a record of ``category`` created at ``created_at``. A
        category whose period runs from a later event (a rejoin ban runs from the withdrawal) has
        no default expiry: the retention plan dates it once the event is recorded."""
        limit = None if category.waits_for_event else category.expires_at(created_at)
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
        idempotency: IdempotencyClaim | None = None,
    ) -> str:
        """A new record for ``identifiers`` (``(kind, value)`` pairs); returns its id.

        ``create_many([prepare(...)])``: see :meth:`prepare` for the rules, :meth:`create_many`
        for how it is stored. Under an idempotency key (vault.idempotency) a request sent again
        returns the record the key created, and creates nothing new.
        """
        def store() -> str:
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
            return self.create_many([prepared], idempotency=idempotency)[0]

        if idempotency is None:
            return store()
        return idempotency_keys.once(self._engine, idempotency, store)[0]

    def create_many(self, prepared: Sequence[PreparedRecord], *, idempotency: IdempotencyClaim | None = None) -> list[str]:
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
                self._keys.create_record_keys(key_session, [(p.record_id, p.own_key) for p in with_keys if p.own_key is not None])
        try:
            with session_scope(self._engine, write=True) as session:
                self._insert(session, items, refs)
                if idempotency is not None:
                    idempotency_keys.record(session, idempotency, ids[0], self._clock.now())
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
            # Core inserts of the plain, prepared rows as they are (vault.store.db.insert_rows: one
            # statement on PostgreSQL, the driver's executemany on SQLite), not ORM bulk inserts
            insert_rows(session, Record, [p.row for p in items])
            fields = [f for p in items for f in p.fields]
            if fields:
                insert_rows(session, RecordField, fields)
            identifiers = [i for p in items for i in p.identifiers]
            if self.on_identifiers is not None:  # the check miss filter, before the commit
                self.on_identifiers(i["pseudonym"] for i in identifiers)
            insert_rows(session, RecordIdentifier, identifiers)
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

