"""The console in Chromium against a live server (SQLite and PostgreSQL): the fraud analyst's and
the privacy officer's walk-throughs end to end, sign-in and sign-out, scope limits, CSRF refusal,
session expiry, no PII in any URL or title, keyboard use and form labels, both languages.

Every test also fails when the page logged a script error or a Content-Security-Policy violation
(``page.problems``), and the screenshots it takes are the documentation's (docs/console.md). The
server runs in this process, so the suite's log canary (tests/conftest.py) sees every line it logs."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from canary import CANARY_PII
from playwright.sync_api import expect

from pseudovault.vault.vault import Vault

EMAIL = "analyst.case@example.com"
PURPOSE = "case 4411 review"


def sign_in(page: Any, live: str, token: str) -> None:
    page.goto(f"{live}/console/")
    assert page.url == f"{live}/console/sign-in"
    page.get_by_label("API key").fill(token)
    with page.expect_response(lambda r: r.url.endswith("/console/sign-in") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 303, page.content()
    page.wait_for_url(lambda url: "/sign-in" not in url)  # the overview, or the key's first page


def nav(page: Any, name: str) -> Any:
    """A link of the navigation bar."""
    return page.get_by_role("navigation", name="Pages").get_by_role("link", name=name, exact=True)


def no_secrets_in_sight(page: Any, *secrets: str) -> None:
    """No URL the page requested and no title it showed holds one of ``secrets``."""
    for url in page.requested:
        for secret in secrets:
            assert secret not in url and secret.replace("@", "%40") not in url, url
    title = page.title()
    for secret in secrets:
        assert secret not in title


def clean(page: Any) -> None:
    """No script error, no Content-Security-Policy violation, no missing file (the refusals the
    test asked for, 401 to 422, are expected)."""
    expected = re.compile(r"status of 4(01|03|22)")
    assert [p for p in page.problems if not expected.search(p)] == []


def _record(vault: Vault, subject_id: str | None = None) -> str:
    return vault.records.create(
        [("email", EMAIL), ("phone", "010-2345-6789")],
        category="fraudulent_transaction",
        reason_code="chargeback",
        reason="chargeback ring, case 4411",
        evidence="order 991 disputed",
        subject_id=subject_id,
    )


def test_sign_in_and_out(page: Any, live: str, make_key: Any, vault: Vault, context: Any, shots: Path) -> None:
    page.goto(f"{live}/console/sign-in")
    page.screenshot(path=str(shots / "sign-in.png"))
    token = make_key("checks", name="signup-desk")
    sign_in(page, live, token)
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["pv_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict" and session["path"] == "/console"
    assert token not in session["value"]
    assert nav(page, "Check").is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live}/console/sign-in")
    assert vault.console_sessions.count() == 0
    page.goto(f"{live}/console/check")
    assert page.url == f"{live}/console/sign-in"
    page.get_by_label("API key").fill("pvk_notakey")
    page.get_by_role("button", name="Sign in").click()
    assert "not valid" in page.get_by_role("alert").inner_text()
    clean(page)


def test_fraud_analyst_record_review(page: Any, live: str, make_key: Any, vault: Vault, shots: Path) -> None:
    record_id = _record(vault)
    sign_in(page, live, make_key("records:read", "records:write", "subjects:reveal"))
    nav(page, "Records").click()
    page.get_by_label("Identifier", exact=True).fill(EMAIL)
    page.get_by_role("button", name="Find").click()
    page.screenshot(path=str(shots / "records-find.png"), full_page=True)
    page.get_by_role("link", name=record_id[:8]).first.click()
    page.wait_for_url(f"{live}/console/records/{record_id}")
    assert page.locator("[data-status]").first.get_attribute("data-status") == "active"
    page.get_by_label(re.compile("^Purpose")).fill(PURPOSE)
    page.get_by_role("button", name="Reveal the text").click()
    assert page.locator('[data-field="reason"]').inner_text() == "chargeback ring, case 4411"
    page.screenshot(path=str(shots / "record-reveal.png"), full_page=True)
    page.get_by_role("button", name="Put under review").click()
    page.wait_for_url(re.compile(r"done=status"))
    assert vault.records.get(record_id).status == "under_review"
    page.get_by_role("button", name="Activate").click()
    page.wait_for_url(re.compile(r"done=status"))
    assert vault.records.get(record_id).status == "active"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke").click()
    page.wait_for_url(re.compile(r"done=revoked"))
    assert vault.records.get(record_id).status == "revoked"
    assert page.get_by_role("status").inner_text() == "The record was revoked."
    no_secrets_in_sight(page, EMAIL, PURPOSE, "chargeback ring")
    reveals = vault.audit.query(action="record.reveal", limit=10)
    assert [e.purpose for e in reveals] == [PURPOSE]
    clean(page)


def test_check_page(page: Any, live: str, make_key: Any, vault: Vault, shots: Path) -> None:
    record_id = _record(vault)
    sign_in(page, live, make_key("checks"))
    nav(page, "Check").click()
    page.get_by_label("email").fill(EMAIL)
    page.get_by_label("Domain").fill("default")
    page.get_by_role("button", name="Check").click()
    assert page.locator("[data-decision]").get_attribute("data-decision") == "deny"
    assert record_id in page.content()
    page.screenshot(path=str(shots / "check.png"), full_page=True)
    no_secrets_in_sight(page, EMAIL)
    clean(page)


def test_privacy_officer_erasure(page: Any, live: str, make_key: Any, vault: Vault, shots: Path, tmp_path: Path) -> None:
    subject_id = vault.subjects.create({"email": CANARY_PII, "name": "Kim Minji"})
    record_id = _record(vault, subject_id)
    sign_in(page, live, make_key("subjects:reveal", "erasure"))
    nav(page, "Subjects").click()
    form = page.locator("form[action='/console/subjects/reveal']")
    form.get_by_label("Subject id").fill(subject_id)
    form.get_by_label(re.compile("^Purpose")).fill(PURPOSE)
    form.get_by_role("button", name="Reveal").click()
    assert page.locator('[data-field="email"]').inner_text() == CANARY_PII
    erase = page.locator("form[action='/console/subjects/erasure']")
    erase.get_by_label("Subject id").fill(subject_id)
    erase.get_by_label(re.compile("^Request id")).fill("REQ-2026-7")
    erase.get_by_role("button", name="Erase").click()  # the box is not ticked: the browser stops it
    assert vault.subjects.exists(subject_id)
    erase.get_by_label(re.compile("^I understand")).check()
    page.once("dialog", lambda dialog: dialog.accept())
    erase.get_by_role("button", name="Erase").click()
    page.wait_for_selector("[data-request-id]")
    assert not vault.subjects.exists(subject_id)
    assert vault.records.get(record_id).subject_id is None  # the ban stays, unlinked
    page.screenshot(path=str(shots / "erasure-receipt.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the signed receipt").click()
    saved = tmp_path / "receipt.json"
    download.value.save_as(saved)
    document = saved.read_text(encoding="utf-8")
    assert '"REQ-2026-7"' in document and CANARY_PII not in document
    page.get_by_label("The receipt file's text").fill(document)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="The receipt is valid")).to_be_visible()  # waits for the answer
    no_secrets_in_sight(page, CANARY_PII, PURPOSE, "Kim Minji")
    clean(page)


def test_privacy_officer_retention(page: Any, live: str, make_key: Any, vault: Vault, clock: Any, shots: Path) -> None:
    subject_id = vault.retention.create_subject({"email": CANARY_PII}, ["access_log"])
    vault.retention.create_subject({"email": "p0@example.com"}, ["access_log"])
    clock.advance(timedelta(days=100))  # the access logs' three months have passed: those two are due
    for months in range(1, 4):
        vault.retention.create_subject({"email": f"p{months}@example.com"}, ["access_log"])
        clock.advance(timedelta(days=20))
    sign_in(page, live, make_key("admin"))
    page.screenshot(path=str(shots / "overview.png"), full_page=True)
    assert int(page.locator('[data-count="subjects"]').inner_text()) == 5
    nav(page, "Retention").click()
    assert page.locator("svg.chart rect").count() >= 2
    hold = page.locator("form[action='/console/retention/holds']")
    hold.get_by_label("Target id").fill(subject_id)
    hold.get_by_label(re.compile("^Case reference")).fill("CASE-2026-0142")
    hold.get_by_role("button", name="Place a hold").click()
    page.wait_for_url(re.compile(r"done=hold_placed"))
    assert len(vault.holds.list()) == 1
    page.screenshot(path=str(shots / "retention.png"), full_page=True)
    page.get_by_role("button", name="Preview the sweep").click()
    assert page.locator("[data-swept]").get_attribute("data-swept") == "preview"
    assert int(page.locator("[data-due]").inner_text()) == 2
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Run the sweep").click()
    assert page.locator("[data-swept]").get_attribute("data-swept") == "run"
    assert int(page.locator("[data-applied]").inner_text()) == 1  # the held one stays
    assert vault.subjects.exists(subject_id) and vault.subjects.count() == 4
    page.get_by_role("button", name=re.compile("^Release")).first.click()
    page.wait_for_url(re.compile(r"done=hold_released"))
    assert vault.holds.list() == []
    no_secrets_in_sight(page, CANARY_PII)
    clean(page)


def test_admin_audit_and_keys(page: Any, live: str, make_key: Any, vault: Vault, shots: Path) -> None:
    vault.subjects.create({"email": CANARY_PII})
    sign_in(page, live, make_key("admin"))
    nav(page, "Audit").click()
    page.get_by_role("button", name="Verify the chain").click()
    assert page.locator("[data-verified]").get_attribute("data-verified") == "ok"
    page.get_by_role("button", name="Sign a checkpoint").click()
    expect(page.locator("[data-checkpoint]")).to_be_visible()
    page.get_by_label("Action").fill("console.sign_in")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator('tr[data-action="console.sign_in"]')).to_have_count(1)
    page.screenshot(path=str(shots / "audit.png"), full_page=True)
    nav(page, "Keys").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate").click()
    expect(page.locator("[data-rotated]")).to_be_visible()
    assert page.locator("progress").get_attribute("value") == "0"
    page.get_by_role("button", name="Rewrap").click()
    expect(page.locator("[data-rewrapped]")).to_be_visible()
    assert page.locator("progress").get_attribute("value") == "100"
    service_id = make_key("checks", name="signup-service")[4:14]
    nav(page, "Keys").click()  # the page again, with the new key listed
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Revoke {service_id}").click()
    assert page.locator("[data-revoked]").get_attribute("data-revoked") == service_id
    assert vault.apikeys.get(service_id).revoked_at is not None
    page.screenshot(path=str(shots / "keys.png"), full_page=True)
    assert CANARY_PII not in page.content()
    clean(page)


def test_scope_limits(page: Any, live: str, make_key: Any, vault: Vault) -> None:
    record_id = _record(vault)
    sign_in(page, live, make_key("checks"))
    links = page.get_by_role("navigation", name="Pages").get_by_role("link").all_inner_texts()
    assert links == ["Check"]
    assert page.url == f"{live}/console/check"  # no overview counts for this key: its one page
    for path in ("/console/records", f"/console/records/{record_id}", "/console/audit", "/console/keys", "/console/retention"):
        answer = page.goto(f"{live}{path}")
        assert answer is not None and answer.status == 403, path
    clean(page)


def test_csrf_refusal(page: Any, live: str, make_key: Any, vault: Vault) -> None:
    record_id = _record(vault)
    sign_in(page, live, make_key("records:read", "records:write"))
    page.goto(f"{live}/console/records/{record_id}")
    page.locator("form[action$='/revoke'] input[name=csrf]").evaluate("input => { input.value = 'forged' }")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(lambda r: r.url.endswith("/revoke")) as answer:
        page.get_by_role("button", name="Revoke").click()
    assert answer.value.status == 403
    assert vault.records.get(record_id).status == "active"


def test_session_expiry(page: Any, live: str, make_key: Any, clock: Any) -> None:
    sign_in(page, live, make_key("checks"))
    clock.advance(timedelta(minutes=31))
    nav(page, "Check").click()
    page.wait_for_url(f"{live}/console/sign-in")
    sign_in(page, live, make_key("checks"))
    nav(page, "Check").click()
    clock.advance(timedelta(minutes=20))
    page.get_by_label("email").fill(EMAIL)
    clock.advance(timedelta(minutes=11))  # idle while filling the form: the POST is refused
    page.get_by_role("button", name="Check").click()
    assert "session has ended" in page.get_by_role("alert").inner_text()


def test_keyboard_and_labels(page: Any, live: str, make_key: Any, vault: Vault) -> None:
    token = make_key(
        "checks", "records:read", "records:write", "subjects:reveal", "erasure", "admin"
    )
    page.goto(f"{live}/console/sign-in")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "api_key":
            break
    assert page.evaluate("document.activeElement.id") == "api_key"
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live}/console/")
    unlabelled = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label')).map(el => el.name)"""
    for path in ("/", "/check", "/records", "/subjects", "/retention", "/rights", "/audit", "/keys"):
        page.goto(f"{live}/console{path}")
        assert page.evaluate(unlabelled) == [], path
        assert page.locator("h1").count() == 1
    clean(page)


def test_korean(chromium: Any, live: str, make_key: Any, shots: Path) -> None:
    context = chromium.new_context(locale="ko-KR")
    try:
        tab = context.new_page()
        tab.goto(f"{live}/console/sign-in")
        assert tab.locator("html").get_attribute("lang") == "ko"
        tab.get_by_label("API 키").fill(make_key("admin"))
        tab.get_by_role("button", name="로그인").click()
        tab.wait_for_url(f"{live}/console/")
        assert tab.get_by_role("heading", name="개요").is_visible()
        tab.screenshot(path=str(shots / "overview-ko.png"), full_page=True)
        tab.get_by_role("link", name="English").click()
        tab.wait_for_url(f"{live}/console/")
        assert tab.locator("html").get_attribute("lang") == "en"
    finally:
        context.close()
