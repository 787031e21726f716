"""The check miss filter (vault.checks.missfilter) on PostgreSQL and on a SQLite file: misses
answered in process, hits still found, bans written here never missed, and a ban written by
another process answered from the filter within the staleness bound. On SQLite also: the
identifier feed's pruning and a restored file make the filter rebuild, never miss a ban."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import child_env, pseudovault_command, run_command

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.bootstrap import init_vault, open_vault
from pseudovault.vault.checks.missfilter import MissFilter
from pseudovault.vault.config import Settings
from pseudovault.vault.errors import UnavailableError
from pseudovault.vault.identifiers import InvalidIdentifierError
from pseudovault.vault.store.db import make_engine, sqlite_path
from pseudovault.vault.vault import RecordsConfig, Vault

PASSPHRASE = "miss filter passphrase"
BOUND = 1.0


def _count_fetches(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many checks reached the store (one entry per query round trip)."""
    calls: list[int] = []
    original = vault.checks._fetch

    def counted(pseudonyms: list[bytes], domain: str) -> list[Any]:
        calls.append(len(pseudonyms))
        return original(pseudonyms, domain)

    monkeypatch.setattr(vault.checks, "_fetch", counted)
    return calls


@pytest.fixture
def filtered(store_urls: Any) -> Iterator[Vault]:
    with Vault.create(FakeKmsProvider(), store_urls.data, store_urls.keys, records_config=RecordsConfig(miss_filter=BOUND)) as vault:
        yield vault


def test_misses_are_answered_in_process_and_hits_still_reach_the_store(filtered: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = filtered
    before = vault.records.create([("email", "before@example.com")], category="fraudulent_transaction", reason_code="fraud")
    assert vault.checks.miss_filter is not None and vault.checks.miss_filter.wait_ready(30)
    fetches = _count_fetches(vault, monkeypatch)

    for i in range(50):
        assert vault.checks.check([("email", f"fresh{i}@example.com")]).decision == "allow"
    assert len(fetches) < 5  # false positives only (0.1% each)
    assert vault.checks.check([("email", "before@example.com")]).decision == "deny"
    assert len(fetches) >= 1
    # written by this process: found at once, not after the notification comes back
    after = vault.records.create([("phone", "010-2000-0001")], category="fraudulent_transaction", reason_code="fraud")
    assert vault.checks.check([("phone", "+82 10-2000-0001")]).decision == "deny"
    batch = vault.checks.check_batch([[("email", "before@example.com")], [("email", "nobody@example.com")]])
    assert [d.decision for d in batch] == ["deny", "allow"]
    assert before in {r.record_id for r in vault.records.find("email", "before@example.com")}
    assert after in {r.record_id for r in vault.records.find("phone", "010-2000-0001")}


def test_the_store_is_asked_only_about_what_the_filter_may_hold(filtered: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch of many signups with one banned among them asks the store about that one's
    pseudonyms (and any false positive), not about every candidate; the answers are the same."""
    vault = filtered
    vault.records.create([("email", "banned@example.com")], category="fraudulent_transaction", reason_code="fraud")
    miss_filter = vault.checks.miss_filter
    assert miss_filter is not None and miss_filter.wait_ready(30)
    signups = [[("email", f"fresh{i}@example.com"), ("device_id", f"fresh-device-{i}")] for i in range(60)]
    signups.insert(17, [("email", "banned@example.com"), ("device_id", "fresh-device-x")])
    expected = ["deny" if i == 17 else "allow" for i in range(61)]
    fetches = _count_fetches(vault, monkeypatch)
    assert [d.decision for d in vault.checks.check_batch(signups)] == expected
    assert len(fetches) == 1 and 1 <= fetches[0] <= 6  # 61 signups have over 240 candidates
    # a single signup: its banned identifier's pseudonyms only
    assert vault.checks.check([("email", "banned@example.com"), ("device_id", "other-device")]).decision == "deny"
    assert len(fetches) == 2 and fetches[1] <= 4
    # without the filter the same batch asks about every candidate, with the same answers
    monkeypatch.setattr(vault.checks, "miss_filter", None)
    assert [d.decision for d in vault.checks.check_batch(signups)] == expected
    assert fetches[2] > 240


def test_in_process_answers_only_misses_the_filter_is_sure_of(
    filtered: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the API answers on its event loop: a miss the current filter rules out; anything else
    (a hit, a false positive, a stale or unbuilt filter) is None, for the full check in a thread."""
    vault = filtered
    vault.records.create([("email", "held@example.com")], category="fraudulent_transaction", reason_code="fraud")
    miss_filter = vault.checks.miss_filter
    assert miss_filter is not None and miss_filter.wait_ready(30)
    fetches = _count_fetches(vault, monkeypatch)
    checks = vault.checks
    answered = [checks.in_process(checks.prepare([("email", f"fresh{i}@example.com")])) for i in range(50)]
    assert sum(1 for a in answered if a is not None) >= 45  # false positives (0.1% each) are None
    assert all(a.decision == "allow" and a.checked_kinds == ("email",) for a in answered if a is not None)
    held = checks.prepare([("email", "HELD@example.com")])
    assert checks.in_process(held) is None  # a hit: the store decides
    assert fetches == []  # none of these asked the store
    assert checks.finish(held).decision == "deny" and len(fetches) == 1
    assert "held" not in repr(held).lower() and repr(held) == "PreparedCheck(signups=1)"
    with pytest.raises(InvalidIdentifierError):
        checks.prepare([("email", "not an address")])
    monkeypatch.setattr(miss_filter, "fresh_at", time.monotonic() - BOUND - 0.5)
    assert checks.in_process(checks.prepare([("email", "fresh0@example.com")])) is None  # stale: not trusted


def test_a_stale_filter_is_not_used(filtered: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = filtered
    miss_filter = vault.checks.miss_filter
    assert miss_filter is not None and miss_filter.wait_ready(30)
    fetches = _count_fetches(vault, monkeypatch)
    # the listener stops (as when it falls behind): its filter stays built but goes stale
    miss_filter._stop.set()
    assert miss_filter._thread is not None
    miss_filter._thread.join(timeout=10)
    assert not miss_filter._thread.is_alive()
    monkeypatch.setattr(miss_filter, "fresh_at", time.monotonic() - BOUND - 0.5)
    assert miss_filter.size_bytes > 0  # built: only staleness keeps it out of use
    assert miss_filter.absent([b"\x00" * 32]) is False
    assert vault.checks.check([("email", "stale@example.com")]).decision == "allow"
    assert len(fetches) == 1


def test_a_ban_written_by_another_process_is_answered_within_the_bound(tmp_path: Path, store_urls: Any) -> None:
    settings = Settings(
        home=tmp_path / "home",
        data_url=store_urls.data,
        keys_url=store_urls.keys,
        passphrase=PASSPHRASE,  # type: ignore[arg-type]
        kdf_time_cost=1,
        kdf_memory_kib=8,
        kdf_parallelism=1,
        check_filter=True,
        check_filter_staleness_seconds=BOUND,
    )
    init_vault(settings).vault.close()
    with open_vault(settings) as vault:
        miss_filter = vault.checks.miss_filter
        assert isinstance(miss_filter, MissFilter) and miss_filter.wait_ready(30)
        assert vault.checks.check([("device_id", "elsewhere-device-1")]).decision == "allow"
        env = child_env(settings.home, PASSPHRASE, DATA_URL=store_urls.data, KEYS_URL=store_urls.keys)
        run_command(
            env,
            [*pseudovault_command(), "records", "add", "-i", "device_id=elsewhere-device-1", "--category", "fraudulent_transaction"],
        )
        committed = time.monotonic()  # the other process has exited: its ban is committed
        # from now on, every check this process answers from its filter must find it, once the
        # bound has passed; before, it is found either from the filter or from the store
        decisions = []
        while time.monotonic() - committed < BOUND + 0.5:
            decisions.append((time.monotonic() - committed, vault.checks.check([("device_id", "elsewhere-device-1")]).decision))
            time.sleep(0.02)
        late = [d for t, d in decisions if t > BOUND]
        assert late and set(late) == {"deny"}, decisions
        assert miss_filter.ready  # the filter was in use all along, not bypassed


def test_a_vault_that_fails_to_open_leaves_no_listener_behind(store_urls: Any) -> None:
    Vault.create(FakeKmsProvider(), store_urls.data, store_urls.keys).close()
    with pytest.raises(UnavailableError):  # another provider cannot unwrap the key store's epoch
        Vault.open(FakeKmsProvider(), store_urls.data, store_urls.keys, records_config=RecordsConfig(miss_filter=BOUND))
    assert not [t for t in threading.enumerate() if t.name == "pseudovault-miss-filter" and t.is_alive()]


# --- SQLite: the identifier feed ---------------------------------------------------------------


def _feed(vault: Vault) -> sqlite3.Connection:
    """A connection of its own to the vault's SQLite data file (as another process has)."""
    path = sqlite_path(vault.data_engine)
    assert path is not None
    return sqlite3.connect(path, isolation_level=None, timeout=10)


def _rebuilt_after(miss_filter: MissFilter, built_at: float, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if miss_filter.built_at > built_at and miss_filter.ready:
            return True
        time.sleep(0.01)
    return False


def _pseudonyms(vault: Vault, record_id: str) -> list[bytes]:
    with contextlib.closing(_feed(vault)) as db:
        return [bytes(r[0]) for r in db.execute("SELECT pseudonym FROM record_identifiers WHERE record_id = ?", (record_id,))]


def test_sqlite_inserted_pseudonyms_are_fed_in_order(sqlite_urls: Any) -> None:
    with Vault.create(FakeKmsProvider(), sqlite_urls.data, sqlite_urls.keys) as vault:
        first = vault.records.create([("email", "one@example.com")], category="fraudulent_transaction", reason_code="fraud")
        second = vault.records.create([("device_id", "feed-device-2")], category="fraudulent_transaction", reason_code="fraud")
        with contextlib.closing(_feed(vault)) as db:
            feed = db.execute(
                "SELECT f.seq, r.pseudonym FROM identifier_feed AS f"
                " JOIN record_identifiers AS r ON r.rowid = f.identifier ORDER BY f.seq"
            ).fetchall()
            columns = [row[1] for row in db.execute("PRAGMA table_info(identifier_feed)")]
        assert columns == ["seq", "identifier"]  # row numbers only: no pseudonym stays behind a deleted ban
        ones, twos = _pseudonyms(vault, first), _pseudonyms(vault, second)
        assert len(ones) >= 2 and len(twos) == 1  # an email has its look-alike row too
        assert sorted(bytes(p) for _, p in feed) == sorted([*ones, *twos])
        assert [seq for seq, _ in feed] == list(range(1, len(feed) + 1))
        # the second record's entries come after all of the first's: commit order
        assert max(seq for seq, p in feed if bytes(p) in ones) < min(seq for seq, p in feed if bytes(p) in twos)


def test_sqlite_a_filter_behind_the_pruned_feed_rebuilds_and_keeps_every_ban(sqlite_urls: Any) -> None:
    with (
        Vault.create(FakeKmsProvider(), sqlite_urls.data, sqlite_urls.keys, records_config=RecordsConfig(miss_filter=BOUND)) as vault,
        Vault.open(vault.provider, sqlite_urls.data, sqlite_urls.keys) as other,  # writes as another process would
    ):
        miss_filter = vault.checks.miss_filter
        assert isinstance(miss_filter, MissFilter) and miss_filter.wait_ready(30)
        built = miss_filter.built_at
        # the follower sleeps between its reads; meanwhile another process writes a ban, then so
        # many that the feed is pruned past it before the follower reads again
        miss_filter._poll = 2.0
        time.sleep(0.3)  # the follower is in its long sleep now
        early = other.records.create([("device_id", "before-the-jump")], category="fraudulent_transaction", reason_code="fraud")
        with contextlib.closing(_feed(vault)) as db:  # the feed jumps to its 110,000th entry
            db.execute("UPDATE sqlite_sequence SET seq = 109999 WHERE name = 'identifier_feed'")
        late = other.records.create([("device_id", "pruned-device")], category="fraudulent_transaction", reason_code="fraud")
        with contextlib.closing(_feed(vault)) as db:  # the pruning trigger dropped the oldest entries
            assert db.execute("SELECT pruned_through FROM identifier_feed_state").fetchone() == (10_000,)
            assert db.execute("SELECT min(seq) FROM identifier_feed").fetchone() == (110_000,)
        assert _rebuilt_after(miss_filter, built)
        # the early ban's feed entry was pruned before the follower read it: the rebuild has it
        for pseudonym in [*_pseudonyms(vault, early), *_pseudonyms(vault, late)]:
            assert miss_filter.absent([pseudonym]) is False
        assert miss_filter.ready
        assert vault.checks.check([("device_id", "before-the-jump")]).decision == "deny"
        assert vault.checks.check([("device_id", "pruned-device")]).decision == "deny"


def test_sqlite_a_feed_that_went_back_makes_the_filter_rebuild(sqlite_urls: Any) -> None:
    """A restored file holds fewer feed entries than the filter applied: it rebuilds from the
    table rather than wait for numbers it has already seen."""
    with Vault.create(FakeKmsProvider(), sqlite_urls.data, sqlite_urls.keys, records_config=RecordsConfig(miss_filter=BOUND)) as vault:
        miss_filter = vault.checks.miss_filter
        assert isinstance(miss_filter, MissFilter) and miss_filter.wait_ready(30)
        vault.records.create([("device_id", "restored-1")], category="fraudulent_transaction", reason_code="fraud")
        time.sleep(miss_filter._poll * 3)  # applied
        built = miss_filter.built_at
        with contextlib.closing(_feed(vault)) as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM identifier_feed")
            db.execute("UPDATE sqlite_sequence SET seq = 0 WHERE name = 'identifier_feed'")
            db.execute("COMMIT")
        assert _rebuilt_after(miss_filter, built)
        assert vault.checks.check([("device_id", "restored-1")]).decision == "deny"


def test_an_in_memory_database_has_no_filter(provider: FakeKmsProvider) -> None:
    with Vault.create(provider, "sqlite://", "sqlite://", records_config=RecordsConfig(miss_filter=BOUND)) as vault:
        assert vault.checks.miss_filter is None
        vault.records.create([("device_id", "in-memory")], category="fraudulent_transaction", reason_code="fraud")
        assert vault.checks.check([("device_id", "in-memory")]).decision == "deny"
    with pytest.raises(ValueError, match="SQLite database file"):
        MissFilter(make_engine("sqlite://"))


def test_a_filter_that_outgrew_its_size_is_rebuilt_larger(filtered: Vault) -> None:
    """A filter is sized for twice the table it was built from; past that its false positives
    climb toward every lookup (a fresh deployment importing a million bans, say). The follower
    then rebuilds it at once, sized for what it has come to hold, and checks stay right."""
    vault = filtered
    miss_filter = vault.checks.miss_filter
    assert isinstance(miss_filter, MissFilter) and miss_filter.wait_ready(30)
    banned = vault.records.create([("device_id", "outgrown-device")], category="fraudulent_transaction", reason_code="fraud")
    first_capacity, built = miss_filter.capacity, miss_filter.built_at
    assert first_capacity >= 100_000 and not miss_filter.overfull
    block = os.urandom(32 * (first_capacity + 50_000))
    miss_filter.add(block[i : i + 32] for i in range(0, len(block), 32))  # as a large import adds them
    # outgrown: flagged, unless the follower, which rebuilds an overfull filter at once, already has
    assert miss_filter.overfull or miss_filter.built_at > built
    assert _rebuilt_after(miss_filter, built, timeout=60)
    assert miss_filter.capacity >= 2 * (first_capacity + 50_000) and not miss_filter.overfull
    for pseudonym in _pseudonyms_any(vault, banned):
        assert miss_filter.absent([pseudonym]) is False
    assert vault.checks.check([("device_id", "outgrown-device")]).decision == "deny"
    assert vault.checks.check([("device_id", "never-banned-device")]).decision == "allow"


def _pseudonyms_any(vault: Vault, record_id: str) -> list[bytes]:
    """The stored pseudonyms of ``record_id``, on either engine."""
    from sqlalchemy import select

    from pseudovault.vault.store.data_models import RecordIdentifier
    from pseudovault.vault.store.db import session_scope

    with session_scope(vault.data_engine) as session:
        return [bytes(p) for p in session.scalars(select(RecordIdentifier.pseudonym).where(RecordIdentifier.record_id == record_id))]
