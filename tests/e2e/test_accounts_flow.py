"""The foundation's user journey in a real Chromium against `python -m agent_platform up`."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import RunningApp

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


def _register(page, app: RunningApp, *, name: str, email: str, path: str = "/register") -> None:
    from playwright.sync_api import expect

    page.goto(app.url + path)
    page.wait_for_selector("#register-submit")
    page.fill("#name", name)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("#register-submit")
    expect(page.locator("#current-user-name")).to_have_text(name, timeout=20_000)


def test_register_invite_logout_login(app_server: RunningApp, browser, artifacts) -> None:
    from playwright.sync_api import expect

    owner_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = owner_ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Sign up: lands in the shell with the personal organization.
    _register(page, app_server, name="Ada Lovelace", email="ada@example.com")
    expect(page.locator("#page-title")).to_have_text("Dashboard")
    expect(page.locator("#current-role")).to_have_text("owner")
    page.screenshot(path=str(artifacts / "01-dashboard.png"), full_page=True)

    # Navigation reaches every section.
    for section in ["agents", "marketplace", "integrations", "tests", "schedules"]:
        page.click(f"#nav-{section}")
        expect(page.locator("#page-title")).to_have_text(section.capitalize())
    page.click("#nav-settings")
    expect(page.locator("#page-title")).to_have_text("Settings")

    # Invite a member: the link is shown once.
    page.click("#tab-invitations")
    page.fill("#invite_email", "bob@localhost")  # the browser accepts it; the server does not
    page.click("#invite-submit")
    expect(page.locator("#invite_email-error")).to_be_visible()
    page.fill("#invite_email", "bob@example.com")
    page.click("#invite-submit")
    link = page.locator("#invite-link")
    expect(link).to_contain_text("/invite?token=inv_")
    invite_url = link.inner_text().strip()
    expect(page.locator("#invites-table")).to_contain_text("bob@example.com")
    page.screenshot(path=str(artifacts / "02-invitation.png"), full_page=True)

    # The invited person opens the link in another browser, signs up and joins.
    bob_ctx = browser.new_context(viewport={"width": 390, "height": 844})
    bob = bob_ctx.new_page()
    bob.goto(invite_url)
    expect(bob.locator("#invite-org")).to_have_text("Ada Lovelace's workspace", timeout=20_000)
    bob.click("#invite-register")
    bob.wait_for_selector("#register-submit")
    bob.fill("#name", "Bob")
    bob.fill("#email", "bob@example.com")
    bob.fill("#password", PASSWORD)
    bob.fill("#confirm", PASSWORD)
    bob.click("#register-submit")
    bob.click("#accept-invite", timeout=20_000)
    expect(bob.locator("#page-title")).to_have_text("Dashboard", timeout=20_000)
    expect(
        bob.locator("#mobile-menu")
    ).to_be_visible()  # phone width: the menu replaces the sidebar
    bob.screenshot(path=str(artifacts / "03-invited-member-phone.png"), full_page=True)

    # The owner sees the new member, and the audit log recorded the invitation.
    page.reload()
    page.click("#tab-members")
    expect(page.locator("#members-table")).to_contain_text("bob@example.com", timeout=20_000)
    page.click("#tab-audit")
    expect(page.locator("#audit-table")).to_contain_text("invitation.created")
    expect(page.locator("#audit-table")).to_contain_text("invitation.accepted")

    # Log out; the old session is dead; a wrong password shows the generic error.
    page.click("#logout-button")
    expect(page).to_have_url(re.compile(r"/login"), timeout=20_000)
    page.goto(app_server.url + "/settings")
    expect(page).to_have_url(re.compile(r"/login\?next=/settings"), timeout=20_000)
    page.fill("#email", "ada@example.com")
    page.fill("#password", "wrong password!")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text("Email or password is incorrect.")
    page.screenshot(path=str(artifacts / "04-wrong-password.png"), full_page=True)

    # Log in again: back to where the guard sent us from.
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#page-title")).to_have_text("Settings", timeout=20_000)
    expect(page.locator("#current-user-name")).to_have_text("Ada Lovelace")

    assert errors == [], f"JavaScript errors on the page: {errors}"
    log = app_server.log()
    assert "Traceback" not in log, log[-4000:]
