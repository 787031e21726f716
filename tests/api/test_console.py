"""The web console over HTTP (SQLite and PostgreSQL): sessions, CSRF, headers, scopes, and each
page's main action against the vault. The same flows run in Chromium in tests/browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from canary import CANARY_PII
from console_support import csrf_of, post_form, sign_in
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert, select, text

from pseudovault.api.console.web import CSP
from pseudovault.vault.store.data_models import AuditCheckpoint, AuditEntry, AuditHead
from pseudovault.vault.vault import Vault

EMAIL = "console.person@example.com"


@pytest.fixture
def web(app: Any) -> Iterator[TestClient]:
    """A browser on HTTPS (cookies are Secure outside loopback)."""
    with TestClient(app, base_url="https://vault.example") as test_client:
        yield test_client


def _record(vault: Vault, email: str = EMAIL, **extra: Any) -> str:
    return vault.records.create(
        [("email", email)], category="fraudulent_transaction", reason_code="chargeback", reason="ring, case 7", **extra
    )


def test_pages_need_a_session(web: TestClient) -> None:
    for path in ("/console/", "/console/records", "/console/audit", "/console/keys"):
        answer = web.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/sign-in"
    refused = web.post("/console/check", data={"email": EMAIL}, follow_redirects=False)
    assert refused.status_code == 401


def test_sign_in_sets_a_strict_cookie_holding_only_a_session_id(web: TestClient, make_key: Any, vault: Vault) -> None:
    token = make_key("checks")
    form = web.get("/console/sign-in")
    answer = web.post(
        "/console/sign-in", data={"csrf": csrf_of(form.text), "api_key": token}, follow_redirects=False
    )
    assert answer.status_code == 303
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("pv_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Path=/console" in cookie and "Secure" in cookie
    # pvk_<id>_<secret>: the secret may hold "_" itself, so it is everything after the second one
    assert token not in cookie and token.split("_", 2)[2] not in cookie
    # the store holds the hash of the id, never the id itself
    session_id = re.search(r"pv_session=([^;]+)", cookie).group(1)  # type: ignore[union-attr]
    with vault.data_engine.connect() as connection:
        stored = [bytes(r[0]).hex() for r in connection.execute(text("SELECT id_hash FROM console_sessions"))]
    assert len(stored) == 1 and session_id.encode().hex() not in stored[0]


def test_wrong_key_is_refused_without_a_session(web: TestClient) -> None:
    form = web.get("/console/sign-in")
    answer = web.post("/console/sign-in", data={"csrf": csrf_of(form.text), "api_key": "pvk_nope"})
    assert answer.status_code == 401
    assert "pv_session=" not in answer.headers.get("set-cookie", "")


def test_sign_in_without_its_csrf_token_is_refused(web: TestClient, make_key: Any) -> None:
    web.get("/console/sign-in")
    answer = web.post("/console/sign-in", data={"csrf": "forged", "api_key": make_key("checks")})
    assert answer.status_code == 403
    assert "pv_session=" not in answer.headers.get("set-cookie", "")


def test_every_answer_has_the_strict_headers(web: TestClient, make_key: Any) -> None:
    sign_in(web, make_key("admin"))
    for path in ("/console/", "/console/sign-in", "/console/static/console.css", "/console/keys"):
        answer = web.get(path)
        assert answer.headers["content-security-policy"] == CSP, path
        assert "'unsafe-inline'" not in CSP and "default-src 'self'" in CSP
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "same-origin"
    page = web.get("/console/keys").text
    assert "<script>" not in page and " style=" not in page and "onclick" not in page


def test_a_post_without_the_csrf_token_changes_nothing(web: TestClient, make_key: Any, vault: Vault) -> None:
    record_id = _record(vault)
    csrf = sign_in(web, make_key("records:read", "records:write"))
    forged = web.post(f"/console/records/{record_id}/revoke", data={"reason_code": "x"}, follow_redirects=False)
    assert forged.status_code == 403
    other_origin = web.post(
        f"/console/records/{record_id}/revoke",
        data={"csrf": csrf, "reason_code": "false_positive"},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert other_origin.status_code == 403
    assert vault.records.get(record_id).status == "active"
    done = post_form(web, f"/console/records/{record_id}/revoke", csrf, reason_code="false_positive")
    assert done.status_code == 303
    assert vault.records.get(record_id).status == "revoked"


def test_sign_out_ends_the_session_everywhere(web: TestClient, make_key: Any, vault: Vault) -> None:
    csrf = sign_in(web, make_key("checks"))
    assert vault.console_sessions.count() == 1
    answer = post_form(web, "/console/sign-out", csrf)
    assert answer.status_code == 303
    assert vault.console_sessions.count() == 0
    assert web.get("/console/check", follow_redirects=False).status_code == 303
    actions = [e.action for e in vault.audit.query(limit=100)]
    assert "console.sign_in" in actions and "console.sign_out" in actions


def test_idle_and_absolute_expiry(web: TestClient, make_key: Any, vault: Vault, clock: Any) -> None:
    sign_in(web, make_key("checks"))
    clock.advance(timedelta(minutes=29))
    assert web.get("/console/check", follow_redirects=False).status_code == 200
    clock.advance(timedelta(minutes=31))
    assert web.get("/console/check", follow_redirects=False).status_code == 303
    assert vault.console_sessions.count() == 0
    sign_in(web, make_key("checks"))
    for _ in range(17):  # used every 29 minutes: never idle, but 8 hours is the limit
        clock.advance(timedelta(minutes=29))
        if web.get("/console/check", follow_redirects=False).status_code != 200:
            break
    else:
        pytest.fail("the session outlived its absolute limit")
    assert clock.now() - vault.console_sessions.idle >= clock.now() - timedelta(hours=8)


def test_revoking_the_key_ends_its_sessions(web: TestClient, vault: Vault) -> None:
    info, token = vault.apikeys.create("analyst", ["checks"])
    sign_in(web, token.get_secret_value())
    vault.apikeys.revoke(info.key_id)
    assert web.get("/console/check", follow_redirects=False).status_code == 303


def test_scopes_decide_the_pages(web: TestClient, make_key: Any) -> None:
    sign_in(web, make_key("checks"))
    overview = web.get("/console/").text
    assert 'href="/console/check"' in overview
    for hidden in ("/console/records", "/console/audit", "/console/keys", "/console/retention"):
        assert f'href="{hidden}"' not in overview
        assert web.get(hidden).status_code == 403, hidden


def test_admin_sees_no_pii(web: TestClient, make_key: Any, vault: Vault) -> None:
    subject_id = vault.subjects.create({"email": CANARY_PII})
    record_id = _record(vault, subject_id=subject_id)
    csrf = sign_in(web, make_key("admin"))
    for path in ("/console/", "/console/retention", "/console/rights", "/console/audit", "/console/keys"):
        answer = web.get(path)
        assert answer.status_code == 200, path
        assert CANARY_PII not in answer.text
    assert web.get("/console/records").status_code == 403
    refused = post_form(web, f"/console/records/{record_id}/reveal", csrf, purpose="case 1")
    assert refused.status_code == 403
    refused = post_form(web, "/console/subjects/reveal", csrf, subject_id=subject_id, purpose="case 1")
    assert refused.status_code == 403


def test_check_page_gives_the_api_decision(web: TestClient, make_key: Any, vault: Vault) -> None:
    record_id = _record(vault)
    csrf = sign_in(web, make_key("checks"))
    hit = post_form(web, "/console/check", csrf, email=EMAIL.upper(), domain="default")
    assert hit.status_code == 200
    assert 'data-decision="deny"' in hit.text and record_id in hit.text
    assert EMAIL not in hit.text and EMAIL.upper() not in hit.text  # the form is not echoed
    miss = post_form(web, "/console/check", csrf, email="someone.else@example.com")
    assert 'data-decision="allow"' in miss.text
    bad = post_form(web, "/console/check", csrf, phone="not a phone")
    assert bad.status_code == 422
    assert "not a phone" not in bad.text


def test_record_review_walk_through(web: TestClient, make_key: Any, vault: Vault) -> None:
    record_id = _record(vault)
    csrf = sign_in(web, make_key("records:read", "records:write", "subjects:reveal"))
    found = post_form(web, "/console/records/find", csrf, kind="email", value=EMAIL)
    assert found.status_code == 200 and record_id in found.text
    listed = web.get("/console/records?status=active")
    assert record_id[:8] in listed.text
    detail = web.get(f"/console/records/{record_id}")
    assert "ring, case 7" not in detail.text
    revealed = post_form(web, f"/console/records/{record_id}/reveal", csrf, purpose="case 7 review")
    assert revealed.status_code == 200 and "ring, case 7" in revealed.text
    assert post_form(web, f"/console/records/{record_id}/reveal", csrf, purpose="").status_code == 422
    moved = post_form(web, f"/console/records/{record_id}/status", csrf, status="under_review", reason_code="appeal")
    assert moved.status_code == 303
    assert vault.records.get(record_id).status == "under_review"
    back = post_form(web, f"/console/records/{record_id}/status", csrf, status="active", reason_code="cleared")
    assert back.status_code == 303 and vault.records.get(record_id).status == "active"
    reveals = [e for e in vault.audit.query(action="record.reveal", limit=10)]
    assert len(reveals) == 1 and reveals[0].purpose == "case 7 review"
    assert web.get("/console/records?bogus=1").status_code == 422
    assert web.get("/console/records/not-a-uuid").status_code == 422


def test_erasure_walk_through(web: TestClient, make_key: Any, vault: Vault) -> None:
    subject_id = vault.subjects.create({"email": CANARY_PII})
    csrf = sign_in(web, make_key("subjects:reveal", "erasure"))
    revealed = post_form(web, "/console/subjects/reveal", csrf, subject_id=subject_id, purpose="ticket 9", fields="")
    assert revealed.status_code == 200 and CANARY_PII in revealed.text
    unconfirmed = post_form(web, "/console/subjects/erasure", csrf, subject_id=subject_id)
    assert unconfirmed.status_code == 422 and vault.subjects.exists(subject_id)
    erased = post_form(web, "/console/subjects/erasure", csrf, subject_id=subject_id, confirm="yes", request_id="REQ-1")
    assert erased.status_code == 200 and not vault.subjects.exists(subject_id)
    receipt = web.get("/console/erasure/REQ-1/receipt")
    assert receipt.status_code == 200
    assert receipt.headers["content-disposition"].startswith("attachment")
    # pasted into the text area: CR LF line ends, no final newline
    pasted = receipt.text.rstrip("\n").replace("\n", "\r\n")
    valid = post_form(web, "/console/subjects/verify-receipt", csrf, document=pasted)
    assert valid.status_code == 200 and "The receipt is valid" in valid.text
    tampered = post_form(web, "/console/subjects/verify-receipt", csrf, document=pasted.replace("REQ-1", "REQ-2"))
    assert "The receipt is not valid" in tampered.text


def test_retention_holds_and_sweep(web: TestClient, make_key: Any, vault: Vault) -> None:
    subject_id = vault.subjects.create({"email": CANARY_PII})
    csrf = sign_in(web, make_key("admin"))
    page = web.get("/console/retention")
    assert page.status_code == 200 and "<svg" in page.text
    placed = post_form(
        web, "/console/retention/holds", csrf, target_kind="subject", target_id=subject_id,
        reason_code="litigation", reference="CASE-1",
    )
    assert placed.status_code == 303
    held = vault.holds.list()
    assert len(held) == 1
    released = post_form(web, f"/console/retention/holds/{held[0].hold_id}/release", csrf)
    assert released.status_code == 303 and vault.holds.list() == []
    preview = post_form(web, "/console/retention/sweep", csrf, mode="preview")
    assert preview.status_code == 200 and 'data-swept="preview"' in preview.text
    run = post_form(web, "/console/retention/sweep", csrf, mode="run")
    assert 'data-swept="run"' in run.text


def test_audit_and_keys_pages(web: TestClient, make_key: Any, vault: Vault) -> None:
    csrf = sign_in(web, make_key("admin"))
    verified = post_form(web, "/console/audit/verify", csrf)
    assert 'data-verified="ok"' in verified.text
    checkpoint = post_form(web, "/console/audit/checkpoint", csrf)
    assert "data-checkpoint=" in checkpoint.text
    filtered = web.get("/console/audit?action=console.sign_in")
    assert 'data-action="console.sign_in"' in filtered.text
    assert web.get("/console/audit?action=NOT%20AN%20ACTION").status_code == 422
    before = len(vault.keys.epochs())
    rotated = post_form(web, "/console/keys/rotate", csrf)
    assert rotated.status_code == 200 and len(vault.keys.epochs()) == before + 1
    rewrapped = post_form(web, "/console/keys/rewrap", csrf)
    assert rewrapped.status_code == 200 and "data-rewrapped" in rewrapped.text


def test_a_restore_of_the_data_store_is_acknowledged_from_the_audit_page(
    web: TestClient, make_key: Any, vault: Vault
) -> None:
    csrf = sign_in(web, make_key("admin"))
    tables = [t.__table__ for t in (AuditEntry, AuditCheckpoint, AuditHead)]
    with vault.data_engine.connect() as connection:
        backup = {t: [dict(r) for r in connection.execute(select(t)).mappings()] for t in tables}
    vault.subjects.create({"name": "Kim"})
    vault.audit.checkpoint()  # the key store's mark moves past the backup
    with vault.data_engine.begin() as connection:
        for t in tables:
            connection.execute(delete(t))
            if backup[t]:
                connection.execute(insert(t), backup[t])
    broken = post_form(web, "/console/audit/verify", csrf)
    assert 'data-verified="broken"' in broken.text and "/console/audit/acknowledge-restore" in broken.text
    restored = post_form(web, "/console/audit/acknowledge-restore", csrf)
    assert restored.status_code == 200 and "data-restored=" in restored.text
    assert [e.action for e in vault.audit.query(action="audit.acknowledge_restore")] == ["audit.acknowledge_restore"]
    verified = post_form(web, "/console/audit/verify", csrf)
    assert 'data-verified="ok"' in verified.text and "/console/audit/acknowledge-restore" not in verified.text
    assert post_form(web, "/console/audit/acknowledge-restore", csrf).status_code == 409


def test_language_from_the_browser_and_the_switch(web: TestClient, make_key: Any) -> None:
    page = web.get("/console/sign-in", headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"})
    assert '<html lang="ko">' in page.text and "로그인" in page.text
    switched = web.get("/console/language/en", headers={"Referer": "https://vault.example/console/sign-in"}, follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/console/sign-in"
    english = web.get("/console/sign-in", headers={"Accept-Language": "ko"})
    assert '<html lang="en">' in english.text
    away = web.get("/console/language/ko", headers={"Referer": "https://evil.example/x"}, follow_redirects=False)
    assert away.headers["location"] == "/console/"


def test_cookies_are_not_secure_on_loopback_only(app: Any, make_key: Any) -> None:
    with TestClient(app, base_url="http://127.0.0.1:8000") as local:
        form = local.get("/console/sign-in")
        assert "Secure" not in form.headers["set-cookie"]
        sign_in(local, make_key("checks"))
    with TestClient(app, base_url="http://vault.internal") as plain:
        form = plain.get("/console/sign-in")
        assert "Secure" in form.headers["set-cookie"]


def test_every_text_has_a_korean_translation() -> None:
    from pathlib import Path

    from pseudovault.api.console.i18n import KO
    from pseudovault.api.console.nav import PAGES
    from pseudovault.vault.identifiers.model import BUILTIN_KINDS

    root = Path(__file__).resolve().parents[2] / "api" / "console"
    used = set()
    for path in [*root.glob("templates/*.html"), *(p for p in root.glob("*.py") if p.name != "i18n.py")]:
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'\bt\(\s*"([^"]+)"', source)) | set(re.findall(r"\bt\(\s*'([^']+)'", source))
        used |= set(re.findall(r'title="([^"]+)"', path.read_text(encoding="utf-8"))) if path.suffix == ".py" else set()
    used |= {page.label for page in PAGES}
    used |= {f"kind:{kind}" for kind in BUILTIN_KINDS} | {f"decision:{d}" for d in ("allow", "review", "deny")}
    used |= {"active", "under_review", "revoked", "expired", "open", "completed", "rejected", "done:status", "done:revoked"}
    used |= {f"request:{k}" for k in ("access", "correction", "restriction", "erasure", "consent_withdrawal")}
    used |= {f"requester:{k}" for k in ("self", "guardian", "agent")}
    missing = sorted(text for text in used if text not in KO and not text.endswith(":"))  # "kind:" ~ kind
    assert missing == []


def test_the_console_documentation_shows_the_tests_screenshots() -> None:
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs"
    pictures = re.findall(r"\]\((images/console/[^)]+)\)", (docs / "console.md").read_text(encoding="utf-8"))
    assert len(pictures) >= 8
    for picture in pictures:
        assert (docs / picture).is_file(), picture
    taken = set(re.findall(r'shots / "([^"]+)"', (Path(__file__).parent / "browser" / "test_console_browser.py").read_text(encoding="utf-8")))
    assert {Path(p).name for p in pictures} <= taken


def test_rights_requests_by_deadline(web: TestClient, make_key: Any, vault: Vault, clock: Any) -> None:
    subject_id = vault.subjects.create({"email": CANARY_PII})
    late = vault.rights.open_request(subject_id, "access", reference="REQ-LATE", received_at=clock.now() - timedelta(days=20))
    fresh = vault.rights.open_request(subject_id, "correction", reference="REQ-NEW")
    csrf = sign_in(web, make_key("admin"))
    page = web.get("/console/rights")
    assert page.status_code == 200
    rows = re.findall(r'<tr( class="overdue")? data-request="([^"]+)"', page.text)
    assert [(bool(overdue), request_id) for overdue, request_id in rows] == [(True, late.request_id), (False, fresh.request_id)]
    overdue_only = web.get("/console/rights?show=overdue").text
    assert late.request_id in overdue_only and fresh.request_id not in overdue_only
    closed = post_form(web, f"/console/rights/{late.request_id}/close", csrf, outcome="answered")
    assert closed.status_code == 303
    assert [r.state for r in vault.rights.requests(subject_id=subject_id)] == ["completed", "open"]
    again = post_form(web, f"/console/rights/{late.request_id}/close", csrf, outcome="answered")
    assert again.status_code == 409  # already closed: the API's answer, in the page
    assert CANARY_PII not in page.text


def test_a_key_without_the_overview_starts_on_its_first_page(web: TestClient, make_key: Any) -> None:
    sign_in(web, make_key("checks"))
    first = web.get("/console/", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/console/check"
    sign_in(web, make_key("subjects:write"))  # no console page at all
    page = web.get("/console/", follow_redirects=False)
    assert page.status_code == 200 and "Nothing beyond this page." in page.text
    assert 'href="/console/check"' not in page.text and "data-count" not in page.text


def test_the_keys_page_lists_api_keys_and_revokes_one(web: TestClient, make_key: Any, vault: Vault) -> None:
    service = make_key("checks", name="signup-service")
    service_id = service[4:14]
    admin = make_key("admin", name="ops")
    csrf = sign_in(web, admin)
    page = web.get("/console/keys")
    assert page.status_code == 200
    assert f'data-apikey="{service_id}"' in page.text and "signup-service" in page.text
    assert service[15:] not in page.text and admin[15:] not in page.text  # never a token
    # the session's own key has no revoke button: the console does not cut itself off
    assert f"/console/keys/apikeys/{admin[4:14]}/revoke" not in page.text
    assert f"/console/keys/apikeys/{service_id}/revoke" in page.text
    revoked = post_form(web, f"/console/keys/apikeys/{service_id}/revoke", csrf)
    assert revoked.status_code == 200 and f'data-revoked="{service_id}"' in revoked.text
    assert vault.apikeys.get(service_id).revoked_at is not None
    assert f"/console/keys/apikeys/{service_id}/revoke" not in revoked.text
    assert post_form(web, "/console/keys/apikeys/NOT-A-KEY/revoke", csrf).status_code == 422
    assert post_form(web, "/console/keys/apikeys/aaaaaaaaaa/revoke", csrf).status_code == 404
    # without the csrf token nothing changes
    other = make_key("checks", name="other")
    refused = web.post(f"/console/keys/apikeys/{other[4:14]}/revoke", data={"csrf": "forged"})
    assert refused.status_code == 403 and vault.apikeys.get(other[4:14]).revoked_at is None
