"""``pseudovault serve`` as a real process on a free loopback port: first run on a fresh home
initialises the vault, the API and its docs answer, SIGTERM ends it cleanly; then with two
worker processes over the same vault."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path

import httpx
from servers import child_env, free_port, pseudovault_command, wait_until_ready

PASSPHRASE = "correct horse battery staple"


def _serve(home: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[str, str, str, str]:
    """Run ``pseudovault serve``; its base URL, output, logs and the ``/metrics`` it answered."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*pseudovault_command(), "serve", "--port", str(port), *extra],
        env={**child_env(home, PASSPHRASE), **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_ready(process, base, "/healthz")
        ready = httpx.get(f"{base}/readyz", timeout=5.0)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        docs = httpx.get(f"{base}/docs", timeout=5.0)
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        assert httpx.get(f"{base}/openapi.json", timeout=5.0).json()["info"]["title"] == "pseudovault"
        unauthorised = httpx.get(f"{base}/v1/subjects", timeout=5.0)
        assert unauthorised.status_code == 401
        metrics = httpx.get(f"{base}/metrics", timeout=5.0).text
        assert 'route="/v1/subjects",status="401"' in metrics
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    return base, out, err, metrics


def test_serve_initialises_a_fresh_home_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    home = tmp_path / "home"
    base, out, err, metrics = _serve(home)
    assert "pseudovault_check_filter" not in metrics  # off by default
    assert (home / "keyring.json").exists() and (home / "data.sqlite3").exists()
    assert "Initialised a new vault" in out
    assert f"{base}/docs" in out and f"{base}/v1" in out
    assert "pseudovault apikeys create" in out
    for line in err.splitlines():  # the server's logs: one JSON object per line
        record = json.loads(line)
        assert {"ts", "level", "logger", "message"} <= set(record)
    access = [json.loads(line) for line in err.splitlines() if '"logger": "pseudovault.api.access"' in line]
    assert {r["route"] for r in access} >= {"/healthz", "/readyz", "/docs", "/v1/subjects", "/metrics"}
    assert all("path" not in r and "client" not in r for r in access)
    assert any(json.loads(line)["message"] == "API stopped" for line in err.splitlines())


def test_serve_with_two_workers_over_an_existing_vault(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init = subprocess.run(
        [*pseudovault_command(), "init"], env=child_env(home, PASSPHRASE), capture_output=True, text=True, timeout=60, check=False
    )
    assert init.returncode == 0, init.stderr
    _base, out, err, metrics = _serve(home, "--workers", "2", env={"PSEUDOVAULT_CHECK_FILTER": "true"})
    assert "Initialised" not in out and "/docs" in out
    assert PASSPHRASE not in out + err
    # each worker sets the miss filter's gauges; /metrics aggregates them (the lowest "current")
    for name in ("current", "age_seconds", "pseudonyms"):
        assert re.search(rf"^pseudovault_check_filter_{name} \S+$", metrics, re.MULTILINE), name
