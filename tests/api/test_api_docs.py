"""/docs and /redoc render from the server's own assets: nothing is fetched from a CDN or a font
service, so they work on a network without internet (issue 13, item 1)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_swagger_ui_and_redoc_load_only_local_assets(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", response.text)
        urls += re.findall(r"""url: ?["']([^"']+)["']""", response.text)
        assert urls, page
        for url in urls:
            assert not url.startswith(("http://", "https://", "//")), (page, url)
        assert "cdn." not in response.text and "fonts.googleapis" not in response.text
        for asset in (u for u in urls if u.startswith("/docs/assets/")):
            fetched = client.get(asset)
            assert fetched.status_code == 200 and len(fetched.content) > 1000, asset
    assert "/openapi.json" in client.get("/docs").text
    assert client.get("/docs/assets/swagger-ui-bundle.js").headers["content-type"].startswith(("application/javascript", "text/javascript"))
    assert client.get("/docs/assets/nothing-here.js").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 200
