"""``/metrics`` shows the state of the check miss filter when it is on: whether checks use it,
how long ago it last held every committed pseudonym, and how many it holds; and nothing of it
when it is off. On SQLite files and PostgreSQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pseudovault.api.app import create_app
from pseudovault.api.ratelimit import TokenBucketLimiter
from pseudovault.api.settings import ApiSettings
from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.vault import RecordsConfig, Vault


def _gauge(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found is not None, f"{name} is not in /metrics"
    return float(found.group(1))


@pytest.fixture
def filtered(store_urls: Any) -> Iterator[Vault]:
    with Vault.create(FakeKmsProvider(), store_urls.data, store_urls.keys, records_config=RecordsConfig(miss_filter=1.0)) as vault:
        yield vault


def test_the_filter_state_is_in_metrics(filtered: Vault, api_settings: ApiSettings, limiter: TokenBucketLimiter) -> None:
    vault = filtered
    for i in range(3):
        vault.records.create([("email", f"banned{i}@example.com")], category="fraudulent_transaction", reason_code="fraud")
    miss_filter = vault.checks.miss_filter
    assert miss_filter is not None and miss_filter.wait_ready(30)
    with TestClient(create_app(api_settings, vault=vault, limiter=limiter)) as client:
        text = client.get("/metrics").text
        assert _gauge(text, "pseudovault_check_filter_current") == 1.0
        assert 0 <= _gauge(text, "pseudovault_check_filter_age_seconds") <= 1.0
        # each ban stores an identity row and a look-alike row
        assert _gauge(text, "pseudovault_check_filter_pseudonyms") >= 6
        assert "banned" not in text

        miss_filter.close()  # a filter that is gone: checks query the store
        text = client.get("/metrics").text
        assert _gauge(text, "pseudovault_check_filter_current") == 0.0
        assert _gauge(text, "pseudovault_check_filter_age_seconds") == float("inf")
        assert _gauge(text, "pseudovault_check_filter_pseudonyms") == 0.0


def test_a_filter_that_falls_behind_is_not_current(filtered: Vault, api_settings: ApiSettings, limiter: TokenBucketLimiter) -> None:
    miss_filter = filtered.checks.miss_filter
    assert miss_filter is not None and miss_filter.wait_ready(30)
    miss_filter._stop.set()  # the follower stops: nothing refreshes it any more
    assert miss_filter._thread is not None
    miss_filter._thread.join(timeout=10)
    miss_filter.fresh_at -= 5  # as if its last refresh were 5 s old
    with TestClient(create_app(api_settings, vault=filtered, limiter=limiter)) as client:
        text = client.get("/metrics").text
    assert _gauge(text, "pseudovault_check_filter_current") == 0.0
    assert _gauge(text, "pseudovault_check_filter_age_seconds") >= 5.0


def test_no_filter_no_filter_gauges(client: TestClient) -> None:
    assert "pseudovault_check_filter" not in client.get("/metrics").text



_STOPPING_WORKER = """
from pseudovault.api.metrics import Metrics
from pseudovault.vault.checks.missfilter import FilterState
metrics = Metrics(check_filter=True)
metrics.observe_filter(FilterState(current=False, age_seconds=float("inf"), pseudonyms=0))
print(metrics.render().decode())
metrics.close()
print("--- closed ---")
print(metrics.render().decode())
"""


def test_a_worker_that_stops_leaves_the_live_gauges(tmp_path: Path) -> None:
    # multiprocess values are chosen when prometheus_client is imported: a process of its own
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", _STOPPING_WORKER], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    running, closed = result.stdout.split("--- closed ---")
    assert _gauge(running, "pseudovault_check_filter_current") == 0.0
    # its last "not current" no longer holds the workers' lowest down
    assert "pseudovault_check_filter_current" not in closed
    assert not list(tmp_path.glob("gauge_live*.db"))
