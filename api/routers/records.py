"""Fraud records: create, read, find by identifier, list, review, revoke and reveal.

A record answer carries codes, timestamps, identifier kinds and counts: never an identifier, a
pseudonym or the record's text. The text (reason, evidence, notes, encrypted) is returned only by
``POST /v1/records/{id}/reveal``, which needs ``subjects:reveal`` and a purpose, and is audited
with the API key as the actor.

Finding a record by identifier is a ``POST`` with the identifier in the body: a URL (path or query
string) ends up in access logs, proxies and browser histories, so no route takes an identifier in
one; ``find`` refuses any query parameter (422) like every route refuses ones it does not take.

Listing is cursor-paginated in creation order. The cursor is opaque (base64url over the last
record's id and the filters it was made for): a cursor used with other filters is refused (422),
so a page walk never silently changes what it walks. ``next`` is the URL of the next page, null
on the last one.

``PATCH`` changes severity, expiry and notes (one audited update) and/or moves the status between
``active`` and ``under_review`` (audited as a status change, with a reason code); a revoked or
expired record cannot change (409). Revoking is final and idempotent.

``POST /v1/records/{id}/events`` records a retention trigger event of the record (e.g.
``fraud_confirmed``) and answers its retention items (the body and answer models are those of the
subject events, api.routers.subjects).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Literal
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Path, Query, status

from pseudovault.api.auth import ApiRoute, RecordsRead, RecordsWrite, SubjectsReveal
from pseudovault.api.deps import VaultDep
from pseudovault.api.errors import ApiProblem, invalid_field
from pseudovault.api.schemas.checks import DOMAIN_PATTERN
from pseudovault.api.schemas.common import IdempotencyKeyHeader, idempotency_claim
from pseudovault.api.schemas.identifiers import invalid_identifier, pairs
from pseudovault.api.schemas.records import (
    CODE_PATTERN,
    FindRequest,
    RecordCreate,
    RecordList,
    RecordOut,
    RecordPageOut,
    RecordRevealRequest,
    RecordTextOut,
    RecordUpdate,
    RevokeRequest,
)
from pseudovault.api.schemas.subjects import EventPreviewOut, EventPreviewRequest, EventRequest, RetentionItems
from pseudovault.vault.apikeys import Scope
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.identifiers import InvalidIdentifierError
from pseudovault.vault.records.views import MAX_LIST_LIMIT, RecordView

__all__ = ["decode_cursor", "encode_cursor", "router"]


router = APIRouter(prefix="/v1/records", route_class=ApiRoute, tags=["records"])


RecordIdPath = Annotated[
    UUID, Path(description="The record's id (a UUID).", examples=["6f1c2a9e-3b7d-4e8a-9c41-5d2f0b8e7a13"])
]


_CURSOR_VERSION = 1


def _out(view: RecordView) -> RecordOut:
    return RecordOut.of(view)


def encode_cursor(after: str, filters: dict[str, str | None]) -> str:
    raw = json.dumps({"v": _CURSOR_VERSION, "after": after, "f": filters}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode("ascii")).rstrip(b"=").decode("ascii")


def _bad_cursor(detail: str) -> ApiProblem:
    return invalid_field("#/cursor", detail, "invalid_cursor", location="query")


def decode_cursor(cursor: str, filters: dict[str, str | None]) -> str:
    """The record id a cursor continues after; 422 for a malformed cursor or other filters."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise _bad_cursor("not a cursor this API made") from None
    if not isinstance(data, dict) or data.get("v") != _CURSOR_VERSION or not isinstance(data.get("after"), str):
        raise _bad_cursor("not a cursor this API made")
    if data.get("f") != filters:
        raise _bad_cursor("the cursor was made for other filters")
    return str(data["after"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a record",
    description="A fraud record (a ban) for the identifiers, stored as keyed pseudonyms; the text fields "
    "are encrypted under the linked subject's key or the record's own. `expires_at` defaults to the "
    "category's retention period (none for a ban that runs from the member's withdrawal). Audited as `record.create` (codes and counts). An invalid identifier "
    "is a 422 naming its position and kind, never its value; a duplicate `external_ref` is 409. With an "
    "`Idempotency-Key`, the same request sent again answers with the same record and creates nothing new.",
)
def create_record(
    body: RecordCreate, vault: VaultDep, caller: RecordsWrite, idempotency_key: IdempotencyKeyHeader = None
) -> RecordOut:
    claim = idempotency_claim(caller.key_id, idempotency_key, "record.create", body)
    try:
        record_id = vault.records.create(
            pairs(body.identifiers),
            category=body.category,
            reason_code=body.reason_code,
            reason=body.reason,
            severity=body.severity,
            source=body.source,
            expires_at=body.expires_at,
            subject_id=str(body.subject_id) if body.subject_id else None,
            evidence=body.evidence,
            notes=body.notes,
            domain=body.domain,
            external_ref=body.external_ref,
            idempotency=claim,
        )
    except InvalidIdentifierError as error:
        raise invalid_identifier(error) from None
    return _out(vault.records.get(record_id))


@router.post(
    "/find",
    summary="Find records by identifier",
    description="Every record (any status) holding the identifier, under any enabled lookup-key version. "
    "The identifier travels in the body, never in the URL. Audited as `record.find` with the kind "
    "and the number of records found.",
)
def find_records(body: FindRequest, vault: VaultDep, _caller: RecordsRead) -> RecordList:
    try:
        views = vault.records.find(body.identifier.kind, body.identifier.value, domain=body.domain)
    except InvalidIdentifierError as error:
        raise invalid_identifier(error, "#/identifier") from None
    return RecordList(items=[_out(v) for v in views])


@router.get(
    "",
    summary="List records",
    description="Records in creation order, optionally filtered by effective status, category and domain. "
    "Cursor pagination: follow `next` (or pass `next_cursor` as `cursor` with the same filters).",
)
def list_records(
    vault: VaultDep,
    _caller: RecordsRead,
    status: Annotated[Literal["active", "under_review", "revoked", "expired"] | None, Query(description="Effective status.")] = None,
    category: Annotated[str | None, Query(pattern=CODE_PATTERN, description="A category code.")] = None,
    domain: Annotated[str | None, Query(pattern=DOMAIN_PATTERN, description="A pseudonymisation domain.")] = None,
    cursor: Annotated[str | None, Query(max_length=512, description="From `next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = 100,
) -> RecordPageOut:
    filters = {"status": status, "category": category, "domain": domain}
    after = decode_cursor(cursor, filters) if cursor is not None else None
    try:
        page = vault.records.list(status=status, category=category, domain=domain, after=after, limit=limit)
    except InvalidInputError as error:
        if error.field == "after":
            raise _bad_cursor("the cursor names no record") from None
        raise
    next_cursor = encode_cursor(page.next_after, filters) if page.next_after else None
    next_url = None
    if next_cursor is not None:
        query = {name: value for name, value in filters.items() if value is not None}
        query.update(limit=str(limit), cursor=next_cursor)
        next_url = f"{router.prefix}?{urlencode(query)}"
    return RecordPageOut(items=[_out(v) for v in page.items], next_cursor=next_cursor, next=next_url)


@router.get(
    "/{record_id}",
    summary="Get a record",
    description="The record's codes, status, timestamps and identifier kinds; no text, no identifiers.",
)
def get_record(record_id: RecordIdPath, vault: VaultDep, _caller: RecordsRead) -> RecordOut:
    return _out(vault.records.get(str(record_id)))


@router.patch(
    "/{record_id}",
    summary="Update a record",
    description="Changes severity, expiry (within the category's period) or notes (audited as "
    "`record.update`), and/or moves the status between `active` and `under_review` with a reason "
    "code (audited as `record.set_status`). A revoked or expired record cannot change (409).",
)
def update_record(record_id: RecordIdPath, body: RecordUpdate, vault: VaultDep, _caller: RecordsWrite) -> RecordOut:
    rid = str(record_id)
    changes = body.severity is not None or body.expires_at is not None or body.notes is not None
    if body.status is None and not changes:
        raise InvalidInputError("update", "nothing to change")
    if (body.status is None) != (body.status_reason_code is None):
        raise InvalidInputError("status_reason_code", "give status and status_reason_code together")
    view = None
    if changes:
        view = vault.records.update(rid, severity=body.severity, expires_at=body.expires_at, notes=body.notes)
    if body.status is not None:
        assert body.status_reason_code is not None
        view = vault.records.set_status(rid, body.status, reason_code=body.status_reason_code)
    assert view is not None
    return _out(view)


@router.post(
    "/{record_id}/revoke",
    summary="Revoke a record",
    description="The record never matches again; revocation is final. Revoking again is harmless. "
    "Audited as `record.revoke` with the reason code.",
)
def revoke_record(record_id: RecordIdPath, body: RevokeRequest, vault: VaultDep, _caller: RecordsWrite) -> RecordOut:
    return _out(vault.records.revoke(str(record_id), reason_code=body.reason_code))


@router.post(
    "/{record_id}/reveal",
    summary="Reveal a record's text",
    description="Decrypts the record's reason, evidence and notes. A purpose is required and audited "
    "(`record.reveal`, with the API key as the actor and the field count), never the text. A record "
    "whose subject was shredded has no text any more: `available: false`. While its subject's "
    "processing is restricted it is 409 `restricted`, unless the key also holds `restricted:read` "
    "(a legal-request read, audited with the restriction).",
)
def reveal_record(
    record_id: RecordIdPath, body: RecordRevealRequest, vault: VaultDep, caller: SubjectsReveal
) -> RecordTextOut:
    restricted = "legal_request" if Scope.RESTRICTED_READ in caller.scopes else "refuse"
    text = vault.records.reveal(str(record_id), purpose=body.purpose, restricted=restricted)
    return RecordTextOut.of(text)


@router.post(
    "/{record_id}/events",
    summary="Record a retention event of a record",
    description="Records that a trigger event happened to the record (at `at`, default now; e.g. "
    "`fraud_confirmed`) and recomputes its due date: a record's period runs from its own event if "
    "recorded, else its linked subject's, else its creation, and never past its `expires_at`. "
    "Answers the record's retention items. Audited as `retention.event`. An event that makes the "
    "record due for deletion at once (a backdated one) is a 409 `event_destroys_data`, and nothing is "
    "recorded, unless `confirm` is true (preview it with `POST /v1/records/{record_id}/events/preview`). "
    "404 for a record that does not exist; a future `at` is a 422.",
)
def record_record_event(
    record_id: RecordIdPath, body: EventRequest, vault: VaultDep, _caller: RecordsWrite
) -> RetentionItems:
    return RetentionItems.of_views(
        vault.retention.record_event("record", str(record_id), body.event, at=body.at, confirm=body.confirm)
    )


@router.post(
    "/{record_id}/events/preview",
    summary="Preview a retention event of a record",
    description="What recording the event would do, changing nothing: the record's retention items as "
    "they would be, and whether it would make the record due at once (`destroys`: recording it needs "
    "`confirm`). Not audited. 404 for a record that does not exist; a future `at` is a 422.",
)
def preview_record_event(
    record_id: RecordIdPath, body: EventPreviewRequest, vault: VaultDep, _caller: RecordsWrite
) -> EventPreviewOut:
    return EventPreviewOut.of(vault.retention.preview_event("record", str(record_id), body.event, at=body.at))
