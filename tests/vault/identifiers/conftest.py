"""Fixtures for the identifier normalization tests."""

from __future__ import annotations

import pytest

from pseudovault.vault.identifiers import Normalizer


@pytest.fixture(scope="session")
def normalizer() -> Normalizer:
    return Normalizer()
