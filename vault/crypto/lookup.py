"""Lookup keys: the versioned keys pseudonyms are derived under, and the pseudonymisation domains.

::

    root KEK version (provider)  --provider.wrap-->  lookup key of a version (256-bit, random)
    lookup key                    --HKDF per (kind, domain), HMAC-SHA256-->  pseudonyms (keys.pseudonym)

The key store's ``lookup_keys`` table holds one row per version: ``enabled`` versions are used by
lookups (a check derives its candidates under every enabled version), exactly one of them is
*primary* (new pseudonyms are derived under it), ``disabled`` versions are kept but not used,
``destroyed`` versions have their wrapped bytes deleted for good. Version numbers are never reused.

Rotation without downtime: :meth:`LookupKeys.rotate` adds a version and, by default, promotes it
at once; a deployment of several processes can instead add it unpromoted
(``promote=False``), wait for every process to pick it up (at most ``refresh_interval``), then
:meth:`LookupKeys.promote` it. When a check matches a record under an older version, the record
gains the primary version's pseudonym (lazy re-indexing, vault.checks), so the old version can
later be disabled and destroyed; :meth:`LookupKeys.destroy` refuses while identifiers would be
left with no pseudonym under any other enabled version, unless forced (those bans then stop
matching), and deletes the destroyed version's pseudonyms from the data store.

Caching: the unwrapped keys live in memory as one :class:`keys.pseudonym.Pseudonymizer` per
enabled version for the life of the vault object. The hot path (:meth:`LookupKeys.current`)
re-reads the (few) ``lookup_keys`` rows at most every ``refresh_interval`` as measured by the
injectable clock, and at once after a change made through this object; a changed row set
rebuilds the set of Pseudonymizers, unwrapping only versions it has not seen.

A pseudonymisation domain names a separate space of pseudonyms (a tenant, a purpose): it matches
``[a-z0-9][a-z0-9_.:-]{0,63}``; the default is ``default``.

Failure rules: no primary version is :class:`vault.errors.NotInitialisedError`; a wrapped key the
provider cannot unwrap is :class:`keys.errors.KeyNotFoundError` / :class:`keys.errors.DecryptionError`;
changing the primary version in a way that leaves none, or destroying one that bans still depend
on, is :class:`vault.errors.ConflictError`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pseudovault.keys.provider import KekProvider, WrappedKey
from pseudovault.keys.pseudonym import Pseudonymizer
from pseudovault.keys.wrap import generate_key
from pseudovault.vault.audit import AuditLog
from pseudovault.vault.clock import Clock, SystemClock
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError, NotInitialisedError
from pseudovault.vault.records import repository as records_repository
from pseudovault.vault.store.db import checkpoint_sqlite, session_scope
from pseudovault.vault.store.key_models import LookupKey
from pseudovault.vault.views import View

__all__ = [
    "LOOKALIKE_PREFIX",
    "lookalike_label",
    "DEFAULT_DOMAIN",
    "DEFAULT_REFRESH_INTERVAL",
    "ADVISED_ENABLED_VERSIONS",
    "LookupKeys",
    "LookupKeyInfo",
    "LookupSet",
    "validate_domain",
]

log = logging.getLogger(__name__)

DEFAULT_DOMAIN = "default"
DEFAULT_REFRESH_INTERVAL = timedelta(seconds=5)
#: every check derives one pseudonym per candidate under each enabled version: past this many
#: enabled versions, ``keys rotate-lookup`` warns that older ones should be retired
ADVISED_ENABLED_VERSIONS = 3

#: look-alike pseudonyms are derived under the kind label ``lookalike:<kind>`` (their own HMAC keys)
LOOKALIKE_PREFIX = "lookalike:"

_DOMAIN = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,63}")
_ENABLED = "enabled"
_DISABLED = "disabled"
_DESTROYED = "destroyed"


def lookalike_label(kind: str) -> str:
    """The kind label look-alike (skeleton) pseudonyms of ``kind`` are derived under."""
    return LOOKALIKE_PREFIX + kind


def validate_domain(value: object, field: str = "domain") -> str:
    """A pseudonymisation domain name, or InvalidInputError (the value is not echoed)."""
    if not isinstance(value, str) or _DOMAIN.fullmatch(value) is None:
        raise InvalidInputError(field, "must match [a-z0-9][a-z0-9_.:-]{0,63}")
    return value


@dataclass(frozen=True)
class LookupKeyInfo(View):
    """What may be shown about one lookup-key version: never key material."""

    version: int
    kek_id: str
    status: str
    primary: bool
    created_at: datetime
    destroyed_at: datetime | None


@dataclass(frozen=True, repr=False)
class LookupSet:
    """The Pseudonymizers of the enabled versions: ``enabled[0]`` is the primary, the rest newest first."""

    primary: Pseudonymizer
    enabled: tuple[Pseudonymizer, ...]

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(p.version for p in self.enabled)

    def __repr__(self) -> str:
        return f"LookupSet(primary={self.primary.version}, enabled={list(self.versions)})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("LookupSet cannot be pickled")


def _fingerprint(kek_id: str, wrapped: bytes | None) -> str:
    return hashlib.blake2b(kek_id.encode() + b"\x00" + bytes(wrapped or b""), digest_size=16).hexdigest()


class LookupKeys:
    """The lookup-key versions in the key store, and the in-memory Pseudonymizers over them."""

    def __init__(
        self,
        provider: KekProvider,
        keys_engine: Engine,
        data_engine: Engine,
        clock: Clock,
        audit: AuditLog,
        *,
        refresh_interval: timedelta = DEFAULT_REFRESH_INTERVAL,
    ) -> None:
        if not isinstance(refresh_interval, timedelta) or refresh_interval < timedelta(0):
            raise ValueError("refresh_interval must be a non-negative timedelta")
        self._provider = provider
        self._keys_engine = keys_engine
        self._data_engine = data_engine
        self._clock = clock
        self._audit = audit
        self._refresh_interval = refresh_interval
        self._lock = threading.Lock()
        self._set: LookupSet | None = None
        self._stamp: tuple[tuple[Any, ...], ...] | None = None
        # (the set, when it was loaded, until when it is used) in float seconds: time.monotonic
        # for the system clock (every check reads it: no datetime made), the injected clock's own
        # time otherwise (tests travel in it); None: to be (re)loaded
        self._seconds: Callable[[], float] = (
            time.monotonic if type(clock) is SystemClock else (lambda: clock.now().timestamp())
        )
        self._fresh: tuple[LookupSet, float, float] | None = None
        # (version, fingerprint of kek_id and wrapped bytes) -> Pseudonymizer
        self._pseudonymizers: dict[tuple[int, str], Pseudonymizer] = {}

    def __repr__(self) -> str:
        return f"LookupKeys(refresh_interval={self._refresh_interval.total_seconds()}s)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("LookupKeys cannot be pickled")

    @property
    def refresh_interval(self) -> timedelta:
        return self._refresh_interval

    # --- the hot path ---------------------------------------------------------------------------

    def current(self) -> LookupSet:
        """The enabled versions' Pseudonymizers, re-read from the key store when due."""
        fresh = self._fresh  # one read: a refresh replaces the tuple whole
        if fresh is not None and fresh[1] <= self._seconds() < fresh[2]:
            return fresh[0]
        return self.refresh()

    def _loaded(self, loaded: LookupSet) -> None:
        """``loaded`` is the set to use from now until the refresh interval has passed."""
        now = self._seconds()
        self._fresh = (loaded, now, now + self._refresh_interval.total_seconds())

    def refresh(self) -> LookupSet:
        """Re-read the versions now; unwrap only versions not seen before."""
        with session_scope(self._keys_engine) as session:
            rows = session.execute(
                select(LookupKey.version, LookupKey.kek_id, LookupKey.wrapped, LookupKey.status, LookupKey.is_primary)
                .where(LookupKey.status == _ENABLED)
                .order_by(LookupKey.version.desc())
            ).all()
        stamp = tuple((r.version, r.is_primary, _fingerprint(r.kek_id, r.wrapped)) for r in rows)
        with self._lock:
            if stamp == self._stamp and self._set is not None:
                self._loaded(self._set)
                return self._set
            primary: Pseudonymizer | None = None
            others: list[Pseudonymizer] = []
            kept: dict[tuple[int, str], Pseudonymizer] = {}
            for version, kek_id, wrapped, _status, is_primary in rows:
                if wrapped is None:  # not for an enabled version: the table's check constraint
                    continue
                cache_key = (version, _fingerprint(kek_id, wrapped))
                pseudonymizer = self._pseudonymizers.get(cache_key)
                if pseudonymizer is None:
                    pseudonymizer = Pseudonymizer(self._provider.unwrap(WrappedKey(kek_id, bytes(wrapped))), version)
                kept[cache_key] = pseudonymizer
                if is_primary and primary is None:
                    primary = pseudonymizer
                else:
                    others.append(pseudonymizer)
            self._pseudonymizers = kept
            if primary is None:
                self._set, self._stamp, self._fresh = None, None, None
                raise NotInitialisedError("the key store has no primary lookup key; run 'pseudovault init'")
            self._set = LookupSet(primary=primary, enabled=(primary, *others))
            self._stamp = stamp
            self._loaded(self._set)
            log.debug("lookup keys loaded: primary %d, enabled %s", primary.version, list(self._set.versions))
            return self._set

    def _invalidate(self) -> None:
        with self._lock:
            self._fresh = None
            self._stamp = None

    # --- versions -------------------------------------------------------------------------------

    def _insert(self, session: Session, *, primary: bool) -> int:
        last = session.scalar(select(func.max(LookupKey.version)))
        version = (last or 0) + 1
        wrapped = self._provider.wrap(generate_key())
        if primary:
            for row in session.scalars(select(LookupKey).where(LookupKey.is_primary.is_(True))):
                row.is_primary = False
        session.add(
            LookupKey(
                version=version,
                kek_id=wrapped.key_id,
                wrapped=wrapped.ciphertext,
                status=_ENABLED,
                is_primary=primary,
                created_at=self._clock.now(),
                destroyed_at=None,
            )
        )
        session.flush()
        return version

    @staticmethod
    def _lock_all(session: Session) -> list[LookupKey]:
        """Every version, locked (PostgreSQL ``FOR UPDATE``; SQLite's write transaction already is)."""
        return list(session.scalars(select(LookupKey).order_by(LookupKey.version).with_for_update()))

    def ensure(self) -> int:
        """The primary version, creating version 1 (or the next number) when there is none."""
        try:
            with session_scope(self._keys_engine, write=True) as session:
                rows = self._lock_all(session)
                primary = next((r.version for r in rows if r.is_primary), None)
                if primary is not None:
                    return primary
                version = self._insert(session, primary=True)
        except IntegrityError:  # another process created it at the same moment
            self._invalidate()
            return self.refresh().primary.version
        self._invalidate()
        log.info("created lookup key version %d", version)
        return version

    def rotate(self, *, promote: bool = True) -> int:
        """Add a new version (wrapped by the provider's primary root KEK); primary unless ``promote=False``."""
        try:
            with session_scope(self._keys_engine, write=True) as session:
                self._lock_all(session)
                version = self._insert(session, primary=promote)
        except IntegrityError:
            self._audit.append("keys.rotate_lookup", outcome="conflict")
            raise ConflictError("another lookup key rotation ran at the same time; try again") from None
        self._invalidate()
        self._audit.append("keys.rotate_lookup", detail={"version": version, "promoted": promote})
        log.info("added lookup key version %d (primary: %s)", version, promote)
        return version

    def enabled_versions(self) -> int:
        """How many versions are enabled, as the key store holds them now."""
        with session_scope(self._keys_engine) as session:
            return int(session.scalar(select(func.count()).select_from(LookupKey).where(LookupKey.status == _ENABLED)) or 0)

    def _change(self, version: int, action: str, change: Any) -> None:
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InvalidInputError("version", "must be a positive integer")
        try:
            with session_scope(self._keys_engine, write=True) as session:
                rows = {r.version: r for r in self._lock_all(session)}
                row = rows.get(version)
                if row is None:
                    raise NotFoundError("lookup key version", str(version))
                change(row, rows)
        except NotFoundError:
            self._audit.append(action, outcome="not_found", detail={"version": version})
            raise
        except ConflictError:
            self._audit.append(action, outcome="conflict", detail={"version": version})
            raise
        self._invalidate()
        self._audit.append(action, detail={"version": version})
        log.info("lookup key version %d: %s", version, action)

    def promote(self, version: int) -> None:
        """Make an enabled version the primary one."""

        def change(row: LookupKey, rows: dict[int, LookupKey]) -> None:
            if row.status != _ENABLED:
                raise ConflictError(f"lookup key version {version} is {row.status}: only an enabled version is primary")
            for other in rows.values():
                if other.is_primary and other.version != version:
                    other.is_primary = False
            row.is_primary = True

        self._change(version, "keys.promote_lookup", change)

    def disable(self, version: int) -> None:
        """Stop using a non-primary version for lookups (reversible with :meth:`enable`)."""

        def change(row: LookupKey, rows: dict[int, LookupKey]) -> None:
            if row.is_primary:
                raise ConflictError(f"lookup key version {version} is the primary one; promote another first")
            if row.status == _DESTROYED:
                raise ConflictError(f"lookup key version {version} is destroyed")
            row.status = _DISABLED

        self._change(version, "keys.disable_lookup", change)

    def enable(self, version: int) -> None:
        """Use a disabled version for lookups again."""

        def change(row: LookupKey, rows: dict[int, LookupKey]) -> None:
            if row.status == _DESTROYED:
                raise ConflictError(f"lookup key version {version} is destroyed")
            row.status = _ENABLED

        self._change(version, "keys.enable_lookup", change)

    def orphaned_identifiers(self, version: int) -> int:
        """How many record identifiers have a pseudonym under ``version`` and none under any other
        enabled version: destroying ``version`` would stop them matching."""
        with session_scope(self._keys_engine) as session:
            others = list(
                session.scalars(
                    select(LookupKey.version).where(LookupKey.status == _ENABLED, LookupKey.version != version)
                )
            )
        with session_scope(self._data_engine) as session:
            return records_repository.count_orphaned_pseudonyms(session, version, others)

    def destroy(self, version: int, *, force: bool = False) -> int:
        """Delete a non-primary version's key for good, then its pseudonyms; returns how many
        identifiers lost their last usable pseudonym (0 unless ``force``).

        Refused (ConflictError) while identifiers depend on it alone, unless ``force``. Destroying
        a destroyed version again only deletes any pseudonyms left under it.
        """
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InvalidInputError("version", "must be a positive integer")
        orphans = self.orphaned_identifiers(version)
        if orphans and not force:
            self._audit.append("keys.destroy_lookup", outcome="conflict", detail={"version": version})
            raise ConflictError(
                f"{orphans} record identifier(s) have a pseudonym only under lookup key version {version}: "
                "they would stop matching; let checks re-index them, or force the destruction"
            )

        def change(row: LookupKey, rows: dict[int, LookupKey]) -> None:
            if row.is_primary:
                raise ConflictError(f"lookup key version {version} is the primary one; promote another first")
            if row.status != _DESTROYED:
                row.status = _DESTROYED
                row.wrapped = None
                row.destroyed_at = self._clock.now()

        try:
            with session_scope(self._keys_engine, write=True) as session:
                rows = {r.version: r for r in self._lock_all(session)}
                row = rows.get(version)
                if row is None:
                    raise NotFoundError("lookup key version", str(version))
                change(row, rows)
        except (NotFoundError, ConflictError) as exc:
            outcome = "not_found" if isinstance(exc, NotFoundError) else "conflict"
            self._audit.append("keys.destroy_lookup", outcome=outcome, detail={"version": version})
            raise
        self._invalidate()
        with session_scope(self._data_engine, write=True) as session:
            deleted = records_repository.delete_pseudonyms(session, version)
        checkpoint_sqlite(self._keys_engine)
        self._audit.append(
            "keys.destroy_lookup",
            detail={"version": version, "pseudonyms_deleted": deleted, "identifiers_orphaned": orphans},
        )
        log.info("destroyed lookup key version %d (%d pseudonyms deleted)", version, deleted)
        return orphans

    def versions(self) -> list[LookupKeyInfo]:
        """Every version, oldest first."""
        with session_scope(self._keys_engine) as session:
            rows = session.scalars(select(LookupKey).order_by(LookupKey.version)).all()
        return [
            LookupKeyInfo(r.version, r.kek_id, r.status, r.is_primary, r.created_at, r.destroyed_at) for r in rows
        ]

    def pseudonym_counts(self) -> dict[int, int]:
        """How many pseudonyms the data store holds under each version."""
        with session_scope(self._data_engine) as session:
            return records_repository.pseudonym_counts(session)
