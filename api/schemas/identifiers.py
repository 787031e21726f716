"""Identifiers in request bodies (checks and records), and how an invalid one is answered.

An identifier is ``{"kind": "email", "value": "user@example.com"}``. The kind is checked by the
schema (a built-in kind or ``custom:<name>``); the value by the vault's normalization
(vault.identifiers), which refuses it with :class:`vault.identifiers.InvalidIdentifierError`
naming the kind and the reason. :func:`invalid_identifier` turns that into a 422 problem whose
pointer names the item's position (``#/identifiers/2/value``) and whose detail names the kind
and the reason: never the value. Identifiers travel in bodies only, never in a URL (URLs end up
in access logs, proxies and browser histories).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field, StringConstraints

from pseudovault.api.errors import ApiProblem, ProblemFieldError
from pseudovault.api.schemas.common import RequestModel
from pseudovault.vault.identifiers import InvalidIdentifierError
from pseudovault.vault.identifiers.model import BUILTIN_KINDS

__all__ = ["Identifier", "KIND_PATTERN", "MAX_VALUE_LENGTH", "invalid_identifier", "pairs"]

KIND_PATTERN = r"^(" + "|".join(BUILTIN_KINDS) + r"|custom:[a-z][a-z0-9_]{0,31})$"
#: longest value accepted by the schema; each kind has its own, shorter limit in vault.identifiers
MAX_VALUE_LENGTH = 1024

Kind = Annotated[str, StringConstraints(pattern=KIND_PATTERN)]
Value = Annotated[str, StringConstraints(min_length=1, max_length=MAX_VALUE_LENGTH)]


class Identifier(RequestModel):
    """One identifier of a person: its kind and its value as the user typed it."""

    kind: Kind = Field(
        description=f"One of {', '.join(BUILTIN_KINDS)}, or custom:<name> (a-z, 0-9, _; 1 to 32 characters).",
        examples=["email"],
    )
    value: Value = Field(
        description="The value as given; normalized by the vault (e.g. a phone number to E.164) "
        "and turned into a keyed pseudonym. Never stored, logged or returned.",
        examples=["user@example.com"],
    )


def pairs(identifiers: Sequence[Identifier]) -> list[tuple[str, str]]:
    return [(item.kind, item.value) for item in identifiers]


def invalid_identifier(error: InvalidIdentifierError, prefix: str = "#/identifiers") -> ApiProblem:
    """A 422 naming where the invalid identifier is (``prefix``/index/value) and its kind."""
    pointer = f"{prefix}/{error.index}/value" if error.index is not None else prefix
    detail = error.reason if error.kind in error.reason else f"{error.kind}: {error.reason}"
    return ApiProblem(
        422,
        "an identifier is invalid",
        errors=[ProblemFieldError(location="body", pointer=pointer, detail=detail, code=error.reason_code)],
    )
