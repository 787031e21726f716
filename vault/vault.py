"""The vault as one object: both stores, the key hierarchy and the domain services over them.

Why one module of this size: it is the composition root, the list of what a vault is: it builds
and owns every service, opens, checks and closes both stores, and runs the operations that span
services (rotation, rewrap, maintenance, readiness).

:meth:`Vault.create` migrates both stores to head and creates the first key epoch if there is
none (running it again on an existing vault is harmless); :meth:`Vault.open` refuses stores that
are not migrated to head or have no key epoch (:class:`vault.errors.NotInitialisedError`). Both
check, before returning, that the provider unwraps the current epoch key, so a wrong provider
fails at once (:class:`vault.errors.UnavailableError`), not on the first read. A store that
cannot be reached is :class:`vault.errors.UnavailableError` too.

Services are attributes (``subjects``, ``keys``, ``audit``, ``signing``, ``apikeys``, ``console_sessions``,
``lookup``, ``records``, ``bulk``, ``checks``), built in :meth:`Vault._assemble`. :meth:`Vault.create` also
creates lookup key version 1 when there is no lookup key (vault.crypto.lookup); ``records_config``
(:class:`RecordsConfig`) says how identifiers are normalized and checks decided.
The audit log signs a checkpoint every ``audit_config.checkpoint_every`` entries with the ``audit``
signing key (vault.crypto.signing), which :meth:`Vault.create` makes if there is none.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import InterfaceError, OperationalError

from pseudovault.keys.errors import DecryptionError, KeyNotFoundError, ProviderUnavailableError
from pseudovault.keys.provider import KekProvider
from pseudovault.vault import idempotency
from pseudovault.vault.apikeys import ApiKeyService
from pseudovault.vault.audit import DEFAULT_CHECKPOINT_EVERY, AuditLog
from pseudovault.vault.audit.external import CheckpointFile
from pseudovault.vault.checks import CheckService
from pseudovault.vault.checks.decisions import DecisionPolicy
from pseudovault.vault.checks.missfilter import MissFilter
from pseudovault.vault.clock import Clock, SystemClock
from pseudovault.vault.crypto.cache import KeyCache
from pseudovault.vault.crypto.keystore import KeyHierarchy, RewrapReport
from pseudovault.vault.crypto.ledger import SOURCE as LEDGER_SOURCE
from pseudovault.vault.crypto.ledger import ShredLedger
from pseudovault.vault.crypto.lookup import DEFAULT_REFRESH_INTERVAL, LookupKeys
from pseudovault.vault.crypto.oneway import FieldRules
from pseudovault.vault.crypto.signing import AUDIT_PURPOSE, SigningKeys
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotInitialisedError, UnavailableError
from pseudovault.vault.identifiers import Normalizer, NormalizerConfig
from pseudovault.vault.records import repository as records_repository
from pseudovault.vault.records.bulk import BulkTransfer
from pseudovault.vault.records.service import RecordService
from pseudovault.vault.retention.categories import CategoryCatalogue
from pseudovault.vault.retention.erasure import ErasureService
from pseudovault.vault.retention.holds import HoldService
from pseudovault.vault.retention.policies import PolicySet
from pseudovault.vault.retention.policy_file import CATALOGUE, shipped_presets
from pseudovault.vault.retention.rights import RightsService
from pseudovault.vault.retention.separate import SeparateStorage
from pseudovault.vault.retention.service import RetentionService
from pseudovault.vault.retention.webhooks import WebhookConfig, WebhookDeliverer
from pseudovault.vault.sessions import ConsoleSessions
from pseudovault.vault.store.db import DbTimeouts, connection_failure, make_engine, redact_url, session_scope, sqlite_path
from pseudovault.vault.store.migrate import DATA, KEYS, StoreSchema, current_revision, head_revisions, upgrade_store
from pseudovault.vault.store.vacuum import DeferredVacuum
from pseudovault.vault.subjects import repository as subjects_repository
from pseudovault.vault.subjects.service import SubjectService

__all__ = ["AuditConfig", "RecordsConfig", "Vault"]

log = logging.getLogger(__name__)

#: a data key without data is an orphan only once it is this old (a create under way is not)
ORPHAN_KEY_GRACE = timedelta(hours=1)
#: where the orphan scan stopped, kept in the key store's ledger_replay table (microseconds)
ORPHAN_SCAN_SOURCE = "orphan-scan"
#: how far the audit log reached (its seq at the last checkpoint or signed head), kept in the key
#: store so that a data store whose log was cut, rolled back or emptied does not verify
AUDIT_MARK_SOURCE = "audit-head"


@dataclass(frozen=True)
class AuditConfig:
    """How the audit log is checkpointed and verified (vault.audit): a signed checkpoint every
    ``checkpoint_every`` entries; each checkpoint's signed head also appended to ``checkpoint_file``
    (None: none kept outside the data store); and, when ``head_max_age`` is set, verification fails
    on a head signed longer ago than that (the server signs it hourly)."""

    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    checkpoint_file: Path | None = None
    head_max_age: timedelta | None = None


@dataclass(frozen=True)
class RecordsConfig:
    """How a vault normalizes identifiers, decides checks and refreshes its lookup keys.

    ``normalizer`` is part of what an identifier's pseudonym means (see
    vault.identifiers.config): keep one per deployment. ``policy`` None is the default policy.
    """

    normalizer: NormalizerConfig = field(default_factory=NormalizerConfig)
    policy: DecisionPolicy | None = None
    lookup_refresh: timedelta = DEFAULT_REFRESH_INTERVAL
    catalogue: CategoryCatalogue = CATALOGUE
    #: answer misses from an in-process filter of the stored pseudonyms, a ban written by another
    #: process being answered from it within this many seconds (vault.checks.missfilter; a
    #: PostgreSQL data store or a SQLite file, not an in-memory database); None (the default)
    #: queries the store for every check
    miss_filter: float | None = None
    #: a read replica of the data store (same kind of database) that checks query instead of the
    #: data store itself; a ban reaches the checks after the replica's lag (docs/scaling.md)
    check_read_url: str | None = field(default=None, repr=False)  # a URL may carry a password


_T = TypeVar("_T")

DEFAULT_CACHE_TTL = timedelta(seconds=300)
DEFAULT_CACHE_SIZE = 10_000


def _reach(store: StoreSchema, action: Callable[[], _T]) -> _T:
    """Run ``action``; a database that cannot be reached becomes UnavailableError naming the store."""
    try:
        return action()
    except (OperationalError, InterfaceError) as exc:
        why = connection_failure(exc)
        if why == "no_database":
            raise NotInitialisedError(
                f"the {store.name} store's database does not exist on its server; create it (e.g. createdb) and run again"
            ) from exc
        if why == "credentials":
            raise UnavailableError(
                f"the {store.name} store cannot be reached: its server refused the credentials of its URL"
            ) from exc
        if why == "unreachable":
            raise UnavailableError(
                f"the {store.name} store cannot be reached (no server answers: not running, or another host or port)"
            ) from exc
        raise UnavailableError(f"the {store.name} store cannot be reached ({type(exc.orig).__name__})") from exc


def _open_engine(store: StoreSchema, url: str, timeouts: DbTimeouts | None) -> Engine:
    try:
        return make_engine(url, timeouts)
    except OSError as exc:  # a SQLite file or its directory cannot be created
        raise UnavailableError(f"the {store.name} store cannot be opened ({type(exc).__name__})") from exc


class Vault:
    """Both stores and the services over them. Build it with :meth:`create` or :meth:`open`."""

    subjects: SubjectService
    keys: KeyHierarchy
    audit: AuditLog
    signing: SigningKeys
    apikeys: ApiKeyService
    console_sessions: ConsoleSessions
    lookup: LookupKeys
    records: RecordService
    checks: CheckService
    holds: HoldService
    separate: SeparateStorage
    retention: RetentionService
    erasure: ErasureService
    rights: RightsService
    webhooks: WebhookDeliverer

    def __init__(
        self,
        *,
        provider: KekProvider,
        clock: Clock,
        data_engine: Engine,
        keys_engine: Engine,
        cache: KeyCache,
        audit_config: AuditConfig | None = None,
        records_config: RecordsConfig | None = None,
        retention_policies: PolicySet | None = None,
        field_rules: FieldRules | None = None,
        webhooks: WebhookConfig | None = None,
        shred_ledger: ShredLedger | None = None,
        epoch_max_age: timedelta | None = None,
        key_vacuum: tuple[str, float] = ("full", 10.0),
        check_read_engine: Engine | None = None,
    ) -> None:
        self.provider = provider
        self.check_read_engine = check_read_engine
        self.key_vacuum = key_vacuum
        self.shred_ledger = shred_ledger
        self.epoch_max_age = epoch_max_age
        self.clock = clock
        self.data_engine = data_engine
        self.keys_engine = keys_engine
        self.cache = cache
        self.audit_config = audit_config or AuditConfig()
        self.retention_policies = retention_policies if retention_policies is not None else shipped_presets()
        self.field_rules = field_rules if field_rules is not None else FieldRules()
        self.webhook_config = webhooks
        config = records_config or RecordsConfig()
        if retention_policies is not None and config.catalogue is CATALOGUE:
            # records validate categories and default expiry under the retention policies in force
            config = dataclasses.replace(config, catalogue=self.retention_policies.catalogue())
        self.records_config = config
        self._closed = False
        self._owns_provider = False
        self._assemble()

    def _assemble(self) -> None:
        self.signing = SigningKeys(self.provider, self.keys_engine, self.clock)
        self.keys = KeyHierarchy(self.provider, self.keys_engine, self.clock, self.cache)
        self.audit = AuditLog(
            self.data_engine,
            self.clock,
            self.signing.signer(AUDIT_PURPOSE),
            checkpoint_every=self.audit_config.checkpoint_every,
            mark=self.keys.position_mark(AUDIT_MARK_SOURCE),
            external=CheckpointFile(self.audit_config.checkpoint_file) if self.audit_config.checkpoint_file else None,
            head_max_age=self.audit_config.head_max_age,
        )
        self.apikeys = ApiKeyService(self.data_engine, self.clock, self.audit)
        self.console_sessions = ConsoleSessions(self.data_engine, self.clock, self.audit, self.apikeys)
        self.keys.external_ledger = self.shred_ledger
        mode, delay = self.key_vacuum
        self.keys.vacuum = DeferredVacuum(self.keys_engine, ("subject_keys", "record_keys"), mode=mode, delay=delay)
        self.subjects = SubjectService(self.data_engine, self.keys, self.clock, self.audit, self.field_rules)
        config = self.records_config
        self.normalizer = Normalizer(config.normalizer)
        self.lookup = LookupKeys(
            self.provider,
            self.keys_engine,
            self.data_engine,
            self.clock,
            self.audit,
            refresh_interval=config.lookup_refresh,
        )
        self.records = RecordService(
            self.data_engine, self.keys, self.lookup, self.normalizer, self.clock, self.audit, config.catalogue
        )
        self.bulk = BulkTransfer(self.records)
        self.checks = CheckService(
            self.data_engine, self.lookup, self.normalizer, self.clock, config.policy, read_engine=self.check_read_engine
        )
        if config.miss_filter is not None and MissFilter.can_follow(self.data_engine):
            self.checks.miss_filter = MissFilter(self.data_engine, max_staleness=config.miss_filter).start()
            self.records.on_identifiers = self.checks.miss_filter.add
        # retention (vault.retention): holds, separate storage, policies and the sweeper, erasure, rights
        self.holds = HoldService(self.data_engine, self.clock, self.audit)
        self.separate = SeparateStorage(self.data_engine, self.keys, self.clock, self.audit)
        self.retention = RetentionService(
            self.data_engine,
            self.keys,
            self.clock,
            self.audit,
            self.subjects,
            self.separate,
            self.holds,
            self.retention_policies,
        )
        self.subjects.on_fields_set = self.retention  # per-entry retention follows new values
        self.records.on_expiry_changed = self.retention  # a record's deletion follows its expiry
        self.erasure = ErasureService(self.retention, self.signing, self.clock, self.audit)
        self.rights = RightsService(self.retention, self.records, self.clock, self.audit)
        self.rights.webhooks = self.erasure.webhooks = self.webhook_config
        self.webhooks = WebhookDeliverer(self.data_engine, self.webhook_config, self.clock, self.audit)

    @classmethod
    def _build(
        cls,
        provider: KekProvider,
        data_url: str,
        keys_url: str,
        *,
        clock: Clock | None,
        cache_ttl: timedelta,
        cache_size: int,
        initialise: bool,
        audit_config: AuditConfig | None = None,
        records_config: RecordsConfig | None = None,
        retention_policies: PolicySet | None = None,
        field_rules: FieldRules | None = None,
        webhooks: WebhookConfig | None = None,
        shred_ledger: ShredLedger | None = None,
        epoch_max_age: timedelta | None = None,
        key_vacuum: tuple[str, float] = ("full", 10.0),
        db_timeouts: DbTimeouts | None = None,
    ) -> Vault:
        if not isinstance(provider, KekProvider):
            raise TypeError("provider must be a KekProvider")
        clock = clock or SystemClock()
        cache = KeyCache(cache_size, cache_ttl, clock)  # checks its arguments before any engine exists
        if not initialise:
            for store, url in ((KEYS, keys_url), (DATA, data_url)):
                path = sqlite_path(url)
                if path is not None and not path.exists():  # opening must not create an empty store
                    raise NotInitialisedError(f"the {store.name} store is not initialised")
        data_engine = _open_engine(DATA, data_url, db_timeouts)
        try:
            keys_engine = _open_engine(KEYS, keys_url, db_timeouts)
        except BaseException:
            data_engine.dispose()
            raise
        read_engine: Engine | None = None
        vault: Vault | None = None
        try:
            if initialise:
                _reach(KEYS, lambda: upgrade_store(keys_engine, KEYS))
                _reach(DATA, lambda: upgrade_store(data_engine, DATA))
            else:
                for store, engine in ((KEYS, keys_engine), (DATA, data_engine)):
                    _check_at_head(store, engine)
            read_url = records_config.check_read_url if records_config is not None else None
            if read_url:
                read_engine = _open_engine(DATA, read_url, db_timeouts)
                if read_engine.dialect.name != data_engine.dialect.name:
                    raise InvalidInputError("check_read_url", "must be a replica of the data store: the same kind of database")
                _check_at_head(DATA, read_engine)  # a replica that lags a migration is refused
            vault = cls(
                provider=provider,
                clock=clock,
                data_engine=data_engine,
                keys_engine=keys_engine,
                cache=cache,
                audit_config=audit_config,
                records_config=records_config,
                retention_policies=retention_policies,
                field_rules=field_rules,
                webhooks=webhooks,
                shred_ledger=shred_ledger,
                epoch_max_age=epoch_max_age,
                key_vacuum=key_vacuum,
                check_read_engine=read_engine,
            )
            if initialise:
                _reach(KEYS, vault.keys.ensure_epoch)
                _reach(KEYS, lambda: vault.signing.ensure(AUDIT_PURPOSE))
                _reach(KEYS, vault.lookup.ensure)
            try:
                _reach(KEYS, vault.keys.check)
            except (KeyNotFoundError, DecryptionError):
                raise UnavailableError("the key provider cannot unwrap the key store's current epoch key") from None
            except ProviderUnavailableError as exc:
                raise UnavailableError(f"the key provider cannot be reached ({exc})") from None
            if shred_ledger is not None:
                # stores restored from a backup: the shreds made since are applied again, now
                vault.subjects.replay_external_ledger(shred_ledger)
        except BaseException:
            if vault is not None:
                vault.checks.close()  # the miss filter's listener, when it was started, stops too
            data_engine.dispose()
            keys_engine.dispose()
            if read_engine is not None:
                read_engine.dispose()
            raise
        return vault

    @classmethod
    def create(
        cls,
        provider: KekProvider,
        data_url: str,
        keys_url: str,
        *,
        clock: Clock | None = None,
        cache_ttl: timedelta = DEFAULT_CACHE_TTL,
        cache_size: int = DEFAULT_CACHE_SIZE,
        audit_config: AuditConfig | None = None,
        records_config: RecordsConfig | None = None,
        retention_policies: PolicySet | None = None,
        field_rules: FieldRules | None = None,
        webhooks: WebhookConfig | None = None,
        shred_ledger: ShredLedger | None = None,
        epoch_max_age: timedelta | None = None,
        key_vacuum: tuple[str, float] = ("full", 10.0),
        db_timeouts: DbTimeouts | None = None,
    ) -> Vault:
        """Migrate both stores to head, create key epoch 1 if there is no epoch (and the audit
        signing key if there is none), and open the vault."""
        return cls._build(
            provider,
            data_url,
            keys_url,
            clock=clock,
            cache_ttl=cache_ttl,
            cache_size=cache_size,
            initialise=True,
            audit_config=audit_config,
            records_config=records_config,
            retention_policies=retention_policies,
            field_rules=field_rules,
            webhooks=webhooks,
            shred_ledger=shred_ledger,
            epoch_max_age=epoch_max_age,
            key_vacuum=key_vacuum,
            db_timeouts=db_timeouts,
        )

    @classmethod
    def open(
        cls,
        provider: KekProvider,
        data_url: str,
        keys_url: str,
        *,
        clock: Clock | None = None,
        cache_ttl: timedelta = DEFAULT_CACHE_TTL,
        cache_size: int = DEFAULT_CACHE_SIZE,
        audit_config: AuditConfig | None = None,
        records_config: RecordsConfig | None = None,
        retention_policies: PolicySet | None = None,
        field_rules: FieldRules | None = None,
        webhooks: WebhookConfig | None = None,
        shred_ledger: ShredLedger | None = None,
        epoch_max_age: timedelta | None = None,
        key_vacuum: tuple[str, float] = ("full", 10.0),
        db_timeouts: DbTimeouts | None = None,
    ) -> Vault:
        """Open an existing vault; NotInitialisedError if a store is not migrated to head."""
        return cls._build(
            provider,
            data_url,
            keys_url,
            clock=clock,
            cache_ttl=cache_ttl,
            cache_size=cache_size,
            initialise=False,
            audit_config=audit_config,
            records_config=records_config,
            retention_policies=retention_policies,
            field_rules=field_rules,
            webhooks=webhooks,
            shred_ledger=shred_ledger,
            epoch_max_age=epoch_max_age,
            key_vacuum=key_vacuum,
            db_timeouts=db_timeouts,
        )

    def rotate_keys(self) -> dict[str, Any]:
        """A new root KEK version and a new wrapping epoch (audited). Old keys still unwrap until
        :meth:`rewrap` has moved everything off them."""
        try:
            root = self.provider.rotate()
            epoch = self.keys.rotate_epoch()
        except Exception:
            self.audit.append("keys.rotate", outcome="error")
            raise
        self.audit.append("keys.rotate", detail={"root_key_id": root, "epoch": epoch})
        return {"root_key_id": root, "epoch": epoch}

    def rewrap(self, *, batch_size: int = 500, progress: Callable[[int, int], None] | None = None) -> RewrapReport:
        """Move every wrapped key to the current keys (audited with its counts)."""
        try:
            report = self.keys.rewrap(batch_size=batch_size, progress=progress)
        except Exception:
            self.audit.append("keys.rewrap", outcome="error")
            raise
        self.audit.append(
            "keys.rewrap",
            detail={
                "data_keys_rewrapped": report.data_keys_rewrapped,
                "epoch_keys_rewrapped": report.epoch_keys_rewrapped,
                "epochs_destroyed": report.epochs_destroyed,
                "signing_keys_rewrapped": report.signing_keys_rewrapped,
                "lookup_keys_rewrapped": report.lookup_keys_rewrapped,
                "root_keys_destroyed": len(report.root_keys_destroyed),
            },
        )
        return report

    def remove_orphan_keys(self, grace: timedelta = ORPHAN_KEY_GRACE) -> int:
        """Delete the data keys a crash left without data, and return how many.

        A create writes the key store first, then the data store (the data and its audit entry in
        one commit): a process killed between the two leaves a key that wraps nothing readable.
        The scan looks at the keys created since the last scan and at least ``grace`` ago (a create
        still under way in another process is never taken for an orphan) and deletes those whose
        subject, record or separated item does not exist; audited as ``keys.remove_orphans`` with
        the counts. Where it stopped is kept in the key store, so each key is looked at once.

        Restore both stores together: with a data store restored from an older backup beside a
        newer key store, the keys of what was created since that backup have no data here and are
        removed as orphans, so a newer data store restored afterwards could not read those.
        """
        now = self.clock.now()
        until = now - grace
        since_us = self.keys.ledger_position(ORPHAN_SCAN_SOURCE)
        since = datetime.fromtimestamp(since_us / 1_000_000, UTC)
        if until <= since:
            return 0
        subject_ids, record_ids = self.keys.keys_created_between(since, until)
        with session_scope(self.data_engine) as session:
            live_subjects = subjects_repository.present(session, subject_ids)
            live_records = records_repository.present(session, record_ids) | SeparateStorage.items_present(session, record_ids)
        orphan_subjects = [s for s in subject_ids if s not in live_subjects]
        orphan_records = [r for r in record_ids if r not in live_records]
        if orphan_subjects or orphan_records:
            with session_scope(self.keys_engine, write=True) as key_session:
                self.keys.destroy_data_keys(key_session, orphan_subjects)
                for record_id in orphan_records:
                    self.keys.destroy_record_key(key_session, record_id)
            self.audit.append(
                "keys.remove_orphans",
                detail={"subject_keys": len(orphan_subjects), "record_keys": len(orphan_records)},
            )
            log.warning(
                "removed %d subject key(s) and %d record key(s) a crash left without data",
                len(orphan_subjects),
                len(orphan_records),
            )
        self.keys.set_ledger_position(ORPHAN_SCAN_SOURCE, int(until.timestamp() * 1_000_000))
        return len(orphan_subjects) + len(orphan_records)

    def maintain_keys(self, max_age: timedelta | None = None) -> dict[str, Any]:
        """Keep the backup horizon: when the current epoch is ``max_age`` old (default: the
        vault's ``epoch_max_age``; None or zero: never by age), rotate the root key and the epoch;
        then, whenever anything is left under old keys (this rotation, or an interrupted rewrap),
        rewrap, which destroys the old epoch and the old root version. Returns what it did.

        Safe in several processes at once: a rotation that loses a race is skipped (the winner's
        epoch is young), and a rewrap continues where another left off.
        """
        max_age = self.epoch_max_age if max_age is None else max_age
        now = self.clock.now()
        current = next((e for e in self.keys.epochs() if e.current), None)
        if current is None:
            raise NotInitialisedError("the key store has no enabled epoch")
        rotated: dict[str, Any] | None = None
        if max_age and now - current.created_at >= max_age:
            try:
                rotated = self.rotate_keys()
            except ConflictError:  # another process rotated at the same moment
                rotated = None
        report = None
        if rotated is not None or self.keys.rewrap_pending():
            report = self.rewrap()
        epoch_created = next(e.created_at for e in self.keys.epochs() if e.current)
        orphans = self.remove_orphan_keys()
        with session_scope(self.data_engine, write=True) as session:  # a key is remembered for a day
            idempotency.prune(session, self.clock.now() - idempotency.TTL)
        self.audit.sign_head()  # a fresh signature, and the mark outside the data store raised
        return {
            "orphan_keys_removed": orphans,
            "rotated": rotated,
            "rewrap": report.as_dict() if report is not None else None,
            "current_epoch_created_at": epoch_created.isoformat(),
            "next_rotation_at": (epoch_created + max_age).isoformat() if max_age else None,
        }

    def horizon(self) -> dict[str, Any]:
        """The backup horizon as configured: how old the current epoch may grow, and when the
        next rotation is due (no backup older than that can open a subject shredded since)."""
        current = next((e for e in self.keys.epochs() if e.current), None)
        max_age = self.epoch_max_age
        return {
            "epoch_max_age_days": max_age.total_seconds() / 86400 if max_age else None,
            "current_epoch": current.epoch if current else None,
            "current_epoch_created_at": current.created_at.isoformat() if current else None,
            "next_rotation_at": (current.created_at + max_age).isoformat() if current and max_age else None,
        }

    def readiness(self) -> dict[str, str]:
        """Cheap checks that the vault can serve: one query on each store, and the provider unwraps
        the current epoch key (through the key cache, so the provider is asked at most once per
        cache lifetime). Returns what was checked; UnavailableError names what failed."""
        for store, engine in ((DATA, self.data_engine), (KEYS, self.keys_engine)):

            def ping(engine: Engine = engine) -> None:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))

            _reach(store, ping)
        try:
            _reach(KEYS, self.keys.check)
        except (KeyNotFoundError, DecryptionError):
            raise UnavailableError("the key provider cannot unwrap the key store's current epoch key") from None
        except ProviderUnavailableError as exc:
            raise UnavailableError(f"the key provider cannot be reached ({exc})") from None
        return {"data_store": "ok", "key_store": "ok", "key_provider": "ok"}

    def status(self) -> dict[str, Any]:
        """What an operator may see: store locations (no password), schema revisions, root key
        versions, epochs and counts. Never key material, never PII."""
        stores = {}
        for store, engine in ((DATA, self.data_engine), (KEYS, self.keys_engine)):
            revision = current_revision(engine, store)
            head = head_revisions(store)
            stores[store.name] = {
                "url": redact_url(engine.url),
                "engine": engine.dialect.name,
                "revision": list(revision),
                "head": list(head),
                "at_head": revision == head,
            }
        epochs = self.keys.epochs()
        current = next((e.epoch for e in epochs if e.current), None)
        last_checkpoint = self.audit.last_checkpoint()
        lookup_keys = self.lookup.versions()
        pseudonyms = self.lookup.pseudonym_counts()
        records_by_status = self.records.count_by_status()
        return {
            "stores": stores,
            "signing_keys": [info.as_dict() for info in self.signing.list()],
            "audit": {
                "entries": self.audit.count(),
                "checkpoints": self.audit.count_checkpoints(),
                "last_checkpoint_seq": last_checkpoint.seq if last_checkpoint else None,
                "checkpoint_every": self.audit.checkpoint_every,
            },
            "provider": {
                "kind": self.provider.kind,
                "primary_key_id": self.provider.primary_key_id,
                "keys": [dataclasses.asdict(info) for info in self.provider.keys()],
            },
            "epochs": {
                "current": current,
                "root_key_ids_in_use": sorted({e.kek_id for e in epochs if e.status == "enabled"}),
                "list": [
                    {
                        "epoch": e.epoch,
                        "kek_id": e.kek_id,
                        "status": e.status,
                        "current": e.current,
                        "created_at": e.created_at.isoformat(),
                        "destroyed_at": e.destroyed_at.isoformat() if e.destroyed_at else None,
                        "data_keys": e.data_keys,
                    }
                    for e in epochs
                ],
            },
            "lookup_keys": {
                "primary": next((k.version for k in lookup_keys if k.primary), None),
                "root_key_ids_in_use": sorted({k.kek_id for k in lookup_keys if k.status != "destroyed"}),
                "list": [{**k.as_dict(), "pseudonyms": pseudonyms.get(k.version, 0)} for k in lookup_keys],
            },
            "records": {
                "total": sum(records_by_status.values()),
                "by_status": records_by_status,
                "record_keys": self.keys.count_record_keys(),
            },
            "retention": self.retention.status(),
            "horizon": self.horizon(),
            "shred_ledger": {
                "external": repr(self.shred_ledger) if self.shred_ledger is not None else None,
                "replayed_to": self.keys.ledger_position(LEDGER_SOURCE) if self.shred_ledger is not None else None,
            },
            "cache": {
                "entries": len(self.cache),
                "max_entries": self.cache.max_entries,
                "ttl_seconds": self.cache.ttl.total_seconds(),
            },
            "counts": {
                "subjects": self.subjects.count(),
                "data_keys": self.keys.count_data_keys(),
                "epochs": sum(1 for e in epochs if e.status == "enabled"),
                "epochs_destroyed": sum(1 for e in epochs if e.status == "destroyed"),
                "tombstones": self.subjects.count_tombstones(),
                "shred_ledger": self.keys.count_shredded(),
                "audit_entries": self.audit.count(),
                "api_keys_active": self.apikeys.count_active(),
                "records": sum(records_by_status.values()),
            },
        }

    def close(self) -> None:
        """Forget every cached key and close both stores' connections. Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        self.checks.close()
        if self.keys.vacuum is not None:
            self.keys.vacuum.flush()  # before the engine goes: a shred's key row leaves the files now
        self.cache.clear()
        self.data_engine.dispose()
        self.keys_engine.dispose()
        if self._owns_provider:
            self.provider.close()
        if self.shred_ledger is not None:
            self.shred_ledger.close()

    def own_provider(self) -> None:
        """Close the provider (an HSM session) with the vault: the vault was built around it."""
        self._owns_provider = True

    def __enter__(self) -> Vault:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        data, keys = self.data_engine.dialect.name, self.keys_engine.dialect.name
        return f"Vault(data={data}, keys={keys}, provider={self.provider.kind})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("Vault cannot be pickled")


def _check_at_head(store: StoreSchema, engine: Engine) -> None:
    current = _reach(store, lambda: current_revision(engine, store))
    head = head_revisions(store)
    if not current:
        raise NotInitialisedError(f"the {store.name} store is not initialised")
    if current != head:
        raise NotInitialisedError(
            f"the {store.name} store is at schema revision {','.join(current)}, not {','.join(head)}: migrate it first"
        )
