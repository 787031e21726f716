"""Every way we know of to tamper with the audit log, in one table, on SQLite and PostgreSQL.

Each tampering is what someone who can write to the data store (and, where it says so, the key
store too) but cannot use the root key could do. Before each, the log holds 23 entries with signed
checkpoints at 5, 10, 15 and 20, their signed heads in the checkpoint file outside both stores;
after it, ``audit verify`` must fail. What stays undetectable is listed in docs/threat-model.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from pseudovault.keys.signing import SigningKey
from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.audit.chain import GENESIS_HASH, chain_hash, checkpoint_message, row_fields
from pseudovault.vault.audit.external import CheckpointFile, RestoreLine
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import ConflictError
from pseudovault.vault.store.data_models import AuditCheckpoint, AuditEntry, AuditHead
from pseudovault.vault.store.key_models import LedgerReplay
from pseudovault.vault.vault import AuditConfig, Vault

EVERY = 5
ENTRIES = 23
TABLES = (AuditEntry, AuditCheckpoint, AuditHead)


@pytest.fixture
def vault(store_urls: Any, provider: FakeKmsProvider, clock: FrozenClock, tmp_path: Path) -> Iterator[Vault]:
    config = AuditConfig(
        checkpoint_every=EVERY, checkpoint_file=tmp_path / "audit-checkpoints.jsonl", head_max_age=timedelta(hours=2)
    )
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock, audit_config=config) as v:
        yield v


def _fill(vault: Vault, count: int, clock: FrozenClock) -> None:
    for i in range(count):
        clock.advance(timedelta(minutes=1))
        vault.audit.append("test.event", targets=[f"t{i}"], detail={"n": i})


def _head(s: Session) -> AuditHead:
    head = s.get(AuditHead, 1)
    assert head is not None
    return head


def _entry(s: Session, seq: int) -> AuditEntry:
    row = s.get(AuditEntry, seq)
    assert row is not None
    return row


def _recompute(s: Session, from_seq: int) -> None:
    """Rebuild every hash from ``from_seq`` on, and the head: what needs no key."""
    prev = s.scalar(select(AuditEntry.entry_hash).where(AuditEntry.seq == from_seq - 1)) or GENESIS_HASH
    last = None
    for row in s.scalars(select(AuditEntry).where(AuditEntry.seq >= from_seq).order_by(AuditEntry.seq)):
        row.prev_hash = prev
        row.entry_hash = chain_hash(prev, row_fields(row))
        prev, last = row.entry_hash, row.seq
    if last is not None:
        _head(s).last_seq, _head(s).last_hash = last, prev
    s.flush()


def _truncate(s: Session, after: int, *, checkpoints_too: bool = True) -> None:
    s.execute(delete(AuditEntry).where(AuditEntry.seq > after))
    if checkpoints_too:
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq > after))
    head = _head(s)
    head.last_seq, head.last_hash = after, _entry(s, after).entry_hash


# --- the tamperings --------------------------------------------------------------------------------


def edit_an_entry(s: Session) -> None:
    s.execute(update(AuditEntry).where(AuditEntry.seq == 7).values(action="test.other"))


def edit_an_entrys_time(s: Session) -> None:
    row = _entry(s, 7)
    row.at = row.at + timedelta(seconds=1)


def delete_an_entry(s: Session) -> None:
    s.execute(delete(AuditEntry).where(AuditEntry.seq == 12))


def replace_an_entry_linked_to_its_predecessor(s: Session) -> None:
    row = _entry(s, 13)
    row.outcome = "denied"
    row.entry_hash = chain_hash(row.prev_hash, row_fields(row))


def swap_two_entries(s: Session) -> None:
    a, b = _entry(s, 8), _entry(s, 9)
    a.targets, b.targets = b.targets, a.targets
    a.detail, b.detail = b.detail, a.detail


def append_a_forged_entry_and_move_the_head(s: Session) -> None:
    last = _entry(s, ENTRIES)
    forged = {c.name: getattr(last, c.name) for c in AuditEntry.__table__.columns}
    forged.update(seq=ENTRIES + 1, prev_hash=last.entry_hash, action="test.forged")
    s.add(AuditEntry(**forged))
    s.flush()
    _recompute(s, ENTRIES + 1)


def cut_the_entries_after_the_last_checkpoint(s: Session) -> None:
    _truncate(s, 21)


def cut_back_to_the_last_checkpoint(s: Session) -> None:
    _truncate(s, 20)


def cut_back_to_an_earlier_checkpoint_with_the_later_checkpoints(s: Session) -> None:
    _truncate(s, 12)


def rewrite_an_entry_after_the_last_checkpoint_and_its_chain(s: Session) -> None:
    _entry(s, 22).outcome = "denied"
    _recompute(s, 22)


def rewrite_an_early_entry_and_the_whole_chain(s: Session) -> None:
    _entry(s, 3).outcome = "denied"
    _recompute(s, 3)


def rewrite_an_early_entry_the_whole_chain_and_drop_every_checkpoint(s: Session) -> None:
    rewrite_an_early_entry_and_the_whole_chain(s)
    s.execute(delete(AuditCheckpoint))


def delete_a_checkpoint(s: Session) -> None:
    s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq == 10))


def alter_a_checkpoints_signature(s: Session) -> None:
    cp = s.get(AuditCheckpoint, 10)
    assert cp is not None
    cp.signature = bytes([cp.signature[0] ^ 1]) + bytes(cp.signature[1:])


def sign_a_checkpoint_with_another_key(s: Session) -> None:
    cp = s.get(AuditCheckpoint, 15)
    assert cp is not None
    _entry(s, 12).outcome = "denied"
    _recompute(s, 12)
    cp.entry_hash = _entry(s, 15).entry_hash
    other = SigningKey.generate()
    cp.signature = other.sign(checkpoint_message(15, cp.entry_hash, cp.signed_at, cp.key_id, 10))


def fake_a_prune_of_recent_entries(s: Session) -> None:
    anchor = _entry(s, 20)
    s.execute(delete(AuditEntry).where(AuditEntry.seq <= 20))
    s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq < 15))
    head = _head(s)
    head.anchor_seq, head.anchor_hash = 20, anchor.entry_hash


def move_the_anchor_without_deleting(s: Session) -> None:
    head = _head(s)
    head.anchor_seq, head.anchor_hash = 10, _entry(s, 10).entry_hash


def delete_the_oldest_entries_by_hand(s: Session) -> None:
    s.execute(delete(AuditEntry).where(AuditEntry.seq <= 4))


def empty_the_audit_tables(s: Session) -> None:
    for table in TABLES:
        s.execute(delete(table))


def remove_the_heads_signature(s: Session) -> None:
    head = _head(s)
    head.head_signature = head.head_key_id = head.head_signed_at = None


Tampering = Callable[[Session], None]

#: tamperings of the data store alone
DATA_STORE: list[Tampering] = [
    edit_an_entry,
    edit_an_entrys_time,
    delete_an_entry,
    replace_an_entry_linked_to_its_predecessor,
    swap_two_entries,
    append_a_forged_entry_and_move_the_head,
    cut_the_entries_after_the_last_checkpoint,
    cut_back_to_the_last_checkpoint,
    cut_back_to_an_earlier_checkpoint_with_the_later_checkpoints,
    rewrite_an_entry_after_the_last_checkpoint_and_its_chain,
    rewrite_an_early_entry_and_the_whole_chain,
    rewrite_an_early_entry_the_whole_chain_and_drop_every_checkpoint,
    delete_a_checkpoint,
    alter_a_checkpoints_signature,
    sign_a_checkpoint_with_another_key,
    fake_a_prune_of_recent_entries,
    move_the_anchor_without_deleting,
    delete_the_oldest_entries_by_hand,
    empty_the_audit_tables,
    remove_the_heads_signature,
]


@pytest.mark.parametrize("tamper", DATA_STORE, ids=[t.__name__ for t in DATA_STORE])
def test_a_tampered_data_store_does_not_verify(vault: Vault, clock: FrozenClock, tamper: Tampering) -> None:
    _fill(vault, ENTRIES, clock)
    assert vault.audit.verify().ok
    with Session(vault.data_engine) as s, s.begin():
        tamper(s)
    report = vault.audit.verify()
    assert not report.ok, report
    assert report.reason and report.first_broken_seq is not None


def _snapshot(vault: Vault) -> dict[Any, list[dict[str, Any]]]:
    with Session(vault.data_engine) as s:
        return {t: [dict(r) for r in s.execute(select(t.__table__)).mappings()] for t in TABLES}


def _restore(vault: Vault, snapshot: dict[Any, list[dict[str, Any]]]) -> None:
    with Session(vault.data_engine) as s, s.begin():
        for table in TABLES:
            s.execute(delete(table))
            if snapshot[table]:
                s.execute(insert(table.__table__), snapshot[table])


def test_restoring_an_older_copy_of_the_audit_tables_does_not_verify(vault: Vault, clock: FrozenClock) -> None:
    _fill(vault, 12, clock)
    backup = _snapshot(vault)  # a consistent copy: entries, checkpoints and a validly signed head
    _fill(vault, ENTRIES - 12, clock)
    _restore(vault, backup)
    report = vault.audit.verify()
    assert not report.ok and "reached seq 20" in (report.reason or ""), report


def test_rolling_back_the_data_store_and_the_key_stores_mark_is_caught_by_the_file(
    vault: Vault, clock: FrozenClock
) -> None:
    _fill(vault, 12, clock)
    backup = _snapshot(vault)
    _fill(vault, ENTRIES - 12, clock)
    _restore(vault, backup)
    with Session(vault.keys_engine) as s, s.begin():
        s.execute(delete(LedgerReplay))  # whoever holds both stores lowers the mark too
    report = vault.audit.verify()
    assert not report.ok and "the checkpoint file shows it reached seq 20" in (report.reason or ""), report


def test_an_old_copy_left_in_place_goes_stale(vault: Vault, clock: FrozenClock) -> None:
    """A copy newer than the last checkpoint replays a validly signed head; once no server has
    signed it for longer than the maximum age, verification says so."""
    _fill(vault, 21, clock)
    backup = _snapshot(vault)
    _fill(vault, 2, clock)
    _restore(vault, backup)  # entries 22 and 23 gone; nothing published them yet
    assert vault.audit.verify().ok  # the documented window
    clock.advance(timedelta(hours=3))
    report = vault.audit.verify()
    assert not report.ok and "the newest signed head is from" in (report.reason or "")


# --- a restore acknowledged ------------------------------------------------------------------------


def _lines(vault: Vault) -> CheckpointFile:
    path = vault.audit_config.checkpoint_file
    assert path is not None
    return CheckpointFile(path)


def _restored(vault: Vault, clock: FrozenClock) -> int:
    """Entries 13 to 23 taken back by restoring a backup made at 12; the signed heads the file
    holds past 12, returned, are the branch the restore took back."""
    _fill(vault, 12, clock)
    backup = _snapshot(vault)
    _fill(vault, ENTRIES - 12, clock)
    _restore(vault, backup)
    heads, _ = _lines(vault).read()
    return len(heads)


def test_an_acknowledged_restore_verifies_again(vault: Vault, clock: FrozenClock) -> None:
    written = _restored(vault, clock)
    assert written >= 4  # the checkpoints at 5, 10, 15 and 20
    assert not vault.audit.verify().ok
    record = vault.audit.acknowledge_restore()
    assert (record.seq, record.log_ended_at, record.had_reached, record.superseded_lines) == (13, 12, 20, written)
    report = vault.audit.verify()
    assert report.ok, report
    assert report.superseded_lines == written and report.restore_acknowledged_at == record.acknowledged_at
    (entry,) = vault.audit.query(action="audit.acknowledge_restore")
    assert entry.seq == 13 and entry.detail == {"log_ended_at": 12, "had_reached": 20, "superseded_lines": written}
    lines, damaged = _lines(vault).read_lines()
    assert damaged == [] and isinstance(lines[-1], RestoreLine) and lines[-1].last_seq == 13
    # the new branch grows past the seqs the superseded lines name, with other hashes: still intact
    _fill(vault, 15, clock)
    report = vault.audit.verify()
    assert report.ok and report.last_seq == 28, report
    # and it is a log like any other: a second restore is caught, and can be acknowledged in turn
    backup = _snapshot(vault)
    _fill(vault, 7, clock)
    _restore(vault, backup)
    assert "it had reached seq 35" in (vault.audit.verify().reason or "")
    assert vault.audit.acknowledge_restore().had_reached == 35
    assert vault.audit.verify().ok


def test_an_acknowledged_restore_still_holds_the_chain_to_its_line(vault: Vault, clock: FrozenClock) -> None:
    _restored(vault, clock)
    vault.audit.acknowledge_restore()
    _fill(vault, 3, clock)
    backup_at_16 = _snapshot(vault)
    # an entry before the acknowledgement rewritten, and the chain after it recomputed
    with Session(vault.data_engine) as s, s.begin():
        _entry(s, 11).outcome = "denied"
        _recompute(s, 11)
        s.execute(delete(AuditCheckpoint))
    report = vault.audit.verify()
    assert not report.ok and report.first_broken_seq == 13, report
    assert "the checkpoint file's signed head at seq 13" in (report.reason or ""), report
    # taken back to before the acknowledgement, with the key store's mark lowered too
    _restore(vault, backup_at_16)
    with Session(vault.data_engine) as s, s.begin():
        _truncate(s, 12)
    with Session(vault.keys_engine) as s, s.begin():
        s.execute(delete(LedgerReplay))
    report = vault.audit.verify()
    assert not report.ok and "the checkpoint file shows it reached seq 15" in (report.reason or ""), report


def test_an_altered_restore_line_does_not_verify(vault: Vault, clock: FrozenClock) -> None:
    _restored(vault, clock)
    vault.audit.acknowledge_restore()
    path = _lines(vault).path
    original = path.read_bytes()
    path.write_bytes(original.replace(b'"reached":20', b'"reached":12'))
    report = vault.audit.verify()
    assert not report.ok and "of the checkpoint file does not verify" in (report.reason or ""), report
    path.write_bytes(original.replace(b'"kind":"restore"', b'"kind":"other"'))
    assert "is not a signed head" in (vault.audit.verify().reason or "")


def test_a_restore_is_acknowledged_over_an_intact_chain_only(vault: Vault, clock: FrozenClock) -> None:
    _fill(vault, ENTRIES, clock)
    with pytest.raises(ConflictError, match="there is no restore to acknowledge"):
        vault.audit.acknowledge_restore()
    clock.advance(timedelta(hours=3))  # the head's signature too old: that is no restore either
    assert "the newest signed head is from" in (vault.audit.verify().reason or "")
    with pytest.raises(ConflictError, match="only its head's signature is too old"):
        vault.audit.acknowledge_restore()
    vault.audit.checkpoint()
    # a restore whose chain was also tampered with: refused, and nothing written anywhere
    backup = _snapshot(vault)
    _fill(vault, 6, clock)
    _restore(vault, backup)
    with Session(vault.data_engine) as s, s.begin():
        _entry(s, 23).outcome = "denied"
        _recompute(s, 23)
    before = (_lines(vault).path.read_bytes(), vault.audit.count())
    with pytest.raises(ConflictError, match="broken by itself at seq 24"):
        vault.audit.acknowledge_restore()
    assert (_lines(vault).path.read_bytes(), vault.audit.count()) == before
    assert not vault.audit.verify().ok


def test_a_restore_without_a_checkpoint_file_is_acknowledged_by_the_mark(
    store_urls: Any, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    config = AuditConfig(checkpoint_every=EVERY, checkpoint_file=None)
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock, audit_config=config) as v:
        _fill(v, 12, clock)
        backup = _snapshot(v)
        _fill(v, 9, clock)
        _restore(v, backup)
        assert "it had reached seq 20" in (v.audit.verify().reason or "")
        record = v.audit.acknowledge_restore()
        assert (record.had_reached, record.superseded_lines) == (20, 0)
        assert v.audit.verify().ok
        _restore(v, backup)  # back to 12 again: under the mark, which the acknowledgement set to 13
        assert "it had reached seq 13" in (v.audit.verify().reason or "")
