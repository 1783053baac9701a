"""The billing page in a real browser at phone width (390 px), on the embedded default (no
Stripe): it loads from the side menu, says payments are off and everything is free, shows
the plan and zero earnings, and fits the screen."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import sign_up
from tests.e2e.test_phone_layout import MEASURE

pytestmark = pytest.mark.browser


def test_billing_page_without_stripe(app_server: RunningApp, browser, artifacts) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_up(page, app_server.url, name="Bill Billing", email="billing@example.com")
    page.goto(f"{app_server.url}/billing")
    expect(page.locator("#billing-loaded")).to_be_visible(timeout=30_000)
    expect(page.locator("#billing-tier")).to_have_text("starter")
    expect(page.locator("#billing-off")).to_contain_text("everything is free")
    expect(page.locator("#seller-message")).to_contain_text("Payments are off")
    expect(page.locator("#earnings-gross")).to_have_text("$0.00")
    expect(page.locator("#seller-onboard")).to_have_count(0)
    page.screenshot(path=str(artifacts / "billing-phone.png"), full_page=True)
    found = page.evaluate(MEASURE)
    assert found["overflow"] <= 0, f"the page scrolls sideways by {found['overflow']} px"
    assert found["cut"] == [], found["cut"]
    assert errors == []
    ctx.close()
