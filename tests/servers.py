"""Helpers for tests that run ``pseudovault`` as real processes on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

__all__ = ["free_port", "pseudovault_command", "child_env", "run_command", "wait_until_ready", "serving"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pseudovault_command() -> list[str]:
    """The installed ``pseudovault`` script of this interpreter, or ``python -m``."""
    script = Path(sys.executable).parent / "pseudovault"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pseudovault.api.cli"]


def child_env(home: Path, passphrase: str, **settings: str) -> dict[str, str]:
    """The environment of a ``pseudovault`` process over ``home``: this process's own without any
    ``PSEUDOVAULT_`` setting (or the metrics directory), cheap Argon2, and ``settings`` (given as
    ``DATA_URL="..."`` for ``PSEUDOVAULT_DATA_URL``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSEUDOVAULT_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        PSEUDOVAULT_HOME=str(home),
        PSEUDOVAULT_PASSPHRASE=passphrase,
        PSEUDOVAULT_KDF_TIME_COST="1",
        PSEUDOVAULT_KDF_MEMORY_KIB="8",
        PSEUDOVAULT_KDF_PARALLELISM="1",
    )
    env.update({f"PSEUDOVAULT_{name}": value for name, value in settings.items()})
    return env


def run_command(env: dict[str, str], command: list[str]) -> str:
    """Run ``command`` to completion in ``env``; its standard output, or the test fails."""
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, (command[-3:], done.returncode, done.stderr[-2000:])
    return done.stdout


def wait_until_ready(process: subprocess.Popen[Any], base: str, path: str = "/readyz", seconds: float = 60.0) -> None:
    """Wait until the server ``process`` at ``base`` answers 200 on ``path``; the test fails (and
    the process is killed) if it exits or takes longer than ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"serve exited with {process.returncode}: {out!r}\n{err!r}")
        try:
            if httpx.get(f"{base}{path}", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # waiting for another process to bind its port
    process.kill()
    process.wait()
    pytest.fail(f"serve did not answer {path} in time")


@contextmanager
def serving(env: dict[str, str]) -> Iterator[str]:
    """A ``pseudovault serve`` in ``env`` on a free loopback port, ready; its base URL. Stopped
    (SIGTERM, then SIGKILL after 30 s) when the block ends."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*pseudovault_command(), "serve", "--port", str(port)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_until_ready(process, base)
        yield base
    finally:
        process.terminate()
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
