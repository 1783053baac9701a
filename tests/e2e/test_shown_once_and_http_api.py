"""Issue 10 #4 and #16 in a real browser: a shown-once API key is gone for the next person who
signs in in the same tab; an HTTP API connection saves with each kind of credential."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import sign_up

pytestmark = pytest.mark.browser


def test_next_person_in_the_same_tab_never_sees_the_key(
    app_server: RunningApp, browser, artifacts
) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    frames: list[str] = []  # everything the server sent this tab over the websocket
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))),
    )

    sign_up(page, app_server.url, name="Key Maker", email="keymaker@example.com")
    page.click("#nav-settings")
    page.click("#tab-keys", timeout=20_000)
    page.fill("#key_name", "deploy bot")
    page.click("#key-submit")
    expect(page.locator("#new-key")).to_contain_text("ap_", timeout=20_000)
    secret = page.locator("#new-key").inner_text().strip()
    page.click("#tab-invitations")
    page.fill("#invite_email", "friend@example.com")
    page.click("#invite-submit")
    expect(page.locator("#invite-link")).to_contain_text("token=inv_", timeout=20_000)
    link = page.locator("#invite-link").inner_text().strip()

    # Leaving the page and coming back: shown once means once.
    page.click("#nav-agents")
    expect(page.locator("#page-title")).to_have_text("Agents", timeout=20_000)
    page.click("#nav-settings")
    page.click("#tab-keys", timeout=20_000)
    expect(page.locator("#keys-table")).to_contain_text("deploy bot", timeout=20_000)
    expect(page.locator("#new-key")).to_have_count(0)

    # A second secret, then log out with it on screen.
    page.fill("#key_name", "second bot")
    page.click("#key-submit")
    expect(page.locator("#new-key")).to_contain_text("ap_", timeout=20_000)
    second = page.locator("#new-key").inner_text().strip()
    page.click("#logout-button")
    expect(page).to_have_url(re.compile(r"/login"), timeout=20_000)

    # Someone else signs up in the same tab (their own organization) and opens Settings.
    frames.clear()
    sign_up(page, app_server.url, name="Next Person", email="next@example.com")
    page.click("#nav-settings")
    page.click("#tab-keys", timeout=20_000)
    expect(page.get_by_text("No API keys")).to_be_visible(timeout=20_000)
    expect(page.locator("#new-key")).to_have_count(0)
    page.click("#tab-invitations")
    expect(page.locator("#invite-link")).to_have_count(0)
    page.screenshot(path=str(artifacts / "60-next-person-settings.png"), full_page=True)
    html = page.content()
    storage = page.evaluate("JSON.stringify(window.localStorage)")
    for value in (secret, second, link):
        assert value not in html and value not in storage
        assert not any(value in frame for frame in frames), "a secret was sent to the next person"
    # Nothing else of the first person's either (their members list, key names, email).
    for value in ("keymaker@example.com", "deploy bot", "Key Maker"):
        assert not any(value in frame for frame in frames), f"{value!r} reached the next person"
    assert frames, "no websocket frames were seen (the check would be empty)"
    assert errors == []
    ctx.close()


AUTH_KINDS = [
    ("Bearer token", "bearer-api", {"#conn_token": "t-123456"}),
    ("Basic auth", "basic-api", {"#conn_username": "svc", "#conn_password": "pw-123456"}),
    ("API key header", "key-api", {"#conn_api_key": "k-123456"}),
]


def test_http_api_connection_saves_with_each_auth_kind(
    app_server: RunningApp, browser, artifacts
) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_up(page, app_server.url, name="Ines", email="ines-http@example.com")
    page.click("#nav-integrations")
    expect(page.get_by_text("No connections yet")).to_be_visible(timeout=20_000)

    def open_form(kind_label: str, name: str) -> None:
        page.click("#connect-http")
        page.fill("#conn_name", name)
        page.fill("#conn_base_url", "http://127.0.0.1:9")  # allow-listed for the tests
        page.click("#conn_auth")
        page.get_by_role("option", name=kind_label).click()

    # A bad header name is explained in words, under its field.
    open_form("API key header", "bad-header")
    page.fill("#conn_header_name", "X API Key")
    page.fill("#conn_api_key", "k-123456")
    page.click("#conn-save")
    error = page.locator("#conn_header_name-error")
    expect(error).to_contain_text("letters, digits and hyphens", timeout=20_000)
    expect(page.locator("#conn-form-error")).not_to_contain_text("[A-Za-z")
    page.screenshot(path=str(artifacts / "61-http-api-header-error.png"), full_page=True)
    page.keyboard.press("Escape")

    for label, name, fields in AUTH_KINDS:
        open_form(label, name)
        for selector, value in fields.items():
            page.fill(selector, value)
        page.click("#conn-save")
        expect(page.locator(f"#conn-row-{name}")).to_be_visible(timeout=20_000)
        expect(page.locator("#conn-form-error")).to_have_count(0)
    page.screenshot(path=str(artifacts / "62-http-api-three-kinds.png"), full_page=True)
    body = page.locator("body")
    for secret in ("t-123456", "pw-123456", "k-123456"):
        expect(body).not_to_contain_text(secret)
    assert errors == []
    ctx.close()
