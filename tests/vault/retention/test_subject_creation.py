"""RetentionService.create_subject: a subject, its categories and both audit entries are one
data-store transaction; a failure part-way leaves nothing in the data store and no key."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, func, select

from pseudovault.vault.retention.service import RetentionService
from pseudovault.vault.store.data_models import AuditEntry, RetentionItem, Subject, SubjectCategory, Tombstone
from pseudovault.vault.store.db import session_scope
from pseudovault.vault.store.key_models import SubjectKey
from pseudovault.vault.vault import Vault


def _count(engine: Any, model: Any) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_subject_and_its_categories_commit_together(vault: Vault) -> None:
    writes: list[int] = []

    def note_write(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            conn.info["wrote"] = True

    def count(conn: Any) -> None:
        if conn.info.pop("wrote", False):
            writes.append(1)

    event.listen(vault.data_engine, "before_cursor_execute", note_write)
    event.listen(vault.data_engine, "commit", count)
    try:
        subject_id = vault.retention.create_subject({"name": "A", "phone": "B"}, {"member": None})
    finally:
        event.remove(vault.data_engine, "commit", count)
        event.remove(vault.data_engine, "before_cursor_execute", note_write)
    assert vault.retention.categories_of(subject_id) == {"member_data": ["*"]}
    actions = [e.action for e in vault.audit.query(target=subject_id)]
    assert actions == ["subject.create", "retention.categorize"]
    # the audit entries' seqs are consecutive: nothing committed between them
    entries = vault.audit.query(target=subject_id)
    assert entries[1].seq == entries[0].seq + 1
    assert len(writes) == 1  # one data-store transaction wrote


def test_a_failure_while_categorizing_leaves_nothing(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    before = vault.audit.count()

    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(RetentionService, "_refresh_subjects", fail)
    with pytest.raises(RuntimeError):
        vault.retention.create_subject({"name": "A"}, {"member": None})
    for model in (Subject, SubjectCategory, RetentionItem, Tombstone):
        assert _count(vault.data_engine, model) == 0, model.__name__
    assert _count(vault.keys_engine, SubjectKey) == 0
    # no subject.create, no shred of a subject that half existed
    assert vault.audit.count() == before
    assert _count(vault.data_engine, AuditEntry) == before
