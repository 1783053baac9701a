"""Headers, CSP and CORS on the running app as `up` serves it (prebuilt frontend, Reflex's
routes, our API), and a real Chromium that uses the app under that CSP without a violation."""

from __future__ import annotations

import asyncio
import re
import urllib.error
import urllib.request

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import sign_up

pytestmark = pytest.mark.browser
EVIL = "http://evil.example"


def fetch(url: str, headers: dict[str, str] | None = None, method: str = "GET"):
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_every_kind_of_response_carries_the_headers(app_server: RunningApp) -> None:
    status, _, body = fetch(app_server.url + "/login")
    assert status == 200
    asset = re.search(rb'href="(/assets/[^"]+\.js)"', body)
    assert asset is not None
    paths = ["/login", "/register", "/", asset.group(1).decode(), "/favicon.ico", "/ping"]
    paths += ["/health", "/api/v1/agents", "/api/v1/no-such-thing", "/no-such-page"]
    for path in paths:
        status, headers, _ = fetch(app_server.url + path)
        assert headers["x-frame-options"] == "DENY", path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "same-origin", path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
    _, page_headers, _ = fetch(app_server.url + "/login")
    csp = page_headers["content-security-policy"]
    assert "'sha256-" in csp and "'unsafe-inline'" not in csp.split("style-src")[0]


def test_cors_answers_only_the_apps_own_origin(app_server: RunningApp) -> None:
    _, headers, _ = fetch(app_server.url + "/health", {"origin": EVIL})
    assert headers.get("access-control-allow-origin") is None
    _, headers, _ = fetch(
        app_server.url + "/api/v1/agents",
        {"origin": EVIL, "access-control-request-method": "POST"},
        method="OPTIONS",
    )
    assert headers.get("access-control-allow-origin") is None
    _, headers, _ = fetch(app_server.url + "/health", {"origin": app_server.url})
    assert headers.get("access-control-allow-origin") == app_server.url


def test_the_websocket_refuses_another_sites_pages(app_server: RunningApp) -> None:
    import websockets

    ws_url = app_server.url.replace("http://", "ws://") + "/_event/?EIO=4&transport=websocket"

    async def handshake(origin: str) -> str:
        try:
            async with websockets.connect(ws_url, origin=origin, open_timeout=10) as ws:
                return str(await asyncio.wait_for(ws.recv(), 10))
        except websockets.exceptions.InvalidStatus as exc:
            return f"refused {exc.response.status_code}"

    assert asyncio.run(handshake(app_server.url)).startswith("0")  # engine.io "open"
    assert asyncio.run(handshake(EVIL)).startswith("refused")


def test_the_app_runs_under_its_csp_without_a_violation(
    app_server: RunningApp, browser, artifacts
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if msg.type == "error" or "Content Security Policy" in msg.text
            else None
        ),
    )
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.add_init_script(
        "window.__cspViolations = [];"
        "document.addEventListener('securitypolicyviolation', e =>"
        " window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )

    sign_up(page, app_server.url, name="Csp", email="csp@example.com")
    for section in ["agents", "integrations", "settings"]:
        page.click(f"#nav-{section}")
        expect(page.locator("#page-title")).to_have_text(section.capitalize())
    # A server-sent toast is run by Reflex through eval: the CSP must let it through.
    page.click("#to-providers")
    page.click("#provider-add", timeout=20_000)
    page.click("#provider_kind")
    page.get_by_role("option", name="OpenAI-compatible server").click()
    page.fill("#provider_name", "local")
    page.fill("#provider_api_base", "http://127.0.0.1:9/v1")
    page.fill("#provider_api_key", "sk-test-1234567890")
    page.fill("#provider_models", "gpt-a")
    page.click("#provider-save")
    expect(page.locator("[data-sonner-toast]").first).to_be_visible(timeout=20_000)
    page.reload()  # a second full load: the page's hashes still match
    expect(page.locator("#page-title")).to_be_visible(timeout=20_000)
    page.screenshot(path=str(artifacts / "csp-providers.png"), full_page=True)

    violations = page.evaluate("window.__cspViolations")
    assert violations == [], violations

    # The API's own page (Swagger UI, served from this machine) runs under the policy too.
    page.goto(app_server.url + "/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_be_visible(timeout=20_000)
    violations = page.evaluate("window.__cspViolations")
    assert violations == [], violations
    assert [p for p in problems if "Content Security Policy" in p or "CSP" in p] == []
    context.close()
