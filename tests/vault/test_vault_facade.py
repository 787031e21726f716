"""vault.vault.Vault: create is idempotent, open refuses what is not a vault, status shows no secrets."""

from __future__ import annotations

import json
import pickle
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from canary import CANARY_PII
from sqlalchemy import text

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import NotInitialisedError, UnavailableError
from pseudovault.vault.store.db import make_engine
from pseudovault.vault.store.migrate import DATA, KEYS, head_revisions, upgrade_store
from pseudovault.vault.vault import Vault

if TYPE_CHECKING:
    from conftest import StoreUrls


def test_create_is_idempotent_and_open_finds_the_same_vault(
    store_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock) as first:
        subject_id = first.subjects.create({"email": CANARY_PII})
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock) as again:
        assert again.keys.current_epoch() == 1
        assert len(again.keys.epochs()) == 1
        assert again.subjects.read(subject_id) == {"email": CANARY_PII}
    with Vault.open(provider, store_urls.data, store_urls.keys, clock=clock) as opened:
        assert opened.subjects.read(subject_id) == {"email": CANARY_PII}
        assert isinstance(opened.clock, FrozenClock) and opened.provider is provider


def test_open_refuses_stores_that_are_not_initialised(store_urls: StoreUrls, provider: FakeKmsProvider) -> None:
    with pytest.raises(NotInitialisedError, match="keys store is not initialised"):
        Vault.open(provider, store_urls.data, store_urls.keys)
    upgrade_store(store_urls.keys, KEYS)
    with pytest.raises(NotInitialisedError, match="data store is not initialised"):
        Vault.open(provider, store_urls.data, store_urls.keys)
    upgrade_store(store_urls.data, DATA)
    with pytest.raises(NotInitialisedError, match="no enabled epoch"):
        Vault.open(provider, store_urls.data, store_urls.keys)


def test_open_does_not_create_sqlite_files(tmp_path: Path, provider: FakeKmsProvider) -> None:
    data, keys = tmp_path / "d" / "data.sqlite3", tmp_path / "k" / "keys.sqlite3"
    with pytest.raises(NotInitialisedError):
        Vault.open(provider, f"sqlite:///{data}", f"sqlite:///{keys}")
    assert not data.exists() and not keys.exists()


def test_open_refuses_a_store_behind_head(store_urls: StoreUrls, provider: FakeKmsProvider) -> None:
    Vault.create(provider, store_urls.data, store_urls.keys).close()
    engine = make_engine(store_urls.data)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version_data SET version_num = '0000'"))
    finally:
        engine.dispose()
    head = head_revisions(DATA)[0]
    with pytest.raises(NotInitialisedError, match=f"data store is at schema revision 0000, not {head}"):
        Vault.open(provider, store_urls.data, store_urls.keys)


def test_a_provider_that_cannot_unwrap_the_epoch_key_fails_at_once(
    store_urls: StoreUrls, provider: FakeKmsProvider
) -> None:
    Vault.create(provider, store_urls.data, store_urls.keys).close()
    stranger = FakeKmsProvider()
    for build in (Vault.open, Vault.create):
        with pytest.raises(UnavailableError, match="cannot unwrap"):
            build(stranger, store_urls.data, store_urls.keys)


def test_an_unreachable_store_is_unavailable(tmp_path: Path, provider: FakeKmsProvider) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(UnavailableError, match="the data store cannot be opened"):
        Vault.create(provider, f"sqlite:///{blocker}/data.sqlite3", f"sqlite:///{tmp_path / 'k.sqlite3'}")
    unreadable = tmp_path / "k"
    unreadable.mkdir()
    (unreadable / "keys.sqlite3").mkdir()  # a directory where the database file should be
    with pytest.raises(UnavailableError, match="the keys store cannot be reached"):
        Vault.create(provider, f"sqlite:///{tmp_path / 'd.sqlite3'}", f"sqlite:///{unreadable / 'keys.sqlite3'}")


@pytest.mark.postgres
def test_an_unreachable_postgres_is_unavailable(provider: FakeKmsProvider, tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody:hunter2@127.0.0.1:1/nothing?connect_timeout=1"
    with pytest.raises(UnavailableError) as info:
        Vault.create(provider, f"sqlite:///{tmp_path / 'd.sqlite3'}", url)
    assert str(info.value).startswith("the keys store cannot be reached")
    assert "hunter2" not in str(info.value)


def test_bad_arguments_fail_before_any_store_is_touched(tmp_path: Path, provider: FakeKmsProvider) -> None:
    data, keys = f"sqlite:///{tmp_path / 'd.sqlite3'}", f"sqlite:///{tmp_path / 'k.sqlite3'}"
    with pytest.raises(TypeError):
        Vault.create("not a provider", data, keys)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Vault.create(provider, data, keys, cache_ttl=timedelta(seconds=-1))
    assert list(tmp_path.iterdir()) == []


def test_status_shows_state_and_never_secrets(
    store_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    with Vault.create(
        provider, store_urls.data, store_urls.keys, clock=clock, cache_ttl=timedelta(seconds=60)
    ) as vault:
        ids = [vault.subjects.create({"email": CANARY_PII, "n": str(i)}) for i in range(3)]
        vault.subjects.shred(ids[0])
        provider.rotate()
        vault.keys.rotate_epoch()
        vault.keys.rewrap()
        data_key = vault.keys.data_key(ids[1]).reveal()
        with vault.keys_engine.connect() as connection:
            wrapped = [
                bytes(w)
                for w in connection.execute(
                    text("SELECT wrapped FROM wrapping_keys WHERE wrapped IS NOT NULL")
                ).scalars()
            ]

        status = vault.status()
    backend = "sqlite" if store_urls.backend == "sqlite" else "postgresql"
    assert status["stores"]["data"]["engine"] == backend
    assert status["stores"]["keys"]["engine"] == backend
    for store in ("data", "keys"):
        assert status["stores"][store]["revision"] == status["stores"][store]["head"]
        assert len(status["stores"][store]["head"]) == 1
        assert status["stores"][store]["at_head"] is True
    assert status["provider"]["kind"] == "fake"
    assert status["provider"]["primary_key_id"] == "fake:2"
    assert [(k["key_id"], k["status"], k["primary"]) for k in status["provider"]["keys"]] == [
        ("fake:1", "destroyed", False),
        ("fake:2", "enabled", True),
    ]
    assert status["epochs"]["current"] == 2
    assert status["epochs"]["root_key_ids_in_use"] == ["fake:2"]
    assert [(e["epoch"], e["status"], e["data_keys"]) for e in status["epochs"]["list"]] == [
        (1, "destroyed", 0),
        (2, "enabled", 2),
    ]
    expected_counts = {
        "subjects": 2,
        "data_keys": 2,
        "epochs": 1,
        "epochs_destroyed": 1,
        "tombstones": 1,
        "shred_ledger": 1,
    }
    assert {k: status["counts"][k] for k in expected_counts} == expected_counts
    assert status["counts"]["audit_entries"] == vault.audit.count() > 0
    assert status["cache"]["ttl_seconds"] == 60.0

    rendered = json.dumps(status)  # plain data, serialisable as it is
    assert CANARY_PII not in rendered
    for secret in [data_key, *wrapped]:
        assert secret.hex() not in rendered and secret.hex().upper() not in rendered


@pytest.mark.postgres
def test_status_of_a_postgres_vault_hides_the_password(postgres_urls: StoreUrls, provider: FakeKmsProvider) -> None:
    from sqlalchemy.engine import make_url

    # trust authentication ignores the password, so the URL may carry one for the test
    data = make_url(postgres_urls.data).set(password="s3cret-password").render_as_string(hide_password=False)
    keys = make_url(postgres_urls.keys).set(password="s3cret-password").render_as_string(hide_password=False)
    with Vault.create(provider, data, keys) as vault:
        status = vault.status()
        assert "s3cret-password" not in json.dumps(status)
        assert status["stores"]["data"]["url"].endswith(make_url(postgres_urls.data).database or "")
        assert "***" in status["stores"]["data"]["url"]
        assert "s3cret-password" not in repr(vault)


def test_close_forgets_keys_and_is_idempotent(vault: Vault) -> None:
    subject_id = vault.subjects.create({"email": CANARY_PII})
    vault.subjects.read(subject_id)
    assert len(vault.cache) > 0
    vault.close()
    assert len(vault.cache) == 0
    vault.close()


def test_a_vault_cannot_be_pickled(vault: Vault) -> None:
    with pytest.raises(TypeError):
        pickle.dumps(vault)
    assert repr(vault).startswith("Vault(")
