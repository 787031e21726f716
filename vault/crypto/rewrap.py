"""Rewrap: moving every key the root KEK (or an epoch key) wraps to the newest version, and destroying
what is left unused. The rewrap half of :class:`vault.crypto.keystore.KeyHierarchy`, as a mixin over
its state (the key store's engine, the provider, the key cache).

One run (:meth:`Rewrapping.rewrap`): data keys (subjects', then records') under older epochs move to
the current epoch; epochs no data key refers to are destroyed; every remaining epoch key, lookup key
and signing seed is rewrapped under the provider's primary root version; last, root versions left
wrapping nothing are destroyed at the provider. Each row changes in one atomic UPDATE and every batch
commits on its own, so a run may stop anywhere and be run again to continue.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, exists, func, select, update

from pseudovault.keys.provider import KekProvider, WrappedKey
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.wrap import unwrap_key, wrap_key
from pseudovault.vault.clock import Clock
from pseudovault.vault.crypto.cache import KeyCache, epoch_cache_key
from pseudovault.vault.store.db import session_scope
from pseudovault.vault.store.key_models import (
    EpochStatus,
    LookupKey,
    RecordKey,
    SigningKeyRow,
    SubjectKey,
    WrappingKey,
)
from pseudovault.vault.views import View

__all__ = ["RewrapReport", "Rewrapping"]

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


class Rewrapping(abc.ABC):
    """The rewrap methods of :class:`vault.crypto.keystore.KeyHierarchy`, over the state it holds."""

    _engine: Engine
    _provider: KekProvider
    _cache: KeyCache
    _clock: Clock

    @abc.abstractmethod
    def current_epoch(self) -> int: ...

    @abc.abstractmethod
    def root_key_ids_in_use(self) -> tuple[str, ...]: ...

    @abc.abstractmethod
    def _epoch_key(self, epoch: int, kek_id: str, wrapped: bytes | None, *, stamp: int | None = None) -> SecretBytes: ...

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
            cache_key = epoch_cache_key(row.epoch, row.kek_id, row.wrapped)
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
            old_cache_key = epoch_cache_key(row.epoch, row.kek_id, row.wrapped)
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
