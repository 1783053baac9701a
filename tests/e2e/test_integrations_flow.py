"""Connecting GitHub through the real OAuth redirect flow in a browser: our page → the
provider's consent page → Allow → our callback → the connection listed, tested, removed."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RunningApp

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


def test_connect_github_with_oauth_then_test_and_remove(
    app_server: RunningApp, browser, fake_github, artifacts
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(app_server.url + "/register")
    page.wait_for_selector("#register-submit")
    page.fill("#name", "Olga")
    page.fill("#email", "olga@example.com")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("#register-submit")
    expect(page.locator("#current-user-name")).to_have_text("Olga", timeout=20_000)

    page.click("#nav-integrations")
    expect(page.get_by_text("No connections yet")).to_be_visible(timeout=20_000)
    page.screenshot(path=str(artifacts / "30-integrations-empty.png"), full_page=True)
    token = "gho_e2e" + "x" * 30  # the next token the fake issues, so we can look for it
    fake_github.set_token(token)
    page.click("#connect-github")

    # the provider's own consent page, on its own origin
    expect(page).to_have_title("GitHub — authorize", timeout=20_000)
    assert page.url.startswith(fake_github.base_url + "/login/oauth/authorize?")
    assert "code_challenge_method=S256" in page.url and "state=" in page.url
    page.screenshot(path=str(artifacts / "31-oauth-consent.png"), full_page=True)
    page.get_by_role("button", name="Allow").click()

    # back on our page, connected, with the account the check found
    row = page.locator("#conn-row-GitHub")
    expect(row).to_be_visible(timeout=30_000)
    assert page.url.startswith(app_server.url + "/integrations")
    expect(page.locator("#conn-status-GitHub")).to_contain_text("Active")
    expect(row).to_contain_text("octo-fake")
    expect(row).to_contain_text("repo")
    assert fake_github.is_valid(token)
    expect(page.locator("body")).not_to_contain_text(token)
    page.screenshot(path=str(artifacts / "32-integrations-connected.png"), full_page=True)

    page.click("#conn-test-GitHub")
    expect(page.get_by_text("Connection works")).to_be_visible(timeout=20_000)

    page.click("#conn-remove-GitHub")
    page.click("#conn-remove-confirm")
    expect(page.get_by_text("No connections yet")).to_be_visible(timeout=20_000)
    assert not fake_github.is_valid(token)  # revoked at the provider
    assert errors == []
    ctx.close()
