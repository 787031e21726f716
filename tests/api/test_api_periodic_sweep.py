"""The in-server periodic retention sweep (api.sweeper): off by default; when on, it applies due
items by itself as ``system:sweeper``; a failing round is logged without its message and the
next one runs; shutdown waits for a running round to stop after its batch."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from canary import CANARY_PII
from fastapi.testclient import TestClient

from pseudovault.api.app import create_app
from pseudovault.api.metrics import Metrics
from pseudovault.api.ratelimit import TokenBucketLimiter
from pseudovault.api.settings import ApiSettings
from pseudovault.api.sweeper import PeriodicSweep
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import NotFoundError
from pseudovault.vault.retention.views import PoliciesChangedError
from pseudovault.vault.vault import Vault


def _due_subject(vault: Vault, clock: FrozenClock) -> str:
    subject_id = vault.retention.create_subject({"ip_log": CANARY_PII}, {"access_log": None})
    vault.retention.record_event("subject", subject_id, "collected", at=clock.now())
    clock.advance(timedelta(days=120))  # access logs: 3 months
    return subject_id


def _gone(vault: Vault, subject_id: str) -> bool:
    try:
        vault.subjects.read(subject_id, purpose="test")
    except NotFoundError:
        return True
    return False


def _counter(metrics: Metrics, name: str, outcome: str) -> float:
    value = metrics.registry.get_sample_value(name, {"outcome": outcome})
    return value or 0.0


def test_off_by_default(vault: Vault, api_settings: ApiSettings, limiter: TokenBucketLimiter) -> None:
    assert api_settings.sweep_interval_seconds == 0
    app = create_app(api_settings, vault=vault, limiter=limiter)
    with TestClient(app):
        assert app.state.periodic_sweep is None


def test_the_server_sweeps_by_itself(vault: Vault, clock: FrozenClock, tmp_path: Any, limiter: TokenBucketLimiter) -> None:
    subject_id = _due_subject(vault, clock)
    settings = ApiSettings(home=tmp_path / "home", sweep_interval_seconds=0.05)
    app = create_app(settings, vault=vault, limiter=limiter)
    with TestClient(app) as client:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            _gone(vault, subject_id) and _counter(app.state.metrics, "pseudovault_retention_sweeps_total", "completed")
        ):
            time.sleep(0.05)
        assert _gone(vault, subject_id)
        sweep = app.state.periodic_sweep
        assert isinstance(sweep, PeriodicSweep) and sweep.rounds >= 1
        metrics = client.get("/metrics").text
        assert 'pseudovault_retention_sweeps_total{outcome="completed"}' in metrics
        assert 'pseudovault_retention_swept_items_total{outcome="shredded"} 1.0' in metrics
    (entry,) = vault.audit.query(action="retention.sweep", limit=10)
    assert (entry.actor_kind, entry.actor_id) == ("system", "sweeper")
    (shred,) = vault.audit.query(action="subject.shred_many", limit=10)
    assert shred.actor_id == "sweeper"


def test_a_failing_round_is_logged_without_its_message_and_counted(
    vault: Vault, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    sweep = PeriodicSweep(vault, 60, metrics)

    def boom(**_kwargs: Any) -> None:
        raise RuntimeError(f"bad row holding {CANARY_PII}")

    monkeypatch.setattr(vault.retention.sweeper, "sweep", boom)
    with caplog.at_level(logging.ERROR, logger="pseudovault.api.sweeper"):
        sweep.round()  # does not raise
        sweep.round()
    assert _counter(metrics, "pseudovault_retention_sweeps_total", "failed") == 2
    assert "RuntimeError" in caplog.text and CANARY_PII not in caplog.text

    def refuse(**_kwargs: Any) -> None:
        raise PoliciesChangedError("a" * 64, "b" * 64)

    monkeypatch.setattr(vault.retention.sweeper, "sweep", refuse)
    sweep.round()
    assert _counter(metrics, "pseudovault_retention_sweeps_total", "refused") == 1


def test_stop_waits_for_a_running_round(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = Metrics()
    in_round = threading.Event()
    batches: list[int] = []

    def slow_sweep(*, batch_size: int, progress: Any) -> None:
        in_round.set()
        for n in range(1000):  # a long run in batches: it must stop after the batch in progress
            time.sleep(0.01)
            batches.append(n)
            progress(n + 1, 1000)
        raise AssertionError("the round was not stopped")

    monkeypatch.setattr(vault.retention.sweeper, "sweep", slow_sweep)

    async def scenario() -> None:
        sweep = PeriodicSweep(vault, 0.01, metrics)
        sweep.start()
        while not in_round.is_set():
            await asyncio.sleep(0.01)
        await sweep.stop()
        done = len(batches)
        await asyncio.sleep(0.05)
        assert len(batches) == done < 1000  # nothing runs after stop() returned

    asyncio.run(scenario())
    assert _counter(metrics, "pseudovault_retention_sweeps_total", "stopped") == 1


def test_interval_and_batch_size_are_validated(tmp_path: Any) -> None:
    with pytest.raises(ValueError):
        ApiSettings(home=tmp_path, sweep_interval_seconds=-1)
    with pytest.raises(ValueError):
        ApiSettings(home=tmp_path, sweep_batch_size=0)
    with pytest.raises(ValueError):
        PeriodicSweep.__init__(object.__new__(PeriodicSweep), None, 0, Metrics())  # type: ignore[arg-type]
