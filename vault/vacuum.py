"""Deleted key rows out of PostgreSQL's table files, soon after a shred.

PostgreSQL does not overwrite a deleted row: its bytes stay in the table file until the page is
rewritten. A plain ``VACUUM`` frees the row's line pointer and index entries but, measured with
``pageinspect``, leaves the bytes of the most recently inserted rows in the page's free space; only
``VACUUM FULL`` (a rewrite into a new file) removes them for certain. After a shred, the key store
asks for one of these on the key tables (``subject_keys``, ``record_keys``), chosen by
``PSEUDOVAULT_KEY_VACUUM``:

- ``full`` (default): ``VACUUM FULL``. It holds an exclusive lock on the key tables while it
  rewrites them (measured: 0.27 s for 100,000 data keys), so requests are coalesced: one run at
  most every ``delay`` seconds (``PSEUDOVAULT_KEY_VACUUM_DELAY_SECONDS``, 10), covering every shred
  before it. It waits at most 2 s for its lock and, failing that, tries again after ``delay``.
- ``plain``: ``VACUUM``, no exclusive lock; the bytes may stay in free space until the page is
  reused. For very large key stores, where the horizon (epoch destruction) is the guarantee.
- ``off``: nothing (autovacuum only).

A row deleted while another transaction still had it in view is kept by that run (PostgreSQL
calls it recently dead): so each burst of shreds is vacuumed twice, the second time ``delay``
seconds after the first, by when such transactions have normally ended.

In every mode WAL segments, archives and replicas keep the deleted row until they are recycled:
the backup horizon covers them (the epoch key that wraps it is destroyed, docs/operations.md).
:meth:`DeferredVacuum.flush` runs a pending vacuum now (the vault's ``close``, so a CLI shred is
vacuumed before the command exits). SQLite needs none of this (``secure_delete`` and WAL
checkpoints, vault.db).
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine, text

__all__ = ["DeferredVacuum", "MODES"]

log = logging.getLogger(__name__)

MODES = ("full", "plain", "off")
_LOCK_TIMEOUT = "2s"


class DeferredVacuum:
    """Coalesced VACUUM (FULL) of some tables, at most every ``delay`` seconds."""

    def __init__(self, engine: Engine, tables: tuple[str, ...], *, mode: str = "full", delay: float = 10.0) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if delay < 0:
            raise ValueError("delay must be >= 0")
        self._engine = engine
        self._tables = tables
        self._mode = mode if engine.dialect.name == "postgresql" else "off"
        self._delay = delay
        self._lock = threading.Lock()
        self._pending = False
        self._timer: threading.Timer | None = None
        self._last = float("-inf")
        self._closed = False
        self._followed_up = True  # the next successful run starts a burst: a second run follows
        self.runs = 0

    @property
    def mode(self) -> str:
        return self._mode

    def request(self) -> None:
        """A shred committed: vacuum within ``delay`` seconds."""
        if self._mode == "off":
            return
        with self._lock:
            if self._closed:
                return
            self._pending = True
            self._followed_up = False
            if self._timer is None:
                wait = max(0.0, self._last + self._delay - time.monotonic())
                self._timer = threading.Timer(wait, self._fire)
                self._timer.daemon = True
                self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
        done = self.run()
        with self._lock:
            if done and not self._followed_up:
                # once more after the delay: rows a transaction still had in view are gone by then
                self._followed_up = True
                self._pending = True
            elif done:
                self._followed_up = False
            if (self._pending or not done) and not self._closed and self._timer is None:
                self._timer = threading.Timer(self._delay or 1.0, self._fire)
                self._timer.daemon = True
                self._timer.start()

    def run(self) -> bool:
        """Vacuum now if anything is pending; False when the table lock could not be had."""
        with self._lock:
            if not self._pending:
                return True
            self._pending = False
            self._last = time.monotonic()
        statement = ("VACUUM (FULL) " if self._mode == "full" else "VACUUM ") + ", ".join(self._tables)
        try:
            with self._engine.connect() as connection:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                connection.execute(text(f"SET lock_timeout = '{_LOCK_TIMEOUT}'"))
                connection.execute(text(statement))
                connection.execute(text("RESET lock_timeout"))
        except Exception as exc:  # noqa: BLE001 (a busy table is tried again; never fails a shred)
            log.warning("key table vacuum postponed (%s)", type(exc).__name__)
            with self._lock:
                self._pending = True
            return False
        self.runs += 1
        log.debug("key tables vacuumed (%s)", self._mode)
        return True

    def flush(self) -> None:
        """Run what is pending now and stop the timer (the vault is closing)."""
        with self._lock:
            timer, self._timer = self._timer, None
            self._closed = True
        if timer is not None:
            timer.cancel()
        if self._mode != "off":
            self.run()
