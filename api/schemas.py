"""Building blocks of request and response bodies shared by the routers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Self

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict

__all__ = ["RequestModel", "ResponseModel", "IsoDatetime"]

_NUMBER = re.compile(r"\s*[-+]?[0-9]+(\.[0-9]*)?\s*")


def _iso_only(value: Any) -> Any:
    if isinstance(value, (int, float)) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("must be an ISO 8601 date-time with a UTC offset, e.g. 2026-01-31T00:00:00Z")
    return value


#: an ISO 8601 date-time with a UTC offset (pydantic alone would also take a Unix timestamp)
IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_only)]


class RequestModel(BaseModel):
    """A request body: unknown fields are refused (422), and nothing is coerced from another
    JSON type (a number is not a string, a string is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ResponseModel(BaseModel):
    """A response body."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def pick(cls, data: Mapping[str, Any] | object) -> Self:
        """The model from the fields of ``data`` (a mapping or an object) it declares; anything
        else ``data`` holds is left out, so a domain object may grow without changing the API."""
        values = data if isinstance(data, Mapping) else vars(data)
        return cls(**{name: values[name] for name in cls.model_fields if name in values})
