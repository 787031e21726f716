"""The web console at ``/console``: server-rendered pages (Jinja2, plain forms that work without
JavaScript) for fraud analysts and privacy officers, over the API's own operations.

Pages (api.console.analyst, .privacy, .admin): the overview, checks, records, subjects (reveal,
erasure and receipts), retention (policies, what falls due, sweeps, legal holds), data-subject
requests, audit and keys. What a session's API key may do is what the key may do in the API (see
api.console.web). Sign-in, sign-out and the language switch are here; static files (the console's
own style sheet and script) under ``/console/static``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles

from pseudovault.api.console import admin, analyst, privacy
from pseudovault.api.console.i18n import LANGUAGES
from pseudovault.api.console.web import (
    LANG_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    Console,
    Ctx,
    Problem,
    SecurityHeaders,
    new_signin_secret,
    set_cookie,
)
from pseudovault.vault.apikeys import InvalidApiKeyError
from pseudovault.vault.sessions import csrf_token

__all__ = ["PREFIX", "install_console"]

_STATIC = Path(__file__).parent / "static"


def _sign_in_routes(console: Console) -> list[tuple[str, str, Any, bool]]:
    async def sign_in_form(ctx: Ctx, *, problem: Problem | None = None) -> Response:
        secret = new_signin_secret()
        response = console.render(
            ctx, "signin.html", status=problem.status if problem else 200, title="Sign in",
            signin_csrf=csrf_token(secret), problem=problem,
        )
        set_cookie(response, ctx.request, SIGNIN_COOKIE, secret, max_age=3600)
        return response

    async def sign_in_get(ctx: Ctx) -> Response:
        return await sign_in_form(ctx)

    async def sign_in(ctx: Ctx) -> Response:
        console.check_post(ctx, ctx.request.cookies.get(SIGNIN_COOKIE) or "")
        token = ctx.form.get("api_key")
        try:
            session_id, _info = await run_in_threadpool(
                ctx.request.app.state.vault.console_sessions.open, token, client=ctx.client
            )
        except InvalidApiKeyError:
            return await sign_in_form(ctx, problem=Problem(401, "unauthorized", ctx.t("That API key is not valid, or it was revoked.")))
        response = RedirectResponse(f"{PREFIX}/", status_code=303)
        set_cookie(response, ctx.request, SESSION_COOKIE, session_id.get_secret_value())
        response.delete_cookie(SIGNIN_COOKIE, path=PREFIX)
        return response

    async def sign_out(ctx: Ctx) -> Response:
        await run_in_threadpool(ctx.request.app.state.vault.console_sessions.close, ctx.session_id or "", client=ctx.client)
        response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    async def language(ctx: Ctx) -> Response:
        chosen = ctx.request.path_params["lang"]
        back = ctx.request.headers.get("referer", "")
        # back to the page it was chosen on, if that is a console page of this origin
        host = ctx.request.headers.get("host", "")
        target = f"{PREFIX}/"
        for origin in (f"http://{host}", f"https://{host}"):
            if back.startswith(origin + PREFIX):
                target = back[len(origin):].split("#", 1)[0]
        response = RedirectResponse(target, status_code=303)
        if chosen in LANGUAGES:
            set_cookie(response, ctx.request, LANG_COOKIE, chosen, max_age=365 * 86400)
        return response

    return [
        ("/sign-in", "GET", sign_in_get, True),
        ("/sign-in", "POST", sign_in, True),
        ("/sign-out", "POST", sign_out, False),
        ("/language/{lang}", "GET", language, True),
    ]


def install_console(app: FastAPI) -> Console:
    """Mount the console at :data:`PREFIX` on ``app`` (after the API's routers: the console's
    actions are their operations)."""
    console = Console(app)
    settings = app.state.settings
    app.state.vault.console_sessions.configure(
        idle=timedelta(minutes=settings.console_idle_minutes), lifetime=timedelta(hours=settings.console_session_hours)
    )
    routes: list[Route | Mount] = []
    for path, method, handler, public in _sign_in_routes(console):
        routes.append(Route(path, console.page(handler, public=public), methods=[method]))
    for module in (analyst, privacy, admin):
        for path, method, handler in module.routes(console):
            routes.append(Route(path, console.page(handler), methods=[method]))
    routes.append(Mount("/static", app=StaticFiles(directory=str(_STATIC)), name="console-static"))
    app.mount(PREFIX, Router(routes=routes), name="console")
    app.add_middleware(SecurityHeaders)
    app.state.console = console
    return console
