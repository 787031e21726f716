"""The key hierarchy of the key store: root KEK -> epoch wrapping keys -> subject data keys.

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

import hashlib
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, delete, event, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pseudovault.keys.aead import Aead
from pseudovault.keys.errors import DecryptionError
from pseudovault.keys.provider import KekProvider, WrappedKey
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.wrap import generate_key, unwrap_key, wrap_key
from pseudovault.vault.clock import Clock
from pseudovault.vault.crypto.cache import KeyCache
from pseudovault.vault.crypto.ledger import ShredLedger
from pseudovault.vault.errors import ConflictError, NotFoundError, NotInitialisedError
from pseudovault.vault.store.db import insert_rows, one_of, session_scope
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
from pseudovault.vault.views import View

__all__ = ["KeyHierarchy", "RewrapReport", "EpochInfo"]

log = logging.getLogger(__name__)

_ENABLED = EpochStatus.ENABLED.value
_DESTROYED = EpochStatus.DESTROYED.value


@dataclass(frozen=True)
class RewrapReport(View):
    """What a :meth:`KeyHierarchy.rewrap` run did.

    ``root_key_ids_in_use`` are the root KEK versions that still wrap an enabled epoch key, a
    lookup key that is not destroyed or a signing key seed: a root version not listed may be
    destroyed at the provider.
    ``data_keys_rewrapped`` counts subject and record data keys.
    """

    data_keys_rewrapped: int
    epoch_keys_rewrapped: int
    epochs_destroyed: int
    root_key_ids_in_use: tuple[str, ...]
    lookup_keys_rewrapped: int = 0
    signing_keys_rewrapped: int = 0
    root_keys_destroyed: tuple[str, ...] = ()


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


def _dek_cache_key(subject_id: str) -> str:
    return f"dek/{subject_id}"


def _record_key_cache_key(record_id: str) -> str:
    return f"rdek/{record_id}"


def _epoch_cache_key(epoch: int, kek_id: str, wrapped: bytes) -> str:
    fingerprint = hashlib.blake2b(kek_id.encode() + b"\x00" + wrapped, digest_size=16).hexdigest()
    return f"epoch/{epoch}/{fingerprint}"


class KeyHierarchy:
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
    def _current_epoch_row(session: Session, *, lock: bool = False) -> WrappingKey | None:
        stmt = select(WrappingKey).where(WrappingKey.status == _ENABLED).order_by(WrappingKey.epoch.desc()).limit(1)
        if lock:
            # FOR SHARE on PostgreSQL: destroying this epoch (FOR UPDATE) waits until the data key
            # wrapped under it is committed, and then sees it (see _destroy_epoch)
            stmt = stmt.with_for_update(read=True)
        return session.scalars(stmt).first()

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
        cache_key = _epoch_cache_key(epoch, kek_id, wrapped)
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
        row = self._current_epoch_row(session, lock=True)
        if row is None:
            raise NotInitialisedError("the key store has no enabled epoch")
        epoch_key = self._epoch_key(row.epoch, row.kek_id, row.wrapped)
        data_key = generate_key()
        session.add(
            SubjectKey(
                subject_id=subject_id,
                epoch=row.epoch,
                wrapped=wrap_key(epoch_key, data_key),
                created_at=self._clock.now(),
            )
        )
        try:
            session.flush()
        except IntegrityError:
            raise ConflictError(f"subject {subject_id} already has a data key") from None
        return data_key

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
        return self._load_key(_dek_cache_key(subject_id), SubjectKey, SubjectKey.subject_id, "subject", subject_id)

    def data_aead(self, subject_id: str) -> Aead:
        """AES-256-GCM over the data key of ``subject_id``, built once per cache entry.

        The same key as :meth:`data_key`, with the same lifetime in memory: shredding evicts
        both at once.
        """
        return self._load_aead(_dek_cache_key(subject_id), lambda: self.data_key(subject_id))

    def has_data_key(self, subject_id: str, session: Session | None = None) -> bool:
        stmt = select(exists().where(SubjectKey.subject_id == subject_id))
        if session is not None:
            return bool(session.scalar(stmt))
        with session_scope(self._engine) as own:
            return bool(own.scalar(stmt))

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
        cache_key = _dek_cache_key(subject_id)
        result = cast(CursorResult[Any], session.execute(delete(SubjectKey).where(SubjectKey.subject_id == subject_id)))
        self._after_shred(session, lambda: self._cache.evict(cache_key))
        return bool(result.rowcount)

    def destroy_data_keys(self, session: Session, subject_ids: Collection[str]) -> int:
        """:meth:`destroy_data_key` for many subjects in one DELETE (vault.subjects.shred_many);
        returns how many keys there were. Evicted now and again on commit, like one."""
        ids = list(subject_ids)
        if not ids:
            return 0
        # synchronize_session=False: a SubjectKey the session holds as an object is not marked
        # deleted (the callers load none: they work with ids)
        result = cast(
            CursorResult[Any],
            session.execute(
                delete(SubjectKey).where(one_of(SubjectKey.subject_id, ids)),
                execution_options={"synchronize_session": False},
            ),
        )
        cache_keys = [_dek_cache_key(subject_id) for subject_id in ids]

        def evict() -> None:
            for cache_key in cache_keys:
                self._cache.evict(cache_key)

        self._after_shred(session, evict)
        return int(result.rowcount or 0)

    def count_data_keys(self) -> int:
        with session_scope(self._engine) as session:
            return int(session.scalar(select(func.count()).select_from(SubjectKey)) or 0)

    # --- record data keys -----------------------------------------------------------------

    def create_record_key(self, session: Session, record_id: str, data_key: SecretBytes | None = None) -> SecretBytes:
        """A data key for the record ``record_id`` (``data_key``, or a new random one), wrapped under
        the current epoch and added in ``session`` (a key-store session the caller commits)."""
        row = self._current_epoch_row(session, lock=True)
        if row is None:
            raise NotInitialisedError("the key store has no enabled epoch")
        epoch_key = self._epoch_key(row.epoch, row.kek_id, row.wrapped)
        key = data_key if data_key is not None else generate_key()
        session.add(
            RecordKey(record_id=record_id, epoch=row.epoch, wrapped=wrap_key(epoch_key, key), created_at=self._clock.now())
        )
        try:
            session.flush()
        except IntegrityError:
            raise ConflictError(f"record {record_id} already has a data key") from None
        return key

    def record_key(self, record_id: str) -> SecretBytes:
        """The unwrapped data key of the record ``record_id``; NotFoundError("record key", id) if none."""
        return self._load_key(_record_key_cache_key(record_id), RecordKey, RecordKey.record_id, "record key", record_id)

    def record_aead(self, record_id: str) -> Aead:
        """AES-256-GCM over the record's own data key, built once per cache entry."""
        return self._load_aead(_record_key_cache_key(record_id), lambda: self.record_key(record_id))

    def destroy_record_key(self, session: Session, record_id: str) -> bool:
        """Delete the wrapped data key of a record in ``session``; evicted now and on commit."""
        cache_key = _record_key_cache_key(record_id)
        result = cast(CursorResult[Any], session.execute(delete(RecordKey).where(RecordKey.record_id == record_id)))
        self._after_shred(session, lambda: self._cache.evict(cache_key))
        return bool(result.rowcount)

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

    def record_shreds(self, session: Session, entries: Sequence[tuple[str, datetime]]) -> None:
        """:meth:`record_shred` for many subjects: ``(subject id, shredded at)`` pairs."""
        present = KeyHierarchy.ledger_present(session, [subject_id for subject_id, _ in entries])
        new = [(subject_id, at) for subject_id, at in entries if subject_id not in present]
        if new and self.external_ledger is not None:
            self.external_ledger.append(new)
        if new:
            insert_rows(session, ShredLedgerEntry, [{"subject_id": s, "shredded_at": at} for s, at in new])

    def ledger_position(self, source: str) -> int:
        """How far the external ledger ``source`` has been replayed into this key store."""
        with session_scope(self._engine) as session:
            row = session.get(LedgerReplay, source)
            return int(row.position) if row is not None else 0

    def set_ledger_position(self, source: str, position: int) -> None:
        with session_scope(self._engine, write=True) as session:
            row = session.get(LedgerReplay, source, with_for_update=True)
            if row is None:
                session.add(LedgerReplay(source=source, position=position, replayed_at=self._clock.now()))
            elif position != row.position:
                row.position, row.replayed_at = position, self._clock.now()

    @staticmethod
    def ledger_entries(session: Session, subject_ids: Collection[str]) -> dict[str, datetime]:
        """``{subject id: shredded at}`` for the subjects among ``subject_ids`` in the shred ledger."""
        ids = list(subject_ids)
        stmt = select(ShredLedgerEntry.subject_id, ShredLedgerEntry.shredded_at).where(one_of(ShredLedgerEntry.subject_id, ids))
        return {subject_id: shredded_at for subject_id, shredded_at in session.execute(stmt)}

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

    # --- rewrap ---------------------------------------------------------------------------

    def rewrap(
        self,
        batch_size: int = 500,
        progress: Callable[[int, int], None] | None = None,
        *,
        destroy_root: bool = True,
    ) -> RewrapReport:
        """Move every data key (subjects' and records') to the current epoch, destroy the epochs
        left unused, and rewrap every remaining epoch key and every lookup key under the
        provider's primary root KEK version.

        Work is done in batches, each committed on its own; after each, ``progress(done, total)``
        is called with the keys moved plus epochs destroyed so far and the total this run expects
        (counted at its start; raised if concurrent writers add work). Each row changes in one
        atomic UPDATE, and an epoch is destroyed only once no data key refers to it, so the run may
        be interrupted anywhere (an exception from ``progress`` included) and re-run to continue.
        Metadata is kept: a data key keeps its ``created_at``, an epoch its ``created_at``.

        Last, with ``destroy_root`` (the default), every root KEK version left wrapping nothing is
        destroyed at the provider (:meth:`destroy_unused_root_versions`).
        """
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError("batch_size must be a positive integer")
        counts = {"data": 0, "epochs": 0, "destroyed": 0, "lookup": 0, "signing": 0}
        current = self.current_epoch()
        primary = self._provider.primary_key_id
        total = self._rewrap_work(current, primary)

        def report(root_destroyed: tuple[str, ...] = ()) -> RewrapReport:
            return RewrapReport(
                counts["data"],
                counts["epochs"],
                counts["destroyed"],
                self.root_key_ids_in_use(),
                counts["lookup"],
                counts["signing"],
                root_destroyed,
            )

        def done_batch() -> None:
            if progress is not None:
                done = sum(counts.values())
                progress(done, max(total, done))

        # 1. data keys (subjects', then records') under older epochs -> the current epoch
        for model in (SubjectKey, RecordKey):
            while True:
                moved = self._rewrap_data_key_batch(current, batch_size, model)
                if moved is None:
                    break
                counts["data"] += moved
                done_batch()

        # 2. older epochs no data key refers to any more -> destroyed
        with session_scope(self._engine) as session:
            older = session.scalars(
                select(WrappingKey.epoch)
                .where(WrappingKey.status == _ENABLED, WrappingKey.epoch < current)
                .order_by(WrappingKey.epoch)
            ).all()
        for epoch in older:
            if self._destroy_epoch(epoch):
                counts["destroyed"] += 1
                done_batch()

        # 3. epoch keys wrapped by a non-primary root KEK version -> the primary
        with session_scope(self._engine) as session:
            stale = session.scalars(
                select(WrappingKey.epoch)
                .where(WrappingKey.status == _ENABLED, WrappingKey.kek_id != primary)
                .order_by(WrappingKey.epoch)
            ).all()
        for epoch in stale:
            if self._rewrap_epoch_key(epoch):
                counts["epochs"] += 1
                done_batch()

        # 4. lookup keys wrapped by a non-primary root KEK version -> the primary
        with session_scope(self._engine) as session:
            stale_lookup = session.scalars(
                select(LookupKey.version)
                .where(LookupKey.status != _DESTROYED, LookupKey.kek_id != primary)
                .order_by(LookupKey.version)
            ).all()
        for version in stale_lookup:
            if self._rewrap_lookup_key(version):
                counts["lookup"] += 1
                done_batch()

        # 5. signing key seeds wrapped by a non-primary root KEK version -> the primary
        with session_scope(self._engine) as session:
            stale_signing = session.scalars(
                select(SigningKeyRow.key_id)
                .where(SigningKeyRow.wrapped.is_not(None), SigningKeyRow.kek_id != primary)
                .order_by(SigningKeyRow.key_id)
            ).all()
        for key_id in stale_signing:
            if self._rewrap_signing_key(key_id):
                counts["signing"] += 1
                done_batch()

        # 6. root KEK versions that no longer wrap anything -> destroyed at the provider
        final = report(self.destroy_unused_root_versions() if destroy_root else ())
        log.info(
            "rewrap: %d data keys rewrapped, %d epoch keys rewrapped, %d epochs destroyed, %d root versions destroyed",
            final.data_keys_rewrapped,
            final.epoch_keys_rewrapped,
            final.epochs_destroyed,
            len(final.root_keys_destroyed),
        )
        return final

    def destroy_unused_root_versions(self) -> tuple[str, ...]:
        """Destroy, at the provider, every root KEK version that is not the primary and wraps
        nothing in the key store any more (no enabled epoch key, live lookup key or signing key
        seed); returns their ids. Irreversible: a key-store backup from before the rewrap holds
        keys wrapped only under those versions, and no longer opens.

        Called at the end of a complete :meth:`rewrap`, once every key has moved to the primary.
        """
        self._provider.refresh()
        primary = self._provider.primary_key_id
        in_use = set(self.root_key_ids_in_use())
        destroyed = []
        for info in self._provider.keys():
            if info.status == "destroyed" or info.key_id == primary or info.key_id in in_use:
                continue
            # checked again right before: a key wrapped under it since (by a process that had not
            # yet seen the new primary) keeps the version alive
            if info.key_id in self.root_key_ids_in_use():
                continue
            self._provider.destroy(info.key_id)
            destroyed.append(info.key_id)
            log.info("destroyed root key version %s", info.key_id)
        return tuple(destroyed)

    def rewrap_pending(self) -> bool:
        """Whether :meth:`rewrap` has anything to do: keys under older epochs or root versions,
        or a root version left wrapping nothing but not yet destroyed."""
        self._provider.refresh()
        primary = self._provider.primary_key_id
        if self._rewrap_work(self.current_epoch(), primary):
            return True
        in_use = set(self.root_key_ids_in_use())
        return any(
            info.status != "destroyed" and info.key_id != primary and info.key_id not in in_use
            for info in self._provider.keys()
        )

    def _rewrap_work(self, current: int, primary: str) -> int:
        """What a rewrap expects to do: data keys to move, older epochs to destroy, and newer
        epoch keys and lookup keys to rewrap under the primary root version."""
        with session_scope(self._engine) as session:
            data_keys = sum(
                int(session.scalar(select(func.count()).select_from(model).where(model.epoch < current)) or 0)
                for model in (SubjectKey, RecordKey)
            )
            lookup_keys = session.scalar(
                select(func.count())
                .select_from(LookupKey)
                .where(LookupKey.status != _DESTROYED, LookupKey.kek_id != primary)
            )
            signing_keys = session.scalar(
                select(func.count())
                .select_from(SigningKeyRow)
                .where(SigningKeyRow.wrapped.is_not(None), SigningKeyRow.kek_id != primary)
            )
            epochs = session.scalar(
                select(func.count())
                .select_from(WrappingKey)
                .where(
                    WrappingKey.status == _ENABLED,
                    (WrappingKey.epoch < current) | (WrappingKey.kek_id != primary),
                )
            )
        return data_keys + int(epochs or 0) + int(lookup_keys or 0) + int(signing_keys or 0)

    def _rewrap_data_key_batch(
        self, current: int, batch_size: int, model: type[SubjectKey] | type[RecordKey] = SubjectKey
    ) -> int | None:
        """Rewrap up to ``batch_size`` data keys (of ``model``'s table) of older epochs; None when
        there were none left."""
        owner = model.subject_id if model is SubjectKey else model.record_id  # type: ignore[union-attr]  # narrowed by the identity test
        with session_scope(self._engine, write=True) as session:
            rows = session.execute(
                select(owner, model.epoch, model.wrapped)
                .where(model.epoch < current)
                .order_by(owner)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return None
            wanted = {r.epoch for r in rows} | {current}
            epoch_rows = {
                r.epoch: (r.kek_id, r.wrapped)
                for r in session.execute(
                    select(WrappingKey.epoch, WrappingKey.kek_id, WrappingKey.wrapped).where(
                        WrappingKey.epoch.in_(wanted)
                    )
                )
            }
            target = self._epoch_key(current, *epoch_rows[current])
            moved = 0
            for owner_id, epoch, wrapped in rows:
                data_key = unwrap_key(self._epoch_key(epoch, *epoch_rows[epoch]), wrapped)
                result = cast(
                    CursorResult[Any],
                    session.execute(
                        update(model)
                        .where(owner == owner_id, model.epoch == epoch)
                        .values(epoch=current, wrapped=wrap_key(target, data_key))
                    ),
                )
                moved += result.rowcount
        return moved

    def _destroy_epoch(self, epoch: int) -> bool:
        with session_scope(self._engine, write=True) as session:
            # FOR UPDATE first: waits for any transaction still adding a data key under this epoch
            # (it holds FOR SHARE), so the check below, a new statement, sees that key
            row = session.get(WrappingKey, epoch, with_for_update=True, populate_existing=True)
            if row is None or row.status != _ENABLED or row.wrapped is None:
                return False
            if session.scalar(select(exists().where(SubjectKey.epoch == epoch))):
                return False
            if session.scalar(select(exists().where(RecordKey.epoch == epoch))):
                return False
            cache_key = _epoch_cache_key(row.epoch, row.kek_id, row.wrapped)
            row.wrapped = None
            row.status = _DESTROYED
            row.destroyed_at = self._clock.now()
        self._cache.evict(cache_key)
        log.info("destroyed key epoch %d", epoch)
        return True

    def _rewrap_epoch_key(self, epoch: int) -> bool:
        primary = self._provider.primary_key_id
        with session_scope(self._engine, write=True) as session:
            row = session.get(WrappingKey, epoch, with_for_update=True, populate_existing=True)
            if row is None or row.status != _ENABLED or row.wrapped is None or row.kek_id == primary:
                return False
            old_cache_key = _epoch_cache_key(row.epoch, row.kek_id, row.wrapped)
            rewrapped = self._provider.wrap(self._provider.unwrap(WrappedKey(row.kek_id, row.wrapped)))
            row.kek_id = rewrapped.key_id
            row.wrapped = rewrapped.ciphertext
        self._cache.evict(old_cache_key)
        return True

    def _rewrap_lookup_key(self, version: int) -> bool:
        """Rewrap one lookup key under the provider's primary root KEK version (the key is unchanged)."""
        primary = self._provider.primary_key_id
        with session_scope(self._engine, write=True) as session:
            row = session.get(LookupKey, version, with_for_update=True, populate_existing=True)
            if row is None or row.status == _DESTROYED or row.wrapped is None or row.kek_id == primary:
                return False
            rewrapped = self._provider.wrap(self._provider.unwrap(WrappedKey(row.kek_id, row.wrapped)))
            row.kek_id = rewrapped.key_id
            row.wrapped = rewrapped.ciphertext
        return True

    def _rewrap_signing_key(self, key_id: str) -> bool:
        """Rewrap one signing key seed under the provider's primary root KEK version (the seed, and
        so every signature made with it, is unchanged)."""
        primary = self._provider.primary_key_id
        with session_scope(self._engine, write=True) as session:
            row = session.get(SigningKeyRow, key_id, with_for_update=True, populate_existing=True)
            if row is None or row.wrapped is None or row.kek_id == primary:
                return False
            rewrapped = self._provider.wrap(self._provider.unwrap(WrappedKey(row.kek_id, row.wrapped)))
            row.kek_id = rewrapped.key_id
            row.wrapped = rewrapped.ciphertext
        return True
