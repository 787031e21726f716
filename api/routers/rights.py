"""Data-subject rights: access export, correction, restriction of processing, the provisions log,
and the tracking of requests against their 10-day deadline (vault.retention.rights).

* ``POST /v1/rights/access-export`` (``subjects:reveal``): everything the vault holds about a
  subject, decrypted, with a purpose that is audited (``rights.access_export``, and each
  decryption as its own ``subject.reveal`` / ``record.reveal``). It completes the subject's open
  access request (or the one named).
* Corrections (``subjects:write``): opening one restricts the subject's processing (its records
  stop matching in checks) until it is completed (the fields change, and the answer names the
  third parties the corrected items were provided to) or rejected.
* Restrictions of processing (``subjects:write``): placed at the subject's request, lifted later.
* Provisions (``subjects:write``): the log of what of a subject's data went to which third party,
  for what purpose, under which legal basis, kept how long.
* Requests (``admin``): any kind of request, tracked with a deadline 10 days after it was
  received; ``overdue=true`` lists the open ones past it.

No answer but the access export carries personal data: requests, corrections, restrictions and
provisions answer with ids, codes, field names, times and the provision's own short texts
(recipient, purpose, legal basis, retention, which are about the provision, never the subject's
data). The audit entries carry ids, kinds and counts.

Timestamps a caller gives (``received_at``, ``provided_at``) are in the past (the vault refuses
the future) and on or after 1970-01-01T00:00:00Z.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Path, Query, status
from pydantic import ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from pseudovault.api.auth import Admin, ApiRoute, SubjectsReveal, SubjectsWrite
from pseudovault.api.deps import VaultDep
from pseudovault.api.routers.records import RecordOut
from pseudovault.api.routers.subjects import FieldName, FieldValue, Purpose
from pseudovault.api.schemas import BodyUuid, PastTimestamp, ReasonCode, Reference, RequestModel, ResponseModel
from pseudovault.vault.errors import NotFoundError
from pseudovault.vault.retention.rights import DEADLINE_DAYS, CorrectionResult, ProvisionView, RightsRequestView
from pseudovault.vault.subjects.service import MAX_FIELDS

__all__ = ["router"]

router = APIRouter(prefix="/v1/rights", route_class=ApiRoute, tags=["rights"])

MAX_REQUESTS_LISTED = 1000
MAX_PROVISION_ITEMS = 1000

_SUBJECT_ID = "0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10"
_REQUEST_ID = "3d9e7a41-6c2b-4f8e-a1d5-7b0c9e2f4a86"
_PROVISION_ID = "8a4f1c3e-2d7b-4e9a-b6c0-5f1e3d2a7c94"
_RECORD_ID = "6f1c2a9e-3b7d-4e8a-9c41-5d2f0b8e7a13"


Item = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z][a-z0-9_]{0,63})$")]
RequestKind = Literal["access", "correction", "restriction", "erasure"]
RequestState = Literal["open", "completed", "rejected"]
Recipient = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S")]
ProvisionText = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"\S")]
RetentionText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S")]

SubjectIdPath = Annotated[UUID, Path(description="The subject's id (a UUID).", examples=[_SUBJECT_ID])]
RequestIdPath = Annotated[UUID, Path(description="The request's id (a UUID).", examples=[_REQUEST_ID])]

_FIELDS_SCHEMA: JsonDict = {"additionalProperties": False}


# --- bodies -----------------------------------------------------------------------------------


class AccessExportRequest(RequestModel):
    subject_id: BodyUuid = Field(description="The subject whose data is exported.", examples=[_SUBJECT_ID])
    purpose: Purpose = Field(
        description="Why the data is exported, recorded in the audit log as given: name the access "
        "request or ticket, never personal data.",
        examples=["access request REQ-2026-031"],
    )
    request_id: BodyUuid | None = Field(
        None,
        description="The access request this export completes (one of the subject's, of kind "
        "`access`, still open). When absent, every open access request of the subject is completed.",
        examples=[_REQUEST_ID],
    )


class SubjectRequestCreate(RequestModel):
    subject_id: BodyUuid = Field(examples=[_SUBJECT_ID])
    reference: Reference | None = Field(
        None, description="The case or ticket the request belongs to (never personal data).", examples=["REQ-2026-031"]
    )
    received_at: PastTimestamp | None = Field(
        None,
        description=f"When the request came in (not in the future); the deadline is {DEADLINE_DAYS} days "
        "later. Now when absent.",
        examples=["2026-01-14T09:30:00Z"],
    )


class RightsRequestCreate(SubjectRequestCreate):
    kind: RequestKind = Field(description="What the data subject asked for.", examples=["access"])


class CorrectionComplete(RequestModel):
    fields: dict[FieldName, FieldValue | None] = Field(
        max_length=MAX_FIELDS,
        description="The corrected fields: new values (a field the subject lacks is added), null "
        "deletes a field. Empty when the data turned out to be right (the request is closed as "
        "`confirmed`).",
        examples=[{"email": "minji.kim@example.com", "phone": None}],
        json_schema_extra=_FIELDS_SCHEMA,
    )


class CorrectionReject(RequestModel):
    reason_code: ReasonCode = Field("rejected", description="Why the correction is refused (the outcome).", examples=["not_inaccurate"])


class ProvisionCreate(RequestModel):
    subject_id: BodyUuid = Field(examples=[_SUBJECT_ID])
    recipient: Recipient = Field(description="The third party that received the data.", examples=["Acme Payments Ltd."])
    items: list[Item] = Field(
        min_length=1,
        max_length=MAX_PROVISION_ITEMS,
        description="What was provided: field names or category codes, `*` for everything.",
        examples=[["email", "payment_supply"]],
    )
    purpose: ProvisionText = Field(description="The recipient's purpose.", examples=["payment processing"])
    legal_basis: ProvisionText = Field(description="The legal basis of the provision.", examples=["PIPA Art. 17(1)1 (consent)"])
    retention: RetentionText = Field(description="How long the recipient keeps it.", examples=["5 years after payment"])
    provided_at: PastTimestamp | None = Field(
        None, description="When it was provided (not in the future); now when absent.", examples=["2026-01-10T12:00:00Z"]
    )


class RequestComplete(RequestModel):
    outcome: ReasonCode = Field("completed", description="How the request was answered, as a code.", examples=["answered"])
    rejected: bool = Field(False, description="Close it as rejected rather than completed.")


# --- answers ----------------------------------------------------------------------------------


class RightsRequestOut(ResponseModel):
    """A data subject's request and its deadline."""

    request_id: str = Field(examples=[_REQUEST_ID])
    subject_id: str = Field(examples=[_SUBJECT_ID])
    kind: RequestKind
    state: RequestState
    received_at: datetime
    due_at: datetime = Field(description=f"{DEADLINE_DAYS} days after `received_at`.")
    completed_at: datetime | None
    outcome: str | None = Field(description="How it was closed, as a code (null while open).", examples=["exported"])
    reference: str | None = Field(examples=["REQ-2026-031"])
    overdue: bool = Field(description="Open and past its deadline.")

    @classmethod
    def of(cls, view: RightsRequestView) -> RightsRequestOut:
        return cls.model_validate(view.as_dict())


class RightsRequestList(ResponseModel):
    items: list[RightsRequestOut] = Field(description="By deadline, the earliest first.")


class ProvisionOut(ResponseModel):
    """A provision of a subject's data to a third party."""

    provision_id: str = Field(examples=[_PROVISION_ID])
    subject_id: str = Field(examples=[_SUBJECT_ID])
    recipient: str = Field(examples=["Acme Payments Ltd."])
    items: list[str] = Field(description="Field names or category codes (`*`: everything).", examples=[["email"]])
    purpose: str = Field(examples=["payment processing"])
    legal_basis: str = Field(examples=["PIPA Art. 17(1)1 (consent)"])
    retention: str = Field(examples=["5 years after payment"])
    provided_at: datetime

    @classmethod
    def of(cls, view: ProvisionView) -> ProvisionOut:
        return cls.model_validate(view.as_dict())


class ProvisionList(ResponseModel):
    items: list[ProvisionOut] = Field(description="Oldest first.")


class NotifyOut(ResponseModel):
    """A third party that received a corrected item and should be told of the correction."""

    provision_id: str = Field(examples=[_PROVISION_ID])
    recipient: str = Field(examples=["Acme Payments Ltd."])
    provided_at: datetime
    items: list[str] = Field(examples=[["email"]])


class CorrectionResultOut(ResponseModel):
    request_id: str = Field(examples=[_REQUEST_ID])
    subject_id: str = Field(examples=[_SUBJECT_ID])
    fields_changed: list[str] = Field(description="Names of the fields set or deleted (never values).", examples=[["email"]])
    notify: list[NotifyOut] = Field(
        description="The provisions that included a corrected field, a category covering one, or `*`: "
        "the recipients to tell of the correction."
    )

    @classmethod
    def of(cls, result: CorrectionResult) -> CorrectionResultOut:
        return cls.model_validate(result.as_dict())


class RestrictionLifted(ResponseModel):
    subject_id: str = Field(examples=[_SUBJECT_ID])
    lifted: bool = Field(description="False when there was no restriction of processing to lift.")


class ExportCategory(ResponseModel):
    category: str = Field(examples=["payment_supply"])
    name: str = Field(description="The category's name in its retention policy.")
    fields: list[str] = Field(description="The subject's fields in the category (`*`: all of them).", examples=[["phone"]])
    legal_basis: str | None = Field(description="Why it is kept (null when no policy names the category).")
    period: str | None = Field(description="How long, e.g. `5y`.", examples=["5y"])
    due_at: datetime | None = Field(description="When it is due for its policy's action (null until its trigger event).")


_EXPORTED_RECORD_EXAMPLE: dict[str, Any] = {
    "record_id": _RECORD_ID,
    "domain": "default",
    "category": "fraudulent_transaction",
    "reason_code": "chargeback",
    "severity": "high",
    "status": "active",
    "status_reason_code": None,
    "source": "api",
    "external_ref": "case-4411",
    "subject_id": _SUBJECT_ID,
    "created_at": "2026-01-12T09:12:44.120331Z",
    "updated_at": "2026-01-12T09:12:44.120331Z",
    "expires_at": "2029-01-12T09:12:44.120331Z",
    "review_at": None,
    "text_fields": ["reason"],
    "identifier_kinds": {"email": 1},
    "identifiers": 1,
    "lookup_versions": [1],
    "text": {"reason": "chargeback ring, case 4411", "evidence": None, "notes": None, "available": True},
    "separate_storage": False,
}


class ExportedRecordText(ResponseModel):
    reason: str | None
    evidence: str | None
    notes: str | None
    available: bool = Field(description="False when the record has no text, or it is in separate storage.")


class ExportedRecord(RecordOut):
    """A record linked to the subject (as `GET /v1/records/{record_id}` answers it), with its
    decrypted text."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXPORTED_RECORD_EXAMPLE]})

    text: ExportedRecordText
    separate_storage: bool = Field(
        description="The record is in separate storage (kept under another law): its text is read with "
        "`restricted:read` (`POST /v1/separated/records/{record_id}/read`), not exported."
    )


class ExportSeparated(ResponseModel):
    """An item of the subject's data in separate storage: names and dates; its values are read
    with `restricted:read`."""

    item_id: str
    origin_id: str = Field(description="The subject it came from.")
    category: str
    reason_code: str
    created_at: datetime
    fields: list[str]
    due_at: datetime | None
    legal_basis: str | None


_EXPORT_EXAMPLE: dict[str, Any] = {
    "subject_id": _SUBJECT_ID,
    "exported_at": "2026-01-20T10:00:00+00:00",
    "fields": {"name": "Kim Minji", "email": "minji@example.com"},
    "categories": [
        {
            "category": "member_data",
            "name": "Member data",
            "fields": ["*"],
            "legal_basis": "PIPA Art. 21 (destroyed when no longer needed)",
            "period": "1y",
            "due_at": None,
        }
    ],
    "records": [],
    "separate_storage": [],
    "restrictions": [],
    "provisions": [
        {
            "provision_id": _PROVISION_ID,
            "subject_id": _SUBJECT_ID,
            "recipient": "Acme Payments Ltd.",
            "items": ["email"],
            "purpose": "payment processing",
            "legal_basis": "PIPA Art. 17(1)1 (consent)",
            "retention": "5 years after payment",
            "provided_at": "2026-01-10T12:00:00+00:00",
        }
    ],
    "requests": [
        {
            "request_id": _REQUEST_ID,
            "subject_id": _SUBJECT_ID,
            "kind": "access",
            "state": "open",
            "received_at": "2026-01-14T09:30:00+00:00",
            "due_at": "2026-01-24T09:30:00+00:00",
            "completed_at": None,
            "outcome": None,
            "reference": "REQ-2026-031",
            "overdue": False,
        }
    ],
}


class AccessExport(ResponseModel):
    """Everything the vault holds about a subject, decrypted."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXPORT_EXAMPLE]})

    subject_id: str
    exported_at: datetime
    fields: dict[str, str] = Field(description="The subject's fields, decrypted.")
    categories: list[ExportCategory] = Field(description="Its data categories, with legal bases and due dates.")
    records: list[ExportedRecord] = Field(description="The fraud records linked to it, with their decrypted text.")
    separate_storage: list[ExportSeparated] = Field(description="What of it is kept apart under another law.")
    restrictions: list[str] = Field(
        description="Restrictions of processing in force: `restriction_request`, `correction_pending`.",
        examples=[["correction_pending"]],
    )
    provisions: list[ProvisionOut] = Field(description="Provisions of its data to third parties.")
    requests: list[RightsRequestOut] = Field(description="Its requests, this one's access request included.")


def _subject_or_404(vault: Any, subject_id: str) -> None:
    if not vault.subjects.exists(subject_id):
        raise NotFoundError("subject", subject_id)


# --- access -----------------------------------------------------------------------------------


@router.post(
    "/access-export",
    summary="Export everything held about a subject",
    description="The subject's decrypted fields, the fraud records linked to it with their decrypted "
    "text, its data categories with their legal bases and due dates, what of it is in separate storage "
    "(names and dates only), its restrictions of processing, the provisions of its data to third parties "
    "and its requests: what an access request is answered with. A purpose is required; audited as "
    "`rights.access_export` (with counts) and each decryption as its own reveal. Completes the subject's "
    "open access request (the one named by `request_id`, which must be the subject's, of kind `access` "
    "and open: else 404 or 409). 404 for a subject that does not exist or was shredded.",
)
def access_export(body: AccessExportRequest, vault: VaultDep, _caller: SubjectsReveal) -> AccessExport:
    export = vault.rights.access_export(
        str(body.subject_id), purpose=body.purpose, request_id=str(body.request_id) if body.request_id else None
    )
    return AccessExport.model_validate(export)


# --- correction -------------------------------------------------------------------------------


@router.post(
    "/corrections",
    status_code=status.HTTP_201_CREATED,
    summary="Open a correction request",
    description=f"Records a request to correct the subject's data (due in {DEADLINE_DAYS} days) and restricts "
    "the processing of its data until the correction is completed or rejected: the records linked to "
    "it stop matching in checks. Audited as `rights.request_open`. 404 for an unknown subject.",
)
def open_correction(body: SubjectRequestCreate, vault: VaultDep, _caller: SubjectsWrite) -> RightsRequestOut:
    view = vault.rights.begin_correction(str(body.subject_id), reference=body.reference, received_at=body.received_at)
    return RightsRequestOut.of(view)


@router.post(
    "/corrections/{request_id}/complete",
    summary="Complete a correction",
    description="Applies the corrected fields (audited as `subject.update`, counts only), closes the "
    "request (`corrected`, or `confirmed` when `fields` is empty), lifts the restriction once no other "
    "correction of the subject is pending, and names the third parties the corrected items were provided "
    "to, from the provisions log. Audited as `rights.correction`. 404 for an unknown correction request, "
    "409 for one already closed.",
)
def complete_correction(
    request_id: RequestIdPath, body: CorrectionComplete, vault: VaultDep, _caller: SubjectsWrite
) -> CorrectionResultOut:
    return CorrectionResultOut.of(vault.rights.complete_correction(str(request_id), body.fields))


@router.post(
    "/corrections/{request_id}/reject",
    summary="Reject a correction",
    description="Closes the correction request as rejected with a reason code (the body may be left out: "
    "`rejected`) and lifts its restriction once no other correction of the subject is pending. Audited as "
    "`rights.request_close`. 404 for an unknown correction request, 409 for one already closed.",
)
def reject_correction(
    request_id: RequestIdPath,
    vault: VaultDep,
    _caller: SubjectsWrite,
    body: Annotated[CorrectionReject | None, Body()] = None,
) -> RightsRequestOut:
    reason_code = body.reason_code if body is not None else "rejected"
    return RightsRequestOut.of(vault.rights.reject_correction(str(request_id), reason_code=reason_code))


# --- restriction of processing ----------------------------------------------------------------


@router.post(
    "/restrictions",
    status_code=status.HTTP_201_CREATED,
    summary="Restrict processing",
    description="Restricts the processing of the subject's data at its request, until lifted: the records "
    "linked to it stop matching in checks. The request is recorded and completed at once (outcome "
    "`restricted`). Audited as `rights.request_open` and `rights.request_close`. 404 for an unknown subject.",
)
def restrict_processing(body: SubjectRequestCreate, vault: VaultDep, _caller: SubjectsWrite) -> RightsRequestOut:
    view = vault.rights.restrict_processing(str(body.subject_id), reference=body.reference, received_at=body.received_at)
    return RightsRequestOut.of(view)


@router.delete(
    "/restrictions/{subject_id}",
    summary="Lift a restriction of processing",
    description="Lifts the restriction placed at the subject's request (`lifted: false` when there was none; "
    "a pending correction's restriction stays until the correction is closed). Audited as "
    "`rights.restriction_lift`. 404 for a subject that does not exist or was shredded.",
)
def lift_restriction(subject_id: SubjectIdPath, vault: VaultDep, _caller: SubjectsWrite) -> RestrictionLifted:
    sid = str(subject_id)
    _subject_or_404(vault, sid)
    return RestrictionLifted(subject_id=sid, lifted=vault.rights.lift_restriction(sid))


# --- provisions -------------------------------------------------------------------------------


@router.post(
    "/provisions",
    status_code=status.HTTP_201_CREATED,
    summary="Log a provision to a third party",
    description="Records that items of the subject's data (field names or category codes, `*` for all) "
    "were provided to a recipient, with the purpose, legal basis and retention: what a completed "
    "correction's `notify` and an access export are built from. The texts are about the provision, "
    "never personal data. Audited as `rights.provision` (item count). 404 for an unknown subject.",
)
def record_provision(body: ProvisionCreate, vault: VaultDep, _caller: SubjectsWrite) -> ProvisionOut:
    view = vault.rights.record_provision(
        str(body.subject_id),
        recipient=body.recipient,
        items=body.items,
        purpose=body.purpose,
        legal_basis=body.legal_basis,
        retention=body.retention,
        provided_at=body.provided_at,
    )
    return ProvisionOut.of(view)


@router.get(
    "/provisions/{subject_id}",
    summary="List a subject's provisions",
    description="The provisions of the subject's data to third parties, oldest first. 404 for a subject "
    "that does not exist or was shredded (erasure deletes its provisions log).",
)
def list_provisions(subject_id: SubjectIdPath, vault: VaultDep, _caller: SubjectsWrite) -> ProvisionList:
    sid = str(subject_id)
    _subject_or_404(vault, sid)
    return ProvisionList(items=[ProvisionOut.of(p) for p in vault.rights.provisions(sid)])


# --- requests and deadlines -------------------------------------------------------------------


@router.post(
    "/requests",
    status_code=status.HTTP_201_CREATED,
    summary="Track a data subject's request",
    description=f"Records a request (access, correction, restriction or erasure) received at `received_at` "
    f"(default now), due {DEADLINE_DAYS} days later. An access export, a completed correction or an "
    "erasure completes the subject's open request of its kind; others are closed with "
    "`/requests/{request_id}/complete`. Audited as `rights.request_open`. 404 for an unknown subject.",
)
def open_request(body: RightsRequestCreate, vault: VaultDep, _caller: Admin) -> RightsRequestOut:
    view = vault.rights.open_request(
        str(body.subject_id), body.kind, reference=body.reference, received_at=body.received_at
    )
    return RightsRequestOut.of(view)


@router.get(
    "/requests",
    summary="List requests by deadline",
    description="Requests by deadline, the earliest first: all of them, the open ones (`open=true`), or the "
    f"open ones past their {DEADLINE_DAYS}-day deadline (`overdue=true`); optionally one subject's.",
)
def list_requests(
    vault: VaultDep,
    _caller: Admin,
    overdue: Annotated[bool, Query(description="Only open requests past their deadline.")] = False,
    open_only: Annotated[bool, Query(alias="open", description="Only open requests.")] = False,
    subject_id: Annotated[UUID | None, Query(description="Only this subject's requests.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_REQUESTS_LISTED)] = 100,
) -> RightsRequestList:
    views = vault.rights.requests(
        overdue=overdue, open_only=open_only, subject_id=str(subject_id) if subject_id else None, limit=limit
    )
    return RightsRequestList(items=[RightsRequestOut.of(v) for v in views])


@router.post(
    "/requests/{request_id}/complete",
    summary="Close a request",
    description="Closes an open request as completed (or rejected, with `rejected: true`) with an outcome "
    "code; the body may be left out (`completed`). Audited as `rights.request_close`, which records whether "
    "it was late. 404 for an unknown request, 409 for one already closed.",
)
def complete_request(
    request_id: RequestIdPath,
    vault: VaultDep,
    _caller: Admin,
    body: Annotated[RequestComplete | None, Body()] = None,
) -> RightsRequestOut:
    body = body if body is not None else RequestComplete()
    view = vault.rights.complete_request(str(request_id), outcome=body.outcome, rejected=body.rejected)
    return RightsRequestOut.of(view)
