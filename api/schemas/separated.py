"""Request and response bodies of the separated endpoints (:mod:`api.routers.separated`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from pseudovault.api.schemas.common import RequestModel, ResponseModel
from pseudovault.api.schemas.subjects import Purpose

__all__ = ["SeparatedReadRequest", "SeparatedItemOut", "SeparatedList", "SeparatedValues", "SeparatedRecordText"]


_ITEM_ID = "3d9e6b1a-7c2f-4e58-b0a4-9f1d2c3e4a5b"


_SUBJECT_ID = "0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10"


_RECORD_ID = "6f1c2a9e-3b7d-4e8a-9c41-5d2f0b8e7a13"


_ITEM_EXAMPLE: dict[str, Any] = {
    "item_id": _ITEM_ID,
    "origin_id": _SUBJECT_ID,
    "category": "payment_supply",
    "reason_code": "withdrawal",
    "created_at": "2026-01-15T10:00:00Z",
    "fields": ["amount", "order_ref"],
    "due_at": "2031-01-16T00:00:00Z",
}


class SeparatedReadRequest(RequestModel):
    purpose: Purpose = Field(
        description="The legal request this read answers (a court order, a tax office request, with "
        "its reference). Recorded in the audit log as given: never personal data.",
        examples=["Tax office request 2026-17"],
    )


class SeparatedItemOut(ResponseModel):
    """A separated item without its values."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_ITEM_EXAMPLE]})

    item_id: str
    origin_id: str = Field(description="The subject the data came from (it may since have been shredded).")
    category: str = Field(description="The data category it is kept under.")
    reason_code: str = Field(description="Why it moved: withdrawal, erasure or retention.")
    created_at: datetime = Field(description="When it moved to separate storage.")
    fields: list[str] = Field(description="Field names only; values are read with /read.")
    due_at: datetime | None = Field(description="When it is destroyed (null: no date while a policy is disabled).")


class SeparatedList(ResponseModel):
    items: list[SeparatedItemOut]


class SeparatedValues(SeparatedItemOut):
    """A separated item with its decrypted values."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{**_ITEM_EXAMPLE, "values": {"amount": "129000", "order_ref": "ord-77"}}]},
    )

    values: dict[str, str] = Field(description="Field name -> decrypted value.")


class SeparatedRecordText(ResponseModel):
    record_id: str = Field(examples=[_RECORD_ID])
    category: str = Field(examples=["bad_usage_rejoin"])
    reason: str | None = Field(examples=["abusive chat, case 4411"])
    evidence: str | None = Field(examples=[None])
    notes: str | None = Field(examples=[None])
    available: bool = Field(
        description="False when the record has no text (never had any, or it was shredded with its subject)."
    )
