"""Checks can read from a replica of the data store (``RecordsConfig.check_read_url``,
PSEUDOVAULT_CHECK_READ_URL): the lookups go there, writes stay on the data store."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.vault import RecordsConfig, Vault


def test_checks_query_the_read_url_and_records_go_to_the_data_store(store_urls: Any, tmp_path: Any) -> None:
    provider = FakeKmsProvider()
    with Vault.create(provider, store_urls.data, store_urls.keys) as vault:
        vault.records.create([("email", "banned@example.com")], category="fraudulent_transaction", reason_code="fraud")
    # the data store itself as its own "replica": the checks find the ban through the read engine
    with Vault.open(provider, store_urls.data, store_urls.keys, records_config=RecordsConfig(check_read_url=store_urls.data)) as vault:
        read_engine = vault.check_read_engine
        assert read_engine is not None and read_engine is not vault.data_engine
        used: list[int] = []
        event.listen(read_engine, "checkout", lambda *_: used.append(1))
        event.listen(read_engine, "connect", lambda *_: used.append(1))
        assert vault.checks.check([("email", "banned@example.com")]).decision == "deny"
        assert vault.checks.check([("email", "other@example.com")]).decision == "allow"
        assert used, "the checks did not use the read engine"
        assert "banned" not in repr(vault.records_config) and "check_read_url" not in repr(vault.records_config)


def test_a_replica_without_the_ban_answers_from_what_it_holds(tmp_path: Any) -> None:
    """What a lagging replica means: the check answers from the replica, not the data store."""
    provider = FakeKmsProvider()
    primary = (f"sqlite:///{tmp_path / 'data.sqlite3'}", f"sqlite:///{tmp_path / 'keys.sqlite3'}")
    behind = f"sqlite:///{tmp_path / 'behind.sqlite3'}"
    with Vault.create(FakeKmsProvider(), behind, f"sqlite:///{tmp_path / 'other-keys.sqlite3'}"):
        pass  # a migrated data store holding no record
    with Vault.create(provider, *primary) as vault:
        vault.records.create([("email", "banned@example.com")], category="fraudulent_transaction", reason_code="fraud")
    with Vault.open(provider, *primary, records_config=RecordsConfig(check_read_url=behind)) as vault:
        assert vault.checks.check([("email", "banned@example.com")]).decision == "allow"
        assert vault.records.find("email", "banned@example.com")  # reads other than checks: the data store
    with Vault.open(provider, *primary) as vault:
        assert vault.checks.check([("email", "banned@example.com")]).decision == "deny"


@pytest.mark.postgres
def test_a_read_url_of_another_kind_of_database_is_refused(tmp_path: Any, postgres_urls: Any) -> None:
    provider = FakeKmsProvider()
    primary = (f"sqlite:///{tmp_path / 'data.sqlite3'}", f"sqlite:///{tmp_path / 'keys.sqlite3'}")
    Vault.create(provider, *primary).close()
    with pytest.raises(InvalidInputError):
        Vault.open(provider, *primary, records_config=RecordsConfig(check_read_url=postgres_urls.data))
