"""Legal holds: a hold on a subject or a record blocks shredding, deletion and expiry until it is
released (or lapses at its ``until``).

While a subject is held, ``DELETE /v1/subjects/{id}`` and ``POST /v1/erasure-requests`` answer
409 with problem type ``held`` and the ``hold_id``; the sweeper leaves held items pending and
applies them at the first sweep after the release. Every placement and release is audited
(``hold.place``, ``hold.release``) with the caller's key. Scope: ``admin``. A hold's reference is
a case or ticket id, never personal data (the pattern allows no spaces or ``@``).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, status

from pseudovault.api.auth import Admin, ApiRoute
from pseudovault.api.deps import VaultDep
from pseudovault.api.schemas.common import IdempotencyKeyHeader, idempotency_claim
from pseudovault.api.schemas.holds import HoldCreate, HoldList, HoldOut, HoldRelease

__all__ = ["router"]


router = APIRouter(prefix="/v1/holds", route_class=ApiRoute, tags=["holds"])


MAX_HOLDS_LISTED = 1000


HoldIdPath = Annotated[UUID, Path(description="The hold's id.", examples=["5f0c2b8e-0d1e-4e0f-9a7d-3c1b2a4d5e6f"])]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Place a legal hold",
    description="Holds a subject or a record: no shredding, deletion, erasure or expiry until it is released. "
    "404 for a target that does not exist. Audited as `hold.place`. With an `Idempotency-Key`, the same "
    "request sent again answers with the same hold and places nothing new.",
)
def place_hold(
    body: HoldCreate, vault: VaultDep, caller: Admin, idempotency_key: IdempotencyKeyHeader = None
) -> HoldOut:
    view = vault.holds.place(
        body.target_kind,
        str(body.target_id),
        reason_code=body.reason_code,
        reference=body.reference,
        until=body.until,
        idempotency=idempotency_claim(caller.key_id, idempotency_key, "hold.place", body),
    )
    return HoldOut.of(view)


@router.get(
    "",
    summary="List legal holds",
    description="Newest first; the active ones unless `all` is true; those on one target with `target_id`.",
)
def list_holds(
    vault: VaultDep,
    _caller: Admin,
    all: Annotated[bool, Query(description="Released and lapsed holds too.")] = False,  # noqa: A002
    target_id: Annotated[UUID | None, Query(description="Only the holds on this subject or record.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_HOLDS_LISTED)] = 100,
) -> HoldList:
    held = vault.holds.list(active_only=not all, target_id=str(target_id) if target_id else None, limit=limit)
    return HoldList(items=[HoldOut.of(h) for h in held])


@router.get("/{hold_id}", summary="Show a legal hold", description="404 for an unknown hold.")
def get_hold(hold_id: HoldIdPath, vault: VaultDep, _caller: Admin) -> HoldOut:
    return HoldOut.of(vault.holds.get(str(hold_id)))


@router.post(
    "/{hold_id}/release",
    summary="Release a legal hold",
    description="What it held becomes due again: the next sweep applies what fell due meanwhile. Releasing a "
    "released hold again changes nothing. Audited as `hold.release`.",
)
def release_hold(hold_id: HoldIdPath, body: HoldRelease, vault: VaultDep, _caller: Admin) -> HoldOut:
    return HoldOut.of(vault.holds.release(str(hold_id), reason_code=body.reason_code))
