"""A hash-chained, append-only audit log of privileged actions.

Each entry records who (actor kind and id: an API key id, ``cli``, ``system``), did what (an
action name such as ``subject.shred``), to which targets (ids only), for which stated purpose,
with which outcome, when and from which client address. Never PII, never identifiers, never
key material: entries carry ids, codes and counts.

Chain
    ``entry_hash = SHA-256(b"pseudovault/audit/v1" 0x00 || prev_hash || canonical(entry))`` where
    ``canonical`` is the entry's fields (``seq`` included) as JSON with sorted keys and no
    whitespace, and ``prev_hash`` is the previous entry's hash (the anchor's for the first).
    Sequence numbers are gap-free; the ``audit_head`` row holds the last seq and hash and is locked
    by every append, so concurrent writers on PostgreSQL serialise, and on SQLite the write
    transaction does the same.

Verification (:meth:`AuditLog.verify`) walks the chain from the anchor: an edited entry fails its
hash, a removed one leaves a gap, a reordered or inserted one breaks the link to its predecessor,
and removing the newest entries disagrees with the head. The report names the first broken
sequence number. An attacker who can rewrite the whole table and the head can recompute the
chain; signed checkpoints (Ed25519, the audit signing key of the key hierarchy) are what detect
that.

The actor comes from a context variable that the boundary (CLI command, API request) sets with
:func:`acting_as`, so domain services record the right actor without passing it around.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from vault.clock import Clock
from vault.db import session_scope
from vault.errors import InvalidInputError
from vault.models import AUDIT_PURPOSE_LENGTH, AuditEntry, AuditHead

__all__ = [
    "Actor",
    "AuditLog",
    "AuditRecord",
    "VerifyReport",
    "acting_as",
    "current_actor",
    "GENESIS_HASH",
]

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
_DOMAIN = b"pseudovault/audit/v1\x00"
_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_OUTCOMES = frozenset({"ok", "denied", "not_found", "invalid", "conflict", "error"})
_DETAIL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_CODE_VALUE = re.compile(r"^[A-Za-z0-9_.:\-]{0,64}$")


@dataclass(frozen=True)
class Actor:
    kind: str  # "api_key" | "cli" | "system"
    id: str  # an API key id, a user name for the CLI, or "system"
    client: str | None = None  # a client address, when there is one

    def __post_init__(self) -> None:
        if self.kind not in ("api_key", "cli", "system"):
            raise ValueError(f"unknown actor kind {self.kind!r}")
        if not self.id or len(self.id) > 64:
            raise ValueError("actor id must be 1 to 64 characters")


SYSTEM = Actor("system", "system")
_current: contextvars.ContextVar[Actor] = contextvars.ContextVar("pseudovault_actor", default=SYSTEM)


def current_actor() -> Actor:
    return _current.get()


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


@dataclass(frozen=True)
class AuditRecord:
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor_kind": self.actor_kind,
            "actor_id": self.actor_id,
            "action": self.action,
            "targets": list(self.targets),
            "purpose": self.purpose,
            "outcome": self.outcome,
            "client": self.client,
            "detail": dict(self.detail),
            "prev_hash": self.prev_hash,
            "entry_hash": self.entry_hash,
        }


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    entries: int
    first_broken_seq: int | None = None
    reason: str | None = None
    last_seq: int = 0
    last_hash: str = GENESIS_HASH

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "first_broken_seq": self.first_broken_seq,
            "reason": self.reason,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
        }


def _canonical(fields: Mapping[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _timestamp(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def _entry_fields(
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
        "at": _timestamp(at),
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
    return hashlib.sha256(_DOMAIN + prev_hash.encode("ascii") + _canonical(fields)).hexdigest()


def _row_fields(row: AuditEntry) -> dict[str, Any]:
    return _entry_fields(
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


def _to_record(row: AuditEntry) -> AuditRecord:
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


def _validate_detail(detail: Mapping[str, Any] | None) -> str:
    detail = dict(detail or {})
    for key, value in detail.items():
        if not isinstance(key, str) or not _DETAIL_KEY.match(key):
            raise ValueError(f"audit detail key {key!r} is not a code")
        if isinstance(value, bool) or isinstance(value, int):
            continue
        if isinstance(value, str) and _CODE_VALUE.match(value):
            continue
        # Free text could be PII: details are counts, flags and codes only.
        raise ValueError(f"audit detail {key!r} must be a count, a flag or a code")
    return json.dumps(detail, sort_keys=True, separators=(",", ":"))


def validate_purpose(purpose: str | None, *, required: bool = False) -> str | None:
    """A stated purpose: short, one line, printable. It is stored in the audit log as given."""
    if purpose is None or purpose.strip() == "":
        if required:
            raise InvalidInputError("purpose", "a purpose is required for this action")
        return None
    purpose = purpose.strip()
    if len(purpose) > AUDIT_PURPOSE_LENGTH:
        raise InvalidInputError("purpose", f"at most {AUDIT_PURPOSE_LENGTH} characters")
    if any(not ch.isprintable() for ch in purpose):
        raise InvalidInputError("purpose", "must be one line of printable characters")
    return purpose


class AuditLog:
    """Appends to and verifies the audit chain in the data store."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def __repr__(self) -> str:
        return "AuditLog()"

    # --- writing ------------------------------------------------------------------------------

    @staticmethod
    def _head(session: Session) -> AuditHead:
        head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
        if head is None:
            head = AuditHead(id=1, last_seq=0, last_hash=GENESIS_HASH, anchor_seq=0, anchor_hash=GENESIS_HASH)
            session.add(head)
            session.flush()
        return head

    def append(
        self,
        action: str,
        *,
        targets: Sequence[str] = (),
        purpose: str | None = None,
        outcome: str = "ok",
        detail: Mapping[str, Any] | None = None,
        actor: Actor | None = None,
        session: Session | None = None,
    ) -> int:
        """Append one entry; returns its sequence number.

        With ``session`` the entry joins that unit of work (so it commits or rolls back with the
        action it records); otherwise it is a unit of work of its own.
        """
        if not _ACTION.match(action):
            raise ValueError(f"audit action {action!r} is not of the form 'thing.verb'")
        if outcome not in _OUTCOMES:
            raise ValueError(f"unknown audit outcome {outcome!r}")
        for target in targets:
            if not isinstance(target, str) or not _CODE_VALUE.match(target) or not target:
                raise ValueError("audit targets are ids")
        purpose = validate_purpose(purpose)
        detail_json = _validate_detail(detail)
        targets_json = json.dumps(list(targets), separators=(",", ":"))
        actor = actor or current_actor()
        if session is None:
            with session_scope(self._engine, write=True) as own:
                return self._append(own, action, targets_json, purpose, outcome, detail_json, actor)
        return self._append(session, action, targets_json, purpose, outcome, detail_json, actor)

    def _append(
        self,
        session: Session,
        action: str,
        targets_json: str,
        purpose: str | None,
        outcome: str,
        detail_json: str,
        actor: Actor,
    ) -> int:
        head = self._head(session)
        seq = head.last_seq + 1
        at = self._clock.now()
        fields = _entry_fields(
            seq=seq,
            at=at,
            actor_kind=actor.kind,
            actor_id=actor.id,
            action=action,
            targets=targets_json,
            purpose=purpose,
            outcome=outcome,
            client=actor.client,
            detail=detail_json,
        )
        entry_hash = chain_hash(head.last_hash, fields)
        session.add(
            AuditEntry(
                seq=seq,
                at=at,
                actor_kind=actor.kind,
                actor_id=actor.id,
                action=action,
                targets=targets_json,
                purpose=purpose,
                outcome=outcome,
                client=actor.client,
                detail=detail_json,
                prev_hash=head.last_hash,
                entry_hash=entry_hash,
            )
        )
        head.last_seq = seq
        head.last_hash = entry_hash
        session.flush()
        log.debug("audit %s seq=%d outcome=%s", action, seq, outcome)
        return seq

    # --- reading ------------------------------------------------------------------------------

    def query(
        self,
        *,
        action: str | None = None,
        actor_id: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[AuditRecord]:
        if not 1 <= limit <= 1000:
            raise InvalidInputError("limit", "must be between 1 and 1000")
        stmt = select(AuditEntry).where(AuditEntry.seq > after_seq).order_by(AuditEntry.seq)
        if action:
            stmt = stmt.where(AuditEntry.action == action)
        if actor_id:
            stmt = stmt.where(AuditEntry.actor_id == actor_id)
        if since:
            stmt = stmt.where(AuditEntry.at >= since)
        if until:
            stmt = stmt.where(AuditEntry.at < until)
        if target:
            # targets is a JSON list of ids; ids contain no quotes, so this match is exact
            stmt = stmt.where(AuditEntry.targets.contains(json.dumps(target)))
        with session_scope(self._engine) as session:
            return [_to_record(row) for row in session.execute(stmt.limit(limit)).scalars()]

    def head(self) -> tuple[int, str]:
        with session_scope(self._engine) as session:
            head = session.get(AuditHead, 1)
            return (head.last_seq, head.last_hash) if head else (0, GENESIS_HASH)

    def count(self) -> int:
        with session_scope(self._engine) as session:
            return session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()

    # --- verifying ----------------------------------------------------------------------------

    def verify(self, *, page_size: int = 1000) -> VerifyReport:
        """Walk the chain from the anchor and report the first broken link, if any."""
        with session_scope(self._engine) as session:
            head = session.get(AuditHead, 1)
            anchor_seq, anchor_hash = (head.anchor_seq, head.anchor_hash) if head else (0, GENESIS_HASH)
            expected_seq = anchor_seq + 1
            prev = anchor_hash
            count = 0
            after = anchor_seq
            while True:
                rows = (
                    session.execute(
                        select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(page_size)
                    )
                    .scalars()
                    .all()
                )
                if not rows:
                    break
                for row in rows:
                    if row.seq != expected_seq:
                        return VerifyReport(
                            False, count, expected_seq, "entry missing (gap in sequence)", expected_seq - 1, prev
                        )
                    if not hmac.compare_digest(row.prev_hash, prev):
                        return VerifyReport(
                            False, count, row.seq, "link to the previous entry is broken", row.seq - 1, prev
                        )
                    if not hmac.compare_digest(chain_hash(prev, _row_fields(row)), row.entry_hash):
                        return VerifyReport(
                            False, count, row.seq, "entry was altered (hash mismatch)", row.seq - 1, prev
                        )
                    prev = row.entry_hash
                    count += 1
                    expected_seq += 1
                after = rows[-1].seq
            # entries before the anchor must have been pruned, not left behind
            stale = session.execute(
                select(func.min(AuditEntry.seq)).where(AuditEntry.seq <= anchor_seq)
            ).scalar_one_or_none()
            if stale is not None:
                return VerifyReport(
                    False, count, stale, "entry before the anchor (inserted or not pruned)", expected_seq - 1, prev
                )
            last_seq = expected_seq - 1
            if head is not None and (head.last_seq != last_seq or not hmac.compare_digest(head.last_hash, prev)):
                return VerifyReport(
                    False, count, last_seq + 1, "newest entries missing or head altered", last_seq, prev
                )
            return VerifyReport(True, count, None, None, last_seq, prev)

    # --- retention ----------------------------------------------------------------------------

    def prune(self, before: datetime, *, batch_size: int = 1000) -> int:
        """Delete entries older than ``before`` from the oldest on; the anchor moves past them so
        the remaining chain still verifies. Returns how many entries were deleted."""
        deleted = 0
        while True:
            with session_scope(self._engine, write=True) as session:
                head = self._head(session)
                rows = (
                    session.execute(
                        select(AuditEntry)
                        .where(AuditEntry.seq > head.anchor_seq)
                        .order_by(AuditEntry.seq)
                        .limit(batch_size)
                    )
                    .scalars()
                    .all()
                )
                due = []
                for row in rows:
                    if row.at >= before:
                        break
                    due.append(row)
                if not due:
                    return deleted
                last = due[-1]
                session.execute(delete(AuditEntry).where(AuditEntry.seq <= last.seq))
                head.anchor_seq = last.seq
                head.anchor_hash = last.entry_hash
                deleted += len(due)
                if len(due) < len(rows) or len(rows) < batch_size:
                    return deleted
