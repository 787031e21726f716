"""Two servers over one PostgreSQL and one Redis, under load, while every database connection is
terminated again and again (``pg_terminate_backend``, as a failover or an administrator does).

Clients create subjects (each with an ``Idempotency-Key``, retried with the same key until it is
acknowledged) and check identifiers, on both servers at once. What must hold: no answer is a 500
(a request caught by a termination is a 503 problem with ``Retry-After``, or succeeds); once the
terminations stop, the very next requests succeed (the servers reconnect by themselves); every
acknowledged subject is there once, with its audit entry; retries created nothing twice; the
audit log verifies. The figures are printed as one JSON line (``pytest -s``).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg
from reliability_support import Deployment, assert_consistent, libpq_url, subject_ids
from sqlalchemy import make_url

CLIENTS_PER_SERVER = 3
SECONDS = 5.0
TERMINATE_EVERY = 0.4
BANNED = "banned-reliability@example.com"


def _terminate(admin_url: str, databases: list[str]) -> int:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
            (databases,),
        ).fetchall()
    return len(rows)


def test_two_servers_survive_terminated_connections_under_load(
    tmp_path: Path, postgres_urls: Any, redis_url: str
) -> None:
    deployment = Deployment(
        tmp_path / "home",
        postgres_urls,
        RATE_LIMIT_URL=redis_url,
        RATE_LIMIT_PER_SECOND="100000",
        RATE_LIMIT_BURST="100000",
    )
    token = deployment.api_key("subjects:write", "records:write", "checks")
    headers = {"Authorization": f"Bearer {token}"}
    databases = [make_url(postgres_urls.data).database, make_url(postgres_urls.keys).database]
    admin_url = libpq_url(postgres_urls.data)
    statuses: Counter[int] = Counter()
    problems: list[str] = []
    acknowledged: dict[str, str] = {}  # idempotency key -> subject id
    lock = threading.Lock()
    stop = threading.Event()
    terminations = 0

    with deployment.server() as (first, _), deployment.server() as (second, _):
        banned = httpx.post(
            f"{first}/v1/records",
            headers=headers,
            json={"identifiers": [{"kind": "email", "value": BANNED}], "category": "fraudulent_transaction",
                  "reason_code": "chargeback"},
            timeout=10,
        )
        assert banned.status_code == 201, banned.text

        def note(response: httpx.Response) -> None:
            with lock:
                statuses[response.status_code] += 1
            if response.status_code >= 500:
                if response.status_code != 503 or not response.headers.get("Retry-After"):
                    problems.append(f"{response.status_code} {response.request.url.path}")
                elif response.headers.get("content-type") != "application/problem+json":
                    problems.append(f"503 without a problem body on {response.request.url.path}")

        def client(base: str, n: int) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=10.0) as http:
                i = 0
                while not stop.is_set():
                    i += 1
                    key = f"rel-{n}-{i}-{secrets.token_hex(4)}"
                    for _attempt in range(50):  # retried with the same key until acknowledged
                        response = http.post(
                            "/v1/subjects",
                            json={"fields": {"email": f"user{n}.{i}@example.com"}},
                            headers={"Idempotency-Key": key},
                        )
                        note(response)
                        if response.status_code == 201:
                            with lock:
                                acknowledged[key] = response.json()["subject_id"]
                            break
                        time.sleep(0.02)
                    check = http.post("/v1/checks", json={"identifiers": [{"kind": "email", "value": BANNED}]})
                    note(check)
                    if check.status_code == 200 and check.json()["decision"] == "allow":
                        problems.append("a banned identifier was allowed")

        threads = [
            threading.Thread(target=client, args=(base, n))
            for n, base in enumerate([first, second] * CLIENTS_PER_SERVER)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + SECONDS
        try:
            while time.monotonic() < deadline:
                time.sleep(TERMINATE_EVERY)
                terminations += _terminate(admin_url, databases)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        # the terminations have stopped: the next requests on each server succeed at once
        for base in (first, second):
            for path, body in (("/v1/checks", {"identifiers": [{"kind": "email", "value": BANNED}]}),
                               ("/v1/subjects", {"fields": {"email": "after@example.com"}})):
                response = httpx.post(f"{base}{path}", json=body, headers=headers, timeout=10)
                assert response.status_code in (200, 201), (base, path, response.status_code, response.text)
            ready = httpx.get(f"{base}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text

    figures = {
        "requests": sum(statuses.values()),
        "terminated_connections": terminations,
        "status_counts": {str(k): v for k, v in sorted(statuses.items())},
        "server_errors_other_than_503": len(problems),
        "acknowledged_creates": len(acknowledged),
    }
    print(json.dumps(figures, sort_keys=True))
    assert not problems, (problems[:10], deployment.server_errors()[:10])
    assert statuses[500] == 0
    assert terminations > 0 and len(acknowledged) > 20
    with deployment.open() as vault:
        subjects = subject_ids(vault)
        # every acknowledged create once, plus the two made after the terminations; no retry made a second
        assert set(acknowledged.values()) <= subjects
        assert len(subjects) == len(set(acknowledged.values())) + 2, "a retried create made a second subject"
        figures["lost"] = len(set(acknowledged.values()) - subjects)
        assert_consistent(vault, set(acknowledged.values()))
