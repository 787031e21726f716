"""Erasure receipts: a canonical JSON document signed with the audit signing key (Ed25519).

Encoding
    ``canonical(x)`` is ``json.dumps(x, sort_keys=True, separators=(",", ":"), ensure_ascii=True)``
    as bytes: keys sorted, no insignificant whitespace, every non-ASCII character escaped, so the
    same value always encodes to the same bytes. Timestamps are ISO 8601 strings in UTC with
    microseconds; lists are in a stated order (sorted by id or name).

Document (the receipt file is exactly these bytes, one line, then ``\\n``)::

    canonical({"receipt": <body>, "signature": {"algorithm": "Ed25519", "key_id": <id>,
                                                "public_key": <64 hex digits>, "value": <128 hex digits>}})

Signature
    ``Ed25519(b"pseudovault/erasure-receipt/v1" 0x00 || canonical(body))`` by the vault's audit
    signing key (vault.crypto.signing). ``key_id`` is ``keys.signing.public_key_id(public_key)``.

Verification (:func:`verify_document`) refuses, naming the first reason: bytes that are not the
canonical encoding of what they parse to (so changing any byte of the file, whitespace
included, fails), a key id that is not the embedded public key's, a public key other than a pinned
one (``pin``), a key the vault does not know or knows differently (``known_key``, when a vault is
at hand: the public key is derived from the unwrapped seed, never read from a stored column), or a
signature that does not verify. Offline, the embedded public key proves integrity but not origin:
pin the vault's public key (``pseudovault status`` lists the signing keys) to prove origin.

The body holds ids, category codes, field names, legal bases, timestamps and recipients' names:
never a value of the subject's data.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pseudovault.keys.signing import (
    PUBLIC_KEY_SIZE,
    SIGNATURE_SIZE,
    SigningKey,
    public_key_id,
    verify_signature,
)
from pseudovault.vault.views import HIDDEN, View

__all__ = [
    "RECEIPT_TYPE",
    "RECEIPT_VERSION",
    "SIGNATURE_DOMAIN",
    "ReceiptCheck",
    "canonical",
    "sign_receipt",
    "signed_message",
    "verify_document",
]

RECEIPT_TYPE = "pseudovault.erasure_receipt"
RECEIPT_VERSION = 1
SIGNATURE_DOMAIN = b"pseudovault/erasure-receipt/v1\x00"
ALGORITHM = "Ed25519"

_SIGNATURE_KEYS = frozenset({"algorithm", "key_id", "public_key", "value"})


def canonical(value: Any) -> bytes:
    """The canonical JSON encoding of ``value`` (see the module docstring)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def signed_message(body: Mapping[str, Any]) -> bytes:
    return SIGNATURE_DOMAIN + canonical(body)


def sign_receipt(body: Mapping[str, Any], key: SigningKey) -> bytes:
    """The receipt file for ``body`` signed by ``key``: canonical JSON and a final newline."""
    document = {
        "receipt": dict(body),
        "signature": {
            "algorithm": ALGORITHM,
            "key_id": key.key_id,
            "public_key": key.public_key_bytes().hex(),
            "value": key.sign(signed_message(body)).hex(),
        },
    }
    return canonical(document) + b"\n"


@dataclass(frozen=True)
class ReceiptCheck(View):
    """The outcome of verifying a receipt: ``ok``, the first ``reason`` it failed for, and what
    it says (``receipt`` body, ``key_id``) when it could be read."""

    ok: bool
    reason: str | None
    key_id: str | None = None
    receipt: Mapping[str, Any] | None = field(default=None, metadata=HIDDEN)
    vault_checked: bool = False
    pinned: bool = False

    def extra(self) -> Mapping[str, Any]:
        return {
            "request_id": self.receipt.get("request_id") if self.receipt else None,
            "subject_id": self.receipt.get("subject_id") if self.receipt else None,
        }


def _unhex(value: object, size: int) -> bytes | None:
    if not isinstance(value, str) or len(value) != 2 * size:
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    return raw if raw.hex() == value else None  # lower-case hex only: one spelling per value


def verify_document(
    document: bytes,
    *,
    pin: bytes | None = None,
    known_key: Callable[[str], bytes | None] | None = None,
) -> ReceiptCheck:
    """Verify a receipt file's bytes (see the module docstring). Never raises for bad input.

    ``pin``: the raw 32-byte public key the receipt must be signed with. ``known_key(key_id)``:
    the vault's public key of that id, or None if the vault has no such key.
    """
    if not isinstance(document, (bytes, bytearray)):
        return ReceiptCheck(False, "a receipt is bytes")
    data = bytes(document)
    body_bytes = data[:-1] if data.endswith(b"\n") else data
    try:
        parsed = json.loads(body_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return ReceiptCheck(False, "not a JSON document")
    if not isinstance(parsed, dict) or set(parsed) != {"receipt", "signature"}:
        return ReceiptCheck(False, "not a receipt: expected the keys receipt and signature")
    body, signature = parsed["receipt"], parsed["signature"]
    if not isinstance(body, dict) or not isinstance(signature, dict) or set(signature) != _SIGNATURE_KEYS:
        return ReceiptCheck(False, "not a receipt: malformed receipt or signature")
    try:
        if canonical(parsed) != body_bytes:
            return ReceiptCheck(False, "not in canonical form: the file was altered")
    except ValueError:
        return ReceiptCheck(False, "not in canonical form: the file was altered")
    key_id = signature["key_id"] if isinstance(signature["key_id"], str) else None
    if body.get("type") != RECEIPT_TYPE or body.get("version") != RECEIPT_VERSION:
        return ReceiptCheck(False, "not an erasure receipt of a known version", key_id)
    if signature["algorithm"] != ALGORITHM:
        return ReceiptCheck(False, "unsupported signature algorithm", key_id)
    public_key = _unhex(signature["public_key"], PUBLIC_KEY_SIZE)
    value = _unhex(signature["value"], SIGNATURE_SIZE)
    if public_key is None or value is None:
        return ReceiptCheck(False, "malformed public key or signature", key_id)
    if key_id is None or not hmac.compare_digest(key_id, public_key_id(public_key)):
        return ReceiptCheck(False, "the key id does not name the embedded public key", key_id)
    if pin is not None and not hmac.compare_digest(bytes(pin), public_key):
        return ReceiptCheck(False, "signed with a public key other than the pinned one", key_id)
    if known_key is not None:
        vault_key = known_key(key_id)
        if vault_key is None:
            return ReceiptCheck(False, "the signing key is not one of this vault's keys", key_id)
        if not hmac.compare_digest(vault_key, public_key):
            return ReceiptCheck(False, "the embedded public key is not this vault's key of that id", key_id)
    if not verify_signature(public_key, signed_message(body), value):
        return ReceiptCheck(False, "the signature does not verify", key_id)
    return ReceiptCheck(True, None, key_id, body, vault_checked=known_key is not None, pinned=pin is not None)
