"""Separate (restricted) storage: data kept under another law after it may no longer be used.

When a subject withdraws, asks for erasure, or a category's period ends with the ``restrict``
action, the fields a law still requires move out of the subject into a *separated item*,
encrypted under a key of its own (vault.retention.separate). A separated item is not a subject:
no subject listing, reveal, check or export shows it. A *record* moved to separate storage stays
a record with a ``separate_storage`` restriction: it no longer matches in checks, is left out of
listings, and ``/v1/records/{id}/reveal`` refuses it (409).

Every route here needs the ``restricted:read`` scope, which grants nothing else (``admin`` and
``subjects:reveal`` do not reach it). Listing gives ids, categories, field names and dates, never
values. Reading values (an item's fields, a separated record's text) requires a ``purpose``: the
legal request it answers, recorded in the audit log as given (``separated.read``,
``separated.read_record``, with the API key as the actor), never the values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import ConfigDict, Field

from pseudovault.api.auth import ApiRoute, RestrictedRead
from pseudovault.api.deps import VaultDep
from pseudovault.api.routers.subjects import Purpose
from pseudovault.api.schemas import RequestModel, ResponseModel

__all__ = ["router", "MAX_LIST_LIMIT"]

router = APIRouter(prefix="/v1/separated", route_class=ApiRoute, tags=["separated"])

#: the most items one listing returns (vault.retention.separate.SeparateStorage.list)
MAX_LIST_LIMIT = 1000

ItemIdPath = Annotated[
    UUID, Path(description="The separated item's id (a UUID).", examples=["3d9e6b1a-7c2f-4e58-b0a4-9f1d2c3e4a5b"])
]
RecordIdPath = Annotated[
    UUID, Path(description="The record's id (a UUID).", examples=["6f1c2a9e-3b7d-4e8a-9c41-5d2f0b8e7a13"])
]

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


@router.get(
    "",
    summary="List separated items",
    description="Items in separate storage, oldest first: ids, the subject they came from, category, "
    "field names and dates, never values. `subject_id` narrows the list to one subject's items (an "
    "unknown subject has none). Records in separate storage are not listed here.",
)
def list_separated(
    vault: VaultDep,
    _caller: RestrictedRead,
    subject_id: Annotated[UUID | None, Query(description="Only the items that came from this subject.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT, description="At most this many items.")] = 100,
) -> SeparatedList:
    views = vault.separate.list(str(subject_id) if subject_id else None, limit=limit)
    return SeparatedList(items=[SeparatedItemOut.pick(v.as_dict()) for v in views])


@router.post(
    "/{item_id}/read",
    summary="Read a separated item",
    description="Decrypts the item's fields for a legal request. `purpose` (the request) is required "
    "and audited as `separated.read` with the field count, never the values; an unknown item is "
    "audited too (`not_found`) and answers 404.",
)
def read_separated(
    item_id: ItemIdPath, body: SeparatedReadRequest, vault: VaultDep, _caller: RestrictedRead
) -> SeparatedValues:
    return SeparatedValues.pick(vault.separate.read(str(item_id), purpose=body.purpose))


@router.post(
    "/records/{record_id}/read",
    summary="Read a separated record's text",
    description="Decrypts the reason, evidence and notes of a record in separate storage, for a legal "
    "request. `purpose` is required and audited as `separated.read_record`. 404 for an unknown "
    "record; 409 for a record that is not in separate storage (reveal it with "
    "`POST /v1/records/{record_id}/reveal`).",
)
def read_separated_record(
    record_id: RecordIdPath, body: SeparatedReadRequest, vault: VaultDep, _caller: RestrictedRead
) -> SeparatedRecordText:
    return SeparatedRecordText.pick(vault.separate.read_record(str(record_id), purpose=body.purpose))
