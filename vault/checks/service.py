"""Ban checks: do any of a signup's identifiers belong to a banned record? The vault's hot path.

``check(identifiers)`` normalizes every ``(kind, value)`` (an invalid one rejects the whole check
with :class:`vault.identifiers.InvalidIdentifierError` naming the kind; nothing is hashed raw),
derives its candidate pseudonyms and looks them all up in one statement: an indexed ``IN`` on the
identifiers, joined by primary key to their records, keeping the live ones (active, under review,
not past ``expires_at``, not restricted) of the check's domain. Candidates, per identifier and per
enabled lookup-key version:

* ``exact``: the pseudonym of the normalized value, against stored identity rows;
* ``lookalike`` (emails, account ids, custom kinds): the pseudonym of the value's UTS #39
  skeleton under ``lookalike:<kind>``, against stored look-alike rows; and, when the value differs
  from its skeleton, the pseudonym of the skeleton under the kind itself, against stored identity
  rows (a stored value that *is* the skeleton). Two identifiers look alike when their skeletons
  are equal; a look-alike hit on an identifier that also matched exactly is dropped.

The answer is a :class:`vault.checks.decisions.Decision`: one :class:`vault.checks.decisions.Match` per matched
record and match type (``exact`` first), strongest decision first, then by record id; the decision
is the strongest over every hit under the :class:`vault.checks.decisions.DecisionPolicy`. Hits and
misses have the same shape; no PII and no pseudonym is in it.

Lazy re-indexing: a record identifier matched under a lookup-key version other than the primary
one, and not under the primary, gets its primary-version pseudonym (computed from the check's
own normalized value, which matched) in a small write transaction after the read; inserting is
idempotent (``ON CONFLICT DO NOTHING``), so concurrent checks may both try.

Performance: one SQLAlchemy Core statement (an expanding ``IN`` list), compiled once per number
of items to the driver's SQL and run on a DBAPI connection kept by the service for checks
(detached from the engine's pool, at most :data:`KEPT_CONNECTIONS` idle ones, closed by
:meth:`CheckService.close`; in autocommit mode, so no transaction stays open between checks).
That skips SQLAlchemy's per-execution and pool overhead (and PostgreSQL's pre-ping and
``BEGIN``/``ROLLBACK`` round trips). Most checks miss, and a miss is one probe of the pseudonym
index on ``record_identifiers``: the join to ``records`` and the live/expiry/domain/restriction
filter run only for the rows that hit, so a hit is the same one round trip. The plan starts from
the pseudonym index whatever the planner's statistics say (a fresh bulk import before
``ANALYZE`` is not scanned; tests/vault/checks/test_check_plan.py reads the plans). Cached
Pseudonymizers (vault.crypto.lookup): no key is unwrapped per check; no audit write per check (the API
counts checks). ``check_batch`` runs one query per :data:`QUERY_CHUNK` candidates for a whole
batch of signups and gives the same answers as checking each signup alone. On PostgreSQL
:meth:`CheckService.finish_async` does the lookup of ``finish`` over asyncio connections of the
service's own (at most :data:`ASYNC_CONNECTIONS` per event loop), for a caller on an event loop.

Why one module of this size: the synchronous and the asyncio lookup, the batch and the lazy
re-indexing share the compiled statement, the kept connections, the hit bookkeeping and the
decision rules; split apart, each piece would reach into the others' private state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NamedTuple

from sqlalchemy import Engine
from sqlalchemy.pool import StaticPool

from pseudovault.vault.checks.decisions import Decision, DecisionPolicy, Match, strongest
from pseudovault.vault.checks.missfilter import MissFilter
from pseudovault.vault.clock import Clock, SystemClock
from pseudovault.vault.crypto.lookup import DEFAULT_DOMAIN, LookupKeys, LookupSet, lookalike_label, validate_domain
from pseudovault.vault.errors import InvalidInputError, UnavailableError
from pseudovault.vault.identifiers import InvalidIdentifierError, NormalizedIdentifier, Normalizer
from pseudovault.vault.records import repository as records_repository
from pseudovault.vault.records.validation import normalize_identifiers
from pseudovault.vault.records.views import LIVE_STATUSES
from pseudovault.vault.retention.restrictions import processable_records
from pseudovault.vault.store.db import closed_while_idle, postgres_async_connect, session_scope

__all__ = ["CheckService", "PreparedCheck", "MAX_BATCH_SIGNUPS", "QUERY_CHUNK", "KEPT_CONNECTIONS", "ASYNC_CONNECTIONS"]

log = logging.getLogger(__name__)

#: at most this many signups in one ``check_batch``
MAX_BATCH_SIGNUPS = 1000
#: at most this many pseudonyms in one ``IN`` list
QUERY_CHUNK = 2000
#: how many one-match decisions a check service keeps for repeated hits (record ids and codes:
#: a few hundred bytes each)
MAX_REMEMBERED_DECISIONS = 4096
#: SQLite: at most this many idle DBAPI connections kept for checks
KEPT_CONNECTIONS = 16
#: PostgreSQL, CheckService.finish_async: at most this many asyncio connections per event loop
ASYNC_CONNECTIONS = 8

# the columns the check query returns, by position
_PSEUDONYM, _RECORD_ID, _SLOT, _VERSION, _LOOKALIKE, _KIND, _NORM_VERSION = range(7)
_CATEGORY, _REASON_CODE, _SEVERITY, _STATUS = range(7, 11)

_SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_DECISION_RANK = {"allow": 0, "review": 1, "deny": 2}
_MATCH_ORDER = {"exact": 0, "lookalike": 1}


class _Candidate(NamedTuple):
    """One candidate pseudonym of one identifier of one signup. ``label`` and ``value`` are what
    it was derived from (the value is personal data: never logged, never returned; the repr
    leaves it out)."""

    signup: int
    kind: str
    match: str  # "exact" | "lookalike"
    row_lookalike: bool  # which stored rows it is meant for
    label: str
    value: str
    norm_version: int

    def __repr__(self) -> str:
        return f"_Candidate(signup={self.signup}, kind={self.kind!r}, match={self.match!r})"


class PreparedCheck(NamedTuple):
    """Signups' checks up to the store (CheckService.prepare): their normalized identifiers, the
    domain, the lookup keys and the candidate pseudonyms. Holds personal data: the repr names
    the number of signups only."""

    groups: list[list[NormalizedIdentifier]]
    domain: str
    keys: LookupSet
    candidates: dict[bytes, list[tuple[_Candidate, int]]]

    def __repr__(self) -> str:
        return f"PreparedCheck(signups={len(self.groups)})"


class _Statement(NamedTuple):
    """The check's statement for one number of items, as the driver takes it: its SQL, the
    parameter values with the statement's constants in place, the slots the items (in order),
    the domain and ``now`` go to, and the parameters' names (None: the driver takes them by
    position)."""

    sql: str
    template: list[Any]
    item_slots: tuple[int, ...]
    domain_slots: tuple[int, ...]
    now_slots: tuple[int, ...]
    names: tuple[str, ...] | None


class _AsyncPool(NamedTuple):
    """One event loop's asyncio connections for checks: a slot for each one that may be open,
    and the idle ones."""

    slots: asyncio.Semaphore
    idle: list[Any]


_BINDER_SAMPLES = (
    datetime(2026, 12, 4, 13, 51, 1, 742134, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # microsecond 0: the format keeps ".000000"
    datetime(999, 12, 31, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=9))),
)


def _sqlite_now(value: datetime) -> str:
    if value.tzinfo is not UTC:  # the system clock's times are UTC already
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")  # as UtcDateTime refuses them
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:-6]  # without its "+00:00"


class SystemTimeText:
    """The system clock's time now as :func:`_sqlite_now` writes it (``YYYY-MM-DD HH:MM:SS.ffffff``,
    UTC), read from ``time.time_ns`` with the text of the current second made once per second:
    about a third of ``_sqlite_now(SystemClock().now())``'s cost, on every hit of a check."""

    __slots__ = ("_second",)

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")

    def of(self, ns: int) -> str:
        """The text of ``ns`` nanoseconds since the epoch (cut to the microsecond, as a
        datetime is)."""
        second, rest = divmod(ns, 1_000_000_000)
        known = self._second  # one tuple read: another thread may replace it, never tear it
        if known[0] != second:
            known = (second, datetime.fromtimestamp(second, UTC).isoformat(" ")[:-6])
            self._second = known
        return f"{known[1]}.{rest // 1000:06d}"

    def __call__(self) -> str:
        return self.of(time.time_ns())


def now_binder(column_type: Any, engine: Engine) -> Callable[[datetime], Any] | None:
    """How a check binds ``now`` for ``column_type`` (``records.expires_at``) on ``engine``.

    SQLAlchemy's processor for a SQLite DATETIME formats the string field by field (about 4 us
    of a 28 us device-id check); ``datetime.isoformat`` gives the same text in 1.5 us. The fast
    form is used only when it gives exactly what SQLAlchemy's processor gives for sample times
    (an unexpected storage format falls back to the processor), and a property test compares
    the two over arbitrary times."""
    processor = column_type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
    if engine.dialect.name != "sqlite" or processor is None:
        return processor  # type: ignore[no-any-return]
    if all(_sqlite_now(sample) == processor(sample) for sample in _BINDER_SAMPLES):
        return _sqlite_now
    return processor  # type: ignore[no-any-return]


def _close_now(connection: Any) -> None:
    """Close an asyncio psycopg connection from anywhere, without its loop: its ``close()``
    only ends the libpq connection (a socket close) and awaits nothing, so the coroutine is run
    to its end here."""
    closing = connection.close()
    try:
        closing.send(None)
    except StopIteration:
        return
    except Exception as exc:  # closing is best effort: a dead connection may fail to close
        log.debug("closing a check connection failed (%s)", type(exc).__name__)
        return
    closing.close()  # it awaited something after all: leave it to the collector
    connection.pgconn.finish()


def _close_quietly(connection: Any) -> None:
    """Close a kept connection that failed or was found gone: closing it may fail too, and it is
    dropped either way."""
    try:
        connection.close()
    except Exception as exc:  # a dead connection may fail to close
        log.debug("closing a failed check connection failed (%s)", type(exc).__name__)


def _close_idle(idle: list[Any]) -> None:
    while idle:
        _close_now(idle.pop())


#: the decisions of signups nothing matched, by their identifiers' kinds (a Decision is
#: immutable, and kind names are not personal data); bounded, past the bound made per call
_ALLOWS: dict[tuple[str, ...], Decision] = {}


def _allow(identifiers: Sequence[NormalizedIdentifier]) -> Decision:
    """The decision of a signup nothing matched."""
    kinds = tuple([item.kind for item in identifiers])
    decision = _ALLOWS.get(kinds)
    if decision is None:
        decision = Decision("allow", (), tuple(sorted(set(kinds))))
        if len(_ALLOWS) < 1024:
            _ALLOWS[kinds] = decision
    return decision


class CheckService:
    """Checks signups against the records' pseudonyms."""

    def __init__(
        self,
        data_engine: Engine,
        lookup: LookupKeys,
        normalizer: Normalizer,
        clock: Clock,
        policy: DecisionPolicy | None = None,
        read_engine: Engine | None = None,
    ) -> None:
        self._engine = data_engine
        # the checks' lookups go to ``read_engine`` (a read replica of the data store) when given;
        # the lazy re-indexing writes go to the data store itself
        self._read = read_engine if read_engine is not None else data_engine
        self._owns_read = read_engine is not None
        self._lookup = lookup
        self._normalizer = normalizer
        self._clock = clock
        self._policy = policy or DecisionPolicy.default()
        #: one-match decisions made, by what decided them (the policy, the record id and codes, the
        #: kind and the match, the kinds checked; no identifier), at most MAX_REMEMBERED_DECISIONS (emptied
        #: when full)
        self._decisions: dict[tuple[Any, ...], Decision] = {}
        self._domains: set[str] = {DEFAULT_DOMAIN}
        # one statement (vault.records.repository): the pseudonyms' rows by the pseudonym index,
        # joined to their records, kept when live, unexpired and processable; restricted records
        # and records of restricted subjects never match (vault.retention)
        self._query = records_repository.match_query(LIVE_STATUSES, processable_records, self._read.dialect.name)
        # number of items -> (the driver's SQL, how to build its parameters, positional?)
        self._compiled: dict[int, _Statement] = {}
        self._query_compiled: Any = None
        self._idle: list[Any] = []  # detached pool connections, ready for the next check
        # PostgreSQL, finish_async: event loop -> its asyncio connections
        self._async_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _AsyncPool] = weakref.WeakKeyDictionary()
        #: PostgreSQL: the in-process filter that answers misses (vault.checks.missfilter), if on
        self.miss_filter: MissFilter | None = None
        #: a context around each lookup statement sent to the store, given its SQL (placeholders,
        #: never a value) and how many pseudonyms it asks for: set by the API's OpenTelemetry
        #: (api.telemetry), whose SQLAlchemy instrumentation cannot see these detached connections
        self.lookup_span: Callable[[str, int], AbstractContextManager[Any]] | None = None
        self._shared = isinstance(self._read.pool, StaticPool)  # SQLite in memory: never detach
        self._disconnects: tuple[type[BaseException], ...] = (self._read.dialect.loaded_dbapi.OperationalError,)
        self._closed = False
        expires_at = records_repository.expires_at_type()
        self._bind_now = now_binder(expires_at, data_engine)
        # the system clock's time bound on SQLite: its text made straight from time.time_ns
        self._system_text = SystemTimeText() if self._bind_now is _sqlite_now and type(clock) is SystemClock else None
        self._reindex_statement = records_repository.reindex_insert(data_engine.dialect.name)

    def __repr__(self) -> str:
        return f"CheckService(policy={self._policy!r})"

    def close(self) -> None:
        """Close the connections kept for checks (the vault calls this when it closes)."""
        self._closed = True
        if self.miss_filter is not None:
            self.miss_filter.close()
        while self._idle:
            try:
                self._idle.pop().close()
            except IndexError:  # another thread took the last one
                break
            except Exception as exc:  # closing is best effort; nothing is lost
                log.debug("closing a check connection failed (%s)", type(exc).__name__)
        for pool in list(self._async_pools.values()):
            _close_idle(pool.idle)
        if self._owns_read:
            self._read.dispose()

    def _acquire(self) -> Any:
        if self._shared:  # one in-memory database behind one connection: borrow it from the pool
            return self._read.raw_connection()
        postgres = self._read.dialect.name == "postgresql"
        while True:
            try:
                kept = self._idle.pop()
            except IndexError:
                break
            if not (postgres and closed_while_idle(kept.dbapi_connection)):
                return kept
            _close_quietly(kept)  # terminated while it waited (its socket says so): not tried
        connection = self._read.raw_connection()
        connection.detach()  # ours now: the engine's pool neither counts nor recycles it
        driver = connection.dbapi_connection
        if driver is None:  # a connection fresh from the pool always has its driver connection
            raise RuntimeError("the pool gave a connection without a driver connection") from None
        if postgres:
            driver.rollback()
            driver.autocommit = True  # one statement, one snapshot; no transaction left open
        return connection

    def _drop_idle(self) -> None:
        """Close every kept connection (after one failed: the others are likely dead too)."""
        while True:
            try:
                connection = self._idle.pop()
            except IndexError:
                return
            _close_quietly(connection)

    def _release(self, connection: Any) -> None:
        if self._shared or self._closed or len(self._idle) >= KEPT_CONNECTIONS:
            connection.close()
        else:
            self._idle.append(connection)

    @property
    def policy(self) -> DecisionPolicy:
        return self._policy

    # --- public -----------------------------------------------------------------------------

    def check(self, identifiers: Sequence[tuple[str, str]], *, domain: str = DEFAULT_DOMAIN) -> Decision:
        """The decision for one signup's identifiers (``(kind, value)`` pairs)."""
        return self.finish(self.prepare(identifiers, domain=domain))

    def prepare(self, identifiers: Sequence[tuple[str, str]], *, domain: str = DEFAULT_DOMAIN) -> PreparedCheck:
        """One signup's check up to the store: validated, normalized, its candidate pseudonyms
        derived. Raises what :meth:`check` raises for invalid input. Then :meth:`in_process`
        and, when that cannot answer, :meth:`finish` (a server runs the two apart: the first on
        its event loop, the second, which may wait for the store, in a worker thread)."""
        domain = self._domain(domain)
        groups = [normalize_identifiers(self._normalizer, identifiers)]
        keys = self._lookup.current()
        return PreparedCheck(groups, domain, keys, self._candidates(groups, domain, keys))

    def in_process(self, prepared: PreparedCheck) -> Decision | None:
        """The decision when it needs no store: the miss filter (if on, built and current) holds
        none of the candidate pseudonyms, so it is ``allow``; None when the store must be asked."""
        miss_filter = self.miss_filter
        if miss_filter is None or not miss_filter.absent(prepared.candidates):
            return None
        return _allow(prepared.groups[0])

    def finish(self, prepared: PreparedCheck) -> Decision:
        """The decision of a prepared check (the miss filter first, then the store)."""
        return self._decide_all(prepared)[0]

    async def finish_async(self, prepared: PreparedCheck) -> Decision:
        """:meth:`finish` for a caller on an asyncio event loop; the same decision.

        On PostgreSQL the lookup waits for the server on the loop itself, over an asyncio
        connection of the service's own (no worker thread: a thread that takes turns with the
        loop at the interpreter lock is what made the tail of a server's check latency); a
        lazy re-indexing write, rare, runs in a worker thread. On SQLite (a local read, no
        network wait) it is :meth:`finish`."""
        if self._read.dialect.name != "postgresql" or self._shared:
            return self.finish(prepared)
        groups, domain, keys, candidates = prepared
        ask = self._to_ask(candidates)
        if not ask:  # a miss known in process
            return _allow(groups[0])
        rows = await self._afetch(ask, domain)
        if not rows:
            return _allow(groups[0])
        hits = self._hits(prepared, rows)
        stale = self._stale(hits, keys.primary.version)
        if stale:
            await asyncio.to_thread(self._reindex, stale, domain, keys.primary.version)
        return self._decide(hits[0], groups[0])

    def check_batch(
        self, signups: Sequence[Sequence[tuple[str, str]]], *, domain: str = DEFAULT_DOMAIN
    ) -> list[Decision]:
        """The decisions for many signups, in order; the same as checking each alone.

        An invalid identifier rejects the whole batch, naming the signup and the item.
        """
        domain = self._domain(domain)
        if isinstance(signups, (str, bytes)) or not isinstance(signups, Sequence):
            raise InvalidInputError("signups", "must be a list of identifier lists")
        if len(signups) > MAX_BATCH_SIGNUPS:
            raise InvalidInputError("signups", f"at most {MAX_BATCH_SIGNUPS} signups per batch")
        groups = []
        for index, identifiers in enumerate(signups):
            try:
                groups.append(normalize_identifiers(self._normalizer, identifiers))
            except InvalidIdentifierError as error:
                raise InvalidIdentifierError(
                    error.kind, error.reason_code, f"signup {index}: {error.reason}"
                ) from None
            except InvalidInputError as error:
                raise InvalidInputError(f"signups[{index}].{error.field}", error.reason) from None
        if not groups:
            return []
        keys = self._lookup.current()
        return self._decide_all(PreparedCheck(groups, domain, keys, self._candidates(groups, domain, keys)))

    # --- internals --------------------------------------------------------------------------

    def _domain(self, domain: str) -> str:
        if isinstance(domain, str) and domain in self._domains:
            return domain
        domain = validate_domain(domain)
        if len(self._domains) < 1024:
            self._domains.add(domain)
        return domain

    @staticmethod
    def _candidates(
        groups: Sequence[Sequence[NormalizedIdentifier]], domain: str, keys: LookupSet
    ) -> dict[bytes, list[tuple[_Candidate, int]]]:
        """pseudonym -> [(candidate, lookup version)] for every identifier of every signup."""
        out: dict[bytes, list[tuple[_Candidate, int]]] = {}
        enabled = keys.enabled
        for signup, identifiers in enumerate(groups):
            for item in identifiers:
                kind, version = item.kind, item.version
                derived = [_Candidate(signup, kind, "exact", False, kind, item.value, version)]
                skeleton = item.skeleton
                if skeleton is not None:
                    derived.append(
                        _Candidate(signup, kind, "lookalike", True, lookalike_label(kind), skeleton, version)
                    )
                    if item.lookalike is not None:
                        derived.append(_Candidate(signup, kind, "lookalike", False, kind, skeleton, version))
                for candidate in derived:
                    for pseudonymizer in enabled:
                        pseudonym = pseudonymizer.derive(candidate.label, domain, candidate.value, version)
                        out.setdefault(pseudonym, []).append((candidate, pseudonymizer.version))
        return out

    def _statement(self, count: int) -> _Statement:
        """The check's statement for ``count`` items as the driver's SQL, with where its
        parameters go (see :class:`_Statement`)."""
        found = self._compiled.get(count)
        if found is not None:
            return found
        compiled = self._query_compiled
        if compiled is None:
            compiled = self._query_compiled = self._query.compile(dialect=self._engine.dialect)
        state = compiled.construct_expanded_state({"items": [b""] * count, "domain": "", "now": None})
        params = list(state.positiontup) if state.positiontup is not None else list(state.parameters)
        template: list[Any] = []
        item_slots: dict[int, int] = {}
        domain_slots: list[int] = []
        now_slots: list[int] = []
        for slot, param in enumerate(params):
            template.append(None)
            if param.startswith("items_"):
                item_slots[int(param.removeprefix("items_")) - 1] = slot
            elif param == "domain":
                domain_slots.append(slot)
            elif param == "now":
                now_slots.append(slot)
            else:  # a constant of the statement (the live statuses, restriction kinds)
                template[slot] = state.parameters[param]
        if sorted(item_slots) != list(range(count)):
            raise RuntimeError("the check query did not compile to one parameter per item")
        found = _Statement(
            state.statement,
            template,
            tuple(item_slots[k] for k in range(count)),
            tuple(domain_slots),
            tuple(now_slots),
            None if state.positiontup is not None else tuple(params),
        )
        if len(self._compiled) < 4096:
            self._compiled[count] = found
        return found

    def _bound(self, items: list[bytes], domain: str, now: Any) -> tuple[str, Any]:
        """The check's statement for ``items`` (at most :data:`QUERY_CHUNK`) as the driver's SQL
        and its parameters; ``now`` as :meth:`_now` gives it."""
        statement = self._statement(len(items))
        values = statement.template.copy()
        for slot, item in zip(statement.item_slots, items, strict=True):
            values[slot] = item
        for slot in statement.domain_slots:
            values[slot] = domain
        for slot in statement.now_slots:
            values[slot] = now
        names = statement.names
        return statement.sql, values if names is None else dict(zip(names, values, strict=True))

    def _now(self) -> Any:
        """The clock's time as the driver takes it for ``records.expires_at``."""
        if self._system_text is not None:
            return self._system_text()
        now = self._clock.now()
        return self._bind_now(now) if self._bind_now is not None else now

    def _execute(self, driver: Any, items: list[bytes], domain: str, now: Any) -> list[Any]:
        if len(items) <= QUERY_CHUNK and self.lookup_span is None:  # a signup's few: one statement
            sql, params = self._bound(items, domain, now)
            return driver.execute(sql, params).fetchall()  # type: ignore[no-any-return]
        rows: list[Any] = []
        for start in range(0, len(items), QUERY_CHUNK):
            chunk = items[start : start + QUERY_CHUNK]
            sql, params = self._bound(chunk, domain, now)
            span = self.lookup_span
            with span(sql, len(chunk)) if span is not None else contextlib.nullcontext():
                rows.extend(driver.execute(sql, params).fetchall())
        return rows

    def _fetch(self, pseudonyms: list[bytes], domain: str) -> list[Any]:
        """Every row of ``pseudonyms`` whose record is live, unexpired and of ``domain``: the
        identifier's columns, then the record's (the order of the ``_PSEUDONYM`` ... constants).

        A kept connection that fails is closed with every other kept one (they were opened to the
        same server: after a restart or a terminated backend they are all gone), and the query is
        tried once more on a new connection (it is a read: a store that restarted costs one retry,
        not an error). A store that still cannot answer is :class:`vault.errors.UnavailableError`.
        """
        bound_now = self._now()
        for attempt in (1, 2):
            raw = self._acquire()
            try:
                rows = self._execute(raw.dbapi_connection, pseudonyms, domain, bound_now)
            except self._disconnects as exc:
                raw.close()  # a connection that failed is not kept
                self._drop_idle()
                if attempt == 2 or self._shared:
                    raise UnavailableError(f"the data store cannot be reached ({type(exc).__name__})") from None
                log.warning("a check connection failed (%s); retrying on a new one", type(exc).__name__)
                continue
            except BaseException:
                raw.close()
                raise
            self._release(raw)
            return rows
        raise AssertionError("unreachable")

    async def _afetch(self, pseudonyms: list[bytes], domain: str) -> list[Any]:
        """:meth:`_fetch` over the service's asyncio connections (PostgreSQL), with the same
        retry: a kept connection that fails is closed with every other idle one of its loop,
        and the query is tried once more on a new connection. At most
        :data:`ASYNC_CONNECTIONS` per event loop: a burst of checks waits its turn for one
        instead of opening connections (each a server process) that it would then close."""
        bound_now = self._now()
        pool = self._async_pool()
        async with pool.slots:
            for attempt in (1, 2):
                try:
                    connection = pool.idle.pop()
                    while closed_while_idle(connection):  # terminated while it waited: not tried
                        _close_now(connection)
                        connection = pool.idle.pop()
                except IndexError:
                    try:
                        connection = await postgres_async_connect(self._read)
                    except self._disconnects as exc:
                        raise UnavailableError(f"the data store cannot be reached ({type(exc).__name__})") from None
                try:
                    rows: list[Any] = []
                    for start in range(0, len(pseudonyms), QUERY_CHUNK):
                        chunk = pseudonyms[start : start + QUERY_CHUNK]
                        sql, params = self._bound(chunk, domain, bound_now)
                        span = self.lookup_span
                        with span(sql, len(chunk)) if span is not None else contextlib.nullcontext():
                            cursor = await connection.execute(sql, params)
                            rows.extend(await cursor.fetchall())
                except self._disconnects as exc:
                    _close_now(connection)
                    _close_idle(pool.idle)
                    if attempt == 2:
                        raise UnavailableError(f"the data store cannot be reached ({type(exc).__name__})") from None
                    log.warning("a check connection failed (%s); retrying on a new one", type(exc).__name__)
                    continue
                except BaseException:  # cancelled mid-query, say: its state is unknown, it is not kept
                    _close_now(connection)
                    raise
                if self._closed:
                    _close_now(connection)
                else:
                    pool.idle.append(connection)
                return rows
        raise AssertionError("unreachable")

    def _async_pool(self) -> _AsyncPool:
        """The asyncio connections of the running event loop (a connection waits on the loop
        it is used from; each loop has its own)."""
        loop = asyncio.get_running_loop()
        pool = self._async_pools.get(loop)
        if pool is None:
            pool = self._async_pools[loop] = _AsyncPool(asyncio.Semaphore(ASYNC_CONNECTIONS), [])
            weakref.finalize(loop, _close_idle, pool.idle)  # a loop that goes takes its connections
        return pool

    def _to_ask(self, candidates: dict[bytes, list[tuple[_Candidate, int]]]) -> list[bytes]:
        """The pseudonyms to ask the store about: with a current miss filter, only those it may
        hold (a batch's few hits, not its hundreds of candidates; none is a miss known in
        process); else all of them."""
        miss_filter = self.miss_filter
        ask = miss_filter.maybe(candidates) if miss_filter is not None else None
        return list(candidates) if ask is None else ask

    def _decide_all(self, prepared: PreparedCheck) -> list[Decision]:
        groups, domain, keys, candidates = prepared
        ask = self._to_ask(candidates)
        if not ask:  # a miss known in process
            return [_allow(ids) for ids in groups]
        rows = self._fetch(ask, domain)
        if not rows:  # the common case: nothing matched, nothing to re-index
            return [_allow(ids) for ids in groups]
        hits = self._hits(prepared, rows)
        stale = self._stale(hits, keys.primary.version)
        if stale:
            self._reindex(stale, domain, keys.primary.version)
        return [self._decide(signup_hits, identifiers) for signup_hits, identifiers in zip(hits, groups, strict=True)]

    @staticmethod
    def _hits(prepared: PreparedCheck, rows: list[Any]) -> list[dict[tuple[str, int, bool], tuple[set[int], _Candidate, Any]]]:
        """Per signup: (record_id, slot, row lookalike) -> (versions matched, what matched, row)."""
        candidates = prepared.candidates
        hits: list[dict[tuple[str, int, bool], tuple[set[int], _Candidate, Any]]] = [{} for _ in prepared.groups]
        for row in rows:
            lookalike = bool(row[_LOOKALIKE])
            for candidate, _version in candidates.get(bytes(row[_PSEUDONYM]), ()):
                if candidate.row_lookalike != lookalike:
                    continue
                key = (row[_RECORD_ID], row[_SLOT], lookalike)
                seen = hits[candidate.signup].get(key)
                if seen is None:
                    hits[candidate.signup][key] = ({row[_VERSION]}, candidate, row)
                else:
                    seen[0].add(row[_VERSION])
                    if candidate.match == "exact" and seen[1].match != "exact":
                        hits[candidate.signup][key] = (seen[0], candidate, row)
        return hits

    def _decide(
        self,
        hits: dict[tuple[str, int, bool], tuple[set[int], _Candidate, Any]],
        identifiers: Sequence[NormalizedIdentifier],
    ) -> Decision:
        if not hits:
            return _allow(identifiers)
        if len(hits) == 1:  # the common hit: one stored identifier, one record, nothing to merge
            return self._decide_one(*next(iter(hits.items())), identifiers)
        if len(hits) == 2:
            # an email or account id that is banned matches both rows of its stored identifier
            # (the identity row and the look-alike row): one match, as _decide_merged finds it
            # (the exact hit hides the look-alike one; two look-alike hits of one row pair are
            # one match of that record and kind)
            (first, first_hit), (second, second_hit) = hits.items()
            if first[:2] == second[:2]:
                if second_hit[1].match == "exact":
                    return self._decide_one(second, second_hit, identifiers)
                return self._decide_one(first, first_hit, identifiers)
        return self._decide_merged(hits, identifiers)

    def _decide_one(
        self,
        key: tuple[str, int, bool],
        hit: tuple[set[int], _Candidate, Any],
        identifiers: Sequence[NormalizedIdentifier],
    ) -> Decision:
        """:meth:`_decide_merged` for hits that make one match (``key`` and ``hit``: the one
        that decides), without its grouping and sorting (tests/vault/checks/test_decide_one.py
        holds the two equal)."""
        checked = _allow(identifiers).checked_kinds
        record_id = key[0]
        _versions, candidate, row = hit
        # the same record matched the same way under the same policy answers the same: a repeated
        # hit takes the decision made before
        policy = self._policy
        memo_key = (policy, record_id, row[_CATEGORY], row[_REASON_CODE], row[_SEVERITY], row[_STATUS],
                    candidate.kind, candidate.match, checked)
        found = self._decisions.get(memo_key)
        if found is not None:
            return found
        decision = policy.decide(
            row[_CATEGORY], candidate.kind, row[_SEVERITY], candidate.match, under_review=row[_STATUS] == "under_review"
        )
        only = Match(
            record_id=record_id,
            category=row[_CATEGORY],
            reason_code=row[_REASON_CODE],
            severity=row[_SEVERITY],
            status=row[_STATUS],
            matched_kinds=(candidate.kind,),
            match=candidate.match,
        )
        made = Decision(decision, (only,), checked)
        if len(self._decisions) >= MAX_REMEMBERED_DECISIONS:  # full: start again with the hits of now
            self._decisions.clear()
        self._decisions[memo_key] = made
        return made

    def _decide_merged(
        self,
        hits: dict[tuple[str, int, bool], tuple[set[int], _Candidate, Any]],
        identifiers: Sequence[NormalizedIdentifier],
    ) -> Decision:
        """The decision over every hit: one match per record and match type, strongest first."""
        checked = _allow(identifiers).checked_kinds
        exact_slots = {(rid, slot) for (rid, slot, _), (_, cand, _) in hits.items() if cand.match == "exact"}
        # (record_id, match) -> [row, kinds, decisions]
        grouped: dict[tuple[str, str], list[Any]] = {}
        for (record_id, slot, _lookalike), (_versions, candidate, row) in hits.items():
            if candidate.match == "lookalike" and (record_id, slot) in exact_slots:
                continue
            under_review = row[_STATUS] == "under_review"
            decision = self._policy.decide(
                row[_CATEGORY], candidate.kind, row[_SEVERITY], candidate.match, under_review=under_review
            )
            entry = grouped.setdefault((record_id, candidate.match), [row, set(), []])
            entry[1].add(candidate.kind)
            entry[2].append(decision)
        matches = []
        for (record_id, match), (row, kinds, decisions) in grouped.items():
            record_decision = strongest(decisions)
            matches.append(
                (
                    -_DECISION_RANK[record_decision],
                    -_SEVERITY_RANK.get(row[_SEVERITY], 0),
                    record_id,
                    _MATCH_ORDER[match],
                    record_decision,
                    Match(
                        record_id=record_id,
                        category=row[_CATEGORY],
                        reason_code=row[_REASON_CODE],
                        severity=row[_SEVERITY],
                        status=row[_STATUS],
                        matched_kinds=tuple(sorted(kinds)),
                        match=match,
                    ),
                )
            )
        matches.sort(key=lambda m: m[:4])
        return Decision(strongest(m[4] for m in matches), tuple(m[5] for m in matches), checked)

    @staticmethod
    def _stale(
        hits: list[dict[tuple[str, int, bool], tuple[set[int], _Candidate, Any]]], primary: int
    ) -> dict[tuple[str, int, bool], dict[str, Any]]:
        """The record identifiers matched only under lookup-key versions other than ``primary``."""
        stale: dict[tuple[str, int, bool], dict[str, Any]] = {}
        for signup_hits in hits:
            for key, (versions, candidate, row) in signup_hits.items():
                if primary in versions or key in stale:
                    continue
                stale[key] = {
                    "record_id": row[_RECORD_ID],
                    "slot": row[_SLOT],
                    "lookalike": bool(row[_LOOKALIKE]),
                    "kind": row[_KIND],
                    "norm_version": row[_NORM_VERSION],
                    "candidate": candidate,
                }
        return stale

    def _reindex(self, stale: dict[tuple[str, int, bool], dict[str, Any]], domain: str, primary: int) -> None:
        """Give the ``stale`` record identifiers their pseudonym under the primary version."""
        keys = self._lookup.current()
        if keys.primary.version != primary:  # rotated meanwhile: the next check re-indexes
            return
        values = []
        for found in stale.values():
            item = dict(found)
            matched: _Candidate = item.pop("candidate")
            item["lookup_version"] = primary
            item["pseudonym"] = keys.primary.derive(matched.label, domain, matched.value, matched.norm_version)
            values.append(item)
        if self.miss_filter is not None:
            self.miss_filter.add(item["pseudonym"] for item in values)
        try:
            with session_scope(self._engine, write=True) as session:
                session.execute(self._reindex_statement, values)
        except Exception as exc:  # re-indexing is an optimisation: a failed one must not fail the check
            log.warning("lazy re-indexing of %d record identifier(s) failed (%s)", len(values), type(exc).__name__)
            return
        log.info("re-indexed %d record identifier(s) under lookup key version %d", len(values), primary)
