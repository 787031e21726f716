"""API keys that expire: refused from their expiry on like a revoked key, by the store, by a
server that cached the key (and by the check fast path), by console sessions; listed with their
expiry; created from the CLI with a lifetime."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pseudovault.api.cli import ExitCode
from pseudovault.api.cli import app as cli_app
from pseudovault.vault.apikeys import MAX_LIFETIME, InvalidApiKeyError
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.vault import Vault


def test_a_key_authenticates_until_its_expiry_and_never_after(vault: Vault, clock: FrozenClock) -> None:
    info, token = vault.apikeys.create("svc", ["checks"], expires_at=clock.now() + timedelta(hours=1))
    assert info.expires_at == clock.now() + timedelta(hours=1)
    assert vault.apikeys.authenticate(token.get_secret_value()).key_id == info.key_id
    assert vault.apikeys.count_active() == 1 and vault.apikeys.active(info.key_id) is not None
    clock.advance(timedelta(minutes=59, seconds=59))
    assert vault.apikeys.authenticate(token.get_secret_value()).key_id == info.key_id
    clock.advance(timedelta(seconds=1))
    with pytest.raises(InvalidApiKeyError) as refused:
        vault.apikeys.authenticate(token.get_secret_value())
    assert str(refused.value) == "invalid or revoked API key"  # the same answer as a wrong token
    assert vault.apikeys.count_active() == 0 and vault.apikeys.active(info.key_id) is None
    (entry,) = vault.audit.query(action="apikey.create")
    assert entry.detail == {"scope_checks": True, "expires_in_days": 1}
    listed = vault.apikeys.get(info.key_id)
    assert listed.active and not listed.usable_at(clock.now())  # not revoked, but expired


@pytest.mark.parametrize(
    ("when", "words"),
    [
        (timedelta(0), "must be in the future"),
        (-timedelta(days=1), "must be in the future"),
        (MAX_LIFETIME + timedelta(days=1), "at most 3650 days away"),
    ],
)
def test_an_expiry_must_be_in_the_future_and_not_too_far(
    vault: Vault, clock: FrozenClock, when: timedelta, words: str
) -> None:
    with pytest.raises(InvalidInputError, match=words):
        vault.apikeys.create("svc", ["checks"], expires_at=clock.now() + when)
    with pytest.raises(InvalidInputError, match="UTC offset"):
        vault.apikeys.create("svc", ["checks"], expires_at=(clock.now() + timedelta(days=1)).replace(tzinfo=None))
    assert vault.apikeys.list() == []


def test_a_server_that_cached_the_key_refuses_it_at_its_expiry(
    app: FastAPI, client: TestClient, vault: Vault, clock: FrozenClock
) -> None:
    _info, secret = vault.apikeys.create("svc", ["checks", "subjects:write"], expires_at=clock.now() + timedelta(hours=1))
    token = secret.get_secret_value()
    headers = {"Authorization": f"Bearer {token}"}
    check = {"identifiers": [{"kind": "email", "value": "new@signup.example"}]}
    assert client.get("/v1/subjects", headers=headers).status_code == 200
    assert client.post("/v1/checks", headers=headers, json=check).status_code == 200
    assert app.state.key_cache.get(token) is not None  # cached: the store is not asked again
    clock.advance(timedelta(hours=1))
    assert client.post("/v1/checks", headers=headers, json=check).status_code == 401  # the fast path
    assert client.get("/v1/subjects", headers=headers).status_code == 401
    assert app.state.key_cache.get(token) is None


def test_the_cli_creates_keys_with_a_lifetime_and_lists_their_expiry(cli_home: dict[str, str]) -> None:
    runner = CliRunner()

    def cli(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(cli_app, list(args), env={**cli_home, "COLUMNS": ""}, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    code, out, err = cli("apikeys", "create", "--name", "svc", "--scope", "checks", "--expires-in-days", "30", "--json")
    assert code == 0, err
    created = json.loads(out)
    assert created["expires_at"] is not None
    code, out, _ = cli("apikeys", "create", "--name", "forever", "--scope", "checks", "--json")
    assert json.loads(out)["expires_at"] is None
    code, out, _ = cli("apikeys", "list", "--json")
    listed = {row["name"]: row for row in json.loads(out)}
    assert listed["svc"]["expires_at"] == created["expires_at"] and listed["svc"]["expired"] is False
    code, out, _ = cli("apikeys", "list")  # piped: ids and times whole
    assert "expires" in out and created["expires_at"] in out, out
    code, _, err = cli("apikeys", "create", "--name", "x", "--scope", "checks", "--expires-at", "2001-01-01T00:00:00")
    assert code == ExitCode.INVALID and "must be in the future" in err
    code, _, err = cli("apikeys", "create", "--name", "x", "--scope", "checks", "--expires-in-days", "1",
                       "--expires-at", "2100-01-01T00:00:00")
    assert code == ExitCode.INVALID and "not both" in err


@pytest.fixture
def cli_home(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    import os

    for name in list(os.environ):
        if name.startswith("PSEUDOVAULT_") and not name.startswith("PSEUDOVAULT_TEST_"):
            monkeypatch.delenv(name)
    env = {
        "PSEUDOVAULT_HOME": f"{tmp_path}/home",
        "PSEUDOVAULT_PASSPHRASE": "correct horse battery staple",
        "PSEUDOVAULT_KDF_TIME_COST": "1",
        "PSEUDOVAULT_KDF_MEMORY_KIB": "8",
        "PSEUDOVAULT_KDF_PARALLELISM": "1",
    }
    result = CliRunner().invoke(cli_app, ["init"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return env
