"""Times a caller gives (an event, a request received, a provision made) are bounded: timezone-
aware, not in the future, not before 1970, and convertible to UTC. A typo in a year must not make
data due at once (an event time decides when data is destroyed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from retention_support import T0

from pseudovault.vault.clock import EARLIEST, past_timestamp
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.vault import Vault

OUT_OF_RANGE = [
    datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(1900, 1, 1, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),  # no UTC equivalent
    datetime(2026, 1, 1),  # naive
    T0 + timedelta(seconds=1),  # the future
]


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_past_timestamp_refuses(value: datetime) -> None:
    with pytest.raises(InvalidInputError) as raised:
        past_timestamp(value, "at", T0)
    assert raised.value.field == "at"


def test_past_timestamp_takes_the_range_and_returns_utc() -> None:
    assert past_timestamp(EARLIEST, "at", T0) == EARLIEST
    assert past_timestamp(T0, "at", T0) == T0
    seoul = datetime(2026, 1, 15, 19, 0, tzinfo=timezone(timedelta(hours=9)))
    assert past_timestamp(seoul, "at", T0) == T0 and past_timestamp(seoul, "at", T0).tzinfo == UTC


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_events_and_requests_out_of_range_change_nothing(lite: Vault, value: datetime) -> None:
    subject_id = lite.retention.create_subject({"name": "Kim"}, ["member"])
    before = lite.retention.items(subject_id)
    with pytest.raises(InvalidInputError):
        lite.retention.record_event("subject", subject_id, "withdrawal", at=value)
    assert lite.retention.items(subject_id) == before
    assert lite.subjects.read(subject_id, purpose="test") == {"name": "Kim"}
    with pytest.raises(InvalidInputError):
        lite.rights.open_request(subject_id, "access", received_at=value)
    with pytest.raises(InvalidInputError):
        lite.rights.record_provision(subject_id, recipient="Acme", items=["name"], purpose="billing",
                                     legal_basis="contract", retention="5 years", provided_at=value)
    assert lite.rights.requests(subject_id=subject_id) == [] and lite.rights.provisions(subject_id) == []
