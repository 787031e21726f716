"""API keys that expire: refused from their expiry on like a revoked key, by the store, by a
server that cached the key (and by the check fast path), by console sessions; listed with their
expiry; created from the CLI with a lifetime."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from servers import child_env, free_port, pseudovault_command, run_command, wait_until_ready
from typer.testing import CliRunner

from pseudovault.api.cli import ExitCode
from pseudovault.api.cli import app as cli_app
from pseudovault.vault.apikeys import MAX_LIFETIME, InvalidApiKeyError
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import ConflictError, InvalidInputError
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


# --- rotation --------------------------------------------------------------------------------


def test_rotation_keeps_the_key_and_the_old_token_works_for_the_grace_period(vault: Vault, clock: FrozenClock) -> None:
    info, old = vault.apikeys.create("svc", ["checks", "records:read"])
    rotated, new = vault.apikeys.rotate(info.key_id, grace=timedelta(hours=2))
    assert rotated.key_id == info.key_id and rotated.scopes == info.scopes and rotated.name == "svc"
    assert rotated.rotated_at == clock.now() and rotated.previous_valid_until == clock.now() + timedelta(hours=2)
    assert new.get_secret_value() != old.get_secret_value()
    assert new.get_secret_value().startswith(f"pvk_{info.key_id}_")
    assert vault.apikeys.authenticate(new.get_secret_value()).key_id == info.key_id
    assert vault.apikeys.authenticate(old.get_secret_value()).key_id == info.key_id
    clock.advance(timedelta(hours=2))
    with pytest.raises(InvalidApiKeyError):
        vault.apikeys.authenticate(old.get_secret_value())
    assert vault.apikeys.authenticate(new.get_secret_value()).key_id == info.key_id
    (entry,) = vault.audit.query(action="apikey.rotate")
    assert list(entry.targets) == [info.key_id] and entry.detail == {"grace_seconds": 7200}
    assert old.get_secret_value() not in str(entry.as_dict()) and new.get_secret_value() not in str(entry.as_dict())


def test_rotation_without_grace_and_twice(vault: Vault, clock: FrozenClock) -> None:
    info, first = vault.apikeys.create("svc", ["checks"])
    _r, second = vault.apikeys.rotate(info.key_id)  # no grace: the old token is refused at once
    with pytest.raises(InvalidApiKeyError):
        vault.apikeys.authenticate(first.get_secret_value())
    _r, third = vault.apikeys.rotate(info.key_id, grace=timedelta(days=1))
    with pytest.raises(InvalidApiKeyError):  # only the token just replaced has a grace period
        vault.apikeys.authenticate(first.get_secret_value())
    assert vault.apikeys.authenticate(second.get_secret_value()).key_id == info.key_id
    assert vault.apikeys.authenticate(third.get_secret_value()).key_id == info.key_id
    with pytest.raises(InvalidInputError, match="from 0 to 30 days"):
        vault.apikeys.rotate(info.key_id, grace=timedelta(days=31))
    vault.apikeys.revoke(info.key_id)
    with pytest.raises(InvalidApiKeyError):
        vault.apikeys.authenticate(third.get_secret_value())
    with pytest.raises(InvalidApiKeyError):  # revoking ends the grace period too
        vault.apikeys.authenticate(second.get_secret_value())
    with pytest.raises(ConflictError):
        vault.apikeys.rotate(info.key_id)


def test_a_server_follows_a_rotation(app: FastAPI, client: TestClient, vault: Vault, clock: FrozenClock) -> None:
    info, secret = vault.apikeys.create("svc", ["checks"])
    old = {"Authorization": f"Bearer {secret.get_secret_value()}"}
    check = {"identifiers": [{"kind": "email", "value": "new@signup.example"}]}
    assert client.post("/v1/checks", headers=old, json=check).status_code == 200  # cached now
    _r, new_secret = vault.apikeys.rotate(info.key_id, grace=timedelta(minutes=30))
    new = {"Authorization": f"Bearer {new_secret.get_secret_value()}"}
    assert client.post("/v1/checks", headers=new, json=check).status_code == 200
    assert client.post("/v1/checks", headers=old, json=check).status_code == 200  # in its grace period
    clock.advance(timedelta(minutes=30))
    assert client.post("/v1/checks", headers=old, json=check).status_code == 401  # cached, and still refused
    assert client.post("/v1/checks", headers=new, json=check).status_code == 200
    entries = vault.audit.query(target=info.key_id)
    assert {e.action for e in entries} >= {"apikey.create", "apikey.rotate"}


def test_the_cli_rotates_and_prints_the_new_token_last(cli_home: dict[str, str]) -> None:
    runner = CliRunner()
    created = json.loads(runner.invoke(cli_app, ["apikeys", "create", "--name", "svc", "--scope", "checks", "--json"],
                                       env=cli_home, catch_exceptions=False).stdout)
    result = runner.invoke(cli_app, ["apikeys", "rotate", created["key_id"], "--grace-hours", "1"], env=cli_home,
                           catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    token = result.stdout.split()[-1]
    assert token.startswith(f"pvk_{created['key_id']}_") and token != created["token"]
    assert "shown once" in result.stderr
    listed = json.loads(runner.invoke(cli_app, ["apikeys", "list", "--json"], env=cli_home).stdout)
    assert listed[0]["rotated_at"] is not None and listed[0]["previous_valid_until"] is not None
    assert runner.invoke(cli_app, ["apikeys", "rotate", created["key_id"], "--grace-hours", "1000"],
                         env=cli_home).exit_code == 2


def test_a_running_server_follows_a_rotation_made_by_another_process(tmp_path: Path) -> None:
    """The CLI rotates with no grace while a server has the old token cached: within the cache's
    lifetime (1 s here) the server refuses the old token and takes the new one."""
    env = child_env(tmp_path / "home", "correct horse battery staple", API_KEY_CACHE_SECONDS="1")
    run_command(env, [*pseudovault_command(), "init"])
    created = json.loads(run_command(env, [*pseudovault_command(), "apikeys", "create", "--name", "svc", "--scope",
                                           "checks", "--json"]))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*pseudovault_command(), "serve", "--port", str(port)], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    check = {"identifiers": [{"kind": "device_id", "value": "dev-rotation-1"}]}
    try:
        wait_until_ready(server, base)
        old = {"Authorization": f"Bearer {created['token']}"}
        assert httpx.post(f"{base}/v1/checks", headers=old, json=check, timeout=10).status_code == 200
        rotated = json.loads(run_command(env, [*pseudovault_command(), "apikeys", "rotate", created["key_id"],
                                               "--grace-hours", "0", "--json"]))
        rotated_at = time.monotonic()
        new = {"Authorization": f"Bearer {rotated['token']}"}
        assert httpx.post(f"{base}/v1/checks", headers=new, json=check, timeout=10).status_code == 200
        while httpx.post(f"{base}/v1/checks", headers=old, json=check, timeout=10).status_code == 200:
            assert time.monotonic() - rotated_at < 3, "the old token outlived the documented bound"
            time.sleep(0.05)
        assert httpx.post(f"{base}/v1/checks", headers=old, json=check, timeout=10).status_code == 401
    finally:
        server.terminate()
        server.communicate(timeout=30)
