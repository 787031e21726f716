"""Key and audit endpoints (scope ``admin``), a class per endpoint: anonymous (401), missing scope
(403), valid; what each writes to the audit log; never key material in an answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete, insert, select, update

from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.store.data_models import AuditCheckpoint, AuditEntry, AuditHead
from pseudovault.vault.vault import Vault

Auth = Callable[..., dict[str, str]]
NOT_ADMIN = ("subjects:write", "subjects:reveal", "erasure", "checks", "records:read", "records:write")


def _key_id(headers: dict[str, str]) -> str:
    return headers["Authorization"].split("_")[1]


def _denied(client: TestClient, auth: Auth, method: str, path: str) -> None:
    assert client.request(method, path).status_code == 401
    for scope in NOT_ADMIN:
        assert client.request(method, path, headers=auth(scope)).status_code == 403, scope


class TestKeyStatus:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth) -> None:
        _denied(client, auth, "GET", "/v1/keys")

    def test_valid_shows_ids_and_never_key_material(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        response = client.get("/v1/keys", headers=auth("admin"))
        assert response.status_code == 200
        body = response.json()
        assert body["provider"]["kind"] == "fake" and body["current_epoch"] == 1
        assert body["root_key_ids_in_use"] == ["fake:1"]
        [signing] = body["signing_keys"]
        assert signing["purpose"] == "audit" and signing["key_id"] == vault.signing.current("audit").key_id
        assert [v["version"] for v in body["lookup_keys"]] == [1]
        seed = vault.signing.current("audit").seed().reveal()
        assert seed.hex() not in response.text and "wrapped" not in response.text and "material" not in response.text


class TestRotateKeys:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        _denied(client, auth, "POST", "/v1/keys/rotate")
        assert vault.keys.current_epoch() == 1

    def test_valid_is_audited(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("admin")
        response = client.post("/v1/keys/rotate", headers=headers)
        assert response.status_code == 200 and response.json() == {"root_key_id": "fake:2", "epoch": 2}
        [entry] = vault.audit.query(action="keys.rotate")
        assert (entry.actor_kind, entry.actor_id) == ("api_key", _key_id(headers))


class TestRewrapKeys:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth) -> None:
        _denied(client, auth, "POST", "/v1/keys/rewrap")

    def test_valid_moves_everything_and_is_audited(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        vault.subjects.create({"email": "kim@example.com"})
        headers = auth("admin")
        client.post("/v1/keys/rotate", headers=headers)
        response = client.post("/v1/keys/rewrap", params={"batch_size": 1}, headers=headers)
        assert response.status_code == 200
        assert response.json() == {
            "data_keys_rewrapped": 1,
            "epoch_keys_rewrapped": 0,
            "epochs_destroyed": 1,
            "lookup_keys_rewrapped": 1,
            "signing_keys_rewrapped": 1,
            "root_key_ids_in_use": ["fake:2"],
            "root_keys_destroyed": ["fake:1"],
        }
        [entry] = vault.audit.query(action="keys.rewrap")
        assert entry.actor_id == _key_id(headers) and entry.detail["signing_keys_rewrapped"] == 1
        assert entry.detail["root_keys_destroyed"] == 1
        assert client.get("/v1/audit/verify", headers=headers).json()["ok"] is True


class TestAuditQuery:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth) -> None:
        _denied(client, auth, "GET", "/v1/audit")

    def test_filters_and_cursor(self, client: TestClient, auth: Auth, vault: Vault, clock: FrozenClock) -> None:
        headers = auth("admin")
        ids = []
        for _ in range(3):
            clock.advance(timedelta(hours=1))
            ids.append(vault.subjects.create({"name": "Kim"}))
        page = client.get("/v1/audit", params={"action": "subject.create", "limit": 2}, headers=headers).json()
        assert [item["targets"] for item in page["items"]] == [[ids[0]], [ids[1]]]
        rest = client.get(
            "/v1/audit", params={"action": "subject.create", "cursor": page["next_cursor"]}, headers=headers
        ).json()
        assert [item["targets"] for item in rest["items"]] == [[ids[2]]] and rest["next_cursor"] is None
        by_target = client.get("/v1/audit", params={"target": ids[1]}, headers=headers).json()["items"]
        assert [item["action"] for item in by_target] == ["subject.create"]
        since = (clock.now() - timedelta(minutes=30)).isoformat()
        recent = client.get("/v1/audit", params={"since": since, "action": "subject.create"}, headers=headers).json()
        assert [item["targets"] for item in recent["items"]] == [[ids[2]]]
        mine = client.get("/v1/audit", params={"actor_id": "system", "limit": 1000}, headers=headers).json()["items"]
        assert {item["actor_id"] for item in mine} == {"system"}

    def test_a_target_is_matched_exactly_not_as_a_pattern(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        vault.audit.append("test.event", targets=["a_b"])
        vault.audit.append("test.event", targets=["axb"])
        items = client.get("/v1/audit", params={"target": "a_b"}, headers=auth("admin")).json()["items"]
        assert [item["targets"] for item in items] == [["a_b"]]


class TestAuditVerify:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth) -> None:
        _denied(client, auth, "GET", "/v1/audit/verify")

    def test_reports_the_first_broken_link(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("admin")
        for _ in range(3):
            vault.subjects.create({"name": "Kim"})
        ok = client.get("/v1/audit/verify", headers=headers).json()
        assert ok["ok"] is True and ok["signed"] is True and ok["first_broken_seq"] is None
        with vault.data_engine.begin() as connection:
            connection.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(outcome="denied"))
        broken = client.get("/v1/audit/verify", headers=headers)
        assert broken.status_code == 200
        assert broken.json()["ok"] is False and broken.json()["first_broken_seq"] == 2


class TestAuditCheckpoint:
    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        _denied(client, auth, "POST", "/v1/audit/checkpoint")
        assert vault.audit.count_checkpoints() == 0

    def test_valid_signs_the_head_and_is_audited(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("admin")
        response = client.post("/v1/audit/checkpoint", headers=headers)
        assert response.status_code == 200
        checkpoint: dict[str, Any] = response.json()
        assert len(bytes.fromhex(checkpoint["signature"])) == 64
        [entry] = vault.audit.query(action="audit.checkpoint")
        assert entry.seq == checkpoint["seq"] and entry.actor_id == _key_id(headers)
        report = client.get("/v1/audit/verify", headers=headers).json()
        assert report["ok"] and report["last_checkpoint_seq"] == checkpoint["seq"]


class TestAuditAcknowledgeRestore:
    def _restore_a_backup(self, vault: Vault) -> int:
        """The audit tables restored to a copy taken before the last checkpoint; returns how far the
        log had reached."""
        tables = (AuditEntry, AuditCheckpoint, AuditHead)
        vault.subjects.create({"name": "Kim"})
        with vault.data_engine.connect() as connection:
            backup = {t: [dict(r) for r in connection.execute(select(t.__table__)).mappings()] for t in tables}
        vault.subjects.create({"name": "Lee"})
        reached = vault.audit.checkpoint().seq
        with vault.data_engine.begin() as connection:
            for t in tables:
                connection.execute(delete(t.__table__))
                if backup[t]:
                    connection.execute(insert(t.__table__), backup[t])
        return reached

    def test_anonymous_and_missing_scope(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        self._restore_a_backup(vault)
        _denied(client, auth, "POST", "/v1/audit/acknowledge-restore")
        assert vault.audit.query(action="audit.acknowledge_restore") == []

    def test_valid_records_the_restore_and_the_log_verifies(self, client: TestClient, auth: Auth, vault: Vault) -> None:
        headers = auth("admin")
        reached = self._restore_a_backup(vault)
        ended = vault.audit.head()[0]
        assert client.get("/v1/audit/verify", headers=headers).json()["ok"] is False
        response = client.post("/v1/audit/acknowledge-restore", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["seq"], body["log_ended_at"], body["had_reached"]) == (ended + 1, ended, reached)
        [entry] = vault.audit.query(action="audit.acknowledge_restore")
        assert entry.seq == body["seq"] and entry.actor_id == _key_id(headers)
        assert client.get("/v1/audit/verify", headers=headers).json()["ok"] is True
        # no checkpoint file here: the acknowledgement lives in the log and the key store's mark
        assert client.post("/v1/audit/acknowledge-restore", headers=headers).status_code == 409

    def test_nothing_to_acknowledge_is_a_conflict_that_records_nothing(
        self, client: TestClient, auth: Auth, vault: Vault
    ) -> None:
        vault.subjects.create({"name": "Kim"})
        headers = auth("admin")
        count = vault.audit.count()
        response = client.post("/v1/audit/acknowledge-restore", headers=headers)
        assert response.status_code == 409
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "there is no restore to acknowledge" in response.json()["detail"]
        assert vault.audit.count() == count
