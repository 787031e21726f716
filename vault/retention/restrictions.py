"""Processing restrictions: subjects and records whose data must not be used.

A row of ``processing_restrictions`` exists while a restriction is in force:

* ``restriction_request``: the data subject asked for restriction of processing (rights);
* ``correction_pending``: the subject's data is being corrected (rights);
* ``separate_storage``: a record moved to separate storage (a policy's restrict action).

While a subject is restricted, the records linked to it do not match in checks and its data is
left out of exports; a restricted record does not match in checks and is left out of record
listings. A restriction request or a pending correction also stops every use of the data
(:func:`use_blocking_reasons`): revealing the subject or its records and logging a new provision
to a third party answer :class:`RestrictedError` (409 ``restricted``). Only the rights workflow
(the access export, the correction, the erasure) and a legal-request read (a caller holding the
``restricted:read`` scope, with a purpose; audited with the restriction) pass. :func:`processable_records` is the SQL predicate the check and listing queries add;
:func:`restricted_ids` answers the same question for ids in Python. Lifting a restriction deletes
its row (the audit log keeps the history).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, delete, exists, select
from sqlalchemy.orm import Session

from pseudovault.vault.errors import ConflictError
from pseudovault.vault.records import repository as records_repository
from pseudovault.vault.store.data_models import ProcessingRestriction

__all__ = [
    "REASONS",
    "USE_BLOCKING",
    "RestrictedError",
    "use_blocking_reasons",
    "add_restriction",
    "in_separate_storage",
    "lift_restriction",
    "not_in_separate_storage",
    "processable_records",
    "restricted_ids",
    "restriction_reasons",
]

REASONS = ("restriction_request", "correction_pending", "separate_storage")

#: the reasons that stop every use of a subject's data (PIPA Art. 36-37), not only matching
USE_BLOCKING = ("correction_pending", "restriction_request")


class RestrictedError(ConflictError):
    """The subject's processing is restricted (a restriction request, or a correction under way):
    its data may not be used. Names the reasons, never the data."""

    code = "restricted"

    def __init__(self, target_kind: str, target_id: str, reasons: Collection[str]) -> None:
        self.reasons = tuple(sorted(reasons))
        super().__init__(
            f"{target_kind} {target_id}: processing is restricted ({', '.join(self.reasons)}); its data may not be "
            "used until the restriction is lifted (a legal-request read needs the restricted:read scope and a purpose)"
        )


def use_blocking_reasons(
    session: Session, *, subject_id: str | None = None, record_id: str | None = None, at: datetime | None = None
) -> tuple[str, ...]:
    """The use-blocking reasons of the subject (or of the record's subject), sorted; empty when
    its data may be used (``at``: by a use at that time, so a use that happened before the
    restriction, such as a provision logged late, is not refused). The caller raises
    :class:`RestrictedError` or, for a legal-request read, records them in the audit entry."""
    if subject_id is None and record_id is not None:
        subject_id = records_repository.subjects_of(session, [record_id]).get(record_id)
    if subject_id is None:
        return ()
    stmt = select(ProcessingRestriction.reason).where(
        ProcessingRestriction.target_kind == "subject",
        ProcessingRestriction.target_id == subject_id,
        ProcessingRestriction.reason.in_(USE_BLOCKING),
    )
    if at is not None:
        stmt = stmt.where(ProcessingRestriction.created_at <= at)
    return tuple(sorted(set(session.scalars(stmt))))


def processable_records(records: Table | Any) -> ColumnElement[bool]:
    """SQL: a row of ``records`` (the table or the ORM class) that is not restricted, by itself
    or through its subject. Two ``NOT EXISTS`` on the ``(target_kind, target_id)`` index."""
    pr = ProcessingRestriction.__table__
    columns = records.c if isinstance(records, Table) else records
    return and_(
        ~exists().where(pr.c.target_kind == "record", pr.c.target_id == columns.id),
        ~exists().where(pr.c.target_kind == "subject", pr.c.target_id == columns.subject_id),
    )


def not_in_separate_storage(records: Table | Any) -> ColumnElement[bool]:
    """SQL: a row of ``records`` that is not in separate storage (listings leave those out)."""
    pr = ProcessingRestriction.__table__
    columns = records.c if isinstance(records, Table) else records
    return ~exists().where(
        pr.c.target_kind == "record", pr.c.target_id == columns.id, pr.c.reason == "separate_storage"
    )


def in_separate_storage(session: Session, record_id: str) -> bool:
    """Whether the record is in separate storage (read only with the restricted scope)."""
    return "separate_storage" in restriction_reasons(session, "record", record_id)


def restricted_ids(session: Session, target_kind: str, ids: Collection[str]) -> set[str]:
    """Those of ``ids`` (subjects or records, per ``target_kind``) under any restriction."""
    if not ids:
        return set()
    found: set[str] = set()
    listed = list(ids)
    for start in range(0, len(listed), 1000):
        found.update(
            session.scalars(
                select(ProcessingRestriction.target_id).where(
                    ProcessingRestriction.target_kind == target_kind,
                    ProcessingRestriction.target_id.in_(listed[start : start + 1000]),
                )
            )
        )
    return found


def restriction_reasons(session: Session, target_kind: str, target_id: str) -> list[str]:
    """The reasons ``target_id`` is restricted, sorted (empty when it is not)."""
    return sorted(
        set(
            session.scalars(
                select(ProcessingRestriction.reason).where(
                    ProcessingRestriction.target_kind == target_kind, ProcessingRestriction.target_id == target_id
                )
            )
        )
    )


def add_restriction(
    session: Session, target_kind: str, target_id: str, reason: str, now: datetime, request_id: str | None = None
) -> str:
    """Restrict ``target_id`` for ``reason`` (idempotent per target and reason); returns the row id."""
    if reason not in REASONS:
        raise ValueError(f"unknown restriction reason {reason!r}")
    existing = session.scalar(
        select(ProcessingRestriction.id).where(
            ProcessingRestriction.target_kind == target_kind,
            ProcessingRestriction.target_id == target_id,
            ProcessingRestriction.reason == reason,
        )
    )
    if existing is not None:
        return existing
    row_id = str(uuid.uuid4())
    session.add(
        ProcessingRestriction(
            id=row_id,
            target_kind=target_kind,
            target_id=target_id,
            reason=reason,
            request_id=request_id,
            created_at=now,
        )
    )
    session.flush()
    return row_id


def lift_restriction(session: Session, target_kind: str, target_id: str, reason: str) -> bool:
    """Lift the ``reason`` restriction of ``target_id``; returns whether there was one."""
    result = session.execute(
        delete(ProcessingRestriction).where(
            and_(
                ProcessingRestriction.target_kind == target_kind,
                ProcessingRestriction.target_id == target_id,
                ProcessingRestriction.reason == reason,
            )
        )
    )
    return bool(getattr(result, "rowcount", 0))
