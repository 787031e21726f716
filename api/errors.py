"""Every error answer of the API, in one place: RFC 9457 problem details.

Body (``application/problem+json``)::

    {"type": "https://pseudovault.dev/problems/<code>", "title": "...", "status": 404,
     "detail": "...", "instance": "urn:pseudovault:request:<request id>", "request_id": "...",
     "errors": [{"location": "body", "pointer": "#/fields/email", "detail": "...", "code": "..."}]}

``errors`` is present for 422 only. No body ever quotes what the caller sent (it may be PII):
details come from the vault's errors, which carry ids, field names and reasons only; validation
messages come from pydantic without their ``input`` and ``ctx``, and a message that contains the
input anyway is replaced; a location part that is not a plain identifier (a dict key the caller
chose, which could be anything) is shown as ``*``. The request's path is not echoed either:
``instance`` names the request by its id.

Mapping from exceptions (the vault's, the key layer's, the database driver's) to statuses:

=======================================================  =====  =========================
exception                                                status code
=======================================================  =====  =========================
vault.apikeys.InvalidApiKeyError, missing credentials    401    unauthorized
(scope missing: raised by api.auth)                      403    forbidden
vault.errors.NotFoundError, unknown route                404    not_found
vault.retention.holds.HeldError (body names ``hold_id``)  409    held
retention.views.DestructiveEventError (``due_now``)      409    event_destroys_data
retention.restrictions.RestrictedError (``reasons``)     409    restricted
vault.errors.ConflictError                               409    conflict
body over the limit (api.middleware)                     413    payload_too_large
body that is not JSON                                    415    unsupported_media_type
RequestValidationError, vault.errors.InvalidInputError   422    invalid_request
rate limit (api.ratelimit)                               429    rate_limited
NotInitialisedError, UnavailableError, KeyringError,     503    unavailable
  keys.errors.ProviderUnavailableError (HSM, KMS down),
  SQLAlchemy OperationalError / InterfaceError
keys.errors.DecryptionError, KeyNotFoundError            500    stored_data_unreadable
anything else                                            500    internal_error
=======================================================  =====  =========================

A 5xx is a fault of the server, never of the input; its body says nothing but the code and the
request id, and it is logged by exception class and source location only (an exception's
message can quote values).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from pseudovault.keys.errors import DecryptionError, KeyNotFoundError, KeyringError, KeysError, ProviderUnavailableError
from pseudovault.vault.apikeys import InvalidApiKeyError
from pseudovault.vault.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    NotInitialisedError,
    UnavailableError,
    VaultError,
)
from pseudovault.vault.retention.holds import HeldError
from pseudovault.vault.retention.restrictions import RestrictedError
from pseudovault.vault.retention.views import DestructiveEventError

__all__ = [
    "PROBLEM_BASE",
    "PROBLEM_MEDIA_TYPE",
    "ApiProblem",
    "Problem",
    "ProblemFieldError",
    "install_error_handlers",
    "problem_of",
    "problem_response",
    "internal_error_response",
    "request_id_of",
    "where",
]

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://pseudovault.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
#: seconds a client waits before retrying a 503 (a store, the rate limiter or the key provider down)
RETRY_AFTER_UNAVAILABLE = "5"

TITLES: dict[int, str] = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}
CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}

_SAFE_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})
_REQUEST_ID_KEY = "request_id"


class ProblemFieldError(BaseModel):
    """Where a request is invalid and why; never the value."""

    model_config = ConfigDict(extra="forbid")

    location: str | None = Field(None, description="body, query, path or header (when known).")
    pointer: str = Field(description="JSON pointer into that location, e.g. #/fields/email.")
    detail: str = Field(description="Why it is invalid.")
    code: str | None = Field(None, description="A machine-readable reason, e.g. string_too_long.")


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://pseudovault.dev/problems/not_found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "subject not found",
                    "instance": "urn:pseudovault:request:4c1d0c8e2f5a4a43a3c0d7b1e9f2a6b5",
                    "request_id": "4c1d0c8e2f5a4a43a3c0d7b1e9f2a6b5",
                }
            ]
        },
    )

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str | None = None
    instance: str = Field(description="Names this occurrence: the request id as a URN.")
    request_id: str
    errors: list[ProblemFieldError] | None = Field(None, description="For 422: each invalid part of the request.")
    hold_id: str | None = Field(
        None, description="For 409 `held`: the legal hold that refused the request (release it first)."
    )


class ApiProblem(Exception):
    """Raised anywhere in the API layer to answer with a problem."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        errors: Sequence[ProblemFieldError] | None = None,
    ) -> None:
        super().__init__(detail or TITLES.get(status, "error"))
        self.status = status
        self.detail = detail
        self.code = code or CODES.get(status, "error")
        self.headers = dict(headers or {})
        self.errors = list(errors) if errors is not None else None


def invalid_field(pointer: str, detail: str, code: str, *, location: str = "body") -> ApiProblem:
    """A 422 "the request is invalid" naming one field (``pointer`` in ``location``) and why."""
    return ApiProblem(
        422,
        "the request is invalid",
        errors=[ProblemFieldError(location=location, pointer=pointer, detail=detail, code=code)],
    )


def request_id_of(scope: Scope) -> str:
    """The id the request middleware gave this request (one is made up if it ran without it)."""
    state = scope.setdefault("state", {})
    request_id = state.get(_REQUEST_ID_KEY)
    if not isinstance(request_id, str):
        request_id = uuid.uuid4().hex
        state[_REQUEST_ID_KEY] = request_id
    return request_id


def problem_response(
    scope: Scope,
    status: int,
    detail: str | None = None,
    *,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    errors: Sequence[ProblemFieldError] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> JSONResponse:
    request_id = request_id_of(scope)
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (code or CODES.get(status, "error")),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": f"urn:pseudovault:request:{request_id}",
        "request_id": request_id,
    }
    if errors is not None:
        body["errors"] = [error.model_dump() for error in errors]
    if extensions:
        body.update(extensions)
    sent = dict(headers or {})
    if status == 503:  # what is down is passing: say when to try again
        sent.setdefault("Retry-After", RETRY_AFTER_UNAVAILABLE)
    return JSONResponse(body, status_code=status, headers=sent, media_type=PROBLEM_MEDIA_TYPE)


def where(exc: BaseException) -> str:
    """``Class at file:line`` of the innermost frame: what a 5xx is logged with (no message)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return type(exc).__name__
    code = tb.tb_frame.f_code
    return f"{type(exc).__name__} at {code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno} in {code.co_name}"


def internal_error_response(scope: Scope, exc: BaseException, *, code: str = "internal_error") -> JSONResponse:
    log.error("request %s failed: %s", request_id_of(scope), where(exc))
    return problem_response(scope, 500, None, code=code)


# --- validation errors ------------------------------------------------------------------------


def _pointer(parts: Sequence[Any], known: Collection[str] | None = None) -> str:
    """A JSON pointer to the part of the request in error, in names of ours only: a part is shown
    when it is an index, or a field or parameter name the API declares (``known``; any name of the
    safe shape when None). A key the caller chose (a subject's field name, say) is shown as ``*``:
    an error body never quotes input."""
    shown = []
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            shown.append(str(part))
        elif part == "[key]" or (
            isinstance(part, str) and _SAFE_PART.fullmatch(part) and (known is None or part in known)
        ):
            shown.append(part)
        else:
            shown.append("*")
    return "#/" + "/".join(shown) if shown else "#"


def declared_names(schema: Mapping[str, Any]) -> frozenset[str]:
    """Every property and parameter name an OpenAPI document declares."""
    names: set[str] = set()
    for component in schema.get("components", {}).get("schemas", {}).values():
        names.update(component.get("properties", {}))
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, Mapping):
                names.update(p["name"] for p in operation.get("parameters", ()) if "name" in p)
    return frozenset(names)


def _known_names(request: Request) -> frozenset[str]:
    state = request.app.state
    known: frozenset[str] | None = getattr(state, "declared_names", None)
    if known is None:  # an app not made by create_app (which reads them from its routes, in ~1 ms)
        known = state.declared_names = declared_names(request.app.openapi())
    return known


def _message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg") or "invalid value")
    value = error.get("input")
    if isinstance(value, str) and len(value) >= 3 and value in message:
        return "invalid value"
    if error.get("type") in ("uuid_parsing", "uuid_type", "uuid_version"):
        return "must be a UUID"
    return message


def validation_errors(raw: Sequence[Mapping[str, Any]], known: Collection[str] | None = None) -> list[ProblemFieldError]:
    """pydantic/FastAPI errors with the input values dropped (and keys the caller chose, given the
    names the API declares)."""
    out = []
    for error in raw:
        loc = tuple(error.get("loc") or ())
        location = loc[0] if loc and loc[0] in _LOCATIONS else None
        parts = loc[1:] if location else loc
        if error.get("type") == "json_invalid":  # FastAPI puts the character position in loc
            position = parts[0] if parts and isinstance(parts[0], int) else None
            where_ = f" at character {position}" if position is not None else ""
            out.append(
                ProblemFieldError(location=location, pointer="#", detail=f"not valid JSON{where_}", code="json_invalid")
            )
            continue
        out.append(
            ProblemFieldError(
                location=location, pointer=_pointer(parts, known), detail=_message(error), code=str(error.get("type", ""))
            )
        )
    return out


def _field_error(exc: InvalidInputError, known: Collection[str] | None = None) -> ProblemFieldError:
    return ProblemFieldError(location=None, pointer=_pointer(exc.field.split("."), known), detail=exc.reason, code=exc.code)


# --- handlers ---------------------------------------------------------------------------------


def _vault_error(request: Request, exc: Exception) -> Response:
    scope = request.scope
    if isinstance(exc, InvalidApiKeyError):
        return problem_response(
            scope, 401, "invalid or revoked API key", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    if isinstance(exc, NotFoundError):
        return problem_response(scope, 404, f"{exc.what} not found")
    if isinstance(exc, InvalidInputError):
        return problem_response(scope, 422, "the request is invalid", errors=[_field_error(exc, _known_names(request))])
    if isinstance(exc, DestructiveEventError):  # lists what it would destroy: ids, categories, dates
        due_now = [e.as_dict() for e in exc.preview.due_now]
        return problem_response(scope, 409, str(exc), code=exc.code, extensions={"due_now": due_now})
    if isinstance(exc, RestrictedError):  # names the restriction, never the data
        return problem_response(scope, 409, str(exc), code=exc.code, extensions={"reasons": list(exc.reasons)})
    if isinstance(exc, HeldError):  # names the hold, so the caller knows what to release
        return problem_response(scope, 409, str(exc), code=HeldError.code, extensions={"hold_id": exc.hold_id})
    if isinstance(exc, ConflictError):
        return problem_response(scope, 409, str(exc))
    if isinstance(exc, (NotInitialisedError, UnavailableError)):
        log.warning("request %s: unavailable (%s)", request_id_of(scope), type(exc).__name__)
        return problem_response(scope, 503, str(exc))
    return internal_error_response(scope, exc)


def _keys_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, KeyringError):
        log.warning("request %s: keyring unavailable", request_id_of(request.scope))
        return problem_response(request.scope, 503, "the keyring cannot be used")
    if isinstance(exc, ProviderUnavailableError):
        log.warning("request %s: root key provider unavailable (%s)", request_id_of(request.scope), exc)
        return problem_response(request.scope, 503, "the root key provider cannot be reached")
    if isinstance(exc, (DecryptionError, KeyNotFoundError)):
        return internal_error_response(request.scope, exc, code="stored_data_unreadable")
    return internal_error_response(request.scope, exc)


def _database_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, (OperationalError, InterfaceError)):
        # the driver's message can quote SQL parameters: never shown, logged by class only
        log.warning("request %s: a store cannot be reached (%s)", request_id_of(request.scope), type(exc).__name__)
        return problem_response(request.scope, 503, "a store cannot be reached")
    return internal_error_response(request.scope, exc)


#: a database driver's own errors that mean "the store cannot answer now" (a connection refused,
#: terminated or timed out; a statement or lock timeout), when one reaches the API unwrapped
def _driver_connection_errors() -> tuple[type[Exception], ...]:
    errors: list[type[Exception]] = [sqlite3.OperationalError]
    try:  # the PostgreSQL driver is an extra (pip install '.[postgres]')
        import psycopg
    except ImportError:
        return tuple(errors)
    return (*errors, psycopg.OperationalError, psycopg.InterfaceError)


_DRIVER_CONNECTION_ERRORS = _driver_connection_errors()


def _driver_error(request: Request, exc: Exception) -> Response:
    log.warning("request %s: a store cannot be reached (%s)", request_id_of(request.scope), where(exc))
    return problem_response(request.scope, 503, "a store cannot be reached")


def _api_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiProblem)
    return problem_response(
        request.scope, exc.status, exc.detail, code=exc.code, headers=exc.headers, errors=exc.errors
    )


def _request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc.errors(), _known_names(request))
    return problem_response(request.scope, 422, "the request is invalid", errors=errors)


def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, ClientDisconnect):  # FastAPI's "error parsing the body": the client left
        raise exc.__cause__
    status = exc.status_code
    if status >= 500:
        return internal_error_response(request.scope, exc)
    # Starlette's own details ("Not Found", "Method Not Allowed", "Content Too Large") name no input
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(request.scope, status, detail, headers=exc.headers)


def problem_of(request: Request, exc: Exception) -> Response:
    """The problem answer the API gives for ``exc`` (the same mapping as the handlers below),
    for an interface that shows it in another form (the web console)."""
    handlers: tuple[tuple[type[Exception] | tuple[type[Exception], ...], Callable[[Request, Exception], Response]], ...] = (
        (ApiProblem, _api_problem),
        (RequestValidationError, _request_validation),
        (StarletteHTTPException, _http_exception),
        (VaultError, _vault_error),
        (KeysError, _keys_error),
        (SQLAlchemyError, _database_error),
        (_DRIVER_CONNECTION_ERRORS, _driver_error),
    )
    for kind, handler in handlers:
        if isinstance(exc, kind):
            return handler(request, exc)
    return internal_error_response(request.scope, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiProblem, _api_problem)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(VaultError, _vault_error)
    app.add_exception_handler(KeysError, _keys_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    for driver_error in _DRIVER_CONNECTION_ERRORS:
        app.add_exception_handler(driver_error, _driver_error)
