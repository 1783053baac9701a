"""Webhook triggers in a real browser: create one on the agent page (URL and secret shown
once), call the URL from outside with a signed request, and see the run and its answer."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from services.webhook_delivery import sign
from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import add_scripted_provider, sign_up
from tests.fakes.openai_server import ScriptedLLM, Turn

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


def _signed(secret: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "X-Timestamp": timestamp,
        "X-Signature": sign(secret, timestamp, body),
    }


def test_create_a_trigger_call_it_and_see_the_run(
    app_server: RunningApp, browser: Browser, llm: ScriptedLLM, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    sign_up(page, app_server.url, name="Hook Owner", email="hooks@example.com")
    add_scripted_provider(page, llm.base_url, key="sk-scripted-0007")
    page.click("#nav-agents")
    page.click("#new-agent", timeout=20_000)
    page.fill("#name", "Order desk")
    page.fill("#model", "local/gpt-a")
    page.click("#create-agent-submit")
    expect(page.locator("#agent-name")).to_have_text("Order desk", timeout=20_000)

    # Create a signed trigger whose message comes from the payload.
    page.click("#new-trigger", timeout=20_000)
    page.fill("#trigger_name", "Shop orders")
    page.fill("#message_mapping", "New order {{payload.order.id}}")
    page.click("#create-trigger-submit")
    expect(page.locator("#trigger-url")).to_contain_text("/api/v1/hooks/wh_", timeout=20_000)
    url = page.locator("#trigger-url").inner_text().strip()
    secret = page.locator("#trigger-secret").inner_text().strip()
    assert secret.startswith("whsec_")
    expect(page.locator("#triggers")).to_contain_text("Shop orders")
    page.screenshot(path=str(artifacts / "70-trigger-created.png"), full_page=True)
    page.click("#trigger-shown-dismiss")
    expect(page.locator("#trigger-url")).to_have_count(0)

    # Call it from outside: unsigned is refused; signed with ?wait gets the agent's answer.
    body = json.dumps({"order": {"id": "A-17"}}).encode()
    refused = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
    assert refused.status_code == 401, refused.text
    llm.reset()
    llm.script(Turn(text="Order A-17 noted."))
    answered = httpx.post(url + "?wait=60", content=body, headers=_signed(secret, body), timeout=90)
    assert answered.status_code == 200, answered.text
    result = answered.json()
    assert result["status"] == "succeeded" and result["output"] == {"text": "Order A-17 noted."}
    assert llm.requests[-1]["body"]["messages"][-1]["content"] == "New order A-17"

    # The delivery shows on the agent page and leads to the run.
    page.reload()
    deliveries = page.locator("#trigger-deliveries")
    expect(deliveries).to_contain_text("succeeded", timeout=20_000)
    expect(deliveries).to_contain_text("Shop orders")
    page.screenshot(path=str(artifacts / "71-trigger-delivery.png"), full_page=True)
    page.locator(".trigger-delivery").first.click()
    expect(page).to_have_url(re.compile(rf"/run\?id={result['run_id']}"), timeout=20_000)

    # Disabled in the UI: the same URL is refused.
    page.go_back()
    page.locator(".trigger-row .trigger-enabled").first.click(timeout=20_000)
    expect(page.locator("text=Trigger disabled")).to_be_visible(timeout=20_000)
    disabled = httpx.post(url, content=body, headers=_signed(secret, body))
    assert disabled.status_code == 403 and "disabled" in disabled.json()["detail"]
    assert errors == []
    ctx.close()
