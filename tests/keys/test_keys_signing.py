"""Ed25519 signing keys for audit checkpoints and erasure receipts."""

from __future__ import annotations

import hashlib
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.signing import SigningKey, public_key_id, verify_signature

KEY = SigningKey.from_seed(SecretBytes(bytes(range(32))))


def flip(data: bytes, bit: int) -> bytes:
    i = bit // 8
    return data[:i] + bytes([data[i] ^ (1 << (bit % 8))]) + data[i + 1 :]


@settings(max_examples=50)
@given(message=st.binary(max_size=256))
def test_sign_verify_round_trip(message: bytes) -> None:
    signature = KEY.sign(message)
    assert len(signature) == 64
    assert verify_signature(KEY.public_key_bytes(), message, signature) is True


@settings(max_examples=100)
@given(message=st.binary(min_size=1, max_size=64), data=st.data())
def test_a_tampered_message_does_not_verify(message: bytes, data: st.DataObject) -> None:
    signature = KEY.sign(message)
    bit = data.draw(st.integers(0, len(message) * 8 - 1), label="bit")
    assert verify_signature(KEY.public_key_bytes(), flip(message, bit), signature) is False
    assert verify_signature(KEY.public_key_bytes(), message + b"\x00", signature) is False


@settings(max_examples=100)
@given(bit=st.integers(0, 64 * 8 - 1))
def test_a_tampered_signature_does_not_verify(bit: int) -> None:
    signature = KEY.sign(b"checkpoint 42")
    assert verify_signature(KEY.public_key_bytes(), b"checkpoint 42", flip(signature, bit)) is False


@settings(max_examples=100)
@given(bit=st.integers(0, 32 * 8 - 1))
def test_a_tampered_public_key_does_not_verify(bit: int) -> None:
    signature = KEY.sign(b"checkpoint 42")
    assert verify_signature(flip(KEY.public_key_bytes(), bit), b"checkpoint 42", signature) is False


def test_another_key_does_not_verify() -> None:
    other = SigningKey.generate()
    assert verify_signature(other.public_key_bytes(), b"m", KEY.sign(b"m")) is False


@pytest.mark.parametrize(
    ("public_key", "message", "signature"),
    [
        (None, b"m", bytes(64)),
        ("text", b"m", bytes(64)),
        (bytes(31), b"m", bytes(64)),
        (bytes(33), b"m", bytes(64)),
        (b"\xff" * 32, b"m", bytes(64)),
        (KEY.public_key_bytes(), None, bytes(64)),
        (KEY.public_key_bytes(), "text", bytes(64)),
        (KEY.public_key_bytes(), b"m", None),
        (KEY.public_key_bytes(), b"m", bytes(63)),
        (KEY.public_key_bytes(), b"m", bytes(65)),
        (KEY.public_key_bytes(), b"m", b""),
        (bytes(32), b"m", bytes(64)),
    ],
)
def test_verify_never_raises(public_key: object, message: object, signature: object) -> None:
    assert verify_signature(public_key, message, signature) is False  # type: ignore[arg-type]


def test_from_seed_of_seed_is_the_same_key() -> None:
    key = SigningKey.generate()
    seed = key.seed()
    assert isinstance(seed, SecretBytes) and len(seed) == 32
    again = SigningKey.from_seed(seed)
    assert again.public_key_bytes() == key.public_key_bytes()
    assert again.key_id == key.key_id
    assert again.sign(b"receipt") == key.sign(b"receipt")  # Ed25519 is deterministic


def test_generated_keys_differ() -> None:
    assert SigningKey.generate().public_key_bytes() != SigningKey.generate().public_key_bytes()


def test_key_id_names_the_public_key() -> None:
    expected = "ed25519:" + hashlib.sha256(KEY.public_key_bytes()).digest()[:8].hex()
    assert KEY.key_id == expected == public_key_id(KEY.public_key_bytes())
    with pytest.raises(ValueError):
        public_key_id(b"short")


def test_repr_is_redacted_and_pickling_refused() -> None:
    assert repr(KEY) == f"SigningKey(key_id={KEY.key_id!r})"
    assert KEY.seed().reveal().hex() not in repr(KEY)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError):
            pickle.dumps(KEY, protocol=protocol)


@pytest.mark.parametrize(
    ("seed", "error"),
    [(bytes(32), TypeError), (SecretBytes(bytes(31)), ValueError), (SecretBytes(bytes(33)), ValueError)],
)
def test_bad_seeds_are_refused(seed: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        SigningKey.from_seed(seed)  # type: ignore[arg-type]


def test_sign_takes_bytes() -> None:
    with pytest.raises(TypeError):
        KEY.sign("text")  # type: ignore[arg-type]
