"""Request and response bodies of the records endpoints (:mod:`api.routers.records`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, Strict, StringConstraints

from pseudovault.api.schemas.checks import DOMAIN_PATTERN
from pseudovault.api.schemas.common import BodyDatetime, RequestModel, ResponseModel
from pseudovault.api.schemas.identifiers import Identifier
from pseudovault.vault.crypto.lookup import DEFAULT_DOMAIN
from pseudovault.vault.records.views import MAX_IDENTIFIERS, MAX_TEXT_BYTES
from pseudovault.vault.store.base import AUDIT_PURPOSE_LENGTH

__all__ = ["CODE_PATTERN", "Code", "Domain", "Text", "Purpose", "Severity", "RecordCreate", "FindRequest", "RecordUpdate", "RevokeRequest", "RecordRevealRequest", "RecordOut", "RecordList", "RecordPageOut", "RecordTextOut"]


CODE_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"


Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]


Domain = Annotated[str, StringConstraints(pattern=DOMAIN_PATTERN)]


Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_BYTES, pattern=r"\S")]


Purpose = Annotated[str, StringConstraints(min_length=1, max_length=AUDIT_PURPOSE_LENGTH, pattern=r"\S")]


Severity = Literal["low", "medium", "high", "critical"]


_EXAMPLE_ID = "6f1c2a9e-3b7d-4e8a-9c41-5d2f0b8e7a13"


_RECORD_EXAMPLE: dict[str, Any] = {
    "record_id": _EXAMPLE_ID,
    "domain": "default",
    "category": "fraudulent_transaction",
    "reason_code": "chargeback",
    "severity": "high",
    "status": "active",
    "status_reason_code": None,
    "source": "api",
    "external_ref": "case-4411",
    "subject_id": None,
    "created_at": "2026-01-31T09:12:44.120331Z",
    "updated_at": "2026-01-31T09:12:44.120331Z",
    "expires_at": "2029-01-31T09:12:44.120331Z",
    "review_at": None,
    "text_fields": ["reason"],
    "identifier_kinds": {"email": 1, "phone": 1},
    "identifiers": 2,
    "lookup_versions": [1],
}


class RecordCreate(RequestModel):
    identifiers: list[Identifier] = Field(
        min_length=1,
        max_length=MAX_IDENTIFIERS,
        description="The banned person's identifiers; stored as keyed pseudonyms only.",
        examples=[[{"kind": "email", "value": "user@example.com"}, {"kind": "phone", "value": "010-1234-5678"}]],
    )
    category: str = Field(
        description="A retention category records may use: of the presets unauthorized_registration, "
        "fraudulent_transaction, bad_usage_rejoin or rejoin_restriction; an operator's policy file may add "
        "its own (for_records = true).",
        examples=["fraudulent_transaction"],
    )
    reason_code: Code = Field(examples=["chargeback"])
    reason: Text | None = Field(None, description="Free text, encrypted.", examples=["chargeback ring, case 4411"])
    severity: Severity = Field("high", examples=["high"])
    source: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.:-]{0,63}$")] = Field(
        "api", description="Where the record comes from.", examples=["api"]
    )
    expires_at: BodyDatetime | None = Field(
        None,
        description="When the ban ends; at most the category's retention period (its default). A category whose period runs from a later event (a withdrawal) has no default and no cap: the period runs from the event once it is recorded.",
        examples=["2027-01-31T00:00:00Z"],
    )
    subject_id: Annotated[UUID, Strict(False)] | None = Field(None, description="Link to an existing subject (its key encrypts the text).")
    evidence: Text | None = Field(None, description="Free text, encrypted.", examples=["order 991 disputed"])
    notes: Text | None = Field(None, description="Free text, encrypted.", examples=["see ticket 4411"])
    domain: Domain = Field(DEFAULT_DOMAIN, description="The pseudonymisation domain.", examples=[DEFAULT_DOMAIN])
    external_ref: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/#+-]{0,127}$")] | None = Field(
        None, description="A unique id of your own (never personal data); a duplicate is 409.", examples=["case-4411"]
    )


class FindRequest(RequestModel):
    identifier: Identifier = Field(examples=[{"kind": "email", "value": "user@example.com"}])
    domain: Domain = Field(DEFAULT_DOMAIN, examples=[DEFAULT_DOMAIN])


class RecordUpdate(RequestModel):
    severity: Severity | None = Field(None, examples=["critical"])
    expires_at: BodyDatetime | None = Field(
        None, description="A new expiry, in the future and within the category's period.", examples=["2027-06-30T00:00:00Z"]
    )
    notes: Text | None = Field(None, description="Replaces the notes (encrypted).", examples=["appeal rejected"])
    status: Literal["active", "under_review"] | None = Field(
        None, description="Move the record between active and under review (revoke with /revoke).", examples=["under_review"]
    )
    status_reason_code: Code | None = Field(
        None, description="Why the status changes; required with `status`.", examples=["appeal"]
    )


class RevokeRequest(RequestModel):
    reason_code: Code = Field(description="Why the record is revoked.", examples=["false_positive"])


class RecordRevealRequest(RequestModel):
    purpose: Purpose = Field(
        description="Why the text is revealed. Recorded in the audit log as given: state a case or "
        "ticket, never personal data.",
        examples=["appeal review, case 4411"],
    )


class RecordOut(ResponseModel):
    """A record without its text and without its identifiers."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_RECORD_EXAMPLE]})

    record_id: str
    domain: str
    category: str
    reason_code: str
    severity: Severity
    status: Literal["active", "under_review", "revoked", "expired"] = Field(
        description="The effective status: a live record past `expires_at` is `expired`."
    )
    status_reason_code: str | None
    source: str
    external_ref: str | None
    subject_id: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    review_at: datetime | None
    text_fields: list[str] = Field(description="Which text fields the record has (reveal them with /reveal).")
    identifier_kinds: dict[str, int] = Field(description="Identifier kind -> how many the record has.")
    identifiers: int
    lookup_versions: list[int]


class RecordList(ResponseModel):
    items: list[RecordOut]


class RecordPageOut(ResponseModel):
    items: list[RecordOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    next: str | None = Field(
        description="The URL (path and query) of the next page; null on the last page.",
        examples=["/v1/records?limit=100&cursor=eyJ2IjoxfQ"],
    )


class RecordTextOut(ResponseModel):
    record_id: str = Field(examples=[_EXAMPLE_ID])
    reason: str | None = Field(examples=["chargeback ring, case 4411"])
    evidence: str | None = Field(examples=[None])
    notes: str | None = Field(examples=[None])
    available: bool = Field(
        description="False when the record has no text (never had any, or it was shredded with its subject)."
    )
