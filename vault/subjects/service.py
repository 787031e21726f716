"""Subjects: a person's recoverable PII, field by field, encrypted under that subject's data key.

Why one module of this size: create, read, update and shred share the two-store write order (key
store first, then data store, undone on failure) and the audit entries that go with it; the SQL
other packages need is in vault.subjects.repository.

Input rules (a violation is :class:`vault.errors.InvalidInputError` and nothing is written):

* a subject id is a UUID in canonical text form (``8-4-4-4-12`` hex digits; upper case is read
  as lower case); ids are random UUID4s chosen by :meth:`SubjectService.create`;
* a field name matches ``[a-z][a-z0-9_]{0,63}`` (``name``, ``email``, ``phone``, or any other);
  an invalid name is not echoed back (a caller may have put PII in it);
* a value is a non-empty ``str`` of at most 64 KiB once encoded as UTF-8 (lone surrogates are
  refused); ``None`` in :meth:`SubjectService.update` deletes the field;
* a subject holds at most 1000 fields; a subject with no fields is allowed;
* a reason code matches ``[a-z][a-z0-9_]{0,39}``: a code, never free text.

Each field's ciphertext is :class:`keys.aead.Aead` output (``nonce || ciphertext || tag``) under
the subject's data key, with the associated data of :mod:`vault.crypto.fields` (label
``pseudovault/field``, the subject id, the field name, the schema version), so a ciphertext copied to another subject, another field or another schema version fails to
decrypt. Any failure to decrypt while reading is one opaque :class:`keys.errors.DecryptionError`:
the read returns nothing, never the fields that did decrypt.

Legal holds: a subject under an active hold (vault.retention.holds) is not shredded: ``shred``
and ``shred_many`` raise :class:`vault.retention.holds.HeldError` (a ConflictError naming the hold)
and destroy nothing.

Not found: a subject that never existed, a shredded subject and a subject whose data key is gone
answer the same :class:`vault.errors.NotFoundError` ("subject <id> not found"). Shredding is the
one exception, on purpose: shredding a shredded subject again is an idempotent success
(``already=True``), shredding an id that never existed is NotFoundError.

Each public method is one unit of work per store. ``create`` writes the key store first and, if
writing the data store then fails, deletes what it wrote. ``shred`` deletes the wrapped data key
first (that is the guarantee: without it the ciphertext is noise), records the id in the shred
ledger, then deletes the ciphertext and the subject and writes a tombstone. If it is interrupted
after the first step, shredding again completes it.
"""

from __future__ import annotations

import builtins
import hmac
import logging
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine, any_, bindparam, delete, exists, func, insert, null, select, true, union_all, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from pseudovault.keys.aead import Aead
from pseudovault.keys.errors import DecryptionError
from pseudovault.vault import idempotency
from pseudovault.vault.audit import AuditLog, validate_purpose
from pseudovault.vault.clock import Clock
from pseudovault.vault.crypto.fields import FieldCipher, FieldOwner
from pseudovault.vault.crypto.keystore import KeyHierarchy
from pseudovault.vault.crypto.ledger import SOURCE as LEDGER_SOURCE
from pseudovault.vault.crypto.ledger import ShredLedger
from pseudovault.vault.crypto.oneway import ONE_WAY_SCHEMA, FieldRules
from pseudovault.vault.errors import InvalidInputError, NotFoundError
from pseudovault.vault.idempotency import IdempotencyClaim
from pseudovault.vault.ids import validate_field_name, validate_reason_code, validate_subject_id
from pseudovault.vault.records import repository as records_repository
from pseudovault.vault.retention.holds import HeldError, active_hold_rows, oldest_holds
from pseudovault.vault.retention.repository import in_any_category
from pseudovault.vault.retention.restrictions import RestrictedError, use_blocking_reasons
from pseudovault.vault.store.data_models import Subject, SubjectField, Tombstone
from pseudovault.vault.store.db import (
    array_param,
    array_rows,
    checkpoint_sqlite,
    insert_from_arrays,
    insert_rows,
    one_of,
    one_of_param,
    session_scope,
)
from pseudovault.vault.store.driver import DriverStatement

__all__ = [
    "SCHEMA_VERSION",
    "MAX_FIELDS",
    "MAX_VALUE_BYTES",
    "MAX_LIST_LIMIT",
    "REPLAY_REASON_CODE",
    "CreateHook",
    "SubjectService",
    "SubjectSummary",
    "ShredResult",
    "validate_subject_id",
    "validate_field_name",
    "validate_reason_code",
]

log = logging.getLogger(__name__)

#: what a create may add to the new subject in its own data-store transaction:
#: ``(session, subject_id, created_at)``
CreateHook = Callable[[Session, str, datetime], None]
#: ``(session, subject_id, now)``
class FieldsSetHook(Protocol):
    """What follows a subject's new values in its update's unit of work (vault.retention: a
    per-entry category runs from each value's own collection)."""

    def per_entry_categories(self) -> Sequence[str]:
        """The category codes whose subjects must be told of new values (none: nothing to do)."""

    def fields_set(self, session: Session, subject_id: str, now: datetime, *, in_category: bool | None = None) -> None:
        """The subject's fields were set ``now``; ``in_category``: whether it is in one of
        :meth:`per_entry_categories` when the caller has read it (None: look it up)."""

SCHEMA_VERSION = 1
MAX_FIELDS = 1000
MAX_VALUE_BYTES = 64 * 1024
MAX_LIST_LIMIT = 1000
#: the reason code of a tombstone written back by :meth:`SubjectService.replay_shred_ledger`
REPLAY_REASON_CODE = "ledger_replay"

_REPLAY_BATCH = 500
#: ids per statement when a shred looks up what it finds (three lookups of each on SQLite)
_FINDS_BATCH = 1000


@dataclass(frozen=True)
class SubjectSummary:
    """A subject as :meth:`SubjectService.list` shows it: no field values."""

    subject_id: str
    created_at: datetime
    updated_at: datetime
    field_names: tuple[str, ...]


@dataclass(frozen=True)
class ShredResult:
    """``already`` is True when the subject had been shredded before this call; ``shredded_at``
    is then the time of the first shred."""

    subject_id: str
    shredded_at: datetime
    already: bool



def _encode_value(name: str, value: object) -> bytes:
    if not isinstance(value, str):
        raise InvalidInputError(f"fields.{name}", "must be a string")
    if not value:
        raise InvalidInputError(f"fields.{name}", "must not be empty")
    if len(value) > MAX_VALUE_BYTES:  # cheap early refusal: every character is at least one byte
        raise InvalidInputError(f"fields.{name}", f"must be at most {MAX_VALUE_BYTES} bytes of UTF-8")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"fields.{name}", "must be valid Unicode text") from None
    if len(encoded) > MAX_VALUE_BYTES:
        raise InvalidInputError(f"fields.{name}", f"must be at most {MAX_VALUE_BYTES} bytes of UTF-8")
    return encoded


def _validate_fields(fields: object, *, allow_delete: bool) -> dict[str, bytes | None]:
    if not isinstance(fields, Mapping):
        raise InvalidInputError("fields", "must be a mapping of field names to strings")
    if len(fields) > MAX_FIELDS:
        raise InvalidInputError("fields", f"at most {MAX_FIELDS} fields per subject")
    out: dict[str, bytes | None] = {}
    for name, value in fields.items():
        validate_field_name(name)
        if value is None and allow_delete:
            out[name] = None
        else:
            out[name] = _encode_value(name, value)
    return out


# built once (see vault.store.db.one_of_param): the shred path's statements, executed with "ids"
# (and "now" for the holds): what a shred finds, in one statement: (id, NULL, NULL, NULL) for a
# subject row, (id, shredded at, NULL, NULL) for a tombstone, (id, NULL, hold id, placed at) for
# an active legal hold
_HOLD_ROWS = active_hold_rows("subject").subquery()
_SHRED_FINDS = union_all(
    select(
        Subject.id.label("subject_id"),
        null().cast(Tombstone.shredded_at.type).label("shredded_at"),
        null().cast(_HOLD_ROWS.c.id.type).label("hold_id"),
        null().cast(_HOLD_ROWS.c.placed_at.type).label("placed_at"),
    ).where(one_of_param(Subject.id, "ids")),
    select(
        Tombstone.subject_id,
        Tombstone.shredded_at,
        null().cast(_HOLD_ROWS.c.id.type),
        null().cast(_HOLD_ROWS.c.placed_at.type),
    ).where(one_of_param(Tombstone.subject_id, "ids")),
    select(
        _HOLD_ROWS.c.target_id, null().cast(Tombstone.shredded_at.type), _HOLD_ROWS.c.id, _HOLD_ROWS.c.placed_at
    ),
)
_DELETE_FIELDS = delete(SubjectField).where(one_of_param(SubjectField.subject_id, "ids"))
_DELETE_SUBJECTS = delete(Subject).where(one_of_param(Subject.id, "ids"))


def _shred_data_statement() -> DriverStatement:
    """A shred's work in the data store on PostgreSQL (where each statement is a round trip to the
    server) as one statement, executed with ``ids`` and the tombstones' columns ``rows_0``
    (subject ids), ``rows_1`` (times) and ``rows_2`` (reason codes)::

        WITH fields AS (DELETE FROM subject_fields ...),
             unlinked AS (UPDATE records SET subject_id = NULL ... RETURNING ...),
             record_text AS (DELETE FROM record_fields ... the unlinked under the subject's key),
             subjects AS (DELETE FROM subjects ...)
        INSERT INTO tombstones ... FROM unnest(...)

    Every part runs once, in the statement's snapshot; the foreign keys are checked when the
    whole statement ends, with every part done (see ``_delete_data_many`` for what each does).
    A tombstone already there is kept: a shred of the same subject committed while this one
    waited for its rows (SQLite's write lock orders them before they read anything)."""
    unlinked, record_text = records_repository.unlink_subjects_parts()
    tombstones = insert_from_arrays(Tombstone, ("subject_id", "shredded_at", "reason_code"))
    return DriverStatement(
        tombstones.on_conflict_do_nothing(index_elements=["subject_id"]).add_cte(
            _DELETE_FIELDS.cte("fields"), unlinked, record_text, _DELETE_SUBJECTS.cte("subjects")
        )
    )


_SHRED_DATA = _shred_data_statement()
#: the shred's statements on the driver's cursor: SQLAlchemy's execute of them cost a sixth of a
#: one-subject shred's time on PostgreSQL and more on SQLite
_SHRED_FINDS_DRIVER = DriverStatement(_SHRED_FINDS)
_DELETE_FIELDS_DRIVER = DriverStatement(_DELETE_FIELDS)
_DELETE_SUBJECTS_DRIVER = DriverStatement(_DELETE_SUBJECTS)
# an update's statements, built once likewise: the subject touched (and so locked on PostgreSQL)
# first, which also says whether it exists; its field names; a field set, or some deleted
_TOUCH_SUBJECT = DriverStatement(
    update(Subject).where(Subject.id == bindparam("subject")).values(updated_at=bindparam("now")).returning(Subject.id)
)
_FIELD_NAMES = DriverStatement(select(SubjectField.name).where(SubjectField.subject_id == bindparam("subject")))
_SET_FIELD = DriverStatement(
    update(SubjectField)
    .where(SubjectField.subject_id == bindparam("subject"), SubjectField.name == bindparam("field"))
    .values(ciphertext=bindparam("value"), schema_version=bindparam("version"), collected_at=bindparam("now"))
)
_DELETE_NAMED_FIELDS = delete(SubjectField).where(
    SubjectField.subject_id == bindparam("subject"), one_of_param(SubjectField.name, "names")
)


def _update_statement() -> DriverStatement:
    """An update's work on PostgreSQL (where each statement is a round trip) as one statement,
    executed with ``subject``, ``now``, the names, ciphertexts and versions of the values set
    (``names``, ``ciphertexts``, ``versions``), the names deleted (``removed``) and the
    per-entry category codes (``per_entry``)::

        WITH touched AS (UPDATE subjects SET updated_at = :now WHERE id = :subject RETURNING id),
             gone AS (DELETE FROM subject_fields WHERE the subject's and named in :removed),
             upserted AS (INSERT INTO subject_fields SELECT ... FROM touched, unnest(...)
                          ON CONFLICT (subject_id, name) DO UPDATE SET ...)
        SELECT touched.id, (its other fields), (whether it is in a per-entry category) FROM touched

    No row: no such subject, and nothing was written (the values go in for a touched subject
    only). The count is of the fields neither set nor deleted, in the statement's snapshot: with
    the values set it makes the subject's fields after the update (checked against MAX_FIELDS,
    the unit of work rolling back beyond it). An upsert, not an update of the fields read first:
    a value set by an update of the same subject committed while this one waited for its lock is
    overwritten, never lost to a stale read."""
    touched = (
        update(Subject).where(Subject.id == bindparam("subject")).values(updated_at=bindparam("now")).returning(Subject.id)
    ).cte("touched")
    removed = array_param("removed", SubjectField.name)
    gone = delete(SubjectField).where(SubjectField.subject_id == bindparam("subject"), SubjectField.name == any_(removed))
    given = func.unnest(
        array_param("names", SubjectField.name),
        array_param("ciphertexts", SubjectField.ciphertext),
        array_param("versions", SubjectField.schema_version),
    ).table_valued("name", "ciphertext", "schema_version").render_derived()
    values = select(
        touched.c.id, given.c.name, given.c.ciphertext, given.c.schema_version,
        bindparam("now", type_=SubjectField.collected_at.type),
    ).select_from(touched.join(given, true()))
    insert_values = postgresql.insert(SubjectField).from_select(
        ["subject_id", "name", "ciphertext", "schema_version", "collected_at"], values
    )
    upserted = insert_values.on_conflict_do_update(
        index_elements=["subject_id", "name"],
        set_={
            "ciphertext": insert_values.excluded.ciphertext,
            "schema_version": insert_values.excluded.schema_version,
            "collected_at": insert_values.excluded.collected_at,
        },
    )
    named = array_param("named", SubjectField.name)
    others = (
        select(func.count())
        .select_from(SubjectField)
        .where(SubjectField.subject_id == bindparam("subject"), ~(SubjectField.name == any_(named)))
        .scalar_subquery()
    )
    per_entry = in_any_category("subject", "per_entry")
    result = select(touched.c.id, others.label("others"), per_entry.label("per_entry")).select_from(touched)
    return DriverStatement(result.add_cte(gone.cte("gone"), upserted.cte("upserted")))


_UPDATE = _update_statement()

# a create's rows on PostgreSQL in one statement, executed with ``subject``, ``now``, ``version``
# and the fields' columns ``rows_0``...``rows_4`` (see vault.store.db.insert_from_arrays):
# WITH subject AS (INSERT INTO subjects ...) INSERT INTO subject_fields ... FROM unnest(...);
# the fields' foreign key is checked when the whole statement ends, the subject's row in
_FIELD_COLUMNS = ("subject_id", "name", "ciphertext", "schema_version", "collected_at")
_CREATE = DriverStatement(
    insert_from_arrays(SubjectField, _FIELD_COLUMNS).add_cte(
        insert(Subject)
        .values(id=bindparam("subject"), created_at=bindparam("now"), updated_at=bindparam("now"), schema_version=bindparam("version"))
        .cte("subject")
    )
)


def _field_rows(subject_id: str, sealed: Mapping[str, tuple[bytes, int]], now: datetime) -> list[dict[str, Any]]:
    """The ``subject_fields`` rows of sealed values (see ``SubjectService._seal``), collected ``now``."""
    return [
        {"subject_id": subject_id, "name": name, "ciphertext": ciphertext, "schema_version": version, "collected_at": now}
        for name, (ciphertext, version) in sealed.items()
    ]


class SubjectService:
    """Create, read, update, list and shred subjects across the data store and the key store."""

    def __init__(
        self, data_engine: Engine, keys: KeyHierarchy, clock: Clock, audit: AuditLog, rules: FieldRules | None = None
    ) -> None:
        self._engine = data_engine
        self._keys = keys
        self._clock = clock
        self._audit = audit
        self.rules = rules if rules is not None else FieldRules()
        #: called in an update's transaction after fields were set: ``(session, subject_id, now)``
        #: (the vault wires retention's per-entry scheduling here)
        self.on_fields_set: FieldsSetHook | None = None

    def _stored_forms(self, values: Mapping[str, bytes | None]) -> dict[str, tuple[bytes, int] | None]:
        """Each value as it is stored: a one-way field's Argon2id hash (vault.crypto.oneway), the
        others as they are, each with its schema version. A secret-looking name that is not
        declared is refused before anything is written."""
        out: dict[str, tuple[bytes, int] | None] = {}
        for name, value in values.items():
            if value is None:
                out[name] = None
            elif self.rules.is_one_way(name):
                out[name] = (self.rules.hash(value), ONE_WAY_SCHEMA)
            else:
                self.rules.check_reversible(name)
                out[name] = (value, SCHEMA_VERSION)
        return out

    def __repr__(self) -> str:
        return "SubjectService()"

    # --- helpers --------------------------------------------------------------------------

    @staticmethod
    def _encrypt(cipher: FieldCipher, name: str, value: bytes, version: int = SCHEMA_VERSION) -> bytes:
        return cipher.encrypt(name, value, version)

    def _seal(self, cipher: FieldCipher, values: Mapping[str, tuple[bytes, int] | None]) -> dict[str, tuple[bytes, int]]:
        """``{name: (ciphertext, schema version)}`` of the values to store (a None is a deletion)."""
        return {name: (self._encrypt(cipher, name, *stored), stored[1]) for name, stored in values.items() if stored is not None}

    def _checkpoint(self) -> None:
        """After deleting keys or ciphertext, move old page images out of SQLite's write-ahead log."""
        checkpoint_sqlite(self._keys.engine)
        checkpoint_sqlite(self._engine)

    # --- create / read / update -----------------------------------------------------------

    def create(self, fields: Mapping[str, str], *, then: CreateHook | None = None) -> str:
        """A new subject holding ``fields``; returns its id. ``then(session, subject_id, created_at)``
        adds to the subject in the same data-store transaction (its categories, say)."""
        return self._create(fields, None, then)

    def create_once(
        self, fields: Mapping[str, str], claim: IdempotencyClaim, *, then: CreateHook | None = None
    ) -> tuple[str, bool]:
        """:meth:`create` under an idempotency key (vault.idempotency): ``(subject id, created)``;
        ``created`` is False when the key had created the subject already (nothing new is made)."""
        return idempotency.once(self._engine, claim, lambda: self._create(fields, claim, then))

    def _create(self, fields: Mapping[str, str], claim: IdempotencyClaim | None, then: CreateHook | None) -> str:
        values = self._stored_forms(_validate_fields(fields, allow_delete=False))
        subject_id = str(uuid.uuid4())
        with session_scope(self._keys.engine, write=True) as key_session:
            data_key = self._keys.create_data_key(key_session, subject_id)
        try:
            cipher = FieldCipher(Aead(data_key), FieldOwner.SUBJECT, subject_id)
            now = self._clock.now()
            rows = _field_rows(subject_id, self._seal(cipher, values), now)
            with session_scope(self._engine, write=True) as session:  # the subject and its audit entry: one commit
                self._insert_subject(session, subject_id, rows, now)
                self._audit.append("subject.create", targets=[subject_id], detail={"fields": len(rows)}, session=session)
                if then is not None:
                    then(session, subject_id, now)
                if claim is not None:
                    idempotency.record(session, claim, subject_id, now)
        except BaseException as exc:
            # a connection lost at COMMIT leaves its outcome unknown: the subject may be stored
            # (with its audit entry and idempotency key) though the driver raised. Undoing it then
            # would destroy the key of an acknowledged subject, so the store is asked first.
            stored = self._stored(subject_id)
            if stored and isinstance(exc, Exception):
                log.warning("subject %s: the commit's answer was lost (%s); it had committed", subject_id, type(exc).__name__)
                return subject_id
            if stored is False:
                self._undo_create(subject_id)
            elif stored is None:
                log.error("subject %s: a failed create cannot be checked (the data store is unreachable); its data key is kept", subject_id)
            raise
        log.info("created subject %s with %d fields", subject_id, len(values))
        return subject_id

    @staticmethod
    def _insert_subject(session: Session, subject_id: str, rows: builtins.list[dict[str, Any]], now: datetime) -> None:
        """The subject's row and its fields' rows: one statement on PostgreSQL (``_CREATE``)."""
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            params = array_rows(_FIELD_COLUMNS, rows)
            _CREATE.rows(connection, {**params, "subject": subject_id, "now": now, "version": SCHEMA_VERSION})
            return
        insert_rows(session, Subject, [{"id": subject_id, "created_at": now, "updated_at": now, "schema_version": SCHEMA_VERSION}])
        insert_rows(session, SubjectField, rows)

    def _stored(self, subject_id: str) -> bool | None:
        """Whether the subject's row is in the data store; None when the store cannot say."""
        try:
            with session_scope(self._engine) as session:
                return session.get(Subject, subject_id) is not None
        except Exception as exc:  # logged by class only: the driver's message can quote parameters
            log.warning("subject %s: cannot read the data store (%s)", subject_id, type(exc).__name__)
            return None

    def _undo_create(self, subject_id: str) -> None:
        """Compensate a create whose data-store write failed (its row is known to be absent):
        delete its key, then any data."""
        try:
            with session_scope(self._keys.engine, write=True) as key_session:
                self._keys.destroy_data_key(key_session, subject_id)
            with session_scope(self._engine, write=True) as session:
                self._delete_data(session, subject_id)
        except Exception as exc:  # the original error matters more; this one is logged by class only
            log.error("subject %s: undoing a failed create failed too (%s)", subject_id, type(exc).__name__)

    def read(
        self,
        subject_id: str,
        names: Collection[str] | None = None,
        *,
        purpose: str | None = None,
        restricted: str = "refuse",
    ) -> dict[str, str]:
        """The subject's fields, or only those of ``names`` it has (others are simply absent).

        Reading PII is a reveal: it is audited with the stated ``purpose`` (required by the HTTP
        API) and the field names read, never their values.

        A subject under a restriction request or a pending correction is not revealed
        (:class:`vault.retention.restrictions.RestrictedError`, audited ``conflict``) unless
        ``restricted`` is ``"legal_request"`` (a caller holding ``restricted:read``, with a
        purpose: audited with the restriction) or ``"rights"`` (the rights workflow itself).
        """
        subject_id = validate_subject_id(subject_id)
        wanted = self._validate_names(names)
        purpose = validate_purpose(purpose)
        if restricted not in ("refuse", "legal_request", "rights"):
            raise ValueError("restricted must be refuse, legal_request or rights")
        if restricted == "legal_request" and purpose is None:
            raise InvalidInputError("purpose", "is required for a legal-request read")
        detail: dict[str, Any] = {}
        with session_scope(self._engine) as session:
            if not session.scalar(select(exists().where(Subject.id == subject_id))):
                self._audit.append("subject.reveal", targets=[subject_id], purpose=purpose, outcome="not_found")
                raise NotFoundError("subject", subject_id)
            reasons = use_blocking_reasons(session, subject_id=subject_id)
            if reasons and restricted == "refuse":
                self._audit.append("subject.reveal", targets=[subject_id], purpose=purpose, outcome="conflict",
                                   detail={"restriction": reasons[0]})
                raise RestrictedError("subject", subject_id, reasons)
            if reasons:
                detail = {"restriction": reasons[0], "read_as": restricted}
            stmt = select(SubjectField.name, SubjectField.ciphertext, SubjectField.schema_version).where(
                SubjectField.subject_id == subject_id
            )
            if wanted is not None:
                stmt = stmt.where(SubjectField.name.in_(wanted))
            rows = session.execute(stmt).all() if wanted is None or wanted else []
        cipher = self._keys.subject_cipher(subject_id)
        out: dict[str, str] = {}
        try:
            for name, ciphertext, schema_version in rows:
                # every row is authenticated, so that a schema version changed by hand fails here
                plaintext = cipher.decrypt(name, ciphertext, schema_version)
                if schema_version == ONE_WAY_SCHEMA or self.rules.is_one_way(name):  # verified, never revealed
                    continue
                out[name] = plaintext.decode("utf-8")
        except (DecryptionError, UnicodeDecodeError):
            log.warning("subject %s: a field failed to decrypt", subject_id)
            self._audit.append("subject.reveal", targets=[subject_id], purpose=purpose, outcome="error")
            raise DecryptionError() from None
        if rows and not self._keys.has_data_key(subject_id):
            # shredded, perhaps by another process, while this read was under way: a key still in
            # this process's cache must not put data in an answer given after the shred committed
            out.clear()
            self._audit.append("subject.reveal", targets=[subject_id], purpose=purpose, outcome="not_found")
            raise NotFoundError("subject", subject_id)
        self._audit.append("subject.reveal", targets=[subject_id], purpose=purpose, detail={"fields": len(out), **detail})
        return out

    @staticmethod
    def _validate_names(names: Collection[str] | None) -> set[str] | None:
        if names is None:
            return None
        if isinstance(names, (str, bytes)):
            raise TypeError("names must be a collection of field names, not a single string")
        if len(names) > MAX_FIELDS:
            raise InvalidInputError("names", f"at most {MAX_FIELDS} field names")
        return {validate_field_name(name, "names") for name in names}

    def update(self, subject_id: str, fields: Mapping[str, str | None]) -> None:
        """Set the given fields (adding new ones); a value of None deletes that field."""
        subject_id = validate_subject_id(subject_id)
        values = self._stored_forms(_validate_fields(fields, allow_delete=True))
        cipher = self._keys.subject_cipher(subject_id)  # NotFoundError when shredded
        ciphertexts = self._seal(cipher, values)
        removed = {name for name, value in values.items() if value is None}
        with session_scope(self._engine, write=True) as session:
            connection = session.connection()
            now = self._clock.now()
            in_category: bool | None = None  # whether a per-entry category covers it (None: not read yet)
            if connection.dialect.name == "postgresql":
                in_category = self._update_in_one(session, subject_id, ciphertexts, removed, now)
            else:
                self._update_each(session, subject_id, ciphertexts, removed, now)
            if self.on_fields_set is not None and ciphertexts:  # per-entry retention schedules the new values
                self.on_fields_set.fields_set(session, subject_id, now, in_category=in_category)
            self._audit.append(
                "subject.update",
                targets=[subject_id],
                detail={"fields_set": len(ciphertexts), "fields_deleted": len(removed)},
                session=session,
            )
        log.info("updated subject %s: %d fields set, %d deleted", subject_id, len(ciphertexts), len(removed))

    @staticmethod
    def _update_each(
        session: Session, subject_id: str, ciphertexts: Mapping[str, tuple[bytes, int]], removed: set[str], now: datetime
    ) -> None:
        """:meth:`update`'s statements on SQLite, each a few microseconds: the subject touched,
        its field names read, the values deleted, changed and added."""
        connection = session.connection()
        if _TOUCH_SUBJECT.first(connection, {"subject": subject_id, "now": now}) is None:
            raise NotFoundError("subject", subject_id)
        existing = {name for (name,) in _FIELD_NAMES.rows(connection, {"subject": subject_id})}
        remaining = (existing - removed) | ciphertexts.keys()
        if len(remaining) > MAX_FIELDS:
            raise InvalidInputError("fields", f"at most {MAX_FIELDS} fields per subject")
        if removed & existing:
            connection.execute(_DELETE_NAMED_FIELDS, {"subject": subject_id, "names": sorted(removed & existing)})
        changed = [
            {"subject": subject_id, "field": name, "value": ciphertext, "version": version, "now": now}
            for name, (ciphertext, version) in ciphertexts.items()
            if name in existing
        ]
        _SET_FIELD.run_many(connection, changed)
        added = {name: sealed for name, sealed in ciphertexts.items() if name not in existing}
        insert_rows(session, SubjectField, _field_rows(subject_id, added, now))

    def _update_in_one(
        self, session: Session, subject_id: str, ciphertexts: Mapping[str, tuple[bytes, int]], removed: set[str], now: datetime
    ) -> bool:
        """:meth:`update`'s statements on PostgreSQL, where each is a round trip: the subject
        touched, its values set and deleted, and what retention needs read, in one
        (``_update_statement``). Returns whether a per-entry category covers the subject."""
        hook = self.on_fields_set if ciphertexts else None
        per_entry = list(hook.per_entry_categories()) if hook is not None else []
        found = _UPDATE.first(session.connection(), {
            "subject": subject_id,
            "now": now,
            "names": list(ciphertexts),
            "ciphertexts": [ciphertext for ciphertext, _ in ciphertexts.values()],
            "versions": [version for _, version in ciphertexts.values()],
            "removed": sorted(removed),
            "named": [*ciphertexts, *removed],
            "per_entry": per_entry,
        })
        if found is None:
            raise NotFoundError("subject", subject_id)
        _, others, in_category = found
        if int(others) + len(ciphertexts) > MAX_FIELDS:
            raise InvalidInputError("fields", f"at most {MAX_FIELDS} fields per subject")
        return bool(in_category)

    def verify(self, subject_id: str, name: str, value: str) -> bool:
        """Whether ``value`` matches the subject's one-way field ``name`` (a password, say): the
        only use of such a field. False when the subject has no such field. InvalidInputError
        when ``name`` is not declared one-way (a readable field is revealed, not verified).
        Audited (``subject.verify``: the field name and whether it matched, never the value);
        a hash made with older Argon2 parameters is replaced after a match."""
        subject_id = validate_subject_id(subject_id)
        validate_field_name(name, "field")
        if not self.rules.is_one_way(name):
            raise InvalidInputError("field", "is not a one-way field (PSEUDOVAULT_ONE_WAY_FIELDS): it is revealed, not verified")
        try:
            encoded = _encode_value("value", value)
        except InvalidInputError as exc:
            raise InvalidInputError("value", exc.reason) from None
        with session_scope(self._engine) as session:
            if not session.scalar(select(exists().where(Subject.id == subject_id))):
                self._audit.append("subject.verify", targets=[subject_id], outcome="not_found")
                raise NotFoundError("subject", subject_id)
            reasons = use_blocking_reasons(session, subject_id=subject_id)
            row = session.execute(
                select(SubjectField.ciphertext, SubjectField.schema_version).where(
                    SubjectField.subject_id == subject_id, SubjectField.name == name
                )
            ).first()
        if reasons:
            self._audit.append("subject.verify", targets=[subject_id], outcome="conflict",
                               detail={"field": name, "restriction": reasons[0]})
            raise RestrictedError("subject", subject_id, reasons)
        matched = False
        if row is not None:
            cipher = self._keys.subject_cipher(subject_id)
            try:
                stored = cipher.decrypt(
                    name, bytes(row.ciphertext), row.schema_version
                )
            except DecryptionError:
                log.warning("subject %s: a one-way field failed to decrypt", subject_id)
                self._audit.append("subject.verify", targets=[subject_id], outcome="error", detail={"field": name})
                raise
            if row.schema_version == ONE_WAY_SCHEMA:
                matched = self.rules.verify(stored, encoded)
                rehash = matched and self.rules.needs_rehash(stored)
            else:  # stored readable before the name was declared one-way: compared, then hashed
                matched = hmac.compare_digest(stored, encoded)
                rehash = matched
            if rehash:
                self.update(subject_id, {name: value})
        if row is not None and not self._keys.has_data_key(subject_id):
            matched = False  # shredded meanwhile (vault.subjects: a cached key answers nothing after a shred)
        self._audit.append("subject.verify", targets=[subject_id], detail={"field": name, "match": matched})
        return matched

    # --- list / exists / count ------------------------------------------------------------

    def list(self, after: str | None = None, limit: int = 100) -> list[SubjectSummary]:
        """Subjects ordered by id, ``limit`` at a time, starting after the id ``after``."""
        if after is not None:
            after = validate_subject_id(after, "after")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidInputError("limit", f"must be an integer from 1 to {MAX_LIST_LIMIT}")
        with session_scope(self._engine) as session:
            stmt = select(Subject).order_by(Subject.id).limit(limit)
            if after is not None:
                stmt = stmt.where(Subject.id > after)
            subjects = session.scalars(stmt).all()
            names: dict[str, list[str]] = {s.id: [] for s in subjects}
            if subjects:
                for subject_id, name in session.execute(
                    select(SubjectField.subject_id, SubjectField.name)
                    .where(SubjectField.subject_id.in_(names.keys()))
                    .order_by(SubjectField.subject_id, SubjectField.name)
                ):
                    names[subject_id].append(name)
        return [SubjectSummary(s.id, s.created_at, s.updated_at, tuple(names[s.id])) for s in subjects]

    def exists(self, subject_id: str) -> bool:
        """Whether the subject can be read: its data and its data key are both there."""
        subject_id = validate_subject_id(subject_id)
        with session_scope(self._engine) as session:
            if not session.scalar(select(exists().where(Subject.id == subject_id))):
                return False
        return self._keys.has_data_key(subject_id)

    def count(self) -> int:
        with session_scope(self._engine) as session:
            return int(session.scalar(select(func.count()).select_from(Subject)) or 0)

    def count_tombstones(self) -> int:
        with session_scope(self._engine) as session:
            return int(session.scalar(select(func.count()).select_from(Tombstone)) or 0)

    def tombstone(self, subject_id: str) -> Tombstone | None:
        """The tombstone of a shredded subject, or None."""
        subject_id = validate_subject_id(subject_id)
        with session_scope(self._engine) as session:
            return session.get(Tombstone, subject_id)

    # --- shred ----------------------------------------------------------------------------

    def shred(self, subject_id: str, reason_code: str = "request") -> ShredResult:
        """Destroy the subject's data key (the guarantee), then its ciphertext; leave a tombstone."""
        subject_id = validate_subject_id(subject_id)
        reason_code = validate_reason_code(reason_code)
        (result,) = self._shred([subject_id], reason_code, many=False)
        log.info("shredded subject %s (reason %s, already %s)", subject_id, reason_code, result.already)
        return result

    def shred_many(self, subject_ids: Collection[str], reason_code: str = "request") -> builtins.list[ShredResult]:
        """Shred many subjects with one unit of work per store (the retention sweeper's batch
        path): for each, what :meth:`shred` does, in the same order (every data key is deleted and
        ledgered, then the data and tombstones go), audited as one ``subject.shred_many`` entry
        whose targets are the subjects shredded by this call.

        All or nothing up front: an id that never existed is NotFoundError and a held one
        HeldError, before anything is destroyed. Interrupted, it is completed by running it (or
        :meth:`shred`) again.
        """
        ids = list(dict.fromkeys(validate_subject_id(s) for s in subject_ids))
        reason_code = validate_reason_code(reason_code)
        if not ids:
            return []
        results = self._shred(ids, reason_code, many=True)
        log.info("shredded %d subjects (reason %s)", len(results), reason_code)
        return results

    def _shred(self, ids: builtins.list[str], reason_code: str, *, many: bool) -> builtins.list[ShredResult]:
        """:meth:`shred` and :meth:`shred_many`: one transaction per store.

        The data store's write transaction is opened first and holds everything decided there
        (legal holds, what is present, tombstones); inside it the key store's transaction deletes
        the data keys and ledgers the shreds, and commits; then the data, the tombstones and the
        audit entry go in the data store's commit. A crash between the two commits leaves the
        data unreadable (its key is gone) and the shred in the ledger: the next open, or shredding
        again, finishes it. Nothing is written when an id is held or unknown.

        On PostgreSQL each store's part is a statement or two (see ``_SHRED_FINDS``,
        ``KeyHierarchy.shred_data_keys``, ``_shred_data_statement``): a round trip each.
        """
        action = "subject.shred_many" if many else "subject.shred"
        now = self._clock.now()
        held_error: HeldError | None = None
        results: builtins.list[ShredResult] = []
        with session_scope(self._engine, write=True) as session:
            present, tombstoned, held = self._finds(session, ids, now)
            if held:  # a legal hold (vault.retention.holds) blocks it
                first = next(s for s in ids if s in held)
                held_error = HeldError("subject", first, held[first])
            else:
                with session_scope(self._keys.engine, write=True) as key_session:
                    # an unknown id raises here, and the key store's unit of work then rolls
                    # back with nothing deleted
                    ledgered = self._keys.shred_data_keys(
                        key_session, ids, [tombstoned.get(s) or now for s in ids], known=present | tombstoned.keys()
                    )
                results = [
                    ShredResult(
                        subject_id=s,
                        shredded_at=tombstoned.get(s) or ledgered.get(s) or now,
                        already=s in tombstoned or s in ledgered,
                    )
                    for s in ids
                ]
                # the keys are gone (committed): now the data, in this store's one commit
                tombstones = [r for r in results if r.subject_id not in tombstoned]
                self._shred_data(session, ids, tombstones, reason_code)
                if many:
                    shredded = [r.subject_id for r in results if not r.already]
                    detail: dict[str, Any] = {"reason": reason_code, "subjects": len(shredded), "already": len(results) - len(shredded)}
                else:
                    shredded, detail = ids, {"reason": reason_code, "already": results[0].already}
                self._audit.append(action, targets=shredded, detail=detail, session=session)
        if held_error is not None:
            self._audit.append(action, targets=[held_error.target_id], outcome="conflict", detail={"reason": reason_code})
            raise held_error
        self._checkpoint()
        return results

    @staticmethod
    def _finds(
        session: Session, ids: builtins.list[str], now: datetime
    ) -> tuple[set[str], dict[str, datetime], dict[str, str]]:
        """Which of ``ids`` have a subject row, ``{id: shredded at}`` of those with a tombstone and
        ``{id: hold id}`` of those under an active legal hold (the oldest hold each): one
        statement (``_SHRED_FINDS``)."""
        connection = session.connection()
        present: set[str] = set()
        tombstoned: dict[str, datetime] = {}
        holds: builtins.list[tuple[str, str, datetime]] = []
        for start in range(0, len(ids), _FINDS_BATCH):
            rows = _SHRED_FINDS_DRIVER.rows(connection, {"ids": ids[start : start + _FINDS_BATCH], "now": now})
            for subject_id, shredded_at, hold_id, placed_at in rows:
                if hold_id is not None:
                    holds.append((subject_id, hold_id, placed_at))
                elif shredded_at is not None:
                    tombstoned[subject_id] = shredded_at
                else:
                    present.add(subject_id)
        return present, tombstoned, oldest_holds(holds)

    @staticmethod
    def _shred_data(session: Session, ids: builtins.list[str], tombstones: builtins.list[ShredResult], reason_code: str) -> None:
        """The subjects' data deleted, their records unlinked and their tombstones written:
        one statement on PostgreSQL (``_SHRED_DATA``), several elsewhere."""
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            _SHRED_DATA.rows(connection, {
                "ids": ids,
                "rows_0": [r.subject_id for r in tombstones],
                "rows_1": [r.shredded_at for r in tombstones],
                "rows_2": [reason_code] * len(tombstones),
            })
            return
        SubjectService._delete_data_many(session, ids)
        if tombstones:
            insert_rows(session, Tombstone, [
                {"subject_id": r.subject_id, "shredded_at": r.shredded_at, "reason_code": reason_code} for r in tombstones
            ])

    @staticmethod
    def _delete_data(session: Session, subject_id: str) -> bool:
        return bool(SubjectService._delete_data_many(session, [subject_id]))

    @staticmethod
    def _delete_data_many(session: Session, subject_ids: Collection[str]) -> int:
        """Delete the subjects' data (set-based, for :meth:`shred_many`); returns how many went."""
        ids = list(subject_ids)
        # every caller's session is fresh here (no Subject, field or record loaded as an object):
        # these statements go to its connection, with nothing in the session to synchronise
        connection = session.connection()
        # fields first: the FK cascade is not relied upon (SQLite needs foreign_keys=ON for it)
        _DELETE_FIELDS_DRIVER.run(connection, {"ids": ids})
        # fraud records (vault.records) outlive the subject: they lose the link and the text that
        # was under the subject's data key; their codes and pseudonyms stay (bans survive erasure)
        records_repository.unlink_subjects(session, ids)
        return _DELETE_SUBJECTS_DRIVER.run(connection, {"ids": ids})

    def _destroy(
        self,
        subject_id: str,
        shredded_at: datetime,
        reason_code: str,
        *,
        audit: Mapping[str, Any] | None = None,
        action: str = "subject.shred",
    ) -> None:
        """Key store first (data key deleted, ledger entry), then the data store (data, tombstone,
        and the ``action`` entry with ``audit`` as its detail, in the same commit). A crash
        between the two leaves the data unreadable (its key is gone) and the shred in the ledger:
        the next open, or shredding again, finishes it."""
        with session_scope(self._keys.engine, write=True) as key_session:
            self._keys.destroy_data_key(key_session, subject_id)
            self._keys.record_shred(key_session, subject_id, shredded_at)
        with session_scope(self._engine, write=True) as session:
            self._delete_data(session, subject_id)
            if session.get(Tombstone, subject_id) is None:
                session.add(Tombstone(subject_id=subject_id, shredded_at=shredded_at, reason_code=reason_code))
            if audit is not None:
                self._audit.append(action, targets=[subject_id], detail=audit, session=session)

    def replay_external_ledger(self, ledger: ShredLedger) -> int:
        """Replay the shred ledger kept outside the stores (vault.crypto.ledger) from where this key
        store last left it: every subject it names whose data key or data is present again (the
        stores were restored from a backup) is destroyed again and logged, each with its own
        ``subject.replay_shreds`` audit entry in the data store's commit that destroys its data.
        Returns how many; moves the key store's position to the ledger's end.

        The ledger is read window by window (each a bounded read) to its end, and the position is
        moved after each window: a store restored from long ago is cleaned up whole before the
        vault opens, and a replay cut short goes on from where it was."""
        position = self._keys.ledger_position(LEDGER_SOURCE)
        destroyed = 0
        while True:
            entries, end = ledger.read(position)
            latest: dict[str, datetime] = {}
            for subject_id, shredded_at in entries:
                latest.setdefault(subject_id, shredded_at)
            ids = list(latest)
            for start in range(0, len(ids), _REPLAY_BATCH):
                batch = ids[start : start + _REPLAY_BATCH]
                with session_scope(self._keys.engine) as key_session:
                    with_keys = self._keys.data_keys_present(key_session, batch)
                with session_scope(self._engine) as session:
                    with_data = set(session.scalars(select(Subject.id).where(one_of(Subject.id, batch))))
                for subject_id in batch:
                    if subject_id in with_keys or subject_id in with_data:
                        self._destroy(
                            subject_id, latest[subject_id], REPLAY_REASON_CODE,
                            audit={"destroyed": 1, "source": LEDGER_SOURCE}, action="subject.replay_shreds",
                        )
                        destroyed += 1
            if end == position:
                break
            self._keys.set_ledger_position(LEDGER_SOURCE, end)
            position = end
        if destroyed:
            self._checkpoint()
            log.warning(
                "shred ledger replayed at open: %d subject(s) restored from a backup were destroyed again",
                destroyed,
            )
        return destroyed

    def replay_shred_ledger(self) -> int:
        """After restoring either store from a backup, shred again every subject that came back.

        Walks the shred ledger (key store) and the tombstones (data store): every subject in
        either whose data key or data is present again is destroyed, and each of the two lists is
        completed from the other (a tombstone written back carries the reason code
        ``ledger_replay``). Each subject destroyed again has its ``subject.replay_shreds`` audit
        entry in the commit that destroys its data; one more, without targets, gives the count.
        Returns how many subjects were destroyed again.
        """
        destroyed = 0
        # ledger -> data store (and keys that came back with a restored key store)
        after: str | None = None
        while True:
            with session_scope(self._keys.engine) as key_session:
                page = self._keys.ledger_page(key_session, after, _REPLAY_BATCH)
                ids = [subject_id for subject_id, _ in page]
                with_keys = self._keys.data_keys_present(key_session, ids)
            if not page:
                break
            after = ids[-1]
            with session_scope(self._engine) as session:
                with_data = set(session.scalars(select(Subject.id).where(Subject.id.in_(ids))))
                tombstoned = set(session.scalars(select(Tombstone.subject_id).where(Tombstone.subject_id.in_(ids))))
            missing_tombstones = []
            for subject_id, shredded_at in page:
                if subject_id in with_keys or subject_id in with_data:
                    self._destroy(
                        subject_id, shredded_at, REPLAY_REASON_CODE,
                        audit={"destroyed": 1, "source": "key_store"}, action="subject.replay_shreds",
                    )
                    destroyed += 1
                elif subject_id not in tombstoned:
                    missing_tombstones.append(
                        Tombstone(subject_id=subject_id, shredded_at=shredded_at, reason_code=REPLAY_REASON_CODE)
                    )
            if missing_tombstones:
                with session_scope(self._engine, write=True) as session:
                    session.add_all(missing_tombstones)
        # tombstones -> key store (and data that came back with a restored data store)
        after = None
        while True:
            with session_scope(self._engine) as session:
                stmt = select(Tombstone.subject_id, Tombstone.shredded_at, Tombstone.reason_code).order_by(
                    Tombstone.subject_id
                )
                if after is not None:
                    stmt = stmt.where(Tombstone.subject_id > after)
                page_rows = session.execute(stmt.limit(_REPLAY_BATCH)).all()
                ids = [row.subject_id for row in page_rows]
                with_data = set(session.scalars(select(Subject.id).where(Subject.id.in_(ids)))) if ids else set()
            if not page_rows:
                break
            after = ids[-1]
            with session_scope(self._keys.engine) as key_session:
                with_keys = self._keys.data_keys_present(key_session, ids)
                ledgered = self._keys.ledger_present(key_session, ids)
            missing_ledger = []
            for subject_id, shredded_at, reason_code in page_rows:
                if subject_id in with_keys or subject_id in with_data:
                    self._destroy(
                        subject_id, shredded_at, reason_code,
                        audit={"destroyed": 1, "source": "tombstones"}, action="subject.replay_shreds",
                    )
                    destroyed += 1
                elif subject_id not in ledgered:
                    missing_ledger.append((subject_id, shredded_at))
            if missing_ledger:
                with session_scope(self._keys.engine, write=True) as key_session:
                    for subject_id, shredded_at in missing_ledger:
                        self._keys.record_shred(key_session, subject_id, shredded_at)
        if destroyed:
            self._checkpoint()
        log.info("shred ledger replayed: %d subjects destroyed again", destroyed)
        self._audit.append("subject.replay_shreds", detail={"destroyed": destroyed})
        return destroyed
