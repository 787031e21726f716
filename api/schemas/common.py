"""Building blocks of request and response bodies shared by the routers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Self
from uuid import UUID

from fastapi import Header
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Strict, StringConstraints

from pseudovault.vault.idempotency import KEY_PATTERN, IdempotencyClaim
from pseudovault.vault.ids import CODE_PATTERN

__all__ = [
    "RequestModel",
    "ResponseModel",
    "IdempotencyKeyHeader",
    "idempotency_claim",
    "HexText",
    "IsoDatetime",
    "BodyUuid",
    "BodyDatetime",
    "PastTimestamp",
    "ReasonCode",
    "Reference",
]

_NUMBER = re.compile(r"\s*[-+]?[0-9]+(\.[0-9]*)?\s*")


def _iso_only(value: Any) -> Any:
    if isinstance(value, (int, float)) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("must be an ISO 8601 date-time with a UTC offset, e.g. 2026-01-31T00:00:00Z")
    return value


def _in_utc_range(value: datetime) -> datetime:
    # 0001-01-01T00:00:00+14:00 parses but has no UTC equivalent (OverflowError deeper down)
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None
    return value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _not_before_1970(value: datetime) -> datetime:
    if value < _EPOCH:
        raise ValueError("must be on or after 1970-01-01T00:00:00Z")
    return value


#: an ISO 8601 date-time with a UTC offset (pydantic alone would also take a Unix timestamp)
IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_only), AfterValidator(_in_utc_range)]

#: in a (strict) request body: a UUID given as a JSON string
BodyUuid = Annotated[UUID, Strict(False)]
#: in a (strict) request body: an ISO 8601 date-time with a UTC offset, given as a JSON string
BodyDatetime = Annotated[AwareDatetime, Strict(False), BeforeValidator(_iso_only), AfterValidator(_in_utc_range)]
#: a moment the caller says something happened (a request received, data provided): not before 1970
PastTimestamp = Annotated[BodyDatetime, AfterValidator(_not_before_1970)]

#: bytes in a response, as lower-case hex (a signature, a public key)
HexText = Annotated[str, BeforeValidator(lambda value: bytes(value).hex() if isinstance(value, (bytes, bytearray, memoryview)) else value)]

#: a reason or outcome, as a code (audited as given: a code cannot carry personal data)
ReasonCode = Annotated[str, StringConstraints(pattern=f"^{CODE_PATTERN}$")]
#: a case or ticket id: no spaces, no ``@``, so it cannot carry an e-mail address or a name
Reference = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


class RequestModel(BaseModel):
    """A request body: unknown fields are refused (422), and nothing is coerced from another
    JSON type (a number is not a string, a string is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ResponseModel(BaseModel):
    """A response body, built from a domain view's attributes of the same names (:meth:`of`)."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    @classmethod
    def of(cls, view: object) -> Self:
        """The model from ``view``'s attributes (a view may hold more than the model declares)."""
        return cls.model_validate(view)

    @classmethod
    def pick(cls, data: Mapping[str, Any] | object) -> Self:
        """The model from the fields of ``data`` (a mapping or an object) it declares; anything
        else ``data`` holds is left out, so a domain object may grow without changing the API."""
        values = data if isinstance(data, Mapping) else vars(data)
        return cls(**{name: values[name] for name in cls.model_fields if name in values})


#: ``Idempotency-Key``: a create sent again with the same key creates nothing new (vault.idempotency)
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="A key of the client's (8 to 128 of A-Z a-z 0-9 . _ : -, e.g. a UUID): a retry with "
        "the same key and request answers the same and creates nothing new.",
    ),
]


def idempotency_claim(scope: str, key: str | None, operation: str, body: BaseModel) -> IdempotencyClaim | None:
    """The claim of a create sent with ``Idempotency-Key: key`` (None without one): by the caller's
    API key id, for ``operation``, over the body as validated."""
    if key is None:
        return None
    return IdempotencyClaim.for_request(scope, key, operation, body.model_dump_json().encode())
