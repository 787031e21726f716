"""Request and response bodies of the audit endpoints (:mod:`api.routers.audit`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from pseudovault.api.schemas.common import HexText, ResponseModel

__all__ = ["AuditEntry", "AuditPage", "Checkpoint", "RestoreAcknowledged", "VerifyReport"]


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
    external_checkpoints: int = Field(
        description="Signed heads of the checkpoint file kept outside the data store that the log was checked against."
    )
    head_signed_at: datetime | None = Field(description="When the head was last signed (the log is fresh up to then).")
    superseded_lines: int = Field(
        description="Signed heads of the checkpoint file written before the last acknowledged restore: their "
        "signatures are checked, the chain is not held to them (they name the entries the restore took back).",
    )
    restore_acknowledged_at: datetime | None = Field(
        description="When a restore of the data store was last acknowledged (`POST /v1/audit/acknowledge-restore`)."
    )


class Checkpoint(ResponseModel):
    seq: int
    entry_hash: str
    signed_at: datetime
    key_id: str = Field(examples=["ed25519:3f9c0a1b2c3d4e5f"])
    signature: HexText = Field(description="The Ed25519 signature, hex.")


class RestoreAcknowledged(ResponseModel):
    seq: int = Field(description="The `audit.acknowledge_restore` entry; the chain is held from it on.")
    log_ended_at: int = Field(description="Where the restored log ended.")
    had_reached: int = Field(description="How far the log had reached before the restore.")
    superseded_lines: int = Field(description="Signed heads of the checkpoint file this acknowledgement supersedes.")
    acknowledged_at: datetime
    key_id: str = Field(examples=["ed25519:3f9c0a1b2c3d4e5f"])
