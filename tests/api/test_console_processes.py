"""Console sessions across processes: two ``pseudovault serve`` processes over one vault share
their sessions (a sign-in on one works on the other; a sign-out or a revoked key on one ends the
session on both, at once: nothing is cached)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from console_support import csrf_of
from servers import child_env, free_port, pseudovault_command, run_command, wait_until_ready

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    home = tmp_path / "home"
    env = child_env(home, PASSPHRASE)
    run_command(env, [*pseudovault_command(), "init"])
    bases, processes = [], []
    try:
        for _ in range(2):
            port = free_port()
            process = subprocess.Popen(
                [*pseudovault_command(), "serve", "--port", str(port)],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            processes.append(process)
            bases.append(f"http://127.0.0.1:{port}")
            wait_until_ready(process, bases[-1], "/healthz")
        yield bases[0], bases[1], env
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _token(env: dict[str, str], *scopes: str) -> tuple[str, str]:
    out = run_command(env, [*pseudovault_command(), "apikeys", "create", "--name", "desk", *[a for s in scopes for a in ("--scope", s)]])
    token = next(word for word in out.split() if word.startswith("pvk_"))
    return token, token.split("_")[1]


def test_a_session_is_the_same_in_every_process(two_servers: tuple[str, str, dict[str, str]]) -> None:
    first, second, env = two_servers
    token, key_id = _token(env, "checks")
    with httpx.Client(base_url=first) as a:
        form = a.get("/console/sign-in")
        signed = a.post("/console/sign-in", data={"csrf": csrf_of(form.text), "api_key": token})
        assert signed.status_code == 303
        cookie = a.cookies.get("pv_session")
    assert cookie
    with httpx.Client(base_url=second, cookies={"pv_session": cookie}) as b:
        page = b.get("/console/check")
        assert page.status_code == 200  # the other process knows the session
        b.post("/console/sign-out", data={"csrf": csrf_of(page.text)})
    with httpx.Client(base_url=first, cookies={"pv_session": cookie}) as a:
        assert a.get("/console/check").status_code == 303  # signed out there: ended here too

    token, key_id = _token(env, "checks")
    with httpx.Client(base_url=first) as a:
        form = a.get("/console/sign-in")
        a.post("/console/sign-in", data={"csrf": csrf_of(form.text), "api_key": token})
        assert a.get("/console/check").status_code == 200
        run_command(env, [*pseudovault_command(), "apikeys", "revoke", key_id])  # a third process
        assert a.get("/console/check").status_code == 303
