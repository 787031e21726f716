"""vault.crypto.keystore.KeyHierarchy: epochs, data keys, rotation and resumable rewrap."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from pseudovault.keys.errors import KeyNotFoundError
from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.crypto.keystore import RewrapReport
from pseudovault.vault.errors import NotFoundError
from pseudovault.vault.store.db import session_scope
from pseudovault.vault.vault import Vault


def _subject_keys(vault: Vault) -> dict[str, dict[str, Any]]:
    with vault.keys_engine.connect() as connection:
        rows = connection.execute(text("SELECT subject_id, epoch, wrapped, created_at FROM subject_keys")).mappings()
        return {row["subject_id"]: {**row, "wrapped": bytes(row["wrapped"])} for row in rows}


def _epochs(vault: Vault) -> dict[int, dict[str, Any]]:
    with vault.keys_engine.connect() as connection:
        rows = connection.execute(
            text("SELECT epoch, kek_id, wrapped, status, created_at, destroyed_at FROM wrapping_keys")
        ).mappings()
        return {row["epoch"]: dict(row) for row in rows}


def _populate(vault: Vault, n: int) -> dict[str, dict[str, str]]:
    stored = {}
    for i in range(n):
        fields = {"name": f"person {i}", "email": f"p{i}@example.org"}
        stored[vault.subjects.create(fields)] = fields
    return stored


def _all_read_back(vault: Vault, stored: dict[str, dict[str, str]]) -> None:
    vault.cache.clear()  # through the store and the provider, not the cache
    for subject_id, fields in stored.items():
        assert vault.subjects.read(subject_id) == fields


def test_epoch_1_exists_after_create_and_ensure_is_idempotent(vault: Vault) -> None:
    assert vault.keys.current_epoch() == 1
    assert vault.keys.ensure_epoch() == 1
    epochs = vault.keys.epochs()
    assert [(e.epoch, e.status, e.current, e.kek_id) for e in epochs] == [(1, "enabled", True, "fake:1")]


def test_data_key_round_trip_and_not_found(vault: Vault) -> None:
    subject_id = "5f0c8a2e-8d4e-4b8e-9a57-3f1e2d4c6b7a"
    with session_scope(vault.keys_engine, write=True) as session:
        created = vault.keys.create_data_key(session, subject_id)
    assert len(created) == 32
    assert vault.keys.data_key(subject_id) == created
    vault.cache.clear()
    assert vault.keys.data_key(subject_id) == created
    row = _subject_keys(vault)[subject_id]
    assert row["epoch"] == 1
    assert len(row["wrapped"]) == 40  # RFC 5649 of 32 bytes
    assert created.reveal() not in row["wrapped"]

    with pytest.raises(NotFoundError) as info:
        vault.keys.data_key("00000000-0000-4000-8000-000000000000")
    assert str(info.value) == "subject 00000000-0000-4000-8000-000000000000 not found"

    with session_scope(vault.keys_engine, write=True) as session:
        assert vault.keys.destroy_data_key(session, subject_id) is True
        assert vault.keys.destroy_data_key(session, subject_id) is False
    with pytest.raises(NotFoundError):
        vault.keys.data_key(subject_id)


def test_rotate_root_and_epoch_then_rewrap(vault: Vault, provider: FakeKmsProvider, clock: FrozenClock) -> None:
    stored = _populate(vault, 5)
    before_keys = _subject_keys(vault)
    before_epochs = _epochs(vault)
    clock.advance(timedelta(days=30))

    assert provider.rotate() == "fake:2"
    assert vault.keys.rotate_epoch() == 2
    assert vault.keys.current_epoch() == 2
    _all_read_back(vault, stored)  # old epoch still unwraps before the rewrap

    progress: list[tuple[int, int]] = []
    report = vault.keys.rewrap(batch_size=2, progress=lambda done, total: progress.append((done, total)))
    assert report == RewrapReport(
        data_keys_rewrapped=5,
        epoch_keys_rewrapped=0,
        epochs_destroyed=1,
        root_key_ids_in_use=("fake:2",),
        lookup_keys_rewrapped=1,
        signing_keys_rewrapped=1,
        root_keys_destroyed=("fake:1",),
    )
    assert [(i.key_id, i.status) for i in provider.keys()] == [("fake:1", "destroyed"), ("fake:2", "enabled")]
    assert report.as_dict() == {
        "root_keys_destroyed": ["fake:1"],
        "data_keys_rewrapped": 5,
        "epoch_keys_rewrapped": 0,
        "epochs_destroyed": 1,
        "lookup_keys_rewrapped": 1,
        "signing_keys_rewrapped": 1,
        "root_key_ids_in_use": ["fake:2"],
    }
    # three batches of data keys (5 of them), then epoch 1 destroyed, then the lookup key and the
    # audit signing key's seed rewrapped: 8 units of work
    assert progress == [(2, 8), (4, 8), (5, 8), (6, 8), (7, 8), (8, 8)]

    after_keys = _subject_keys(vault)
    assert after_keys.keys() == before_keys.keys()
    for subject_id, row in after_keys.items():
        assert row["epoch"] == 2
        assert row["wrapped"] != before_keys[subject_id]["wrapped"]
        assert row["created_at"] == before_keys[subject_id]["created_at"], "rewrap keeps the metadata"
    epochs = _epochs(vault)
    assert epochs[1]["status"] == "destroyed"
    assert epochs[1]["wrapped"] is None
    assert epochs[1]["destroyed_at"] is not None
    assert epochs[1]["created_at"] == before_epochs[1]["created_at"]
    assert epochs[2]["status"] == "enabled" and epochs[2]["kek_id"] == "fake:2"

    # nothing depends on the old root KEK version any more
    provider.destroy("fake:1")
    _all_read_back(vault, stored)
    assert vault.keys.rewrap() == RewrapReport(0, 0, 0, ("fake:2",))


def test_rewrap_moves_epoch_keys_to_the_primary_root_version(vault: Vault, provider: FakeKmsProvider) -> None:
    stored = _populate(vault, 3)
    assert vault.keys.rotate_epoch() == 2  # epoch 2 wrapped by fake:1
    assert provider.rotate() == "fake:2"
    epoch_2_before = _epochs(vault)[2]
    assert epoch_2_before["kek_id"] == "fake:1"

    progress: list[tuple[int, int]] = []
    report = vault.keys.rewrap(progress=lambda done, total: progress.append((done, total)))
    assert report == RewrapReport(
        3, 1, 1, ("fake:2",), lookup_keys_rewrapped=1, signing_keys_rewrapped=1, root_keys_destroyed=("fake:1",)
    )
    # one batch of 3 data keys, epoch 1 destroyed, epoch 2, the lookup key and the signing key
    # rewrapped under fake:2
    assert progress == [(3, 7), (4, 7), (5, 7), (6, 7), (7, 7)]
    epoch_2 = _epochs(vault)[2]
    assert epoch_2["kek_id"] == "fake:2"
    assert bytes(epoch_2["wrapped"]) != bytes(epoch_2_before["wrapped"])
    assert epoch_2["created_at"] == epoch_2_before["created_at"]
    provider.destroy("fake:1")
    _all_read_back(vault, stored)


def test_an_interrupted_rewrap_continues_when_run_again(vault: Vault, provider: FakeKmsProvider) -> None:
    stored = _populate(vault, 5)
    provider.rotate()
    vault.keys.rotate_epoch()

    class Interrupted(Exception):
        pass

    def interrupt(done: int, total: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        vault.keys.rewrap(batch_size=2, progress=interrupt)
    epochs_of_keys = sorted(row["epoch"] for row in _subject_keys(vault).values())
    assert epochs_of_keys == [1, 1, 1, 2, 2], "the first batch is committed, the rest untouched"
    assert _epochs(vault)[1]["status"] == "enabled", "an epoch still in use is never destroyed"
    _all_read_back(vault, stored)

    report = vault.keys.rewrap(batch_size=2)
    assert report == RewrapReport(
        3, 0, 1, ("fake:2",), lookup_keys_rewrapped=1, signing_keys_rewrapped=1, root_keys_destroyed=("fake:1",)
    )
    assert {row["epoch"] for row in _subject_keys(vault).values()} == {2}
    _all_read_back(vault, stored)


def test_an_epoch_is_destroyed_only_when_no_data_key_refers_to_it(vault: Vault) -> None:
    stored = _populate(vault, 2)
    vault.keys.rotate_epoch()
    assert vault.keys._destroy_epoch(1) is False  # two data keys still under epoch 1
    assert _epochs(vault)[1]["status"] == "enabled"
    assert vault.keys.rewrap().epochs_destroyed == 1
    assert vault.keys._destroy_epoch(1) is False  # already destroyed
    _all_read_back(vault, stored)


@pytest.fixture
def postgres_vault(postgres_urls: Any, provider: FakeKmsProvider, clock: FrozenClock) -> Any:
    with Vault.create(provider, postgres_urls.data, postgres_urls.keys, clock=clock) as v:
        yield v


@pytest.mark.postgres
def test_rewrap_skips_rows_locked_by_others_and_keeps_their_epoch(postgres_vault: Vault) -> None:
    vault = postgres_vault
    stored = _populate(vault, 4)
    vault.keys.rotate_epoch()
    locked = sorted(stored)[0]
    with vault.keys_engine.connect() as other:
        other.execute(text("SELECT 1 FROM subject_keys WHERE subject_id = :s FOR UPDATE"), {"s": locked})
        report = vault.keys.rewrap(batch_size=10)
        assert (report.data_keys_rewrapped, report.epochs_destroyed) == (3, 0)
        assert _subject_keys(vault)[locked]["epoch"] == 1
        other.rollback()
    assert vault.keys.rewrap() == RewrapReport(1, 0, 1, ("fake:1",))
    _all_read_back(vault, stored)


def test_a_destroyed_root_version_is_reported_not_papered_over(vault: Vault, provider: FakeKmsProvider) -> None:
    _populate(vault, 1)
    provider.rotate()
    vault.cache.clear()
    provider.disable("fake:1")  # the epoch key is still wrapped by fake:1
    with pytest.raises(KeyNotFoundError):
        vault.keys.rewrap()
    provider.enable("fake:1")
    assert vault.keys.rewrap() == RewrapReport(
        0, 1, 0, ("fake:2",), lookup_keys_rewrapped=1, signing_keys_rewrapped=1, root_keys_destroyed=("fake:1",)
    )


def test_rewrap_rejects_a_bad_batch_size(vault: Vault) -> None:
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError):
            vault.keys.rewrap(batch_size=bad)  # type: ignore[arg-type]


def test_epoch_keys_are_cached_and_survive_a_cache_clear(vault: Vault, provider: FakeKmsProvider) -> None:
    stored = _populate(vault, 2)
    calls = 0
    unwrap = provider.unwrap

    def counting_unwrap(wrapped: Any) -> Any:
        nonlocal calls
        calls += 1
        return unwrap(wrapped)

    provider.unwrap = counting_unwrap  # type: ignore[method-assign]
    vault.cache.clear()
    for subject_id in stored:
        vault.subjects.read(subject_id)
    assert calls == 1, "one provider call for the epoch key, then the cache"
    for subject_id in stored:
        vault.subjects.read(subject_id)
    assert calls == 1


def test_keys_made_after_another_process_rotated_the_epoch_are_wrapped_under_the_new_one(
    store_urls: Any, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    """On PostgreSQL a process wraps its next data key under the epoch it last wrapped under, in
    one statement that checks that epoch is still the current one: after a rotation by another
    process (here another vault object on the same stores), and after the old epoch is destroyed
    by a rewrap, new subjects' and records' keys are under the current epoch and readable."""
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock) as vault, Vault.open(
        provider, store_urls.data, store_urls.keys, clock=clock
    ) as other:
        first = vault.subjects.create({"name": "Kim"})
        assert _subject_keys(vault)[first]["epoch"] == 1
        provider.rotate()
        assert other.keys.rotate_epoch() == 2
        second = vault.subjects.create({"name": "Lee"})
        record_id = vault.records.create([("email", "ban@example.com")], category="fraudulent_transaction",
                                         reason_code="fraud", reason="chargebacks")
        keys = _subject_keys(vault)
        assert (keys[first]["epoch"], keys[second]["epoch"]) == (1, 2)
        with vault.keys_engine.connect() as connection:
            record_epoch = connection.execute(text("SELECT epoch FROM record_keys WHERE record_id = :r"), {"r": record_id}).scalar()
        assert record_epoch == 2
        other.keys.rewrap()  # epoch 1 destroyed, every key under epoch 2
        third = vault.subjects.create({"name": "Park"})
        assert _subject_keys(vault)[third]["epoch"] == 2
        assert [vault.subjects.read(s) for s in (first, second, third)] == [{"name": "Kim"}, {"name": "Lee"}, {"name": "Park"}]
        assert vault.records.reveal(record_id, purpose="check").reason == "chargebacks"
