"""Request and response bodies of the erasure endpoints (:mod:`api.routers.erasure`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pseudovault.api.schemas.common import BodyUuid, Reference, RequestModel, ResponseModel

__all__ = ["MAX_DOCUMENT", "RequestId", "ErasureCreate", "Signature", "ReceiptDocument", "ErasureOut", "ReceiptVerifyRequest", "VerifyOut"]


#: a receipt lists every field, record and separated item of one subject: a few hundred KiB at most
MAX_DOCUMENT = 512 * 1024


#: an erasure request id: a case or ticket id, like a hold's reference
RequestId = Reference


_SUBJECT_EXAMPLE = "0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10"


_REQUEST_EXAMPLE = "DSR-2026-00017"


class ErasureCreate(RequestModel):
    subject_id: BodyUuid = Field(examples=[_SUBJECT_EXAMPLE])
    request_id: RequestId | None = Field(
        None,
        description="Idempotency key (a case or ticket id, never personal data): retrying with the same id "
        "returns the same receipt. A UUID is assigned when absent.",
        examples=[_REQUEST_EXAMPLE],
    )


class Signature(ResponseModel):
    algorithm: str = Field(examples=["Ed25519"])
    key_id: str = Field(description="Names the public key (see `pseudovault status`).")
    public_key: str = Field(description="The Ed25519 public key, 64 hex digits.")
    value: str = Field(description="The signature, 128 hex digits.")


class ReceiptDocument(ResponseModel):
    receipt: dict[str, Any] = Field(
        description="request_id, subject_id, requested_at, completed_at, destroyed (subject_fields, "
        "record_evidence, records, separated), retained (kind, category, legal_basis, retained_until), "
        "recipients_to_notify, policies fingerprint. No PII."
    )
    signature: Signature


class ErasureOut(ResponseModel):
    request_id: str = Field(examples=[_REQUEST_EXAMPLE])
    subject_id: str = Field(examples=[_SUBJECT_EXAMPLE])
    already: bool = Field(description="True when this answers with the receipt of an earlier request.")
    receipt: ReceiptDocument
    document: str = Field(
        description="The receipt file's exact text (canonical JSON and a newline): store it as is to verify it "
        "later; re-encoding the parsed receipt differently breaks the check."
    )


class ReceiptVerifyRequest(RequestModel):
    document: str = Field(
        min_length=2, max_length=MAX_DOCUMENT, description="A receipt file's exact text, as issued."
    )
    public_key: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        description="Pin: the public key the receipt must be signed with (64 lower-case hex digits).",
    )


class VerifyOut(ResponseModel):
    ok: bool
    reason: str | None = Field(description="Why it failed (the first check that failed); null when valid.")
    key_id: str | None
    vault_checked: bool = Field(description="The signing key was checked to be one of this vault's own.")
    pinned: bool
    request_id: str | None
    subject_id: str | None
