"""Signed webhooks (vault.retention.webhooks), delivered to a real local HTTP endpoint, on SQLite
and PostgreSQL: the outbox written with each event, HMAC signatures a receiver can check, retries
with back-off, giving up, and no personal data in any payload."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from canary import CANARY_PII
from retention_support import T0
from webhook_support import SECRET, Receiver

from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.retention.webhooks import WebhookConfig, sign, verify_signature
from pseudovault.vault.vault import Vault

if TYPE_CHECKING:
    from conftest import StoreUrls

@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hooked(store_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock, receiver: Receiver) -> Iterator[Vault]:
    config = WebhookConfig(receiver.url, SECRET, max_attempts=3, timeout_seconds=5)
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock, webhooks=config) as v:
        yield v


def _member(vault: Vault) -> str:
    return vault.retention.create_subject({"name": "Kim", "email": CANARY_PII}, {"member": None})


def test_every_rights_event_is_delivered_signed_and_without_personal_data(
    hooked: Vault, receiver: Receiver, clock: FrozenClock
) -> None:
    subject_id = _member(hooked)
    hooked.rights.record_provision(subject_id, recipient="Acme", items=["email"], purpose="billing",
                                   legal_basis="contract", retention="1 year")
    correction = hooked.rights.begin_correction(subject_id)
    second = timedelta(seconds=1)  # deliveries go out in the order their events happened
    clock.advance(second)
    hooked.rights.complete_correction(correction.request_id, {"email": "kim@example.com"})
    clock.advance(second)
    restriction = hooked.rights.restrict_processing(subject_id)
    clock.advance(second)
    hooked.rights.lift_restriction(subject_id)
    hooked.rights.grant_consent(subject_id, "marketing", text_version="mkt-1")
    clock.advance(second)
    hooked.rights.withdraw_consent(subject_id, "marketing")
    clock.advance(second)
    receipt = hooked.erasure.request(subject_id)
    assert receiver.received == []  # written to the outbox, not sent inside the transactions

    report = hooked.webhooks.deliver_due()
    assert (report.delivered, report.retried, report.failed) == (5, 0, 0)
    events = []
    now = int(clock.now().timestamp())
    for headers, body in receiver.received:
        assert verify_signature(SECRET, headers["Pseudovault-Signature"], body, now)
        payload = json.loads(body)
        assert payload["id"] == headers["Pseudovault-Delivery"] and payload["event"] == headers["Pseudovault-Event"]
        assert payload["subject_id"] == subject_id
        assert CANARY_PII not in body.decode() and "kim@example.com" not in body.decode()
        events.append((payload["event"], payload.get("request_id")))
    assert events == [
        ("correction.completed", correction.request_id),
        ("restriction.placed", restriction.request_id),
        ("restriction.lifted", None),
        ("consent.withdrawn", None),
        ("erasure.completed", receipt.body["request_id"]),
    ]
    assert {d.state for d in hooked.webhooks.deliveries()} == {"delivered"}
    assert hooked.webhooks.deliver_due().delivered == 0  # each is sent once
    assert hooked.audit.query(action="webhooks.deliver", limit=10)[-1].detail == {"delivered": 5, "retried": 0,
                                                                                   "failed": 0}


def test_a_failure_is_retried_with_back_off_then_given_up(hooked: Vault, receiver: Receiver, clock: FrozenClock) -> None:
    subject_id = _member(hooked)
    hooked.rights.restrict_processing(subject_id)
    receiver.statuses = [500, 503, 500]
    assert hooked.webhooks.deliver_due().retried == 1
    (delivery,) = hooked.webhooks.deliveries()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
    assert delivery.next_attempt_at == clock.now() + timedelta(minutes=1)
    assert hooked.webhooks.deliver_due().retried == 0  # not due yet
    clock.advance(timedelta(minutes=1))
    assert hooked.webhooks.deliver_due().retried == 1
    assert hooked.webhooks.deliveries()[0].next_attempt_at == clock.now() + timedelta(minutes=5)
    clock.advance(timedelta(minutes=5))
    assert hooked.webhooks.deliver_due().failed == 1  # the third of max_attempts = 3
    (delivery,) = hooked.webhooks.deliveries(state="failed")
    assert (delivery.attempts, delivery.next_attempt_at) == (3, None)
    assert len(receiver.received) == 3 and len({h["Pseudovault-Delivery"] for h, _ in receiver.received}) == 1


def test_an_endpoint_that_does_not_answer_is_retried(
    store_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    closed = Receiver()
    url = closed.url
    closed.close()  # nothing listens there any more
    config = WebhookConfig(url, SECRET, timeout_seconds=2)
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock, webhooks=config) as vault:
        vault.rights.restrict_processing(_member(vault))
        assert vault.webhooks.deliver_due().retried == 1
        assert vault.webhooks.deliveries()[0].last_status is None


def test_without_a_webhook_nothing_is_written(vault: Vault) -> None:
    vault.rights.restrict_processing(_member(vault))
    assert vault.webhooks.deliveries() == [] and vault.webhooks.deliver_due().delivered == 0


def test_a_signature_is_refused_when_anything_differs() -> None:
    body = b'{"event":"erasure.completed"}'
    t0 = int(T0.timestamp())
    header = sign(SECRET, t0, body)
    assert verify_signature(SECRET, header, body, t0 + 10)
    assert not verify_signature(SECRET, header, body + b" ", t0)
    assert not verify_signature(SecretBytes(b"another secret of at least 32 bytes"), header, body, t0)
    assert not verify_signature(SECRET, header, body, t0 + 301)  # replayed too late
    assert not verify_signature(SECRET, header.replace("t=", "t=1"), body, t0)
    for bad in ("", "v1=00", "t=x,v1=00", "t=1"):
        assert not verify_signature(SECRET, bad, body, t0)
    assert "secret" not in repr(WebhookConfig("https://hooks.example/x", SECRET)).lower().replace("secretbytes", "")
    with pytest.raises(InvalidInputError):
        WebhookConfig("https://hooks.example/x", SecretBytes(b"short"))
    with pytest.raises(InvalidInputError):
        WebhookConfig("ftp://hooks.example/x", SECRET)


def test_the_receivers_check_in_the_docs_accepts_what_the_vault_signs() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "docs" / "retention.md").read_text(encoding="utf-8")
    snippet = text.split("  ```python\n", 1)[1].split("  ```", 1)[0]
    namespace: dict[str, object] = {}
    exec("\n".join(line[2:] for line in snippet.splitlines()), namespace)  # noqa: S102 - the docs' own example
    verified = namespace["verified"]
    body = b'{"event":"restriction.placed"}'
    import time

    header = sign(SECRET, int(time.time()), body)
    assert verified(SECRET.reveal(), header, body) is True  # type: ignore[operator]
    assert verified(SECRET.reveal(), header, body + b" ") is False  # type: ignore[operator]
