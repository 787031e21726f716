"""Ban checks and bulk import: the vault's hot path next to a raw baseline, on SQLite and PostgreSQL.

Population: N records (default 1,000,000; ``--quick`` 30,000), each banning three identifiers
(an email, a KR mobile phone, an IPv4 address), category ``fraudulent_transaction``. The first
``--import-rows`` of them (default 100,000; quick 8,000) go through the vault's own bulk import
(:func:`vault.records.bulk.import_records`, a JSON Lines file, batches of 1,000): that is the import
figure. The rest are **generated directly** (the same normal forms, pseudonyms derived with the
vault's own Pseudonymizer, rows written with the driver's executemany / ``COPY``), because
importing a million rows through normalization would take minutes; this is setup, not measured.

The vault runs with its check miss filter (a 1 s staleness bound), on both engines: misses are
answered in process, hits query the store. Measured, each next to a raw baseline in the same run:

* ``single_device``: one signup with one identifier (device_id) per call, ``check()``;
* ``single_email``: one signup with one identifier (email);
* ``single_three``: one signup with three identifiers (email, phone, IP);
* ``batch100``: ``check_batch()`` of 100 three-identifier signups (rate in signups per second);
* ``import``: rows per second through ``import_records`` (three identifiers, no reason text),
  next to the raw import of the same rows, in four rounds of a quarter each, alternating which
  side goes first; ``import_with_reason``: rows that also have a reason (a data key per record,
  encrypted) against rows without, four alternating rounds of ``--reason-rows`` each.

10% of the checked signups hit a record; the rest miss. The check baseline is what a service
would write instead of the vault (:class:`UserNormalizer`): email-validator, phonenumbers and
``ipaddress`` called directly, stdlib ``hmac`` with precomputed HMAC-SHA256 keys, then one indexed
lookup of those keys in a plain table (``sqlite3`` / ``psycopg``) holding the same pseudonym rows
with an index on the pseudonym column. (The vault does more: look-alike candidates, the domain's
policy, the decision.) Each check figure is the median of six alternating rounds, with the range
of the rounds' ratios under ``*_ratio_range``. The import baseline (:class:`RawImport`) does the
import's durable work with the same de-duplication (a batch's source references looked up, stored
ones skipped), the vault's normalizer and look-alike rows, stdlib ``hmac`` pseudonyms, and a raw
``executemany`` (1,000 rows per transaction, with one hash-chained audit row) of the rows the vault
writes, every column, into the vault's own ``records`` and ``record_identifiers`` tables: the same
keys and indexes, growing alike as the rounds alternate.

    python benchmarks/checks.py [--quick] [--records N] [--import-rows M] [--seconds S] [--no-postgres]

PostgreSQL is measured when PSEUDOVAULT_BENCH_POSTGRES_URL or PSEUDOVAULT_TEST_POSTGRES_URL is
set (throwaway databases are created next to it). The last line printed is JSON; ratios (vault
rate / raw rate) are under keys ending in ``_ratio``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import ipaddress
import itertools
import json
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Paired, RawStores, emit, interleaved, postgres_stores, postgres_url, sqlite_stores, timed
from sqlalchemy.engine import make_url

from pseudovault.keys.pseudonym import derive_kind_key
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.crypto.lookup import lookalike_label
from pseudovault.vault.identifiers import Normalizer
from pseudovault.vault.records.bulk import import_records
from pseudovault.vault.vault import RecordsConfig, Vault

CATEGORY = "fraudulent_transaction"
DOMAIN = "default"
HIT_SHARE = 0.10
BATCH = 1000
IMPORT_ROUNDS = 4  # alternating rounds of the import figures, each a slice of the import rows
RAW_KEY = SecretBytes(
    bytes(range(32))
)  # the baseline's lookup key: any 32 bytes will do


# --- the population -------------------------------------------------------------------------


def email(i: int) -> str:
    return f"user{i}@shop{i % 997}.kr"


def phone(i: int) -> str:
    return (
        f"+8210{20_000_000 + i:08d}"  # E.164 of 010-2000-0000 onwards: valid KR mobiles
    )


def phone_as_typed(i: int) -> str:
    digits = f"{20_000_000 + i:08d}"
    return f"010-{digits[:4]}-{digits[4:]}"


def ip(i: int) -> str:
    return f"{10 + (i >> 24)}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"  # distinct for every i used


def device(i: int) -> str:
    return f"dev-{i:08d}"


def identifiers(i: int) -> list[tuple[str, str]]:
    return [("email", email(i)), ("phone", phone_as_typed(i)), ("ip", ip(i))]


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def message(value: str, norm_version: int) -> bytes:
    """The pseudonym message layout of keys.pseudonym (the baseline HMACs the same bytes)."""
    return _lp(norm_version.to_bytes(4, "big")) + _lp(value.encode("utf-8"))


class RawPseudonyms:
    """stdlib hmac under precomputed per-label keys: the baseline's derive."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}

    def key(self, label: str) -> bytes:
        found = self._keys.get(label)
        if found is None:
            found = self._keys[label] = derive_kind_key(
                RAW_KEY, kind=label, domain=DOMAIN
            ).reveal()
        return found

    def derive(self, label: str, value: str, norm_version: int) -> bytes:
        return hmac.new(
            self.key(label), message(value, norm_version), hashlib.sha256
        ).digest()


def candidates(item: Any) -> list[tuple[str, str, bool]]:
    """(label, value, row lookalike) the vault derives for one normalized identifier."""
    out = [(item.kind, item.value, False)]
    skeleton = item.skeleton
    if skeleton is not None:
        out.append((lookalike_label(item.kind), skeleton, True))
        if item.lookalike is not None:
            out.append((item.kind, skeleton, False))
    return out


def stored_rows(
    normalizer: Normalizer, values: list[tuple[str, str]]
) -> list[tuple[int, bool, str, str, int]]:
    """(slot, lookalike, label, value, norm_version) of the pseudonyms a record stores."""
    rows = []
    for slot, (kind, value) in enumerate(values):
        item = normalizer.normalize(kind, value)
        rows.append((slot, False, kind, item.value, item.version))
        if item.lookalike is not None:
            rows.append(
                (slot, True, lookalike_label(kind), item.lookalike, item.version)
            )
    return rows


def populate_direct(vault: Vault, start: int, stop: int, raw: RawBaseline) -> None:
    """Records start..stop-1 written straight into the vault's tables (and the raw table)."""
    normalizer = vault.normalizer
    primary = vault.lookup.current().primary
    now = vault.clock.now()
    expires = now + timedelta(days=3 * 365)
    # normal forms are known: check that the generator's values are their own normal form
    for i in range(start, min(stop, start + 50)):
        assert normalizer.normalize("email", email(i)).value == email(i)
        assert normalizer.normalize("phone", phone_as_typed(i)).value == phone(i)
        assert normalizer.normalize("ip", ip(i)).value == ip(i)
    from pseudovault.vault.identifiers import skeleton

    chunk = 20_000
    for lo in range(start, stop, chunk):
        records = []
        idents = []
        raw_rows = []
        for i in range(lo, min(stop, lo + chunk)):
            record_id = str(uuid.UUID(int=i + 1))
            records.append(record_id)
            values = [("email", email(i)), ("phone", phone(i)), ("ip", ip(i))]
            e = email(i)
            local, _, dom = e.partition("@")
            look = f"{skeleton(local)}@{skeleton(dom)}"
            rows = [
                (0, False, "email", e),
                (1, False, "phone", phone(i)),
                (2, False, "ip", ip(i)),
            ]
            if look != e:
                rows.append((0, True, lookalike_label("email"), look))
            for slot, lookalike, label, value in rows:
                kind = values[slot][0]
                idents.append(
                    (
                        record_id,
                        slot,
                        primary.version,
                        lookalike,
                        kind,
                        1,
                        primary.derive(label, DOMAIN, value, 1),
                    )
                )
                raw_rows.append(
                    (record_id, slot, lookalike, raw.pseudonyms.derive(label, value, 1))
                )
        write_direct(vault, records, idents, now, expires)
        raw.insert_identifiers(raw_rows)


def write_direct(
    vault: Vault,
    record_ids: list[str],
    idents: list[tuple[Any, ...]],
    now: datetime,
    expires: datetime,
) -> None:
    engine = vault.data_engine
    if engine.dialect.name == "sqlite":
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        created = now.astimezone(UTC).replace(tzinfo=None).strftime(fmt)
        until = expires.astimezone(UTC).replace(tzinfo=None).strftime(fmt)
        raw = engine.raw_connection()
        try:
            driver: Any = raw.dbapi_connection
            driver.execute("BEGIN")
            driver.executemany(
                "INSERT INTO records (id, domain, category, reason_code, severity, status, status_reason_code, source,"
                " external_ref, subject_id, own_key, created_at, updated_at, expires_at, review_at, schema_version)"
                " VALUES (?, 'default', ?, 'fraud', 'high', 'active', NULL, 'bench', NULL, NULL, 0, ?, ?, ?, NULL, 1)",
                [(rid, CATEGORY, created, created, until) for rid in record_ids],
            )
            driver.executemany(
                "INSERT INTO record_identifiers (record_id, slot, lookup_version, lookalike, kind, norm_version, pseudonym)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                idents,
            )
            driver.execute("COMMIT")
        finally:
            raw.close()
        return
    raw = engine.raw_connection()
    try:
        driver = raw.dbapi_connection
        with driver.cursor() as cursor:
            with cursor.copy(
                "COPY records (id, domain, category, reason_code, severity, status, source, own_key, created_at,"
                " updated_at, expires_at, schema_version) FROM STDIN"
            ) as copy:
                for rid in record_ids:
                    copy.write_row(
                        (
                            rid,
                            DOMAIN,
                            CATEGORY,
                            "fraud",
                            "high",
                            "active",
                            "bench",
                            False,
                            now,
                            now,
                            expires,
                            1,
                        )
                    )
            with cursor.copy(
                "COPY record_identifiers (record_id, slot, lookup_version, lookalike, kind, norm_version, pseudonym)"
                " FROM STDIN"
            ) as copy:
                for row in idents:
                    copy.write_row(row)
        driver.commit()
    finally:
        raw.close()


# --- the raw baseline -------------------------------------------------------------------------


class RawBaseline:
    """Plain tables with the same pseudonym rows, read and written by the driver alone."""

    def __init__(self, engine_name: str, url: str | None, tmp: Path) -> None:
        self.engine_name = engine_name
        self.pseudonyms = RawPseudonyms()
        if engine_name == "sqlite":
            self.db: Any = sqlite3.connect(
                tmp / "raw.sqlite3", isolation_level=None, check_same_thread=False
            )
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.param = "?"
        else:
            import psycopg

            assert url is not None
            libpq = (
                make_url(url)
                .set(drivername="postgresql")
                .render_as_string(hide_password=False)
            )
            self.db = psycopg.connect(libpq, autocommit=True)
            self.param = "%s"
        self.db.execute(
            "CREATE TABLE raw_identifiers (record_id TEXT, slot INTEGER, lookalike BOOLEAN, pseudonym BYTEA)".replace(
                "BYTEA", "BLOB" if engine_name == "sqlite" else "BYTEA"
            )
        )
        self.db.execute(
            "CREATE INDEX ix_raw_identifiers_pseudonym ON raw_identifiers (pseudonym)"
        )
        self._queries: dict[int, str] = {}

    def _executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if self.engine_name == "sqlite":
            self.db.execute("BEGIN")
            self.db.executemany(sql, rows)
            self.db.execute("COMMIT")
        else:
            with self.db.transaction(), self.db.cursor() as cursor:
                cursor.executemany(sql, rows)

    def insert_identifiers(self, rows: list[tuple[Any, ...]]) -> None:
        p = self.param
        if self.engine_name == "sqlite":
            self._executemany(
                f"INSERT INTO raw_identifiers VALUES ({p}, {p}, {p}, {p})", rows
            )
        else:
            with (
                self.db.cursor() as cursor,
                cursor.copy("COPY raw_identifiers FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)

    def analyze(self) -> None:
        self.db.execute("ANALYZE")

    def lookup(self, keys: list[bytes]) -> list[Any]:
        """One indexed ``IN`` query (one placeholder per key: on PostgreSQL about twice as fast as
        ``= ANY(%s)`` with an array, so the baseline is not handicapped)."""
        sql = self._queries.get(len(keys))
        if sql is None:
            sql = self._queries[len(keys)] = (
                "SELECT record_id, slot, lookalike, pseudonym FROM raw_identifiers WHERE pseudonym IN ("
                + ", ".join([self.param] * len(keys))
                + ")"
            )
        return self.db.execute(sql, keys).fetchall()

    def close(self) -> None:
        self.db.close()


class UserNormalizer:
    """What a service would write instead of the vault: the field's libraries called directly.

    email-validator (syntax, IDNA; no DNS) with the address lower-cased, phonenumbers' parse,
    validity check and E.164, ``ipaddress`` (an IPv6 address taken as its /64), a device id
    trimmed and lower-cased. One pseudonym per identifier (no look-alike candidates). The
    normalization versions are the vault's, so that both sides find the same stored rows.
    """

    def __init__(self, versions: dict[str, int]) -> None:
        import email_validator
        import phonenumbers

        self._validate_email = email_validator.validate_email
        self._phonenumbers = phonenumbers
        self.versions = versions

    def normalize(self, kind: str, value: str) -> str:
        if kind == "email":
            return self._validate_email(value, check_deliverability=False).normalized.lower()
        if kind == "phone":
            pn = self._phonenumbers
            number = pn.parse(value, "KR")
            if not pn.is_valid_number(number):
                raise ValueError("not a valid phone number")
            return pn.format_number(number, pn.PhoneNumberFormat.E164)
        if kind == "ip":
            address = ipaddress.ip_address(value.strip())
            if address.version == 6:
                return str(ipaddress.ip_network(f"{address}/64", strict=False))
            return str(address)
        if kind == "device_id":
            return value.strip().lower()
        raise ValueError(f"no baseline normalization for {kind}")


def raw_check(user: UserNormalizer, raw: RawBaseline, groups: list[list[tuple[str, str]]]) -> list[Any]:
    """The baseline's check: normalize each identifier, HMAC it, one indexed lookup of them all."""
    keys = [
        raw.pseudonyms.derive(kind, user.normalize(kind, value), user.versions[kind])
        for signup in groups
        for kind, value in signup
    ]
    return raw.lookup(keys)


class RawImport(RawStores):
    """The import's durable work without the vault, into the vault's own ``records`` and
    ``record_identifiers`` tables (their columns, keys and indexes) through the driver alone: per
    batch of 1,000 rows the same de-duplication (which of the batch's source references are
    stored already: one indexed ``IN`` query on ``records.external_ref``; those rows are skipped),
    the same normalization (the vault's normalizer, look-alike rows included) with the baseline's
    own stdlib-``hmac`` pseudonyms, every column of the rows the vault writes, and one
    hash-chained audit row, in one transaction. The column values are those of a record the
    vault's import wrote (``template``: read once from the store)."""

    RECORD_COLUMNS = ("id", "domain", "category", "reason_code", "severity", "status", "status_reason_code", "source",
                      "external_ref", "subject_id", "own_key", "created_at", "updated_at", "expires_at", "review_at",
                      "schema_version")

    def __init__(self, data_url: str, keys_url: str, normalizer: Normalizer, pseudonyms: RawPseudonyms,
                 lookup_version: int) -> None:
        super().__init__(data_url, keys_url)
        self.normalizer, self.pseudonyms, self.lookup_version = normalizer, pseudonyms, lookup_version
        self.template: dict[str, Any] | None = None
        self.expiry: timedelta | None = None
        self.written: list[str] = []  # the records' ids, to remove them after the measurement
        p = self.param
        self.insert_record = (f"INSERT INTO records ({', '.join(self.RECORD_COLUMNS)})"
                              f" VALUES ({', '.join([p] * len(self.RECORD_COLUMNS))})")
        self.insert_identifier = ("INSERT INTO record_identifiers (record_id, slot, lookup_version, lookalike, kind,"
                                  f" norm_version, pseudonym) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})")

    def _template(self) -> dict[str, Any]:
        """The stored columns of a record the vault's import wrote (setup: read once)."""
        if self.template is None:
            cursor = self.data.cursor()
            cursor.execute(f"SELECT {', '.join(self.RECORD_COLUMNS)} FROM records WHERE external_ref LIKE 'import:%'"
                           " ORDER BY created_at LIMIT 1")
            row = cursor.fetchone()
            cursor.close()
            assert row is not None, "the vault imports first: its rows are the template"
            self.template = dict(zip(self.RECORD_COLUMNS, row, strict=True))
            created, expires = self.template["created_at"], self.template["expires_at"]
            if isinstance(created, str):  # SQLite's text timestamps
                created = datetime.fromisoformat(created)
                expires = datetime.fromisoformat(expires) if expires is not None else None
            self.expiry = expires - created if expires is not None else None
        return self.template

    def run(self, lo: int, hi: int, at: datetime) -> None:
        template = self._template()
        stamp = self._stamp(at)
        expires = self._stamp(at + self.expiry) if self.expiry is not None else None
        import_id = uuid.uuid4().hex
        for start in range(lo, hi, BATCH):
            lines = range(start, min(hi, start + BATCH))
            refs = [f"import:{import_id}:{i + 1}" for i in lines]
            cursor = self.data.cursor()
            cursor.execute(f"SELECT external_ref FROM records WHERE external_ref IN {self._in(len(refs))}", refs)
            stored = {row[0] for row in cursor.fetchall()}
            cursor.close()
            records, idents, ids = [], [], []
            for i, ref in zip(lines, refs, strict=True):
                if ref in stored:
                    continue
                record_id = str(uuid.uuid4())
                ids.append(record_id)
                self.written.append(record_id)
                records.append(tuple(
                    {"id": record_id, "external_ref": ref, "created_at": stamp, "updated_at": stamp,
                     "expires_at": expires}.get(column, template[column])
                    for column in self.RECORD_COLUMNS
                ))
                values = identifiers(i)
                for slot, lookalike, label, value, version in stored_rows(self.normalizer, values):
                    idents.append((record_id, slot, self.lookup_version, lookalike, values[slot][0], version,
                                   self.pseudonyms.derive(label, value, version)))
            detail = {"records": len(ids), "identifiers": sum(1 for row in idents if not row[3])}
            self._run(self.data, [(self.insert_record, records), (self.insert_identifier, idents),
                                  *self._audit_row("record.create_many", ids, at, detail)])

    def remove(self) -> None:
        """Delete the records written (setup, not measured): the population the checks measure
        is the vault's alone."""
        for start in range(0, len(self.written), BATCH):
            chunk = self.written[start : start + BATCH]
            self._run(self.data, [(f"DELETE FROM record_identifiers WHERE record_id IN {self._in(len(chunk))}", chunk),
                                  (f"DELETE FROM records WHERE id IN {self._in(len(chunk))}", chunk)])
        self.written.clear()


# --- measuring -------------------------------------------------------------------------------


def signups(
    n_records: int, count: int, seed: int, make: Callable[[int], list[tuple[str, str]]]
) -> list[list[tuple[str, str]]]:
    """``count`` signups, HIT_SHARE of them banned identifiers, the rest fresh ones."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        if rng.random() < HIT_SHARE:
            out.append(make(rng.randrange(n_records)))
        else:
            out.append(make(n_records + 10_000_000 + rng.randrange(10_000_000)))
    return out


def cycle(items: list[Any]) -> Callable[[], Any]:
    iterator: Iterator[Any] = iter(())
    state = {"it": iterator}

    def next_item() -> Any:
        try:
            return next(state["it"])
        except StopIteration:
            state["it"] = iter(items)
            return next(state["it"])

    return next_item


def write_import_file(path: Path, lo: int, hi: int, *, reason: bool) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(lo, hi):
            row: dict[str, Any] = {
                "identifiers": dict(identifiers(i)),
                "category": CATEGORY,
                "reason_code": "fraud",
            }
            if reason:
                row["reason"] = "chargeback ring, case 4711"
            handle.write(json.dumps(row) + "\n")


def measure(
    engine_name: str, data_url: str, keys_url: str, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    p = engine_name
    n, m = args.records, min(args.import_rows, args.records)
    raw = RawBaseline(engine_name, data_url if engine_name == "postgres" else None, tmp)
    # with the check miss filter (vault.checks.missfilter, 1 s staleness bound), as a deployment
    # that checks every signup runs it; benchmarks/scale.py measures with and without it
    config = RecordsConfig(miss_filter=1.0)
    with Vault.create(FakeKmsProvider(), data_url, keys_url, records_config=config) as vault:
        normalizer = vault.normalizer
        user = UserNormalizer(
            {
                kind: normalizer.normalize(kind, value).version
                for kind, value in (("email", email(0)), ("phone", phone_as_typed(0)), ("ip", ip(0)), ("device_id", device(0)))
            }
        )
        # import: the first m records through the vault's bulk import, the raw baseline alongside,
        # in IMPORT_ROUNDS rounds of a slice each (alternating which side goes first); then rows
        # with a reason, in rounds alternating with rows without (a data key each, the text
        # encrypted), against those
        raw_import = RawImport(data_url, keys_url, normalizer, raw.pseudonyms, vault.lookup.current().primary.version)
        bounds = [m * r // IMPORT_ROUNDS for r in range(IMPORT_ROUNDS + 1)]
        vault_rates, raw_rates = [], []
        for r, (lo, hi) in enumerate(itertools.pairwise(bounds)):
            source = tmp / f"{p}-import-{r}.jsonl"
            write_import_file(source, lo, hi, reason=False)

            def run_vault(source: Path = source) -> None:
                import_records(vault.records, source, batch_size=BATCH)

            def run_raw(lo: int = lo, hi: int = hi) -> None:
                raw_import.run(lo, hi, vault.clock.now())

            first, second = (run_vault, run_raw) if r % 2 == 0 else (run_raw, run_vault)
            t_first, t_second = timed(first), timed(second)
            t_vault, t_raw = (t_first, t_second) if r % 2 == 0 else (t_second, t_first)
            vault_rates.append((hi - lo) / t_vault)
            raw_rates.append((hi - lo) / t_raw)
        raw_import.remove()
        raw_import.close()
        imported = Paired(vault_rates, raw_rates)
        figures[f"{p}_import_rows_per_s"] = round(imported.vault, 1)
        figures[f"{p}_import_raw_rows_per_s"] = round(imported.raw, 1)
        figures[f"{p}_import_ratio"] = round(imported.ratio, 3)
        figures[f"{p}_import_ratio_range"] = imported.ratio_range()
        reasoned = min(args.reason_rows, m)
        plain_rates, reason_rates = [], []
        for r in range(IMPORT_ROUNDS):
            lo = n + 50_000_000 + r * reasoned
            source_r = tmp / f"{p}-import-reason-{r}.jsonl"
            write_import_file(source_r, lo, lo + reasoned, reason=True)
            source_p = tmp / f"{p}-import-plain-{r}.jsonl"
            write_import_file(source_p, lo + 20_000_000, lo + 20_000_000 + reasoned, reason=False)
            for source, rates in ((source_r, reason_rates), (source_p, plain_rates))[:: 1 if r % 2 == 0 else -1]:
                rates.append(reasoned / timed(lambda source=source: import_records(vault.records, source, batch_size=BATCH)))
        with_reason = Paired(reason_rates, plain_rates)
        figures[f"{p}_import_with_reason_rows_per_s"] = round(with_reason.vault, 1)
        # rows with a reason (a data key each, the text encrypted) against rows without
        figures[f"{p}_import_with_reason_ratio"] = round(with_reason.ratio, 3)
        figures[f"{p}_import_with_reason_ratio_range"] = with_reason.ratio_range()
        # the raw table gets the imported records' pseudonyms too (the same rows as the vault's)
        raw_rows = []
        for i in range(m):
            for slot, lookalike, label, value, version in stored_rows(
                normalizer, identifiers(i)
            ):
                raw_rows.append(
                    (
                        f"imported-{i}",
                        slot,
                        lookalike,
                        raw.pseudonyms.derive(label, value, version),
                    )
                )
        raw.insert_identifiers(raw_rows)
        # the rest of the population, generated directly
        t_direct = timed(lambda: populate_direct(vault, m, n, raw))
        figures[f"{p}_population_direct_s"] = round(t_direct, 1)
        if engine_name == "postgres":
            with vault.data_engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
        raw.analyze()
        figures[f"{p}_records"] = vault.records.count()
        assert figures[f"{p}_records"] == n + 2 * IMPORT_ROUNDS * reasoned, figures

        # one identifier: device ids of extra records (a tenth of the population, at most
        # 20,000) added through RecordService.prepare/create_many
        n_dev = max(1, min(20_000, n // 10))
        prepared = [
            vault.records.prepare(
                [("device_id", device(i))], category=CATEGORY, reason_code="fraud"
            )
            for i in range(n_dev)
        ]
        for start in range(0, n_dev, 10_000):
            vault.records.create_many(prepared[start : start + 10_000])
        dev_rows = []
        for i in range(n_dev):
            dev_rows.append(
                (f"dev-{i}", 0, False, raw.pseudonyms.derive("device_id", device(i), 1))
            )
        raw.insert_identifiers(dev_rows)

        if vault.checks.miss_filter is not None:
            assert vault.checks.miss_filter.wait_ready(120), "the miss filter did not build"
        cases: list[tuple[str, list[list[tuple[str, str]]]]] = [
            (
                "single_device",
                signups(n_dev, 4000, 1, lambda i: [("device_id", device(i))]),
            ),
            ("single_email", signups(n, 4000, 2, lambda i: [("email", email(i))])),
            ("single_three", signups(n, 4000, 3, identifiers)),
        ]
        for name, items in cases:
            hits = sum(
                1 for s in items[:400] if vault.checks.check(s).decision != "allow"
            )
            raw_hits = sum(1 for s in items[:400] if raw_check(user, raw, [s]))
            assert hits == raw_hits, (name, hits, raw_hits)
            figures[f"{p}_{name}_hits_in_400"] = hits
            nxt_v, nxt_r = cycle(items), cycle(items)

            def vault_single(nxt: Callable[[], Any] = nxt_v) -> object:
                return vault.checks.check(nxt())

            def raw_single(nxt: Callable[[], Any] = nxt_r) -> object:
                return raw_check(user, raw, [nxt()])

            interleaved(vault_single, raw_single, seconds=args.seconds).record(figures, f"{p}_{name}", unit="checks_per_s")

        batches = [signups(n, 100, 100 + b, identifiers) for b in range(20)]
        nxt_v, nxt_r = cycle(batches), cycle(batches)
        interleaved(
            lambda: vault.checks.check_batch(nxt_v()),
            lambda: raw_check(user, raw, nxt_r()),
            seconds=args.seconds,
            min_calls=5,
        ).record(figures, f"{p}_batch100", unit="signups_per_s", scale=100)
    raw.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="30,000 records, short timings (under a minute)",
    )
    parser.add_argument(
        "--records",
        type=int,
        default=None,
        help="records in the population (default 1,000,000)",
    )
    parser.add_argument(
        "--import-rows", type=int, default=None, help="of which through the bulk import"
    )
    parser.add_argument(
        "--reason-rows", type=int, default=None, help="rows of the with-reason import"
    )
    parser.add_argument(
        "--seconds", type=float, default=None, help="seconds per measured rate"
    )
    parser.add_argument(
        "--no-postgres", action="store_true", help="skip PostgreSQL even if configured"
    )
    args = parser.parse_args()
    args.records = args.records or (30_000 if args.quick else 1_000_000)
    args.import_rows = args.import_rows or (8_000 if args.quick else 100_000)
    args.reason_rows = args.reason_rows or (500 if args.quick else 5_000)
    args.seconds = args.seconds or (1.0 if args.quick else 6.0)

    started = time.perf_counter()
    figures: dict[str, Any] = {
        "benchmark": "checks",
        "quick": args.quick,
        "records": args.records,
        "imported_records": min(args.import_rows, args.records),
        "generated_records": args.records - min(args.import_rows, args.records),
        "hit_share": HIT_SHARE,
    }
    with (
        tempfile.TemporaryDirectory(prefix="pvbench-") as tmp,
        sqlite_stores() as (data_url, keys_url),
    ):
        figures.update(measure("sqlite", data_url, keys_url, args, Path(tmp)))
    url = None if args.no_postgres else postgres_url()
    if url:
        with (
            tempfile.TemporaryDirectory(prefix="pvbench-") as tmp,
            postgres_stores(url) as (data_url, keys_url),
        ):
            figures.update(measure("postgres", data_url, keys_url, args, Path(tmp)))
    figures["duration_s"] = round(time.perf_counter() - started, 1)
    emit(figures)


if __name__ == "__main__":
    main()
