"""The audit log: query, verification, checkpoints (scope ``admin``).

Entries carry ids, codes and counts, never PII; ``purpose`` is the text a caller stated for a
reveal, as given. Reading the log is not itself audited; making a checkpoint is
(``audit.checkpoint``, signed together with the head it covers), and so is acknowledging a restore
of the data store (``audit.acknowledge_restore``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from pseudovault.api.auth import Admin, ApiRoute
from pseudovault.api.deps import VaultDep
from pseudovault.api.schemas.audit import AuditEntry, AuditPage, Checkpoint, RestoreAcknowledged, VerifyReport
from pseudovault.api.schemas.common import IsoDatetime

__all__ = ["router"]


router = APIRouter(prefix="/v1/audit", route_class=ApiRoute, tags=["audit"])


_ID = r"^[A-Za-z0-9_.:\-]{1,64}$"


MAX_SEQ = 2**31 - 1  # sequence numbers are 32-bit integers in the store


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
        items=[AuditEntry.of(record) for record in records],
        next_cursor=records[-1].seq if len(records) == limit else None,
    )


@router.get(
    "/verify",
    summary="Verify the audit log",
    description="Walks the hash chain from its anchor and checks every signed checkpoint; reports "
    "the first broken link. The answer is 200 either way: look at `ok`.",
)
def verify_audit(vault: VaultDep, _caller: Admin) -> VerifyReport:
    return VerifyReport.of(vault.audit.verify())


@router.post(
    "/checkpoint",
    summary="Sign a checkpoint now",
    description="Records an `audit.checkpoint` entry and signs the chain's head, which includes it, "
    "with the audit signing key (Ed25519).",
)
def checkpoint_audit(vault: VaultDep, _caller: Admin) -> Checkpoint:
    return Checkpoint.of(vault.audit.checkpoint())


@router.post(
    "/acknowledge-restore",
    summary="Acknowledge a restore of the data store",
    description="After the data store was restored from a backup, the log ends before what the key store's "
    "mark and the checkpoint file recorded, and verification fails on it. Once the restored chain verifies by "
    "itself, this records the restore: an `audit.acknowledge_restore` entry, a signed restore line in the "
    "checkpoint file and the mark set to that entry; verification holds the chain to them from then on. "
    "409 when the log verifies already, when only its head's signature is too old, or when the chain itself "
    "is broken (never acknowledged over tampering); nothing is recorded then.",
    responses={409: {"description": "Nothing to acknowledge, or the chain itself is broken."}},
)
def acknowledge_restore(vault: VaultDep, _caller: Admin) -> RestoreAcknowledged:
    return RestoreAcknowledged.of(vault.audit.acknowledge_restore())
