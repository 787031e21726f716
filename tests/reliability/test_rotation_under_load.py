"""Rotation that every running process follows, without a restart: two ``pseudovault serve``
processes on the same stores answer creates, reveals and checks without a single error while the
CLI rotates the root key and the epoch, rotates the lookup key and rewraps (destroying the old
root version), twice. On PostgreSQL two servers; on SQLite the same (shared files).

Bounded in time (about 20 s of load), loopback only."""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from servers import child_env, free_port, pseudovault_command, run_command, wait_until_ready

PASSPHRASE = "rotation under load passphrase"
LOAD_SECONDS_AFTER = 1.0
#: two clients keep both servers busy on two cores; more only slows the CLI that rotates
LOAD_THREADS = 2




def _env(home: Path, urls: Any) -> dict[str, str]:
    return child_env(
        home,
        PASSPHRASE,
        DATA_URL=urls.data,
        KEYS_URL=urls.keys,
        RATE_LIMIT_PER_SECOND="0",
        LOOKUP_REFRESH_SECONDS="1",
        LOG_LEVEL="warning",
    )


def _cli(env: dict[str, str], *args: str) -> str:
    return run_command(env, [*pseudovault_command(), *args])


def _start(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [*pseudovault_command(), "serve", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_ready(process, base)
    return process, base


class Load:
    """Creates, reveals and checks against every server in turn until stopped."""

    def __init__(self, bases: list[str], token: str) -> None:
        self.bases = bases
        self.headers = {"Authorization": f"Bearer {token}"}
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.subjects: list[tuple[str, str]] = []

    def run(self, worker: int) -> None:
        with httpx.Client(timeout=30.0, headers=self.headers) as client:
            i = 0
            while not self.stop.is_set():
                base = self.bases[(i + worker) % len(self.bases)]
                i += 1
                email = f"load-{worker}-{i}@example.com"
                self._call(client, "create", "POST", f"{base}/v1/subjects", {"fields": {"email": email}}, email)
                if self.subjects:
                    subject_id, expected = self.subjects[(i * 7 + worker) % len(self.subjects)]
                    other = self.bases[(i + worker + 1) % len(self.bases)]  # read on the other server
                    self._call(client, "reveal", "POST", f"{other}/v1/subjects/{subject_id}/reveal",
                               {"purpose": "load test"}, expected)
                self._call(client, "check", "POST", f"{base}/v1/checks",
                           {"identifiers": [{"kind": "email", "value": "banned@example.com"}]}, None)

    def _call(self, client: httpx.Client, what: str, method: str, url: str, body: dict[str, Any], expect: Any) -> None:
        try:
            response = client.request(method, url, json=body)
        except httpx.TransportError as exc:
            self.errors.append(f"{what}: {type(exc).__name__}")
            return
        self.statuses[(what, response.status_code)] += 1
        if response.status_code >= 300:
            self.errors.append(f"{what}: {response.status_code} {response.text[:200]}")
            return
        data = response.json()
        if what == "create":
            self.subjects.append((data["subject_id"], expect))
        elif what == "reveal" and data["fields"]["email"] != expect:
            self.errors.append("reveal: wrong data")
        elif what == "check" and data["decision"] != "deny":
            self.errors.append(f"check: {data['decision']}")


def test_rotation_and_rewrap_under_load_on_two_servers(store_urls: Any, tmp_path: Path) -> None:
    env = _env(tmp_path / "home", store_urls)
    _cli(env, "init")
    token = _cli(
        env, "apikeys", "create", "--name", "load", "--scope", "subjects:write", "--scope", "subjects:reveal",
        "--scope", "checks",
    ).split()[-1]
    _cli(env, "records", "add", "--identifier", "email=banned@example.com", "--category", "fraudulent_transaction")
    servers = [_start(env), _start(env)]
    load = Load([base for _, base in servers], token)
    threads = [threading.Thread(target=load.run, args=(w,), daemon=True) for w in range(LOAD_THREADS)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        for cycle in range(2):
            _cli(env, "keys", "rotate")
            time.sleep(0.5)
            _cli(env, "keys", "rotate-lookup")
            time.sleep(0.5)
            rewrap = _cli(env, "keys", "rewrap", "--json")
            assert f'"local:{cycle + 1}"' in rewrap  # the old root version is destroyed
            time.sleep(LOAD_SECONDS_AFTER)
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(timeout=60)
        for process, _ in servers:
            process.terminate()
        logs = [process.communicate(timeout=30)[1] for process, _ in servers]
    done = sum(load.statuses.values())
    assert load.errors == [], (load.errors[:10], dict(load.statuses))
    assert done > 50, dict(load.statuses)
    assert {what for what, _ in load.statuses} == {"create", "reveal", "check"}
    assert not any('"status": 500' in log for log in logs)
    status = _cli(env, "status", "--json")
    assert '"key_id": "local:1"' in status and '"destroyed"' in status
