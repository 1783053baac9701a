"""A websocket frame over the server's limit is not lost in silence: the person is told why,
and the connection (and the page) keep working."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import sign_up

pytestmark = pytest.mark.browser


def test_oversized_frame_shows_a_message_and_the_page_keeps_working(
    app_server: RunningApp, browser, artifacts
) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    sign_up(page, app_server.url, name="Fran", email="fran@example.com")
    page.click("#nav-agents")
    page.click("#new-agent", timeout=20_000)
    page.fill("#name", "Big")
    page.click("#create-agent-submit")
    expect(page.locator("#cfg-instructions")).to_be_visible(timeout=20_000)

    page.fill("#cfg-instructions", "x" * 1_200_000)
    page.click("#save-agent")
    notice = page.locator("#frame-too-large")
    expect(notice).to_contain_text(
        re.compile(r"That was not sent: it is \d+\.\d MB"), timeout=20_000
    )
    expect(notice).to_contain_text("at most 1.0 MB")
    page.screenshot(path=str(artifacts / "frame-too-large.png"))

    page.fill("#cfg-instructions", "Answer briefly.")
    page.click("#save-agent")
    expect(page.locator("text=Saved as version 2")).to_be_visible(timeout=20_000)
    page.click("#frame-too-large button")
    expect(notice).to_have_count(0)
    ctx.close()
