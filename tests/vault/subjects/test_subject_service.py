"""vault.subjects.SubjectService: create, read, update, list; validation; associated-data binding."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from canary import CANARY_PII
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from pseudovault.keys.errors import DecryptionError
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import InvalidInputError, NotFoundError
from pseudovault.vault.subjects.service import MAX_FIELDS, MAX_VALUE_BYTES
from pseudovault.vault.vault import Vault

NEVER = "3d1f8a52-0c4b-4e7a-9b1d-6a2f0e9c8b71"


def _row_counts(vault: Vault) -> tuple[int, ...]:
    with vault.data_engine.connect() as data, vault.keys_engine.connect() as keys:
        return (
            data.execute(text("SELECT count(*) FROM subjects")).scalar_one(),
            data.execute(text("SELECT count(*) FROM subject_fields")).scalar_one(),
            keys.execute(text("SELECT count(*) FROM subject_keys")).scalar_one(),
        )


def test_create_and_read(vault: Vault) -> None:
    fields = {"name": "Ana Lima", "email": CANARY_PII, "phone": "+82 10-1234-5678", "street_2": "Rua 1"}
    subject_id = vault.subjects.create(fields)
    assert len(subject_id) == 36 and subject_id[14] == "4"  # a random UUID4
    assert vault.subjects.read(subject_id) == fields
    assert vault.subjects.read(subject_id.upper()) == fields
    assert vault.subjects.exists(subject_id)
    assert vault.subjects.count() == 1
    assert _row_counts(vault) == (1, 4, 1)


def test_values_are_stored_encrypted(vault: Vault) -> None:
    subject_id = vault.subjects.create({"email": CANARY_PII})
    with vault.data_engine.connect() as connection:
        ciphertext = bytes(connection.execute(text("SELECT ciphertext FROM subject_fields")).scalar_one())
    assert CANARY_PII.encode() not in ciphertext
    assert len(ciphertext) == len(CANARY_PII.encode()) + 12 + 16  # nonce || ciphertext || tag
    assert vault.subjects.read(subject_id) == {"email": CANARY_PII}


def test_read_selected_fields(vault: Vault) -> None:
    subject_id = vault.subjects.create({"name": "N", "email": "e@example.org", "phone": "1"})
    assert vault.subjects.read(subject_id, ["email"]) == {"email": "e@example.org"}
    assert vault.subjects.read(subject_id, {"email", "name"}) == {"email": "e@example.org", "name": "N"}
    assert vault.subjects.read(subject_id, ["email", "fax"]) == {"email": "e@example.org"}, "unknown names are absent"
    assert vault.subjects.read(subject_id, []) == {}
    with pytest.raises(TypeError):
        vault.subjects.read(subject_id, "email")
    with pytest.raises(InvalidInputError):
        vault.subjects.read(subject_id, ["Email"])


def test_update_sets_adds_and_deletes_fields(vault: Vault, clock: FrozenClock) -> None:
    subject_id = vault.subjects.create({"name": "Old", "email": "old@example.org"})
    created = vault.subjects.list()[0]
    clock.advance(timedelta(minutes=5))
    vault.subjects.update(subject_id, {"name": "New", "phone": "010", "email": None, "fax": None})
    assert vault.subjects.read(subject_id) == {"name": "New", "phone": "010"}
    summary = vault.subjects.list()[0]
    assert summary.created_at == created.created_at
    assert summary.updated_at == created.created_at + timedelta(minutes=5)
    vault.subjects.update(subject_id, {})
    assert vault.subjects.read(subject_id) == {"name": "New", "phone": "010"}
    vault.subjects.update(subject_id, {"name": None, "phone": None})
    assert vault.subjects.read(subject_id) == {}
    assert vault.subjects.exists(subject_id)


def test_list_pages_by_id_without_values(vault: Vault, clock: FrozenClock) -> None:
    ids = sorted(vault.subjects.create({"email": f"{i}@example.org", "name": "x"}) for i in range(5))
    first = vault.subjects.list(limit=2)
    assert [s.subject_id for s in first] == ids[:2]
    assert first[0].field_names == ("email", "name")
    assert first[0].created_at == clock.now()
    rest = vault.subjects.list(after=first[-1].subject_id, limit=10)
    assert [s.subject_id for s in rest] == ids[2:]
    assert vault.subjects.list(after=ids[-1]) == []
    assert CANARY_PII not in repr(first)
    for bad in (0, 1001, True, "10"):
        with pytest.raises(InvalidInputError):
            vault.subjects.list(limit=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        vault.subjects.list(after="not-a-uuid")


def test_a_subject_may_have_no_fields(vault: Vault) -> None:
    subject_id = vault.subjects.create({})
    assert vault.subjects.read(subject_id) == {}
    assert vault.subjects.list()[0].field_names == ()


INVALID_CREATES: list[tuple[Any, str]] = [
    ({"Email": "x"}, "fields"),
    ({"1name": "x"}, "fields"),
    ({"": "x"}, "fields"),
    ({"a" * 65: "x"}, "fields"),
    ({"name\n": "x"}, "fields"),
    ({CANARY_PII: "x"}, "fields"),
    ({"email": ""}, "fields.email"),
    ({"email": None}, "fields.email"),
    ({"email": 42}, "fields.email"),
    ({"email": b"bytes"}, "fields.email"),
    ({"email": "\ud800"}, "fields.email"),
    ({"email": "x" * (MAX_VALUE_BYTES + 1)}, "fields.email"),
    ({"email": "\u00e9" * (MAX_VALUE_BYTES // 2 + 1)}, "fields.email"),
    ({f"f{i}": "x" for i in range(MAX_FIELDS + 1)}, "fields"),
    ([("email", "x")], "fields"),
    ({"email": CANARY_PII, "Phone": CANARY_PII}, "fields"),
]


@pytest.mark.parametrize(("fields", "where"), INVALID_CREATES, ids=[str(i) for i in range(len(INVALID_CREATES))])
def test_invalid_create_writes_nothing_and_echoes_no_value(vault: Vault, fields: Any, where: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        vault.subjects.create(fields)
    assert info.value.field == where
    assert CANARY_PII not in str(info.value) and CANARY_PII not in repr(info.value)
    assert _row_counts(vault) == (0, 0, 0)


def test_values_at_the_limits_are_accepted(vault: Vault) -> None:
    fields = {"big": "\u00e9" * (MAX_VALUE_BYTES // 2), "a" * 64: "x"}
    subject_id = vault.subjects.create(fields)
    assert vault.subjects.read(subject_id) == fields
    many = {f"f{i}": "v" for i in range(MAX_FIELDS)}
    many_id = vault.subjects.create(many)
    assert len(vault.subjects.read(many_id)) == MAX_FIELDS


def test_invalid_update_writes_nothing(vault: Vault) -> None:
    subject_id = vault.subjects.create({"name": "Kept", "email": CANARY_PII})
    for fields in ({"name": "changed", "email": ""}, {"name": "changed", "Bad": "x"}, {"name": 7}):
        with pytest.raises(InvalidInputError) as info:
            vault.subjects.update(subject_id, fields)  # type: ignore[arg-type]
        assert CANARY_PII not in str(info.value)
    assert vault.subjects.read(subject_id) == {"name": "Kept", "email": CANARY_PII}


def test_update_past_the_field_limit_writes_nothing(vault: Vault) -> None:
    subject_id = vault.subjects.create({f"f{i}": "v" for i in range(MAX_FIELDS - 1)})
    with pytest.raises(InvalidInputError) as info:
        vault.subjects.update(subject_id, {"f0": "changed", "extra_1": "a", "extra_2": "b"})
    assert info.value.field == "fields"
    assert vault.subjects.read(subject_id, ["f0", "extra_1"]) == {"f0": "v"}
    vault.subjects.update(subject_id, {"f0": None, "extra_1": "a", "extra_2": "b"})  # 1000 exactly
    assert len(vault.subjects.read(subject_id)) == MAX_FIELDS


@pytest.mark.parametrize(
    "bad_id",
    [
        "",
        "123",
        "not-a-uuid-at-all-but-36-characters!",
        "{3d1f8a52-0c4b-4e7a-9b1d-6a2f0e9c8b71}",
        "3d1f8a520c4b4e7a9b1d6a2f0e9c8b71",
        42,
        None,
        CANARY_PII,
    ],
)
def test_subject_ids_must_be_uuids(vault: Vault, bad_id: Any) -> None:
    for call in (
        lambda: vault.subjects.read(bad_id),
        lambda: vault.subjects.update(bad_id, {"name": "x"}),
        lambda: vault.subjects.exists(bad_id),
        lambda: vault.subjects.shred(bad_id),
    ):
        with pytest.raises(InvalidInputError) as info:
            call()
        assert info.value.field == "subject_id"
        assert CANARY_PII not in str(info.value)


def test_unknown_subject_is_not_found(vault: Vault) -> None:
    for call in (
        lambda: vault.subjects.read(NEVER),
        lambda: vault.subjects.read(NEVER, ["email"]),
        lambda: vault.subjects.update(NEVER, {"name": "x"}),
        lambda: vault.subjects.shred(NEVER),
    ):
        with pytest.raises(NotFoundError) as info:
            call()
        assert str(info.value) == f"subject {NEVER} not found"
    assert vault.subjects.exists(NEVER) is False
    assert _row_counts(vault) == (0, 0, 0), "shredding an unknown id writes no tombstone or ledger entry"
    with vault.data_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM tombstones")).scalar_one() == 0


# --- associated data binds a ciphertext to its subject, field and schema version -----------


def _ciphertext(vault: Vault, subject_id: str, name: str) -> bytes:
    with vault.data_engine.connect() as connection:
        return bytes(
            connection.execute(
                text("SELECT ciphertext FROM subject_fields WHERE subject_id = :s AND name = :n"),
                {"s": subject_id, "n": name},
            ).scalar_one()
        )


def _assert_opaque_failure(vault: Vault, subject_id: str, names: list[str] | None = None) -> None:
    with pytest.raises(DecryptionError) as info:
        vault.subjects.read(subject_id, names)
    assert str(info.value) == "decryption failed"
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert CANARY_PII not in repr(info.value)


def test_a_ciphertext_copied_to_another_subject_does_not_decrypt(vault: Vault) -> None:
    victim = vault.subjects.create({"email": CANARY_PII})
    other = vault.subjects.create({"email": "other@example.org", "name": "Other"})
    with vault.data_engine.begin() as connection:
        connection.execute(
            text("UPDATE subject_fields SET ciphertext = :c WHERE subject_id = :s AND name = 'email'"),
            {"c": _ciphertext(vault, victim, "email"), "s": other},
        )
    _assert_opaque_failure(vault, other)  # not the victim's value, and not "name" alone either
    _assert_opaque_failure(vault, other, ["email"])
    assert vault.subjects.read(other, ["name"]) == {"name": "Other"}
    assert vault.subjects.read(victim) == {"email": CANARY_PII}


def test_a_ciphertext_copied_to_another_field_does_not_decrypt(vault: Vault) -> None:
    subject_id = vault.subjects.create({"email": CANARY_PII, "name": "N"})
    with vault.data_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO subject_fields (subject_id, name, ciphertext, schema_version) VALUES (:s, 'phone', :c, 1)"
            ),
            {"c": _ciphertext(vault, subject_id, "email"), "s": subject_id},
        )
    _assert_opaque_failure(vault, subject_id)
    _assert_opaque_failure(vault, subject_id, ["phone"])
    assert vault.subjects.read(subject_id, ["email", "name"]) == {"email": CANARY_PII, "name": "N"}


def test_a_changed_schema_version_or_flipped_bit_does_not_decrypt(vault: Vault) -> None:
    subject_id = vault.subjects.create({"email": CANARY_PII})
    with vault.data_engine.begin() as connection:
        connection.execute(text("UPDATE subject_fields SET schema_version = 2"))
    _assert_opaque_failure(vault, subject_id)
    ciphertext = bytearray(_ciphertext(vault, subject_id, "email"))
    ciphertext[20] ^= 1
    with vault.data_engine.begin() as connection:
        connection.execute(
            text("UPDATE subject_fields SET schema_version = 1, ciphertext = :c"), {"c": bytes(ciphertext)}
        )
    _assert_opaque_failure(vault, subject_id)


def test_a_failed_data_write_deletes_the_key_it_created(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    from pseudovault.vault.subjects import service as subjects_module

    def failing_encrypt(*args: Any) -> bytes:
        raise RuntimeError("data store write failed")

    monkeypatch.setattr(subjects_module.SubjectService, "_encrypt", staticmethod(failing_encrypt))
    with pytest.raises(RuntimeError):
        vault.subjects.create({"email": CANARY_PII})
    assert _row_counts(vault) == (0, 0, 0)


def test_a_subject_commits_with_its_audit_entry_or_not_at_all(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    original = vault.audit.append

    def failing_append(action: str, **kwargs: Any) -> int:
        if action == "subject.create":
            raise RuntimeError("the audit entry could not be written")
        return original(action, **kwargs)

    monkeypatch.setattr(vault.audit, "append", failing_append)
    with pytest.raises(RuntimeError):
        vault.subjects.create({"email": CANARY_PII})
    assert _row_counts(vault) == (0, 0, 0), "no subject (and no key) without its audit entry"
    monkeypatch.undo()
    subject_id = vault.subjects.create({"email": CANARY_PII})
    assert [e.targets for e in vault.audit.query(action="subject.create")] == [(subject_id,)]


@contextmanager
def _commit_answer_lost(vault: Vault) -> Iterator[list[bool]]:
    """Within the block, the first data-store commit holding a new subject commits, then raises
    what a connection terminated during COMMIT raises: the caller cannot tell whether it
    committed. Yields ``[fired]``."""
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    fired = [False]
    inserted = [False]  # a subject row was written in the data store's current unit of work

    def after_cursor_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "INSERT INTO SUBJECTS " in statement.upper():  # on PostgreSQL inside a WITH with its fields
            inserted[0] = True

    def after_commit(session: Session) -> None:
        if fired[0] or session.get_bind().pool is not vault.data_engine.pool:
            return
        if inserted[0]:
            fired[0] = True
            raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    event.listen(vault.data_engine, "after_cursor_execute", after_cursor_execute)
    event.listen(Session, "after_commit", after_commit)
    try:
        yield fired
    finally:
        event.remove(Session, "after_commit", after_commit)
        event.remove(vault.data_engine, "after_cursor_execute", after_cursor_execute)


def test_a_create_whose_commit_answer_was_lost_is_kept(vault: Vault) -> None:
    """The store committed; undoing it would destroy the key of a subject that exists (and that an
    idempotency key would then hand out). The store is asked, and the create stands."""
    with _commit_answer_lost(vault) as fired:
        subject_id = vault.subjects.create({"email": CANARY_PII})
    assert fired == [True]
    assert vault.subjects.read(subject_id) == {"email": CANARY_PII}
    assert _row_counts(vault) == (1, 1, 1)
    assert [e.targets for e in vault.audit.query(action="subject.create")] == [(subject_id,)]


def test_a_create_that_cannot_be_checked_keeps_its_key_and_fails(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import InvalidRequestError, OperationalError
    from sqlalchemy.orm import Session

    original_get = Session.get

    def unreachable_get(self: Session, entity: Any, *args: Any, **kwargs: Any) -> Any:
        if self.get_bind().pool is vault.data_engine.pool:
            raise OperationalError("SELECT", {}, Exception("connection refused"))
        return original_get(self, entity, *args, **kwargs)

    monkeypatch.setattr(Session, "get", unreachable_get)
    # (the simulated loss leaves the session committed: its rollback raises InvalidRequestError)
    with _commit_answer_lost(vault) as fired, pytest.raises((OperationalError, InvalidRequestError)):
        vault.subjects.create({"email": CANARY_PII})
    assert fired == [True]
    monkeypatch.undo()
    # it had committed: the subject, its field and its key are all there, readable
    assert _row_counts(vault) == (1, 1, 1)
    (subject_id,) = vault.audit.query(action="subject.create")[0].targets
    assert vault.subjects.read(subject_id) == {"email": CANARY_PII}


def test_a_shred_commits_its_audit_entry_with_the_tombstone(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    subject_id = vault.subjects.create({"email": CANARY_PII})
    original = vault.audit.append

    def failing_append(action: str, **kwargs: Any) -> int:
        if action == "subject.shred":
            raise RuntimeError("the audit entry could not be written")
        return original(action, **kwargs)

    monkeypatch.setattr(vault.audit, "append", failing_append)
    with pytest.raises(RuntimeError):
        vault.subjects.shred(subject_id)
    # the key is gone (the guarantee came first); the data store rolled back with its entry
    assert vault.subjects.tombstone(subject_id) is None
    monkeypatch.undo()
    assert vault.subjects.shred(subject_id).already is True  # the ledger remembers; this finishes it
    assert vault.subjects.tombstone(subject_id) is not None
    assert [e.targets for e in vault.audit.query(action="subject.shred")] == [(subject_id,)]


def test_reprs_hold_no_values_or_keys(vault: Vault) -> None:
    subject_id = vault.subjects.create({"email": CANARY_PII})
    vault.subjects.read(subject_id)
    from pseudovault.vault.store.data_models import Subject, SubjectField
    from pseudovault.vault.store.db import session_scope
    from pseudovault.vault.store.key_models import SubjectKey

    with session_scope(vault.data_engine) as session:
        field = session.get(SubjectField, (subject_id, "email"))
        subject = session.get(Subject, subject_id)
    with session_scope(vault.keys_engine) as session:
        key_row = session.get(SubjectKey, subject_id)
    assert repr(field) == f"SubjectField(subject_id={subject_id!r}, name='email')"
    assert repr(subject) == f"Subject(id={subject_id!r})"
    assert repr(key_row) == f"SubjectKey(subject_id={subject_id!r})"
    for obj in (vault, vault.subjects, vault.keys, vault.cache, vault.provider):
        assert CANARY_PII not in repr(obj)
        assert vault.keys.data_key(subject_id).reveal().hex() not in repr(obj)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), st.text(min_size=1), max_size=4))
def test_any_valid_fields_round_trip(vault: Vault, fields: dict[str, str]) -> None:
    # the vault is shared by the examples: each one creates its own subject and reads it back
    subject_id = vault.subjects.create(fields)
    assert vault.subjects.read(subject_id) == fields


def test_concurrent_writers_do_not_trip_over_each_other(vault: Vault) -> None:
    import threading

    shared = vault.subjects.create({"counter": "0"})
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(8):
                own = vault.subjects.create({"name": f"w{worker}-{i}"})
                vault.subjects.update(shared, {f"w{worker}": str(i)})  # read-then-write on one row
                assert vault.subjects.read(own) == {"name": f"w{worker}-{i}"}
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert vault.subjects.read(shared) == {"counter": "0", "w0": "7", "w1": "7", "w2": "7", "w3": "7"}
    assert vault.subjects.count() == 1 + 4 * 8


def test_updates_of_one_subject_at_once_adding_the_same_field_both_land(vault: Vault) -> None:
    """Two updates of one subject that add the same new field, at once: each waits for the other's
    lock on the subject, and neither fails on the field's key nor loses its value to a stale read
    of the subject's fields; the value left is one of the two."""
    subject_id = vault.subjects.create({"name": "Kim"})
    for round_ in range(6):
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def update(
            side: str, round_: int = round_, barrier: threading.Barrier = barrier, errors: list[BaseException] = errors
        ) -> None:
            barrier.wait()
            try:
                vault.subjects.update(subject_id, {f"note_{round_}": side, "name": f"Kim {side}"})
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=update, args=(side,)) for side in ("left", "right")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        fields = vault.subjects.read(subject_id)
        assert fields[f"note_{round_}"] in {"left", "right"} and fields["name"] == f"Kim {fields[f'note_{round_}']}"
    assert len(vault.subjects.read(subject_id)) == 7
