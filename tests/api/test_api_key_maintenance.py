"""The backup horizon (api.keymaint, Vault.maintain_keys): once the current epoch is older than
PSEUDOVAULT_EPOCH_MAX_AGE_DAYS the server rotates the root key and the epoch, rewraps, and destroys
the old epoch and root version by itself; younger epochs are left alone; an interrupted rewrap is
completed; a failed round is logged without its message and counted."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import pytest
from canary import CANARY_PII
from fastapi.testclient import TestClient

from pseudovault.api.app import create_app
from pseudovault.api.keymaint import PeriodicKeyMaintenance
from pseudovault.api.metrics import Metrics
from pseudovault.api.ratelimit import TokenBucketLimiter
from pseudovault.api.settings import ApiSettings
from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.vault import Vault


def _count(metrics: Metrics, outcome: str) -> float:
    return metrics.registry.get_sample_value("pseudovault_key_maintenance_total", {"outcome": outcome}) or 0.0


def test_a_young_epoch_is_left_alone_and_an_old_one_rotated(
    vault: Vault, clock: FrozenClock, provider: FakeKmsProvider
) -> None:
    vault.epoch_max_age = timedelta(days=30)
    subject = vault.subjects.create({"email": CANARY_PII})
    clock.advance(timedelta(days=29))
    idle = vault.maintain_keys()
    assert idle["rotated"] is None and idle["rewrap"] is None
    assert idle["next_rotation_at"] == (clock.now() + timedelta(days=1)).isoformat()
    clock.advance(timedelta(days=1))
    done = vault.maintain_keys()
    assert done["rotated"] == {"root_key_id": "fake:2", "epoch": 2}
    assert done["rewrap"]["epochs_destroyed"] == 1 and done["rewrap"]["root_keys_destroyed"] == ["fake:1"]
    assert [(i.key_id, i.status) for i in provider.keys()] == [("fake:1", "destroyed"), ("fake:2", "enabled")]
    assert vault.subjects.read(subject, purpose="check")["email"] == CANARY_PII
    horizon = vault.status()["horizon"]
    assert horizon["current_epoch"] == 2 and horizon["epoch_max_age_days"] == 30
    assert horizon["next_rotation_at"] == (clock.now() + timedelta(days=30)).isoformat()
    assert [e.action for e in vault.audit.query(action="keys.rotate")] == ["keys.rotate"]


def test_no_maximum_age_never_rotates_but_finishes_a_rewrap(vault: Vault, clock: FrozenClock) -> None:
    vault.subjects.create({"email": CANARY_PII})
    vault.rotate_keys()  # by hand, and the rewrap never ran
    clock.advance(timedelta(days=3650))
    done = vault.maintain_keys(timedelta(0))
    assert done["rotated"] is None
    assert done["rewrap"]["data_keys_rewrapped"] == 1 and done["rewrap"]["root_keys_destroyed"] == ["fake:1"]
    assert done["next_rotation_at"] is None
    assert vault.maintain_keys(timedelta(0))["rewrap"] is None


def test_the_server_keeps_the_horizon_by_itself(
    vault: Vault, clock: FrozenClock, tmp_path: Any, limiter: TokenBucketLimiter
) -> None:
    vault.epoch_max_age = timedelta(days=30)
    subject = vault.subjects.create({"email": CANARY_PII})
    clock.advance(timedelta(days=31))
    settings = ApiSettings(home=tmp_path / "home", key_maintenance_interval_seconds=0.05)
    app = create_app(settings, vault=vault, limiter=limiter)
    with TestClient(app) as client:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and vault.keys.current_epoch() != 2:
            time.sleep(0.05)
        while time.monotonic() < deadline and not _count(app.state.metrics, "rotated"):
            time.sleep(0.05)
        assert isinstance(app.state.key_maintenance, PeriodicKeyMaintenance)
        assert 'pseudovault_key_maintenance_total{outcome="rotated"} 1.0' in client.get("/metrics").text
    (rotation,) = vault.audit.query(action="keys.rotate")
    assert (rotation.actor_kind, rotation.actor_id) == ("system", "keys")
    assert vault.subjects.read(subject, purpose="check")["email"] == CANARY_PII
    assert [e.status for e in vault.keys.epochs()] == ["destroyed", "enabled"]


def test_without_a_maximum_age_it_still_signs_the_audit_head_but_never_rotates(
    vault: Vault, tmp_path: Any, limiter: TokenBucketLimiter
) -> None:
    settings = ApiSettings(home=tmp_path / "home", epoch_max_age_days=0)
    app = create_app(settings, vault=vault, limiter=limiter)
    with TestClient(app):
        maintenance = app.state.key_maintenance
        assert isinstance(maintenance, PeriodicKeyMaintenance)
        maintenance.round()
    assert vault.audit.query(action="keys.rotate") == []
    assert [e.status for e in vault.keys.epochs()] == ["enabled"]


def test_off_when_the_interval_is_zero_with_a_warning_about_the_audit_head(
    vault: Vault, tmp_path: Any, limiter: TokenBucketLimiter, caplog: pytest.LogCaptureFixture
) -> None:
    settings = ApiSettings(home=tmp_path / "home", key_maintenance_interval_seconds=0)
    app = create_app(settings, vault=vault, limiter=limiter)
    with caplog.at_level(logging.WARNING, logger="pseudovault.api.app"), TestClient(app):
        assert app.state.key_maintenance is None
    assert "PSEUDOVAULT_AUDIT_HEAD_MAX_AGE_MINUTES" in caplog.text


def test_a_failing_round_is_logged_without_its_message(
    vault: Vault, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    maintenance = PeriodicKeyMaintenance(vault, 60, metrics)

    def boom(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError(f"bad row holding {CANARY_PII}")

    monkeypatch.setattr(vault, "maintain_keys", boom)
    with caplog.at_level(logging.ERROR, logger="pseudovault.api.keymaint"):
        maintenance.round()
    assert _count(metrics, "failed") == 1
    assert "RuntimeError" in caplog.text and CANARY_PII not in caplog.text
