"""The audit chain's byte encodings: an entry's canonical fields and hash, and the message a checkpoint
signs (layouts in :mod:`vault.audit.log`). Written once, here, for the writer and the verifier."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pseudovault.vault.store.data_models import AuditEntry

__all__ = ["GENESIS_HASH", "canonical", "chain_hash", "checkpoint_message", "entry_fields", "head_message", "restore_message", "row_fields", "timestamp_text"]


GENESIS_HASH = "0" * 64


_DOMAIN = b"pseudovault/audit/v1\x00"


_CHECKPOINT_DOMAIN = b"pseudovault/audit-checkpoint/v1\x00"
_HEAD_DOMAIN = b"pseudovault/audit-head/v1\x00"
_RESTORE_DOMAIN = b"pseudovault/audit-restore/v1\x00"


def checkpoint_message(seq: int, entry_hash: str, signed_at: datetime, key_id: str, prev_seq: int) -> bytes:
    """The bytes a checkpoint signs (see the module docstring)."""
    fields = {
        "seq": seq,
        "entry_hash": entry_hash,
        "signed_at": timestamp_text(signed_at),
        "key_id": key_id,
        "prev_seq": prev_seq,
    }
    return _CHECKPOINT_DOMAIN + canonical(fields)


def head_message(
    last_seq: int, last_hash: str, anchor_seq: int, anchor_hash: str, signed_at: datetime, key_id: str
) -> bytes:
    """The bytes a signed head covers: the chain's end and its anchor, when, and by which key."""
    fields = {
        "last_seq": last_seq,
        "last_hash": last_hash,
        "anchor_seq": anchor_seq,
        "anchor_hash": anchor_hash,
        "signed_at": timestamp_text(signed_at),
        "key_id": key_id,
    }
    return _HEAD_DOMAIN + canonical(fields)


def restore_message(
    last_seq: int,
    last_hash: str,
    anchor_seq: int,
    anchor_hash: str,
    reached: int,
    acknowledged_at: datetime,
    key_id: str,
) -> bytes:
    """The bytes an acknowledged restore covers: the chain's end and anchor it was acknowledged
    at, how far the log had reached before it (what the restore took back), when, and by which
    key. Its own domain: a signed head is never read as one, nor one as a signed head."""
    fields = {
        "last_seq": last_seq,
        "last_hash": last_hash,
        "anchor_seq": anchor_seq,
        "anchor_hash": anchor_hash,
        "reached": reached,
        "acknowledged_at": timestamp_text(acknowledged_at),
        "key_id": key_id,
    }
    return _RESTORE_DOMAIN + canonical(fields)


def canonical(fields: Mapping[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def timestamp_text(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def entry_fields(
    *,
    seq: int,
    at: datetime,
    actor_kind: str,
    actor_id: str,
    action: str,
    targets: str,
    purpose: str | None,
    outcome: str,
    client: str | None,
    detail: str,
) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": timestamp_text(at),
        "actor_kind": actor_kind,
        "actor_id": actor_id,
        "action": action,
        "targets": targets,
        "purpose": purpose,
        "outcome": outcome,
        "client": client,
        "detail": detail,
    }


def chain_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(_DOMAIN + prev_hash.encode("ascii") + canonical(fields)).hexdigest()


def row_fields(row: AuditEntry) -> dict[str, Any]:
    return entry_fields(
        seq=row.seq,
        at=row.at,
        actor_kind=row.actor_kind,
        actor_id=row.actor_id,
        action=row.action,
        targets=row.targets,
        purpose=row.purpose,
        outcome=row.outcome,
        client=row.client,
        detail=row.detail,
    )
