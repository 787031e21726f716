"""The field cipher: the one associated-data encoding of every encrypted value in the data store."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pseudovault.keys.aead import Aead
from pseudovault.keys.errors import DecryptionError
from pseudovault.keys.wrap import generate_key
from pseudovault.vault.crypto.fields import SCHEMA_VERSION, FieldCipher, FieldOwner, associated_data

SUBJECT = "3d1f8a52-0c4b-4e7a-9b1d-6a2f0e9c8b71"


@pytest.mark.parametrize(
    ("owner", "label"),
    [
        (FieldOwner.SUBJECT, b"\x00\x00\x00\x11pseudovault/field"),
        (FieldOwner.RECORD, b"\x00\x00\x00\x12pseudovault/record"),
        (FieldOwner.SEPARATED, b"\x00\x00\x00\x15pseudovault/separated"),
    ],
)
def test_the_layout_is_the_documented_one(owner: FieldOwner, label: bytes) -> None:
    assert associated_data(owner, SUBJECT, "email", SCHEMA_VERSION) == (
        label
        + b"\x00\x00\x00\x243d1f8a52-0c4b-4e7a-9b1d-6a2f0e9c8b71"
        + b"\x00\x00\x00\x05email"
        + b"\x00\x00\x00\x04\x00\x00\x00\x01"
    )


def test_length_prefixes_make_the_encoding_unambiguous() -> None:
    assert associated_data(FieldOwner.SUBJECT, "ab", "c", 1) != associated_data(FieldOwner.SUBJECT, "a", "bc", 1)


@given(value=st.binary(max_size=256), name=st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True))
def test_round_trip(value: bytes, name: str) -> None:
    cipher = FieldCipher(Aead(generate_key()), FieldOwner.RECORD, SUBJECT)
    assert cipher.decrypt(name, cipher.encrypt(name, value), SCHEMA_VERSION) == value


def test_a_ciphertext_moved_anywhere_else_fails_as_one_opaque_error() -> None:
    aead = Aead(generate_key())
    cipher = FieldCipher(aead, FieldOwner.SUBJECT, SUBJECT)
    ciphertext = cipher.encrypt("email", b"someone@example.com")
    elsewhere = [
        (FieldCipher(aead, FieldOwner.SUBJECT, "another-subject"), "email", SCHEMA_VERSION),
        (FieldCipher(aead, FieldOwner.RECORD, SUBJECT), "email", SCHEMA_VERSION),
        (FieldCipher(aead, FieldOwner.SEPARATED, SUBJECT), "email", SCHEMA_VERSION),
        (cipher, "phone", SCHEMA_VERSION),
        (cipher, "email", SCHEMA_VERSION + 1),
        (FieldCipher(Aead(generate_key()), FieldOwner.SUBJECT, SUBJECT), "email", SCHEMA_VERSION),
    ]
    for other, name, version in elsewhere:
        with pytest.raises(DecryptionError) as caught:
            other.decrypt(name, ciphertext, version)
        assert str(caught.value) == str(DecryptionError())
    assert cipher.decrypt("email", ciphertext, SCHEMA_VERSION) == b"someone@example.com"


def test_mistakes_fail_at_construction_and_the_repr_shows_no_key() -> None:
    aead = Aead(generate_key())
    with pytest.raises(TypeError):
        FieldCipher(aead, b"pseudovault/field", SUBJECT)  # type: ignore[arg-type]
    with pytest.raises(UnicodeEncodeError):
        FieldCipher(aead, FieldOwner.SUBJECT, "sübject")
    assert repr(FieldCipher(aead, FieldOwner.SUBJECT, SUBJECT)) == "FieldCipher(subject)"
