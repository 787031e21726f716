"""An in-process Bloom filter of the stored pseudonyms that answers most misses without a query.

Most signups match no ban. A process that knows "none of these pseudonyms is stored" can answer
a miss at once, without a round trip to PostgreSQL or a join in SQLite. :class:`MissFilter`
holds every pseudonym of ``record_identifiers`` (all lookup-key versions, look-alike rows too) in
an ``rbloom`` Bloom filter (about 1.8 bytes per pseudonym at a 0.1% false-positive rate: 10
million bans take about 18 MB). The filter only ever says "absent" or "maybe": a "maybe" (a
stored pseudonym, or a false positive) goes to the store as before, so a filter can make a check
faster, never different, as long as it holds every stored pseudonym. Deleted or expired bans stay
in it as harmless "maybe"s until the next rebuild.

**Keeping it current across processes.** One thread per process follows the pseudonyms every
other process inserts, and knows up to when it has them all: :attr:`fresh_at`, a moment before
which every committed pseudonym has been applied.

* PostgreSQL: a statement-level trigger on ``record_identifiers`` (data migration 0014) sends
  every inserted pseudonym on the ``pseudovault_identifiers`` notification channel when the
  inserting transaction commits. The thread ``LISTEN``s on a connection of its own, then reads
  every stored pseudonym in one transaction that starts after the ``LISTEN`` (a ban committed
  meanwhile is both read and notified), applies each notification as it arrives, and every
  ``poll`` seconds sends a ping of its own on the channel: when the ping comes back, every
  pseudonym committed before it was sent has been applied (PostgreSQL delivers notifications in
  commit order).
* SQLite (a database file): a trigger (data migration 0017) appends the rowid of every inserted
  identifier row to ``identifier_feed`` in the inserting transaction, numbered by
  ``AUTOINCREMENT``; with one writer at a time the numbers grow in commit order (the feed holds
  no pseudonym: a deleted ban leaves nothing in it). The thread reads every stored pseudonym
  and the feed's highest number in one snapshot, then every ``poll`` seconds reads the entries
  past the last number it applied, in a new snapshot: every pseudonym committed before that
  snapshot began has been applied. The feed keeps its newest 100,000 entries; a thread that
  finds it fell further behind, or that the feed went back (a restored file), rebuilds.

A check uses the filter only while ``now - fresh_at <= max_staleness``: **a ban committed by any
process is answered from the filter within ``max_staleness`` seconds** (default 1 s) of its
commit, and bans written by this process are added before they commit, so they are never missed
here. When the follower falls behind, loses its connection or has not built the filter yet,
checks go to the store (as without a filter) until it is back; it reconnects and rebuilds on its
own, and rebuilds every ``rebuild_every`` seconds to shed deleted bans, and at once when the table
has grown past twice its size at the last build (a filter holding more than it was sized for
answers "maybe" more and more often; it stays correct, and in use, until the rebuilt one replaces it).

A data-store restore that bypasses triggers (``pg_restore --disable-triggers``) is not followed:
restart the API servers after a restore (the shred ledger's replay wants that anyway). An
in-memory SQLite database lives in one process only and has no filter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any, NamedTuple

from rbloom import Bloom
from sqlalchemy import Engine

from pseudovault.vault.store.db import sqlite_path

__all__ = ["CHANNEL", "FilterState", "MissFilter"]

log = logging.getLogger(__name__)

#: the notification channel the data store's trigger sends inserted pseudonyms on
CHANNEL = "pseudovault_identifiers"
_PING = "ping:"
_PSEUDONYM_HEX = 64
_FETCH = 20_000
#: the smallest filter built (about 180 KB at a 0.1% false-positive rate)
_MIN_CAPACITY = 100_000


#: SQLite: the feed's pruning mark and its highest number ever (AUTOINCREMENT's, which only a
#: restored file takes back), in one row
_SQLITE_FEED_STATE = (
    "SELECT pruned_through, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'identifier_feed'), 0)"
    " FROM identifier_feed_state WHERE id = 1"
)

#: SQLite: the feed's entries past a number, with the pseudonyms of the rows they name (NULL
#: for a row deleted since)
_SQLITE_FEED_AFTER = (
    "SELECT f.seq, r.pseudonym FROM identifier_feed AS f"
    " LEFT JOIN record_identifiers AS r ON r.rowid = f.identifier WHERE f.seq > ? ORDER BY f.seq"
)


class FilterState(NamedTuple):
    """A snapshot of a :class:`MissFilter` (:meth:`MissFilter.state`)."""

    current: bool  # built and fresh within its staleness bound: checks use it
    age_seconds: float  # since it last held every committed pseudonym (inf: never built)
    pseudonyms: int  # held (the last build's, and those added since)


class MissFilter:
    """The stored pseudonyms of one data store (PostgreSQL, or a SQLite file), followed as the
    module describes."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_staleness: float = 1.0,
        poll: float | None = None,
        false_positive_rate: float = 0.001,
        rebuild_every: float = 3600.0,
    ) -> None:
        if not self.can_follow(engine):
            raise ValueError("the miss filter follows a PostgreSQL data store or a SQLite database file")
        self._follow = self._follow_postgres if engine.dialect.name == "postgresql" else self._follow_sqlite
        if not 0 < max_staleness <= 60:
            raise ValueError("max_staleness must be in (0, 60] seconds")
        self._engine = engine
        self.max_staleness = max_staleness
        self._poll = poll if poll is not None else min(0.1, max_staleness / 4)
        self._fpr = false_positive_rate
        self._rebuild_every = rebuild_every
        self._bloom: Bloom | None = None
        self._building: Bloom | None = None
        self._lock = threading.Lock()  # between add() and the swap of a rebuilt filter
        self.fresh_at = float("-inf")  # monotonic: every pseudonym committed before it is applied
        self.built_at = float("-inf")
        self.pseudonyms = 0  # how many were read at the last build
        #: the pseudonyms the filter was sized for (its false-positive rate holds up to there)
        self.capacity = 0
        self._added = 0  # pseudonyms added since the last build (the followed ones, this process's own)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def can_follow(engine: Engine) -> bool:
        """Whether a filter can follow ``engine``'s store: PostgreSQL, or a SQLite file (an
        in-memory database lives in one process, which sees its own writes)."""
        return engine.dialect.name == "postgresql" or (engine.dialect.name == "sqlite" and sqlite_path(engine) is not None)

    # --- the checks' side -------------------------------------------------------------------------

    def _current(self) -> Bloom | None:
        """The filter while it is current (built, and fresh within the bound), else None."""
        bloom = self._bloom
        if bloom is None or time.monotonic() - self.fresh_at > self.max_staleness:
            return None
        return bloom

    def absent(self, pseudonyms: Iterable[bytes]) -> bool:
        """True only when the filter is current and holds none of ``pseudonyms``."""
        bloom = self._current()
        return bloom is not None and not any(p in bloom for p in pseudonyms)

    def maybe(self, pseudonyms: Iterable[bytes]) -> list[bytes] | None:
        """Those of ``pseudonyms`` the filter may hold (stored ones and false positives), the
        only ones worth asking the store about; None when the filter is not current (ask about
        all of them)."""
        bloom = self._current()
        return None if bloom is None else [p for p in pseudonyms if p in bloom]

    def add(self, pseudonyms: Iterable[bytes]) -> None:
        """Pseudonyms this process is about to store (before their commit: a rollback only
        leaves a harmless "maybe")."""
        items = [bytes(p) for p in pseudonyms]
        with self._lock:
            self._added += len(items)
            for bloom in (self._bloom, self._building):
                if bloom is not None:
                    bloom.update(items)

    @property
    def overfull(self) -> bool:
        """Whether the filter holds more than it was sized for (a table that grew past twice
        its size at the last build): its false positives then climb toward every lookup, so the
        follower rebuilds it at once, sized for the table as it is now."""
        return self._bloom is not None and self.pseudonyms + self._added > self.capacity

    def _rebuild_due(self) -> bool:
        return self.overfull or time.monotonic() - self.built_at >= self._rebuild_every

    @property
    def size_bytes(self) -> int:
        """The memory of the filter's bit array (0 before it is built)."""
        bloom = self._bloom
        return bloom.size_in_bits // 8 if bloom is not None else 0

    @property
    def ready(self) -> bool:
        return self._bloom is not None and time.monotonic() - self.fresh_at <= self.max_staleness

    def state(self) -> FilterState:
        """What an operator watches (the API's ``/metrics``): whether checks use the filter now,
        how long ago it was last known to hold every committed pseudonym, and how many it holds."""
        age = time.monotonic() - self.fresh_at  # inf before the first build
        built = self._bloom is not None
        return FilterState(
            current=built and age <= self.max_staleness,
            age_seconds=age if built else float("inf"),
            pseudonyms=self.pseudonyms + self._added if built else 0,
        )

    # --- the listener -----------------------------------------------------------------------------

    def start(self) -> MissFilter:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pseudovault-miss-filter", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._bloom = None

    def wait_ready(self, timeout: float) -> bool:
        """Block until the filter is built and current (tests, benchmarks); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready:
                return True
            time.sleep(0.01)
        return False

    def _connect_postgres(self) -> Any:
        import psycopg

        url = self._engine.url.set(drivername="postgresql")
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self._follow()
                backoff = 0.5
            except Exception as exc:  # the store went away: checks use the store until rebuilt
                self._bloom = None
                self.fresh_at = float("-inf")
                if self._stop.is_set():
                    return
                log.warning("the check miss filter lost its store (%s); checks query the store until it is rebuilt", type(exc).__name__)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _follow_postgres(self) -> None:
        conn = self._connect_postgres()
        try:
            pid = conn.info.backend_pid
            conn.execute(f"LISTEN {CHANNEL}")
            self._build_postgres(conn)
            counter = 0
            while not self._stop.is_set():
                if self._rebuild_due():
                    self._build_postgres(conn)
                counter += 1
                token = f"{_PING}{pid}:{counter}"
                sent = time.monotonic()
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, token))
                # notifications that arrived while no notifies() ran (during a build, say) come
                # first: psycopg keeps them for the next call
                for notify in conn.notifies(timeout=self._poll):
                    payload = notify.payload
                    if payload == token and notify.pid == pid:
                        self.fresh_at = sent  # everything committed before the ping is applied
                    elif len(payload) == _PSEUDONYM_HEX:
                        try:
                            pseudonym = bytes.fromhex(payload)
                        except ValueError:
                            continue
                        self.add([pseudonym])
        finally:
            conn.close()

    def _build_postgres(self, conn: Any) -> None:
        """Read every stored pseudonym into a new filter and swap it in. Notifications that
        arrive meanwhile are held by the server until this transaction ends, then applied."""
        estimate = conn.execute("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE relname = 'record_identifiers'").fetchone()
        with conn.transaction(), conn.cursor(name="pseudovault_miss_filter") as cursor:
            cursor.itersize = _FETCH
            cursor.execute("SELECT pseudonym FROM record_identifiers")
            self._fill(int(estimate[0] if estimate else 0), cursor)

    def _follow_sqlite(self) -> None:
        raw = self._engine.raw_connection()
        raw.detach()  # the thread's own, for as long as it follows: not the pool's to recycle
        try:
            conn: Any = raw.dbapi_connection  # the sqlite3 connection (a fresh one always has it)
            last, fresh = self._build_sqlite(conn)
            self.fresh_at = fresh
            while not self._stop.is_set():
                if self._rebuild_due():
                    last, self.fresh_at = self._build_sqlite(conn)
                    continue
                sent = time.monotonic()  # the snapshot below begins after this moment
                conn.execute("BEGIN")
                try:
                    pruned, top = conn.execute(_SQLITE_FEED_STATE).fetchone()
                    rows = conn.execute(_SQLITE_FEED_AFTER, (last,)).fetchall()
                finally:
                    conn.execute("COMMIT")
                if pruned > last or top < last:  # fell behind the kept entries, or a restored file
                    log.info("the check miss filter fell behind the identifier feed; rebuilding")
                    last, self.fresh_at = self._build_sqlite(conn)
                    continue
                if rows:  # a row deleted since has no pseudonym: nothing to add
                    self.add(bytes(row[1]) for row in rows if row[1] is not None)
                    last = rows[-1][0]
                self.fresh_at = sent
                self._stop.wait(self._poll)
        finally:
            raw.close()

    def _build_sqlite(self, conn: Any) -> tuple[int, float]:
        """Read every stored pseudonym and the feed's highest number in one snapshot into a new
        filter and swap it in; the feed's number and the moment before the snapshot began."""
        sent = time.monotonic()
        conn.execute("BEGIN")
        try:
            _pruned, top = conn.execute(_SQLITE_FEED_STATE).fetchone()
            count = conn.execute("SELECT count(*) FROM record_identifiers").fetchone()[0]
            self._fill(count, conn.execute("SELECT pseudonym FROM record_identifiers"))
        finally:
            conn.execute("COMMIT")
        return int(top), sent

    def _fill(self, estimate: int, cursor: Any) -> None:
        """A new filter of the pseudonyms ``cursor`` yields (about ``estimate`` of them), then
        swapped in; pseudonyms this process adds meanwhile go into both."""
        started = time.monotonic()
        # room for twice the table as it is (the estimate, or what the last filter came to hold
        # when the estimate lags: PostgreSQL's before an ANALYZE), so that it takes the table
        # doubling before it is overfull
        capacity = max(_MIN_CAPACITY, 2 * max(estimate, self.pseudonyms + self._added if self._bloom is not None else 0))
        # rbloom's default hash, the interpreter's own (SipHash under a key random per process):
        # computed in C, where a Python hash function costs a call per lookup (0.33 us against
        # 0.05 us); a filter lives in one process, so the hash need not be stable across them,
        # and 64 bits leave no collision worth counting among even 10^9 pseudonyms
        fresh = Bloom(capacity, self._fpr)
        with self._lock:
            self._building = fresh
            added_before = self._added
        count = 0
        try:
            while True:
                rows = cursor.fetchmany(_FETCH)
                if not rows:
                    break
                fresh.update(bytes(row[0]) for row in rows)
                count += len(rows)
        except BaseException:
            with self._lock:
                self._building = None
            raise
        with self._lock:
            self._building = None
            self._bloom = fresh
            self.capacity = capacity
            self._added -= added_before  # what was added during the build is in the new filter too
            self.pseudonyms = count
        self.built_at = time.monotonic()
        log.info("check miss filter built: %d pseudonyms in %.1f s", count, self.built_at - started)

    def __repr__(self) -> str:
        return f"MissFilter(ready={self.ready}, pseudonyms={self.pseudonyms}, max_staleness={self.max_staleness:g}s)"
