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
    the current epoch like a subject's), with associated data (every part prefixed by its
    length, 4 bytes big endian)::

        len || b"pseudovault/record" || len || record id (ASCII) || len || field name (ASCII)
            || len || schema version (4 bytes, big endian)

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
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pseudovault.keys.aead import Aead
from pseudovault.keys.errors import DecryptionError
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.wrap import generate_key
from pseudovault.vault.audit.log import AuditLog, validate_purpose
from pseudovault.vault.clock import Clock
from pseudovault.vault.crypto.keystore import KeyHierarchy
from pseudovault.vault.crypto.lookup import DEFAULT_DOMAIN, LookupKeys, lookalike_label, validate_domain
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.identifiers import NormalizedIdentifier, Normalizer
from pseudovault.vault.identifiers.model import parse_kind
from pseudovault.vault.ids import validate_reason_code, validate_record_id, validate_subject_id
from pseudovault.vault.retention.categories import Category, CategoryCatalogue
from pseudovault.vault.retention.policies import CATALOGUE
from pseudovault.vault.retention.restrictions import in_separate_storage, not_in_separate_storage
from pseudovault.vault.store.db import checkpoint_sqlite, session_scope
from pseudovault.vault.store.models import Record, RecordField, RecordIdentifier, Subject

__all__ = [
    "SCHEMA_VERSION",
    "STATUSES",
    "TEXT_FIELDS",
    "MAX_IDENTIFIERS",
    "MAX_TEXT_BYTES",
    "MAX_LIST_LIMIT",
    "MAX_BATCH",
    "SEVERITIES",
    "RecordService",
    "RecordView",
    "RecordText",
    "RecordPage",
    "PreparedRecord",
    "DuplicateRecordError",
    "record_associated_data",
    "effective_status",
    "validate_record_id",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
STATUSES = ("active", "under_review", "revoked", "expired")
SEVERITIES = ("low", "medium", "high", "critical")
LIVE_STATUSES = ("active", "under_review")
TEXT_FIELDS = ("reason", "evidence", "notes")
MAX_IDENTIFIERS = 64
MAX_TEXT_BYTES = 64 * 1024
MAX_LIST_LIMIT = 1000
MAX_BATCH = 10_000

_SOURCE = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
_EXTERNAL_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/#+-]{0,127}")
_AD_LABEL = b"pseudovault/record"


class DuplicateRecordError(ConflictError):
    """A record with this ``external_ref`` exists already: ``record_id`` is that record's id."""

    def __init__(self, record_id: str) -> None:
        super().__init__(f"a record with this external_ref exists already: {record_id}")
        self.record_id = record_id


def record_associated_data(record_id: str, name: str, schema_version: int) -> bytes:
    """The associated data binding a text ciphertext to its record, field name and schema version."""
    parts = (_AD_LABEL, record_id.encode("ascii"), name.encode("ascii"), schema_version.to_bytes(4, "big"))
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def effective_status(stored: str, expires_at: datetime | None, now: datetime) -> str:
    """``expired`` for a live record past ``expires_at``, else the stored status."""
    if stored in LIVE_STATUSES and expires_at is not None and expires_at <= now:
        return "expired"
    return stored




# --- views --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordView:
    """A record without its text: codes, timestamps, identifier kinds and counts.

    ``identifier_kinds`` maps each kind to how many identifiers of it the record has;
    ``pseudonyms`` is None unless asked for (``include_pseudonyms=True``), then one entry per
    stored pseudonym with the bytes in hex.
    """

    record_id: str
    domain: str
    category: str
    reason_code: str
    severity: str
    status: str
    status_reason_code: str | None
    source: str
    external_ref: str | None
    subject_id: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    review_at: datetime | None
    text_fields: tuple[str, ...]
    identifier_kinds: Mapping[str, int]
    lookup_versions: tuple[int, ...]
    pseudonyms: tuple[Mapping[str, Any], ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "record_id": self.record_id,
            "domain": self.domain,
            "category": self.category,
            "reason_code": self.reason_code,
            "severity": self.severity,
            "status": self.status,
            "status_reason_code": self.status_reason_code,
            "source": self.source,
            "external_ref": self.external_ref,
            "subject_id": self.subject_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "review_at": self.review_at.isoformat() if self.review_at else None,
            "text_fields": list(self.text_fields),
            "identifier_kinds": dict(self.identifier_kinds),
            "identifiers": sum(self.identifier_kinds.values()),
            "lookup_versions": list(self.lookup_versions),
        }
        if self.pseudonyms is not None:
            data["pseudonyms"] = [dict(p) for p in self.pseudonyms]
        return data


@dataclass(frozen=True, repr=False)
class RecordText:
    """A record's decrypted text. ``available`` is False when it has none (never had any, or it
    was shredded with its subject); every field is then None. The repr shows no text."""

    record_id: str
    reason: str | None
    evidence: str | None
    notes: str | None
    available: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "reason": self.reason,
            "evidence": self.evidence,
            "notes": self.notes,
            "available": self.available,
        }

    def __repr__(self) -> str:
        present = [name for name in TEXT_FIELDS if getattr(self, name) is not None]
        return f"RecordText(record_id={self.record_id!r}, fields={present})"

    __str__ = __repr__


@dataclass(frozen=True)
class RecordPage:
    """One page of :meth:`RecordService.list`; pass ``next_after`` as ``after`` for the next."""

    items: tuple[RecordView, ...]
    next_after: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"items": [i.as_dict() for i in self.items], "next_after": self.next_after}


@dataclass(frozen=True, repr=False, eq=False)
class PreparedRecord:
    """A validated record ready to insert (see :meth:`RecordService.prepare`); nothing written yet.

    It holds ciphertexts, pseudonyms and, for a record with its own key, the unwrapped data key:
    keep it in memory only, briefly. The repr shows the id only.
    """

    record_id: str
    row: Mapping[str, Any]
    fields: tuple[Mapping[str, Any], ...]
    identifiers: tuple[Mapping[str, Any], ...]
    own_key: SecretBytes | None = field(default=None)

    @property
    def external_ref(self) -> str | None:
        return cast("str | None", self.row["external_ref"])

    @property
    def subject_id(self) -> str | None:
        return cast("str | None", self.row["subject_id"])

    def __repr__(self) -> str:
        return f"PreparedRecord(record_id={self.record_id!r})"

    def __reduce__(self) -> object:
        raise TypeError("PreparedRecord cannot be pickled")


# --- validation helpers ---------------------------------------------------------------------------


def _validate_severity(value: object) -> str:
    if not isinstance(value, str) or value not in SEVERITIES:
        raise InvalidInputError("severity", f"must be one of {', '.join(SEVERITIES)}")
    return value


def _validate_source(value: object) -> str:
    if not isinstance(value, str) or _SOURCE.fullmatch(value) is None:
        raise InvalidInputError("source", "must match [a-z][a-z0-9_.:-]{0,63}")
    return value


def _validate_external_ref(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or _EXTERNAL_REF.fullmatch(value) is None:
        raise InvalidInputError("external_ref", "must match [A-Za-z0-9][A-Za-z0-9_.:/#+-]{0,127}")
    return value


def _validate_code(value: object, field: str) -> str:
    try:
        return validate_reason_code(value)
    except InvalidInputError:
        raise InvalidInputError(field, "must match [a-z][a-z0-9_]{0,39}") from None


def _encode_text(name: str, value: object) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(name, "must be a string")
    if not value.strip():
        raise InvalidInputError(name, "must not be empty")
    if len(value) > MAX_TEXT_BYTES:
        raise InvalidInputError(name, f"must be at most {MAX_TEXT_BYTES} bytes of UTF-8")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(name, "must be valid Unicode text") from None
    if len(encoded) > MAX_TEXT_BYTES:
        raise InvalidInputError(name, f"must be at most {MAX_TEXT_BYTES} bytes of UTF-8")
    return encoded


def _validate_timestamp(value: object, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidInputError(field, "must be a timestamp")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(field, "must be timezone-aware (e.g. 2027-01-01T00:00:00+00:00)")
    return value


def _validate_limit(limit: object) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidInputError("limit", f"must be an integer from 1 to {MAX_LIST_LIMIT}")
    return limit


def _identifier_pairs(identifiers: object) -> list[tuple[str, str]]:
    if isinstance(identifiers, (str, bytes)) or not isinstance(identifiers, Sequence):
        raise InvalidInputError("identifiers", "must be a list of (kind, value) pairs")
    if not identifiers:
        raise InvalidInputError("identifiers", "at least one identifier is required")
    if len(identifiers) > MAX_IDENTIFIERS:
        raise InvalidInputError("identifiers", f"at most {MAX_IDENTIFIERS} identifiers")
    pairs = []
    for item in identifiers:
        if isinstance(item, list):
            item = tuple(item)
        pairs.append(item)
    return pairs


def normalize_identifiers(normalizer: Normalizer, identifiers: object) -> list[NormalizedIdentifier]:
    """Validated, normalized and de-duplicated identifiers (in their first-seen order)."""
    normalized = normalizer.normalize_many(_identifier_pairs(identifiers))
    seen: set[tuple[str, str]] = set()
    unique = []
    for item in normalized:
        key = (item.kind, item.value)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


# --- the service ----------------------------------------------------------------------------------


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
        expires_at = _validate_timestamp(expires_at, "expires_at")
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
            if session.get(Subject, subject_id) is None:
                raise NotFoundError("subject", subject_id)
        return self._keys.data_aead(subject_id)

    def _encrypt(self, aead: Aead, record_id: str, texts: Mapping[str, bytes]) -> tuple[Mapping[str, Any], ...]:
        return tuple(
            {
                "record_id": record_id,
                "name": name,
                "ciphertext": aead.encrypt(value, record_associated_data(record_id, name, SCHEMA_VERSION)),
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
        reason_code = _validate_code(reason_code, "reason_code")
        severity = _validate_severity(severity)
        source = _validate_source(source)
        external_ref = _validate_external_ref(external_ref)
        texts = {
            name: encoded
            for name, encoded in (
                ("reason", _encode_text("reason", reason)),
                ("evidence", _encode_text("evidence", evidence)),
                ("notes", _encode_text("notes", notes)),
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
            present = set(session.scalars(select(Subject.id).where(Subject.id.in_(subject_ids))))
            missing = sorted(subject_ids - present)
            if missing:
                raise NotFoundError("subject", missing[0])
        try:
            # Core inserts (executemany), not ORM bulk inserts: the rows are plain, prepared data
            session.execute(insert(Record.__table__), [dict(p.row) for p in items])
            fields = [dict(f) for p in items for f in p.fields]
            if fields:
                session.execute(insert(RecordField.__table__), fields)
            session.execute(insert(RecordIdentifier.__table__), [dict(i) for p in items for i in p.identifiers])
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
            try:
                for name, ciphertext, schema_version in ciphertexts:
                    plaintext = aead.decrypt(bytes(ciphertext), record_associated_data(record_id, name, schema_version))
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
        limit = _validate_limit(limit)
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
        reason_code = _validate_code(reason_code, "reason_code")
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
        reason_code = _validate_code(reason_code, "reason_code")
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
            severity = _validate_severity(severity)
        encoded_notes = _encode_text("notes", notes)
        if expires_at is not None:
            expires_at = _validate_timestamp(expires_at, "expires_at")
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
            ciphertext = aead.encrypt(encoded_notes, record_associated_data(record_id, "notes", SCHEMA_VERSION))
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
        reason_code = _validate_code(reason_code, "reason_code")
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
