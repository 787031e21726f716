"""/v1/retention and /v1/holds: the policies in force, previews of a change, reports, the sweeper
over time, reviews, and legal holds that stop it until released. Time is the suite's frozen
clock: the tests travel months ahead without sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from canary import CANARY_PII
from fastapi.testclient import TestClient

from pseudovault.api.app import create_app
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import NotFoundError
from pseudovault.vault.retention.policy_file import parse_policies, shipped_presets
from pseudovault.vault.vault import Vault

Auth = Callable[..., dict[str, str]]

ACCESS_LOG_6MO = """
[policies.access_log]
name = "Access logs"
period = "6mo"
trigger = "collected"
basis = "Protection of Communications Secrets Act, Art. 15-2: at least 3 months; 6 by internal policy"
action = "shred_subject"
on_withdrawal = "separate"
on_erasure = "retain"
"""
ACCESS_LOG_1MO = ACCESS_LOG_6MO.replace('"6mo"', '"1mo"')


def policies_with(text: str) -> Any:
    return parse_policies(text, source="edited.toml", catalogue=shipped_presets())


def _access_log_subject(vault: Vault, value: str = CANARY_PII) -> str:
    """A subject whose one field is an access log collected now: due in 3 months (the preset)."""
    subject_id = vault.retention.create_subject({"ip_log": value}, {"access_log": None})
    vault.retention.record_event("subject", subject_id, "collected", at=vault.clock.now())
    return subject_id


def _alive(vault: Vault, subject_id: str) -> bool:
    try:
        vault.subjects.read(subject_id, purpose="test")
    except NotFoundError:
        return False
    return True


class TestPolicies:
    def test_the_policies_in_force(self, client: TestClient, auth: Auth) -> None:
        response = client.get("/v1/retention/policies", headers=auth("admin"))
        assert response.status_code == 200
        data = response.json()
        assert data["fingerprint"] == shipped_presets().fingerprint
        policies = {p["category"]: p for p in data["policies"]}
        assert set(policies) == set(shipped_presets().codes())
        assert policies["payment_supply"]["period"] == "5y" and "Electronic Commerce" in policies["payment_supply"]["basis"]
        assert policies["access_log"]["period"] == "3mo"
        dormant = policies["dormant_account"]
        assert dormant["enabled"] is False and dormant["repealed"] and dormant["optional"] is True
        for policy in policies.values():
            assert policy["basis"]

    def test_a_diff_previews_without_changing(self, client: TestClient, vault: Vault, auth: Auth, clock: FrozenClock) -> None:
        subject_id = _access_log_subject(vault)
        (before,) = vault.retention.items(subject_id)
        response = client.post("/v1/retention/policies/diff", json={"policies": ACCESS_LOG_6MO}, headers=auth("admin"))
        assert response.status_code == 200, response.json()
        diff = response.json()
        assert diff["applied"] is False and diff["policies_changed"] == ["access_log"]
        (change,) = diff["changes"]
        assert (change["target_id"], change["change"]) == (subject_id, "later")
        assert diff["summary"]["access_log"]["later"] == 1
        shorter = client.post("/v1/retention/policies/diff", json={"policies": ACCESS_LOG_1MO}, headers=auth("admin"))
        assert shorter.json()["summary"]["access_log"]["earlier"] == 1
        # two months on, a 1-month policy would destroy it at once: the preview says so
        clock.advance(timedelta(days=62))
        due_now = client.post("/v1/retention/policies/diff", json={"policies": ACCESS_LOG_1MO}, headers=auth("admin"))
        assert due_now.json()["summary"]["access_log"]["due_now"] == 1
        (after,) = vault.retention.items(subject_id)
        assert after == before and _alive(vault, subject_id)

    @pytest.mark.parametrize(
        ("text", "line", "words"),
        [
            ('[policies.no_such_category]\nperiod = "1y"\n', 1, "unknown"),
            (ACCESS_LOG_6MO.replace('"6mo"', '"-6mo"'), 4, "period"),
            (ACCESS_LOG_6MO.replace('basis = "Protection of Communications Secrets Act, Art. 15-2: at least 3 months; '
                                    '6 by internal policy"\n', ""), 2, "basis"),
            ("[policies.access_log\n", 1, ""),
        ],
    )
    def test_an_invalid_policy_file_is_422_with_its_line(
        self, client: TestClient, auth: Auth, text: str, line: int, words: str
    ) -> None:
        response = client.post("/v1/retention/policies/diff", json={"policies": text}, headers=auth("admin"))
        assert response.status_code == 422, response.json()
        (error,) = response.json()["errors"]
        assert error["pointer"] == "#/policies"
        assert error["detail"].startswith(f"line {line}:"), error["detail"]
        assert words in error["detail"]

    def test_apply_with_the_policies_in_force(self, client: TestClient, auth: Auth) -> None:
        dry = client.post("/v1/retention/policies/apply", json={"dry_run": True}, headers=auth("admin"))
        assert dry.status_code == 200 and dry.json()["applied"] is False
        applied = client.post("/v1/retention/policies/apply", json={}, headers=auth("admin"))
        assert applied.status_code == 200 and applied.json()["applied"] is True
        assert applied.json()["to_fingerprint"] == shipped_presets().fingerprint


class TestNotice:
    def test_the_notice_is_written_from_the_policies_in_force(self, client: TestClient, auth: Auth) -> None:
        assert client.get("/v1/retention/notice").status_code == 401
        assert client.get("/v1/retention/notice", headers=auth("checks")).status_code == 403
        korean = client.get("/v1/retention/notice", headers=auth("admin"))
        assert korean.status_code == 200 and korean.headers["content-type"].startswith("text/markdown")
        assert "개인정보의 보유 및 파기" in korean.text
        page = client.get("/v1/retention/notice", params={"lang": "en", "format": "html"}, headers=auth("admin"))
        assert page.headers["content-type"].startswith("text/html") and "<table>" in page.text
        assert client.get("/v1/retention/notice", params={"lang": "fr"}, headers=auth("admin")).status_code == 422


class TestAwaitingEvent:
    def test_data_waiting_for_its_event_is_in_the_report(
        self, client: TestClient, vault: Vault, auth: Auth, clock: FrozenClock
    ) -> None:
        vault.retention.create_subject({"order_ref": "o-1"}, ["payment_supply"])
        clock.advance(timedelta(days=45))
        report = client.get("/v1/retention/report", params={"days": 30}, headers=auth("admin")).json()
        assert report["total"] == 0 and report["awaiting_event"] == [
            {"category": "payment_supply", "trigger": "payment", "items": 1, "under_ceiling": 0,
             "oldest": "2026-01-01T00:00:00Z", "oldest_days": 45, "ceiling": None}
        ]
        policies = client.get("/v1/retention/policies", headers=auth("admin")).json()["policies"]
        assert {p["category"]: p["ceiling"] for p in policies}["payment_supply"] is None


class TestSweep:
    def test_nothing_a_day_early_everything_on_the_day(
        self, client: TestClient, vault: Vault, auth: Auth, clock: FrozenClock
    ) -> None:
        admin = auth("admin")
        subject_id = _access_log_subject(vault)
        report = client.get("/v1/retention/report", params={"days": 120}, headers=admin).json()
        (group,) = report["categories"]
        assert (group["category"], group["action"], group["items"], group["overdue"]) == ("access_log", "shred_subject", 1, 0)
        assert group["basis"].startswith("Protection of Communications Secrets Act")
        assert client.get("/v1/retention/report", params={"days": 30}, headers=admin).json()["total"] == 0
        (item,) = client.get(f"/v1/retention/items/{subject_id}", headers=admin).json()["items"]
        due = item["due_at"]

        clock.advance(timedelta(days=89))
        early = client.post("/v1/retention/sweep", json={}, headers=admin).json()
        assert (early["due"], early["applied"]) == (0, 0) and _alive(vault, subject_id)

        clock.advance(timedelta(days=3))
        assert clock.now().isoformat() >= due
        dry = client.post("/v1/retention/sweep", json={"dry_run": True}, headers=admin).json()
        assert dry["dry_run"] is True and dry["due"] == 1 and _alive(vault, subject_id)
        assert [p["target_id"] for p in dry["planned"]] == [subject_id]
        swept = client.post("/v1/retention/sweep", json={"batch_size": 10}, headers=admin)
        assert swept.status_code == 200
        result = swept.json()
        assert (result["due"], result["applied"], result["held"], result["failed"]) == (1, 1, 0, 0)
        assert result["by_category"] == {"access_log": {"shredded": 1}}
        assert not _alive(vault, subject_id)
        (done,) = client.get(f"/v1/retention/items/{subject_id}", headers=admin).json()["items"]
        assert (done["state"], done["outcome"]) == ("done", "shredded")
        again = client.post("/v1/retention/sweep", json={}, headers=admin).json()
        assert again["applied"] == 0

    def test_a_hold_keeps_it_until_released(self, client: TestClient, vault: Vault, auth: Auth, clock: FrozenClock) -> None:
        admin = auth("admin")
        held_id = _access_log_subject(vault)
        free_id = _access_log_subject(vault, "another log")
        placed = client.post(
            "/v1/holds",
            json={"target_kind": "subject", "target_id": held_id, "reason_code": "investigation", "reference": "INV-7"},
            headers=admin,
        )
        assert placed.status_code == 201
        hold = placed.json()
        clock.advance(timedelta(days=200))
        report = client.get("/v1/retention/report", params={"days": 0}, headers=admin).json()
        assert (report["total"], report["held"]) == (2, 1) and report["categories"][0]["overdue"] == 2
        swept = client.post("/v1/retention/sweep", json={}, headers=admin).json()
        assert (swept["applied"], swept["held"]) == (1, 1)
        assert _alive(vault, held_id) and not _alive(vault, free_id)
        clock.advance(timedelta(days=365))
        assert client.post("/v1/retention/sweep", json={}, headers=admin).json()["held"] == 1
        assert _alive(vault, held_id)

        released = client.post(f"/v1/holds/{hold['hold_id']}/release", json={"reason_code": "case_closed"}, headers=admin)
        assert released.status_code == 200
        assert released.json()["release_reason_code"] == "case_closed" and released.json()["released_by"]
        assert client.post("/v1/retention/sweep", json={}, headers=admin).json()["applied"] == 1
        assert not _alive(vault, held_id)

    def test_a_changed_policy_file_stops_sweeps_until_applied(
        self, vault: Vault, store_urls: Any, provider: Any, clock: FrozenClock, api_settings: Any, limiter: Any,
        make_key: Callable[..., str],
    ) -> None:
        """The server restarted with an edited policy file: sweeps are refused (409) until the
        change is applied, then due dates follow the new policy."""
        subject_id = _access_log_subject(vault)
        vault.retention.ensure_applied()  # the presets are what the stored due dates were computed under
        headers = {"Authorization": f"Bearer {make_key('admin')}"}
        with Vault.open(provider, store_urls.data, store_urls.keys, clock=clock,
                        retention_policies=policies_with(ACCESS_LOG_1MO)) as edited:
            with TestClient(create_app(api_settings, vault=edited, limiter=limiter)) as client:
                clock.advance(timedelta(days=40))
                refused = client.post("/v1/retention/sweep", json={}, headers=headers)
                assert refused.status_code == 409 and "apply" in refused.json()["detail"]
                assert _alive(vault, subject_id)
                applied = client.post("/v1/retention/policies/apply", json={}, headers=headers).json()
                assert applied["applied"] is True and applied["summary"]["access_log"]["earlier"] == 1
                swept = client.post("/v1/retention/sweep", json={}, headers=headers).json()
                assert swept["applied"] == 1 and not _alive(vault, subject_id)

    def test_sweep_input(self, client: TestClient, auth: Auth) -> None:
        for bad in ({"batch_size": 0}, {"batch_size": 10_001}, {"batch_size": "5"}, {"dry_run": "yes"}, {"x": 1}):
            assert client.post("/v1/retention/sweep", json=bad, headers=auth("admin")).status_code == 422, bad
        for days in ("-1", "36601", "soon"):
            assert client.get("/v1/retention/report", params={"days": days}, headers=auth("admin")).status_code == 422


class TestReviews:
    def test_keep_or_destroy_a_review(self, client: TestClient, vault: Vault, auth: Auth, clock: FrozenClock) -> None:
        admin = auth("admin")
        record_id = vault.records.create([("email", CANARY_PII)], category="rejoin_restriction", reason_code="abuse")
        vault.retention.record_event("record", record_id, "fraud_confirmed", at=clock.now())
        clock.advance(timedelta(days=367))
        client.post("/v1/retention/sweep", json={}, headers=admin)
        items = client.get(f"/v1/retention/items/{record_id}", headers=admin).json()["items"]
        (waiting,) = [i for i in items if i["state"] == "review"]
        assert client.get("/v1/retention/report", params={"days": 0}, headers=admin).json()["reviews_waiting"] == {
            "rejoin_restriction": 1
        }

        kept = client.post(f"/v1/retention/items/{waiting['item_id']}/review", json={"decision": "keep"}, headers=admin)
        assert kept.status_code == 200 and kept.json()["state"] == "pending"
        again = client.post(f"/v1/retention/items/{waiting['item_id']}/review", json={"decision": "keep"}, headers=admin)
        assert again.status_code == 409
        assert vault.records.get(record_id) is not None

        clock.advance(timedelta(days=367))
        client.post("/v1/retention/sweep", json={}, headers=admin)
        destroyed = client.post(
            f"/v1/retention/items/{waiting['item_id']}/review",
            json={"decision": "destroy", "reason_code": "no_longer_needed"},
            headers=admin,
        )
        assert destroyed.status_code == 200 and destroyed.json()["state"] == "done"
        with pytest.raises(NotFoundError):
            vault.records.get(record_id)

    def test_review_input(self, client: TestClient, auth: Auth) -> None:
        admin = auth("admin")
        assert client.post("/v1/retention/items/999999/review", json={"decision": "keep"}, headers=admin).status_code == 404
        assert client.post("/v1/retention/items/1/review", json={"decision": "maybe"}, headers=admin).status_code == 422
        assert client.post("/v1/retention/items/0/review", json={"decision": "keep"}, headers=admin).status_code == 422
        assert client.post("/v1/retention/items/1/review", json={"decision": "keep", "reason_code": "Bad Code"},
                           headers=admin).status_code == 422
        assert client.get("/v1/retention/items/not-a-uuid", headers=admin).status_code == 422


class TestHolds:
    def _place(self, client: TestClient, headers: dict[str, str], **body: Any) -> Any:
        return client.post("/v1/holds", json=body, headers=headers)

    def test_place_list_show_release(self, client: TestClient, vault: Vault, auth: Auth, clock: FrozenClock) -> None:
        admin = auth("admin")
        subject_id = _access_log_subject(vault)
        record_id = vault.records.create([("email", "held@example.com")], category="fraudulent_transaction",
                                         reason_code="chargeback")
        until = (clock.now() + timedelta(days=30)).isoformat()
        on_subject = self._place(client, admin, target_kind="subject", target_id=subject_id, reason_code="litigation",
                                 reference="CASE-1")
        on_record = self._place(client, admin, target_kind="record", target_id=record_id, reason_code="dispute",
                                reference="CASE-2", until=until)
        assert on_subject.status_code == on_record.status_code == 201
        subject_hold, record_hold = on_subject.json(), on_record.json()
        assert subject_hold["until"] is None and subject_hold["active"] is True
        assert record_hold["until"] is not None

        listed = client.get("/v1/holds", headers=admin).json()["items"]
        assert {h["hold_id"] for h in listed} == {subject_hold["hold_id"], record_hold["hold_id"]}
        only = client.get("/v1/holds", params={"target_id": record_id}, headers=admin).json()["items"]
        assert [h["hold_id"] for h in only] == [record_hold["hold_id"]]
        shown = client.get(f"/v1/holds/{subject_hold['hold_id']}", headers=admin)
        assert shown.status_code == 200 and shown.json() == subject_hold

        # the record hold lapses by itself; the subject's is released
        clock.advance(timedelta(days=31))
        assert [h["hold_id"] for h in client.get("/v1/holds", headers=admin).json()["items"]] == [subject_hold["hold_id"]]
        release = client.post(f"/v1/holds/{subject_hold['hold_id']}/release", json={}, headers=admin)
        assert release.status_code == 200 and release.json()["active"] is False
        twice = client.post(f"/v1/holds/{subject_hold['hold_id']}/release", json={}, headers=admin)
        assert twice.status_code == 200 and twice.json()["released_at"] == release.json()["released_at"]
        assert client.get("/v1/holds", headers=admin).json()["items"] == []
        assert len(client.get("/v1/holds", params={"all": "true"}, headers=admin).json()["items"]) == 2

        actions = [e.action for e in vault.audit.query(limit=1000) if e.action.startswith("hold.")]
        assert actions.count("hold.place") == 2 and actions.count("hold.release") >= 1

    def test_hold_input(self, client: TestClient, vault: Vault, auth: Auth, clock: FrozenClock) -> None:
        admin = auth("admin")
        subject_id = _access_log_subject(vault)
        ok = {"target_kind": "subject", "target_id": subject_id, "reason_code": "litigation", "reference": "CASE-1"}
        assert self._place(client, admin, **(ok | {"target_id": "0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10"})).status_code == 404
        for bad in (
            ok | {"target_kind": "tenant"},
            ok | {"target_id": "x"},
            ok | {"reason_code": "Litigation!"},
            ok | {"reference": CANARY_PII},
            ok | {"reference": "has space"},
            ok | {"until": (clock.now() - timedelta(days=1)).isoformat()},
            ok | {"until": "2030-01-01T00:00:00"},
            ok | {"until": 1893456000},
            {k: v for k, v in ok.items() if k != "reference"},
        ):
            response = self._place(client, admin, **bad)
            assert response.status_code == 422, (bad, response.json())
            assert CANARY_PII not in response.text
        assert client.get("/v1/holds", headers=admin).json()["items"] == []
        assert client.get("/v1/holds/0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10", headers=admin).status_code == 404
        assert client.post("/v1/holds/0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10/release", json={},
                           headers=admin).status_code == 404
        assert client.get("/v1/holds", params={"limit": 0}, headers=admin).status_code == 422


@pytest.mark.parametrize("scope", ["checks", "records:read", "records:write", "subjects:write", "subjects:reveal",
                                   "erasure", "restricted:read"])
def test_retention_and_holds_need_admin(client: TestClient, vault: Vault, auth: Auth, scope: str) -> None:
    subject_id = _access_log_subject(vault)
    headers = auth(scope)
    calls = [
        ("GET", "/v1/retention/policies", None),
        ("POST", "/v1/retention/policies/diff", {"policies": ACCESS_LOG_6MO}),
        ("POST", "/v1/retention/policies/apply", {}),
        ("GET", "/v1/retention/report", None),
        ("POST", "/v1/retention/sweep", {}),
        ("GET", f"/v1/retention/items/{subject_id}", None),
        ("POST", "/v1/retention/items/1/review", {"decision": "keep"}),
        ("POST", "/v1/holds", {"target_kind": "subject", "target_id": subject_id, "reason_code": "x", "reference": "C"}),
        ("GET", "/v1/holds", None),
    ]
    for method, path, body in calls:
        assert client.request(method, path, json=body, headers=headers).status_code == 403, (method, path)
        assert client.request(method, path, json=body).status_code == 401, (method, path)
    assert vault.holds.list() == []
