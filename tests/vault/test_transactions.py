"""Each write path is one transaction per store, its audit entry inside (DESIGN: "each
operation is one transaction per store"): counted at the engines, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from pseudovault.vault.vault import Vault


@contextmanager
def transactions(vault: Vault) -> Iterator[Counter[str]]:
    """How many transactions each store began while the block ran (reads included)."""
    counts: Counter[str] = Counter()
    listeners: list[tuple[Any, Callable[..., None]]] = []
    for name, engine in (("data", vault.data_engine), ("keys", vault.keys_engine)):

        def begun(_conn: Any, name: str = name) -> None:
            counts[name] += 1

        event.listen(engine, "begin", begun)
        listeners.append((engine, begun))
    try:
        yield counts
    finally:
        for engine, listener in listeners:
            event.remove(engine, "begin", listener)


def _audited(vault: Vault, target: str, action: str) -> bool:
    return any(e.action == action for e in vault.audit.query(target=target))


def test_subject_create_update_and_shred_are_one_transaction_per_store(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    # the key tables' vacuum after a shred is maintenance of its own, on a timer thread (see
    # vault.store.vacuum): the warm-up shred's would otherwise be counted by whatever runs next
    monkeypatch.setattr(vault.keys, "vacuum", None)
    warm = vault.subjects.create({"email": "warm@example.com"})  # policies and caches loaded
    vault.subjects.update(warm, {"name": "Warm"})
    vault.subjects.shred(warm)

    with transactions(vault) as created:
        subject_id = vault.subjects.create({"email": "kim@example.com", "name": "Kim"})
    assert created == {"data": 1, "keys": 1}
    assert _audited(vault, subject_id, "subject.create")

    with transactions(vault) as updated:
        vault.subjects.update(subject_id, {"name": "Kim Minji", "email": None})
    assert updated["data"] == 1 and updated["keys"] <= 1  # the key store only on a cold key cache
    assert _audited(vault, subject_id, "subject.update")

    with transactions(vault) as shredded:
        vault.subjects.shred(subject_id)
    assert shredded == {"data": 1, "keys": 1}
    assert _audited(vault, subject_id, "subject.shred")
    assert not vault.subjects.exists(subject_id)


def test_record_create_is_one_transaction_per_store(vault: Vault) -> None:
    vault.records.create([("email", "warm@example.com")], category="fraudulent_transaction", reason_code="fraud")
    with transactions(vault) as plain:
        record_id = vault.records.create([("email", "banned@example.com")], category="fraudulent_transaction", reason_code="fraud")
    assert plain == {"data": 1}
    assert _audited(vault, record_id, "record.create")
    with transactions(vault) as reasoned:
        record_id = vault.records.create(
            [("phone", "010-2000-0001")], category="fraudulent_transaction", reason_code="fraud", reason="chargebacks"
        )
    assert reasoned == {"data": 1, "keys": 1}  # the text's own data key, then the record
    assert _audited(vault, record_id, "record.create")
