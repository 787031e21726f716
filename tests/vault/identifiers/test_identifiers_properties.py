"""Properties: idempotent, stable across Unicode forms and (where the kind ignores it) case;
errors never quote the input; reprs never show the value."""

from __future__ import annotations

import ipaddress
import re
import string
import unicodedata
from collections.abc import Callable
from datetime import date

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pseudovault.vault.identifiers import InvalidIdentifierError, NormalizedIdentifier, Normalizer, NormalizerConfig
from pseudovault.vault.identifiers.confusables import lookalike_key

N = Normalizer()
US = Normalizer(NormalizerConfig(default_region="US"))
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Default_Ignorable_Code_Point characters outside Cf/Cn (these would be refused, by design)
_INVISIBLE = {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x3164, 0xFFA0}
_INVISIBLE |= set(range(0xFE00, 0xFE10)) | set(range(0xE0100, 0xE01F0))


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def visible(categories: tuple[str, ...] = ("L", "M", "N", "P", "S")) -> st.SearchStrategy[str]:
    return st.characters(categories=categories).filter(lambda c: ord(c) not in _INVISIBLE)  # type: ignore[arg-type]


def assert_idempotent(normalizer: Normalizer, kind: str, result: NormalizedIdentifier) -> None:
    assert normalizer.normalize(kind, result.value) == result
    if result.lookalike is not None:
        assert result.lookalike != result.value


@st.composite
def case_variant(draw: st.DrawFn, text: str) -> str:
    """``text`` with the case of some characters changed, keeping each one's case folding."""
    out = []
    for c in text:
        options = [v for v in {c, c.upper(), c.lower()} if v.casefold() == c.casefold()]
        out.append(draw(st.sampled_from(sorted(options))))
    return "".join(out)


# --- email --------------------------------------------------------------------------------------

ATOM = st.text(string.ascii_letters + string.digits + "!#$%&'*/=?^_`{|}~-", min_size=1, max_size=8)
UNICODE_ATOM = st.text(visible(("Ll", "Lu", "Lt", "Lo", "Nd")), min_size=1, max_size=8)
DOMAINS = st.sampled_from(
    [
        "example.com",
        "EXAMPLE.net",
        "mail.example.org",
        "gmail.com",
        "googlemail.com",
        "b\u00fccher.example",
        "xn--bcher-kva.example",
        "\u4f8b\u5b50.\u5e7f\u544a",
        "\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",
    ]
)


@st.composite
def emails(draw: st.DrawFn) -> str:
    atoms = draw(st.lists(st.one_of(ATOM, UNICODE_ATOM), min_size=1, max_size=3))
    local = ".".join(atoms)
    if draw(st.booleans()):
        local += "+" + draw(ATOM)
    return f"{local}@{draw(DOMAINS)}"


@SETTINGS
@given(emails())
def test_email_idempotent_and_nfd_stable(raw: str) -> None:
    result = N.normalize("email", raw)
    assert_idempotent(N, "email", result)
    assert N.normalize("email", nfd(raw)) == result
    assert N.normalize("email", f" {raw}\n") == result
    local, _, domain = result.value.rpartition("@")
    assert domain.isascii() and domain == domain.lower()
    assert unicodedata.is_normalized("NFC", local)


@SETTINGS
@given(st.data(), emails())
def test_email_case_insensitive(data: st.DataObject, raw: str) -> None:
    assert N.normalize("email", data.draw(case_variant(raw))) == N.normalize("email", raw)


@SETTINGS
@given(
    st.lists(ATOM.map(str.lower), min_size=1, max_size=3),
    st.lists(st.sampled_from([".", ""]), min_size=3, max_size=3),
    ATOM,
    st.sampled_from(["gmail.com", "googlemail.com", "GMail.com"]),
)
def test_gmail_ignores_dots_and_tags(atoms: list[str], joins: list[str], tag: str, domain: str) -> None:
    plain = "".join(atoms)
    dotted = "".join(a + j for a, j in zip(atoms, joins, strict=False)).rstrip(".")
    expected = N.normalize("email", f"{plain}@gmail.com").value
    assert N.normalize("email", f"{dotted}+{tag}@{domain}").value == expected == f"{plain.casefold()}@gmail.com"


@SETTINGS
@given(st.lists(ATOM, min_size=2, max_size=3), ATOM)
def test_other_providers_keep_dots_and_tags(atoms: list[str], tag: str) -> None:
    dotted = ".".join(atoms)
    assert N.normalize("email", f"{dotted}@example.com") != N.normalize("email", f"{''.join(atoms)}@example.com")
    assert N.normalize("email", f"{dotted}+{tag}@example.com") != N.normalize("email", f"{dotted}@example.com")


# --- phone --------------------------------------------------------------------------------------

FULL_WIDTH = str.maketrans("0123456789-", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff0d")


@st.composite
def kr_mobile(draw: st.DrawFn) -> str:
    rest = draw(
        st.from_regex(r"[0-9]{8}", fullmatch=True).filter(
            lambda d: phonenumbers.is_valid_number(phonenumbers.parse("010" + d, "KR"))
        )
    )
    return rest


@SETTINGS
@given(
    kr_mobile(),
    st.sampled_from(["-", " ", ".", "", "\u2013"]),
    st.sampled_from(["0", "+82 ", "+82-", "+82", "+82 0"]),
    st.booleans(),
)
def test_kr_mobile_formats_are_one_identifier(rest: str, sep: str, prefix: str, wide: bool) -> None:
    raw = f"{prefix}10{sep}{rest[:4]}{sep}{rest[4:]}"
    if wide:
        raw = raw.translate(FULL_WIDTH)
    result = N.normalize("phone", raw)
    assert result.value == f"+8210{rest}"
    assert_idempotent(N, "phone", result)
    assert US.normalize("phone", result.value) == result


US_AREAS = ["201", "212", "213", "305", "312", "415", "617", "650", "702", "713", "808", "917"]


@st.composite
def us_numbers(draw: st.DrawFn) -> tuple[str, str, str]:
    area = draw(st.sampled_from(US_AREAS))
    exchange, line = draw(
        st.tuples(st.from_regex(r"[2-9][0-9]{2}", fullmatch=True), st.from_regex(r"[0-9]{4}", fullmatch=True)).filter(
            lambda t: phonenumbers.is_valid_number(phonenumbers.parse(f"+1{area}{t[0]}{t[1]}"))
        )
    )
    return area, exchange, line


@SETTINGS
@given(us_numbers(), st.sampled_from(["({a}) {e}-{l}", "{a}-{e}-{l}", "1 {a} {e} {l}", "+1 {a}.{e}.{l}", "{a}{e}{l}"]))
def test_us_formats_are_one_identifier(number: tuple[str, str, str], template: str) -> None:
    area, exchange, line = number
    result = US.normalize("phone", template.format(a=area, e=exchange, l=line))
    assert result.value == f"+1{area}{exchange}{line}"
    assert_idempotent(US, "phone", result)
    assert N.normalize("phone", f"+1 {area} {exchange} {line}") == result


# --- ip -------------------------------------------------------------------------------------------


@SETTINGS
@given(st.ip_addresses(v=4))
def test_ipv4_idempotent_and_mapped(address: ipaddress.IPv4Address) -> None:
    result = N.normalize("ip", str(address))
    assert result.value == str(address)
    assert_idempotent(N, "ip", result)
    assert N.normalize("ip", f"::ffff:{address}") == result
    mapped = ipaddress.IPv6Address(int(address) | (0xFFFF << 32))
    assert N.normalize("ip", mapped.exploded.upper()) == result


PREFIXES = st.sampled_from([16, 32, 48, 56, 64, 96, 112, 127, 128])
_CARRIERS = (
    ipaddress.IPv6Network("::ffff:0:0/96"),  # IPv4-mapped
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64, well-known prefix
    ipaddress.IPv6Network("::/96"),  # deprecated IPv4-compatible (refused)
)


def plain_ipv6(address: ipaddress.IPv6Address) -> bool:
    """Not an address that carries an IPv4 address (those have their own rules)."""
    return address in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")) or not any(
        address in network for network in _CARRIERS
    )


IPV6 = st.ip_addresses(v=6).filter(plain_ipv6)


@SETTINGS
@given(IPV6, PREFIXES, st.integers(min_value=0, max_value=(1 << 128) - 1))
def test_ipv6_reduced_to_prefix(address: ipaddress.IPv6Address, prefix: int, noise: int) -> None:
    n = N if prefix == 64 else Normalizer(NormalizerConfig(ipv6_prefix=prefix))
    result = n.normalize("ip", str(address))
    network = ipaddress.IPv6Network(result.value)
    assert network.prefixlen == prefix and address in network
    assert_idempotent(n, "ip", result)
    assert n.normalize("ip", address.exploded.upper()) == result
    host_mask = (1 << (128 - prefix)) - 1
    same_net = ipaddress.IPv6Address((int(address) & ~host_mask) | (noise & host_mask))
    if plain_ipv6(same_net):
        assert n.normalize("ip", str(same_net)) == result
    other = ipaddress.IPv6Address(int(address) ^ (1 << (128 - prefix)))
    if plain_ipv6(other):
        assert n.normalize("ip", str(other)).value != result.value


def _rfc6052(prefix: ipaddress.IPv6Network, v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    """RFC 6052 section 2.2, written from the table (not from the code under test): the IPv4 bits
    after the prefix, skipping bits 64-71 (the u octet, zero)."""
    bits = [int(b) for b in format(int(prefix.network_address), "0128b")]
    v4_bits = [int(b) for b in format(int(v4), "032b")]
    position = prefix.prefixlen
    for bit in v4_bits:
        if position == 64:
            position = 72
        bits[position] = bit
        position += 1
    return ipaddress.IPv6Address(int("".join(map(str, bits)), 2))


NAT64_PREFIXES = st.sampled_from(
    ["2001:db8::/32", "2001:db8:100::/40", "2001:db8:122::/48", "2001:db8:122:300::/56", "2001:db8:122:344::/64",
     "2001:db8:122:344::/96", "64:ff9b:1::/48"]
)


@SETTINGS
@given(st.ip_addresses(v=4), NAT64_PREFIXES)
def test_translated_addresses_are_the_ipv4_they_carry(v4: ipaddress.IPv4Address, prefix: str) -> None:
    plain = N.normalize("ip", str(v4))
    n = Normalizer(NormalizerConfig(nat64_prefixes=(prefix,)))
    for carrier in (
        _rfc6052(ipaddress.IPv6Network("64:ff9b::/96"), v4),
        ipaddress.IPv6Address(int(v4) | (0xFFFF << 48)),  # SIIT ::ffff:0:a.b.c.d
        _rfc6052(ipaddress.IPv6Network(prefix), v4),
    ):
        assert n.normalize("ip", str(carrier)) == plain
        assert n.normalize("ip", carrier.exploded.upper()) == plain
    unconfigured = N.normalize("ip", str(_rfc6052(ipaddress.IPv6Network(prefix), v4)))
    assert unconfigured.value.endswith("/64")  # an operator's prefix is only known when configured
    if int(v4) > 1:  # ::0.0.0.0 and ::0.0.0.1 are :: and ::1
        with pytest.raises(InvalidIdentifierError) as refused:
            N.normalize("ip", f"::{v4}")
        assert refused.value.reason_code == "ipv4_compatible"


@SETTINGS
@given(st.text(max_size=40))
def test_the_lookalike_key_is_a_fixed_point(text: str) -> None:
    key = lookalike_key(text)
    assert lookalike_key(key) == key
    if text.isascii():  # case never matters to a look-alike (0 and O, 1 and l and I meet too)
        assert lookalike_key(text.upper()) == key == lookalike_key(text.lower())


# --- device_id, card_fingerprint, account_id, custom ----------------------------------------------

REAL_UUIDS = st.uuids().filter(lambda u: u.int not in (0, (1 << 128) - 1))


@SETTINGS
@given(REAL_UUIDS)
def test_device_uuid_forms_are_one_identifier(value) -> None:  # type: ignore[no-untyped-def]
    text = str(value)
    result = N.normalize("device_id", text)
    assert result.value == text
    assert_idempotent(N, "device_id", result)
    for form in (text.upper(), "{" + text + "}", "urn:uuid:" + text.upper(), value.hex, value.hex.upper()):
        assert N.normalize("device_id", form) == result


TOKEN = st.text(visible(), min_size=1, max_size=40)


@SETTINGS
@given(TOKEN.filter(lambda t: t.strip("0") != ""))
def test_device_tokens_idempotent_and_nfd_stable(raw: str) -> None:
    result = N.normalize("device_id", raw)
    assert_idempotent(N, "device_id", result)
    assert N.normalize("device_id", nfd(raw)) == result
    assert result.lookalike is None


HEX = st.text("0123456789abcdef", min_size=8, max_size=64).filter(lambda t: any(c.isalpha() for c in t))


@SETTINGS
@given(HEX, st.data())
def test_hex_card_fingerprints_ignore_case(raw: str, data: st.DataObject) -> None:
    result = N.normalize("card_fingerprint", raw)
    assert result.value == raw
    assert_idempotent(N, "card_fingerprint", result)
    assert N.normalize("card_fingerprint", data.draw(case_variant(raw))) == result


@SETTINGS
@given(
    st.text(string.ascii_letters + string.digits, min_size=8, max_size=32).filter(
        lambda t: not re.fullmatch(r"[0-9a-fA-F]+", t)
    )
)
def test_opaque_card_fingerprints_keep_case(raw: str) -> None:
    result = N.normalize("card_fingerprint", raw)
    assert result.value == raw
    assert_idempotent(N, "card_fingerprint", result)


@SETTINGS
@given(TOKEN)
def test_account_ids_idempotent_nfd_stable_with_lookalike(raw: str) -> None:
    result = N.normalize("account_id", raw)
    assert result.value == unicodedata.normalize("NFC", raw)
    assert_idempotent(N, "account_id", result)
    assert N.normalize("account_id", nfd(raw)) == result
    look = lookalike_key(result.value)
    assert result.lookalike == (look if look != result.value else None)
    assert result.skeleton == look


@SETTINGS
@given(
    st.lists(TOKEN, min_size=1, max_size=4),
    st.lists(st.sampled_from([" ", "  ", "\u3000", "\u00a0 "]), min_size=3, max_size=3),
)
def test_custom_values_collapse_inner_space(words: list[str], gaps: list[str]) -> None:
    raw = "".join(w + g for w, g in zip(words, gaps, strict=False)).strip() + ("" if len(words) <= 3 else words[-1])
    result = N.normalize("custom:note", raw)
    assert "  " not in result.value
    assert_idempotent(N, "custom:note", result)
    assert N.normalize("custom:note", nfd(raw)) == result


# --- national_id --------------------------------------------------------------------------------

CENTURY_DIGITS = {1800: "90", 1900: "1256", 2000: "3478"}


@st.composite
def rrns(draw: st.DrawFn) -> str:
    born = draw(st.dates(min_value=date(1800, 1, 1), max_value=date(2099, 12, 31)))
    gender = draw(st.sampled_from(CENTURY_DIGITS[born.year // 100 * 100]))
    tail = draw(st.from_regex(r"[0-9]{6}", fullmatch=True))
    return f"{born:%y%m%d}{gender}{tail}"


@SETTINGS
@given(rrns(), st.sampled_from(["", "-", " ", "\u2010"]), st.booleans())
def test_rrn_formats_are_one_identifier(digits: str, sep: str, wide: bool) -> None:
    raw = digits[:6] + sep + digits[6:]
    if wide:
        raw = raw.translate(FULL_WIDTH)
    result = N.normalize("national_id", raw)
    assert result.value == digits
    assert_idempotent(N, "national_id", result)


@SETTINGS
@given(
    st.from_regex(r"[A-Za-z0-9]{5,30}", fullmatch=True).filter(lambda t: not re.fullmatch(r"[0-9]{13}", t)), st.data()
)
def test_opaque_national_ids_ignore_case_and_separators(raw: str, data: st.DataObject) -> None:
    result = N.normalize("national_id", raw)
    assert result.value == raw.upper()
    assert_idempotent(N, "national_id", result)
    assert N.normalize("national_id", data.draw(case_variant(raw))) == result
    cut = data.draw(st.integers(min_value=1, max_value=len(raw) - 1))
    assert N.normalize("national_id", f"{raw[:cut]}-{raw[cut:]}") == result


# --- errors never quote the input; reprs never show the value -------------------------------------

CANARY = st.text(string.ascii_letters + string.digits, min_size=6, max_size=12).map(lambda s: "QZX" + s)

INVALID: dict[str, list[Callable[[str], str]]] = {
    "email": [
        lambda c: f"{c}@@{c}.com",
        lambda c: f"{c}\x00@example.com",
        lambda c: f"{c}@exa mple.com",
        lambda c: c,
        lambda c: f'"{c}"@example.com',
        lambda c: f"{c}@{c}.test",
    ],
    "phone": [lambda c: f"+82 10 {c}", lambda c: c],
    "ip": [lambda c: c, lambda c: f"1.2.3.4%{c}", lambda c: f"{c}/24"],
    "device_id": [lambda c: f"{c} {c}", lambda c: f"{c}\u200b"],
    "account_id": [lambda c: f"{c} x", lambda c: f"{c}\x01"],
    "card_fingerprint": [lambda c: f"{c} x", lambda c: f"{c}_4111111111111111"],
    "national_id": [lambda c: f"{c}\uac00", lambda c: f"{c}_1"],
    "custom:secret": [lambda c: f"{c}\x00", lambda c: c * 30],
}
CASES = [(kind, i) for kind, makers in INVALID.items() for i in range(len(makers))]


def assert_quiet(error: InvalidIdentifierError, secret: str) -> None:
    texts = [str(error), repr(error), error.reason, error.field, error.kind, *map(str, error.args)]
    for text in texts:
        for form in {secret, secret.upper(), secret.lower()}:
            assert form not in text
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


@pytest.mark.parametrize(("kind", "which"), CASES)
@settings(max_examples=15, deadline=None)
@given(canary=CANARY)
def test_errors_never_contain_the_input(kind: str, which: int, canary: str) -> None:
    raw = INVALID[kind][which](canary)
    with pytest.raises(InvalidIdentifierError) as caught:
        N.normalize(kind, raw)
    assert_quiet(caught.value, canary)
    with pytest.raises(InvalidIdentifierError) as caught:
        N.normalize_many([("ip", "192.0.2.1"), (kind, raw)])
    assert caught.value.index == 1
    assert_quiet(caught.value, canary)


def _luhn_complete(body: str) -> str:
    digits = [int(d) for d in body]
    for check in range(10):
        total = 0
        for i, d in enumerate(reversed([*digits, check])):
            total += (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 else d
        if total % 10 == 0:
            return body + str(check)
    raise AssertionError("unreachable: one check digit always fits")


@SETTINGS
@given(
    st.integers(min_value=12, max_value=18).flatmap(lambda n: st.from_regex(f"[1-9][0-9]{{{n - 1}}}", fullmatch=True)),
    st.sampled_from(["", " ", "-"]),
)
def test_card_numbers_are_refused_without_echo(body: str, sep: str) -> None:
    pan = _luhn_complete(body)
    raw = sep.join(pan[i : i + 4] for i in range(0, len(pan), 4))
    with pytest.raises(InvalidIdentifierError) as caught:
        N.normalize("card_fingerprint", raw)
    assert caught.value.reason_code == "raw_card_number"
    assert "raw card numbers must not be submitted" in caught.value.reason
    assert not re.search(r"[0-9]{4}", str(caught.value))
    assert_quiet(caught.value, pan)


@SETTINGS
@given(st.from_regex(r"[0-9]{2}(1[3-9]|[2-9][0-9])[0-9]{9}", fullmatch=True))
def test_bad_rrn_dates_are_refused_without_echo(digits: str) -> None:
    with pytest.raises(InvalidIdentifierError) as caught:
        N.normalize("national_id", f"{digits[:6]}-{digits[6:]}")
    assert caught.value.reason_code == "invalid_rrn_date"
    assert not re.search(r"[0-9]{4}", str(caught.value))


@SETTINGS
@given(CANARY, st.data())
def test_reprs_never_show_the_value(canary: str, data: st.DataObject) -> None:
    homoglyph = canary.replace("X", "\u0425", 1)  # Cyrillic capital ha: the account id gets a lookalike
    assert N.normalize("account_id", homoglyph).lookalike is not None
    results = [
        N.normalize("email", f"{canary}@example.com"),
        N.normalize("account_id", homoglyph),
        N.normalize("custom:note", f"{canary} {canary}"),
        N.normalize("device_id", canary),
        N.normalize("card_fingerprint", canary),
        N.normalize("national_id", canary),
        N.normalize("phone", data.draw(kr_mobile().map(lambda r: f"010{r}"))),
        N.normalize("ip", str(data.draw(IPV6))),
    ]
    for result in results:
        for text in (repr(result), str(result), f"{result!r:>10}", repr([result])):
            assert result.value not in text
            assert canary.lower() not in text.lower()
            if result.lookalike is not None:
                assert result.lookalike not in text


# --- the email fast path agrees with email-validator -------------------------------------------------

_NEAR_LOCAL = st.text(alphabet="aZ09_+-.!#", min_size=1, max_size=70)
_NEAR_LABEL = st.text(alphabet="aZz09-", min_size=1, max_size=66)
_NEAR_TLD = st.sampled_from(["com", "KR", "co", "x", "c0m", "123", "test", "local", "onion", "arpa", "example", "xn--3e0b707e"])
NEAR_PLAIN = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join([*labels, tld])}",
    _NEAR_LOCAL, st.lists(_NEAR_LABEL, min_size=0, max_size=4), _NEAR_TLD,
)
REAL_WORLD = st.sampled_from(
    [
        "kim.minji@naver.com", "Kim.Minji+promo@Gmail.COM", "a@b.co", "user_name-1@sub.example.co.kr",
        "x@localhost.localdomain", "postmaster@mail.example.org", "a--b@ex--ample.com", "ab@xn--bcher-kva.example",
        "first.last@a-b.c-d.example", "o'brien@example.ie", "\"quoted\"@example.com", "dots..here@example.com",
        ".lead@example.com", "trail.@example.com", "user@-bad.example", "user@bad-.example", "user@127.0.0.1",
        "user@[192.0.2.1]", "user@example", "user@example.123", "u@" + "a" * 63 + ".com", "u@" + "a" * 64 + ".com",
        "user@printer.local", "user@a.b.onion", "user@sub.test", "user@local.com", "user@xlocal.com", "user@test.kr",
    ]
)


def _outcome(raw: str) -> object:
    try:
        return N.normalize("email", raw)
    except InvalidIdentifierError as error:
        return error.reason_code


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.emails(), NEAR_PLAIN, REAL_WORLD))
def test_the_plain_email_fast_path_agrees_with_email_validator(raw: str) -> None:
    """The fast path answers exactly as email-validator for every address it takes (40,000
    examples agreed when it was written, 12,246 of them on the fast path), and the normalizer's
    output, value, look-alike or refusal, is the same with it and without it."""
    from unittest import mock

    from email_validator import EmailNotValidError, validate_email

    from pseudovault.vault.identifiers import emails

    fast = emails._validate_plain(raw)
    with_fast_path = _outcome(raw)
    with mock.patch.object(emails, "_validate_plain", lambda _text: None):
        assert _outcome(raw) == with_fast_path
    if fast is None:
        return  # email-validator decides, as before
    try:
        full = validate_email(raw, **emails._OPTIONS)
    except EmailNotValidError:
        pytest.fail("the fast path took an address email-validator refuses")
    assert fast == (full.local_part, full.ascii_domain)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["email", "phone", "ip", "device_id", "card_fingerprint", "national_id", "account_id", "custom:handle"]),
    st.one_of(
        st.text(max_size=40),
        emails(),
        TOKEN,
        st.ip_addresses().map(str),
        st.from_regex(r"01[016789]-?[0-9]{3,4}-?[0-9]{4}", fullmatch=True),
    ),
)
def test_the_normalizers_values_pass_the_checked_constructor(kind: str, raw: str) -> None:
    """The normalizer builds its results without NormalizedIdentifier's checks (the check path
    saves them): whatever it returns must pass those checks and equal the checked object."""
    try:
        result = N.normalize(kind, raw)
    except InvalidIdentifierError:
        return
    checked = NormalizedIdentifier(result.kind, result.value, result.version, result.lookalike)
    assert checked == result and hash(checked) == hash(result)
    assert type(result.value) is str and (result.lookalike is None or type(result.lookalike) is str)



#: near the token fast path's edges: visible ASCII with a space, a tab, a control character, a
#: non-ASCII letter or an invisible one mixed in, surrounding whitespace, lengths around the
#: limit (128 for both kinds), UUIDs and all-hex values in their forms, all-zero values
_TOKEN_PARTS = st.sampled_from(
    ["a", "Z", "0", "f", "-", "_", "~", "!", "{", "}", ":", "urn:uuid:", " ", "\t", "\x00", "\x7f", "\u00a0",
     "\u3000", "\u00e9", "e\u0301", "\u200b", "\u200d", "\ufeff", "\U0001f600", "\u0130"]
)
NEAR_TOKENS = st.one_of(
    st.lists(_TOKEN_PARTS, min_size=0, max_size=12).map("".join),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=120, max_size=136),
    st.uuids().flatmap(lambda u: st.sampled_from([str(u), str(u).upper(), u.hex, "{" + str(u) + "}", "urn:uuid:" + str(u)])),
    st.text("0", min_size=1, max_size=40),
    st.text(st.characters(), max_size=20),
)


def _token_outcome(kind: str, raw: object) -> object:
    try:
        return N.normalize(kind, raw)  # type: ignore[arg-type]
    except InvalidIdentifierError as error:
        return error.reason_code


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["device_id", "account_id"]), st.one_of(NEAR_TOKENS, TOKEN, st.just(b"abc"), st.none()))
def test_the_plain_token_fast_path_agrees_with_the_shared_rules(kind: str, raw: object) -> None:
    """A value the token fast path takes is exactly what the shared rules and the no-inner-space
    rule give for it, and the normalizer's answer (value, look-alike or refusal) is the same with
    the fast path and without it."""
    from unittest import mock

    from pseudovault.vault.identifiers import text, tokens

    limit = tokens.DEVICE_ID_MAX if kind == "device_id" else tokens.ACCOUNT_ID_MAX
    fast = text.plain_token(raw, limit)
    with_fast_path = _token_outcome(kind, raw)
    with mock.patch.object(tokens, "plain_token", lambda _raw, _limit: None):
        assert _token_outcome(kind, raw) == with_fast_path
    if fast is None:
        return
    assert fast is raw
    assert text.prepare(kind, raw, limit) == raw
    text.reject_inner_space(kind, fast)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.sampled_from(["email", "device_id", "ip", "phone", "account_id", "custom:handle", "nope", 7]),
    st.one_of(NEAR_TOKENS, emails(), st.ip_addresses().map(str), st.none()),
    st.sampled_from(["tuple", "list"]),
)
def test_one_identifier_is_normalized_as_in_a_list_of_several(kind: object, raw: object, shape: str) -> None:
    """A signup of a single (kind, value) pair takes a shorter path (records.validation): the same
    result, or the same refusal naming the same item, as the general path over the pairs."""
    from pseudovault.vault.records import validation

    pair = (kind, raw) if shape == "tuple" else [kind, raw]

    def outcome(normalize: Callable[[], object]) -> object:
        try:
            return normalize()
        except InvalidIdentifierError as error:
            return (type(error), error.kind, error.reason_code, str(error))

    single = outcome(lambda: validation.normalize_identifiers(N, [pair]))
    general = outcome(lambda: N.normalize_many(validation.identifier_pairs([pair])))
    assert single == general


_PHONE_TYPES = [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.TOLL_FREE]


@st.composite
def near_valid_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A region's example number with some of its last digits redrawn (and sometimes some
    dropped or added): many of them valid, many not."""
    region = draw(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
    example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(_PHONE_TYPES)))
    if example is None:
        example = phonenumbers.example_number(region)
    if example is None:
        return region, "+82 10-2000-0000"
    nsn = phonenumbers.national_significant_number(example)
    keep = draw(st.integers(min_value=max(0, len(nsn) - 6), max_value=len(nsn)))
    tail = draw(st.text("0123456789", min_size=max(0, len(nsn) - keep - 1), max_size=len(nsn) - keep + 1))
    return region, f"+{example.country_code}{nsn[:keep]}{tail}"


@settings(max_examples=500, deadline=None)
@given(near_valid_numbers())
def test_a_valid_phone_number_is_a_possible_one(case: tuple[str, str]) -> None:
    """The phone normalizer asks about possible lengths only for numbers that are not valid."""
    region, text = case
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return
    if phonenumbers.is_valid_number(number):
        assert phonenumbers.is_possible_number(number)


def test_every_regions_example_numbers_are_valid_and_possible() -> None:
    """The same over the metadata's own valid numbers, every region and type: not one valid
    number that is not possible."""
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in _PHONE_TYPES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None and phonenumbers.is_valid_number(example):
                assert phonenumbers.is_possible_number(example), region
                checked += 1
    assert checked > 500



@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(["local", "test", "onion", "arpa", "localhost", "invalid", "com", "kr", "xlocal"]), _NEAR_LABEL),
        min_size=1,
        max_size=4,
    )
)
def test_special_use_domains_are_found_at_label_boundaries(labels: list[str]) -> None:
    """The fast path's special-use test walks the domain's label suffixes; it must say what
    comparing every special-use name with the domain and its tails says."""
    from email_validator import SPECIAL_USE_DOMAIN_NAMES

    from pseudovault.vault.identifiers import emails

    domain = ".".join(labels).lower()
    expected = any(domain == name or domain.endswith("." + name) for name in SPECIAL_USE_DOMAIN_NAMES)
    assert emails._special_use(domain) == expected
