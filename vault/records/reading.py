"""Reading fraud records: their views (codes, counts, pseudonyms on request), their decrypted text
with a purpose, finding by identifier and listing by cursor (see :mod:`vault.records.service`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from pseudovault.keys.aead import Aead
from pseudovault.keys.errors import DecryptionError
from pseudovault.vault.audit import validate_purpose
from pseudovault.vault.crypto.fields import FieldCipher, FieldOwner
from pseudovault.vault.crypto.lookup import DEFAULT_DOMAIN, validate_domain
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.identifiers.model import parse_kind
from pseudovault.vault.ids import validate_record_id
from pseudovault.vault.records.state import RecordServiceState
from pseudovault.vault.records.validation import (
    validate_limit,
)
from pseudovault.vault.records.views import (
    LIVE_STATUSES,
    STATUSES,
    TEXT_FIELDS,
    RecordPage,
    RecordText,
    RecordView,
    effective_status,
)
from pseudovault.vault.retention.restrictions import (
    RestrictedError,
    in_separate_storage,
    not_in_separate_storage,
    use_blocking_reasons,
)
from pseudovault.vault.store.data_models import Record, RecordField, RecordIdentifier
from pseudovault.vault.store.db import session_scope

__all__ = ["RecordReading"]

log = logging.getLogger(__name__)


class RecordReading(RecordServiceState):
    """Reading records: views, revealed text, finding by identifier, listing; a mixin of
    :class:`vault.records.service.RecordService`, over its state."""

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

    def reveal(self, record_id: str, *, purpose: str, restricted: str = "refuse") -> RecordText:
        """The record's decrypted text (an audited reveal; ``purpose`` is required). The text of a
        record whose subject is under a restriction request or a pending correction is not
        revealed (RestrictedError) unless ``restricted`` is ``"legal_request"`` (a caller holding
        ``restricted:read``) or ``"rights"`` (the rights workflow): audited with the restriction."""
        if restricted not in ("refuse", "legal_request", "rights"):
            raise ValueError("restricted must be refuse, legal_request or rights")
        record_id = validate_record_id(record_id)
        purpose_text = validate_purpose(purpose, required=True)
        detail: dict[str, Any] = {}
        with session_scope(self._engine) as session:
            row = session.get(Record, record_id)
            if row is None:
                self._audit.append("record.reveal", targets=[record_id], purpose=purpose_text, outcome="not_found")
                raise NotFoundError("record", record_id)
            if in_separate_storage(session, record_id):  # vault.retention.separate: restricted:read only
                self._audit.append("record.reveal", targets=[record_id], purpose=purpose_text, outcome="conflict")
                raise ConflictError(f"record {record_id} is in separate storage: it is read with the restricted scope")
            reasons = use_blocking_reasons(session, subject_id=row.subject_id) if row.subject_id else ()
            if reasons and restricted == "refuse":
                self._audit.append("record.reveal", targets=[record_id], purpose=purpose_text, outcome="conflict",
                                   detail={"restriction": reasons[0]})
                raise RestrictedError("record", record_id, reasons)
            if reasons:
                detail = {"restriction": reasons[0], "read_as": restricted}
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
            # the key may have been destroyed (a subject's shred, shred_text) by another process
            # while this read was under way: then the text is gone, whatever this process cached
            still = self._keys.has_data_key(row.subject_id) if row.subject_id is not None else self._keys.has_record_key(record_id)
            if not still:
                values.clear()
        self._audit.append(
            "record.reveal", targets=[record_id], purpose=purpose_text, detail={"fields": len(values), **detail}
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

