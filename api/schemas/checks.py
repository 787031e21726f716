"""Request and response bodies of the checks endpoints (:mod:`api.routers.checks`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints

from pseudovault.api.schemas.common import RequestModel, ResponseModel
from pseudovault.api.schemas.identifiers import Identifier
from pseudovault.vault.checks import MAX_BATCH_SIGNUPS
from pseudovault.vault.crypto.lookup import DEFAULT_DOMAIN
from pseudovault.vault.records.views import MAX_IDENTIFIERS

__all__ = ["DOMAIN_PATTERN", "Domain", "DOMAIN_FIELD", "CheckRequest", "Signup", "CheckBatchRequest", "CheckMatch", "CheckDecision", "CheckBatchResponse"]


DOMAIN_PATTERN = r"^[a-z0-9][a-z0-9_.:-]{0,63}$"


Domain = Annotated[str, StringConstraints(pattern=DOMAIN_PATTERN)]


_RECORD_ID = "6f1c2a9e-3b7d-4e8a-9c41-5d2f0b8e7a13"


DOMAIN_FIELD = Field(
    DEFAULT_DOMAIN,
    description="The pseudonymisation domain (a tenant or a purpose) whose records are checked.",
    examples=[DEFAULT_DOMAIN],
)


class CheckRequest(RequestModel):
    identifiers: list[Identifier] = Field(
        min_length=1,
        max_length=MAX_IDENTIFIERS,
        description=f"The new account's identifiers (1 to {MAX_IDENTIFIERS}).",
        examples=[[{"kind": "email", "value": "user@example.com"}, {"kind": "phone", "value": "+82 10-1234-5678"}]],
    )
    domain: Domain = DOMAIN_FIELD


class Signup(RequestModel):
    identifiers: list[Identifier] = Field(min_length=1, max_length=MAX_IDENTIFIERS)


class CheckBatchRequest(RequestModel):
    signups: list[Signup] = Field(
        min_length=1,
        max_length=MAX_BATCH_SIGNUPS,
        description="Signups to check, each with its identifiers. At most `PSEUDOVAULT_CHECK_BATCH_MAX` "
        "signups and `PSEUDOVAULT_CHECK_BATCH_MAX_IDS` identifiers in all (defaults 1000 and 5000).",
        examples=[
            [
                {"identifiers": [{"kind": "email", "value": "user@example.com"}]},
                {"identifiers": [{"kind": "ip", "value": "192.0.2.10"}, {"kind": "device_id", "value": "dev-0001"}]},
            ]
        ],
    )
    domain: Domain = DOMAIN_FIELD


class CheckMatch(ResponseModel):
    """A record the check matched: codes and kinds, never an identifier."""

    record_id: str = Field(examples=[_RECORD_ID])
    category: str = Field(examples=["fraudulent_transaction"])
    reason_code: str = Field(examples=["chargeback"])
    severity: Literal["low", "medium", "high", "critical"] = Field(examples=["high"])
    status: Literal["active", "under_review"] = Field(examples=["active"])
    matched_kinds: list[str] = Field(description="The identifier kinds that matched.", examples=[["email"]])
    match: Literal["exact", "lookalike"] = Field(
        description="`exact`: the same normalized identifier; `lookalike`: the same confusable "
        "skeleton (a review signal, never more).",
        examples=["exact"],
    )


class CheckDecision(ResponseModel):
    """The answer to one signup; a hit and a miss have the same shape."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "decision": "deny",
                    "matches": [
                        {
                            "record_id": _RECORD_ID,
                            "category": "fraudulent_transaction",
                            "reason_code": "chargeback",
                            "severity": "high",
                            "status": "active",
                            "matched_kinds": ["email"],
                            "match": "exact",
                        }
                    ],
                    "checked_kinds": ["email", "phone"],
                },
                {"decision": "allow", "matches": [], "checked_kinds": ["email", "phone"]},
            ]
        },
    )

    decision: Literal["allow", "review", "deny"] = Field(
        description="The strongest decision over every match under the decision policy; `allow` when nothing matched."
    )
    matches: list[CheckMatch] = Field(description="Matched records, strongest first; empty for a miss.")
    checked_kinds: list[str] = Field(description="The identifier kinds that were checked.")


class CheckBatchResponse(ResponseModel):
    decisions: list[CheckDecision] = Field(description="One decision per signup, in the order sent.")
