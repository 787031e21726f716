"""The audit log's tamper evidence, on SQLite and PostgreSQL: the hash chain, the signed
checkpoints, and retention. Each test tampers the way someone with write access to the data store
(but not to the root key) could, and verify must name the first broken link."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from pseudovault.keys.signing import SigningKey
from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.audit.chain import chain_hash, checkpoint_message, row_fields
from pseudovault.vault.audit.external import CheckpointFile
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import ConflictError, InvalidInputError
from pseudovault.vault.store.data_models import AuditCheckpoint, AuditEntry, AuditHead
from pseudovault.vault.store.key_models import LedgerReplay, SigningKeyRow
from pseudovault.vault.vault import AuditConfig, Vault

EVERY = 5


@pytest.fixture
def vault(store_urls: Any, provider: FakeKmsProvider, clock: FrozenClock) -> Iterator[Vault]:
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock, audit_config=AuditConfig(checkpoint_every=EVERY)) as v:
        yield v


#: with a clock, entries are this far apart: prune never touches entries younger than a year
STEP = timedelta(days=200)


def _fill(vault: Vault, count: int, clock: FrozenClock | None = None) -> None:
    for i in range(count):
        if clock is not None:
            clock.advance(STEP)
        vault.audit.append("test.event", targets=[f"t{i}"], detail={"n": i})


def _session(vault: Vault) -> Session:
    return Session(vault.data_engine, expire_on_commit=False)


def _entries(vault: Vault) -> list[AuditEntry]:
    with _session(vault) as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def _recompute(session: Session, from_seq: int) -> None:
    """What an attacker without the signing key can do: rebuild every hash from ``from_seq`` on,
    and the head."""
    prev = session.scalar(select(AuditEntry.entry_hash).where(AuditEntry.seq == from_seq - 1)) or "0" * 64
    last = None
    for row in session.scalars(select(AuditEntry).where(AuditEntry.seq >= from_seq).order_by(AuditEntry.seq)):
        row.prev_hash = prev
        row.entry_hash = chain_hash(prev, row_fields(row))
        prev, last = row.entry_hash, row.seq
    head = session.get(AuditHead, 1)
    assert head is not None
    if last is not None:
        head.last_seq, head.last_hash = last, prev
    session.flush()


def _broken(vault: Vault, seq: int, reason: str) -> None:
    report = vault.audit.verify()
    assert not report.ok, report
    assert report.first_broken_seq == seq, report
    assert reason in (report.reason or ""), report


def test_an_intact_chain_verifies_with_its_checkpoints(vault: Vault) -> None:
    _fill(vault, 23)
    report = vault.audit.verify()
    assert report.ok and report.signed
    assert (report.entries, report.checkpoints, report.last_checkpoint_seq) == (23, 4, 20)
    with _session(vault) as s:
        assert list(s.scalars(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq))) == [5, 10, 15, 20]
    # the seed is stored wrapped, never in the clear
    with Session(vault.keys_engine) as s:
        row = s.scalars(select(SigningKeyRow)).one()
    key = vault.signing.current("audit")
    assert row.wrapped is not None and key.seed().reveal() not in bytes(row.wrapped)
    assert bytes(row.public_key) == key.public_key_bytes() and row.purpose == "audit"


def test_an_edited_entry_is_detected_whichever_column(vault: Vault) -> None:
    _fill(vault, 12)
    edits = {
        "action": "test.other",
        "outcome": "denied",
        "actor_id": "someone",
        "actor_kind": "cli",
        "purpose": "another purpose",
        "client": "10.0.0.1",
        "detail": '{"n":99}',
        "targets": '["t0"]',
    }
    for column, value in edits.items():
        original = getattr(_entries(vault)[6], column)
        with _session(vault) as s:
            s.execute(update(AuditEntry).where(AuditEntry.seq == 7).values({column: value}))
            s.commit()
        _broken(vault, 7, "altered")
        with _session(vault) as s:
            s.execute(update(AuditEntry).where(AuditEntry.seq == 7).values({column: original}))
            s.commit()
        assert vault.audit.verify().ok, column


def test_a_deleted_entry_is_detected(vault: Vault) -> None:
    _fill(vault, 12)
    with _session(vault) as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 4))
        s.commit()
    _broken(vault, 4, "gap")


def test_an_inserted_entry_is_detected(vault: Vault) -> None:
    _fill(vault, 12)
    with _session(vault) as s:
        for seq in range(12, 5, -1):  # make room at seq 6, one row at a time (primary keys)
            s.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(seq=seq + 1))
        previous = s.scalar(select(AuditEntry).where(AuditEntry.seq == 5))
        assert previous is not None
        forged = AuditEntry(
            seq=6,
            at=previous.at,
            actor_kind="system",
            actor_id="system",
            action="test.forged",
            targets="[]",
            purpose=None,
            outcome="ok",
            client=None,
            detail="{}",
            prev_hash=previous.entry_hash,
            entry_hash="",
        )
        forged.entry_hash = chain_hash(previous.entry_hash, row_fields(forged))
        s.add(forged)
        s.commit()
    _broken(vault, 7, "")


def test_reordered_entries_are_detected(vault: Vault) -> None:
    _fill(vault, 12)
    with _session(vault) as s:
        a, b = (s.get(AuditEntry, 3), s.get(AuditEntry, 4))
        assert a is not None and b is not None
        columns = (
            "at",
            "actor_kind",
            "actor_id",
            "action",
            "targets",
            "purpose",
            "outcome",
            "client",
            "detail",
            "prev_hash",
            "entry_hash",
        )
        values_a, values_b = ({c: getattr(a, c) for c in columns}, {c: getattr(b, c) for c in columns})
        for c in columns:
            setattr(a, c, values_b[c])
            setattr(b, c, values_a[c])
        s.commit()
    _broken(vault, 3, "")


def test_a_truncated_tail_is_detected_even_with_the_head_rewritten(vault: Vault) -> None:
    _fill(vault, 12)  # checkpoints at 5 and 10
    with _session(vault) as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 11))
        s.commit()
    _broken(vault, 12, "newest entries missing or head altered")
    with _session(vault) as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 7))
        head = s.get(AuditHead, 1)
        last = s.get(AuditEntry, 7)
        assert head is not None and last is not None
        head.last_seq, head.last_hash = 7, last.entry_hash  # the head now agrees with the chain
        s.commit()
    _broken(vault, 8, "a signed checkpoint names seq 10")


def test_a_recomputed_chain_is_detected_by_the_next_checkpoint(vault: Vault) -> None:
    _fill(vault, 12)  # checkpoints at 5 and 10
    with _session(vault) as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 7).values(outcome="denied"))
        _recompute(s, 7)
        s.commit()
    _broken(vault, 10, "differs from the signed checkpoint at seq 10 (rewritten after seq 5)")
    # rewriting the checkpoint's hash too breaks its signature
    with _session(vault) as s:
        fresh = s.get(AuditEntry, 10)
        assert fresh is not None
        s.execute(update(AuditCheckpoint).where(AuditCheckpoint.seq == 10).values(entry_hash=fresh.entry_hash))
        s.commit()
    _broken(vault, 10, "does not verify")


def test_a_removed_checkpoint_is_detected(vault: Vault) -> None:
    _fill(vault, 17)  # checkpoints at 5, 10, 15
    with _session(vault) as s:
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq == 10))
        s.commit()
    _broken(vault, 15, "does not verify")


def test_removing_the_newest_checkpoints_leaves_too_long_an_unsigned_tail(vault: Vault) -> None:
    _fill(vault, 23)  # checkpoints at 5, 10, 15, 20
    with _session(vault) as s:
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq >= 15))
        s.commit()
    _broken(vault, 11, "13 entries after seq 10 are not covered")


def test_a_checkpoint_signed_with_another_key_is_refused(vault: Vault) -> None:
    _fill(vault, 7)  # checkpoint at 5
    intruder = SigningKey.generate()
    with Session(vault.keys_engine) as s:  # a row of their own: they cannot wrap a seed under the root key
        real = s.scalars(select(SigningKeyRow)).one()
        s.add(
            SigningKeyRow(
                key_id=intruder.key_id,
                purpose="audit",
                kek_id=real.kek_id,
                wrapped=bytes(real.wrapped or b""),
                public_key=intruder.public_key_bytes(),
                status="enabled",
                created_at=real.created_at,
            )
        )
        s.commit()
    with _session(vault) as s:
        cp = s.get(AuditCheckpoint, 5)
        assert cp is not None
        cp.key_id = intruder.key_id
        cp.signature = intruder.sign(checkpoint_message(cp.seq, cp.entry_hash, cp.signed_at, intruder.key_id, 0))
        s.commit()
    _broken(vault, 5, "does not verify")


def test_checkpoint_on_demand_is_audited_and_signs_its_own_entry(vault: Vault) -> None:
    _fill(vault, 2)
    checkpoint = vault.audit.checkpoint()
    assert checkpoint.seq == 3 and checkpoint.key_id.startswith("ed25519:")
    assert _entries(vault)[-1].action == "audit.checkpoint"
    assert vault.audit.head() == (3, checkpoint.entry_hash)
    again = vault.audit.checkpoint()
    assert again.seq == 4
    report = vault.audit.verify()
    assert report.ok and report.checkpoints == 2 and report.last_checkpoint_seq == 4


def test_a_failing_signer_never_fails_the_action_and_is_retried(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    _fill(vault, 3)

    def broken(*args: Any) -> Any:
        raise RuntimeError("signer down")

    with monkeypatch.context() as patch:
        patch.setattr(vault.signing, "current", broken)
        _fill(vault, 9)  # seq 5 and 10 would have been checkpoints
    assert vault.audit.count_checkpoints() == 0
    _broken(vault, 1, "12 entries after seq 0 are not covered")
    _fill(vault, 1)  # the next append signs again
    report = vault.audit.verify()
    assert report.ok and report.last_checkpoint_seq == 13


def test_a_checkpoint_the_store_fails_to_keep_fails_the_whole_action(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a failure to sign is swallowed. A store that fails while the checkpoint is written
    (a connection lost, as under terminated backends) fails the append's unit of work with that
    error, which rolls it back whole (a 503 to an API caller, who retries); swallowed, it left
    the session unusable and the action answered 500."""
    from sqlalchemy.exc import OperationalError

    from pseudovault.vault.audit.log import AuditLog

    _fill(vault, 4)  # the next entry, seq 5, is a checkpoint's

    def lost(_session: Session, _row: AuditCheckpoint) -> Any:
        raise OperationalError("INSERT INTO audit_checkpoints", None, Exception("server closed the connection"))

    with monkeypatch.context() as patch:
        patch.setattr(AuditLog, "_store_checkpoint", staticmethod(lost))
        with pytest.raises(OperationalError):
            vault.audit.append("test.event", targets=["lost"])
    assert [e.seq for e in _entries(vault)] == [1, 2, 3, 4]  # nothing of the failed append stands
    assert vault.audit.count_checkpoints() == 0
    _fill(vault, 1)  # the same seq, now kept with its checkpoint
    report = vault.audit.verify()
    assert report.ok and report.entries == 5 and report.last_checkpoint_seq == 5


def test_checkpoints_survive_a_root_key_rotation_and_rewrap(vault: Vault, provider: FakeKmsProvider) -> None:
    _fill(vault, 6)
    vault.rotate_keys()
    report = vault.rewrap()
    assert report.signing_keys_rewrapped == 1
    provider.destroy("fake:1")
    fresh = Vault.open(
        provider,
        str(vault.data_engine.url.render_as_string(hide_password=False)),
        str(vault.keys_engine.url.render_as_string(hide_password=False)),
        audit_config=AuditConfig(checkpoint_every=EVERY),
    )
    with fresh:
        assert fresh.audit.verify().ok
        _fill(fresh, 5)
        assert fresh.audit.verify().ok


def test_prune_keeps_the_log_verifiable_and_anchors_at_a_checkpoint(vault: Vault, clock: FrozenClock) -> None:
    _fill(vault, 23, clock)  # one entry a STEP; checkpoints at 5, 10, 15, 20
    cutoff = clock.now() - 11 * STEP  # entries 1..12 are older
    assert vault.audit.prune(cutoff, batch_size=3) == 10  # up to the newest checkpoint before the cutoff
    report = vault.audit.verify()
    assert report.ok and report.entries == 13 and report.checkpoints == 3
    with _session(vault) as s:
        head = s.get(AuditHead, 1)
        assert head is not None and head.anchor_seq == 10
        # the checkpoint before the anchor stays (the anchor's signature names it), older ones go
        assert list(s.scalars(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq))) == [5, 10, 15, 20]
    assert vault.audit.prune(cutoff) == 0
    assert vault.audit.prune(clock.now() - 2 * STEP) == 10
    with _session(vault) as s:
        assert list(s.scalars(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq))) == [15, 20]
    assert vault.audit.verify().ok
    _fill(vault, 3)
    assert vault.audit.verify().ok


def test_moving_the_anchor_or_deleting_old_entries_by_hand_is_detected(vault: Vault, clock: FrozenClock) -> None:
    _fill(vault, 12, clock)
    with _session(vault) as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq <= 3))
        head = s.get(AuditHead, 1)
        entry = s.get(AuditEntry, 3 + 1)
        assert head is not None and entry is not None
        head.anchor_seq, head.anchor_hash = 3, entry.prev_hash
        s.commit()
    _broken(vault, 3, "the anchor is not a signed checkpoint")


def test_prune_refuses_to_destroy_evidence_of_tampering(vault: Vault, clock: FrozenClock) -> None:
    _fill(vault, 12, clock)
    with _session(vault) as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(outcome="denied"))
        _recompute(s, 2)
        s.commit()
    with pytest.raises(ConflictError, match="does not match its checkpoint"):
        vault.audit.prune(clock.now() - 2 * STEP)
    assert len(_entries(vault)) == 12


# --- the signed head and the mark outside the data store ------------------------------------------
# Each of these went unnoticed before the head was signed: whoever can write to the data store
# could cut or rewrite the entries after the last checkpoint, roll the log back to an earlier
# checkpoint, fake a prune, or empty the log.


def _truncate(session: Session, after: int) -> None:
    """Delete the entries (and checkpoints) after ``after`` and set the head back to it."""
    last = session.get(AuditEntry, after)
    assert last is not None
    session.execute(delete(AuditEntry).where(AuditEntry.seq > after))
    session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq > after))
    head = session.get(AuditHead, 1)
    assert head is not None
    head.last_seq, head.last_hash = after, last.entry_hash


def test_cutting_the_entries_after_the_last_checkpoint_is_detected(vault: Vault) -> None:
    _fill(vault, 12)  # checkpoints at 5 and 10; 11 and 12 after the last
    with _session(vault) as s, s.begin():
        _truncate(s, 10)
    _broken(vault, 10, "the head's signature does not cover it")


def test_rolling_back_to_an_earlier_checkpoint_is_detected(vault: Vault) -> None:
    _fill(vault, 12)
    with _session(vault) as s, s.begin():
        saved = s.get(AuditHead, 1)
        assert saved is not None
        _truncate(s, 5)  # the checkpoint at 10 deleted with the entries it covered
    _broken(vault, 6, "it had reached seq 10 (recorded outside the data store)")


def test_rewriting_an_entry_after_the_last_checkpoint_and_its_chain_is_detected(vault: Vault) -> None:
    _fill(vault, 12)
    with _session(vault) as s, s.begin():
        s.execute(update(AuditEntry).where(AuditEntry.seq == 12).values(outcome="denied"))
        _recompute(s, 12)
    _broken(vault, 12, "the head's signature does not cover it")


def test_a_faked_prune_of_recent_entries_is_detected(vault: Vault) -> None:
    _fill(vault, 12)
    with _session(vault) as s, s.begin():
        anchor = s.get(AuditEntry, 10)
        assert anchor is not None
        s.execute(delete(AuditEntry).where(AuditEntry.seq <= 10))
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq < 5))
        head = s.get(AuditHead, 1)
        assert head is not None
        head.anchor_seq, head.anchor_hash = 10, anchor.entry_hash
    _broken(vault, 12, "the head's signature does not cover it")


def test_emptying_the_audit_tables_is_detected(vault: Vault) -> None:
    _fill(vault, 12)
    with _session(vault) as s, s.begin():
        for table in (AuditEntry, AuditCheckpoint, AuditHead):
            s.execute(delete(table))
    _broken(vault, 1, "it had reached seq 10")


def test_a_real_prune_and_a_periodic_signature_keep_the_log_verifiable(vault: Vault, clock: FrozenClock) -> None:
    _fill(vault, 12, clock)
    assert vault.audit.prune(clock.now() - 4 * STEP) > 0
    assert vault.audit.verify().ok
    assert vault.audit.sign_head() == vault.audit.head()[0]
    _fill(vault, 1)
    assert vault.audit.verify().ok


# --- signed heads kept outside the data store, and freshness ---------------------------------------


@pytest.fixture
def filed(store_urls: Any, provider: FakeKmsProvider, clock: FrozenClock, tmp_path: Any) -> Iterator[Vault]:
    config = AuditConfig(checkpoint_every=EVERY, checkpoint_file=tmp_path / "audit-checkpoints.jsonl",
                         head_max_age=timedelta(hours=2))
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock, audit_config=config) as v:
        yield v


def _lower_the_mark(vault: Vault) -> None:
    """What whoever can write to both stores can do too: forget how far the log reached."""
    with Session(vault.keys_engine) as s, s.begin():
        s.execute(delete(LedgerReplay))


def _file(vault: Vault) -> CheckpointFile:
    path = vault.audit_config.checkpoint_file
    assert path is not None
    return CheckpointFile(path)


def test_each_checkpoint_appends_its_signed_head_to_the_file(filed: Vault) -> None:
    _fill(filed, 12)  # checkpoints at 5 and 10
    heads, damaged = _file(filed).read()
    assert damaged == [] and [h.last_seq for h in heads] == [5, 10]
    assert (_file(filed).path.stat().st_mode & 0o777) == 0o600
    entries = {e.seq: e.entry_hash for e in _entries(filed)}
    assert all(h.last_hash == entries[h.last_seq] for h in heads)
    filed.audit.sign_head()
    filed.audit.checkpoint()
    heads, _ = _file(filed).read()
    assert [h.last_seq for h in heads] == [5, 10, 12, 13]
    report = filed.audit.verify()
    assert report.ok and report.external_checkpoints == 4 and report.head_signed_at is not None
    # the file holds hashes, seqs, times and key ids: nothing an entry says
    assert b"test.event" not in _file(filed).path.read_bytes()


def test_a_rollback_of_both_stores_is_caught_by_the_file(filed: Vault) -> None:
    _fill(filed, 12)
    with _session(filed) as s, s.begin():
        _truncate(s, 5)
    _lower_the_mark(filed)
    _broken(filed, 6, "the checkpoint file shows it reached seq 10")


def test_a_chain_rewritten_with_its_checkpoints_is_caught_by_the_file(filed: Vault) -> None:
    _fill(filed, 12)
    with _session(filed) as s, s.begin():
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(outcome="denied"))
        _recompute(s, 3)
        s.execute(delete(AuditCheckpoint))  # and no checkpoint left to contradict it
    report = filed.audit.verify()
    assert not report.ok and report.first_broken_seq == 5
    assert "the checkpoint file's signed head at seq 5" in (report.reason or "")


def test_an_altered_or_damaged_line_of_the_file_is_reported(filed: Vault) -> None:
    _fill(filed, 12)
    path = _file(filed).path
    original = path.read_bytes()
    path.write_bytes(original.replace(b'"last_seq":10', b'"last_seq":11'))
    assert "line 2 of the checkpoint file does not verify" in (filed.audit.verify().reason or "")
    path.write_bytes(original.replace(b'"v":1', b'"v":"1"', 1))
    assert "line 1 of the checkpoint file is not a signed head" in (filed.audit.verify().reason or "")
    path.write_bytes(original + b'{"v":1,"last_seq"')  # a torn last line: a crash mid-append
    assert filed.audit.verify().ok


def test_verify_against_another_copy_of_the_file(filed: Vault, tmp_path: Any) -> None:
    _fill(filed, 12)
    copy = tmp_path / "offsite.jsonl"
    copy.write_bytes(_file(filed).path.read_bytes())
    _file(filed).path.unlink()  # the local file removed: the copy still speaks
    with _session(filed) as s, s.begin():
        _truncate(s, 5)
        s.execute(delete(AuditCheckpoint))
    _lower_the_mark(filed)
    assert not filed.audit.verify(against=CheckpointFile(copy)).ok


def test_a_head_signed_longer_ago_than_allowed_fails_until_signed_again(filed: Vault, clock: FrozenClock) -> None:
    _fill(filed, 3)
    clock.advance(timedelta(hours=2))
    assert filed.audit.verify().ok  # exactly the allowed age
    clock.advance(timedelta(seconds=1))
    report = filed.audit.verify()
    assert not report.ok and "the newest signed head is from" in (report.reason or "")
    assert "more than 120 minutes ago" in (report.reason or "")
    filed.audit.sign_head()  # what the server's hourly maintenance does
    assert filed.audit.verify().ok


def test_a_file_that_cannot_be_written_never_fails_the_action(
    filed: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    path = _file(filed).path
    path.mkdir()  # a directory where the file should be: every append fails
    _fill(filed, 6)
    assert filed.audit.count() == 6
    assert any("could not be written to the checkpoint file" in r.getMessage() for r in caplog.records)
    path.rmdir()
    assert filed.audit.verify().ok


def test_nothing_younger_than_a_year_is_ever_pruned(vault: Vault, clock: FrozenClock) -> None:
    """Finding 7: the audit log's retention could be set to one day (the Standards for Safety
    Measures, Art. 8, require at least a year)."""
    _fill(vault, 4, clock)
    for before in (clock.now(), clock.now() - timedelta(days=364, hours=23)):
        with pytest.raises(InvalidInputError, match="at least 365 days"):
            vault.audit.prune(before)
    assert len(_entries(vault)) == 4
    assert vault.audit.prune(clock.now() - timedelta(days=365)) >= 0


def test_concurrent_appends_make_one_checkpoint_every_so_many_entries(vault: Vault) -> None:
    """Appends from several threads queue on the head's lock; one that waited behind the append
    making a checkpoint must see that checkpoint (on PostgreSQL the lock re-reads the head row, but
    not what the same statement read beside it), or it signs a second one a seq later. The log is
    empty when they start: the first appends race to make its head, and none fails for it."""
    threads, each = 4, 25
    barrier = threading.Barrier(threads)

    def append_some(worker: int) -> None:
        barrier.wait()
        for i in range(each):
            vault.audit.append("test.event", targets=[f"w{worker}"], detail={"n": i})

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(append_some, range(threads)))
    report = vault.audit.verify()
    assert report.ok, report
    with _session(vault) as s:
        seqs = list(s.scalars(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq)))
    last_seq = report.last_seq
    assert last_seq >= threads * each
    assert seqs == list(range(seqs[0], last_seq + 1, EVERY)), seqs


def test_an_entry_rolled_back_with_its_unit_of_work_leaves_the_next_appends_in_the_chain(vault: Vault) -> None:
    """On PostgreSQL a process makes its next append on the head it last wrote; that head never
    committed when its unit of work rolled back, and the next append is then made on the head as
    it stands. Signed heads and checkpoints (every EVERY entries) are made on the way."""
    _fill(vault, EVERY - 2)
    for _ in range(3):
        with pytest.raises(RuntimeError), _session(vault) as s:
            vault.audit.append("test.rolled_back", session=s)
            raise RuntimeError("the unit of work fails after its entry was written")
        vault.audit.append("test.event", detail={"after": "rollback"})
    _fill(vault, 2 * EVERY)
    report = vault.audit.verify()
    assert report.ok and report.entries == vault.audit.count() == EVERY - 2 + 3 + 2 * EVERY, report
    assert report.last_seq == vault.audit.head()[0] and report.checkpoints >= 2, report
    assert vault.audit.query(action="test.rolled_back") == []
