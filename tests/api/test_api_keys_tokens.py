"""API keys: the token's shape, shown once, only a hash stored, revocation, the last-use stamp,
and the ``pseudovault apikeys`` and ``pseudovault audit`` commands."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from api_support import ManualTime
from canary import CANARY_PII
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from pseudovault.api.app import create_app
from pseudovault.api.cli import app as cli_app
from pseudovault.api.keycache import KeyCache
from pseudovault.api.settings import ApiSettings
from pseudovault.vault.apikeys import InvalidApiKeyError, secret_hash
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import InvalidInputError, NotFoundError
from pseudovault.vault.vault import Vault

TOKEN = re.compile(r"pvk_([a-z2-7]{10})_([A-Za-z0-9_-]{43})")
PASSPHRASE = "correct horse battery staple"


def test_the_token_has_a_fixed_prefix_and_is_shown_once(vault: Vault) -> None:
    info, token = vault.apikeys.create("signup-service", ["checks"])
    match = TOKEN.fullmatch(token.get_secret_value())
    assert match is not None and match.group(1) == info.key_id
    assert token.get_secret_value() not in repr(token) + str(token)
    assert info.scopes == {"checks"} and info.active and info.last_used_at is None
    listed = vault.apikeys.list()
    assert [k.key_id for k in listed] == [info.key_id]
    assert match.group(2) not in json.dumps([k.as_dict() for k in listed])
    assert vault.apikeys.authenticate(token.get_secret_value()).key_id == info.key_id


def test_only_a_hash_of_the_secret_is_stored(vault: Vault, store_urls: Any) -> None:
    info, token = vault.apikeys.create("svc", ["admin"])
    secret = TOKEN.fullmatch(token.get_secret_value()).group(2)  # type: ignore[union-attr]
    with vault.data_engine.connect() as connection:
        [(stored,)] = connection.execute(text("SELECT secret_hash FROM api_keys")).all()
        everything = json.dumps(
            [
                [str(v) if not isinstance(v, bytes) else v.hex() for v in row]
                for row in connection.execute(text("SELECT * FROM api_keys"))
            ]
        )
    assert bytes(stored) == secret_hash(info.key_id, secret)
    assert (
        bytes(stored)
        == hashlib.sha256(b"pseudovault/api-key/v1\x00" + info.key_id.encode() + b"\x00" + secret.encode()).digest()
    )
    assert secret not in everything and secret.encode().hex() not in everything
    if store_urls.backend == "sqlite":
        vault.close()
        for path in Path(store_urls.data.removeprefix("sqlite:///")).parent.iterdir():
            assert secret.encode() not in path.read_bytes(), path
    assert secret not in json.dumps([r.as_dict() for r in vault.audit.query(limit=1000)])


def test_wrong_tokens_all_fail_the_same_way(vault: Vault) -> None:
    info, token = vault.apikeys.create("svc", ["admin"])
    value = token.get_secret_value()
    flipped = value[:-1] + ("A" if value[-1] != "A" else "B")
    other_id = "pvk_" + ("a" * 10 if info.key_id != "a" * 10 else "b" * 10) + value[14:]
    for bad in (flipped, other_id, value[4:], value + "x", "", "pvk_", value.upper(), CANARY_PII):
        with pytest.raises(InvalidApiKeyError) as caught:
            vault.apikeys.authenticate(bad)
        assert str(caught.value) == "invalid or revoked API key"


def test_revoked_keys_fail_and_revocation_is_audited(vault: Vault, client: TestClient) -> None:
    info, token = vault.apikeys.create("svc", ["subjects:write"])
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
    assert client.get("/v1/subjects", headers=headers).status_code == 200
    assert vault.apikeys.revoke(info.key_id).revoked_at is not None
    response = client.get("/v1/subjects", headers=headers)
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["www-authenticate"]
    assert vault.apikeys.revoke(info.key_id).active is False  # again: harmless
    entries = vault.audit.query(target=info.key_id)
    assert [(e.action, e.detail) for e in entries] == [
        ("apikey.create", {"scope_subjects_write": True}),
        ("apikey.revoke", {"already": False}),
        ("apikey.revoke", {"already": True}),
    ]
    with pytest.raises(NotFoundError):
        vault.apikeys.revoke("aaaaaaaaaa" if info.key_id != "aaaaaaaaaa" else "bbbbbbbbbb")
    with pytest.raises(InvalidInputError):
        vault.apikeys.revoke(CANARY_PII)


def test_last_use_is_written_at_most_once_a_minute(vault: Vault, clock: FrozenClock) -> None:
    info, token = vault.apikeys.create("svc", ["checks"])
    first = clock.now()
    vault.apikeys.authenticate(token.get_secret_value())
    assert vault.apikeys.get(info.key_id).last_used_at == first
    clock.advance(timedelta(seconds=59))
    vault.apikeys.authenticate(token.get_secret_value())
    assert vault.apikeys.get(info.key_id).last_used_at == first
    clock.advance(timedelta(seconds=2))
    vault.apikeys.authenticate(token.get_secret_value())
    assert vault.apikeys.get(info.key_id).last_used_at == clock.now()


def test_create_refuses_bad_names_and_scopes(vault: Vault) -> None:
    for name, scopes in (("", ["checks"]), ("x" * 65, ["checks"]), ("a\nb", ["checks"]), ("ok", []), ("ok", ["root"])):
        with pytest.raises(InvalidInputError):
            vault.apikeys.create(name, scopes)
    with pytest.raises(TypeError):
        vault.apikeys.create("ok", "checks")
    assert vault.apikeys.list() == []


# --- the commands -----------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("PSEUDOVAULT_") and name != "PSEUDOVAULT_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    env = {
        "PSEUDOVAULT_HOME": str(tmp_path / "home"),
        "PSEUDOVAULT_PASSPHRASE": PASSPHRASE,
        "PSEUDOVAULT_KDF_TIME_COST": "1",
        "PSEUDOVAULT_KDF_MEMORY_KIB": "8",
        "PSEUDOVAULT_KDF_PARALLELISM": "1",
        "PSEUDOVAULT_AUDIT_CHECKPOINT_EVERY": "3",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def _cli(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(cli_app, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def home(cli_env: dict[str, str]) -> Iterator[dict[str, str]]:
    assert _cli(cli_env, "init").exit_code == 0
    yield cli_env


def test_cli_apikeys_create_prints_the_token_last_and_warns_once(home: dict[str, str]) -> None:
    result = _cli(home, "apikeys", "create", "--name", "x", "--scope", "checks")
    assert result.exit_code == 0, result.stderr
    token = result.stdout.split()[-1]
    parsed = TOKEN.fullmatch(token)
    assert parsed
    assert "shown once" in result.stderr and token not in result.stderr
    listed = json.loads(_cli(home, "apikeys", "list", "--json").stdout)
    assert [k["scopes"] for k in listed] == [["checks"]] and parsed.group(2) not in json.dumps(listed)
    # the token works against an app that opens the same vault from the environment
    app = create_app(ApiSettings())
    cache_time = ManualTime()
    app.state.key_cache = KeyCache(5, clock=cache_time)  # verified keys are trusted for 5 s
    with TestClient(app) as client:
        assert client.get("/v1/subjects", headers={"Authorization": f"Bearer {token}"}).status_code == 403
        key = _cli(home, "apikeys", "create", "--name", "y", "--scope", "subjects:write", "--scope", "admin")
        headers = {"Authorization": f"Bearer {key.stdout.split()[-1]}"}
        assert client.get("/v1/subjects", headers=headers).status_code == 200
        revoked = _cli(home, "apikeys", "revoke", key.stdout.split()[-1].split("_")[1], "--json")
        assert json.loads(revoked.stdout)["active"] is False
        # revoked by another process: the server's cache trusts the key until its entry expires
        assert client.get("/v1/subjects", headers=headers).status_code == 200
        cache_time.advance(5)
        assert client.get("/v1/subjects", headers=headers).status_code == 401


def test_cli_apikeys_refuses_an_unknown_scope(home: dict[str, str]) -> None:
    result = _cli(home, "apikeys", "create", "--name", "x", "--scope", "root", "--scope", "record:write")
    assert result.exit_code == 4
    assert "unknown scope 'record:write'; unknown scope 'root'; known: " in result.stderr, result.stderr
    # a value that does not look like a scope name is counted, never echoed
    shapeless = _cli(home, "apikeys", "create", "--name", "x", "--scope", "kim@example.com")
    assert shapeless.exit_code == 4 and "1 other unknown scope(s)" in shapeless.stderr
    assert "kim@example.com" not in shapeless.stderr
    assert _cli(home, "apikeys", "create", "--name", "x").exit_code == 2  # a scope is required


def test_cli_audit_list_checkpoint_verify_prune(home: dict[str, str]) -> None:
    key_id = json.loads(_cli(home, "apikeys", "create", "--name", "x", "--scope", "checks", "--json").stdout)["key_id"]
    entries = json.loads(_cli(home, "audit", "list", "--action", "apikey.create", "--json").stdout)
    assert [(e["action"], e["targets"], e["actor_kind"]) for e in entries] == [("apikey.create", [key_id], "cli")]
    checkpoint = json.loads(_cli(home, "audit", "checkpoint", "--json").stdout)
    assert checkpoint["key_id"].startswith("ed25519:")
    report = json.loads(_cli(home, "audit", "verify", "--json").stdout)
    assert report["ok"] and report["last_checkpoint_seq"] == checkpoint["seq"]
    assert "intact" in _cli(home, "audit", "verify").stdout
    pruned = json.loads(_cli(home, "audit", "prune", "--json").stdout)
    assert pruned == {"deleted": 0, "before": pruned["before"], "retention_days": 730}
    # never under a year (Standards for Safety Measures, Art. 8), by option or by setting
    assert _cli(home, "audit", "prune", "--older-than-days", "30").exit_code == 2
    assert json.loads(_cli(home, "audit", "prune", "--older-than-days", "365", "--json").stdout)["retention_days"] == 365
    refused = _cli({**home, "PSEUDOVAULT_AUDIT_RETENTION_DAYS": "1"}, "audit", "prune")
    assert refused.exit_code == 4 and "PSEUDOVAULT_AUDIT_RETENTION_DAYS" in refused.stderr

    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{home['PSEUDOVAULT_HOME']}/data.sqlite3")
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_entries SET outcome = 'denied' WHERE seq = 1"))
    engine.dispose()
    broken = _cli(home, "audit", "verify", "--json")
    assert broken.exit_code == 9 and json.loads(broken.stdout)["first_broken_seq"] == 1
    assert "BROKEN at seq 1" in _cli(home, "audit", "verify").stdout
