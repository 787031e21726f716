"""The console's machinery: sessions in cookies, CSRF, security headers, languages, rendering, and
the one way a page acts on the vault: by running an operation of the HTTP API.

**Operations.** A console action is an API operation, run in process: :meth:`Console.run` calls
the route's own function (``api.routers.*``) with the signed-in key as the caller. So an action
needs exactly the scopes its API route needs (read from the route when the console is built:
they cannot drift apart), its input is validated by the route's own body model and parameter
constraints, its audit entries are the API's (the key id as the actor), and its errors are the
API's problem details (:func:`api.errors.problem_of`), shown in the page with their status.

**Sessions.** Signing in exchanges an API key for a server-side session (vault.sessions); the
cookie ``pv_session`` holds only its random id: ``HttpOnly``, ``SameSite=Strict``, ``Path=/console``,
``Secure`` unless the console is reached on a loopback address. Idle and absolute expiry are the
vault's; a session whose key is revoked ends at once.

**CSRF.** Every form carries ``csrf``, the session's token (vault.sessions.csrf_token), compared in
constant time; a POST also must come from the console's own origin when the browser says where it
comes from (``Origin``). The sign-in form, before any session, carries the token of a one-off
``pv_signin`` cookie instead. A refused POST changes nothing and is answered 403.

**Headers.** Every console answer has a strict Content-Security-Policy (``default-src 'self'``, no
inline script or style), ``X-Frame-Options: DENY``, ``Referrer-Policy: same-origin`` (never to another site; within the console it lets the browser send ``Origin``, which the CSRF check reads),
``X-Content-Type-Options: nosniff`` (and the API's ``Cache-Control: no-store``).

**Languages.** English and Korean: from the ``pv_lang`` cookie (set by the switch in every page),
else from ``Accept-Language``. A page's title and URL never hold an identifier or any PII: every
identifier, value and purpose travels in a POST body.
"""

from __future__ import annotations

import inspect
import ipaddress
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args, get_origin
from urllib.parse import parse_qsl

from fastapi.params import Depends
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel, PydanticSchemaGenerationError, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pseudovault.api.auth import Authenticator, Principal, authenticator_of, client_of, iter_routes
from pseudovault.api.console.i18n import LANGUAGES, translate
from pseudovault.api.console.nav import navigation
from pseudovault.api.deps import get_metrics, get_settings, get_vault
from pseudovault.api.errors import problem_of, validation_errors
from pseudovault.vault.audit import Actor, acting_as
from pseudovault.vault.sessions import SessionInfo, csrf_matches, csrf_token

__all__ = [
    "PREFIX",
    "SESSION_COOKIE",
    "SIGNIN_COOKIE",
    "LANG_COOKIE",
    "CSP",
    "Console",
    "Ctx",
    "Form",
    "Operation",
    "Problem",
    "SecurityHeaders",
    "ConsoleFailure",
    "cookie_secure",
    "is_loopback",
    "language_of",
    "new_signin_secret",
    "read_form",
    "same_origin",
    "set_cookie",
]

log = logging.getLogger(__name__)

PREFIX = "/console"
SESSION_COOKIE = "pv_session"
SIGNIN_COOKIE = "pv_signin"
LANG_COOKIE = "pv_lang"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
_HEADERS = (
    (b"content-security-policy", CSP.encode("ascii")),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
)
_MAX_FIELDS = 200
_TEMPLATES = Path(__file__).parent / "templates"


class SecurityHeaders:
    """Adds the console's security headers to every answer under :data:`PREFIX`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in _HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + list(_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Form:
    """An ``application/x-www-form-urlencoded`` body: the last value of a name, or all of them."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._pairs = list(pairs)

    def get(self, name: str, default: str = "") -> str:
        found = [value for key, value in self._pairs if key == name]
        return found[-1].strip() if found else default

    def raw(self, name: str) -> str:
        """The last value as sent, not stripped."""
        found = [value for key, value in self._pairs if key == name]
        return found[-1] if found else ""

    def getlist(self, name: str) -> list[str]:
        return [value.strip() for key, value in self._pairs if key == name]

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self._pairs)

    def __repr__(self) -> str:  # values may be PII: names only
        return f"Form(names={sorted({key for key, _ in self._pairs})!r})"


@dataclass
class Problem:
    """An API problem shown in a page: status, code, detail and field errors (never input)."""

    status: int
    code: str
    detail: str | None
    errors: list[dict[str, Any]] = field(default_factory=list)
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ConsoleFailure(Exception):
    """Stops a page: show ``problem`` (with its status) in the page, or the error page."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.code)
        self.problem = problem


@dataclass
class Ctx:
    """One console request: the language, the session (when signed in) and the parsed form."""

    request: Request
    lang: str
    session_id: str | None = None
    session: SessionInfo | None = None
    form: Form = field(default_factory=Form)

    @property
    def client(self) -> str | None:
        """The client address, as the API records it (api.auth)."""
        return client_of(self.request)

    @property
    def principal(self) -> Principal:
        assert self.session is not None
        return Principal(self.session.key_id, self.session.name, self.session.scopes, self.client)

    @property
    def csrf(self) -> str:
        return csrf_token(self.session_id) if self.session_id else ""

    def t(self, text: str, **values: Any) -> str:
        return translate(self.lang, text, **values)

    def query(self, *names: str) -> dict[str, str | None]:
        """The page's query parameters ``names`` (None when absent or empty); 422 for any other,
        as the API refuses a parameter its operation does not take."""
        params = self.request.query_params
        if set(params) - set(names):
            raise ConsoleFailure(Problem(422, "invalid_request", self.t("This page takes no such parameter.")))
        return {name: params.get(name) or None for name in names}

    def has(self, scopes: Iterable[str]) -> bool:
        return self.session is not None and bool(set(scopes) & self.session.scopes)


@dataclass(frozen=True)
class Operation:
    """An API route's function, what it needs (scopes), and how to call it."""

    method: str
    path: str
    endpoint: Callable[..., Any]
    scopes: frozenset[str]
    params: Mapping[str, tuple[str, Any]]  # name -> (kind, body model / TypeAdapter / None)


def _param_kind(annotation: Any) -> tuple[str, Any]:
    if inspect.isclass(annotation) and issubclass(annotation, Response):
        return "response", None
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return "body", annotation
    if get_origin(annotation) is Annotated:
        base, *metadata = get_args(annotation)
        for meta in metadata:
            if isinstance(meta, Depends):
                call = meta.dependency
                if isinstance(call, Authenticator):
                    return "principal", None
                named = {get_vault: "vault", get_metrics: "metrics", get_settings: "settings"}
                if call in named:
                    return named[call], None
                raise TypeError(f"the console cannot provide the dependency {call!r}")
        if inspect.isclass(base) and issubclass(base, BaseModel):
            return "body", base
    if inspect.isclass(annotation) and issubclass(annotation, Request):
        return "unsupported", None  # an operation that reads the raw request: the console does its own
    try:
        return "param", TypeAdapter(annotation)
    except (TypeError, ValueError, AttributeError, PydanticSchemaGenerationError):
        return "unsupported", None


def _operations(routes: Sequence[BaseRoute]) -> dict[Callable[..., Any], Operation]:
    found: dict[Callable[..., Any], Operation] = {}
    for path, route in iter_routes(routes):
        if not isinstance(route, APIRoute):
            continue
        guard = authenticator_of(route)
        if guard is None:
            continue
        signature = inspect.signature(route.endpoint, eval_str=True)
        params = {name: _param_kind(p.annotation) for name, p in signature.parameters.items()}
        method = sorted(route.methods or {"GET"})[0]
        found[route.endpoint] = Operation(method, path, route.endpoint, guard.scopes, params)
    return found


def _problem(request: Request, exc: Exception) -> Problem:
    answer = problem_of(request, exc)
    body = json.loads(bytes(answer.body))
    code = str(body.get("type", "")).rsplit("/", 1)[-1]
    extra = {k: v for k, v in body.items() if k not in {"type", "title", "status", "detail", "instance", "request_id", "errors"}}
    return Problem(answer.status_code, code, body.get("detail"), list(body.get("errors") or []), body.get("request_id"), extra)


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


Page = Callable[[Ctx], Awaitable[Response]]
_T = TypeVar("_T")
_Model = TypeVar("_Model", bound=BaseModel)


class Console:
    """The console of one app: its operations (from the app's API routes), templates and the
    page wrapper that signs requests in and checks their forms."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.operations = _operations(app.routes)
        self.env = Environment(
            loader=FileSystemLoader(str(_TEMPLATES)),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    # --- operations -------------------------------------------------------------------------------

    def op(self, endpoint: Callable[..., Any]) -> Operation:
        try:
            return self.operations[endpoint]
        except KeyError:
            raise TypeError(f"{endpoint.__qualname__} is not an operation of the API") from None

    def may(self, ctx: Ctx, *endpoints: Callable[..., Any]) -> bool:
        """Whether the session's key may run any of these API operations."""
        return any(ctx.has(self.op(endpoint).scopes) for endpoint in endpoints)

    async def run(
        self, ctx: Ctx, endpoint: Callable[..., Any], body: Mapping[str, Any] | None = None, /, **params: Any
    ) -> Any:
        """Run the API operation as the session's key: its scopes, validation, audit and errors."""
        operation = self.op(endpoint)
        if not ctx.has(operation.scopes):
            raise ConsoleFailure(Problem(403, "forbidden", ctx.t("This API key may not do this.")))
        state = ctx.request.app.state
        arguments: dict[str, Any] = {}
        principal = ctx.principal
        for name, (kind, spec) in operation.params.items():
            if kind == "vault":
                arguments[name] = state.vault
            elif kind == "metrics":
                arguments[name] = state.metrics
            elif kind == "settings":
                arguments[name] = state.settings
            elif kind == "response":
                arguments[name] = Response()
            elif kind == "principal":
                arguments[name] = principal
            elif kind == "body":
                arguments[name] = self.validated(spec, body or {})
            elif name in params or (name == "body" and body is not None):
                value = params[name] if name in params else dict(body or {})
                try:
                    arguments[name] = spec.validate_python(value)
                except ValidationError as error:
                    where = "body" if name == "body" else "query"
                    raise ConsoleFailure(self._invalid(error, where, None if name == "body" else name)) from None
        if inspect.iscoroutinefunction(operation.endpoint) or any(k == "unsupported" for k, _ in operation.params.values()):
            raise TypeError("the console runs the API's plain (thread) operations only")

        def call() -> Any:
            with acting_as(Actor("api_key", principal.key_id, client=principal.client)):
                return operation.endpoint(**arguments)

        return await self.attempt(ctx, run_in_threadpool(call))

    def validated(self, model: type[_Model], data: Mapping[str, Any]) -> _Model:
        """``data`` as a request model of the API; the API's 422 when it is not one."""
        try:
            return model.model_validate(dict(data))
        except ValidationError as error:
            raise ConsoleFailure(self._invalid(error, "body")) from None

    async def attempt(self, ctx: Ctx, work: Awaitable[_T]) -> _T:
        """Await ``work`` (the API's own code); any exception becomes the API's problem for it."""
        try:
            return await work
        except Exception as exc:
            raise ConsoleFailure(_problem(ctx.request, exc)) from None

    @staticmethod
    def _invalid(error: ValidationError, location: str, name: str | None = None) -> Problem:
        raw = []
        for item in error.errors(include_input=False, include_context=False, include_url=False):
            loc = (location, name, *item["loc"]) if name else (location, *item["loc"])
            raw.append({**item, "loc": loc})
        errors = [e.model_dump() for e in validation_errors(raw)]
        return Problem(422, "invalid_request", "the request is invalid", errors)

    # --- rendering --------------------------------------------------------------------------------

    def render(self, ctx: Ctx, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        page = self.env.get_template(template).render(
            t=ctx.t,
            lang=ctx.lang,
            languages=LANGUAGES,
            csrf=ctx.csrf,
            session=ctx.session,
            nav=navigation(lambda operations: self.may(ctx, *operations)) if ctx.session is not None else [],
            path=ctx.request.url.path,
            **values,
        )
        return HTMLResponse(page, status_code=status)

    def failure(self, ctx: Ctx, problem: Problem) -> HTMLResponse:
        title = "Error" if problem.status >= 500 else "Refused"
        return self.render(ctx, "error.html", status=problem.status, title=title, problem=problem)

    # --- the page wrapper -------------------------------------------------------------------------

    def page(self, handler: Page, *, public: bool = False) -> Callable[[Request], Awaitable[Response]]:
        """A route endpoint: language, session (else to the sign-in page), form and CSRF check,
        and a :class:`ConsoleFailure` shown as a page."""

        async def endpoint(request: Request) -> Response:
            ctx = Ctx(request, language_of(request))
            if not public:
                session_id = request.cookies.get(SESSION_COOKIE)
                info = await run_in_threadpool(request.app.state.vault.console_sessions.resolve, session_id or "")
                if info is None:
                    if request.method == "GET":
                        return RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
                    return self.failure(ctx, Problem(401, "unauthorized", ctx.t("Your session has ended. Sign in again.")))
                ctx.session_id, ctx.session = session_id, info
            try:
                if request.method == "POST":
                    ctx.form = await read_form(request)
                    if not public:
                        self.check_post(ctx, ctx.session_id or "")
                return await handler(ctx)
            except ConsoleFailure as failure:
                return self.failure(ctx, failure.problem)

        return endpoint

    def check_post(self, ctx: Ctx, secret: str) -> None:
        """403 unless the form carries the CSRF token of ``secret`` and comes from this origin."""
        if not same_origin(ctx.request) or not csrf_matches(secret, ctx.form.get("csrf")):
            log.warning("console: a form without a valid CSRF token was refused")
            raise ConsoleFailure(Problem(403, "csrf", ctx.t("This form has expired or did not come from this console. Reload the page and try again.")))


async def read_form(request: Request) -> Form:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = await request.body()
    if not body:
        return Form()
    if content_type != "application/x-www-form-urlencoded":
        raise ConsoleFailure(Problem(415, "unsupported_media_type", "send the form as application/x-www-form-urlencoded"))
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=_MAX_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise ConsoleFailure(Problem(422, "invalid_request", "the form is not valid UTF-8 or has too many fields")) from None
    if any("\x00" in value for _, value in pairs):
        raise ConsoleFailure(Problem(422, "invalid_request", "the form holds a NUL character"))
    return Form(pairs)


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another origin."""
    origin = request.headers.get("origin")
    if origin is None:
        fetch_site = request.headers.get("sec-fetch-site")
        return fetch_site in (None, "same-origin", "none")
    host = request.headers.get("host", "")
    return origin in (f"{request.url.scheme}://{host}", f"http://{host}", f"https://{host}") and origin != "null"


def language_of(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";", 1)[0].strip().lower()
        primary = tag.split("-", 1)[0]
        if primary in LANGUAGES:
            return primary
    return "en"


def cookie_secure(request: Request) -> bool:
    """Secure cookies everywhere but on a loopback address (plain HTTP to 127.0.0.1 in development)."""
    return request.url.scheme == "https" or not is_loopback(request.url.hostname)


def set_cookie(response: Response, request: Request, name: str, value: str, *, max_age: int | None = None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
    )


def new_signin_secret() -> str:
    return secrets.token_urlsafe(32)


