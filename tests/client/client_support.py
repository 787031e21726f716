"""What the client's tests share (a module of its own name: ``conftest`` is a name every test
folder has, so importing from it depends on which one was imported first).

``clients/python`` is imported from the checkout (its only dependencies, httpx and pydantic, are
the server's too), so the suite tests the client next to the server it belongs with."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from servers import pseudovault_command, run_command

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"
if str(CLIENT) not in sys.path:
    sys.path.insert(0, str(CLIENT))

PASSPHRASE = "correct horse battery staple"


class Live:
    """A running ``pseudovault serve``: its base URL, and its environment for the CLI."""

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
