"""The records' tables as other packages reach them: ``records``, ``record_fields``, ``record_identifiers``.

Only the records package names these tables' models. Subjects (unlinking on shred), retention
(plans, sweeps, erasure, rights), checks (the match statements) and lookup keys (pseudonyms per
version) ask here. Every function runs in the caller's session, so a caller's operation stays one
transaction per store; what a function returns is ids, codes, timestamps and ciphertext.

This module sits low in the vault's layers (it imports the store only): the read-side guards and
the key layer's users below the record service call it without a loop. Where another package's
rule must join in (a record is processable unless restricted; a record needs a retention item),
that package passes its predicate over the columns given to it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    CTE,
    ColumnElement,
    CursorResult,
    Insert,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import exists as sql_exists
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from pseudovault.vault.store.data_models import Record, RecordField, RecordIdentifier
from pseudovault.vault.store.db import one_of, one_of_param
from pseudovault.vault.store.driver import DriverStatement, id_batches

__all__ = [
    "RecordFacts",
    "categories",
    "count_orphaned_pseudonyms",
    "delete_pseudonyms",
    "delete_records",
    "exists",
    "expires_at_type",
    "facts",
    "facts_of_subject",
    "ids_of_subject",
    "ids_of_subject_query",
    "match_query",
    "missing_ids",
    "own_keys",
    "present",
    "pseudonym_counts",
    "reindex_insert",
    "subjects_of",
    "text_ciphertexts",
    "text_field_names",
    "unlink_subjects",
]

_UNSYNCHRONISED = {"synchronize_session": False}  # the session holds none of these rows as objects


class RecordFacts(NamedTuple):
    """What retention and erasure need to know of a record: ids, codes and dates."""

    id: str
    subject_id: str | None
    category: str
    own_key: bool
    created_at: datetime
    expires_at: datetime | None
    review_at: datetime | None


_FACTS = (
    Record.id,
    Record.subject_id,
    Record.category,
    Record.own_key,
    Record.created_at,
    Record.expires_at,
    Record.review_at,
)


# --- reading ----------------------------------------------------------------------------------


def exists(session: Session, record_id: str) -> bool:
    return session.get(Record, record_id) is not None


def present(session: Session, record_ids: Collection[str]) -> set[str]:
    """The ids among ``record_ids`` whose record exists."""
    found: set[str] = set()
    for batch in id_batches(record_ids):
        found.update(session.scalars(select(Record.id).where(one_of(Record.id, batch))))
    return found


def facts(session: Session, record_ids: Collection[str]) -> list[RecordFacts]:
    """The facts of the records among ``record_ids`` that exist, in no particular order."""
    out: list[RecordFacts] = []
    for batch in id_batches(record_ids):
        out.extend(RecordFacts(*row) for row in session.execute(select(*_FACTS).where(one_of(Record.id, batch))))
    return out


def facts_of_subject(session: Session, subject_id: str) -> list[RecordFacts]:
    """The facts of the records linked to the subject, by record id."""
    stmt = select(*_FACTS).where(Record.subject_id == subject_id).order_by(Record.id)
    return [RecordFacts(*row) for row in session.execute(stmt)]


def ids_of_subject(session: Session, subject_id: str) -> list[str]:
    """The ids of the records linked to the subject, oldest first."""
    stmt = select(Record.id).where(Record.subject_id == subject_id).order_by(Record.created_at, Record.id)
    return list(session.scalars(stmt))


def ids_of_subject_query(subject_id: str) -> Select[Any]:
    """The ids of the records linked to the subject, as a subquery for another table's statement."""
    return select(Record.id).where(Record.subject_id == subject_id)


def created_at_of(record_id: Any) -> Any:
    """The creation time of the record whose id is the column ``record_id``, as a correlated
    scalar subquery for another table's statement."""
    return select(Record.created_at).where(Record.id == record_id).scalar_subquery()


def subjects_of(session: Session, record_ids: Collection[str]) -> dict[str, str]:
    """``{record id: subject id}`` for the records among ``record_ids`` linked to a subject."""
    out: dict[str, str] = {}
    for batch in id_batches(record_ids):
        for record_id, subject_id in session.execute(select(Record.id, Record.subject_id).where(one_of(Record.id, batch))):
            if subject_id is not None:
                out[record_id] = subject_id
    return out


def own_keys(session: Session, record_ids: Collection[str]) -> dict[str, bool]:
    """``{record id: whether its text is under a key of its own}`` for the records that exist."""
    out: dict[str, bool] = {}
    for batch in id_batches(record_ids):
        out.update((record_id, own_key) for record_id, own_key in session.execute(select(Record.id, Record.own_key).where(one_of(Record.id, batch))))
    return out


def categories(session: Session, record_ids: Collection[str]) -> dict[str, str]:
    """``{record id: category}`` for the records that exist."""
    out: dict[str, str] = {}
    for batch in id_batches(record_ids):
        out.update((record_id, category) for record_id, category in session.execute(select(Record.id, Record.category).where(one_of(Record.id, batch))))
    return out


def missing_ids(
    session: Session, covered: Callable[[Any, Any], ColumnElement[bool]], limit: int
) -> list[str]:
    """Up to ``limit`` ids of records for which ``covered(record id, category)`` is false (the caller's
    correlated predicate over its own table)."""
    return list(session.scalars(select(Record.id).where(~covered(Record.id, Record.category)).limit(limit)))


def text_field_names(session: Session, record_id: str) -> list[str]:
    """The names of the record's stored text fields, sorted."""
    return sorted(session.scalars(select(RecordField.name).where(RecordField.record_id == record_id)))


def text_ciphertexts(session: Session, record_id: str) -> list[tuple[str, bytes, int]]:
    """``(name, ciphertext, schema_version)`` of the record's text fields."""
    stmt = select(RecordField.name, RecordField.ciphertext, RecordField.schema_version).where(RecordField.record_id == record_id)
    return [(name, bytes(ciphertext), int(version)) for name, ciphertext, version in session.execute(stmt)]


# --- pseudonyms per lookup-key version (vault.crypto.lookup) ------------------------------------


def count_orphaned_pseudonyms(session: Session, version: int, other_versions: Sequence[int]) -> int:
    """How many identifiers have an exact pseudonym under ``version`` and none under any of
    ``other_versions``: destroying ``version`` would stop them matching."""
    other = aliased(RecordIdentifier)
    covered = sql_exists().where(
        and_(
            other.record_id == RecordIdentifier.record_id,
            other.slot == RecordIdentifier.slot,
            other.lookalike == RecordIdentifier.lookalike,
            other.lookup_version.in_(list(other_versions)),
        )
    )
    stmt = (
        select(func.count())
        .select_from(RecordIdentifier)
        .where(RecordIdentifier.lookup_version == version, RecordIdentifier.lookalike.is_(False))
    )
    if other_versions:
        stmt = stmt.where(~covered)
    return int(session.scalar(stmt) or 0)


def delete_pseudonyms(session: Session, version: int) -> int:
    """Delete every pseudonym derived under ``version``; how many there were."""
    result = cast(CursorResult[Any], session.execute(delete(RecordIdentifier).where(RecordIdentifier.lookup_version == version)))
    return int(result.rowcount)


def pseudonym_counts(session: Session) -> dict[int, int]:
    """How many pseudonyms the data store holds under each lookup-key version."""
    stmt = select(RecordIdentifier.lookup_version, func.count()).group_by(RecordIdentifier.lookup_version)
    return {int(version): int(count) for version, count in session.execute(stmt)}


# --- the statements of a check (vault.checks) ---------------------------------------------------


def match_query(
    live_statuses: Sequence[str], processable: Callable[[Table], ColumnElement[bool]], dialect_name: str
) -> Select[Any]:
    """The statement of a check: the rows of the pseudonyms in the expanding ``items`` parameter
    (by the pseudonym index) with their records (by primary key), kept when the record is of
    ``domain``, live, unexpired at ``now`` and ``processable``. Most checks miss, and a miss costs
    one probe of the pseudonym index: the records are read and filtered only for rows that hit.

    The order is forced, whatever the planner's statistics say: PostgreSQL reads the record of
    each hit in a ``LATERAL`` subquery (its ``LIMIT 1`` on the primary key keeps the planner from
    flattening it into a join it might start from ``records``, as it does before the first
    ``ANALYZE``); SQLite's planner starts from the indexed ``IN`` by itself."""
    ri = cast(Table, RecordIdentifier.__table__)
    r = cast(Table, Record.__table__)
    identifier_columns = (
        ri.c.pseudonym,
        ri.c.record_id,
        ri.c.slot,
        ri.c.lookup_version,
        ri.c.lookalike,
        ri.c.kind,
        ri.c.norm_version,
    )
    record_filter = (
        r.c.domain == bindparam("domain"),
        r.c.status.in_(list(live_statuses)),
        or_(r.c.expires_at.is_(None), r.c.expires_at > bindparam("now", type_=r.c.expires_at.type)),
        processable(r),
    )
    hit = ri.c.pseudonym.in_(bindparam("items", expanding=True))
    if dialect_name == "postgresql":
        live = (
            select(r.c.category, r.c.reason_code, r.c.severity, r.c.status)
            .where(r.c.id == ri.c.record_id, *record_filter)
            .limit(1)
            .lateral("live")
        )
        return (
            select(*identifier_columns, live.c.category, live.c.reason_code, live.c.severity, live.c.status)
            .select_from(ri.join(live, true()))
            .where(hit)
        )
    return (
        select(*identifier_columns, r.c.category, r.c.reason_code, r.c.severity, r.c.status)
        .select_from(ri.join(r, r.c.id == ri.c.record_id))
        .where(hit, *record_filter)
    )


def expires_at_type() -> Any:
    """The column type of ``records.expires_at`` (a check binds ``now`` with its processor)."""
    return cast(Table, Record.__table__).c.expires_at.type


def reindex_insert(dialect_name: str) -> Insert:
    """An insert of record identifiers that skips rows present already (lazy re-indexing)."""
    insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    return insert(cast(Table, RecordIdentifier.__table__)).on_conflict_do_nothing(
        index_elements=["record_id", "slot", "lookup_version", "lookalike"]
    )


# --- changing -------------------------------------------------------------------------------------


# built once (see vault.store.db.one_of_param), run on the driver's cursor; executed with "ids"
_UNLINK_SUBJECTS_UPDATE = (
    update(Record).where(one_of_param(Record.subject_id, "ids")).values(subject_id=None).returning(Record.id, Record.own_key)
)
_UNLINK_SUBJECTS = DriverStatement(_UNLINK_SUBJECTS_UPDATE)
_DELETE_RECORD_FIELDS = DriverStatement(delete(RecordField).where(one_of_param(RecordField.record_id, "ids")))


def unlink_subjects_parts() -> tuple[CTE, CTE]:
    """What :func:`unlink_subjects` does, as two parts of a PostgreSQL statement built once by its
    caller (``WITH unlinked AS (UPDATE records ...), record_text AS (DELETE FROM record_fields
    ...)``), executed with the subject ids as ``ids``: the shred of a subject deletes its data,
    cuts these links and writes its tombstone in one round trip to the server. Both run once
    whether or not the statement reads them, in its snapshot."""
    unlinked = _UNLINK_SUBJECTS_UPDATE.cte("unlinked")
    under_subject_key = select(unlinked.c.id).where(unlinked.c.own_key.is_(False))
    record_text = delete(RecordField).where(RecordField.record_id.in_(under_subject_key)).cte("record_text")
    return unlinked, record_text


def unlink_subjects(session: Session, subject_ids: Collection[str]) -> None:
    """The subjects are being shredded: their records lose the link and the text that was under the
    subject's data key; their codes and pseudonyms stay (bans survive erasure)."""
    # one statement when the subjects have no records (the usual case): the UPDATE says which
    # records were linked, and only the text of those under the subject's key is then deleted;
    # both go to the session's connection (the callers load no record as an object)
    connection = session.connection()
    unlinked = _UNLINK_SUBJECTS.rows(connection, {"ids": list(subject_ids)})
    under_subject_key = [record_id for record_id, own_key in unlinked if not own_key]
    if under_subject_key:
        _DELETE_RECORD_FIELDS.run(connection, {"ids": under_subject_key})


def delete_records(session: Session, record_ids: Collection[str]) -> None:
    """Delete the records' text, pseudonyms and rows (their own keys are the key store's business)."""
    ids = list(record_ids)
    session.execute(delete(RecordField).where(one_of(RecordField.record_id, ids)), execution_options=_UNSYNCHRONISED)
    session.execute(delete(RecordIdentifier).where(one_of(RecordIdentifier.record_id, ids)), execution_options=_UNSYNCHRONISED)
    session.execute(delete(Record).where(one_of(Record.id, ids)), execution_options=_UNSYNCHRONISED)
