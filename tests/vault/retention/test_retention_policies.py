"""Retention policy files: the shipped presets, operators' files, and rejection with a line number."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pseudovault.vault.retention import categories
from pseudovault.vault.retention.periods import Period
from pseudovault.vault.retention.policies import PolicyFileError
from pseudovault.vault.retention.policy_file import CATALOGUE, PRESETS_PATH, load_policies, parse_policies, shipped_presets

# DESIGN.md, Retention: every category, its period, the event it runs from, its action
EXPECTED = {
    "contract_withdrawal": ("5y", "contract_end", "shred_subject", "Act on Consumer Protection in Electronic Commerce"),
    "payment_supply": ("5y", "payment", "shred_subject", "Act on Consumer Protection in Electronic Commerce"),
    "consumer_complaint": ("3y", "complaint_closed", "shred_subject", "Act on Consumer Protection in Electronic Commerce"),
    "access_log": ("3mo", "collected", "shred_subject", "Protection of Communications Secrets Act"),
    "unauthorized_registration": ("6mo", "fraud_confirmed", "delete_record", "Internal policy"),
    "fraudulent_transaction": ("3y", "fraud_confirmed", "delete_record", "Internal policy"),
    "bad_usage_rejoin": ("1y", "withdrawal", "delete_record", "Internal policy"),
    "member_data": ("1y", "withdrawal", "shred_subject", "Internal policy"),
    "rejoin_restriction": (None, "fraud_confirmed", "review", "kept without an end date"),
    "dormant_account": ("1y", "last_activity", "restrict", "repealed in 2023"),
}

GOOD = """
[policies.payment_supply]
period = "7y"
trigger = "payment"
basis = "A longer period under a contract with the payment processor"
action = "shred_subject"
on_withdrawal = "separate"
on_erasure = "retain"
"""


def test_the_presets_cover_every_category_with_period_trigger_action_and_basis() -> None:
    presets = shipped_presets()
    assert set(presets.codes()) == set(EXPECTED)
    for code, (period, trigger, action, basis) in EXPECTED.items():
        policy = presets[code]
        assert (policy.period.short() if policy.period else None, policy.trigger, policy.action) == (period, trigger, action), code
        assert basis in policy.basis, code
        assert policy.line is not None and policy.name


def test_the_optional_dormant_preset_is_off_and_marked_repealed() -> None:
    dormant = shipped_presets()["dormant_account"]
    assert dormant.enabled is False and dormant.optional is True
    assert dormant.repealed == date(2023, 9, 15)
    assert "repealed" in (dormant.note or "")
    assert dormant.restricted_period == Period(years=4)
    assert all(p.enabled for p in shipped_presets() if p.category != "dormant_account")


def test_laws_require_separate_storage_and_retention_on_erasure() -> None:
    presets = shipped_presets()
    for code in ("contract_withdrawal", "payment_supply", "consumer_complaint", "access_log"):
        assert (presets[code].on_withdrawal, presets[code].on_erasure) == ("separate", "retain"), code
    assert (presets["member_data"].on_withdrawal, presets["member_data"].on_erasure) == ("separate", "destroy")
    for code in CATALOGUE.record_codes():  # bans stay
        assert presets[code].on_erasure == "retain" and presets[code].for_records


def test_rejoin_restrictions_are_kept_without_end_and_reviewed_yearly() -> None:
    policy = shipped_presets()["rejoin_restriction"]
    assert policy.period is None and policy.review_interval == Period(years=1)


def test_the_record_catalogue_is_built_from_the_presets_without_copying_numbers() -> None:
    presets = shipped_presets()
    assert [c.code for c in CATALOGUE] == list(presets.codes())
    for category in CATALOGUE:
        policy = presets[category.code]
        assert category.retention == policy.period
        assert category.legal_basis == policy.basis
        assert category.starts_from == policy.trigger
        assert category.for_records == policy.for_records
    source = Path(categories.__file__)
    assert '"P5Y"' not in source.read_text() and "Electronic Commerce" not in source.read_text()


def test_aliases_resolve_to_their_category() -> None:
    presets = shipped_presets()
    assert presets.resolve("member").category == "member_data"
    assert presets.resolve("payment").category == "payment_supply"
    with pytest.raises(Exception, match="unknown category"):
        presets.resolve("members")


def test_an_operators_file_overrides_whole_policies_and_keeps_the_others() -> None:
    presets = shipped_presets()
    policies = parse_policies(GOOD, source="ops.toml", catalogue=presets)
    assert policies["payment_supply"].period == Period(years=7)
    assert policies["payment_supply"].line == 2
    assert policies["member_data"] == presets["member_data"]
    assert policies["payment_supply"].aliases == ("payment",)  # catalogue attributes come from the presets
    assert policies.fingerprint != presets.fingerprint
    assert parse_policies("", source="empty.toml", catalogue=presets).fingerprint == presets.fingerprint


def _error(text: str) -> PolicyFileError:
    with pytest.raises(PolicyFileError) as info:
        parse_policies(text, source="ops.toml", catalogue=shipped_presets())
    return info.value


def test_an_unknown_category_is_rejected_with_its_line() -> None:
    error = _error(GOOD + '\n[policies.payment_suply]\nperiod = "1y"\n')
    assert error.line == 10
    assert "unknown category 'payment_suply'" in str(error)
    assert str(error).startswith("ops.toml:10: ")


def test_a_negative_period_is_rejected_with_its_line() -> None:
    error = _error(GOOD.replace('period = "7y"', 'period = "-7y"'))
    assert error.line == 3
    assert "negative" in error.reason and "period" in error.reason


def test_a_missing_basis_is_rejected_with_its_line() -> None:
    text = GOOD.replace('basis = "A longer period under a contract with the payment processor"\n', "")
    error = _error(text)
    assert error.line == 2  # the policy's table: the key is not there
    assert "basis" in error.reason and "missing" in error.reason
    error = _error(GOOD.replace('basis = "A longer period under a contract with the payment processor"', 'basis = "  "'))
    assert error.line == 5 and "basis" in error.reason


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        (('period = "7y"', 'period = "0y"'), 3, "zero"),
        (('period = "7y"', 'period = "seven years"'), 3, "not a period"),
        (('period = "7y"', "period = 7"), 3, "a period is a string"),
        (('trigger = "payment"', 'trigger = "paid"'), 4, "trigger must be one of"),
        (('action = "shred_subject"', 'action = "delete_record"'), 6, "does not apply to subjects' data"),
        (('action = "shred_subject"', 'action = "restrict"'), 6, "needs restricted_period"),
        (('action = "shred_subject"', 'action = "review"'), 6, "needs review_interval"),
        (('on_erasure = "retain"', 'on_erasure = "keep"'), 8, "on_erasure must be one of"),
        (('on_erasure = "retain"', 'on_erasure = "retain"\nenabled = "yes"'), 9, "enabled must be true or false"),
        (('on_erasure = "retain"', 'on_erasure = "retain"\nretention = "5y"'), 9, "unknown key 'retention'"),
        (('on_erasure = "retain"', 'on_erasure = "retain"\nfor_records = true'), 9, "fixed by the category catalogue"),
        (('on_erasure = "retain"', 'on_erasure = "retain"\nreview_interval = "1y"'), 9, "review only"),
    ],
)
def test_semantic_errors_name_their_line(change: tuple[str, str], line: int, reason: str) -> None:
    error = _error(GOOD.replace(*change))
    assert (error.line, reason in error.reason) == (line, True), str(error)


def test_record_categories_take_record_actions() -> None:
    text = """
[policies.fraudulent_transaction]
period = "3y"
trigger = "fraud_confirmed"
basis = "Internal policy"
action = "shred_subject"
"""
    error = _error(text)
    assert error.line == 6 and "anti-abuse records" in error.reason


def test_toml_syntax_errors_and_top_level_mistakes_name_their_line() -> None:
    error = _error('version = 1\n[policies.payment_supply]\nperiod = "5y\n')
    assert error.line == 3 and "not valid TOML" in error.reason
    error = _error('version = 1\npolicy = "x"\n')
    assert error.line == 2 and "unknown key 'policy'" in error.reason
    error = _error('timezone = "Mars/Olympus"\n')
    assert error.line == 1 and "time zone" in error.reason
    error = _error("version = 2\n")
    assert error.line == 1


def test_dotted_keys_are_located_too() -> None:
    error = _error('policies.member_data.period = "-1y"\n')
    assert error.line == 1
    text = "\n\n[policies]\nmember_data.period = \"1y\"\nmember_data.trigger = \"withdrawal\"\nmember_data.action = \"shred_subject\"\n"
    error = _error(text)
    assert error.line == 4 and "basis" in error.reason


def test_load_policies_reads_a_file_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "policies.toml"
    path.write_text(GOOD, encoding="utf-8")
    policies = load_policies(path)
    assert policies.source == str(path) and policies["payment_supply"].period == Period(years=7)
    path.write_text(GOOD.replace('"7y"', '"-1y"'), encoding="utf-8")
    with pytest.raises(PolicyFileError) as info:
        load_policies(path)
    assert str(info.value).startswith(f"{path}:3: ")
    with pytest.raises(PolicyFileError, match="cannot read"):
        load_policies(tmp_path / "missing.toml")
    assert load_policies(None) is shipped_presets()


def test_the_presets_file_is_a_valid_operators_file() -> None:
    presets = shipped_presets()
    again = parse_policies(PRESETS_PATH.read_text(encoding="utf-8"), source="copy.toml", catalogue=presets)
    assert again.fingerprint == presets.fingerprint
