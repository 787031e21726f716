"""The subjects' tables as other packages reach them: ``subjects``, ``subject_fields``, ``tombstones``.

Only the subjects package names these tables' models; retention, records and erasure ask here. Every
function runs in the caller's session (its transaction, its store) and returns ids, names and
ciphertext, never an object to change: what changes a subject goes through
:class:`vault.subjects.service.SubjectService`.

This module sits low in the vault's layers (it imports the store only), so that the read-side
guards and the key layer's users below the subject service can call it without a loop.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pseudovault.vault.store.data_models import Subject, SubjectField, Tombstone
from pseudovault.vault.store.db import one_of_param
from pseudovault.vault.store.driver import DriverStatement, id_batches

__all__ = ["created_at", "exists", "field_ciphertexts", "field_names", "is_tombstoned", "present"]


# the batch reads (the retention sweeper's, a thousand subjects at a time), built once and run on
# the driver's cursor (vault.store.driver); executed with "ids", one of vault.store.driver.id_batches
_PRESENT = DriverStatement(select(Subject.id).where(one_of_param(Subject.id, "ids")))
_FIELD_NAMES = DriverStatement(
    select(SubjectField.subject_id, SubjectField.name).where(one_of_param(SubjectField.subject_id, "ids"))
)
_FIELD_TIMES = DriverStatement(
    select(SubjectField.subject_id, SubjectField.name, SubjectField.collected_at).where(
        one_of_param(SubjectField.subject_id, "ids")
    )
)


def exists(session: Session, subject_id: str) -> bool:
    """Whether the subject exists (not shredded)."""
    return session.get(Subject, subject_id) is not None


def created_at(session: Session, subject_id: str) -> datetime | None:
    """When the subject was created; None when it does not exist."""
    return session.scalar(select(Subject.created_at).where(Subject.id == subject_id))


def created_at_of(subject_id: Any) -> Any:
    """The creation time of the subject whose id is the column ``subject_id``, as a correlated
    scalar subquery for another table's statement."""
    return select(Subject.created_at).where(Subject.id == subject_id).scalar_subquery()


def field_times(session: Session, subject_ids: Collection[str]) -> dict[str, dict[str, datetime | None]]:
    """``{subject: {field name: when its value was collected (None: before that was kept)}}``."""
    out: dict[str, dict[str, datetime | None]] = {sid: {} for sid in subject_ids}
    connection = session.connection()
    for batch in id_batches(subject_ids):
        for sid, name, at in _FIELD_TIMES.rows(connection, {"ids": batch}):
            out[sid][name] = at
    return out


def present(session: Session, subject_ids: Collection[str]) -> set[str]:
    """The ids among ``subject_ids`` whose subject exists."""
    found: set[str] = set()
    connection = session.connection()
    for batch in id_batches(subject_ids):
        found.update(sid for (sid,) in _PRESENT.rows(connection, {"ids": batch}))
    return found


def is_tombstoned(session: Session, subject_id: str) -> bool:
    """Whether the subject was shredded (its tombstone is kept)."""
    return session.get(Tombstone, subject_id) is not None


def field_names(session: Session, subject_ids: Collection[str]) -> dict[str, set[str]]:
    """``{subject id: names of its stored fields}`` for each of ``subject_ids``."""
    out: dict[str, set[str]] = {sid: set() for sid in subject_ids}
    connection = session.connection()
    for batch in id_batches(subject_ids):
        for sid, name in _FIELD_NAMES.rows(connection, {"ids": batch}):
            out[sid].add(name)
    return out


def field_ciphertexts(session: Session, subject_id: str, names: Collection[str] | None) -> list[tuple[str, bytes, int]]:
    """``(name, ciphertext, schema_version)`` of the subject's fields ``names`` (None: all), by name."""
    stmt = select(SubjectField.name, SubjectField.ciphertext, SubjectField.schema_version).where(
        SubjectField.subject_id == subject_id
    )
    if names is not None:
        if not names:
            return []
        stmt = stmt.where(SubjectField.name.in_(list(names)))
    return [(name, bytes(ciphertext), int(version)) for name, ciphertext, version in session.execute(stmt.order_by(SubjectField.name))]
