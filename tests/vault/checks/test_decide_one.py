"""A check whose hits make one match takes a short path to its decision
(CheckService._decide_one): one hit, or the two rows of one stored identifier (its identity row
and its look-alike row, as a banned email matches). It must give exactly what the general path
(CheckService._decide_merged) gives for the same hits, under the default policy and one that
decides differently, for any category, kind, severity, status and match type."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.checks import service as service_module
from pseudovault.vault.checks.decisions import Decision, DecisionPolicy
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


@contextmanager
def _policy(service: CheckService, custom: bool) -> Iterator[None]:
    """The service decides under POLICY (``custom``) or its own policy, for the block."""
    previous = service._policy
    service._policy = POLICY if custom else previous
    try:
        yield
    finally:
        service._policy = previous


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
    with _policy(service, custom_policy):
        one = service._decide_one(*next(iter(hits.items())), identifiers)
        assert service._decide(hits, identifiers) == one
        merged = service._decide_merged(hits, identifiers)
    assert one == merged
    assert one.as_dict() == merged.as_dict()


@settings(max_examples=300, deadline=None)
@given(
    category=st.sampled_from(CATALOGUE.record_codes()),
    kind=st.sampled_from(KINDS),
    severity=st.sampled_from(["low", "medium", "high", "critical"]),
    status=st.sampled_from(["active", "under_review"]),
    identity_match=st.sampled_from(["exact", "lookalike"]),
    identity_first=st.booleans(),
    custom_policy=st.booleans(),
)
def test_both_rows_of_one_stored_identifier_decide_as_the_general_path(
    service: CheckService,
    category: str,
    kind: str,
    severity: str,
    status: str,
    identity_match: str,
    identity_first: bool,
    custom_policy: bool,
) -> None:
    identifiers = [NormalizedIdentifier(kind, "value-0", 1)]
    # the identity row, matched exactly or by the value's skeleton; the look-alike row, by the
    # skeleton under the look-alike label
    identity = (
        ("record-1", 2, False),
        ({1}, _Candidate(0, kind, identity_match, False, kind, "value-0", 1), (b"\x01" * 32, "record-1", 2, 1, 0, kind, 1, category, "fraud", severity, status)),
    )
    lookalike = (
        ("record-1", 2, True),
        ({1}, _Candidate(0, kind, "lookalike", True, f"lookalike:{kind}", "value-0", 1), (b"\x02" * 32, "record-1", 2, 1, 1, kind, 1, category, "fraud", severity, status)),
    )
    hits = dict([identity, lookalike] if identity_first else [lookalike, identity])
    with _policy(service, custom_policy):
        short = service._decide(hits, identifiers)
        merged = service._decide_merged(hits, identifiers)
    assert short == merged
    assert short.as_dict() == merged.as_dict()
    assert len(short.matches) == 1 and short.matches[0].match == identity_match


def test_two_rows_of_different_stored_identifiers_are_two_matches(service: CheckService) -> None:
    identifiers = [NormalizedIdentifier("email", "value-0", 1)]
    row = (b"\x01" * 32, "record-1", 0, 1, 0, "email", 1, "fraudulent_transaction", "fraud", "high", "active")
    hits = {
        ("record-1", 0, False): ({1}, _Candidate(0, "email", "exact", False, "email", "value-0", 1), row),
        ("record-2", 0, True): ({1}, _Candidate(0, "email", "lookalike", True, "lookalike:email", "value-0", 1), (*row[:1], "record-2", *row[2:])),
    }
    decision = service._decide(hits, identifiers)
    assert decision == service._decide_merged(hits, identifiers)
    assert [(m.record_id, m.match) for m in decision.matches] == [("record-1", "exact"), ("record-2", "lookalike")]


def test_repeated_hits_take_the_decision_made_before_within_a_bound(
    service: CheckService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_module, "MAX_REMEMBERED_DECISIONS", 3)
    service._decisions.clear()
    identifiers = [NormalizedIdentifier("device_id", "value-0", 1)]
    candidate = _Candidate(0, "device_id", "exact", False, "device_id", "value-0", 1)

    def decide(record_id: str, status: str = "active", severity: str = "high") -> Decision:
        row = (b"\x01" * 32, record_id, 0, 1, 0, "device_id", 1, "fraudulent_transaction", "fraud", severity, status)
        return service._decide_one((record_id, 0, False), ({1}, candidate, row), identifiers)

    first = decide("record-1")
    assert decide("record-1") is first  # made once
    # what the store says of the record now decides: a changed status or severity is a new answer
    reviewed = decide("record-1", status="under_review")
    assert reviewed.matches[0].status == "under_review" and reviewed != first
    assert decide("record-1", severity="critical").matches[0].severity == "critical"
    assert len(service._decisions) <= 3
    for n in range(2, 9):  # more records than it keeps: it stays within its bound
        assert decide(f"record-{n}").matches[0].record_id == f"record-{n}"
        assert len(service._decisions) <= 3
    with _policy(service, custom=True):  # another policy decides afresh
        assert decide("record-8").decision == POLICY.decide(
            "fraudulent_transaction", "device_id", "high", "exact", under_review=False
        )
