"""A CLI runner over a fresh vault home per test, with cheap Argon2 parameters."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from pseudovault.api.cli import app

PASSPHRASE = "correct horse battery staple"


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return self.runner.invoke(app, list(args), input=input, env={**self.env, **(env or {})}, catch_exceptions=False)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, (args, result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: str, input: str | None = None) -> Any:
        return json.loads(self.ok(*args, "--json", input=input).stdout)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(__import__("os").environ):
        if name.startswith("PSEUDOVAULT_") and name != "PSEUDOVAULT_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    return {
        "PSEUDOVAULT_HOME": str(tmp_path / "home"),
        "PSEUDOVAULT_PASSPHRASE": PASSPHRASE,
        "PSEUDOVAULT_KDF_TIME_COST": "1",
        "PSEUDOVAULT_KDF_MEMORY_KIB": "8",
        "PSEUDOVAULT_KDF_PARALLELISM": "1",
    }


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Cli:
    return Cli(cli_env)


@pytest.fixture
def initialised(cli: Cli) -> Cli:
    cli.ok("init")
    return cli


CliFactory = Callable[[dict[str, str]], Cli]


@pytest.fixture
def make_cli() -> CliFactory:
    """A CLI runner over the given environment (for tests that build their own)."""
    return Cli
