"""The audit log: query, verification, checkpoints (scope ``admin``).

Entries carry ids, codes and counts, never PII; ``purpose`` is the text a caller stated for a
reveal, as given. Reading the log is not itself audited; making a checkpoint is
(``audit.checkpoint``, signed together with the head it covers).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from pseudovault.api.auth import Admin, ApiRoute
from pseudovault.api.deps import VaultDep
from pseudovault.api.schemas import IsoDatetime, ResponseModel

__all__ = ["router"]

router = APIRouter(prefix="/v1/audit", route_class=ApiRoute, tags=["audit"])

_ID = r"^[A-Za-z0-9_.:\-]{1,64}$"
MAX_SEQ = 2**31 - 1  # sequence numbers are 32-bit integers in the store


class AuditEntry(ResponseModel):
    seq: int
    at: datetime
    actor_kind: str = Field(examples=["api_key"])
    actor_id: str = Field(examples=["k3v7q2m4xa"])
    action: str = Field(examples=["subject.reveal"])
    targets: list[str]
    purpose: str | None
    outcome: str = Field(examples=["ok"])
    client: str | None = Field(description="The client address of the request, when there was one.")
    detail: dict[str, int | bool | str] = Field(examples=[{"fields": 2}])
    prev_hash: str
    entry_hash: str


class AuditPage(ResponseModel):
    items: list[AuditEntry]
    next_cursor: int | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class VerifyReport(ResponseModel):
    ok: bool
    entries: int = Field(description="Entries verified (before the first broken link, when there is one).")
    first_broken_seq: int | None
    reason: str | None
    last_seq: int
    last_hash: str
    signed: bool = Field(description="Whether signed checkpoints were checked.")
    checkpoints: int = Field(description="Signed checkpoints verified.")
    last_checkpoint_seq: int | None


class Checkpoint(ResponseModel):
    seq: int
    entry_hash: str
    signed_at: datetime
    key_id: str = Field(examples=["ed25519:3f9c0a1b2c3d4e5f"])
    signature: str = Field(description="The Ed25519 signature, hex.")


@router.get(
    "",
    summary="Query the audit log",
    description="Entries in sequence order, filtered; cursor pagination (pass `next_cursor` as `cursor`).",
)
def list_audit(
    vault: VaultDep,
    _caller: Admin,
    action: Annotated[
        str | None, Query(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", examples=["subject.reveal"])
    ] = None,
    actor_id: Annotated[str | None, Query(pattern=_ID, description="An API key id or a user name.")] = None,
    target: Annotated[str | None, Query(pattern=_ID, description="Entries naming this target id.")] = None,
    since: Annotated[IsoDatetime | None, Query(description="Entries at or after this time.")] = None,
    until: Annotated[IsoDatetime | None, Query(description="Entries before this time.")] = None,
    cursor: Annotated[
        int | None, Query(ge=0, le=MAX_SEQ, description="From `next_cursor`: list entries after it.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    records = vault.audit.query(
        action=action,
        actor_id=actor_id,
        target=target,
        since=since,
        until=until,
        after_seq=cursor or 0,
        limit=limit,
    )
    return AuditPage(
        items=[AuditEntry.pick(record.as_dict()) for record in records],
        next_cursor=records[-1].seq if len(records) == limit else None,
    )


@router.get(
    "/verify",
    summary="Verify the audit log",
    description="Walks the hash chain from its anchor and checks every signed checkpoint; reports "
    "the first broken link. The answer is 200 either way: look at `ok`.",
)
def verify_audit(vault: VaultDep, _caller: Admin) -> VerifyReport:
    return VerifyReport.pick(vault.audit.verify().as_dict())


@router.post(
    "/checkpoint",
    summary="Sign a checkpoint now",
    description="Records an `audit.checkpoint` entry and signs the chain's head, which includes it, "
    "with the audit signing key (Ed25519).",
)
def checkpoint_audit(vault: VaultDep, _caller: Admin) -> Checkpoint:
    return Checkpoint.pick(vault.audit.checkpoint().as_dict())
