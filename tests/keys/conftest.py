"""Fixtures for the key layer's tests: cheap Argon2 costs (never the defaults) and fixed times."""

from __future__ import annotations

from pathlib import Path

import pytest
from keys_support import CHEAP_PARAMS, PASSPHRASE, T0

from pseudovault.keys.keyring import Argon2Params, LocalKeyring


@pytest.fixture
def cheap_params() -> Argon2Params:
    return CHEAP_PARAMS


@pytest.fixture
def keyring_path(tmp_path: Path) -> Path:
    return tmp_path / "keyring.json"


@pytest.fixture
def keyring(keyring_path: Path) -> LocalKeyring:
    return LocalKeyring.create(keyring_path, PASSPHRASE, params=CHEAP_PARAMS, now=T0)
