"""Erasure requests: destroy what may be destroyed, keep what a law or a hold requires, and say so
in a signed receipt.

:meth:`ErasureService.request` for a subject, idempotent by request id:

1. A legal hold on the subject, or on a record linked to it, refuses the request
   (:class:`vault.retention.holds.HeldError` naming the hold); nothing is changed.
2. Each category of the subject's fields whose policy says ``on_erasure = "retain"`` (kept under
   another law: payment records 5 years...) moves to separate storage with its own expiry
   (vault.retention.separate); if its trigger event was never recorded, the period runs from the
   request (the longest it could be).
3. Records linked to the subject: a category with ``on_erasure = "retain"`` (the anti-abuse
   records: bans) keeps the record, its codes and its pseudonyms (it still matches in checks),
   without the link to the subject; its text encrypted under the subject's key is destroyed with
   it. A category with ``on_erasure = "destroy"`` deletes the record.
4. Data of the subject already in separate storage is destroyed unless its category is retained.
5. The subject is shredded (its data key destroyed, then its data; vault.subjects); its trigger
   events and provisions log go with it (the receipt names the recipients to notify).
6. A receipt (vault.retention.receipts) lists what was destroyed (field names, record evidence,
   deleted records, separated data) and what is retained (bans, separated data) with category,
   legal basis and until when; it is signed with the audit signing key and stored, so the same
   request returns the same receipt. It holds no value of the subject's data.

A subject is erased once: a later request for it, with any request id or none, returns the
receipt of the erasure that was carried out; a request id already used for another subject is
ConflictError. A subject that never existed is NotFoundError. Audited as ``erasure.request``.
Scope: ``erasure`` (verifying a receipt needs none).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from pseudovault.vault.audit import AuditLog
from pseudovault.vault.clock import Clock
from pseudovault.vault.crypto.signing import AUDIT_PURPOSE, SigningKeys
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.records import repository as records_repository
from pseudovault.vault.records.repository import RecordFacts
from pseudovault.vault.retention import notifications, webhooks
from pseudovault.vault.retention.holds import HeldError, active_holds, refuse_if_held
from pseudovault.vault.retention.receipts import (
    RECEIPT_TYPE,
    RECEIPT_VERSION,
    ReceiptCheck,
    sign_receipt,
    verify_document,
)
from pseudovault.vault.retention.restrictions import restricted_ids
from pseudovault.vault.retention.service import RetentionService
from pseudovault.vault.retention.webhooks import WebhookConfig
from pseudovault.vault.store.data_models import (
    ErasureReceiptRow,
    Provision,
    RetentionEvent,
    RetentionItem,
    RightsRequest,
    SeparatedItem,
)
from pseudovault.vault.store.db import session_scope
from pseudovault.vault.subjects import repository as subjects_repository
from pseudovault.vault.subjects.service import validate_subject_id

__all__ = ["ErasureReceipt", "ErasureService", "validate_request_id"]

log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def validate_request_id(value: object) -> str:
    if not isinstance(value, str) or _REQUEST_ID.fullmatch(value) is None:
        raise InvalidInputError("request_id", "must match [A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
    return value


@dataclass(frozen=True)
class ErasureReceipt:
    """A signed receipt: ``document`` is the receipt file's exact bytes; ``already`` is True when
    this call returned the receipt of an earlier request."""

    request_id: str
    subject_id: str
    document: bytes
    already: bool

    @property
    def body(self) -> dict[str, Any]:
        return dict(json.loads(self.document)["receipt"])

    def as_dict(self) -> dict[str, Any]:
        """The receipt document as plain data (what the file holds)."""
        return dict(json.loads(self.document))



def _receipt_time(value: datetime | None) -> str | None:
    """A receipt's timestamps: always to the microsecond, so the canonical form has one spelling."""
    return value.isoformat(timespec="microseconds") if value is not None else None


class ErasureService:
    """Erasure requests and their receipts. Scope ``erasure``."""

    def __init__(self, retention: RetentionService, signing: SigningKeys, clock: Clock, audit: AuditLog) -> None:
        self._retention = retention
        self._signing = signing
        self._clock = clock
        self._audit = audit
        self._engine = retention.engine
        #: where completed erasures are announced (None: nowhere)
        self.webhooks: WebhookConfig | None = None

    def __repr__(self) -> str:
        return "ErasureService()"

    # --- receipts already issued --------------------------------------------------------------

    def _stored(self, request_id: str | None, subject_id: str) -> ErasureReceipt | None:
        with session_scope(self._engine) as session:
            if request_id is not None:
                row = session.get(ErasureReceiptRow, request_id)
                if row is not None:
                    if row.subject_id != subject_id:
                        raise ConflictError(f"request id {request_id} was used for another subject")
                    return ErasureReceipt(row.request_id, row.subject_id, row.document.encode("ascii") + b"\n", True)
            row = session.scalar(select(ErasureReceiptRow).where(ErasureReceiptRow.subject_id == subject_id))
            if row is not None:
                return ErasureReceipt(row.request_id, row.subject_id, row.document.encode("ascii") + b"\n", True)
        return None

    def receipt(self, subject_id: str) -> ErasureReceipt:
        """The stored receipt of a subject's erasure; NotFoundError if there is none. Scope ``erasure``."""
        subject_id = validate_subject_id(subject_id)
        found = self._stored(None, subject_id)
        if found is None:
            raise NotFoundError("erasure receipt", subject_id)
        return found

    def receipt_of_request(self, request_id: str) -> ErasureReceipt:
        """The stored receipt of the erasure request ``request_id``; NotFoundError if there is none.
        Scope ``erasure``."""
        request_id = validate_request_id(request_id)
        with session_scope(self._engine) as session:
            row = session.get(ErasureReceiptRow, request_id)
            if row is None:
                raise NotFoundError("erasure request", request_id)
            return ErasureReceipt(row.request_id, row.subject_id, row.document.encode("ascii") + b"\n", True)

    # --- the request ----------------------------------------------------------------------------

    def request(self, subject_id: str, *, request_id: str | None = None) -> ErasureReceipt:
        """Erase the subject (see the module docstring) and return the signed receipt."""
        subject_id = validate_subject_id(subject_id)
        if request_id is not None:
            request_id = validate_request_id(request_id)
        stored = self._stored(request_id, subject_id)
        if stored is not None:
            self._audit.append("erasure.request", targets=[stored.request_id, subject_id], detail={"already": True})
            return stored
        request_id = request_id or str(uuid.uuid4())
        retention = self._retention
        policies = retention.policies
        requested_at = self._clock.now()
        retention.ensure_applied()
        with session_scope(self._engine) as session:
            present = subjects_repository.exists(session, subject_id)
            tombstoned = subjects_repository.is_tombstoned(session, subject_id)
            separated_before = list(session.scalars(select(SeparatedItem).where(SeparatedItem.origin_id == subject_id)))
            if not (present or tombstoned or separated_before):
                self._audit.append("erasure.request", targets=[request_id, subject_id], outcome="not_found")
                raise NotFoundError("subject", subject_id)
            try:
                refuse_if_held(session, "subject", subject_id, requested_at)
                linked = records_repository.facts_of_subject(session, subject_id)
                record_holds = active_holds(session, "record", [r.id for r in linked], requested_at)
                if record_holds:
                    first = min(record_holds)
                    raise HeldError("record", first, record_holds[first])
            except ConflictError:
                self._audit.append("erasure.request", targets=[request_id, subject_id], outcome="conflict")
                raise
            fields = sorted(retention.subject_fields(session, [subject_id])[subject_id]) if present else []
            categories = retention.category_fields(session, [subject_id])[subject_id] if present else {}
            events = retention.trigger_events(session, "subject", [subject_id]).get(subject_id, {})
            evidence = {
                r.id: records_repository.text_field_names(session, r.id)
                for r in linked
                if not r.own_key
            }
            restricted_records = restricted_ids(session, "record", [r.id for r in linked])
            provided = list(session.execute(select(Provision.recipient, Provision.items)
                                            .where(Provision.subject_id == subject_id)))
            recipients = sorted({recipient for recipient, _ in provided})

        retained: list[dict[str, Any]] = []
        kept_fields: set[str] = set()
        # moved by an earlier attempt at this erasure that was interrupted: listed in step 4
        moved_before = {i.category for i in separated_before if i.reason_code == "erasure"}
        # 2. categories kept under another law move to separate storage
        for code in sorted(categories):
            policy = policies.get(code)
            if policy is None or not policy.enabled or policy.on_erasure != "retain" or code in moved_before:
                continue
            names = set(fields) if "*" in categories[code] else categories[code] & set(fields)
            trigger = events.get(policy.trigger) or requested_at
            due = policies.due(policy, trigger)
            if due <= requested_at or not names:
                continue
            view = retention.separate.move(subject_id, code, sorted(names), reason_code="erasure",
                                           trigger_at=trigger, due_at=due, stage="period")
            if view is None:
                continue
            kept_fields |= set(view.field_names)
            retained.append(self._separated_entry(view.item_id, code, list(view.field_names), due))
        # 4. data already in separate storage
        destroyed_separated: list[dict[str, Any]] = []
        to_destroy = []
        views = {v.item_id: v for v in retention.separate.origins(subject_id)}
        for item in separated_before:
            policy = policies.get(item.category)
            view = views[item.id]
            if item.reason_code == "erasure":
                kept_fields |= set(view.field_names)
            if policy is not None and policy.enabled and policy.on_erasure == "retain":
                retained.append(self._separated_entry(item.id, item.category, list(view.field_names), view.due_at))
            else:
                to_destroy.append(item.id)
                destroyed_separated.append({"item_id": item.id, "category": item.category,
                                            "fields": list(view.field_names)})
        if to_destroy:
            retention.separate.destroy_many(to_destroy, reason_code="erasure", outcome="erased")
        # 3. linked records
        deleted_records: list[dict[str, Any]] = []
        kept_records: list[RecordFacts] = []
        for record in linked:
            policy = policies.get(record.category)
            if policy is not None and policy.on_erasure == "destroy":
                deleted_records.append({"record_id": record.id, "category": record.category})
            else:
                kept_records.append(record)
        if deleted_records:
            retention.sweeper.delete_records([r["record_id"] for r in deleted_records], reason_code="erasure")
        # 5. the subject
        if present or tombstoned:
            retention.subjects.shred(subject_id, "erasure")
        completed_at = self._clock.now()
        with session_scope(self._engine, write=True) as session:
            retention.sync_records(session)
            ban_items = {
                i.target_id: i
                for i in session.scalars(
                    select(RetentionItem).where(
                        RetentionItem.kind == "record", RetentionItem.target_id.in_([r.id for r in kept_records])
                    )
                )
            }
            for record in kept_records:
                policy = policies.get(record.category)
                ban_item = ban_items.get(record.id)
                until = ban_item.due_at if ban_item is not None else record.expires_at
                entry = {
                    "kind": "restricted_record" if record.id in restricted_records else "ban",
                    "record_id": record.id,
                    "category": record.category,
                    "legal_basis": policy.basis if policy else None,
                    "retained_until": _receipt_time(until) if policy is None or policy.action != "review" else None,
                    "review_at": _receipt_time(until) if policy is not None and policy.action == "review" else None,
                }
                retained.append(entry)
            session.execute(
                update(RetentionItem)
                .where(RetentionItem.kind == "subject_category", RetentionItem.target_id == subject_id,
                       RetentionItem.state != "done")
                .values(state="done", outcome="erased", done_at=completed_at, updated_at=completed_at, claim=None)
            )
            session.execute(
                delete(RetentionEvent).where(RetentionEvent.target_kind == "subject", RetentionEvent.target_id == subject_id)
            )
            # the provisions log goes with the subject; the tasks of telling its recipients stay
            notifications.open_tasks(session, subject_id, "erasure", request_id,
                                     ((recipient, json.loads(items)) for recipient, items in provided), completed_at)
            session.execute(delete(Provision).where(Provision.subject_id == subject_id))
            webhooks.enqueue(session, self.webhooks, "erasure.completed", subject_id, completed_at, request_id=request_id)
            session.execute(
                update(RightsRequest)
                .where(RightsRequest.subject_id == subject_id, RightsRequest.kind == "erasure", RightsRequest.state == "open")
                .values(state="completed", completed_at=completed_at, outcome="erased")
            )
        body = {
            "type": RECEIPT_TYPE,
            "version": RECEIPT_VERSION,
            "request_id": request_id,
            "subject_id": subject_id,
            "requested_at": _receipt_time(requested_at),
            "completed_at": _receipt_time(completed_at),
            "policies": policies.fingerprint,
            "destroyed": {
                "subject_key": present or tombstoned,
                "subject_fields": sorted(set(fields) - kept_fields),
                "record_evidence": [
                    {"record_id": rid, "fields": names} for rid, names in sorted(evidence.items()) if names
                ],
                "records": deleted_records,
                "separated": destroyed_separated,
            },
            "retained": sorted(retained, key=lambda e: (e["kind"], e.get("record_id") or e.get("item_id") or "")),
            "recipients_to_notify": recipients,
        }
        document = sign_receipt(body, self._signing.current(AUDIT_PURPOSE))
        try:
            with session_scope(self._engine, write=True) as session:
                session.add(ErasureReceiptRow(request_id=request_id, subject_id=subject_id, issued_at=completed_at,
                                              document=document.decode("ascii").rstrip("\n")))
                session.flush()
                self._audit.append(
                    "erasure.request",
                    targets=[request_id, subject_id],
                    detail={
                        "fields_destroyed": len(body["destroyed"]["subject_fields"]),  # type: ignore[index]  # the receipt body built above
                        "records_deleted": len(deleted_records),
                        "retained": len(retained),
                        "separated_destroyed": len(destroyed_separated),
                    },
                    session=session,
                )
        except IntegrityError:  # the same request ran at the same moment: its receipt stands
            stored = self._stored(request_id, subject_id)
            if stored is None:
                raise
            return stored
        log.info("erasure request %s for subject %s: %d retained", request_id, subject_id, len(retained))
        return ErasureReceipt(request_id, subject_id, document, False)

    def _separated_entry(self, item_id: str, category: str, fields: list[str], due: datetime | None) -> dict[str, Any]:
        policy = self._retention.policies.get(category)
        return {
            "kind": "separate_storage",
            "item_id": item_id,
            "category": category,
            "fields": sorted(fields),
            "legal_basis": policy.basis if policy else None,
            "retained_until": _receipt_time(due),
        }

    # --- verifying ------------------------------------------------------------------------------

    def verify(self, document: bytes, *, pin: bytes | None = None) -> ReceiptCheck:
        """Verify a receipt file's bytes, also checking that its key is one of this vault's (its
        public key derived from the unwrapped seed). No scope needed."""

        def known(key_id: str) -> bytes | None:
            key = self._signing.get(key_id)
            return key.public_key_bytes() if key is not None else None

        return verify_document(document, pin=pin, known_key=known)
