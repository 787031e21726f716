"""The client's tests: ``clients/python`` is imported from the checkout (its only dependencies,
httpx and pydantic, are the server's too), so the suite tests the client next to the server it
belongs with."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import child_env, free_port, pseudovault_command, run_command, wait_until_ready

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"
if str(CLIENT) not in sys.path:
    sys.path.insert(0, str(CLIENT))


PASSPHRASE = "correct horse battery staple"


class Live:
    def __init__(self, base: str, env: dict[str, str]) -> None:
        self.base = base
        self.env = env

    def token(self, *scopes: str, name: str = "client") -> str:
        created = run_command(
            self.env,
            [*pseudovault_command(), "apikeys", "create", "--name", name, "--json",
             *[arg for scope in scopes for arg in ("--scope", scope)]],
        )
        return str(json.loads(created)["token"])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("client") / "home"
    env = child_env(home, PASSPHRASE)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*pseudovault_command(), "serve", "--port", str(port)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_until_ready(process, base)
        yield Live(base, env)
    finally:
        process.terminate()
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
