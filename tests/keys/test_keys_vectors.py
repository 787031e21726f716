"""Known-answer tests: published vectors through the project's own functions."""

from __future__ import annotations

from typing import Any

import pytest
from keys_vectors import load_vectors

from pseudovault.keys.errors import DecryptionError
from pseudovault.keys.pseudonym import hmac_sha256
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.signing import SigningKey, verify_signature
from pseudovault.keys.wrap import unwrap_key, wrap_key


@pytest.mark.parametrize("vector", load_vectors("rfc5649_key_wrap"))
def test_rfc5649_wrap(vector: dict[str, Any]) -> None:
    kek, key = SecretBytes(bytes.fromhex(vector["kek"])), SecretBytes(bytes.fromhex(vector["key"]))
    assert wrap_key(kek, key) == bytes.fromhex(vector["wrapped"])


@pytest.mark.parametrize("vector", load_vectors("rfc5649_key_wrap"))
def test_rfc5649_unwrap(vector: dict[str, Any]) -> None:
    kek = SecretBytes(bytes.fromhex(vector["kek"]))
    wrapped = bytes.fromhex(vector["wrapped"])
    assert unwrap_key(kek, wrapped) == SecretBytes(bytes.fromhex(vector["key"]))
    with pytest.raises(DecryptionError):
        unwrap_key(kek, wrapped[:-1] + bytes([wrapped[-1] ^ 0x80]))


@pytest.mark.parametrize("vector", load_vectors("rfc4231_hmac_sha256"))
def test_rfc4231_hmac_sha256(vector: dict[str, Any]) -> None:
    mac = hmac_sha256(SecretBytes(bytes.fromhex(vector["key"])), bytes.fromhex(vector["data"]))
    assert len(mac) == 32
    bits = vector.get("truncate_bits")
    if bits is None:
        assert mac == bytes.fromhex(vector["mac"])
    else:  # RFC 4231 case 5 publishes only the leftmost 128 bits
        assert bits == 128 and mac[: bits // 8] == bytes.fromhex(vector["mac"])


@pytest.mark.parametrize("vector", load_vectors("rfc8032_ed25519"))
def test_rfc8032_ed25519(vector: dict[str, Any]) -> None:
    key = SigningKey.from_seed(SecretBytes(bytes.fromhex(vector["seed"])))
    message = bytes.fromhex(vector["message"])
    assert key.public_key_bytes() == bytes.fromhex(vector["public_key"])
    assert key.sign(message) == bytes.fromhex(vector["signature"])
    assert verify_signature(bytes.fromhex(vector["public_key"]), message, bytes.fromhex(vector["signature"]))
