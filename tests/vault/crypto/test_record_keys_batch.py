"""A batch's record keys are made in one statement: the epoch is read once, every key is wrapped
under it, and a duplicate refuses the whole batch (the caller's transaction adds none of them)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event

from pseudovault.keys.wrap import generate_key
from pseudovault.vault.errors import ConflictError
from pseudovault.vault.store.db import session_scope
from pseudovault.vault.vault import Vault


def test_a_batch_of_record_keys_reads_the_epoch_once(vault: Vault) -> None:
    keys = [(str(uuid.uuid4()), generate_key()) for _ in range(50)]
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement.split()[0].upper())

    event.listen(vault.keys_engine, "before_cursor_execute", seen)
    try:
        with session_scope(vault.keys_engine, write=True) as session:
            vault.keys.create_record_keys(session, keys)
    finally:
        event.remove(vault.keys_engine, "before_cursor_execute", seen)
    assert statements.count("SELECT") == 1, statements
    assert statements.count("INSERT") <= 2, "one (executemany) insert, not one per key"
    for record_id, key in keys:
        assert vault.keys.record_key(record_id).reveal() == key.reveal()


def test_a_duplicate_refuses_the_whole_batch(vault: Vault) -> None:
    taken = str(uuid.uuid4())
    with session_scope(vault.keys_engine, write=True) as session:
        vault.keys.create_record_keys(session, [(taken, generate_key())])
    fresh = str(uuid.uuid4())
    with pytest.raises(ConflictError), session_scope(vault.keys_engine, write=True) as session:
        vault.keys.create_record_keys(session, [(fresh, generate_key()), (taken, generate_key())])
    assert not vault.keys.has_record_key(fresh)
