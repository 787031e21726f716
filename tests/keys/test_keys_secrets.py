"""SecretBytes, and that every class holding key material keeps it out of reprs."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest
from keys_support import CHEAP_PARAMS, PASSPHRASE, assert_not_shown

import pseudovault.keys.secrets as secrets_module
from pseudovault.keys.aead import Aead
from pseudovault.keys.keyring import LocalKeyring
from pseudovault.keys.keyset import Keyset, KeyStatus, KeyVersion
from pseudovault.keys.pseudonym import Pseudonymizer
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.signing import SigningKey
from pseudovault.keys.testing import FakeKmsProvider

RAW = bytes(range(200, 232))


def test_repr_str_and_format_are_redacted() -> None:
    secret = SecretBytes(RAW)
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>80}"]
    shown += ["%s %r" % (secret, secret), repr([secret]), str({"key": secret})]
    for text in shown:
        assert "redacted" in text and "32" in text
        assert_not_shown(text, RAW)


def test_reveal_gives_the_bytes() -> None:
    secret = SecretBytes(bytearray(RAW))
    assert secret.reveal() == RAW and isinstance(secret.reveal(), bytes)
    assert len(secret) == 32 and bool(secret) and not SecretBytes(b"")


def test_no_implicit_conversion_to_bytes() -> None:
    with pytest.raises(TypeError):
        bytes(SecretBytes(RAW))


@pytest.mark.parametrize("value", ["text", 5, None, [1, 2]])
def test_only_bytes_go_in(value: object) -> None:
    with pytest.raises(TypeError):
        SecretBytes(value)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        SecretBytes(SecretBytes(RAW))  # type: ignore[arg-type]


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickling_is_refused(protocol: int) -> None:
    with pytest.raises(TypeError):
        pickle.dumps(SecretBytes(RAW), protocol=protocol)
    with pytest.raises(TypeError):
        pickle.dumps({"nested": [SecretBytes(RAW)]}, protocol=protocol)


def test_copies_are_fine_and_equal() -> None:
    secret = SecretBytes(RAW)
    assert copy.copy(secret) == secret
    assert copy.deepcopy({"k": secret})["k"] == secret


def test_equality() -> None:
    assert SecretBytes(RAW) == SecretBytes(bytes(RAW))
    assert not SecretBytes(RAW) != SecretBytes(bytes(RAW))
    assert SecretBytes(RAW) != SecretBytes(RAW[:-1] + b"\x00")
    assert SecretBytes(RAW) != SecretBytes(RAW[:-1])
    assert SecretBytes(RAW) != RAW  # never equal to the raw bytes it holds
    assert SecretBytes(RAW) != RAW


def test_equality_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = secrets_module.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(secrets_module.hmac, "compare_digest", spy)
    assert SecretBytes(RAW) == SecretBytes(RAW)
    assert SecretBytes(RAW) != SecretBytes(b"other")
    assert calls == [(RAW, RAW), (RAW, b"other")]


def test_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(SecretBytes(RAW))
    with pytest.raises(TypeError):
        {SecretBytes(RAW)}  # noqa: B018


# --- every secret-bearing class ----------------------------------------------------------


def test_key_version_material_is_not_in_its_repr() -> None:
    material_field = {f.name: f for f in dataclasses.fields(KeyVersion)}["material"]
    assert material_field.repr is False
    now = datetime(2026, 1, 1, tzinfo=UTC)
    version = KeyVersion(1, KeyStatus.ENABLED, now, SecretBytes(RAW))
    keyset = Keyset(1, (version,))
    for text in (repr(version), repr(keyset), str(keyset)):
        assert_not_shown(text, RAW)
        assert "redacted" not in text  # not even the SecretBytes placeholder: the field is left out
    with pytest.raises(TypeError):
        pickle.dumps(keyset)


def test_reprs_of_every_secret_bearing_class_are_redacted(tmp_path: Path) -> None:
    secret = SecretBytes(RAW)
    keyring = LocalKeyring.create(tmp_path / "k", PASSPHRASE, params=CHEAP_PARAMS)
    fake = FakeKmsProvider()
    signer = SigningKey.from_seed(secret)
    objects: list[tuple[object, list[bytes]]] = [
        (secret, [RAW]),
        (Aead(secret), [RAW]),
        (Pseudonymizer(secret, 1), [RAW]),
        (signer, [RAW]),
        (keyring, [v.material.reveal() for v in keyring._keyset.versions]),  # type: ignore[union-attr]
        (fake, [v.material.reveal() for v in fake._keyset.versions]),  # type: ignore[union-attr]
    ]
    for obj, materials in objects:
        for text in (repr(obj), str(obj)):
            for material in materials:
                assert_not_shown(text, material)
        with pytest.raises(TypeError):
            pickle.dumps(obj)
