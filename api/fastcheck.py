"""The ban check's fast path: ``POST /v1/checks`` answered without the framework's per-request
machinery, for the requests that need nothing else.

A check is the hot path of every signup; FastAPI's routing, dependency solving and response
validation cost more than the check itself. :class:`FastCheck` (ASGI middleware, inside the
request id, metrics, access log and body limit middleware) answers ``POST /v1/checks`` itself when
all of this holds, in this order, and else hands the untouched request to the route
(api.routers.checks), which answers it as it always did (401, 403, 415, 422, ...):

1. no query string, a JSON ``Content-Type``, ``Authorization: Bearer`` with a token the cache of
   verified keys holds (api.keycache; past half its life it is refreshed in the background, as
   api.auth does), and the key holds the ``checks`` scope;
2. the body is valid for the route's own model (``CheckRequest.model_validate_json``: the same
   schema, the same strictness) and within the per-kind limit;
3. the rate limiter grants the check's tokens (one per distinct identifier, as the route charges),
   else 429 with ``Retry-After``, as the route answers; a cost beyond the bucket goes to the route.

Nothing is charged before step 3, so a request handed to the route is charged once, by the route.
An identifier the vault refuses is the route's 422 (the same problem details); a store or limiter that fails is the route's answer for
it (503 with ``Retry-After``, never a 500: api.errors.problem_of). The answer, its
metrics (route label ``/v1/checks``, decision counter) and its access log line (the key id) are the
route's. The route stays what the OpenAPI document describes.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pseudovault.api.auth import refresh_in_background
from pseudovault.api.errors import problem_of, problem_response
from pseudovault.api.middleware import PayloadTooLarge
from pseudovault.api.ratelimit import NoRateLimit, TokenBucketLimiter, retry_after_header
from pseudovault.api.schemas.checks import CheckRequest
from pseudovault.api.schemas.identifiers import invalid_identifier, pairs
from pseudovault.vault.apikeys import Scope as KeyScope
from pseudovault.vault.identifiers import InvalidIdentifierError

__all__ = ["FastCheck", "PATH"]

PATH = "/v1/checks"
_JSON_TYPES = frozenset({b"application/json", b"application/json; charset=utf-8", b"application/json;charset=utf-8"})
_IN_PROCESS = (TokenBucketLimiter, NoRateLimit)


class FastCheck:
    def __init__(self, app: ASGIApp, route: Any) -> None:
        self.app = app
        self.route = route  # the route's object: the metrics label and access log name it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST" or scope["query_string"]:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        token = _token(headers.get("authorization"))
        app_state = scope["app"].state
        info = app_state.key_cache.get(token) if token is not None else None
        content_type = headers.get("content-type", "").encode("latin-1")
        if token is None or info is None or KeyScope.CHECKS not in info.scopes or content_type not in _JSON_TYPES:
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except PayloadTooLarge as too_large:
            await problem_response(scope, 413, str(too_large.detail))(scope, receive, send)
            return
        if app_state.key_cache.claim_refresh(token):
            refresh_in_background(scope["app"], token)
        answer = await self._answer(scope, app_state, info.key_id, body)
        if answer is None:  # not for the fast path: the route answers, from the same bytes
            await self.app(scope, _replay(body, receive), send)
            return
        scope.setdefault("state", {})["key_id"] = info.key_id
        scope["route"] = self.route
        await answer(scope, receive, send)

    async def _answer(self, scope: Scope, state: Any, key_id: str, body: bytes) -> Response | None:
        """The answer, or None to let the route answer."""
        try:
            request = CheckRequest.model_validate_json(body)
        except (ValidationError, ValueError):
            return None
        settings = state.settings
        counts = Counter(item.kind for item in request.identifiers)
        if max(counts.values()) > settings.check_max_per_kind:
            return None
        cost = len({(item.kind, item.value) for item in request.identifiers})
        limiter = state.limiter
        burst = getattr(limiter, "burst", None)
        if burst is not None and cost > burst:
            return None  # the route's 422 (batch_over_rate_limit)
        try:
            if isinstance(limiter, _IN_PROCESS):
                decision = limiter.acquire(key_id, max(1, cost))
            else:  # a shared limiter (Redis) is a network round trip
                decision = await run_in_threadpool(limiter.acquire, key_id, max(1, cost))
            if not decision.allowed:
                return problem_response(
                    scope, 429, "rate limit exceeded for this API key",
                    headers={"Retry-After": retry_after_header(decision.retry_after)},
                )
            vault = state.vault
            if vault.data_engine.dialect.name == "sqlite":  # see api.routers.checks._run_check
                result = vault.checks.check(pairs(request.identifiers), domain=request.domain)
            else:
                result = await run_in_threadpool(vault.checks.check, pairs(request.identifiers), domain=request.domain)
        except InvalidIdentifierError as error:
            problem = invalid_identifier(error)
            return problem_response(scope, 422, problem.detail, errors=problem.errors)
        except Exception as exc:  # a store or the limiter down: the API's answer for it (503), never a 500
            return problem_of(Request(scope), exc)
        state.metrics.check_decisions.labels(result.decision).inc()
        payload = json.dumps(result.as_dict(), separators=(",", ":")).encode("utf-8")
        return Response(payload, media_type="application/json")


def _token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
