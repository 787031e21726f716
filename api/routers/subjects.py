"""Subjects: a person's recoverable PII, encrypted field by field under the subject's own key.

A subject that was shredded answers exactly like one that never existed (404) to every read and
update. Shredding is the one exception, on purpose, as in the vault: shredding a shredded subject
again succeeds (``already: true``), so a retried erasure request is harmless.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, status
from pydantic import Field, StringConstraints
from pydantic.json_schema import JsonDict

from api.auth import ApiRoute, Erasure, SubjectsReveal, SubjectsWrite
from api.deps import MetricsDep, VaultDep
from api.schemas import RequestModel, ResponseModel
from vault.models import AUDIT_PURPOSE_LENGTH
from vault.subjects import MAX_FIELDS, MAX_LIST_LIMIT, MAX_VALUE_BYTES

__all__ = ["router"]

router = APIRouter(prefix="/v1/subjects", route_class=ApiRoute, tags=["subjects"])

FIELD_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
FieldName = Annotated[str, StringConstraints(pattern=FIELD_NAME_PATTERN)]
FieldValue = Annotated[str, StringConstraints(min_length=1, max_length=MAX_VALUE_BYTES)]
Purpose = Annotated[str, StringConstraints(min_length=1, max_length=AUDIT_PURPOSE_LENGTH, pattern=r"\S")]
SubjectIdPath = Annotated[
    UUID,
    Path(
        description="The subject's id (a UUID).",
        examples=["0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10"],
    ),
]

_EXAMPLE_ID = "0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10"
_FIELDS_SCHEMA: JsonDict = {"additionalProperties": False}


class SubjectCreate(RequestModel):
    fields: dict[FieldName, FieldValue] = Field(
        max_length=MAX_FIELDS,
        description="Field names (lower case, digits, underscores) to values (UTF-8 text of at most "
        f"{MAX_VALUE_BYTES} bytes). Each value is encrypted under the subject's own key.",
        examples=[{"email": "kim@example.com", "name": "Kim Minji"}],
        json_schema_extra=_FIELDS_SCHEMA,
    )


class SubjectCreated(ResponseModel):
    subject_id: str = Field(examples=[_EXAMPLE_ID])


class RevealRequest(RequestModel):
    purpose: Purpose = Field(
        description="Why the PII is revealed. Recorded in the audit log as given: state a case or "
        "ticket, never personal data.",
        examples=["chargeback dispute, case 4411"],
    )
    fields: list[FieldName] | None = Field(
        None,
        max_length=MAX_FIELDS,
        description="Only these fields (those the subject has); all of them when absent.",
        examples=[["email"]],
    )


class RevealedFields(ResponseModel):
    subject_id: str = Field(examples=[_EXAMPLE_ID])
    fields: dict[str, str] = Field(examples=[{"email": "kim@example.com"}])


class SubjectUpdate(RequestModel):
    fields: dict[FieldName, FieldValue | None] = Field(
        min_length=1,
        max_length=MAX_FIELDS,
        description="Fields to set (added if new); null deletes a field.",
        examples=[{"phone": "010-1234-5678", "name": None}],
        json_schema_extra=_FIELDS_SCHEMA,
    )


class SubjectUpdated(ResponseModel):
    subject_id: str = Field(examples=[_EXAMPLE_ID])
    fields_set: list[str] = Field(examples=[["phone"]])
    fields_deleted: list[str] = Field(examples=[["name"]])


class ShredReceipt(ResponseModel):
    subject_id: str = Field(examples=[_EXAMPLE_ID])
    shredded_at: datetime
    already: bool = Field(description="True when the subject had been shredded before this request.")


class SubjectSummary(ResponseModel):
    subject_id: str
    created_at: datetime
    updated_at: datetime
    fields: list[str] = Field(description="Field names only; values are never listed.")


class SubjectPage(ResponseModel):
    items: list[SubjectSummary]
    next_cursor: str | None = Field(description="Pass as `after` for the next page; null on the last page.")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a subject",
    description="Stores a person's PII, each field encrypted (AES-256-GCM) under a new data key of "
    "the subject's own. Audited as `subject.create` (field count only).",
)
def create_subject(body: SubjectCreate, vault: VaultDep, _caller: SubjectsWrite) -> SubjectCreated:
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
    "subject that does not exist or was shredded.",
)
def reveal_subject(
    subject_id: SubjectIdPath, body: RevealRequest, vault: VaultDep, _caller: SubjectsReveal
) -> RevealedFields:
    fields = vault.subjects.read(str(subject_id), body.fields, purpose=body.purpose)
    return RevealedFields(subject_id=str(subject_id), fields=fields)


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
