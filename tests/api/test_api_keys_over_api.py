"""API keys over the API: every key reads its own entry and rotates its own token; an admin key
lists, shows and revokes keys; nothing over the API mints a key or hands out another key's token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient

from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.vault import Vault

CHECK = {"identifiers": [{"kind": "email", "value": "new@signup.example"}]}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_key_reads_its_own_entry_and_nothing_else(client: TestClient, make_key: Callable[..., str]) -> None:
    token = make_key("checks", name="signup-service")
    own = client.get("/v1/apikeys/self", headers=_bearer(token))
    assert own.status_code == 200, own.text
    body = own.json()
    assert body["key_id"] == token[4:14] and body["name"] == "signup-service"
    assert body["scopes"] == ["checks"] and body["active"] is True and "token" not in body
    assert token[15:] not in own.text
    # listing, showing or revoking other keys is admin's
    assert client.get("/v1/apikeys", headers=_bearer(token)).status_code == 403
    assert client.get(f"/v1/apikeys/{body['key_id']}", headers=_bearer(token)).status_code == 403
    assert client.post(f"/v1/apikeys/{body['key_id']}/revoke", headers=_bearer(token)).status_code == 403


def test_a_key_rotates_its_own_token_with_a_grace_period(
    client: TestClient, make_key: Callable[..., str], vault: Vault, clock: FrozenClock
) -> None:
    old = make_key("checks", name="signup-service")
    key_id = old[4:14]
    assert client.post("/v1/checks", headers=_bearer(old), json=CHECK).status_code == 200  # cached now
    # the grace period is a choice: never defaulted
    missing = client.post("/v1/apikeys/self/rotate", headers=_bearer(old), json={})
    assert missing.status_code == 422 and missing.headers["content-type"] == "application/problem+json"
    too_long = client.post("/v1/apikeys/self/rotate", headers=_bearer(old), json={"grace_seconds": 31 * 86400})
    assert too_long.status_code == 422
    assert vault.apikeys.get(key_id).rotated_at is None

    rotated = client.post("/v1/apikeys/self/rotate", headers=_bearer(old), json={"grace_seconds": 3600})
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    new = body["token"]
    assert new != old and new[4:14] == key_id and body["key_id"] == key_id
    assert body["scopes"] == ["checks"] and body["rotated_at"] is not None
    assert body["previous_valid_until"] == (clock.now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert rotated.headers["cache-control"] == "no-store"
    # both tokens work for the grace period, then only the new one
    assert client.post("/v1/checks", headers=_bearer(new), json=CHECK).status_code == 200
    assert client.post("/v1/checks", headers=_bearer(old), json=CHECK).status_code == 200
    clock.advance(timedelta(hours=1))
    assert client.post("/v1/checks", headers=_bearer(old), json=CHECK).status_code == 401
    assert client.post("/v1/checks", headers=_bearer(new), json=CHECK).status_code == 200
    (entry,) = vault.audit.query(action="apikey.rotate")
    assert tuple(entry.targets) == (key_id,) and entry.actor_id == key_id and entry.detail == {"grace_seconds": 3600}
    assert new[15:] not in repr(entry) and old[15:] not in repr(entry)


def test_a_rotation_without_grace_refuses_the_old_token_at_once(
    client: TestClient, make_key: Callable[..., str]
) -> None:
    old = make_key("records:read")
    assert client.get("/v1/records", headers=_bearer(old)).status_code == 200
    new = client.post("/v1/apikeys/self/rotate", headers=_bearer(old), json={"grace_seconds": 0}).json()["token"]
    assert client.get("/v1/records", headers=_bearer(old)).status_code == 401
    assert client.get("/v1/records", headers=_bearer(new)).status_code == 200


def test_admin_lists_shows_and_revokes_keys_and_mints_none(
    client: TestClient, make_key: Callable[..., str], vault: Vault, clock: FrozenClock
) -> None:
    admin = make_key("admin", name="ops")
    service = make_key("checks", name="signup-service")
    service_id = service[4:14]
    assert client.post("/v1/checks", headers=_bearer(service), json=CHECK).status_code == 200
    listed = client.get("/v1/apikeys", headers=_bearer(admin))
    assert listed.status_code == 200
    by_name = {item["name"]: item for item in listed.json()["items"]}
    assert set(by_name) == {"ops", "signup-service"}
    assert by_name["signup-service"]["last_used_at"] is not None  # the check was its first use
    assert service[15:] not in listed.text and admin[15:] not in listed.text
    shown = client.get(f"/v1/apikeys/{service_id}", headers=_bearer(admin))
    assert shown.status_code == 200 and shown.json() == by_name["signup-service"]

    revoked = client.post(f"/v1/apikeys/{service_id}/revoke", headers=_bearer(admin))
    assert revoked.status_code == 200 and revoked.json()["active"] is False and revoked.json()["revoked_at"]
    assert client.post("/v1/checks", headers=_bearer(service), json=CHECK).status_code == 401  # at once: cached before
    again = client.post(f"/v1/apikeys/{service_id}/revoke", headers=_bearer(admin))
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]
    active = client.get("/v1/apikeys", headers=_bearer(admin), params={"active": "true"}).json()["items"]
    assert [item["name"] for item in active] == ["ops"]
    (entry,) = [e for e in vault.audit.query(action="apikey.revoke") if e.detail == {"already": False}]
    assert entry.actor_id == admin[4:14] and tuple(entry.targets) == (service_id,)

    # a revoked key cannot rotate itself back to life
    assert client.post("/v1/apikeys/self/rotate", headers=_bearer(service), json={"grace_seconds": 0}).status_code == 401
    # unknown and malformed ids
    assert client.get("/v1/apikeys/aaaaaaaaaa", headers=_bearer(admin)).status_code == 404
    assert client.post("/v1/apikeys/aaaaaaaaaa/revoke", headers=_bearer(admin)).status_code == 404
    assert client.get("/v1/apikeys/NOT-AN-ID", headers=_bearer(admin)).status_code == 422
    # nothing mints a key, and nothing rotates another key's token
    assert client.post("/v1/apikeys", headers=_bearer(admin), json={"name": "x", "scopes": ["subjects:reveal"]}).status_code == 405
    admin_id = admin[4:14]
    assert client.post(f"/v1/apikeys/{admin_id}/rotate", headers=_bearer(admin), json={"grace_seconds": 0}).status_code == 404
    assert sorted(info.name for info in vault.apikeys.list()) == ["ops", "signup-service"]
