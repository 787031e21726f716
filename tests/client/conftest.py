"""The client's tests: a live ``pseudovault serve`` per module (client_support has the rest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from client_support import PASSPHRASE, Live
from servers import child_env, serving


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    env = child_env(tmp_path_factory.mktemp("client") / "home", PASSPHRASE)
    with serving(env) as base:
        yield Live(base, env)
