"""Who may call what: API keys, scopes, and the route class that enforces them.

A handler states who may call it in its signature, with one of the dependency types below::

    def reveal_subject(..., principal: SubjectsReveal) -> ...

Each is ``Annotated[Principal, Depends(Authenticator(scopes={...}))]``: the caller's API key must
hold at least one of the authenticator's scopes (scopes are defined in vault.apikeys; each grants
exactly what it names, ``admin`` included). A route without an authenticator is public; the
public routes are listed in :data:`PUBLIC_PATHS` and a test fails for any other.

Enforcement happens in :class:`ApiRoute` (every router of the app uses it), before the request
body is read or parsed, in this order:

1. ``Authorization: Bearer <token>`` present and valid, key not revoked   else 401 (``WWW-Authenticate``)
   (verified keys are cached for a few seconds and verified again in the background, ahead of
   their expiry, while requests go on: api.keycache)
2. the key holds one of the route's scopes                               else 403
3. the key's rate limit bucket has a token (api.ratelimit)               else 429 (``Retry-After``)
4. no query parameter the operation does not take                        else 422
5. a request body, if the route takes one, is JSON                       else 415
6. ... within the size limit (api.middleware) and UTF-8                   else 413, 422

Then the handler runs under ``acting_as(Actor("api_key", key id, client=<client address>))``,
so every audit entry the vault writes for the request names the key. The route's required
scopes are discoverable: :func:`required_scopes` (used by the OpenAPI document, which lists them
as ``x-required-scopes``, and by the route x scope test).
"""

from __future__ import annotations

import asyncio
import collections.abc
import email.message
import json
import logging
import types
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Depends
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from pseudovault.api.errors import ApiProblem
from pseudovault.api.ratelimit import acquire, retry_after_header
from pseudovault.vault.apikeys import SCOPES, InvalidApiKeyError, Scope, sort_scopes
from pseudovault.vault.audit import Actor, acting_as

__all__ = [
    "Principal",
    "Authenticator",
    "ApiRoute",
    "PUBLIC_PATHS",
    "refresh_in_background",
    "client_of",
    "SESSION_PATHS",
    "required_scopes",
    "iter_routes",
    "Checks",
    "RecordsRead",
    "RecordsWrite",
    "SubjectsWrite",
    "SubjectsReveal",
    "Erasure",
    "RestrictedRead",
    "Admin",
    "AnyKey",
]

#: routes that need no API key: liveness, readiness, metrics and the API's own documentation
PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/docs/assets/{path}"}
)

#: the web console (api.console), these paths and all below them: its pages need a console session, which stands for an API key
#: and allows what the key allows (every action is an API operation, checked against its scopes)
SESSION_PATHS = frozenset({"/console"})

log = logging.getLogger(__name__)

_PRINCIPAL = "principal"
_KEY_ID = "key_id"
_CLIENT_MAX = 64
_PLAIN_JSON = frozenset({"application/json", "application/json; charset=utf-8", "application/json;charset=utf-8"})


@dataclass(frozen=True)
class Principal:
    """The caller: an API key (id, name, scopes) and the client address it called from."""

    key_id: str
    name: str
    scopes: frozenset[str]
    client: str | None = None

    def __repr__(self) -> str:
        return f"Principal(key_id={self.key_id!r}, scopes={sort_scopes(self.scopes)!r})"


class Authenticator:
    """A dependency requiring an API key that holds at least one of ``scopes``.

    The checks themselves run in :class:`ApiRoute` before the body is read; this returns the
    :class:`Principal` they established.
    """

    def __init__(self, *, scopes: Iterable[str]) -> None:
        if isinstance(scopes, str):
            raise TypeError("scopes must be a collection of scope names")
        chosen = frozenset(scopes)
        if not chosen or not chosen <= set(SCOPES):
            raise ValueError(f"scopes must be a non-empty subset of {SCOPES}")
        self.scopes = chosen

    async def __call__(self, request: Request) -> Principal:
        principal = request.scope.get("state", {}).get(_PRINCIPAL)
        if not isinstance(principal, Principal):
            raise RuntimeError("Authenticator is enforced by ApiRoute: use route_class=ApiRoute")
        return principal

    def allows(self, principal: Principal) -> bool:
        return bool(self.scopes & principal.scopes)

    def __repr__(self) -> str:
        return f"Authenticator(scopes={sort_scopes(self.scopes)!r})"


Checks = Annotated[Principal, Depends(Authenticator(scopes={Scope.CHECKS}))]
RecordsRead = Annotated[Principal, Depends(Authenticator(scopes={Scope.RECORDS_READ}))]
RecordsWrite = Annotated[Principal, Depends(Authenticator(scopes={Scope.RECORDS_WRITE}))]
SubjectsWrite = Annotated[Principal, Depends(Authenticator(scopes={Scope.SUBJECTS_WRITE}))]
SubjectsReveal = Annotated[Principal, Depends(Authenticator(scopes={Scope.SUBJECTS_REVEAL}))]
Erasure = Annotated[Principal, Depends(Authenticator(scopes={Scope.ERASURE}))]
RestrictedRead = Annotated[Principal, Depends(Authenticator(scopes={Scope.RESTRICTED_READ}))]
Admin = Annotated[Principal, Depends(Authenticator(scopes={Scope.ADMIN}))]
#: any valid API key, whatever its scopes: for what a key may do to itself (read its own entry, rotate its own token)
AnyKey = Annotated[Principal, Depends(Authenticator(scopes=set(SCOPES)))]


def _authenticators(dependant: Dependant) -> Iterator[Authenticator]:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, Authenticator):
            yield dependency.call
        yield from _authenticators(dependency)


def authenticator_of(route: APIRoute) -> Authenticator | None:
    found = list({id(a): a for a in _authenticators(route.dependant)}.values())
    if len(found) > 1:
        raise TypeError(f"route {route.path} declares {len(found)} authenticators; a route takes one")
    return found[0] if found else None


def required_scopes(route: Any) -> frozenset[str] | None:
    """The scopes of which a caller of ``route`` must hold one, or None for a public route."""
    if not isinstance(route, APIRoute):
        original = getattr(route, "original_route", None)
        if not isinstance(original, APIRoute):
            return None
        route = original
    guard = authenticator_of(route)
    return guard.scopes if guard is not None else None


def iter_routes(routes: Sequence[BaseRoute]) -> Iterator[tuple[str, BaseRoute]]:
    """``(full path template, route)`` of every route, through included routers too (FastAPI
    >= 0.165 keeps included routers as such; older versions copy their routes)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        for route in routes:
            yield getattr(route, "path_format", getattr(route, "path", "")), route
        return
    for context in iter_route_contexts(routes):
        yield context.path_format or "", context.original_route


def _bearer_token(request: Request) -> str:
    given = request.headers.getlist("authorization")
    if len(given) > 1:  # which one would a proxy in front have read? Neither is taken.
        raise ApiProblem(
            401,
            "send one Authorization header",
            headers={"WWW-Authenticate": 'Bearer realm="pseudovault", error="invalid_request"'},
        )
    header = given[0] if given else None
    if not header:
        raise ApiProblem(
            401,
            "an API key is required: send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="pseudovault"'},
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiProblem(
            401,
            "use Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="pseudovault", error="invalid_request"'},
        )
    return token.strip()


def client_of(request: Request) -> str | None:
    """The client address an audit entry names (truncated)."""
    return request.client.host[:_CLIENT_MAX] if request.client and request.client.host else None


def _verify(request: Request, token: str) -> Any:
    """The key ``token`` belongs to, from the store (runs in a worker thread); cached on success."""
    info = request.app.state.vault.apikeys.authenticate(token)  # InvalidApiKeyError -> 401
    request.app.state.key_cache.put(token, info.key_id, info)
    return info


def _refresh(app: Any, token: str) -> None:
    """Verify a cached token again (a worker thread): keep it, drop it if its key was revoked,
    or, if the store did not answer, let a later request try again."""
    cache = app.state.key_cache
    try:
        info = app.state.vault.apikeys.authenticate(token)
    except InvalidApiKeyError:
        cache.forget(token)
        return
    except Exception as exc:  # the store is down: the entry serves until it expires
        cache.release(token)
        log.warning("refreshing a cached API key failed (%s)", type(exc).__name__)
        return
    cache.put(token, info.key_id, info)


def refresh_in_background(app: Any, token: str) -> None:
    """Start :func:`_refresh` without making the request wait (api.keycache: refresh ahead)."""
    tasks: set[asyncio.Task[None]] = app.state.key_refreshes  # held until done (the loop keeps weak references)
    task = asyncio.get_running_loop().create_task(run_in_threadpool(_refresh, app, token))
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _admit(request: Request, guard: Authenticator) -> Principal:
    """Steps 1 to 3 of the module docstring. The store is asked only when the key is not in the
    cache of recently verified keys (api.keycache), and the in-process limiter needs no thread;
    anything that does I/O runs in a worker thread."""
    token = _bearer_token(request)
    state = request.scope.setdefault("state", {})
    cache = request.app.state.key_cache
    info = cache.get(token)
    if info is not None and not info.usable_at(request.app.state.vault.clock.now()):
        cache.forget(token)  # expired, or a rotated-out token past its grace: the store says so, as a 401
        info = None
    if info is None:
        info = await run_in_threadpool(_verify, request, token)
    elif cache.claim_refresh(token):
        refresh_in_background(request.app, token)
    state[_KEY_ID] = info.key_id
    principal = Principal(info.key_id, info.name, info.scopes, client_of(request))
    if not guard.allows(principal):
        wanted = " ".join(sort_scopes(guard.scopes))
        raise ApiProblem(
            403,
            f"this API key lacks the scope this operation needs ({wanted})",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{wanted}"'},
        )
    decision = await acquire(request.app.state.limiter, principal.key_id)
    if not decision.allowed:
        raise ApiProblem(
            429,
            "rate limit exceeded for this API key",
            headers={"Retry-After": retry_after_header(decision.retry_after)},
        )
    return principal


def _is_json(content_type: str) -> bool:
    if content_type in _PLAIN_JSON:  # the common case, without parsing the header
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def _require_json(request: Request) -> None:
    headers = request.headers
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    if has_body and not _is_json(headers.get("content-type", "")):
        raise ApiProblem(415, "send the request body as application/json")


def _takes_many(annotation: Any) -> bool:
    """Whether a parameter of this type takes a list of values (``?tag=a&tag=b``)."""
    origin = get_origin(annotation)
    if origin in (list, tuple, set, frozenset, collections.abc.Sequence, collections.abc.Set):
        return True
    if origin in (Union, types.UnionType, Annotated):
        return any(_takes_many(argument) for argument in get_args(annotation))
    return False


def _refuse_unknown_query(request: Request, known: frozenset[str], many: frozenset[str] = frozenset()) -> None:
    """Query parameters the operation does not take are refused, like unknown body fields (a
    misspelt ``limt=5`` must not be silently ignored); so is one that takes a single value given
    more than once (``until=a&until=b``: which one was meant?), except those in ``many``."""
    query = request.query_params
    unknown = [name for name in query if name not in known]
    if unknown:
        raise RequestValidationError(
            [
                {"type": "extra_forbidden", "loc": ("query", name), "msg": "Unknown query parameter", "input": None}
                for name in dict.fromkeys(unknown)
            ]
        )
    if len(query.multi_items()) != len(query):  # a name given more than once
        repeated = [name for name in query if name not in many and len(query.getlist(name)) > 1]
        if repeated:
            raise RequestValidationError(
                [
                    {
                        "type": "multiple_values",
                        "loc": ("query", name),
                        "msg": "Given more than once; this parameter takes one value",
                        "input": None,
                    }
                    for name in repeated
                ]
            )


def _json_invalid(position: int) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "json_invalid", "loc": ("body", position), "msg": "JSON decode error", "input": {}}]
    )


async def _require_utf8(request: Request) -> None:
    """A JSON body is UTF-8 (RFC 8259) and holds no NUL byte (JSON allows none outside strings,
    and none unescaped in them): anything else is malformed JSON, a 422 like any other. Checked
    here because the JSON parser would otherwise guess UTF-16 or UTF-32 from NUL bytes and fail
    with a decoding error that FastAPI answers 400. (Reading the body here caches it for FastAPI,
    and enforces the size limit as it reads.)"""
    body = await request.body()
    if b"\x00" in body:
        raise _json_invalid(body.index(b"\x00"))
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _json_invalid(exc.start) from None
    _parse_once(request, body)


class _NameGivenTwice(ValueError):
    pass


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _NameGivenTwice
    return found


def parse_json_body(body: bytes) -> Any:
    """``body`` parsed as JSON, each object's names unique: ``{"purpose": "a", "purpose": "b"}``
    is refused (a 422), where a parser would keep one of the two (which one depends on the
    parser: a proxy or a gateway in front may have read the other). ``ValueError`` when it is
    not JSON, and what the parser raises otherwise (a body nested too deep)."""
    try:
        return json.loads(body, object_pairs_hook=_unique_names)
    except _NameGivenTwice:
        raise RequestValidationError(
            [{"type": "duplicate_name", "loc": ("body",), "msg": "An object gives a name twice", "input": None}]
        ) from None


def _parse_once(request: Request, body: bytes) -> None:
    """Parse the body for FastAPI (which reads ``request.json()``, Starlette's cache of it), with
    :func:`parse_json_body`'s check. Anything it cannot parse is left to FastAPI, which parses it
    again and answers it as it always does."""
    if not body:
        return
    try:
        parsed = parse_json_body(body)  # a name given twice: its RequestValidationError, a 422
    except (ValueError, RecursionError):  # not JSON, or too deep: FastAPI's own answer
        return
    request._json = parsed  # the attribute Request.json() caches in


class ApiRoute(APIRoute):
    """An APIRoute that authenticates, authorises, rate-limits and checks the body's media type
    before FastAPI reads the body, then runs the handler as the calling API key."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        guard = authenticator_of(self)
        takes_body = self.body_field is not None
        known_query = frozenset(param.alias for param in self.dependant.query_params)
        many_query = frozenset(
            param.alias for param in self.dependant.query_params if _takes_many(param.field_info.annotation)
        )

        async def guarded(request: Request) -> Response:
            if guard is None:
                _refuse_unknown_query(request, known_query, many_query)
                if takes_body:
                    _require_json(request)
                    await _require_utf8(request)
                return await handler(request)
            principal = await _admit(request, guard)
            request.scope.setdefault("state", {})[_PRINCIPAL] = principal
            _refuse_unknown_query(request, known_query, many_query)
            if takes_body:
                _require_json(request)
                await _require_utf8(request)
            with acting_as(Actor("api_key", principal.key_id, client=principal.client)):
                return await handler(request)

        return guarded
