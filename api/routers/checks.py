"""Ban checks: is any of a signup's identifiers banned? The hot path of every signup.

A check is an oracle (does this identifier belong to someone banned?), so:

* the answer to a hit and to a miss has the same shape and the same status (200): ``decision``,
  ``matches`` (empty for a miss) and ``checked_kinds``; matches name record ids, categories,
  reason codes, severities, statuses, matched kinds and the match type, never an identifier or
  a pseudonym;
* it needs the ``checks`` scope, which reads nothing else (no record listing, no export);
* it is rate limited per API key (api.ratelimit), per identifier: a check costs one token per
  distinct identifier it holds (kind and value as sent: an upper bound of the distinct
  pseudonyms it looks up), so sending many identifiers in one call is no way to query the
  oracle faster; a batch costs that, or ``PSEUDOVAULT_CHECK_BATCH_COST`` tokens per signup
  (default 1) if that is more. A check costing more tokens than the bucket holds (its burst)
  could never pass: it is refused with 422 (split it), not with a 429 whose ``Retry-After``
  would be a lie;
* a signup holds at most ``PSEUDOVAULT_CHECK_MAX_PER_KIND`` identifiers of one kind (default
  4): a real signup has one e-mail address or two, not dozens, and a list of candidates is how
  a hit is found by halving. More is a 422 (``too_many_of_kind``).

Audit: a batch is recorded as ``check.batch`` with counts (signups, identifiers, decisions per
kind), never identifiers. Single checks are not audited one by one: at signup volume that would
be one audit write (and a lock on the chain's head) per signup, the largest cost of a check,
and would say nothing an auditor needs; the Prometheus counter
``pseudovault_check_decisions_total`` counts them (and batches' decisions) by decision.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from pseudovault.api.auth import ApiRoute, Checks
from pseudovault.api.deps import MetricsDep, SettingsDep, VaultDep
from pseudovault.api.errors import ApiProblem, invalid_field
from pseudovault.api.ratelimit import RateDecision, RateLimiter, acquire, retry_after_header
from pseudovault.api.schemas.checks import CheckBatchRequest, CheckBatchResponse, CheckDecision, CheckRequest, Signup
from pseudovault.api.schemas.identifiers import Identifier, invalid_identifier, pairs
from pseudovault.vault.checks.decisions import Decision
from pseudovault.vault.identifiers import InvalidIdentifierError
from pseudovault.vault.records.validation import normalize_identifiers
from pseudovault.vault.vault import Vault

__all__ = ["decision_response", "router", "run_single_check"]


router = APIRouter(prefix="/v1/checks", route_class=ApiRoute, tags=["checks"])


def _json_bytes(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


def _json(data: object) -> Response:
    return Response(_json_bytes(data), media_type="application/json")


@router.post(
    "",
    summary="Check one signup",
    description="Normalizes the identifiers, derives their keyed pseudonyms and looks them up among "
    "live records (active or under review, not expired, not revoked) of the domain. Hits and "
    "misses answer 200 with the same shape. An invalid identifier is a 422 naming its position and "
    "kind (never its value). Costs one rate-limit token per distinct identifier; at most "
    "`PSEUDOVAULT_CHECK_MAX_PER_KIND` identifiers of one kind (default 4). Not audited per call (counted in "
    "`pseudovault_check_decisions_total`).",
    response_model=CheckDecision,
)
async def check(body: CheckRequest, request: Request, caller: Checks) -> Response:
    # the hot path: the vault's Decision (already the documented shape) is serialized as it is,
    # not validated again; the route's guard took one of the check's tokens already
    return decision_response(await run_single_check(request.app.state, caller.key_id, body, charged=1))


#: the bodies of answers with no match, by checked kinds: most answers, and the same bytes each
#: time (a Decision with no match is its kinds alone); bounded like the vault's own allow cache
_NO_MATCH_BODIES: dict[tuple[str, ...], bytes] = {}


def decision_response(decision: Decision) -> Response:
    """A check's answer: the vault's Decision as it is (already the documented shape)."""
    if decision.matches or decision.decision != "allow":
        return _json(decision.as_dict())
    body = _NO_MATCH_BODIES.get(decision.checked_kinds)
    if body is None:
        body = _json_bytes(decision.as_dict())
        if len(_NO_MATCH_BODIES) < 1024:
            _NO_MATCH_BODIES[decision.checked_kinds] = body
    return Response(body, media_type="application/json")


async def run_single_check(state: Any, key_id: str, body: CheckRequest, *, charged: int = 0) -> Decision:
    """One signup's check, as every caller runs it (this route, its fast path api.fastcheck, the
    console): the per-kind limit, the rest of the check's rate-limit cost (``charged`` tokens were
    taken already), the check itself (_run_check) and its decision counted. Refusals are the
    route's problems (422 ``too_many_of_kind``, ``batch_over_rate_limit``, an invalid identifier;
    429 with ``Retry-After``)."""
    _per_kind(body.identifiers, state.settings.check_max_per_kind, "#/identifiers")
    await _charge(state.limiter, key_id, _distinct([body.identifiers]), "#/identifiers", charged=charged)
    try:
        decision = await _run_check(state.vault, pairs(body.identifiers), body.domain)
    except InvalidIdentifierError as error:
        raise invalid_identifier(error) from None
    state.metrics.count_decision(decision.decision)
    return decision


async def _run_check(vault: Vault, identifiers: list[tuple[str, str]], domain: str) -> Decision:
    """On SQLite (an embedded file: a check is a few hundred microseconds of CPU and no network
    wait) the check runs on the event loop: a hop to a worker thread would cost more than the
    check. On PostgreSQL a miss the miss filter answers needs no network and is answered at once
    (most checks); the others wait for their lookup on the loop, over the check service's own
    asyncio connections (vault.checks.service.CheckService.finish_async), and the loop serves
    other requests meanwhile. No worker thread: threads taking turns with the loop at the
    interpreter lock made the tail of the latency (p99 about 60 ms at 32 connections against
    about 25 ms without them, benchmarks/http_api.py). Batches run in a worker thread."""
    if vault.data_engine.dialect.name == "sqlite":
        return vault.checks.check(identifiers, domain=domain)
    prepared = vault.checks.prepare(identifiers, domain=domain)
    answered = vault.checks.in_process(prepared)
    if answered is not None:
        return answered
    return await vault.checks.finish_async(prepared)


def _locate_invalid(vault: VaultDep, signups: list[Signup]) -> ApiProblem:
    """The 422 for the first invalid identifier of a batch (only on the error path: the batch
    check names the signup in its message only)."""
    for index, signup in enumerate(signups):
        try:
            normalize_identifiers(vault.normalizer, pairs(signup.identifiers))
        except InvalidIdentifierError as error:
            return invalid_identifier(error, f"#/signups/{index}/identifiers")
    return ApiProblem(422, "an identifier is invalid")


def _distinct(signups: Iterable[Sequence[Identifier]]) -> int:
    """How many distinct identifiers (kind and value as sent) the signups hold together."""
    return len({(item.kind, item.value) for identifiers in signups for item in identifiers})


def _per_kind(identifiers: Sequence[Identifier], limit: int, pointer: str) -> None:
    """422 when a signup holds more than ``limit`` identifiers of one kind."""
    if len(identifiers) <= limit:  # too few to hold more than ``limit`` of any kind
        return
    counts = Counter(item.kind for item in identifiers)
    if counts and max(counts.values()) > limit:
        raise invalid_field(pointer, f"at most {limit} identifiers of one kind per signup", "too_many_of_kind")


def _over_bucket(cost: int, pointer: str) -> ApiProblem:
    """A cost the bucket can never hold: a 422 (split the check), not a 429 whose ``Retry-After``
    would be a lie."""
    return invalid_field(
        pointer,
        f"this check costs {cost} rate-limit tokens, more than this API key's bucket holds; send fewer identifiers per call",
        "batch_over_rate_limit",
    )


def _still_to_take(limiter: RateLimiter, cost: int, pointer: str, charged: int) -> int:
    """How many of the check's tokens are left to take once ``charged`` were; 422 when the
    bucket could never hold them all."""
    cost = max(1, cost)
    burst = getattr(limiter, "burst", None)  # None: no limit (NoRateLimit)
    if cost > charged and burst is not None and cost > burst:
        raise _over_bucket(cost, pointer)
    return max(0, cost - charged)


def _granted(decision: RateDecision, cost: int, pointer: str) -> None:
    if decision.allowed:
        return
    if math.isinf(decision.retry_after):
        raise _over_bucket(cost, pointer)
    raise ApiProblem(
        429, "rate limit exceeded for this API key", headers={"Retry-After": retry_after_header(decision.retry_after)}
    )


async def _charge(limiter: RateLimiter, key_id: str, cost: int, pointer: str, *, charged: int = 1) -> None:
    """Take the check's tokens beyond the ``charged`` ones already taken (from the event loop)."""
    left = _still_to_take(limiter, cost, pointer, charged)
    if left:
        _granted(await acquire(limiter, key_id, left), cost, pointer)


def _charge_in_thread(limiter: RateLimiter, key_id: str, cost: int, pointer: str) -> None:
    """:func:`_charge` for a route running in a worker thread (the batch), one token taken."""
    left = _still_to_take(limiter, cost, pointer, 1)
    if left:
        _granted(limiter.acquire(key_id, left), cost, pointer)


@router.post(
    "/batch",
    summary="Check many signups",
    description="The decisions for many signups in one call, in order, each the same as checking that "
    "signup alone. Costs one rate-limit token per distinct identifier, or `PSEUDOVAULT_CHECK_BATCH_COST` "
    "tokens per signup (default 1) if that is more. "
    "An invalid identifier rejects the whole batch with a 422 naming the signup, the item and the "
    "kind. Audited as `check.batch` with counts only.",
    response_model=CheckBatchResponse,
)
def check_batch(
    body: CheckBatchRequest,
    request: Request,
    vault: VaultDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    caller: Checks,
) -> Response:
    signups = body.signups
    identifiers = sum(len(signup.identifiers) for signup in signups)
    limits = (
        (len(signups) > settings.check_batch_max, f"at most {settings.check_batch_max} signups per batch"),
        (identifiers > settings.check_batch_max_ids, f"at most {settings.check_batch_max_ids} identifiers per batch"),
    )
    for over, detail in limits:
        if over:
            raise invalid_field("#/signups", detail, "too_long")
    for index, signup in enumerate(signups):
        _per_kind(signup.identifiers, settings.check_max_per_kind, f"#/signups/{index}/identifiers")
    per_signup = math.ceil(len(signups) * settings.check_batch_cost)
    _charge_in_thread(
        request.app.state.limiter, caller.key_id, max(per_signup, _distinct(s.identifiers for s in signups)), "#/signups"
    )
    try:
        decisions = vault.checks.check_batch([pairs(s.identifiers) for s in signups], domain=body.domain)
    except InvalidIdentifierError:
        raise _locate_invalid(vault, signups) from None
    counts = Counter(d.decision for d in decisions)
    for name, count in counts.items():
        metrics.check_decisions.labels(name).inc(count)
    vault.audit.append(
        "check.batch",
        detail={
            "signups": len(decisions),
            "identifiers": identifiers,
            "allow": counts["allow"],
            "review": counts["review"],
            "deny": counts["deny"],
        },
    )
    return _json({"decisions": [d.as_dict() for d in decisions]})
