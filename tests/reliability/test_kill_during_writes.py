"""``kill -9`` of a server under subject creates leaves nothing half-written (PostgreSQL, loopback).

A real ``pseudovault serve`` takes ``POST /v1/subjects`` from eight client threads; after a
moment it is killed outright (SIGKILL: no shutdown, no rollback on its side). Then, over the same
stores: every subject has its ``subject.create`` audit entry (they commit together), every
acknowledged create (a 201 the client received) is there, the audit chain verifies, and the only
debris, data keys without data, is what the orphan scan removes, after which every key belongs
to a subject.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from servers import child_env, free_port, pseudovault_command, run_command

from pseudovault.vault.bootstrap import open_vault
from pseudovault.vault.config import Settings

PASSPHRASE = "kill during writes passphrase"
CLIENTS = 8


def _run(env: dict[str, str], *args: str) -> str:
    return run_command(env, [*pseudovault_command(), *args])


def test_kill_9_under_creates_leaves_no_subject_without_its_audit_entry(tmp_path: Path, postgres_urls: Any) -> None:
    home = tmp_path / "home"
    env = child_env(home, PASSPHRASE, DATA_URL=postgres_urls.data, KEYS_URL=postgres_urls.keys, RATE_LIMIT_PER_SECOND="0")
    _run(env, "init")
    token = _run(env, "apikeys", "create", "--name", "load", "--scope", "subjects:write", "--json")
    secret = json.loads(token)["token"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [*pseudovault_command(), "serve", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    acknowledged: list[str] = []
    errors: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=5.0) as http:
            while not stop.is_set():
                try:
                    response = http.post("/v1/subjects", json={"fields": {"email": "load@example.com", "name": "Load"}})
                except httpx.TransportError:
                    continue  # the server is gone: what it did not answer was not acknowledged
                if response.status_code == 201:
                    acknowledged.append(response.json()["subject_id"])
                else:
                    errors.append(str(response.status_code))

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.send_signal(signal.SIGKILL)  # mid-write: no shutdown, no rollback on its side
        server.wait(timeout=30)
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        stop.set()
        if server.poll() is None:
            server.kill()
            server.wait()
    assert len(acknowledged) >= 40 and not [e for e in errors if e.startswith("5")]

    settings = Settings(
        home=home,
        data_url=postgres_urls.data,
        keys_url=postgres_urls.keys,
        passphrase=PASSPHRASE,  # type: ignore[arg-type]
        kdf_time_cost=1,
        kdf_memory_kib=8,
        kdf_parallelism=1,
    )
    with open_vault(settings) as vault:
        subjects: set[str] = set()
        after = None
        while True:
            page = vault.subjects.list(after=after, limit=1000)
            subjects.update(s.subject_id for s in page)
            if len(page) < 1000:
                break
            after = page[-1].subject_id
        audited: set[str] = set()
        seq = 0
        while True:
            entries = vault.audit.query(action="subject.create", after_seq=seq, limit=1000)
            if not entries:
                break
            audited.update(t for e in entries for t in e.targets)
            seq = entries[-1].seq
        assert set(acknowledged) <= subjects, "an acknowledged create was lost"
        assert subjects == audited, "a subject without its audit entry, or an entry without its subject"
        assert vault.audit.verify().ok
        vault.remove_orphan_keys(grace=timedelta(0))
        assert vault.keys.count_data_keys() == len(subjects), "a data key without a subject is left"
