"""The check miss filter (vault.checks.missfilter) on PostgreSQL: misses answered in process, hits
still found, bans written here never missed, and a ban written by another process answered from
the filter within the staleness bound."""

from __future__ import annotations

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
from pseudovault.vault.vault import RecordsConfig, Vault

pytestmark = pytest.mark.postgres

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
def filtered(postgres_urls: Any) -> Iterator[Vault]:
    with Vault.create(FakeKmsProvider(), postgres_urls.data, postgres_urls.keys, records_config=RecordsConfig(miss_filter=BOUND)) as vault:
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


def test_a_ban_written_by_another_process_is_answered_within_the_bound(tmp_path: Path, postgres_urls: Any) -> None:
    settings = Settings(
        home=tmp_path / "home",
        data_url=postgres_urls.data,
        keys_url=postgres_urls.keys,
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
        env = child_env(settings.home, PASSPHRASE, DATA_URL=postgres_urls.data, KEYS_URL=postgres_urls.keys)
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


def test_a_vault_that_fails_to_open_leaves_no_listener_behind(postgres_urls: Any) -> None:
    Vault.create(FakeKmsProvider(), postgres_urls.data, postgres_urls.keys).close()
    with pytest.raises(UnavailableError):  # another provider cannot unwrap the key store's epoch
        Vault.open(FakeKmsProvider(), postgres_urls.data, postgres_urls.keys, records_config=RecordsConfig(miss_filter=BOUND))
    assert not [t for t in threading.enumerate() if t.name == "pseudovault-miss-filter" and t.is_alive()]
