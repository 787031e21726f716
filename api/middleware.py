"""ASGI middleware around every request: request id, access log, metrics, the last-resort error
answer, and the request body size limit.

Order, outermost first: :class:`RequestContextMiddleware` (so it sees every answer, the 413 of
the body limit included), then :class:`BodyLimitMiddleware`, then FastAPI's exception handling.

Request id: an incoming ``X-Request-ID`` of 16 to 64 hex digits and hyphens (a UUID, say) is
kept, anything else is replaced by a fresh one, so a caller cannot put arbitrary text (PII) into
the logs through it; the id is echoed in ``X-Request-ID`` and named in every problem body.
Every response also gets ``Cache-Control: no-store``: answers may hold PII, and no cache should
keep them.

Body limit: a ``Content-Length`` over the limit is answered 413 at once, without reading the
body or calling the app; a body without one (chunked) is counted while it is read, and the
request fails with 413 as soon as it passes the limit, so at most the limit is ever buffered.
"""

from __future__ import annotations

import logging
import os
import re
import time

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pseudovault.api.errors import internal_error_response, problem_response, where
from pseudovault.api.metrics import UNMATCHED_ROUTE, Metrics

__all__ = ["CLIENT_CLOSED_REQUEST", "BodyLimitMiddleware", "PayloadTooLarge", "RequestContextMiddleware", "header_value"]

#: the status recorded (never sent) for a request whose client hung up before it was read
CLIENT_CLOSED_REQUEST = 499

log = logging.getLogger(__name__)
access_log = logging.getLogger("pseudovault.api.access")


def _log_request(fields: dict[str, object]) -> None:
    """The request log's line, made and handled as ``access_log.info("request", extra=fields)``
    would (the logger's filters, handlers and level apply), without the caller lookup that walks
    the stack on every request: the line names this function as its source, which the JSON lines
    never show."""
    access_log.handle(
        access_log.makeRecord(access_log.name, logging.INFO, __file__, _LOG_LINE, "request", (), None, _log_request.__name__, fields)
    )


_LOG_LINE = _log_request.__code__.co_firstlineno

_REQUEST_ID = re.compile(r"[0-9A-Fa-f-]{16,64}")


def header_value(scope: Scope, name: bytes) -> str | None:
    """The first value of the request header ``name`` (lower case), as Starlette's ``Headers.get``
    gives it, without building the whole mapping (every request reads a few)."""
    key: bytes
    value: bytes
    for key, value in scope["headers"]:
        if key == name or key.lower() == name:
            return value.decode("latin-1")
    return None


def only_header_value(scope: Scope, name: bytes) -> str | None:
    """The value of the request header ``name`` (lower case) when it is given exactly once;
    None when it is absent or repeated."""
    found: str | None = None
    key: bytes
    value: bytes
    for key, value in scope["headers"]:
        if key == name or key.lower() == name:
            if found is not None:
                return None
            found = value.decode("latin-1")
    return found


class PayloadTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")


class RequestContextMiddleware:
    """``static_paths``: paths without parameters (the documentation's) that are their own
    template, for routes that do not record themselves in the scope."""

    def __init__(self, app: ASGIApp, metrics: Metrics, static_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.metrics = metrics
        self.static_paths = static_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = header_value(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.fullmatch(incoming) else os.urandom(16).hex()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        started = False

        async def send_with_context(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                # the raw header list (what MutableHeaders edits, without its per-call decoding):
                # the request id replaces any the app set; Cache-Control is no-store unless set
                raw = [(name, value) for name, value in message.get("headers", ()) if name.lower() != b"x-request-id"]
                raw.append((b"x-request-id", request_id.encode("latin-1")))
                if not any(name.lower() == b"cache-control" for name, _ in raw):
                    raw.append((b"cache-control", b"no-store"))
                message["headers"] = raw
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_context)
        except ClientDisconnect:
            # the client hung up before its request was read: nobody to answer, nothing failed here;
            # recorded as 499 (the usual code for it), not as a server error
            if not started:
                status = CLIENT_CLOSED_REQUEST
            log.info("request %s: the client closed the connection before the request was read", request_id)
        except Exception as exc:  # the last resort: a 500 problem, never a traceback
            if started:
                log.error("request %s failed after its answer started: %s", request_id, where(exc))
            else:
                await internal_error_response(scope, exc)(scope, receive, send_with_context)
        finally:
            seconds = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", None)
            if route is None:
                route = scope["path"] if scope["path"] in self.static_paths else UNMATCHED_ROUTE
            method = scope["method"]
            self.metrics.observe_request(method, route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                _log_request({
                    "request_id": request_id,
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                    "key_id": state.get("key_id"),
                })


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header_value(scope, b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                too_large = False  # the server refuses a malformed Content-Length before we run
            if too_large:
                await problem_response(
                    scope, 413, f"the request body is larger than the limit of {self.max_bytes} bytes"
                )(scope, receive, send)
                return
        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(self.max_bytes)
            return message

        await self.app(scope, receive_limited, send)
