"""What the audit log gives back: entries, checkpoints and verification reports (ids, codes and counts
only)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pseudovault.vault.audit.chain import GENESIS_HASH
from pseudovault.vault.store.data_models import AuditCheckpoint, AuditEntry
from pseudovault.vault.views import View

__all__ = ["AuditRecord", "CheckpointRecord", "VerifyReport", "to_checkpoint", "to_record"]


@dataclass(frozen=True)
class AuditRecord(View):
    seq: int
    at: datetime
    actor_kind: str
    actor_id: str
    action: str
    targets: tuple[str, ...]
    purpose: str | None
    outcome: str
    client: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)
    prev_hash: str = ""
    entry_hash: str = ""


@dataclass(frozen=True)
class VerifyReport(View):
    """The outcome of :meth:`AuditLog.verify`.

    ``entries`` counts the entries verified before the first broken link (all of them when
    ``ok``); ``last_seq``/``last_hash`` are where the verified chain ends. ``signed`` says whether
    checkpoints were checked at all (an AuditLog without a signer checks the hash chain only);
    ``checkpoints`` counts the checkpoints verified and ``last_checkpoint_seq`` names the newest;
    ``external_checkpoints`` counts the lines of the checkpoint file it was checked against (each
    signature verified) and ``head_signed_at`` is when the head was last signed. After an
    acknowledged restore (:meth:`AuditLog.acknowledge_restore`), ``restore_acknowledged_at`` says
    when, and ``superseded_lines`` counts the signed heads written before it, of the branch the
    restore took back: their signatures are checked, the chain is not held to them.
    """

    ok: bool
    entries: int
    first_broken_seq: int | None = None
    reason: str | None = None
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    signed: bool = False
    checkpoints: int = 0
    last_checkpoint_seq: int | None = None
    external_checkpoints: int = 0
    head_signed_at: datetime | None = None
    superseded_lines: int = 0
    restore_acknowledged_at: datetime | None = None


@dataclass(frozen=True)
class RestoreRecord(View):
    """An acknowledged restore of the data store (:meth:`AuditLog.acknowledge_restore`): its audit
    entry ``seq``, where the restored log ended and how far it had reached before, how many of the
    checkpoint file's signed heads it superseded, when and with which key it was signed."""

    seq: int
    log_ended_at: int
    had_reached: int
    superseded_lines: int
    acknowledged_at: datetime
    key_id: str


@dataclass(frozen=True)
class CheckpointRecord(View):
    """A signed checkpoint: ``key_id``'s Ed25519 signature over the chain's hash at ``seq``."""

    seq: int
    entry_hash: str
    signed_at: datetime
    key_id: str
    signature: bytes


def to_checkpoint(row: AuditCheckpoint) -> CheckpointRecord:
    return CheckpointRecord(row.seq, row.entry_hash, row.signed_at, row.key_id, bytes(row.signature))


def to_record(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        seq=row.seq,
        at=row.at,
        actor_kind=row.actor_kind,
        actor_id=row.actor_id,
        action=row.action,
        targets=tuple(json.loads(row.targets)),
        purpose=row.purpose,
        outcome=row.outcome,
        client=row.client,
        detail=json.loads(row.detail),
        prev_hash=row.prev_hash,
        entry_hash=row.entry_hash,
    )
