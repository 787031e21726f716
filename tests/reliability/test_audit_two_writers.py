"""Two processes append to one audit log on PostgreSQL at once.

Each process makes an append on the head it last wrote itself, in one round trip, and makes it
again on the locked head when another process moved the head first (vault.audit.log,
``_write_on_known_head``). With a server process and this one writing in turn as fast as they
can, both making a checkpoint every 7 entries: every action has its one entry, the entries' seqs
run without a gap, both processes' appends went through both paths, the chain and its signed
checkpoints verify, and the checkpoints fall every 7 entries exactly.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
from reliability_support import Deployment, assert_consistent, audited_targets

from pseudovault.vault.audit import log as audit_log

ROUNDS = 60


def test_two_processes_appending_at_once_keep_one_verifiable_chain(
    tmp_path: Path, postgres_urls: Any, monkeypatch: Any
) -> None:
    deployment = Deployment(tmp_path / "home", postgres_urls, AUDIT_CHECKPOINT_EVERY="7")
    token = deployment.api_key("subjects:write")
    headers = {"Authorization": f"Bearer {token}"}
    # this process's appends, by the path they took
    paths = {"known head": 0, "made again": 0}
    statement = audit_log._WRITE_ON_KNOWN_HEAD
    original = {signed: statement[signed].first for signed in statement}

    class Counting:
        def __init__(self, signed: bool) -> None:
            self.signed = signed

        def first(self, connection: Any, params: Any = None) -> Any:
            row = original[self.signed](connection, params)
            paths["known head" if row and row[-1] else "made again"] += 1
            return row

    monkeypatch.setattr(audit_log, "_WRITE_ON_KNOWN_HEAD", {signed: Counting(signed) for signed in statement})
    served: list[str] = []
    failures: list[str] = []
    with deployment.server() as (base, _process), deployment.open() as vault:
        start = threading.Barrier(2)

        def serve() -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                start.wait()
                for _ in range(ROUNDS):
                    response = client.post("/v1/subjects", json={"fields": {"name": "Server"}})
                    if response.status_code != 201:
                        failures.append(f"{response.status_code} {response.text[:200]}")
                    else:
                        served.append(response.json()["subject_id"])

        thread = threading.Thread(target=serve)
        thread.start()
        start.wait()
        here = [vault.subjects.create({"name": "Here"}) for _ in range(ROUNDS)]
        thread.join(120)
        assert not failures, failures
        assert len(served) == ROUNDS
        created = audited_targets(vault, "subject.create")
        assert sorted(created) == sorted(here + served)
        assert paths["known head"] > 0 and paths["made again"] > 0, paths
        assert_consistent(vault, set(here + served))
        report = vault.audit.verify()
        # the chain links every entry to the one before: a gap or a repeated seq would break it
        assert report.ok and report.entries == vault.audit.count() and report.last_seq == vault.audit.head()[0], report
        # each append that makes the chain 7 entries past the last checkpoint (read under the
        # head's lock, whichever process made it) makes the next: exactly one every 7 entries
        last = vault.audit.last_checkpoint()
        assert report.signed and report.checkpoints == report.entries // 7, report
        assert last is not None and last.seq == report.entries - report.entries % 7, (last, report)
