"""Envelope encryption: field encrypt+decrypt through the vault next to raw AES-GCM, and subject
create / read / shred rates on SQLite and PostgreSQL.

The vault path is what ``SubjectService.read``/``update`` do per field with a warm data key: the
subject's ``vault.crypto.fields.FieldCipher`` from the key cache (``KeyHierarchy.subject_cipher``,
looked up once per operation, as a read of a one-field subject does: the TTL check included), then
the field encrypted and decrypted through it (nonce, associated data, framing, opaque errors);
``fields3_64b`` is one lookup for three fields, as a read of a name/email/phone subject. The
raw baseline is ``cryptography``'s ``AESGCM`` on the same sizes with a fixed object, in the same
run, doing what storing a field takes: a random nonce (``os.urandom``), the ciphertext framed
with it (``nonce + ciphertext``, the one value a column holds) and taken apart again to decrypt.

    python benchmarks/envelope.py [--quick] [--no-postgres]

PostgreSQL is measured when PSEUDOVAULT_BENCH_POSTGRES_URL or PSEUDOVAULT_TEST_POSTGRES_URL is
set (throwaway databases are created next to it). The last line printed is JSON; each ratio is
under a key ending in ``_ratio``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Paired, emit, interleaved, postgres_stores, postgres_url, sqlite_stores, timed  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from pseudovault.keys.testing import FakeKmsProvider  # noqa: E402
from pseudovault.vault.crypto.fields import SCHEMA_VERSION, FieldOwner, associated_data  # noqa: E402
from pseudovault.vault.vault import Vault  # noqa: E402


def field_rates(vault: Vault, subject_id: str, size: int, seconds: float, fields: int = 1) -> Paired:
    """Per operation: one key lookup, then ``fields`` fields encrypted and decrypted."""
    value = os.urandom(size)
    names = ["email", "name", "phone"][:fields]
    fixed_ads = [associated_data(FieldOwner.SUBJECT, subject_id, name, SCHEMA_VERSION) for name in names]

    def through_vault() -> None:
        cipher = vault.keys.subject_cipher(subject_id)  # warm key cache
        for name in names:
            ciphertext = cipher.encrypt(name, value)
            cipher.decrypt(name, ciphertext, SCHEMA_VERSION)

    raw = AESGCM(AESGCM.generate_key(bit_length=256))

    def raw_aesgcm() -> None:
        for fixed_ad in fixed_ads:
            nonce = os.urandom(12)
            stored = nonce + raw.encrypt(nonce, value, fixed_ad)  # what a column holds
            raw.decrypt(stored[:12], stored[12:], fixed_ad)

    # interleaved rounds, so that machine noise hits both sides alike
    return interleaved(through_vault, raw_aesgcm, seconds=seconds, rounds=10)


def subject_rates(data_url: str, keys_url: str, n: int) -> dict[str, float]:
    with Vault.create(FakeKmsProvider(), data_url, keys_url) as vault:
        fields = {"name": "Kim Minji", "email": "minji@example.com", "phone": "+821012345678"}
        ids: list[str] = []
        t_create = timed(lambda: ids.extend(vault.subjects.create(fields) for _ in range(n)))
        vault.cache.clear()
        t_read_cold = timed(lambda: [vault.subjects.read(i) for i in ids])
        t_read_warm = timed(lambda: [vault.subjects.read(i) for i in ids])
        t_shred = timed(lambda: [vault.subjects.shred(i) for i in ids])
    return {
        "create_per_s": n / t_create,
        "read_cold_per_s": n / t_read_cold,
        "read_warm_per_s": n / t_read_warm,
        "shred_per_s": n / t_shred,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run (well under a minute)")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL even if configured")
    args = parser.parse_args()
    seconds = 4.0 if args.quick else 20.0
    n_subjects = 200 if args.quick else 2000

    figures: dict[str, object] = {"benchmark": "envelope", "quick": args.quick}
    with sqlite_stores() as (data_url, keys_url), Vault.create(FakeKmsProvider(), data_url, keys_url) as vault:
        subject_id = vault.subjects.create({"email": "warm@example.com"})
        vault.keys.data_key(subject_id)
        for size, label in ((64, "64b"), (1024, "1kib")):
            field_rates(vault, subject_id, size, seconds).record(figures, f"field_{label}")
        # a read of the three-field subject below: one key lookup for three fields
        field_rates(vault, subject_id, 64, seconds, fields=3).record(figures, "fields3_64b")

    with sqlite_stores() as (data_url, keys_url):
        for key, value in subject_rates(data_url, keys_url, n_subjects).items():
            figures[f"sqlite_subject_{key}"] = round(value, 1)

    url = None if args.no_postgres else postgres_url()
    if url:
        with postgres_stores(url) as (data_url, keys_url):
            for key, value in subject_rates(data_url, keys_url, n_subjects).items():
                figures[f"postgres_subject_{key}"] = round(value, 1)
    figures["subjects_measured"] = n_subjects
    emit(figures)


if __name__ == "__main__":
    main()
