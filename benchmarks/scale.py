"""One node at scale: ban checks against a PostgreSQL store holding millions of bans.

Population: N fraud records (default 10,000,000; ``--quick`` 200,000), each banning one email
address, written straight into the vault's tables with ``COPY`` (normal forms and pseudonyms
from the vault's own normalizer and lookup key; the pseudonym index is dropped for the load and
built again afterwards, and its notification trigger is off meanwhile, as an operator loading a
dump would). That is setup, not measured.

Measured, in process (``vault.checks.check``, one email per signup, after a warm-up):

* latency p50 / p99 of checks that hit a ban and of checks that miss, in alternating rounds,
  with the check miss filter (``vault_*``; vault.checks.missfilter, 1 s staleness bound) and
  without it (``vault_nofilter_*``: every check queries the store); the filter's build time,
  its size and how many of the misses still reached the store (false positives);
* next to it, in the same rounds, the raw lookup a service would write (email-validator, hmac,
  one indexed ``SELECT`` with psycopg) over the same table: ``*_ratio`` is the vault's
  checks per second over the raw lookup's;
* the sizes of ``record_identifiers``, its pseudonym index and ``records`` (``pg_*_size``);
* the PostgreSQL server's resident memory (the sum over its processes, from ``/proc``, which
  counts shared buffers once per process that touched them: an upper bound) and its
  ``shared_buffers``.

    python benchmarks/scale.py [--quick] [--bans N] [--seconds S]

Needs PSEUDOVAULT_BENCH_POSTGRES_URL or PSEUDOVAULT_TEST_POSTGRES_URL (throwaway databases are
created next to it and dropped afterwards). The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, postgres_stores, postgres_url  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from pseudovault.keys.testing import FakeKmsProvider  # noqa: E402
from pseudovault.vault.identifiers import skeleton  # noqa: E402
from pseudovault.vault.vault import RecordsConfig, Vault  # noqa: E402

CATEGORY = "fraudulent_transaction"
DOMAIN = "default"
#: letters that are their own UTS #39 skeleton, so the population has no look-alike rows to skip
ALPHABET = "abcdefghijknpqstuvwxyz"
CHUNK = 100_000
INDEX = "ix_record_identifiers_pseudonym"
TRIGGER = "record_identifiers_announce"


def email(i: int) -> str:
    letters = []
    n = i
    for _ in range(6):
        n, r = divmod(n, len(ALPHABET))
        letters.append(ALPHABET[r])
    return f"buyer.{''.join(letters)}@shop{ALPHABET[i % len(ALPHABET)]}.kr"  # unique up to 22**6


def populate(vault: Vault, n: int) -> float:
    """N records with one email each, by COPY; returns the seconds it took."""
    started = time.perf_counter()
    normalizer = vault.normalizer
    for i in range(0, n, max(1, n // 50)):
        item = normalizer.normalize("email", email(i))
        assert item.value == email(i) and skeleton(item.value) == item.value, email(i)
    version = normalizer.normalize("email", email(0)).version
    primary = vault.lookup.current().primary
    now = vault.clock.now()
    expires = now + timedelta(days=3 * 365)
    raw = vault.data_engine.raw_connection()
    try:
        driver: Any = raw.dbapi_connection
        with driver.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {INDEX}")
            # a dump's load, not N bans announced one by one (the filters read the table)
            cursor.execute(f"ALTER TABLE record_identifiers DISABLE TRIGGER {TRIGGER}")
            driver.commit()
            for lo in range(0, n, CHUNK):
                ids = [str(uuid.UUID(int=i + 1)) for i in range(lo, min(n, lo + CHUNK))]
                with cursor.copy(
                    "COPY records (id, domain, category, reason_code, severity, status, source, own_key, created_at,"
                    " updated_at, expires_at, schema_version) FROM STDIN"
                ) as copy:
                    for rid in ids:
                        copy.write_row((rid, DOMAIN, CATEGORY, "fraud", "high", "active", "bench", False, now, now, expires, 1))
                with cursor.copy(
                    "COPY record_identifiers (record_id, slot, lookup_version, lookalike, kind, norm_version, pseudonym)"
                    " FROM STDIN"
                ) as copy:
                    for offset, rid in enumerate(ids):
                        value = email(lo + offset)
                        copy.write_row(
                            (rid, 0, primary.version, False, "email", version, primary.derive("email", DOMAIN, value, version))
                        )
                driver.commit()
            cursor.execute("SET maintenance_work_mem = '512MB'")
            cursor.execute(f"CREATE INDEX {INDEX} ON record_identifiers (pseudonym)")
            cursor.execute(f"ALTER TABLE record_identifiers ENABLE TRIGGER {TRIGGER}")
            cursor.execute("ANALYZE")
            driver.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


class RawLookup:
    """What a service would write: email-validator, stdlib hmac, one indexed SELECT (psycopg)."""

    def __init__(self, url: str) -> None:
        import email_validator
        import psycopg

        self._validate = email_validator.validate_email
        self._key = hashlib.sha256(b"raw lookup key").digest()
        self._db = psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True)
        # the same table and index; the raw side's own pseudonyms live in a column of its own
        self._db.execute("CREATE TABLE raw_bans (pseudonym BYTEA)")

    def fill(self, n: int) -> None:
        with self._db.cursor() as cursor, cursor.copy("COPY raw_bans (pseudonym) FROM STDIN") as copy:
            for i in range(n):
                copy.write_row((self._derive(email(i)),))
        self._db.execute("CREATE INDEX ix_raw_bans_pseudonym ON raw_bans (pseudonym)")
        self._db.execute("ANALYZE raw_bans")

    def _derive(self, normalized: str) -> bytes:
        return hmac.new(self._key, normalized.encode(), hashlib.sha256).digest()

    def check(self, value: str) -> bool:
        normalized = self._validate(value, check_deliverability=False).normalized.lower()
        row = self._db.execute("SELECT 1 FROM raw_bans WHERE pseudonym = %s LIMIT 1", (self._derive(normalized),)).fetchone()
        return row is not None

    def close(self) -> None:
        self._db.close()


def latencies(fn: Any, values: list[str], expect_hit: bool) -> list[float]:
    out = []
    for value in values:
        start = time.perf_counter()
        hit = fn(value)
        out.append(time.perf_counter() - start)
        assert hit == expect_hit, value
    return out


def server_memory(vault: Vault) -> dict[str, Any]:
    with vault.data_engine.connect() as connection:
        pids = [row[0] for row in connection.exec_driver_sql("SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL")]
        shared_buffers = connection.exec_driver_sql("SHOW shared_buffers").scalar()
    rss_kib = 0
    postmaster = Path("/proc")
    seen = 0
    for status in postmaster.glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if "\nName:\tpostgres" not in "\n" + text and not text.startswith("Name:\tpostgres"):
            continue
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                rss_kib += int(line.split()[1])
                seen += 1
    return {"server_rss_mib": round(rss_kib / 1024, 1), "server_processes": seen, "backends": len(pids), "shared_buffers": shared_buffers}


def sizes(vault: Vault) -> dict[str, float]:
    mib = 1024 * 1024
    with vault.data_engine.connect() as connection:
        def size(sql: str) -> float:
            return round(float(connection.exec_driver_sql(sql).scalar() or 0) / mib, 1)

        return {
            "record_identifiers_table_mib": size("SELECT pg_table_size('record_identifiers')"),
            "pseudonym_index_mib": size(f"SELECT pg_relation_size('{INDEX}')"),
            "record_identifiers_all_indexes_mib": size("SELECT pg_indexes_size('record_identifiers')"),
            "records_total_mib": size("SELECT pg_total_relation_size('records')"),
        }


def ms(values: list[float], q: float) -> float:
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 bans (under a minute)")
    parser.add_argument("--bans", type=int, default=None, help="bans in the store (default 10,000,000)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds of checks per side and kind")
    args = parser.parse_args()
    n = args.bans or (200_000 if args.quick else 10_000_000)
    seconds = args.seconds or (3.0 if args.quick else 20.0)
    url = postgres_url()
    if not url:
        sys.exit("scale.py measures PostgreSQL: set PSEUDOVAULT_BENCH_POSTGRES_URL or PSEUDOVAULT_TEST_POSTGRES_URL")
    figures: dict[str, Any] = {"benchmark": "scale", "quick": args.quick, "bans": n}
    provider = FakeKmsProvider()
    with postgres_stores(url) as (data_url, keys_url):
        with Vault.create(provider, data_url, keys_url) as vault:
            figures["populate_s"] = round(populate(vault, n), 1)
        raw = RawLookup(data_url)
        started = time.perf_counter()
        raw.fill(n)
        figures["raw_fill_s"] = round(time.perf_counter() - started, 1)
        with Vault.open(provider, data_url, keys_url, records_config=RecordsConfig(miss_filter=1.0)) as vault:
            measure(vault, raw, n, seconds, figures)
            raw.close()
            figures.update(sizes(vault))
            figures.update(server_memory(vault))
    emit(figures)


def measure(vault: Vault, raw: RawLookup, n: int, seconds: float, figures: dict[str, Any]) -> None:
    """Latencies with the filter, without it, and of the raw lookup, in alternating rounds."""
    miss_filter = vault.checks.miss_filter
    assert miss_filter is not None
    started = time.perf_counter()
    assert miss_filter.wait_ready(600), "the miss filter did not build"
    figures["filter_build_s"] = round(time.perf_counter() - started, 1)
    figures["filter_pseudonyms"] = miss_filter.pseudonyms
    figures["filter_mib"] = round(miss_filter.size_bytes / 1024 / 1024, 1)
    fetches = [0]
    original_fetch = vault.checks._fetch

    def counted(pseudonyms: list[bytes], domain: str) -> list[Any]:
        fetches[0] += 1
        return original_fetch(pseudonyms, domain)

    vault.checks._fetch = counted  # type: ignore[method-assign]

    def vault_check(value: str) -> bool:
        return vault.checks.check([("email", value)]).decision != "allow"

    def nofilter_check(value: str) -> bool:
        vault.checks.miss_filter = None
        try:
            return vault.checks.check([("email", value)]).decision != "allow"
        finally:
            vault.checks.miss_filter = miss_filter

    rounds = 6
    per_round = max(200, int(seconds / rounds / 0.0005))  # about seconds/rounds at ~0.5 ms a check
    step = max(1, n // (rounds * per_round * 2))
    sides = [("vault", vault_check), ("vault_nofilter", nofilter_check), ("raw", raw.check)]
    results: dict[str, list[float]] = {f"{side}_{kind}": [] for side, _ in sides for kind in ("hit", "miss")}
    for value in (email(1), email(n + 1)):  # warm-up: connections, prepared plans, caches
        for _, fn in sides:
            fn(value)
    filtered_misses = 0
    for r in range(rounds):
        hits = [email(((r * per_round + k) * step) % n) for k in range(per_round)]
        misses = [email(n + 1 + r * per_round + k) for k in range(per_round)]
        for side, fn in sides if r % 2 == 0 else sides[::-1]:
            results[f"{side}_hit"].extend(latencies(fn, hits, True))
            before = fetches[0]
            results[f"{side}_miss"].extend(latencies(fn, misses, False))
            if side == "vault":
                filtered_misses += fetches[0] - before
    for key, values in results.items():
        figures[f"{key}_p50_ms"] = ms(values, 50)
        figures[f"{key}_p99_ms"] = ms(values, 99)
    figures["checks_per_case"] = len(results["raw_hit"])
    figures["vault_misses_that_queried"] = filtered_misses
    for side in ("vault", "vault_nofilter"):
        for kind in ("hit", "miss"):
            figures[f"{side}_{kind}_ratio"] = round(sum(results[f"raw_{kind}"]) / sum(results[f"{side}_{kind}"]), 3)


if __name__ == "__main__":
    main()
