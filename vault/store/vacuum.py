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

A row deleted while another transaction in the same database still had a snapshot that could see
it is kept by that run (PostgreSQL reports "N dead row versions cannot be removed yet"): the run
reads that report (``VERBOSE``) and runs again ``delay`` seconds later, until none is left.

In every mode WAL segments, archives and replicas keep the deleted row until they are recycled:
the backup horizon covers them (the epoch key that wraps it is destroyed, docs/operations.md).
:meth:`DeferredVacuum.flush` runs a pending vacuum now (the vault's ``close``, so a CLI shred is
vacuumed before the command exits). SQLite needs none of this (``secure_delete`` and WAL
checkpoints, vault.store.db).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from sqlalchemy import Engine, text

__all__ = ["DeferredVacuum", "MODES"]

log = logging.getLogger(__name__)

MODES = ("full", "plain", "off")
_LOCK_TIMEOUT = "2s"
_KEPT = re.compile(r"(\d+) dead row versions cannot be removed yet")


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
        self.runs = 0
        #: dead rows the last run had to keep (still in view of some transaction), if it could tell
        self.kept_last_run: int | None = None

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
            if done and self.kept_last_run:
                self._pending = True  # rows still in view of a transaction: again after the delay
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
        options = "(FULL, VERBOSE) " if self._mode == "full" else "(VERBOSE) "
        statement = "VACUUM " + options + ", ".join(self._tables)
        details: list[str] = []
        try:
            with self._engine.connect() as connection:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                driver: Any = connection.connection.driver_connection
                handler = None
                if hasattr(driver, "add_notice_handler"):  # psycopg 3: read VACUUM's report
                    def handler(diagnostic: Any) -> None:
                        details.append(f"{diagnostic.message_primary or ''} {diagnostic.message_detail or ''}")

                    driver.add_notice_handler(handler)
                try:
                    connection.execute(text(f"SET lock_timeout = '{_LOCK_TIMEOUT}'"))
                    connection.execute(text("SET statement_timeout = 0"))  # a rewrite of a large table is slow
                    connection.execute(text(statement))
                finally:
                    if handler is not None:
                        driver.remove_notice_handler(handler)
                    # back to the engine's own timeouts before the connection returns to the pool
                    connection.execute(text("RESET lock_timeout"))
                    connection.execute(text("RESET statement_timeout"))
        except Exception as exc:  # noqa: BLE001 (a busy table is tried again; never fails a shred)
            log.warning("key table vacuum postponed (%s)", type(exc).__name__)
            with self._lock:
                self._pending = True
            return False
        self.runs += 1
        self.kept_last_run = sum(int(m.group(1)) for d in details for m in _KEPT.finditer(d)) if details else None
        if self.kept_last_run:
            log.info("key tables vacuumed (%s); %d deleted row(s) still in view, again later", self._mode, self.kept_last_run)
        else:
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
