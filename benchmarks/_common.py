"""Shared helpers for the benchmark scripts: timing loops, throwaway stores, the JSON last line."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

POSTGRES_URL_VARIABLES = ("PSEUDOVAULT_BENCH_POSTGRES_URL", "PSEUDOVAULT_TEST_POSTGRES_URL")


def rate(fn: Callable[[], object], *, seconds: float, min_calls: int = 50) -> float:
    """Calls per second of ``fn``, run for about ``seconds`` (after a short warm-up)."""
    for _ in range(min(20, min_calls)):
        fn()
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(min_calls):
            fn()
        calls += min_calls
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - start)


class Paired:
    """The rates of a vault path and its raw baseline measured in alternating rounds."""

    def __init__(self, vault_rates: list[float], raw_rates: list[float]) -> None:
        self.vault_rates = vault_rates
        self.raw_rates = raw_rates
        self.ratios = [v / r for v, r in zip(vault_rates, raw_rates, strict=True)]

    @property
    def vault(self) -> float:
        return statistics.median(self.vault_rates)

    @property
    def raw(self) -> float:
        return statistics.median(self.raw_rates)

    @property
    def ratio(self) -> float:
        """The median of the rounds' ratios: a round's two sides ran back to back, so a burst
        of machine noise moves one round, not the figure."""
        return statistics.median(self.ratios)

    def ratio_range(self) -> list[float]:
        return [round(min(self.ratios), 3), round(max(self.ratios), 3)]

    def record(self, figures: dict[str, Any], prefix: str, *, unit: str = "ops_per_s", scale: float = 1.0) -> None:
        """``{prefix}_vault_{unit}``, ``{prefix}_raw_{unit}``, ``{prefix}_ratio`` and
        ``{prefix}_ratio_range`` ([lowest, highest] round)."""
        figures[f"{prefix}_vault_{unit}"] = round(self.vault * scale, 1)
        figures[f"{prefix}_raw_{unit}"] = round(self.raw * scale, 1)
        figures[f"{prefix}_ratio"] = round(self.ratio, 3)
        figures[f"{prefix}_ratio_range"] = self.ratio_range()


def interleaved(
    vault_fn: Callable[[], object],
    raw_fn: Callable[[], object],
    *,
    seconds: float,
    rounds: int = 6,
    min_calls: int = 50,
    warmup: int = 10,
) -> Paired:
    """``rounds`` rounds of ``seconds / rounds`` each side, alternating which side goes first
    (``min_calls``: the calls between two looks at the clock; a few for slow calls), after
    ``warmup`` untimed calls a side (statements prepared on the server, caches filled: otherwise
    paid in the first round only)."""
    for _ in range(warmup):
        vault_fn()
        raw_fn()
    per_side = seconds / rounds
    vault_rates: list[float] = []
    raw_rates: list[float] = []
    for i in range(rounds):
        if i % 2:
            raw_rates.append(rate(raw_fn, seconds=per_side, min_calls=min_calls))
            vault_rates.append(rate(vault_fn, seconds=per_side, min_calls=min_calls))
        else:
            vault_rates.append(rate(vault_fn, seconds=per_side, min_calls=min_calls))
            raw_rates.append(rate(raw_fn, seconds=per_side, min_calls=min_calls))
    return Paired(vault_rates, raw_rates)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def postgres_url() -> str | None:
    for name in POSTGRES_URL_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    return None


@contextmanager
def sqlite_stores() -> Iterator[tuple[str, str]]:
    with tempfile.TemporaryDirectory(prefix="pvbench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'data.sqlite3'}", f"sqlite:///{Path(tmp) / 'keys.sqlite3'}"


@contextmanager
def postgres_stores(url: str) -> Iterator[tuple[str, str]]:
    """Two throwaway databases next to the one ``url`` names, dropped afterwards."""
    import psycopg

    base = make_url(url)
    admin_url = base.set(drivername="postgresql").render_as_string(hide_password=False)
    prefix = f"pvbench_{secrets.token_hex(4)}"
    names = [f"{prefix}_data", f"{prefix}_keys"]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield tuple(  # type: ignore[misc]
                base.set(drivername="postgresql+psycopg", database=n).render_as_string(hide_password=False) for n in names
            )
        finally:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def current_epoch_key(vault: Any) -> tuple[int, Any]:
    """The key store's current epoch and its unwrapped key (``SecretBytes``), for a raw baseline
    or a bulk setup that wraps data keys itself (it reaches into the key hierarchy)."""
    from pseudovault.vault.store.db import session_scope

    with session_scope(vault.keys_engine) as key_session:
        row = vault.keys._current_epoch_row(key_session)
    assert row is not None
    return row.epoch, vault.keys._epoch_key(row.epoch, row.kek_id, row.wrapped)


def emit(figures: dict[str, Any]) -> None:
    """Print the figures: a readable block, then (last) one line of JSON."""
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {shown}", file=sys.stderr)
    print(json.dumps(figures, sort_keys=False))


# --- raw baselines ----------------------------------------------------------------------------------


class RawStores:
    """Raw driver connections to both stores (sqlite3 or psycopg), outside SQLAlchemy."""

    def __init__(self, data_url: str, keys_url: str) -> None:
        self.sqlite = make_url(data_url).get_backend_name() == "sqlite"
        if self.sqlite:
            import sqlite3

            def connect(url: str) -> Any:
                connection = sqlite3.connect(make_url(url).database, isolation_level=None)
                for pragma in ("journal_mode=WAL", "secure_delete=ON", "synchronous=NORMAL"):
                    connection.execute(f"PRAGMA {pragma}")
                return connection

            self.param = "?"
        else:
            import psycopg

            def connect(url: str) -> Any:
                return psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))

            self.param = "%s"
        self.data = connect(data_url)
        self.keys = connect(keys_url)
        self.seq, self.last_hash = 0, "0" * 64
        stamp_type = "TEXT" if self.sqlite else "TIMESTAMPTZ"
        # the columns and indexes of the vault's audit_entries
        self._run(self.data, [
            (f"CREATE TABLE IF NOT EXISTS bench_raw_audit (seq INTEGER PRIMARY KEY, at {stamp_type} NOT NULL,"
             " actor_kind VARCHAR(16) NOT NULL, actor_id VARCHAR(64) NOT NULL, action VARCHAR(64) NOT NULL,"
             " targets TEXT NOT NULL, purpose VARCHAR(200), outcome VARCHAR(32) NOT NULL, client VARCHAR(64),"
             " detail TEXT NOT NULL, prev_hash VARCHAR(64) NOT NULL, entry_hash VARCHAR(64) NOT NULL)", []),
            ("CREATE INDEX IF NOT EXISTS ix_bench_raw_audit_at ON bench_raw_audit (at)", []),
            ("CREATE INDEX IF NOT EXISTS ix_bench_raw_audit_action ON bench_raw_audit (action)", []),
        ])

    def _in(self, n: int) -> str:
        return "(" + ",".join([self.param] * n) + ")"

    def _run(self, connection: Any, statements: list[tuple[str, list[Any]]]) -> None:
        if self.sqlite:
            connection.execute("BEGIN IMMEDIATE")
            for sql, params in statements:
                if params and isinstance(params[0], tuple):
                    connection.executemany(sql, params)
                else:
                    connection.execute(sql, params)
            connection.execute("COMMIT")
        else:
            with connection.transaction(), connection.cursor() as cursor:
                for sql, params in statements:
                    if params and isinstance(params[0], tuple):
                        cursor.executemany(sql, params)
                    else:
                        cursor.execute(sql, params)

    def _audit_row(self, action: str, ids: list[str], at: datetime, detail: dict[str, Any] | None = None) -> list[tuple[str, list[Any]]]:
        """One audit row of the operation (every column of the vault's ``audit_entries``, in a
        table of the baseline's own with the same indexes, in the data store), chained to the
        previous one by SHA-256 over its fields."""
        self.seq += 1
        targets = json.dumps(ids, separators=(",", ":"))
        detail_json = json.dumps(detail or {}, separators=(",", ":"), sort_keys=True)
        fields = json.dumps([self.seq, at.isoformat(), "system", "bench", action, targets, None, "ok", None, detail_json],
                            separators=(",", ":"))
        prev_hash = self.last_hash
        self.last_hash = hashlib.sha256(f"{prev_hash}|{fields}".encode()).hexdigest()
        p = self.param
        return [("INSERT INTO bench_raw_audit (seq, at, actor_kind, actor_id, action, targets, purpose, outcome, client,"
                 f" detail, prev_hash, entry_hash) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})",
                 [self.seq, self._stamp(at), "system", "bench", action, targets, None, "ok", None, detail_json,
                  prev_hash, self.last_hash])]

    def _stamp(self, at: datetime) -> Any:
        return at.replace(tzinfo=None).isoformat(sep=" ") if self.sqlite else at

    def shred(self, ids: list[str], at: datetime, item_ids: list[int] | None = None) -> None:
        """The durable work of shredding ``ids``: their keys deleted and ledgered (key store); their
        fields and rows deleted, their records' links cut, their tombstones written, ``item_ids``
        marked done and one audit row (data store): one transaction per store; on SQLite then the
        same WAL checkpoint (TRUNCATE) of both stores as the vault's shred, which moves the deleted
        rows' old page images out of the log."""
        marks = self._in(len(ids))
        p = self.param
        stamp = self._stamp(at)
        self._run(
            self.keys,
            [
                (f"DELETE FROM subject_keys WHERE subject_id IN {marks}", ids),
                (f"INSERT INTO shred_ledger (subject_id, shredded_at) VALUES ({p}, {p})", [(sid, stamp) for sid in ids]),
            ],
        )
        statements = [
            (f"DELETE FROM subject_fields WHERE subject_id IN {marks}", ids),
            (f"UPDATE records SET subject_id = NULL WHERE subject_id IN {marks}", ids),
            (f"DELETE FROM subjects WHERE id IN {marks}", ids),
            (f"INSERT INTO tombstones (subject_id, shredded_at, reason_code) VALUES ({p}, {p}, {p})",
             [(sid, stamp, "retention") for sid in ids]),
        ]
        if item_ids:
            statements.append(
                (f"UPDATE retention_items SET state = 'done', outcome = 'shredded', done_at = {p}, updated_at = {p}"
                 f" WHERE id IN {self._in(len(item_ids))}", [stamp, stamp, *item_ids])
            )
        self._run(self.data, statements + self._audit_row("subject.shred_many", ids, at, {"reason": "retention", "subjects": len(ids), "already": 0}))
        if self.sqlite:
            for connection in (self.keys, self.data):
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()

    def close(self) -> None:
        self.data.close()
        self.keys.close()
