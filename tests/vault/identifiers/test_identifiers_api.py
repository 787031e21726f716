"""The public API: kinds and versions, the value object, errors, configuration, batches, logs."""

from __future__ import annotations

import dataclasses
import logging
import pickle
import unicodedata

import pytest
from canary import CANARY_PII

from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.identifiers import (
    BUILTIN_KINDS,
    DEFAULT_EMAIL_RULES,
    NORMALIZATION_VERSIONS,
    EmailProviderRule,
    InvalidIdentifierError,
    NormalizedIdentifier,
    Normalizer,
    NormalizerConfig,
)
from pseudovault.vault.identifiers.text import _IGNORABLE, SPACE_SEPARATORS

# --- kinds and versions ---------------------------------------------------------------------


def test_versions_cover_every_builtin_kind_and_custom() -> None:
    assert set(NORMALIZATION_VERSIONS) == {*BUILTIN_KINDS, "custom"}
    assert set(BUILTIN_KINDS) == {"email", "phone", "ip", "device_id", "card_fingerprint", "national_id", "account_id"}
    assert all(v == 1 for v in NORMALIZATION_VERSIONS.values())
    with pytest.raises(TypeError):
        NORMALIZATION_VERSIONS["email"] = 2  # type: ignore[index]


def test_results_carry_the_kind_version(normalizer: Normalizer) -> None:
    assert normalizer.normalize("email", "a@example.com").version == NORMALIZATION_VERSIONS["email"]
    assert normalizer.normalize("custom:x", "v").version == NORMALIZATION_VERSIONS["custom"]


@pytest.mark.parametrize("kind", [*BUILTIN_KINDS, "custom:a", "custom:" + "a" * 32, "custom:a_1_b"])
def test_parse_kind_accepts(kind: str) -> None:
    assert Normalizer.parse_kind(kind) == kind


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("EMAIL", "unknown_kind"),
        ("e-mail", "unknown_kind"),
        ("custom", "unknown_kind"),
        (" email", "unknown_kind"),
        (None, "unknown_kind"),
        (7, "unknown_kind"),
        ("custom:", "invalid_kind_name"),
        ("custom:_a", "invalid_kind_name"),
        ("custom:a b", "invalid_kind_name"),
        ("custom:\u00e9t\u00e9", "invalid_kind_name"),
        ("custom:" + "a" * 33, "invalid_kind_name"),
    ],
)
def test_parse_kind_rejects(kind: object, code: str) -> None:
    with pytest.raises(InvalidIdentifierError) as caught:
        Normalizer.parse_kind(kind)  # type: ignore[arg-type]
    assert caught.value.reason_code == code


def test_a_kind_that_does_not_look_like_one_is_not_echoed() -> None:
    with pytest.raises(InvalidIdentifierError) as caught:
        Normalizer.parse_kind(CANARY_PII)
    assert CANARY_PII not in str(caught.value)
    assert caught.value.field == "identifier.kind"


# --- the value object -------------------------------------------------------------------------


def test_repr_and_str_show_kind_version_length_only(normalizer: Normalizer) -> None:
    result = normalizer.normalize("email", CANARY_PII)
    assert result.lookalike is not None
    for text in (repr(result), str(result), f"{result}", repr([result]), repr({"r": result})):
        assert CANARY_PII not in text
        assert result.value not in text and result.lookalike not in text
    assert repr(result) == f"NormalizedIdentifier(kind='email', version=1, length={len(result.value)})"


def test_normalized_identifier_is_frozen_and_checked() -> None:
    item = NormalizedIdentifier("account_id", "abc", 1, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.value = "x"  # type: ignore[misc]
    with pytest.raises(InvalidIdentifierError):
        NormalizedIdentifier("nope", "abc", 1, None)
    with pytest.raises(ValueError):
        NormalizedIdentifier("account_id", "", 1, None)
    with pytest.raises(ValueError):
        NormalizedIdentifier("account_id", "abc", 0, None)
    with pytest.raises(ValueError):
        NormalizedIdentifier("account_id", "abc", True, None)
    with pytest.raises(ValueError):
        NormalizedIdentifier("account_id", "abc", 1, "abc")


def test_skeleton_property(normalizer: Normalizer) -> None:
    assert normalizer.normalize("account_id", "paypal").skeleton == "paypal"
    assert normalizer.normalize("account_id", "p\u0430ypal").skeleton == "paypal"
    assert normalizer.normalize("custom:n", "p\u0430ypal").skeleton == "paypal"
    assert normalizer.normalize("ip", "192.0.2.1").skeleton is None
    assert normalizer.normalize("phone", "010-1234-5678").skeleton is None


# --- errors -------------------------------------------------------------------------------------


def test_error_shape(normalizer: Normalizer) -> None:
    with pytest.raises(InvalidIdentifierError) as caught:
        normalizer.normalize("custom:loyalty", "a\x00b")
    error = caught.value
    assert issubclass(type(error), InvalidInputError) and issubclass(type(error), ValueError)
    assert error.kind == "custom:loyalty"
    assert error.field == "identifier.custom:loyalty"
    assert error.reason_code == "control_character"
    assert "custom:loyalty" in error.reason
    assert error.index is None
    assert error.code == InvalidInputError.code


def test_error_pickles(normalizer: Normalizer) -> None:
    with pytest.raises(InvalidIdentifierError) as caught:
        normalizer.normalize_many([("ip", "192.0.2.1"), ("ip", "fe80::1%eth0")])
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.kind, copy.reason_code, copy.reason, copy.index, copy.field) == (
        "ip",
        "ip_zone_id",
        caught.value.reason,
        1,
        "identifier.ip",
    )


@pytest.mark.parametrize("kind", [*BUILTIN_KINDS, "custom:x"])
@pytest.mark.parametrize("raw", [None, 12345678901, b"user@example.com", ["a"], 1.5])
def test_non_strings_are_rejected(normalizer: Normalizer, kind: str, raw: object) -> None:
    with pytest.raises(InvalidIdentifierError) as caught:
        normalizer.normalize(kind, raw)  # type: ignore[arg-type]
    assert caught.value.reason_code == "not_a_string"


@pytest.mark.parametrize(
    ("kind", "limit", "make"),
    [
        ("phone", 64, lambda n: "+82 10-1234-5678".ljust(n - 1, " ") + "1"),
        ("ip", 64, lambda n: "1" * n),
        ("device_id", 128, lambda n: "a" * n),
        ("account_id", 128, lambda n: "a" * n),
        ("card_fingerprint", 128, lambda n: "a" * n),
        ("national_id", 40, lambda n: "A" * n),
        ("custom:x", 256, lambda n: "a" * n),
        ("email", 254, lambda n: "a@" + "b" * (n - 6) + ".com"),
    ],
)
def test_length_limits(normalizer: Normalizer, kind: str, limit: int, make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidIdentifierError) as caught:
        normalizer.normalize(kind, make(limit + 1))
    assert caught.value.reason_code == "too_long"
    huge = "a" * 1_000_000
    with pytest.raises(InvalidIdentifierError) as caught:
        normalizer.normalize(kind, huge)
    assert caught.value.reason_code == "too_long"


def test_limits_are_inclusive(normalizer: Normalizer) -> None:
    assert len(normalizer.normalize("account_id", "a" * 128).value) == 128
    assert len(normalizer.normalize("custom:x", "a" * 256).value) == 256
    assert len(normalizer.normalize("device_id", "z" * 128).value) == 128


def test_space_separators_are_exactly_category_zs() -> None:
    zs = {chr(cp) for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Zs"}
    assert set(SPACE_SEPARATORS) == zs


# Default_Ignorable_Code_Point, DerivedCoreProperties.txt (Unicode 14.0)
DEFAULT_IGNORABLE = [
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
]


def test_every_default_ignorable_code_point_is_refused(normalizer: Normalizer) -> None:
    for lo, hi in DEFAULT_IGNORABLE:
        for cp in range(lo, hi + 1):
            with pytest.raises(InvalidIdentifierError) as caught:
                normalizer.normalize("custom:x", f"a{chr(cp)}b")
            assert caught.value.reason_code in {"invisible_character", "unassigned_character"}, hex(cp)
    # the explicit list in text.py holds only the ignorables that are neither Cf nor Cn
    assert all(unicodedata.category(chr(cp)) not in {"Cf", "Cn"} for cp in _IGNORABLE)


# --- configuration ---------------------------------------------------------------------------


def test_default_config() -> None:
    config = NormalizerConfig()
    assert config.default_region == "KR"
    assert config.ipv6_prefix == 64
    assert config.strip_plus_tags_domains == ()
    assert config.email_rules == DEFAULT_EMAIL_RULES
    (gmail,) = DEFAULT_EMAIL_RULES
    assert gmail == EmailProviderRule(("gmail.com", "googlemail.com"), ignore_dots=True, strip_plus_tags=True)


def test_rule_domains_are_canonicalized() -> None:
    rule = EmailProviderRule(("B\u00dcCHER.example", "Mail.Example.COM"), strip_plus_tags=True)
    assert rule.domains == ("xn--bcher-kva.example", "mail.example.com")
    config = NormalizerConfig(strip_plus_tags_domains=["FastMail.com"])  # type: ignore[arg-type]
    assert config.strip_plus_tags_domains == ("fastmail.com",)


def test_custom_rule_with_alias(normalizer: Normalizer) -> None:
    rule = EmailProviderRule(("example.net", "example-alias.net"), strip_plus_tags=True)
    n = Normalizer(NormalizerConfig(email_rules=(rule,)))
    assert n.normalize("email", "A.b+x@example-alias.net").value == "a.b@example.net"
    assert n.normalize("email", "a.b+x@gmail.com").value == "a.b+x@gmail.com"  # Gmail rule replaced


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"default_region": "ZZ"}, ValueError),
        ({"default_region": "kr"}, ValueError),
        ({"ipv6_prefix": 15}, ValueError),
        ({"ipv6_prefix": 129}, ValueError),
        ({"ipv6_prefix": True}, TypeError),
        ({"ipv6_prefix": "64"}, TypeError),
        ({"email_rules": DEFAULT_EMAIL_RULES[0]}, TypeError),
        ({"email_rules": ("gmail.com",)}, TypeError),
        ({"email_rules": DEFAULT_EMAIL_RULES * 2}, ValueError),
        ({"strip_plus_tags_domains": "fastmail.com"}, TypeError),
        ({"strip_plus_tags_domains": ("fastmail.com", "FASTMAIL.COM")}, ValueError),
        ({"strip_plus_tags_domains": ("googlemail.com",)}, ValueError),
        ({"strip_plus_tags_domains": ("not a domain",)}, ValueError),
        ({"strip_plus_tags_domains": ("localhost",)}, ValueError),
    ],
)
def test_bad_config_fails_at_construction(fields: dict, error: type[Exception]) -> None:  # type: ignore[type-arg]
    with pytest.raises(error):
        NormalizerConfig(**fields)


def test_bad_rules_fail_at_construction() -> None:
    with pytest.raises(ValueError):
        EmailProviderRule(())
    with pytest.raises(TypeError):
        EmailProviderRule("gmail.com")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        EmailProviderRule(("gmail.com",), ignore_dots=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Normalizer({"default_region": "KR"})  # type: ignore[arg-type]


# --- batches -----------------------------------------------------------------------------------


def test_normalize_many_in_order(normalizer: Normalizer) -> None:
    items = [("email", "A@Example.com"), ("phone", "010-1234-5678"), ("ip", "::ffff:192.0.2.1")]
    assert [r.value for r in normalizer.normalize_many(items)] == ["a@example.com", "+821012345678", "192.0.2.1"]
    assert normalizer.normalize_many([]) == []


def test_normalize_many_stops_at_the_first_invalid(normalizer: Normalizer) -> None:
    consumed: list[int] = []

    def items():  # type: ignore[no-untyped-def]
        for i, item in enumerate(
            [("email", "a@example.com"), ("phone", "not a phone"), ("ip", "garbage"), ("ip", "192.0.2.1")]
        ):
            consumed.append(i)
            yield item

    with pytest.raises(InvalidIdentifierError) as caught:
        normalizer.normalize_many(items())
    error = caught.value
    assert (error.index, error.kind, error.reason_code) == (1, "phone", "invalid_characters")
    assert error.reason.startswith("item 1: ") and "phone" in error.reason
    assert consumed == [0, 1]


@pytest.mark.parametrize("item", [("email",), ("email", "a@example.com", "x"), "email", ["email", "a@example.com"]])
def test_normalize_many_rejects_malformed_items(normalizer: Normalizer, item: object) -> None:
    with pytest.raises(InvalidIdentifierError) as caught:
        normalizer.normalize_many([("ip", "192.0.2.1"), item])  # type: ignore[list-item]
    assert (caught.value.index, caught.value.reason_code) == (1, "invalid_item")


# --- logs ---------------------------------------------------------------------------------------


def test_logging_results_and_errors_leaks_no_canary(normalizer: Normalizer, caplog: pytest.LogCaptureFixture) -> None:
    """Callers will log what they got back; the suite-wide canary handler checks every record."""
    log = logging.getLogger("tests.identifiers")
    result = normalizer.normalize("email", CANARY_PII)
    log.info("normalized %r", result)
    log.info("normalized %s", result, extra={"identifier": result})
    for kind, raw in [
        ("email", CANARY_PII + "\x00"),
        ("email", CANARY_PII.replace("@", "@@")),
        ("phone", CANARY_PII),
        ("ip", CANARY_PII),
        ("device_id", CANARY_PII + " x"),
        ("account_id", CANARY_PII + "\u200b"),
        ("card_fingerprint", CANARY_PII + " x"),
        ("national_id", CANARY_PII),
        ("custom:x", CANARY_PII + "\x07"),
    ]:
        try:
            normalizer.normalize(kind, raw)
        except InvalidIdentifierError as error:
            log.warning("rejected identifier: %s", error, exc_info=True)
            log.warning("rejected", extra={"error": error, "field": error.field, "code": error.reason_code})
        else:
            pytest.fail(f"{kind} accepted an invalid value")
    assert len(caplog.records) == 20
    assert all(CANARY_PII not in r.getMessage() for r in caplog.records)
