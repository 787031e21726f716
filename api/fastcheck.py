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
   schema, the same strictness).

Then it runs the check exactly as the route does (api.routers.checks.run_single_check: the per-kind
limit, the rate-limit charge, the check, the decision counted), except that the whole cost is
taken at once (the route's guard has taken one token before). Nothing is charged before the body
is known to be the route's, so a request handed to the route is charged once, by the route. Every
refusal (422, 429) and every failure (a store or the limiter down: 503 with ``Retry-After``, never
a 500) is answered by api.errors.problem_of, the route's own mapping. The answer, its
metrics (route label ``/v1/checks``, decision counter) and its access log line (the key id) are the
route's. The route stays what the OpenAPI document describes.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pseudovault.api.auth import parse_json_body, refresh_in_background
from pseudovault.api.errors import problem_of, problem_response
from pseudovault.api.middleware import PayloadTooLarge, header_value, only_header_value
from pseudovault.api.routers.checks import decision_response, run_single_check
from pseudovault.api.schemas.checks import CheckRequest
from pseudovault.vault.apikeys import Scope as KeyScope

__all__ = ["FastCheck", "PATH"]

PATH = "/v1/checks"
_JSON_TYPES = frozenset({b"application/json", b"application/json; charset=utf-8", b"application/json;charset=utf-8"})


class FastCheck:
    def __init__(self, app: ASGIApp, route: Any) -> None:
        self.app = app
        self.route = route  # the route's object: the metrics label and access log name it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST" or scope["query_string"]:
            await self.app(scope, receive, send)
            return
        token = _token(only_header_value(scope, b"authorization"))  # none, or two: the route answers
        app_state = scope["app"].state
        info = app_state.key_cache.get(token) if token is not None else None
        if (
            info is not None
            and (info.expires_at is not None or info.token_valid_until is not None)
            and not info.usable_at(app_state.vault.clock.now())
        ):
            info = None  # expired (or a rotated-out token) while cached: the route's guard answers 401
        content_type = (header_value(scope, b"content-type") or "").encode("latin-1")
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
        """The answer, or None to let the route answer (a body its model refuses)."""
        try:
            request = CheckRequest.model_validate_json(body)
        except (ValidationError, ValueError):
            return None
        if _may_name_twice(body, request):
            try:
                parse_json_body(body)  # as the route parses it (api.auth)
            except (RequestValidationError, ValueError, RecursionError):
                return None  # a name given twice: the route answers (422)
        try:
            return decision_response(await run_single_check(state, key_id, request))
        except Exception as exc:  # a refusal, or a store or limiter down: the route's answer for it
            return problem_of(Request(scope), exc)


def _may_name_twice(body: bytes, request: CheckRequest) -> bool:
    """False when no object of ``body`` can give a name twice, without parsing it again: every
    member of a JSON object has one colon, and the model (which refuses unknown names and holds
    no free-form object) counts each name it was given once, so a body with as many colons as the
    model has names gives each once. A colon in a value (an IPv6 address, a custom kind) or a
    name given twice makes more: then the body is parsed again to tell (api.auth)."""
    names = len(request.model_fields_set)
    for identifier in request.identifiers:
        names += len(identifier.model_fields_set)
    return body.count(b":") != names


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
