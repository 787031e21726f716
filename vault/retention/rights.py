"""Data-subject rights: access, correction, restriction of processing, the provisions log, and the
requests' deadlines.

Why one module of this size: the five rights share the requests table, its deadlines and the
restriction that a pending correction or restriction puts on the subject.

Requests (``rights_requests``): access, correction, restriction or erasure, each with the time it
was received and a deadline :data:`DEADLINE_DAYS` (10) days later (Personal Information
Protection Act, Enforcement Decree Art. 41(4), 43(3) and 44(2): within 10 days), counted as the
Civil Act counts (Art. 157 and 159): the day of receipt is not counted and the period ends at the
end of the tenth day, in the policies' time zone (:func:`request_deadline`); :meth:`requests` with
``overdue=True`` lists the open ones past their deadline. Completing an access export, a
correction or an erasure (vault.retention.erasure) completes the subject's open request of that
kind.

Access export (:meth:`RightsService.access_export`): the subject's decrypted fields, the records
linked to it with their decrypted text, its categories with their legal bases and due dates, what
of it is in separate storage (names and dates; the values are read with ``restricted:read``), its
processing restrictions, the provisions of its data to third parties and its requests, as plain
data (JSON). Reading PII: scope ``subjects:reveal``, a purpose is required and audited.

Correction: :meth:`begin_correction` restricts processing while the correction is pending (the
subject's records do not match in checks and it is left out of exports);
:meth:`complete_correction` changes the fields, lifts that restriction and lists the third parties
the corrected items were provided to (from the provisions log), so they can be told.

Restriction of processing: :meth:`restrict_processing` / :meth:`lift_restriction`.

Provisions log: :meth:`record_provision` (recipient, items (field names or category codes),
purpose, legal basis, retention) and :meth:`provisions`. Recipients, purposes, bases and
retention are short free text about the provision, never the subject's data.

Scopes: access export ``subjects:reveal``; corrections, restrictions and provisions
``subjects:write``; requests and the overdue report ``admin``.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import select

from pseudovault.vault import idempotency as idempotency_keys
from pseudovault.vault.audit import AuditLog, validate_purpose
from pseudovault.vault.clock import Clock, past_timestamp
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.idempotency import IdempotencyClaim
from pseudovault.vault.records import repository as records_repository
from pseudovault.vault.retention import consents, notifications, webhooks
from pseudovault.vault.retention.consents import ConsentView
from pseudovault.vault.retention.holds import validate_reference
from pseudovault.vault.retention.notifications import NotificationView
from pseudovault.vault.retention.periods import Period, due_at
from pseudovault.vault.retention.restrictions import (
    RestrictedError,
    add_restriction,
    in_separate_storage,
    lift_restriction,
    restricted_ids,
    restriction_reasons,
    use_blocking_reasons,
)
from pseudovault.vault.retention.service import RetentionService
from pseudovault.vault.retention.webhooks import WebhookConfig
from pseudovault.vault.store.data_models import Provision, RightsRequest
from pseudovault.vault.store.db import session_scope
from pseudovault.vault.subjects import repository as subjects_repository
from pseudovault.vault.subjects.service import validate_reason_code, validate_subject_id
from pseudovault.vault.views import View

__all__ = [
    "DEADLINE_DAYS",
    "REQUESTERS",
    "REQUEST_KINDS",
    "CorrectionResult",
    "ProvisionView",
    "RightsRequestView",
    "RightsService",
    "request_deadline",
]

log = logging.getLogger(__name__)

DEADLINE_DAYS = 10
REQUEST_KINDS = ("access", "correction", "restriction", "erasure", "consent_withdrawal")
#: who made a request: the subject, a legal guardian (a child under 14, PIPA Art. 22-2) or an agent
#: it appointed (Art. 38(1))
REQUESTERS = ("self", "guardian", "agent")
_ITEM = re.compile(r"\*|[a-z][a-z0-9_]{0,63}")
_MAX_ITEMS = 1000


def _requester(value: object) -> str:
    if value not in REQUESTERS:
        raise InvalidInputError("requester", f"must be one of: {', '.join(REQUESTERS)}")
    return str(value)


def request_deadline(received: datetime, zone: tzinfo = UTC) -> datetime:
    """When a request received at ``received`` is overdue: the start of the day after the tenth
    day following the day of receipt, in ``zone`` (Civil Act Art. 157: the first day is not
    counted; Art. 159: the period ends at the end of its last day). A request received on
    2 March at any hour may be answered through 12 March and is overdue from 13 March 00:00."""
    return due_at(received, Period(days=DEADLINE_DAYS), zone)


@dataclass(frozen=True)
class RightsRequestView(View):
    request_id: str
    subject_id: str
    kind: str
    state: str
    received_at: datetime
    due_at: datetime
    completed_at: datetime | None
    outcome: str | None
    reference: str | None
    overdue: bool
    requester: str = "self"


@dataclass(frozen=True)
class ProvisionView(View):
    provision_id: str
    subject_id: str
    recipient: str
    items: tuple[str, ...]
    purpose: str
    legal_basis: str
    retention: str
    provided_at: datetime


@dataclass(frozen=True)
class CorrectionResult(View):
    """A completed correction: what changed, and the third parties to notify."""

    request_id: str
    subject_id: str
    fields_changed: tuple[str, ...]
    notify: tuple[ProvisionView, ...]

    def extra(self) -> Mapping[str, Any]:
        return {
            "notify": [
                {"recipient": p.recipient, "provided_at": p.provided_at, "items": p.items, "provision_id": p.provision_id}
                for p in self.notify
            ]
        }


def _text(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(field, "is required")
    value = value.strip()
    if len(value) > limit:
        raise InvalidInputError(field, f"at most {limit} characters")
    if not value.isprintable():
        raise InvalidInputError(field, "must be one line of printable text")
    return value


def _request_id(view: RightsRequestView) -> str:
    return view.request_id


class RightsService:
    """Access, correction, restriction, provisions and request deadlines (module docstring)."""

    def __init__(self, retention: RetentionService, records: Any, clock: Clock, audit: AuditLog) -> None:
        self._retention = retention
        self._subjects = retention.subjects
        self._records = records
        self._clock = clock
        self._audit = audit
        self._engine = retention.engine
        #: where corrections, restrictions and consent withdrawals are announced (None: nowhere)
        self.webhooks: WebhookConfig | None = None

    def __repr__(self) -> str:
        return "RightsService()"

    # --- requests and deadlines -----------------------------------------------------------------

    def _view(self, row: RightsRequest, now: datetime) -> RightsRequestView:
        return RightsRequestView(
            request_id=row.id,
            subject_id=row.subject_id,
            kind=row.kind,
            state=row.state,
            received_at=row.received_at,
            due_at=row.due_at,
            completed_at=row.completed_at,
            outcome=row.outcome,
            reference=row.reference,
            overdue=row.state == "open" and row.due_at <= now,
            requester=row.requester or "self",
        )

    def open_request(
        self,
        subject_id: str,
        kind: str,
        *,
        reference: str | None = None,
        received_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
        requester: str = "self",
    ) -> RightsRequestView:
        """Track a data subject's request, due :data:`DEADLINE_DAYS` days after ``received_at``
        (default now), made by ``requester`` (the subject, a guardian or an agent). Scope
        ``admin``. Under an idempotency key a retry answers with the request the key opened
        (vault.idempotency), as it stands now."""
        subject_id = validate_subject_id(subject_id)
        if kind not in REQUEST_KINDS:
            raise InvalidInputError("kind", f"must be one of: {', '.join(REQUEST_KINDS)}")
        requester = _requester(requester)
        if reference is not None:
            reference = validate_reference(reference)
        now = self._clock.now()
        received = now if received_at is None else past_timestamp(received_at, "received_at", now)

        def create() -> RightsRequestView:
            with session_scope(self._engine, write=True) as session:
                if not subjects_repository.exists(session, subject_id):
                    raise NotFoundError("subject", subject_id)
                row = self._open(session, subject_id, kind, received, reference, idempotency, requester)
                return self._view(row, now)

        return idempotency_keys.once_view(self._engine, idempotency, create, _request_id, self.request)

    def request(self, request_id: str) -> RightsRequestView:
        """One request as it stands; NotFoundError for an unknown id."""
        request_id = validate_subject_id(request_id, "request_id")
        with session_scope(self._engine) as session:
            row = session.get(RightsRequest, request_id)
            if row is None:
                raise NotFoundError("request", request_id)
            return self._view(row, self._clock.now())

    def _open(
        self,
        session: Any,
        subject_id: str,
        kind: str,
        received: datetime,
        reference: str | None,
        idempotency: IdempotencyClaim | None = None,
        requester: str = "self",
    ) -> RightsRequest:
        row = RightsRequest(
            id=str(uuid.uuid4()),
            subject_id=subject_id,
            kind=kind,
            state="open",
            received_at=received,
            due_at=request_deadline(received, self._retention.policies.zone),
            reference=reference,
            requester=requester,
        )
        session.add(row)
        session.flush()
        self._audit.append(
            "rights.request_open",
            targets=[row.id, subject_id],
            detail={"kind": kind, **({"reference": reference} if reference else {}),
                    **({"requester": requester} if requester != "self" else {})},
            session=session,
        )
        if idempotency is not None:
            idempotency_keys.record(session, idempotency, row.id, self._clock.now())
        return row

    def complete_request(self, request_id: str, *, outcome: str = "completed", rejected: bool = False) -> RightsRequestView:
        """Close a request as completed (or rejected) with an outcome code. Scope ``admin``."""
        request_id = validate_subject_id(request_id, "request_id")
        outcome = validate_reason_code(outcome)
        now = self._clock.now()
        with session_scope(self._engine, write=True) as session:
            row = session.get(RightsRequest, request_id, with_for_update=True)
            if row is None:
                raise NotFoundError("request", request_id)
            if row.state != "open":
                raise ConflictError(f"request {request_id} is already {row.state}")
            self._close(session, row, now, outcome, rejected=rejected)
            return self._view(row, now)

    def _close(self, session: Any, row: RightsRequest, now: datetime, outcome: str, *, rejected: bool = False) -> None:
        row.state = "rejected" if rejected else "completed"
        row.completed_at = now
        row.outcome = outcome
        self._audit.append(
            "rights.request_close",
            targets=[row.id, row.subject_id],
            detail={"kind": row.kind, "state": row.state, "outcome": outcome, "late": row.due_at <= now},
            session=session,
        )

    def requests(
        self, *, overdue: bool = False, subject_id: str | None = None, open_only: bool = False, limit: int = 100
    ) -> list[RightsRequestView]:
        """Requests by deadline (earliest first); ``overdue`` only the open ones past it. Scope ``admin``."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
            raise InvalidInputError("limit", "must be an integer from 1 to 1000")
        now = self._clock.now()
        stmt = select(RightsRequest).order_by(RightsRequest.due_at, RightsRequest.id).limit(limit)
        if overdue:
            stmt = stmt.where(RightsRequest.state == "open", RightsRequest.due_at <= now)
        elif open_only:
            stmt = stmt.where(RightsRequest.state == "open")
        if subject_id is not None:
            stmt = stmt.where(RightsRequest.subject_id == validate_subject_id(subject_id))
        with session_scope(self._engine) as session:
            return [self._view(r, now) for r in session.scalars(stmt)]

    def _complete_open(self, session: Any, subject_id: str, kind: str, request_id: str | None, outcome: str) -> str | None:
        now = self._clock.now()
        if request_id is not None:
            row = session.get(RightsRequest, validate_subject_id(request_id, "request_id"), with_for_update=True)
            if row is None or row.subject_id != subject_id or row.kind != kind:
                raise NotFoundError("request", request_id)
            if row.state != "open":
                raise ConflictError(f"request {request_id} is already {row.state}")
            self._close(session, row, now, outcome)
            return str(row.id)
        rows = list(
            session.scalars(
                select(RightsRequest).where(
                    RightsRequest.subject_id == subject_id, RightsRequest.kind == kind, RightsRequest.state == "open"
                )
            )
        )
        for row in rows:
            self._close(session, row, now, outcome)
        return rows[0].id if rows else None

    # --- access ---------------------------------------------------------------------------------

    def access_export(self, subject_id: str, *, purpose: str, request_id: str | None = None) -> dict[str, Any]:
        """Everything the vault holds about the subject, decrypted, as plain data (see the module
        docstring). Scope ``subjects:reveal``; ``purpose`` required; audited
        (``rights.access_export``, and each decryption as its own reveal)."""
        subject_id = validate_subject_id(subject_id)
        purpose_text = validate_purpose(purpose, required=True)
        assert purpose_text is not None
        fields = self._subjects.read(subject_id, purpose=purpose_text, restricted="rights")
        now = self._clock.now()
        with session_scope(self._engine) as session:
            record_ids = records_repository.ids_of_subject(session, subject_id)
            restrictions = restriction_reasons(session, "subject", subject_id)
            separated_records = {r for r in record_ids if in_separate_storage(session, r)}
        records = []
        for record_id in record_ids:
            view = self._records.get(record_id).as_dict()
            if record_id in separated_records:  # its text is read with restricted:read only: named, not shown
                records.append({**view, "text": {"reason": None, "evidence": None, "notes": None, "available": False},
                                "separate_storage": True})
                continue
            text = self._records.reveal(record_id, purpose=purpose_text, restricted="rights").as_dict()
            records.append({**view, "text": {k: text[k] for k in ("reason", "evidence", "notes", "available")},
                            "separate_storage": False})
        policies = self._retention.policies
        categories = []
        items = {(i.kind, i.category): i for i in self._retention.items(subject_id) if i.kind == "subject_category"}
        for code, names in self._retention.categories_of(subject_id).items():
            policy = policies.get(code)
            item = items.get(("subject_category", code))
            categories.append(
                {
                    "category": code,
                    "name": policy.name if policy else code,
                    "fields": names,
                    "legal_basis": policy.basis if policy else None,
                    "period": policy.period.short() if policy and policy.period else None,
                    "due_at": item.due_at.isoformat() if item and item.due_at else None,
                }
            )
        separated = [
            {**v.as_dict(), "legal_basis": policies[v.category].basis if v.category in policies else None}
            for v in self._retention.separate.origins(subject_id)
        ]
        export = {
            "subject_id": subject_id,
            "exported_at": now.isoformat(),
            "fields": fields,
            "categories": categories,
            "records": records,
            "separate_storage": separated,
            "restrictions": restrictions,
            "provisions": [p.as_dict() for p in self.provisions(subject_id)],
            "consents": [c.as_dict() for c in self.consents(subject_id)],
            "requests": [r.as_dict() for r in self.requests(subject_id=subject_id, limit=1000)],
        }
        with session_scope(self._engine, write=True) as session:
            completed = self._complete_open(session, subject_id, "access", request_id, "exported")
            self._audit.append(
                "rights.access_export",
                targets=[subject_id] + ([completed] if completed else []),
                purpose=purpose_text,
                detail={"fields": len(fields), "records": len(records), "provisions": len(export["provisions"])},
                session=session,
            )
        return export

    # --- correction -------------------------------------------------------------------------------

    def begin_correction(
        self,
        subject_id: str,
        *,
        reference: str | None = None,
        received_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
        requester: str = "self",
    ) -> RightsRequestView:
        """Open a correction request and restrict processing until it is completed or rejected
        (the subject's records stop matching in checks). Scope ``subjects:write``. Under an
        idempotency key a retry answers with the request the key opened."""
        subject_id = validate_subject_id(subject_id)
        requester = _requester(requester)
        if reference is not None:
            reference = validate_reference(reference)
        now = self._clock.now()
        received = now if received_at is None else past_timestamp(received_at, "received_at", now)

        def create() -> RightsRequestView:
            with session_scope(self._engine, write=True) as session:
                if not subjects_repository.exists(session, subject_id):
                    raise NotFoundError("subject", subject_id)
                row = self._open(session, subject_id, "correction", received, reference, idempotency, requester)
                add_restriction(session, "subject", subject_id, "correction_pending", now, request_id=row.id)
                return self._view(row, now)

        return idempotency_keys.once_view(self._engine, idempotency, create, _request_id, self.request)

    def complete_correction(self, request_id: str, fields: Mapping[str, str | None]) -> CorrectionResult:
        """Apply the correction (``fields``: new values, None deletes; may be empty when the data
        was right), lift the pending-correction restriction, complete the request, and list the
        third parties the corrected items were provided to. Scope ``subjects:write``."""
        request_id = validate_subject_id(request_id, "request_id")
        with session_scope(self._engine) as session:
            row = session.get(RightsRequest, request_id)
            if row is None or row.kind != "correction":
                raise NotFoundError("correction request", request_id)
            if row.state != "open":
                raise ConflictError(f"request {request_id} is already {row.state}")
            subject_id = row.subject_id
        if fields:
            self._subjects.update(subject_id, fields)
        changed = tuple(sorted(fields))
        now = self._clock.now()
        categories = self._retention.categories_of(subject_id)
        covering = {code for code, names in categories.items() if "*" in names or set(names) & set(changed)}
        wanted = set(changed) | covering | {"*"}
        notify = tuple(p for p in self.provisions(subject_id) if set(p.items) & wanted) if changed else ()
        with session_scope(self._engine, write=True) as session:
            row = session.get(RightsRequest, request_id, with_for_update=True)
            if row is None or row.state != "open":
                raise ConflictError(f"request {request_id} is no longer open")
            self._close(session, row, now, "corrected" if changed else "confirmed")
            self._lift_correction(session, subject_id)
            tasks = notifications.open_tasks(
                session, subject_id, "correction", request_id,
                ((p.recipient, sorted(set(p.items) & wanted)) for p in notify), now,
            )
            webhooks.enqueue(session, self.webhooks, "correction.completed", subject_id, now, request_id=request_id,
                             fields=len(changed))
            self._audit.append(
                "rights.correction",
                targets=[request_id, subject_id],
                detail={"fields": len(changed), "recipients": len(notify), "notifications": len(tasks)},
                session=session,
            )
        return CorrectionResult(request_id, subject_id, changed, notify)

    def reject_correction(self, request_id: str, *, reason_code: str = "rejected") -> RightsRequestView:
        """Reject a correction request and lift its restriction. Scope ``subjects:write``."""
        request_id = validate_subject_id(request_id, "request_id")
        reason_code = validate_reason_code(reason_code)
        now = self._clock.now()
        with session_scope(self._engine, write=True) as session:
            row = session.get(RightsRequest, request_id, with_for_update=True)
            if row is None or row.kind != "correction":
                raise NotFoundError("correction request", request_id)
            if row.state != "open":
                raise ConflictError(f"request {request_id} is already {row.state}")
            self._close(session, row, now, reason_code, rejected=True)
            self._lift_correction(session, row.subject_id)
            return self._view(row, now)

    @staticmethod
    def _lift_correction(session: Any, subject_id: str) -> None:
        still_open = session.scalar(
            select(RightsRequest.id).where(
                RightsRequest.subject_id == subject_id, RightsRequest.kind == "correction", RightsRequest.state == "open"
            ).limit(1)
        )
        if still_open is None:
            lift_restriction(session, "subject", subject_id, "correction_pending")

    # --- restriction of processing ---------------------------------------------------------------

    def restrict_processing(
        self,
        subject_id: str,
        *,
        reference: str | None = None,
        received_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
        requester: str = "self",
    ) -> RightsRequestView:
        """Restrict the processing of the subject's data at its request (completed at once: its
        records stop matching in checks, it is left out of exports) until :meth:`lift_restriction`.
        Scope ``subjects:write``. Under an idempotency key a retry answers with the request the
        key recorded."""
        subject_id = validate_subject_id(subject_id)
        requester = _requester(requester)
        if reference is not None:
            reference = validate_reference(reference)
        now = self._clock.now()
        received = now if received_at is None else past_timestamp(received_at, "received_at", now)

        def create() -> RightsRequestView:
            with session_scope(self._engine, write=True) as session:
                if not subjects_repository.exists(session, subject_id):
                    raise NotFoundError("subject", subject_id)
                row = self._open(session, subject_id, "restriction", received, reference, idempotency, requester)
                add_restriction(session, "subject", subject_id, "restriction_request", now, request_id=row.id)
                self._close(session, row, now, "restricted")
                webhooks.enqueue(session, self.webhooks, "restriction.placed", subject_id, now, request_id=row.id)
                return self._view(row, now)

        return idempotency_keys.once_view(self._engine, idempotency, create, _request_id, self.request)

    def lift_restriction(self, subject_id: str, *, reason_code: str = "lifted") -> bool:
        """Lift a restriction of processing; returns whether there was one. Scope ``subjects:write``."""
        subject_id = validate_subject_id(subject_id)
        reason_code = validate_reason_code(reason_code)
        with session_scope(self._engine, write=True) as session:
            lifted = lift_restriction(session, "subject", subject_id, "restriction_request")
            if lifted:
                webhooks.enqueue(session, self.webhooks, "restriction.lifted", subject_id, self._clock.now())
            self._audit.append(
                "rights.restriction_lift", targets=[subject_id], detail={"reason": reason_code, "lifted": lifted},
                session=session,
            )
        return lifted

    def exportable(self, subject_ids: Collection[str]) -> set[str]:
        """Those of ``subject_ids`` whose data may be exported (no restriction in force)."""
        with session_scope(self._engine) as session:
            return set(subject_ids) - restricted_ids(session, "subject", subject_ids)

    # --- notifications ----------------------------------------------------------------------------

    def notifications(self, *, state: str | None = None, subject_id: str | None = None,
                      limit: int = 100) -> list[NotificationView]:
        """The tasks of telling recipients of corrections and erasures, oldest first (``state``:
        pending, notified or failed). Scope ``subjects:write``."""
        if subject_id is not None:
            subject_id = validate_subject_id(subject_id)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
            raise InvalidInputError("limit", "must be an integer from 1 to 1000")
        with session_scope(self._engine) as session:
            return notifications.listing(session, state=state, subject_id=subject_id, limit=limit)

    def close_notification(
        self, notification_id: str, *, state: str = "notified", means: str | None = None, at: datetime | None = None
    ) -> NotificationView:
        """Record that the recipient was told (``notified``, with the ``means`` as a code) or that
        telling it failed (``failed``; it may be notified later). Audited
        ``rights.notification``. Scope ``subjects:write``."""
        notification_id = validate_subject_id(notification_id, "notification_id")
        now = self._clock.now()
        when = now if at is None else past_timestamp(at, "at", now)
        with session_scope(self._engine, write=True) as session:
            view = notifications.close(session, notification_id, state, means, when)
            self._audit.append(
                "rights.notification", targets=[notification_id, view.subject_id],
                detail={"state": view.state, "cause": view.cause, **({"means": view.means} if view.means else {})},
                session=session,
            )
        return view

    # --- consents -------------------------------------------------------------------------------

    def grant_consent(
        self,
        subject_id: str,
        purpose: str,
        *,
        text_version: str,
        granted_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> ConsentView:
        """Record the subject's consent to ``purpose`` (a code) under the consent text's version.
        ConflictError while a consent to the same purpose is in force. Audited
        ``rights.consent_grant``. Scope ``subjects:write``. Under an idempotency key a retry
        answers with the consent the key recorded."""
        subject_id = validate_subject_id(subject_id)
        now = self._clock.now()
        at = now if granted_at is None else past_timestamp(granted_at, "granted_at", now)

        def create() -> ConsentView:
            with session_scope(self._engine, write=True) as session:
                if not subjects_repository.exists(session, subject_id):
                    raise NotFoundError("subject", subject_id)
                view = consents.grant(session, subject_id, purpose, text_version, at)
                self._audit.append("rights.consent_grant", targets=[view.consent_id, subject_id],
                                   detail={"purpose": view.purpose, "text_version": view.text_version},
                                   session=session)
                if idempotency is not None:
                    idempotency_keys.record(session, idempotency, view.consent_id, self._clock.now())
            return view

        return idempotency_keys.once_view(self._engine, idempotency, create, lambda v: v.consent_id, self.consent)

    def consent(self, consent_id: str) -> ConsentView:
        """One consent; NotFoundError for an unknown id."""
        consent_id = validate_subject_id(consent_id, "consent_id")
        with session_scope(self._engine) as session:
            found = consents.consent(session, consent_id)
        if found is None:
            raise NotFoundError("consent", consent_id)
        return found

    def withdraw_consent(
        self, subject_id: str, purpose: str, *, request_id: str | None = None, withdrawn_at: datetime | None = None
    ) -> ConsentView:
        """Withdraw the subject's consent to ``purpose``, without delay (PIPA Art. 37(3)), and close
        its open ``consent_withdrawal`` request (or ``request_id``). NotFoundError when no consent to
        it is in force. Audited ``rights.consent_withdraw``. Scope ``subjects:write``."""
        subject_id = validate_subject_id(subject_id)
        now = self._clock.now()
        at = now if withdrawn_at is None else past_timestamp(withdrawn_at, "withdrawn_at", now)
        with session_scope(self._engine, write=True) as session:
            view = consents.withdraw(session, subject_id, purpose, at)
            if view is None:
                raise NotFoundError("consent", f"{purpose} of subject {subject_id}")
            closed = self._complete_open(session, subject_id, "consent_withdrawal", request_id, "withdrawn")
            webhooks.enqueue(session, self.webhooks, "consent.withdrawn", subject_id, now, purpose=view.purpose,
                             request_id=closed)
            self._audit.append(
                "rights.consent_withdraw", targets=[view.consent_id, subject_id],
                detail={"purpose": view.purpose, **({"request": closed} if closed else {})}, session=session,
            )
        return view

    def consents(self, subject_id: str) -> list[ConsentView]:
        """The subject's consents, in force and withdrawn, oldest first (kept after its erasure)."""
        subject_id = validate_subject_id(subject_id)
        with session_scope(self._engine) as session:
            return consents.consents_of(session, subject_id)

    # --- provisions ------------------------------------------------------------------------------

    def record_provision(
        self,
        subject_id: str,
        *,
        recipient: str,
        items: Collection[str],
        purpose: str,
        legal_basis: str,
        retention: str,
        provided_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> ProvisionView:
        """Log that the subject's ``items`` (field names or category codes, ``*`` for all) were
        provided to ``recipient``. Scope ``subjects:write``. Under an idempotency key a retry
        answers with the provision the key logged. A provision at or after the start of a
        restriction request or a pending correction is refused (RestrictedError, audited): the
        data may not be provided meanwhile; one that happened before it is logged."""
        subject_id = validate_subject_id(subject_id)
        recipient = _text(recipient, "recipient", 200)
        purpose = _text(purpose, "purpose", 500)
        legal_basis = _text(legal_basis, "legal_basis", 500)
        retention = _text(retention, "retention", 200)
        if isinstance(items, (str, bytes)) or not items:
            raise InvalidInputError("items", "must be a non-empty list of field names or category codes")
        if len(items) > _MAX_ITEMS or not all(isinstance(i, str) and _ITEM.fullmatch(i) for i in items):
            raise InvalidInputError("items", "field names or category codes ([a-z][a-z0-9_]{0,63}, or *)")
        now = self._clock.now()
        provided = now if provided_at is None else past_timestamp(provided_at, "provided_at", now)
        return idempotency_keys.once_view(
            self._engine,
            idempotency,
            lambda: self._provide(subject_id, recipient, items, purpose, legal_basis, retention, provided, idempotency),
            lambda view: view.provision_id,
            self.provision,
        )

    def _provide(
        self,
        subject_id: str,
        recipient: str,
        items: Collection[str],
        purpose: str,
        legal_basis: str,
        retention: str,
        provided: datetime,
        idempotency: IdempotencyClaim | None,
    ) -> ProvisionView:
        row = Provision(
            id=str(uuid.uuid4()),
            subject_id=subject_id,
            recipient=recipient,
            items=json.dumps(sorted(set(items))),
            purpose=purpose,
            legal_basis=legal_basis,
            retention=retention,
            provided_at=provided,
        )
        with session_scope(self._engine, write=True) as session:
            if not subjects_repository.exists(session, subject_id):
                raise NotFoundError("subject", subject_id)
            reasons = use_blocking_reasons(session, subject_id=subject_id, at=provided)
            if reasons:  # the data may not be provided to anyone while restricted (before: a late log)
                refused = RestrictedError("subject", subject_id, reasons)
            else:
                refused = None
                session.add(row)
                session.flush()
                self._audit.append(
                    "rights.provision", targets=[row.id, subject_id], detail={"items": len(set(items))}, session=session
                )
                if idempotency is not None:
                    idempotency_keys.record(session, idempotency, row.id, self._clock.now())
        if refused is not None:
            self._audit.append("rights.provision", targets=[subject_id], outcome="conflict",
                               detail={"restriction": refused.reasons[0]})
            raise refused
        return self._provision_view(row)

    def provision(self, provision_id: str) -> ProvisionView:
        """One provision; NotFoundError for an unknown id (or one erased with its subject)."""
        provision_id = validate_subject_id(provision_id, "provision_id")
        with session_scope(self._engine) as session:
            row = session.get(Provision, provision_id)
            if row is None:
                raise NotFoundError("provision", provision_id)
            return self._provision_view(row)

    @staticmethod
    def _provision_view(row: Provision) -> ProvisionView:
        return ProvisionView(
            provision_id=row.id,
            subject_id=row.subject_id,
            recipient=row.recipient,
            items=tuple(json.loads(row.items)),
            purpose=row.purpose,
            legal_basis=row.legal_basis,
            retention=row.retention,
            provided_at=row.provided_at,
        )

    def provisions(self, subject_id: str) -> list[ProvisionView]:
        """The provisions of the subject's data, oldest first. Scope ``subjects:write`` or ``admin``."""
        subject_id = validate_subject_id(subject_id)
        with session_scope(self._engine) as session:
            rows = session.scalars(
                select(Provision).where(Provision.subject_id == subject_id).order_by(Provision.provided_at, Provision.id)
            )
            return [self._provision_view(r) for r in rows]
