"""Fixtures for the retention tests: a vault on a frozen clock at :data:`retention_support.T0`,
under the retention policies of the module's ``policies`` fixture (the shipped presets unless a
module overrides it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from retention_support import T0

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.retention.policies import PolicySet
from pseudovault.vault.retention.policy_file import shipped_presets
from pseudovault.vault.vault import Vault

if TYPE_CHECKING:
    from conftest import StoreUrls


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def policies() -> PolicySet:
    return shipped_presets()


@pytest.fixture
def vault(store_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock, policies: PolicySet) -> Iterator[Vault]:
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock, retention_policies=policies) as v:
        yield v


@pytest.fixture
def lite(sqlite_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock, policies: PolicySet) -> Iterator[Vault]:
    """A vault on SQLite only: for behaviour that does not depend on the backend."""
    with Vault.create(provider, sqlite_urls.data, sqlite_urls.keys, clock=clock, retention_policies=policies) as v:
        yield v
