"""AES-256-GCM and RFC 5649 key wrap: round trips, and every tampering is one opaque error."""

from __future__ import annotations

import os
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pseudovault.keys.aead import NONCE_BATCH, NONCE_SIZE, OVERHEAD, Aead, random_nonce
from pseudovault.keys.errors import DecryptionError
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.wrap import generate_key, unwrap_key, wrap_key

keys_32 = st.binary(min_size=32, max_size=32).map(SecretBytes)
keks = st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n)).map(SecretBytes)


def flip(data: bytes, bit: int) -> bytes:
    i = bit // 8
    return data[:i] + bytes([data[i] ^ (1 << (bit % 8))]) + data[i + 1 :]


# --- Aead ----------------------------------------------------------------------------------


@settings(max_examples=100)
@given(key=keys_32, plaintext=st.binary(max_size=512), associated_data=st.binary(max_size=128))
def test_aead_round_trip(key: SecretBytes, plaintext: bytes, associated_data: bytes) -> None:
    aead = Aead(key)
    ciphertext = aead.encrypt(plaintext, associated_data)
    assert len(ciphertext) == len(plaintext) + OVERHEAD
    assert aead.decrypt(ciphertext, associated_data) == plaintext


@settings(max_examples=100)
@given(key=keys_32, plaintext=st.binary(max_size=64), associated_data=st.binary(max_size=32), data=st.data())
def test_aead_any_flipped_bit_fails(
    key: SecretBytes, plaintext: bytes, associated_data: bytes, data: st.DataObject
) -> None:
    aead = Aead(key)
    ciphertext = aead.encrypt(plaintext, associated_data)
    bit = data.draw(st.integers(0, len(ciphertext) * 8 - 1), label="bit")
    with pytest.raises(DecryptionError):
        aead.decrypt(flip(ciphertext, bit), associated_data)


@settings(max_examples=100)
@given(
    key=keys_32, plaintext=st.binary(max_size=64), associated_data=st.binary(max_size=32), other=st.binary(max_size=32)
)
def test_aead_other_associated_data_fails(
    key: SecretBytes, plaintext: bytes, associated_data: bytes, other: bytes
) -> None:
    aead = Aead(key)
    ciphertext = aead.encrypt(plaintext, associated_data)
    if other == associated_data:
        other = associated_data + b"\x00"
    with pytest.raises(DecryptionError):
        aead.decrypt(ciphertext, other)


@settings(max_examples=100)
@given(key=keys_32, plaintext=st.binary(max_size=64), data=st.data())
def test_aead_truncation_fails(key: SecretBytes, plaintext: bytes, data: st.DataObject) -> None:
    aead = Aead(key)
    ciphertext = aead.encrypt(plaintext, b"ad")
    length = data.draw(st.integers(0, len(ciphertext) - 1), label="length")
    with pytest.raises(DecryptionError):
        aead.decrypt(ciphertext[:length], b"ad")


@settings(max_examples=50)
@given(key=keys_32, other=keys_32, plaintext=st.binary(max_size=64))
def test_aead_another_key_fails(key: SecretBytes, other: SecretBytes, plaintext: bytes) -> None:
    if other == key:
        other = SecretBytes(bytes(b ^ 0xFF for b in key.reveal()))
    ciphertext = Aead(key).encrypt(plaintext, b"ad")
    with pytest.raises(DecryptionError):
        Aead(other).decrypt(ciphertext, b"ad")


def test_aead_nonces_are_fresh() -> None:
    aead = Aead(generate_key())
    ciphertexts = {aead.encrypt(b"same", b"same") for _ in range(64)}
    assert len(ciphertexts) == 64
    assert len({c[:NONCE_SIZE] for c in ciphertexts}) == 64


def test_nonces_are_unique_across_refills_and_threads() -> None:
    # several refills of the pool, taken by eight threads at once
    per_thread = NONCE_BATCH * 3
    taken: list[list[bytes]] = [[] for _ in range(8)]
    start = threading.Barrier(len(taken))

    def take(out: list[bytes]) -> None:
        start.wait()
        out.extend(random_nonce() for _ in range(per_thread))

    threads = [threading.Thread(target=take, args=(out,)) for out in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [nonce for out in taken for nonce in out]
    assert all(type(n) is bytes and len(n) == NONCE_SIZE for n in every)
    assert len(set(every)) == len(every) == 8 * per_thread


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_never_hands_out_its_parents_nonces() -> None:
    random_nonce()  # the pool now holds NONCE_BATCH - 1 nonces the parent will hand out next
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first nonces, sent to the parent
        try:
            os.close(read_end)
            os.write(write_end, b"".join(random_nonce() for _ in range(8)))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        from_child = pipe.read()
    os.waitpid(pid, 0)
    child = {from_child[i : i + NONCE_SIZE] for i in range(0, len(from_child), NONCE_SIZE)}
    parent = {random_nonce() for _ in range(NONCE_BATCH)}
    assert len(child) == 8
    assert not child & parent


@pytest.mark.parametrize("ciphertext", [b"", b"\x00" * 5, b"\x00" * 10, b"\x00" * 27, None, "text", 12, bytearray(40), memoryview(bytes(40))])
def test_aead_garbage_is_a_decryption_error(ciphertext: object) -> None:
    with pytest.raises(DecryptionError) as err:
        Aead(generate_key()).decrypt(ciphertext, b"")  # type: ignore[arg-type]
    assert str(err.value) == "decryption failed"


@pytest.mark.parametrize(
    ("key", "error"),
    [(b"k" * 32, TypeError), (SecretBytes(b"k" * 16), ValueError), (SecretBytes(b"k" * 33), ValueError)],
)
def test_aead_refuses_bad_keys_at_construction(key: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        Aead(key)  # type: ignore[arg-type]


# --- key wrap ------------------------------------------------------------------------------


@settings(max_examples=100)
@given(kek=keks, key=st.binary(min_size=1, max_size=1024))
def test_wrap_round_trip(kek: SecretBytes, key: bytes) -> None:
    wrapped = wrap_key(kek, SecretBytes(key))
    assert len(wrapped) == 8 + -(-len(key) // 8) * 8
    assert unwrap_key(kek, wrapped) == SecretBytes(key)
    assert wrap_key(kek, SecretBytes(key)) == wrapped  # deterministic: no nonce to run out of


@settings(max_examples=100)
@given(kek=keks, key=st.binary(min_size=1, max_size=80), data=st.data())
def test_wrap_any_flipped_bit_fails(kek: SecretBytes, key: bytes, data: st.DataObject) -> None:
    wrapped = wrap_key(kek, SecretBytes(key))
    bit = data.draw(st.integers(0, len(wrapped) * 8 - 1), label="bit")
    with pytest.raises(DecryptionError):
        unwrap_key(kek, flip(wrapped, bit))


@settings(max_examples=100)
@given(kek=keks, key=st.binary(min_size=1, max_size=80), data=st.data())
def test_wrap_truncation_fails(kek: SecretBytes, key: bytes, data: st.DataObject) -> None:
    wrapped = wrap_key(kek, SecretBytes(key))
    length = data.draw(st.integers(0, len(wrapped) - 1), label="length")
    with pytest.raises(DecryptionError):
        unwrap_key(kek, wrapped[:length])


@settings(max_examples=50)
@given(kek=keks, other=keks, key=st.binary(min_size=1, max_size=64))
def test_wrap_another_kek_fails(kek: SecretBytes, other: SecretBytes, key: bytes) -> None:
    if len(other) == len(kek) and other == kek:
        other = SecretBytes(bytes(b ^ 0xFF for b in kek.reveal()))
    with pytest.raises(DecryptionError):
        unwrap_key(other, wrap_key(kek, SecretBytes(key)))


def test_wrap_refuses_mistakes() -> None:
    kek = generate_key()
    with pytest.raises(ValueError):
        wrap_key(kek, SecretBytes(b""))
    with pytest.raises(TypeError):
        wrap_key(kek, b"raw bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        wrap_key(SecretBytes(b"k" * 20), generate_key())
    with pytest.raises(ValueError):
        generate_key(20)
    assert len(generate_key()) == 32 and generate_key() != generate_key()


@pytest.mark.parametrize("wrapped", [b"", b"\x00" * 15, None, "text"])
def test_unwrap_garbage_is_a_decryption_error(wrapped: object) -> None:
    with pytest.raises(DecryptionError):
        unwrap_key(generate_key(), wrapped)  # type: ignore[arg-type]
