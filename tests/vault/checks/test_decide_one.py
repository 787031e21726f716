"""A check with one hit takes a short path to its decision (CheckService._decide_one); it must
give exactly what the general path (CheckService._decide_merged) gives for the same hit, under
the default policy and one that decides differently, for any category, kind, severity, status
and match type."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.checks.decisions import DecisionPolicy
from pseudovault.vault.checks.service import CheckService, _Candidate
from pseudovault.vault.identifiers import NormalizedIdentifier
from pseudovault.vault.retention.policy_file import CATALOGUE
from pseudovault.vault.vault import Vault

KINDS = ["email", "phone", "ip", "device_id", "account_id", "custom:handle"]
POLICY = DecisionPolicy.from_toml(
    """
fallback = "allow"

[[rule]]
kind = "device_id"
decision = "review"

[[rule]]
severity = "critical"
decision = "deny"

[[rule]]
match = "lookalike"
decision = "deny"
"""
)


@pytest.fixture(scope="module")
def service() -> Iterator[CheckService]:
    with Vault.create(FakeKmsProvider(), "sqlite://", "sqlite://") as vault:
        yield vault.checks


@settings(max_examples=300, deadline=None)
@given(
    category=st.sampled_from(CATALOGUE.record_codes()),
    kind=st.sampled_from(KINDS),
    others=st.lists(st.sampled_from(KINDS), max_size=3),
    severity=st.sampled_from(["low", "medium", "high", "critical"]),
    status=st.sampled_from(["active", "under_review"]),
    match=st.sampled_from(["exact", "lookalike"]),
    row_lookalike=st.booleans(),
    custom_policy=st.booleans(),
)
def test_one_hit_decides_as_the_general_path(
    service: CheckService,
    category: str,
    kind: str,
    others: list[str],
    severity: str,
    status: str,
    match: str,
    row_lookalike: bool,
    custom_policy: bool,
) -> None:
    identifiers = [NormalizedIdentifier(k, f"value-{i}", 1) for i, k in enumerate([kind, *others])]
    candidate = _Candidate(0, kind, match, row_lookalike, kind, "value-0", 1)
    row = (b"\x01" * 32, "record-1", 0, 1, int(row_lookalike), kind, 1, category, "fraud", severity, status)
    hits = {("record-1", 0, row_lookalike): ({1}, candidate, row)}
    previous = service._policy
    service._policy = POLICY if custom_policy else previous
    try:
        one = service._decide_one(hits, identifiers)
        merged = service._decide_merged(hits, identifiers)
    finally:
        service._policy = previous
    assert one == merged
    assert one.as_dict() == merged.as_dict()
