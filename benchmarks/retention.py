"""Retention: the sweeper over due subjects, and shredding one subject as its data grows.

1. **Sweep**: N subjects (two encrypted fields each, category ``access_log``) all due; one
   ``retention sweep`` (batches of 1,000) shreds them: data keys deleted and ledgered, data and
   tombstones, the records' links cut, one audit entry per batch, the items marked done. Baseline,
   in the same run: raw driver statements (``sqlite3`` / ``psycopg``) doing the same durable work
   for another N subjects, also 1,000 per transaction: the keys deleted and ledgered; the fields
   and subjects deleted, the records' links cut, the tombstones written, the items marked done and
   one hash-chained audit row; then on SQLite the same WAL checkpoint of both stores. Rounds
   alternate the two (vault first, then raw first), each on a population of its own.
2. **Shred one subject** holding 1, 10, 100 and 1,000 fields (64-byte values): the median time of
   ``SubjectService.shred`` next to the raw statements of the same durable work for one subject
   (as above, without items), interleaved, after 20 untimed shreds a side. Shredding destroys one
   data key whatever the subject holds, so the time should stay flat;
   ``shred_1000_vs_1_fields_ratio`` says how flat.

The populations are written in bulk (real data keys wrapped under the vault's epoch key, real
AES-GCM ciphertext, items computed by the retention policies), which is setup, not measured.

    python benchmarks/retention.py [--quick] [--no-postgres] [--subjects N]

``--quick`` sweeps 8,000 subjects (well under a minute); the default is 100,000. PostgreSQL is
measured when PSEUDOVAULT_BENCH_POSTGRES_URL or PSEUDOVAULT_TEST_POSTGRES_URL is set. The last
line printed is JSON; ratios (vault rate / raw rate, or time / time) are under keys ending in
``_ratio``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Paired, RawStores, current_epoch_key, emit, postgres_stores, postgres_url, sqlite_stores, timed  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

from pseudovault.keys.aead import Aead  # noqa: E402
from pseudovault.keys.testing import FakeKmsProvider  # noqa: E402
from pseudovault.keys.wrap import generate_key, wrap_key  # noqa: E402
from pseudovault.vault.clock import FrozenClock  # noqa: E402
from pseudovault.vault.crypto.fields import SCHEMA_VERSION, FieldOwner, associated_data  # noqa: E402
from pseudovault.vault.store.data_models import RetentionEvent, RetentionItem, Subject, SubjectCategory, SubjectField  # noqa: E402
from pseudovault.vault.store.db import session_scope  # noqa: E402
from pseudovault.vault.store.key_models import SubjectKey  # noqa: E402
from pseudovault.vault.vault import Vault  # noqa: E402

T0 = datetime(2026, 1, 15, 10, tzinfo=UTC)
DUE = datetime(2026, 4, 16, 1, tzinfo=UTC)  # access logs collected at T0 are due
CHUNK = 5000
BATCH = 1000
WARMUP = 20  # untimed shreds a side before the timed ones


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def populate(vault: Vault, n: int, n_fields: int = 2, *, items: bool = True) -> list[str]:
    """``n`` subjects with ``n_fields`` encrypted fields each, category access_log, created at the
    vault clock's now; written in bulk. (Setup: it reaches into the key hierarchy for the epoch key.)"""
    ids = [str(uuid.uuid4()) for _ in range(n)]
    now = vault.clock.now()
    policies = vault.retention.policies
    policy = policies["access_log"]
    due = policies.due(policy, now)
    vault.retention.ensure_applied()
    epoch, epoch_key = current_epoch_key(vault)
    for chunk in _chunks(ids, CHUNK):
        keys = {sid: generate_key() for sid in chunk}
        key_rows = [{"subject_id": sid, "epoch": epoch, "wrapped": wrap_key(epoch_key, k), "created_at": now}
                    for sid, k in keys.items()]
        subject_rows, field_rows, category_rows, event_rows, item_rows = [], [], [], [], []
        for sid, key in keys.items():
            aead = Aead(key)
            subject_rows.append({"id": sid, "created_at": now, "updated_at": now, "schema_version": SCHEMA_VERSION})
            for i in range(n_fields):
                name = f"field_{i}"
                value = os.urandom(32).hex().encode()
                field_rows.append({"subject_id": sid, "name": name, "schema_version": SCHEMA_VERSION,
                                   "ciphertext": aead.encrypt(value, associated_data(FieldOwner.SUBJECT, sid, name, SCHEMA_VERSION))})
            category_rows.append({"subject_id": sid, "category": "access_log", "field": "*", "added_at": now})
            event_rows.append({"target_kind": "subject", "target_id": sid, "event": "collected", "at": now})
            item_rows.append({"kind": "subject_category", "target_id": sid, "category": "access_log",
                              "stage": "period", "trigger_at": now, "due_at": due, "action": policy.action,
                              "state": "pending", "updated_at": now})
        with vault.keys_engine.begin() as connection:
            connection.execute(insert(SubjectKey.__table__), key_rows)
        with vault.data_engine.begin() as connection:
            connection.execute(insert(Subject.__table__), subject_rows)
            connection.execute(insert(SubjectField.__table__), field_rows)
            if items:
                connection.execute(insert(SubjectCategory.__table__), category_rows)
                connection.execute(insert(RetentionEvent.__table__), event_rows)
                connection.execute(insert(RetentionItem.__table__), item_rows)
    # the statistics a store this size would have (autovacuum analyses a table after such a load,
    # within a minute): without them PostgreSQL plans both sides' statements for the empty tables
    # of before, and its own autovacuum run may land in the middle of the measurement
    for engine in (vault.keys_engine, vault.data_engine):
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    return ids


# --- measurements ------------------------------------------------------------------------------------


def _item_ids(vault: Vault, ids: list[str]) -> list[int]:
    with session_scope(vault.data_engine) as session:
        return list(session.scalars(select(RetentionItem.id).where(RetentionItem.target_id.in_(ids))))


def sweep_rates(data_url: str, keys_url: str, n: int, rounds: int) -> tuple[list[float], list[float]]:
    """Subjects per second of the vault's sweep and of the raw statements, ``rounds`` rounds of
    ``n / rounds`` subjects each side, alternating which goes first."""
    clock = FrozenClock(T0)
    per_round = n // rounds
    vault_rates: list[float] = []
    raw_rates: list[float] = []
    with Vault.create(FakeKmsProvider(now=T0), data_url, keys_url, clock=clock) as vault:
        raw = RawStores(data_url, keys_url)
        try:
            for r in range(rounds):
                clock.set(T0)
                swept = populate(vault, per_round)
                clock.set(T0 + timedelta(days=1))  # the raw side's items fall due a day later: no sweep takes them
                raw_ids = populate(vault, per_round)
                items = dict(zip(raw_ids, _item_ids(vault, raw_ids), strict=True)) if raw_ids else {}
                clock.set(DUE)

                def run_vault(swept: list[str] = swept) -> None:
                    report = vault.retention.sweeper.sweep(batch_size=BATCH)
                    assert report.applied == len(swept) and report.failed == 0, report.as_dict()

                def run_raw(raw_ids: list[str] = raw_ids, items: dict[str, int] = items) -> None:
                    for chunk in _chunks(raw_ids, BATCH):
                        raw.shred(chunk, DUE, [items[sid] for sid in chunk])

                first, second = (run_vault, run_raw) if r % 2 == 0 else (run_raw, run_vault)
                t_first, t_second = timed(first), timed(second)
                t_vault, t_raw = (t_first, t_second) if r % 2 == 0 else (t_second, t_first)
                assert not vault.subjects.exists(swept[0])
                vault_rates.append(per_round / t_vault)
                raw_rates.append(per_round / t_raw)
        finally:
            raw.close()
    return vault_rates, raw_rates


def shred_times(data_url: str, keys_url: str, repeats: int) -> dict[int, tuple[float, float]]:
    """``{fields: (median vault shred seconds, median raw delete seconds)}``."""
    out: dict[int, tuple[float, float]] = {}
    with Vault.create(FakeKmsProvider(now=T0), data_url, keys_url, clock=FrozenClock(T0)) as vault:
        raw = RawStores(data_url, keys_url)
        try:
            # warm-up, not timed: each side's first shreds prepare its statements on the server
            # (PostgreSQL prepares a statement at its fifth run on a connection) and fill its
            # caches; timed, they fell on the first size alone (a one-field shred measured slower
            # than a ten-field one)
            warm = populate(vault, 2 * WARMUP, 1, items=False)
            for sid, other in zip(warm[:WARMUP], warm[WARMUP:], strict=True):
                vault.subjects.shred(sid, "benchmark")
                raw.shred([other], T0)
            for n_fields in (1, 10, 100, 1000):
                ids = populate(vault, 2 * repeats, n_fields, items=False)
                vault_times, raw_times = [], []
                for sid, other in zip(ids[:repeats], ids[repeats:], strict=True):  # interleaved
                    vault_times.append(timed(lambda sid=sid: vault.subjects.shred(sid, "benchmark")))
                    raw_times.append(timed(lambda other=other: raw.shred([other], T0)))
                out[n_fields] = (statistics.median(vault_times), statistics.median(raw_times))
        finally:
            raw.close()
    return out


def measure(figures: dict[str, Any], backend: str, stores: Any, n: int, repeats: int, rounds: int) -> None:
    with stores() as (data_url, keys_url):
        Paired(*sweep_rates(data_url, keys_url, n, rounds)).record(figures, f"sweep_{backend}", unit="subjects_per_s")
    with stores() as (data_url, keys_url):
        times = shred_times(data_url, keys_url, repeats)
    for n_fields, (vault_s, raw_s) in times.items():
        figures[f"shred_{backend}_{n_fields}_fields_vault_ms"] = round(vault_s * 1000, 3)
        figures[f"shred_{backend}_{n_fields}_fields_raw_ms"] = round(raw_s * 1000, 3)
        figures[f"shred_{backend}_{n_fields}_fields_ratio"] = round(raw_s / vault_s, 3)
    figures[f"shred_{backend}_1000_vs_1_fields_ratio"] = round(times[1000][0] / times[1][0], 3)
    figures[f"shred_{backend}_raw_1000_vs_1_fields_ratio"] = round(times[1000][1] / times[1][1], 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="8,000 subjects (well under a minute)")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL even if configured")
    parser.add_argument("--subjects", type=int, default=None, help="how many due subjects to sweep")
    args = parser.parse_args()
    n = args.subjects or (8_000 if args.quick else 100_000)
    repeats = 25 if args.quick else 41
    rounds = 4 if args.quick else 6
    figures: dict[str, Any] = {"benchmark": "retention", "quick": args.quick, "subjects_swept": n}
    started = time.perf_counter()
    measure(figures, "sqlite", sqlite_stores, n, repeats, rounds)
    url = None if args.no_postgres else postgres_url()
    if url:
        measure(figures, "postgres", lambda: postgres_stores(url), n, repeats, rounds)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    emit(figures)


if __name__ == "__main__":
    main()
