"""The usage page in a real browser at phone width (390 px): it loads, shows this month's
meters as 'unlimited' (billing off), and an owner sets the monthly spend cap."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import sign_up
from tests.e2e.test_phone_layout import MEASURE

pytestmark = pytest.mark.browser


def test_usage_page_at_phone_width(app_server: RunningApp, browser, artifacts) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_up(page, app_server.url, name="Una Usage", email="usage@example.com")
    page.goto(f"{app_server.url}/settings")
    page.click("#to-usage", timeout=20_000)
    expect(page.locator("#usage-loaded")).to_be_visible(timeout=30_000)
    expect(page.locator("#usage-plan")).to_have_text("self-hosted, no plan")
    expect(page.locator("#meter-runs")).to_contain_text("of unlimited")
    expect(page.locator("#meter-seats")).to_contain_text("1")
    expect(page.locator("#usage-cost")).to_have_text("$0.00")
    expect(page.locator("body")).to_contain_text("Nothing used yet this month")

    page.fill("#monthly_spend_cap", "25")
    page.fill("#alert_webhook_url", "https://hooks.example.com/spend")
    page.click("#save-spend-cap")
    expect(page.locator("#spend-cap-used")).to_contain_text("$0.00 of $25.00", timeout=20_000)
    page.fill("#monthly_spend_cap", "-5")
    page.click("#save-spend-cap")
    expect(page.locator("#spend-cap-error")).to_contain_text("more than $0", timeout=20_000)

    page.screenshot(path=str(artifacts / "usage-phone.png"), full_page=True)
    found = page.evaluate(MEASURE)
    assert found["overflow"] <= 0, f"the page scrolls sideways by {found['overflow']} px"
    assert found["cut"] == [], found["cut"]
    page.reload()
    expect(page.locator("#spend-cap-used")).to_contain_text("of $25.00", timeout=30_000)
    assert errors == []
    ctx.close()
