"""``kill -9`` in the middle of each kind of write leaves nothing half-written (PostgreSQL, loopback).

Each test runs the real ``pseudovault`` (a server under creates, an import, a retention sweep, a
rewrap), kills it outright (SIGKILL: no shutdown, no rollback on its side) while it works, and then
makes the checks of :func:`reliability_support.assert_consistent` over the same stores, runs the
work again to its end, and checks again.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from reliability_support import SHRED_ACTIONS, Deployment, LaterClock, assert_consistent, audited_targets, kill_when

CLIENTS = 8


def test_kill_9_under_creates_leaves_no_subject_without_its_audit_entry(tmp_path: Path, postgres_urls: Any) -> None:
    deployment = Deployment(tmp_path / "home", postgres_urls, RATE_LIMIT_PER_SECOND="0")
    secret = deployment.api_key("subjects:write")
    acknowledged: list[str] = []
    errors: list[str] = []
    stop = threading.Event()
    with deployment.server() as (base, server):

        def client() -> None:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=5.0) as http:
                while not stop.is_set():
                    try:
                        response = http.post("/v1/subjects", json={"fields": {"email": "load@example.com"}})
                    except httpx.TransportError:
                        continue  # the server is gone: what it did not answer was not acknowledged
                    if response.status_code == 201:
                        acknowledged.append(response.json()["subject_id"])
                    else:
                        errors.append(str(response.status_code))

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            kill_when(server, lambda: len(acknowledged) >= 40)  # mid-write
            time.sleep(0.5)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
    assert len(acknowledged) >= 40 and not [e for e in errors if e.startswith("5")]
    with deployment.open() as vault:
        assert_consistent(vault, set(acknowledged))


def test_kill_9_during_an_import_leaves_whole_batches_and_the_rerun_finishes_it(
    tmp_path: Path, postgres_urls: Any
) -> None:
    deployment = Deployment(tmp_path / "home", postgres_urls)
    rows = 1500
    source = tmp_path / "bans.csv"
    source.write_text(
        "category,reason_code,email\n"
        + "".join(f"fraudulent_transaction,chargeback,banned{i}@example.com\n" for i in range(rows))
    )
    importer = deployment.start("records", "import", str(source), "--batch-size", "100", "--json")
    kill_when(importer, lambda: deployment.count("records") >= 300)
    with deployment.open() as vault:
        stored = vault.records.count()
        audited = sum(e.detail["records"] for e in vault.audit.query(action="record.create_many", limit=1000))
        assert stored == audited and stored % 100 == 0 and 300 <= stored < rows  # whole batches only
        assert_consistent(vault)
    deployment.run("records", "import", str(source), "--batch-size", "100", "--json")
    with deployment.open() as vault:
        assert vault.records.count() == rows  # resumed: nothing twice, nothing missing
        assert vault.checks.check([("email", "banned1499@example.com")]).decision != "allow"
        assert_consistent(vault)


def _due_subjects(deployment: Deployment, count: int) -> set[str]:
    """``count`` subjects whose payment records' five years ended a year ago."""
    with deployment.open() as vault:
        paid = vault.clock.now() - timedelta(days=6 * 366)
        made = set()
        for i in range(count):
            subject_id = vault.retention.create_subject({"email": f"u{i}@example.com"}, {"payment": None})
            vault.retention.record_event("subject", subject_id, "payment", at=paid, confirm=True)
            made.add(subject_id)
        return made


def test_kill_9_during_a_sweep_shreds_each_subject_once(tmp_path: Path, postgres_urls: Any) -> None:
    deployment = Deployment(tmp_path / "home", postgres_urls)
    subjects = _due_subjects(deployment, 60)
    sweep = deployment.start("retention", "sweep", "--batch-size", "5", "--json")
    kill_when(sweep, lambda: deployment.count("tombstones") >= 10)
    with deployment.open() as vault:  # the next open completes a shred the kill cut short
        assert_consistent(vault)
        left = len(vault.subjects.list(limit=1000))
        assert 0 < left <= len(subjects) - 10
    # the dead run's lease lapses (15 minutes): a sweep after that takes its items over
    with deployment.open(clock=LaterClock(timedelta(minutes=16))) as vault:
        report = vault.retention.sweeper.sweep(batch_size=50)
        assert report.failed == 0
        assert vault.subjects.list(limit=1000) == []
        shredded = audited_targets(vault, *SHRED_ACTIONS)
        assert sorted(shredded) == sorted(subjects)  # each exactly once
        assert_consistent(vault)


def test_kill_9_during_a_rewrap_leaves_every_subject_readable(tmp_path: Path, postgres_urls: Any) -> None:
    deployment = Deployment(tmp_path / "home", postgres_urls)
    with deployment.open() as vault:
        fields = {vault.subjects.create({"email": f"u{i}@example.com", "ref": uuid.uuid4().hex}): i for i in range(60)}
    deployment.run("keys", "rotate")
    rewrap = deployment.start("keys", "rewrap", "--batch-size", "5", "--json")
    kill_when(rewrap, lambda: deployment.count("subject_keys", "epoch = 2", store="keys") >= 10)
    with deployment.open() as vault:
        moved = vault.keys.count_data_keys()
        for subject_id, i in fields.items():
            assert vault.subjects.read(subject_id, ["email"])["email"] == f"u{i}@example.com"
        assert moved == len(fields)
        assert_consistent(vault)
    deployment.run("keys", "rewrap", "--json")
    with deployment.open() as vault:
        status = vault.status()
        assert status["epochs"]["root_key_ids_in_use"] == ["local:2"]
        for subject_id, i in fields.items():
            assert vault.subjects.read(subject_id, ["email"])["email"] == f"u{i}@example.com"
        assert_consistent(vault)
