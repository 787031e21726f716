"""Fixtures shared by the domain tests: ``add_record`` adds a fraud record to the test's vault."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from records_support import EMAIL

from pseudovault.vault.vault import Vault

AddRecord = Callable[..., str]


@pytest.fixture
def add_record(vault: Vault) -> AddRecord:
    """``add_record(identifiers, **kwargs)``: a fraudulent_transaction record with reason code fraud."""

    def add(identifiers: list[tuple[str, str]] | None = None, **kwargs: Any) -> str:
        kwargs.setdefault("category", "fraudulent_transaction")
        kwargs.setdefault("reason_code", "fraud")
        return vault.records.create(identifiers or [EMAIL], **kwargs)

    return add
