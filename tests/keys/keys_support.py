"""Constants and helpers shared by the key layer's tests (importable; conftest is not)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pseudovault.keys.aead import Aead
from pseudovault.keys.kdf import derive_sealing_key, passphrase_bytes
from pseudovault.keys.keyring import Argon2Params
from pseudovault.keys.keyring_file import parse_header

PASSPHRASE = "correct horse battery staple"

# Argon2's own minimums: fast enough to open a keyring hundreds of times per test.
CHEAP_PARAMS = Argon2Params(time_cost=1, memory_cost=8, parallelism=1)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def encodings_of(secret: bytes) -> list[str]:
    """Ways key bytes could show up in text: raw repr, hex (both cases), base64."""
    return [
        repr(secret)[2:-1],
        secret.hex(),
        secret.hex().upper(),
        base64.b64encode(secret).decode("ascii"),
    ]


def assert_not_shown(text: str, secret: bytes) -> None:
    for encoded in encodings_of(secret):
        assert encoded not in text


def decrypted_payload(path: Path, passphrase: str = PASSPHRASE) -> dict[str, Any]:
    """White-box: the sealed payload of a keyring file, opened the way the module documents."""
    header, sealed = parse_header(path, path.read_bytes())
    aead = Aead(derive_sealing_key(passphrase_bytes(passphrase), header.salt, header.params))
    payload: dict[str, Any] = json.loads(aead.decrypt(sealed, header.associated_data()))
    return payload
