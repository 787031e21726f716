"""vault.retention.categories: the retention catalogue as data, calendar periods, and which categories
anti-abuse records may use."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.retention.categories import CategoryCatalogue, Period, add_period, parse_period
from pseudovault.vault.retention.policy_file import CATALOGUE, PRESETS


def test_the_presets_of_the_design() -> None:
    periods = {c.code: (c.retention.iso() if c.retention else None) for c in CATALOGUE}
    assert periods == {
        "contract_withdrawal": "P5Y",
        "payment_supply": "P5Y",
        "consumer_complaint": "P3Y",
        "access_log": "P3M",
        "unauthorized_registration": "P6M",
        "fraudulent_transaction": "P3Y",
        "bad_usage_rejoin": "P1Y",
        "member_data": "P1Y",
        "rejoin_restriction": None,
        "dormant_account": "P1Y",
    }
    assert CATALOGUE.record_codes() == (
        "unauthorized_registration",
        "fraudulent_transaction",
        "bad_usage_rejoin",
        "rejoin_restriction",
    )
    restriction = CATALOGUE.get("rejoin_restriction")
    assert restriction is not None and restriction.review_interval == Period(years=1)
    dormant = CATALOGUE.get("dormant_account")
    assert dormant is not None and dormant.optional and "2023" in dormant.legal_basis
    assert all(c.legal_basis for c in CATALOGUE)
    assert all(CATALOGUE.get(code).default_reason_code for code in CATALOGUE.record_codes())  # type: ignore[union-attr]


def test_calendar_periods() -> None:
    assert parse_period("P1Y6M") == Period(years=1, months=6)
    assert add_period(datetime(2024, 2, 29, 9, tzinfo=UTC), Period(years=1)) == datetime(2025, 2, 28, 9, tzinfo=UTC)
    assert add_period(datetime(2026, 1, 31, tzinfo=UTC), Period(months=1)) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_period(datetime(2026, 11, 30, tzinfo=UTC), Period(months=3)) == datetime(2027, 2, 28, tzinfo=UTC)
    assert add_period(datetime(2026, 1, 1, tzinfo=UTC), Period(days=10)) == datetime(2026, 1, 11, tzinfo=UTC)
    for bad in ("P", "PT5H", "", None):
        with pytest.raises(ValueError):
            parse_period(bad)


def test_records_may_only_use_anti_abuse_categories() -> None:
    assert CATALOGUE.for_record("bad_usage_rejoin").code == "bad_usage_rejoin"
    with pytest.raises(InvalidInputError) as info:
        CATALOGUE.for_record("access_log")
    assert "not an anti-abuse record" in info.value.reason and "fraudulent_transaction" in info.value.reason
    with pytest.raises(InvalidInputError) as info:
        CATALOGUE.for_record("nonsense")
    assert "unknown category" in info.value.reason
    with pytest.raises(InvalidInputError):
        CATALOGUE.for_record(None)


def test_a_catalogue_is_checked_when_built() -> None:
    entry = dict(PRESETS[0])
    with pytest.raises(ValueError, match="defined twice"):
        CategoryCatalogue([entry, entry])
    with pytest.raises(ValueError, match="legal basis"):
        CategoryCatalogue([{**entry, "legal_basis": ""}])
    with pytest.raises(ValueError, match="review interval"):
        CategoryCatalogue([{**entry, "retention": None}])
    with pytest.raises(ValueError, match="unknown category key"):
        CategoryCatalogue([{**entry, "retention_days": 5}])
    with pytest.raises(ValueError, match="starts_from"):
        CategoryCatalogue([{**entry, "starts_from": "whenever"}])
