"""`/api/docs` works offline and unknown `/api/*` paths are JSON errors, not the web app.

The API is tested as Reflex serves it: Reflex mounts its own app (which answers any path with
the single-page app's HTML and 200) at "" inside our FastAPI app, after our routes.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from agent_platform.api import create_api


def _spa(request: Request) -> HTMLResponse:
    return HTMLResponse("<html><body>the web app</body></html>")


@pytest.fixture
def client() -> TestClient:
    api = create_api()
    api.mount("", Starlette(routes=[Route("/{path:path}", _spa)]))  # as rx.App does
    return TestClient(api)


def test_docs_page_loads_swagger_from_this_server_not_a_cdn(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert urls, page.text
    assert all(u.startswith("/api/") for u in urls), urls  # nothing from a CDN
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
    js = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert "javascript" in js.headers["content-type"]
    assert b"SwaggerUIBundle" in js.content
    assert client.get("/api/openapi.json").json()["openapi"].startswith("3.")


@pytest.mark.parametrize("name", ["../core.py", "..%2Fcore.py", "redoc.standalone.js", "x.js"])
def test_docs_assets_serve_only_the_listed_files(client: TestClient, name: str) -> None:
    response = client.get(f"/api/docs/assets/{name}")
    assert response.status_code == 404
    assert "html" not in response.headers["content-type"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/nope"),
        ("GET", "/api/v1/org/extra"),
        ("POST", "/api/v1/agents/123/anything"),
        ("DELETE", "/api/v2"),
        ("GET", "/api/"),
    ],
)
def test_unknown_api_path_is_a_json_404(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "No API endpoint" in response.json()["detail"]


def test_known_path_with_wrong_method_is_a_json_405(client: TestClient) -> None:
    response = client.delete("/api/v1/org")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()["detail"] == "This endpoint takes GET, not DELETE."


def test_known_routes_and_the_web_app_still_answer(client: TestClient) -> None:
    assert client.get("/api/v1/org").status_code == 401  # the real route, not the fallback
    assert client.get("/health").json()["status"] == "ok"
    page = client.get("/agents")
    assert page.status_code == 200 and "the web app" in page.text
