"""Write paths: subject create, subject update and record create through the vault, each next to a
raw baseline doing the same durable work with the driver alone, in the same run.

- **Subject create** (three fields: name, email, phone). Vault: ``SubjectService.create``. Raw: a
  fresh 256-bit data key wrapped (RFC 5649) under the key store's epoch key and inserted in one
  key-store transaction; then the three values encrypted with AES-GCM (random nonce, associated
  data naming owner and field), the subject row, its three field rows and one hash-chained audit
  row inserted in one data-store transaction.
- **Subject update** (one field set on an existing subject, its key warm in both). Vault:
  ``SubjectService.update``. Raw: the value encrypted under the subject's cached AES-GCM object,
  the field upserted, the subject's ``updated_at`` set and one audit row, in one transaction.
- **Record create** (one email identifier, a reason; no linked subject, so the record has a key
  of its own). Vault: ``RecordService.create``. Raw: the address normalized with email-validator
  (no DNS) and lower-cased, one HMAC-SHA256 pseudonym with stdlib ``hmac``, a fresh data key
  wrapped and inserted in one key-store transaction; then the record row, its encrypted reason,
  its identifier row and one audit row in one data-store transaction. (The vault also derives and
  stores the address's look-alike pseudonym; the raw side does not.)

Both sides write into the same tables of the same two stores (the vault's schema), one operation
per transaction per store, with the vault's SQLite settings (WAL, ``synchronous=NORMAL``,
``secure_delete``); the raw side's audit row goes into a table of its own with the columns and
indexes of the vault's ``audit_entries`` (the vault also moves and signs its audit head, which
the raw side does not: DESIGN's invariant 9). Rounds alternate which side goes first; each ratio (vault rate / raw rate) is
the median of the rounds', with the range under ``*_ratio_range``.

    python benchmarks/writes.py [--quick] [--no-postgres]

Each case runs six rounds, of 4 s a side (``--quick``: 0.5 s, under a minute with both engines).
PostgreSQL is measured when PSEUDOVAULT_BENCH_POSTGRES_URL or PSEUDOVAULT_TEST_POSTGRES_URL is set
(throwaway databases are created next to it). The last line printed is JSON; ratios are under
keys ending in ``_ratio``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import itertools
import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import email_validator  # noqa: E402
from _common import RawStores, current_epoch_key, emit, interleaved, postgres_stores, postgres_url, sqlite_stores  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding  # noqa: E402

from pseudovault.keys.testing import FakeKmsProvider  # noqa: E402
from pseudovault.vault.crypto.fields import SCHEMA_VERSION  # noqa: E402
from pseudovault.vault.vault import Vault  # noqa: E402

FIELDS = {"name": "Kim Minji", "email": "minji@example.com", "phone": "+821012345678"}
CATEGORY = "fraudulent_transaction"
REASON = "chargeback ring: three cards, one device"
POOL = 200  # subjects per side that updates cycle through


class RawWrites(RawStores):
    """The write paths' durable work with the driver alone (see the module's docstring)."""

    def __init__(self, data_url: str, keys_url: str, epoch: int, kek: bytes, pseudonym_key: bytes) -> None:
        super().__init__(data_url, keys_url)
        self.epoch, self.kek, self.pseudonym_key = epoch, kek, pseudonym_key
        self.aeads: dict[str, AESGCM] = {}
        p = self.param
        self.sql = {
            "subject_key": f"INSERT INTO subject_keys (subject_id, epoch, wrapped, created_at) VALUES ({p}, {p}, {p}, {p})",
            "record_key": f"INSERT INTO record_keys (record_id, epoch, wrapped, created_at) VALUES ({p}, {p}, {p}, {p})",
            "subject": f"INSERT INTO subjects (id, created_at, updated_at, schema_version) VALUES ({p}, {p}, {p}, {p})",
            "subject_field": "INSERT INTO subject_fields (subject_id, name, ciphertext, schema_version, collected_at)"
            f" VALUES ({p}, {p}, {p}, {p}, {p})",
            "upsert_field": "INSERT INTO subject_fields (subject_id, name, ciphertext, schema_version, collected_at)"
            f" VALUES ({p}, {p}, {p}, {p}, {p}) ON CONFLICT (subject_id, name) DO UPDATE SET"
            " ciphertext = excluded.ciphertext, schema_version = excluded.schema_version,"
            " collected_at = excluded.collected_at",
            "touch": f"UPDATE subjects SET updated_at = {p} WHERE id = {p}",
            "record": "INSERT INTO records (id, domain, category, reason_code, severity, status, source, subject_id,"
            " own_key, created_at, updated_at, expires_at, schema_version)"
            f" VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})",
            "record_field": f"INSERT INTO record_fields (record_id, name, ciphertext, schema_version) VALUES ({p}, {p}, {p}, {p})",
            "identifier": "INSERT INTO record_identifiers (record_id, slot, lookup_version, lookalike, kind,"
            f" norm_version, pseudonym) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})",
        }

    def _new_key(self, table: str, owner_id: str, stamp: Any) -> AESGCM:
        key = AESGCM.generate_key(bit_length=256)
        self._run(self.keys, [(self.sql[table], [owner_id, self.epoch, aes_key_wrap_with_padding(self.kek, key), stamp])])
        return AESGCM(key)

    @staticmethod
    def _seal(aead: AESGCM, value: bytes, ad: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + aead.encrypt(nonce, value, ad)

    def create_subject(self, fields: dict[str, str], at: Any) -> str:
        subject_id = str(uuid.uuid4())
        stamp = self._stamp(at)
        aead = self.aeads[subject_id] = self._new_key("subject_key", subject_id, stamp)
        rows = [
            (subject_id, name, self._seal(aead, value.encode(), f"subject|{subject_id}|{name}".encode()), SCHEMA_VERSION, stamp)
            for name, value in fields.items()
        ]
        self._run(
            self.data,
            [
                (self.sql["subject"], [subject_id, stamp, stamp, SCHEMA_VERSION]),
                (self.sql["subject_field"], rows),
                *self._audit_row("subject.create", [subject_id], at, {"fields": len(rows)}),
            ],
        )
        return subject_id

    def update_subject(self, subject_id: str, name: str, value: str, at: Any) -> None:
        stamp = self._stamp(at)
        ciphertext = self._seal(self.aeads[subject_id], value.encode(), f"subject|{subject_id}|{name}".encode())
        self._run(
            self.data,
            [
                (self.sql["upsert_field"], [subject_id, name, ciphertext, SCHEMA_VERSION, stamp]),
                (self.sql["touch"], [stamp, subject_id]),
                *self._audit_row("subject.update", [subject_id], at, {"fields_set": 1, "fields_deleted": 0}),
            ],
        )

    def create_record(self, email: str, reason: str, at: Any, expires_at: Any, norm_version: int) -> str:
        record_id = str(uuid.uuid4())
        stamp = self._stamp(at)
        normalized = email_validator.validate_email(email, check_deliverability=False).normalized.lower()
        pseudonym = hmac.new(self.pseudonym_key, normalized.encode(), hashlib.sha256).digest()
        aead = self._new_key("record_key", record_id, stamp)
        self._run(
            self.data,
            [
                (
                    self.sql["record"],
                    [record_id, "default", CATEGORY, "fraud", "high", "active", "manual", None, True, stamp, stamp,
                     self._stamp(expires_at), SCHEMA_VERSION],
                ),
                (
                    self.sql["record_field"],
                    [record_id, "reason", self._seal(aead, reason.encode(), f"record|{record_id}|reason".encode()), SCHEMA_VERSION],
                ),
                (self.sql["identifier"], [record_id, 0, 1, False, "email", norm_version, pseudonym]),
                *self._audit_row("record.create", [record_id], at, {
                    "category": CATEGORY, "reason_code": "fraud", "severity": "high", "source": "manual",
                    "identifiers": 1, "linked": False}),
            ],
        )
        return record_id


def measure(figures: dict[str, Any], backend: str, data_url: str, keys_url: str, seconds: float) -> None:
    with Vault.create(FakeKmsProvider(), data_url, keys_url) as vault:
        epoch, kek = current_epoch_key(vault)
        raw = RawWrites(data_url, keys_url, epoch, kek.reveal(), os.urandom(32))
        try:
            clock = vault.clock
            norm_version = vault.normalizer.normalize("email", "someone@example.com").version
            expires_at = clock.now() + timedelta(days=365)

            interleaved(
                lambda: vault.subjects.create(FIELDS),
                lambda: raw.create_subject(FIELDS, clock.now()),
                seconds=seconds, min_calls=5,
            ).record(figures, f"{backend}_subject_create")

            vault_pool = itertools.cycle([vault.subjects.create(FIELDS) for _ in range(POOL)])
            raw_pool = itertools.cycle([raw.create_subject(FIELDS, clock.now()) for _ in range(POOL)])
            for _ in range(POOL):  # every key warm, as for a subject just read or written
                vault.keys.subject_cipher(next(vault_pool))
            values = itertools.cycle([f"+8210{n:08d}" for n in range(997)])
            interleaved(
                lambda: vault.subjects.update(next(vault_pool), {"phone": next(values)}),
                lambda: raw.update_subject(next(raw_pool), "phone", next(values), clock.now()),
                seconds=seconds, min_calls=5,
            ).record(figures, f"{backend}_subject_update")

            counter = itertools.count()
            interleaved(
                lambda: vault.records.create([("email", f"user{next(counter)}@example.com")], category=CATEGORY,
                                             reason_code="fraud", reason=REASON),
                lambda: raw.create_record(f"user{next(counter)}@example.com", REASON, clock.now(), expires_at, norm_version),
                seconds=seconds, min_calls=5,
            ).record(figures, f"{backend}_record_create")
        finally:
            raw.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short rounds (well under a minute)")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL even if configured")
    args = parser.parse_args()
    seconds = 3.0 if args.quick else 24.0  # a side's time over six rounds: 0.5 s or 4 s a round

    figures: dict[str, Any] = {"benchmark": "writes", "quick": args.quick}
    with sqlite_stores() as (data_url, keys_url):
        measure(figures, "sqlite", data_url, keys_url, seconds)
    url = None if args.no_postgres else postgres_url()
    if url:
        with postgres_stores(url) as (data_url, keys_url):
            measure(figures, "postgres", data_url, keys_url, seconds)
    emit(figures)


if __name__ == "__main__":
    main()
