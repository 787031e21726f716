"""Erasure requests: erase a subject, keep what a law or a hold requires, and get a signed receipt.

``POST /v1/erasure-requests`` is idempotent by request id: the same request (same id, or any
request for a subject already erased) answers 200 with the receipt first issued, a new one 201.
A subject under a legal hold (or linked to a held record) is refused: 409, problem type ``held``,
with the ``hold_id``; nothing is changed.

The receipt is canonical JSON (vault.retention.receipts) signed by the audit signing key. Its
exact bytes are what a verifier checks: ``GET /v1/erasure-requests/{request_id}`` returns them
as the body, ready to save and check offline with ``pseudovault receipts verify FILE``; the
``document`` of the POST answer is the same text. The receipt holds ids, category codes, field
names, legal bases and dates: no value of the subject's data. Scope: ``erasure``.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Path, Query, status
from fastapi.responses import Response

from pseudovault.api.auth import ApiRoute, Erasure
from pseudovault.api.deps import VaultDep
from pseudovault.api.openapi import BYTES_MEDIA_TYPE
from pseudovault.api.schemas.erasure import (
    _REQUEST_EXAMPLE,
    _SUBJECT_EXAMPLE,
    ErasureCreate,
    ErasureOut,
    ReceiptDocument,
    ReceiptVerifyRequest,
    RequestId,
    VerifyOut,
)
from pseudovault.vault.retention.erasure import ErasureReceipt

__all__ = ["router"]


router = APIRouter(prefix="/v1/erasure-requests", route_class=ApiRoute, tags=["erasure"])


def _out(receipt: ErasureReceipt) -> ErasureOut:
    return ErasureOut(
        request_id=receipt.request_id,
        subject_id=receipt.subject_id,
        already=receipt.already,
        receipt=ReceiptDocument.model_validate(receipt.as_dict()),
        document=receipt.document.decode("ascii"),
    )


#: the request's Accept header (not in the description: OpenAPI leaves Accept to the media types)
AcceptHeader = Annotated[str | None, Header(include_in_schema=False)]


def _document(receipt: ErasureReceipt, accept: str | None) -> Response:
    """The receipt file's bytes as issued: ``application/json`` unless the client asks for
    ``application/octet-stream`` (generated clients then keep the bytes instead of parsing them)."""
    media_type = BYTES_MEDIA_TYPE if accept and BYTES_MEDIA_TYPE in accept else "application/json"
    return Response(content=receipt.document, media_type=media_type)


#: the exact bytes first (clients generated from the description take the first media type, and
#: a receipt parsed and re-encoded no longer verifies), then the same bytes read as JSON
_RECEIPT_FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The receipt file's exact bytes (canonical JSON and a newline). Keep them as they are: "
        "the signature covers these bytes, and a receipt parsed and encoded again does not verify.",
        "content": {
            BYTES_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/ReceiptDocument"}},
        },
    }
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Request the erasure of a subject",
    description="Shreds the subject's PII (its data key, then its data), deletes the records a policy lets go, "
    "keeps bans (unlinked: they still match) and moves data kept under another law to separate storage "
    "with its own expiry; answers with a signed receipt of what was destroyed and what was retained, with "
    "category, legal basis and until when. 201 for a new erasure; 200 with the first receipt for a repeat "
    "(same request id, or a subject already erased). 409 `held` naming the hold when a legal hold blocks "
    "it; 409 when the request id was used for another subject; 404 for a subject that never existed. "
    "Audited as `erasure.request`.",
    responses={200: {"description": "The receipt of an earlier request (`already: true`).", "model": ErasureOut}},
)
def request_erasure(body: ErasureCreate, vault: VaultDep, _caller: Erasure, response: Response) -> ErasureOut:
    receipt = vault.erasure.request(str(body.subject_id), request_id=body.request_id)
    if receipt.already:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"{router.prefix}/{receipt.request_id}"
    return _out(receipt)


@router.get(
    "",
    summary="The receipt of a subject's erasure",
    description="The receipt file of the erasure of `subject_id`, byte for byte as issued. 404 when the subject "
    "was not erased through an erasure request.",
    response_model=ReceiptDocument,
    responses=_RECEIPT_FILE,
)
def receipt_of_subject(
    vault: VaultDep,
    _caller: Erasure,
    subject_id: Annotated[UUID, Query(description="The erased subject's id.", examples=[_SUBJECT_EXAMPLE])],
    accept: AcceptHeader = None,
) -> Response:
    return _document(vault.erasure.receipt(str(subject_id)), accept)


@router.get(
    "/{request_id}",
    summary="The receipt of an erasure request",
    description="The receipt file, byte for byte as issued: save it and run `pseudovault receipts verify FILE` "
    "(offline, optionally pinning the vault's public key). 404 for an unknown request id.",
    response_model=ReceiptDocument,
    responses=_RECEIPT_FILE,
)
def receipt_of_request(
    request_id: Annotated[RequestId, Path(description="The erasure request's id.", examples=[_REQUEST_EXAMPLE])],
    vault: VaultDep,
    _caller: Erasure,
    accept: AcceptHeader = None,
) -> Response:
    return _document(vault.erasure.receipt_of_request(request_id), accept)


@router.post(
    "/verify-receipt",
    summary="Verify an erasure receipt",
    description="Checks a receipt file's text: canonical form, the signature, that the signing key is one of "
    "this vault's, and the pinned public key if given. Answers 200 with `ok` false and the reason for an "
    "invalid receipt. The same check runs offline with `pseudovault receipts verify`.",
)
def verify_receipt(body: ReceiptVerifyRequest, vault: VaultDep, _caller: Erasure) -> VerifyOut:
    pin = bytes.fromhex(body.public_key) if body.public_key is not None else None
    check = vault.erasure.verify(body.document.encode("utf-8"), pin=pin)
    return VerifyOut.model_validate(check.as_dict())
