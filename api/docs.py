"""The interactive API docs, served from the server itself: ``/docs`` (Swagger UI) and ``/redoc``
(ReDoc) load their scripts and styles from ``/docs/assets``, files shipped by the
``fastapi-offline`` package, never from a CDN, so they render on a network without internet (where
a PII vault usually runs). No web fonts are fetched either."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request

__all__ = ["ASSETS_PATH", "install_docs"]

#: where the docs' assets are served
ASSETS_PATH = "/docs/assets"


def _assets_dir() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def install_docs(app: FastAPI, *, title: str) -> None:
    """``/docs``, ``/docs/oauth2-redirect`` and ``/redoc`` over the app's ``/openapi.json``, with
    their assets under :data:`ASSETS_PATH` (the app is created with ``docs_url=None``)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=_assets_dir()), name="docs-assets")

    async def swagger_ui(_request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{title} - API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    async def swagger_ui_redirect(_request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(_request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{title} - API",
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )

    # plain routes, as FastAPI adds its own docs: public, outside the OpenAPI document
    app.add_route("/docs", swagger_ui, include_in_schema=False)
    app.add_route("/docs/oauth2-redirect", swagger_ui_redirect, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)
