"""Subjects: a person's recoverable PII, encrypted field by field under the subject's own key.

A subject that was shredded answers exactly like one that never existed (404) to every read and
update. Shredding is the one exception, on purpose, as in the vault: shredding a shredded subject
again succeeds (``already: true``), so a retried erasure request is harmless.

Retention metadata (vault.retention.service): a subject's fields carry data categories, given at
creation (``categories`` in the body) or later (``POST /{id}/categories``), each a category code
or alias mapped to null (every field) or to field names. Trigger events (``POST /{id}/events``:
withdrawal, payment, ...) start the periods that run from them; a withdrawal moves the categories
kept under another law to separate storage at once (api.routers.separated). Both answer the
subject's retention items: what is due when, to undergo which action. The models of events and
items are shared with the record events of api.routers.records.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, status

from pseudovault.api.auth import ApiRoute, Erasure, SubjectsReveal, SubjectsWrite
from pseudovault.api.deps import MetricsDep, VaultDep
from pseudovault.api.schemas.common import IdempotencyKeyHeader, idempotency_claim
from pseudovault.api.schemas.subjects import (
    CategorizeRequest,
    EventPreviewOut,
    EventPreviewRequest,
    EventRequest,
    FieldVerifyRequest,
    FieldVerifyResult,
    RetentionItems,
    RevealedFields,
    RevealRequest,
    ShredReceipt,
    SubjectCategories,
    SubjectCreate,
    SubjectCreated,
    SubjectPage,
    SubjectSummary,
    SubjectUpdate,
    SubjectUpdated,
)
from pseudovault.vault.apikeys import Scope
from pseudovault.vault.errors import NotFoundError
from pseudovault.vault.subjects.service import MAX_LIST_LIMIT

__all__ = ["router"]


router = APIRouter(prefix="/v1/subjects", route_class=ApiRoute, tags=["subjects"])


SubjectIdPath = Annotated[
    UUID,
    Path(
        description="The subject's id (a UUID).",
        examples=["0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10"],
    ),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a subject",
    description="Stores a person's PII, each field encrypted (AES-256-GCM) under a new data key of "
    "the subject's own. Audited as `subject.create` (field count only). With `categories`, the "
    "fields get their data categories too (audited as `retention.categorize`); an unknown category "
    "is a 422 naming `categories` and creates nothing. With an `Idempotency-Key`, sending the same "
    "request again (an answer lost on the way) answers with the same subject and creates nothing; the "
    "same key with another request is a 422. Keys are remembered for a day, per API key.",
)
def create_subject(
    body: SubjectCreate,
    vault: VaultDep,
    caller: SubjectsWrite,
    idempotency_key: IdempotencyKeyHeader = None,
) -> SubjectCreated:
    claim = idempotency_claim(caller.key_id, idempotency_key, "subject.create", body)
    if claim is not None:
        if body.categories is not None:
            return SubjectCreated(subject_id=vault.retention.create_subject(body.fields, body.categories, idempotency=claim))
        return SubjectCreated(subject_id=vault.subjects.create_once(body.fields, claim)[0])
    if body.categories is not None:  # validated before anything is written (vault.retention)
        return SubjectCreated(subject_id=vault.retention.create_subject(body.fields, body.categories))
    return SubjectCreated(subject_id=vault.subjects.create(body.fields))


@router.get(
    "",
    summary="List subjects",
    description="Subject ids, times and field names in id order, never values. Cursor pagination: "
    "pass `next_cursor` as `after`.",
)
def list_subjects(
    vault: VaultDep,
    _caller: SubjectsWrite,
    after: Annotated[UUID | None, Query(description="List subjects after this id.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = 100,
) -> SubjectPage:
    items = vault.subjects.list(after=str(after) if after else None, limit=limit)
    return SubjectPage(
        items=[
            SubjectSummary(
                subject_id=s.subject_id, created_at=s.created_at, updated_at=s.updated_at, fields=list(s.field_names)
            )
            for s in items
        ],
        next_cursor=items[-1].subject_id if len(items) == limit else None,
    )


@router.post(
    "/{subject_id}/reveal",
    summary="Reveal a subject's fields",
    description="Decrypts and returns the subject's fields (or the ones named). A purpose is "
    "required and audited with the field count (`subject.reveal`), never the values. 404 for a "
    "subject that does not exist or was shredded. While the subject's processing is restricted (a "
    "restriction request, a correction under way) it is 409 `restricted`, naming the `reasons`, "
    "unless the key also holds `restricted:read` (a legal-request read: audited with the restriction).",
)
def reveal_subject(
    subject_id: SubjectIdPath, body: RevealRequest, vault: VaultDep, caller: SubjectsReveal
) -> RevealedFields:
    restricted = "legal_request" if Scope.RESTRICTED_READ in caller.scopes else "refuse"
    fields = vault.subjects.read(str(subject_id), body.fields, purpose=body.purpose, restricted=restricted)
    return RevealedFields(subject_id=str(subject_id), fields=fields)


@router.post(
    "/{subject_id}/verify",
    summary="Verify a one-way field",
    description="Checks a value against the subject's one-way field (a password, say: stored only as an "
    "Argon2id hash, never revealed). Answers whether it matches, and `false` as well when the subject "
    "has no such field. Audited as `subject.verify` with the field name and the outcome, never the value. "
    "422 for a field that is not declared one-way; 404 for a subject that does not exist or was shredded; "
    "409 `restricted` while the subject's processing is restricted.",
)
def verify_subject_field(
    subject_id: SubjectIdPath, body: FieldVerifyRequest, vault: VaultDep, _caller: SubjectsReveal
) -> FieldVerifyResult:
    match = vault.subjects.verify(str(subject_id), body.field, body.value)
    return FieldVerifyResult(subject_id=str(subject_id), field=body.field, match=match)


@router.patch(
    "/{subject_id}",
    summary="Update a subject",
    description="Sets fields (adding new ones) and deletes fields given as null. Audited as "
    "`subject.update` with counts. 404 for a subject that does not exist or was shredded.",
)
def update_subject(
    subject_id: SubjectIdPath, body: SubjectUpdate, vault: VaultDep, _caller: SubjectsWrite
) -> SubjectUpdated:
    vault.subjects.update(str(subject_id), body.fields)
    return SubjectUpdated(
        subject_id=str(subject_id),
        fields_set=sorted(name for name, value in body.fields.items() if value is not None),
        fields_deleted=sorted(name for name, value in body.fields.items() if value is None),
    )


@router.delete(
    "/{subject_id}",
    summary="Shred a subject",
    description="Crypto-shredding: destroys the subject's data key (and then its ciphertext), "
    "irreversibly, leaving a tombstone with the reason code. Bans on the subject's identifiers "
    "outlive it, unlinked. Idempotent: shredding again answers `already: true`. Audited as "
    "`subject.shred`.",
)
def shred_subject(
    subject_id: SubjectIdPath,
    vault: VaultDep,
    metrics: MetricsDep,
    _caller: Erasure,
    reason: Annotated[
        str,
        Query(
            pattern=r"^[a-z][a-z0-9_]{0,39}$",
            description="A reason code, e.g. request, withdrawal, retention.",
            examples=["withdrawal"],
        ),
    ] = "request",
) -> ShredReceipt:
    result = vault.subjects.shred(str(subject_id), reason)
    metrics.shreds.labels("already_shredded" if result.already else "shredded").inc()
    return ShredReceipt(subject_id=result.subject_id, shredded_at=result.shredded_at, already=result.already)


@router.get(
    "/{subject_id}/categories",
    summary="Get a subject's data categories",
    description="Which data categories the subject's fields carry: category code -> field names "
    "(`[\"*\"]` for every field). 404 for a subject that does not exist or was shredded.",
)
def get_subject_categories(subject_id: SubjectIdPath, vault: VaultDep, _caller: SubjectsWrite) -> SubjectCategories:
    sid = str(subject_id)
    if not vault.subjects.exists(sid):
        raise NotFoundError("subject", sid)
    return SubjectCategories(subject_id=sid, categories=vault.retention.categories_of(sid))


@router.post(
    "/{subject_id}/categories",
    summary="Give a subject's fields data categories",
    description="Adds data categories to the subject's fields (keeping those it has) and computes "
    "their due dates under the retention policies in force. Answers the subject's retention items. "
    "Audited as `retention.categorize` (counts). An unknown category, or one of anti-abuse records, "
    "is a 422 naming `categories`; 404 for a subject that does not exist.",
)
def categorize_subject(
    subject_id: SubjectIdPath, body: CategorizeRequest, vault: VaultDep, _caller: SubjectsWrite
) -> RetentionItems:
    return RetentionItems.of_views(vault.retention.categorize(str(subject_id), body.categories))


@router.post(
    "/{subject_id}/events",
    summary="Record a retention event of a subject",
    description="Records that a trigger event happened to the subject (at `at`, default now) and "
    "recomputes the due dates that run from it (and those of its records). A `withdrawal` moves the "
    "categories kept under another law to separate storage at once (unless the subject is under a "
    "legal hold: then the first sweep after the release does). Answers the subject's retention "
    "items, its separated data's included. Audited as `retention.event`. 404 for a subject that "
    "does not exist; a future `at` is a 422.",
)
def record_subject_event(
    subject_id: SubjectIdPath, body: EventRequest, vault: VaultDep, _caller: SubjectsWrite
) -> RetentionItems:
    return RetentionItems.of_views(
        vault.retention.record_event("subject", str(subject_id), body.event, at=body.at, confirm=body.confirm)
    )


@router.post(
    "/{subject_id}/events/preview",
    summary="Preview a retention event of a subject",
    description="What recording the event would do, changing nothing: the subject's retention items as "
    "they would be, and each item it would make due at once with what follows (`destroy`, `separate`, "
    "`restrict`, `review`). `destroys` says whether recording it needs `confirm`. Not audited: nothing "
    "is read but dates. 404 for a subject that does not exist; a future `at` is a 422.",
)
def preview_subject_event(
    subject_id: SubjectIdPath, body: EventPreviewRequest, vault: VaultDep, _caller: SubjectsWrite
) -> EventPreviewOut:
    return EventPreviewOut.of(vault.retention.preview_event("subject", str(subject_id), body.event, at=body.at))
