"""The server delivers the webhook outbox by itself when an endpoint is configured (api.webhooks)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from webhook_support import SECRET, Receiver

from pseudovault.api.app import create_app
from pseudovault.api.ratelimit import TokenBucketLimiter
from pseudovault.api.settings import ApiSettings
from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.retention.webhooks import WebhookConfig, verify_signature
from pseudovault.vault.vault import Vault


def test_the_server_delivers_by_itself(
    store_urls: Any, provider: FakeKmsProvider, clock: FrozenClock, tmp_path: Path, limiter: TokenBucketLimiter
) -> None:
    receiver = Receiver()
    try:
        config = WebhookConfig(receiver.url, SECRET, timeout_seconds=5)
        with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock, webhooks=config) as vault:
            settings = ApiSettings(home=tmp_path / "home", webhook_interval_seconds=0.05)
            app = create_app(settings, vault=vault, limiter=limiter)
            with TestClient(app) as client:
                subject_id = vault.subjects.create({"name": "Kim"})
                _info, token = vault.apikeys.create("t", ["subjects:write", "admin"])
                headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
                placed = client.post("/v1/rights/restrictions", json={"subject_id": subject_id}, headers=headers)
                assert placed.status_code == 201
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:  # received, then recorded as delivered: two moments
                    listed = client.get("/v1/webhooks/deliveries", headers=headers).json()
                    if receiver.received and [d["state"] for d in listed["items"]] == ["delivered"]:
                        break
                    time.sleep(0.05)
            (headers_got, body), = receiver.received
            assert verify_signature(SECRET, headers_got["Pseudovault-Signature"], body, int(clock.now().timestamp()))
            assert json.loads(body)["event"] == "restriction.placed"
            assert listed["enabled"] is True and [d["state"] for d in listed["items"]] == ["delivered"]
    finally:
        receiver.close()


def test_the_configuration_shows_neither_its_url_nor_its_secret() -> None:
    config = WebhookConfig("https://hooks.example/T0KEN-in-the-path?sig=abc", SECRET)
    assert "T0KEN" not in repr(config) and "sig=abc" not in repr(config) and SECRET.reveal().decode() not in repr(config)
