"""Request and response bodies of the rights endpoints (:mod:`api.routers.rights`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints

from pseudovault.api.schemas.common import BodyUuid, PastTimestamp, ReasonCode, Reference, RequestModel, ResponseModel
from pseudovault.api.schemas.records import RecordOut
from pseudovault.api.schemas.subjects import FieldName, FieldValue, Purpose
from pseudovault.vault.retention.rights import DEADLINE_DAYS
from pseudovault.vault.subjects.service import MAX_FIELDS

__all__ = ["MAX_PROVISION_ITEMS", "Item", "RequestKind", "RequestState", "Recipient", "ProvisionText", "RetentionText", "AccessExportRequest", "SubjectRequestCreate", "RightsRequestCreate", "CorrectionComplete", "CorrectionReject", "ProvisionCreate", "RequestComplete", "RightsRequestOut", "RightsRequestList", "ProvisionOut", "ProvisionList", "NotificationOut", "NotificationList", "NotificationClose", "ConsentCreate", "ConsentWithdraw", "ConsentOut", "ConsentList", "Requester", "NotifyOut", "CorrectionResultOut", "RestrictionLifted", "ExportCategory", "ExportedRecordText", "ExportedRecord", "ExportSeparated", "AccessExport"]


MAX_PROVISION_ITEMS = 1000


_SUBJECT_ID = "0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10"


_REQUEST_ID = "3d9e7a41-6c2b-4f8e-a1d5-7b0c9e2f4a86"


_PROVISION_ID = "8a4f1c3e-2d7b-4e9a-b6c0-5f1e3d2a7c94"


_RECORD_ID = "6f1c2a9e-3b7d-4e8a-9c41-5d2f0b8e7a13"


Item = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z][a-z0-9_]{0,63})$")]


RequestKind = Literal["access", "correction", "restriction", "erasure", "consent_withdrawal"]


Requester = Literal["self", "guardian", "agent"]


TextVersion = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")]


RequestState = Literal["open", "completed", "rejected"]


Recipient = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S")]


ProvisionText = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"\S")]


RetentionText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S")]


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
        description=f"When the request came in (not in the future); the deadline is the end of the {DEADLINE_DAYS}th "
        "day after it. Now when absent.",
        examples=["2026-01-14T09:30:00Z"],
    )
    requester: Requester = Field(
        "self",
        description="Who made it: the subject (`self`), a legal guardian (`guardian`: a child under 14, PIPA "
        "Art. 22-2) or an agent it appointed (`agent`, Art. 38(1)).",
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
    requester: Requester = Field(description="Who made it: the subject, a guardian or an agent.")

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

class ProvisionList(ResponseModel):
    items: list[ProvisionOut] = Field(description="Oldest first.")


class NotificationOut(ResponseModel):
    """The task of telling a recipient of a subject's data of its correction or erasure."""

    notification_id: str
    subject_id: str = Field(examples=[_SUBJECT_ID])
    recipient: str = Field(examples=["Acme Payments Ltd."])
    items: list[str] = Field(description="What of the data it concerns (field names or category codes).")
    cause: Literal["correction", "erasure"]
    request_id: str | None = Field(description="The correction or erasure request it follows from.")
    state: Literal["pending", "notified", "failed"]
    created_at: datetime
    closed_at: datetime | None = Field(description="When it was notified (or failed).")
    means: str | None = Field(description="How the recipient was told, as a code.", examples=["email"])


class NotificationList(ResponseModel):
    items: list[NotificationOut] = Field(description="Oldest first.")


class NotificationClose(RequestModel):
    state: Literal["notified", "failed"] = Field("notified", description="Told, or the attempt failed.")
    means: ReasonCode | None = Field(None, description="How it was told (required when notified).", examples=["email"])
    at: PastTimestamp | None = Field(None, description="When; now when absent.")


class ConsentCreate(RequestModel):
    subject_id: BodyUuid = Field(examples=[_SUBJECT_ID])
    purpose: ReasonCode = Field(description="What the consent is to, as a code.", examples=["keep_after_withdrawal"])
    text_version: TextVersion = Field(description="The version of the consent text shown (never the text).",
                                      examples=["privacy-2026-03"])
    granted_at: PastTimestamp | None = Field(None, description="When it was given; now when absent.")


class ConsentWithdraw(RequestModel):
    subject_id: BodyUuid = Field(examples=[_SUBJECT_ID])
    purpose: ReasonCode = Field(examples=["keep_after_withdrawal"])
    request_id: BodyUuid | None = Field(
        None, description="The consent-withdrawal request this answers; absent: every open one of the subject."
    )
    withdrawn_at: PastTimestamp | None = Field(None, description="When it was withdrawn; now when absent.")


class ConsentOut(ResponseModel):
    consent_id: str
    subject_id: str = Field(examples=[_SUBJECT_ID])
    purpose: str = Field(examples=["keep_after_withdrawal"])
    text_version: str = Field(examples=["privacy-2026-03"])
    granted_at: datetime
    withdrawn_at: datetime | None
    active: bool = Field(description="Given and not withdrawn.")


class ConsentList(ResponseModel):
    items: list[ConsentOut] = Field(description="Oldest first, withdrawn ones included.")


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
    "consents": [
        {
            "consent_id": "2c5e8b1a-7d3f-4a9c-b2e6-1f0d9c8b7a65",
            "subject_id": _SUBJECT_ID,
            "purpose": "keep_after_withdrawal",
            "text_version": "privacy-2026-03",
            "granted_at": "2026-01-02T08:00:00+00:00",
            "withdrawn_at": None,
            "active": True,
        }
    ],
    "requests": [
        {
            "request_id": _REQUEST_ID,
            "subject_id": _SUBJECT_ID,
            "kind": "access",
            "state": "open",
            "received_at": "2026-01-14T09:30:00+00:00",
            "due_at": "2026-01-24T15:00:00+00:00",
            "completed_at": None,
            "outcome": None,
            "reference": "REQ-2026-031",
            "overdue": False,
            "requester": "self",
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
    consents: list[ConsentOut] = Field(description="Its consents, in force and withdrawn.")
    requests: list[RightsRequestOut] = Field(description="Its requests, this one's access request included.")
