"""Data keys a crash left without data are removed by the orphan scan, and only those."""

from __future__ import annotations

import uuid
from datetime import timedelta

from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.store.db import session_scope
from pseudovault.vault.vault import ORPHAN_KEY_GRACE, Vault


def _orphans(vault: Vault) -> tuple[str, str]:
    """What a process killed between its key-store and data-store commits leaves behind."""
    subject_id, record_id = str(uuid.uuid4()), str(uuid.uuid4())
    with session_scope(vault.keys_engine, write=True) as session:
        vault.keys.create_data_key(session, subject_id)
        vault.keys.create_record_key(session, record_id)
    return subject_id, record_id


def test_orphan_keys_are_removed_once_past_the_grace_and_live_ones_stay(vault: Vault, clock: FrozenClock) -> None:
    kept_subject = vault.subjects.create({"email": "kept@example.com"})
    kept_record = vault.records.create(
        [("email", "banned@example.com")], category="fraudulent_transaction", reason_code="fraud", reason="text"
    )
    orphan_subject, orphan_record = _orphans(vault)
    assert vault.keys.count_data_keys() == 2 and vault.keys.count_record_keys() == 2
    assert vault.remove_orphan_keys() == 0, "a key this young may belong to a create under way"
    clock.advance(ORPHAN_KEY_GRACE + timedelta(seconds=1))
    assert vault.remove_orphan_keys() == 2
    assert vault.keys.count_data_keys() == 1 and vault.keys.count_record_keys() == 1
    assert vault.keys.has_data_key(kept_subject) and not vault.keys.has_data_key(orphan_subject)
    assert vault.keys.has_record_key(kept_record) and not vault.keys.has_record_key(orphan_record)
    assert vault.subjects.read(kept_subject) == {"email": "kept@example.com"}
    [entry] = vault.audit.query(action="keys.remove_orphans")
    assert entry.detail == {"subject_keys": 1, "record_keys": 1}
    assert vault.remove_orphan_keys() == 0  # each key is looked at once


def test_the_key_maintenance_runs_the_orphan_scan(vault: Vault, clock: FrozenClock) -> None:
    _orphans(vault)
    clock.advance(ORPHAN_KEY_GRACE + timedelta(minutes=1))
    assert vault.maintain_keys(max_age=timedelta(0))["orphan_keys_removed"] == 2
