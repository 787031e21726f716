"""Legal holds: an investigation or a dispute stops the destruction of a subject or a record.

A hold names its target (``subject`` or ``record`` and the id), a reason code
(``[a-z][a-z0-9_]{0,39}``, e.g. ``investigation``, ``dispute``, ``litigation``), a reference (a
case or ticket id matching ``[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}``; never personal data), who placed
it (the audit actor) and, optionally, ``until`` when it lapses by itself. It is *active* while it
is not released and ``until`` (if any) is in the future.

While a hold is active:

* shredding the subject (``SubjectService.shred``, ``shred_many``) and an erasure request for it
  are refused with :class:`HeldError` (a :class:`vault.errors.ConflictError`) naming the hold;
* the sweeper leaves the subject's and its records' due items alone (they are applied by the
  first sweep after the release), and leaves a held record alone;
* a hold on a subject also covers its data in separate storage and the records linked to it.

Placing and releasing are audited (``hold.place``, ``hold.release``) with the hold id, the target
id and the codes; a hold is never deleted, so its history stays readable.

This module depends on the models only, so that :mod:`vault.subjects` can call
:func:`refuse_if_held` without an import cycle.
"""

from __future__ import annotations

import builtins
import re
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Engine, Select, bindparam, or_, select
from sqlalchemy.orm import Session

from pseudovault.vault import idempotency as idempotency_keys
from pseudovault.vault.audit import AuditLog, current_actor
from pseudovault.vault.clock import Clock
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.idempotency import IdempotencyClaim
from pseudovault.vault.ids import validate_code, validate_subject_id
from pseudovault.vault.records import repository as records_repository
from pseudovault.vault.store.data_models import LegalHold, SeparatedItem
from pseudovault.vault.store.db import one_of, one_of_param, session_scope
from pseudovault.vault.subjects import repository as subjects_repository
from pseudovault.vault.views import View

__all__ = [
    "held_items",
    "TARGET_KINDS",
    "HeldError",
    "HoldService",
    "HoldView",
    "active_hold_rows",
    "active_holds",
    "oldest_holds",
    "refuse_if_held",
    "validate_reference",
]

TARGET_KINDS = ("subject", "record")
MAX_LIST_LIMIT = 1000

_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


class HeldError(ConflictError):
    """The target is under an active legal hold: ``hold_id`` names it."""

    code = "held"

    def __init__(self, target_kind: str, target_id: str, hold_id: str) -> None:
        super().__init__(f"{target_kind} {target_id} is under legal hold {hold_id}: release the hold first")
        self.target_kind = target_kind
        self.target_id = target_id
        self.hold_id = hold_id


def validate_reference(value: object) -> str:
    if not isinstance(value, str) or _REFERENCE.fullmatch(value) is None:
        raise InvalidInputError("reference", "must match [A-Za-z0-9][A-Za-z0-9_.:-]{0,63} (a case id, never PII)")
    return value


def _validate_code(value: object, field: str) -> str:
    return validate_code(value, field)


def _validate_kind(value: object) -> str:
    if value not in TARGET_KINDS:
        raise InvalidInputError("target_kind", "must be subject or record")
    return str(value)


def _active(now: datetime | BindParameter[datetime]) -> Any:
    return LegalHold.released_at.is_(None) & or_(LegalHold.until.is_(None), LegalHold.until > now)


def active_hold_rows(target_kind: str) -> Select[str, str, datetime]:
    """``(target id, hold id, placed at)`` of the active holds on the targets of ``target_kind``
    whose ids are the ``ids`` parameter, at the ``now`` parameter: built once by a caller that
    reads them in a statement of its own (a subject's shred reads them with what it finds present,
    in one round trip); :func:`oldest_holds` makes them :func:`active_holds`' answer."""
    return select(LegalHold.target_id, LegalHold.id, LegalHold.placed_at).where(
        LegalHold.target_kind == target_kind,
        one_of_param(LegalHold.target_id, "ids"),
        _active(bindparam("now", type_=LegalHold.until.type)),
    )


def oldest_holds(rows: Iterable[tuple[str, str, datetime]]) -> dict[str, str]:
    """``{target id: hold id}`` of the oldest hold on each target among ``rows`` (of
    :func:`active_hold_rows`): the earliest placed, the smallest id among those placed together."""
    oldest: dict[str, tuple[datetime, str]] = {}
    for target_id, hold_id, placed_at in rows:
        seen = oldest.get(target_id)
        if seen is None or (placed_at, hold_id) < seen:
            oldest[target_id] = (placed_at, hold_id)
    return {target_id: hold_id for target_id, (_, hold_id) in oldest.items()}


# built once (every erasure and sweep asks them): executed with ids and now
_ACTIVE_HOLDS = {kind: active_hold_rows(kind) for kind in TARGET_KINDS}


def active_holds(session: Session, target_kind: str, target_ids: Collection[str], now: datetime) -> dict[str, str]:
    """``{target id: hold id}`` for the ``target_ids`` under an active hold (the oldest hold each)."""
    if not target_ids:
        return {}
    statement = _ACTIVE_HOLDS[_validate_kind(target_kind)]
    ids = list(target_ids)
    connection = session.connection()
    rows: list[tuple[str, str, datetime]] = []
    for start in range(0, len(ids), 1000):
        rows.extend(connection.execute(statement, {"ids": ids[start : start + 1000], "now": now}).all())
    return oldest_holds(rows)


def refuse_if_held(session: Session, target_kind: str, target_id: str, now: datetime) -> None:
    """HeldError when ``target_id`` is under an active legal hold."""
    held = active_holds(session, target_kind, [target_id], now)
    if held:
        raise HeldError(target_kind, target_id, held[target_id])


def held_items(session: Session, items: Sequence[tuple[int, str, str]], now: datetime) -> dict[int, str]:
    """``{item id: hold id}`` for the items under an active legal hold: a subject's own hold
    covers its categories, its separated data and its records; a record's covers the record."""
    subjects = {t for _, k, t in items if k == "subject_category"}
    records = {t for _, k, t in items if k == "record"}
    separated = {t for _, k, t in items if k == "separated"}
    origin: dict[str, str] = {}
    record_subject: dict[str, str] = {}  # records with a subject only
    listed = list(separated)
    for start in range(0, len(listed), 1000):
        origin.update(session.execute(
            select(SeparatedItem.id, SeparatedItem.origin_id).where(
                one_of(SeparatedItem.id, listed[start : start + 1000])
            )
        ).all())
    record_subject.update(records_repository.subjects_of(session, records))
    subject_holds = active_holds(session, "subject", subjects | set(origin.values()) | set(record_subject.values()), now)
    record_holds = active_holds(session, "record", records, now)
    out: dict[int, str] = {}
    for item_id, kind, target in items:
        if kind == "subject_category":
            hold = subject_holds.get(target)
        elif kind == "record":
            hold = record_holds.get(target) or subject_holds.get(record_subject.get(target, ""))
        else:
            hold = subject_holds.get(origin.get(target, ""))
        if hold is not None:
            out[item_id] = hold
    return out


@dataclass(frozen=True)
class HoldView(View):
    """A legal hold as shown to operators: ids, codes and times."""

    hold_id: str
    target_kind: str
    target_id: str
    reason_code: str
    reference: str
    placed_by: str
    placed_at: datetime
    until: datetime | None
    released_at: datetime | None
    released_by: str | None
    release_reason_code: str | None
    active: bool


def _view(row: LegalHold, now: datetime) -> HoldView:
    active = row.released_at is None and (row.until is None or row.until > now)
    return HoldView(
        hold_id=row.id,
        target_kind=row.target_kind,
        target_id=row.target_id,
        reason_code=row.reason_code,
        reference=row.reference,
        placed_by=row.placed_by,
        placed_at=row.placed_at,
        until=row.until,
        released_at=row.released_at,
        released_by=row.released_by,
        release_reason_code=row.release_reason_code,
        active=active,
    )


class HoldService:
    """Place, release and list legal holds. Scope: ``admin`` (the privacy officer's tool)."""

    def __init__(self, data_engine: Engine, clock: Clock, audit: AuditLog) -> None:
        self._engine = data_engine
        self._clock = clock
        self._audit = audit

    def __repr__(self) -> str:
        return "HoldService()"

    def place(
        self,
        target_kind: str,
        target_id: str,
        *,
        reason_code: str,
        reference: str,
        until: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> HoldView:
        """Hold ``target_id`` (a subject, with its separated data and linked records, or a
        record). ``until`` None is open-ended. Scope ``admin``. Under an idempotency key a retry
        answers with the hold the key placed (vault.idempotency).

        The target must exist: a subject that is present or has data in separate storage, or a
        record; otherwise NotFoundError.
        """
        target_kind = _validate_kind(target_kind)
        target_id = validate_subject_id(target_id, "target_id")
        reason_code = _validate_code(reason_code, "reason_code")
        reference = validate_reference(reference)
        now = self._clock.now()
        if until is not None:
            if not isinstance(until, datetime) or until.tzinfo is None:
                raise InvalidInputError("until", "must be a timezone-aware timestamp")
            if until <= now:
                raise InvalidInputError("until", "must be in the future")
        return idempotency_keys.once_view(
            self._engine,
            idempotency,
            lambda: self._place(target_kind, target_id, reason_code, reference, until, now, idempotency),
            lambda view: view.hold_id,
            self.get,
        )

    def _place(
        self,
        target_kind: str,
        target_id: str,
        reason_code: str,
        reference: str,
        until: datetime | None,
        now: datetime,
        idempotency: IdempotencyClaim | None,
    ) -> HoldView:
        hold_id = str(uuid.uuid4())
        actor = current_actor()
        with session_scope(self._engine) as session:
            exists = self._exists(session, target_kind, target_id)
        if not exists:
            self._audit.append("hold.place", targets=[target_id], outcome="not_found")
            raise NotFoundError(target_kind, target_id)
        with session_scope(self._engine, write=True) as session:
            row = LegalHold(
                id=hold_id,
                target_kind=target_kind,
                target_id=target_id,
                reason_code=reason_code,
                reference=reference,
                placed_by=actor.id,
                placed_at=now,
                until=until,
            )
            session.add(row)
            session.flush()
            self._audit.append(
                "hold.place",
                targets=[hold_id, target_id],
                detail={
                    "target_kind": target_kind,
                    "reason": reason_code,
                    "reference": reference,
                    "open_ended": until is None,
                },
                session=session,
            )
            if idempotency is not None:
                idempotency_keys.record(session, idempotency, hold_id, now)
            return _view(row, now)

    @staticmethod
    def _exists(session: Session, target_kind: str, target_id: str) -> bool:
        if target_kind == "record":
            return records_repository.exists(session, target_id)
        if subjects_repository.exists(session, target_id):
            return True
        return session.scalar(select(SeparatedItem.id).where(SeparatedItem.origin_id == target_id).limit(1)) is not None

    def release(self, hold_id: str, *, reason_code: str = "released") -> HoldView:
        """Release a hold; releasing a released hold again is harmless. Scope ``admin``."""
        hold_id = validate_subject_id(hold_id, "hold_id")
        reason_code = _validate_code(reason_code, "reason_code")
        now = self._clock.now()
        with session_scope(self._engine, write=True) as session:
            row = session.get(LegalHold, hold_id, with_for_update=True)
            if row is None:
                raise NotFoundError("hold", hold_id)
            already = row.released_at is not None
            if not already:
                row.released_at = now
                row.released_by = current_actor().id
                row.release_reason_code = reason_code
            self._audit.append(
                "hold.release",
                targets=[hold_id, row.target_id],
                detail={"target_kind": row.target_kind, "reason": reason_code, "already": already},
                session=session,
            )
            return _view(row, now)

    def get(self, hold_id: str) -> HoldView:
        hold_id = validate_subject_id(hold_id, "hold_id")
        with session_scope(self._engine) as session:
            row = session.get(LegalHold, hold_id)
            if row is None:
                raise NotFoundError("hold", hold_id)
            return _view(row, self._clock.now())

    def list(
        self,
        *,
        active_only: bool = True,
        target_kind: str | None = None,
        target_id: str | None = None,
        limit: int = 100,
    ) -> builtins.list[HoldView]:
        """Holds, newest first; by default the active ones only. Scope ``admin``."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidInputError("limit", f"must be an integer from 1 to {MAX_LIST_LIMIT}")
        now = self._clock.now()
        stmt = select(LegalHold).order_by(LegalHold.placed_at.desc(), LegalHold.id).limit(limit)
        if active_only:
            stmt = stmt.where(_active(now))
        if target_kind is not None:
            stmt = stmt.where(LegalHold.target_kind == _validate_kind(target_kind))
        if target_id is not None:
            stmt = stmt.where(LegalHold.target_id == target_id)
        with session_scope(self._engine) as session:
            return [_view(row, now) for row in session.scalars(stmt)]

    def held(self, target_kind: str, target_ids: Sequence[str]) -> dict[str, str]:
        """``{target id: hold id}`` for those of ``target_ids`` under an active hold."""
        target_kind = _validate_kind(target_kind)
        with session_scope(self._engine) as session:
            return active_holds(session, target_kind, target_ids, self._clock.now())
