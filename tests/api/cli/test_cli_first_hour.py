"""The command as a new user meets it, run as a real process: the version, one-line usage errors
with their documented exit code, a port in use, a database that does not exist vs a server that
is not there, a first passphrase that is too short, piped tables, a quiet first start, and a
purpose for every reveal."""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import termios
import time
from pathlib import Path
from typing import Any

import pytest
from servers import child_env, free_port, pseudovault_command, run_command

from pseudovault import __version__
from pseudovault.api.cli import ExitCode

PASSPHRASE = "correct horse battery staple"


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*pseudovault_command(), *args], env=env, capture_output=True, text=True, timeout=120,
                          check=False, stdin=subprocess.DEVNULL)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return child_env(tmp_path / "home", PASSPHRASE)


def test_version(env: dict[str, str]) -> None:
    done = _run(env, "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"pseudovault {__version__}"


@pytest.mark.parametrize(
    "args",
    [("subjects", "shw"), ("records", "add", "--bogus"), ("records", "show"), ("audit", "list", "--limit", "x")],
    ids=["unknown-command", "unknown-option", "missing-argument", "malformed-value"],
)
def test_a_usage_error_is_one_line_and_exit_2(env: dict[str, str], args: tuple[str, ...]) -> None:
    done = _run(env, *args)
    assert done.returncode == ExitCode.USAGE == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "--help" in lines[0], done.stderr


def test_completion_is_offered(env: dict[str, str]) -> None:
    assert "--install-completion" in _run(env, "--help").stdout


def test_a_port_in_use_is_exit_10_before_anything_is_opened(env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run(env, "serve", "--port", str(port))
    assert done.returncode == ExitCode.CANNOT_LISTEN == 10
    assert done.stderr == f"error: cannot listen on 127.0.0.1:{port}: the port is in use\n"
    assert not (tmp_path / "home").exists()  # no vault was initialised for a server that cannot start


@pytest.mark.postgres
def test_a_missing_database_and_a_server_that_is_not_there_are_told_apart(
    env: dict[str, str], postgres_urls: Any
) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(postgres_urls.data)
    missing = url.set(database=f"{url.database}_missing").render_as_string(hide_password=False)
    gone = url.set(host="127.0.0.1", port=free_port()).render_as_string(hide_password=False)
    done = _run({**env, "PSEUDOVAULT_DATA_URL": missing, "PSEUDOVAULT_KEYS_URL": postgres_urls.keys}, "init")
    assert done.returncode == ExitCode.NOT_INITIALISED, done.stderr
    assert "does not exist" in done.stderr and "createdb" in done.stderr
    done = _run({**env, "PSEUDOVAULT_DATA_URL": gone, "PSEUDOVAULT_KEYS_URL": gone}, "init")
    assert done.returncode == ExitCode.UNAVAILABLE, done.stderr
    assert "cannot be reached" in done.stderr
    assert str(url.database) not in done.stderr  # the URL is never printed


def _talk(env: dict[str, str], args: list[str], answers: list[str], seconds: float = 60) -> tuple[int, str]:
    """Run ``args`` on a terminal, answering each prompt in turn; the exit status and everything shown."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command on the terminal
        os.execve(pseudovault_command()[0], pseudovault_command() + args, env)
    shown = b""
    answered = 0  # how much had been shown when the last answer went
    pending = list(answers)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
                if pending and shown[answered:].rstrip().endswith(b":"):  # a new prompt
                    # the prompt is written before the terminal's echo is turned off, which discards
                    # what was typed until then: answer once echo is off (a hidden prompt's state)
                    quiet_by = time.monotonic() + 10
                    while termios.tcgetattr(fd)[3] & termios.ECHO and time.monotonic() < quiet_by:
                        time.sleep(0.02)
                    os.write(fd, pending.pop(0).encode() + b"\n")
                    answered = len(shown)
        else:
            os.kill(pid, 9)  # still waiting for an answer: the test fails on its exit status
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_a_short_first_passphrase_is_asked_again(tmp_path: Path) -> None:
    env = child_env(tmp_path / "home", PASSPHRASE)
    del env["PSEUDOVAULT_PASSPHRASE"]
    code, shown = _talk(env, ["init"], ["short", PASSPHRASE, PASSPHRASE])
    assert code == 0, shown
    assert "at least 12 characters; try again" in shown
    assert (tmp_path / "home" / "keyring.json").exists()


def test_piped_tables_keep_ids_whole(env: dict[str, str]) -> None:
    run_command(env, [*pseudovault_command(), "init"])
    created = json.loads(run_command(env, [*pseudovault_command(), "records", "add", "--identifier",
                                           "email=a@b.example", "--category", "fraudulent_transaction", "--json"]))
    listed = run_command({**env, "COLUMNS": ""}, [*pseudovault_command(), "records", "find", "--identifier",
                                                  "email=a@b.example"])
    assert created["record_id"] in listed and "…" not in listed


def test_the_first_start_shows_its_banner_before_any_log_line(env: dict[str, str]) -> None:
    port = free_port()
    process = subprocess.Popen([*pseudovault_command(), "serve", "--port", str(port)], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert first.startswith("Initialised a new vault"), first


def test_showing_a_subject_needs_a_purpose_and_audits_it(env: dict[str, str]) -> None:
    run_command(env, [*pseudovault_command(), "init"])
    subject = json.loads(run_command(env, [*pseudovault_command(), "subjects", "add", "--field", "name=Kim", "--json"]))
    subject_id = subject["subject_id"]
    refused = _run(env, "subjects", "show", subject_id)
    assert refused.returncode == ExitCode.USAGE and "--purpose" in refused.stderr
    shown = json.loads(run_command(env, [*pseudovault_command(), "subjects", "show", subject_id, "--purpose",
                                         "ticket 77", "--json"]))
    assert shown["fields"] == {"name": "Kim"}
    entries = json.loads(run_command(env, [*pseudovault_command(), "audit", "list", "--action", "subject.reveal",
                                           "--json"]))
    assert [entry["purpose"] for entry in entries] == ["ticket 77"]
