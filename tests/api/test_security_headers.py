"""Security headers on every response (agent_platform.api.security_headers), in-process.

The browser test (tests/e2e/test_security_headers_flow.py) checks the same on the running app
as `up` serves it: the prebuilt frontend, Reflex's routes and the API.
"""

from __future__ import annotations

import base64
import gzip
import hashlib

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from agent_platform.api import create_api
from agent_platform.api.security_headers import (
    NOT_A_PAGE_POLICY,
    SecurityHeaders,
    inline_script_hashes,
)
from agent_platform.settings import Settings

PAGE = (
    b"<!DOCTYPE html><html><head><script>window.a = 1;</script>"
    b'<script type="module" async="">import "/assets/x.js";</script>'
    b'<script src="/assets/y.js"></script></head><body><div id="root"></div></body></html>'
)


def sha(text: bytes) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text).digest()).decode()}'"


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def gzipped_page(request: Request) -> Response:
    return Response(
        gzip.compress(PAGE), media_type="text/html", headers={"content-encoding": "gzip"}
    )


async def download(request: Request) -> Response:
    return HTMLResponse(PAGE, headers={"content-disposition": "attachment"})


async def data(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def not_modified(request: Request) -> Response:
    return Response(status_code=304)


async def own_policy(request: Request) -> Response:
    return HTMLResponse(PAGE, headers={"content-security-policy": "default-src 'self'"})


async def echo(ws: WebSocket) -> None:
    await ws.accept()
    await ws.send_text(await ws.receive_text())
    await ws.close()


def client(base_url: str = "") -> TestClient:
    app = Starlette(
        routes=[
            Route("/page", page),
            Route("/gz", gzipped_page),
            Route("/download", download),
            Route("/data", data),
            Route("/304", not_modified),
            Route("/own", own_policy),
            WebSocketRoute("/ws", echo),
        ]
    )
    settings = Settings(base_url=base_url, port=3000)
    return TestClient(SecurityHeaders(app, settings))


def policy(response) -> dict[str, str]:
    parts = (
        p.strip().split(" ", 1) for p in response.headers["content-security-policy"].split(";")
    )
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts}


@pytest.mark.parametrize("path", ["/page", "/gz", "/download", "/data", "/304", "/own"])
def test_every_response_gets_the_plain_headers(path: str) -> None:
    response = client().get(path)
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/page", "/gz"])
def test_a_page_allows_exactly_its_own_inline_scripts(path: str) -> None:
    response = client().get(path, headers={"accept-encoding": "gzip"})
    assert response.content == PAGE  # the body passes through unchanged
    csp = policy(response)
    scripts = csp["script-src"].split()
    assert scripts == [
        "'self'",
        "'unsafe-eval'",
        sha(b"window.a = 1;"),
        sha(b'import "/assets/x.js";'),
    ]
    assert "'unsafe-inline'" not in csp["script-src"]
    assert csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'"
    assert csp["style-src"] == "'self' 'unsafe-inline'"


def test_the_websocket_of_the_base_url_may_connect() -> None:
    csp = policy(client("https://agents.example.com").get("/page"))
    assert csp["connect-src"].split() == [
        "'self'",
        "https://agents.example.com",
        "wss://agents.example.com",
    ]
    local = policy(client().get("/page"))["connect-src"].split()
    assert "ws://localhost:3000" in local and "ws://127.0.0.1:3000" in local


def test_https_base_url_adds_hsts_and_http_does_not() -> None:
    assert "strict-transport-security" in client("https://agents.example.com").get("/data").headers
    assert "strict-transport-security" not in client().get("/data").headers


def test_json_and_downloads_may_run_nothing() -> None:
    for path in ("/data", "/download"):
        assert client().get(path).headers["content-security-policy"] == NOT_A_PAGE_POLICY


def test_a_304_keeps_the_cached_pages_policy() -> None:
    """A 304's headers replace the cached ones: a policy without the page's hashes would
    break the page on revalidation."""
    assert "content-security-policy" not in client().get("/304").headers


def test_a_route_that_sets_its_own_policy_keeps_it() -> None:
    assert client().get("/own").headers["content-security-policy"] == "default-src 'self'"


def test_websockets_pass_through() -> None:
    with client().websocket_connect("/ws") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "hi"


def test_inline_script_hashes_skip_external_scripts_and_repeat_none() -> None:
    html = b"<script>a()</script><SCRIPT src='/x.js'></SCRIPT><script>a()</script>"
    assert inline_script_hashes(html) == [sha(b"a()")]


def test_the_platform_api_gets_them_too() -> None:
    api = TestClient(SecurityHeaders(create_api()))
    for path in ("/health", "/api/v1/no-such-thing"):
        response = api.get(path)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"] == NOT_A_PAGE_POLICY


def test_a_page_sent_by_path_is_read_hashed_and_sent_whole(tmp_path) -> None:
    """Granian offers `http.response.pathsend`, and Starlette's FileResponse (the prebuilt
    frontend) then sends a file path instead of a body."""
    import asyncio

    file = tmp_path / "index.html"
    file.write_bytes(PAGE)

    async def app(scope, receive, send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/html; charset=utf-8")],
            }
        )
        await send({"type": "http.response.pathsend", "path": str(file)})

    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "extensions": {}}
    asyncio.run(SecurityHeaders(app, Settings(port=3000))(scope, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[1]["body"] == PAGE
    csp = dict(sent[0]["headers"])[b"content-security-policy"].decode()
    assert sha(b"window.a = 1;") in csp
