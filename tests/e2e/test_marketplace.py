"""The marketplace in a real browser, against `up`: a seller lists a published agent, the
instance admin approves it, a visitor finds it signed out, another organization installs it
(placeholders for what it lacks) and reviews it; the page at phone width."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import ROOT, RunningApp
from tests.e2e.journeys import PASSWORD, add_scripted_provider, sign_up
from tests.fakes.openai_server import ScriptedLLM

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at 390 px ({width} px wide)"


def test_publish_approve_browse_install_review(
    app_server: RunningApp, browser, llm, artifacts
) -> None:
    from playwright.sync_api import expect

    errors: list[str] = []

    # The seller lists a published agent; the first listing waits for the admin.
    seller_ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = seller_ctx.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_up(page, app_server.url, name="Seller", email="market-seller@example.com")
    add_scripted_provider(page, llm.base_url, key="sk-scripted-0001", models="gpt-a")
    # Nothing published yet: the dialog says what to do, and there is nothing to submit.
    page.click("#nav-marketplace")
    page.click("#market-publish-open", timeout=20_000)
    expect(page.locator("#listing-nothing-to-list")).to_contain_text(
        "Publish an agent in the builder first", timeout=20_000
    )
    expect(page.locator("#listing-submit")).to_be_disabled()
    page.keyboard.press("Escape")
    page.click("#nav-agents")
    page.click("#new-agent", timeout=20_000)
    page.click("#template-research")
    page.click("#create-agent-submit")
    expect(page.locator("#agent-name")).to_have_text("Research assistant", timeout=20_000)
    page.click("#publish-agent")
    expect(page.locator("#agent-status")).to_have_text("published", timeout=20_000)
    page.click("#nav-marketplace")
    expect(page.get_by_text("No listings found")).to_be_visible(timeout=20_000)
    page.click("#market-publish-open")
    page.click("#listing-agent_id")
    page.get_by_role("option", name="Research assistant").click()
    page.fill("#listing-title", "Deep researcher")
    page.fill("#listing-summary", "Finds sources and summarises them with citations.")
    page.fill("#listing-description", "# What it does\n\nReads **everything** for you.")
    page.fill("#listing-tags", "research, citations")
    page.click("#listing-submit")
    expect(page.locator("#listing-title")).to_have_text("Deep researcher", timeout=20_000)
    expect(page.locator("#listing-status")).to_have_text("pending")
    expect(page.locator("#listing-description-html strong")).to_have_text("everything")
    page.screenshot(path=str(artifacts / "market-01-pending.png"), full_page=True)

    # The instance admin approves it from the moderation queue.
    made = subprocess.run(
        [sys.executable, "-m", "agent_platform", "create-admin", "--email",
         "market-admin@example.com", "--password", PASSWORD],
        cwd=ROOT, env=app_server.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    admin_ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    admin = admin_ctx.new_page()
    admin.on("pageerror", lambda exc: errors.append(str(exc)))
    admin.goto(app_server.url + "/login?next=/marketplace")
    admin.wait_for_selector("#login-submit")
    admin.fill("#email", "market-admin@example.com")
    admin.fill("#password", PASSWORD)
    admin.click("#login-submit")
    pending = admin.locator("#market-pending")
    expect(pending).to_contain_text("Deep researcher", timeout=20_000)
    pending.locator(".market-approve").first.click()
    expect(admin.locator("#market-cards")).to_contain_text("Deep researcher", timeout=20_000)
    admin_ctx.close()

    # A visitor, signed out, finds it by searching.
    visitor_ctx = browser.new_context(viewport={"width": 390, "height": 844})
    visitor = visitor_ctx.new_page()
    visitor.on("pageerror", lambda exc: errors.append(str(exc)))
    visitor.goto(app_server.url + "/marketplace")
    expect(visitor.locator("#market-cards")).to_contain_text("Deep researcher", timeout=20_000)
    visitor.fill("#market-search", "citations")
    visitor.press("#market-search", "Enter")
    expect(visitor.locator(".market-card")).to_have_count(1, timeout=20_000)
    visitor.fill("#market-search", "nothing like this at all")
    visitor.press("#market-search", "Enter")
    expect(visitor.get_by_text("No listings found")).to_be_visible(timeout=20_000)
    visitor.fill("#market-search", "")
    visitor.press("#market-search", "Enter")
    expect(visitor.locator(".market-card")).to_have_count(1, timeout=20_000)
    _no_sideways_scroll(visitor)
    visitor.screenshot(path=str(artifacts / "market-02-phone.png"), full_page=True)
    visitor.locator(".market-card").first.click()
    expect(visitor.locator("#listing-title")).to_have_text("Deep researcher", timeout=20_000)
    expect(visitor.get_by_role("button", name="Sign in to install")).to_be_visible()
    _no_sideways_scroll(visitor)
    visitor_ctx.close()

    # Another organization installs it (no model provider yet: a placeholder) and reviews it.
    buyer_ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    buyer = buyer_ctx.new_page()
    buyer.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_up(buyer, app_server.url, name="Buyer", email="market-buyer@example.com")
    buyer.click("#nav-marketplace")
    buyer.locator(".market-card", has_text="Deep researcher").click(timeout=20_000)
    buyer.click("#listing-install", timeout=20_000)
    expect(buyer.locator("#listing-placeholders")).to_contain_text("model provider", timeout=20_000)
    expect(buyer.locator("#listing-downloads")).to_contain_text("1 installs")
    buyer.click("#review-rating")
    buyer.get_by_role("option", name="★★★★", exact=True).click()
    buyer.fill("#review-body", "Saved me an afternoon.")
    buyer.click("#review-submit")
    expect(buyer.locator("#listing-reviews")).to_contain_text(
        "Saved me an afternoon.", timeout=20_000
    )
    buyer.screenshot(path=str(artifacts / "market-03-reviewed.png"), full_page=True)
    buyer.click("#listing-open-copy")
    expect(buyer.locator("#agent-name")).to_have_text("Deep researcher", timeout=20_000)
    expect(buyer.locator("#publish-problems")).to_be_visible()
    buyer_ctx.close()

    # The seller sees the review and replies.
    page.reload()
    expect(page.locator("#listing-reviews")).to_contain_text("Saved me", timeout=20_000)
    page.get_by_role("button", name="Reply").click()
    page.fill("#review-reply-text", "Glad it helped!")
    page.click("#review-reply-send")
    expect(page.locator("#listing-reviews")).to_contain_text("Glad it helped!", timeout=20_000)
    seller_ctx.close()
    assert errors == [], errors
