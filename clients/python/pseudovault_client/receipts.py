"""Erasure receipts as the exact bytes the vault signed, and their offline verification.

A receipt file is one line of canonical JSON and a newline: ``{"receipt": {...}, "signature":
{"algorithm": "Ed25519", "key_id", "public_key", "value"}}``. The signature covers
``b"pseudovault/erasure-receipt/v1\\x00" + canonical(receipt)``, so the file must be kept byte for
byte: :class:`Receipt` holds those bytes (``bytes(receipt)`` to save them) and reads the body from
them.

:func:`verify_receipt` checks a receipt without the vault, as ``pseudovault receipts verify``
does: the bytes are canonical, the key id names the embedded public key, the public key is the
pinned one (``pin``), and the Ed25519 signature verifies. The embedded key proves the file was not
altered; only a pinned key (the vault's, from ``GET /v1/keys``: ``signing_keys``) proves which
vault signed it. It needs the ``cryptography`` package (``pip install 'pseudovault-client[verify]'``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Receipt", "ReceiptCheck", "verify_receipt", "canonical"]

RECEIPT_TYPE = "pseudovault.erasure_receipt"
RECEIPT_VERSION = 1
SIGNATURE_DOMAIN = b"pseudovault/erasure-receipt/v1\x00"
_SIGNATURE_KEYS = frozenset({"algorithm", "key_id", "public_key", "value"})


def canonical(value: Any) -> bytes:
    """The canonical JSON encoding receipts are signed in: sorted keys, no spaces, ASCII only."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


class Receipt(bytes):
    """A receipt file's exact bytes (a ``bytes``), with its parts readable."""

    def _parsed(self) -> dict[str, Any]:
        parsed = json.loads(self.decode("utf-8"))
        if not isinstance(parsed, dict):
            raise ValueError("not a receipt")
        return parsed

    @property
    def body(self) -> dict[str, Any]:
        """What the receipt says: request and subject ids, times, what was destroyed and retained."""
        body = self._parsed().get("receipt")
        return dict(body) if isinstance(body, dict) else {}

    @property
    def key_id(self) -> str | None:
        signature = self._parsed().get("signature")
        return signature.get("key_id") if isinstance(signature, dict) else None

    @property
    def request_id(self) -> str | None:
        return self.body.get("request_id")

    @property
    def subject_id(self) -> str | None:
        return self.body.get("subject_id")

    def __repr__(self) -> str:
        return f"Receipt(request_id={self.request_id!r}, {len(self)} bytes)"


@dataclass(frozen=True)
class ReceiptCheck:
    """The outcome of :func:`verify_receipt`: ``ok``, or the first ``reason`` it failed for."""

    ok: bool
    reason: str | None
    key_id: str | None = None
    pinned: bool = False
    body: Mapping[str, Any] | None = field(default=None, repr=False)

    def __bool__(self) -> bool:
        return self.ok


def _unhex(value: object, size: int) -> bytes | None:
    if not isinstance(value, str) or len(value) != 2 * size:
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    return raw if raw.hex() == value else None


def _public_key_id(public_key: bytes) -> str:
    return "ed25519:" + hashlib.sha256(public_key).digest()[:8].hex()


def verify_receipt(document: bytes, *, pin: bytes | str | None = None) -> ReceiptCheck:
    """Verify a receipt file's bytes offline. ``pin``: the vault's Ed25519 public key (32 bytes,
    or 64 hex digits) the receipt must be signed with. Never raises for a bad document."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RuntimeError("verifying a receipt offline needs: pip install 'pseudovault-client[verify]'") from exc
    pinned = bytes.fromhex(pin) if isinstance(pin, str) else pin
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
    if signature["algorithm"] != "Ed25519":
        return ReceiptCheck(False, "unsupported signature algorithm", key_id)
    public_key = _unhex(signature["public_key"], 32)
    value = _unhex(signature["value"], 64)
    if public_key is None or value is None:
        return ReceiptCheck(False, "malformed public key or signature", key_id)
    if key_id is None or not hmac.compare_digest(key_id, _public_key_id(public_key)):
        return ReceiptCheck(False, "the key id does not name the embedded public key", key_id)
    if pinned is not None and not hmac.compare_digest(pinned, public_key):
        return ReceiptCheck(False, "signed with a public key other than the pinned one", key_id)
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(value, SIGNATURE_DOMAIN + canonical(body))
    except (InvalidSignature, ValueError):
        return ReceiptCheck(False, "the signature does not verify", key_id)
    return ReceiptCheck(True, None, key_id, pinned=pinned is not None, body=body)
