"""Fixtures for the bulk import/export tests: a CLI runner over a fresh, initialised vault home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bulk_support import Cli

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def initialised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    for name in list(os.environ):
        if name.startswith("PSEUDOVAULT_") and name != "PSEUDOVAULT_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    cli = Cli(
        {
            "PSEUDOVAULT_HOME": str(tmp_path / "home"),
            "PSEUDOVAULT_PASSPHRASE": PASSPHRASE,
            "PSEUDOVAULT_KDF_TIME_COST": "1",
            "PSEUDOVAULT_KDF_MEMORY_KIB": "8",
            "PSEUDOVAULT_KDF_PARALLELISM": "1",
        }
    )
    cli.ok("init")
    return cli
