"""What the reliability tests share: a vault over PostgreSQL run as real ``pseudovault`` processes on
loopback, and the consistency checks made after a fault.

After any fault, over the same stores: every subject has its ``subject.create`` audit entry and
every entry its subject (they commit together); every acknowledged create is there; the audit log
verifies; and once the orphan scan has run, every subject data key belongs to a subject.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from servers import child_env, free_port, pseudovault_command, run_command, wait_until_ready
from sqlalchemy import make_url

from pseudovault.vault.bootstrap import open_vault
from pseudovault.vault.clock import Clock, SystemClock
from pseudovault.vault.config import Settings
from pseudovault.vault.vault import Vault

__all__ = [
    "PASSPHRASE",
    "LaterClock",
    "Deployment",
    "SHRED_ACTIONS",
    "audited_targets",
    "assert_consistent",
    "kill_when",
    "libpq_url",
    "subject_ids",
]

PASSPHRASE = "reliability suite passphrase"


def libpq_url(sqlalchemy_url: str) -> str:
    """The psycopg (libpq) form of a ``postgresql+psycopg://`` URL."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


class LaterClock(Clock):
    """The system clock, ``offset`` ahead: to act after a lease a killed run left has lapsed."""

    def __init__(self, offset: timedelta) -> None:
        self._system = SystemClock()
        self._offset = offset

    def now(self) -> datetime:
        return self._system.now() + self._offset


class Deployment:
    """A vault initialised over ``urls`` (PostgreSQL) in ``home``, driven as real processes.

    ``settings`` (``AUDIT_CHECKPOINT_EVERY="7"``) are every process's; those of the vault's own
    configuration apply to the vault :meth:`open` gives this process too, so that it and the
    processes work alike (the interfaces' settings, a rate limit, concern processes only)."""

    def __init__(self, home: Path, urls: Any, **settings: str) -> None:
        self.home = home
        self.urls = urls
        self.vault_settings = {
            name.lower(): value for name, value in settings.items() if name.lower() in Settings.model_fields
        }
        self.env = child_env(home, PASSPHRASE, DATA_URL=urls.data, KEYS_URL=urls.keys, **settings)
        self.run("init")

    def run(self, *args: str) -> str:
        return run_command(self.env, [*pseudovault_command(), *args])

    def api_key(self, *scopes: str) -> str:
        args = [arg for scope in scopes for arg in ("--scope", scope)]
        return str(json.loads(self.run("apikeys", "create", "--name", "reliability", *args, "--json"))["token"])

    def start(self, *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
        """``pseudovault ARGS`` in the background (killed by the caller); its log lines (stderr)
        go to ``log`` when given."""
        with open(log, "ab") if log is not None else nullcontext(subprocess.DEVNULL) as stderr:
            return subprocess.Popen(
                [*pseudovault_command(), *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    def server_errors(self) -> list[str]:
        """The error lines the servers of this deployment logged (what a failing test shows)."""
        lines: list[str] = []
        for path in sorted(self.home.glob("server-*.log")):
            lines.extend(line for line in path.read_text(errors="replace").splitlines() if '"level": "error"' in line)
        return lines

    @contextmanager
    def server(self) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
        """A ``pseudovault serve`` on a free loopback port, ready: its base URL and process. Killed
        outright at the end if it still runs."""
        port = free_port()
        process = self.start("serve", "--port", str(port), log=self.home / f"server-{port}.log")
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(process, base)
            yield base, process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)

    def settings(self) -> Settings:
        return Settings(
            home=self.home,
            data_url=self.urls.data,
            keys_url=self.urls.keys,
            passphrase=PASSPHRASE,  # type: ignore[arg-type]
            kdf_time_cost=1,
            kdf_memory_kib=8,
            kdf_parallelism=1,
            **self.vault_settings,  # type: ignore[arg-type]
        )

    def open(self, clock: Clock | None = None) -> Vault:
        return open_vault(self.settings(), clock=clock)

    def count(self, table: str, where: str = "TRUE", *, store: str = "data") -> int:
        """Rows of a table of the data (or ``keys``) store, read directly (while a process works on it)."""
        url = self.urls.data if store == "data" else self.urls.keys
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            row = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()  # noqa: S608
            return int(row[0]) if row else 0


def kill_when(process: subprocess.Popen[bytes], ready: Any, timeout: float = 60) -> None:
    """SIGKILL ``process`` as soon as ``ready()`` is true, asserting it was still at work then."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, "the process finished before it could be killed mid-way"
        assert time.monotonic() < deadline, "the process made no progress"
        time.sleep(0.01)
    assert process.poll() is None, "the process finished before it could be killed mid-way"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def subject_ids(vault: Vault) -> set[str]:
    out: set[str] = set()
    after = None
    while True:
        page = vault.subjects.list(after=after, limit=1000)
        out.update(s.subject_id for s in page)
        if len(page) < 1000:
            return out
        after = page[-1].subject_id


#: the audit actions whose targets are subjects destroyed
SHRED_ACTIONS = ("subject.shred", "subject.shred_many", "subject.replay_shreds")


def audited_targets(vault: Vault, *actions: str) -> list[str]:
    """The subject ids named by every successful entry of ``actions``, in order (repeats kept):
    the first target of a single action, every target of a ``_many`` or replay action."""
    out: list[str] = []
    for action in actions:
        seq = 0
        while True:
            entries = vault.audit.query(action=action, after_seq=seq, limit=1000)
            if not entries:
                break
            for entry in entries:
                if entry.outcome == "ok" and entry.targets:
                    out.extend(entry.targets if action in SHRED_ACTIONS[1:] else entry.targets[:1])
            seq = entries[-1].seq
    return out


def assert_consistent(vault: Vault, acknowledged: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """The checks made after every fault (module docstring)."""
    subjects = subject_ids(vault)
    created = audited_targets(vault, "subject.create")
    assert acknowledged <= subjects, "an acknowledged create was lost"
    assert len(created) == len(set(created)), "a subject.create entry twice for one subject"
    shredded = set(audited_targets(vault, *SHRED_ACTIONS))
    assert subjects == set(created) - shredded, "a subject without its audit entry, or an entry without its subject"
    report = vault.audit.verify()
    assert report.ok, report
    vault.remove_orphan_keys(grace=timedelta(0))
    assert vault.keys.count_data_keys() == len(subjects), "a data key without a subject is left"
