"""The key hierarchy of the key store: root KEK -> epoch wrapping keys -> subject data keys.

Why one module of this size: epochs, data keys and the shred ledger are written in the key
store's transactions with one rule for evicting the key cache on commit; the rewrap half is in
vault.crypto.rewrap.

::

    root KEK version (provider)  --provider.wrap-->       wrapping key of an epoch (256-bit, random)
    wrapping key of the epoch    --RFC 5649 wrap_key-->   subject data key (DEK, 256-bit, random)
    subject data key             --AES-256-GCM-->         the subject's fields (vault.subjects)

``wrapping_keys`` holds one row per epoch: the wrapping key as the provider wrapped it, and the
id of the root KEK version that did (``kek_id``). The newest enabled epoch is *current*: new data
keys are wrapped under it. ``subject_keys`` holds each subject's data key wrapped under one epoch.

Rotation: :meth:`KeyHierarchy.rotate_epoch` adds a new current epoch; :meth:`KeyHierarchy.rewrap`
then moves every data key to it, destroys every older epoch no data key refers to any more
(its wrapped bytes are set to NULL for good; the row keeps the history), and rewraps the
remaining epoch keys under the provider's primary root KEK version. A key-store backup taken
before the rotation holds epoch keys that no longer exist, which is what stops an old backup from
bringing back a subject shredded since.

Records without a subject (vault.records) have data keys of their own in ``record_keys``, handled
exactly like subject data keys (cache key ``rdek/<record id>``) and moved by the same rewrap. The
lookup keys of pseudonyms (``lookup_keys``, vault.crypto.lookup) are wrapped by the root KEK directly, like
epoch keys: :meth:`KeyHierarchy.rewrap` moves them to the primary root KEK version too, so that one
call rewraps everything and ``root_key_ids_in_use`` covers every key the root KEK wraps. The same
holds for the seeds of the Ed25519 signing keys (``signing_keys``, vault.crypto.signing).

Failure rules: a subject without a data key is :class:`vault.errors.NotFoundError`; a wrapped key
that does not unwrap is :class:`keys.errors.DecryptionError`; a root KEK version the provider no
longer has is :class:`keys.errors.KeyNotFoundError`.

Unwrapped keys are cached (:class:`vault.crypto.cache.KeyCache`): data keys under ``dek/<subject id>``,
epoch keys under ``epoch/<n>/<fingerprint of the stored row>``, so that a cached epoch key can
never be taken for a different key that reused the epoch number (after a key-store restore).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import CursorResult, Engine, bindparam, delete, event, exists, func, insert, null, select, true, union_all
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pseudovault.keys.aead import Aead
from pseudovault.keys.errors import DecryptionError
from pseudovault.keys.provider import KekProvider, WrappedKey
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.wrap import generate_key, unwrap_key, wrap_key
from pseudovault.vault.clock import Clock
from pseudovault.vault.crypto.cache import (
    DATA_KEY_PREFIX,
    KeyCache,
    data_key_cache_key,
    epoch_cache_key,
    record_key_cache_key,
)
from pseudovault.vault.crypto.fields import FieldCipher, FieldOwner
from pseudovault.vault.crypto.ledger import ShredLedger
from pseudovault.vault.crypto.rewrap import Rewrapping, RewrapReport
from pseudovault.vault.errors import ConflictError, NotFoundError, NotInitialisedError
from pseudovault.vault.store.db import array_param, insert_rows, one_of, one_of_param, session_scope
from pseudovault.vault.store.driver import DriverStatement
from pseudovault.vault.store.key_models import (
    EpochStatus,
    LedgerReplay,
    LookupKey,
    RecordKey,
    ShredLedgerEntry,
    SigningKeyRow,
    SubjectKey,
    WrappingKey,
)
from pseudovault.vault.store.vacuum import DeferredVacuum

__all__ = ["KeyHierarchy", "PositionMark", "RewrapReport", "EpochInfo"]

log = logging.getLogger(__name__)

_ENABLED = EpochStatus.ENABLED.value
_DESTROYED = EpochStatus.DESTROYED.value


@dataclass(frozen=True)
class EpochInfo:
    """What may be shown about one epoch: never key material."""

    epoch: int
    kek_id: str
    status: str
    current: bool
    created_at: datetime
    destroyed_at: datetime | None
    data_keys: int


class PositionMark:
    """A position kept in the key store that only grows (e.g. how far the audit log reached), but
    by :meth:`reset_to` (an acknowledged restore of the audit log)."""

    def __init__(self, keys: KeyHierarchy, source: str) -> None:
        self._keys = keys
        self._source = source

    def read(self) -> int:
        return self._keys.ledger_position(self._source)

    def raise_to(self, position: int) -> None:
        self._keys.set_ledger_position(self._source, position, never_back=True)

    def reset_to(self, position: int) -> None:
        self._keys.set_ledger_position(self._source, position)

    def __repr__(self) -> str:
        return f"PositionMark({self._source!r})"


# the current epoch's wrapping key, built once; locked, FOR SHARE on PostgreSQL: destroying this
# epoch (FOR UPDATE) waits until a data key wrapped under it is committed, and then sees it (see
# _destroy_epoch)
_CURRENT_EPOCH_QUERY = (
    select(WrappingKey.epoch, WrappingKey.kek_id, WrappingKey.wrapped)
    .where(WrappingKey.status == _ENABLED)
    .order_by(WrappingKey.epoch.desc())
    .limit(1)
)
_CURRENT_EPOCH = DriverStatement(_CURRENT_EPOCH_QUERY)
_CURRENT_EPOCH_LOCKED = DriverStatement(_CURRENT_EPOCH_QUERY.with_for_update(read=True))


class _EpochRow(NamedTuple):
    epoch: int
    kek_id: str
    wrapped: bytes | None


# built once (see vault.store.db.one_of_param): the shred path's statements, executed with "ids"
# on the driver's cursor
_DELETE_SUBJECT_KEYS_DELETE = delete(SubjectKey).where(one_of_param(SubjectKey.subject_id, "ids")).returning(SubjectKey.subject_id)
_LEDGER_ENTRIES_SELECT = select(ShredLedgerEntry.subject_id, ShredLedgerEntry.shredded_at).where(
    one_of_param(ShredLedgerEntry.subject_id, "ids")
)
_DELETE_SUBJECT_KEYS = DriverStatement(_DELETE_SUBJECT_KEYS_DELETE)
_LEDGER_ENTRIES = DriverStatement(_LEDGER_ENTRIES_SELECT)


def _shred_keys_statement() -> DriverStatement:
    """A shred's work in the key store on PostgreSQL, where each statement is a round trip to the
    server, as one statement executed with ``ids`` and ``at`` (each id's time, should it be
    ledgered now)::

        WITH deleted AS (DELETE FROM subject_keys ... RETURNING subject_id),
             ledgered AS (SELECT subject_id, shredded_at FROM shred_ledger ...),
             added AS (INSERT INTO shred_ledger SELECT ... FROM unnest(:ids, :at)
                       WHERE the id is not in ledgered ON CONFLICT DO NOTHING)
        SELECT subject_id, NULL FROM deleted UNION ALL SELECT * FROM ledgered

    Every part runs once, in the statement's snapshot: the rows say which keys there were and what
    the ledger held before. ON CONFLICT covers a shred of the same subject committed meanwhile
    (the DELETE waits for its lock; the snapshot predates its ledger row)."""
    deleted = _DELETE_SUBJECT_KEYS_DELETE.cte("deleted")
    ledgered = _LEDGER_ENTRIES_SELECT.cte("ledgered")
    given = func.unnest(
        array_param("ids", ShredLedgerEntry.subject_id), array_param("at", ShredLedgerEntry.shredded_at)
    ).table_valued("subject_id", "shredded_at").render_derived()
    added = (
        postgresql.insert(ShredLedgerEntry)
        .from_select(
            ["subject_id", "shredded_at"],
            select(given.c.subject_id, given.c.shredded_at).where(given.c.subject_id.not_in(select(ledgered.c.subject_id))),
        )
        .on_conflict_do_nothing(index_elements=["subject_id"])
        .cte("added")
    )
    found = union_all(
        select(deleted.c.subject_id, null().cast(ShredLedgerEntry.shredded_at.type)),
        select(ledgered.c.subject_id, ledgered.c.shredded_at),
    )
    return DriverStatement(found.add_cte(added))


_SHRED_KEYS = _shred_keys_statement()


def _add_on_known_epoch(model: type[SubjectKey] | type[RecordKey], owner: str) -> DriverStatement:
    """On PostgreSQL, data keys wrapped under the epoch this process last wrapped under (``epoch``,
    with its wrapped key as stored, ``kek_id`` and ``epoch_wrapped``: an epoch of the same number
    made afresh in emptied or restored stores holds another key), added in one statement
    executed with ``owners``, ``wrapped`` and ``now``::

        WITH current_epoch AS (the current epoch's row FOR SHARE),
             added AS (INSERT INTO <model> SELECT ... FROM current_epoch, unnest(:owners, :wrapped)
                       WHERE it is the known one RETURNING <owner>)
        SELECT current_epoch.*, EXISTS (SELECT FROM added) FROM current_epoch

    The row says which: added, or not because another epoch is current now (a rotation), the row
    then being that epoch's, share-locked, to wrap under and add with (the locked read's)."""
    current = _CURRENT_EPOCH_QUERY.with_for_update(read=True).cte("current_epoch")
    table = model.__table__
    given = func.unnest(array_param("owners", table.c[owner]), array_param("wrapped", table.c.wrapped)).table_valued(
        "owner", "wrapped"
    ).render_derived()
    rows = (
        select(given.c.owner, current.c.epoch, given.c.wrapped, bindparam("now", type_=table.c.created_at.type))
        .select_from(current.join(given, true()))
        .where(
            current.c.epoch == bindparam("epoch", type_=table.c.epoch.type),
            current.c.kek_id == bindparam("kek_id", type_=WrappingKey.kek_id.type),
            current.c.wrapped == bindparam("epoch_wrapped", type_=WrappingKey.wrapped.type),
        )
    )
    added = insert(model).from_select([owner, "epoch", "wrapped", "created_at"], rows).returning(table.c[owner]).cte("added")
    found = select(current.c.epoch, current.c.kek_id, current.c.wrapped, exists(select(added.c[owner])).label("added"))
    return DriverStatement(found.select_from(current))


_ADD_ON_KNOWN_EPOCH = {
    SubjectKey: _add_on_known_epoch(SubjectKey, "subject_id"),
    RecordKey: _add_on_known_epoch(RecordKey, "record_id"),
}


class KeyHierarchy(Rewrapping):
    """Epoch wrapping keys and subject data keys in the key store, under the provider's root KEK."""

    def __init__(self, provider: KekProvider, keys_engine: Engine, clock: Clock, cache: KeyCache) -> None:
        if not isinstance(provider, KekProvider):
            raise TypeError("provider must be a KekProvider")
        self._provider = provider
        self._engine = keys_engine
        self._clock = clock
        self._cache = cache
        #: the shred ledger outside both stores (vault.crypto.ledger), when the vault has one
        self.external_ledger: ShredLedger | None = None
        #: key-table vacuum after shreds on PostgreSQL (vault.store.vacuum); None: autovacuum only
        self.vacuum: DeferredVacuum | None = None
        #: the epoch this process last wrapped a data key under (PostgreSQL): the next is tried
        #: under it in one round trip (see _add_wrapped)
        self._known_epoch: _EpochRow | None = None

    def _after_shred(self, session: Session, evict: Callable[[], object]) -> None:
        """Evict now and when ``session`` commits; once committed, ask for the key tables' vacuum."""
        evict()

        def committed(_session: Session) -> None:
            evict()
            if self.vacuum is not None:
                self.vacuum.request()

        event.listen(session, "after_commit", committed, once=True)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def cache(self) -> KeyCache:
        return self._cache

    def __repr__(self) -> str:
        return f"KeyHierarchy(provider={self._provider!r}, cache={self._cache!r})"

    # --- epochs ---------------------------------------------------------------------------

    @staticmethod
    def _current_epoch_row(session: Session, *, lock: bool = False) -> _EpochRow | None:
        """The current epoch's wrapping key as stored; with ``lock``, share-locked."""
        row = (_CURRENT_EPOCH_LOCKED if lock else _CURRENT_EPOCH).first(session.connection())
        return None if row is None else _EpochRow(*row)

    def current_epoch(self) -> int:
        """The epoch new data keys are wrapped under. NotInitialisedError if there is none."""
        with session_scope(self._engine) as session:
            row = self._current_epoch_row(session)
            if row is None:
                raise NotInitialisedError("the key store has no enabled epoch")
            return row.epoch

    def _insert_epoch(self, session: Session) -> int:
        last = session.scalar(select(func.max(WrappingKey.epoch)))
        epoch = (last or 0) + 1
        wrapped = self._provider.wrap(generate_key())
        session.add(
            WrappingKey(
                epoch=epoch,
                kek_id=wrapped.key_id,
                wrapped=wrapped.ciphertext,
                status=_ENABLED,
                created_at=self._clock.now(),
                destroyed_at=None,
            )
        )
        session.flush()
        return epoch

    def ensure_epoch(self) -> int:
        """The current epoch, creating epoch 1 (or the next number) when none is enabled."""
        try:
            with session_scope(self._engine, write=True) as session:
                row = self._current_epoch_row(session)
                if row is not None:
                    return row.epoch
                epoch = self._insert_epoch(session)
        except IntegrityError:
            # another process created it at the same moment
            return self.current_epoch()
        log.info("created key epoch %d", epoch)
        return epoch

    def rotate_epoch(self) -> int:
        """Add a new epoch (its wrapping key wrapped by the provider's primary) and make it current.

        Existing data keys stay under their epoch until :meth:`rewrap` moves them.
        """
        try:
            with session_scope(self._engine, write=True) as session:
                epoch = self._insert_epoch(session)
        except IntegrityError:
            raise ConflictError("another epoch rotation ran at the same time; try again") from None
        log.info("rotated to key epoch %d", epoch)
        return epoch

    def _epoch_key(self, epoch: int, kek_id: str, wrapped: bytes | None, *, stamp: int | None = None) -> SecretBytes:
        if wrapped is None:  # a data key under a destroyed epoch cannot be opened
            raise DecryptionError()
        cache_key = epoch_cache_key(epoch, kek_id, wrapped)
        key = self._cache.get(cache_key)
        if key is None:
            key = self._provider.unwrap(WrappedKey(kek_id, wrapped))
            self._cache.put(cache_key, key, stamp=stamp)
        return key

    def check(self) -> int:
        """Unwrap the current epoch key through the provider; returns the epoch.

        Fails now, rather than on first use, when the provider is not the one that wrapped it.
        """
        with session_scope(self._engine) as session:
            row = self._current_epoch_row(session)
            if row is None:
                raise NotInitialisedError("the key store has no enabled epoch")
            epoch, kek_id, wrapped = row.epoch, row.kek_id, row.wrapped
        self._epoch_key(epoch, kek_id, wrapped)
        return epoch

    def epochs(self) -> list[EpochInfo]:
        """Every epoch, oldest first, with how many data keys each wraps."""
        with session_scope(self._engine) as session:
            counts: dict[int, int] = {}
            for model in (SubjectKey, RecordKey):
                for epoch, count in session.execute(select(model.epoch, func.count()).group_by(model.epoch)):
                    counts[epoch] = counts.get(epoch, 0) + count
            rows = session.scalars(select(WrappingKey).order_by(WrappingKey.epoch)).all()
        current = max((r.epoch for r in rows if r.status == _ENABLED), default=None)
        return [
            EpochInfo(
                epoch=r.epoch,
                kek_id=r.kek_id,
                status=r.status,
                current=r.epoch == current,
                created_at=r.created_at,
                destroyed_at=r.destroyed_at,
                data_keys=counts.get(r.epoch, 0),
            )
            for r in rows
        ]

    def root_key_ids_in_use(self) -> tuple[str, ...]:
        """Root KEK versions that wrap at least one enabled epoch key or live lookup key, sorted."""
        with session_scope(self._engine) as session:
            ids = set(session.scalars(select(WrappingKey.kek_id).where(WrappingKey.status == _ENABLED).distinct()))
            ids.update(session.scalars(select(LookupKey.kek_id).where(LookupKey.status != _DESTROYED).distinct()))
            ids.update(session.scalars(select(SigningKeyRow.kek_id).where(SigningKeyRow.wrapped.is_not(None)).distinct()))
        return tuple(sorted(ids))

    # --- data keys ------------------------------------------------------------------------

    def create_data_key(self, session: Session, subject_id: str) -> SecretBytes:
        """A new data key for ``subject_id``, wrapped under the current epoch and added in ``session``.

        ``session`` is a key-store session; the key exists once the caller commits it.
        """
        data_key = generate_key()
        try:
            self._add_wrapped(session, SubjectKey, "subject_id", [(subject_id, data_key)])
        except IntegrityError:
            raise ConflictError(f"subject {subject_id} already has a data key") from None
        return data_key

    def _add_wrapped(
        self, session: Session, model: type[SubjectKey] | type[RecordKey], owner: str, keys: list[tuple[str, SecretBytes]]
    ) -> None:
        """``keys`` (``(owner id, data key)``) wrapped under the current epoch, read and
        share-locked (an epoch's destruction waits for them, then sees them), and added in
        ``session``. On PostgreSQL the epoch this process last wrapped under is tried first, in one
        statement (``_add_on_known_epoch``), while its key is in the cache; a rotation since costs
        the locked read's statement again, no more."""
        connection = session.connection()
        now = self._clock.now()
        known = self._known_epoch if connection.dialect.name == "postgresql" else None
        # only with its key in the cache: never a call to the provider for an epoch that may be gone
        epoch_key = None
        if known is not None and known.wrapped is not None:
            epoch_key = self._cache.get(epoch_cache_key(known.epoch, known.kek_id, known.wrapped))
        if known is not None and epoch_key is not None:
            found = _ADD_ON_KNOWN_EPOCH[model].first(connection, {
                "epoch": known.epoch,
                "kek_id": known.kek_id,
                "epoch_wrapped": known.wrapped,
                "owners": [owner_id for owner_id, _ in keys],
                "wrapped": [wrap_key(epoch_key, key) for _, key in keys],
                "now": now,
            })
            if found is not None and found[-1]:
                return
            row = None if found is None else _EpochRow(*found[:3])
        else:
            row = self._current_epoch_row(session, lock=True)
        if row is None:
            raise NotInitialisedError("the key store has no enabled epoch")
        epoch_key = self._epoch_key(row.epoch, row.kek_id, row.wrapped)
        insert_rows(session, model, [
            {owner: owner_id, "epoch": row.epoch, "wrapped": wrap_key(epoch_key, key), "created_at": now}
            for owner_id, key in keys
        ])
        self._known_epoch = row

    def _load_key(self, cache_key: str, model: type[SubjectKey] | type[RecordKey], owner: Any, what: str, ident: str) -> SecretBytes:
        """A data key wrapped under an epoch (subject keys and record keys alike): from the cache,
        or unwrapped from ``model``'s row whose ``owner`` column is ``ident`` and then cached.
        NotFoundError(what, ident) when there is no row."""
        key = self._cache.get(cache_key)
        if key is not None:
            return key
        stamp = self._cache.stamp
        with session_scope(self._engine) as session:
            row = session.execute(
                select(model.epoch, model.wrapped, WrappingKey.kek_id, WrappingKey.wrapped)
                .join(WrappingKey, WrappingKey.epoch == model.epoch)
                .where(owner == ident)
            ).one_or_none()
        if row is None:
            raise NotFoundError(what, ident)
        epoch, dek_wrapped, kek_id, epoch_wrapped = row
        key = unwrap_key(self._epoch_key(epoch, kek_id, epoch_wrapped, stamp=stamp), dek_wrapped)
        self._cache.put(cache_key, key, stamp=stamp)
        return key

    def _load_aead(self, cache_key: str, load: Callable[[], SecretBytes]) -> Aead:
        """AES-256-GCM over a cached data key, built once per cache entry and evicted with it."""
        aead = self._cache.derived(cache_key, Aead)
        if aead is not None:
            return aead
        key = load()
        return self._cache.derived(cache_key, Aead) or Aead(key)

    def data_key(self, subject_id: str) -> SecretBytes:
        """The unwrapped data key of ``subject_id``; NotFoundError("subject", id) if it has none."""
        return self._load_key(data_key_cache_key(subject_id), SubjectKey, SubjectKey.subject_id, "subject", subject_id)

    def subject_cipher(self, subject_id: str) -> FieldCipher:
        """The field cipher of ``subject_id``'s fields over its data key, built once per cache
        entry (with the AES-GCM context and the fields' associated data it holds).

        The same key as :meth:`data_key`, with the same lifetime in memory: shredding evicts
        both at once. NotFoundError("subject", id) if the subject has no key.
        """
        cache_key = DATA_KEY_PREFIX + subject_id  # data_key_cache_key(), inlined on the hot path
        cipher: FieldCipher | None = self._cache.derived(cache_key, None)  # the hot path: built already
        if cipher is not None:
            return cipher

        def derive(key: SecretBytes) -> FieldCipher:
            return FieldCipher(Aead(key), FieldOwner.SUBJECT, subject_id)

        key = self.data_key(subject_id)
        return self._cache.derived(cache_key, derive) or derive(key)

    def data_aead(self, subject_id: str) -> Aead:
        """AES-256-GCM over the data key of ``subject_id``: :meth:`subject_cipher`'s."""
        return self.subject_cipher(subject_id).aead

    def has_data_key(self, subject_id: str, session: Session | None = None) -> bool:
        stmt = select(exists().where(SubjectKey.subject_id == subject_id))
        if session is not None:
            return bool(session.scalar(stmt))
        with session_scope(self._engine) as own:
            return bool(own.scalar(stmt))

    def has_record_key(self, record_id: str) -> bool:
        """Whether the record (or separated item) still has a data key of its own in the key store."""
        with session_scope(self._engine) as session:
            return bool(session.scalar(select(exists().where(RecordKey.record_id == record_id))))

    def data_keys_present(self, session: Session, subject_ids: list[str]) -> set[str]:
        """Which of ``subject_ids`` have a data key."""
        if not subject_ids:
            return set()
        return set(session.scalars(select(SubjectKey.subject_id).where(one_of(SubjectKey.subject_id, subject_ids))))

    def destroy_data_key(self, session: Session, subject_id: str) -> bool:
        """Delete the wrapped data key of ``subject_id`` in ``session``; returns whether there was one.

        The cached key is evicted now and again when ``session`` commits, so that a concurrent
        cache fill cannot outlive the deletion in this process.
        """
        cache_key = data_key_cache_key(subject_id)
        result = cast(CursorResult[Any], session.execute(delete(SubjectKey).where(SubjectKey.subject_id == subject_id)))
        self._after_shred(session, lambda: self._cache.evict(cache_key))
        return bool(result.rowcount)

    def destroy_data_keys(self, session: Session, subject_ids: Collection[str]) -> set[str]:
        """:meth:`destroy_data_key` for many subjects in one DELETE (vault.subjects.shred_many);
        returns the ids whose key there was (the DELETE's RETURNING, so no read goes before it).
        Evicted now and again on commit, like one."""
        ids = list(subject_ids)
        if not ids:
            return set()
        # on the session's connection: a SubjectKey the session holds as an object is not marked
        # deleted (the callers load none: they work with ids)
        deleted = {row[0] for row in _DELETE_SUBJECT_KEYS.rows(session.connection(), {"ids": ids})}
        self._evict_data_keys(session, ids)
        return deleted

    def _evict_data_keys(self, session: Session, subject_ids: list[str]) -> None:
        """The subjects' cached data keys evicted now and when ``session`` commits."""
        cache_keys = [data_key_cache_key(subject_id) for subject_id in subject_ids]

        def evict() -> None:
            for cache_key in cache_keys:
                self._cache.evict(cache_key)

        self._after_shred(session, evict)

    def shred_data_keys(
        self, session: Session, ids: Sequence[str], at: Sequence[datetime], *, known: Collection[str] = ()
    ) -> dict[str, datetime]:
        """A shred's work in the key store, in ``session``: the data keys of the subjects ``ids``
        deleted (and evicted, now and on commit), and each subject not yet in the shred ledger
        ledgered at its time in ``at`` (first outside the stores, :attr:`external_ledger`).
        Returns ``{id: shredded at}`` of the subjects the ledger already held.

        An id with no data key, no ledger entry and not in ``known`` (what the data store holds
        of it) is NotFoundError, raised before anything outside the stores is written: the
        caller's unit of work then rolls back with nothing deleted. One statement on PostgreSQL
        (see ``_shred_keys_statement``); a read, a DELETE and an INSERT elsewhere."""
        ids = list(ids)
        at = list(at)
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            with_keys: set[str] = set()
            ledgered: dict[str, datetime] = {}
            for subject_id, shredded_at in _SHRED_KEYS.rows(connection, {"ids": ids, "at": at}):
                if shredded_at is None:
                    with_keys.add(subject_id)
                else:
                    ledgered[subject_id] = shredded_at
            # the cache: evicted now and on commit (as destroy_data_keys does)
            self._evict_data_keys(session, ids)
        else:
            ledgered = self.ledger_entries(session, ids)
            with_keys = self.destroy_data_keys(session, ids)
        for subject_id in ids:
            if not (subject_id in with_keys or subject_id in ledgered or subject_id in known):
                raise NotFoundError("subject", subject_id)
        new = [(subject_id, when) for subject_id, when in zip(ids, at, strict=True) if subject_id not in ledgered]
        if new and self.external_ledger is not None:
            self.external_ledger.append(new)
        if new and connection.dialect.name != "postgresql":
            insert_rows(session, ShredLedgerEntry, [{"subject_id": s, "shredded_at": when} for s, when in new])
        return ledgered

    def count_data_keys(self) -> int:
        with session_scope(self._engine) as session:
            return int(session.scalar(select(func.count()).select_from(SubjectKey)) or 0)

    # --- record data keys -----------------------------------------------------------------

    def create_record_key(self, session: Session, record_id: str, data_key: SecretBytes | None = None) -> SecretBytes:
        """A data key for the record ``record_id`` (``data_key``, or a new random one), wrapped under
        the current epoch and added in ``session`` (a key-store session the caller commits)."""
        key = data_key if data_key is not None else generate_key()
        self.create_record_keys(session, [(record_id, key)])
        return key

    def create_record_keys(self, session: Session, keys: list[tuple[str, SecretBytes]]) -> None:
        """The data keys of many records (``(record id, key)``), wrapped under the current epoch,
        read (and share-locked) once, and added in ``session`` in one flush: a batch import's keys
        cost one statement, not one epoch read and one insert each."""
        if not keys:
            return
        try:
            self._add_wrapped(session, RecordKey, "record_id", keys)
        except IntegrityError:
            what = keys[0][0] if len(keys) == 1 else f"of {len(keys)}"
            raise ConflictError(f"record {what} already has a data key") from None

    def record_key(self, record_id: str) -> SecretBytes:
        """The unwrapped data key of the record ``record_id``; NotFoundError("record key", id) if none."""
        return self._load_key(record_key_cache_key(record_id), RecordKey, RecordKey.record_id, "record key", record_id)

    def record_aead(self, record_id: str) -> Aead:
        """AES-256-GCM over the record's own data key, built once per cache entry."""
        return self._load_aead(record_key_cache_key(record_id), lambda: self.record_key(record_id))

    def destroy_record_key(self, session: Session, record_id: str) -> bool:
        """Delete the wrapped data key of a record in ``session``; evicted now and on commit."""
        cache_key = record_key_cache_key(record_id)
        result = cast(CursorResult[Any], session.execute(delete(RecordKey).where(RecordKey.record_id == record_id)))
        self._after_shred(session, lambda: self._cache.evict(cache_key))
        return bool(result.rowcount)

    def keys_created_between(self, after: datetime, before: datetime) -> tuple[list[str], list[str]]:
        """The owners (subject ids, record or separated-item ids) of the data keys created in
        ``(after, before]``: what an orphan scan checks against the data store."""
        with session_scope(self._engine) as session:
            subjects = list(
                session.scalars(select(SubjectKey.subject_id).where(SubjectKey.created_at > after, SubjectKey.created_at <= before))
            )
            records = list(
                session.scalars(select(RecordKey.record_id).where(RecordKey.created_at > after, RecordKey.created_at <= before))
            )
        return subjects, records

    def count_record_keys(self) -> int:
        with session_scope(self._engine) as session:
            return int(session.scalar(select(func.count()).select_from(RecordKey)) or 0)

    # --- shred ledger ---------------------------------------------------------------------

    @staticmethod
    def ledger_entry(session: Session, subject_id: str) -> datetime | None:
        """When ``subject_id`` was recorded as shredded, or None."""
        return session.scalar(select(ShredLedgerEntry.shredded_at).where(ShredLedgerEntry.subject_id == subject_id))

    def record_shred(self, session: Session, subject_id: str, shredded_at: datetime) -> None:
        """Add ``subject_id`` to the shred ledger unless it is there already, and first to the
        ledger outside the stores (:attr:`external_ledger`, written before ``session`` commits)."""
        if session.get(ShredLedgerEntry, subject_id) is None:
            if self.external_ledger is not None:
                self.external_ledger.append([(subject_id, shredded_at)])
            session.add(ShredLedgerEntry(subject_id=subject_id, shredded_at=shredded_at))
            session.flush()

    def ledger_position(self, source: str) -> int:
        """How far the external ledger ``source`` has been replayed into this key store."""
        with session_scope(self._engine) as session:
            row = session.get(LedgerReplay, source)
            return int(row.position) if row is not None else 0

    def set_ledger_position(self, source: str, position: int, *, never_back: bool = False) -> None:
        """Keep ``source``'s position in this key store; with ``never_back``, only ever raise it."""
        with session_scope(self._engine, write=True) as session:
            row = session.get(LedgerReplay, source, with_for_update=True)
            if row is None:
                session.add(LedgerReplay(source=source, position=position, replayed_at=self._clock.now()))
            elif position > row.position or (position != row.position and not never_back):
                row.position, row.replayed_at = position, self._clock.now()

    def position_mark(self, source: str) -> PositionMark:
        """A position of ``source`` kept in this key store that only ever grows."""
        return PositionMark(self, source)

    @staticmethod
    def ledger_entries(session: Session, subject_ids: Collection[str]) -> dict[str, datetime]:
        """``{subject id: shredded at}`` for the subjects among ``subject_ids`` in the shred ledger."""
        rows = _LEDGER_ENTRIES.rows(session.connection(), {"ids": list(subject_ids)})
        return {subject_id: shredded_at for subject_id, shredded_at in rows}

    @staticmethod
    def ledger_page(session: Session, after: str | None, limit: int) -> list[tuple[str, datetime]]:
        """Shred ledger entries ordered by subject id, ``limit`` at a time after ``after``."""
        stmt = select(ShredLedgerEntry.subject_id, ShredLedgerEntry.shredded_at).order_by(ShredLedgerEntry.subject_id)
        if after is not None:
            stmt = stmt.where(ShredLedgerEntry.subject_id > after)
        return [(subject_id, shredded_at) for subject_id, shredded_at in session.execute(stmt.limit(limit))]

    @staticmethod
    def ledger_present(session: Session, subject_ids: list[str]) -> set[str]:
        if not subject_ids:
            return set()
        return set(
            session.scalars(select(ShredLedgerEntry.subject_id).where(one_of(ShredLedgerEntry.subject_id, subject_ids)))
        )

    def count_shredded(self) -> int:
        with session_scope(self._engine) as session:
            return int(session.scalar(select(func.count()).select_from(ShredLedgerEntry)) or 0)
