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

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query

from pseudovault.api.auth import ApiRoute, RestrictedRead
from pseudovault.api.deps import VaultDep
from pseudovault.api.schemas.separated import (
    SeparatedItemOut,
    SeparatedList,
    SeparatedReadRequest,
    SeparatedRecordText,
    SeparatedValues,
)

__all__ = ["MAX_LIST_LIMIT", "router"]


router = APIRouter(prefix="/v1/separated", route_class=ApiRoute, tags=["separated"])


#: the most items one listing returns (vault.retention.separate.SeparateStorage.list)
MAX_LIST_LIMIT = 1000


ItemIdPath = Annotated[
    UUID, Path(description="The separated item's id (a UUID).", examples=["3d9e6b1a-7c2f-4e58-b0a4-9f1d2c3e4a5b"])
]


RecordIdPath = Annotated[
    UUID, Path(description="The record's id (a UUID).", examples=["6f1c2a9e-3b7d-4e8a-9c41-5d2f0b8e7a13"])
]


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
    return SeparatedList(items=[SeparatedItemOut.of(v) for v in views])


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
