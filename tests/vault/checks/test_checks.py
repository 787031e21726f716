"""vault.checks.CheckService: decisions, matches, expiry by time travel, look-alikes, domains,
batches, and the decision policy (default and from TOML)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from records_support import EMAIL, IP, PHONE, scalar

from pseudovault.vault.checks.decisions import DEFAULT_RULES, Decision, DecisionPolicy, Rule
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.identifiers import InvalidIdentifierError
from pseudovault.vault.vault import RecordsConfig, Vault

PLAIN = ("email", "jack@shop.kr")  # its own skeleton: no look-alike row
CYRILLIC = ("email", "j\u0430ck@shop.kr")  # Cyrillic a: skeleton jack@shop.kr


def test_hits_and_misses_have_the_same_shape(vault: Vault) -> None:
    record_id = vault.records.create([EMAIL, PHONE], category="fraudulent_transaction", reason_code="chargeback")
    hit = vault.checks.check([("email", "A@B.example"), ("phone", "+821012345678"), IP])
    miss = vault.checks.check([("email", "nobody@b.example")])
    assert hit.as_dict().keys() == miss.as_dict().keys() == {"decision", "matches", "checked_kinds"}
    assert miss == Decision("allow", (), ("email",))
    assert hit.decision == "deny"
    assert hit.checked_kinds == ("email", "ip", "phone")
    [match] = hit.as_dict()["matches"]
    assert match == {
        "record_id": record_id,
        "category": "fraudulent_transaction",
        "reason_code": "chargeback",
        "severity": "high",
        "status": "active",
        "matched_kinds": ["email", "phone"],
        "match": "exact",
    }


def test_revoked_and_expired_records_never_match(vault: Vault, clock: FrozenClock) -> None:
    revoked = vault.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud")
    six_months = vault.records.create([PHONE], category="unauthorized_registration", reason_code="unauthorized_use")
    soon = vault.records.create([IP], category="bad_usage_rejoin", reason_code="bad_usage", expires_at=clock.now() + timedelta(hours=2))
    assert [m.record_id for m in vault.checks.check([EMAIL, PHONE, IP]).matches] == sorted([revoked, six_months]) + [soon]

    vault.records.revoke(revoked, reason_code="appeal_upheld")
    assert vault.checks.check([EMAIL]).decision == "allow"

    clock.advance(timedelta(hours=2))  # exactly at expires_at: expired
    assert vault.checks.check([IP]).decision == "allow"
    assert vault.checks.check([PHONE]).decision == "deny"
    clock.advance(timedelta(days=181))  # past six months; the stored status is still "active"
    assert vault.checks.check([PHONE]).decision == "allow"
    assert scalar(vault.data_engine, "SELECT status FROM records WHERE id = :id", id=six_months) == "active"
    clock.set(clock.now() - timedelta(days=200))  # time travel back: it matches again (derived, not stored)
    assert vault.checks.check([PHONE]).decision == "deny"


def test_decisions_by_kind_severity_and_review(vault: Vault) -> None:
    high = vault.records.create([EMAIL, IP], category="fraudulent_transaction", reason_code="fraud")
    medium = vault.records.create([PHONE], category="bad_usage_rejoin", reason_code="bad_usage", severity="medium")
    critical = vault.records.create([("device_id", "dev-1")], category="fraudulent_transaction", reason_code="fraud", severity="critical")
    assert vault.checks.check([IP]).decision == "review"  # ip only: shared addresses
    assert vault.checks.check([IP, EMAIL]).decision == "deny"
    assert vault.checks.check([PHONE]).decision == "review"
    assert vault.checks.check([("device_id", "dev-1")]).decision == "deny"
    both = vault.checks.check([PHONE, ("device_id", "dev-1")])
    assert both.decision == "deny"
    assert [m.record_id for m in both.matches] == [critical, medium]  # strongest first

    vault.records.set_status(high, "under_review", reason_code="appeal")
    under_review = vault.checks.check([EMAIL, IP])
    assert under_review.decision == "review"
    assert [(m.record_id, m.status, m.matched_kinds) for m in under_review.matches] == [
        (high, "under_review", ("email", "ip"))
    ]
    vault.records.set_status(high, "active", reason_code="appeal_rejected")
    assert vault.checks.check([EMAIL]).decision == "deny"


def test_look_alikes_give_review_never_deny(vault: Vault) -> None:
    plain = vault.records.create([PLAIN], category="fraudulent_transaction", reason_code="fraud", severity="critical")
    confusable = vault.records.create([("account_id", "\u0430lice")], category="fraudulent_transaction", reason_code="fraud")
    rows = scalar(vault.data_engine, "SELECT COUNT(*) FROM record_identifiers WHERE record_id = :id AND lookalike", id=confusable)
    assert rows == 1 and scalar(vault.data_engine, "SELECT COUNT(*) FROM record_identifiers WHERE record_id = :id AND lookalike", id=plain) == 0

    # a confusable signup against a plain ban: the check's skeleton against the stored identity
    look = vault.checks.check([CYRILLIC])
    assert look.decision == "review"
    assert [(m.record_id, m.match, m.matched_kinds) for m in look.matches] == [(plain, "lookalike", ("email",))]
    # a plain signup against a confusable ban: its own skeleton against the stored look-alike
    look = vault.checks.check([("account_id", "alice")])
    assert [(m.record_id, m.match) for m in look.matches] == [(confusable, "lookalike")]
    assert look.decision == "review"
    # the exact identity still denies, and its look-alike row does not add a second match
    exact = vault.checks.check([("account_id", "\u0430lice")])
    assert exact.decision == "deny"
    assert [(m.record_id, m.match) for m in exact.matches] == [(confusable, "exact")]

    # even a policy that denies everything cannot turn a look-alike into a deny
    strict = vault.checks.__class__(
        vault.data_engine, vault.lookup, vault.normalizer, vault.clock, DecisionPolicy([Rule("deny")])
    )
    assert strict.check([CYRILLIC]).decision == "review"
    assert strict.check([PLAIN]).decision == "deny"


def test_same_identifier_in_two_domains_does_not_cross_match(vault: Vault) -> None:
    in_a = vault.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud", domain="tenant-a")
    assert vault.checks.check([EMAIL]).decision == "allow"
    assert vault.checks.check([EMAIL], domain="tenant-b").decision == "allow"
    assert [m.record_id for m in vault.checks.check([EMAIL], domain="tenant-a").matches] == [in_a]
    in_default = vault.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud")
    assert [m.record_id for m in vault.checks.check([EMAIL]).matches] == [in_default]
    for bad in ("Tenant", "", "-x", "a" * 65, "a b"):
        with pytest.raises(InvalidInputError) as info:
            vault.checks.check([EMAIL], domain=bad)
        assert info.value.field == "domain"


def test_a_batch_answers_like_single_checks(vault: Vault, clock: FrozenClock) -> None:
    vault.records.create([EMAIL, IP], category="fraudulent_transaction", reason_code="fraud")
    vault.records.create([PHONE], category="bad_usage_rejoin", reason_code="bad_usage", severity="low")
    vault.records.create([PLAIN], category="fraudulent_transaction", reason_code="fraud")
    revoked = vault.records.create([("device_id", "dev-9")], category="fraudulent_transaction", reason_code="fraud")
    vault.records.revoke(revoked, reason_code="appeal_upheld")
    signups = [
        [EMAIL],
        [("email", "new@b.example")],
        [IP, PHONE],
        [CYRILLIC, ("device_id", "dev-9")],
        [EMAIL, PHONE, IP, PLAIN],
        [EMAIL],  # the same signup twice in one batch
    ]
    batch = vault.checks.check_batch(signups)
    assert batch == [vault.checks.check(signup) for signup in signups]
    assert [d.decision for d in batch] == ["deny", "allow", "review", "review", "deny", "deny"]
    assert vault.checks.check_batch([]) == []


def test_an_invalid_identifier_rejects_the_whole_check_naming_its_kind(vault: Vault) -> None:
    vault.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud")
    with pytest.raises(InvalidIdentifierError) as info:
        vault.checks.check([EMAIL, ("phone", "12345")])
    assert info.value.field == "identifier.phone" and "12345" not in str(info.value)
    with pytest.raises(InvalidIdentifierError) as info:
        vault.checks.check([("passport", "M1234")])
    assert info.value.kind == "passport"
    with pytest.raises(InvalidInputError):
        vault.checks.check([])
    with pytest.raises(InvalidIdentifierError) as info:
        vault.checks.check_batch([[EMAIL], [("ip", "300.1.1.1")]])
    assert info.value.field == "identifier.ip" and "signup 1" in str(info.value)
    with pytest.raises(InvalidInputError):
        vault.checks.check_batch([[EMAIL]] * 1001)


def test_a_policy_from_configuration_decides(store_urls, provider, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    policy = DecisionPolicy.from_toml(
        'fallback = "allow"\n\n[[rule]]\nkind = "ip"\ndecision = "deny"\n\n'
        '[[rule]]\ncategory = "bad_usage_rejoin"\nseverity = "*"\nmatch = "exact"\ndecision = "review"\n'
    )
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock, records_config=RecordsConfig(policy=policy)) as vault:
        vault.records.create([IP], category="fraudulent_transaction", reason_code="fraud", severity="low")
        vault.records.create([PHONE], category="bad_usage_rejoin", reason_code="bad_usage")
        vault.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud", severity="critical")
        assert vault.checks.check([IP]).decision == "deny"
        assert vault.checks.check([PHONE]).decision == "review"
        assert vault.checks.check([EMAIL]).decision == "allow"  # no rule: the fallback
        assert vault.checks.policy is policy


# --- the policy itself (no store) ----------------------------------------------------------------


def test_the_default_policy_table() -> None:
    policy = DecisionPolicy.default()
    assert policy.rules == DEFAULT_RULES
    table = {
        ("fraudulent_transaction", "email", "high", "exact"): "deny",
        ("fraudulent_transaction", "custom:loyalty", "critical", "exact"): "deny",
        ("rejoin_restriction", "card_fingerprint", "high", "exact"): "deny",
        ("fraudulent_transaction", "national_id", "medium", "exact"): "review",
        ("bad_usage_rejoin", "account_id", "low", "exact"): "review",
        ("fraudulent_transaction", "ip", "critical", "exact"): "review",
        ("fraudulent_transaction", "email", "critical", "lookalike"): "review",
    }
    for (category, kind, severity, match), expected in table.items():
        assert policy.decide(category, kind, severity, match) == expected, (category, kind, severity, match)
    assert policy.decide("fraudulent_transaction", "email", "high", "exact", under_review=True) == "review"


def test_custom_kind_rules_and_file_loading(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[[rule]]\nkind = "custom"\ndecision = "allow"\n\n[[rule]]\ndecision = "deny"\n', encoding="utf-8")
    policy = DecisionPolicy.from_file(path)
    assert policy.source == str(path)
    assert policy.decide("fraudulent_transaction", "custom:loyalty", "high", "exact") == "allow"
    assert policy.decide("fraudulent_transaction", "email", "low", "exact") == "deny"
    with pytest.raises(InvalidInputError) as info:
        DecisionPolicy.from_file(tmp_path / "missing.toml")
    assert "missing.toml" in str(info.value)


INVALID_POLICIES = [
    ('[[rule]]\ndecision = "deny"\nkind = "ip"\n[[rule\n', "line 4", "not valid TOML"),
    ('[[rule]]\nkind = "ip"\ndecision = "deny"\n\n[[rule]]\nkind = "ip"\nseverity = "urgent"\ndecision = "deny"\n', "line 7", "rule 2: severity"),
    ('[[rule]]\nkind = "fax"\ndecision = "deny"\n', "line 2", "rule 1: kind"),
    ('[[rule]]\ncategory = "member_stuff"\ndecision = "deny"\n', "line 2", "rule 1: category"),
    ('[[rule]]\nkind = "ip"\ndecision = "block"\n', "line 3", "rule 1: decision"),
    ('[[rule]]\nkind = "ip"\n', "line 1", "rule 1: decision: is required"),
    ('[[rule]]\nkind = "ip"\ndecision = "deny"\ncolour = "red"\n', "line 4", "rule 1: colour: unknown field"),
    ('[[rule]]\nmatch = "fuzzy"\ndecision = "deny"\n', "line 2", "rule 1: match"),
    ('fallback = "maybe"\n[[rule]]\ndecision = "deny"\n', "line 1", "fallback"),
    ('default = "deny"\n[[rule]]\ndecision = "deny"\n', "line 1", "unknown key 'default'"),
    ('fallback = "deny"\n', "", "no [[rule]] tables"),
]


@pytest.mark.parametrize(("text", "line", "words"), INVALID_POLICIES)
def test_an_invalid_policy_names_the_line_and_the_field(text: str, line: str, words: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        DecisionPolicy.from_toml(text, source="policy.toml")
    message = str(info.value)
    assert info.value.field == "decision_policy"
    assert message.startswith("decision_policy: policy.toml")
    assert line in message and words in message, message


# --- the connections checks keep -----------------------------------------------------------------


@pytest.mark.postgres
def test_a_check_survives_a_dropped_database_connection(postgres_urls, provider, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    with Vault.create(provider, postgres_urls.data, postgres_urls.keys, clock=clock) as vault:
        vault.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud")
        assert vault.checks.check([EMAIL]).decision == "deny"  # keeps its connection
        with vault.data_engine.connect() as connection:
            killed = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar()
        assert killed >= 1
        assert vault.checks.check([EMAIL]).decision == "deny"  # retried on a new connection
        assert vault.checks.check_batch([[EMAIL], [PHONE]])[0].decision == "deny"


def test_checks_on_an_in_memory_store_share_its_one_connection(provider, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    with Vault.create(provider, "sqlite://", "sqlite://", clock=clock) as vault:
        vault.records.create([EMAIL], category="fraudulent_transaction", reason_code="fraud")
        for _ in range(3):  # borrowing and returning it must not close the database
            assert vault.checks.check([EMAIL]).decision == "deny"
        assert vault.records.count() == 1


# --- identifiers that carry another, and look-alikes by digits and capitals ------------------------


def test_a_nat64_client_matches_the_ban_of_its_ipv4_and_no_other(vault: Vault) -> None:
    banned = vault.records.create([("ip", "192.0.2.33")], category="fraudulent_transaction", reason_code="fraud")
    for carrier in ("64:ff9b::c000:221", "::ffff:0:192.0.2.33"):
        assert [m.record_id for m in vault.checks.check([("ip", carrier)]).matches] == [banned]
    assert vault.checks.check([("ip", "64:ff9b::c000:222")]).decision == "allow"  # another client, same translator
    banned_behind = vault.records.create([("ip", "64:ff9b::198.51.100.7")], category="fraudulent_transaction", reason_code="fraud")
    assert vault.checks.check([("ip", "198.51.100.7")]).matches[0].record_id == banned_behind
    assert vault.checks.check([("ip", "64:ff9b::198.51.100.8")]).decision == "allow"


def test_operator_nat64_prefixes_come_from_the_settings() -> None:
    from pseudovault.vault.bootstrap import records_config
    from pseudovault.vault.config import Settings

    config = records_config(Settings(nat64_prefixes=" 2001:db8:122:344::/96, 2001:db8::/32"))
    assert config.normalizer.nat64_prefixes == ("2001:db8:122:344::/96", "2001:db8::/32")
    with pytest.raises(InvalidInputError) as refused:
        records_config(Settings(nat64_prefixes="2001:db8::/33"))
    assert refused.value.field == "PSEUDOVAULT_NAT64_PREFIXES"


def test_digit_and_capital_look_alikes_are_a_review(vault: Vault) -> None:
    vault.records.create([("email", "johnny@example.com")], category="fraudulent_transaction", reason_code="fraud")
    vault.records.create([("account_id", "google")], category="fraudulent_transaction", reason_code="fraud")
    for identifier in (("email", "j0hnny@example.com"), ("account_id", "g00gle"), ("account_id", "GOOGLE")):
        decision = vault.checks.check([identifier])
        assert decision.decision == "review", identifier
        assert decision.matches[0].match == "lookalike"
