"""vault.crypto.lookup.LookupKeys: versions, rotation with lazy re-indexing, disable/enable/destroy,
rewrap under the primary root KEK, and other vault objects picking up a rotation."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from records_support import EMAIL, IP, PHONE, rows, scalar

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.vault import RecordsConfig, Vault

if TYPE_CHECKING:
    from conftest import StoreUrls


def _pseudonyms(vault: Vault, record_id: str, version: int) -> int:
    """How many identity pseudonyms (not look-alike ones) the record has under ``version``."""
    return int(
        scalar(
            vault.data_engine,
            "SELECT COUNT(*) FROM record_identifiers WHERE record_id = :r AND lookup_version = :v AND NOT lookalike",
            r=record_id,
            v=version,
        )
    )


def test_version_1_is_created_with_the_vault_and_wrapped_by_the_root_kek(vault: Vault) -> None:
    [info] = vault.lookup.versions()
    assert (info.version, info.status, info.primary, info.kek_id) == (1, "enabled", True, "fake:1")
    assert vault.lookup.ensure() == 1
    assert vault.lookup.current().versions == (1,)
    [row] = rows(vault.keys_engine, "SELECT wrapped FROM lookup_keys")
    assert len(bytes(row["wrapped"])) == 40  # RFC 5649 of a 256-bit key
    status = vault.status()
    assert status["lookup_keys"]["primary"] == 1
    assert status["records"]["by_status"] == {"active": 0, "under_review": 0, "revoked": 0, "expired": 0}


def test_bans_made_under_version_1_match_after_version_2_and_gain_its_pseudonym(vault: Vault) -> None:
    matched = vault.records.create([EMAIL, PHONE], category="fraudulent_transaction", reason_code="fraud")
    never_checked = vault.records.create([IP, ("device_id", "dev-7")], category="fraudulent_transaction", reason_code="fraud")
    assert vault.lookup.rotate() == 2
    assert vault.lookup.current().versions == (2, 1)
    assert (_pseudonyms(vault, matched, 1), _pseudonyms(vault, matched, 2)) == (2, 0)

    assert vault.checks.check([EMAIL]).decision == "deny"
    assert _pseudonyms(vault, matched, 2) == 1  # the email gained its version-2 pseudonym
    assert vault.checks.check([EMAIL]).decision == "deny"
    assert _pseudonyms(vault, matched, 2) == 1  # once
    assert vault.checks.check_batch([[PHONE], [EMAIL, PHONE]])[1].decision == "deny"
    assert _pseudonyms(vault, matched, 2) == 2
    [(slot, kind)] = [
        (r["slot"], r["kind"])
        for r in rows(
            vault.data_engine,
            "SELECT slot, kind FROM record_identifiers WHERE record_id = :r AND lookup_version = 2 AND kind = 'phone'",
            r=matched,
        )
    ]
    assert (slot, kind) == (1, "phone")
    created = vault.records.create([("email", "after@b.example")], category="fraudulent_transaction", reason_code="fraud")
    assert vault.records.get(created).lookup_versions == (2,)  # new bans are under the primary only

    # version 1 cannot go while a ban depends on it alone, unless forced
    assert vault.lookup.orphaned_identifiers(1) == 2
    with pytest.raises(ConflictError) as info:
        vault.lookup.destroy(1)
    assert "2 record identifier(s)" in str(info.value)
    assert vault.lookup.versions()[0].status == "enabled"
    assert vault.lookup.destroy(1, force=True) == 2
    assert [(k.version, k.status) for k in vault.lookup.versions()] == [(1, "destroyed"), (2, "enabled")]
    assert rows(vault.keys_engine, "SELECT wrapped, destroyed_at FROM lookup_keys WHERE version = 1")[0]["wrapped"] is None
    assert scalar(vault.data_engine, "SELECT COUNT(*) FROM record_identifiers WHERE lookup_version = 1") == 0

    assert vault.lookup.current().versions == (2,)
    assert vault.checks.check([EMAIL]).decision == "deny"  # through its version-2 pseudonym
    assert vault.checks.check([PHONE]).decision == "deny"
    assert vault.checks.check([("device_id", "dev-7")]).decision == "allow"  # forced away
    assert never_checked in {r.record_id for r in vault.records.list().items}
    actions = [(e.action, e.outcome) for e in vault.audit.query(limit=1000) if e.action.startswith("keys.")]
    assert actions == [("keys.rotate_lookup", "ok"), ("keys.destroy_lookup", "conflict"), ("keys.destroy_lookup", "ok")]


def test_disable_enable_promote_and_the_primary_is_protected(vault: Vault) -> None:
    old = vault.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud")
    assert vault.lookup.rotate(promote=False) == 2
    assert vault.lookup.current().primary.version == 1
    assert vault.lookup.current().versions == (1, 2)
    vault.lookup.promote(2)
    assert vault.lookup.current().primary.version == 2

    vault.lookup.disable(1)
    assert vault.lookup.current().versions == (2,)
    assert vault.checks.check([EMAIL]).decision == "allow"  # its only pseudonym is under a disabled version
    vault.lookup.enable(1)
    assert vault.checks.check([EMAIL]).decision == "deny"
    assert _pseudonyms(vault, old, 2) == 1

    for call in (lambda: vault.lookup.disable(2), lambda: vault.lookup.destroy(2, force=True)):
        with pytest.raises(ConflictError):
            call()
    with pytest.raises(NotFoundError):
        vault.lookup.promote(9)
    with pytest.raises(InvalidInputError):
        vault.lookup.disable(0)
    vault.lookup.destroy(1)  # nothing depends on it alone any more
    with pytest.raises(ConflictError):
        vault.lookup.promote(1)
    with pytest.raises(ConflictError):
        vault.lookup.enable(1)


def test_rewrap_moves_lookup_keys_to_the_primary_root_version(
    store_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock) as vault:
        record_id = vault.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud", reason="own key")
        vault.lookup.rotate(promote=False)
        provider.rotate()
        vault.keys.rotate_epoch()
        report = vault.rewrap()
        assert report.lookup_keys_rewrapped == 2
        assert report.data_keys_rewrapped == 1  # the record's own data key moved to epoch 2
        assert "fake:1" not in report.root_key_ids_in_use
        assert {r["kek_id"] for r in rows(vault.keys_engine, "SELECT kek_id FROM lookup_keys")} == {"fake:2"}
        assert rows(vault.keys_engine, "SELECT epoch FROM record_keys") == [{"epoch": 2}]
    provider.destroy("fake:1")
    with Vault.open(provider, store_urls.data, store_urls.keys, clock=clock) as reopened:
        assert reopened.checks.check([EMAIL]).decision == "deny"  # same keys, rewrapped
        assert reopened.records.reveal(record_id, purpose="after rewrap").reason == "own key"


def test_another_vault_object_sees_a_rotation_within_the_refresh_interval(
    store_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock) as first, Vault.open(
        provider, store_urls.data, store_urls.keys, clock=clock
    ) as second:
        assert second.checks.check([EMAIL]).decision == "allow"  # loads version 1
        first.lookup.rotate()
        first.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud")  # under version 2
        assert second.checks.check([EMAIL]).decision == "allow"  # still on its cached versions
        clock.advance(second.lookup.refresh_interval)
        assert second.checks.check([EMAIL]).decision == "deny"
        assert second.lookup.current().versions == (2, 1)


def test_on_the_system_clock_a_rotation_is_seen_once_the_interval_has_passed(
    store_urls: StoreUrls, provider: FakeKmsProvider
) -> None:
    # the system clock's path times the loaded versions in monotonic seconds (no datetime)
    config = RecordsConfig(lookup_refresh=timedelta(seconds=0.5))
    with Vault.create(provider, store_urls.data, store_urls.keys, records_config=config) as first, Vault.open(
        provider, store_urls.data, store_urls.keys, records_config=config
    ) as second:
        loaded = time.monotonic()
        assert second.lookup.current().versions == (1,)
        first.lookup.rotate()
        if time.monotonic() - loaded < 0.4:  # well inside the interval: still the cached versions
            assert second.lookup.current().versions == (1,)
        time.sleep(max(0.0, loaded + 0.6 - time.monotonic()))
        assert second.lookup.current().versions == (2, 1)
