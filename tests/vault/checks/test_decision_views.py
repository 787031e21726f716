"""A check's answer is built on every request by Decision.as_dict and Match.as_dict, written out
by hand for speed: they must give exactly what the generic View.as_dict gives (keys, order,
values), for any decision."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from pseudovault.vault.checks.decisions import Decision, Match
from pseudovault.vault.views import View

codes = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12)
matches = st.builds(
    Match,
    record_id=st.uuids().map(str),
    category=codes,
    reason_code=codes,
    severity=st.sampled_from(["low", "medium", "high", "critical"]),
    status=st.sampled_from(["active", "under_review"]),
    matched_kinds=st.lists(codes, max_size=4).map(tuple),
    match=st.sampled_from(["exact", "lookalike"]),
)
decisions = st.builds(
    Decision,
    decision=st.sampled_from(["allow", "review", "deny"]),
    matches=st.lists(matches, max_size=4).map(tuple),
    checked_kinds=st.lists(codes, max_size=6).map(tuple),
)


@given(decisions)
def test_the_hand_written_views_are_the_generic_ones(decision: Decision) -> None:
    fast, generic = decision.as_dict(), View.as_dict(decision)
    assert fast == generic
    assert json.dumps(fast) == json.dumps(generic)  # the same key order too: the same bytes on the wire
    for match in decision.matches:
        assert json.dumps(match.as_dict()) == json.dumps(View.as_dict(match))
