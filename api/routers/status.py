"""The vault at a glance: counts for an operator's overview (the console's first page).

Counts and times only, never an id of a subject or a record, never PII; ``admin`` scope. The audit
chain is not verified here (that walks the whole log: ``GET /v1/audit/verify``).
"""

from __future__ import annotations

from fastapi import APIRouter

from pseudovault.api.auth import Admin, ApiRoute
from pseudovault.api.deps import VaultDep
from pseudovault.api.schemas.keys import Horizon
from pseudovault.api.schemas.status import StatusOut
from pseudovault.vault.retention.holds import MAX_LIST_LIMIT

__all__ = ["router"]

router = APIRouter(prefix="/v1/status", route_class=ApiRoute, tags=["status"])

_DUE_DAYS = 30


@router.get(
    "",
    summary="The vault at a glance",
    description="Counts of subjects, records by status, retention items due within 30 days, active legal "
    "holds, open and overdue data-subject requests, audit entries and the last signed checkpoint, key "
    "versions and the backup horizon. Counts and times only.",
)
def vault_status(vault: VaultDep, _caller: Admin) -> StatusOut:
    checkpoint = vault.audit.last_checkpoint()
    epochs = vault.keys.epochs()
    return StatusOut(
        now=vault.clock.now(),
        subjects=vault.subjects.count(),
        records_by_status=vault.records.count_by_status(),
        due_30_days=int(vault.retention.report(_DUE_DAYS)["total"]),
        holds_active=len(vault.holds.list(active_only=True, limit=MAX_LIST_LIMIT)),
        rights_open=len(vault.rights.requests(open_only=True, limit=1000)),
        rights_overdue=len(vault.rights.requests(overdue=True, limit=1000)),
        audit_entries=vault.audit.count(),
        audit_last_checkpoint_seq=checkpoint.seq if checkpoint else None,
        audit_last_checkpoint_at=checkpoint.signed_at if checkpoint else None,
        root_key_versions=len(vault.provider.keys()),
        epochs=sum(1 for e in epochs if e.status == "enabled"),
        lookup_key_versions=len(vault.lookup.versions()),
        horizon=Horizon.pick(vault.horizon()),
    )
