"""Keyed pseudonyms: full-length HMAC-SHA256 under per-kind, per-domain HKDF keys."""

from __future__ import annotations

import hashlib
import hmac
import struct
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pseudovault.keys.pseudonym as pseudonym_module
from pseudovault.keys.pseudonym import Pseudonymizer, derive_kind_key, hmac_sha256
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.wrap import generate_key

LOOKUP_KEY = SecretBytes(bytes(range(32)))

# st.text() never draws lone surrogates, so every value here is valid UTF-8 text
names = st.text(min_size=1, max_size=20)
values = st.text(min_size=1, max_size=60)
norm_versions = st.integers(0, 2**32 - 1)


def independent_pseudonym(lookup_key: bytes, kind: str, domain: str, normalized: str, norm_version: int) -> bytes:
    """The documented construction, written out again with the standard library only."""

    def lp(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes) -> bytes:  # RFC 5869, one block
        prk = hmac.new(salt, ikm, hashlib.sha256).digest()
        return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()

    info = b"pseudovault/pseudonym/v1" + lp(kind.encode()) + lp(domain.encode())
    kind_key = hkdf_sha256(lookup_key, b"pseudovault/pseudonym/hkdf-salt/v1", info)
    message = lp(struct.pack(">I", norm_version)) + lp(normalized.encode())
    return hmac.new(kind_key, message, hashlib.sha256).digest()


@settings(max_examples=200)
@given(kind=names, domain=names, normalized=values, norm_version=norm_versions)
def test_the_construction_is_pinned(kind: str, domain: str, normalized: str, norm_version: int) -> None:
    got = Pseudonymizer(LOOKUP_KEY, 1).derive(kind, domain, normalized, norm_version)
    assert got == independent_pseudonym(LOOKUP_KEY.reveal(), kind, domain, normalized, norm_version)


@settings(max_examples=200)
@given(normalized=values, kind=names, norm_version=norm_versions)
def test_never_a_plain_or_salted_hash(normalized: str, kind: str, norm_version: int) -> None:
    pseudonym = Pseudonymizer(LOOKUP_KEY, 1).derive(kind, "signup", normalized, norm_version)
    assert len(pseudonym) == 32
    raw = normalized.encode()
    assert pseudonym != hashlib.sha256(raw).digest()
    assert pseudonym != hashlib.sha256(kind.encode() + raw).digest()
    assert pseudonym != hmac.new(LOOKUP_KEY.reveal(), raw, hashlib.sha256).digest()  # not the lookup key directly


def test_deterministic_for_the_same_inputs() -> None:
    a, b = Pseudonymizer(LOOKUP_KEY, 3), Pseudonymizer(SecretBytes(bytes(range(32))), 3)
    assert a.derive("email", "signup", "x@example.org", 1) == a.derive("email", "signup", "x@example.org", 1)
    assert a.derive("email", "signup", "x@example.org", 1) == b.derive("email", "signup", "x@example.org", 1)


def test_every_input_changes_the_pseudonym() -> None:
    p = Pseudonymizer(LOOKUP_KEY, 1)
    base = ("email", "signup", "x@example.org", 1)
    variants = [
        ("phone", "signup", "x@example.org", 1),
        ("email", "payments", "x@example.org", 1),
        ("email", "signup", "y@example.org", 1),
        ("email", "signup", "x@example.org", 2),
        # the length prefixes keep shifted boundaries apart
        ("emai", "lsignup", "x@example.org", 1),
        ("email", "signu", "px@example.org", 1),
    ]
    results = {p.derive(*base)} | {p.derive(*v) for v in variants}
    results.add(Pseudonymizer(generate_key(), 1).derive(*base))
    assert len(results) == len(variants) + 2


@settings(max_examples=100)
@given(a=st.tuples(names, names), b=st.tuples(names, names))
def test_kind_keys_are_independent(a: tuple[str, str], b: tuple[str, str]) -> None:
    ka = derive_kind_key(LOOKUP_KEY, kind=a[0], domain=a[1])
    kb = derive_kind_key(LOOKUP_KEY, kind=b[0], domain=b[1])
    assert len(ka) == 32
    assert (ka == kb) == (a == b)


def test_the_lookup_key_version_is_a_label() -> None:
    assert Pseudonymizer(LOOKUP_KEY, 1).version == 1
    assert Pseudonymizer(LOOKUP_KEY, 7).version == 7
    v1, v7 = Pseudonymizer(LOOKUP_KEY, 1), Pseudonymizer(LOOKUP_KEY, 7)
    assert v1.derive("k", "d", "v", 1) == v7.derive("k", "d", "v", 1)  # the key, not the label, decides


def test_kind_keys_are_cached_per_kind_and_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    real = pseudonym_module.derive_kind_key

    def counting(lookup_key: SecretBytes, *, kind: str, domain: str) -> SecretBytes:
        calls.append((kind, domain))
        return real(lookup_key, kind=kind, domain=domain)

    monkeypatch.setattr(pseudonym_module, "derive_kind_key", counting)
    p = Pseudonymizer(LOOKUP_KEY, 1)
    for i in range(50):
        for kind in ("email", "phone"):
            p.derive(kind, "signup", f"value-{i}", 1)
    assert sorted(calls) == [("email", "signup"), ("phone", "signup")]


def test_past_the_cache_bound_results_are_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pseudonym_module, "MAX_CACHED_KEYS", 2)
    bounded = Pseudonymizer(LOOKUP_KEY, 1)
    kinds = [f"kind-{i}" for i in range(5)]
    first = [bounded.derive(k, "d", "v", 1) for k in kinds]
    assert len(bounded._macs) == 2
    assert [bounded.derive(k, "d", "v", 1) for k in kinds] == first
    assert first == [independent_pseudonym(LOOKUP_KEY.reveal(), k, "d", "v", 1) for k in kinds]


def test_thread_safe() -> None:
    p = Pseudonymizer(LOOKUP_KEY, 1)
    inputs = [(f"kind-{i % 7}", f"domain-{i % 3}", f"value-{i}", i % 2) for i in range(700)]
    expected = [independent_pseudonym(LOOKUP_KEY.reveal(), *args) for args in inputs]
    results: list[list[bytes]] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        results.append([p.derive(*args) for args in inputs])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r == expected for r in results)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("", "d", "v", 1), ValueError),
        (("k", "", "v", 1), ValueError),
        (("k", "d", "", 1), ValueError),
        (("k", "d", "v", -1), ValueError),
        (("k", "d", "v", 2**32), ValueError),
        (("k", "d", "v", True), TypeError),
        (("k", "d", "v", "1"), TypeError),
        (("k", "d", b"v", 1), TypeError),
        ((None, "d", "v", 1), TypeError),
    ],
)
def test_mistakes_are_refused(args: tuple[object, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        Pseudonymizer(LOOKUP_KEY, 1).derive(*args)  # type: ignore[arg-type]


def test_invalid_text_is_refused_without_quoting_it() -> None:
    with pytest.raises(ValueError) as err:
        Pseudonymizer(LOOKUP_KEY, 1).derive("email", "signup", "jane.doe\udc80@example.org", 1)
    assert "jane" not in str(err.value) and "example" not in str(err.value)


@pytest.mark.parametrize(
    ("key", "version", "error"),
    [
        (b"k" * 32, 1, TypeError),
        (SecretBytes(b"k" * 16), 1, ValueError),
        (LOOKUP_KEY, 0, ValueError),
        (LOOKUP_KEY, True, TypeError),
    ],
)
def test_bad_construction_is_refused(key: object, version: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        Pseudonymizer(key, version)  # type: ignore[arg-type]


def test_hmac_sha256_takes_secret_keys_only() -> None:
    with pytest.raises(TypeError):
        hmac_sha256(b"raw key", b"message")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hmac_sha256(LOOKUP_KEY, "text")  # type: ignore[arg-type]


def test_repr_is_redacted() -> None:
    assert repr(Pseudonymizer(LOOKUP_KEY, 4)) == "Pseudonymizer(version=4, <redacted key>)"
